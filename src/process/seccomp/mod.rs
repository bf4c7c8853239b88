//! Seccomp: OCI `linux.seccomp` profiles compiled to classic BPF in pure Rust,
//! installed with our own `seccomp(2)` call, with `SCMP_ACT_NOTIFY` listeners
//! handed to the agent at `listenerPath`.
//!
//! ```no_run
//! # fn main() -> testa::error::Result<()> {
//! use testa::process::seccomp::{self, Filter};
//! let profile = seccomp::parse_profile(r#"{"defaultAction":"SCMP_ACT_ALLOW",
//!     "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#)?;
//! let filter = Filter::compile(&profile)?; // cacheable, Clone
//! println!("{} instructions", filter.instructions().len());
//! // after prctl(PR_SET_NO_NEW_PRIVS) or with CAP_SYS_ADMIN:
//! let listener = filter.install()?; // Some(fd) when the profile uses SCMP_ACT_NOTIFY
//! # Ok(()) }
//! ```
//!
//! # Why our own generator (and not `seccompiler`)
//!
//! `seccompiler` 0.5 gives one match action per filter, kills on any foreign
//! architecture, knows no flags, no `SCMP_ACT_NOTIFY`, no x32/i386 and always
//! sets NO_NEW_PRIVS when installing. Composing several of its filters would
//! still not give libseccomp's rule semantics, so this module carries a small
//! generator of its own (~600 lines): libseccomp's rule database merged as
//! libseccomp merges it (see `rules.rs`), x86_64 + x32 + i386 syscall tables
//! (generated from the kernel headers), and a layout that binary-searches
//! syscall-number intervals so that podman's ~400-syscall profile for three
//! ABIs stays far under the kernel's 4096-instruction limit.
//!
//! # Semantics (runc + libseccomp, which are the reference)
//!
//! - Architecture first: x86_64 always has a section; `SCMP_ARCH_X86` and
//!   `SCMP_ARCH_X32` in `architectures` add those ABIs, filtered by the same rules
//!   with their own numbers. Any other architecture value in `seccomp_data`
//!   gets libseccomp's bad-arch action, `SECCOMP_RET_KILL_THREAD`; so do x32
//!   calls when x32 is not listed (except syscall `-1`). Little-endian foreign
//!   architectures in the list are accepted and change nothing; big-endian
//!   ones are refused, as libseccomp refuses to mix them.
//! - Actions: `SCMP_ACT_KILL` is KILL_THREAD; ERRNO and TRACE default to EPERM;
//!   a rule whose action equals the default action is skipped (runc).
//! - A rule's conditions are ANDed 64-bit comparisons (high word, then low
//!   word); on i386 and x32 only the low 32 bits are compared (libseccomp). When
//!   one argument is tested twice, each test becomes its own rule (runc).
//! - Several rules on one syscall: an unconditional rule wins over conditional
//!   ones; conditional rules are tried in libseccomp's tree order, the first
//!   that matches decides; identical tests with different actions are a
//!   configuration error (libseccomp's EEXIST).
//! - i386 socket and IPC calls also match through `socketcall(2)` / `ipc(2)`
//!   with argument 0 = the sub-call (libseccomp).
//! - runc's `-ENOSYS` stub: unless the default action is ALLOW, LOG or TRACE,
//!   syscall numbers above the largest one the profile names (per listed ABI)
//!   fail with ENOSYS, so that newer syscalls fall back cleanly in libc.
//! - Names unknown to every ABI of the filter are skipped and listed in
//!   [`Filter::unknown_syscalls`] (for a debug log), not an error.

mod arch;
mod bpf;
mod compile;
mod gen;
mod install;
mod profile;
mod rules;
mod tables;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_install;
#[cfg(test)]
mod tests_profiles;

use std::fmt;
use std::os::fd::OwnedFd;

use oci_spec::runtime::LinuxSeccomp;

use crate::error::{Error, Result};

pub use arch::Abi;
pub use bpf::MAX_INSNS;
pub use install::{notify_receive, notify_respond, send_listener};
pub use profile::{from_docker_profile, parse_profile, PODMAN_DEFAULT_CAPS, PODMAN_PROFILE_PATH};

/// `SECCOMP_FILTER_FLAG_*` bits passed to `seccomp(SECCOMP_SET_MODE_FILTER)`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FilterFlags(u32);

impl FilterFlags {
    /// Synchronize all threads of the process to the filter.
    pub const TSYNC: FilterFlags = FilterFlags(1 << 0);
    /// Log every action but ALLOW.
    pub const LOG: FilterFlags = FilterFlags(1 << 1);
    /// Disable the speculative store bypass mitigation.
    pub const SPEC_ALLOW: FilterFlags = FilterFlags(1 << 2);
    /// Return a notification listener fd (set when a rule uses `SCMP_ACT_NOTIFY`).
    pub const NEW_LISTENER: FilterFlags = FilterFlags(1 << 3);
    /// With TSYNC: fail with ESRCH instead of returning a thread id (the kernel
    /// requires it to combine TSYNC with NEW_LISTENER; added automatically).
    pub const TSYNC_ESRCH: FilterFlags = FilterFlags(1 << 4);
    /// Notified tasks wait killably once the agent received the notification.
    pub const WAIT_KILLABLE_RECV: FilterFlags = FilterFlags(1 << 5);

    const NAMES: [(FilterFlags, &'static str); 6] = [
        (Self::TSYNC, "TSYNC"),
        (Self::LOG, "LOG"),
        (Self::SPEC_ALLOW, "SPEC_ALLOW"),
        (Self::NEW_LISTENER, "NEW_LISTENER"),
        (Self::TSYNC_ESRCH, "TSYNC_ESRCH"),
        (Self::WAIT_KILLABLE_RECV, "WAIT_KILLABLE_RECV"),
    ];

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: FilterFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for FilterFlags {
    type Output = FilterFlags;
    fn bitor(self, rhs: FilterFlags) -> FilterFlags {
        FilterFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for FilterFlags {
    /// `SECCOMP_FILTER_FLAG_LOG|SECCOMP_FILTER_FLAG_NEW_LISTENER`, or `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = Self::NAMES
            .iter()
            .filter(|(bit, _)| self.contains(*bit))
            .map(|(_, n)| format!("SECCOMP_FILTER_FLAG_{n}"))
            .collect();
        if names.is_empty() {
            f.write_str("0")
        } else {
            f.write_str(&names.join("|"))
        }
    }
}

impl fmt::Debug for FilterFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A compiled seccomp filter: the BPF program and the flags to load it with.
/// Compiling does not touch the process; the value can be cached and cloned.
#[derive(Clone)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: FilterFlags,
    unknown: Vec<String>,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &self.flags)
            .field("unknown_syscalls", &self.unknown)
            .finish()
    }
}

impl Filter {
    /// Compile an OCI profile. Every problem (an argument index over 5, an
    /// empty `names`, conflicting rules, NOTIFY as default action or on `write`,
    /// a program over [`MAX_INSNS`]) is an [`Error::Config`] naming the field,
    /// e.g. `linux.seccomp.syscalls[3].args[0].index: ...`.
    pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter> {
        let plan = compile::plan(seccomp)?;
        let program = gen::generate(&plan);
        if program.len() > MAX_INSNS {
            return Err(Error::config(
                "linux.seccomp",
                format!(
                    "the filter needs {} BPF instructions, the kernel allows {MAX_INSNS}",
                    program.len()
                ),
            ));
        }
        Ok(Filter {
            program,
            flags: plan.flags,
            unknown: plan.unknown,
        })
    }

    /// Parse ([`parse_profile`]) and compile an OCI `linux.seccomp` JSON object.
    pub fn compile_json(json: &str) -> Result<Filter> {
        Filter::compile(&parse_profile(json)?)
    }

    /// Add filter flags beyond the profile's. TSYNC with NEW_LISTENER gets
    /// TSYNC_ESRCH.
    pub fn with_flags(mut self, extra: FilterFlags) -> Filter {
        self.flags = self.flags | extra;
        if self
            .flags
            .contains(FilterFlags::TSYNC | FilterFlags::NEW_LISTENER)
        {
            self.flags = self.flags | FilterFlags::TSYNC_ESRCH;
        }
        self
    }

    /// The BPF program.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// The flags [`Filter::install`] passes to `seccomp(2)`.
    pub fn flags(&self) -> FilterFlags {
        self.flags
    }

    /// Syscall names of the profile that no ABI of the filter knows (skipped).
    pub fn unknown_syscalls(&self) -> &[String] {
        &self.unknown
    }

    /// Whether installing returns a notification listener fd.
    pub fn has_listener(&self) -> bool {
        self.flags.contains(FilterFlags::NEW_LISTENER)
    }

    /// Load the filter into the calling thread (all threads with TSYNC).
    /// Does NOT set NO_NEW_PRIVS: without it the caller needs `CAP_SYS_ADMIN`.
    /// Returns the listener fd when the profile uses `SCMP_ACT_NOTIFY`.
    /// Allocates nothing unless it fails.
    pub fn install(&self) -> Result<Option<OwnedFd>> {
        install::load(&self.program, self.flags)
    }

    /// Run the program as the kernel would on a syscall and return the
    /// `SECCOMP_RET_*` value: `arch` is an `AUDIT_ARCH_*` value, `nr` the
    /// syscall number as in `seccomp_data.nr`.
    pub fn evaluate(&self, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        bpf::run(&self.program, &data)
    }
}
