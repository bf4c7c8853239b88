//! Device nodes in the container's `/dev`: runc's default set, the spec's
//! `linux.devices`, and the standard links (`/dev/fd`, `/dev/ptmx`, ...).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{fchmodat, makedev, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::mounts::mount_fd;
use super::resolve::{clean, Kind, Root};
use crate::error::{Context, Error, Result};

/// One device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    /// Absolute cleaned path, under `/dev`.
    pub(crate) path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub(crate) kind: SFlag,
    /// Major number.
    pub(crate) major: u64,
    /// Minor number.
    pub(crate) minor: u64,
    /// Permission bits.
    pub(crate) mode: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
}

/// The devices every container gets (runc's list), as `(name, major, minor)`.
const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The links created in `/dev` (target, name), runc's `setupDevSymlinks`.
const LINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
];

/// The default devices merged with the spec's `linux.devices` (a spec entry with the
/// same path replaces the default), validated. Errors name `linux.devices[i].<field>`.
pub(crate) fn from_spec(spec: &[LinuxDevice]) -> Result<Vec<Device>> {
    let mut out = Vec::new();
    for (i, d) in spec.iter().enumerate() {
        let field = |f: &str| format!("linux.devices[{i}].{f}");
        let p = d.path();
        if !p.is_absolute() {
            return Err(Error::config(
                field("path"),
                format!("{p:?} must be absolute"),
            ));
        }
        let path = clean(p);
        if !path.starts_with("/dev") || path == Path::new("/dev") {
            return Err(Error::config(
                field("path"),
                format!("{p:?} must be a path under /dev"),
            ));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::config(
                    field("type"),
                    "\"a\" is not a device node type (use c, b, u or p)",
                ))
            }
        };
        let num = |v: i64, f: &str| {
            u32::try_from(v)
                .map(u64::from)
                .map_err(|_| Error::config(field(f), format!("{v} is out of range")))
        };
        let (major, minor) = (num(d.major(), "major")?, num(d.minor(), "minor")?);
        let mode = d.file_mode().unwrap_or(0o666);
        if mode & !0o7777 & !libc::S_IFMT != 0 {
            return Err(Error::config(
                field("fileMode"),
                format!("{mode:#o} is not a mode"),
            ));
        }
        out.push(Device {
            path,
            kind,
            major,
            minor,
            mode: mode & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for (name, major, minor) in DEFAULTS {
        if !out.iter().any(|d| d.path == Path::new(name)) {
            out.push(Device {
                path: PathBuf::from(name),
                kind: SFlag::S_IFCHR,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            });
        }
    }
    Ok(out)
}

/// Create one device: `mknod`, or (in a user namespace, or when mknod is refused) a
/// bind mount of the host's node with the same path onto an empty file.
pub(crate) fn create(root: &Root, d: &Device, bind: bool) -> Result<()> {
    let shown = root.display(&d.path);
    if bind {
        return bind_host(root, d);
    }
    let (dir, name) = root.create_parent(&d.path)?;
    let dev = makedev(d.major, d.minor);
    match mknodat(
        &dir,
        name.as_os_str(),
        d.kind,
        Mode::from_bits_truncate(d.mode),
        dev,
    ) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        Err(Errno::EPERM) => return bind_host(root, d),
        Err(e) => {
            return Err(Error::sys(
                format!("mknod({shown:?}, {:#o}, {}:{})", d.mode, d.major, d.minor),
                e,
            ))
        }
    }
    fchownat(
        &dir,
        name.as_os_str(),
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .step(|| format!("chown({shown:?}, {}, {})", d.uid, d.gid))?;
    // The umask applied to mknod; set the exact mode.
    fchmodat(
        &dir,
        name.as_os_str(),
        Mode::from_bits_truncate(d.mode),
        FchmodatFlags::FollowSymlink,
    )
    .step(|| format!("chmod({shown:?}, {:#o})", d.mode))
}

fn bind_host(root: &Root, d: &Device) -> Result<()> {
    let host = d.path.to_string_lossy();
    let src = nix::fcntl::open(
        &d.path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("open({host:?}, O_PATH)"))?;
    let tgt = root.create(&d.path, Kind::File)?;
    mount_fd(
        Some(&super::sys::fd_path(&src)),
        &tgt,
        Some("bind"),
        nix::mount::MsFlags::MS_BIND,
        None,
        &host,
        &root.display(&d.path),
    )
}

/// The links in `/dev`: fd, stdin, stdout, stderr, `ptmx -> pts/ptmx` (replacing a
/// node), and `core -> /proc/kcore` when the host has `/proc/kcore`.
pub(crate) fn create_links(root: &Root) -> Result<()> {
    let dev = root.create(Path::new("/dev"), Kind::Dir)?;
    let mut links: Vec<(&str, &str)> = LINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    match unlinkat(&dev, "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(Error::sys(
                format!("unlink({:?})", root.display(Path::new("/dev/ptmx"))),
                e,
            ))
        }
    }
    links.push(("pts/ptmx", "ptmx"));
    for (target, name) in links {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(Error::sys(
                    format!(
                        "symlink({target:?}, {:?})",
                        root.display(&Path::new("/dev").join(name))
                    ),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// Bind the terminal `pty` (the process's pty slave) over `/dev/console`, as runc
/// does, after the root is entered. The target is opened beneath the root without
/// following a symlink anywhere (an image's `/dev/console -> /proc/sys/...` must not
/// redirect the mount, CVE-2025-52565) and must be a regular file or a character
/// device; one is created when missing. The mount itself is made on fds
/// (`open_tree` of the pty, `move_mount`). A `/dev` where nothing can be created
/// (read-only, no `/dev` at all) gets no console, as with runc.
pub(crate) fn bind_console(pty: std::os::fd::BorrowedFd<'_>) -> Result<()> {
    use nix::fcntl::OFlag;
    use std::os::fd::AsFd;
    let root = Root::open(Path::new("/"))?;
    let no_links = super::sys::RESOLVE_IN_ROOT | super::sys::RESOLVE_NO_SYMLINKS;
    let dev = match root.open_with(
        Path::new("/dev"),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
        no_links,
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys("openat2(\"/dev\", RESOLVE_NO_SYMLINKS)", e)),
    };
    let open = || {
        nix::fcntl::openat(
            &dev,
            "console",
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    let target = match open() {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            let made = nix::fcntl::openat(
                &dev,
                "console",
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_WRONLY
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            );
            match made {
                Ok(_) | Err(Errno::EEXIST) => {}
                Err(Errno::EROFS) | Err(Errno::EACCES) | Err(Errno::EPERM) => return Ok(()),
                Err(e) => return Err(Error::sys("create \"/dev/console\"", e)),
            }
            open().step(|| "open(\"/dev/console\", O_PATH|O_NOFOLLOW)".into())?
        }
        Err(e) => return Err(Error::sys("open(\"/dev/console\", O_PATH|O_NOFOLLOW)", e)),
    };
    let st = nix::sys::stat::fstat(&target).step(|| "fstat(\"/dev/console\")".into())?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(Error::Other(
            "/dev/console is neither a regular file nor a character device: refusing to mount the console over it".into(),
        ));
    }
    let tree = super::sys::open_tree_clone(pty, false)
        .step(|| "open_tree(pty, OPEN_TREE_CLONE)".into())?;
    super::sys::move_mount(tree.as_fd(), Some(target.as_fd()), c"")
        .step(|| "move_mount(pty, \"/dev/console\")".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    fn dev(path: &str, typ: LinuxDeviceType, major: i64, minor: i64) -> LinuxDevice {
        LinuxDeviceBuilder::default()
            .path(path)
            .typ(typ)
            .major(major)
            .minor(minor)
            .build()
            .unwrap()
    }

    #[test]
    fn defaults_and_override() {
        let d = from_spec(&[]).unwrap();
        assert_eq!(d.len(), 6);
        assert!(d
            .iter()
            .all(|d| d.mode == 0o666 && d.uid == 0 && d.kind == SFlag::S_IFCHR));
        let mut custom = dev("/dev/null", LinuxDeviceType::C, 1, 3);
        custom.set_file_mode(Some(0o600));
        custom.set_uid(Some(1000));
        let d = from_spec(&[custom, dev("/dev/net/tun", LinuxDeviceType::C, 10, 200)]).unwrap();
        assert_eq!(d.len(), 7);
        assert_eq!((d[0].mode, d[0].uid), (0o600, 1000));
        assert_eq!(d[1].path, PathBuf::from("/dev/net/tun"));
        let d = from_spec(&[dev("/dev/fifo", LinuxDeviceType::P, 0, 0)]).unwrap();
        assert_eq!(d[0].kind, SFlag::S_IFIFO);
    }

    #[test]
    fn errors_name_the_field() {
        let e = |d: LinuxDevice| {
            from_spec(&[
                dev("/dev/ok", LinuxDeviceType::C, 1, 1),
                dev("/dev/ok2", LinuxDeviceType::B, 8, 0),
                d,
            ])
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            e(dev("/etc/x", LinuxDeviceType::C, 1, 3)),
            "linux.devices[2].path: \"/etc/x\" must be a path under /dev"
        );
        assert!(e(dev("/dev/../etc/x", LinuxDeviceType::C, 1, 3))
            .starts_with("linux.devices[2].path: "));
        assert!(e(dev("dev/x", LinuxDeviceType::C, 1, 3)).starts_with("linux.devices[2].path: "));
        assert!(e(dev("/dev", LinuxDeviceType::C, 1, 3)).starts_with("linux.devices[2].path: "));
        assert!(e(dev("/dev/x", LinuxDeviceType::A, 1, 3)).starts_with("linux.devices[2].type: "));
        assert!(e(dev("/dev/x", LinuxDeviceType::C, -1, 3)).starts_with("linux.devices[2].major: "));
    }
}
