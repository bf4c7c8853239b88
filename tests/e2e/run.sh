#!/usr/bin/env bash
# End-to-end suite: real containerd (ctr + runc v2 shim) and podman (conmon)
# driving the runtime under test, exactly as users run them. Needs root.
#
#   tests/e2e/run.sh                              # against target/debug/testa (built if missing)
#   E2E_RUNTIME=/usr/sbin/runc tests/e2e/run.sh   # the same cases against runc
#   tests/e2e/run.sh ctr_run_rm podman_exec       # only the named cases (substring match)
#
# Nothing is downloaded but Debian packages: the image is busybox-static,
# built here into a rootfs tar, imported with `podman import`, and saved as an
# OCI archive for `ctr images import`. containerd and podman get their own
# root, state, socket and config under one temp dir, removed at the end.
# Prints one line per case (ok | FAIL | skip) and a final "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RT=${E2E_RUNTIME:-$REPO/target/debug/testa}
RT_NAME=$(basename "$RT")
ONLY=("$@")
T=30            # seconds any single client command may take

[ "$(id -u)" = 0 ] || { echo "tests/e2e/run.sh: needs root" >&2; exit 2; }

# ---------------------------------------------------------------- install ---
need=()
command -v containerd >/dev/null || need+=(containerd)
command -v ctr >/dev/null || need+=(containerd)
command -v containerd-shim-runc-v2 >/dev/null || need+=(containerd)
command -v podman >/dev/null || need+=(podman)
command -v conmon >/dev/null || need+=(conmon)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v slirp4netns >/dev/null || need+=(slirp4netns)
command -v iptables >/dev/null || need+=(iptables)
command -v script >/dev/null || need+=(bsdutils)
[ -x /usr/lib/podman/netavark ] || need+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || need+=(aardvark-dns)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
[ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || exit 2
fi
if [ -z "${E2E_RUNTIME:-}" ] && [ ! -x "$RT" ]; then
    echo "== cargo build --bin testa"
    (cd "$REPO" && cargo build --quiet --bin testa) || exit 2
fi
[ -x "$RT" ] || { echo "runtime $RT: not executable" >&2; exit 2; }

# ------------------------------------------------------------ workspace ---
W=$(mktemp -d /tmp/testa-e2e.XXXXXX)
cd "$W" || exit 2      # conmon leaves files in its working directory
NS=e2e-$$                        # containerd namespace (also its cgroup parent)
CTRD_PID=
cleanup() {
    set +e
    cd /
    if [ -n "${E2E_KEEP:-}" ]; then echo "== kept $W"; fi
    # podman: every container of our store, then the store itself
    if [ -d "$W/podman" ]; then
        timeout 60 podman-e2e rm -af -t 0 >/dev/null 2>&1
        timeout 60 podman-e2e system reset -f >/dev/null 2>&1
    fi
    # containerd: every task and container of our namespace, then the daemon
    if [ -n "$CTRD_PID" ]; then
        for c in $(ctr-e2e containers ls -q 2>/dev/null); do
            timeout 10 ctr-e2e task kill -s SIGKILL "$c" >/dev/null 2>&1
            timeout 10 ctr-e2e task delete -f "$c" >/dev/null 2>&1
            timeout 10 ctr-e2e containers delete "$c" >/dev/null 2>&1
        done
        kill "$CTRD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$CTRD_PID" 2>/dev/null
    fi
    # whatever is still mounted under the workspace, deepest first
    awk -v w="$W" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m"; done
    [ -n "${E2E_KEEP:-}" ] || rm -rf "$W"
    rm -rf "/run/containerd/runc/$NS"
    for d in /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/unified/"$NS"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- reporting ---
PASS=0 FAILN=0 SKIPN=0
LOG=$W/case.log     # what the steps of the running case printed
# run_case NAME: runs function c_NAME; a step that fails prints why and the
# case function returns non-zero; `skip REASON` returns 77.
run_case() {
    local name=$1
    if [ ${#ONLY[@]} -gt 0 ]; then
        local hit=
        for o in "${ONLY[@]}"; do [[ $name == *"$o"* ]] && hit=1; done
        [ -n "$hit" ] || return 0
    fi
    : >"$LOG"
    local t0=$SECONDS rc
    "c_$name" >>"$LOG" 2>&1
    rc=$?
    if [ $rc = 0 ]; then
        PASS=$((PASS + 1)); echo "ok   $name ($((SECONDS - t0))s)"
    elif [ $rc = 77 ]; then
        SKIPN=$((SKIPN + 1)); echo "skip $name: $(tail -n1 "$LOG")"
    else
        FAILN=$((FAILN + 1)); echo "FAIL $name ($((SECONDS - t0))s)"
        sed 's/^/    | /' "$LOG" | head -n 60
    fi
}
# `skip REASON; return` in a case: only where the kernel lacks the feature
skip() { echo "$*"; return 77; }
# The steps. Each prints the command and its output on failure, and returns 1.
#   expect_out WANT cmd...   stdout == WANT, exit 0 (CRs, NULs, script's "^@",
#                            leading/trailing blank lines and trailing blanks stripped)
#   expect_grep RE cmd...    stdout+stderr matches the extended regex RE, exit 0
#   expect_rc N cmd...       exit status is N (stdout+stderr not checked)
#   expect_ok cmd...         exit status 0
#   expect_fail cmd...       exit status non-zero
#   expect_fail_grep RE cmd...  exit status non-zero, stdout+stderr matches RE
#   expect_rc_grep N RE cmd...  exit status N, stdout+stderr matches RE
OUT=$W/out ERR=$W/err
_run() { timeout -k 5 "$T" "$@" >"$OUT" 2>"$ERR" </dev/null; }
_show() {
    echo "step failed: $1"; shift
    echo "  \$ $*"
    echo "  exit: $RC"
    [ -s "$OUT" ] && sed 's/^/  out: /' "$OUT" | head -n 20
    [ -s "$ERR" ] && sed 's/^/  err: /' "$ERR" | head -n 20
    return 1
}
_clean() { tr -d '\r\0' <"$OUT" | sed 's/\^@//g' | sed -e 's/[[:space:]]*$//' -e '/./,$!d' | sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}'; }
expect_out() {
    local want=$1; shift
    _run "$@"; RC=$?
    local got; got=$(_clean)
    [ $RC = 0 ] && [ "$got" = "$want" ] && return 0
    _show "expected exit 0 and stdout '$want'" "$@"
}
expect_grep() {
    local re=$1; shift
    _run "$@"; RC=$?
    [ $RC = 0 ] && cat "$OUT" "$ERR" | tr -d '\r\0' | sed 's/\^@//g' | grep -Eq -- "$re" && return 0
    _show "expected exit 0 and output matching /$re/" "$@"
}
expect_rc() {
    local want=$1; shift
    _run "$@"; RC=$?
    [ "$RC" = "$want" ] && return 0
    _show "expected exit $want" "$@"
}
expect_ok() { _run "$@"; RC=$?; [ $RC = 0 ] && return 0; _show "expected exit 0" "$@"; }
expect_fail() { _run "$@"; RC=$?; [ $RC != 0 ] && [ $RC != 124 ] && return 0; _show "expected a non-zero exit" "$@"; }
expect_fail_grep() {
    local re=$1; shift
    _run "$@"; RC=$?
    [ $RC != 0 ] && [ $RC != 124 ] && cat "$OUT" "$ERR" | tr -d '\r\0' | sed 's/\^@//g' | grep -Eq -- "$re" && return 0
    _show "expected a non-zero exit and output matching /$re/" "$@"
}
expect_rc_grep() {
    local want=$1 re=$2; shift 2
    _run "$@"; RC=$?
    [ "$RC" = "$want" ] && cat "$OUT" "$ERR" | tr -d '\r\0' | sed 's/\^@//g' | grep -Eq -- "$re" && return 0
    _show "expected exit $want and output matching /$re/" "$@"
}
# the same under a pseudo-terminal (ctr -t and podman -t want a tty on stdin)
# (a script in $W/bin, made below, so that timeout can run it)
# retry CMD until it succeeds, for up to 10 s (a state to settle)
eventually() { for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; "$@"; }

# ------------------------------------------------------------- the image ---
# busybox-static, its applets as links, a passwd/group with root, nobody and a
# user 1000, the usual empty dirs; the same image for podman and containerd.
build_image() {
    local r=$W/image/rootfs
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home/user,data,var,run}
    cp /bin/busybox "$r/bin/busybox"
    /bin/busybox --list-full | while read -r a; do
        [ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
    printf 'root:x:0:\nuser:x:1000:\nnobody:x:65534:\n' >"$r/etc/group"
    echo 'image-content' >"$r/etc/e2e-marker"
    chmod 1777 "$r/tmp"; chown 1000:1000 "$r/home/user"
    {
        tar -C "$r" --numeric-owner -cf "$W/image/rootfs.tar" . &&
        podman-e2e import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
            "$W/image/rootfs.tar" "$IMG" &&
        podman-e2e save --format oci-archive -o "$W/image/oci.tar" "$IMG" &&
        ctr-e2e images import "$W/image/oci.tar"
    } >"$W/image/build.log" 2>&1 || { cat "$W/image/build.log"; return 1; }
    ctr-e2e images ls -q | grep -qx "$IMG"
}
IMG=localhost/e2e-busybox:latest

# ------------------------------------------------------------- podman ---
# Its own storage, run root, tmp dir, network config and events file; the
# cgroupfs manager and the file events logger (no systemd here). The runtime
# under test is named in containers.conf and treated as podman treats runc.
mkdir -p "$W/podman"/{root,run,tmp,net}
NPROC=$(ulimit -Hu); [ "$NPROC" = unlimited ] || [ "$NPROC" -gt 32768 ] && NPROC=32768
cat >"$W/podman/containers.conf" <<EOF
[containers]
log_driver = "k8s-file"
# podman asks a root container for RLIMIT_NOFILE 1048576 and RLIMIT_NPROC
# 4194304 while it lowers its own (so conmon's and the runtime's) NPROC to
# 32768; raising a hard limit needs CAP_SYS_RESOURCE, which this sandbox lacks
# (and its NOFILE hard limit is 20000): every runtime fails with EPERM. So ask
# for what the runtime's caller has.
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$NPROC:$NPROC"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/podman/events.log"
tmp_dir = "$W/podman/tmp"
runtime = "$RT_NAME"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "$RT_NAME"]
runtime_supports_nocgroups = ["crun", "krun"]
[engine.runtimes]
$RT_NAME = ["$RT"]
[network]
network_backend = "netavark"
network_config_dir = "$W/podman/net"
EOF
cat >"$W/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/podman/root"
runroot = "$W/podman/run"
EOF
# podman-e2e: podman with all of the above (a script, so `script -c` can run it too)
mkdir -p "$W/bin"
cat >"$W/bin/podman-e2e" <<EOF
#!/bin/sh
export CONTAINERS_CONF=$W/podman/containers.conf CONTAINERS_STORAGE_CONF=$W/podman/storage.conf
exec podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver overlay \\
    --runtime "$RT" --cgroup-manager cgroupfs --events-backend file \\
    --network-config-dir "$W/podman/net" --tmpdir "$W/podman/tmp" "\$@"
EOF
chmod +x "$W/bin/podman-e2e"
cat >"$W/bin/in-tty" <<'EOF'
#!/bin/bash
# in-tty CMD...: run CMD with a pseudo-terminal as its stdin/stdout (ctr -t, podman -t want one)
SHELL=/bin/bash exec script -qec "$(printf '%q ' "$@")" /dev/null
EOF
chmod +x "$W/bin/in-tty"
export PATH="$W/bin:$PATH"

# ----------------------------------------------------------- containerd ---
# Its own root, state, socket and config; the runc v2 shim runs the runtime
# under test: `ctr run --runc-binary RT` sets the shim's BinaryName. `ctr
# container create` has no such flag (and ctr 1.6 drops --runtime-config-path
# for io.containerd.runc.v2), so the shim's default BinaryName "runc" must find
# the runtime under test: our containerd's PATH starts with a dir whose `runc`
# is a link to it.
C=$W/containerd
mkdir -p "$C"/{root,state}
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
[debug]
  address = ""
EOF
mkdir -p "$C/bin"; ln -s "$RT" "$C/bin/runc"
cat >"$W/bin/ctr-e2e" <<EOF
#!/bin/sh
exec ctr --address "$C/containerd.sock" --namespace "$NS" "\$@"
EOF
chmod +x "$W/bin/ctr-e2e"


start_containerd() {
    PATH="$C/bin:$PATH" containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 &
    CTRD_PID=$!
    for _ in $(seq 100); do
        ctr --address "$C/containerd.sock" version >/dev/null 2>&1 && return 0
        kill -0 "$CTRD_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "containerd did not start:"; tail -n 20 "$C/containerd.log"; return 1
}

# cgroup v1 / v2 helpers: where a controller's file of a cgroup is
CG_V2=
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && CG_V2=1
# cgfile CONTROLLER V1FILE V2FILE CGPATH -> host path of the file
cgfile() {
    if [ -n "$CG_V2" ]; then echo "/sys/fs/cgroup$4/$3"; else echo "/sys/fs/cgroup/$1$4/$2"; fi
}
# a host pid's cgroup path for a controller
cgpath_of() {
    if [ -n "$CG_V2" ]; then sed -n 's/^0:://p' "/proc/$2/cgroup"
    else awk -F: -v c="$1" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$2/cgroup"; fi
}

have_memcg() { grep -qw memory /proc/cgroups 2>/dev/null && awk '$1 == "memory" {exit !$4}' /proc/cgroups; }

# ================================================================ CASES ====
# Every case is a function c_<name>: its command lines and expected outputs.

# ---- containerd (ctr) ----------------------------------------------------

c_ctr_run_rm() {
    expect_out "hello from ctr" ctr-e2e run --runc-binary "$RT" --rm "$IMG" r1 echo hello from ctr || return
    expect_rc 7 ctr-e2e run --runc-binary "$RT" --rm "$IMG" r2 sh -c 'exit 7' || return
    expect_out "" ctr-e2e containers ls -q
}

c_ctr_run_detached_lifecycle() {
    local id=d1
    expect_ok ctr-e2e run --runc-binary "$RT" -d "$IMG" $id sleep 1000 || return
    expect_grep "^$id +[0-9]+ +RUNNING" ctr-e2e task ls || return
    # the shim drives the runtime under test: it knows the container
    expect_grep '"status": ?"running"' "$RT" --root "/run/containerd/runc/$NS" state $id || return
    # exec without and with a tty
    expect_out "exec-out" ctr-e2e task exec --exec-id e1 $id echo exec-out || return
    expect_rc 3 ctr-e2e task exec --exec-id e2 $id sh -c 'exit 3' || return
    # (ctr may add "resize pty: cannot resize a stopped container": its own race)
    expect_grep "^/dev/pts/[0-9]+" in-tty ctr-e2e task exec -t --exec-id e3 $id tty || return
    # ps lists the init (the pid ctr reports)
    local pid; pid=$(ctr-e2e task ls | awk -v id=$id '$1 == id {print $2}')
    expect_grep "^$pid( |$)" ctr-e2e task ps $id || return
    # pause / resume
    expect_ok ctr-e2e task pause $id || return
    expect_grep "^$id +[0-9]+ +PAUSED" ctr-e2e task ls || return
    expect_grep '"status": ?"paused"' "$RT" --root "/run/containerd/runc/$NS" state $id || return
    # the container's cgroup is frozen (v1 freezer.state FROZEN, v2 cgroup.freeze 1)
    expect_grep "^(FROZEN|1)$" cat "$(cgfile freezer freezer.state cgroup.freeze "$(cgpath_of freezer "$pid")")" || return
    expect_ok ctr-e2e task resume $id || return
    expect_grep "^$id +[0-9]+ +RUNNING" ctr-e2e task ls || return
    expect_out "after-resume" ctr-e2e task exec --exec-id e4 $id echo after-resume || return
    # metrics (the shim reads the container's cgroups)
    expect_grep "pids\.current|memory\.usage_in_bytes|memory\.usage" ctr-e2e task metrics $id || return
    # kill, wait for STOPPED, delete
    expect_ok ctr-e2e task kill -s SIGKILL $id || return
    eventually sh -c "ctr-e2e task ls | grep -Eq '^$id +[0-9]+ +STOPPED'"
    expect_grep "^$id +[0-9]+ +STOPPED" ctr-e2e task ls || return
    expect_grep "$id|137" ctr-e2e task delete $id || return
    expect_ok ctr-e2e containers delete $id || return
    expect_fail kill -0 "$pid"
}

c_ctr_exec_errors() {
    # the runtime's error text reaches ctr through the shim (runc's wording)
    expect_fail_grep 'exec: "/nonexistent": stat /nonexistent: no such file or directory' \
        ctr-e2e run --runc-binary "$RT" --rm "$IMG" err1 /nonexistent || return
    expect_ok ctr-e2e run --runc-binary "$RT" -d "$IMG" err2 sleep 1000 || return
    expect_fail_grep 'exec: "/nonexistent": stat /nonexistent: no such file or directory' \
        ctr-e2e task exec --exec-id e1 err2 /nonexistent || return
    expect_fail_grep 'exec: "nosuchcmd": executable file not found in \$PATH' \
        ctr-e2e task exec --exec-id e2 err2 nosuchcmd || return
    expect_fail_grep 'exec: "/etc/passwd": permission denied' \
        ctr-e2e task exec --exec-id e3 err2 /etc/passwd || return
    expect_ok ctr-e2e task kill -s SIGKILL err2 || return
    eventually sh -c "ctr-e2e task ls | grep -Eq '^err2 +[0-9]+ +STOPPED'"
    expect_ok ctr-e2e task delete err2 || return
    expect_ok ctr-e2e containers delete err2
}

c_ctr_run_tty() {
    # -t: the runtime hands the pty master to the shim over --console-socket
    expect_out "/dev/pts/0" in-tty ctr-e2e run --runc-binary "$RT" --rm -t "$IMG" tty1 tty || return
    expect_rc 9 in-tty ctr-e2e run --runc-binary "$RT" --rm -t "$IMG" tty2 sh -c 'exit 9'
}

c_ctr_create_start() {
    local id=cs1
    expect_ok ctr-e2e container create "$IMG" $id \
        -- sh -c 'echo started-by-task-start > /tmp/o; sleep 1000' || return
    expect_ok ctr-e2e task start -d $id || return
    expect_grep "^$id +[0-9]+ +RUNNING" ctr-e2e task ls || return
    # the shim ran the "runc" of containerd's PATH, the runtime under test: it knows the container
    expect_grep '"status": ?"running"' "$RT" --root "/run/containerd/runc/$NS" state $id || return
    expect_out "started-by-task-start" ctr-e2e task exec --exec-id e1 $id cat /tmp/o || return
    expect_ok ctr-e2e task kill -s SIGKILL $id || return
    eventually sh -c "ctr-e2e task ls | grep -Eq '^$id +[0-9]+ +STOPPED'"
    expect_ok ctr-e2e task delete $id || return
    expect_ok ctr-e2e containers delete $id
}

c_ctr_memory_cpu_limits() {
    local id=lim1
    expect_ok ctr-e2e run --runc-binary "$RT" -d --memory-limit 67108864 --cpu-quota 50000 --cpu-period 100000 \
        "$IMG" $id sleep 1000 || return
    local pid; pid=$(ctr-e2e task ls | awk -v id=$id '$1 == id {print $2}')
    expect_out 67108864 cat "$(cgfile memory memory.limit_in_bytes memory.max "$(cgpath_of memory "$pid")")" || return
    if [ -n "$CG_V2" ]; then
        expect_out "50000 100000" cat "$(cgfile cpu x cpu.max "$(cgpath_of cpu "$pid")")" || return
    else
        expect_out 50000 cat "$(cgfile cpu cpu.cfs_quota_us x "$(cgpath_of cpu "$pid")")" || return
        expect_out 100000 cat "$(cgfile cpu cpu.cfs_period_us x "$(cgpath_of cpu "$pid")")" || return
    fi
    # --cpus is the same quota over the default period
    expect_ok ctr-e2e task kill -s SIGKILL $id || return
    ctr-e2e task delete $id >/dev/null 2>&1; ctr-e2e containers delete $id >/dev/null 2>&1
    expect_ok ctr-e2e run --runc-binary "$RT" -d --cpus 0.25 "$IMG" lim2 sleep 1000 || return
    pid=$(ctr-e2e task ls | awk '$1 == "lim2" {print $2}')
    if [ -n "$CG_V2" ]; then
        expect_out "25000 100000" cat "$(cgfile cpu x cpu.max "$(cgpath_of cpu "$pid")")" || return
    else
        expect_out 25000 cat "$(cgfile cpu cpu.cfs_quota_us x "$(cgpath_of cpu "$pid")")" || return
    fi
    expect_ok ctr-e2e task kill -s SIGKILL lim2 || return
    ctr-e2e task delete lim2 >/dev/null 2>&1; ctr-e2e containers delete lim2 >/dev/null 2>&1
    return 0
}

c_ctr_readonly_rootfs() {
    expect_grep "Read-only file system" ctr-e2e run --runc-binary "$RT" --rm --read-only "$IMG" ro1 \
        sh -c 'touch /etc/x 2>&1; exit 0' || return
    expect_out "rw-ok" ctr-e2e run --runc-binary "$RT" --rm "$IMG" ro2 sh -c 'touch /etc/x && echo rw-ok'
}

c_ctr_env_cwd() {
    expect_out "bar /tmp" ctr-e2e run --runc-binary "$RT" --rm --env FOO=bar --cwd /tmp "$IMG" env1 sh -c 'echo $FOO $(pwd)'
}

c_ctr_oom() {
    have_memcg || { skip "the kernel has no memory cgroup controller"; return; }
    local ev=$W/ctr-events
    ctr-e2e events >"$ev" 2>&1 &
    local evpid=$!
    sleep 0.3
    # `tail /dev/zero` buffers an endless line until the kernel kills it
    expect_rc 137 ctr-e2e run --runc-binary "$RT" --rm --memory-limit 33554432 "$IMG" oom1 tail /dev/zero
    local rc=$?
    eventually grep -q '/tasks/oom' "$ev"
    kill $evpid 2>/dev/null; wait $evpid 2>/dev/null
    [ $rc = 0 ] || return 1
    grep -q '/tasks/oom' "$ev" || { echo "no /tasks/oom event in ctr events:"; cat "$ev"; return 1; }
}

# ---- podman ----------------------------------------------------------------

c_podman_run_rm() {
    expect_out "hello from podman" podman-e2e run --rm "$IMG" echo hello from podman || return
    expect_rc 5 podman-e2e run --rm "$IMG" sh -c 'exit 5' || return
    expect_out "" podman-e2e ps -aq
}

c_podman_exec_errors() {
    # podman greps the runtime's error: "no such file or directory" or
    # "executable file not found in" -> exit 127, "permission denied" -> 126
    expect_rc_grep 127 'exec: "/nonexistent": stat /nonexistent: no such file or directory' \
        podman-e2e run --rm "$IMG" /nonexistent || return
    expect_rc_grep 127 'exec: "nosuchcmd": executable file not found in \$PATH' \
        podman-e2e run --rm "$IMG" nosuchcmd || return
    expect_rc_grep 126 'exec: "/etc/passwd": permission denied' \
        podman-e2e run --rm "$IMG" /etc/passwd || return
    expect_ok podman-e2e run -d --name pe "$IMG" sleep 1000 || return
    expect_rc_grep 127 'exec: "/nonexistent": stat /nonexistent: no such file or directory' \
        podman-e2e exec pe /nonexistent || return
    expect_rc_grep 126 'exec: "/etc/passwd": permission denied' podman-e2e exec pe /etc/passwd || return
    expect_ok podman-e2e rm -f -t 0 pe
}

c_podman_env_workdir_user() {
    expect_out "bar /tmp" podman-e2e run --rm -e FOO=bar -w /tmp "$IMG" sh -c 'echo $FOO $(pwd)' || return
    expect_out "uid=1000(user) gid=1000(user) groups=1000(user)" podman-e2e run --rm --user user "$IMG" id || return
    expect_out "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)" podman-e2e run --rm --user 65534:65534 "$IMG" id || return
    expect_out "1000 65534" podman-e2e run --rm --user 1000:1000 --group-add 65534 "$IMG" id -G
}

c_podman_detached_lifecycle() {
    local id
    expect_ok podman-e2e run -d --name p1 "$IMG" sh -c 'echo log-line-1; trap "exit 0" TERM; while :; do sleep 0.2; done' || return
    # conmon drives the runtime under test (its default --root): it knows p1
    local cid; cid=$(podman-e2e inspect --format '{{.Id}}' p1)
    expect_grep '"status": ?"running"' "$RT" state "$cid" || return
    expect_out "exec-out" podman-e2e exec p1 echo exec-out || return
    expect_rc 4 podman-e2e exec p1 sh -c 'exit 4' || return
    expect_out "1000 /home/user bar" podman-e2e exec --user 1000 --workdir /home/user -e FOO=bar p1 \
        sh -c 'echo $(id -u) $(pwd) $FOO' || return
    expect_ok podman-e2e exec -d p1 sh -c 'echo detached-exec > /tmp/d' || return
    eventually podman-e2e exec p1 test -s /tmp/d
    expect_out "detached-exec" podman-e2e exec p1 cat /tmp/d || return
    expect_out "/dev/pts/0" in-tty podman-e2e exec -it p1 tty || return
    expect_grep "p1" podman-e2e ps --format '{{.Names}} {{.Status}}' || return
    expect_grep "Up " podman-e2e ps --filter name=p1 --format '{{.Status}}' || return
    expect_grep "sh -c echo log-line-1" podman-e2e top p1 || return
    expect_out "log-line-1" podman-e2e logs p1 || return
    expect_ok podman-e2e pause p1 || return
    expect_out "paused" podman-e2e inspect --format '{{.State.Status}}' p1 || return
    expect_ok podman-e2e unpause p1 || return
    expect_out "running" podman-e2e inspect --format '{{.State.Status}}' p1 || return
    expect_ok podman-e2e stop -t 10 p1 || return
    expect_out "exited 0" podman-e2e inspect --format '{{.State.Status}} {{.State.ExitCode}}' p1 || return
    expect_ok podman-e2e restart p1 || return
    expect_out "running" podman-e2e inspect --format '{{.State.Status}}' p1 || return
    expect_out "$(printf 'log-line-1\nlog-line-1')" podman-e2e logs p1 || return
    expect_ok podman-e2e rm -f -t 2 p1 || return
    expect_out "" podman-e2e ps -aq
}

c_podman_memory_pids_cpus() {
    expect_out "67108864" podman-e2e run --rm --memory 64m "$IMG" \
        sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' || return
    expect_out "42" podman-e2e run --rm --pids-limit 42 "$IMG" \
        sh -c 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max' || return
    expect_out "50000" podman-e2e run --rm --cpus 0.5 "$IMG" \
        sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max' || return
    expect_out "512 0" podman-e2e run --rm --cpu-shares 512 --cpuset-cpus 0 "$IMG" sh -c \
        'echo $(cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || echo 512) $(cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null || cat /sys/fs/cgroup/cpuset.cpus)' || return
    # podman update: `runtime update --resources -` on a running container
    expect_ok podman-e2e run -d --name upd --memory 64m "$IMG" sleep 1000 || return
    expect_ok podman-e2e update --memory 128m --cpus 0.25 upd || return
    expect_out "134217728" podman-e2e exec upd \
        sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' || return
    expect_out "25000" podman-e2e exec upd \
        sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d" " -f1 /sys/fs/cgroup/cpu.max' || return
    expect_ok podman-e2e rm -f -t 0 upd
}

c_podman_oom() {
    have_memcg || { skip "the kernel has no memory cgroup controller"; return; }
    # conmon 2.1.6 writes its "oom" flag file into its own working directory,
    # the one podman was started from, while podman 4.3 looks for it in the
    # container's static dir: start the container from there
    expect_ok podman-e2e create --name oom1 --memory 32m "$IMG" tail /dev/zero || return
    local dir; dir=$(podman-e2e inspect --format '{{.StaticDir}}' oom1)
    (cd "$dir" && expect_rc 137 podman-e2e start -a oom1) || return
    expect_out "true 137" podman-e2e inspect --format '{{.State.OOMKilled}} {{.State.ExitCode}}' oom1 || return
    expect_ok podman-e2e rm oom1
}

c_podman_tty() {
    # -t without -i: a tty, stdin closed
    expect_out "/dev/pts/0" in-tty podman-e2e run --rm -t "$IMG" tty || return
    # -it: a tty on stdin too; the shell reads a command from it
    expect_grep "interactive-ok" sh -c "printf 'echo interactive-ok; exit\\n' | script -qec 'podman-e2e run --rm -it $IMG sh' /dev/null" || return
    # no -t: no tty
    expect_out "not a tty" podman-e2e run --rm "$IMG" sh -c 'tty; true'
}

c_podman_read_only() {
    expect_grep "Read-only file system" podman-e2e run --rm --read-only "$IMG" sh -c 'touch /etc/x 2>&1; true' || return
    # podman still gives a --read-only container a writable /tmp (tmpfs)
    expect_out "tmp-ok" podman-e2e run --rm --read-only "$IMG" sh -c 'touch /tmp/x && echo tmp-ok'
}

c_podman_volumes() {
    local d=$W/hostdir
    mkdir -p "$d"; echo from-host >"$d/in"
    expect_out "from-host" podman-e2e run --rm -v "$d:/data" "$IMG" sh -c 'cat /data/in; echo from-ctr > /data/out' || return
    expect_out "from-ctr" cat "$d/out" || return
    expect_grep "Read-only file system" podman-e2e run --rm -v "$d:/data:ro" "$IMG" sh -c 'cat /data/in; touch /data/x 2>&1; true' || return
    expect_fail test -e "$d/x"
}

c_podman_tmpfs() {
    expect_grep "^tmpfs /scratch tmpfs .*size=1024k" podman-e2e run --rm --tmpfs /scratch:size=1m "$IMG" grep ' /scratch ' /proc/mounts || return
    # tmpcopyup: a tmpfs over a dir of the image keeps the image's content
    expect_out "image-content" podman-e2e run --rm --tmpfs /etc "$IMG" cat /etc/e2e-marker
}

c_podman_network() {
    expect_out "lo" podman-e2e run --rm --network none "$IMG" sh -c 'ls /sys/class/net' || return
    expect_grep "inet 10\.88\." podman-e2e run --rm "$IMG" ip -4 addr show eth0 || return
    expect_grep "default via 10\.88\.0\.1" podman-e2e run --rm "$IMG" ip route
}

c_podman_process_options() {
    # (--ulimit replaces default_ulimits: nproc again, see containers.conf above)
    expect_out "100 200" podman-e2e run --rm --ulimit nofile=100:200 --ulimit nproc=$NPROC:$NPROC "$IMG" \
        sh -c 'echo $(ulimit -n) $(ulimit -Hn)' || return
    expect_out "NoNewPrivs:	1" podman-e2e run --rm --security-opt no-new-privileges "$IMG" grep NoNewPrivs /proc/self/status || return
    expect_out "NoNewPrivs:	0" podman-e2e run --rm "$IMG" grep NoNewPrivs /proc/self/status || return
    # --privileged: every capability the host has (this sandbox lacks CAP_SYS_RESOURCE)
    expect_out "CapEff:	$(awk '/^CapBnd/ {print $2}' /proc/self/status)" \
        podman-e2e run --rm --privileged "$IMG" grep CapEff /proc/self/status || return
    expect_out "500" podman-e2e run --rm --oom-score-adj 500 "$IMG" cat /proc/self/oom_score_adj || return
    expect_out "1024" podman-e2e run --rm --sysctl net.ipv4.ip_unprivileged_port_start=1024 "$IMG" \
        cat /proc/sys/net/ipv4/ip_unprivileged_port_start || return
    expect_out "0" podman-e2e run --rm --sysctl net.ipv4.ip_unprivileged_port_start=0 "$IMG" \
        cat /proc/sys/net/ipv4/ip_unprivileged_port_start || return
    # --init: podman bind-mounts catatonit as /run/podman-init and makes it pid 1
    expect_out "podman-init" podman-e2e run --rm --init "$IMG" cat /proc/1/comm || return
    # own pid namespace: the command is pid 1; --pid host: the host's pid 1
    expect_out "cat" podman-e2e run --rm "$IMG" cat /proc/1/comm || return
    expect_out "$(cat /proc/1/comm)" podman-e2e run --rm --pid host "$IMG" cat /proc/1/comm
}

c_podman_masked_devices() {
    # masked and read-only paths of podman's default spec
    expect_out "0" podman-e2e run --rm "$IMG" sh -c 'wc -c < /proc/timer_list' || return
    expect_out "" podman-e2e run --rm "$IMG" ls /proc/acpi || return
    expect_out "" podman-e2e run --rm "$IMG" ls /sys/firmware || return
    expect_grep "Read-only file system" podman-e2e run --rm "$IMG" sh -c 'echo x > /proc/sys/kernel/domainname; true' || return
    # --cgroupns private: the container's cgroups are its roots
    expect_out "" podman-e2e run --rm --cgroupns private "$IMG" sh -c 'grep -v ":/$" /proc/self/cgroup; true' || return
    # devices: an added device works; a node made inside is refused by the devices cgroup
    expect_out "3" podman-e2e run --rm --device /dev/zero:/dev/myzero "$IMG" sh -c 'head -c 3 /dev/myzero | wc -c' || return
    expect_grep "Operation not permitted" podman-e2e run --rm "$IMG" \
        sh -c 'mknod /tmp/vda b 253 0 && head -c 1 /tmp/vda 2>&1; true'
}

c_podman_kill_wait() {
    expect_ok podman-e2e run -d --name kw "$IMG" sh -c 'trap "exit 42" USR1; touch /ready; while :; do sleep 0.1; done' || return
    # (a pid 1 ignores a signal it has no handler for yet: wait for the trap)
    eventually podman-e2e exec kw test -e /ready
    expect_ok podman-e2e kill -s USR1 kw || return
    expect_out "42" podman-e2e wait kw || return
    expect_ok podman-e2e rm kw
}

c_podman_pod() {
    # containers of a pod join the infra container's namespaces (namespace paths)
    expect_ok podman-e2e pod create --name pod1 --hostname pod-host || return
    expect_ok podman-e2e run -d --pod pod1 --name pa "$IMG" sh -c 'echo shared > /dev/shm/x; sleep 1000' || return
    expect_out "pod-host" podman-e2e run --rm --pod pod1 "$IMG" hostname || return
    local pa_net; pa_net=$(podman-e2e exec pa readlink /proc/self/ns/net)
    expect_out "$pa_net" podman-e2e run --rm --pod pod1 "$IMG" readlink /proc/self/ns/net || return
    expect_out "shared" podman-e2e run --rm --pod pod1 "$IMG" cat /dev/shm/x || return
    expect_ok podman-e2e pod rm -f -t 0 pod1
}

c_podman_hostname() {
    expect_out "e2e-host" podman-e2e run --rm --hostname e2e-host "$IMG" hostname
}

c_podman_cap_drop() {
    # CapEff without CAP_CHOWN (bit 0) and CAP_NET_RAW (bit 13)
    local full; full=$(podman-e2e run --rm "$IMG" sh -c 'grep CapEff /proc/self/status' | awk '{print $2}')
    [ -n "$full" ] || { echo "no CapEff from a plain run"; return 1; }
    local want; want=$(printf '%016x' $(( 0x$full & ~((1 << 0) | (1 << 13)) )))
    expect_out "CapEff:	$want" podman-e2e run --rm --cap-drop CHOWN --cap-drop NET_RAW "$IMG" grep CapEff /proc/self/status || return
    expect_grep "Operation not permitted" podman-e2e run --rm --cap-drop CHOWN "$IMG" sh -c 'chown 1000 /tmp 2>&1; true'
}

c_podman_userns() {
    [ -e /proc/self/ns/user ] && [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" != 0 ] ||
        { skip "the kernel has no user namespaces (CONFIG_USER_NS or user.max_user_namespaces=0)"; return; }
    expect_out "0 100000 65536" podman-e2e run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" \
        sh -c 'cat /proc/self/uid_map | tr -s " " | sed "s/^ //"' || return
    # files the container creates are owned by the mapped host uid
    local d=$W/userns-vol; mkdir -p "$d"; chown 100000:100000 "$d"
    expect_ok podman-e2e run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 -v "$d:/data" "$IMG" touch /data/f || return
    expect_out "100000" stat -c %u "$d/f"
}

c_podman_seccomp() {
    expect_out "Seccomp:	2" podman-e2e run --rm "$IMG" grep '^Seccomp:' /proc/self/status || return
    # a syscall the default profile refuses: unshare of a user namespace... is
    # allowed with CAP_SYS_ADMIN; keyctl is blocked by the profile
    expect_out "Seccomp:	0" podman-e2e run --rm --security-opt seccomp=unconfined "$IMG" grep '^Seccomp:' /proc/self/status
}

# ================================================================= main ====
echo "== runtime: $RT ($("$RT" --version 2>&1 | head -n1))"
echo "== workspace: $W"
t_setup=$SECONDS
start_containerd || exit 2
build_image || { echo "could not build the image"; exit 2; }
echo "== setup: $((SECONDS - t_setup))s"

for c in ctr_run_rm ctr_run_detached_lifecycle ctr_exec_errors ctr_run_tty ctr_create_start ctr_memory_cpu_limits \
         ctr_readonly_rootfs ctr_env_cwd ctr_oom \
         podman_run_rm podman_exec_errors podman_env_workdir_user podman_detached_lifecycle podman_kill_wait \
         podman_memory_pids_cpus podman_oom podman_tty podman_read_only podman_volumes \
         podman_tmpfs podman_network podman_hostname podman_cap_drop podman_userns \
         podman_process_options podman_masked_devices podman_pod podman_seccomp; do
    run_case "$c"
done

echo "$PASS passed, $FAILN failed, $SKIPN skipped"
[ $FAILN = 0 ]
