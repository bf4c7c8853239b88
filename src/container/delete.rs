//! `delete`: stop what is left of a container, remove its state, then run
//! the poststop hooks (whose failures are warnings).

use std::time::Duration;

use nix::sys::signal::Signal;

use super::start::Warnings;
use super::state::Status;
use super::Container;
use crate::error::{Error, Result};
use crate::process::PidFd;

impl Container {
    /// Delete the container. A running or paused one is refused unless
    /// `force`, which kills it first; a created one is killed (as runc does).
    pub fn delete(self, force: bool) -> Result<Warnings> {
        let lock = self.dir.lock()?;
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
        self.remove_cgroup()?;
        // The state last: a delete cut short leaves a directory that the
        // next `delete --force` still recognises.
        self.dir.remove(super::state::STATE)?;
        drop(lock);
        Ok(self.hooks_as_warnings("poststop", |h| h.poststop, Status::Stopped, 0))
    }

    /// Kill what is left in the cgroup (processes the init's death did not
    /// take along) and remove it; a shared cgroup still in use is left.
    fn remove_cgroup(&self) -> Result<()> {
        let cgroup = self.cgroup()?;
        let shared = self
            .state
            .spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(super::plan::SHARE_CGROUP_ANNOTATION))
            .is_some_and(|v| v == "true");
        if cgroup.has_processes().unwrap_or(false) {
            if shared {
                return Ok(());
            }
            cgroup.kill_all(Signal::SIGKILL)?;
        }
        cgroup.destroy()?;
        let made = self.state.cgroup_parents_made;
        crate::cgroups::remove_parents(cgroup.as_ref(), &self.state.cgroup_path, made);
        Ok(())
    }

    fn kill_and_wait(&self) -> Result<()> {
        let Ok(pidfd) = PidFd::open(self.state.pid) else {
            return Ok(());
        };
        if !self.state.alive() {
            return Ok(());
        }
        let _ = pidfd.signal(Signal::SIGKILL);
        // A frozen (paused) process only dies once thawed.
        if let Ok(cgroup) = self.cgroup() {
            if cgroup.is_frozen().unwrap_or(false) {
                cgroup.thaw()?;
            }
        }
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
