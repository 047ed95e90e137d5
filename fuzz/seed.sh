#!/usr/bin/env bash
# Fills fuzz/corpus/<target> with the repository's .mcpo files (examples and test
# fixtures) as the starting points of the fuzzers. The corpus directories are not kept in
# git (libFuzzer adds what it finds to them); run this once before the first run.
set -euo pipefail
cd "$(dirname "$0")"
for target in parse fmt eval; do
  mkdir -p "corpus/$target"
  find ../examples ../tests -type f -name '*.mcpo' -size -8k | while read -r f; do
    cp "$f" "corpus/$target/$(echo "$f" | sed 's|^\.\./||; s|/|_|g')"
  done
done
echo "seeded: $(ls corpus/parse | wc -l) files per target"
