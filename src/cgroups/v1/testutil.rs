//! Fixtures for the controller tests: a temporary directory of plain files
//! standing in for a cgroup's control files (a write replaces the content,
//! so a test reads back exactly the last value written).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use oci_spec::runtime::LinuxResources;

use crate::cgroups::fs::CgroupDir;

/// A temporary directory, removed on drop.
pub(crate) struct Tmp(PathBuf);

impl Tmp {
    /// A fresh, empty directory.
    pub(crate) fn new() -> Tmp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "testa-v1-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }

    pub(crate) fn write(&self, name: &str, value: &str) {
        std::fs::write(self.0.join(name), value).unwrap()
    }

    pub(crate) fn remove(&self, name: &str) {
        std::fs::remove_file(self.0.join(name)).unwrap()
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A directory holding `files` (name, content), and a [`CgroupDir`] on it.
pub(crate) fn fixture(files: &[(&str, &str)]) -> (Tmp, CgroupDir) {
    let t = Tmp::new();
    for (name, content) in files {
        t.write(name, content);
    }
    let d = CgroupDir::open(t.path()).unwrap();
    (t, d)
}

/// `linux.resources` from JSON.
pub(crate) fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}
