//! devices: the spec's `linux.resources.devices` rules, followed by runc's
//! default allowed devices, compiled into one eBPF device filter (see
//! [`super::bpf`]) that replaces whichever filter the cgroup had.

use oci_spec::runtime::{LinuxDeviceType, LinuxResources};

use super::bpf::{self, Rule, ACC_MKNOD, ACC_READ, ACC_WRITE, DEV_BLOCK, DEV_CHAR};
use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

const RWM: u32 = ACC_READ | ACC_WRITE | ACC_MKNOD;

const fn allow_char(major: u32, minor: Option<u32>, access: u32) -> Rule {
    Rule {
        allow: true,
        typ: Some(DEV_CHAR),
        major: Some(major),
        minor,
        access,
    }
}

/// runc's `AllowedDevices`, appended after the spec's rules so that a
/// container always has them: mknod of any device (the node is useless
/// without read/write), /dev/null, zero, full, random, urandom, tty, ptmx
/// and the pty slaves.
pub(crate) const DEFAULT_RULES: [Rule; 10] = [
    Rule {
        allow: true,
        typ: Some(DEV_CHAR),
        major: None,
        minor: None,
        access: ACC_MKNOD,
    },
    Rule {
        allow: true,
        typ: Some(DEV_BLOCK),
        major: None,
        minor: None,
        access: ACC_MKNOD,
    },
    allow_char(1, Some(3), RWM),
    allow_char(1, Some(5), RWM),
    allow_char(1, Some(7), RWM),
    allow_char(1, Some(8), RWM),
    allow_char(1, Some(9), RWM),
    allow_char(5, Some(0), RWM),
    allow_char(5, Some(2), RWM),
    allow_char(136, None, RWM),
];

/// The spec's rules in kernel terms, each checked; the error names the rule.
pub(crate) fn spec_rules(r: &LinuxResources) -> Result<Vec<Rule>> {
    let mut out = Vec::new();
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let field = |f: &str| format!("linux.resources.devices[{i}]{f}");
        let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C => Some(DEV_CHAR),
            t => {
                return Err(Error::config(
                    field(".type"),
                    format!("{:?} is not a cgroup device type (a, b or c)", t.as_str()),
                ))
            }
        };
        let num = |v: Option<i64>, f: &str| -> Result<Option<u32>> {
            match v {
                None => Ok(None),
                // A negative number is runc's wildcard.
                Some(n) if n < 0 => Ok(None),
                Some(n) if n <= i64::from(i32::MAX) => Ok(Some(n as u32)),
                Some(n) => Err(Error::config(field(f), format!("{n} is too large"))),
            }
        };
        let access = d.access().as_deref().unwrap_or("");
        if access.is_empty() {
            return Err(Error::config(field(".access"), "must not be empty"));
        }
        let mut bits = 0;
        for c in access.chars() {
            bits |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => {
                    return Err(Error::config(
                        field(".access"),
                        format!("{access:?}: only r, w and m are allowed"),
                    ))
                }
            };
        }
        out.push(Rule {
            allow: d.allow(),
            typ,
            major: num(d.major(), ".major")?,
            minor: num(d.minor(), ".minor")?,
            access: bits,
        });
    }
    Ok(out)
}

/// The spec's rules followed by [`DEFAULT_RULES`].
pub(crate) fn rules(r: &LinuxResources) -> Result<Vec<Rule>> {
    let mut v = spec_rules(r)?;
    v.extend_from_slice(&DEFAULT_RULES);
    Ok(v)
}

/// Check every rule.
pub(crate) fn validate(r: &LinuxResources) -> Result<()> {
    spec_rules(r).map(drop)
}

/// Whether this process is in a user namespace other than the initial one.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            let f: Vec<&str> = m.split_whitespace().collect();
            f != ["0", "0", "4294967295"]
        })
        .unwrap_or(false)
}

/// runc's `canSkipEBPFError`: inside a user namespace bpf(2) is refused, and
/// that is harmless when no rule denies anything or grants partial access.
fn can_skip_bpf_error(r: &LinuxResources) -> bool {
    in_user_namespace()
        && r.devices().iter().flatten().all(|d| {
            d.allow()
                && d.access()
                    .as_deref()
                    .is_some_and(|a| "rwm".chars().all(|c| a.contains(c)))
        })
}

/// Attach the program for `rules`, then detach the filters that were there.
pub(crate) fn install(dir: &CgroupDir, rules: &[Rule]) -> Result<()> {
    use std::os::fd::AsFd;
    let cg = dir.as_fd();
    let old = bpf::prog_query(cg)?;
    let prog = bpf::prog_load(&bpf::program(rules))?;
    bpf::prog_attach(cg, prog.as_fd())?;
    for id in old {
        match bpf::prog_fd_by_id(id) {
            Ok(fd) => bpf::prog_detach(cg, fd.as_fd())?,
            // Gone meanwhile, or an LSM hides it from us (runc skips those
            // too: another filter can only restrict further).
            Err(
                nix::errno::Errno::ENOENT | nix::errno::Errno::EPERM | nix::errno::Errno::EACCES,
            ) => {}
            Err(e) => return Err(Error::sys(format!("bpf(BPF_PROG_GET_FD_BY_ID, {id})"), e)),
        }
    }
    Ok(())
}

/// Install the filter. Without a `devices` field (an `update` of other
/// resources) an existing filter is kept; without any, the defaults go in.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    use std::os::fd::AsFd;
    let rules = rules(r)?;
    let res = if r.devices().is_none() {
        match bpf::prog_query(dir.as_fd()) {
            Ok(ids) if !ids.is_empty() => return Ok(()),
            Ok(_) => install(dir, &rules),
            Err(e) => Err(e),
        }
    } else {
        install(dir, &rules)
    };
    match res {
        Err(e) if e.errno() == Some(nix::errno::Errno::EPERM) && can_skip_bpf_error(r) => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::res;

    #[test]
    fn spec_rules_in_kernel_terms() {
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":10,"minor":200,"access":"rw"},
            {"allow":true,"type":"b","major":-1,"access":"m"}]}"#);
        let v = spec_rules(&r).unwrap();
        assert_eq!(
            v[0],
            Rule {
                allow: false,
                typ: None,
                major: None,
                minor: None,
                access: RWM
            }
        );
        assert_eq!(v[1], allow_char(10, Some(200), ACC_READ | ACC_WRITE));
        assert_eq!(
            (v[2].typ, v[2].major, v[2].access),
            (Some(DEV_BLOCK), None, ACC_MKNOD)
        );
        let all = rules(&r).unwrap();
        assert_eq!(all.len(), 3 + DEFAULT_RULES.len());
        assert_eq!(all[3..], DEFAULT_RULES);
    }

    #[test]
    fn bad_rules_name_the_field() {
        for (json, field) in [
            (
                r#"{"devices":[{"allow":true,"access":""}]}"#,
                "devices[0].access",
            ),
            (
                r#"{"devices":[{"allow":true,"access":"rx"}]}"#,
                "devices[0].access",
            ),
            (
                r#"{"devices":[{"allow":true},{"allow":true,"type":"p","access":"r"}]}"#,
                "devices[0].access",
            ),
            (
                r#"{"devices":[{"allow":true,"type":"p","access":"r"}]}"#,
                "devices[0].type",
            ),
            (
                r#"{"devices":[{"allow":true,"major":4294967296,"access":"r"}]}"#,
                "devices[0].major",
            ),
        ] {
            let e = validate(&res(json)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("linux.resources.{field}:")), "{e}");
        }
        validate(&res("{}")).unwrap();
    }
}
