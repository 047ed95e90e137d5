#!/usr/bin/env bash
# Installs the Python programs the AWS and OPNsense end-to-end tests of mcpoc run
# (crates/mcpoc/tests/real_aws.rs, real_opnsense.rs), from PyPI, one virtual environment
# each, into the test-server cache outside the clone:
#   ${MCPO_TEST_SERVERS:-$HOME/.cache/mcpo-test-servers}/py/<name>
#   moto      moto[server]==5.2.5 (a local AWS API)
#   ec2       awslabs-ec2-mcp-server==0.1.2, with the mcp and pydantic it was released with
#   aws-api   awslabs-aws-api-mcp-server==1.5.6
#   opnsense  mcp-opnsense==0.1.1 with mcp<2 (it uses FastMCP 1.x), on Python 3.12
# Idempotent: an environment whose recorded pins match is left alone; a changed pin
# rebuilds it. A failed install leaves no environment that looks complete.
set -euo pipefail
dir="${MCPO_TEST_SERVERS:-$HOME/.cache/mcpo-test-servers}/py"
mkdir -p "$dir"

# A Python 3.12 for mcp-opnsense (it requires >= 3.12): on PATH, else pyenv's.
python312() {
  if command -v python3.12 >/dev/null 2>&1 && python3.12 -c '' 2>/dev/null; then
    command -v python3.12
    return
  fi
  local root
  root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
  for p in "$root"/versions/3.12*/bin/python3.12; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  echo "no Python 3.12 found (needed by mcp-opnsense)" >&2
  return 1
}

# venv NAME PYTHON PROGRAM PIN...: PROGRAM is what must exist in bin/ afterwards.
venv() {
  local name="$1" python="$2" program="$3"
  shift 3
  local target="$dir/$name" pins="$*"
  if [ -x "$target/bin/$program" ] && [ "$(cat "$target/.mcpo-pins" 2>/dev/null)" = "$pins" ]; then
    return
  fi
  echo "installing $pins into $target" >&2
  rm -rf "$target"
  "$python" -m venv "$target"
  local log="$target/install.log"
  if ! "$target/bin/pip" install --disable-pip-version-check --no-input "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -rf "$target"
    echo "pip install $pins failed" >&2
    return 1
  fi
  [ -x "$target/bin/$program" ] || { echo "$target/bin/$program is missing" >&2; return 1; }
  echo "$pins" > "$target/.mcpo-pins"
}

# The AWS servers and moto work on the Python 3.11 the machine runs by default (>= 3.10).
venv moto python3 moto_server "moto[server]==5.2.5"
venv ec2 python3 awslabs.ec2-mcp-server \
  "awslabs-ec2-mcp-server==0.1.2" "mcp[cli]==1.11.0" "pydantic==2.11.7"
venv aws-api python3 awslabs.aws-api-mcp-server "awslabs-aws-api-mcp-server==1.5.6"
py312="$(python312)"
venv opnsense "$py312" mcp-opnsense "mcp-opnsense==0.1.1" "mcp<2"
# The tests make a certificate authority for the AWS API server's stand-in index.
command -v openssl >/dev/null 2>&1 || { echo "openssl is missing" >&2; exit 1; }
echo "$dir"
