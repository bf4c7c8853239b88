//! The container's cgroup, as later commands see it: statistics, processes,
//! OOM kills.

use super::Container;
use crate::cgroups::{self, Manager, Stats};
use crate::error::Result;

impl Container {
    /// The container's cgroup.
    pub fn cgroup(&self) -> Result<Box<dyn Manager>> {
        cgroups::open_as(&self.state.cgroup_path, &self.state.own_cgroups)
    }

    /// Resource usage statistics (`events --stats`).
    pub fn stats(&self) -> Result<Stats> {
        self.cgroup()?.stats()
    }

    /// Pids of every process of the container (init and exec'd ones), in
    /// the runtime's pid namespace.
    pub fn processes(&self) -> Result<Vec<i32>> {
        let mut pids = self.cgroup()?.pids()?;
        pids.sort_unstable();
        Ok(pids)
    }

    /// How many processes the OOM killer has killed in the container.
    pub fn oom_kills(&self) -> Result<u64> {
        self.cgroup()?.oom_kills()
    }
}
