//! Tiny wrappers around the system calls `nix` does not cover: `openat2(2)` and
//! `mount_setattr(2)`. Each `unsafe` block is a single system call.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

/// `RESOLVE_*` flags of `openat2(2)`.
pub(crate) const RESOLVE_NO_XDEV: u64 = 0x01;
pub(crate) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(crate) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(crate) const RESOLVE_BENEATH: u64 = 0x08;
pub(crate) const RESOLVE_IN_ROOT: u64 = 0x10;

/// `struct open_how` (libc's is `#[non_exhaustive]`, so we keep our own).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `struct mount_attr`, version 0 (32 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MountAttr {
    pub(crate) attr_set: u64,
    pub(crate) attr_clr: u64,
    pub(crate) propagation: u64,
    pub(crate) userns_fd: u64,
}

fn cstr(path: &Path) -> nix::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// `openat2(dirfd, path, {flags, mode, resolve})`, returning an owned fd.
pub(crate) fn openat2(
    dirfd: impl AsFd,
    path: &Path,
    flags: nix::fcntl::OFlag,
    resolve: u64,
) -> nix::Result<OwnedFd> {
    let path = cstr(path)?;
    let how = OpenHow {
        flags: (flags | nix::fcntl::OFlag::O_CLOEXEC).bits() as u64,
        mode: 0,
        resolve,
    };
    loop {
        // SAFETY: `path` is a valid C string and `how` a valid open_how of the size we pass;
        // the kernel only reads both.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd.as_fd().as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match Errno::result(ret) {
            // SAFETY: on success openat2 returns a new fd that nobody else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
            // openat2 asks for a retry when a rename raced with RESOLVE_IN_ROOT/BENEATH.
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | [AT_RECURSIVE], attr)` on the mount `fd` refers to.
pub(crate) fn mount_setattr(fd: impl AsFd, recursive: bool, attr: &MountAttr) -> nix::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: the empty path is a static C string, `attr` is a valid mount_attr of the size
    // we pass; the kernel only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// The `/proc/self/fd/N` path of an fd, to hand to `mount(2)` so that it acts on the
/// object the fd refers to and not on whatever a path resolves to now.
pub(crate) fn fd_path(fd: impl AsFd) -> String {
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}
