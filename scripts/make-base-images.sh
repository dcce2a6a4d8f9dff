#!/usr/bin/env bash
# make-base-images.sh: base images without a registry hub, made from what this machine has.
#
#   busybox:latest   Debian's busybox-static: /bin/busybox plus one symlink per applet in /bin,
#                    /usr/bin/env, /etc/passwd (root, nobody), /etc/group, /tmp (mode 1777),
#                    /root, /home, /proc, /sys, /dev, /var; CMD ["sh"].
#   node:local       busybox plus the host's node binary (/usr/local/bin/node) and the shared
#                    libraries `ldd` lists for it, at the paths ldd prints; CMD ["node"].
#
# Each root filesystem is tarred deterministically (sorted names, mtime 0, uid/gid 0) and given
# to `wharf import`. The tarballs are cached under $WHARF_BASE_CACHE (default
# /var/tmp/wharf-base-images), keyed by the sha256 of the host binaries, so later runs and other
# roots only import.
#
# Idempotent: an image that already exists in the root is left alone unless --force is given.
#
# Usage:
#   scripts/make-base-images.sh [--root DIR] [--force] [--only busybox|node]
#   WHARF_ROOT=/tmp/w scripts/make-base-images.sh
# Environment:
#   WHARF              the wharf binary (default: bin/wharf of this checkout)
#   WHARF_ROOT         the store root when --root is not given (wharf's default otherwise)
#   WHARF_BASE_CACHE   where the rootfs tarballs are cached
# Needs: busybox-static (apt-get install busybox-static), node, ldd, GNU tar, sha256sum.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
WHARF="${WHARF:-$here/../bin/wharf}"
cache="${WHARF_BASE_CACHE:-/var/tmp/wharf-base-images}"
root_args=()
force=0
only=""

while (($#)); do
  case "$1" in
    --root) root_args=(--root "$2"); shift 2 ;;
    --root=*) root_args=(--root "${1#--root=}"); shift ;;
    --force) force=1; shift ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-base-images: unknown argument: $1" >&2; exit 2 ;;
  esac
done

wharf() { "$WHARF" "${root_args[@]}" "$@"; }

# An image exists when it can be saved (streamed to /dev/null; nothing is written).
image_exists() { wharf save "$1" >/dev/null 2>&1; }

busybox_bin=""
for candidate in /bin/busybox /usr/bin/busybox; do
  if [ -x "$candidate" ] && "$candidate" --list >/dev/null 2>&1; then busybox_bin="$candidate"; break; fi
done
if [ -z "$busybox_bin" ]; then
  echo "make-base-images: busybox-static is not installed (apt-get install busybox-static)" >&2
  exit 1
fi
if ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "make-base-images: $busybox_bin is dynamically linked; install busybox-static" >&2
  exit 1
fi

mkdir -p "$cache"
work="$(mktemp -d "${TMPDIR:-/tmp}/wharf-base-XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Writes the busybox root filesystem into $1.
make_busybox_rootfs() {
  local rootfs="$1"
  mkdir -p "$rootfs"/{bin,etc,root,home,proc,sys,dev,var,usr/bin,usr/local/bin}
  install -d -m 1777 "$rootfs/tmp"
  chmod 700 "$rootfs/root"
  cp "$busybox_bin" "$rootfs/bin/busybox"
  chmod 755 "$rootfs/bin/busybox"
  local applet
  for applet in $("$busybox_bin" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  ln -sf ../../bin/busybox "$rootfs/usr/bin/env"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
}

# Tars $1 deterministically into $2 (via a temp file, so an interrupted run leaves no cache entry).
tar_rootfs() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$1" -cf "$2.tmp" .
  mv "$2.tmp" "$2"
}

PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

make_busybox() {
  if [ "$force" = 0 ] && image_exists busybox:latest; then
    echo "busybox:latest exists"
    return
  fi
  local key tarball
  key="$(sha256sum "$busybox_bin" "$0" | sha256sum | cut -c1-16)"
  tarball="$cache/busybox-$key.tar"
  if [ ! -f "$tarball" ]; then
    make_busybox_rootfs "$work/busybox"
    tar_rootfs "$work/busybox" "$tarball"
  fi
  wharf import -m 'busybox from Debian busybox-static' -c "ENV $PATH_ENV" -c 'CMD ["sh"]' \
    "$tarball" busybox:latest >/dev/null
  echo "busybox:latest made"
}

make_node() {
  if [ "$force" = 0 ] && image_exists node:local; then
    echo "node:local exists"
    return
  fi
  local node_bin key tarball rootfs lib
  node_bin="$(command -v node)"
  node_bin="$(readlink -f "$node_bin")"
  key="$(sha256sum "$busybox_bin" "$node_bin" "$0" | sha256sum | cut -c1-16)"
  tarball="$cache/node-$key.tar"
  if [ ! -f "$tarball" ]; then
    rootfs="$work/node"
    make_busybox_rootfs "$rootfs"
    cp "$node_bin" "$rootfs/usr/local/bin/node"
    chmod 755 "$rootfs/usr/local/bin/node"
    # every absolute path ldd prints (libraries and the dynamic loader), copied dereferenced
    for lib in $(ldd "$node_bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done
    tar_rootfs "$rootfs" "$tarball"
  fi
  wharf import -m "node $("$node_bin" --version) from the host" -c "ENV $PATH_ENV" -c 'CMD ["node"]' \
    "$tarball" node:local >/dev/null
  echo "node:local made"
}

case "$only" in
  "") make_busybox; make_node ;;
  busybox) make_busybox ;;
  node) make_node ;;
  *) echo "make-base-images: --only takes busybox or node" >&2; exit 2 ;;
esac
