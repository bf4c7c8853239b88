//! `exec`: run another process inside a running container.

use std::path::PathBuf;

use nix::sys::signal::Signal;
use oci_spec::runtime::Process;

use super::state::Status;
use super::Container;
use crate::error::{Error, Result};
use crate::process::enter::{spawn_exec, ExecTarget};
use crate::process::spawn::Spawned;
use crate::process::{reap, ProcessPlan};

/// Options of [`Container::exec`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExecOptions {
    /// Pass fds `3..3+preserve_fds` of the caller to the process.
    pub preserve_fds: u32,
    /// Write the process's pid to this file.
    pub pid_file: Option<PathBuf>,
    /// Send a terminal's pty master to this unix socket (`--console-socket`).
    pub console_socket: Option<PathBuf>,
}

/// A process started by [`Container::exec`]; the caller is its parent.
#[derive(Debug)]
pub struct ExecProcess {
    spawned: Spawned,
}

impl ExecProcess {
    /// Its pid, in the runtime's pid namespace.
    pub fn pid(&self) -> i32 {
        self.spawned.pid.as_raw()
    }

    /// Send it a signal.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        self.spawned.pidfd.signal(sig)
    }

    /// Its status if it has exited (exit code, or 128 + signal).
    pub fn try_wait(&self) -> Result<Option<i32>> {
        reap(self.pid(), false)
    }

    /// The pty master of a terminal process not sent to a console socket.
    pub fn take_console(&mut self) -> Option<std::os::fd::OwnedFd> {
        self.spawned.console.take()
    }

    /// Wait for it to exit.
    pub fn wait(&self) -> Result<i32> {
        Ok(reap(self.pid(), true)?.expect("blocking wait"))
    }
}

impl Container {
    /// The container's own process with other `args`: what `exec ID ARGS`
    /// runs unless told otherwise (user, env, cwd, capabilities, rlimits
    /// and `noNewPrivileges` of the container).
    pub fn exec_process(&self, args: Vec<String>) -> Process {
        let mut p = self.state.spec.process().clone().unwrap_or_default();
        p.set_args(Some(args));
        p.set_terminal(Some(false));
        p
    }

    /// `process` with what it leaves out taken from the container, as runc
    /// does for an exec: no `capabilities` means the container's sets (not
    /// the runtime's, not none), and likewise its AppArmor profile and
    /// SELinux label.
    pub fn with_container_defaults(&self, mut process: Process) -> Process {
        let Some(own) = self.state.spec.process().as_ref() else {
            return process;
        };
        if process.capabilities().is_none() {
            process.set_capabilities(own.capabilities().clone());
        }
        if process
            .apparmor_profile()
            .as_deref()
            .unwrap_or("")
            .is_empty()
        {
            process.set_apparmor_profile(own.apparmor_profile().clone());
        }
        if process.selinux_label().as_deref().unwrap_or("").is_empty() {
            process.set_selinux_label(own.selinux_label().clone());
        }
        process
    }

    /// Start `process` in the container's namespaces and cgroup; returns
    /// once it has executed its program (or with the error that stopped it).
    /// What `process` leaves out is taken from the container
    /// ([`Container::with_container_defaults`]).
    pub fn exec(&self, process: &Process, opts: ExecOptions) -> Result<ExecProcess> {
        // Before anything here opens an fd that could take a free number.
        crate::process::check_passed_fds(opts.preserve_fds, &[self.dir.raw_fd()])?;
        match self.status() {
            Status::Stopped => {
                return Err(Error::State(
                    "cannot exec a container that has stopped".into(),
                ))
            }
            Status::Paused => return Err(Error::State("cannot exec in a paused container".into())),
            _ => {}
        }
        crate::process::exeseal::require_sealed("exec")?;
        let plan = ProcessPlan::from_process(&self.with_container_defaults(process.clone()))?;
        let cgroup = self.cgroup()?;
        let (seccomp, listener) = super::plan::seccomp_of(&self.state.spec)?;
        let state = super::state::hook_state(
            self.id(),
            Status::Running,
            self.state.pid,
            &self.state.bundle,
            self.state.spec.annotations().as_ref(),
        );
        let target = ExecTarget {
            seccomp: seccomp.as_ref(),
            seccomp_listener: listener
                .as_ref()
                .map(|(p, m)| (p.as_path(), m.as_str(), state)),
            init_pid: self.state.pid,
            cgroup: cgroup.as_ref(),
            process: &plan,
            preserve_fds: opts.preserve_fds,
            console_socket: opts.console_socket.as_deref(),
        };
        let spawned = spawn_exec(&target, |pid| match &opts.pid_file {
            Some(path) => super::create::write_pid_file(path, pid.as_raw()),
            None => Ok(()),
        })?;
        if let Err(e) = spawned.channel.wait_exec() {
            let _ = reap(spawned.pid.as_raw(), true);
            return Err(e);
        }
        Ok(ExecProcess { spawned })
    }
}
