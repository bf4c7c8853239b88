//! cgroup v2 (unified): one directory per container, controllers switched
//! on from the hierarchy's root down (runc's `fs2`, crun's
//! `cgroup-resources.c`), one file per controller, devices as an eBPF
//! filter, the v2 freezer, `cgroup.kill`.
//!
//! Every control file is opened relative to the held directory fd
//! ([`CgroupDir`]); only `mkdir`, `rmdir` and listing sub-directories go by
//! path.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

use super::fs::{remove_dir, CgroupDir};
use super::{dir_in_hierarchy, Layout, Stats};
use crate::error::{Error, Result};

pub(crate) mod bpf;
pub(crate) mod controllers;
mod cpu;
mod cpuset;
pub(crate) mod devices;
mod freezer;
pub(crate) mod hugetlb;
mod io;
mod memory;
mod pids;
mod rdma;
mod unified;

pub(crate) use controllers::enable_controllers;
use controllers::{unsupported, Avail};

/// A container's cgroup on a v2 hierarchy.
#[derive(Debug)]
pub struct Manager {
    mount: PathBuf,
    path: PathBuf,
    /// Open once the directory exists (at [`Manager::new`] or after `create`).
    dir: Option<CgroupDir>,
}

impl Manager {
    /// The manager of cgroup `inner` (see [`super::container_path`]) in the
    /// v2 hierarchy mounted at `mount`, for a caller whose own cgroup (the
    /// `0::` line of `/proc/self/cgroup`) is `own`. Nothing is created; an
    /// existing directory is opened.
    pub fn new(mount: &Path, own: &Path, inner: &Path) -> Result<Manager> {
        let path = dir_in_hierarchy(mount, own, inner);
        let below = path.strip_prefix(mount).map_err(|_| {
            Error::Other(format!(
                "cgroup {} is not below {}",
                path.display(),
                mount.display()
            ))
        })?;
        if below.as_os_str().is_empty()
            || below
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(Error::config(
                "linux.cgroupsPath",
                format!(
                    "{} does not name a cgroup below {}",
                    path.display(),
                    mount.display()
                ),
            ));
        }
        let dir = match CgroupDir::open(&path) {
            Ok(d) => Some(d),
            Err(e) if e.errno() == Some(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        Ok(Manager {
            mount: mount.to_path_buf(),
            path,
            dir,
        })
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self) -> Result<&CgroupDir> {
        self.dir.as_ref().ok_or_else(|| {
            Error::Other(format!(
                "cgroup {} has not been created",
                self.path.display()
            ))
        })
    }

    /// The directory whose `cgroup.controllers` says what the container's
    /// cgroup can have: its parent, or the nearest existing ancestor.
    fn probe(&self) -> Result<CgroupDir> {
        let mut p = self.path.parent().unwrap_or(&self.mount);
        while p != self.mount && !p.is_dir() {
            p = p.parent().unwrap_or(&self.mount);
        }
        CgroupDir::open(p)
    }
}

/// Names of the sub-directories of `dir` (cgroups the container made).
pub(crate) fn child_names(dir: &CgroupDir) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir.path()) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("readdir({:?})", dir.path()), e)),
    };
    Ok(rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// Remove `path` and the cgroups below it, deepest first.
fn remove_tree(path: &Path) -> Result<()> {
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    remove_dir(path)
}

/// Fields only cgroup v1 has, refused unless they are the no-op value.
fn validate_network(r: &LinuxResources) -> Result<()> {
    let Some(n) = r.network() else { return Ok(()) };
    if !matches!(n.class_id(), None | Some(0)) {
        return Err(unsupported(
            "network.classID",
            "net_cls is a cgroup v1 controller (tag traffic with nftables' socket cgroupv2 match instead)",
        ));
    }
    if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(unsupported(
            "network.priorities",
            "net_prio is a cgroup v1 controller",
        ));
    }
    Ok(())
}

impl super::Manager for Manager {
    fn layout(&self) -> Layout {
        Layout::Unified
    }

    fn create(&mut self) -> Result<()> {
        enable_controllers(&self.mount, &self.path, &[])?;
        self.dir = Some(CgroupDir::create(&self.path)?);
        Ok(())
    }

    fn has_processes(&self) -> Result<bool> {
        let d = self.dir()?;
        if d.has("cgroup.events") {
            freezer::populated(d)
        } else {
            Ok(!freezer::all_pids(d)?.is_empty())
        }
    }

    fn add(&self, pid: i32) -> Result<()> {
        self.dir()?.write("cgroup.procs", &pid.to_string())
    }

    fn validate(&self, r: &LinuxResources) -> Result<()> {
        let probe = self.probe()?;
        let avail = Avail::read(&probe)?;
        memory::validate(&avail, &probe, r)?;
        cpu::validate(&avail, &probe, r)?;
        cpuset::validate(&avail, r)?;
        pids::validate(&avail, r)?;
        io::validate(&avail, r)?;
        hugetlb::validate_with(&avail, &hugetlb::host_page_sizes(), r)?;
        rdma::validate(&avail, r)?;
        devices::validate(r)?;
        validate_network(r)?;
        unified::validate(&avail, r)
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        let d = self.dir()?;
        // runc's order.
        pids::apply(d, r)?;
        memory::apply(d, r)?;
        io::apply(d, r)?;
        cpu::apply(d, r)?;
        devices::apply(d, r)?;
        cpuset::apply(d, r)?;
        hugetlb::apply(d, r)?;
        rdma::apply(d, r)?;
        unified::apply(d, r)
    }

    fn freeze(&self) -> Result<()> {
        freezer::freeze(self.dir()?)
    }

    fn thaw(&self) -> Result<()> {
        freezer::thaw(self.dir()?)
    }

    fn is_frozen(&self) -> Result<bool> {
        freezer::is_frozen(self.dir()?)
    }

    fn stats(&self) -> Result<Stats> {
        let d = self.dir()?;
        let mut s = Stats::default();
        pids::stats(d, &mut s)?;
        memory::stats(d, &mut s)?;
        io::stats(d, &mut s)?;
        cpu::stats(d, &mut s)?;
        cpuset::stats(d, &mut s)?;
        hugetlb::stats(d, &mut s)?;
        Ok(s)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        freezer::all_pids(self.dir()?)
    }

    fn kill_all(&self, sig: Signal) -> Result<()> {
        freezer::kill_all(self.dir()?, sig)
    }

    fn oom_kills(&self) -> Result<u64> {
        memory::oom_kills(self.dir()?)
    }

    fn destroy(&self) -> Result<()> {
        remove_tree(&self.path)
    }

    fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        // clone3 takes the cgroup fd with fdget_raw: the O_PATH fd does.
        self.dir.as_ref().map(|d| d.as_fd())
    }

    fn paths(&self) -> Vec<(String, PathBuf)> {
        // runc's state.json key for the unified hierarchy is "".
        vec![(String::new(), self.path.clone())]
    }
}

#[cfg(test)]
#[path = "tests.rs"]
pub(crate) mod tests;
