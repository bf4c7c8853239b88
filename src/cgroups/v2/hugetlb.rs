//! hugetlb: `hugetlb.<size>.max` and, where the kernel has reservation
//! accounting (5.7+), `hugetlb.<size>.rsvd.max` with the same limit, as the
//! spec asks ("reservation limits if supported") and runc 1.2 does.
//!
//! Also used by the v1 manager on hybrid hosts, where hugetlb is bound to
//! the v2 hierarchy.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::controllers::Avail;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::{Hugetlb, Stats};
use crate::error::{Error, Result};

/// Where the kernel lists the huge page sizes it supports.
const HUGEPAGES: &str = "/sys/kernel/mm/hugepages";

/// The page sizes of this host as cgroup file names use them ("2MB", "1GB").
pub(crate) fn host_page_sizes() -> Vec<String> {
    page_sizes_in(Path::new(HUGEPAGES))
}

/// Page sizes from the `hugepages-<n>kB` entries of `dir`.
fn page_sizes_in(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(size_name(kb))
        })
        .collect();
    v.sort();
    v
}

/// `2048` kB → "2MB", the way the kernel names the hugetlb files.
fn size_name(kb: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    let (mut n, mut u) = (kb, 0);
    while n >= 1024 && n % 1024 == 0 && u < UNITS.len() - 1 {
        n /= 1024;
        u += 1;
    }
    format!("{n}{}", UNITS[u])
}

fn is_set(r: &LinuxResources) -> bool {
    r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty())
}

/// Check that the hugetlb controller is listed in `dir_or_parent`'s
/// `cgroup.controllers` and that every page size exists on this host.
pub(crate) fn validate(dir_or_parent: &CgroupDir, r: &LinuxResources) -> Result<()> {
    if !is_set(r) {
        return Ok(());
    }
    validate_with(&Avail::read(dir_or_parent)?, &host_page_sizes(), r)
}

/// [`validate`] against given controllers and page sizes.
pub(crate) fn validate_with(avail: &Avail, sizes: &[String], r: &LinuxResources) -> Result<()> {
    let Some(limits) = r.hugepage_limits() else {
        return Ok(());
    };
    if limits.is_empty() {
        return Ok(());
    }
    avail.need("hugepageLimits", "hugetlb")?;
    for (i, l) in limits.iter().enumerate() {
        if !sizes.iter().any(|s| s == l.page_size()) {
            return Err(Error::config(
                format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!(
                    "huge page size {:?} is not supported by this host (it has: {})",
                    l.page_size(),
                    sizes.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The limit as written: a negative one means no limit.
fn limit_str(limit: i64) -> String {
    if limit < 0 {
        "max".into()
    } else {
        limit.to_string()
    }
}

/// The single-value files the typed fields set, for the unified conflict check.
pub(crate) fn planned(r: &LinuxResources) -> Vec<(String, String)> {
    r.hugepage_limits()
        .iter()
        .flatten()
        .map(|l| {
            (
                format!("hugetlb.{}.max", l.page_size()),
                limit_str(l.limit()),
            )
        })
        .collect()
}

/// Write `hugetlb.<size>.max` and, when the file exists, `hugetlb.<size>.rsvd.max`.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    for l in r.hugepage_limits().iter().flatten() {
        let v = limit_str(l.limit());
        dir.write(&format!("hugetlb.{}.max", l.page_size()), &v)?;
        let rsvd = format!("hugetlb.{}.rsvd.max", l.page_size());
        if dir.has(&rsvd) {
            dir.write(&rsvd, &v)?;
        }
    }
    Ok(())
}

/// Usage and allocation failures per page size of this host.
pub(crate) fn stats(dir: &CgroupDir, s: &mut Stats) -> Result<()> {
    stats_for(dir, &host_page_sizes(), s)
}

/// [`stats`] for given page sizes; sizes without files are skipped.
pub(crate) fn stats_for(dir: &CgroupDir, sizes: &[String], s: &mut Stats) -> Result<()> {
    for size in sizes {
        let current = format!("hugetlb.{size}.current");
        if !dir.has(&current) {
            continue;
        }
        let mut h = Hugetlb {
            usage: dir.read_u64(&current)?,
            ..Hugetlb::default()
        };
        let events = format!("hugetlb.{size}.events");
        if dir.has(&events) {
            h.failcnt = keyed(dir, &events, "max")?;
        }
        s.hugetlb.insert(size.clone(), h);
    }
    Ok(())
}

/// One value of a flat keyed file (0 when the key is absent).
pub(crate) fn keyed(dir: &CgroupDir, file: &str, key: &str) -> Result<u64> {
    Ok(dir
        .read_keyed(file)?
        .into_iter()
        .find(|(k, _)| k == key)
        .map_or(0, |(_, v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    #[test]
    fn names_sizes_like_the_kernel() {
        assert_eq!(size_name(64), "64KB");
        assert_eq!(size_name(2048), "2MB");
        assert_eq!(size_name(1_048_576), "1GB");
        let t = Fixture::new("hpsizes");
        std::fs::create_dir(t.path().join("hugepages-2048kB")).unwrap();
        std::fs::create_dir(t.path().join("hugepages-1048576kB")).unwrap();
        assert_eq!(
            page_sizes_in(t.path()),
            vec!["1GB".to_string(), "2MB".to_string()]
        );
    }

    #[test]
    fn writes_max_and_rsvd_when_present() {
        let t = Fixture::new("hugetlb");
        t.files(&["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max"]);
        let r = res(
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}]}"#,
        );
        apply(&t.dir(), &r).unwrap();
        assert_eq!(t.read("hugetlb.2MB.max"), "4194304");
        assert_eq!(t.read("hugetlb.2MB.rsvd.max"), "4194304");
        assert_eq!(t.read("hugetlb.1GB.max"), "max");
        assert!(!t.path().join("hugetlb.1GB.rsvd.max").exists());
    }

    #[test]
    fn validate_names_the_field() {
        let t = Fixture::new("hugetlb-val");
        t.file("cgroup.controllers", "memory\n");
        let r = res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#);
        let e = validate(&t.dir(), &r).unwrap_err().to_string();
        assert!(
            e.contains("linux.resources.hugepageLimits: needs the hugetlb controller"),
            "{e}"
        );
        t.file("cgroup.controllers", "hugetlb\n");
        let a = Avail::read(&t.dir()).unwrap();
        let bad = res(r#"{"hugepageLimits":[{"pageSize":"3MB","limit":1}]}"#);
        let e = validate_with(&a, &["2MB".into()], &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("linux.resources.hugepageLimits[0].pageSize"),
            "{e}"
        );
        assert!(validate_with(&a, &["2MB".into()], &r).is_ok());
        assert!(validate(&t.dir(), &res("{}")).is_ok());
    }

    #[test]
    fn stats_read_current_and_failcnt() {
        let t = Fixture::new("hugetlb-stats");
        t.file("hugetlb.2MB.current", "2097152\n");
        t.file("hugetlb.2MB.events", "max 3\n");
        let mut s = Stats::default();
        stats_for(&t.dir(), &["2MB".into(), "1GB".into()], &mut s).unwrap();
        assert_eq!(s.hugetlb.len(), 1);
        assert_eq!(s.hugetlb["2MB"].usage, 2_097_152);
        assert_eq!(s.hugetlb["2MB"].failcnt, 3);
    }
}
