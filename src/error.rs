//! One error type for the whole crate.
//!
//! Every error says which step failed, on which path or field, and (for system
//! calls) the errno, so that it reads like an strace line:
//! `mount("proc", "/run/x/rootfs/proc"): EPERM: Operation not permitted`.

use nix::errno::Errno;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in testa.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed while performing `step`.
    #[error("{step}: {}: {}", errno_name(*errno), errno.desc())]
    Sys {
        /// What was being done, e.g. `mount("proc", "/x/proc")`.
        step: String,
        /// The errno the kernel returned.
        errno: Errno,
    },
    /// A field of the configuration is invalid; reported before anything is created.
    #[error("{field}: {msg}")]
    Config {
        /// The JSON path of the offending field, e.g. `linux.namespaces[2].type`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// The container does not exist (runc's text, which containerd matches).
    #[error("container does not exist")]
    NotExist,
    /// A container with this id already exists.
    #[error("container with given ID already exists: {0}")]
    Exists(String),
    /// The container is not in a state that allows the operation.
    #[error("{0}")]
    State(String),
    /// Any other failure, with a message that names the step.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// A failed system call during `step`.
    pub fn sys(step: impl Into<String>, errno: Errno) -> Self {
        Error::Sys {
            step: step.into(),
            errno,
        }
    }

    /// A failed system call, taking the errno from an `std::io::Error`.
    pub fn io(step: impl Into<String>, err: std::io::Error) -> Self {
        let errno = Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO));
        Error::sys(step, errno)
    }

    /// An invalid configuration field.
    pub fn config(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            msg: msg.into(),
        }
    }

    /// The errno behind this error, if it came from a system call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// Extension to attach a step name to `nix` results.
pub trait Context<T> {
    /// Turn an errno into an [`Error::Sys`] naming the step.
    fn step(self, step: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for nix::Result<T> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(step(), e))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(step(), e))
    }
}

/// The symbolic name of an errno (`EPERM`), as strace prints it.
pub fn errno_name(e: Errno) -> String {
    // nix's Debug output of Errno is exactly the constant's name.
    format!("{e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_error_reads_like_strace() {
        let e = Error::sys("mount(\"proc\", \"/x/proc\")", Errno::EPERM);
        assert_eq!(
            e.to_string(),
            "mount(\"proc\", \"/x/proc\"): EPERM: Operation not permitted"
        );
    }

    #[test]
    fn config_error_names_field() {
        let e = Error::config("process.args", "must not be empty");
        assert_eq!(e.to_string(), "process.args: must not be empty");
    }
}
