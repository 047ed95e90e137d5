#!/usr/bin/env bash
# Installs what the podman end-to-end tests (crates/mcpoc/tests/real_podman.rs) need:
# - Debian's podman, runc and busybox-static (apt-get; rootful podman);
# - a containers.conf for this kind of machine: runc as the runtime (crun cannot set up
#   cgroups here), and ulimits podman can apply without raising the hard limits;
# - a busybox image built locally from busybox-static (`podman import` of a one-binary
#   root filesystem; nothing is pulled from a registry);
# - `mcp-server-docker` (PyPI, needs Python >= 3.12) in its own venv, and
#   `podman-mcp-server` (npm).
# Everything goes into the test-server cache outside the clone,
#   ${MCPO_TEST_SERVERS:-$HOME/.cache/mcpo-test-servers}
# (the image into podman's own storage). Idempotent: with everything present it checks
# and does nothing. Prints the cache directory on its last line.
set -euo pipefail
dir="${MCPO_TEST_SERVERS:-$HOME/.cache/mcpo-test-servers}"
mkdir -p "$dir"
cd "$dir"

DOCKER_SERVER_VERSION=0.3.0
PODMAN_SERVER_VERSION=0.0.15
IMAGE=localhost/mcpo-busybox:latest

sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

# --- Debian packages
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 \
    || ! dpkg -s busybox-static >/dev/null 2>&1; then
  echo "installing Debian's podman, runc and busybox-static (apt-get install)"
  log="${TMPDIR:-/tmp}/mcpo-apt-podman.log"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends podman runc busybox-static; } > "$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "apt-get install podman runc busybox-static failed (log: $log)" >&2
    exit 1
  fi
fi

# --- containers.conf (the tests and the servers run with CONTAINERS_CONF pointing here)
mkdir -p podman
conf='[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
if [ ! -f podman/containers.conf ] || [ "$(cat podman/containers.conf)" != "$conf" ]; then
  printf '%s\n' "$conf" > podman/containers.conf
fi
export CONTAINERS_CONF="$dir/podman/containers.conf"

# --- the busybox image, from the busybox-static binary
if ! $sudo env CONTAINERS_CONF="$CONTAINERS_CONF" podman image exists "$IMAGE"; then
  echo "building $IMAGE from /bin/busybox (podman import)"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/fs/bin" "$root/fs/tmp" "$root/fs/etc"
  cp /bin/busybox "$root/fs/bin/busybox"
  for applet in sh httpd wget cat echo sleep ls; do
    ln -s busybox "$root/fs/bin/$applet"
  done
  echo 'root:x:0:0:root:/:/bin/sh' > "$root/fs/etc/passwd"
  tar -C "$root/fs" -cf "$root/rootfs.tar" .
  $sudo env CONTAINERS_CONF="$CONTAINERS_CONF" podman import --quiet \
    --change 'CMD ["/bin/sh"]' "$root/rootfs.tar" "$IMAGE" >/dev/null
fi

# --- mcp-server-docker in a Python 3.12 venv
# (a pyenv shim named python3.12 may exist and refuse to run: each candidate is tried)
py312=""
for candidate in "$(pyenv root 2>/dev/null)/versions/3.12"*/bin/python3.12 python3.12 python3; do
  if "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
    py312="$candidate"
    break
  fi
done
if [ -z "$py312" ]; then
  echo "mcp-server-docker needs Python >= 3.12: none found (python3.12, python3, pyenv)" >&2
  exit 1
fi
if ! py/docker/bin/python -c "import importlib.metadata as m; assert m.version('mcp-server-docker') == '$DOCKER_SERVER_VERSION'" >/dev/null 2>&1; then
  echo "installing mcp-server-docker==$DOCKER_SERVER_VERSION into $dir/py/docker"
  rm -rf py/docker
  "$py312" -m venv py/docker
  py/docker/bin/pip install --quiet --disable-pip-version-check \
    "mcp-server-docker==$DOCKER_SERVER_VERSION" "mcp==2.3.0" "docker==7.2.0"
fi

# --- podman-mcp-server from npm (beside the other npm test servers)
[ -f package.json ] || echo '{"name":"mcpo-test-servers","private":true}' > package.json
if ! grep -q "\"version\": \"$PODMAN_SERVER_VERSION\"" node_modules/podman-mcp-server/package.json 2>/dev/null; then
  echo "installing podman-mcp-server@$PODMAN_SERVER_VERSION into $dir"
  npm install --no-audit --no-fund --loglevel=error "podman-mcp-server@$PODMAN_SERVER_VERSION"
fi
echo "$dir"
