//! Resource limits (`process.rlimits`), set with `prlimit` on the container
//! process only: the runtime's own limits are never touched.

use oci_spec::runtime::PosixRlimit;

use crate::error::{Error, Result};

/// One validated resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// `RLIMIT_*` resource number.
    pub resource: libc::c_int,
    /// Its spec name, for errors.
    pub name: &'static str,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

const RESOURCES: [(&str, libc::c_int); 16] = [
    ("RLIMIT_CPU", libc::RLIMIT_CPU as libc::c_int),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE as libc::c_int),
    ("RLIMIT_DATA", libc::RLIMIT_DATA as libc::c_int),
    ("RLIMIT_STACK", libc::RLIMIT_STACK as libc::c_int),
    ("RLIMIT_CORE", libc::RLIMIT_CORE as libc::c_int),
    ("RLIMIT_RSS", libc::RLIMIT_RSS as libc::c_int),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC as libc::c_int),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE as libc::c_int),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK as libc::c_int),
    ("RLIMIT_AS", libc::RLIMIT_AS as libc::c_int),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS as libc::c_int),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING as libc::c_int),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE as libc::c_int),
    ("RLIMIT_NICE", libc::RLIMIT_NICE as libc::c_int),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO as libc::c_int),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME as libc::c_int),
];

impl Rlimit {
    /// Validate one spec rlimit; `field` names it in errors.
    pub fn from_spec(r: &PosixRlimit, field: &str) -> Result<Rlimit> {
        let spec_name = r.typ().to_string();
        let &(name, resource) = RESOURCES
            .iter()
            .find(|(n, _)| *n == spec_name)
            .ok_or_else(|| Error::config(field, format!("unknown rlimit {spec_name}")))?;
        if r.soft() > r.hard() {
            return Err(Error::config(
                field,
                format!(
                    "{name}: soft limit {} above hard limit {}",
                    r.soft(),
                    r.hard()
                ),
            ));
        }
        Ok(Rlimit {
            resource,
            name,
            soft: r.soft(),
            hard: r.hard(),
        })
    }

    /// Apply to the calling process (the container init, before exec).
    pub fn apply(&self) -> Result<()> {
        let lim = libc::rlimit {
            rlim_cur: self.soft,
            rlim_max: self.hard,
        };
        // SAFETY: prlimit(0, ..) on the calling process with a valid rlimit
        // struct and no old-value pointer.
        let rc = unsafe { libc::prlimit(0, self.resource as _, &lim, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(Error::sys(
                format!(
                    "process.rlimits: setrlimit({}, soft {}, hard {})",
                    self.name, self.soft, self.hard
                ),
                nix::errno::Errno::last(),
            ));
        }
        Ok(())
    }
}
