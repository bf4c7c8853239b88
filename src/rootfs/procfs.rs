//! One procfs handle for every procfs file the runtime opens in a container's init
//! (sysctls, `oom_score_adj`, the exec FIFO's reopen, LSM attributes).
//!
//! After the root is entered, `/proc` is whatever the container's root has there: an
//! image can make it a symlink, a directory of fake `fd/N` links, or cover it with a
//! mount. So the init opens the host's procfs *before* anything of the container is
//! mounted, checks that it is the root of a real procfs (`fstatfs` = `PROC_SUPER_MAGIC`,
//! inode 1), and resolves every later path beneath that fd without crossing a mount
//! (`RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS`). The host's procfs
//! lists the init under its host pid, so `self` and `thread-self` resolve to it
//! whatever pid namespace it is in.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use super::sys;
use crate::error::{Context, Error, Result};

/// The inode number of a procfs root directory.
const PROC_ROOT_INO: u64 = 1;

/// A verified procfs root.
#[derive(Debug)]
pub struct Procfs {
    root: OwnedFd,
}

impl Procfs {
    /// Open `/proc` of the current mount namespace (call it before any container
    /// mount exists) and check that it is the root of a procfs.
    pub fn open() -> Result<Procfs> {
        let root = nix::fcntl::open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| "open(\"/proc\", O_PATH)".into())?;
        Self::verify(&root, "/proc")?;
        Ok(Procfs { root })
    }

    fn verify(fd: &OwnedFd, shown: &str) -> Result<()> {
        let fs = fstatfs(fd).step(|| format!("fstatfs({shown:?})"))?;
        let st = nix::sys::stat::fstat(fd).step(|| format!("fstat({shown:?})"))?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO {
            return Err(Error::Other(format!(
                "{shown:?} is not the root of a procfs: refusing to use it"
            )));
        }
        Ok(())
    }

    /// Open `path` (relative, e.g. `sys/net/ipv4/ip_forward`, `thread-self/attr/exec`)
    /// beneath the procfs root: procfs's own `self`/`thread-self` links are followed,
    /// magic links and mounts are not.
    pub fn open_at(&self, path: &Path, flags: OFlag) -> Result<OwnedFd> {
        sys::openat2(
            &self.root,
            path,
            flags | OFlag::O_NOFOLLOW,
            sys::RESOLVE_BENEATH | sys::RESOLVE_NO_XDEV | sys::RESOLVE_NO_MAGICLINKS,
        )
        .step(|| {
            format!(
                "openat2(\"/proc/{}\", RESOLVE_BENEATH|RESOLVE_NO_XDEV)",
                path.display()
            )
        })
    }

    /// Reopen one of this thread's fds (`/proc/thread-self/fd/N`) with `flags`: the
    /// magic link is followed only here, beneath the verified procfs.
    pub fn reopen_fd(&self, fd: impl AsFd, flags: OFlag) -> Result<OwnedFd> {
        use std::os::fd::AsRawFd;
        let dir = self.open_at(
            Path::new("thread-self/fd"),
            OFlag::O_PATH | OFlag::O_DIRECTORY,
        )?;
        let n = fd.as_fd().as_raw_fd().to_string();
        nix::fcntl::openat(&dir, n.as_str(), flags | OFlag::O_CLOEXEC, Mode::empty())
            .step(|| format!("open(\"/proc/thread-self/fd/{n}\")"))
    }

    /// Write `value` to a procfs file (`thread-self/oom_score_adj`, `sys/...`).
    pub fn write(&self, path: &Path, value: &str) -> Result<()> {
        use std::io::Write;
        let fd = self.open_at(path, OFlag::O_WRONLY)?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .step(|| format!("write(\"/proc/{}\", {value:?})", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_beneath_procfs_only() {
        let p = Procfs::open().unwrap();
        let fd = p
            .open_at(Path::new("self/status"), OFlag::O_RDONLY)
            .unwrap();
        let text = std::fs::read_to_string(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .unwrap();
        assert!(text.contains(&format!("Pid:\t{}", std::process::id())));
        // Magic links (fd/N, exe, root, cwd) are refused on the plain path ...
        let e = p
            .open_at(Path::new("self/root/etc"), OFlag::O_PATH)
            .unwrap_err();
        assert!(e.to_string().contains("ELOOP"), "{e}");
        // ... and so is climbing out.
        assert!(p.open_at(Path::new("../etc"), OFlag::O_PATH).is_err());
        // A directory that is not a procfs root is refused.
        let tmp = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        assert!(Procfs::verify(&tmp, "/").is_err());
    }

    #[test]
    fn reopens_own_fds() {
        let p = Procfs::open().unwrap();
        let (r, _w) = nix::unistd::pipe().unwrap();
        let again = p
            .reopen_fd(&r, OFlag::O_RDONLY | OFlag::O_NONBLOCK)
            .unwrap();
        let a = nix::sys::stat::fstat(&r).unwrap();
        let b = nix::sys::stat::fstat(&again).unwrap();
        assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
    }
}
