//! Install-for-real tests: each runs in a forked child that loads a filter
//! and reports through its exit status (the test process stays unfiltered).

use std::io::{IoSliceMut, Read};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::panic::AssertUnwindSafe;

use nix::sys::signal::Signal;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use super::*;

/// Run `child` in a forked process; its return value is the exit code.
fn in_child(child: impl FnOnce() -> i32, parent: impl FnOnce()) -> WaitStatus {
    // SAFETY: the child makes syscalls and allocates (glibc's malloc is
    // fork-safe) and leaves with _exit, never returning into the test harness.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(AssertUnwindSafe(child)).unwrap_or(101);
            // SAFETY: _exit ends the child without running the parent's atexit state.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            parent();
            waitpid(child, None).expect("waitpid")
        }
    }
}

fn nnp() {
    nix::sys::prctl::set_no_new_privs().expect("PR_SET_NO_NEW_PRIVS");
}

/// getppid(2) straight to the kernel: (return value, errno).
fn getppid_raw() -> (i64, i32) {
    // SAFETY: getppid takes no arguments and cannot fault.
    let r = unsafe { libc::syscall(libc::SYS_getppid) };
    (r, nix::errno::Errno::last_raw())
}

fn filter(json: &str) -> Filter {
    Filter::compile_json(json).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn errno_rule_is_enforced_and_nnp_left_alone() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],
        "action":"SCMP_ACT_ERRNO","errnoRet":42}]}"#,
    );
    // As root, without NO_NEW_PRIVS: install must not set it behind our back.
    let status = in_child(
        || {
            if f.install().is_err() {
                return 2;
            }
            if nix::sys::prctl::get_no_new_privs() != Ok(false) {
                return 3;
            }
            match getppid_raw() {
                (-1, 42) => 0,
                _ => 1,
            }
        },
        || {},
    );
    assert_eq!(status, WaitStatus::Exited(status.pid().unwrap(), 0));
}

#[test]
fn kill_process_dies_with_sigsys() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
    );
    assert_eq!(f.flags(), FilterFlags::LOG);
    let status = in_child(
        || {
            nnp();
            f.install().expect("install");
            getppid_raw();
            0
        },
        || {},
    );
    match status {
        WaitStatus::Signaled(_, Signal::SIGSYS, _) => {}
        other => panic!("child should die of SIGSYS: {other:?}"),
    }
}

#[test]
fn log_flag_and_log_action_accepted() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],"syscalls":[{"names":["getppid"],
        "action":"SCMP_ACT_LOG"}]}"#,
    );
    let status = in_child(
        || {
            nnp();
            match f.install() {
                Ok(None) => i32::from(getppid_raw().0 <= 0),
                _ => 2,
            }
        },
        || {},
    );
    assert_eq!(status, WaitStatus::Exited(status.pid().unwrap(), 0));
}

#[test]
fn notify_listener_handed_off_and_answered() {
    let f = filter(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath":"/unused","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(f
        .flags()
        .contains(FilterFlags::NEW_LISTENER | FilterFlags::WAIT_KILLABLE_RECV));
    let dir = std::env::temp_dir().join(format!("testa-seccomp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("agent.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let state = br#"{"ociVersion":"1.2.0","id":"c1","status":"creating","pid":77,"bundle":"/b"}"#;
    let status = in_child(
        || {
            nnp();
            let Ok(Some(fd)) = f.install() else { return 2 };
            if send_listener(&path, fd.as_fd(), state, "meta-x").is_err() {
                return 3;
            }
            drop(fd);
            match getppid_raw() {
                (4242, _) => 0,
                _ => 1,
            }
        },
        || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let mut cmsg = nix::cmsg_space!([RawFd; 1]);
            let (n, fd) = {
                let mut iov = [IoSliceMut::new(&mut buf)];
                let msg = recvmsg::<UnixAddr>(
                    std::os::fd::AsRawFd::as_raw_fd(&conn),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                )
                .unwrap();
                let fd = msg.cmsgs().unwrap().find_map(|c| match c {
                    ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                    _ => None,
                });
                (msg.bytes, fd.expect("SCM_RIGHTS fd"))
            };
            // SAFETY: SCM_RIGHTS gave us a new fd that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            buf.truncate(n);
            conn.read_to_end(&mut buf).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            assert_eq!(v["ociVersion"], "1.2.0");
            assert_eq!(v["fds"], serde_json::json!(["seccompFd"]));
            assert_eq!(v["pid"], 77);
            assert_eq!(v["metadata"], "meta-x");
            assert_eq!(v["state"]["id"], "c1");
            let req = notify_receive(fd.as_fd()).unwrap();
            assert_eq!(i64::from(req.data.nr), libc::SYS_getppid);
            notify_respond(fd.as_fd(), req.id, 4242, 0).unwrap();
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, WaitStatus::Exited(status.pid().unwrap(), 0));
}
