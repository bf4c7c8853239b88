//! The v1 `hugetlb` controller (runc `fs/hugetlb.go`). On a hybrid host
//! where hugetlb is bound to the unified hierarchy instead, the manager
//! hands the limits to the v2 writer.

use oci_spec::runtime::LinuxResources;

use super::{needs_file, not_mounted};
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::{Hugetlb, Stats};
use crate::error::{Error, Result};

/// Whether any huge page limit is asked for.
pub(crate) fn wanted(r: &LinuxResources) -> bool {
    r.hugepage_limits()
        .as_deref()
        .is_some_and(|l| !l.is_empty())
}

/// A page size as the spec and the kernel spell it: digits then `KB`, `MB` or `GB`.
fn valid_size(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && matches!(&s[digits.len()..], "KB" | "MB" | "GB")
}

/// Check the page sizes, and, in the v1 hierarchy (`dir` the nearest
/// existing cgroup; `None` when hugetlb is not a v1 controller here), that
/// each has its limit file.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    for (i, l) in r
        .hugepage_limits()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let field = format!("linux.resources.hugepageLimits[{i}].pageSize");
        if !valid_size(l.page_size()) {
            return Err(Error::config(
                field,
                format!("{:?} is not a size like \"2MB\"", l.page_size()),
            ));
        }
        let Some(dir) = dir else {
            return Err(not_mounted(&field, "hugetlb"));
        };
        let file = format!("hugetlb.{}.limit_in_bytes", l.page_size());
        if !dir.has(&file) {
            return Err(needs_file(
                &field,
                &file,
                "the host has no huge pages of that size",
            ));
        }
    }
    Ok(())
}

/// Write each limit (and the reservation limit, where the kernel has one).
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    for l in r.hugepage_limits().as_deref().unwrap_or_default() {
        let v = l.limit().to_string();
        dir.write(&format!("hugetlb.{}.limit_in_bytes", l.page_size()), &v)?;
        let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size());
        if dir.has(&rsvd) {
            dir.write(&rsvd, &v)?;
        }
    }
    Ok(())
}

/// Fill `stats.hugetlb` for every page size the cgroup `dir` offers.
pub(crate) fn stats(dir: &CgroupDir, stats: &mut Stats) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir.path()) else {
        return Ok(());
    };
    let mut sizes: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            let size = n
                .strip_prefix("hugetlb.")?
                .strip_suffix(".limit_in_bytes")?;
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    sizes.sort();
    for size in sizes {
        let entry = Hugetlb {
            usage: dir.read_u64(&format!("hugetlb.{size}.usage_in_bytes"))?,
            max: dir.read_u64(&format!("hugetlb.{size}.max_usage_in_bytes"))?,
            failcnt: dir.read_u64(&format!("hugetlb.{size}.failcnt"))?,
        };
        stats.hugetlb.insert(size, entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    #[test]
    fn writes_limits_and_reads_usage() {
        let (tmp, dir) = fixture(&[
            ("hugetlb.2MB.limit_in_bytes", ""),
            ("hugetlb.2MB.rsvd.limit_in_bytes", ""),
            ("hugetlb.2MB.usage_in_bytes", "4194304"),
            ("hugetlb.2MB.max_usage_in_bytes", "6291456"),
            ("hugetlb.2MB.failcnt", "1"),
        ]);
        let r = resources(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 8388608}]}"#);
        validate(Some(&dir), &r).unwrap();
        apply(&dir, &r).unwrap();
        assert_eq!(tmp.read("hugetlb.2MB.limit_in_bytes"), "8388608");
        assert_eq!(tmp.read("hugetlb.2MB.rsvd.limit_in_bytes"), "8388608");
        let mut s = Stats::default();
        stats(&dir, &mut s).unwrap();
        assert_eq!(s.hugetlb.len(), 1);
        assert_eq!(
            s.hugetlb["2MB"],
            Hugetlb {
                usage: 4194304,
                max: 6291456,
                failcnt: 1
            }
        );
    }

    #[test]
    fn validate_names_the_page_size() {
        let (_tmp, dir) = fixture(&[("hugetlb.2MB.limit_in_bytes", "")]);
        let r = resources(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}, {"pageSize": "1GB", "limit": 1}]}"#,
        );
        let e = validate(Some(&dir), &r).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.hugepageLimits[1].pageSize:")
                && e.contains("hugetlb.1GB"),
            "{e}"
        );
        let r = resources(r#"{"hugepageLimits": [{"pageSize": "2 MB", "limit": 1}]}"#);
        assert!(validate(Some(&dir), &r).is_err());
        let r = resources(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#);
        assert!(validate(None, &r)
            .unwrap_err()
            .to_string()
            .contains("needs the hugetlb"));
    }
}
