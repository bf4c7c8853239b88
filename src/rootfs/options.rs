//! OCI mount options → `mount(2)` flags, data string, propagation changes and
//! recursive attributes (`mount_setattr(2)`), as runc reads them.

use nix::mount::MsFlags;

use super::sys::MountAttr;
use crate::error::{Error, Result};

/// `MS_NOSYMFOLLOW` (Linux 5.10), missing from `nix`'s `MsFlags`.
pub(crate) const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// The atime flags: when a remount sets none of them the kernel falls back to relatime.
pub(crate) const ATIME_FLAGS: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// Flags that only select the kind of `mount(2)` call, not a property of the mount.
pub(crate) const CALL_FLAGS: MsFlags = MsFlags::MS_BIND
    .union(MsFlags::MS_REC)
    .union(MsFlags::MS_REMOUNT);

use super::sys::{
    MOUNT_ATTR_ATIME, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME,
};

/// The parsed `options` of one OCI mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for the `mount(2)` call (and the remount of a bind mount).
    pub(crate) flags: MsFlags,
    /// Flags the user explicitly cleared (`rw`, `dev`, `suid`, ...): these must not be
    /// re-added from the source's locked flags.
    pub(crate) cleared: MsFlags,
    /// `bind` or `rbind` was given.
    pub(crate) bind: bool,
    /// Propagation changes, applied in order with separate `mount(2)` calls.
    pub(crate) propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...), applied with `mount_setattr`.
    pub(crate) rec_attr: Option<MountAttr>,
    /// The filesystem-specific data string (`size=65536k,mode=755`).
    pub(crate) data: String,
    /// podman's `tmpcopyup`: copy the directory's content into the new tmpfs.
    pub(crate) tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            bind: false,
            propagation: Vec::new(),
            rec_attr: None,
            data: String::new(),
            tmpcopyup: false,
        }
    }
}

impl MountOptions {
    /// Whether `opt=` is present in the data string.
    pub(crate) fn has_data_key(&self, key: &str) -> bool {
        self.data
            .split(',')
            .any(|o| o.split_once('=').map_or(o, |(k, _)| k) == key)
    }
}

enum Opt {
    Set(MsFlags),
    Clear(MsFlags),
    Propagation(MsFlags),
    RecSet(u64),
    RecClear(u64),
    /// Atime selection: the value to put into the `MOUNT_ATTR__ATIME` field.
    RecAtime(u64),
    Nop,
}

/// Every mount option name testa understands (for `features`): the flags
/// below plus `tmpcopyup`. A test checks each one parses.
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

fn lookup(opt: &str) -> Option<Opt> {
    use MsFlags as F;
    use Opt::*;
    Some(match opt {
        "defaults" => Nop,
        "ro" => Set(F::MS_RDONLY),
        "rw" => Clear(F::MS_RDONLY),
        "nosuid" => Set(F::MS_NOSUID),
        "suid" => Clear(F::MS_NOSUID),
        "nodev" => Set(F::MS_NODEV),
        "dev" => Clear(F::MS_NODEV),
        "noexec" => Set(F::MS_NOEXEC),
        "exec" => Clear(F::MS_NOEXEC),
        "sync" => Set(F::MS_SYNCHRONOUS),
        "async" => Clear(F::MS_SYNCHRONOUS),
        "dirsync" => Set(F::MS_DIRSYNC),
        "remount" => Set(F::MS_REMOUNT),
        "mand" => Set(F::MS_MANDLOCK),
        "nomand" => Clear(F::MS_MANDLOCK),
        "noatime" => Set(F::MS_NOATIME),
        "atime" => Clear(F::MS_NOATIME),
        "nodiratime" => Set(F::MS_NODIRATIME),
        "diratime" => Clear(F::MS_NODIRATIME),
        "relatime" => Set(F::MS_RELATIME),
        "norelatime" => Clear(F::MS_RELATIME),
        "strictatime" => Set(F::MS_STRICTATIME),
        "nostrictatime" => Clear(F::MS_STRICTATIME),
        "lazytime" => Set(F::MS_LAZYTIME),
        "nolazytime" => Clear(F::MS_LAZYTIME),
        "iversion" => Set(F::MS_I_VERSION),
        "noiversion" => Clear(F::MS_I_VERSION),
        "silent" => Set(F::MS_SILENT),
        "loud" => Clear(F::MS_SILENT),
        "nosymfollow" => Set(MS_NOSYMFOLLOW),
        "symfollow" => Clear(MS_NOSYMFOLLOW),
        "bind" => Set(F::MS_BIND),
        "rbind" => Set(F::MS_BIND.union(F::MS_REC)),
        "private" => Propagation(F::MS_PRIVATE),
        "rprivate" => Propagation(F::MS_PRIVATE.union(F::MS_REC)),
        "shared" => Propagation(F::MS_SHARED),
        "rshared" => Propagation(F::MS_SHARED.union(F::MS_REC)),
        "slave" => Propagation(F::MS_SLAVE),
        "rslave" => Propagation(F::MS_SLAVE.union(F::MS_REC)),
        "unbindable" => Propagation(F::MS_UNBINDABLE),
        "runbindable" => Propagation(F::MS_UNBINDABLE.union(F::MS_REC)),
        "rro" => RecSet(MOUNT_ATTR_RDONLY),
        "rrw" => RecClear(MOUNT_ATTR_RDONLY),
        "rnosuid" => RecSet(MOUNT_ATTR_NOSUID),
        "rsuid" => RecClear(MOUNT_ATTR_NOSUID),
        "rnodev" => RecSet(MOUNT_ATTR_NODEV),
        "rdev" => RecClear(MOUNT_ATTR_NODEV),
        "rnoexec" => RecSet(MOUNT_ATTR_NOEXEC),
        "rexec" => RecClear(MOUNT_ATTR_NOEXEC),
        "rnodiratime" => RecSet(MOUNT_ATTR_NODIRATIME),
        "rdiratime" => RecClear(MOUNT_ATTR_NODIRATIME),
        "rrelatime" => RecAtime(MOUNT_ATTR_RELATIME),
        "rnoatime" => RecAtime(MOUNT_ATTR_NOATIME),
        "rstrictatime" => RecAtime(MOUNT_ATTR_STRICTATIME),
        // runc: "ratime", "rnorelatime", "rnostrictatime" clear the atime field, which the
        // kernel treats as relatime.
        "ratime" | "rnorelatime" | "rnostrictatime" => RecAtime(MOUNT_ATTR_RELATIME),
        "rnosymfollow" => RecSet(MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => RecClear(MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// Parse the options of `mounts[index]`. `field` is the JSON path used in errors.
pub(crate) fn parse(options: &[String], field: &str) -> Result<MountOptions> {
    let mut o = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        match lookup(opt) {
            Some(Opt::Set(f)) => {
                if ATIME_FLAGS.contains(f) && f != MsFlags::MS_NODIRATIME {
                    // One atime mode at a time: the last one wins.
                    o.flags
                        .remove(ATIME_FLAGS.difference(MsFlags::MS_NODIRATIME));
                }
                o.flags.insert(f);
                o.cleared.remove(f);
                if f.contains(MsFlags::MS_BIND) {
                    o.bind = true;
                }
            }
            Some(Opt::Clear(f)) => {
                o.flags.remove(f);
                o.cleared.insert(f);
            }
            Some(Opt::Propagation(p)) => o.propagation.push(p),
            Some(Opt::RecSet(a)) => {
                let r = o.rec_attr.get_or_insert_with(MountAttr::default);
                r.attr_set |= a;
                r.attr_clr &= !a;
            }
            Some(Opt::RecClear(a)) => {
                let r = o.rec_attr.get_or_insert_with(MountAttr::default);
                r.attr_clr |= a;
                r.attr_set &= !a;
            }
            Some(Opt::RecAtime(a)) => {
                let r = o.rec_attr.get_or_insert_with(MountAttr::default);
                r.attr_clr |= MOUNT_ATTR_ATIME;
                r.attr_set = (r.attr_set & !MOUNT_ATTR_ATIME) | a;
            }
            Some(Opt::Nop) => {}
            None if opt == "tmpcopyup" => o.tmpcopyup = true,
            None if opt == "idmap" || opt == "ridmap" || opt.starts_with("idmap=") => {
                return Err(Error::config(
                    field,
                    format!("{opt:?}: id-mapped mounts are not supported"),
                ));
            }
            None if opt.is_empty() => {
                return Err(Error::config(field, "empty option"));
            }
            None if is_propagation_like(opt) => {
                return Err(Error::config(
                    field,
                    format!("unknown propagation option {opt:?}"),
                ));
            }
            None => data.push(opt),
        }
    }
    o.data = data.join(",");
    Ok(o)
}

/// Misspelt propagation options (`rslaves`, `r-private`) would otherwise reach the data
/// string and fail with a bare EINVAL from the kernel.
fn is_propagation_like(opt: &str) -> bool {
    let bare = opt
        .strip_prefix('r')
        .unwrap_or(opt)
        .trim_start_matches(['-', '_']);
    !opt.contains('=')
        && bare.len() >= 4
        && ["private", "shared", "slave", "unbindable"]
            .iter()
            .any(|p| bare.contains(p) || p.starts_with(bare))
}

/// Parse `linux.rootfsPropagation`.
pub(crate) fn parse_root_propagation(value: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match value {
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

/// `statvfs` flags (`ST_*`) as the `MS_*` flags of the same meaning (the values match
/// on Linux, but we map them one by one).
pub(crate) fn statvfs_to_ms(st: nix::sys::statvfs::FsFlags) -> MsFlags {
    use nix::sys::statvfs::FsFlags as S;
    let pairs = [
        (S::ST_RDONLY, MsFlags::MS_RDONLY),
        (S::ST_NOSUID, MsFlags::MS_NOSUID),
        (S::ST_NODEV, MsFlags::MS_NODEV),
        (S::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (S::ST_NOATIME, MsFlags::MS_NOATIME),
        (S::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (S::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(s, _)| st.contains(*s))
        .fold(MsFlags::empty(), |acc, (_, m)| acc | *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        let v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        parse(&v, "mounts[0].options").unwrap()
    }

    #[test]
    fn flags_and_data() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
        assert!(o.has_data_key("mode"));
        assert!(!o.has_data_key("uid"));
    }

    #[test]
    fn devpts_data() {
        let o = p(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }

    #[test]
    fn bind_rbind_and_clears() {
        let o = p(&["rbind", "ro", "rw", "nodev", "dev", "exec"]);
        assert!(o.bind);
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert_eq!(
            o.cleared,
            MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
        );
        let o = p(&["bind", "ro", "sync", "dirsync", "remount", "noatime"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_BIND
                | MsFlags::MS_RDONLY
                | MsFlags::MS_SYNCHRONOUS
                | MsFlags::MS_DIRSYNC
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_NOATIME
        );
    }

    #[test]
    fn atime_last_wins_but_nodiratime_stays() {
        let o = p(&["noatime", "nodiratime", "relatime"]);
        assert_eq!(o.flags, MsFlags::MS_NODIRATIME | MsFlags::MS_RELATIME);
    }

    #[test]
    fn propagation_in_order() {
        let o = p(&[
            "bind",
            "rshared",
            "private",
            "runbindable",
            "slave",
            "rslave",
        ]);
        assert_eq!(
            o.propagation,
            vec![
                MsFlags::MS_SHARED | MsFlags::MS_REC,
                MsFlags::MS_PRIVATE,
                MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
                MsFlags::MS_SLAVE,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
            ]
        );
        assert_eq!(o.flags, MsFlags::MS_BIND);
    }

    #[test]
    fn recursive_attrs() {
        let o = p(&["rbind", "rro", "rnosuid", "rnoatime", "rsuid"]);
        let a = o.rec_attr.unwrap();
        assert_eq!(a.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME);
        assert_eq!(a.attr_clr, MOUNT_ATTR_NOSUID | MOUNT_ATTR_ATIME);
        assert!(p(&["ro"]).rec_attr.is_none());
    }

    #[test]
    fn tmpcopyup_is_not_data() {
        let o = p(&["tmpcopyup", "size=1m"]);
        assert!(o.tmpcopyup);
        assert_eq!(o.data, "size=1m");
    }

    #[test]
    fn bad_options_name_the_field() {
        let e = parse(&["rslaves".into()], "mounts[0].options").unwrap_err();
        assert_eq!(
            e.to_string(),
            "mounts[0].options: unknown propagation option \"rslaves\""
        );
        let e = parse(&["idmap".into()], "mounts[4].options").unwrap_err();
        assert!(e.to_string().starts_with("mounts[4].options: \"idmap\""));
    }

    #[test]
    fn root_propagation_values() {
        assert_eq!(
            parse_root_propagation("rslave"),
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(parse_root_propagation("private"), Some(MsFlags::MS_PRIVATE));
        assert_eq!(parse_root_propagation("x"), None);
    }

    #[test]
    fn every_listed_option_parses() {
        for name in MOUNT_OPTIONS {
            assert!(
                *name == "tmpcopyup" || lookup(name).is_some(),
                "{name} listed but not understood"
            );
        }
    }
}
