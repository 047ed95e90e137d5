#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need that cargo does not bring:
# the official Python MCP client (the twins are checked with a client we did not write).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import mcp.client.stdio' >/dev/null 2>&1; then
  echo "installing the Python MCP client (pip install mcp) for the twin interoperability test"
  python3 -m pip install --quiet --disable-pip-version-check 'mcp==2.3.0'
fi

# Third-party MCP servers from npm for the client tests of mcpo-mcp and mcpoc, cached
# outside the clone; with npm present they are required, not skipped.
if command -v npm >/dev/null 2>&1; then
  MCPO_TEST_SERVERS="$(bash scripts/install-test-servers.sh | tail -n 1)"
  export MCPO_TEST_SERVERS MCPO_REQUIRE_TEST_SERVERS=1
  # Debian's podman, a locally built busybox image, mcp-server-docker (PyPI, its own
  # Python 3.12 venv) and podman-mcp-server (npm), for crates/mcpoc/tests/real_podman.rs.
  bash scripts/install-podman.sh
fi

# Debian's PostgreSQL for the state backend's tests, which start a throwaway cluster
# (initdb in a temporary directory, a free port on 127.0.0.1); required, not skipped.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's PostgreSQL for the state backend's tests (apt-get install postgresql)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log="${TMPDIR:-/tmp}/mcpo-apt-postgresql.log"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends postgresql; } > "$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "apt-get install postgresql failed (log: $log)" >&2
    exit 1
  fi
fi
export MCPO_REQUIRE_POSTGRES=1

cargo test --workspace --locked "$@"
