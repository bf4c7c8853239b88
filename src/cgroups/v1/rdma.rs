//! The `rdma` controller: `linux.resources.rdma` → `rdma.max`.

use oci_spec::runtime::LinuxResources;

use super::not_mounted;
use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

/// `rdma.max` lines (`mlx5_0 hca_handle=2 hca_object=2000`), sorted by device.
fn lines(r: &LinuxResources) -> Vec<String> {
    let mut out: Vec<String> = r
        .rdma()
        .iter()
        .flatten()
        .map(|(dev, l)| {
            let mut s = dev.clone();
            if let Some(h) = l.hca_handles() {
                s.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                s.push_str(&format!(" hca_object={o}"));
            }
            s
        })
        .collect();
    out.sort();
    out
}

/// Check that rdma is mounted when limits are set, and the device names.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    for dev in r.rdma().iter().flat_map(|m| m.keys()) {
        let field = format!("linux.resources.rdma.{dev}");
        if dir.is_none() {
            return Err(not_mounted(&field, "rdma"));
        }
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(Error::config(field, "not a device name"));
        }
    }
    Ok(())
}

/// Write one `rdma.max` line per device.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    for line in lines(r) {
        dir.write("rdma.max", &line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    #[test]
    fn writes_one_line_per_device() {
        let (tmp, dir) = fixture(&[("rdma.max", "")]);
        let r = resources(r#"{"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}}"#);
        validate(Some(&dir), &r).unwrap();
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read("rdma.max"), "mlx5_1 hca_handle=3 hca_object=10000");
        let e = validate(None, &r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.rdma.mlx5_1: needs the rdma"),
            "{e}"
        );
        let only = resources(r#"{"rdma": {"a": {"hcaObjects": 5}, "b": {"hcaHandles": 1}}}"#);
        assert_eq!(lines(&only), vec!["a hca_object=5", "b hca_handle=1"]);
    }
}
