//! The v1 `memory` controller (runc `fs/memory.go`).

use nix::errno::Errno;
use oci_spec::runtime::{LinuxMemory, LinuxResources};

use super::{needs_file, not_mounted};
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::{MemoryEntry, Stats};
use crate::error::{Error, Result};

const LIMIT: &str = "memory.limit_in_bytes";
const SWAP: &str = "memory.memsw.limit_in_bytes";
const KMEM: &str = "memory.kmem.limit_in_bytes";
const KMEM_TCP: &str = "memory.kmem.tcp.limit_in_bytes";

fn field(name: &str) -> String {
    format!("linux.resources.memory.{name}")
}

/// Whether any field of `m` asks for a write.
fn any_set(m: &LinuxMemory) -> bool {
    m.limit().is_some()
        || m.reservation().is_some()
        || m.swap().is_some()
        || m.kernel().is_some()
        || m.kernel_tcp().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
        || m.use_hierarchy().is_some()
}

/// Check that `dir` (the cgroup or its nearest existing ancestor; `None`
/// when the controller is not mounted) can take every set memory field.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    if !any_set(m) {
        return Ok(());
    }
    let Some(dir) = dir else {
        let first = [
            ("limit", m.limit().is_some()),
            ("reservation", m.reservation().is_some()),
            ("swap", m.swap().is_some()),
            ("kernel", m.kernel().is_some()),
            ("kernelTCP", m.kernel_tcp().is_some()),
            ("swappiness", m.swappiness().is_some()),
            ("disableOOMKiller", m.disable_oom_killer().is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map_or("useHierarchy", |(n, _)| n);
        return Err(not_mounted(&field(first), "memory"));
    };
    if matches!(m.swap(), Some(s) if s != 0) && !dir.has(SWAP) {
        return Err(needs_file(&field("swap"), SWAP, "swap accounting is off"));
    }
    if m.kernel().is_some() && !dir.has(KMEM) {
        return Err(needs_file(
            &field("kernel"),
            KMEM,
            "kernel memory accounting is off",
        ));
    }
    if m.kernel_tcp().is_some() && !dir.has(KMEM_TCP) {
        return Err(needs_file(
            &field("kernelTCP"),
            KMEM_TCP,
            "kernel memory accounting is off",
        ));
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::config(
                field("swappiness"),
                format!("{s} is not in 0..=100"),
            ));
        }
    }
    if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
        if l > 0 && s > 0 && s < l {
            return Err(Error::config(
                field("swap"),
                format!("memory+swap limit {s} must be >= the memory limit {l}"),
            ));
        }
    }
    // Since Linux 5.x use_hierarchy is always on: 0 is refused, and older
    // kernels refuse 0 below a parent that has it on too.
    if m.use_hierarchy() == Some(false)
        && dir
            .read("memory.use_hierarchy")
            .is_ok_and(|v| v.trim() == "1")
    {
        return Err(Error::config(
            field("useHierarchy"),
            "false is refused by the kernel: the parent's memory.use_hierarchy is 1",
        ));
    }
    Ok(())
}

/// Write `memory.limit_in_bytes`, turning the kernel's EBUSY (below usage)
/// into a message with the usage, as runc does.
fn set_limit(dir: &CgroupDir, limit: i64) -> Result<()> {
    match dir.write(LIMIT, &limit.to_string()) {
        Err(e) if e.errno() == Some(Errno::EBUSY) => {
            let usage = dir.read_u64("memory.usage_in_bytes")?;
            let peak = dir.read_u64("memory.max_usage_in_bytes")?;
            Err(Error::Other(format!(
                "unable to set memory limit to {limit} (current usage: {usage}, peak usage: {peak})"
            )))
        }
        other => other,
    }
}

/// Memory then memory+swap, in the order the kernel accepts (memsw must
/// never be below the memory limit): runc's `setMemoryAndSwap`.
fn set_memory_and_swap(dir: &CgroupDir, m: &LinuxMemory) -> Result<()> {
    let memory = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    // Unlimited memory with unset swap means unlimited swap too.
    if memory == -1 && swap == 0 && dir.has(SWAP) {
        swap = -1;
    }
    if memory != 0 && swap != 0 {
        let current = dir.read_u64(LIMIT)?;
        // Raising: swap first, or the new memory limit would exceed the old memsw.
        if swap == -1 || current < swap as u64 {
            dir.write(SWAP, &swap.to_string())?;
            return set_limit(dir, memory);
        }
    }
    if memory != 0 {
        set_limit(dir, memory)?;
    }
    if swap != 0 {
        dir.write(SWAP, &swap.to_string())?;
    }
    Ok(())
}

/// Write every set memory field to the cgroup `dir`.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    if m.check_before_update() == Some(true) {
        if let Some(limit) = m.limit().filter(|l| *l > 0) {
            let usage = dir.read_u64("memory.usage_in_bytes")?;
            if (limit as u64) < usage {
                return Err(Error::config(
                    field("limit"),
                    format!("{limit} is below the current usage {usage} (checkBeforeUpdate)"),
                ));
            }
        }
    }
    if let Some(h) = m.use_hierarchy() {
        // Must precede the limits: it can only change while the group is empty.
        dir.write("memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    set_memory_and_swap(dir, m)?;
    if let Some(k) = m.kernel() {
        dir.write(KMEM, &k.to_string())?;
    }
    if let Some(k) = m.kernel_tcp() {
        dir.write(KMEM_TCP, &k.to_string())?;
    }
    if let Some(v) = m.reservation().filter(|v| *v != 0) {
        dir.write("memory.soft_limit_in_bytes", &v.to_string())?;
    }
    if let Some(d) = m.disable_oom_killer() {
        dir.write("memory.oom_control", if d { "1" } else { "0" })?;
    }
    if let Some(s) = m.swappiness() {
        dir.write("memory.swappiness", &s.to_string())?;
    }
    Ok(())
}

/// One `memory[.<kind>].{usage,max_usage,failcnt,limit}` set; the optional
/// kinds (`memsw`, `kmem`, `kmem.tcp`) read as zero when the kernel lacks them.
fn entry(dir: &CgroupDir, kind: &str) -> Result<MemoryEntry> {
    let prefix = if kind.is_empty() {
        "memory".to_string()
    } else {
        format!("memory.{kind}")
    };
    if !kind.is_empty() && !dir.has(&format!("{prefix}.usage_in_bytes")) {
        return Ok(MemoryEntry::default());
    }
    Ok(MemoryEntry {
        usage: dir.read_u64(&format!("{prefix}.usage_in_bytes"))?,
        max: dir.read_u64(&format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: dir.read_u64(&format!("{prefix}.failcnt"))?,
        limit: dir.read_u64(&format!("{prefix}.limit_in_bytes"))?,
    })
}

/// Fill `stats.memory` from the cgroup `dir`.
pub(crate) fn stats(dir: &CgroupDir, stats: &mut Stats) -> Result<()> {
    let mem = &mut stats.memory;
    mem.raw = dir.read_keyed("memory.stat")?.into_iter().collect();
    mem.cache = mem.raw.get("cache").copied().unwrap_or(0);
    mem.usage = entry(dir, "")?;
    mem.swap = entry(dir, "memsw")?;
    mem.kernel = entry(dir, "kmem")?;
    mem.kernel_tcp = entry(dir, "kmem.tcp")?;
    Ok(())
}

/// The `oom_kill` counter of `memory.oom_control` (0 on kernels before 4.13).
pub(crate) fn oom_kills(dir: &CgroupDir) -> Result<u64> {
    Ok(dir
        .read_keyed("memory.oom_control")?
        .into_iter()
        .find(|(k, _)| k == "oom_kill")
        .map_or(0, |(_, v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    const FILES: &[(&str, &str)] = &[
        (LIMIT, "9223372036854771712"),
        (SWAP, "9223372036854771712"),
        (KMEM, ""),
        (KMEM_TCP, ""),
        ("memory.soft_limit_in_bytes", ""),
        (
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        ),
        ("memory.swappiness", ""),
        ("memory.use_hierarchy", "1"),
        ("memory.usage_in_bytes", "1000"),
    ];

    #[test]
    fn writes_every_field() {
        let (tmp, dir) = fixture(FILES);
        let r = resources(
            r#"{"memory": {"limit": 1048576, "reservation": 524288, "swap": 2097152,
                "kernel": 4096, "kernelTCP": 8192, "swappiness": 10,
                "disableOOMKiller": true, "useHierarchy": true}}"#,
        );
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read(LIMIT), "1048576");
        assert_eq!(tmp.read(SWAP), "2097152");
        assert_eq!(tmp.read(KMEM), "4096");
        assert_eq!(tmp.read(KMEM_TCP), "8192");
        assert_eq!(tmp.read("memory.soft_limit_in_bytes"), "524288");
        assert_eq!(tmp.read("memory.swappiness"), "10");
        assert_eq!(tmp.read("memory.oom_control"), "1");
        assert_eq!(tmp.read("memory.use_hierarchy"), "1");
    }

    #[test]
    fn unlimited_memory_means_unlimited_swap() {
        let (tmp, dir) = fixture(FILES);
        tmp.write(LIMIT, "1048576");
        apply(&dir, &resources(r#"{"memory": {"limit": -1}}"#)).unwrap();
        assert_eq!(tmp.read(LIMIT), "-1");
        assert_eq!(tmp.read(SWAP), "-1");
    }

    #[test]
    fn check_before_update_refuses_a_limit_below_usage() {
        let (_tmp, dir) = fixture(FILES);
        let r = resources(r#"{"memory": {"limit": 10, "checkBeforeUpdate": true}}"#);
        let e = apply(&dir, &r).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.memory.limit:"), "{e}");
    }

    #[test]
    fn validate_names_the_field_and_the_file() {
        let (tmp, dir) = fixture(FILES);
        let r = resources(r#"{"memory": {"limit": 100}}"#);
        let e = validate(None, &r).unwrap_err().to_string();
        assert_eq!(
            e,
            "linux.resources.memory.limit: needs the memory cgroup controller, \
             which this host does not mount"
        );
        tmp.remove(SWAP);
        let e = validate(
            Some(&dir),
            &resources(r#"{"memory": {"limit": 100, "swap": 200}}"#),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("memory.memsw.limit_in_bytes"));
        let e = validate(
            Some(&dir),
            &resources(r#"{"memory": {"useHierarchy": false}}"#),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("linux.resources.memory.useHierarchy"));
        let e = validate(Some(&dir), &resources(r#"{"memory": {"swappiness": 101}}"#));
        assert!(e.is_err());
    }

    #[test]
    fn oom_kill_counter_and_stats() {
        let (tmp, dir) = fixture(FILES);
        assert_eq!(oom_kills(&dir).unwrap(), 3);
        tmp.write("memory.stat", "cache 4096\nrss 8192\n");
        tmp.write("memory.max_usage_in_bytes", "2000");
        tmp.write("memory.failcnt", "1");
        let mut s = Stats::default();
        stats(&dir, &mut s).unwrap();
        assert_eq!(s.memory.cache, 4096);
        assert_eq!(s.memory.raw["rss"], 8192);
        assert_eq!(s.memory.usage.usage, 1000);
        assert_eq!(s.memory.usage.max, 2000);
        assert_eq!(s.memory.usage.failcnt, 1);
        assert_eq!(s.memory.swap, MemoryEntry::default(), "no memsw usage file");
    }
}
