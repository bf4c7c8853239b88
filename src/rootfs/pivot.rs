//! Entering the root: `pivot_root(2)` as runc does it, or (`--no-pivot`) moving the
//! rootfs onto `/` and `chroot(2)`.

use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::mountinfo;
use crate::error::{Context, Result};

const NONE: Option<&str> = None;

/// runc's trick: `pivot_root(".", ".")` stacks the old root on top of the new one at
/// `/`; make it a slave (so unmounting does not propagate to the host) and detach it.
/// No directory for the old root is needed inside the rootfs.
pub(crate) fn pivot(root: &Path) -> Result<()> {
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old = open("/", dir_flags, Mode::empty()).step(|| "open(\"/\")".into())?;
    let new = open(root, dir_flags, Mode::empty()).step(|| format!("open({root:?})"))?;
    fchdir(&new).step(|| format!("fchdir({root:?})"))?;
    pivot_root(".", ".").step(|| format!("pivot_root({root:?}, {root:?})"))?;
    fchdir(&old).step(|| "fchdir(old root)".into())?;
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .step(|| "mount(NULL, old root, NULL, MS_SLAVE|MS_REC, NULL)".into())?;
    umount2(".", MntFlags::MNT_DETACH).step(|| "umount2(old root, MNT_DETACH)".into())?;
    chdir("/").step(|| "chdir(\"/\")".into())
}

/// runc's `msMoveRoot`: hide the host's procfs and sysfs mounts outside the rootfs
/// (unmount them, or cover them with a tmpfs when that is refused), move the rootfs
/// onto `/`, `chroot(".")`, `chdir("/")`.
pub(crate) fn move_root(root: &Path) -> Result<()> {
    let mounts = mountinfo::read()?;
    // Deepest first, so that a covered parent does not hide a child we still have to do.
    let mut hide: Vec<&Path> = mounts
        .iter()
        .filter(|m| (m.fstype == "proc" || m.fstype == "sysfs") && !m.mount_point.starts_with(root))
        .map(|m| m.mount_point.as_path())
        .collect();
    hide.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    hide.dedup();
    for p in hide {
        match mount(NONE, p, NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE) {
            Ok(()) => {}
            Err(Errno::ENOENT) | Err(Errno::EINVAL) => continue,
            Err(e) => {
                return Err(e).step(|| format!("mount(NULL, {p:?}, NULL, MS_SLAVE|MS_REC, NULL)"))
            }
        }
        match umount2(p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL) | Err(Errno::EPERM) => {
                mount(Some("tmpfs"), p, Some("tmpfs"), MsFlags::empty(), NONE)
                    .step(|| format!("mount(\"tmpfs\", {p:?}, \"tmpfs\", 0, NULL)"))?;
            }
            Err(e) => return Err(e).step(|| format!("umount2({p:?}, MNT_DETACH)")),
        }
    }
    chdir(root).step(|| format!("chdir({root:?})"))?;
    mount(Some(root), "/", NONE, MsFlags::MS_MOVE, NONE)
        .step(|| format!("mount({root:?}, \"/\", NULL, MS_MOVE, NULL)"))?;
    chroot(".").step(|| "chroot(\".\")".into())?;
    chdir("/").step(|| "chdir(\"/\")".into())
}
