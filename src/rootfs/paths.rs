//! `linux.maskedPaths` and `linux.readonlyPaths`, applied after entering the root.
//!
//! A masked file gets the container's `/dev/null` bound over it (after checking that it
//! really is the 1:3 character device, CVE-2025-31133), a masked directory a read-only
//! empty tmpfs. A read-only path is bound onto itself (recursively) and made read-only.
//! Missing paths are ignored, as in runc. All paths resolve inside the root, and every
//! mount is made on file descriptors with the new mount API (`fsmount`, `open_tree`,
//! `mount_setattr`, `move_mount`): after the pivot, a `/proc/self/fd/N` path would
//! resolve through the container's own `/proc`, which the image controls.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::sys::stat::{fstat, major, minor};

use super::resolve::Root;
use super::sys::{self, MountAttr, MOUNT_ATTR_RDONLY};
use crate::error::{Context, Error, Result};

/// Mask `path` (a container path) inside `root`.
pub(crate) fn mask(root: &Root, path: &Path) -> Result<()> {
    let Some(target) = root.resolve_opt(path)? else {
        return Ok(());
    };
    let shown = root.display(path);
    let st = fstat(&target).step(|| format!("fstat({shown:?})"))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let tmpfs = empty_readonly_tmpfs().step(|| format!("mask {shown:?}: a read-only tmpfs"))?;
        return attach(&tmpfs, &target, &shown);
    }
    let null = root.resolve(Path::new("/dev/null"))?;
    let nst = fstat(&null).step(|| "fstat(\"/dev/null\")".to_string())?;
    if nst.st_mode & libc::S_IFMT != libc::S_IFCHR
        || major(nst.st_rdev) != 1
        || minor(nst.st_rdev) != 3
    {
        return Err(Error::Other(format!(
            "mask {shown:?}: the container's /dev/null is not the 1:3 character device"
        )));
    }
    let tree = sys::open_tree_clone(&null, false)
        .step(|| "open_tree(\"/dev/null\", OPEN_TREE_CLONE)".into())?;
    attach(&tree, &target, &shown)
}

/// Make `path` (a container path) read-only inside `root`: a recursive copy of the
/// mounts there, its top made read-only (nosuid, nodev, noexec are kept), attached
/// over the original.
pub(crate) fn readonly(root: &Root, path: &Path) -> Result<()> {
    let Some(target) = root.resolve_opt(path)? else {
        return Ok(());
    };
    let shown = root.display(path);
    let tree = sys::open_tree_clone(&target, true)
        .step(|| format!("open_tree({shown:?}, OPEN_TREE_CLONE|AT_RECURSIVE)"))?;
    set_readonly(&tree, &shown)?;
    attach(&tree, &target, &shown)
}

/// `mount_setattr(fd, MOUNT_ATTR_RDONLY)` on the mount `fd` is the root of; the
/// mount's other attributes stay as they are.
pub(crate) fn set_readonly(mnt: &OwnedFd, shown: &Path) -> Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        ..MountAttr::default()
    };
    sys::mount_setattr(mnt, false, &attr)
        .step(|| format!("mount_setattr({shown:?}, MOUNT_ATTR_RDONLY)"))
}

/// `move_mount` the detached mount `mnt` onto the object `target` refers to.
fn attach(mnt: &OwnedFd, target: &OwnedFd, shown: &Path) -> Result<()> {
    sys::move_mount(mnt.as_fd(), Some(target.as_fd()), c"")
        .step(|| format!("move_mount(onto {shown:?})"))
}

/// A detached, empty, read-only tmpfs.
fn empty_readonly_tmpfs() -> nix::Result<OwnedFd> {
    let fs = sys::fsopen(c"tmpfs")?;
    sys::fsconfig_create(fs.as_fd())?;
    sys::fsmount(fs.as_fd(), MOUNT_ATTR_RDONLY)
}
