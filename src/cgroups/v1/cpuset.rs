//! The v1 `cpuset` controller: `linux.resources.cpu.cpus` / `.mems`
//! (runc `fs/cpuset.go`).
//!
//! A new cpuset cgroup starts with empty `cpuset.cpus` and `cpuset.mems`,
//! and no task can join it until both are set: [`ensure_parents`] copies
//! them down from the hierarchy root to the container's directory, as
//! runc's `cpusetEnsureParent` does.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::not_mounted;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::Stats;
use crate::error::{Error, Result};

/// Check that the cpuset controller is mounted when `cpus` or `mems` is set.
pub(crate) fn validate(dir: Option<&CgroupDir>, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    for (name, v) in [("cpus", c.cpus()), ("mems", c.mems())] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            if dir.is_none() {
                return Err(not_mounted(
                    &format!("linux.resources.cpu.{name}"),
                    "cpuset",
                ));
            }
            if parse_list(v).is_none() {
                return Err(Error::config(
                    format!("linux.resources.cpu.{name}"),
                    format!("{v:?} is not a list like \"0-3,5\""),
                ));
            }
        }
    }
    Ok(())
}

/// Write `cpus` then `mems` to the cgroup `dir`.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    if let Some(cpus) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
        dir.write("cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|v| !v.is_empty()) {
        dir.write("cpuset.mems", mems)?;
    }
    Ok(())
}

/// Copy `cpuset.cpus` / `cpuset.mems` from `parent` into `child` where the
/// child's are empty.
fn copy_if_empty(parent: &CgroupDir, child: &CgroupDir) -> Result<()> {
    for name in ["cpuset.cpus", "cpuset.mems"] {
        if child.read(name)?.trim().is_empty() {
            child.write(name, parent.read(name)?.trim())?;
        }
    }
    Ok(())
}

/// Create `dir` and every missing directory between `mount` (the hierarchy
/// root) and it, giving each the cpus and mems of its parent.
pub(crate) fn ensure_parents(mount: &Path, dir: &Path) -> Result<CgroupDir> {
    let rel = dir.strip_prefix(mount).map_err(|_| {
        Error::Other(format!(
            "cpuset cgroup {} is outside its hierarchy {}",
            dir.display(),
            mount.display()
        ))
    })?;
    let mut parent = CgroupDir::open(mount)?;
    for part in rel.components() {
        let name = part.as_os_str().to_string_lossy();
        let path = parent.path().join(&*name);
        let child = CgroupDir::create(&path)?;
        copy_if_empty(&parent, &child)?;
        parent = child;
    }
    Ok(parent)
}

/// Parse a cpu/node list such as `0-3,5` (None if malformed).
pub(crate) fn parse_list(s: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

/// Fill `stats.cpuset` from the cgroup `dir`.
pub(crate) fn stats(dir: &CgroupDir, stats: &mut Stats) -> Result<()> {
    let list = |name: &str| -> Result<Vec<u16>> {
        let text = dir.read(name)?;
        parse_list(&text).ok_or_else(|| {
            Error::Other(format!(
                "{}: bad list {:?}",
                dir.path().join(name).display(),
                text.trim()
            ))
        })
    };
    stats.cpuset.cpus = list("cpuset.cpus")?;
    stats.cpuset.mems = list("cpuset.mems")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v1::testutil::{fixture, resources};

    #[test]
    fn writes_cpus_and_mems() {
        let (tmp, dir) = fixture(&[("cpuset.cpus", ""), ("cpuset.mems", "")]);
        apply(&dir, &resources(r#"{"cpu": {"cpus": "0-1", "mems": "0"}}"#)).unwrap();
        assert_eq!(tmp.read("cpuset.cpus"), "0-1");
        assert_eq!(tmp.read("cpuset.mems"), "0");
        let mut s = Stats::default();
        stats(&dir, &mut s).unwrap();
        assert_eq!(s.cpuset.cpus, vec![0, 1]);
        assert_eq!(s.cpuset.mems, vec![0]);
    }

    #[test]
    fn parents_inherit_cpus_and_mems() {
        let (tmp, _root) = fixture(&[("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")]);
        // Fixture directories do not grow control files by themselves.
        let mid = tmp.path().join("a");
        std::fs::create_dir(&mid).unwrap();
        for d in [mid.clone(), mid.join("b")] {
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("cpuset.cpus"), "").unwrap();
            std::fs::write(d.join("cpuset.mems"), "\n").unwrap();
        }
        std::fs::write(mid.join("cpuset.cpus"), "2").unwrap();
        let leaf = ensure_parents(tmp.path(), &mid.join("b")).unwrap();
        assert_eq!(
            std::fs::read_to_string(mid.join("cpuset.cpus")).unwrap(),
            "2",
            "kept"
        );
        assert_eq!(
            std::fs::read_to_string(mid.join("cpuset.mems")).unwrap(),
            "0"
        );
        assert_eq!(leaf.read("cpuset.cpus").unwrap(), "2");
        assert_eq!(leaf.read("cpuset.mems").unwrap(), "0");
    }

    #[test]
    fn lists_parse_and_validate() {
        assert_eq!(parse_list("0-2,5\n"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        let e = validate(None, &resources(r#"{"cpu": {"mems": "0"}}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.cpu.mems: needs the cpuset cgroup controller, \
             which this host does not mount"
        );
        let (_tmp, dir) = fixture(&[]);
        assert!(validate(Some(&dir), &resources(r#"{"cpu": {"cpus": "a"}}"#)).is_err());
    }
}
