#!/usr/bin/env bash
# Run a busybox container with the testa binary, from nothing: installs
# busybox-static if missing, builds testa, makes a bundle, runs it.
#
#   examples/quickstart.sh [COMMAND...]     (root; default: a short tour)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /bin/busybox ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
cargo build --release --quiet --bin testa
testa=$PWD/target/release/testa

work=$(mktemp -d /tmp/testa-quickstart.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$work/bundle/rootfs/bin/"
for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$work/bundle/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/:/bin/sh' >"$work/bundle/rootfs/etc/passwd"
cd "$work/bundle"
"$testa" spec
# runc's default spec asks for a terminal and runs `sh`; run a command instead.
if [ $# -eq 0 ]; then
    set -- sh -c 'echo "hello from $(hostname): pid $$, uid $(id -u)"; grep -E "^Cap(Eff|Bnd)" /proc/self/status; mount | head -4'
fi
python3 - "$@" <<'PY'
import json, sys
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = sys.argv[1:]
json.dump(c, open("config.json", "w"), indent=2)
PY
echo "== $testa run quickstart"
"$testa" --root "$work/state" run quickstart
