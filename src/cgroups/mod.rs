//! Control groups: layout detection and the manager interface.
//!
//! Only the layout detection lives here for now; the v1 and v2 managers
//! arrive with the cgroups work.

use std::path::Path;

/// Which cgroup hierarchy the host mounts at `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup v1 controllers.
    V1,
    /// v1 controllers plus a cgroup2 hierarchy at `/sys/fs/cgroup/unified`.
    Hybrid,
    /// A single cgroup2 hierarchy.
    Unified,
}

/// `CGROUP2_SUPER_MAGIC` from `linux/magic.h`.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

impl Layout {
    /// Detect the layout below `root` (normally `/sys/fs/cgroup`).
    pub fn detect_at(root: &Path) -> crate::Result<Layout> {
        use crate::error::Context;
        let fs = nix::sys::statfs::statfs(root).step(|| format!("statfs({root:?})"))?;
        if fs.filesystem_type().0 == CGROUP2_SUPER_MAGIC {
            return Ok(Layout::Unified);
        }
        let unified = root.join("unified");
        match nix::sys::statfs::statfs(&unified) {
            Ok(fs) if fs.filesystem_type().0 == CGROUP2_SUPER_MAGIC => Ok(Layout::Hybrid),
            _ => Ok(Layout::V1),
        }
    }

    /// Detect the layout of this host.
    pub fn detect() -> crate::Result<Layout> {
        Self::detect_at(Path::new("/sys/fs/cgroup"))
    }
}
