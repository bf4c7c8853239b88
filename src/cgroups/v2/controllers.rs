//! Which controllers a v2 cgroup can use, and switching them on down the
//! tree (`+ctrl` into each ancestor's `cgroup.subtree_control`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cgroups::fs::CgroupDir;
use crate::error::{Error, Result};

/// The controllers listed in one directory's `cgroup.controllers`: for the
/// container's parent, the ones that can be enabled for the container.
#[derive(Debug, Clone)]
pub(crate) struct Avail {
    dir: PathBuf,
    set: BTreeSet<String>,
}

impl Avail {
    /// Read `cgroup.controllers` of `dir`.
    pub(crate) fn read(dir: &CgroupDir) -> Result<Avail> {
        let text = dir.read("cgroup.controllers")?;
        Ok(Avail {
            dir: dir.path().to_path_buf(),
            set: text.split_whitespace().map(String::from).collect(),
        })
    }

    /// Whether controller `ctrl` is listed.
    pub(crate) fn has(&self, ctrl: &str) -> bool {
        self.set.contains(ctrl)
    }

    /// The directory whose `cgroup.controllers` was read.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// `Ok` if `ctrl` is listed, else the configuration error for `field`.
    pub(crate) fn need(&self, field: &str, ctrl: &str) -> Result<()> {
        if self.has(ctrl) {
            return Ok(());
        }
        Err(Error::config(
            format!("linux.resources.{field}"),
            format!(
                "needs the {ctrl} controller, not available in {}",
                self.dir.join("cgroup.controllers").display()
            ),
        ))
    }
}

/// The error for a field cgroup v2 cannot express at all.
pub(crate) fn unsupported(field: &str, why: &str) -> Error {
    Error::config(
        format!("linux.resources.{field}"),
        format!("not supported on cgroup v2: {why}"),
    )
}

/// Switch controllers on for `leaf`, as runc and crun do: for every
/// directory from `mount` (the hierarchy's root, e.g. `/sys/fs/cgroup` or
/// `/sys/fs/cgroup/unified`) down to `leaf`'s parent, creating the missing
/// ones, write `+ctrl` for each controller of `wanted` (all when `wanted` is
/// empty) that the directory's `cgroup.controllers` lists into its
/// `cgroup.subtree_control`. `leaf` itself is not created.
///
/// Refusals by the kernel are ignored, as runc does (a populated ancestor
/// answers `EBUSY`, a threaded one `EOPNOTSUPP` for domain controllers): a
/// controller that stays off makes its control files missing, which
/// `validate` and `apply` report with the field's name.
pub(crate) fn enable_controllers(mount: &Path, leaf: &Path, wanted: &[&str]) -> Result<()> {
    let rel = leaf.strip_prefix(mount).map_err(|_| {
        Error::Other(format!(
            "cgroup {} is not below the hierarchy at {}",
            leaf.display(),
            mount.display()
        ))
    })?;
    let parts: Vec<_> = rel.components().collect();
    let mut cur = mount.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let dir = if i == 0 {
            CgroupDir::open(&cur)?
        } else {
            CgroupDir::create(&cur)?
        };
        enable_in(&dir, wanted);
        cur.push(part);
    }
    Ok(())
}

/// One directory's `+ctrl` writes: all at once, else one by one.
fn enable_in(dir: &CgroupDir, wanted: &[&str]) {
    let Ok(avail) = Avail::read(dir) else { return };
    let on: Vec<&str> = avail
        .set
        .iter()
        .map(String::as_str)
        .filter(|c| wanted.is_empty() || wanted.contains(c))
        .collect();
    if on.is_empty() {
        return;
    }
    let all = on
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    if dir.write("cgroup.subtree_control", &all).is_err() {
        for c in on {
            let _ = dir.write("cgroup.subtree_control", &format!("+{c}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_names_field_and_file() {
        let t = crate::cgroups::v2::tests::Fixture::new("avail");
        t.file("cgroup.controllers", "cpu memory\n");
        let a = Avail::read(&t.dir()).unwrap();
        assert!(a.need("memory.limit", "memory").is_ok());
        let e = a.need("pids.limit", "pids").unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.pids.limit: needs the pids controller"),
            "{e}"
        );
        assert!(e.contains("/cgroup.controllers"), "{e}");
    }

    #[test]
    fn enables_down_the_tree_only_what_is_listed() {
        let t = crate::cgroups::v2::tests::Fixture::new("enable");
        t.file("cgroup.controllers", "cpu memory pids\n");
        t.file("cgroup.subtree_control", "");
        let leaf = t.path().join("a/b");
        enable_controllers(t.path(), &leaf, &["memory", "io"]).unwrap();
        // Plain files stand in for the kernel's: the write replaces the content.
        assert_eq!(
            std::fs::read_to_string(t.path().join("cgroup.subtree_control")).unwrap(),
            "+memory"
        );
        assert!(t.path().join("a").is_dir());
        assert!(!leaf.exists());
        assert!(enable_controllers(t.path(), Path::new("/elsewhere"), &[]).is_err());
    }
}
