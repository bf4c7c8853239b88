//! The process part of a container's plan: what the init execs and with
//! which attributes, validated once before any fork.

use std::collections::HashSet;
use std::ffi::CString;
use std::path::PathBuf;

use oci_spec::runtime::{Capabilities, LinuxPersonalityDomain, Process, Spec};

use super::lsm::HostLsm;
use super::rlimits::Rlimit;
use crate::error::{Error, Result};

/// The five capability sets of the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Bounding set.
    pub bounding: HashSet<caps::Capability>,
    /// Effective set.
    pub effective: HashSet<caps::Capability>,
    /// Inheritable set.
    pub inheritable: HashSet<caps::Capability>,
    /// Permitted set.
    pub permitted: HashSet<caps::Capability>,
    /// Ambient set.
    pub ambient: HashSet<caps::Capability>,
}

/// Validated attributes of the container process.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    /// argv; `args[0]` is looked up in the container's `PATH`.
    pub args: Vec<CString>,
    /// Environment, `KEY=value` each.
    pub env: Vec<CString>,
    /// Working directory inside the container (absolute).
    pub cwd: PathBuf,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// File mode creation mask (runc's default is 0022).
    pub umask: u32,
    /// Resource limits.
    pub rlimits: Vec<Rlimit>,
    /// Capabilities. A process without a `capabilities` object gets none
    /// (all five sets empty, as runc and crun do), never the runtime's own.
    pub caps: CapSets,
    /// `process.apparmorProfile`, checked to be enforceable on this host.
    pub apparmor_profile: Option<String>,
    /// `process.selinuxLabel`, checked to be enforceable on this host.
    pub selinux_label: Option<String>,
    /// `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privileges: bool,
    /// `/proc/self/oom_score_adj`.
    pub oom_score_adj: Option<i32>,
    /// `personality(2)` persona.
    pub personality: Option<libc::c_ulong>,
    /// Whether a terminal was asked for.
    pub terminal: bool,
    /// `consoleSize` as (rows, cols).
    pub console_size: Option<(u16, u16)>,
}

/// The most supplementary groups `setgroups(2)` takes (`NGROUPS_MAX`, Linux).
const NGROUPS_MAX: usize = 65536;

fn cstrings(field: &str, items: &[String]) -> Result<Vec<CString>> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            CString::new(s.as_str())
                .map_err(|_| Error::config(format!("{field}[{i}]"), "contains a NUL byte"))
        })
        .collect()
}

fn cap_set(set: &Option<Capabilities>) -> HashSet<caps::Capability> {
    set.iter()
        .flatten()
        .filter_map(|c| {
            // The spec's names ("CAP_KILL") are the caps crate's names.
            let name = serde_json::to_value(c).ok()?;
            name.as_str()?.parse().ok()
        })
        .collect()
}

impl ProcessPlan {
    /// Validate `process` and the process-related `linux` fields.
    pub fn from_spec(spec: &Spec) -> Result<ProcessPlan> {
        let p = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::config("process", "missing"))?;
        let mut plan = ProcessPlan::from_process(p)?;
        plan.personality = match spec.linux().as_ref().and_then(|l| l.personality().clone()) {
            None => None,
            Some(pers) => {
                if pers.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                    return Err(Error::config(
                        "linux.personality.flags",
                        "personality flags are not supported",
                    ));
                }
                Some(match pers.domain() {
                    LinuxPersonalityDomain::PerLinux => 0x0000,
                    LinuxPersonalityDomain::PerLinux32 => 0x0008,
                })
            }
        };
        Ok(plan)
    }

    /// Validate one OCI `process` object (a container's, or an exec's).
    pub fn from_process(p: &Process) -> Result<ProcessPlan> {
        let args = p.args().clone().unwrap_or_default();
        if args.is_empty() || args[0].is_empty() {
            return Err(Error::config("process.args", "must not be empty"));
        }
        let additional_gids = p.user().additional_gids().clone().unwrap_or_default();
        if additional_gids.len() > NGROUPS_MAX {
            return Err(Error::config(
                "process.user.additionalGids",
                format!(
                    "{} groups are more than the kernel takes ({NGROUPS_MAX}, NGROUPS_MAX)",
                    additional_gids.len()
                ),
            ));
        }
        let env = p.env().clone().unwrap_or_default();
        if let Some(i) = env.iter().position(|e| !e.contains('=')) {
            return Err(Error::config(
                format!("process.env[{i}]"),
                format!("{:?} is not KEY=value", env[i]),
            ));
        }
        if !p.cwd().is_absolute() {
            return Err(Error::config(
                "process.cwd",
                format!("{:?} must be an absolute path", p.cwd()),
            ));
        }
        let rlimits = p
            .rlimits()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, r)| Rlimit::from_spec(r, &format!("process.rlimits[{i}]")))
            .collect::<Result<_>>()?;
        // Absent means none: the runtime's own sets are never inherited.
        let caps = p
            .capabilities()
            .as_ref()
            .map(|c| CapSets {
                bounding: cap_set(c.bounding()),
                effective: cap_set(c.effective()),
                inheritable: cap_set(c.inheritable()),
                permitted: cap_set(c.permitted()),
                ambient: cap_set(c.ambient()),
            })
            .unwrap_or_default();
        let labelled = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        let host =
            HostLsm::detect_if(labelled(p.apparmor_profile()) || labelled(p.selinux_label()));
        let apparmor_profile =
            host.check_apparmor("process.apparmorProfile", p.apparmor_profile())?;
        let selinux_label = host.check_selinux("process.selinuxLabel", p.selinux_label())?;
        Ok(ProcessPlan {
            args: cstrings("process.args", &args)?,
            env: cstrings("process.env", &env)?,
            cwd: p.cwd().clone(),
            uid: p.user().uid(),
            gid: p.user().gid(),
            additional_gids,
            umask: p.user().umask().unwrap_or(0o022),
            rlimits,
            caps,
            apparmor_profile,
            selinux_label,
            no_new_privileges: p.no_new_privileges().unwrap_or(false),
            oom_score_adj: p.oom_score_adj(),
            personality: None,
            terminal: p.terminal().unwrap_or(false),
            console_size: p.console_size().as_ref().map(|b| {
                (
                    b.height().min(u16::MAX as u64) as u16,
                    b.width().min(u16::MAX as u64) as u16,
                )
            }),
        })
    }

    /// The value of `PATH` in the process environment (runc's default if unset).
    pub fn path_var(&self) -> &str {
        self.env
            .iter()
            .filter_map(|e| e.to_str().ok()?.strip_prefix("PATH="))
            .next_back()
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.0.2", "process": process}))
            .unwrap()
    }

    #[test]
    fn empty_args_are_refused() {
        let e = ProcessPlan::from_spec(&spec(
            serde_json::json!({"args": [], "cwd": "/", "user": {"uid": 0, "gid": 0}}),
        ))
        .unwrap_err();
        assert_eq!(e.to_string(), "process.args: must not be empty");
    }

    #[test]
    fn relative_cwd_is_refused() {
        let e = ProcessPlan::from_spec(&spec(
            serde_json::json!({"args": ["sh"], "cwd": "tmp", "user": {"uid": 0, "gid": 0}}),
        ))
        .unwrap_err();
        assert!(e.to_string().starts_with("process.cwd:"), "{e}");
    }

    #[test]
    fn fields_are_converted() {
        let p = ProcessPlan::from_spec(&spec(serde_json::json!({
            "args": ["sh", "-c", "true"], "cwd": "/tmp",
            "env": ["A=1", "PATH=/bin"],
            "user": {"uid": 1000, "gid": 100, "additionalGids": [5], "umask": 63},
            "capabilities": {"bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "effective": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}],
            "noNewPrivileges": true, "oomScoreAdj": 100
        })))
        .unwrap();
        assert_eq!(p.args.len(), 3);
        assert_eq!((p.uid, p.gid, p.umask), (1000, 100, 63));
        assert_eq!(p.additional_gids, vec![5]);
        let caps = p.caps.clone();
        assert!(caps
            .bounding
            .contains(&caps::Capability::CAP_NET_BIND_SERVICE));
        assert_eq!(caps.effective.len(), 1);
        assert!(caps.ambient.is_empty());
        assert_eq!(p.rlimits.len(), 1);
        assert!(p.no_new_privileges);
        assert_eq!(p.oom_score_adj, Some(100));
        assert_eq!(p.path_var(), "/bin");
    }

    #[test]
    fn no_capabilities_object_means_no_capabilities() {
        let p = ProcessPlan::from_spec(&spec(
            serde_json::json!({"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}}),
        ))
        .unwrap();
        assert_eq!(p.caps, CapSets::default());
    }

    #[test]
    fn bad_env_names_its_index() {
        let e = ProcessPlan::from_spec(&spec(serde_json::json!({
            "args": ["sh"], "cwd": "/", "env": ["A=1", "oops"], "user": {"uid": 0, "gid": 0}
        })))
        .unwrap_err();
        assert!(e.to_string().starts_with("process.env[1]"), "{e}");
    }
}
