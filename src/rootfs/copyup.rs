//! podman's `tmpcopyup`: copy what the image has in a directory into the tmpfs just
//! mounted over it. The old content stays reachable through a directory fd opened
//! before the mount, so no temporary mount point is needed.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, mknodat, FileStat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

use super::sys;

/// Set the permission bits of what `fd` (possibly `O_PATH`) refers to.
pub(crate) fn set_mode(fd: impl AsFd, mode: u32) -> nix::Result<()> {
    std::fs::set_permissions(sys::fd_path(fd), std::fs::Permissions::from_mode(mode))
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

fn own(dir: impl AsFd, name: &CStr, st: &FileStat) -> nix::Result<()> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Copy the content of directory `src` (opened for reading) into directory `dst`
/// (any fd), recursively: files, directories, symlinks, device nodes and fifos, with
/// owner and mode. Sockets are skipped.
pub(crate) fn copy_dir(src: &OwnedFd, dst: &OwnedFd) -> nix::Result<()> {
    let mut dir = Dir::from_fd(src.try_clone().map_err(io_errno)?)?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let name = name.as_c_str();
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
        match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFDIR => {
                mkdirat(dst, name, Mode::from_bits_truncate(0o700))?;
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                copy_dir(&s, &d)?;
                own(dst, name, &st)?;
                set_mode(&d, perm.bits())?;
            }
            SFlag::S_IFREG => {
                let s = openat(
                    src,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst,
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                let mut s = std::fs::File::from(s);
                let mut d = std::fs::File::from(d);
                std::io::copy(&mut s, &mut d).map_err(io_errno)?;
                own(dst, name, &st)?;
                d.set_permissions(std::fs::Permissions::from_mode(perm.bits()))
                    .map_err(io_errno)?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name)?;
                symlinkat(target.as_os_str(), dst, name)?;
                own(dst, name, &st)?;
            }
            kind @ (SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO) => {
                mknodat(dst, name, kind, perm, st.st_rdev)?;
                own(dst, name, &st)?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_a_tree_unprivileged() {
        let t = crate::rootfs::tests_support::TempDir::new("copyup");
        let a = t.path().join("a");
        let b = t.path().join("b");
        std::fs::create_dir_all(a.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("sub/f"), b"hello").unwrap();
        std::fs::set_permissions(a.join("sub/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("sub/f", a.join("link")).unwrap();
        let o = |p: &std::path::Path| {
            nix::fcntl::open(p, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap()
        };
        copy_dir(&o(&a), &o(&b)).unwrap();
        assert_eq!(std::fs::read(b.join("sub/f")).unwrap(), b"hello");
        let md = std::fs::metadata(b.join("sub/f")).unwrap();
        assert_eq!(md.permissions().mode() & 0o7777, 0o640);
        assert!(b.join("sub/deeper").is_dir());
        assert_eq!(
            std::fs::read_link(b.join("link")).unwrap(),
            std::path::PathBuf::from("sub/f")
        );
    }
}
