//! The container process: args, cwd, inherited file descriptors.

mod common;
use common::*;
use serde_json::json;
use std::fs::{self, File};
use std::os::fd::AsRawFd;

#[test]
fn args_not_found_fails_and_cleans_up() {
    let mut c = Ctx::new("args_not_found");
    for args in [vec!["/nonexistent/bin"], vec!["no-such-command-in-path"]] {
        c.set_args(&args);
        let o = c.run();
        o.assert_fail(&format!("run {args:?}"));
        assert!(!o.stderr.trim().is_empty(), "no error message: {o:?}");
        c.assert_no_leaks();
        let o = c.create();
        o.assert_fail(&format!("create {args:?}"));
        c.assert_no_leaks();
    }
}

#[test]
fn cwd_cannot_escape_rootfs() {
    let mut c = Ctx::new("cwd_cannot_escape");
    std::os::unix::fs::symlink("../../../../../../..", c.rootfs.join("escape")).unwrap();
    for cwd in ["/../../../..", "/escape", "/escape/tmp/../.."] {
        c.config(|cfg| cfg["process"]["cwd"] = json!(cwd));
        let out = c.run_sh("pwd -P; cat ./rootfs-marker 2>/dev/null || ls");
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l.first().copied(), Some("/"), "cwd {cwd}: {out}");
        assert_eq!(
            l.get(1).copied(),
            Some(c.id.as_str()),
            "cwd {cwd} is not the rootfs: {out}"
        );
    }
    c.assert_no_leaks();
}

fn fd_list(out: &str) -> Vec<u32> {
    let mut v: Vec<u32> = out
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    v.sort();
    v
}

#[test]
fn no_fd_leak_into_container() {
    let mut c = Ctx::new("no_fd_leak_into_container");
    // an fd the runtime inherits without CLOEXEC must still not reach the container
    let f = File::open("/etc/hostname").unwrap();
    c.set_sh("ls /proc/self/fd");
    let o = c.rt_with(
        &["run", "--bundle", &c.bundle_s(), &c.id],
        RunOpts {
            fds: vec![(7, f.as_raw_fd())],
            ..Default::default()
        },
    );
    o.assert_ok("run");
    // 0,1,2 plus the directory fd `ls` itself opens
    assert_eq!(fd_list(&o.stdout), [0, 1, 2, 3], "{o:?}");
    // and the init's fds while created (before start): only stdio + the runtime's own
    c.set_args(&["sleep", "100"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    let pid = c.state()["pid"].as_i64().unwrap();
    let fds: Vec<u32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect();
    let mut fds = fds;
    fds.sort();
    assert_eq!(fds, [0, 1, 2], "running container process holds extra fds");
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

#[test]
fn preserve_fds() {
    let mut c = Ctx::new("preserve_fds");
    let a = c.dir.join("three");
    let b = c.dir.join("four");
    let d = c.dir.join("five");
    fs::write(&a, "three\n").unwrap();
    fs::write(&b, "four\n").unwrap();
    fs::write(&d, "five\n").unwrap();
    let (fa, fb, fd) = (
        File::open(&a).unwrap(),
        File::open(&b).unwrap(),
        File::open(&d).unwrap(),
    );
    c.set_sh("cat <&3; cat <&4; [ -e /proc/self/fd/5 ] && echo fd5-leaked || echo no-fd5");
    let o = c.rt_with(
        &[
            "run",
            "--preserve-fds",
            "2",
            "--bundle",
            &c.bundle_s(),
            &c.id,
        ],
        RunOpts {
            fds: vec![
                (3, fa.as_raw_fd()),
                (4, fb.as_raw_fd()),
                (5, fd.as_raw_fd()),
            ],
            ..Default::default()
        },
    );
    o.assert_ok("run --preserve-fds 2");
    assert_eq!(o.stdout, "three\nfour\nno-fd5\n", "{o:?}");
    c.assert_no_leaks();
}

#[test]
fn listen_fds_passed() {
    let mut c = Ctx::new("listen_fds_passed");
    let a = c.dir.join("sock-standin");
    fs::write(&a, "activated\n").unwrap();
    let fa = File::open(&a).unwrap();
    c.set_sh("echo \"$LISTEN_FDS $LISTEN_PID\"; cat <&3; [ -e /proc/self/fd/4 ] && echo fd4-leaked || echo no-fd4");
    let o = c.rt_with(
        &["run", "--bundle", &c.bundle_s(), &c.id],
        RunOpts {
            fds: vec![(3, fa.as_raw_fd())],
            listen_fds: Some(1),
            ..Default::default()
        },
    );
    o.assert_ok("run with LISTEN_FDS=1");
    assert_eq!(o.stdout, "1 1\nactivated\nno-fd4\n", "{o:?}");
    c.assert_no_leaks();
}
