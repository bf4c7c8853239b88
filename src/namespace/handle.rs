//! Creating namespaces (`unshare`) and joining them (`setns`) through a
//! namespace file descriptor.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use super::{Kind, Kinds};
use crate::error::{Context, Result};

/// Move the calling thread into new namespaces of the given kinds.
///
/// For [`Kind::Pid`] and [`Kind::Time`] only the children created afterwards
/// are in the new namespace.
pub fn unshare(kinds: Kinds) -> Result<()> {
    nix::sched::unshare(CloneFlags::from_bits_retain(kinds.bits()))
        .step(|| format!("unshare({kinds:?})"))
}

/// An open namespace: a file descriptor on `/proc/<pid>/ns/<kind>` or on a
/// bind-mounted namespace file.
#[derive(Debug)]
pub struct Namespace {
    kind: Kind,
    fd: OwnedFd,
}

impl Namespace {
    /// Open the namespace file at `path` (e.g. `/var/run/netns/blue`).
    ///
    /// The kernel checks that the file is a namespace of `kind` when it is
    /// entered.
    pub fn open(path: &Path, kind: Kind) -> Result<Namespace> {
        let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .step(|| format!("open({path:?})"))?;
        Ok(Namespace { kind, fd })
    }

    /// Open the namespace of `kind` that process `pid` is in.
    pub fn of_pid(pid: i32, kind: Kind) -> Result<Namespace> {
        let path = format!("/proc/{pid}/ns/{}", kind.proc_name());
        Namespace::open(Path::new(&path), kind)
    }

    /// The kind of this namespace.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Move the calling thread into this namespace (`setns`).
    pub fn enter(&self) -> Result<()> {
        nix::sched::setns(
            &self.fd,
            CloneFlags::from_bits_retain(self.kind.clone_flag()),
        )
        .step(|| {
            format!(
                "setns({}, fd {})",
                self.kind.proc_name(),
                self.fd.as_raw_fd()
            )
        })
    }
}

impl AsFd for Namespace {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<Namespace> for OwnedFd {
    fn from(ns: Namespace) -> OwnedFd {
        ns.fd
    }
}
