//! The container init: everything the cloned child does, in order, until it
//! becomes the container's program. Straight-line; each step's error names
//! the step and goes back to the parent over the sync channel.

use std::convert::Infallible;
use std::os::fd::RawFd;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{getppid, Pid};

use super::channel::{Channel, Msg};
use super::clone::{fork_with, Forked};
use super::{attributes, console, exec, hooks};
use crate::container::plan::Plan;
use crate::container::state::{oci_state_json, Status};
use crate::error::{Context, Error, Result};
use crate::namespace::{self, Kind, Kinds, Namespace};
use crate::rootfs;

/// What the child needs besides the plan.
pub(crate) struct InitContext<'a> {
    pub plan: &'a Plan,
    /// The exec FIFO (an `O_PATH` fd) for the create/start split; `None` runs at once.
    pub exec_fifo: Option<RawFd>,
    /// fds 3.. that the caller passes through.
    pub preserve_fds: u32,
    /// Runtime fds to close at once (they hold locks).
    pub close_fds: &'a [RawFd],
    /// The runtime's pid, to detect its death.
    pub runtime_pid: Pid,
    /// Whether this child must fork once more to become the init.
    pub second_fork: bool,
}

/// Run the child side; never returns.
pub(crate) fn run(ctx: &InitContext, chan: &Channel) -> ! {
    let err = match setup(ctx, chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    chan.report_failure(&err);
    // SAFETY: _exit ends the child without running the caller's atexit
    // handlers or destructors, which belong to the parent.
    unsafe { libc::_exit(1) }
}

fn die_with_parent(runtime_pid: Pid) -> Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).step(|| "prctl(PR_SET_PDEATHSIG)".into())?;
    // The runtime may have died before the prctl took effect.
    if getppid() != runtime_pid {
        return Err(Error::Other("runtime exited during create".into()));
    }
    Ok(())
}

fn become_root_in_userns(chan: &Channel) -> Result<()> {
    chan.send(&Msg::NeedIdMaps)?;
    chan.wait_for(&Msg::IdMapsWritten)?;
    let root = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root, root, root).step(|| "setresgid(0) in user namespace".into())?;
    let root = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(root, root, root).step(|| "setresuid(0) in user namespace".into())
}

/// Join the namespaces given by path (user first), then create the new
/// ones; fork once more when a pid or time namespace needs it. Returns in
/// the process that is the container init.
fn enter_namespaces(ctx: &InitContext, chan: &Channel) -> Result<()> {
    let ns = &ctx.plan.ns;
    if ns.clone_only() {
        // clone3 already created every namespace.
        if ns.new.contains(Kind::User) {
            become_root_in_userns(chan)?;
        }
        return Ok(());
    }
    // Open every path before entering anything: later paths may not
    // resolve once the mount namespace changes.
    let joins = ns
        .join
        .iter()
        .map(|(kind, path)| Namespace::open(path, *kind))
        .collect::<Result<Vec<_>>>()?;
    for j in &joins {
        j.enter()?;
    }
    if ns.new.contains(Kind::User) {
        namespace::unshare(Kinds::USER)?;
        become_root_in_userns(chan)?;
    }
    namespace::unshare(ns.new.without(Kinds::USER | Kinds::CGROUP))?;
    namespace::write_time_offsets("self", &ns.time_offsets)?;
    if !ctx.second_fork {
        return Ok(());
    }
    match fork_with(libc::CLONE_PARENT, None)? {
        Forked::Child => die_with_parent_after_fork(),
        Forked::Parent { pid, .. } => {
            let _ = chan.send(&Msg::InitPid(pid.as_raw()));
            // SAFETY: the intermediate process is done; leave without
            // running destructors that belong to the runtime.
            unsafe { libc::_exit(0) }
        }
    }
}

fn die_with_parent_after_fork() -> Result<()> {
    // PDEATHSIG is cleared by fork; the parent is now the runtime itself
    // (CLONE_PARENT), but outside our pid namespace getppid() reads 0.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).step(|| "prctl(PR_SET_PDEATHSIG)".into())
}

fn setup(ctx: &InitContext, chan: &Channel) -> Result<Infallible> {
    let plan = ctx.plan;
    let p = &plan.process;
    for fd in ctx.close_fds {
        let _ = nix::unistd::close(*fd);
    }
    // Until exec, /proc/<pid>/exe of the init is the runtime's binary; a
    // non-dumpable process keeps container processes from opening it
    // (CVE-2019-5736). execve resets the flag for the container's program.
    nix::sys::prctl::set_dumpable(false).step(|| "prctl(PR_SET_DUMPABLE, 0)".into())?;
    die_with_parent(ctx.runtime_pid)?;
    // Wait until the parent has put us in the container's cgroup, so every
    // process forked from here on starts inside it.
    chan.wait_for(&Msg::Begin)?;
    enter_namespaces(ctx, chan)?;
    if plan.ns.new.contains(Kind::Cgroup) {
        // After Begin we are in the container's cgroup: it becomes the root.
        namespace::unshare(Kinds::CGROUP)?;
    }
    let Msg::Proceed(pid) = chan.expect("setup", &["Proceed"])? else {
        unreachable!("expect checked the message")
    };
    let state = |status| oci_state_json(plan, status, pid);

    if !plan.no_new_keyring {
        join_session_keyring(&format!("_ses.{}", plan.id))?;
    }
    if plan.ns.new.contains(Kind::Net) {
        namespace::loopback_up()?;
    }
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(h).step(|| format!("sethostname({h:?})"))?;
    }
    if let Some(d) = &plan.domainname {
        set_domainname(d)?;
    }
    rootfs::prepare(&plan.rootfs)?;
    // Every procfs file from here on is opened through this handle, taken before
    // the container could touch its /proc: after the pivot, the path "/proc" is
    // whatever the image put there (see rootfs/procfs.rs for which procfs).
    let procfs = rootfs::container_procfs(&plan.rootfs)?;
    if !plan.hooks.prestart.is_empty() || !plan.hooks.create_runtime.is_empty() {
        chan.send(&Msg::RunRuntimeHooks)?;
        chan.wait_for(&Msg::HooksDone)?;
    }
    hooks::run_hooks(
        "createContainer",
        &plan.hooks.create_container,
        &state(Status::Creating),
    )?;
    rootfs::enter(&plan.rootfs)?;
    rootfs::finalize(&plan.rootfs, &procfs)?;
    if p.terminal {
        setup_console(p, chan, true)?;
    }

    if let Some(adj) = p.oom_score_adj {
        procfs.write(&rootfs::Procfs::own("oom_score_adj"), &adj.to_string())?;
    }
    if let Some(persona) = p.personality {
        set_personality(persona)?;
    }
    if !p.cwd.exists() {
        std::fs::create_dir_all(&p.cwd).step(|| format!("process.cwd: mkdir({:?})", p.cwd))?;
    }
    // From here the init outlives the runtime; until `Created` arrives, a
    // dying runtime still shows as EOF on the channel, and we exit.
    nix::sys::prctl::set_pdeathsig(None).step(|| "prctl(PR_SET_PDEATHSIG, 0)".into())?;
    super::lsm::apply(p, &procfs)?;
    let program = attributes::take_on_with_seccomp(
        Some(&procfs),
        p,
        ctx.preserve_fds,
        plan.seccomp.as_ref(),
        chan,
    )?;

    chan.send(&Msg::Ready)?;
    chan.wait_for(&Msg::Created)?;
    // `start` opens the FIFO: that is the start signal. The byte we write
    // after the startContainer hooks tells it they passed, and the end of
    // the file (our close-on-exec fd closing) tells it the exec happened.
    let mut fifo = ctx
        .exec_fifo
        .map(|fd| wait_for_start(&procfs, fd))
        .transpose()?;
    hooks::run_hooks(
        "startContainer",
        &plan.hooks.start_container,
        &state(Status::Created),
    )?;
    if let Some(f) = &mut fifo {
        use std::io::Write;
        f.write_all(b"0").step(|| "write exec fifo".into())?;
    }
    reset_signals()?;
    Err(exec::exec(&program, p))
}

/// Make a pty in the container, hand its master to the runtime, make the
/// slave our controlling terminal and stdio, and bind it over
/// `/dev/console` as runc does.
pub(super) fn setup_console(
    p: &super::ProcessPlan,
    chan: &Channel,
    bind_dev_console: bool,
) -> Result<()> {
    use std::os::fd::AsFd;
    let pty = console::open_pty(p.console_size)?;
    chan.send_fd(&Msg::Console, pty.master.as_fd())?;
    drop(pty.master);
    console::make_controlling(pty.slave.as_fd())?;
    if bind_dev_console {
        rootfs::bind_console(pty.slave.as_fd())?;
    }
    Ok(())
}

/// Block on the exec FIFO until `start` opens it for reading: the FIFO (an
/// `O_PATH` fd) is reopened for writing through the verified procfs.
fn wait_for_start(procfs: &rootfs::Procfs, fifo: RawFd) -> Result<std::fs::File> {
    // SAFETY: the fd is the exec FIFO the runtime handed us; it stays open.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fifo) };
    Ok(procfs
        .reopen_fd(fd, nix::fcntl::OFlag::O_WRONLY)
        .map_err(|e| Error::Other(format!("open exec fifo: {e}")))?
        .into())
}

/// The container program starts with default signal dispositions (the
/// runtime ignores SIGPIPE, as every Rust program does) and nothing blocked.
pub(super) fn reset_signals() -> Result<()> {
    use nix::sys::signal::{signal, SigHandler};
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: installing SIG_DFL runs no code of ours.
            unsafe { signal(sig, SigHandler::SigDfl) }
                .step(|| format!("signal({sig}, SIG_DFL)"))?;
        }
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .step(|| "sigprocmask(SIG_SETMASK, {})".into())
}

/// A session keyring of the container's own, so it does not share the
/// caller's keys (runc's default; `--no-new-keyring` skips it).
fn join_session_keyring(name: &str) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    let cname = std::ffi::CString::new(name).expect("ids hold no NUL");
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a NUL-terminated string.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            cname.as_ptr(),
        )
    };
    match nix::errno::Errno::result(rc) {
        // Kernels without keyrings: nothing to isolate.
        Ok(_) | Err(nix::errno::Errno::ENOSYS) => Ok(()),
        Err(e) => Err(Error::sys(
            format!("keyctl(JOIN_SESSION_KEYRING, {name:?})"),
            e,
        )),
    }
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        return Err(Error::sys(
            format!("setdomainname({name:?})"),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

fn set_personality(persona: libc::c_ulong) -> Result<()> {
    // SAFETY: personality takes a plain integer.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(Error::sys(
            format!("personality({persona:#x})"),
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}
