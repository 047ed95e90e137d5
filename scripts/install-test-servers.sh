#!/usr/bin/env bash
# Installs the third-party MCP servers the integration tests of mcpo-mcp and mcpoc run
# against, from npm (and the Python ones from PyPI, through install-python-servers.sh),
# into a cache directory outside the clone:
#   ${MCPO_TEST_SERVERS:-$HOME/.cache/mcpo-test-servers}
# The tests look there (or at $MCPO_TEST_SERVERS); a server that is missing makes its test
# print why it was skipped, unless MCPO_REQUIRE_TEST_SERVERS=1 (set by CI) turns that into
# a failure. Idempotent: a second run with everything present does nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${MCPO_TEST_SERVERS:-$HOME/.cache/mcpo-test-servers}"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"mcpo-test-servers","private":true}' > package.json
want=(
  "@modelcontextprotocol/server-memory"
  "@modelcontextprotocol/server-everything"
  "@modelcontextprotocol/server-filesystem@2026.8.31"
  "kubernetes-mcp-server@0.0.67"
)
missing=()
for p in "${want[@]}"; do
  [ -f "node_modules/${p%@[0-9]*}/package.json" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} into $dir"
  npm install --no-audit --no-fund --loglevel=error "${missing[@]}"
fi
# The Python servers of the AWS and OPNsense tests, in py/ of the same cache.
MCPO_TEST_SERVERS="$dir" bash "$here/install-python-servers.sh" >/dev/null
echo "$dir"
