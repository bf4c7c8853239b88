//! The container process: how it is spawned (`clone3`, the sync channel, the
//! init steps) and its attributes (user, capabilities, rlimits, fds, hooks).

mod attributes;
mod channel;
pub(crate) mod clone;
pub mod console;
pub(crate) mod enter;
mod exec;
pub mod exeseal;
mod fds;
mod hooks;
mod identity;
pub(crate) mod init;
pub mod lsm;
mod pidfd;
mod plan;
mod rlimits;
pub mod seccomp;
pub(crate) mod spawn;

pub use fds::{check_passed as check_passed_fds, cloexec_from};
pub use hooks::{run_hooks, Hook, Hooks};
pub use pidfd::{reap, PidFd};
pub use plan::{CapSets, ProcessPlan};
pub use rlimits::Rlimit;
