//! `start`: release a created init through its exec FIFO, then run the
//! poststart hooks.

use std::io::Read;
use std::os::fd::AsFd;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::state::{hook_state, Status};
use super::{Container, Runtime, EXEC_FIFO};
use crate::error::{Context, Error, Result};
use crate::process::{run_hooks, Hook, Hooks, PidFd};

/// Errors the OCI spec says are warnings only (failed poststart and poststop hooks).
pub type Warnings = Vec<Error>;

impl Container {
    /// Start a created container: its program runs. Returns the failures of
    /// poststart hooks, which the spec makes warnings.
    pub fn start(&self) -> Result<Warnings> {
        let _lock = self.dir.lock()?;
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(Error::State(
                    "cannot start a container that has stopped".into(),
                ))
            }
            _ => {
                return Err(Error::State(
                    "cannot start an already running container".into(),
                ))
            }
        }
        let pidfd = PidFd::open(self.state.pid)?;
        if !self.state.alive() {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ));
        }
        let mut fifo = std::fs::File::from(
            self.dir
                .dir
                .open(EXEC_FIFO, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?,
        );
        // Opened once: from now on the container counts as running (status
        // is derived from the FIFO's presence), even if we are killed here.
        self.dir.dir.remove(EXEC_FIFO)?;
        // Opening our end released the init: it runs the startContainer
        // hooks, writes one byte, and its close-on-exec end closes when it
        // executes the program. Wait for both (or for its death).
        let mut got = Vec::new();
        loop {
            let mut fds = [
                PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
                PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => r.step(|| "poll(exec fifo)".into())?,
            };
            let fifo_ready = fds[0].any().unwrap_or(false);
            let init_gone = fds[1].any().unwrap_or(false);
            let mut buf = [0u8; 16];
            match fifo.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && init_gone && !fifo_ready =>
                {
                    break
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Error::io("read exec fifo", e)),
            }
        }
        if got != b"0" {
            return Err(Error::State(format!(
                "container {}: the init exited before executing the program (see its stderr)",
                self.id()
            )));
        }
        Ok(self.poststart())
    }

    /// Run the hooks `pick` selects (a point after create, whose failures
    /// the spec makes warnings) with the container state on stdin.
    pub(crate) fn hooks_as_warnings(
        &self,
        point: &str,
        pick: fn(Hooks) -> Vec<Hook>,
        status: Status,
        pid: i32,
    ) -> Warnings {
        let spec = &self.state.spec;
        let hooks = match Hooks::from_spec(spec).map(pick) {
            Ok(h) if !h.is_empty() => h,
            _ => return Vec::new(),
        };
        let state = hook_state(
            self.id(),
            status,
            pid,
            &self.state.bundle,
            spec.annotations().as_ref(),
        );
        run_hooks(point, &hooks, &state).err().into_iter().collect()
    }

    fn poststart(&self) -> Warnings {
        let pid = self.state.pid;
        self.hooks_as_warnings("poststart", |h| h.poststart, Status::Running, pid)
    }

    /// For `run`: learn from the sync channel whether the exec succeeded
    /// (EOF: the CLOEXEC socket closed), then run the poststart hooks.
    pub(crate) fn after_exec(&self) -> Result<Warnings> {
        let spawned = self.spawned.as_ref().expect("run spawned the init");
        spawned.channel.wait_exec()?;
        Ok(self.poststart())
    }
}

impl Runtime {
    /// Remove a container whose program never ran (a failed `run`).
    pub(crate) fn discard(&self, c: Container) {
        let _ = nix::sys::signal::kill(Pid::from_raw(c.state.pid), nix::sys::signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(c.state.pid), None);
        // Still ours: only `run`'s caller has this container object.
        if let Ok(_lock) = c.dir.lock() {
            let _ = c.dir.remove(super::state::STATE);
        }
    }
}
