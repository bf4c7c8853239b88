//! Terminals: a pty made inside the container's devpts, made the process's
//! controlling terminal, and its master end handed to the caller, either
//! through `--console-socket` (one `sendmsg` with the fd as SCM_RIGHTS and
//! the name as payload, exactly as runc) or kept for a foreground relay.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};

use crate::error::{Context, Error, Result};

/// A pty: the master for the caller, the slave for the process.
#[derive(Debug)]
pub struct Pty {
    /// Master end.
    pub master: OwnedFd,
    /// Slave end.
    pub slave: OwnedFd,
    /// The slave's path inside the container (`/dev/pts/N`).
    pub name: String,
}

mod ioctl {
    nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);
    nix::ioctl_read_bad!(get_winsize, libc::TIOCGWINSZ, libc::winsize);
}
use ioctl::{get_winsize, set_winsize};

/// Open a pty on `/dev/ptmx` of the current mount namespace (inside the
/// container, its own devpts instance), sized `rows` x `cols` if given.
pub fn open_pty(size: Option<(u16, u16)>) -> Result<Pty> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .step(|| "open(/dev/ptmx)".into())?;
    grantpt(&master).step(|| "grantpt".into())?;
    unlockpt(&master).step(|| "unlockpt".into())?;
    let name = ptsname_r(&master).step(|| "ptsname".into())?;
    // TIOCGPTPEER opens the slave from the master, not by a path a process
    // in the container could swap.
    // SAFETY: ioctl on our master fd; returns a new fd or -1.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::sys("ioctl(TIOCGPTPEER)", Errno::last()));
    }
    // SAFETY: a fresh fd we now own.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: PtyMaster owns a valid fd; we take it over.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    if let Some((rows, cols)) = size {
        set_window_size(slave.as_fd(), rows, cols)?;
    }
    Ok(Pty {
        master,
        slave,
        name,
    })
}

/// Make `slave` the controlling terminal and stdio of the calling process.
pub fn make_controlling(slave: BorrowedFd) -> Result<()> {
    nix::unistd::setsid().step(|| "setsid".into())?;
    // SAFETY: TIOCSCTTY on our slave fd with argument 0.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(Error::sys("ioctl(TIOCSCTTY)", Errno::last()));
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the stdio numbers of the calling process.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(Error::sys(format!("dup2(pty, {target})"), Errno::last()));
        }
    }
    Ok(())
}

/// Set a terminal's window size.
pub fn set_window_size(fd: BorrowedFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: a valid winsize for TIOCSWINSZ on a terminal fd.
    unsafe { set_winsize(fd.as_raw_fd(), &ws) }
        .map(drop)
        .step(|| "ioctl(TIOCSWINSZ)".into())
}

/// A terminal's window size (rows, cols).
pub fn window_size(fd: BorrowedFd) -> Result<(u16, u16)> {
    // SAFETY: winsize is plain data; the ioctl fills it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into `ws`.
    unsafe { get_winsize(fd.as_raw_fd(), &mut ws) }.step(|| "ioctl(TIOCGWINSZ)".into())?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Send the pty master to the `--console-socket` as runc does: connect,
/// one `sendmsg` carrying the fd (SCM_RIGHTS) with `/dev/ptmx` as payload.
pub fn send_console(socket_path: &Path, master: BorrowedFd) -> Result<()> {
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .step(|| "socket(AF_UNIX)".into())?;
    let addr = UnixAddr::new(socket_path).step(|| format!("--console-socket {socket_path:?}"))?;
    connect(sock.as_raw_fd(), &addr).step(|| format!("connect({socket_path:?})"))?;
    let payload = b"/dev/ptmx";
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(payload)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .step(|| format!("sendmsg({socket_path:?}, SCM_RIGHTS)"))?;
    Ok(())
}
