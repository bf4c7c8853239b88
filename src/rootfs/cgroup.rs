//! `type: cgroup` mounts. On a unified (v2) host: `cgroup2`, or a bind of the host's
//! `/sys/fs/cgroup` when the kernel refuses (user namespace without a cgroup
//! namespace). On a v1 or hybrid host, as runc does without a cgroup namespace: a tmpfs
//! at the target and, under it, one bind per v1 hierarchy of the host's directory of
//! this process (`cpu,cpuacct` with `cpu` and `cpuacct` symlinks to it).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::unistd::symlinkat;

use super::mounts::{self, MountEntry, MountKind};
use super::options::MountOptions;
use super::{mountinfo, Root};
use crate::error::{Context, Error, Result};

const HOST_CGROUP: &str = "/sys/fs/cgroup";

/// One v1 hierarchy of this process: where the host has it and our place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Bind {
    /// Host directory to bind: the mount point plus our path below the mount's root.
    pub(crate) source: PathBuf,
    /// Directory name under the container's cgroup mount (`cpu,cpuacct`).
    pub(crate) name: String,
    /// Controllers of the hierarchy, for the symlinks of co-mounted ones.
    pub(crate) controllers: Vec<String>,
}

/// The v1 hierarchies of a process from its `/proc/<pid>/cgroup` and mountinfo.
pub(crate) fn v1_binds(proc_cgroup: &str, mounts: &[mountinfo::MountInfo]) -> Vec<V1Bind> {
    let mut out: Vec<V1Bind> = Vec::new();
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            continue; // the v2 hierarchy of a hybrid host
        }
        let want: Vec<&str> = ctrls.split(',').collect();
        let found = mounts.iter().find(|m| {
            m.fstype == "cgroup" && {
                let have: Vec<&str> = m.super_options.split(',').collect();
                want.iter().all(|w| have.contains(w))
            }
        });
        let Some(m) = found else { continue };
        let Ok(rel) = Path::new(path).strip_prefix(&m.root) else {
            continue; // our cgroup is not visible in that mount
        };
        let Some(name) = m.mount_point.file_name() else {
            continue;
        };
        let name = name.to_string_lossy().into_owned();
        if out.iter().any(|b| b.name == name) {
            continue;
        }
        out.push(V1Bind {
            source: m.mount_point.join(rel),
            name,
            controllers: want.iter().map(|s| s.to_string()).collect(),
        });
    }
    out
}

fn host_is_unified() -> bool {
    nix::sys::statfs::statfs(HOST_CGROUP)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// Mount the cgroup entry `m`.
pub(crate) fn mount(root: &Root, root_host: &Path, m: &MountEntry) -> Result<()> {
    if host_is_unified() {
        mount_v2(root, root_host, m)
    } else {
        mount_v1(root, root_host, m)
    }
}

fn mount_v2(root: &Root, root_host: &Path, m: &MountEntry) -> Result<()> {
    let mut e = m.clone();
    e.kind = MountKind::Fs;
    e.fstype = "cgroup2".into();
    if e.source == Path::new("cgroup") {
        e.source = "cgroup2".into();
    }
    match mounts::mount_entry(root, root_host, &e) {
        Err(Error::Sys {
            errno: Errno::EPERM | Errno::EBUSY,
            ..
        }) => {
            e.kind = MountKind::Bind;
            e.fstype = "bind".into();
            e.source = HOST_CGROUP.into();
            e.opts.bind = true;
            e.opts.flags |= MsFlags::MS_BIND;
            mounts::mount_entry(root, root_host, &e)
        }
        r => r,
    }
}

fn mount_v1(root: &Root, root_host: &Path, m: &MountEntry) -> Result<()> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .step(|| "read(\"/proc/self/cgroup\")".to_string())?;
    let binds = v1_binds(&text, &mountinfo::read()?);
    let base = MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let tmpfs = MountEntry {
        dest: m.dest.clone(),
        fstype: "tmpfs".into(),
        source: "tmpfs".into(),
        kind: MountKind::Fs,
        opts: MountOptions {
            flags: base,
            data: "mode=755".into(),
            propagation: m.opts.propagation.clone(),
            ..Default::default()
        },
    };
    mounts::mount_entry(root, root_host, &tmpfs)?;
    for b in &binds {
        let mut opts = m.opts.clone();
        opts.bind = true;
        opts.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
        let e = MountEntry {
            dest: m.dest.join(&b.name),
            fstype: "bind".into(),
            source: b.source.clone(),
            kind: MountKind::Bind,
            opts,
        };
        mounts::mount_entry(root, root_host, &e)?;
    }
    let dir = root.resolve(&m.dest)?;
    for b in binds.iter().filter(|b| b.controllers.len() > 1) {
        for c in &b.controllers {
            if c.starts_with("name=") || *c == b.name {
                continue;
            }
            match symlinkat(b.name.as_str(), &dir, c.as_str()) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => {
                    return Err(Error::sys(
                        format!("symlink({:?}, {:?})", b.name, root.display(&m.dest.join(c))),
                        e,
                    ))
                }
            }
        }
    }
    if m.opts.flags.contains(MsFlags::MS_RDONLY) {
        mounts::remount_bind(
            &dir,
            &root.display(&m.dest),
            base | MsFlags::MS_RDONLY,
            MsFlags::empty(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_binds_from_fixture() {
        let mi = mountinfo::parse(
            "\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
",
        );
        let pc =
            "9:name=systemd:/user.slice\n4:memory:/outer/inner\n2:cpu,cpuacct:/\n5:pids:/\n0::/x\n";
        let b = v1_binds(pc, &mi);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].name, "systemd");
        assert_eq!(
            b[0].source,
            PathBuf::from("/sys/fs/cgroup/systemd/user.slice")
        );
        assert_eq!(b[1].source, PathBuf::from("/sys/fs/cgroup/memory/inner"));
        assert_eq!(b[2].name, "cpu,cpuacct");
        assert_eq!(b[2].controllers, vec!["cpu", "cpuacct"]);
    }
}
