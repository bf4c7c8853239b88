//! The container's root filesystem: mounts and their options, propagation,
//! `pivot_root` / no-pivot, devices, masked and read-only paths, sysctls.
//!
//! The spec is turned into a validated [`RootfsPlan`] before any fork
//! ([`RootfsPlan::from_spec`]): every mistake a user can fix is reported there, naming
//! the JSON field. The container's init then runs three straight-line steps, inside
//! its new mount namespace:
//!
//! ```text
//!   prepare(plan)    host paths still visible
//!     mount("", "/", MS_SLAVE|MS_REC)            (linux.rootfsPropagation)
//!     parent mount of the rootfs -> MS_PRIVATE   (if shared: pivot_root needs it)
//!     mount(rootfs, rootfs, MS_BIND|MS_REC)
//!     open rootfs O_PATH  -> every spec mount, in order, onto an fd resolved inside it
//!     /dev: default devices, linux.devices, fd/stdin/stdout/stderr/ptmx/core links
//!   enter(plan)
//!     pivot_root(".", ".") + umount2(old, MNT_DETACH)   |  MS_MOVE + chroot (no-pivot)
//!     chdir("/")
//!   finalize(plan)   inside the new root
//!     mount("", "/", rootfsPropagation); linux.sysctl; readonlyPaths; maskedPaths;
//!     tmpfs and /dev mounts with "ro" -> read-only; root.readonly -> "/" read-only
//! ```
//!
//! Paths inside the rootfs are never built by joining strings: see `resolve.rs`.
//!
//! Overlays: [`Overlay`] (`overlay.rs`) is the typed overlay mount; an OCI mount of
//! type `overlay` goes through it. A container's root may be an overlay too: the
//! caller mounts it before `create` and points `root.path` at it (as containerd and
//! podman do with runc), e.g. with [`layers::Store::compose`] from an OCI image.

use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

mod cgroup;
mod copyup;
mod devices;
pub mod layers;
pub(crate) mod mountinfo;
mod mounts;
mod options;
pub mod overlay;
mod paths;
mod pivot;
mod procfs;
mod resolve;
pub(crate) mod sys;
mod sysctl;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod tests_support;

use crate::error::{Context, Error, Result};
pub(crate) use devices::bind_console;
use mounts::{MountEntry, MountKind};
pub use options::MOUNT_OPTIONS;
pub use overlay::{Overlay, OverlayOption, RedirectDir};
pub use procfs::Procfs;
use resolve::{clean, Root};

const NONE: Option<&str> = None;

/// The validated rootfs part of a spec: everything [`prepare`], [`enter`] and
/// [`finalize`] need, owned, so that it can be built before the fork.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    root: PathBuf,
    readonly: bool,
    propagation: Option<MsFlags>,
    mounts: Vec<MountEntry>,
    setup_dev: bool,
    devices: Vec<devices::Device>,
    masked: Vec<PathBuf>,
    readonly_paths: Vec<PathBuf>,
    sysctl: Vec<sysctl::Sysctl>,
    no_pivot: bool,
    in_user_ns: bool,
}

fn abs_paths(list: Option<&Vec<String>>, field: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (i, p) in list.into_iter().flatten().enumerate() {
        let path = Path::new(p);
        if !path.is_absolute() {
            return Err(Error::config(
                format!("{field}[{i}]"),
                format!("{p:?} must be absolute"),
            ));
        }
        out.push(clean(path));
    }
    Ok(out)
}

impl RootfsPlan {
    /// Validate the rootfs part of a spec; every user-fixable error is returned here,
    /// before any fork. `bundle` is the absolute bundle directory (`root.path` is
    /// relative to it unless absolute; so are relative bind-mount sources).
    pub fn from_spec(spec: &Spec, bundle: &Path) -> Result<Self> {
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| Error::config("root", "missing"))?;
        let p = root.path();
        if p.as_os_str().is_empty() {
            return Err(Error::config("root.path", "must not be empty"));
        }
        let host = bundle.join(p);
        let canon = std::fs::canonicalize(&host).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::config("root.path", format!("{host:?} does not exist"))
            } else {
                Error::config("root.path", format!("{host:?}: {e}"))
            }
        })?;
        if !canon.is_dir() {
            return Err(Error::config(
                "root.path",
                format!("{host:?} is not a directory"),
            ));
        }

        let linux = spec.linux().as_ref();
        let propagation = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
            None | Some("") => None,
            Some(v) => Some(options::parse_root_propagation(v).ok_or_else(|| {
                Error::config("linux.rootfsPropagation", format!("unknown value {v:?}"))
            })?),
        };

        let mounts = spec
            .mounts()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .map(|(i, m)| MountEntry::from_spec(i, m, bundle))
            .collect::<Result<Vec<_>>>()?;
        let setup_dev = !mounts
            .iter()
            .any(|m| m.kind == MountKind::Bind && m.dest == Path::new("/dev"));

        let devices =
            devices::from_spec(linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]))?;

        let has = |t: LinuxNamespaceType| {
            linux
                .and_then(|l| l.namespaces().as_ref())
                .is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
        };
        let ns = sysctl::Namespaces {
            ipc: has(LinuxNamespaceType::Ipc),
            net: has(LinuxNamespaceType::Network),
            uts: has(LinuxNamespaceType::Uts),
        };
        let sysctl = match linux.and_then(|l| l.sysctl().as_ref()) {
            Some(map) => sysctl::from_spec(map, ns)?,
            None => Vec::new(),
        };
        let proc_mounted = mounts
            .iter()
            .any(|m| m.dest == Path::new("/proc") && m.kind != MountKind::Cgroup);
        if !sysctl.is_empty() && !proc_mounted {
            return Err(Error::config(
                "linux.sysctl",
                "needs a procfs mounted at /proc (mounts has none)",
            ));
        }

        Ok(RootfsPlan {
            root: canon,
            readonly: root.readonly().unwrap_or(false),
            propagation,
            mounts,
            setup_dev,
            devices,
            masked: abs_paths(
                linux.and_then(|l| l.masked_paths().as_ref()),
                "linux.maskedPaths",
            )?,
            readonly_paths: abs_paths(
                linux.and_then(|l| l.readonly_paths().as_ref()),
                "linux.readonlyPaths",
            )?,
            sysctl,
            no_pivot: false,
            in_user_ns: has(LinuxNamespaceType::User),
        })
    }

    /// runc's `--no-pivot`: enter the root with `MS_MOVE` + `chroot` instead of
    /// `pivot_root` (for rootfs on ramfs, where `pivot_root` is impossible).
    pub fn set_no_pivot(&mut self, no_pivot: bool) {
        self.no_pivot = no_pivot;
    }

    /// Whether the container runs in a user namespace (set from the spec by
    /// [`RootfsPlan::from_spec`]; override it when the runtime itself runs in one).
    /// Devices are then bind-mounted from the host instead of created with `mknod`.
    pub fn set_in_user_ns(&mut self, v: bool) {
        self.in_user_ns = v;
    }

    /// The canonical host path of the rootfs.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Step 1, in the child, already inside its new mount namespace, before the pivot
/// (host paths still visible): set the propagation of `/` (`linux.rootfsPropagation`,
/// default `MS_SLAVE|MS_REC`), bind the rootfs onto itself, perform every spec mount
/// in order, create the `/dev` devices and links.
pub fn prepare(plan: &RootfsPlan) -> Result<()> {
    let flags = plan
        .propagation
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(NONE, "/", NONE, flags, NONE).step(|| {
        format!(
            "mount(NULL, \"/\", NULL, {}, NULL)",
            mounts::flag_names(flags)
        )
    })?;
    parent_mount_private(&plan.root)?;
    let r = &plan.root;
    mount(Some(r), r, NONE, MsFlags::MS_BIND | MsFlags::MS_REC, NONE)
        .step(|| format!("mount({r:?}, {r:?}, NULL, MS_BIND|MS_REC, NULL)"))?;

    // Opened after the self-bind, so that it refers to the new mount.
    let root = Root::open(&plan.root)?;
    for m in &plan.mounts {
        mounts::mount_entry(&root, &plan.root, m)?;
    }
    if plan.setup_dev {
        for d in &plan.devices {
            devices::create(&root, d, plan.in_user_ns)?;
        }
        devices::create_links(&root)?;
    }
    Ok(())
}

/// The procfs handle a container's init uses from here on (see `procfs.rs`): the
/// procfs the spec mounted at `/proc`, opened beneath the rootfs after [`prepare`]
/// made the mounts (before the container could touch them), or a private `subset=pid`
/// instance of the init's pid namespace when there is none.
pub fn container_procfs(plan: &RootfsPlan) -> Result<Procfs> {
    let root = Root::open(&plan.root)?;
    let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY;
    let below = root
        .open_with(
            Path::new("/proc"),
            flags,
            sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS,
        )
        .ok()
        .and_then(Procfs::below);
    match below {
        Some(p) => Ok(p),
        None => Procfs::private(),
    }
}

/// `pivot_root` refuses a new root whose parent mount is shared, and the self-bind
/// would propagate to the host through it: make that mount private (runc's
/// `rootfsParentMountPrivate`).
fn parent_mount_private(root: &Path) -> Result<()> {
    let infos = mountinfo::read()?;
    let Some(parent) = mountinfo::containing(&infos, root) else {
        return Ok(());
    };
    if !parent.optional.split(' ').any(|o| o.starts_with("shared:")) {
        return Ok(());
    }
    let p = &parent.mount_point;
    mount(NONE, p, NONE, MsFlags::MS_PRIVATE, NONE)
        .step(|| format!("mount(NULL, {p:?}, NULL, MS_PRIVATE, NULL)"))
}

/// Step 2: `pivot_root` into the rootfs (or, with no-pivot, `MS_MOVE` + `chroot` as
/// runc does), detach the old root, `chdir("/")`.
pub fn enter(plan: &RootfsPlan) -> Result<()> {
    if plan.no_pivot {
        pivot::move_root(&plan.root)
    } else {
        pivot::pivot(&plan.root)
    }
}

/// Step 3, after [`enter`]: the final propagation of `/`, `linux.sysctl` writes
/// (through `procfs`, opened before [`prepare`]),
/// `readonlyPaths`, `maskedPaths`, the delayed read-only remounts (tmpfs and `/dev`),
/// and the read-only remount of `/` for `root.readonly`.
pub fn finalize(plan: &RootfsPlan, procfs: &Procfs) -> Result<()> {
    if let Some(flags) = plan.propagation {
        // Done after the pivot: applied to the new "/", not to the host's rootfs mount.
        mount(NONE, "/", NONE, flags, NONE).step(|| {
            format!(
                "mount(NULL, \"/\", NULL, {}, NULL)",
                mounts::flag_names(flags)
            )
        })?;
    }
    sysctl::write(procfs, &plan.sysctl)?;
    let root = Root::open(Path::new("/"))?;
    for p in &plan.readonly_paths {
        paths::readonly(&root, p)?;
    }
    for p in &plan.masked {
        paths::mask(&root, p)?;
    }
    for m in plan.mounts.iter().filter(|m| m.delays_ro()) {
        mounts::remount_ro(&root, &m.dest)?;
    }
    if plan.readonly {
        readonly_root()?;
    }
    Ok(())
}

/// runc's `setReadonly`: `MS_BIND|MS_REMOUNT|MS_RDONLY` on `/`, retried with the
/// mount's current flags (locked ones in a user namespace).
fn readonly_root() -> Result<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    let step = |f: MsFlags| format!("mount(NULL, \"/\", NULL, {}, NULL)", mounts::flag_names(f));
    match mount(NONE, "/", NONE, flags, NONE) {
        Ok(()) => Ok(()),
        Err(first) => {
            let st = nix::sys::statvfs::statvfs("/").step(|| "statvfs(\"/\")".into())?;
            let retry = flags | options::statvfs_to_ms(st.flags());
            if retry == flags {
                return Err(Error::sys(step(flags), first));
            }
            mount(NONE, "/", NONE, retry, NONE).step(|| step(retry))
        }
    }
}
