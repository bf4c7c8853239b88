//! The state root and the containers' directories, held as fds.
//!
//! `--root` is opened once; every entry in it is opened relative to that fd
//! without following a symlink, and refused unless it is a directory owned
//! by our euid (issue 10 §4: a symlink planted at `<root>/<id>` must never
//! make testa read, write or remove anything at its target). Files inside a
//! container's directory are made, read, renamed and removed relative to
//! the directory's fd; nothing here walks a path string.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::lock::Lock;
use crate::error::{Context, Error, Result};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// A directory held by an fd (shared by clones); `path` is for messages only.
#[derive(Debug, Clone)]
pub(crate) struct Dir {
    fd: Arc<OwnedFd>,
    path: PathBuf,
}

impl Dir {
    /// The state root: made (mode 0700) if missing, then opened once.
    pub(crate) fn open_root(path: &Path) -> Result<Dir> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .step(|| format!("mkdir({path:?})"))?;
        let path = path
            .canonicalize()
            .step(|| format!("canonicalize({path:?})"))?;
        let fd =
            nix::fcntl::open(&path, DIR_FLAGS, Mode::empty()).step(|| format!("open({path:?})"))?;
        Ok(Dir {
            fd: Arc::new(fd),
            path,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn at(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The entry `name`, which must be a directory owned by our euid (a
    /// symlink, a file or someone else's directory is refused).
    pub(crate) fn open_dir(&self, name: &str) -> Result<Dir> {
        let path = self.at(name);
        let fd = match openat(self.fd.as_fd(), name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Err(Error::NotExist),
            Err(Errno::ELOOP | Errno::ENOTDIR) => return Err(refused(&path)),
            Err(e) => return Err(Error::sys(format!("open({path:?})"), e)),
        };
        let st = fstat(&fd).step(|| format!("fstat({path:?})"))?;
        if st.st_uid != nix::unistd::geteuid().as_raw() {
            return Err(refused(&path));
        }
        Ok(Dir {
            fd: Arc::new(fd),
            path,
        })
    }

    /// The contents of file `name`; `None` if there is none.
    pub(crate) fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        use std::io::Read;
        let fd = match self.open(name, OFlag::O_RDONLY) {
            Err(e) if e.errno() == Some(Errno::ENOENT) => return Ok(None),
            r => r?,
        };
        let mut text = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut text)
            .step(|| format!("read({:?})", self.at(name)))?;
        Ok(Some(text))
    }

    /// Open the existing entry `name` (never through a symlink).
    pub(crate) fn open(&self, name: &str, flags: OFlag) -> Result<OwnedFd> {
        openat(
            self.fd.as_fd(),
            name,
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open({:?})", self.at(name)))
    }

    /// Write `data` to a new file `name` (mode 0600; one there is an error).
    pub(crate) fn write_new(&self, name: &str, data: &[u8]) -> Result<()> {
        use std::io::Write;
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
        let fd = openat(
            self.fd.as_fd(),
            name,
            flags,
            Mode::from_bits_truncate(0o600),
        )
        .step(|| format!("create({:?})", self.at(name)))?;
        std::fs::File::from(fd)
            .write_all(data)
            .step(|| format!("write({:?})", self.at(name)))
    }

    /// Replace file `name` atomically: a temporary file renamed over it.
    pub(crate) fn write_atomic(&self, name: &str, data: &[u8]) -> Result<()> {
        let tmp = format!(".{name}.tmp");
        self.remove(&tmp)?;
        self.write_new(&tmp, data)?;
        renameat(self.fd.as_fd(), tmp.as_str(), self.fd.as_fd(), name)
            .step(|| format!("rename({:?}, {:?})", self.at(&tmp), self.at(name)))
    }

    /// Whether there is an entry `name` (a symlink counts, unfollowed).
    pub(crate) fn has(&self, name: &str) -> bool {
        fstatat(
            self.fd.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .is_ok()
    }

    /// Unlink the non-directory `name`; a missing one is fine.
    pub(crate) fn remove(&self, name: &str) -> Result<()> {
        match unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::sys(format!("unlink({:?})", self.at(name)), e)),
        }
    }

    /// The names in the directory (`.` and `..` left out).
    pub(crate) fn names(&self) -> Result<Vec<String>> {
        let fd = self.open(".", OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let mut dir = nix::dir::Dir::from_fd(fd).step(|| format!("opendir({:?})", self.path))?;
        Ok(dir
            .iter()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .collect())
    }

    /// The owner of the directory.
    pub(crate) fn uid(&self) -> u32 {
        fstat(self.fd.as_fd()).map(|s| s.st_uid).unwrap_or(0)
    }

    fn same_as(&self, parent: &Dir, name: &str) -> bool {
        let (Ok(a), Ok(b)) = (
            fstat(self.fd.as_fd()),
            fstatat(
                parent.fd.as_fd(),
                name,
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
        ) else {
            return false;
        };
        (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn refused(path: &Path) -> Error {
    Error::Other(format!(
        "state entry {path:?} is not a directory owned by uid {}: refused",
        nix::unistd::geteuid()
    ))
}

/// A container's directory in the state root: `<root>/<name>`.
#[derive(Debug)]
pub(crate) struct StateDir {
    pub(crate) dir: Dir,
    root: Dir,
    name: String,
}

impl StateDir {
    /// Open `<root>/<name>` (see [`Dir::open_dir`] for what is refused).
    pub(crate) fn open(root: &Dir, name: &str) -> Result<StateDir> {
        Ok(StateDir {
            dir: root.open_dir(name)?,
            root: root.clone(),
            name: name.to_string(),
        })
    }

    /// Make a private temporary directory in `root` (mode 0700), locked,
    /// for [`StateDir::publish`] to rename into place.
    pub(crate) fn make_private(root: &Dir, name: &str) -> Result<(StateDir, Lock)> {
        nix::sys::stat::mkdirat(root.as_fd(), name, Mode::from_bits_truncate(0o700))
            .step(|| format!("mkdir({:?})", root.at(name)))?;
        let dir = StateDir::open(root, name)?;
        let lock = Lock::acquire(dir.dir.as_fd(), dir.dir.path())?;
        Ok((dir, lock))
    }

    /// Rename this (locked, private) directory to `<root>/<name>`: atomic,
    /// and `EEXIST` if the name is taken. Mode 0711 once published, as
    /// runc's.
    pub(crate) fn publish(&mut self, name: &str) -> nix::Result<()> {
        nix::sys::stat::fchmod(self.dir.as_fd(), Mode::from_bits_truncate(0o711))?;
        nix::fcntl::renameat2(
            self.root.as_fd(),
            self.name.as_str(),
            self.root.as_fd(),
            name,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        )?;
        self.name = name.to_string();
        self.dir.path = self.root.at(name);
        Ok(())
    }

    /// Take the lock, waiting; `NotExist` if the directory was removed (or
    /// replaced) while we waited, so a lock holder always holds the entry.
    pub(crate) fn lock(&self) -> Result<Lock> {
        let lock = Lock::acquire(self.dir.as_fd(), self.dir.path())?;
        self.check_linked()?;
        Ok(lock)
    }

    /// Take the lock if it is free.
    pub(crate) fn try_lock(&self) -> Result<Option<Lock>> {
        match Lock::try_acquire(self.dir.as_fd(), self.dir.path())? {
            Some(lock) => self.check_linked().map(|()| Some(lock)),
            None => Ok(None),
        }
    }

    fn check_linked(&self) -> Result<()> {
        if self.dir.same_as(&self.root, &self.name) {
            Ok(())
        } else {
            Err(Error::NotExist)
        }
    }

    /// Remove the directory and its files by fds, `last` (the state) after
    /// the others, so a removal cut short still leaves a directory that
    /// `delete --force` recognises. The caller holds the lock.
    pub(crate) fn remove(&self, last: &str) -> Result<()> {
        let mut names = self.dir.names()?;
        names.sort_by_key(|n| n == last);
        for n in names {
            self.dir.remove(&n)?;
        }
        match unlinkat(
            self.root.as_fd(),
            self.name.as_str(),
            UnlinkatFlags::RemoveDir,
        ) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(Error::sys(format!("rmdir({:?})", self.dir.path), e)),
        }
    }

    /// The raw fd of the directory (which a forked child must not keep).
    pub(crate) fn raw_fd(&self) -> i32 {
        self.dir.as_fd().as_raw_fd()
    }
}
