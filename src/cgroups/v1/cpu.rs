//! The v1 `cpu` controller: CFS shares, bandwidth, burst, idle and
//! real-time group scheduling (runc `fs/cpu.go`). `cpus`/`mems` are the
//! cpuset controller's ([`super::cpuset`]).

use nix::errno::Errno;
use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::{needs_file, not_mounted};
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::Stats;
use crate::error::{Error, Result};

fn field(name: &str) -> String {
    format!("linux.resources.cpu.{name}")
}

/// The set fields of `c` that the cpu controller handles, with the file
/// each needs, in spec order.
fn wanted(c: &LinuxCpu) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    if c.shares().is_some_and(|s| s != 0) {
        v.push(("shares", "cpu.shares"));
    }
    if c.quota().is_some_and(|q| q != 0) {
        v.push(("quota", "cpu.cfs_quota_us"));
    }
    if c.period().is_some_and(|p| p != 0) {
        v.push(("period", "cpu.cfs_period_us"));
    }
    if c.burst().is_some() {
        v.push(("burst", "cpu.cfs_burst_us"));
    }
    if c.idle().is_some() {
        v.push(("idle", "cpu.idle"));
    }
    if c.realtime_runtime().is_some_and(|r| r != 0) {
        v.push(("realtimeRuntime", "cpu.rt_runtime_us"));
    }
    if c.realtime_period().is_some_and(|p| p != 0) {
        v.push(("realtimePeriod", "cpu.rt_period_us"));
    }
    v
}

/// Check that `dir` (nearest existing cgroup of the cpu hierarchy, `None`
/// when not mounted) offers a file for every set cpu field.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    for (name, file) in wanted(c) {
        let Some(dir) = dir else {
            return Err(not_mounted(&field(name), "cpu"));
        };
        if !dir.has(file) {
            let why = match name {
                "burst" => "the kernel predates CFS burst (5.14)",
                "idle" => "the kernel predates SCHED_IDLE groups (5.15)",
                "realtimeRuntime" | "realtimePeriod" => {
                    "the kernel has no real-time group scheduling (CONFIG_RT_GROUP_SCHED)"
                }
                "quota" | "period" => "the kernel has no CFS bandwidth control",
                _ => "the kernel does not offer it",
            };
            return Err(needs_file(&field(name), file, why));
        }
    }
    if let Some(i) = c.idle() {
        if i != 0 && i != 1 {
            return Err(Error::config(
                field("idle"),
                format!("{i} is neither 0 nor 1"),
            ));
        }
    }
    Ok(())
}

/// Real-time period then runtime (runc writes these before a process joins,
/// since a SCHED_RR task cannot join a group without RT bandwidth).
fn set_rt(dir: &CgroupDir, c: &LinuxCpu) -> Result<()> {
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        dir.write("cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        dir.write("cpu.rt_runtime_us", &r.to_string())?;
    }
    Ok(())
}

/// Write every set cpu field to the cgroup `dir`.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    if let Some(shares) = c.shares().filter(|s| *s != 0) {
        dir.write("cpu.shares", &shares.to_string())?;
        // The kernel clamps silently; say so instead.
        let got = dir.read_u64("cpu.shares")?;
        if got != shares {
            let bound = if shares > got { "maximum" } else { "minimum" };
            return Err(Error::config(
                field("shares"),
                format!("the {bound} allowed cpu-shares is {got}"),
            ));
        }
    }
    // A period smaller than the current one may be refused (EINVAL) while
    // the old quota / new period exceeds the parent's; retry after the quota.
    let mut period_pending = None;
    if let Some(p) = c.period().filter(|p| *p != 0) {
        match dir.write("cpu.cfs_period_us", &p.to_string()) {
            Err(e) if e.errno() == Some(Errno::EINVAL) => period_pending = Some(p),
            other => other?,
        }
    }
    if let Some(q) = c.quota().filter(|q| *q != 0) {
        dir.write("cpu.cfs_quota_us", &q.to_string())?;
    }
    if let Some(p) = period_pending {
        dir.write("cpu.cfs_period_us", &p.to_string())?;
    }
    if let Some(b) = c.burst() {
        dir.write("cpu.cfs_burst_us", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        dir.write("cpu.idle", &i.to_string())?;
    }
    set_rt(dir, c)
}

/// Fill the throttling counters from `cpu.stat`.
pub(crate) fn stats(dir: &CgroupDir, stats: &mut Stats) -> Result<()> {
    if !dir.has("cpu.stat") {
        return Ok(());
    }
    let t = &mut stats.cpu.throttling;
    for (k, v) in dir.read_keyed("cpu.stat")? {
        match k.as_str() {
            "nr_periods" => t.periods = v,
            "nr_throttled" => t.throttled_periods = v,
            "throttled_time" => t.throttled_time = v,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    const FILES: &[(&str, &str)] = &[
        ("cpu.shares", ""),
        ("cpu.cfs_quota_us", ""),
        ("cpu.cfs_period_us", ""),
        ("cpu.cfs_burst_us", ""),
        ("cpu.idle", ""),
        ("cpu.rt_runtime_us", ""),
        ("cpu.rt_period_us", ""),
        (
            "cpu.stat",
            "nr_periods 10\nnr_throttled 2\nthrottled_time 3000\n",
        ),
    ];

    #[test]
    fn writes_every_field() {
        let (tmp, dir) = fixture(FILES);
        let r = resources(
            r#"{"cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                "idle": 1, "realtimeRuntime": 950, "realtimePeriod": 1000}}"#,
        );
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read("cpu.shares"), "512");
        assert_eq!(tmp.read("cpu.cfs_quota_us"), "50000");
        assert_eq!(tmp.read("cpu.cfs_period_us"), "100000");
        assert_eq!(tmp.read("cpu.cfs_burst_us"), "1000");
        assert_eq!(tmp.read("cpu.idle"), "1");
        assert_eq!(tmp.read("cpu.rt_runtime_us"), "950");
        assert_eq!(tmp.read("cpu.rt_period_us"), "1000");
    }

    #[test]
    fn unset_and_zero_fields_are_left_alone() {
        let (tmp, dir) = fixture(FILES);
        apply(&dir, &resources(r#"{"cpu": {"shares": 0, "quota": -1}}"#)).unwrap();
        assert_eq!(tmp.read("cpu.shares"), "");
        assert_eq!(tmp.read("cpu.cfs_quota_us"), "-1");
        assert_eq!(tmp.read("cpu.cfs_period_us"), "");
    }

    #[test]
    fn validate_names_missing_files() {
        let (tmp, dir) = fixture(FILES);
        tmp.remove("cpu.rt_runtime_us");
        tmp.remove("cpu.cfs_burst_us");
        let e = validate(Some(&dir), &resources(r#"{"cpu": {"realtimeRuntime": 5}}"#));
        let e = e.unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.cpu.realtimeRuntime:"), "{e}");
        assert!(e.contains("cpu.rt_runtime_us"), "{e}");
        let e = validate(Some(&dir), &resources(r#"{"cpu": {"burst": 5}}"#)).unwrap_err();
        assert!(e.to_string().contains("cpu.cfs_burst_us"));
        let e = validate(None, &resources(r#"{"cpu": {"shares": 5}}"#)).unwrap_err();
        assert!(e.to_string().contains("needs the cpu cgroup controller"));
        validate(None, &resources(r#"{"cpu": {"cpus": "0"}}"#)).unwrap();
    }

    #[test]
    fn throttling_stats() {
        let (_tmp, dir) = fixture(FILES);
        let mut s = Stats::default();
        stats(&dir, &mut s).unwrap();
        assert_eq!(s.cpu.throttling.periods, 10);
        assert_eq!(s.cpu.throttling.throttled_periods, 2);
        assert_eq!(s.cpu.throttling.throttled_time, 3000);
    }
}
