#!/usr/bin/env bash
# Builds the cargo-fuzz targets (outside the workspace, so nothing else compiles them) and
# runs each for a few seconds from the examples and fixtures. Installs cargo-fuzz from
# crates.io when it is missing. Long runs are described in fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${MCPO_FUZZ_SMOKE_SECONDS:-15}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
bash fuzz/seed.sh
cd fuzz
cargo fuzz build --sanitizer none
for t in parse fmt eval; do
  mkdir -p "artifacts/$t"
  "target/x86_64-unknown-linux-gnu/release/$t" "corpus/$t" \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" 2>&1 | grep -E '^(Done|==)|ERROR|panicked' || true
  if ls "artifacts/$t"/* >/dev/null 2>&1; then
    echo "fuzz target $t found a crash: $(ls "artifacts/$t")" >&2
    exit 1
  fi
done
