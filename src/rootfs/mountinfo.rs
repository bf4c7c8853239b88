//! A small reader of `/proc/self/mountinfo` (proc(5)), with only the fields we use.

use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// Field 4: the root of the mount within its filesystem.
    pub(crate) root: PathBuf,
    /// Field 5: the mount point.
    pub(crate) mount_point: PathBuf,
    /// The optional fields (`shared:1 master:2`), space separated.
    pub(crate) optional: String,
    /// The filesystem type (`cgroup`, `proc`).
    pub(crate) fstype: String,
    /// The per-superblock options (`rw,cpu,cpuacct`).
    pub(crate) super_options: String,
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Parse mountinfo text.
pub(crate) fn parse(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            let p: Vec<&str> = post.split(' ').collect();
            if f.len() < 6 || p.len() < 3 {
                return None;
            }
            Some(MountInfo {
                root: unescape(f[3]),
                mount_point: unescape(f[4]),
                optional: f[6..].join(" "),
                fstype: p[0].to_string(),
                super_options: p[2].to_string(),
            })
        })
        .collect()
}

/// Read and parse `/proc/self/mountinfo`.
pub(crate) fn read() -> Result<Vec<MountInfo>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .step(|| "read(\"/proc/self/mountinfo\")".to_string())?;
    Ok(parse(&text))
}

/// The mount that contains `path` (the last-mounted one with the longest mount point
/// that is a prefix of `path`, component-wise).
pub(crate) fn containing<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    let mut best: Option<&MountInfo> = None;
    for m in mounts {
        if path.starts_with(&m.mount_point)
            && best.map_or(true, |b| {
                m.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len()
            })
        {
            best = Some(m);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 /docker /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 master:3 - cgroup cgroup rw,cpu,cpuacct
50 22 0:40 / /mnt/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn parses_fields() {
        let m = parse(SAMPLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].optional, "shared:1");
        assert_eq!(m[2].root, PathBuf::from("/docker"));
        assert_eq!(
            m[2].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m[2].optional, "shared:5 master:3");
        assert_eq!(m[2].fstype, "cgroup");
        assert_eq!(m[2].super_options, "rw,cpu,cpuacct");
        assert_eq!(m[3].mount_point, PathBuf::from("/mnt/with space"));
    }

    #[test]
    fn containing_picks_longest_prefix() {
        let m = parse(SAMPLE);
        let c = containing(&m, Path::new("/sys/fs/cgroup/x")).unwrap();
        assert_eq!(c.mount_point, PathBuf::from("/sys/fs/cgroup"));
        let c = containing(&m, Path::new("/mnt/with spaceX")).unwrap();
        assert_eq!(c.mount_point, PathBuf::from("/"));
    }
}
