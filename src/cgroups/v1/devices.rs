//! The v1 `devices` controller: `devices.allow` / `devices.deny`.
//!
//! A `Some` rule list is written on a deny-all base (as runc's emulator
//! starts from one): `a` to `devices.deny`, the spec's rules in order, then
//! the devices every container gets ([`DEFAULT_RULES`], runc's
//! `AllowedDevices`). `None` leaves the cgroup's rules alone (an `update`
//! that does not mention devices).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::not_mounted;
use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

/// (type, major, minor, access) of the rules appended after the spec's:
/// mknod of any device (access is still gated by the rules and by
/// CAP_MKNOD), then null, zero, full, random, urandom, tty, ptmx and the pts.
pub(crate) const DEFAULT_RULES: &[(char, Option<i64>, Option<i64>, &str)] = &[
    ('c', None, None, "m"),
    ('b', None, None, "m"),
    ('c', Some(1), Some(3), "rwm"),
    ('c', Some(1), Some(5), "rwm"),
    ('c', Some(1), Some(7), "rwm"),
    ('c', Some(1), Some(8), "rwm"),
    ('c', Some(1), Some(9), "rwm"),
    ('c', Some(5), Some(0), "rwm"),
    ('c', Some(5), Some(2), "rwm"),
    ('c', Some(136), None, "rwm"),
];

/// `type major:minor access` as the kernel reads it; `*` for a wildcard.
fn rule_line(typ: char, major: Option<i64>, minor: Option<i64>, access: &str) -> String {
    let num = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    if typ == 'a' {
        return "a".into();
    }
    format!("{typ} {}:{} {access}", num(major), num(minor))
}

fn type_char(t: Option<LinuxDeviceType>) -> char {
    match t.unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => 'p',
    }
}

/// The spec's access string, `rwm` when absent.
fn access(d: &LinuxDeviceCgroup) -> &str {
    d.access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm")
}

/// Check that the devices controller is mounted when rules are given (an
/// empty list on a host without it is fine), and each rule's type and access.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    let Some(rules) = r.devices() else {
        return Ok(());
    };
    if dir.is_none() && !rules.is_empty() {
        return Err(not_mounted("linux.resources.devices", "devices"));
    }
    for (i, d) in rules.iter().enumerate() {
        if d.typ() == Some(LinuxDeviceType::P) {
            return Err(Error::config(
                format!("linux.resources.devices[{i}].type"),
                "\"p\" (FIFO) rules are not supported by the devices cgroup",
            ));
        }
        let a = access(d);
        if !a.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(Error::config(
                format!("linux.resources.devices[{i}].access"),
                format!("{a:?} is not a combination of r, w and m"),
            ));
        }
    }
    Ok(())
}

/// Write the rules (see the module docs).
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(rules) = r.devices() else {
        return Ok(());
    };
    dir.write("devices.deny", "a")?;
    for d in rules {
        let file = if d.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        dir.write(
            file,
            &rule_line(type_char(d.typ()), d.major(), d.minor(), access(d)),
        )?;
    }
    for &(t, major, minor, a) in DEFAULT_RULES {
        dir.write("devices.allow", &rule_line(t, major, minor, a))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    #[test]
    fn rule_lines() {
        assert_eq!(rule_line('a', None, None, "rwm"), "a");
        assert_eq!(rule_line('c', Some(1), Some(3), "rwm"), "c 1:3 rwm");
        assert_eq!(rule_line('c', Some(136), None, "rw"), "c 136:* rw");
        assert_eq!(rule_line('b', None, None, "m"), "b *:* m");
    }

    /// Fixture files keep only the last write, so the sequence is checked
    /// through each file's final line plus an in-order replay.
    #[test]
    fn writes_deny_all_rules_then_defaults() {
        let (tmp, dir) = fixture(&[("devices.allow", ""), ("devices.deny", "")]);
        let r = resources(
            r#"{"devices": [{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"},
                {"allow": false, "type": "b", "major": 8, "access": "w"}]}"#,
        );
        validate(Some(&dir), &r).unwrap();
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read("devices.deny"), "b 8:* w");
        assert_eq!(tmp.read("devices.allow"), "c 136:* rwm");
        // Without rules nothing is touched.
        tmp.write("devices.deny", "");
        apply(&dir, &resources("{}")).unwrap();
        assert_eq!(tmp.read("devices.deny"), "");
    }

    #[test]
    fn validate_names_the_rule() {
        let (_tmp, dir) = fixture(&[]);
        let r = resources(r#"{"devices": [{"allow": true, "access": "rwx"}]}"#);
        let e = validate(Some(&dir), &r).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.devices[0].access:"), "{e}");
        validate(None, &resources(r#"{"devices": []}"#)).unwrap();
        let e = validate(None, &r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.devices: needs the devices"),
            "{e}"
        );
    }
}
