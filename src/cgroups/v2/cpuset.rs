//! cpuset: `cpuset.cpus` and `cpuset.mems`, written as given.

use oci_spec::runtime::LinuxResources;

use super::controllers::Avail;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::stats::Stats;
use crate::error::{Error, Result};

/// The non-empty strings the typed fields set.
pub(crate) fn planned(r: &LinuxResources) -> Vec<(String, String)> {
    let Some(c) = r.cpu() else { return Vec::new() };
    [("cpuset.cpus", c.cpus()), ("cpuset.mems", c.mems())]
        .into_iter()
        .filter_map(|(f, v)| Some((f.to_string(), v.clone().filter(|v| !v.is_empty())?)))
        .collect()
}

/// A cpu list as the kernel parses it: "0-3,5", digits, commas, dashes.
fn check_list(field: &str, v: &str) -> Result<()> {
    let ok = v.split(',').all(|part| {
        let mut it = part.trim().splitn(2, '-');
        let num = |s: Option<&str>| {
            s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        };
        let first = it.next();
        num(first) && it.next().map_or(true, |s| num(Some(s)))
    });
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            format!("linux.resources.{field}"),
            format!("{v:?} is not a list like \"0-3,5\""),
        ))
    }
}

/// Check the controller and the list syntax.
pub(crate) fn validate(avail: &Avail, r: &LinuxResources) -> Result<()> {
    for (file, v) in planned(r) {
        let field = if file == "cpuset.cpus" {
            "cpu.cpus"
        } else {
            "cpu.mems"
        };
        avail.need(field, "cpuset")?;
        check_list(field, &v)?;
    }
    Ok(())
}

/// Write the cpuset files.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    for (file, v) in planned(r) {
        dir.write(&file, &v)?;
    }
    Ok(())
}

/// "0-2,5" → [0, 1, 2, 5] (bad parts are skipped).
fn expand(list: &str) -> Vec<u16> {
    let mut v = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
            v.extend(a..=b);
        }
    }
    v
}

/// The CPUs and memory nodes in effect (`cpuset.*.effective`).
pub(crate) fn stats(dir: &CgroupDir, s: &mut Stats) -> Result<()> {
    if dir.has("cpuset.cpus.effective") {
        s.cpuset.cpus = expand(&dir.read("cpuset.cpus.effective")?);
    }
    if dir.has("cpuset.mems.effective") {
        s.cpuset.mems = expand(&dir.read("cpuset.mems.effective")?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    #[test]
    fn writes_cpus_and_mems() {
        let t = Fixture::new("cpuset");
        t.files(&["cpuset.cpus", "cpuset.mems"]);
        apply(&t.dir(), &res(r#"{"cpu":{"cpus":"0-1,3","mems":"0"}}"#)).unwrap();
        assert_eq!(t.read("cpuset.cpus"), "0-1,3");
        assert_eq!(t.read("cpuset.mems"), "0");
    }

    #[test]
    fn stats_expand_the_effective_lists() {
        let t = Fixture::new("cpuset-stats");
        t.file("cpuset.cpus.effective", "0-2,5\n");
        t.file("cpuset.mems.effective", "0\n");
        let mut s = Stats::default();
        stats(&t.dir(), &mut s).unwrap();
        assert_eq!((s.cpuset.cpus, s.cpuset.mems), (vec![0, 1, 2, 5], vec![0]));
    }

    #[test]
    fn validate_syntax_and_controller() {
        let t = Fixture::new("cpuset-val");
        t.file("cgroup.controllers", "cpuset\n");
        let a = Avail::read(&t.dir()).unwrap();
        validate(&a, &res(r#"{"cpu":{"cpus":"0-1,3","mems":"0"}}"#)).unwrap();
        let e = validate(&a, &res(r#"{"cpu":{"cpus":"0-a"}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.resources.cpu.cpus:"), "{e}");
        t.file("cgroup.controllers", "cpu\n");
        let a = Avail::read(&t.dir()).unwrap();
        let e = validate(&a, &res(r#"{"cpu":{"mems":"0"}}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cpu.mems: needs the cpuset controller"), "{e}");
        validate(&a, &res(r#"{"cpu":{"cpus":""}}"#)).unwrap();
    }
}
