//! OCI `linux.seccomp` → per-ABI rule sets, with runc's and libseccomp's
//! rules for what is added, skipped or refused.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::arch::{self, Abi, ArchKind};
use super::rules::{Cond, Op, Syscall};
use super::FilterFlags;
use crate::error::{Error, Result};

/// `SECCOMP_RET_*` values.
pub(super) const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRAP: u32 = 0x0003_0000;
pub(super) const RET_ERRNO: u32 = 0x0005_0000;
const RET_NOTIFY: u32 = 0x7fc0_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

/// Everything the generator needs, validated.
pub(super) struct Plan {
    /// The default action's return value.
    pub default: u32,
    /// ABIs with a filter section: x86_64 always (libseccomp's native arch),
    /// plus i386 / x32 when listed.
    pub abis: BTreeSet<Abi>,
    /// Rules per ABI and syscall number.
    pub rules: BTreeMap<Abi, BTreeMap<u32, Syscall>>,
    /// runc's `-ENOSYS` stub: per listed ABI, the largest syscall number the
    /// profile names; larger numbers get `ENOSYS` (empty when not applicable).
    pub enosys_above: BTreeMap<Abi, u32>,
    /// `SECCOMP_FILTER_FLAG_*` to install with.
    pub flags: FilterFlags,
    /// Syscall names no ABI of the filter knows (skipped).
    pub unknown: Vec<String>,
}

/// The `SECCOMP_RET_*` value of an OCI action (runc: KILL is KILL_THREAD,
/// ERRNO and TRACE default to EPERM).
fn ret_value(a: Act, errno: Option<u32>) -> u32 {
    let data = errno.unwrap_or(libc::EPERM as u32) & 0xffff;
    match a {
        Act::ScmpActKill | Act::ScmpActKillThread => RET_KILL_THREAD,
        Act::ScmpActKillProcess => RET_KILL_PROCESS,
        Act::ScmpActTrap => RET_TRAP,
        Act::ScmpActErrno => RET_ERRNO | data,
        Act::ScmpActTrace => RET_TRACE | data,
        Act::ScmpActLog => RET_LOG,
        Act::ScmpActNotify => RET_NOTIFY,
        Act::ScmpActAllow => RET_ALLOW,
    }
}

fn op_of(op: LinuxSeccompOperator) -> Op {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => Op::Ne,
        LinuxSeccompOperator::ScmpCmpLt => Op::Lt,
        LinuxSeccompOperator::ScmpCmpLe => Op::Le,
        LinuxSeccompOperator::ScmpCmpEq => Op::Eq,
        LinuxSeccompOperator::ScmpCmpGe => Op::Ge,
        LinuxSeccompOperator::ScmpCmpGt => Op::Gt,
        LinuxSeccompOperator::ScmpCmpMaskedEq => Op::MaskedEq,
    }
}

/// The `SCMP_ARCH_*` name of an oci-spec architecture.
fn arch_name(a: &Arch) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The generator knows the x86 ABIs only. On another host the native ABI
/// would have no section and every filtered syscall would hit the bad-arch
/// kill, so the profile is refused instead of killing the container.
pub(super) fn check_host_arch(arch: &str) -> Result<()> {
    if arch == "x86_64" {
        return Ok(());
    }
    Err(Error::config(
        "linux.seccomp",
        format!("seccomp filters are only generated for x86_64 hosts, this host is {arch}"),
    ))
}

/// Validate `s` and sort its rules per ABI and syscall number.
pub(super) fn plan(s: &LinuxSeccomp) -> Result<Plan> {
    const F: &str = "linux.seccomp";
    check_host_arch(std::env::consts::ARCH)?;
    let default = ret_value(s.default_action(), s.default_errno_ret());
    if s.default_action() == Act::ScmpActNotify {
        return Err(Error::config(
            format!("{F}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be used as default action",
        ));
    }
    let mut abis = BTreeSet::from([Abi::X86_64]);
    let mut listed = BTreeSet::new();
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let name = arch_name(a);
        match arch::classify(&name) {
            Some(ArchKind::Abi(abi)) => {
                abis.insert(abi);
                listed.insert(abi);
            }
            Some(ArchKind::Foreign) => {}
            Some(ArchKind::BigEndian) | None => {
                return Err(Error::config(
                    format!("{F}.architectures[{i}]"),
                    format!("{name} cannot be combined with x86_64 (big-endian ABI)"),
                ));
            }
        }
    }
    let mut flags = FilterFlags::default();
    for f in s.flags().iter().flatten() {
        flags = flags
            | match f {
                LinuxSeccompFilterFlag::SeccompFilterFlagLog => FilterFlags::LOG,
                LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FilterFlags::SPEC_ALLOW,
                LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FilterFlags::TSYNC,
                LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                    FilterFlags::WAIT_KILLABLE_RECV
                }
            };
    }
    let mut rules: BTreeMap<Abi, BTreeMap<u32, Syscall>> = BTreeMap::new();
    let mut max_nr: BTreeMap<Abi, u32> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("{F}.syscalls[{i}]");
        let action = ret_value(rule.action(), rule.errno_ret());
        if rule.names().is_empty() {
            return Err(Error::config(format!("{field}.names"), "must not be empty"));
        }
        let args = rule.args().as_deref().unwrap_or_default();
        let mut conds = Vec::with_capacity(args.len());
        let mut per_arg = [0u8; 6];
        for (j, a) in args.iter().enumerate() {
            let Some(slot) = per_arg.get_mut(a.index()) else {
                return Err(Error::config(
                    format!("{field}.args[{j}].index"),
                    format!(
                        "{} is out of range: syscalls have arguments 0 to 5",
                        a.index()
                    ),
                ));
            };
            *slot += 1;
            let op = op_of(a.op());
            let (mask, datum) = match op {
                Op::MaskedEq => (a.value(), a.value_two().unwrap_or(0)),
                _ => (u64::MAX, a.value()),
            };
            conds.push(Cond {
                arg: a.index() as u8,
                op,
                mask,
                datum,
            });
        }
        // runc: two tests on one argument cannot be one libseccomp rule, so each
        // test becomes a rule of its own (they are ORed).
        let groups: Vec<Vec<Cond>> = if per_arg.iter().any(|n| *n > 1) {
            conds.iter().map(|c| vec![*c]).collect()
        } else {
            conds.sort_by_key(|c| c.arg);
            vec![conds]
        };
        for (k, name) in rule.names().iter().enumerate() {
            if name.is_empty() {
                return Err(Error::config(
                    format!("{field}.names[{k}]"),
                    "empty string is not a valid syscall",
                ));
            }
            if rule.action() == Act::ScmpActNotify {
                if name == "write" {
                    return Err(Error::config(
                        format!("{field}.names[{k}]"),
                        "SCMP_ACT_NOTIFY cannot be used for the write syscall",
                    ));
                }
                flags = flags | FilterFlags::NEW_LISTENER;
            }
            for abi in &listed {
                if let Some(nr) = abi.resolve(name) {
                    let m = max_nr.entry(*abi).or_insert(0);
                    *m = (*m).max(nr);
                }
            }
            if action == default {
                continue; // runc skips rules that repeat the default action
            }
            let mut known = false;
            for abi in &abis {
                for landing in abi.landings(name) {
                    known = true;
                    let per_nr = rules.entry(*abi).or_default();
                    let sys = per_nr.entry(landing.nr).or_default();
                    for group in &groups {
                        let mut conds = group.clone();
                        if let Some(sub) = landing.subcall {
                            conds.retain(|c| c.arg != 0);
                            conds.insert(0, eq(0, sub));
                        }
                        sys.add(&conds, action, abi.is_32bit()).map_err(|_| {
                            Error::config(
                                field.clone(),
                                format!(
                                    "rule for {name:?} ({}) conflicts with an earlier rule testing \
                                     the same arguments with another action",
                                    abi.name()
                                ),
                            )
                        })?;
                    }
                }
            }
            if !known && !unknown.contains(name) {
                unknown.push(name.clone());
            }
        }
    }
    if flags.contains(FilterFlags::TSYNC) && flags.contains(FilterFlags::NEW_LISTENER) {
        flags = flags | FilterFlags::TSYNC_ESRCH;
    }
    let permissive = matches!(
        s.default_action(),
        Act::ScmpActAllow | Act::ScmpActLog | Act::ScmpActTrace
    );
    let enosys_above = if permissive {
        BTreeMap::new()
    } else {
        max_nr.into_iter().filter(|(_, n)| *n != 0).collect()
    };
    Ok(Plan {
        default,
        abis,
        rules,
        enosys_above,
        flags,
        unknown,
    })
}

fn eq(arg: u8, v: u64) -> Cond {
    Cond {
        arg,
        op: Op::Eq,
        mask: u64::MAX,
        datum: v,
    }
}
