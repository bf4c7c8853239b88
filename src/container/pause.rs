//! `pause` and `resume`: freeze and thaw every process through the cgroup.

use super::state::Status;
use super::Container;
use crate::error::{Error, Result};

impl Container {
    /// Freeze every process of a running (or created) container; returns
    /// once the kernel reports the cgroup frozen.
    pub fn pause(&self) -> Result<()> {
        let _lock = self.dir.lock()?;
        match self.status() {
            Status::Running | Status::Created => self.cgroup()?.freeze(),
            Status::Paused => Err(Error::State("container already paused".into())),
            _ => Err(Error::State("container not running".into())),
        }
    }

    /// Thaw a paused container.
    pub fn resume(&self) -> Result<()> {
        let _lock = self.dir.lock()?;
        match self.status() {
            Status::Paused => self.cgroup()?.thaw(),
            _ => Err(Error::State("container not paused".into())),
        }
    }
}
