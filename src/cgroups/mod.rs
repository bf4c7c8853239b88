//! Control groups: layout detection, runc's placement rules, and one small
//! [`Manager`] interface with a v1 (and hybrid) and a v2 implementation, one
//! file per controller.
//!
//! Usable without a container: put any process in a limited cgroup.
//!
//! ```no_run
//! use testa::cgroups;
//! let mut cg = cgroups::open(std::path::Path::new("/testa/job1"))?;
//! cg.create()?;
//! let resources: testa::oci_spec::runtime::LinuxResources =
//!     serde_json::from_str(r#"{"pids": {"limit": 64}, "memory": {"limit": 268435456}}"#).unwrap();
//! cg.validate(&resources)?;
//! cg.apply(&resources)?;
//! cg.add(std::process::id() as i32)?;
//! # Ok::<(), testa::Error>(())
//! ```
//!
//! Placement (runc's cgroupfs rules): an absolute `cgroupsPath` is taken
//! from the root of each hierarchy; a relative one is below the cgroup the
//! runtime itself is in (per hierarchy, from `/proc/self/cgroup`); with no
//! `cgroupsPath` the container's id is used as a relative path.

pub mod convert;
pub mod fs;
pub mod stats;
pub mod v1;
pub mod v2;

use std::os::fd::BorrowedFd;
use std::path::{Component, Path, PathBuf};

use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;

use crate::error::{Context, Error, Result};
pub use stats::Stats;

/// Where control groups are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Which cgroup hierarchy the host mounts at `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup v1 controllers.
    V1,
    /// v1 controllers plus a cgroup2 hierarchy at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// A single cgroup2 hierarchy.
    Unified,
}

/// `CGROUP2_SUPER_MAGIC` from `linux/magic.h`.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

impl Layout {
    /// Detect the layout below `root` (normally `/sys/fs/cgroup`).
    pub fn detect_at(root: &Path) -> Result<Layout> {
        let fs = nix::sys::statfs::statfs(root).step(|| format!("statfs({root:?})"))?;
        if fs.filesystem_type().0 == CGROUP2_SUPER_MAGIC {
            return Ok(Layout::Unified);
        }
        match nix::sys::statfs::statfs(&root.join("unified")) {
            Ok(fs) if fs.filesystem_type().0 == CGROUP2_SUPER_MAGIC => Ok(Layout::Hybrid),
            _ => Ok(Layout::V1),
        }
    }

    /// Detect the layout of this host.
    pub fn detect() -> Result<Layout> {
        Self::detect_at(Path::new(CGROUP_ROOT))
    }
}

/// One cgroup, on whichever layout the host has.
pub trait Manager: std::fmt::Debug {
    /// The layout this manager drives.
    fn layout(&self) -> Layout;
    /// Make the cgroup's directories (missing parents too); idempotent.
    fn create(&mut self) -> Result<()>;
    /// Whether any process is in the cgroup.
    fn has_processes(&self) -> Result<bool>;
    /// Move process `pid` into the cgroup.
    fn add(&self, pid: i32) -> Result<()>;
    /// Check, before anything is created, that every set field of
    /// `resources` can be honoured here; the error names the field and the
    /// missing controller or file.
    fn validate(&self, resources: &LinuxResources) -> Result<()>;
    /// Write every set field of `resources` (at create and at `update`);
    /// call [`Manager::validate`] first (the runtime does, before any fork).
    fn apply(&self, resources: &LinuxResources) -> Result<()>;
    /// Freeze every process, returning once the kernel reports it frozen.
    fn freeze(&self) -> Result<()>;
    /// Thaw the processes.
    fn thaw(&self) -> Result<()>;
    /// Whether the cgroup is frozen.
    fn is_frozen(&self) -> Result<bool>;
    /// Usage statistics.
    fn stats(&self) -> Result<Stats>;
    /// Pids of every process in the cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Send `sig` to every process in the cgroup (`cgroup.kill` for SIGKILL on v2).
    fn kill_all(&self, sig: Signal) -> Result<()>;
    /// How many processes the OOM killer has killed in the cgroup so far.
    fn oom_kills(&self) -> Result<u64>;
    /// Remove the cgroup's directories, retrying while the kernel is still
    /// tearing processes down; missing ones are fine.
    fn destroy(&self) -> Result<()>;
    /// The v2 directory fd to clone a process straight into (`CLONE_INTO_CGROUP`).
    fn clone_into(&self) -> Option<BorrowedFd<'_>>;
    /// Every directory of the cgroup, as (hierarchy name, path).
    fn paths(&self) -> Vec<(String, PathBuf)>;
}

/// How many parents of the container's cgroup directories (within its cgroup
/// path `inner`, never above it) do not exist yet: the create makes them, and
/// [`remove_parents`] removes that many again when they are empty.
pub fn missing_parents(m: &dyn Manager, inner: &Path) -> usize {
    let within = parents_within(inner);
    m.paths()
        .iter()
        .map(|(_, leaf)| {
            leaf.ancestors()
                .skip(1)
                .take(within)
                .take_while(|a| !a.exists())
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Remove up to `n` parents of each of the container's cgroup directories,
/// bottom-up, while they are empty (the kernel refuses to remove a cgroup with
/// children or processes); never more than the cgroup path `inner` has.
pub fn remove_parents(m: &dyn Manager, inner: &Path, n: usize) {
    let n = n.min(parents_within(inner));
    for (_, leaf) in m.paths() {
        for parent in leaf.ancestors().skip(1).take(n) {
            match std::fs::remove_dir(parent) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => break,
            }
        }
    }
}

fn parents_within(inner: &Path) -> usize {
    let names = inner
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .count();
    names.saturating_sub(1)
}

/// Lexically clean a `cgroupsPath` as runc does: `..` never climbs above
/// the start; an absolute path stays absolute.
pub fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    if p.is_absolute() {
        Path::new("/").join(out)
    } else {
        out
    }
}

/// The container's cgroup path from `linux.cgroupsPath`, or its id.
pub fn container_path(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf> {
    match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => {
            let s = p.to_string_lossy();
            // "slice:prefix:name" is the systemd driver's form.
            if !p.is_absolute() && s.matches(':').count() == 2 {
                return Err(Error::config(
                    "linux.cgroupsPath",
                    format!(
                        "{s:?} is a systemd cgroup path; the systemd driver is not supported yet"
                    ),
                ));
            }
            let c = clean_path(p);
            if c.as_os_str().is_empty() || c == Path::new("/") {
                return Err(Error::config(
                    "linux.cgroupsPath",
                    format!("{s:?} names the root cgroup"),
                ));
            }
            Ok(c)
        }
        _ => Ok(PathBuf::from(id)),
    }
}

/// The directory of cgroup `inner` in a hierarchy mounted at `mount`, for
/// a caller whose own cgroup in that hierarchy is `own`.
pub fn dir_in_hierarchy(mount: &Path, own: &Path, inner: &Path) -> PathBuf {
    let rel = |p: &Path| p.strip_prefix("/").unwrap_or(p).to_path_buf();
    if inner.is_absolute() {
        mount.join(rel(inner))
    } else {
        mount.join(rel(own)).join(inner)
    }
}

/// Parse `/proc/<pid>/cgroup`: (hierarchy id, controllers, path) per line.
pub fn parse_proc_cgroup(text: &str) -> Vec<(u32, Vec<String>, PathBuf)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.parse().ok()?;
            let ctrls = it
                .next()?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            Some((id, ctrls, PathBuf::from(it.next()?)))
        })
        .collect()
}

/// A manager for cgroup `inner` (see [`container_path`]) on this host's
/// layout, placed relative to the calling process's own cgroups.
pub fn open(inner: &Path) -> Result<Box<dyn Manager>> {
    open_as(inner, &own_cgroups()?)
}

/// The calling process's `/proc/self/cgroup`, which relative paths start from.
pub fn own_cgroups() -> Result<String> {
    std::fs::read_to_string("/proc/self/cgroup").step(|| "read /proc/self/cgroup".into())
}

/// [`open`] for a caller whose `/proc/self/cgroup` read `own`: later
/// commands find a container's cgroup from wherever they run.
pub fn open_as(inner: &Path, own: &str) -> Result<Box<dyn Manager>> {
    let root = Path::new(CGROUP_ROOT);
    match Layout::detect_at(root)? {
        Layout::Unified => {
            let own_v2 = parse_proc_cgroup(own)
                .into_iter()
                .find(|(id, _, _)| *id == 0)
                .map(|(_, _, p)| p)
                .unwrap_or_else(|| PathBuf::from("/"));
            Ok(Box::new(v2::Manager::new(root, &own_v2, inner)?))
        }
        layout => {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
                .step(|| "read /proc/self/mountinfo".into())?;
            Ok(Box::new(v1::Manager::new(
                root, layout, own, &mountinfo, inner,
            )?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_runc_rules() {
        assert_eq!(container_path(None, "web").unwrap(), PathBuf::from("web"));
        assert_eq!(
            container_path(Some(Path::new("/a/../b/c")), "x").unwrap(),
            PathBuf::from("/b/c")
        );
        assert_eq!(
            container_path(Some(Path::new("../../x")), "x").unwrap(),
            PathBuf::from("x")
        );
        assert!(container_path(Some(Path::new("/..")), "x").is_err());
        assert!(container_path(Some(Path::new("system.slice:docker:abc")), "x").is_err());
        let m = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(
            dir_in_hierarchy(m, Path::new("/user/1"), Path::new("web")),
            PathBuf::from("/sys/fs/cgroup/memory/user/1/web")
        );
        assert_eq!(
            dir_in_hierarchy(m, Path::new("/user/1"), Path::new("/k8s/pod")),
            PathBuf::from("/sys/fs/cgroup/memory/k8s/pod")
        );
    }

    #[test]
    fn proc_cgroup_lines() {
        let v = parse_proc_cgroup("4:memory:/a/b\n1:cpu,cpuacct:/\n0::/init.scope\n");
        assert_eq!(v[0], (4, vec!["memory".to_string()], PathBuf::from("/a/b")));
        assert_eq!(v[1].1, vec!["cpu".to_string(), "cpuacct".to_string()]);
        assert_eq!(v[2], (0, vec![], PathBuf::from("/init.scope")));
    }
}
