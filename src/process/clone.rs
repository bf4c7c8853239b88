//! `clone3` (with a fallback to `clone`) as a fork: the child continues on a
//! copy of the caller's stack, in the namespaces the flags ask for.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// `struct clone_args` from `linux/sched.h` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of the fork we are on.
#[derive(Debug)]
pub(crate) enum Forked {
    /// The new process.
    Child,
    /// The caller, with the child's pid and (when the kernel gave one) a pidfd.
    Parent {
        /// Child pid in the caller's pid namespace.
        pid: Pid,
        /// A pidfd for the child.
        pidfd: Option<OwnedFd>,
        /// Whether the child was cloned into the requested cgroup.
        in_cgroup: bool,
    },
}

/// Fork with extra `flags` (`CLONE_NEW*`, `CLONE_PARENT`). The child gets
/// `SIGCHLD` as exit signal (or, with `CLONE_PARENT`, its parent's).
///
/// Only async-signal-safe work may follow in the child if the caller is
/// multi-threaded; the runtime's callers are single-threaded.
///
/// With `cgroup` (a cgroup v2 directory fd) the child starts in that cgroup
/// (`CLONE_INTO_CGROUP`); the caller learns whether that happened from
/// [`Forked::Parent::in_cgroup`] (not with the `clone` fallback).
pub(crate) fn fork_with(flags: libc::c_int, cgroup: Option<RawFd>) -> Result<Forked> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let parent = flags & libc::CLONE_PARENT != 0;
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags as u64
            | if parent { 0 } else { libc::CLONE_PIDFD as u64 }
            | if cgroup.is_some() {
                CLONE_INTO_CGROUP
            } else {
                0
            },
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        // With CLONE_PARENT the kernel takes the caller's exit signal.
        exit_signal: if parent { 0 } else { libc::SIGCHLD as u64 },
        cgroup: cgroup.map_or(0, |fd| fd as u64),
        ..Default::default()
    };
    let mut in_cgroup = cgroup.is_some();
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork:
    // the child gets a copy of the address space. `args` outlives the call.
    let mut rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc < 0 && Errno::last() == Errno::ENOSYS {
        if flags & libc::CLONE_NEWTIME != 0 {
            return Err(Error::sys("clone(CLONE_NEWTIME)", Errno::ENOSYS));
        }
        let sig = if parent { 0 } else { libc::SIGCHLD };
        // SAFETY: clone without CLONE_VM and a NULL stack is fork-like.
        rc = unsafe { libc::syscall(libc::SYS_clone, (flags | sig) as libc::c_ulong, 0, 0, 0, 0) };
        pidfd = -1;
        in_cgroup = false;
    }
    match rc {
        0 => Ok(Forked::Child),
        r if r < 0 => Err(Error::sys(
            format!("clone3(flags {flags:#x})"),
            Errno::last(),
        )),
        pid => Ok(Forked::Parent {
            pid: Pid::from_raw(pid as i32),
            // SAFETY: the kernel wrote a fresh pidfd that we now own.
            pidfd: (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) }),
            in_cgroup,
        }),
    }
}

/// [`fork_with`] with every signal blocked across the clone, so the child
/// runs none of the caller's handlers before it execs (it clears its mask
/// just before exec); the caller's mask is restored in the parent.
pub(crate) fn fork_signals_blocked(flags: libc::c_int, cgroup: Option<RawFd>) -> Result<Forked> {
    use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
    let mut old = SigSet::empty();
    sigprocmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )
    .map_err(|e| Error::sys("sigprocmask(block all)", e))?;
    let forked = fork_with(flags, cgroup);
    if !matches!(forked, Ok(Forked::Child)) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    forked
}
