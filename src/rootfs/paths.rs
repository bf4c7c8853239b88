//! `linux.maskedPaths` and `linux.readonlyPaths`, applied after entering the root.
//!
//! A masked file gets the container's `/dev/null` bound over it (after checking that it
//! really is the 1:3 character device, CVE-2025-31133), a masked directory a read-only
//! empty tmpfs. A read-only path is bound onto itself (recursively) and remounted
//! read-only. Missing paths are ignored, as in runc. All paths resolve inside the root.

use std::path::Path;

use nix::mount::MsFlags;
use nix::sys::stat::{fstat, major, minor};

use super::mounts::{mount_fd, remount_bind};
use super::options;
use super::resolve::Root;
use super::sys;
use crate::error::{Context, Error, Result};

/// Mask `path` (a container path) inside `root`.
pub(crate) fn mask(root: &Root, path: &Path) -> Result<()> {
    let Some(target) = root.resolve_opt(path)? else {
        return Ok(());
    };
    let shown = root.display(path);
    let st = fstat(&target).step(|| format!("fstat({shown:?})"))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return mount_fd(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
            "tmpfs",
            &shown,
        );
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
    mount_fd(
        Some(&sys::fd_path(&null)),
        &target,
        None,
        MsFlags::MS_BIND,
        None,
        "/dev/null",
        &shown,
    )
}

/// Make `path` (a container path) read-only inside `root`.
pub(crate) fn readonly(root: &Root, path: &Path) -> Result<()> {
    let Some(target) = root.resolve_opt(path)? else {
        return Ok(());
    };
    let shown = root.display(path);
    mount_fd(
        Some(&sys::fd_path(&target)),
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
        &shown.to_string_lossy(),
        &shown,
    )?;
    let new = root.resolve(path)?;
    // Keep nosuid/nodev/noexec: a remount that omits them would clear them.
    let st = nix::sys::statvfs::fstatvfs(&new).step(|| format!("statvfs({shown:?})"))?;
    let keep = options::statvfs_to_ms(st.flags())
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    remount_bind(&new, &shown, keep | MsFlags::MS_RDONLY, MsFlags::empty())
}
