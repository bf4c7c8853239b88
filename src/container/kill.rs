//! `kill`: signal the container's init, or every process of the container.

use nix::sys::signal::Signal;

use super::lock::Lock;
use super::state::Status;
use super::Container;
use crate::error::{Error, Result};
use crate::process::PidFd;

impl Container {
    /// Send `sig` to the container process; with `all`, to every process in
    /// the container's pid namespace first.
    ///
    /// A stopped container is an error with runc's text, "container not running".
    pub fn kill(&self, sig: Signal, all: bool) -> Result<()> {
        let _lock = Lock::acquire(&self.dir)?;
        if self.status() == Status::Stopped {
            return Err(Error::State("container not running".into()));
        }
        let pidfd = PidFd::open(self.state.pid).map_err(|_| not_running())?;
        // The pidfd pins the process; check it is still ours (start time).
        if !self.state.alive() {
            return Err(not_running());
        }
        if all {
            self.signal_namespace_members(sig);
        }
        pidfd.signal(sig).map_err(|e| match e.errno() {
            Some(nix::errno::Errno::ESRCH) => not_running(),
            _ => e,
        })
    }

    /// Signal every other process that shares the init's pid namespace
    /// (only when the container has a pid namespace of its own).
    fn signal_namespace_members(&self, sig: Signal) {
        let init = self.state.pid;
        let ns_of = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let Some(ns) = ns_of(&init.to_string()) else {
            return;
        };
        if ns_of("self").as_ref() == Some(&ns) {
            return;
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if pid != init && ns_of(&pid.to_string()).as_ref() == Some(&ns) {
                if let Ok(fd) = PidFd::open(pid) {
                    let _ = fd.signal(sig);
                }
            }
        }
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
