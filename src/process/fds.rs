//! File descriptors the container process may keep: stdio and the ones the
//! caller passes (`--preserve-fds`, `LISTEN_FDS`). Everything else is marked
//! close-on-exec, so the runtime's own fds (sync socket, exec FIFO, a host
//! directory) never reach the container (CVE-2024-21626).

use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::error::{Error, Result};

const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Mark every fd from `first` upwards close-on-exec (on the host: kernels
/// before 5.11 list `/proc/self/fd`).
pub fn cloexec_from(first: u32) -> Result<()> {
    cloexec_from_listing(first, || {
        std::fs::read_dir("/proc/self/fd")
            .map_err(|e| Error::io("cloexec_from: read_dir(/proc/self/fd)", e))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
    })
}

/// [`cloexec_from`] inside a container: the fallback lists this thread's fds
/// through the verified `procfs`, never through the container's `/proc`.
pub(crate) fn cloexec_from_in(first: u32, procfs: Option<&crate::rootfs::Procfs>) -> Result<()> {
    cloexec_from_listing(first, || match procfs {
        Some(p) => open_fds(p),
        None => Err(Error::Other(
            "close-on-exec of the runtime's fds: no CLOSE_RANGE_CLOEXEC and no procfs".into(),
        )),
    })
}

/// Whether the kernel has `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11).
pub(crate) fn has_close_range_cloexec() -> bool {
    // SAFETY: a range holding no open fd; only the flag is checked.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            libc::c_uint::MAX,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        ) == 0
    }
}

/// This thread's open fds, listed through `procfs`.
fn open_fds(procfs: &crate::rootfs::Procfs) -> Result<Vec<RawFd>> {
    let dir = procfs.open_at(
        &crate::rootfs::Procfs::own("fd"),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
    )?;
    let dir = nix::dir::Dir::from_fd(dir).map_err(|e| Error::sys("fdopendir(fd)", e))?;
    Ok(dir
        .into_iter()
        .filter_map(|e| e.ok()?.file_name().to_str().ok()?.parse().ok())
        .collect())
}

fn cloexec_from_listing(first: u32, list: impl FnOnce() -> Result<Vec<RawFd>>) -> Result<()> {
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11 have no CLOSE_RANGE_CLOEXEC: mark them one by one.
    for fd in list()?.into_iter().filter(|fd| *fd >= first as RawFd) {
        // SAFETY: F_SETFD on an fd number; an already closed fd gives EBADF.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0
            && Errno::last() != Errno::EBADF
        {
            return Err(Error::sys(format!("fcntl({fd}, F_SETFD)"), Errno::last()));
        }
    }
    Ok(())
}

/// Check that the caller really passed fds `3..3+count` (`--preserve-fds`,
/// `LISTEN_FDS`) and that none of them is one of the runtime's own long-lived
/// fds (`own`, e.g. the state root's): an fd number the caller left free would
/// otherwise be filled by one of ours and handed to the container. The CLI
/// calls it before it opens anything; the library again before it clones.
/// Asks `fcntl(F_GETFD)`, which opens nothing itself.
pub fn check_passed(count: u32, own: &[RawFd]) -> Result<()> {
    check_open(3, count, own)
}

fn check_open(first: i32, count: u32, own: &[RawFd]) -> Result<()> {
    for fd in first..first + count as i32 {
        // runc: "unable to stat preserved-fd N (of M)".
        let what = || {
            format!(
                "--preserve-fds: fd {fd} was not passed (unable to stat preserved-fd {} (of {count}))",
                fd - first
            )
        };
        if own.contains(&fd) {
            return Err(Error::Other(format!("{}: it is the runtime's own", what())));
        }
        // SAFETY: F_GETFD only reads the flags of an fd number.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(Error::sys(what(), Errno::last()));
        }
    }
    Ok(())
}

/// Make the passed fds `3..3+count` survive exec (clear `FD_CLOEXEC`).
pub fn keep_passed(count: u32) -> Result<()> {
    for fd in 3..3 + count as i32 {
        // SAFETY: F_SETFD on an fd number the caller handed us.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
            return Err(Error::sys(
                format!("--preserve-fds: fd {fd} is not open"),
                Errno::last(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn open_fds_are_listed_through_procfs() {
        let procfs = crate::rootfs::Procfs::open().unwrap();
        assert!(has_close_range_cloexec(), "Linux >= 5.11 here");
        let (r, w) = nix::unistd::pipe().unwrap();
        let fds = open_fds(&procfs).unwrap();
        assert!(
            fds.contains(&r.as_raw_fd()) && fds.contains(&w.as_raw_fd()),
            "{fds:?}"
        );
        assert!(fds.contains(&0));
    }

    #[test]
    fn an_unpassed_fd_is_named() {
        let f = std::fs::File::open("/dev/null").unwrap();
        check_open(f.as_raw_fd(), 1, &[]).unwrap();
        let e = check_open(f.as_raw_fd(), 1, &[f.as_raw_fd()]).unwrap_err();
        assert!(e.to_string().ends_with("it is the runtime's own"), "{e}");
        // Far above anything a test process opens.
        let e = check_open(900_000, 2, &[]).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "--preserve-fds: fd 900000 was not passed (unable to stat preserved-fd 0 (of 2)): \
                 EBADF"
            ),
            "{e}"
        );
        check_passed(0, &[]).unwrap();
    }
}
