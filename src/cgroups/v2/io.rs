//! io: the spec's v1 blockIO fields on v2. The weight goes to
//! `io.bfq.weight` as given when the BFQ scheduler is there, else to
//! `io.weight` converted (runc `fs2/io.go`); per-device weights likewise
//! ("maj:min w"), and the throttles to `io.max`, one line per device.

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxBlockIo, LinuxResources};

use super::controllers::{unsupported, Avail};
use crate::cgroups::convert::blkio_weight_to_io_weight;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::{BlkioEntry, Stats};
use crate::error::{Error, Result};

/// The `io.max` lines: every throttle of one device in one line, a rate of
/// 0 meaning "no limit" (as writing 0 does on v1).
pub(crate) fn max_lines(b: &LinuxBlockIo) -> Vec<String> {
    let mut dev: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
    for (key, list) in [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ] {
        for t in list.iter().flatten() {
            let v = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            dev.entry((t.major(), t.minor()))
                .or_default()
                .push(format!("{key}={v}"));
        }
    }
    dev.into_iter()
        .map(|((ma, mi), kv)| format!("{ma}:{mi} {}", kv.join(" ")))
        .collect()
}

fn is_set(b: &LinuxBlockIo) -> bool {
    b.weight().is_some_and(|w| w != 0)
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.weight().is_some())
        || !max_lines(b).is_empty()
}

fn check_weight(field: &str, w: u16) -> Result<()> {
    if (10..=1000).contains(&w) {
        return Ok(());
    }
    Err(Error::config(
        format!("linux.resources.{field}"),
        format!("weight {w} is outside 10..1000"),
    ))
}

/// Check the controller, the weight ranges, and the leaf weights v2 lacks.
pub(crate) fn validate(avail: &Avail, r: &LinuxResources) -> Result<()> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let no_leaf = || unsupported("blockIO.leafWeight", "cgroup v2 has no leaf weights");
    if !matches!(b.leaf_weight(), None | Some(0)) {
        return Err(no_leaf());
    }
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        check_weight("blockIO.weight", w)?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if !matches!(d.leaf_weight(), None | Some(0)) {
            return Err(unsupported(
                &format!("blockIO.weightDevice[{i}].leafWeight"),
                "cgroup v2 has no leaf weights",
            ));
        }
        if let Some(w) = d.weight() {
            check_weight(&format!("blockIO.weightDevice[{i}].weight"), w)?;
        }
    }
    if is_set(b) {
        avail.need("blockIO", "io")?;
    }
    Ok(())
}

/// Whether `io.bfq.weight` takes per-device lines (kernel 5.4+): it then
/// reads as "default N" plus lines, not a bare number.
fn bfq_per_device(dir: &CgroupDir) -> bool {
    dir.read("io.bfq.weight")
        .is_ok_and(|s| s.trim().parse::<u64>().is_err())
}

/// Write the io files.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let bfq = dir.has("io.bfq.weight");
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if bfq {
            dir.write("io.bfq.weight", &w.to_string())?;
        } else {
            dir.write("io.weight", &blkio_weight_to_io_weight(w).to_string())?;
        }
    }
    let per_dev_bfq = bfq && bfq_per_device(dir);
    for d in b.weight_device().iter().flatten() {
        let Some(w) = d.weight() else { continue };
        let (ma, mi) = (d.major(), d.minor());
        if per_dev_bfq {
            dir.write("io.bfq.weight", &format!("{ma}:{mi} {w}"))?;
        } else {
            let v = blkio_weight_to_io_weight(w);
            dir.write("io.weight", &format!("{ma}:{mi} {v}"))?;
        }
    }
    for l in max_lines(b) {
        dir.write("io.max", &l)?;
    }
    Ok(())
}

/// `io.stat` mapped onto v1's tables as runc does: rbytes/wbytes →
/// ioServiceBytesRecursive Read/Write, rios/wios → ioServicedRecursive.
pub(crate) fn stats(dir: &CgroupDir, s: &mut Stats) -> Result<()> {
    if !dir.has("io.stat") {
        return Ok(());
    }
    for line in dir.read("io.stat")?.lines() {
        let mut it = line.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (table, op) = match k {
                "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            table.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    const THROTTLE: &str = r#"{"blockIO":{
        "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576},{"major":8,"minor":16,"rate":0}],
        "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":2097152}],
        "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":100}],
        "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":200}]}}"#;

    #[test]
    fn one_io_max_line_per_device() {
        let r = res(THROTTLE);
        assert_eq!(
            max_lines(r.block_io().as_ref().unwrap()),
            vec![
                "8:0 rbps=1048576 wbps=2097152 riops=100 wiops=200",
                "8:16 rbps=max"
            ]
        );
        let t = Fixture::new("io-max");
        t.files(&["io.max"]);
        apply(
            &t.dir(),
            &res(r#"{"blockIO":{"throttleWriteIOPSDevice":[{"major":259,"minor":1,"rate":50}]}}"#),
        )
        .unwrap();
        assert_eq!(t.read("io.max"), "259:1 wiops=50");
    }

    #[test]
    fn weight_converted_into_io_weight() {
        let t = Fixture::new("io-weight");
        t.files(&["io.weight"]);
        apply(&t.dir(), &res(r#"{"blockIO":{"weight":500}}"#)).unwrap();
        assert_eq!(t.read("io.weight"), "4950");
        let t = Fixture::new("io-wdev");
        t.files(&["io.weight"]);
        apply(
            &t.dir(),
            &res(r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":1000}]}}"#),
        )
        .unwrap();
        assert_eq!(t.read("io.weight"), "8:0 10000");
    }

    #[test]
    fn weight_raw_into_bfq() {
        let t = Fixture::new("io-bfq");
        t.files(&["io.bfq.weight", "io.weight"]);
        apply(&t.dir(), &res(r#"{"blockIO":{"weight":300}}"#)).unwrap();
        assert_eq!(t.read("io.bfq.weight"), "300");
        assert_eq!(t.read("io.weight"), "");
        // A kernel with per-device BFQ weights shows "default N".
        t.file("io.bfq.weight", "default 100\n");
        apply(
            &t.dir(),
            &res(r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":700}]}}"#),
        )
        .unwrap();
        assert!(t.read("io.bfq.weight").starts_with("8:0 700"));
    }

    #[test]
    fn validate_leaf_weight_range_and_controller() {
        let t = Fixture::new("io-val");
        t.file("cgroup.controllers", "io\n");
        let a = Avail::read(&t.dir()).unwrap();
        for (json, field) in [
            (r#"{"blockIO":{"leafWeight":500}}"#, "blockIO.leafWeight"),
            (
                r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"leafWeight":20}]}}"#,
                "blockIO.weightDevice[0].leafWeight",
            ),
            (r#"{"blockIO":{"weight":5}}"#, "blockIO.weight"),
        ] {
            let e = validate(&a, &res(json)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("linux.resources.{field}:")), "{e}");
        }
        validate(&a, &res(THROTTLE)).unwrap();
        t.file("cgroup.controllers", "cpu\n");
        let a = Avail::read(&t.dir()).unwrap();
        let e = validate(&a, &res(THROTTLE)).unwrap_err().to_string();
        assert!(e.contains("blockIO: needs the io controller"), "{e}");
        validate(&a, &res(r#"{"blockIO":{"leafWeight":0}}"#)).unwrap();
    }

    #[test]
    fn stats_map_onto_v1_tables() {
        let t = Fixture::new("io-stats");
        t.file(
            "io.stat",
            "8:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n",
        );
        let mut s = Stats::default();
        stats(&t.dir(), &mut s).unwrap();
        let b = &s.blkio.io_service_bytes_recursive;
        assert_eq!(
            (b[0].op.as_str(), b[0].value, b[1].op.as_str(), b[1].value),
            ("Read", 100, "Write", 200)
        );
        assert_eq!((b[0].major, b[0].minor), (8, 0));
        let o = &s.blkio.io_serviced_recursive;
        assert_eq!((o[0].value, o[1].value), (3, 4));
    }
}
