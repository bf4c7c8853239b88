//! Foreground processes (`run`, `exec`): forward the signals testa gets to
//! the container process, relay its terminal when it has one, reap it, and
//! exit with its status.

use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use testa::container::{CreateOptions, Runtime};
use testa::Error;

use crate::args::CreateArgs;
use crate::log::Logger;
use crate::tty::Relay;

/// Block the signals a foreground runtime forwards (and SIGCHLD) before the
/// clone, so none is lost between the spawn and the wait loop.
pub fn block_forwarded_signals() -> Result<SigSet, Error> {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGKILL,
        Signal::SIGSTOP,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
    ] {
        set.remove(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| Error::sys("sigprocmask", e))?;
    Ok(set)
}

/// Wait for the process: forward every blocked signal but SIGCHLD and
/// SIGWINCH to it, relay `console` (a pty master) to our stdio, and return
/// its status (exit code, or 128 + signal).
pub fn supervise(
    set: &SigSet,
    console: Option<OwnedFd>,
    try_wait: impl Fn() -> Result<Option<i32>, Error>,
    signal: impl Fn(Signal) -> Result<(), Error>,
    log: &Logger,
) -> Result<i32, Error> {
    let sfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::sys("signalfd", e))?;
    let mut relay = console.map(Relay::new).transpose()?;
    loop {
        if let Some(code) = try_wait()? {
            if let Some(r) = &mut relay {
                r.drain();
            }
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(r) = &relay {
            fds.extend(r.poll_fds());
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.map_err(|e| Error::sys("poll", e))?,
        };
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if let Some(r) = &mut relay {
            r.pump(&ready[1..]);
        }
        while let Ok(Some(info)) = sfd.read_signal() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            match sig {
                Signal::SIGCHLD => {}
                Signal::SIGWINCH => {
                    if let Some(r) = &relay {
                        r.copy_window_size();
                    }
                }
                sig => {
                    log.debug(&format!("forwarding {sig} to the container"));
                    if let Err(e) = signal(sig) {
                        log.debug(&format!("forward {sig}: {e}"));
                    }
                }
            }
        }
    }
}

pub fn run(
    rt: &Runtime,
    a: &CreateArgs,
    opts: CreateOptions,
    detach: bool,
    keep: bool,
    log: &Logger,
) -> Result<u8, Error> {
    let mut opts = opts;
    if detach {
        let (_c, warnings) = rt.run(&a.id, &a.bundle, opts)?;
        crate::warn_all(log, warnings);
        return Ok(0);
    }
    opts.keep_console = true;
    let set = block_forwarded_signals()?;
    let (mut c, warnings) = rt.run(&a.id, &a.bundle, opts)?;
    crate::warn_all(log, warnings);
    let console = c.take_console();
    let code = supervise(&set, console, || c.try_wait(), |s| c.signal(s), log)?;
    if !keep {
        crate::warn_all(log, c.delete(false)?);
    }
    Ok(code as u8)
}
