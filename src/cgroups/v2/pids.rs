//! pids: `pids.max`.

use oci_spec::runtime::LinuxResources;

use super::controllers::Avail;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::Stats;
use crate::error::Result;

/// `pids.max` from the limit: 0 is "unset" and negative "max", as in runc.
pub(crate) fn planned(r: &LinuxResources) -> Vec<(String, String)> {
    match r.pids().as_ref().map(|p| p.limit()) {
        None | Some(0) => Vec::new(),
        Some(l) if l < 0 => vec![("pids.max".into(), "max".into())],
        Some(l) => vec![("pids.max".into(), l.to_string())],
    }
}

/// Check the controller.
pub(crate) fn validate(avail: &Avail, r: &LinuxResources) -> Result<()> {
    if planned(r).is_empty() {
        return Ok(());
    }
    avail.need("pids.limit", "pids")
}

/// Write `pids.max`.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    for (file, v) in planned(r) {
        dir.write(&file, &v)?;
    }
    Ok(())
}

/// `pids.current`, and `pids.max` as the limit (0 when unlimited).
pub(crate) fn stats(dir: &CgroupDir, s: &mut Stats) -> Result<()> {
    if !dir.has("pids.current") {
        return Ok(());
    }
    s.pids.current = dir.read_u64("pids.current")?;
    let max = dir.read_u64("pids.max")?;
    s.pids.limit = if max == u64::MAX { 0 } else { max };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    #[test]
    fn limit_and_unlimited() {
        let t = Fixture::new("pids");
        t.files(&["pids.max"]);
        apply(&t.dir(), &res(r#"{"pids":{"limit":64}}"#)).unwrap();
        assert_eq!(t.read("pids.max"), "64");
        let t = Fixture::new("pids-max");
        t.files(&["pids.max"]);
        apply(&t.dir(), &res(r#"{"pids":{"limit":-1}}"#)).unwrap();
        assert_eq!(t.read("pids.max"), "max");
        apply(&t.dir(), &res(r#"{"pids":{"limit":0}}"#)).unwrap();
        assert_eq!(t.read("pids.max"), "max");
    }

    #[test]
    fn validate_needs_the_controller() {
        let t = Fixture::new("pids-val");
        t.file("cgroup.controllers", "memory\n");
        let a = Avail::read(&t.dir()).unwrap();
        let e = validate(&a, &res(r#"{"pids":{"limit":64}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.pids.limit: needs the pids controller"),
            "{e}"
        );
        validate(&a, &res(r#"{"pids":{"limit":0}}"#)).unwrap();
    }

    #[test]
    fn stats_current_and_limit() {
        let t = Fixture::new("pids-stats");
        t.file("pids.current", "3\n");
        t.file("pids.max", "max\n");
        let mut s = Stats::default();
        stats(&t.dir(), &mut s).unwrap();
        assert_eq!((s.pids.current, s.pids.limit), (3, 0));
        t.file("pids.max", "10\n");
        stats(&t.dir(), &mut s).unwrap();
        assert_eq!(s.pids.limit, 10);
    }
}
