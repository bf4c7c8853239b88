//! The last steps of becoming the container's process, shared by the init
//! and by `exec`: limits, umask, fds, user and capabilities (runc's order),
//! working directory, program lookup, `no_new_privs`.

use std::ffi::CString;
use std::os::fd::AsFd;

use super::channel::{Channel, Msg};
use super::plan::ProcessPlan;
use super::seccomp::Filter;
use super::{exec, fds, identity};
use crate::error::{Context, Error, Result};

/// Take on `p`'s attributes, with `filter` installed where runc installs
/// it (without `noNewPrivileges` while still privileged, before the user
/// and capability change; with it as late as possible); returns the program
/// to execute. A notify listener the filter creates is sent over `chan`.
/// fds `3..3+preserve_fds` stay open across the exec, all others close.
pub(crate) fn take_on_with_seccomp(
    procfs: Option<&crate::rootfs::Procfs>,
    p: &ProcessPlan,
    preserve_fds: u32,
    filter: Option<&Filter>,
    chan: &Channel,
) -> Result<CString> {
    let early = filter.filter(|_| !p.no_new_privileges);
    let listener = early.map(|f| f.install()).transpose()?.flatten();
    let program = take_on(procfs, p, preserve_fds)?;
    let late = filter.filter(|_| p.no_new_privileges);
    let listener = match late.map(|f| f.install()).transpose()?.flatten() {
        Some(fd) => Some(fd),
        None => listener,
    };
    if let Some(fd) = listener {
        chan.send_fd(&Msg::SeccompListener, fd.as_fd())?;
    }
    Ok(program)
}

/// Take on `p`'s attributes; returns the program to execute. fds
/// `3..3+preserve_fds` stay open across the exec, all others close.
fn take_on(
    procfs: Option<&crate::rootfs::Procfs>,
    p: &ProcessPlan,
    preserve_fds: u32,
) -> Result<CString> {
    for r in &p.rlimits {
        r.apply()?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(p.umask));
    fds::cloexec_from_in(3 + preserve_fds, procfs)?;
    fds::keep_passed(preserve_fds)?;
    identity::drop_bounding(&p.caps)?;
    identity::switch_user(p)?;
    identity::apply_caps(&p.caps)?;
    nix::unistd::chdir(&p.cwd).step(|| format!("process.cwd: chdir({:?})", p.cwd))?;
    // A cwd reached through a leaked host fd would lie outside the root;
    // the kernel then reports it as unreachable (CVE-2024-21626).
    match nix::unistd::getcwd() {
        Ok(cwd) if cwd.is_absolute() => {}
        _ => {
            return Err(Error::config(
                "process.cwd",
                format!("{:?} is outside the container's root", p.cwd),
            ))
        }
    }
    let program = exec::find_program(p)?;
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().step(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())?;
    }
    Ok(program)
}
