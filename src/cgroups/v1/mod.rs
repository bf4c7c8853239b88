//! The cgroup v1 manager, which also drives hybrid hosts (v1 controllers
//! plus a cgroup2 hierarchy at `/sys/fs/cgroup/unified`).
//!
//! The container gets one directory per mounted hierarchy, placed by
//! runc's rules (see `placement.rs`): below the runtime's own cgroup in
//! that hierarchy for a relative `cgroupsPath`, from the hierarchy's root
//! for an absolute one. On a hybrid host it also gets a directory in the
//! unified hierarchy, which processes join like any other, and which
//! carries the controllers the host binds to v2 (hugetlb on the
//! development machine) with v2 semantics.
//!
//! One file per controller writes its fields; this file only routes each
//! to its hierarchy. Every control file is opened through [`CgroupDir`].

mod blkio;
mod cpu;
mod cpuacct;
mod cpuset;
mod devices;
mod freezer;
#[cfg(test)]
mod host_tests;
mod hugetlb;
mod memory;
mod net_cls;
mod net_prio;
mod pids;
mod placement;
mod rdma;
#[cfg(test)]
mod testutil;

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::fs::{remove_dir, CgroupDir};
use super::{v2, Layout, Stats};
use crate::error::{Error, Result};
use placement::Hierarchy;

/// The error for a set field whose controller the host does not mount.
pub(crate) fn not_mounted(field: &str, ctrl: &str) -> Error {
    Error::config(
        field,
        format!("needs the {ctrl} cgroup controller, which this host does not mount"),
    )
}

/// The error for a set field whose control file this kernel lacks.
pub(crate) fn needs_file(field: &str, file: &str, why: &str) -> Error {
    Error::config(
        field,
        format!("needs {file}, which this host lacks ({why})"),
    )
}

/// A container's cgroup on a v1 or hybrid host.
#[derive(Debug)]
pub struct Manager {
    layout: Layout,
    hierarchies: Vec<Hierarchy>,
    /// Hybrid only: the unified hierarchy's (mount, container dir).
    unified: Option<(PathBuf, PathBuf)>,
}

impl Manager {
    /// A manager for cgroup `inner` (see [`super::container_path`]).
    ///
    /// `root` is where hierarchies are mounted (`/sys/fs/cgroup`; mount
    /// points in `mountinfo` below it are re-rooted there, so tests can use
    /// a temporary directory); `proc_self_cgroup` and `mountinfo` are the
    /// texts of `/proc/self/cgroup` and `/proc/self/mountinfo`. Nothing is
    /// created until [`super::Manager::create`].
    pub fn new(
        root: &Path,
        layout: Layout,
        proc_self_cgroup: &str,
        mountinfo: &str,
        inner: &Path,
    ) -> Result<Manager> {
        if layout == Layout::Unified {
            return Err(Error::Other(
                "the cgroup v1 manager cannot drive a unified (v2 only) host".into(),
            ));
        }
        let hybrid = layout == Layout::Hybrid;
        let (hierarchies, unified) =
            placement::locate(root, proc_self_cgroup, mountinfo, inner, hybrid);
        if hierarchies.is_empty() {
            return Err(Error::Other(
                "no cgroup v1 hierarchy of this process is mounted (see /proc/self/mountinfo)"
                    .into(),
            ));
        }
        Ok(Manager {
            layout,
            hierarchies,
            unified,
        })
    }

    fn hierarchy(&self, ctrl: &str) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == ctrl))
    }

    /// The container's directory for `ctrl`, opened; `None` when the
    /// controller is not mounted.
    fn open(&self, ctrl: &str) -> Result<Option<CgroupDir>> {
        self.hierarchy(ctrl)
            .map(|h| CgroupDir::open(&h.dir))
            .transpose()
    }

    /// Like [`Self::open`], but a directory that is gone counts as absent
    /// (reading a destroyed or never created cgroup).
    fn open_existing(&self, ctrl: &str) -> Result<Option<CgroupDir>> {
        match self.open(ctrl) {
            Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(None),
            other => other,
        }
    }

    /// For validation: the container's directory for `ctrl` or, before it
    /// exists, its nearest existing ancestor in the hierarchy.
    fn probe(&self, ctrl: &str) -> Option<CgroupDir> {
        let h = self.hierarchy(ctrl)?;
        let mut p = h.dir.as_path();
        while !p.exists() {
            p = p.parent().filter(|p| p.starts_with(&h.mount))?;
        }
        CgroupDir::open(p).ok()
    }

    /// The directory processes are listed from: the pids hierarchy, else
    /// another always-present one.
    fn tasks_dir(&self) -> &Path {
        ["pids", "freezer", "memory", "cpu", "devices"]
            .iter()
            .find_map(|c| self.hierarchy(c))
            .unwrap_or(&self.hierarchies[0])
            .dir
            .as_path()
    }

    /// Every directory of the container, v1 ones first.
    fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.hierarchies
            .iter()
            .map(|h| h.dir.as_path())
            .chain(self.unified.as_ref().map(|(_, d)| d.as_path()))
    }

    /// Whether hugetlb lives in the unified hierarchy here.
    fn hugetlb_in_unified(&self) -> Option<&(PathBuf, PathBuf)> {
        self.unified
            .as_ref()
            .filter(|_| self.hierarchy("hugetlb").is_none())
    }
}

/// Pids in `dir` and every cgroup below it; a missing `dir` has none.
fn pids_below(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let cg = match CgroupDir::open(dir) {
        Err(e) if e.errno() == Some(Errno::ENOENT) => return Ok(()),
        other => other?,
    };
    out.extend(cg.procs()?);
    for sub in subdirs(dir) {
        pids_below(&sub, out)?;
    }
    Ok(())
}

/// The child cgroups of `dir` (none if it cannot be listed).
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Remove `dir` and every cgroup below it, leaves first.
fn remove_tree(dir: &Path) -> Result<()> {
    for sub in subdirs(dir) {
        remove_tree(&sub)?;
    }
    remove_dir(dir)
}

impl super::Manager for Manager {
    fn layout(&self) -> Layout {
        self.layout
    }

    fn create(&mut self) -> Result<()> {
        for h in &self.hierarchies {
            if h.controllers.iter().any(|c| c == "cpuset") {
                cpuset::ensure_parents(&h.mount, &h.dir)?;
            } else {
                CgroupDir::create(&h.dir)?;
            }
        }
        if let Some((_, dir)) = &self.unified {
            CgroupDir::create(dir)?;
        }
        Ok(())
    }

    fn has_processes(&self) -> Result<bool> {
        Ok(!self.pids()?.is_empty())
    }

    fn add(&self, pid: i32) -> Result<()> {
        for dir in self.dirs() {
            CgroupDir::open(dir)?.write("cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn validate(&self, r: &LinuxResources) -> Result<()> {
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(Error::config(
                "linux.resources.unified",
                "cgroup v2 keys on a v1 host",
            ));
        }
        memory::validate(self.probe("memory").as_ref(), r)?;
        cpu::validate(self.probe("cpu").as_ref(), r)?;
        cpuset::validate(self.probe("cpuset").as_ref(), r)?;
        pids::validate(self.probe("pids").as_ref(), r)?;
        blkio::validate(self.probe("blkio").as_ref(), r)?;
        match self.hugetlb_in_unified() {
            Some((mount, _)) if hugetlb::wanted(r) => {
                v2::hugetlb::validate(&CgroupDir::open(mount)?, r)?
            }
            _ => hugetlb::validate(self.probe("hugetlb").as_ref(), r)?,
        }
        net_cls::validate(self.probe("net_cls").as_ref(), r)?;
        net_prio::validate(self.probe("net_prio").as_ref(), r)?;
        devices::validate(self.probe("devices").as_ref(), r)?;
        rdma::validate(self.probe("rdma").as_ref(), r)
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        if let Some(d) = self.open("cpuset")? {
            cpuset::apply(&d, r)?;
        }
        if let Some(d) = self.open("memory")? {
            memory::apply(&d, r)?;
        }
        if let Some(d) = self.open("cpu")? {
            cpu::apply(&d, r)?;
        }
        if let Some(d) = self.open("pids")? {
            pids::apply(&d, r)?;
        }
        if let Some(d) = self.open("blkio")? {
            blkio::apply(&d, r)?;
        }
        if let Some(d) = self.open("hugetlb")? {
            hugetlb::apply(&d, r)?;
        } else if let Some((mount, dir)) = self.hugetlb_in_unified() {
            if hugetlb::wanted(r) {
                v2::enable_controllers(mount, dir, &["hugetlb"])?;
                v2::hugetlb::apply(&CgroupDir::open(dir)?, r)?;
            }
        }
        if let Some(d) = self.open("net_cls")? {
            net_cls::apply(&d, r)?;
        }
        if let Some(d) = self.open("net_prio")? {
            net_prio::apply(&d, r)?;
        }
        if let Some(d) = self.open("devices")? {
            devices::apply(&d, r)?;
        }
        if let Some(d) = self.open("rdma")? {
            rdma::apply(&d, r)?;
        }
        Ok(())
    }

    fn freeze(&self) -> Result<()> {
        match self.open("freezer")? {
            Some(d) => freezer::freeze(&d),
            None => Err(Error::Other(
                "cannot freeze: the freezer cgroup controller is not mounted".into(),
            )),
        }
    }

    fn thaw(&self) -> Result<()> {
        match self.open("freezer")? {
            Some(d) => freezer::thaw(&d),
            None => Err(Error::Other(
                "cannot thaw: the freezer cgroup controller is not mounted".into(),
            )),
        }
    }

    fn is_frozen(&self) -> Result<bool> {
        match self.open_existing("freezer")? {
            Some(d) => freezer::is_frozen(&d),
            None => Ok(false),
        }
    }

    fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        if let Some(d) = self.open_existing("cpu")? {
            cpu::stats(&d, &mut s)?;
        }
        if let Some(d) = self.open_existing("cpuacct")? {
            cpuacct::stats(&d, &mut s)?;
        }
        if let Some(d) = self.open_existing("cpuset")? {
            cpuset::stats(&d, &mut s)?;
        }
        if let Some(d) = self.open_existing("memory")? {
            memory::stats(&d, &mut s)?;
        }
        if let Some(d) = self.open_existing("pids")? {
            pids::stats(&d, &mut s)?;
        }
        if let Some(d) = self.open_existing("blkio")? {
            blkio::stats(&d, &mut s)?;
        }
        if let Some(d) = self.open_existing("hugetlb")? {
            hugetlb::stats(&d, &mut s)?;
        } else if let Some((_, dir)) = self.hugetlb_in_unified() {
            if let Ok(d) = CgroupDir::open(dir) {
                v2::hugetlb::stats(&d, &mut s)?;
            }
        }
        Ok(s)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        pids_below(self.tasks_dir(), &mut out)?;
        Ok(out)
    }

    /// Freeze (when the freezer is mounted), signal every pid, thaw:
    /// runc's `signalAllProcesses`, so no process forks past the signal.
    fn kill_all(&self, sig: Signal) -> Result<()> {
        let freezer = self.open_existing("freezer")?;
        let frozen = freezer.as_ref().is_some_and(|d| freezer::freeze(d).is_ok());
        let result = self.pids().and_then(|pids| {
            for pid in pids {
                match kill(Pid::from_raw(pid), sig) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => return Err(Error::sys(format!("kill({pid}, {sig})"), e)),
                }
            }
            Ok(())
        });
        if let (Some(d), true) = (&freezer, frozen) {
            freezer::thaw(d)?;
        }
        result
    }

    fn oom_kills(&self) -> Result<u64> {
        match self.open_existing("memory")? {
            Some(d) => memory::oom_kills(&d),
            None => Ok(0),
        }
    }

    fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for dir in self.dirs() {
            if let Err(e) = remove_tree(dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// One entry per controller (`cpu` and `cpuacct` both name a
    /// co-mounted directory), `name=systemd`, and `""` for the unified
    /// directory of a hybrid host: the keys of runc's `cgroup_paths`.
    fn paths(&self) -> Vec<(String, PathBuf)> {
        self.hierarchies
            .iter()
            .flat_map(|h| h.controllers.iter().map(|c| (c.clone(), h.dir.clone())))
            .chain(self.unified.iter().map(|(_, d)| (String::new(), d.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests;
