#!/usr/bin/env bash
# Tests the tree-sitter grammar (grammar/tree-sitter-mcpo) with the committed generated
# parser, without the tree-sitter CLI: the corpus cases (test/corpus/*.txt), the
# highlight query, every examples/**/*.mcpo and the HCL corpus (MCPO_HCL_CORPUS, default
# ../shared/corpus/hcl beside the checkout; skipped with a reason when absent, a failure
# with MCPO_REQUIRE_CORPUS=1 as CI sets it) parse with
# no ERROR node. With the CLI on PATH (cargo install tree-sitter-cli --locked), it also
# checks that src/ is what grammar.js generates and runs `tree-sitter test`
# (corpus and highlight tests).
set -euo pipefail
cd "$(dirname "$0")/../grammar/tree-sitter-mcpo"
cargo test --locked -- --nocapture --test-threads=1

cli="$(command -v tree-sitter || true)"
if [ -z "$cli" ] && [ -x "${MCPO_EDITOR_CACHE:-$HOME/.cache/mcpo-editor}/tree-sitter-cli/bin/tree-sitter" ]; then
  cli="${MCPO_EDITOR_CACHE:-$HOME/.cache/mcpo-editor}/tree-sitter-cli/bin/tree-sitter"
fi
if [ -z "$cli" ]; then
  echo "tree-sitter-test: no tree-sitter CLI; skipped the check that src/ is generated from grammar.js"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -r grammar.js tree-sitter.json src "$tmp/"
(cd "$tmp" && "$cli" generate >/dev/null)
for f in parser.c grammar.json node-types.json tree_sitter/parser.h; do
  if ! cmp -s "src/$f" "$tmp/src/$f"; then
    echo "tree-sitter-test: src/$f is not what grammar.js generates: run \`tree-sitter generate\` in grammar/tree-sitter-mcpo"
    exit 1
  fi
done
echo "tree-sitter-test: src/ is up to date with grammar.js ($("$cli" --version))"
status=0
"$cli" test > "$tmp/test.log" 2>&1 || status=$?
grep -v 'parser directories\|init-config\|configuration file\|language grammars\|^$\|✓\|:$' "$tmp/test.log" || true
exit "$status"
