//! Where each v1 hierarchy is mounted and where the container's cgroup goes
//! in it, from `/proc/self/mountinfo` and `/proc/self/cgroup` (runc's
//! `subsysPath` / `getCgroupPathHelper` rules).
//!
//! - A hierarchy is a line of `/proc/self/cgroup` with controllers
//!   (`4:memory:/a`, `1:cpu,cpuacct:/`, `9:name=systemd:/`); its mount is the
//!   first `cgroup` line of mountinfo whose super options name all of them.
//! - The runtime's own cgroup in a hierarchy is its `/proc/self/cgroup` path
//!   taken relative to the mount's root field (field 4 of mountinfo): inside a
//!   container whose host cgroup `/docker/x` is bind-mounted, the own path
//!   `/docker/x` is the mount point itself.
//! - Mount points under [`CGROUP_ROOT`] are re-rooted at the manager's `root`,
//!   so tests can point a fixture mountinfo at a temporary directory.

use std::path::{Path, PathBuf};

use crate::cgroups::{dir_in_hierarchy, parse_proc_cgroup, CGROUP_ROOT};

/// One mounted v1 hierarchy and the container's directory in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// The controllers it carries, as `/proc/self/cgroup` names them
    /// (`["cpu", "cpuacct"]`, `["name=systemd"]`).
    pub controllers: Vec<String>,
    /// The hierarchy's mount point.
    pub mount: PathBuf,
    /// The container's cgroup directory.
    pub dir: PathBuf,
}

/// One cgroup filesystem line of mountinfo.
#[derive(Debug, PartialEq, Eq)]
struct CgroupMount {
    /// `cgroup` or `cgroup2`.
    fstype: String,
    /// The path of the hierarchy that is mounted (field 4).
    root: PathBuf,
    /// Where it is mounted.
    mountpoint: PathBuf,
    /// Super options (`rw,cpu,cpuacct`).
    options: Vec<String>,
}

/// The `cgroup` and `cgroup2` lines of a mountinfo text, in order.
fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    crate::rootfs::mountinfo::parse(mountinfo)
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| CgroupMount {
            options: m.super_options.split(',').map(String::from).collect(),
            fstype: m.fstype,
            root: m.root,
            mountpoint: m.mount_point,
        })
        .collect()
}

/// The mount point re-rooted at `root` when it lies under [`CGROUP_ROOT`].
fn rerooted(root: &Path, mountpoint: &Path) -> PathBuf {
    match mountpoint.strip_prefix(CGROUP_ROOT) {
        Ok(rel) => root.join(rel),
        Err(_) => mountpoint.to_path_buf(),
    }
}

/// The own cgroup `own` relative to the mount's root field; a path outside
/// the mounted subtree (not reachable through this mount) counts as its top.
fn own_in_mount(own: &Path, mount_root: &Path) -> PathBuf {
    match own.strip_prefix(mount_root) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => PathBuf::from("/"),
    }
}

/// The v1 hierarchies (in `/proc/self/cgroup` order) and, when `hybrid`,
/// the unified hierarchy's (mount, dir), for cgroup `inner`.
pub(crate) fn locate(
    root: &Path,
    proc_self_cgroup: &str,
    mountinfo: &str,
    inner: &Path,
    hybrid: bool,
) -> (Vec<Hierarchy>, Option<(PathBuf, PathBuf)>) {
    let mounts = cgroup_mounts(mountinfo);
    let mut hierarchies = Vec::new();
    let mut unified = None;
    let mut lines = parse_proc_cgroup(proc_self_cgroup);
    // /proc/self/cgroup lists the highest hierarchy id first; keep it stable.
    lines.sort_by_key(|(id, _, _)| *id);
    for (id, controllers, own) in lines {
        if id == 0 {
            if !hybrid {
                continue;
            }
            if let Some(m) = mounts.iter().find(|m| m.fstype == "cgroup2") {
                let mount = rerooted(root, &m.mountpoint);
                let dir = dir_in_hierarchy(&mount, &own_in_mount(&own, &m.root), inner);
                unified = Some((mount, dir));
            }
            continue;
        }
        if controllers.is_empty() {
            continue;
        }
        let Some(m) = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && controllers.iter().all(|c| m.options.contains(c)))
        else {
            continue; // listed by the kernel, not mounted here
        };
        let mount = rerooted(root, &m.mountpoint);
        let dir = dir_in_hierarchy(&mount, &own_in_mount(&own, &m.root), inner);
        hierarchies.push(Hierarchy {
            controllers,
            mount,
            dir,
        });
    }
    (hierarchies, unified)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_CGROUP: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n\
        2:cpu,cpuacct:/user.slice\n5:net_cls:/\n0::/\n";
    const HOST_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn relative_path_goes_below_own_cgroup_per_hierarchy() {
        let root = Path::new("/tmp/fake");
        let (h, u) = locate(root, HOST_CGROUP, HOST_MOUNTINFO, Path::new("web"), true);
        let dirs: Vec<_> = h
            .iter()
            .map(|h| (h.controllers.join(","), h.dir.clone()))
            .collect();
        assert_eq!(
            dirs,
            vec![
                (
                    "cpu,cpuacct".into(),
                    PathBuf::from("/tmp/fake/cpu,cpuacct/user.slice/web")
                ),
                (
                    "memory".into(),
                    PathBuf::from("/tmp/fake/memory/process_api/abc/web")
                ),
                ("pids".into(), PathBuf::from("/tmp/fake/pids/web")),
                (
                    "name=systemd".into(),
                    PathBuf::from("/tmp/fake/systemd/web")
                ),
            ],
            "net_cls is listed but not mounted, so it is skipped"
        );
        assert_eq!(h[0].mount, PathBuf::from("/tmp/fake/cpu,cpuacct"));
        assert_eq!(
            u,
            Some((
                PathBuf::from("/tmp/fake/unified"),
                PathBuf::from("/tmp/fake/unified/web")
            ))
        );
    }

    #[test]
    fn absolute_path_starts_at_the_hierarchy_root() {
        let root = Path::new("/r");
        let (h, u) = locate(
            root,
            HOST_CGROUP,
            HOST_MOUNTINFO,
            Path::new("/k8s/pod"),
            false,
        );
        assert_eq!(h[1].dir, PathBuf::from("/r/memory/k8s/pod"));
        assert_eq!(h[0].dir, PathBuf::from("/r/cpu,cpuacct/k8s/pod"));
        assert_eq!(u, None, "v1 layout ignores the 0:: line");
    }

    #[test]
    fn mount_root_field_is_stripped_inside_a_container() {
        // The host's /docker/abc is bind-mounted as this container's memory hierarchy.
        let mi =
            "50 40 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n";
        let (h, _) = locate(
            Path::new("/sys/fs/cgroup"),
            "4:memory:/docker/abc/sub\n",
            mi,
            Path::new("inner"),
            false,
        );
        assert_eq!(h[0].dir, PathBuf::from("/sys/fs/cgroup/memory/sub/inner"));
    }

    #[test]
    fn escaped_mount_points_are_decoded() {
        let mi = "30 25 0:27 / /sys/fs/cgroup/a\\040b rw - cgroup cgroup rw,pids\n";
        assert_eq!(
            cgroup_mounts(mi)[0].mountpoint,
            PathBuf::from("/sys/fs/cgroup/a b")
        );
    }
}
