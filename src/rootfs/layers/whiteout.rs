//! OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`) turned into what overlayfs reads
//! in a lower layer: a `0:0` character device named `<name>`, and an `opaque` xattr
//! on the directory (`trusted.overlay.opaque=y`, `user.overlay.opaque=y` for an
//! overlay mounted with `userxattr`).

use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::UnlinkatFlags;

use crate::rootfs::sys::fd_path;

/// The OCI prefix of a whiteout file name.
pub(crate) const PREFIX: &str = ".wh.";
/// The OCI name of the opaque-directory marker.
pub(crate) const OPAQUE: &str = ".wh..wh..opq";

/// What an archive entry's file name means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Whiteout<'a> {
    /// `.wh.<name>`: `<name>` of the layers below is deleted.
    File(&'a OsStr),
    /// `.wh..wh..opq`: the directory hides everything the layers below have in it.
    Opaque,
}

/// Classify a file name; `None` for an ordinary entry.
pub(crate) fn classify(name: &OsStr) -> Option<Whiteout<'_>> {
    let b = name.as_bytes();
    if b == OPAQUE.as_bytes() {
        return Some(Whiteout::Opaque);
    }
    let rest = b.strip_prefix(PREFIX.as_bytes())?;
    Some(Whiteout::File(OsStr::from_bytes(rest)))
}

/// The xattr that marks an opaque directory.
pub(crate) fn opaque_xattr(userxattr: bool) -> &'static str {
    if userxattr {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    }
}

/// Replace whatever is at `name` in `parent` (an `O_PATH` directory fd) with an
/// overlay whiteout: a character device `0:0`.
pub(crate) fn make_whiteout(parent: &OwnedFd, name: &OsStr) -> nix::Result<()> {
    remove_any(parent, name)?;
    nix::sys::stat::mknodat(
        parent.as_fd(),
        name,
        SFlag::S_IFCHR,
        Mode::empty(),
        libc::makedev(0, 0),
    )
}

/// Mark the directory `dir` (an `O_PATH` fd) opaque.
pub(crate) fn make_opaque(dir: &OwnedFd, userxattr: bool) -> nix::Result<()> {
    let path = CString::new(fd_path(dir)).map_err(|_| Errno::EINVAL)?;
    let key = CString::new(opaque_xattr(userxattr)).map_err(|_| Errno::EINVAL)?;
    // SAFETY: valid C strings and a 1-byte buffer, all only read by the kernel; the
    // path is the fd's magic link, followed to the directory itself.
    let ret = unsafe { libc::setxattr(path.as_ptr(), key.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    Errno::result(ret).map(drop)
}

/// Remove `name` in `parent`, a directory with its whole content too; nothing there
/// is fine.
pub(crate) fn remove_any(parent: &OwnedFd, name: &OsStr) -> nix::Result<()> {
    match nix::unistd::unlinkat(parent, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EISDIR) => {
            let p = std::path::Path::new(&fd_path(parent)).join(name);
            std::fs::remove_dir_all(&p)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), Some(Whiteout::Opaque));
        assert_eq!(
            classify(OsStr::new(".wh.passwd")),
            Some(Whiteout::File(OsStr::new("passwd")))
        );
        assert_eq!(classify(OsStr::new("passwd")), None);
        assert_eq!(classify(OsStr::new(".whx")), None);
        assert_eq!(opaque_xattr(true), "user.overlay.opaque");
    }
}
