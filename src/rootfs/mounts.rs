//! One OCI mount: validation into a [`MountEntry`], then the `mount(2)` calls that
//! perform it onto an fd resolved inside the rootfs.
//!
//! Order of calls for one entry, as runc does it:
//! 1. resolve (and create) the destination inside the root, as an `O_PATH` fd;
//! 2. `mount(source, /proc/self/fd/N, type, flags, data)` (a bind: `MS_BIND[|MS_REC]`);
//! 3. a bind with flags: `MS_BIND|MS_REMOUNT|flags` on the new mount, adding the
//!    source's locked flags when the kernel answers EPERM;
//! 4. one `mount(NULL, dst, NULL, MS_SHARED|...)` per propagation option;
//! 5. `mount_setattr(AT_RECURSIVE)` for the `r*` attribute options (`rro`, ...).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use nix::sys::statfs::{PROC_SUPER_MAGIC, SYSFS_MAGIC};
use oci_spec::runtime::Mount;

use super::options::{self, MountOptions, ATIME_FLAGS, CALL_FLAGS};
use super::resolve::{self, clean, Kind, Root};
use super::{cgroup, copyup, sys, Overlay};
use crate::error::{Context, Error, Result};

/// What kind of mount an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountKind {
    /// A bind mount (`bind`/`rbind` option, whatever the `type`).
    Bind,
    /// `type: cgroup` / `cgroup2`: the host layout decides how it is mounted.
    Cgroup,
    /// Any other filesystem (`proc`, `sysfs`, `tmpfs`, `devpts`, `mqueue`, ...).
    Fs,
    /// `type: overlay`: mounted by [`super::Overlay`] (the new mount API, one
    /// `lowerdir+` per layer); its data string holds absolute layer paths.
    Overlay,
}

/// One validated OCI mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    /// Cleaned absolute path inside the container.
    pub(crate) dest: PathBuf,
    /// The filesystem type (`tmpfs`); `bind` for bind mounts without a type.
    pub(crate) fstype: String,
    /// The source: an absolute host path for binds, a free-form name otherwise.
    pub(crate) source: PathBuf,
    /// How to mount it.
    pub(crate) kind: MountKind,
    /// The parsed options.
    pub(crate) opts: MountOptions,
}

/// The kernel's limits on a path (`PATH_MAX`, with its NUL) and on one component.
const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;

/// Paths under `/proc` that may be mount targets (lxcfs emulates them), as in runc.
const PROC_ALLOWED: &[&str] = &[
    "cpuinfo",
    "diskstats",
    "meminfo",
    "stat",
    "swaps",
    "uptime",
    "loadavg",
    "slabinfo",
    "net/dev",
    "sys/kernel/ns_last_pid",
];

impl MountEntry {
    /// Validate `mounts[index]`; relative bind sources are relative to `bundle`.
    pub(crate) fn from_spec(index: usize, m: &Mount, bundle: &Path) -> Result<MountEntry> {
        let field = |f: &str| format!("mounts[{index}].{f}");
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(Error::config(
                field("destination"),
                format!("{dest:?} must be absolute"),
            ));
        }
        let dest = clean(dest);
        let name_max = dest.components().any(|c| c.as_os_str().len() > NAME_MAX);
        if name_max || dest.as_os_str().len() >= PATH_MAX {
            return Err(Error::config(
                field("destination"),
                format!(
                    "too long: a path takes {PATH_MAX} bytes, a component {NAME_MAX} ({} bytes)",
                    dest.as_os_str().len()
                ),
            ));
        }
        if dest == Path::new("/") {
            return Err(Error::config(
                field("destination"),
                "mounting over / is not supported",
            ));
        }
        let opts = options::parse(m.options().as_deref().unwrap_or(&[]), &field("options"))?;
        // Id-mapped mounts are not implemented (`idmap`/`ridmap` are refused
        // by the option parser): mappings must not be dropped silently, or
        // the source would be mounted with host ids.
        for (name, maps) in [
            ("uidMappings", m.uid_mappings()),
            ("gidMappings", m.gid_mappings()),
        ] {
            if maps.is_some() {
                return Err(Error::config(
                    field(name),
                    "id-mapped mounts are not supported",
                ));
            }
        }
        let typ = m.typ().clone().unwrap_or_default();
        let kind = if opts.bind || typ == "bind" || typ == "rbind" {
            MountKind::Bind
        } else if typ == "cgroup" || typ == "cgroup2" {
            MountKind::Cgroup
        } else if typ == "overlay" {
            MountKind::Overlay
        } else if typ.is_empty() {
            return Err(Error::config(
                field("type"),
                "missing (and the options have no bind or rbind)",
            ));
        } else {
            MountKind::Fs
        };
        let mut opts = opts;
        if kind == MountKind::Overlay {
            // Validated now, with relative layer paths made absolute (bundle-relative,
            // as runc, which runs in the bundle, lets mount(2) resolve them).
            let overlay = Overlay::from_mount_data(&opts.data, bundle)
                .map_err(|msg| Error::config(field("options"), msg))?;
            opts.data = overlay.to_mount_data();
        }
        if kind == MountKind::Bind && !opts.bind {
            // `"type": "bind"` without a bind option: runc treats it as a bind mount.
            opts.bind = true;
            opts.flags |= MsFlags::MS_BIND;
            if typ == "rbind" {
                opts.flags |= MsFlags::MS_REC;
            }
        }
        let mut source = m.source().clone().unwrap_or_default();
        if kind == MountKind::Bind {
            if source.as_os_str().is_empty() {
                return Err(Error::config(
                    field("source"),
                    "a bind mount needs a source",
                ));
            }
            if !source.is_absolute() {
                source = bundle.join(source);
            }
            match std::fs::metadata(&source) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::config(
                        field("source"),
                        format!("{source:?} does not exist"),
                    ));
                }
                Err(e) => {
                    return Err(Error::config(field("source"), format!("{source:?}: {e}")));
                }
            }
        } else if source.as_os_str().is_empty() {
            source = PathBuf::from(&typ);
        }
        let fstype = if typ.is_empty() { "bind".into() } else { typ };
        let entry = MountEntry {
            dest,
            fstype,
            source,
            kind,
            opts,
        };
        if let Err(msg) = entry.check_proc_dest(&entry.dest, None) {
            return Err(Error::config(field("destination"), msg));
        }
        Ok(entry)
    }

    /// Whether the entry is mounted without `MS_RDONLY` first and made read-only in
    /// `finalize` (runc: tmpfs mounts and `/dev`, which are written to after mounting).
    pub(crate) fn delays_ro(&self) -> bool {
        self.opts.flags.contains(MsFlags::MS_RDONLY)
            && ((self.kind == MountKind::Fs && self.fstype == "tmpfs")
                || self.dest == Path::new("/dev"))
    }

    /// runc's rule for targets inside `/proc` (`path` is the container path): only
    /// procfs itself on `/proc`, and a few lxcfs files below it. `source_is_proc` is
    /// the statfs answer for a bind source, when known.
    fn check_proc_dest(
        &self,
        path: &Path,
        source_is_proc: Option<bool>,
    ) -> std::result::Result<(), String> {
        let Ok(rel) = path.strip_prefix("/proc") else {
            return Ok(());
        };
        if rel.as_os_str().is_empty() {
            let ok = match self.kind {
                MountKind::Fs => self.fstype == "proc",
                MountKind::Bind => source_is_proc.unwrap_or(true),
                MountKind::Cgroup | MountKind::Overlay => false,
            };
            return if ok {
                Ok(())
            } else {
                Err(format!(
                    "{path:?} cannot be mounted over: only procfs may be"
                ))
            };
        }
        if PROC_ALLOWED.iter().any(|a| rel == Path::new(a)) {
            return Ok(());
        }
        Err(format!(
            "{path:?} cannot be mounted because it is inside /proc"
        ))
    }
}

/// `MS_A|MS_B` as strace prints flags.
pub(crate) fn flag_names(flags: MsFlags) -> String {
    if flags.is_empty() {
        return "0".into();
    }
    let mut names: Vec<String> = flags.iter_names().map(|(n, _)| n.to_string()).collect();
    if flags.contains(options::MS_NOSYMFOLLOW) {
        names.push("MS_NOSYMFOLLOW".into());
    }
    names.join("|")
}

/// `mount(2)` onto `target` (an fd), with an error that reads like strace, naming the
/// host paths (`shown_src`, `shown_dst`) rather than the `/proc/self/fd` ones.
pub(crate) fn mount_fd(
    source: Option<&str>,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    shown_src: &str,
    shown_dst: &Path,
) -> Result<()> {
    let data = data.filter(|d| !d.is_empty());
    nix::mount::mount(source, sys::fd_path(target).as_str(), fstype, flags, data).step(|| {
        let q = |s: Option<&str>| s.map_or("NULL".to_string(), |s| format!("{s:?}"));
        format!(
            "mount({}, {shown_dst:?}, {}, {}, {})",
            if source.is_some() {
                format!("{shown_src:?}")
            } else {
                "NULL".into()
            },
            q(fstype),
            flag_names(flags),
            q(data)
        )
    })
}

/// Perform one spec mount inside `root`.
pub(crate) fn mount_entry(root: &Root, root_host: &Path, m: &MountEntry) -> Result<()> {
    match m.kind {
        MountKind::Bind => mount_bind(root, root_host, m),
        MountKind::Cgroup => cgroup::mount(root, root_host, m),
        MountKind::Overlay => mount_overlay(root, root_host, m),
        MountKind::Fs => {
            let r = mount_fs(root, root_host, m);
            if m.fstype == "sysfs"
                && matches!(
                    r,
                    Err(Error::Sys {
                        errno: Errno::EPERM,
                        ..
                    })
                )
            {
                // A new user namespace without its own network namespace may not mount
                // sysfs: bind the host's /sys instead, as runc does.
                let mut b = m.clone();
                b.kind = MountKind::Bind;
                b.source = PathBuf::from("/sys");
                b.fstype = "bind".into();
                b.opts.bind = true;
                b.opts.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                return mount_bind(root, root_host, &b);
            }
            r
        }
    }
}

/// Resolve (creating) the target of `m` and check the resolved place against the
/// `/proc` rule, so that a symlink in the image cannot redirect a mount into `/proc`.
/// procfs and sysfs (also bound from the host) must land on an ordinary directory at
/// exactly their destination, judged without following any symlink (runc: "must be
/// mounted on ordinary directory"): an image whose `/proc` is a link would otherwise
/// get the real procfs wherever it points, and the `/proc` rules judged on a path
/// that is not `/proc`.
fn target(root: &Root, root_host: &Path, m: &MountEntry, kind: Kind) -> Result<OwnedFd> {
    let fd = root.create(&m.dest, kind)?;
    let source_fs = if m.kind == MountKind::Bind {
        nix::sys::statfs::statfs(&m.source)
            .ok()
            .map(|s| s.filesystem_type())
    } else {
        None
    };
    let special = match m.kind {
        MountKind::Fs => m.fstype == "proc" || m.fstype == "sysfs",
        _ => source_fs.is_some_and(|t| t == PROC_SUPER_MAGIC || t == SYSFS_MAGIC),
    };
    let fd = if special {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        root.open_with(
            &m.dest,
            flags,
            sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS,
        )
        .map_err(|_| {
            Error::Other(format!(
                "mount destination {:?}: filesystem {:?} must be mounted on ordinary directory",
                m.dest,
                if m.kind == MountKind::Fs {
                    &m.fstype
                } else {
                    "bind"
                },
            ))
        })?
    } else {
        fd
    };
    let real = resolve::fd_host_path(&fd)?;
    let inside = match real.strip_prefix(root_host) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => {
            return Err(Error::Other(format!(
                "mount destination {:?} resolved to {real:?}, outside the rootfs",
                m.dest
            )))
        }
    };
    let source_is_proc = source_fs.map(|t| t == PROC_SUPER_MAGIC);
    m.check_proc_dest(&inside, source_is_proc)
        .map_err(|msg| Error::Other(format!("mount destination {:?}: {msg}", m.dest)))?;
    Ok(fd)
}

fn mount_fs(root: &Root, root_host: &Path, m: &MountEntry) -> Result<()> {
    let tgt = target(root, root_host, m, Kind::Dir)?;
    let shown = root.display(&m.dest);
    let mut flags = m.opts.flags;
    if m.delays_ro() {
        flags.remove(MsFlags::MS_RDONLY);
    }
    let is_tmpfs = m.fstype == "tmpfs";
    // The original directory, before the tmpfs hides it: its mode for the new root,
    // its content for tmpcopyup.
    let below = if is_tmpfs {
        Some(
            root.open_in(&m.dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .step(|| format!("open({shown:?})"))?,
        )
    } else {
        None
    };
    let src = m.source.to_string_lossy();
    mount_fd(
        Some(&src),
        &tgt,
        Some(&m.fstype),
        flags,
        Some(&m.opts.data),
        &src,
        &shown,
    )?;
    if let Some(below) = below {
        let new = root.resolve(&m.dest)?;
        if m.opts.tmpcopyup {
            copyup::copy_dir(&below, &new).step(|| format!("tmpcopyup into {shown:?}"))?;
        }
        if !m.opts.has_data_key("mode") {
            let st = nix::sys::stat::fstat(&below).step(|| format!("fstat({shown:?})"))?;
            copyup::set_mode(&new, st.st_mode & 0o7777).step(|| format!("chmod({shown:?})"))?;
        }
    }
    after_mount(root, m)
}

/// An OCI mount of type `overlay`, through [`Overlay`], onto the resolved target fd.
fn mount_overlay(root: &Root, root_host: &Path, m: &MountEntry) -> Result<()> {
    let tgt = target(root, root_host, m, Kind::Dir)?;
    let overlay = Overlay::from_mount_data(&m.opts.data, Path::new("/"))
        .map_err(|msg| Error::Other(format!("overlay mount on {:?}: {msg}", m.dest)))?
        .flags(m.opts.flags.difference(CALL_FLAGS));
    overlay.mount_onto(tgt.as_fd(), &root.display(&m.dest))?;
    after_mount(root, m)
}

fn mount_bind(root: &Root, root_host: &Path, m: &MountEntry) -> Result<()> {
    let src_path = m.source.to_string_lossy();
    let src = nix::fcntl::open(&m.source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .step(|| format!("open({src_path:?}, O_PATH)"))?;
    let is_dir = nix::sys::stat::fstat(&src)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .step(|| format!("fstat({src_path:?})"))?;
    let tgt = target(
        root,
        root_host,
        m,
        if is_dir { Kind::Dir } else { Kind::File },
    )?;
    let shown = root.display(&m.dest);
    let bind = m.opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
    mount_fd(
        Some(&sys::fd_path(&src)),
        &tgt,
        None,
        bind,
        None,
        &src_path,
        &shown,
    )?;
    let mut flags = m.opts.flags.difference(CALL_FLAGS);
    if m.delays_ro() {
        flags.remove(MsFlags::MS_RDONLY);
    }
    if !flags.is_empty() {
        let new = root.resolve(&m.dest)?;
        remount_bind(&new, &shown, flags, m.opts.cleared)?;
    }
    after_mount(root, m)
}

/// `MS_BIND|MS_REMOUNT|flags` on the mount `target` is the root of. In a user namespace
/// the kernel refuses to clear flags locked by the parent namespace (EPERM): then add
/// the mount's current nosuid/nodev/noexec/ro (and atime mode, when the options set
/// none) and retry, unless the user explicitly asked to clear one of them.
pub(crate) fn remount_bind(
    target: &OwnedFd,
    shown: &Path,
    flags: MsFlags,
    cleared: MsFlags,
) -> Result<()> {
    let flags = flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let first = mount_fd(None, target, None, flags, None, "", shown);
    let Err(Error::Sys {
        errno: Errno::EPERM,
        ..
    }) = first
    else {
        return first;
    };
    let st = nix::sys::statvfs::fstatvfs(target).step(|| format!("statvfs({shown:?})"))?;
    let current = options::statvfs_to_ms(st.flags());
    let lockable = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut retry = flags | (current & lockable).difference(cleared);
    if !flags.intersects(ATIME_FLAGS) {
        retry |= current & ATIME_FLAGS;
    }
    if retry == flags {
        return first;
    }
    mount_fd(None, target, None, retry, None, "", shown)
}

/// Propagation changes and recursive attributes, on the freshly made mount.
fn after_mount(root: &Root, m: &MountEntry) -> Result<()> {
    if m.opts.propagation.is_empty() && m.opts.rec_attr.is_none() {
        return Ok(());
    }
    let shown = root.display(&m.dest);
    let new = root.resolve(&m.dest)?;
    for p in &m.opts.propagation {
        mount_fd(None, &new, None, *p, None, "", &shown)?;
    }
    if let Some(attr) = &m.opts.rec_attr {
        sys::mount_setattr(&new, true, attr).step(|| {
            format!(
                "mount_setattr({shown:?}, AT_RECURSIVE, {{set: {:#x}, clr: {:#x}}})",
                attr.attr_set, attr.attr_clr
            )
        })?;
    }
    Ok(())
}

/// runc's `remountReadonly`: make the mount at `dest` read-only (after the pivot, on
/// its fd), keeping its other flags; retried a few times on EBUSY (open writers).
pub(crate) fn remount_ro(root: &Root, dest: &Path) -> Result<()> {
    let fd = root.resolve(dest)?;
    let shown = root.display(dest);
    let mut tries = 0;
    loop {
        match super::paths::set_readonly(&fd, &shown) {
            Err(Error::Sys {
                errno: Errno::EBUSY,
                ..
            }) if tries < 5 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn mnt(dest: &str, typ: Option<&str>, src: Option<&str>, opts: &[&str]) -> Mount {
        let mut b = MountBuilder::default().destination(dest);
        if let Some(t) = typ {
            b = b.typ(t);
        }
        if let Some(s) = src {
            b = b.source(s);
        }
        b.options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    fn err(i: usize, m: Mount) -> String {
        MountEntry::from_spec(i, &m, Path::new("/nonexistent-bundle"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn kinds() {
        let b = Path::new("/");
        let e =
            MountEntry::from_spec(0, &mnt("/x", Some("none"), Some("/"), &["rbind"]), b).unwrap();
        assert_eq!(e.kind, MountKind::Bind);
        let e = MountEntry::from_spec(0, &mnt("/x", Some("bind"), Some("/"), &["ro"]), b).unwrap();
        assert_eq!(e.kind, MountKind::Bind);
        assert!(e.opts.flags.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY));
        let e =
            MountEntry::from_spec(0, &mnt("/sys/fs/cgroup", Some("cgroup"), None, &[]), b).unwrap();
        assert_eq!(e.kind, MountKind::Cgroup);
        let e = MountEntry::from_spec(0, &mnt("/proc/", Some("proc"), None, &[]), b).unwrap();
        assert_eq!(
            (e.kind, e.dest, e.source),
            (MountKind::Fs, "/proc".into(), "proc".into())
        );
        let e = MountEntry::from_spec(0, &mnt("/tmp", Some("tmpfs"), None, &["ro"]), b).unwrap();
        assert!(e.delays_ro());
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err(3, mnt("/x", Some("bind"), Some("/nope"), &["bind"])),
            "mounts[3].source: \"/nope\" does not exist"
        );
        assert_eq!(
            err(1, mnt("x", Some("tmpfs"), None, &[])),
            "mounts[1].destination: \"x\" must be absolute"
        );
        assert!(err(2, mnt("/x", None, None, &[])).starts_with("mounts[2].type: "));
        assert!(err(0, mnt("/x", None, None, &["bind"])).starts_with("mounts[0].source: "));
        assert!(
            err(0, mnt("/x", Some("tmpfs"), None, &["rshare"])).starts_with("mounts[0].options: ")
        );
        assert!(err(5, mnt("/proc/self", Some("tmpfs"), None, &[]))
            .starts_with("mounts[5].destination: "));
        assert!(
            err(5, mnt("/proc", Some("tmpfs"), None, &[])).starts_with("mounts[5].destination: ")
        );
        assert!(MountEntry::from_spec(
            0,
            &mnt("/proc/meminfo", Some("bind"), Some("/"), &[]),
            Path::new("/")
        )
        .is_ok());
    }

    #[test]
    fn relative_bind_source_is_in_the_bundle() {
        let e = err(0, mnt("/x", Some("bind"), Some("data"), &["bind"]));
        assert_eq!(
            e,
            "mounts[0].source: \"/nonexistent-bundle/data\" does not exist"
        );
    }

    #[test]
    fn overlay_mounts_are_validated_before_the_fork() {
        let b = Path::new("/bundle");
        let m = mnt(
            "/data",
            Some("overlay"),
            Some("overlay"),
            &[
                "lowerdir=/a:rel",
                "upperdir=up",
                "workdir=/w",
                "ro",
                "index=off",
            ],
        );
        let e = MountEntry::from_spec(0, &m, b).unwrap();
        assert_eq!(e.kind, MountKind::Overlay);
        assert!(e.opts.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(
            e.opts.data,
            "lowerdir=/a:/bundle/rel,upperdir=/bundle/up,workdir=/w,index=off"
        );
        let bad = mnt(
            "/data",
            Some("overlay"),
            None,
            &["upperdir=/u", "workdir=/w"],
        );
        assert_eq!(
            err(4, bad),
            "mounts[4].options: an overlay mount needs lowerdir="
        );
        let proc = mnt("/proc", Some("overlay"), None, &["lowerdir=/a"]);
        assert!(err(1, proc).starts_with("mounts[1].destination: "));
    }

    #[test]
    fn flag_names_like_strace() {
        assert_eq!(
            flag_names(MsFlags::MS_BIND | MsFlags::MS_REC),
            "MS_BIND|MS_REC"
        );
        assert_eq!(flag_names(MsFlags::empty()), "0");
    }
}
