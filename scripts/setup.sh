#!/usr/bin/env bash
# Installs what Wharf and its tests need on a fresh Debian 12 machine. Idempotent and quick when
# everything is already there: Debian packages only when one is missing, `npm ci` only when the
# lockfile changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  crun runc conmon tini busybox-static skopeo iptables iproute2 netavark aardvark-dns
  containernetworking-plugins zstd xz-utils bzip2 socat attr curl ca-certificates
  build-essential python3 util-linux procps strace
  docker-registry apache2-utils openssl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when package-lock.json changed since the last successful install.
stamp="node_modules/.wharf-lock-hash"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

# crun (preferred: it starts containers several times faster than runc) refuses a hybrid cgroup
# host whose v2 hierarchy lists any controller. On this kind of machine that is a controller no v1
# hierarchy was mounted for (hugetlb, typically), which is why it shows on the v2 side; systemd's
# own hybrid mode would have mounted it as v1. Bind such controllers to v1 here, explicitly and
# only when no v2 cgroup uses them, so crun works; Wharf itself never moves controllers and falls
# back to runc (saying why in `wharf info`) when this was not done. WHARF_KEEP_CGROUPS=1 skips it.
bind_unused_v2_controllers() {
  local unified=/sys/fs/cgroup/unified
  [ "${WHARF_KEEP_CGROUPS:-}" = 1 ] && return 0
  [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] || return 0
  [ -r "$unified/cgroup.controllers" ] || return 0
  local controller
  for controller in $(cat "$unified/cgroup.controllers"); do
    if grep -qw "$controller" "$unified/cgroup.subtree_control"; then
      echo "setup: cgroup v2 uses $controller; leaving it there (Wharf will use runc, not crun)"
      continue
    fi
    echo "setup: binding the unused $controller cgroup controller to a v1 hierarchy so crun accepts this hybrid host"
    mkdir -p "/sys/fs/cgroup/$controller" &&
      mount -t cgroup -o "$controller" cgroup "/sys/fs/cgroup/$controller" ||
      echo "setup: could not mount $controller (Wharf will use runc, not crun)"
  done
}
if [ "$(id -u)" -eq 0 ]; then bind_unused_v2_controllers; fi

# Compile the wharf binary (esbuild, a second or two).
node scripts/build.mjs
