//! One lock per container: an exclusive `flock` on its state directory, held
//! for the whole of a lifecycle verb so concurrent commands on one id never
//! see or write a half-made state.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::{openat, Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Context, Result};

/// A held container lock; released on drop.
#[derive(Debug)]
pub(crate) struct Lock(Flock<OwnedFd>);

impl Lock {
    /// Take the lock of the container directory `dir` (at `path`), waiting if needed.
    pub(crate) fn acquire(dir: BorrowedFd, path: &Path) -> Result<Lock> {
        Self::take(dir, path, FlockArg::LockExclusive).map(|l| l.expect("blocking lock"))
    }

    /// Take the lock if it is free; `None` if another process holds it.
    pub(crate) fn try_acquire(dir: BorrowedFd, path: &Path) -> Result<Option<Lock>> {
        Self::take(dir, path, FlockArg::LockExclusiveNonblock)
    }

    fn take(dir: BorrowedFd, path: &Path, how: FlockArg) -> Result<Option<Lock>> {
        // An open file description of our own: the lock is not shared with
        // the directory's fd, which others may hold without locking.
        let fd = openat(
            dir,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open({path:?})"))?;
        match Flock::lock(fd, how) {
            Ok(l) => Ok(Some(Lock(l))),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e).step(|| format!("flock({path:?})")),
        }
    }

    /// The fd, which a forked child must close so it does not keep the lock.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}
