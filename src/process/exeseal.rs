//! Running from a sealed copy of our own executable (CVE-2019-5736).
//!
//! The container init and every `exec` child are clones of the runtime until they
//! `execve` the container's program: until then `/proc/<pid>/exe` is the runtime's
//! executable, and a container that reaches it (a `CAP_SYS_PTRACE` container watching
//! new pids, or a container program that *is* `/proc/self/exe`, which the kernel then
//! runs with the image's ELF interpreter) could reopen it for writing and replace the
//! host's binary. So the process that clones them must run from an executable that
//! cannot be written through `/proc/<pid>/exe`:
//!
//! ```text
//!   is_sealed()?  -- /proc/self/exe on a read-only mount, or a memfd sealed against writes
//!     yes: go on (no cost)
//!     no:  overlay: fsopen("overlay"), lowerdir+ = dir of the binary, then an empty
//!          dir (read-only overlays need two lowers), no upper, fsmount read-only,
//!          detached (attached nowhere), openat(binary)                [Linux >= 6.8]
//!          else memfd: copy the binary, seal SHRINK|GROW|WRITE|SEAL
//!          execveat(fd, "", argv, envp, AT_EMPTY_PATH)  -- the same program, sealed
//! ```
//!
//! The overlay view costs one mount and no copy (runc >= 1.2 does the same); the memfd
//! copies the binary once per call. Writes through either fail (`EROFS`, `EPERM`).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SealFlag};
use nix::mount::MsFlags;
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};
use crate::rootfs::Overlay;

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

/// Whether this process runs from an executable that cannot be written through
/// `/proc/self/exe`: a file on a read-only mount, or a memfd sealed against writes.
pub fn is_sealed() -> Result<bool> {
    // A process's executable never changes: look once (the CLI's main and the
    // library's create both ask).
    static SEALED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if let Some(sealed) = SEALED.get() {
        return Ok(*sealed);
    }
    let sealed = look_sealed()?;
    Ok(*SEALED.get_or_init(|| sealed))
}

fn look_sealed() -> Result<bool> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| "open(\"/proc/self/exe\")".into())?;
    is_sealed_fd(&exe)
}

fn is_sealed_fd(fd: &OwnedFd) -> Result<bool> {
    let st = nix::sys::statvfs::fstatvfs(fd).step(|| "fstatvfs(executable)".into())?;
    if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    match nix::fcntl::fcntl(fd, FcntlArg::F_GET_SEALS) {
        Ok(seals) => Ok(SealFlag::from_bits_truncate(seals).contains(SEALS)),
        // Not a memfd (or a kernel without seals): writable.
        Err(Errno::EINVAL) => Ok(false),
        Err(e) => Err(Error::sys("fcntl(executable, F_GET_SEALS)", e)),
    }
}

/// Make sure this process runs from a sealed executable: return at once when it
/// does, otherwise re-execute the same program (same argv and environment) from a
/// sealed view of its executable, so this call does not return on success.
///
/// Call it first thing in `main` of a program that creates containers or execs into
/// them with the direct spawn mode, while it is still single-threaded. The `testa`
/// binary does (for `create`, `run` and `exec`); `Runtime::create` and
/// `Container::exec` refuse to clone from an unsealed executable.
pub fn reexec_sealed() -> Result<()> {
    if is_sealed()? {
        return Ok(());
    }
    let fd = sealed_view()?;
    if !is_sealed_fd(&fd)? {
        return Err(Error::Other(
            "seal executable: the sealed view is still writable".into(),
        ));
    }
    let argv = cstrings(std::env::args_os())?;
    let envp = cstrings(
        std::env::vars_os().map(|(k, v)| [k, OsString::from("="), v].into_iter().collect()),
    )?;
    let err = nix::unistd::execveat(
        fd.as_fd(),
        c"",
        &argv,
        &envp,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err();
    Err(Error::sys("execveat(sealed executable)", err))
}

/// Refuse to clone container processes from an unsealed executable (`verb` names
/// the operation in the error).
pub(crate) fn require_sealed(verb: &str) -> Result<()> {
    if is_sealed()? {
        return Ok(());
    }
    Err(Error::Other(format!(
        "{verb}: this process runs from a writable executable, which the container could \
         reach through /proc/self/exe (CVE-2019-5736): call \
         testa::process::exeseal::reexec_sealed() first in main, or use RuntimeOptions::helper"
    )))
}

/// An fd of a sealed view of `/proc/self/exe`: a read-only overlay when the kernel
/// can make a detached one, else a sealed memfd copy.
pub fn sealed_view() -> Result<OwnedFd> {
    match overlay_view() {
        Ok(Some(fd)) => Ok(fd),
        Ok(None) | Err(_) => memfd_copy(),
    }
}

/// The empty directory under the binary's directory in the sealing overlay: overlayfs
/// mounts read-only (no upper) only with two lower layers, and they may not overlap.
const EMPTY_LOWER: &str = "/run/testa-exeseal";

/// A detached read-only overlay of the binary's directory (over an empty one), and
/// the binary opened beneath it. `None` when the binary's path is gone (replaced).
fn overlay_view() -> Result<Option<OwnedFd>> {
    let path = PathBuf::from(
        nix::fcntl::readlink("/proc/self/exe").step(|| "readlink(\"/proc/self/exe\")".into())?,
    );
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(None);
    };
    if !path.is_absolute() || !path.exists() {
        return Ok(None);
    }
    match nix::unistd::mkdir(EMPTY_LOWER, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::sys(format!("mkdir({EMPTY_LOWER:?})"), e)),
    }
    let mnt = Overlay::new([dir, std::path::Path::new(EMPTY_LOWER)])
        .flags(MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_NOSUID)
        .mount_fd()?;
    let fd = nix::fcntl::openat(
        &mnt,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("openat(sealed overlay, {name:?})"))?;
    Ok(Some(fd))
}

/// A memfd holding a copy of the executable, sealed against every change.
fn memfd_copy() -> Result<OwnedFd> {
    let mut exe = File::open("/proc/self/exe").map_err(|e| Error::io("open(/proc/self/exe)", e))?;
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) keeps vm.memfd_noexec from refusing the exec; older
    // kernels do not know the flag and need none.
    const MFD_EXEC: MFdFlags = MFdFlags::from_bits_retain(0x10);
    let fd = match memfd_create(c"testa", flags | MFD_EXEC) {
        Err(Errno::EINVAL) => memfd_create(c"testa", flags),
        r => r,
    }
    .step(|| "memfd_create(\"testa\")".into())?;
    let mut copy = File::from(fd);
    std::io::copy(&mut exe, &mut copy).map_err(|e| Error::io("copy executable to memfd", e))?;
    let fd = OwnedFd::from(copy);
    nix::fcntl::fcntl(&fd, FcntlArg::F_ADD_SEALS(SEALS))
        .step(|| format!("fcntl(memfd {}, F_ADD_SEALS)", fd.as_raw_fd()))?;
    Ok(fd)
}

fn cstrings(items: impl IntoIterator<Item = OsString>) -> Result<Vec<CString>> {
    items
        .into_iter()
        .map(|s| {
            CString::new(s.into_vec())
                .map_err(|_| Error::Other("seal executable: an argument holds a NUL".into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both views are read-only whatever the binary's own mount is (the test binary
    /// sits on a writable disk here).
    #[test]
    fn views_refuse_writes() {
        let memfd = memfd_copy().unwrap();
        assert!(is_sealed_fd(&memfd).unwrap());
        let reopen = format!("/proc/self/fd/{}", memfd.as_raw_fd());
        let w = std::fs::OpenOptions::new().write(true).open(&reopen);
        if let Ok(mut f) = w {
            use std::io::Write;
            assert!(f.write_all(b"x").is_err(), "a sealed memfd took a write");
        }
        if nix::unistd::geteuid().is_root() {
            match overlay_view() {
                Ok(Some(fd)) => {
                    assert!(is_sealed_fd(&fd).unwrap());
                    let reopen = format!("/proc/self/fd/{}", fd.as_raw_fd());
                    let e = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&reopen)
                        .unwrap_err();
                    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
                }
                Err(e) if e.to_string().contains("Linux 6.8") => {
                    eprintln!("SKIP overlay view: this kernel has no \"lowerdir+\": {e}")
                }
                other => panic!("overlay view: {other:?}"),
            }
        }
    }

    #[test]
    fn names_keep_their_bytes() {
        let v = cstrings([OsString::from_vec(b"a\xffb".to_vec())]).unwrap();
        assert_eq!(v[0].as_bytes(), b"a\xffb");
    }
}
