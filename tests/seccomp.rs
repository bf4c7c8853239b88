//! Seccomp in containers: podman's default profile as podman renders it,
//! Docker's masked-equality rule on clone, KILL_PROCESS, LOG, the filter
//! without no_new_privs, and a notify listener answering a syscall.
//! A static probe (`tests/probe/syscall.c`) makes the raw calls.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use testa::process::seccomp::{PODMAN_DEFAULT_CAPS, PODMAN_PROFILE_PATH};

/// podman's default profile rendered for podman's default capabilities.
fn podman_profile() -> Option<Value> {
    let Ok(text) = std::fs::read_to_string(PODMAN_PROFILE_PATH) else {
        panic!("{PODMAN_PROFILE_PATH} missing: apt-get install -y golang-github-containers-common");
    };
    let s = testa::process::seccomp::from_docker_profile(&text, PODMAN_DEFAULT_CAPS, "amd64")
        .expect("render podman's profile");
    Some(serde_json::to_value(s).unwrap())
}

fn with_probe(name: &str, seccomp: Value) -> Ctx {
    let mut c = Ctx::new(name);
    install_probe(&c.rootfs);
    c.config(|cfg| cfg["linux"]["seccomp"] = seccomp);
    c
}

/// Run `syscall ARGS` lines in the container; one output line per call.
fn calls(c: &mut Ctx, lines: &[&str]) -> Vec<String> {
    let script: Vec<String> = lines.iter().map(|l| format!("syscall {l}")).collect();
    let out = c.run_sh(&(script.join("; ") + "; true"));
    out.lines().map(String::from).collect()
}

#[test]
fn podman_default_profile_enforced() {
    let profile = podman_profile().unwrap();
    let listed: Vec<String> = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["names"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    // A real syscall the profile does not name at all (without a filter the
    // kernel answers it with EFAULT/EINVAL, not ENOSYS).
    let (unlisted, nr) = [
        ("io_uring_setup", 425),
        ("add_key", 248),
        ("futex_waitv", 449),
    ]
    .into_iter()
    .find(|(n, _)| !listed.iter().any(|l| l == n))
    .expect("a syscall podman's profile leaves out");
    let mut c = with_probe("seccomp_podman", profile);
    c.config(|cfg| {
        let caps = json!(PODMAN_DEFAULT_CAPS);
        cfg["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps});
    });
    let out = calls(
        &mut c,
        &[
            "246 0 0 0 0", // kexec_load
            "321 0 0 0",   // bpf without CAP_SYS_ADMIN
            "41 16 3 9",   // socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)
            &nr.to_string(),
            "135 0xffffffff", // personality query: listed
            "135 0x0400",     // personality(STICKY_TIMEOUTS): not listed
            "39",             // getpid
        ],
    );
    assert_eq!(out[0], "errno 1", "kexec_load: {out:?}");
    assert_eq!(out[1], "errno 1", "bpf: {out:?}");
    assert_eq!(out[2], "errno 22", "netlink audit socket: {out:?}");
    assert_eq!(out[3], "errno 38", "{unlisted} (unlisted): {out:?}");
    assert!(out[4].starts_with("ok "), "personality query: {out:?}");
    assert!(out[5].starts_with("errno "), "personality 0x0400: {out:?}");
    assert!(out[6].starts_with("ok "), "getpid: {out:?}");
    // ordinary commands work, with the filter in place
    let status = c
        .run_sh("ls / >/dev/null && echo fine; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");
    assert_eq!(status, "fine\nNoNewPrivs:\t1\nSeccomp:\t2\n");
    c.assert_no_leaks();
}

#[test]
fn docker_clone_rule_refuses_new_user_namespaces() {
    // Docker's default profile allows clone only when no namespace flag is
    // set: (flags & 0x7E020000) == 0.
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["execve", "exit_group", "exit", "write", "read", "brk", "mmap", "munmap",
                       "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "prlimit64",
                       "mprotect", "getrandom", "readlink", "uname", "fstat", "newfstatat", "ioctl",
                       "getpid", "wait4", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "open",
                       "openat", "close", "fcntl", "getppid", "getuid", "geteuid", "getgid",
                       "getegid", "dup2", "dup3", "pipe", "pipe2", "chdir", "getcwd", "stat",
                       "lseek", "access", "faccessat", "faccessat2", "prctl", "capget", "capset",
                       "setresuid", "setresgid", "setgroups", "futex", "statx", "poll", "getdents64",
                       "sendto", "recvfrom", "sendmsg", "recvmsg", "getsockopt", "exit", "mkdir", "fork", "vfork",
                       "umask", "setsid", "getpgid", "setpgid", "sched_getaffinity", "close_range",
                       "sigaltstack", "madvise", "gettid", "tgkill", "kill", "getpgrp", "pause",
                       "nanosleep", "clock_nanosleep", "sysinfo", "times"],
             "action": "SCMP_ACT_ALLOW"}
        ]
    });
    let mut c = with_probe("seccomp_docker_clone", profile);
    let out = calls(&mut c, &["56 0x11", "56 0x10000011"]);
    assert!(out[0].starts_with("ok "), "plain fork-like clone: {out:?}");
    assert_eq!(out[1], "errno 1", "clone(CLONE_NEWUSER): {out:?}");
    c.assert_no_leaks();
}

#[test]
fn kill_process_kills_with_sigsys() {
    let mut c = with_probe(
        "seccomp_kill",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    );
    c.set_args(&["syscall", "110"]);
    let o = c.run();
    assert_eq!(o.code, 128 + 31, "SIGSYS expected: {o:?}");
    c.assert_no_leaks();
}

#[test]
fn log_action_allows_and_logs() {
    let mut c = with_probe(
        "seccomp_log",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]}),
    );
    let before =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap_or_default();
    assert!(
        before.contains("log"),
        "the kernel does not log SCMP_ACT_LOG: {before}"
    );
    let out = calls(&mut c, &["110"]);
    assert!(out[0].starts_with("ok "), "LOG must allow: {out:?}");
    // The kernel logs it as an audit record of type 1326 (SECCOMP) naming
    // syscall 110; read it from /dev/kmsg.
    let mut kmsg = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open("/dev/kmsg")
        .unwrap();
    let mut all = String::new();
    let mut buf = vec![0u8; 8192];
    while let Ok(n) = kmsg.read(&mut buf) {
        if n == 0 {
            break;
        }
        all.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        all.lines()
            .any(|l| l.contains("type=1326") && l.contains("syscall=110")),
        "no seccomp log record for getppid in /dev/kmsg"
    );
    c.assert_no_leaks();
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}
impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

#[test]
fn filter_without_no_new_privs() {
    let mut c = with_probe(
        "seccomp_no_nnp",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]}),
    );
    c.config(|cfg| cfg["process"]["noNewPrivileges"] = json!(false));
    let out = c.run_sh("syscall 110; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status");
    assert_eq!(out, "errno 42\nNoNewPrivs:\t0\nSeccomp:\t2\n");
    c.assert_no_leaks();
}

/// The listener socket gets the container state and the notify fd; the
/// test answers the container's getppid with 4242.
#[test]
fn notify_listener_answers_for_the_container() {
    let dir = std::path::PathBuf::from(format!("/tmp/testa-it/notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("listener.sock");
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).unwrap();
    let mut c = with_probe(
        "seccomp_notify",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "listenerPath": sock, "listenerMetadata": "hello-agent",
               "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_LOG"],
               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let agent = std::thread::spawn(move || {
        let (fd, payload) = receive_fd(&listener);
        let state: Value = serde_json::from_slice(&payload).expect("state JSON");
        let req = testa::process::seccomp::notify_receive(fd.as_fd()).unwrap();
        testa::process::seccomp::notify_respond(fd.as_fd(), req.id, 4242, 0).unwrap();
        (state, req.data.nr)
    });
    // The probe alone (a shell would call getppid itself, for $PPID).
    c.set_args(&["syscall", "110"]);
    let o = c.run();
    let (state, nr) = agent.join().unwrap();
    assert_eq!(o.stdout, "ok 4242\n", "{o:?}");
    assert_eq!(nr, 110);
    assert_eq!(state["metadata"], "hello-agent", "{state}");
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["state"]["id"], json!(c.id), "{state}");
    std::fs::remove_dir_all(&dir).unwrap();
    c.assert_no_leaks();
}

#[test]
fn exec_gets_the_container_filter() {
    let mut c = with_probe(
        "seccomp_exec",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7}]}),
    );
    c.set_args(&["sleep", "100"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    let o = c.rt(&["exec", &c.id, "syscall", "110"]);
    assert_eq!(o.stdout, "errno 7\n", "{o:?}");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn bad_profile_names_the_rule() {
    let mut c = with_probe(
        "seccomp_bad",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ALLOW"},
                            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
    );
    c.set_args(&["true"]);
    let o = c.create();
    o.assert_fail("create with a malformed rule");
    assert!(o.stderr.contains("linux.seccomp.syscalls[1]"), "{o:?}");
    c.assert_no_leaks();
}
