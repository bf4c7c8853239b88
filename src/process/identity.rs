//! Who the container process is: user, groups and capabilities, applied in
//! runc's order (bounding set first, then the user change with
//! `PR_SET_KEEPCAPS`, then the other four capability sets).

use caps::CapSet;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

use super::plan::{CapSets, ProcessPlan};
use crate::error::{Context, Error, Result};

fn caps_err(step: &str, e: caps::errors::CapsError) -> Error {
    Error::Other(format!("{step}: {e}"))
}

/// Drop from the bounding set every capability the kernel knows that the
/// spec does not list.
pub fn drop_bounding(sets: &CapSets) -> Result<()> {
    let supported = caps::runtime::thread_all_supported();
    for cap in supported {
        if !sets.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| caps_err(&format!("drop bounding {cap}"), e))?;
        }
    }
    Ok(())
}

/// Switch to the process's uid, gid and supplementary groups, keeping the
/// permitted capabilities across the uid change.
pub fn switch_user(p: &ProcessPlan) -> Result<()> {
    nix::sys::prctl::set_keepcaps(true).step(|| "prctl(PR_SET_KEEPCAPS, 1)".into())?;
    let gids: Vec<Gid> = p
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is denied in a user namespace whose setgroups file says
    // "deny"; runc then skips it when no groups are asked for.
    match setgroups(&gids) {
        Err(nix::errno::Errno::EPERM) if gids.is_empty() => {}
        r => r.step(|| format!("setgroups({:?})", p.additional_gids))?,
    }
    let gid = Gid::from_raw(p.gid);
    setresgid(gid, gid, gid).step(|| format!("setresgid({})", p.gid))?;
    let uid = Uid::from_raw(p.uid);
    setresuid(uid, uid, uid).step(|| format!("setresuid({})", p.uid))?;
    nix::sys::prctl::set_keepcaps(false).step(|| "prctl(PR_SET_KEEPCAPS, 0)".into())
}

/// Set the effective, permitted and inheritable sets, then raise the ambient ones.
pub fn apply_caps(sets: &CapSets) -> Result<()> {
    // Effective first: it must stay within the (still full) permitted set.
    for (set, which) in [
        (&sets.effective, CapSet::Effective),
        (&sets.permitted, CapSet::Permitted),
        (&sets.inheritable, CapSet::Inheritable),
    ] {
        caps::set(None, which, set).map_err(|e| caps_err(&format!("capset({which:?})"), e))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| caps_err("clear ambient", e))?;
    // The kernel refuses an ambient capability missing from the permitted
    // or inheritable set; runc skips those with a warning (its default
    // spec lists ambient capabilities but no inheritable ones).
    for cap in &sets.ambient {
        if sets.permitted.contains(cap) && sets.inheritable.contains(cap) {
            caps::raise(None, CapSet::Ambient, *cap)
                .map_err(|e| caps_err(&format!("raise ambient {cap}"), e))?;
        }
    }
    Ok(())
}
