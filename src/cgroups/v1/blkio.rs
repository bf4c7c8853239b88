//! The v1 `blkio` controller: weights (CFQ `blkio.weight*` or BFQ
//! `blkio.bfq.weight*`) and throttling (runc `fs/blkio.go`).

use oci_spec::runtime::{LinuxBlockIo, LinuxResources, LinuxThrottleDevice};

use super::{needs_file, not_mounted};
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::{BlkioEntry, Stats};
use crate::error::{Error, Result};

fn field(name: &str) -> String {
    format!("linux.resources.blockIO.{name}")
}

/// The weight files this kernel offers: BFQ's when present (its weight
/// files only exist below the root, so any `blkio.bfq.` file tells), else CFQ's.
fn weight_files(dir: &CgroupDir) -> Option<(&'static str, &'static str)> {
    if dir.has("blkio.bfq.weight") || dir.has("blkio.bfq.io_service_bytes") {
        Some(("blkio.bfq.weight", "blkio.bfq.weight_device"))
    } else if dir.has("blkio.weight") {
        Some(("blkio.weight", "blkio.weight_device"))
    } else {
        None
    }
}

/// The throttle lists with their files, spec names first.
fn throttles(
    b: &LinuxBlockIo,
) -> [(
    &'static str,
    &'static str,
    &Option<Vec<LinuxThrottleDevice>>,
); 4] {
    [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ]
}

/// Check that every set blockIO field has its file in `dir` (nearest
/// existing cgroup of the blkio hierarchy; `None` when not mounted).
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let weight = b.weight().is_some_and(|w| w != 0);
    let leaf = b.leaf_weight().is_some_and(|w| w != 0);
    let devs = b.weight_device().as_deref().unwrap_or_default();
    let mut set: Vec<&str> = Vec::new();
    if weight {
        set.push("weight");
    }
    if leaf {
        set.push("leafWeight");
    }
    if !devs.is_empty() {
        set.push("weightDevice");
    }
    for (name, _, list) in throttles(b) {
        if list.as_deref().is_some_and(|l| !l.is_empty()) {
            set.push(name);
        }
    }
    let Some(dir) = dir else {
        return match set.first() {
            Some(name) => Err(not_mounted(&field(name), "blkio")),
            None => Ok(()),
        };
    };
    for w in [b.weight(), b.leaf_weight()].into_iter().flatten() {
        if w != 0 && !(10..=1000).contains(&w) {
            return Err(Error::config(
                field("weight"),
                format!("{w} is not in 10..=1000"),
            ));
        }
    }
    let files = weight_files(dir);
    if (weight || devs.iter().any(|d| d.weight().is_some())) && files.is_none() {
        let name = if weight { "weight" } else { "weightDevice" };
        return Err(needs_file(
            &field(name),
            "blkio.weight",
            "no proportional-weight I/O scheduler (CFQ or BFQ) is enabled",
        ));
    }
    // BFQ has no leaf weights; only CFQ (gone since Linux 5.0) had them.
    if (leaf || devs.iter().any(|d| d.leaf_weight().is_some())) && !dir.has("blkio.leaf_weight") {
        let name = if leaf { "leafWeight" } else { "weightDevice" };
        return Err(needs_file(
            &field(name),
            "blkio.leaf_weight",
            "only the CFQ scheduler had leaf weights",
        ));
    }
    for (name, file, list) in throttles(b) {
        if list.as_deref().is_some_and(|l| !l.is_empty()) && !dir.has(file) {
            return Err(needs_file(
                &field(name),
                file,
                "the kernel has no block throttling",
            ));
        }
    }
    Ok(())
}

/// Write every set blockIO field to the cgroup `dir`, one device a write.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let (weight_file, weight_dev_file) =
        weight_files(dir).unwrap_or(("blkio.weight", "blkio.weight_device"));
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        dir.write(weight_file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        dir.write("blkio.leaf_weight", &w.to_string())?;
    }
    for d in b.weight_device().as_deref().unwrap_or_default() {
        if let Some(w) = d.weight() {
            dir.write(weight_dev_file, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
        if let Some(w) = d.leaf_weight() {
            dir.write(
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", d.major(), d.minor()),
            )?;
        }
    }
    for (_, file, list) in throttles(b) {
        for d in list.as_deref().unwrap_or_default() {
            dir.write(file, &format!("{}:{} {}", d.major(), d.minor(), d.rate()))?;
        }
    }
    Ok(())
}

/// Parse a blkio stat file: `maj:min Op value` lines (and a `Total` line).
fn parse_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dev, op, value) = match f[..] {
                [dev, op, v] => (dev, op, v),
                [dev, v] if dev != "Total" => (dev, "", v),
                _ => return None,
            };
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// Fill `stats.blkio` from the first source that has data, in runc's
/// order: BFQ, CFQ, throttle (recursive), throttle.
pub(crate) fn stats(dir: &CgroupDir, stats: &mut Stats) -> Result<()> {
    const SOURCES: [(&str, &str); 4] = [
        (
            "blkio.bfq.io_service_bytes_recursive",
            "blkio.bfq.io_serviced_recursive",
        ),
        (
            "blkio.io_service_bytes_recursive",
            "blkio.io_serviced_recursive",
        ),
        (
            "blkio.throttle.io_service_bytes_recursive",
            "blkio.throttle.io_serviced_recursive",
        ),
        (
            "blkio.throttle.io_service_bytes",
            "blkio.throttle.io_serviced",
        ),
    ];
    for (bytes, ios) in SOURCES {
        if !dir.has(bytes) {
            continue;
        }
        let b = parse_entries(&dir.read(bytes)?);
        if b.is_empty() {
            continue;
        }
        stats.blkio.io_service_bytes_recursive = b;
        stats.blkio.io_serviced_recursive = parse_entries(&dir.read(ios)?);
        return Ok(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    const SPEC: &str = r#"{"blockIO": {"weight": 300, "leafWeight": 200,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 400}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 200}]}}"#;

    const CFQ: &[(&str, &str)] = &[
        ("blkio.weight", ""),
        ("blkio.leaf_weight", ""),
        ("blkio.weight_device", ""),
        ("blkio.leaf_weight_device", ""),
        ("blkio.throttle.read_bps_device", ""),
        ("blkio.throttle.write_bps_device", ""),
        ("blkio.throttle.read_iops_device", ""),
        ("blkio.throttle.write_iops_device", ""),
    ];

    #[test]
    fn cfq_writes_every_field() {
        let (tmp, dir) = fixture(CFQ);
        validate(Some(&dir), &resources(SPEC)).unwrap();
        apply(&dir, &resources(SPEC)).unwrap();
        assert_eq!(tmp.read("blkio.weight"), "300");
        assert_eq!(tmp.read("blkio.leaf_weight"), "200");
        assert_eq!(tmp.read("blkio.weight_device"), "8:0 500");
        assert_eq!(tmp.read("blkio.leaf_weight_device"), "8:0 400");
        assert_eq!(tmp.read("blkio.throttle.read_bps_device"), "8:0 1048576");
        assert_eq!(tmp.read("blkio.throttle.write_bps_device"), "8:16 2097152");
        assert_eq!(tmp.read("blkio.throttle.read_iops_device"), "8:0 100");
        assert_eq!(tmp.read("blkio.throttle.write_iops_device"), "8:0 200");
    }

    #[test]
    fn bfq_weights_and_missing_leaf_weight() {
        let (tmp, dir) = fixture(&[("blkio.bfq.weight", ""), ("blkio.bfq.weight_device", "")]);
        let r = resources(
            r#"{"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}]}}"#,
        );
        validate(Some(&dir), &r).unwrap();
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read("blkio.bfq.weight"), "300");
        assert_eq!(tmp.read("blkio.bfq.weight_device"), "8:0 50");
        let e = validate(
            Some(&dir),
            &resources(r#"{"blockIO": {"leafWeight": 300}}"#),
        )
        .unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("linux.resources.blockIO.leafWeight:") && e.contains("blkio.leaf_weight"),
            "{e}"
        );
        let e = validate(None, &resources(SPEC)).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("linux.resources.blockIO.weight: needs the blkio"));
    }

    #[test]
    fn stats_prefer_bfq_then_throttle() {
        let (tmp, dir) = fixture(&[
            ("blkio.bfq.io_service_bytes_recursive", "Total 0\n"),
            ("blkio.bfq.io_serviced_recursive", "Total 0\n"),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
            ),
            (
                "blkio.throttle.io_serviced_recursive",
                "8:0 Read 1\nTotal 1\n",
            ),
        ]);
        let mut s = Stats::default();
        stats(&dir, &mut s).unwrap();
        let b = &s.blkio.io_service_bytes_recursive;
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].major, b[0].minor, b[0].op.as_str(), b[0].value),
            (8, 0, "Read", 4096)
        );
        assert_eq!(s.blkio.io_serviced_recursive[0].value, 1);
        tmp.write("blkio.bfq.io_service_bytes_recursive", "8:0 Read 7\n");
        stats(&dir, &mut s).unwrap();
        assert_eq!(s.blkio.io_service_bytes_recursive[0].value, 7);
    }
}
