#!/usr/bin/env bash
# Builds the book (book/) with mdBook into ${MCPO_BOOK_OUT:-target/book}. mdBook is
# installed from crates.io with `cargo install --locked`, once, into a cache outside the
# clone (${MCPO_TOOLS_CACHE:-$HOME/.cache/mcpo-tools}); later runs reuse it. The book's
# examples are checked by `cargo test -p mcpoc --test book` (part of scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mdbook_version=0.4.52
tools="${MCPO_TOOLS_CACHE:-$HOME/.cache/mcpo-tools}"
mdbook="$tools/bin/mdbook"
if [ "$("$mdbook" --version 2>/dev/null)" != "mdbook v$mdbook_version" ]; then
  echo "book: installing mdbook $mdbook_version into $tools"
  cargo install --locked --quiet --root "$tools" --version "$mdbook_version" mdbook
fi
out="${MCPO_BOOK_OUT:-${CARGO_TARGET_DIR:-target}/book}"
"$mdbook" build book --dest-dir "$(mkdir -p "$out" && cd "$out" && pwd)"
echo "book: built into $out"
