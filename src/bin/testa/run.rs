//! `testa run`: create and start in one step; in the foreground, forward
//! signals to the container process, reap it, exit with its status and
//! delete the container (unless `--keep`).

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use testa::container::{CreateOptions, Runtime};
use testa::Error;

use crate::args::CreateArgs;
use crate::log::Logger;

pub fn run(
    rt: &Runtime,
    a: &CreateArgs,
    opts: CreateOptions,
    detach: bool,
    keep: bool,
    log: &Logger,
) -> Result<u8, Error> {
    if detach {
        let (_c, warnings) = rt.run(&a.id, &a.bundle, opts)?;
        crate::warn_all(log, warnings);
        return Ok(0);
    }
    // Block the signals we forward (and SIGCHLD) before the clone, so none
    // is lost between the spawn and the wait loop.
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
    let (c, warnings) = rt.run(&a.id, &a.bundle, opts)?;
    crate::warn_all(log, warnings);
    let code = loop {
        if let Some(code) = c.try_wait()? {
            break code;
        }
        let sig = set.wait().map_err(|e| Error::sys("sigwait", e))?;
        if sig != Signal::SIGCHLD && sig != Signal::SIGWINCH {
            log.debug(&format!("forwarding {sig} to the container"));
            if let Err(e) = c.signal(sig) {
                log.debug(&format!("forward {sig}: {e}"));
            }
        }
    };
    if !keep {
        crate::warn_all(log, c.delete(false)?);
    }
    Ok(code as u8)
}
