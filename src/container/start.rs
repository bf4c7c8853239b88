//! `start`: release a created init through its exec FIFO, then run the
//! poststart hooks.

use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::lock::Lock;
use super::state::{hook_state, Status};
use super::{Container, Runtime, EXEC_FIFO};
use crate::error::{Context, Error, Result};
use crate::process::{run_hooks, PidFd};

/// Errors the OCI spec says are warnings only (failed poststart and poststop hooks).
pub type Warnings = Vec<Error>;

impl Container {
    /// Start a created container: its program runs. Returns the failures of
    /// poststart hooks, which the spec makes warnings.
    pub fn start(&self) -> Result<Warnings> {
        let _lock = Lock::acquire(&self.dir)?;
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
        let path = self.dir.join(EXEC_FIFO);
        let mut fifo = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits())
            .open(&path)
            .step(|| format!("open({path:?})"))?;
        // The init opens its end as soon as ours exists; wait for its byte,
        // or for its death.
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => {
                    r.step(|| "poll(exec fifo)".into())?;
                    break;
                }
            }
        }
        let mut byte = [0u8; 1];
        let n = fifo.read(&mut byte).unwrap_or(0);
        let _ = std::fs::remove_file(&path);
        if n != 1 {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ));
        }
        Ok(self.poststart())
    }

    fn poststart(&self) -> Warnings {
        let spec = &self.state.spec;
        let Ok(hooks) = crate::process::Hooks::from_spec(spec) else {
            return Vec::new();
        };
        if hooks.poststart.is_empty() {
            return Vec::new();
        }
        let state = hook_state(
            self.id(),
            Status::Running,
            self.state.pid,
            &self.state.bundle,
            spec.annotations().as_ref(),
        );
        run_hooks("poststart", &hooks.poststart, &state)
            .err()
            .into_iter()
            .collect()
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
        let _ = std::fs::remove_dir_all(&c.dir);
    }
}
