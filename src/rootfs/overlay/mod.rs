//! Overlay mounts as a typed API: ordered lower layers, an optional upper and work
//! directory (a read-only overlay without them), the overlay options people need.
//!
//! ```no_run
//! use testa::rootfs::{Overlay, OverlayOption};
//! // Lower layers top first, as overlayfs orders `lowerdir`.
//! Overlay::new(["/layers/app", "/layers/base"])
//!     .upper("/ctr/upper", "/ctr/work")
//!     .option(OverlayOption::Index(false))
//!     .mount_at("/ctr/merged")?;
//! # Ok::<(), testa::Error>(())
//! ```
//!
//! How it is mounted:
//!
//! ```text
//!   new mount API (Linux >= 6.8)                 mount(2) fallback (older kernels)
//!   fsopen("overlay")                            open every layer O_PATH (errors name it)
//!   fsconfig("source", "overlay")                data = "lowerdir=/a:/b,upperdir=..,.."
//!   fsconfig("lowerdir+", layer)  per layer      if longer than a page or a path needs
//!   fsconfig("upperdir"/"workdir"), options        escaping: fork a child that
//!   fsconfig(FSCONFIG_CMD_CREATE)                  chdir("/proc/self/fd") and mounts
//!   fsmount() -> detached mount fd                 "lowerdir=5:6:7,..." (fd numbers as
//!   move_mount(fd, target)                         short relative names)
//! ```
//!
//! `lowerdir+` takes one layer per call, so the number of layers is not limited by the
//! one-page option string of `mount(2)`, and the failing call names its layer. The
//! kernel explains failures in the fs context log, which is read back (`read()` on
//! the fsopen fd) into the error. The fallback's short names (two to five characters a
//! layer) play the role of containers/storage's `l/` symlinks, without changing the
//! caller's working directory (only the forked child's).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};

/// The size of the data page `mount(2)` copies from user space.
const PAGE: usize = 4096;

/// An overlay option (`-o` of `mount -t overlay`), typed where it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverlayOption {
    /// `index=on|off`: the inodes index (hard links kept across copy-up, NFS export).
    Index(bool),
    /// `metacopy=on|off`: copy up only the metadata on a chmod/chown.
    Metacopy(bool),
    /// `redirect_dir=...`: how renamed directories are recorded and followed.
    RedirectDir(RedirectDir),
    /// `volatile`: no syncs to the upper fs (a crash may lose the upper layer).
    Volatile,
    /// `userxattr`: `user.overlay.*` xattrs instead of `trusted.overlay.*`, as needed
    /// in a user namespace.
    UserXattr,
    /// Any other option, passed to the kernel as it is (`xino=off`, `nfs_export=on`).
    Other {
        /// The option's name.
        key: String,
        /// Its value; `None` for a flag.
        value: Option<String>,
    },
}

/// The values of `redirect_dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectDir {
    /// Create and follow redirects.
    On,
    /// Neither create nor follow (renames of merged directories fail with EXDEV).
    Off,
    /// Follow redirects found in lower layers, create none.
    Follow,
    /// Do not follow redirects, create none.
    NoFollow,
}

impl RedirectDir {
    fn as_str(self) -> &'static str {
        match self {
            RedirectDir::On => "on",
            RedirectDir::Off => "off",
            RedirectDir::Follow => "follow",
            RedirectDir::NoFollow => "nofollow",
        }
    }
}

fn on_off(v: bool) -> &'static str {
    if v {
        "on"
    } else {
        "off"
    }
}

impl OverlayOption {
    /// The option as a `(key, value)` pair; `None` as the value for a flag.
    fn pair(&self) -> (&str, Option<&str>) {
        match self {
            OverlayOption::Index(v) => ("index", Some(on_off(*v))),
            OverlayOption::Metacopy(v) => ("metacopy", Some(on_off(*v))),
            OverlayOption::RedirectDir(r) => ("redirect_dir", Some(r.as_str())),
            OverlayOption::Volatile => ("volatile", None),
            OverlayOption::UserXattr => ("userxattr", None),
            OverlayOption::Other { key, value } => (key, value.as_deref()),
        }
    }

    /// Parse one `key[=value]` of a mount data string.
    fn parse(opt: &str) -> std::result::Result<OverlayOption, String> {
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        };
        let bool_of = |v: Option<&str>| match v {
            Some("on") => Ok(true),
            Some("off") => Ok(false),
            _ => Err(format!("{opt:?}: expected {key}=on or {key}=off")),
        };
        Ok(match key {
            "index" => OverlayOption::Index(bool_of(value)?),
            "metacopy" => OverlayOption::Metacopy(bool_of(value)?),
            "redirect_dir" => OverlayOption::RedirectDir(match value {
                Some("on") => RedirectDir::On,
                Some("off") => RedirectDir::Off,
                Some("follow") => RedirectDir::Follow,
                Some("nofollow") => RedirectDir::NoFollow,
                _ => return Err(format!("{opt:?}: unknown redirect_dir value")),
            }),
            "volatile" if value.is_none() => OverlayOption::Volatile,
            "userxattr" if value.is_none() => OverlayOption::UserXattr,
            _ => OverlayOption::Other {
                key: key.to_string(),
                value: value.map(str::to_string),
            },
        })
    }
}

/// An overlay mount, described before it is made. Build it with [`Overlay::new`] and
/// the chained setters, then [`Overlay::mount_at`], [`Overlay::mount_onto`] or
/// [`Overlay::mount_fd`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    lowers: Vec<PathBuf>,
    upper: Option<(PathBuf, PathBuf)>,
    options: Vec<OverlayOption>,
    flags: MsFlags,
    force_mount_syscall: bool,
}

impl Overlay {
    /// An overlay of `lowers`, top layer first (the order of overlayfs' `lowerdir`),
    /// read-only until [`Overlay::upper`] is given (the kernel wants two lower layers
    /// at least for a read-only overlay).
    pub fn new<I, P>(lowers: I) -> Overlay
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        Overlay {
            lowers: lowers.into_iter().map(Into::into).collect(),
            upper: None,
            options: Vec::new(),
            flags: MsFlags::empty(),
            force_mount_syscall: false,
        }
    }

    /// The writable layer and its work directory (an empty directory on the same
    /// filesystem as `upper`).
    pub fn upper(mut self, upper: impl Into<PathBuf>, work: impl Into<PathBuf>) -> Overlay {
        self.upper = Some((upper.into(), work.into()));
        self
    }

    /// Add an overlay option; a later option of the same name overrides an earlier one.
    pub fn option(mut self, option: OverlayOption) -> Overlay {
        self.options.push(option);
        self
    }

    /// Mount flags (`MS_RDONLY`, `MS_NOSUID`, `MS_NODEV`, `MS_NOEXEC`, atime flags,
    /// `MS_NOSYMFOLLOW`, `MS_SYNCHRONOUS`, `MS_DIRSYNC`, `MS_LAZYTIME`, `MS_SILENT`) for
    /// the new mount. Other flags are refused when mounting.
    pub fn flags(mut self, flags: MsFlags) -> Overlay {
        self.flags = flags;
        self
    }

    /// Use `mount(2)` even where the new mount API is available (to compare the
    /// two, or to work around a kernel bug).
    pub fn force_mount_syscall(mut self, force: bool) -> Overlay {
        self.force_mount_syscall = force;
        self
    }

    /// The lower layers, top first.
    pub fn lowers(&self) -> &[PathBuf] {
        &self.lowers
    }

    /// The upper and work directories, if any.
    pub fn upper_dirs(&self) -> Option<(&Path, &Path)> {
        self.upper.as_ref().map(|(u, w)| (u.as_path(), w.as_path()))
    }

    /// Whether the overlay has no upper layer (and so refuses writes with EROFS).
    pub fn is_readonly(&self) -> bool {
        self.upper.is_none()
    }

    /// Mount the overlay on the directory `target`.
    pub fn mount_at(&self, target: impl AsRef<Path>) -> Result<()> {
        let target = target.as_ref();
        let shown = format!("{target:?}");
        let c_target = cstring(target)?;
        self.mount_to(Target::Path(&c_target), &shown)
    }

    /// Mount the overlay on the directory `target` refers to (an `O_PATH` fd, e.g.
    /// one resolved inside a container's root); `shown` names it in errors.
    pub fn mount_onto(&self, target: BorrowedFd<'_>, shown: &Path) -> Result<()> {
        self.mount_to(Target::Fd(target), &format!("{shown:?}"))
    }

    /// Make the overlay as a detached mount (`fsmount`), not attached anywhere yet:
    /// the caller can `move_mount` it, or open files beneath it with `openat`. Needs
    /// the new mount API with `lowerdir+` (Linux 6.8).
    pub fn mount_fd(&self) -> Result<OwnedFd> {
        self.check()?;
        match self.new_api()? {
            NewApi::Mounted(fd) => Ok(fd),
            NewApi::Unsupported(why) => Err(Error::Other(format!(
                "overlay: a detached mount needs fsopen/fsmount with \"lowerdir+\" \
                 (Linux 6.8): {why}"
            ))),
        }
    }

    fn mount_to(&self, target: Target<'_>, shown: &str) -> Result<()> {
        self.check()?;
        if !self.force_mount_syscall {
            if let NewApi::Mounted(mnt) = self.new_api()? {
                return api::move_mount(mnt.as_fd(), target)
                    .step(|| format!("move_mount(overlay, {shown})"));
            }
        }
        self.mount_syscall(target, shown)
    }

    fn check(&self) -> Result<()> {
        if self.lowers.is_empty() {
            return Err(Error::Other("overlay: no lower layer".into()));
        }
        if self.upper.is_none() && self.lowers.len() < 2 {
            // The kernel says so only in dmesg; mount(2) answers a bare EINVAL.
            return Err(Error::Other(
                "overlay: a read-only overlay (no upper) needs at least 2 lower layers; \
                 bind-mount a single layer read-only instead"
                    .into(),
            ));
        }
        let unsupported = self.flags.difference(SUPPORTED_FLAGS);
        if !unsupported.is_empty() {
            return Err(Error::Other(format!(
                "overlay: unsupported mount flags {unsupported:?}"
            )));
        }
        if self.options.contains(&OverlayOption::Volatile) && self.upper.is_none() {
            return Err(Error::Other(
                "overlay: \"volatile\" needs an upper layer".into(),
            ));
        }
        Ok(())
    }

    /// The layer name used in errors: `lower layer 3 of 500 "/x"`.
    fn lower_name(&self, i: usize) -> String {
        format!(
            "overlay lower layer {} of {} {:?}",
            i + 1,
            self.lowers.len(),
            self.lowers[i]
        )
    }

    /// fsopen + fsconfig + fsmount. `Unsupported` when the kernel lacks the API or
    /// `lowerdir+` (the caller falls back to `mount(2)`).
    fn new_api(&self) -> Result<NewApi> {
        let fs = match api::fsopen(c"overlay") {
            Ok(fd) => fd,
            Err(Errno::ENOSYS) => return Ok(NewApi::Unsupported("fsopen: ENOSYS".into())),
            Err(e) => return Err(Error::sys("fsopen(\"overlay\")", e)),
        };
        let fail = |step: String, e: Errno| {
            let log = api::read_log(fs.as_fd());
            Error::sys(with_log(step, &log), e)
        };
        api::set_string(fs.as_fd(), c"source", Some(c"overlay"))
            .map_err(|e| fail("fsconfig(overlay, \"source\", \"overlay\")".into(), e))?;
        for (i, lower) in self.lowers.iter().enumerate() {
            let value = cstring(lower)?;
            if let Err(e) = api::set_string(fs.as_fd(), c"lowerdir+", Some(&value)) {
                let log = api::read_log(fs.as_fd());
                if e == Errno::EINVAL && lacks_lowerdir_plus(&log) {
                    return Ok(NewApi::Unsupported(log));
                }
                return Err(Error::sys(
                    with_log(
                        format!("{}: fsconfig(\"lowerdir+\")", self.lower_name(i)),
                        &log,
                    ),
                    e,
                ));
            }
        }
        if let Some((upper, work)) = &self.upper {
            for (key, dir) in [(c"upperdir", upper), (c"workdir", work)] {
                api::set_string(fs.as_fd(), key, Some(&cstring(dir)?)).map_err(|e| {
                    fail(
                        format!("overlay {}: fsconfig({key:?}, {dir:?})", key_name(key)),
                        e,
                    )
                })?;
            }
        }
        for opt in &self.options {
            let (key, value) = opt.pair();
            let k = CString::new(key).map_err(|_| bad_string(key))?;
            let v = value
                .map(|v| CString::new(v).map_err(|_| bad_string(v)))
                .transpose()?;
            api::set_string(fs.as_fd(), &k, v.as_deref())
                .map_err(|e| fail(format!("overlay option {}", show_opt(key, value)), e))?;
        }
        for (flag, key) in SB_FLAGS {
            if self.flags.contains(flag) {
                api::set_string(fs.as_fd(), key, None)
                    .map_err(|e| fail(format!("overlay: fsconfig({key:?})"), e))?;
            }
        }
        if let Err(e) = api::create(fs.as_fd()) {
            let log = api::read_log(fs.as_fd());
            // A kernel whose overlay still parses a legacy data string accepted the
            // "lowerdir+" keys above and only refuses them now, logging nothing.
            if e == Errno::EINVAL && (log.is_empty() || lacks_lowerdir_plus(&log)) {
                return Ok(NewApi::Unsupported(log));
            }
            return Err(Error::sys(
                with_log(
                    format!(
                        "fsconfig(overlay, FSCONFIG_CMD_CREATE) [{} lower layers]",
                        self.lowers.len()
                    ),
                    &log,
                ),
                e,
            ));
        }
        let mnt = api::fsmount(fs.as_fd(), ms_to_attr(self.flags)).map_err(|e| {
            fail(
                format!(
                    "fsmount(overlay, {})",
                    super::mounts::flag_names(self.flags)
                ),
                e,
            )
        })?;
        Ok(NewApi::Mounted(mnt))
    }

    /// The `mount(2)` data string with the given layer names.
    fn data(&self, lowers: &[String], upper: Option<(String, String)>) -> String {
        let mut data = format!("lowerdir={}", lowers.join(":"));
        if let Some((u, w)) = upper {
            data.push_str(&format!(",upperdir={u},workdir={w}"));
        }
        for opt in &self.options {
            let (k, v) = opt.pair();
            data.push(',');
            data.push_str(&show_opt(k, v));
        }
        data
    }

    /// The `mount(2)` path: plain paths when they fit in a page and need no escaping,
    /// otherwise fd numbers relative to `/proc/self/fd` in a forked child.
    fn mount_syscall(&self, target: Target<'_>, shown: &str) -> Result<()> {
        // Open every layer first: a missing one is named here, which mount(2) can't do.
        let open = |p: &Path, what: String| {
            nix::fcntl::open(
                p,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .step(|| format!("{what}: open(O_PATH|O_DIRECTORY)"))
        };
        let lower_fds = (0..self.lowers.len())
            .map(|i| open(&self.lowers[i], self.lower_name(i)))
            .collect::<Result<Vec<OwnedFd>>>()?;
        let upper_fds = match &self.upper {
            Some((u, w)) => Some((
                open(u, format!("overlay upperdir {u:?}"))?,
                open(w, format!("overlay workdir {w:?}"))?,
            )),
            None => None,
        };
        let plain = |p: &PathBuf| {
            let s = p.to_str()?;
            (!s.contains([':', ',', '\\']) && p.is_absolute()).then(|| s.to_string())
        };
        let plain_lowers: Option<Vec<String>> = self.lowers.iter().map(plain).collect();
        let plain_upper = match &self.upper {
            Some((u, w)) => plain(u).zip(plain(w)).map(Some),
            None => Some(None),
        };
        let direct = match (plain_lowers, plain_upper) {
            (Some(l), Some(u)) => Some(self.data(&l, u)).filter(|d| d.len() < PAGE),
            _ => None,
        };
        let target_c = match target {
            Target::Path(p) => p.to_owned(),
            Target::Fd(fd) => CString::new(fd_path(fd)).expect("no NUL"),
        };
        let flags = self.flags;
        let step = |data: &str, via: &str| {
            format!(
                "mount(\"overlay\", {shown}, \"overlay\", {}, {data:?}){via}",
                super::mounts::flag_names(flags)
            )
        };
        if let Some(data) = direct {
            let c = CString::new(data.as_str()).map_err(|_| bad_string(&data))?;
            return api::mount(&target_c, flags, &c).step(|| step(&data, ""));
        }
        let num = |fd: &OwnedFd| fd.as_raw_fd().to_string();
        let short = self.data(
            &lower_fds.iter().map(num).collect::<Vec<_>>(),
            upper_fds.as_ref().map(|(u, w)| (num(u), num(w))),
        );
        if short.len() >= PAGE {
            return Err(Error::Other(format!(
                "overlay: {} lower layers do not fit in the one-page option string of \
                 mount(2), even as fd numbers; this kernel lacks fsconfig \"lowerdir+\"",
                self.lowers.len()
            )));
        }
        let c = CString::new(short.as_str()).map_err(|_| bad_string(&short))?;
        api::mount_in_fd_dir(&target_c, flags, &c)
            .step(|| step(&short, " in /proc/self/fd of a child"))
    }

    /// The `mount(2)` data string with the full layer paths (`:` and `\\` escaped in
    /// `lowerdir`),
    /// which [`Overlay::from_mount_data`] reads back into the same overlay.
    pub(crate) fn to_mount_data(&self) -> String {
        let esc = |p: &PathBuf| {
            p.to_string_lossy()
                .replace('\\', "\\\\")
                .replace(':', "\\:")
        };
        let lowers: Vec<String> = self.lowers.iter().map(esc).collect();
        let raw = |p: &PathBuf| p.to_string_lossy().into_owned();
        self.data(&lowers, self.upper.as_ref().map(|(u, w)| (raw(u), raw(w))))
    }

    /// Parse the options of an OCI mount of type `overlay` (as runc accepts them:
    /// `lowerdir=a:b`, `upperdir=`, `workdir=`, other overlay options). Relative
    /// layer paths are relative to `base` (the bundle); `\:` escapes a colon.
    pub(crate) fn from_mount_data(data: &str, base: &Path) -> std::result::Result<Overlay, String> {
        let abs = |p: &str| {
            if p.is_empty() {
                Err("empty layer path".to_string())
            } else {
                Ok(base.join(p))
            }
        };
        let mut lowers = Vec::new();
        let (mut upper, mut work) = (None, None);
        let mut options = Vec::new();
        for opt in data.split(',').filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some(("lowerdir", v)) => {
                    lowers = split_lowerdir(v)
                        .iter()
                        .map(|p| abs(p))
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|e| format!("lowerdir: {e}"))?
                }
                Some(("lowerdir+", v)) => {
                    lowers.push(abs(v).map_err(|e| format!("lowerdir+: {e}"))?)
                }
                Some(("upperdir", v)) => {
                    upper = Some(abs(v).map_err(|e| format!("upperdir: {e}"))?)
                }
                Some(("workdir", v)) => work = Some(abs(v).map_err(|e| format!("workdir: {e}"))?),
                _ => options.push(OverlayOption::parse(opt)?),
            }
        }
        if lowers.is_empty() {
            return Err("an overlay mount needs lowerdir=".into());
        }
        let mut o = Overlay::new(lowers);
        match (upper, work) {
            (Some(u), Some(w)) => o = o.upper(u, w),
            (None, None) => {}
            (Some(_), None) => return Err("upperdir= needs workdir=".into()),
            (None, Some(_)) => return Err("workdir= needs upperdir=".into()),
        }
        for opt in options {
            o = o.option(opt);
        }
        Ok(o)
    }
}

/// Split a `lowerdir=` value on unescaped colons; `\x` stands for `x`.
fn split_lowerdir(v: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.last_mut().expect("one").push(n);
                }
            }
            ':' => out.push(String::new()),
            c => out.last_mut().expect("one").push(c),
        }
    }
    out
}

const SUPPORTED_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME)
    .union(super::options::MS_NOSYMFOLLOW)
    .union(MsFlags::MS_SYNCHRONOUS)
    .union(MsFlags::MS_DIRSYNC)
    .union(MsFlags::MS_LAZYTIME)
    .union(MsFlags::MS_SILENT);

/// Superblock flags, set with `fsconfig` flag keys on the new API (`MS_SILENT` only
/// quiets `mount(2)`'s logging and has no equivalent).
const SB_FLAGS: [(MsFlags, &std::ffi::CStr); 3] = [
    (MsFlags::MS_SYNCHRONOUS, c"sync"),
    (MsFlags::MS_DIRSYNC, c"dirsync"),
    (MsFlags::MS_LAZYTIME, c"lazytime"),
];

/// `MS_*` flags as the `MOUNT_ATTR_*` flags of `fsmount`.
pub(crate) fn ms_to_attr(flags: MsFlags) -> u64 {
    let mut a = 0;
    use super::sys::*;
    for (ms, attr) in [
        (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NOATIME, MOUNT_ATTR_NOATIME),
        (MsFlags::MS_STRICTATIME, MOUNT_ATTR_STRICTATIME),
        (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
        (super::options::MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if flags.contains(ms) {
            a |= attr;
        }
    }
    a
}

fn show_opt(key: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{key}={v}"),
        None => key.to_string(),
    }
}

fn key_name(key: &std::ffi::CStr) -> &str {
    key.to_str().unwrap_or("?")
}

fn with_log(step: String, log: &str) -> String {
    if log.is_empty() {
        step
    } else {
        format!("{step} (kernel: {log})")
    }
}

/// The kernel's answer to `lowerdir+` when it does not know the key.
fn lacks_lowerdir_plus(log: &str) -> bool {
    log.contains("Unknown parameter") || log.contains("Legacy") || log.is_empty()
}

fn bad_string(s: &str) -> Error {
    Error::Other(format!("overlay: {s:?} contains a NUL byte"))
}

fn cstring(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::Other(format!("overlay: path {p:?} contains a NUL byte")))
}

fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

enum NewApi {
    Mounted(OwnedFd),
    /// Why the new API cannot be used here (for the error of `mount_fd`).
    Unsupported(String),
}

/// Where to attach a mount.
#[derive(Clone, Copy)]
enum Target<'a> {
    Path(&'a std::ffi::CStr),
    Fd(BorrowedFd<'a>),
}

mod api;
#[cfg(test)]
mod tests;
