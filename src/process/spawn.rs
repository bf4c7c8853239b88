//! The parent side of creating a container init: clone it, answer its
//! requests phase by phase (see the diagram in `channel.rs`), and hand back
//! its pid and pidfd once it waits to be started.

use std::os::fd::RawFd;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::channel::{Channel, Msg};
use super::clone::{fork_with, Forked};
use super::hooks::run_hooks;
use super::init::{self, InitContext};
use super::pidfd::PidFd;
use crate::container::plan::Plan;
use crate::container::state::{oci_state_json, Status};
use crate::error::{Context, Error, Result};
use crate::namespace::{write_id_maps, Kind};

/// How to spawn.
pub(crate) struct SpawnOptions {
    /// `O_PATH` fd of the exec FIFO; `None` execs as soon as the state is recorded.
    pub exec_fifo: Option<RawFd>,
    /// Number of fds from 3 up passed through to the container.
    pub preserve_fds: u32,
    /// Runtime fds the child must close at once (the container lock).
    pub close_in_child: Vec<RawFd>,
}

/// A container init that finished its setup.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// Its pid in the runtime's pid namespace.
    pub pid: Pid,
    /// A pidfd on it.
    pub pidfd: PidFd,
    /// The sync channel, to learn whether the exec succeeded (`run`).
    pub channel: Channel,
}

/// Clone the container init for `plan` and drive it until it is ready.
/// `on_ready` records the container (state.json) before the init is told it
/// is created. On error the init is killed and reaped.
pub(crate) fn spawn(
    plan: &Plan,
    opts: &SpawnOptions,
    on_ready: impl FnOnce(Pid) -> Result<()>,
) -> Result<Spawned> {
    let (parent_end, child_end) = Channel::pair()?;
    let second_fork = !plan.ns.clone_only() && (plan.ns.has(Kind::Pid) || plan.ns.has(Kind::Time));
    let flags = if plan.ns.clone_only() {
        plan.ns.new.bits()
    } else {
        0
    };

    // Block every signal across the clone so that the child runs no handler
    // of the caller's; the child clears the mask just before exec.
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )
    .step(|| "sigprocmask(block all)".into())?;
    let forked = fork_with(flags);
    if let Ok(Forked::Child) = forked {
        drop(parent_end);
        let ctx = InitContext {
            plan,
            exec_fifo: opts.exec_fifo,
            preserve_fds: opts.preserve_fds,
            close_fds: &opts.close_in_child,
            runtime_pid: nix::unistd::getppid(),
            second_fork,
        };
        init::run(&ctx, &child_end);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    drop(child_end);
    let Forked::Parent { pid, pidfd } = forked? else {
        unreachable!("the child never returns")
    };
    let mut init = Init {
        first: pid,
        pid,
        pidfd: pidfd.map(PidFd::from_owned),
        reaped_first: false,
    };
    match drive(plan, &parent_end, &mut init, second_fork, on_ready) {
        Ok(()) => Ok(Spawned {
            pid: init.pid,
            pidfd: match init.pidfd.take() {
                Some(fd) => fd,
                None => PidFd::open(init.pid.as_raw())?,
            },
            channel: parent_end,
        }),
        Err(e) => {
            init.kill_and_reap();
            Err(e)
        }
    }
}

/// The processes a spawn is responsible for until it succeeds.
struct Init {
    first: Pid,
    pid: Pid,
    pidfd: Option<PidFd>,
    reaped_first: bool,
}

impl Init {
    fn kill_and_reap(&mut self) {
        for pid in [self.pid, self.first] {
            if pid == self.first && self.reaped_first {
                continue;
            }
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            if pid == self.first {
                self.reaped_first = true;
            }
        }
    }
}

fn drive(
    plan: &Plan,
    chan: &Channel,
    init: &mut Init,
    second_fork: bool,
    on_ready: impl FnOnce(Pid) -> Result<()>,
) -> Result<()> {
    if plan.ns.new.contains(Kind::User) {
        chan.expect("user namespace", &["NeedIdMaps"])?;
        write_id_maps(init.first.as_raw(), &plan.ns.uid_maps, &plan.ns.gid_maps)?;
        chan.send(&Msg::IdMapsWritten)?;
    }
    if second_fork {
        let Msg::InitPid(pid) = chan.expect("second fork", &["InitPid"])? else {
            unreachable!()
        };
        init.pid = Pid::from_raw(pid);
        // The intermediate child exits as soon as it has forked.
        let status = waitpid(init.first, None).step(|| "waitpid(intermediate child)".into())?;
        init.reaped_first = true;
        if status != WaitStatus::Exited(init.first, 0) {
            return Err(Error::Other(format!("intermediate child: {status:?}")));
        }
        init.pidfd = Some(PidFd::open(pid)?);
    }
    chan.send(&Msg::Proceed(init.pid.as_raw()))?;
    if let Msg::RunRuntimeHooks = chan.expect("setup", &["RunRuntimeHooks", "Ready"])? {
        let state = oci_state_json(plan, Status::Creating, init.pid.as_raw());
        run_hooks("prestart", &plan.hooks.prestart, &state)?;
        run_hooks("createRuntime", &plan.hooks.create_runtime, &state)?;
        chan.send(&Msg::HooksDone)?;
        chan.expect("setup", &["Ready"])?;
    }
    on_ready(init.pid)?;
    chan.send(&Msg::Created)
}
