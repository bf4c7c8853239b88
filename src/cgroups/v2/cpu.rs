//! cpu: `cpu.weight` (from the spec's v1 shares), `cpu.max` ("quota
//! period"), `cpu.max.burst`, `cpu.idle`. runc `fs2/cpu.go` is the reference.

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::controllers::{unsupported, Avail};
use crate::cgroups::convert::cpu_shares_to_weight;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::Stats;
use crate::error::{Error, Result};

/// The kernel's default CFS period (µs), used when only a quota is given.
const DEFAULT_PERIOD: u64 = 100_000;

/// `cpu.weight` from shares: runc's `ConvertCPUSharesToCgroupV2Value`,
/// `1 + ((shares - 2) * 9999) / 262142`, mapping [2, 262144] onto [1, 10000].
fn weight(c: &LinuxCpu) -> Option<u64> {
    Some(cpu_shares_to_weight(c.shares()?)).filter(|w| *w != 0)
}

/// Whether cpu.idle asks for SCHED_IDLE, which makes cpu.weight read-only.
fn idle(c: &LinuxCpu) -> bool {
    c.idle().is_some_and(|i| i != 0)
}

/// The quota part of `cpu.max`: positive is a quota, negative is "max",
/// 0 (or absent) is "unset".
fn quota(c: &LinuxCpu) -> Option<String> {
    match c.quota() {
        None | Some(0) => None,
        Some(q) if q < 0 => Some("max".into()),
        Some(q) => Some(q.to_string()),
    }
}

/// `cpu.max` as the typed fields ask, given the file's current content:
/// the half not given is kept (as writing one of v1's two files does), so
/// `update --cpu-period` does not lift the limit. Without a current value,
/// "max" and the kernel's default period.
fn cpu_max(c: &LinuxCpu, current: Option<&str>) -> Option<String> {
    let period = c.period().filter(|p| *p != 0);
    let q = quota(c);
    if q.is_none() && period.is_none() {
        return None;
    }
    let mut cur = current.unwrap_or("").split_whitespace();
    let (cur_q, cur_p) = (cur.next(), cur.next().and_then(|p| p.parse().ok()));
    let q = q.unwrap_or_else(|| cur_q.unwrap_or("max").to_string());
    Some(format!(
        "{q} {}",
        period.or(cur_p).unwrap_or(DEFAULT_PERIOD)
    ))
}

/// Check the controller, the realtime fields v2 lacks, and the files newer
/// kernels add (`cpu.max.burst` 5.14, `cpu.idle` 5.15).
pub(crate) fn validate(avail: &Avail, probe: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    if !matches!(c.realtime_runtime(), None | Some(0)) {
        return Err(unsupported(
            "cpu.realtimeRuntime",
            "cgroup v2 has no realtime CPU bandwidth control",
        ));
    }
    if !matches!(c.realtime_period(), None | Some(0)) {
        return Err(unsupported(
            "cpu.realtimePeriod",
            "cgroup v2 has no realtime CPU bandwidth control",
        ));
    }
    if !matches!(c.idle(), None | Some(0) | Some(1)) {
        return Err(Error::config("linux.resources.cpu.idle", "must be 0 or 1"));
    }
    for (field, set, file) in [
        ("cpu.shares", weight(c).is_some(), "cpu.weight"),
        ("cpu.quota", quota(c).is_some(), "cpu.max"),
        ("cpu.period", c.period().is_some_and(|p| p != 0), "cpu.max"),
        ("cpu.burst", c.burst().is_some(), "cpu.max.burst"),
        ("cpu.idle", c.idle().is_some(), "cpu.idle"),
    ] {
        if !set {
            continue;
        }
        avail.need(field, "cpu")?;
        if probe.has("cpu.max") && !probe.has(file) {
            return Err(Error::config(
                format!("linux.resources.{field}"),
                format!(
                    "this kernel has no {file} (none in {})",
                    probe.path().display()
                ),
            ));
        }
    }
    if let (Some(b), Some(q)) = (c.burst(), c.quota().filter(|q| *q > 0)) {
        if b > q as u64 {
            return Err(Error::config(
                "linux.resources.cpu.burst",
                format!("burst {b} must not exceed the quota {q}"),
            ));
        }
    }
    Ok(())
}

/// The files the typed fields set (cpu.max with "max" for an unknown
/// current quota), for the unified conflict check.
pub(crate) fn planned(r: &LinuxResources) -> Vec<(String, String)> {
    let Some(c) = r.cpu() else { return Vec::new() };
    let mut w = Vec::new();
    if let Some(i) = c.idle() {
        w.push(("cpu.idle".into(), i.to_string()));
    }
    if let (Some(v), false) = (weight(c), idle(c)) {
        w.push(("cpu.weight".into(), v.to_string()));
    }
    if let Some(v) = cpu_max(c, None) {
        w.push(("cpu.max".into(), v));
    }
    if let Some(b) = c.burst() {
        w.push(("cpu.max.burst".into(), b.to_string()));
    }
    w
}

/// Write the cpu files. The burst goes after the quota when the kernel
/// refuses it first (it must not exceed the quota in force), as runc does.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    if let Some(i) = c.idle() {
        dir.write("cpu.idle", &i.to_string())?;
    }
    if let (Some(v), false) = (weight(c), idle(c)) {
        dir.write("cpu.weight", &v.to_string())?;
    }
    let mut burst_later = None;
    if let Some(b) = c.burst() {
        match dir.write("cpu.max.burst", &b.to_string()) {
            Err(e) if e.errno() == Some(nix::errno::Errno::EINVAL) && quota(c).is_some() => {
                burst_later = Some(b)
            }
            r => r?,
        }
    }
    let keep = quota(c).is_none() || c.period().filter(|p| *p != 0).is_none();
    let current = if keep { dir.read("cpu.max").ok() } else { None };
    if let Some(v) = cpu_max(c, current.as_deref()) {
        dir.write("cpu.max", &v)?;
    }
    if let Some(b) = burst_later {
        dir.write("cpu.max.burst", &b.to_string())?;
    }
    Ok(())
}

/// `cpu.stat` (present without the controller too): µs → ns as runc does.
pub(crate) fn stats(dir: &CgroupDir, s: &mut Stats) -> Result<()> {
    if !dir.has("cpu.stat") {
        return Ok(());
    }
    for (k, v) in dir.read_keyed("cpu.stat")? {
        match k.as_str() {
            "usage_usec" => s.cpu.usage.total = v * 1000,
            "user_usec" => s.cpu.usage.user = v * 1000,
            "system_usec" => s.cpu.usage.kernel = v * 1000,
            "nr_periods" => s.cpu.throttling.periods = v,
            "nr_throttled" => s.cpu.throttling.throttled_periods = v,
            "throttled_usec" => s.cpu.throttling.throttled_time = v * 1000,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    const FILES: [&str; 4] = ["cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle"];

    #[test]
    fn shares_quota_period_burst() {
        let t = Fixture::new("cpu");
        t.files(&FILES);
        let r = res(r#"{"cpu":{"shares":1024,"quota":50000,"period":200000,"burst":10000}}"#);
        apply(&t.dir(), &r).unwrap();
        assert_eq!(t.read("cpu.weight"), "39");
        assert_eq!(t.read("cpu.max"), "50000 200000");
        assert_eq!(t.read("cpu.max.burst"), "10000");
        assert_eq!(t.read("cpu.idle"), "");
    }

    #[test]
    fn unlimited_quota_and_default_period() {
        let t = Fixture::new("cpu-max");
        t.files(&FILES);
        apply(&t.dir(), &res(r#"{"cpu":{"quota":-1}}"#)).unwrap();
        assert_eq!(t.read("cpu.max"), "max 100000");
        let t = Fixture::new("cpu-q");
        t.files(&FILES);
        apply(&t.dir(), &res(r#"{"cpu":{"quota":20000}}"#)).unwrap();
        assert_eq!(t.read("cpu.max"), "20000 100000");
    }

    #[test]
    fn one_half_of_cpu_max_keeps_the_other() {
        let t = Fixture::new("cpu-period");
        t.files(&FILES);
        t.file("cpu.max", "30000 100000\n");
        apply(&t.dir(), &res(r#"{"cpu":{"period":50000}}"#)).unwrap();
        // Plain file: the shorter write leaves the old tail behind it.
        assert!(t.read("cpu.max").starts_with("30000 50000"));
        // And a quota alone keeps the period.
        t.file("cpu.max", "max 250000\n");
        apply(&t.dir(), &res(r#"{"cpu":{"quota":1000}}"#)).unwrap();
        assert_eq!(t.read("cpu.max"), "1000 250000");
    }

    #[test]
    fn idle_leaves_weight_alone() {
        let t = Fixture::new("cpu-idle");
        t.files(&FILES);
        apply(&t.dir(), &res(r#"{"cpu":{"idle":1,"shares":2048}}"#)).unwrap();
        assert_eq!(t.read("cpu.idle"), "1");
        assert_eq!(t.read("cpu.weight"), "");
    }

    #[test]
    fn validate_refuses_realtime_and_missing_controller() {
        let t = Fixture::new("cpu-val");
        t.file("cgroup.controllers", "cpu\n");
        let (a, d) = (Avail::read(&t.dir()).unwrap(), t.dir());
        for (json, field) in [
            (r#"{"cpu":{"realtimeRuntime":1000}}"#, "cpu.realtimeRuntime"),
            (r#"{"cpu":{"realtimePeriod":1000}}"#, "cpu.realtimePeriod"),
            (r#"{"cpu":{"idle":2}}"#, "cpu.idle"),
            (r#"{"cpu":{"quota":1000,"burst":2000}}"#, "cpu.burst"),
        ] {
            let e = validate(&a, &d, &res(json)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("linux.resources.{field}:")), "{e}");
        }
        validate(
            &a,
            &d,
            &res(r#"{"cpu":{"shares":512,"realtimeRuntime":0}}"#),
        )
        .unwrap();
        // The parent has cpu files but no cpu.max.burst: an older kernel.
        t.files(&["cpu.max"]);
        let e = validate(&a, &d, &res(r#"{"cpu":{"burst":10}}"#)).unwrap_err();
        assert!(e.to_string().contains("has no cpu.max.burst"), "{e}");
        t.file("cgroup.controllers", "memory\n");
        let a = Avail::read(&t.dir()).unwrap();
        let e = validate(&a, &d, &res(r#"{"cpu":{"shares":512}}"#)).unwrap_err();
        assert!(
            e.to_string()
                .contains("cpu.shares: needs the cpu controller"),
            "{e}"
        );
        validate(&a, &d, &res(r#"{"cpu":{"cpus":"0"}}"#)).unwrap();
    }

    #[test]
    fn stats_in_nanoseconds() {
        let t = Fixture::new("cpu-stats");
        t.file(
            "cpu.stat",
            "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 5\nnr_throttled 2\nthrottled_usec 7\n",
        );
        let mut s = Stats::default();
        stats(&t.dir(), &mut s).unwrap();
        assert_eq!(
            (s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel),
            (100_000, 60_000, 40_000)
        );
        assert_eq!(s.cpu.throttling.periods, 5);
        assert_eq!(s.cpu.throttling.throttled_periods, 2);
        assert_eq!(s.cpu.throttling.throttled_time, 7000);
    }
}
