//! What a command killed part-way leaves under an id, and how later
//! commands clear it.
//!
//! `create` works in a private directory `.tmp-<pid>-<start time>-<id>`
//! until it renames it to `<id>`, so a leftover temporary directory belongs
//! to a process that is gone. Before it renames, it records in `cgroup.json`
//! what its plan computed for the cgroup (the cgroup path and its own
//! cgroups, from which the hierarchy paths are derived again, never a list
//! of paths to remove), so a directory without `state.json` whose lock is
//! free can be cleared: its cgroup emptied and removed, then the directory.

use std::path::PathBuf;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::dir::{Dir, StateDir};
use super::lock::Lock;
use crate::error::{Error, Result};

/// The record's file name in a container's directory.
pub(crate) const RECORD: &str = "cgroup.json";

/// The prefix of a create's private directory.
pub(crate) const PRIVATE: &str = ".tmp-";

/// The inputs from which a create's plan computed its cgroup.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CgroupRecord {
    pub id: String,
    pub cgroup_path: PathBuf,
    pub own_cgroups: String,
    /// How many parents of the cgroup directories the create made.
    #[serde(default)]
    pub parents_made: usize,
}

impl CgroupRecord {
    pub(crate) fn save(&self, dir: &Dir) -> Result<()> {
        dir.write_new(
            RECORD,
            &serde_json::to_vec(self).expect("record serializes"),
        )
    }

    /// The record of container `id`; one that is not ours (another id, no
    /// cgroup of its own) is refused.
    fn load(dir: &Dir, id: &str) -> Result<Option<CgroupRecord>> {
        let Some(text) = dir.read(RECORD)? else {
            return Ok(None);
        };
        let what = || format!("{:?}", dir.path().join(RECORD));
        let rec: CgroupRecord = serde_json::from_slice(&text)
            .map_err(|e| Error::Other(format!("{}: not a testa record: {e}", what())))?;
        let inner = crate::cgroups::clean_path(&rec.cgroup_path);
        if rec.id != id || inner.parent().is_none() {
            return Err(Error::Other(format!(
                "{}: refused: it is not the record of container {id}",
                what()
            )));
        }
        Ok(Some(rec))
    }
}

/// A private directory's name for a create of `id` by this process.
pub(crate) fn private_name(id: &str) -> String {
    let pid = std::process::id() as i32;
    let start = super::state::proc_stat(pid).map_or(0, |(_, t)| t);
    format!("{PRIVATE}{pid}-{start}-{id}")
}

/// Clear the directory of `id`, which has no state and whose lock we hold:
/// kill and remove the cgroup its record names, then the directory (the
/// record last).
pub(crate) fn clear(dir: StateDir, id: &str, lock: Lock) -> Result<()> {
    if let Some(rec) = CgroupRecord::load(&dir.dir, id)? {
        let cgroup = crate::cgroups::open_as(&rec.cgroup_path, &rec.own_cgroups)?;
        if cgroup.has_processes().unwrap_or(false) {
            cgroup.kill_all(Signal::SIGKILL)?;
        }
        cgroup.destroy()?;
        crate::cgroups::remove_parents(cgroup.as_ref(), &rec.cgroup_path, rec.parents_made);
    }
    dir.remove(RECORD)?;
    drop(lock);
    Ok(())
}

/// Remove the private directories of creates that died before renaming
/// theirs (of `id` only, when given).
pub(crate) fn sweep_private(root: &Dir, id: Option<&str>) {
    for name in root.names().unwrap_or_default() {
        let Some((pid, start, of)) = parse_private(&name) else {
            continue;
        };
        let alive = super::state::proc_stat(pid).is_some_and(|(_, t)| t == start);
        if alive || id.is_some_and(|id| id != of) {
            continue;
        }
        if let Ok(dir) = StateDir::open(root, &name) {
            if let Ok(Some(_lock)) = dir.try_lock() {
                let _ = dir.remove(RECORD);
            }
        }
    }
}

fn parse_private(name: &str) -> Option<(i32, u64, &str)> {
    let rest = name.strip_prefix(PRIVATE)?;
    let (pid, rest) = rest.split_once('-')?;
    let (start, id) = rest.split_once('-')?;
    Some((pid.parse().ok()?, start.parse().ok()?, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_names_parse_back() {
        let name = private_name("a-b.c");
        let (pid, _, id) = parse_private(&name).unwrap();
        assert_eq!((pid, id), (std::process::id() as i32, "a-b.c"));
        assert!(parse_private("a-b").is_none());
        assert!(parse_private(".tmp-x-1-id").is_none());
    }
}
