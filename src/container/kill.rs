//! `kill`: signal the container's init, or every process of the container.

use nix::sys::signal::Signal;

use super::state::Status;
use super::Container;
use crate::error::{Error, Result};
use crate::process::PidFd;

impl Container {
    /// Send `sig` to the container process; with `all`, to every process in
    /// the container's cgroup.
    ///
    /// A stopped container is an error with runc's text, "container not running".
    pub fn kill(&self, sig: Signal, all: bool) -> Result<()> {
        let _lock = self.dir.lock()?;
        if self.status() == Status::Stopped {
            return Err(Error::State("container not running".into()));
        }
        let pidfd = PidFd::open(self.state.pid).map_err(|_| not_running())?;
        // The pidfd pins the process; check it is still ours (start time).
        if !self.state.alive() {
            return Err(not_running());
        }
        if all {
            // Through the cgroup: every process, wherever it was forked.
            return self.cgroup()?.kill_all(sig);
        }
        pidfd.signal(sig).map_err(|e| match e.errno() {
            Some(nix::errno::Errno::ESRCH) => not_running(),
            _ => e,
        })
    }
}

fn not_running() -> Error {
    Error::State("container not running".into())
}

/// Parse a signal as runc accepts it: `9`, `KILL` or `SIGKILL`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| Error::Other(format!("unknown signal {s:?}")));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse()
        .map_err(|_| Error::Other(format!("unknown signal {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }
}
