//! Safe path resolution inside the container's root.
//!
//! The rootfs is opened once as an `O_PATH` directory fd; every container path is
//! resolved relative to it with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so a
//! symlink in the image (`/etc -> /host/etc`, `../../..`) can never lead out of the root.
//! Missing components are created one at a time relative to the fd of their already
//! resolved parent, never by joining strings into a host path.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};

use super::sys;
use crate::error::{Context, Error, Result};

/// How many symlinks one creating walk may expand (the kernel's limit).
const MAX_SYMLINKS: usize = 40;

/// What to create when the last component of a path is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory (mode 0755).
    Dir,
    /// An empty regular file (mode 0644), as a mount point for a file bind mount.
    File,
}

/// Lexically clean an absolute container path: drop `.` and empty components and
/// apply `..` (never above `/`). The result is absolute.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A container path made relative (no leading `/`), `.` for the root itself.
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// A directory used as the root for resolution: an `O_PATH` fd plus its host path
/// (for error messages only).
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
    host: PathBuf,
}

impl Root {
    /// Open `host` (a directory) as the root for resolution.
    pub(crate) fn open(host: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            host,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .step(|| format!("open({host:?}, O_PATH|O_DIRECTORY)"))?;
        Ok(Root {
            fd,
            host: host.to_path_buf(),
        })
    }

    /// The host path of `path` inside this root, for messages (never for system calls).
    pub(crate) fn display(&self, path: &Path) -> PathBuf {
        self.host.join(relative(path))
    }

    /// Resolve `path` (a container path) inside the root, following symlinks only
    /// within it. `extra` is OR-ed into `O_PATH`-less flags (pass `O_PATH` to get a handle).
    pub(crate) fn open_in(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        sys::openat2(
            &self.fd,
            &relative(path),
            flags | OFlag::O_CLOEXEC,
            sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS,
        )
    }

    /// Resolve `path` inside the root with the given `RESOLVE_*` flags.
    pub(crate) fn open_with(
        &self,
        path: &Path,
        flags: OFlag,
        resolve: u64,
    ) -> nix::Result<OwnedFd> {
        sys::openat2(&self.fd, &relative(path), flags | OFlag::O_CLOEXEC, resolve)
    }

    /// Resolve `path` inside the root to an `O_PATH` handle.
    pub(crate) fn resolve(&self, path: &Path) -> Result<OwnedFd> {
        self.open_in(path, OFlag::O_PATH)
            .step(|| format!("openat2({:?}, RESOLVE_IN_ROOT)", self.display(path)))
    }

    /// Like [`Root::resolve`], but `Ok(None)` when the path does not exist.
    pub(crate) fn resolve_opt(&self, path: &Path) -> Result<Option<OwnedFd>> {
        match self.open_in(path, OFlag::O_PATH) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(Error::sys(
                format!("openat2({:?}, RESOLVE_IN_ROOT)", self.display(path)),
                e,
            )),
        }
    }

    /// Resolve `path` inside the root, creating what is missing: parent directories,
    /// and the last component as `kind`. Returns an `O_PATH` handle on the result.
    pub(crate) fn create(&self, path: &Path, kind: Kind) -> Result<OwnedFd> {
        if let Some(fd) = self.resolve_opt(path)? {
            return Ok(fd);
        }
        self.walk_create(path, kind)
            .step(|| format!("create {:?} in the rootfs", self.display(path)))
    }

    /// Resolve the parent of `path` (creating directories) and return it with the last
    /// component's name. `path` must not be `/`.
    pub(crate) fn create_parent(&self, path: &Path) -> Result<(OwnedFd, OsString)> {
        let name = path
            .file_name()
            .ok_or_else(|| Error::Other(format!("{path:?}: no file name")))?
            .to_os_string();
        let parent = path.parent().unwrap_or(Path::new("/"));
        Ok((self.create(parent, Kind::Dir)?, name))
    }

    /// The component-by-component walk behind [`Root::create`]. `..` is applied to the
    /// stack of already opened directories (so it can never climb above the root), a
    /// symlink is expanded into the remaining components (an absolute one restarts at
    /// the root), and a missing component is created relative to its parent's fd.
    fn walk_create(&self, path: &Path, kind: Kind) -> nix::Result<OwnedFd> {
        let mut todo: VecDeque<OsString> = components(path);
        let mut stack: Vec<OwnedFd> = vec![self.fd.try_clone().map_err(io_errno)?];
        let mut links = 0;
        let mut creates = 0;
        while let Some(name) = todo.pop_front() {
            if name == "." {
                continue;
            }
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let last = todo.is_empty();
            let parent = stack.last().expect("stack holds the root");
            match openat(
                parent,
                name.as_os_str(),
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => {
                    let st = fstat(&fd)?;
                    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
                        SFlag::S_IFLNK => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return Err(Errno::ELOOP);
                            }
                            let target = PathBuf::from(nix::fcntl::readlinkat(&fd, "")?);
                            if target.is_absolute() {
                                stack.truncate(1);
                            }
                            for c in components(&target).into_iter().rev() {
                                todo.push_front(c);
                            }
                        }
                        SFlag::S_IFDIR => stack.push(fd),
                        _ if last => return Ok(fd),
                        _ => return Err(Errno::ENOTDIR),
                    }
                }
                Err(Errno::ENOENT) => {
                    creates += 1;
                    if creates > 256 {
                        return Err(Errno::ELOOP);
                    }
                    let made = if last && kind == Kind::File {
                        openat(
                            parent,
                            name.as_os_str(),
                            OFlag::O_CREAT
                                | OFlag::O_EXCL
                                | OFlag::O_NOFOLLOW
                                | OFlag::O_WRONLY
                                | OFlag::O_CLOEXEC,
                            Mode::from_bits_truncate(0o644),
                        )
                        .map(drop)
                    } else {
                        mkdirat(parent, name.as_os_str(), Mode::from_bits_truncate(0o755))
                    };
                    match made {
                        Ok(()) | Err(Errno::EEXIST) => todo.push_front(name),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(stack.pop().expect("stack holds the root"))
    }
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsStr::new("..").to_os_string()),
            _ => None,
        })
        .collect()
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The host path an fd refers to (readlink of `/proc/self/fd/N`), for checks after
/// resolution.
pub(crate) fn fd_host_path(fd: impl AsFd) -> Result<PathBuf> {
    let p = sys::fd_path(fd);
    nix::fcntl::readlink(p.as_str())
        .map(PathBuf::from)
        .step(|| format!("readlink({p:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_is_lexical_and_stays_absolute() {
        assert_eq!(clean(Path::new("/a/./b//c/")), PathBuf::from("/a/b/c"));
        assert_eq!(clean(Path::new("/../../etc")), PathBuf::from("/etc"));
        assert_eq!(clean(Path::new("/a/b/../c")), PathBuf::from("/a/c"));
        assert_eq!(clean(Path::new("/")), PathBuf::from("/"));
    }

    #[test]
    fn relative_strips_root() {
        assert_eq!(relative(Path::new("/a/b")), PathBuf::from("a/b"));
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
    }

    #[test]
    fn walk_stays_inside_root_unprivileged() {
        // Plain directories, no mounts: works as any user.
        let dir = crate::rootfs::tests_support::TempDir::new("resolve");
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../real", root.join("up")).unwrap();
        std::os::unix::fs::symlink("/nowhere/deeper", root.join("dangling")).unwrap();
        let r = Root::open(&root).unwrap();
        r.create(Path::new("/abs/x/y"), Kind::Dir).unwrap();
        assert!(root.join("real/x/y").is_dir());
        r.create(Path::new("/up/f"), Kind::File).unwrap();
        assert!(root.join("real/f").is_file());
        r.create(Path::new("/dangling/z"), Kind::Dir).unwrap();
        assert!(root.join("nowhere/deeper/z").is_dir());
        let fd = r.create(Path::new("/a/../../b"), Kind::Dir).unwrap();
        assert_eq!(
            fd_host_path(&fd).unwrap(),
            root.canonicalize().unwrap().join("b")
        );
    }
}
