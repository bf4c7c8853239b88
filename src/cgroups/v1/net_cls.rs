//! The v1 `net_cls` controller: `linux.resources.network.classID`.

use oci_spec::runtime::LinuxResources;

use super::not_mounted;
use crate::cgroups::fs::CgroupDir;
use crate::error::Result;

fn class_id(r: &LinuxResources) -> Option<u32> {
    r.network().as_ref()?.class_id()
}

/// Check that net_cls is mounted when a class id is set.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    if class_id(r).is_some() && dir.is_none() {
        return Err(not_mounted("linux.resources.network.classID", "net_cls"));
    }
    Ok(())
}

/// Write `net_cls.classid` (decimal, as the kernel reads it).
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    match class_id(r) {
        Some(id) => dir.write("net_cls.classid", &id.to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    #[test]
    fn writes_the_class_id() {
        let (tmp, dir) = fixture(&[("net_cls.classid", "")]);
        let r = resources(r#"{"network": {"classID": 1048577}}"#);
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read("net_cls.classid"), "1048577");
        let e = validate(None, &r).unwrap_err().to_string();
        assert_eq!(
            e,
            "linux.resources.network.classID: needs the net_cls cgroup controller, \
             which this host does not mount"
        );
    }
}
