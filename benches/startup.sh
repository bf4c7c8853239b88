#!/usr/bin/env bash
# Start-up benchmark: `run` of /bin/true with testa, runc and crun side by
# side, interleaved round by round, medians and ratios printed.
#
#   benches/startup.sh [ROUNDS]        (root; default 50 rounds)
#   TESTA_BASELINE=/path/to/older/testa benches/startup.sh   (adds it as "baseline",
#                                       e.g. a build of the previous commit)
#
# crun 1.8 refuses this hybrid cgroup host, so the whole run happens in a
# private mount namespace where /sys/fs/cgroup/unified is unmounted, for all
# runtimes alike. Note what is compared: runc and crun also create a cgroup
# per container; testa does not yet (the cgroups work adds it).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-50}

if [ -z "${TESTA_BENCH_INNER:-}" ]; then
    need=()
    [ -x /bin/busybox ] || need+=(busybox-static)
    command -v runc >/dev/null || need+=(runc)
    command -v crun >/dev/null || need+=(crun)
    if [ ${#need[@]} -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    cargo build --release --quiet --bin testa
    exec env TESTA_BENCH_INNER=1 unshare -m --propagation private "$0" "$rounds"
fi
mountpoint -q /sys/fs/cgroup/unified && umount /sys/fs/cgroup/unified

work=$(mktemp -d /tmp/testa-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs"/{proc,sys,dev,tmp,etc}
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
ln -s busybox "$bundle/rootfs/bin/sh"
(cd "$bundle" && runc spec)
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/' "$bundle/config.json"

testa=$PWD/target/release/testa
declare -A bin=([testa]=$testa [runc]=$(command -v runc) [crun]=$(command -v crun))
names=(testa runc crun)
if [ -n "${TESTA_BASELINE:-}" ]; then
    bin[baseline]=$TESTA_BASELINE
    names+=(baseline)
fi
for n in "${names[@]}"; do
    "${bin[$n]}" --root "$work/root-$n" run -b "$bundle" "warm-$n" >/dev/null 2>&1 || {
        echo "$n cannot run the bundle here:"; "${bin[$n]}" --root "$work/root-$n" run -b "$bundle" "warm2-$n"; exit 1; }
done

for ((i = 0; i < rounds; i++)); do
    # Rotate who goes first, so no runtime always follows the same one.
    for ((k = 0; k < ${#names[@]}; k++)); do
        n=${names[$(((i + k) % ${#names[@]}))]}
        t0=$(date +%s%N)
        "${bin[$n]}" --root "$work/root-$n" run -b "$bundle" "c$i" >/dev/null
        t1=$(date +%s%N)
        echo "$i $n $(((t1 - t0) / 1000))" >>"$work/times"
    done
done

python3 - "$work/times" "$rounds" "${names[@]}" <<'PY'
import statistics, sys
times, rounds = {}, {}
for line in open(sys.argv[1]):
    i, n, us = line.split()
    times.setdefault(n, []).append(int(us) / 1000)
    rounds.setdefault(i, {})[n] = int(us) / 1000
print(f"run of /bin/true, {sys.argv[2]} interleaved rounds (wall ms)")
print(f"{'runtime':8} {'median':>8} {'p10':>8} {'p90':>8}  median of per-round ratio to testa")
for n in sys.argv[3:]:
    t = sorted(times[n])
    med = statistics.median(t)
    p10, p90 = t[len(t) // 10], t[len(t) * 9 // 10]
    paired = statistics.median(r[n] / r["testa"] for r in rounds.values())
    print(f"{n:8} {med:8.2f} {p10:8.2f} {p90:8.2f}  {paired:.2f}x")
PY
