#!/usr/bin/env bash
# Installs what Wharf and its tests need on a fresh Debian 12 machine. Idempotent and quick when
# everything is already there: Debian packages only when one is missing, `npm ci` only when the
# lockfile changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  crun runc conmon tini busybox-static skopeo iptables iproute2 netavark aardvark-dns
  containernetworking-plugins zstd xz-utils bzip2 socat attr curl ca-certificates
  build-essential python3 util-linux procps
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

# Compile the wharf binary (esbuild, a second or two).
node scripts/build.mjs
