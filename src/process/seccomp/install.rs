//! Loading a filter with `seccomp(2)`, and the `SCMP_ACT_NOTIFY` listener:
//! handing it to the agent at `listenerPath`, receiving and answering
//! notifications.

use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use serde_json::{Map, Value};

use super::FilterFlags;
use crate::error::{Context, Error, Result};

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`. Never sets NO_NEW_PRIVS:
/// the caller does that (or holds `CAP_SYS_ADMIN`). Allocates only on error,
/// so it can run in a freshly cloned child.
pub(super) fn load(prog: &[libc::sock_filter], flags: FilterFlags) -> Result<Option<OwnedFd>> {
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel
    // only reads (copies) the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            libc::c_ulong::from(flags.bits()),
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        let errno = Errno::last();
        return Err(Error::sys(
            format!(
                "seccomp(SECCOMP_SET_MODE_FILTER, {flags}, {} insns)",
                prog.len()
            ),
            errno,
        ));
    }
    if flags.contains(FilterFlags::NEW_LISTENER) {
        // SAFETY: with NEW_LISTENER a successful call returns a new fd we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) }));
    }
    if ret > 0 {
        // TSYNC without TSYNC_ESRCH: the id of a thread that could not sync.
        return Err(Error::Other(format!(
            "seccomp(SECCOMP_SET_MODE_FILTER, {flags}): thread {ret} could not be synchronized"
        )));
    }
    Ok(None)
}

/// Hand the listener fd to the seccomp agent listening at `listener_path`, as the
/// runtime-spec describes: one message on a `SOCK_STREAM` connection carrying
/// the `containerProcessState` JSON (`ociVersion`, `fds: ["seccompFd"]`, `pid`,
/// `metadata`, `state`) with the fd attached as `SCM_RIGHTS`.
///
/// `state_json` is the container's state (`ociVersion`, `id`, `status`, `pid`,
/// `bundle`, `annotations`); `metadata` is `linux.seccomp.listenerMetadata`
/// (left out when empty).
pub fn send_listener(
    listener_path: &Path,
    listener_fd: BorrowedFd<'_>,
    state_json: &[u8],
    metadata: &str,
) -> Result<()> {
    let state: Value = serde_json::from_slice(state_json)
        .map_err(|e| Error::Other(format!("seccomp listener: container state: {e}")))?;
    let mut msg = Map::new();
    let version = state
        .get("ociVersion")
        .cloned()
        .unwrap_or_else(|| Value::from(oci_spec::runtime::VERSION));
    msg.insert("ociVersion".into(), version);
    msg.insert(
        "fds".into(),
        Value::from(vec![oci_spec::runtime::SECCOMP_FD_NAME]),
    );
    msg.insert(
        "pid".into(),
        state.get("pid").cloned().unwrap_or(Value::from(0)),
    );
    if !metadata.is_empty() {
        msg.insert("metadata".into(), Value::from(metadata));
    }
    msg.insert("state".into(), state);
    let bytes = serde_json::to_vec(&Value::Object(msg)).expect("a JSON value serializes");
    let path = listener_path.display();
    let mut stream = UnixStream::connect(listener_path).step(|| format!("connect({path:?})"))?;
    let fds = [listener_fd.as_raw_fd()];
    let sent = sendmsg::<UnixAddr>(
        stream.as_raw_fd(),
        &[IoSlice::new(&bytes)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .step(|| format!("sendmsg({path:?}, SCM_RIGHTS)"))?;
    if sent < bytes.len() {
        stream
            .write_all(&bytes[sent..])
            .step(|| format!("write({path:?})"))?;
    }
    Ok(())
}

/// Wait for the next notification on a listener (`SECCOMP_IOCTL_NOTIF_RECV`).
pub fn notify_receive(listener: BorrowedFd<'_>) -> Result<libc::seccomp_notif> {
    // SAFETY: seccomp_notif is plain old data; all-zero is valid and the kernel
    // requires the buffer to be zeroed.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one seccomp_notif into `req`, which we own.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut req as *mut libc::seccomp_notif,
        )
    };
    Errno::result(ret).step(|| "ioctl(SECCOMP_IOCTL_NOTIF_RECV)".to_string())?;
    Ok(req)
}

/// Answer notification `id`: the syscall returns `val`, or fails with `error`
/// (a positive errno) when it is not 0 (`SECCOMP_IOCTL_NOTIF_SEND`).
pub fn notify_respond(listener: BorrowedFd<'_>, id: u64, val: i64, error: i32) -> Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error: -error.abs(),
        flags: 0,
    };
    // SAFETY: the ioctl reads one seccomp_notif_resp from `resp`, which we own.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut libc::seccomp_notif_resp,
        )
    };
    Errno::result(ret).step(|| "ioctl(SECCOMP_IOCTL_NOTIF_SEND)".to_string())?;
    Ok(())
}
