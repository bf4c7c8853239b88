//! rdma: one `rdma.max` line per device, `<dev> hca_handle=N hca_object=N`.

use oci_spec::runtime::LinuxResources;

use super::controllers::Avail;
use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

/// The `rdma.max` lines, sorted by device for a stable order.
pub(crate) fn lines(r: &LinuxResources) -> Vec<String> {
    let mut v: Vec<String> = r
        .rdma()
        .iter()
        .flatten()
        .filter_map(|(dev, l)| {
            let mut s = dev.clone();
            if let Some(h) = l.hca_handles() {
                s += &format!(" hca_handle={h}");
            }
            if let Some(o) = l.hca_objects() {
                s += &format!(" hca_object={o}");
            }
            (s.len() > dev.len()).then_some(s)
        })
        .collect();
    v.sort();
    v
}

/// Check the controller and the device names.
pub(crate) fn validate(avail: &Avail, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.rdma() else { return Ok(()) };
    if m.is_empty() {
        return Ok(());
    }
    avail.need("rdma", "rdma")?;
    for dev in m.keys() {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(Error::config(
                format!("linux.resources.rdma.{dev}"),
                "an RDMA device name must be non-empty without spaces",
            ));
        }
    }
    Ok(())
}

/// Write one `rdma.max` line per device.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    for l in lines(r) {
        dir.write("rdma.max", &l)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    #[test]
    fn one_line_per_device() {
        let r = res(
            r#"{"rdma":{"mlx5_1":{"hcaHandles":3},"mlx5_0":{"hcaHandles":2,"hcaObjects":100},"x":{}}}"#,
        );
        assert_eq!(
            lines(&r),
            vec!["mlx5_0 hca_handle=2 hca_object=100", "mlx5_1 hca_handle=3"]
        );
        let t = Fixture::new("rdma");
        t.files(&["rdma.max"]);
        apply(&t.dir(), &res(r#"{"rdma":{"mlx5_0":{"hcaObjects":7}}}"#)).unwrap();
        assert_eq!(t.read("rdma.max"), "mlx5_0 hca_object=7");
    }

    #[test]
    fn validate_needs_the_controller() {
        let t = Fixture::new("rdma-val");
        t.file("cgroup.controllers", "memory\n");
        let a = Avail::read(&t.dir()).unwrap();
        let e = validate(&a, &res(r#"{"rdma":{"mlx5_0":{"hcaHandles":2}}}"#)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("linux.resources.rdma: needs the rdma controller"),
            "{e}"
        );
        validate(&a, &res("{}")).unwrap();
    }
}
