//! uid and gid mappings of a user namespace, written by the parent into
//! `/proc/<pid>/{uid,gid}_map`.

use std::fmt::Write as _;

use crate::error::{Context, Result};

/// One line of a uid or gid map: `size` ids starting at `container_id`
/// inside the namespace map to ids starting at `host_id` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// First id inside the namespace.
    pub container_id: u32,
    /// First id outside the namespace.
    pub host_id: u32,
    /// Number of ids mapped.
    pub size: u32,
}

impl IdMap {
    /// Map `host_id` outside for `id` inside, after this map; `None` if unmapped.
    pub fn to_host(maps: &[IdMap], id: u32) -> Option<u32> {
        maps.iter().find_map(|m| {
            let off = id.checked_sub(m.container_id)?;
            (off < m.size).then(|| m.host_id + off)
        })
    }
}

fn render(maps: &[IdMap]) -> String {
    let mut s = String::new();
    for m in maps {
        let _ = writeln!(s, "{} {} {}", m.container_id, m.host_id, m.size);
    }
    s
}

/// Write the uid and gid maps of the user namespace that `pid` is in.
///
/// The kernel accepts each map once and as a single `write`.
pub fn write_id_maps(pid: i32, uid_maps: &[IdMap], gid_maps: &[IdMap]) -> Result<()> {
    for (file, maps) in [("uid_map", uid_maps), ("gid_map", gid_maps)] {
        if maps.is_empty() {
            continue;
        }
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, render(maps)).step(|| format!("write({path:?})"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_map() {
        let maps = [
            IdMap {
                container_id: 0,
                host_id: 100000,
                size: 1,
            },
            IdMap {
                container_id: 1,
                host_id: 200000,
                size: 65535,
            },
        ];
        assert_eq!(render(&maps), "0 100000 1\n1 200000 65535\n");
        assert_eq!(IdMap::to_host(&maps, 0), Some(100000));
        assert_eq!(IdMap::to_host(&maps, 5), Some(200004));
        assert_eq!(IdMap::to_host(&maps, 70000), None);
    }
}
