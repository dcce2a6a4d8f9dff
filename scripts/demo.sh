#!/usr/bin/env bash
# The main job, end to end on the embedded defaults: make the base images locally, build the
# example Node.js web app (examples/hello-web) from its Dockerfile, run it with a published port
# and fetch a page, start an embedded Wharf registry, push the image, remove it locally, pull it
# back and run it again. Prints what happens at each step; cleans up what it started.
#
# Usage: npm run demo            (as root; WHARF_ROOT defaults to /var/lib/wharf)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh >/dev/null
export WHARF_ROOT="${WHARF_ROOT:-/var/lib/wharf}"
wharf() { "$PWD/bin/wharf" "$@"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

app_port=$(free_port)
registry_port=$(free_port)
registry="127.0.0.1:$registry_port"
image="hello-web:demo"
remote="$registry/demo/hello-web:1.0"
storage=$(mktemp -d /tmp/wharf-demo-registry.XXXXXX)
registry_log=$(mktemp /tmp/wharf-demo-registry-log.XXXXXX)
registry_pid=""
container=""

cleanup() {
  [ -n "$container" ] && wharf rm -f "$container" >/dev/null 2>&1 || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  rm -rf "$storage" "$registry_log"
}
trap cleanup EXIT

fetch_page() {
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$app_port/" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "the app did not answer on 127.0.0.1:$app_port" >&2
  wharf logs "$container" >&2 || true
  return 1
}

step "Making the base images (busybox:latest, node:local) from this machine's binaries"
bash scripts/make-base-images.sh
wharf images

step "Building $image from examples/hello-web"
wharf build -t "$image" examples/hello-web

step "Running it with port 127.0.0.1:$app_port -> 8080"
container=$(wharf run -d -p "127.0.0.1:$app_port:8080" "$image")
echo "container ${container:0:12}"
fetch_page
wharf ps
wharf rm -f "$container" >/dev/null
container=""

step "Starting the embedded registry on $registry"
# Started directly (not through the wharf function) so that $! is the server itself.
"$PWD/bin/wharf" registry serve --addr "$registry" --storage "$storage" > "$registry_log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://$registry/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
echo "registry answering (pid $registry_pid)"

step "Pushing $remote"
wharf tag "$image" "$remote"
wharf push "$remote"

step "Removing the image locally"
wharf rmi "$image" "$remote"

step "Pulling $remote back"
wharf pull "$remote"

step "Running the pulled image"
container=$(wharf run -d -p "127.0.0.1:$app_port:8080" "$remote")
fetch_page
wharf rm -f "$container" >/dev/null
container=""

step "Done: built, ran, pushed, pulled and ran again"
