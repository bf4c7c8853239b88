//! The v1 `net_prio` controller: `linux.resources.network.priorities`.

use oci_spec::runtime::{LinuxInterfacePriority, LinuxResources};

use super::not_mounted;
use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

fn priorities(r: &LinuxResources) -> &[LinuxInterfacePriority] {
    r.network()
        .as_ref()
        .and_then(|n| n.priorities().as_deref())
        .unwrap_or_default()
}

/// Check that net_prio is mounted when priorities are set, and that each
/// interface name is one word.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    for (i, p) in priorities(r).iter().enumerate() {
        let field = format!("linux.resources.network.priorities[{i}]");
        if dir.is_none() {
            return Err(not_mounted(&field, "net_prio"));
        }
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(Error::config(
                field + ".name",
                format!("{:?} is not an interface name", p.name()),
            ));
        }
    }
    Ok(())
}

/// Write one `ifname prio` line per interface to `net_prio.ifpriomap`.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    for p in priorities(r) {
        dir.write(
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    #[test]
    fn writes_one_line_per_interface() {
        let (tmp, dir) = fixture(&[("net_prio.ifpriomap", "")]);
        let r = resources(r#"{"network": {"priorities": [{"name": "lo", "priority": 2}]}}"#);
        validate(Some(&dir), &r).unwrap();
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read("net_prio.ifpriomap"), "lo 2");
        let e = validate(None, &r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.network.priorities[0]: needs the net_prio"),
            "{e}"
        );
    }
}
