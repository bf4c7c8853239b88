//! Processes held as pidfds: signals and exit waits that cannot hit a
//! recycled pid.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// A pidfd.
#[derive(Debug)]
pub struct PidFd(OwnedFd);

impl PidFd {
    /// Open a pidfd for `pid` (`pidfd_open`).
    pub fn open(pid: i32) -> Result<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(Error::sys(format!("pidfd_open({pid})"), Errno::last()));
        }
        // SAFETY: the kernel returned a fresh fd that we now own.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Wrap an fd the kernel returned from `clone3(CLONE_PIDFD)`.
    pub fn from_owned(fd: OwnedFd) -> PidFd {
        PidFd(fd)
    }

    /// Send `sig` (`pidfd_send_signal`); ESRCH if the process has exited.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        // SAFETY: valid pidfd, signal number, no siginfo, no flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            return Err(Error::sys(
                format!("pidfd_send_signal({sig})"),
                Errno::last(),
            ));
        }
        Ok(())
    }

    /// Wait until the process exits or `timeout` passes; `true` if it exited.
    pub fn wait_exit(&self, timeout: Option<Duration>) -> Result<bool> {
        let t = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, t) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll(pidfd)", e)),
                Ok(n) => return Ok(n > 0),
            }
        }
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Reap child `pid`: its status as a shell reports it (exit code, or 128 +
/// signal), or `None` if it is still running and `block` is false.
pub fn reap(pid: i32, block: bool) -> Result<Option<i32>> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(pid);
    let flags = (!block).then_some(WaitPidFlag::WNOHANG);
    loop {
        match waitpid(pid, flags) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(Some(c)),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(Some(128 + s as i32)),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("waitpid({pid})"), e)),
        }
    }
}
