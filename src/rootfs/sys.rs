//! Tiny wrappers around the system calls `nix` does not cover: `openat2(2)` and the
//! new mount API (`fsopen`, `fsconfig`, `fsmount`, `open_tree`, `move_mount`,
//! `mount_setattr`). Each `unsafe` block is a single system call.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

/// `RESOLVE_*` flags of `openat2(2)`.
pub(crate) const RESOLVE_NO_XDEV: u64 = 0x01;
pub(crate) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(crate) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(crate) const RESOLVE_BENEATH: u64 = 0x08;
pub(crate) const RESOLVE_IN_ROOT: u64 = 0x10;

/// `MOUNT_ATTR_*` flags of `fsmount(2)` and `mount_setattr(2)`.
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub(crate) const MOUNT_ATTR_ATIME: u64 = 0x70;
pub(crate) const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub(crate) const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub(crate) const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub(crate) const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub(crate) const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

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

fn owned(ret: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = Errno::result(ret)?;
    // SAFETY: the system call returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `fsopen(fstype, FSOPEN_CLOEXEC)`: a filesystem context to configure.
pub(crate) fn fsopen(fstype: &CStr) -> nix::Result<OwnedFd> {
    // SAFETY: `fstype` is a valid C string the kernel only reads.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
}

/// `fsconfig(fd, FSCONFIG_SET_STRING, key, value)`, or `FSCONFIG_SET_FLAG` when
/// `value` is `None`.
pub(crate) fn fsconfig_set(
    fs: BorrowedFd<'_>,
    key: &CStr,
    value: Option<&CStr>,
) -> nix::Result<()> {
    let (cmd, v) = match value {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: `key` and `value` are valid C strings (or NULL for a flag) the
    // kernel only reads; `fs` is an open fsopen fd.
    let ret = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, key.as_ptr(), v, 0) };
    Errno::result(ret).map(drop)
}

/// `fsconfig(fd, FSCONFIG_CMD_CREATE)`: make the superblock.
pub(crate) fn fsconfig_create(fs: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: no pointers are passed; `fs` is an open fsopen fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

/// `fsmount(fd, FSMOUNT_CLOEXEC, attr)`: a detached mount of the created superblock.
pub(crate) fn fsmount(fs: BorrowedFd<'_>, attr: u64) -> nix::Result<OwnedFd> {
    // SAFETY: no pointers are passed; `fs` is an fsopen fd after FSCONFIG_CMD_CREATE.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attr as libc::c_uint,
        )
    })
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH [| AT_RECURSIVE])`: a detached
/// copy of the mount (tree) at the object `fd` refers to, like a bind mount's source.
pub(crate) fn open_tree_clone(fd: impl AsFd, recursive: bool) -> nix::Result<OwnedFd> {
    let mut flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: the empty path is a static C string the kernel only reads; the fd is open.
    owned(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    })
}

/// `move_mount(mnt, "", to_dir, to_path, ...)`: attach the detached mount `mnt` on
/// the object `to_dir` refers to (`to_path` `None`), or on `to_path` (absolute).
pub(crate) fn move_mount(
    mnt: BorrowedFd<'_>,
    to_dir: Option<BorrowedFd<'_>>,
    to_path: &CStr,
) -> nix::Result<()> {
    let (dfd, flags) = match to_dir {
        Some(fd) => (
            fd.as_raw_fd(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        ),
        None => (libc::AT_FDCWD, MOVE_MOUNT_F_EMPTY_PATH),
    };
    // SAFETY: both paths are valid C strings the kernel only reads; the fds are open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            dfd,
            to_path.as_ptr(),
            flags,
        )
    };
    Errno::result(ret).map(drop)
}

/// The `/proc/self/fd/N` path of an fd, to hand to `mount(2)` so that it acts on the
/// object the fd refers to and not on whatever a path resolves to now. Only for use
/// while `/proc` is the host's (before the pivot, or on the host): after it, the path
/// resolves through the container's `/proc`, so those steps use the new mount API on
/// fds and [`super::Procfs`] instead.
pub(crate) fn fd_path(fd: impl AsFd) -> String {
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}
