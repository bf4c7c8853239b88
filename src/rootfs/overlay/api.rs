//! Tiny wrappers around the new mount API system calls; each `unsafe` block is one
//! system call.
use super::*;
use std::ffi::CStr;

pub(super) use crate::rootfs::sys::{
    fsconfig_create as create, fsconfig_set as set_string, fsmount, fsopen,
};

pub(super) fn move_mount(mnt: BorrowedFd<'_>, target: Target<'_>) -> nix::Result<()> {
    match target {
        Target::Path(p) => crate::rootfs::sys::move_mount(mnt, None, p),
        Target::Fd(fd) => crate::rootfs::sys::move_mount(mnt, Some(fd), c""),
    }
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
