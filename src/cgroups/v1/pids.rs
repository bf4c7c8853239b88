//! The v1 `pids` controller (runc `fs/pids.go`).

use oci_spec::runtime::LinuxResources;

use super::not_mounted;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::Stats;
use crate::error::Result;

/// The value for `pids.max`: a positive limit as is, a negative one as
/// `max`; 0 leaves the file alone.
fn value(r: &LinuxResources) -> Option<String> {
    match r.pids().as_ref()?.limit() {
        0 => None,
        l if l < 0 => Some("max".into()),
        l => Some(l.to_string()),
    }
}

/// Check that the pids controller is mounted when a limit is set.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    if value(r).is_some() && dir.is_none() {
        return Err(not_mounted("linux.resources.pids.limit", "pids"));
    }
    Ok(())
}

/// Write `pids.max`.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    match value(r) {
        Some(v) => dir.write("pids.max", &v),
        None => Ok(()),
    }
}

/// Fill `stats.pids` (`max` reads as limit 0).
pub(crate) fn stats(dir: &CgroupDir, stats: &mut Stats) -> Result<()> {
    stats.pids.current = dir.read_u64("pids.current")?;
    stats.pids.limit = match dir.read_u64("pids.max")? {
        u64::MAX => 0,
        l => l,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    #[test]
    fn limit_minus_one_is_max_and_zero_is_unset() {
        let (tmp, dir) = fixture(&[("pids.max", "")]);
        apply(&dir, &resources(r#"{"pids": {"limit": 0}}"#)).unwrap();
        assert_eq!(tmp.read("pids.max"), "");
        apply(&dir, &resources(r#"{"pids": {"limit": 64}}"#)).unwrap();
        assert_eq!(tmp.read("pids.max"), "64");
        apply(&dir, &resources(r#"{"pids": {"limit": -1}}"#)).unwrap();
        assert_eq!(tmp.read("pids.max"), "max");
    }

    #[test]
    fn stats_and_validate() {
        let (_tmp, dir) = fixture(&[("pids.max", "max\n"), ("pids.current", "3\n")]);
        let mut s = Stats::default();
        stats(&dir, &mut s).unwrap();
        assert_eq!((s.pids.current, s.pids.limit), (3, 0));
        let e = validate(None, &resources(r#"{"pids": {"limit": 5}}"#)).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("linux.resources.pids.limit: needs the pids"));
        validate(None, &resources(r#"{"pids": {"limit": 0}}"#)).unwrap();
    }
}
