//! One cgroup directory, held open: every control file is opened relative
//! to its dirfd with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, never
//! through a path string built from user input.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};

/// An open cgroup directory (any hierarchy, any version).
#[derive(Debug)]
pub struct CgroupDir {
    path: PathBuf,
    fd: OwnedFd,
}

/// `openat2(dirfd, name, flags, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)`, through the
/// crate's one `openat2` wrapper.
fn openat_beneath(dir: BorrowedFd, name: &str, flags: OFlag) -> nix::Result<OwnedFd> {
    use crate::rootfs::sys;
    sys::openat2(
        dir,
        Path::new(name),
        flags,
        sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS,
    )
}

/// Control file names are plain names such as `memory.max`; anything with a
/// path separator or `..` is refused before it reaches the kernel.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::Other(format!("invalid cgroup file name {name:?}")));
    }
    Ok(())
}

impl CgroupDir {
    /// Open an existing cgroup directory.
    pub fn open(path: &Path) -> Result<CgroupDir> {
        let fd = open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open({path:?})"))?;
        Ok(CgroupDir {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// Create the directory (and missing parents) and open it.
    pub fn create(path: &Path) -> Result<CgroupDir> {
        std::fs::create_dir_all(path).step(|| format!("mkdir({path:?})"))?;
        CgroupDir::open(path)
    }

    /// The directory's path, for messages and for `rmdir`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether control file `name` exists (i.e. the controller offers it).
    pub fn has(&self, name: &str) -> bool {
        check_name(name).is_ok() && openat_beneath(self.fd.as_fd(), name, OFlag::O_PATH).is_ok()
    }

    /// Write `value` to control file `name` in one `write`, as the kernel wants.
    pub fn write(&self, name: &str, value: &str) -> Result<()> {
        check_name(name)?;
        let step = || format!("write {:?} to {}", value, self.path.join(name).display());
        let fd =
            openat_beneath(self.fd.as_fd(), name, OFlag::O_WRONLY | OFlag::O_TRUNC).step(step)?;
        let mut f = std::fs::File::from(fd);
        f.write_all(value.as_bytes()).step(step)
    }

    /// Read control file `name` whole.
    pub fn read(&self, name: &str) -> Result<String> {
        check_name(name)?;
        let step = || format!("read {}", self.path.join(name).display());
        let fd = openat_beneath(self.fd.as_fd(), name, OFlag::O_RDONLY).step(step)?;
        let mut s = String::new();
        std::fs::File::from(fd).read_to_string(&mut s).step(step)?;
        Ok(s)
    }

    /// Read a file holding one unsigned number (`max` reads as `u64::MAX`).
    pub fn read_u64(&self, name: &str) -> Result<u64> {
        let s = self.read(name)?;
        parse_u64(s.trim()).ok_or_else(|| {
            Error::Other(format!(
                "{}: not a number: {:?}",
                self.path.join(name).display(),
                s.trim()
            ))
        })
    }

    /// Read a flat keyed file (`key value` per line, as `memory.stat`).
    pub fn read_keyed(&self, name: &str) -> Result<Vec<(String, u64)>> {
        Ok(parse_keyed(&self.read(name)?))
    }

    /// The pids in `cgroup.procs`.
    pub fn procs(&self) -> Result<Vec<i32>> {
        Ok(self
            .read("cgroup.procs")?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    /// Open a child directory by plain name.
    pub fn child(&self, name: &str) -> Result<CgroupDir> {
        check_name(name)?;
        let fd = openat_beneath(self.fd.as_fd(), name, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .step(|| format!("open({:?})", self.path.join(name)))?;
        Ok(CgroupDir {
            path: self.path.join(name),
            fd,
        })
    }
}

impl AsFd for CgroupDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Parse a cgroup number; `max` is `u64::MAX`.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

/// Parse `key value` lines.
pub fn parse_keyed(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), parse_u64(v.trim())?))
        })
        .collect()
}

/// Remove a cgroup directory, retrying while the kernel still tears down
/// the processes that were in it (`EBUSY`); a missing one is fine.
pub fn remove_dir(path: &Path) -> Result<()> {
    let mut delay = std::time::Duration::from_millis(1);
    for _ in 0..12 {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(200));
            }
            Err(e) => return Err(Error::io(format!("rmdir({path:?})"), e)),
        }
    }
    Err(Error::sys(format!("rmdir({path:?})"), Errno::EBUSY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_relative_to_the_dir() {
        let d = std::env::temp_dir().join(format!("testa-cgfs-{}", std::process::id()));
        let dir = CgroupDir::create(&d).unwrap();
        std::fs::write(d.join("pids.max"), "").unwrap();
        dir.write("pids.max", "42").unwrap();
        assert_eq!(dir.read_u64("pids.max").unwrap(), 42);
        std::fs::write(d.join("memory.stat"), "anon 5\nfile 7\n").unwrap();
        assert_eq!(
            dir.read_keyed("memory.stat").unwrap(),
            vec![("anon".to_string(), 5), ("file".to_string(), 7)]
        );
        assert!(dir.write("../escape", "1").is_err());
        assert!(dir.write("a/b", "1").is_err());
        std::os::unix::fs::symlink("/etc/hostname", d.join("link")).unwrap();
        assert!(dir.read("link").is_err(), "symlinks are not followed");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn max_parses_as_unlimited() {
        assert_eq!(parse_u64("max"), Some(u64::MAX));
        assert_eq!(parse_u64("12"), Some(12));
        assert_eq!(parse_u64("x"), None);
    }
}
