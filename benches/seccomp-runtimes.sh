#!/usr/bin/env bash
# Per-syscall cost of podman's default seccomp profile in containers run by
# testa, runc and crun side by side: a loop of N raw syscalls timed inside
# the container, with the profile and without, medians of ROUNDS runs.
#
#   benches/seccomp-runtimes.sh [ROUNDS] [N]      (root)
#
# getpid is allowed unconditionally, which the kernel caches (no filter run);
# personality(0xffffffff) is allowed by an argument rule, so every call runs
# the filter: that is the overhead worth quoting.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7} n=${2:-200000}
if [ -z "${TESTA_BENCH_INNER:-}" ]; then
    need=()
    [ -x /bin/busybox ] || need+=(busybox-static)
    command -v runc >/dev/null || need+=(runc)
    command -v crun >/dev/null || need+=(crun)
    [ -f /usr/share/containers/seccomp.json ] || need+=(golang-github-containers-common)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    cargo build --release --quiet --bin testa --example seccomp_profile
    exec env TESTA_BENCH_INNER=1 unshare -m --propagation private "$0" "$rounds" "$n"
fi
# crun 1.8 refuses hybrid cgroup hosts: hide the unified hierarchy for all.
mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified

work=$(mktemp -d /tmp/testa-seccomp-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs"/{bin,proc,sys,dev,tmp}
gcc -static -O2 -o "$work/rootfs/bin/loop" benches/syscall_loop.c
target/release/examples/seccomp_profile >"$work/profile.json" 2>"$work/compile.txt"
cat "$work/compile.txt"

bundle() { # $1: dir, $2: with profile (1/0)
    mkdir -p "$1" && cp -a "$work/rootfs" "$1/rootfs"
    (cd "$1" && runc spec)
    python3 - "$1/config.json" "$2" "$work/profile.json" <<'PY'
import json, sys
path, with_profile, profile = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
c = json.load(open(path))
c["process"]["terminal"] = False
c["root"]["path"] = "rootfs"
if with_profile:
    c["linux"]["seccomp"] = json.load(open(profile))
json.dump(c, open(path, "w"))
PY
}
bundle "$work/plain" 0
bundle "$work/filtered" 1

declare -A bin=([testa]=$PWD/target/release/testa [runc]=$(command -v runc) [crun]=$(command -v crun))
for ((i = 0; i < rounds; i++)); do
    for rt in testa runc crun; do
        for b in plain filtered; do
            for call in "39 $n" "135 $n 0xffffffff"; do
                sed -i "s#\"args\": \[[^]]*\]#\"args\": [\"/bin/loop\", $(echo "$call" | sed 's/\([^ ]*\)/"\1"/g; s/ /, /g')]#" "$work/$b/config.json"
                ns=$("${bin[$rt]}" --root "$work/root-$rt" run -b "$work/$b" "c$i-$b" </dev/null)
                echo "$rt $b ${call%% *} $ns" >>"$work/times"
            done
        done
    done
done
python3 - "$work/times" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    rt, b, nr, ns = line.split()
    t.setdefault((rt, b, nr), []).append(float(ns))
print("ns per call inside the container (median)")
print(f"{'runtime':8} {'getpid':>10} {'+filter':>10} {'personality':>12} {'+filter':>10} {'overhead':>9}")
for rt in ("testa", "runc", "crun"):
    m = {k: statistics.median(v) for k, v in t.items() if k[0] == rt}
    g0, g1 = m[(rt, "plain", "39")], m[(rt, "filtered", "39")]
    p0, p1 = m[(rt, "plain", "135")], m[(rt, "filtered", "135")]
    print(f"{rt:8} {g0:10.1f} {g1:10.1f} {p0:12.1f} {p1:10.1f} {p1 - p0:8.1f}")
PY
