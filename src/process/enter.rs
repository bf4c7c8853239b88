//! Entering a running container (`exec`): a new process joins every
//! namespace of the container's init (user first, mount last), is forked
//! once more so that it is inside the init's pid and time namespaces, is
//! put in the container's cgroup, takes its process attributes, and execs.
//!
//! ```text
//!  runtime                                  child (joins)          process
//!  fork ───────────────────────────────────▶ wait Begin
//!  Begin ──────────────────────────────────▶ setns user, ipc, uts,
//!                                             net, pid, cgroup, time, mnt
//!                                             fork(CLONE_PARENT) ───▶ wait Begin
//!              ◀──────────────────────────── InitPid(pid); exit
//!  reap child; cgroup.procs ← pid
//!  Begin ────────────────────────────────────────────────────────────▶ rlimits, umask, fds,
//!                                                                       user, caps, cwd, NNP
//!              ◀──────────────────────────────────────────────────── Ready
//!  pid file; Created ────────────────────────────────────────────────▶ execve
//!              ◀──────────────────────────────────────────────────── EOF or Failed
//! ```

use std::convert::Infallible;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::channel::{Channel, Msg};
use super::clone::{fork_signals_blocked, fork_with, Forked};
use super::plan::ProcessPlan;
use super::spawn::Spawned;
use super::{exec, PidFd};
use crate::cgroups::Manager;
use crate::error::{Context, Error, Result};
use crate::namespace::{Kind, Namespace};

/// What a new process enters.
pub(crate) struct ExecTarget<'a> {
    /// The container's init, whose namespaces are joined.
    pub init_pid: i32,
    /// The container's cgroup.
    pub cgroup: &'a dyn Manager,
    /// The process to run.
    pub process: &'a ProcessPlan,
    /// fds 3.. passed through.
    pub preserve_fds: u32,
    /// Where a terminal's pty master goes (else it is returned).
    pub console_socket: Option<&'a std::path::Path>,
    /// The container's seccomp filter.
    pub seccomp: Option<&'a super::seccomp::Filter>,
    /// Where a notify listener goes, with the container's state.
    pub seccomp_listener: Option<(&'a std::path::Path, &'a str, Vec<u8>)>,
}

/// The init's namespaces that differ from ours, in join order.
fn namespaces_of(init: i32) -> Result<Vec<Namespace>> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let theirs = format!("/proc/{init}/ns/{}", kind.proc_name());
        let ours = format!("/proc/self/ns/{}", kind.proc_name());
        let (Ok(t), Ok(o)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue; // a kind this kernel lacks
        };
        if t.ino() != o.ino() || t.dev() != o.dev() {
            out.push(Namespace::of_pid(init, kind)?);
        }
    }
    Ok(out)
}

/// Start `t.process` inside the container; returns once it is about to exec.
/// `on_ready` runs (pid file) before the process is let go.
pub(crate) fn spawn_exec(
    t: &ExecTarget,
    on_ready: impl FnOnce(Pid) -> Result<()>,
) -> Result<Spawned> {
    let namespaces = namespaces_of(t.init_pid)?;
    let (parent_end, child_end) = Channel::pair()?;
    let forked = fork_signals_blocked(0, None);
    if let Ok(Forked::Child) = forked {
        drop(parent_end);
        let err = match join(&namespaces, &child_end).and_then(|()| become_process(t, &child_end)) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        child_end.report_failure(&err);
        // SAFETY: leave the child without running the parent's destructors.
        unsafe { libc::_exit(1) }
    }
    drop(child_end);
    let Forked::Parent { pid: first, .. } = forked? else {
        unreachable!("the child never returns")
    };
    let mut process = None;
    let result = drive(t, &parent_end, first, &mut process, on_ready);
    match result {
        Ok((pidfd, console)) => Ok(Spawned {
            pid: process.expect("drive set it"),
            pidfd,
            channel: parent_end,
            console,
        }),
        Err(e) => {
            for pid in [process, Some(first)].into_iter().flatten() {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
            }
            Err(e)
        }
    }
}

fn drive(
    t: &ExecTarget,
    chan: &Channel,
    first: Pid,
    process: &mut Option<Pid>,
    on_ready: impl FnOnce(Pid) -> Result<()>,
) -> Result<(PidFd, Option<std::os::fd::OwnedFd>)> {
    chan.send(&Msg::Begin)?;
    let Msg::InitPid(pid) = chan.expect("exec: join namespaces", &["InitPid"])? else {
        unreachable!("expect checked the message")
    };
    let pid = Pid::from_raw(pid);
    *process = Some(pid);
    let status = waitpid(first, None).step(|| "waitpid(exec child)".into())?;
    if status != WaitStatus::Exited(first, 0) {
        return Err(Error::Other(format!("exec: joining child: {status:?}")));
    }
    let pidfd = PidFd::open(pid.as_raw())?;
    t.cgroup.add(pid.as_raw())?;
    chan.send(&Msg::Begin)?;
    let console = if t.process.terminal {
        super::spawn::receive_console(chan, t.console_socket)?
    } else {
        None
    };
    if t.seccomp.is_some_and(|f| f.has_listener()) {
        let fd = chan.expect_fd("seccomp", &Msg::SeccompListener)?;
        if let Some((path, metadata, state)) = &t.seccomp_listener {
            super::seccomp::send_listener(path, fd.as_fd(), state, metadata)?;
        }
    }
    chan.expect("exec: process setup", &["Ready"])?;
    on_ready(pid)?;
    chan.send(&Msg::Created)?;
    Ok((pidfd, console))
}

/// In the first child: join the namespaces, fork the process, report it.
fn join(namespaces: &[Namespace], chan: &Channel) -> Result<()> {
    nix::sys::prctl::set_dumpable(false).step(|| "prctl(PR_SET_DUMPABLE, 0)".into())?;
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    chan.wait_for(&Msg::Begin)?;
    for ns in namespaces {
        ns.enter()?;
    }
    match fork_with(libc::CLONE_PARENT, None)? {
        Forked::Child => Ok(()),
        Forked::Parent { pid, .. } => {
            let _ = chan.send(&Msg::InitPid(pid.as_raw()));
            // SAFETY: the joining child is done; leave without destructors.
            unsafe { libc::_exit(0) }
        }
    }
}

/// In the process: wait to be placed in the cgroup, take the attributes, exec.
fn become_process(t: &ExecTarget, chan: &Channel) -> Result<Infallible> {
    let p = t.process;
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    chan.wait_for(&Msg::Begin)?;
    if p.terminal {
        super::init::setup_console(p, chan, false)?;
    }
    nix::sys::prctl::set_pdeathsig(None).step(|| "prctl(PR_SET_PDEATHSIG, 0)".into())?;
    // Procfs files (LSM attrs, the fd listing on kernels before 5.11) go through
    // a private pid-only procfs of the container's pid namespace, made only when
    // needed: never the host's, which a ptrace-capable container could take.
    let labels = p.apparmor_profile.is_some() || p.selinux_label.is_some();
    let procfs = (labels || !super::fds::has_close_range_cloexec())
        .then(crate::rootfs::Procfs::private)
        .transpose()?;
    if let Some(procfs) = &procfs {
        super::lsm::apply(p, procfs)?;
    }
    let program = super::attributes::take_on_with_seccomp(
        procfs.as_ref(),
        p,
        t.preserve_fds,
        t.seccomp,
        chan,
    )?;
    chan.send(&Msg::Ready)?;
    chan.wait_for(&Msg::Created)?;
    super::init::reset_signals()?;
    Err(exec::exec(&program, p))
}
