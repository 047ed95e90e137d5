#!/usr/bin/env bash
# Pulls the four twins' tool schemas into tests/check/.mcpo/schemas/ (the fixtures that
# the checker, planner and language server tests read) through the official Python MCP
# client, from a fresh debug build of mcpoc. Run it after changing a twin's tools: the
# mcpo-twins test `fixtures` fails until the fixtures match what the twins publish.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked -p mcpoc
target="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
if ! python3 -c 'import mcp.client.stdio' >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check 'mcp==2.3.0'
fi
for twin in opnsense aws docker kubernetes; do
  # `mcpoc` from PATH, with no state directory: the recorded identity stays the same
  # whoever pulls.
  PATH="$target/debug:$PATH" python3 scripts/pull-fixture-schemas.py \
    tests/check/.mcpo/schemas "$twin" -- mcpoc twin "$twin"
done
echo "pulled into tests/check/.mcpo/schemas/: review with git diff"
