//! The parent/child sync channel: one `SOCK_SEQPACKET` socketpair, one typed
//! message per datagram, phases checked by the receiver.
//!
//! ```text
//!  runtime (parent)                               container init (child)
//!  ────────────────                               ──────────────────────
//!  socketpair(SEQPACKET|CLOEXEC)
//!  clone3(CLONE_NEW* flags,
//!         CLONE_INTO_CGROUP)  ──────────────────▶ (waits)
//!  [v1: write pid to cgroup.procs]
//!  Begin                     ───────────────────▶ [two-step: setns joined (user first),
//!                                                   unshare(USER)]
//!                            ◀─────────────────── NeedIdMaps            (new user ns only)
//!  write /proc/<pid>/{uid,gid}_map
//!  IdMapsWritten             ───────────────────▶ setresuid(0); [two-step: unshare(rest),
//!                                                   timens offsets, fork(CLONE_PARENT)]
//!                            ◀─────────────────── InitPid(pid)         (second fork only)
//!  Proceed(pid)              ───────────────────▶ lo up, hostname, mounts, devices
//!                            ◀─────────────────── RunRuntimeHooks       (if any)
//!  prestart, createRuntime
//!  HooksDone                 ───────────────────▶ createContainer hooks, pivot_root,
//!                                                   sysctl, masks, rlimits, user, caps
//!                            ◀─────────────────── Console + pty master fd (terminal only)
//!  master → --console-socket                       [no NNP: seccomp filter] user, caps,
//!                                                  [NNP: seccomp filter]
//!                            ◀─────────────────── SeccompListener + fd (notify profiles)
//!  fd + state → listenerPath
//!                            ◀─────────────────── Ready
//!  apply linux.resources to the cgroup
//!  write state.json (created)
//!  Created                   ───────────────────▶ open(exec.fifo, O_WRONLY) blocks until
//!                                                   `start`; startContainer hooks; execve
//!                            ◀─────────────────── EOF (exec'd: CLOEXEC) or Failed{..}
//! ```
//!
//! Any step of the child may instead send `Failed { step, errno, message }`
//! and exit; EOF at any other point means the peer died. The receiver checks
//! each message against what the current phase allows and rejects the rest.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, send, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// One message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Msg {
    /// parent → child: you are in the container's cgroup; begin.
    Begin,
    /// child → parent: write the id maps of my new user namespace.
    NeedIdMaps,
    /// parent → child: the id maps are written.
    IdMapsWritten,
    /// child → parent: the container init is this pid (after a second fork).
    InitPid(i32),
    /// parent → child: go on with the setup; the init's pid as the runtime sees it.
    Proceed(i32),
    /// child → parent: run the prestart and createRuntime hooks now.
    RunRuntimeHooks,
    /// parent → child: the runtime hooks succeeded.
    HooksDone,
    /// child → parent: the pty master (the fd travels as SCM_RIGHTS).
    Console,
    /// child → parent: the seccomp notify listener (fd as SCM_RIGHTS).
    SeccompListener,
    /// child → parent: setup done, waiting to be started.
    Ready,
    /// parent → child: the state is recorded; the container is created.
    Created,
    /// child → parent: a step failed; the child exits.
    Failed {
        /// The step, e.g. `mount("proc", "/proc")`.
        step: String,
        /// The errno, 0 if none.
        errno: i32,
    },
}

impl Msg {
    fn name(&self) -> &'static str {
        match self {
            Msg::Begin => "Begin",
            Msg::NeedIdMaps => "NeedIdMaps",
            Msg::IdMapsWritten => "IdMapsWritten",
            Msg::InitPid(_) => "InitPid",
            Msg::Proceed(_) => "Proceed",
            Msg::RunRuntimeHooks => "RunRuntimeHooks",
            Msg::HooksDone => "HooksDone",
            Msg::Console => "Console",
            Msg::SeccompListener => "SeccompListener",
            Msg::Ready => "Ready",
            Msg::Created => "Created",
            Msg::Failed { .. } => "Failed",
        }
    }

    /// The message a child sends for an error. The text is cut to
    /// [`MAX_ERROR_TEXT`] bytes so that the message always fits the channel (an
    /// error naming 70,000 gids once did not, and the parent saw only EOF).
    pub(crate) fn failed(err: &Error) -> Msg {
        let (step, errno) = match err {
            Error::Sys { step, errno } => (step.clone(), *errno as i32),
            other => (other.to_string(), 0),
        };
        Msg::Failed {
            step: cut(step, MAX_ERROR_TEXT),
            errno,
        }
    }
}

impl Channel {
    /// A child's last word: its error to the parent, or, when even that send
    /// fails (the parent is gone), to its own stderr, so it is never lost
    /// silently.
    pub(crate) fn report_failure(&self, err: &Error) {
        if self.send(&Msg::failed(err)).is_err() {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "testa: container setup: {err}");
        }
    }
}

/// The longest error text a child sends (the channel takes [`MAX_MSG`] bytes).
pub(crate) const MAX_ERROR_TEXT: usize = 4096;

/// `s` cut to at most `max` bytes at a character boundary, marked with "...".
fn cut(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str("...");
    s
}

/// One end of the channel.
#[derive(Debug)]
pub(crate) struct Channel {
    fd: OwnedFd,
}

const MAX_MSG: usize = 64 * 1024;

impl Channel {
    /// A connected pair: (parent end, child end).
    pub(crate) fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .step(|| "socketpair(AF_UNIX, SOCK_SEQPACKET)".into())?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Send one message.
    pub(crate) fn send(&self, msg: &Msg) -> Result<()> {
        let buf = serde_json::to_vec(msg).expect("messages always serialize");
        send(self.fd.as_raw_fd(), &buf, MsgFlags::MSG_NOSIGNAL)
            .step(|| format!("send sync message {}", msg.name()))?;
        Ok(())
    }

    /// Send one message with an fd attached (SCM_RIGHTS).
    pub(crate) fn send_fd(&self, msg: &Msg, fd: BorrowedFd) -> Result<()> {
        let buf = serde_json::to_vec(msg).expect("messages always serialize");
        let fds = [fd.as_raw_fd()];
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &[IoSlice::new(&buf)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .step(|| format!("send sync message {} with fd", msg.name()))?;
        Ok(())
    }

    /// Receive one message and the fd it carries, if any; `None` at EOF
    /// (the peer exited or exec'd).
    pub(crate) fn recv_with_fd(&self) -> Result<(Option<Msg>, Option<OwnedFd>)> {
        let mut buf = vec![0u8; MAX_MSG];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(Errno::EINTR) => continue,
                r => {
                    let m = r.step(|| "recv sync message".into())?;
                    let fd = m.cmsgs().ok().into_iter().flatten().find_map(|c| match c {
                        ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                        _ => None,
                    });
                    break (m.bytes, fd);
                }
            }
        };
        // SAFETY: the kernel installed this fd in our table for us.
        let fd = fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        if n == 0 {
            return Ok((None, fd));
        }
        let msg = serde_json::from_slice(&buf[..n])
            .map_err(|e| Error::Other(format!("sync message: {e}")))?;
        Ok((Some(msg), fd))
    }

    /// Receive one message; `None` at EOF (the peer exited or exec'd).
    pub(crate) fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_with_fd()?.0)
    }

    /// Receive a message that must carry an fd.
    pub(crate) fn expect_fd(&self, phase: &str, want: &Msg) -> Result<OwnedFd> {
        match self.recv_with_fd()? {
            (Some(m), Some(fd)) if &m == want => Ok(fd),
            (Some(Msg::Failed { step, errno }), _) => Err(child_error(step, errno)),
            (None, _) => Err(Error::Other(format!(
                "{phase}: container init exited unexpectedly"
            ))),
            (Some(m), _) => Err(Error::Other(format!(
                "{phase}: unexpected sync message {} (expected {} with an fd)",
                m.name(),
                want.name()
            ))),
        }
    }

    /// Receive the next message and check it is one `phase` allows.
    ///
    /// A `Failed` message becomes the child's error; EOF and messages out of
    /// phase are errors naming the phase.
    pub(crate) fn expect(&self, phase: &str, allowed: &[&str]) -> Result<Msg> {
        match self.recv()? {
            None => Err(Error::Other(format!(
                "{phase}: container init exited unexpectedly"
            ))),
            Some(Msg::Failed { step, errno }) => Err(child_error(step, errno)),
            Some(m) if allowed.contains(&m.name()) => Ok(m),
            Some(m) => Err(Error::Other(format!(
                "{phase}: unexpected sync message {} (expected {})",
                m.name(),
                allowed.join(" or ")
            ))),
        }
    }

    /// After `Created` without an exec FIFO: EOF means the program was
    /// executed (the socket is close-on-exec); `Failed` is the exec's error.
    pub(crate) fn wait_exec(&self) -> Result<()> {
        match self.recv()? {
            None => Ok(()),
            Some(Msg::Failed { step, errno }) => Err(child_error(step, errno)),
            Some(m) => Err(Error::Other(format!(
                "exec: unexpected sync message {}",
                m.name()
            ))),
        }
    }

    /// Receive and require exactly `want` (child side).
    pub(crate) fn wait_for(&self, want: &Msg) -> Result<()> {
        self.expect(want.name(), &[want.name()]).map(drop)
    }
}

fn child_error(step: String, errno: i32) -> Error {
    if errno == 0 {
        Error::Other(step)
    } else {
        Error::sys(step, Errno::from_raw(errno))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_huge_error_still_fits_the_channel() {
        let err = Error::Other("x".repeat(200_000));
        let Msg::Failed { step, .. } = Msg::failed(&err) else {
            unreachable!()
        };
        assert_eq!(step.len(), MAX_ERROR_TEXT);
        assert!(step.ends_with("..."));
        assert!(serde_json::to_vec(&Msg::failed(&err)).unwrap().len() < MAX_MSG);
        assert!(cut("é".repeat(3000), 4097).len() <= 4097);
    }

    use super::*;

    #[test]
    fn messages_round_trip_and_phases_are_checked() {
        let (p, c) = Channel::pair().unwrap();
        c.send(&Msg::InitPid(42)).unwrap();
        assert_eq!(p.expect("spawn", &["InitPid"]).unwrap(), Msg::InitPid(42));
        c.send(&Msg::Ready).unwrap();
        let e = p.expect("hooks", &["RunRuntimeHooks"]).unwrap_err();
        assert!(
            e.to_string().contains("unexpected sync message Ready"),
            "{e}"
        );
        c.send(&Msg::failed(&Error::sys("mount(\"proc\")", Errno::EPERM)))
            .unwrap();
        let e = p.expect("setup", &["Ready"]).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::EPERM));
        let f = std::fs::File::open("/dev/null").unwrap();
        c.send_fd(&Msg::Console, std::os::fd::AsFd::as_fd(&f))
            .unwrap();
        let fd = p.expect_fd("console", &Msg::Console).unwrap();
        assert!(
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .unwrap()
                .ends_with("null")
        );
        drop(c);
        let e = p.expect("setup", &["Ready"]).unwrap_err();
        assert!(e.to_string().contains("exited unexpectedly"), "{e}");
    }
}
