//! One procfs handle for every procfs file the runtime opens in a container's init
//! or `exec` process (sysctls, `oom_score_adj`, the exec FIFO's reopen, LSM
//! attributes, the fd listing on old kernels).
//!
//! After the root is entered, the *path* `/proc` is whatever the container's root has
//! there: an image can make it a symlink or a directory of fake `fd/N` links. So the
//! handle is an fd, verified to be the root of a real procfs (`fstatfs` =
//! `PROC_SUPER_MAGIC`, inode 1), and every path is resolved beneath it without
//! following magic links or crossing mounts. Which procfs matters too: the handle stays
//! open until the process executes the container's program, and a container process
//! allowed to ptrace it (`CAP_SYS_PTRACE` in a shared pid namespace) could take the fd
//! from `/proc/<pid>/fd`. So it is never the host's procfs (whose `1/root` is the host's
//! root), but:
//!
//! - the container's own procfs, opened beneath the rootfs right after the spec's mounts
//!   were made (an fd on the `/proc` mount: walks through it cross the read-only and
//!   masking mounts stacked on it, so it shows no more than the container's `/proc`);
//! - or, when the container mounts no procfs, a private instance of the process's own
//!   pid namespace with `subset=pid` (no `sys`, nothing global).
//!
//! Paths name the process by its pid in that namespace (`getpid()`), not by `self`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

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
    /// `/proc` of the current mount namespace, verified (for use on the host, and in
    /// tests: a container process takes [`Procfs::below`] or [`Procfs::private`]).
    pub fn open() -> Result<Procfs> {
        let root = nix::fcntl::open(
            "/proc",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| "open(\"/proc\", O_PATH)".into())?;
        Self::verify(root, "/proc")
    }

    /// The procfs mounted at `proc` (an `O_PATH` fd of the directory, resolved
    /// without symlinks beneath the rootfs); `None` when it is not a procfs root.
    pub(crate) fn below(proc: OwnedFd) -> Option<Procfs> {
        Self::verify(proc, "/proc").ok()
    }

    /// A private procfs of the calling process's pid namespace showing only the
    /// processes (`subset=pid`), attached nowhere.
    pub fn private() -> Result<Procfs> {
        let step = |what: &str| format!("procfs (subset=pid): {what}");
        let fs = sys::fsopen(c"proc").step(|| step("fsopen"))?;
        sys::fsconfig_set(fs.as_fd(), c"subset", Some(c"pid")).step(|| step("fsconfig"))?;
        sys::fsconfig_create(fs.as_fd()).step(|| step("fsconfig(FSCONFIG_CMD_CREATE)"))?;
        let attr = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC;
        let root = sys::fsmount(fs.as_fd(), attr).step(|| step("fsmount"))?;
        Self::verify(root, "procfs (subset=pid)")
    }

    fn verify(root: OwnedFd, shown: &str) -> Result<Procfs> {
        let fs = fstatfs(&root).step(|| format!("fstatfs({shown:?})"))?;
        let st = nix::sys::stat::fstat(&root).step(|| format!("fstat({shown:?})"))?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO {
            return Err(Error::Other(format!(
                "{shown:?} is not the root of a procfs: refusing to use it"
            )));
        }
        Ok(Procfs { root })
    }

    /// `<pid>/rest` for the calling process (its pid in this procfs's namespace).
    pub fn own(rest: &str) -> PathBuf {
        Path::new(&nix::unistd::getpid().to_string()).join(rest)
    }

    /// Open `path` (relative, e.g. `sys/net/ipv4/ip_forward`) beneath the procfs
    /// root: no symlink or magic link is followed, no mount crossed.
    pub fn open_at(&self, path: &Path, flags: OFlag) -> Result<OwnedFd> {
        sys::openat2(
            &self.root,
            path,
            flags | OFlag::O_NOFOLLOW,
            sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_XDEV,
        )
        .step(|| format!("openat2(\"/proc/{}\", RESOLVE_BENEATH)", path.display()))
    }

    /// Reopen one of the calling process's fds (`/proc/<pid>/fd/N`) with `flags`:
    /// the magic link is followed only here, beneath the verified procfs.
    pub fn reopen_fd(&self, fd: impl AsFd, flags: OFlag) -> Result<OwnedFd> {
        use std::os::fd::AsRawFd;
        let dir = self.open_at(&Self::own("fd"), OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        let n = fd.as_fd().as_raw_fd().to_string();
        nix::fcntl::openat(&dir, n.as_str(), flags | OFlag::O_CLOEXEC, Mode::empty())
            .step(|| format!("open(\"/proc/self/fd/{n}\")"))
    }

    /// Write `value` to a procfs file (`sys/...`, [`Procfs::own`]`("oom_score_adj")`).
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
        let fd = p.open_at(&Procfs::own("status"), OFlag::O_RDONLY).unwrap();
        let text = std::fs::read_to_string(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .unwrap();
        assert!(text.contains(&format!("Pid:\t{}", std::process::id())));
        // Magic links (fd/N, exe, root, cwd) are refused on the plain path ...
        let e = p
            .open_at(&Procfs::own("root/etc"), OFlag::O_PATH)
            .unwrap_err();
        assert!(e.to_string().contains("ELOOP"), "{e}");
        // ... and so are procfs's own symlinks ("self").
        assert!(p
            .open_at(Path::new("self/status"), OFlag::O_RDONLY)
            .is_err());
        // ... and so is climbing out.
        assert!(p.open_at(Path::new("../etc"), OFlag::O_PATH).is_err());
        // A directory that is not a procfs root is refused.
        let tmp = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        assert!(Procfs::verify(tmp, "/").is_err());
    }

    /// The private instance shows processes only: nothing global to leak.
    #[test]
    fn private_procfs_has_no_sys() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP: mounting a procfs needs root");
            return;
        }
        let p = Procfs::private().unwrap();
        p.open_at(&Procfs::own("status"), OFlag::O_RDONLY).unwrap();
        assert!(p.open_at(Path::new("sys/kernel"), OFlag::O_PATH).is_err());
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
