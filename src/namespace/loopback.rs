//! Bringing up `lo` in a new network namespace, as runc does.

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use std::os::fd::AsRawFd;

use crate::error::{Context, Error, Result};

nix::ioctl_readwrite_bad!(get_if_flags, libc::SIOCGIFFLAGS, libc::ifreq);
nix::ioctl_write_ptr_bad!(set_if_flags, libc::SIOCSIFFLAGS, libc::ifreq);

/// Set the `lo` interface of the current network namespace up.
pub fn loopback_up() -> Result<()> {
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .step(|| "socket(AF_INET, SOCK_DGRAM)".into())?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name; the ioctl
    // fills `ifru_flags`.
    unsafe { get_if_flags(sock.as_raw_fd(), &mut req) }
        .step(|| "ioctl(lo, SIOCGIFFLAGS)".into())?;
    // SAFETY: the union member `ifru_flags` was just written by the kernel.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: `req` is a valid ifreq with the name and new flags set.
    unsafe { set_if_flags(sock.as_raw_fd(), &req) }
        .map(drop)
        .map_err(|e| Error::sys("ioctl(lo, SIOCSIFFLAGS, IFF_UP)", e))
}
