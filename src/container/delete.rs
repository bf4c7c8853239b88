//! `delete`: stop what is left of a container, remove its state, then run
//! the poststop hooks (whose failures are warnings).

use std::time::Duration;

use nix::sys::signal::Signal;

use super::lock::Lock;
use super::start::Warnings;
use super::state::Status;
use super::Container;
use crate::error::{Context, Error, Result};
use crate::process::PidFd;

impl Container {
    /// Delete the container. A running or paused one is refused unless
    /// `force`, which kills it first; a created one is killed (as runc does).
    pub fn delete(self, force: bool) -> Result<Warnings> {
        let lock = Lock::acquire(&self.dir)?;
        let status = self.status();
        match status {
            Status::Stopped => {}
            Status::Created | Status::Creating => self.kill_and_wait()?,
            _ if force => self.kill_and_wait()?,
            _ => {
                return Err(Error::State(format!(
                    "cannot delete container {} that is not stopped: {status}",
                    self.id()
                )))
            }
        }
        std::fs::remove_dir_all(&self.dir).step(|| format!("remove_dir_all({:?})", self.dir))?;
        drop(lock);
        Ok(self.hooks_as_warnings("poststop", |h| h.poststop, Status::Stopped, 0))
    }

    fn kill_and_wait(&self) -> Result<()> {
        let Ok(pidfd) = PidFd::open(self.state.pid) else {
            return Ok(());
        };
        if !self.state.alive() {
            return Ok(());
        }
        let _ = pidfd.signal(Signal::SIGKILL);
        // A SIGKILLed process exits promptly; its parent reaps it.
        if !pidfd.wait_exit(Some(Duration::from_secs(10)))? {
            return Err(Error::Other(format!(
                "container {}: process {} did not exit after SIGKILL",
                self.id(),
                self.state.pid
            )));
        }
        if let Some(s) = &self.spawned {
            let _ = nix::sys::wait::waitpid(s.pid, None);
        }
        Ok(())
    }
}
