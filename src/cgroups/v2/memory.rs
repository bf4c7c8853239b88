//! memory: `memory.max` (limit), `memory.low` (reservation),
//! `memory.swap.max` (the spec's memory+swap converted to swap alone).
//! runc `fs2/memory.go` is the reference.

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use super::controllers::{unsupported, Avail};
use crate::cgroups::convert::memory_swap_to_v2;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::{MemoryEntry, Stats};
use crate::error::{Error, Result};

/// `-1` (or any negative) is no limit; 0 is "leave unset", as in runc.
fn num(v: Option<i64>) -> Option<String> {
    match v {
        None | Some(0) => None,
        Some(v) if v < 0 => Some("max".into()),
        Some(v) => Some(v.to_string()),
    }
}

/// The converted `memory.swap.max` value, `None` when it stays unset.
fn swap_value(m: &LinuxMemory) -> Result<Option<String>> {
    Ok(match memory_swap_to_v2(m.swap(), m.limit())? {
        None => None,
        Some(v) if v < 0 => Some("max".into()),
        // memory == memory+swap: no swap at all.
        Some(v) => Some(v.to_string()),
    })
}

/// Check the fields v2 can't honour and the controller.
pub(crate) fn validate(avail: &Avail, probe: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    if m.swappiness().is_some() {
        return Err(unsupported(
            "memory.swappiness",
            "cgroup v2 has no per-cgroup swappiness; remove the field",
        ));
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(unsupported(
            "memory.disableOOMKiller",
            "cgroup v2 cannot disable the OOM killer for a cgroup",
        ));
    }
    for (name, v) in [("kernel", m.kernel()), ("kernelTCP", m.kernel_tcp())] {
        if !matches!(v, None | Some(0) | Some(-1)) {
            return Err(unsupported(
                &format!("memory.{name}"),
                "kernel memory is accounted in memory.max on cgroup v2 and has no separate limit",
            ));
        }
    }
    if m.use_hierarchy() == Some(false) {
        return Err(unsupported(
            "memory.useHierarchy",
            "cgroup v2 is always hierarchical",
        ));
    }
    let swap = swap_value(m)?;
    for (field, set) in [
        ("memory.limit", num(m.limit()).is_some()),
        ("memory.reservation", num(m.reservation()).is_some()),
        ("memory.swap", swap.is_some()),
    ] {
        if set {
            avail.need(field, "memory")?;
        }
    }
    // The parent has memory files when memory is enabled for it; a missing
    // memory.swap.max there means the kernel does no swap accounting.
    if swap.is_some() && probe.has("memory.max") && !probe.has("memory.swap.max") {
        return Err(Error::config(
            "linux.resources.memory.swap",
            format!(
                "this kernel does no swap accounting (no memory.swap.max in {})",
                probe.path().display()
            ),
        ));
    }
    Ok(())
}

/// The files the typed fields set, in write order.
pub(crate) fn planned(r: &LinuxResources) -> Result<Vec<(String, String)>> {
    let Some(m) = r.memory() else {
        return Ok(Vec::new());
    };
    let mut w = Vec::new();
    // Swap first, as runc does.
    if let Some(v) = swap_value(m)? {
        w.push(("memory.swap.max".to_string(), v));
    }
    if let Some(v) = num(m.limit()) {
        w.push(("memory.max".to_string(), v));
    }
    if let Some(v) = num(m.reservation()) {
        w.push(("memory.low".to_string(), v));
    }
    Ok(w)
}

/// Write the memory files; with `checkBeforeUpdate`, refuse a limit at or
/// below the current usage (best effort: no usage file, no check).
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    if let (Some(true), Some(limit)) = (m.check_before_update(), m.limit()) {
        if limit > 0 {
            if let Ok(usage) = dir.read_u64("memory.current") {
                if usage >= limit as u64 {
                    return Err(Error::config(
                        "linux.resources.memory.limit",
                        format!("rejecting memory limit {limit} below current usage {usage}"),
                    ));
                }
            }
        }
    }
    for (file, v) in planned(r)? {
        dir.write(&file, &v)?;
    }
    Ok(())
}

/// `memory.{current,max,peak}` and `memory.events` max as failcnt.
fn entry(dir: &CgroupDir, prefix: &str) -> Result<MemoryEntry> {
    let mut e = MemoryEntry {
        usage: dir.read_u64(&format!("{prefix}.current"))?,
        limit: dir.read_u64(&format!("{prefix}.max"))?,
        ..MemoryEntry::default()
    };
    let peak = format!("{prefix}.peak");
    if dir.has(&peak) {
        e.max = dir.read_u64(&peak)?;
    }
    let events = format!("{prefix}.events");
    if dir.has(&events) {
        e.failcnt = super::hugetlb::keyed(dir, &events, "max")?;
    }
    Ok(e)
}

/// Usage, limits, `memory.stat` (raw, and `file` as cache). Swap is reported
/// as memory+swap, as runc does for v1 compatibility.
pub(crate) fn stats(dir: &CgroupDir, s: &mut Stats) -> Result<()> {
    if !dir.has("memory.stat") {
        return Ok(());
    }
    for (k, v) in dir.read_keyed("memory.stat")? {
        s.memory.raw.insert(k, v);
    }
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.memory.usage = entry(dir, "memory")?;
    if dir.has("memory.swap.current") {
        let mut swap = entry(dir, "memory.swap")?;
        swap.usage += s.memory.usage.usage;
        if swap.limit != u64::MAX {
            swap.limit = swap.limit.saturating_add(s.memory.usage.limit);
        }
        s.memory.swap = swap;
    }
    Ok(())
}

/// `oom_kill` from `memory.events` (0 without the memory controller).
pub(crate) fn oom_kills(dir: &CgroupDir) -> Result<u64> {
    if !dir.has("memory.events") {
        return Ok(0);
    }
    super::hugetlb::keyed(dir, "memory.events", "oom_kill")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    const FILES: [&str; 4] = [
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "cgroup.controllers",
    ];

    #[test]
    fn writes_limit_reservation_and_converted_swap() {
        let t = Fixture::new("mem");
        t.files(&FILES);
        let r = res(r#"{"memory":{"limit":1048576,"reservation":524288,"swap":3145728}}"#);
        apply(&t.dir(), &r).unwrap();
        assert_eq!(t.read("memory.max"), "1048576");
        assert_eq!(t.read("memory.low"), "524288");
        assert_eq!(t.read("memory.swap.max"), "2097152");
    }

    #[test]
    fn minus_one_is_max_and_equal_swap_is_zero() {
        let t = Fixture::new("mem-max");
        t.files(&FILES);
        apply(&t.dir(), &res(r#"{"memory":{"limit":-1}}"#)).unwrap();
        assert_eq!(t.read("memory.max"), "max");
        assert_eq!(t.read("memory.swap.max"), "max");
        let t = Fixture::new("mem-noswap");
        t.files(&FILES);
        apply(&t.dir(), &res(r#"{"memory":{"limit":4096,"swap":4096}}"#)).unwrap();
        assert_eq!(t.read("memory.swap.max"), "0");
        assert_eq!(t.read("memory.low"), "");
    }

    #[test]
    fn check_before_update_refuses_a_limit_below_usage() {
        let t = Fixture::new("mem-check");
        t.files(&FILES);
        t.file("memory.current", "8192\n");
        let r = res(r#"{"memory":{"limit":4096,"checkBeforeUpdate":true}}"#);
        let e = apply(&t.dir(), &r).unwrap_err().to_string();
        assert!(e.contains("below current usage 8192"), "{e}");
        assert_eq!(t.read("memory.max"), "");
        apply(
            &t.dir(),
            &res(r#"{"memory":{"limit":16384,"checkBeforeUpdate":true}}"#),
        )
        .unwrap();
        assert_eq!(t.read("memory.max"), "16384");
    }

    #[test]
    fn validate_refuses_what_v2_cannot_do() {
        let t = Fixture::new("mem-val");
        t.file("cgroup.controllers", "memory\n");
        let a = Avail::read(&t.dir()).unwrap();
        let d = t.dir();
        for (json, field) in [
            (r#"{"memory":{"swappiness":60}}"#, "memory.swappiness"),
            (
                r#"{"memory":{"disableOOMKiller":true}}"#,
                "memory.disableOOMKiller",
            ),
            (r#"{"memory":{"kernel":1048576}}"#, "memory.kernel"),
            (r#"{"memory":{"kernelTCP":1048576}}"#, "memory.kernelTCP"),
            (r#"{"memory":{"swap":100}}"#, "memory.swap"),
        ] {
            let e = validate(&a, &d, &res(json)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("linux.resources.{field}:")), "{e}");
        }
        let ok = r#"{"memory":{"limit":100,"disableOOMKiller":false,"kernel":-1}}"#;
        validate(&a, &d, &res(ok)).unwrap();
        t.file("cgroup.controllers", "cpu\n");
        let a = Avail::read(&t.dir()).unwrap();
        let e = validate(&a, &d, &res(ok)).unwrap_err().to_string();
        assert!(
            e.contains("memory.limit: needs the memory controller"),
            "{e}"
        );
        // The parent has memory files but no swap accounting.
        t.file("cgroup.controllers", "memory\n");
        t.file("memory.max", "max\n");
        let a = Avail::read(&t.dir()).unwrap();
        let e = validate(&a, &d, &res(r#"{"memory":{"limit":100,"swap":200}}"#)).unwrap_err();
        assert!(e.to_string().contains("no swap accounting"), "{e}");
    }

    #[test]
    fn stats_like_runc() {
        let t = Fixture::new("mem-stats");
        t.file("memory.stat", "anon 4096\nfile 8192\n");
        t.file("memory.current", "12288\n");
        t.file("memory.max", "max\n");
        t.file("memory.peak", "20000\n");
        t.file("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
        t.file("memory.swap.current", "100\n");
        t.file("memory.swap.max", "max\n");
        let mut s = Stats::default();
        stats(&t.dir(), &mut s).unwrap();
        assert_eq!(s.memory.cache, 8192);
        assert_eq!(s.memory.raw["anon"], 4096);
        assert_eq!(s.memory.usage.usage, 12288);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.memory.usage.max, 20000);
        assert_eq!(s.memory.usage.failcnt, 2);
        assert_eq!(s.memory.swap.usage, 12388);
        assert_eq!(s.memory.swap.limit, u64::MAX);
        assert_eq!(oom_kills(&t.dir()).unwrap(), 1);
        assert_eq!(oom_kills(&Fixture::new("mem-none").dir()).unwrap(), 0);
    }
}
