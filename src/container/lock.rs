//! One lock per container: an exclusive `flock` on its state directory, held
//! for the whole of a lifecycle verb so concurrent commands on one id never
//! see or write a half-made state.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::{open, Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};

/// A held container lock; released on drop.
#[derive(Debug)]
pub(crate) struct Lock(Flock<OwnedFd>);

impl Lock {
    /// Take the lock of the container directory `dir`, waiting if needed.
    pub(crate) fn acquire(dir: &Path) -> Result<Lock> {
        Self::take(dir, FlockArg::LockExclusive).map(|l| l.expect("blocking lock"))
    }

    /// Take the lock if it is free; `None` if another process holds it.
    pub(crate) fn try_acquire(dir: &Path) -> Result<Option<Lock>> {
        Self::take(dir, FlockArg::LockExclusiveNonblock)
    }

    fn take(dir: &Path, how: FlockArg) -> Result<Option<Lock>> {
        let fd = open(
            dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            nix::errno::Errno::ENOENT => Error::NotExist,
            e => Error::sys(format!("open({dir:?})"), e),
        })?;
        match Flock::lock(fd, how) {
            Ok(l) => Ok(Some(Lock(l))),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e).step(|| format!("flock({dir:?})")),
        }
    }

    /// The fd, which a forked child must close so it does not keep the lock.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}
