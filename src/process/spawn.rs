//! The parent side of creating a container init: clone it, answer its
//! requests phase by phase (see the diagram in `channel.rs`), and hand back
//! its pid and pidfd once it waits to be started.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::channel::{Channel, Msg};
use super::clone::{fork_signals_blocked, Forked};
use super::hooks::run_hooks;
use super::init::{self, InitContext};
use super::pidfd::PidFd;
use crate::container::plan::Plan;
use crate::container::state::{oci_state_json, Status};
use crate::error::{Context, Error, Result};
use crate::namespace::{write_id_maps, Kind, Kinds};

/// How to spawn.
pub(crate) struct SpawnOptions {
    /// `O_PATH` fd of the exec FIFO; `None` execs as soon as the state is recorded.
    pub exec_fifo: Option<RawFd>,
    /// Number of fds from 3 up passed through to the container.
    pub preserve_fds: u32,
    /// Runtime fds the child must close at once (the container lock).
    pub close_in_child: Vec<RawFd>,
    /// Where to send the pty master of a terminal (`--console-socket`);
    /// without one the master stays in [`Spawned::console`].
    pub console_socket: Option<PathBuf>,
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
    /// The pty master of a terminal that was not sent to a console socket.
    pub console: Option<OwnedFd>,
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
    // The cgroup namespace is unshared by the init once it is in its cgroup,
    // so that its root is the container's cgroup.
    let flags = if plan.ns.clone_only() {
        plan.ns.new.without(Kinds::CGROUP).bits()
    } else {
        0
    };
    let cgroup_fd = plan.cgroup.clone_into().map(|fd| fd.as_raw_fd());
    let forked = fork_signals_blocked(flags, cgroup_fd);
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
    drop(child_end);
    let Forked::Parent {
        pid,
        pidfd,
        in_cgroup,
    } = forked?
    else {
        unreachable!("the child never returns")
    };
    let mut init = Init {
        first: pid,
        pid,
        pidfd: pidfd.map(PidFd::from_owned),
        reaped_first: false,
    };
    let placed = if in_cgroup {
        Ok(())
    } else {
        plan.cgroup.add(pid.as_raw())
    };
    let driven = placed.and_then(|()| {
        parent_end.send(&Msg::Begin)?;
        drive(plan, opts, &parent_end, &mut init, second_fork, on_ready)
    });
    match driven {
        Ok(console) => Ok(Spawned {
            console,
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
    opts: &SpawnOptions,
    chan: &Channel,
    init: &mut Init,
    second_fork: bool,
    on_ready: impl FnOnce(Pid) -> Result<()>,
) -> Result<Option<OwnedFd>> {
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
    if !plan.hooks.prestart.is_empty() || !plan.hooks.create_runtime.is_empty() {
        chan.expect("setup", &["RunRuntimeHooks"])?;
        let state = oci_state_json(plan, Status::Creating, init.pid.as_raw());
        run_hooks("prestart", &plan.hooks.prestart, &state)?;
        run_hooks("createRuntime", &plan.hooks.create_runtime, &state)?;
        chan.send(&Msg::HooksDone)?;
    }
    let console = if plan.process.terminal {
        receive_console(chan, opts.console_socket.as_deref())?
    } else {
        None
    };
    if plan.seccomp.as_ref().is_some_and(|f| f.has_listener()) {
        let fd = chan.expect_fd("seccomp", &Msg::SeccompListener)?;
        if let Some((path, metadata)) = &plan.seccomp_listener {
            let state = oci_state_json(plan, Status::Creating, init.pid.as_raw());
            super::seccomp::send_listener(path, fd.as_fd(), &state, metadata)?;
        }
    }
    chan.expect("setup", &["Ready"])?;
    // Limits apply once the setup is done (as runc): mounts and device
    // nodes are made before the device rules and memory limits bite.
    plan.cgroup.apply(&plan.resources)?;
    on_ready(init.pid)?;
    chan.send(&Msg::Created)?;
    Ok(console)
}

/// Take the pty master from the child; send it on to the console socket if
/// there is one, else keep it for the caller.
pub(crate) fn receive_console(chan: &Channel, socket: Option<&Path>) -> Result<Option<OwnedFd>> {
    let master = chan.expect_fd("console", &Msg::Console)?;
    match socket {
        Some(path) => {
            super::console::send_console(path, master.as_fd())?;
            Ok(None)
        }
        None => Ok(Some(master)),
    }
}
