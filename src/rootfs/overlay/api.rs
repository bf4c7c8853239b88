//! Tiny wrappers around the new mount API system calls; each `unsafe` block is one
//! system call.
use super::*;
use std::ffi::CStr;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

fn owned(ret: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = Errno::result(ret)?;
    // SAFETY: the system call returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

pub(super) fn fsopen(fstype: &CStr) -> nix::Result<OwnedFd> {
    // SAFETY: `fstype` is a valid C string the kernel only reads.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
}

/// `fsconfig(fd, FSCONFIG_SET_STRING, key, value)`, or `FSCONFIG_SET_FLAG` when
/// `value` is `None`.
pub(super) fn set_string(fs: BorrowedFd<'_>, key: &CStr, value: Option<&CStr>) -> nix::Result<()> {
    let (cmd, v) = match value {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: `key` and `value` are valid C strings (or NULL for a flag) the
    // kernel only reads; `fs` is an open fsopen fd.
    let ret = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, key.as_ptr(), v, 0) };
    Errno::result(ret).map(drop)
}

pub(super) fn create(fs: BorrowedFd<'_>) -> nix::Result<()> {
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

pub(super) fn fsmount(fs: BorrowedFd<'_>, attr: u64) -> nix::Result<OwnedFd> {
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

pub(super) fn move_mount(mnt: BorrowedFd<'_>, target: Target<'_>) -> nix::Result<()> {
    let (dfd, path, flags) = match target {
        Target::Path(p) => (libc::AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH),
        Target::Fd(fd) => (
            fd.as_raw_fd(),
            c"",
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        ),
    };
    // SAFETY: both paths are valid C strings the kernel only reads; the fds are open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            dfd,
            path.as_ptr(),
            flags,
        )
    };
    Errno::result(ret).map(drop)
}

/// The messages the kernel logged in the fs context (`e overlay: ...` lines),
/// joined with "; ", without their severity prefix.
pub(super) fn read_log(fs: BorrowedFd<'_>) -> String {
    let mut msgs = Vec::new();
    let mut buf = [0u8; 1024];
    while msgs.len() < 32 {
        match nix::unistd::read(fs, &mut buf) {
            Ok(n) if n > 0 => {
                let m = String::from_utf8_lossy(&buf[..n]).trim_end().to_string();
                let m = m
                    .strip_prefix("e ")
                    .or_else(|| m.strip_prefix("w "))
                    .or_else(|| m.strip_prefix("i "))
                    .unwrap_or(&m)
                    .to_string();
                msgs.push(m);
            }
            _ => break,
        }
    }
    msgs.join("; ")
}

pub(super) fn mount(target: &CStr, flags: MsFlags, data: &CStr) -> nix::Result<()> {
    // SAFETY: all strings are valid C strings the kernel only reads.
    let ret = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            target.as_ptr(),
            c"overlay".as_ptr(),
            flags.bits(),
            data.as_ptr().cast(),
        )
    };
    Errno::result(ret).map(drop)
}

/// `mount(2)` from a forked child whose working directory is `/proc/self/fd`, so
/// that `data` may name layers by fd number. The caller's working directory is
/// not touched; the child makes two system calls and `_exit`s with the errno.
pub(super) fn mount_in_fd_dir(target: &CStr, flags: MsFlags, data: &CStr) -> nix::Result<()> {
    // SAFETY: the child only calls async-signal-safe system calls on data prepared
    // before the fork, then _exit (no allocation, no lock, no destructor).
    match unsafe { libc::fork() } {
        -1 => Err(Errno::last()),
        0 => {
            // SAFETY: valid C strings; only system calls, then _exit.
            unsafe {
                if libc::chdir(c"/proc/self/fd".as_ptr()) != 0 {
                    libc::_exit(*libc::__errno_location());
                }
                let r = libc::mount(
                    c"overlay".as_ptr(),
                    target.as_ptr(),
                    c"overlay".as_ptr(),
                    flags.bits(),
                    data.as_ptr().cast(),
                );
                libc::_exit(if r == 0 { 0 } else { *libc::__errno_location() })
            }
        }
        pid => {
            let pid = nix::unistd::Pid::from_raw(pid);
            loop {
                match nix::sys::wait::waitpid(pid, None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => return Ok(()),
                    Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => {
                        return Err(Errno::from_raw(code))
                    }
                    Ok(_) => return Err(Errno::ECHILD),
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
