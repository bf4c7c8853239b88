//! `linux.resources.unified`: raw `<controller>.<file>` writes, done after
//! the typed fields (runc's order). Keys are checked before anything is
//! created: a plain file name, a controller this cgroup can have (or one of
//! the writable `cgroup.*` files the runtime does not manage itself), and no
//! disagreement with a typed field that sets the same file.

use oci_spec::runtime::LinuxResources;

use super::controllers::Avail;
use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

/// Core files a spec may set; the others are the runtime's business.
const CGROUP_FILES: [&str; 4] = [
    "cgroup.max.descendants",
    "cgroup.max.depth",
    "cgroup.subtree_control",
    "cgroup.pressure",
];

/// Files that take one line per device: a typed field and a unified key
/// both writing them cannot be compared, so both set is refused.
const KEYED_FILES: [(&str, &str); 4] = [
    ("io.max", "blockIO"),
    ("io.weight", "blockIO"),
    ("io.bfq.weight", "blockIO"),
    ("rdma.max", "rdma"),
];

fn err(key: &str, msg: impl Into<String>) -> Error {
    Error::config(format!("linux.resources.unified.{key}"), msg)
}

/// Every single-value file the typed fields write, with its value.
fn typed(r: &LinuxResources) -> Result<Vec<(String, String)>> {
    let mut v = super::memory::planned(r)?;
    v.extend(super::cpu::planned(r));
    v.extend(super::cpuset::planned(r));
    v.extend(super::pids::planned(r));
    v.extend(super::hugetlb::planned(r));
    Ok(v)
}

fn keyed_typed_set(r: &LinuxResources, section: &str) -> bool {
    match section {
        "blockIO" => r.block_io().is_some(),
        _ => r.rdma().as_ref().is_some_and(|m| !m.is_empty()),
    }
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Check every key (see the module docs).
pub(crate) fn validate(avail: &Avail, r: &LinuxResources) -> Result<()> {
    let Some(u) = r.unified() else { return Ok(()) };
    let typed = typed(r)?;
    for (key, value) in u {
        if key.is_empty() || key.contains('/') || key.contains('\0') || key.starts_with('.') {
            return Err(err(
                key,
                "must be a file name such as \"memory.high\" (no slashes)",
            ));
        }
        let Some((ctrl, _)) = key.split_once('.') else {
            return Err(err(key, "must be in the form <controller>.<file>"));
        };
        if ctrl == "cgroup" {
            if !CGROUP_FILES.contains(&key.as_str()) {
                return Err(err(
                    key,
                    format!(
                        "is not a cgroup file a spec may set (allowed: {})",
                        CGROUP_FILES.join(", ")
                    ),
                ));
            }
        } else if !avail.has(ctrl) {
            return Err(err(
                key,
                format!(
                    "needs the {ctrl} controller, not available in {}",
                    avail.dir().join("cgroup.controllers").display()
                ),
            ));
        }
        if let Some((_, t)) = typed.iter().find(|(f, _)| f == key) {
            if words(t) != words(value) {
                return Err(err(
                    key,
                    format!("{value:?} conflicts with {t:?} from the typed resource fields"),
                ));
            }
        }
        if let Some((_, section)) = KEYED_FILES.iter().find(|(f, _)| f == key) {
            if keyed_typed_set(r, section) {
                return Err(err(
                    key,
                    format!("linux.resources.{section} also writes {key}; set it in one place"),
                ));
            }
        }
    }
    Ok(())
}

/// Write every key, in name order; a missing file is reported as such.
pub(crate) fn apply(dir: &CgroupDir, r: &LinuxResources) -> Result<()> {
    let Some(u) = r.unified() else { return Ok(()) };
    let mut keys: Vec<_> = u.iter().collect();
    keys.sort();
    for (key, value) in keys {
        if key.contains('/') {
            return Err(err(key, "must be a file name (no slashes)"));
        }
        if !dir.has(key) {
            return Err(err(
                key,
                format!("{} has no such file", dir.path().display()),
            ));
        }
        dir.write(key, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::tests::{res, Fixture};

    fn avail(t: &Fixture) -> Avail {
        t.file("cgroup.controllers", "cpu memory io pids\n");
        Avail::read(&t.dir()).unwrap()
    }

    #[test]
    fn keys_are_checked() {
        let t = Fixture::new("unified-val");
        let a = avail(&t);
        let ok = r#"{"unified":{"memory.high":"1G","cgroup.max.depth":"3","io.latency":"8:0 target=10"}}"#;
        validate(&a, &res(ok)).unwrap();
        for (key, why) in [
            ("../memory.high", "no slashes"),
            ("memoryhigh", "<controller>.<file>"),
            ("hugetlb.2MB.max", "needs the hugetlb controller"),
            ("cgroup.procs", "not a cgroup file a spec may set"),
            ("cgroup.freeze", "not a cgroup file a spec may set"),
        ] {
            let json = format!(r#"{{"unified":{{"{key}":"1"}}}}"#);
            let e = validate(&a, &res(&json)).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("linux.resources.unified.{key}:")),
                "{e}"
            );
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn typed_fields_and_unified_must_agree() {
        let t = Fixture::new("unified-conflict");
        let a = avail(&t);
        let same = r#"{"memory":{"limit":1048576},"unified":{"memory.max":"1048576"}}"#;
        validate(&a, &res(same)).unwrap();
        let diff = r#"{"pids":{"limit":10},"unified":{"pids.max":"20"}}"#;
        let e = validate(&a, &res(diff)).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.unified.pids.max:") && e.contains("conflicts"),
            "{e}"
        );
        let cpu = r#"{"cpu":{"quota":5000,"period":10000},"unified":{"cpu.max":"5000  10000"}}"#;
        validate(&a, &res(cpu)).unwrap();
        let io = r#"{"blockIO":{"weight":100},"unified":{"io.weight":"100"}}"#;
        let e = validate(&a, &res(io)).unwrap_err().to_string();
        assert!(e.contains("set it in one place"), "{e}");
    }

    #[test]
    fn writes_in_name_order_and_reports_missing_files() {
        let t = Fixture::new("unified");
        t.files(&["memory.high", "pids.max"]);
        apply(
            &t.dir(),
            &res(r#"{"unified":{"memory.high":"max","pids.max":"7"}}"#),
        )
        .unwrap();
        assert_eq!(
            (t.read("memory.high"), t.read("pids.max")),
            ("max".into(), "7".into())
        );
        let e = apply(&t.dir(), &res(r#"{"unified":{"memory.swap.high":"0"}}"#)).unwrap_err();
        assert!(e.to_string().contains("has no such file"), "{e}");
    }
}
