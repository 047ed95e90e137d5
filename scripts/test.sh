#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need that cargo does not bring:
# the official Python MCP client (the twins are checked with a client we did not write).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import mcp.client.stdio' >/dev/null 2>&1; then
  echo "installing the Python MCP client (pip install mcp) for the twin interoperability test"
  python3 -m pip install --quiet --disable-pip-version-check 'mcp>=1.12' 
fi

cargo test --workspace --locked "$@"
