#!/usr/bin/env bash
# Installs Debian's docker.io and starts dockerd with its defaults (overlay2 + bridge), no registry needed.
# Sourced by .ci/run so DOCKER_HOST reaches the test process. Idempotent: reuses a running engine.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
ENGINE_DIR="${ENGINE_DIR:-/var/lib/swerex-ci-docker}"
SOCK="$ENGINE_DIR/docker.sock"

# Packages the tests need: the engine, busybox-static (the no-node test image) and debootstrap (the Debian
# test image, built from deb.debian.org since no container registry is reachable).
install_packages() {
  local missing=() pkg
  for pkg in "$@" busybox-static debootstrap; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  for i in 1 2 3 4 5 6 7 8 9 10; do
    apt-get -o DPkg::Lock::Timeout=300 -qq update && break
    echo "apt-get update failed (attempt $i), retrying" >&2; sleep 6
  done
  apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends "${missing[@]}" >/dev/null
}

engine_up() { curl -fsS --max-time 2 --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1; }

if engine_up /var/run/docker.sock; then
  install_packages
  export DOCKER_HOST="unix:///var/run/docker.sock"
elif engine_up "$SOCK"; then
  install_packages
  export DOCKER_HOST="unix://$SOCK"
else
  # A dockerd from elsewhere (not Debian's package) is fine too.
  install_packages $(command -v dockerd >/dev/null 2>&1 || echo docker.io)
  mkdir -p "$ENGINE_DIR"
  nohup dockerd --storage-driver=overlay2 --data-root "$ENGINE_DIR/data" --exec-root "$ENGINE_DIR/exec" \
    --pidfile "$ENGINE_DIR/dockerd.pid" -H "unix://$SOCK" >"$ENGINE_DIR/dockerd.log" 2>&1 &
  for i in $(seq 1 300); do
    engine_up "$SOCK" && break
    [ "$i" -lt 300 ] || { tail -50 "$ENGINE_DIR/dockerd.log" >&2; echo "dockerd did not start within 30 s" >&2; exit 1; }
    sleep 0.1
  done
  export DOCKER_HOST="unix://$SOCK"
fi
echo "docker engine ready at $DOCKER_HOST"
