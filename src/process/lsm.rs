//! Linux security modules: `process.apparmorProfile`, `process.selinuxLabel`
//! and `linux.mountLabel`. A field the host cannot enforce is refused when the
//! plan is made (before anything is created), with runc's wording; where the
//! LSM is there, the process asks for its label at its next `execve` by
//! writing its own `attr` file, as runc (and libapparmor's
//! `aa_change_onexec`) do.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::error::{Error, Result};

/// Which LSMs the host enforces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostLsm {
    /// AppArmor is enabled.
    pub apparmor: bool,
    /// SELinux is enabled (selinuxfs is mounted).
    pub selinux: bool,
}

/// runc's text for a SELinux label on a host without SELinux.
const SELINUX_OFF: &str =
    "selinux label is specified in config, but selinux is disabled or not supported";
/// runc's `ErrApparmorNotEnabled`.
const APPARMOR_OFF: &str = "apparmor: config provided but apparmor not supported";

impl HostLsm {
    /// Look at this host only when `needed` (a label was asked for): the
    /// look costs file reads that a create without labels should not pay.
    pub fn detect_if(needed: bool) -> HostLsm {
        if needed {
            HostLsm::detect()
        } else {
            HostLsm::default()
        }
    }

    /// Look at this host.
    pub fn detect() -> HostLsm {
        HostLsm::detect_at(Path::new("/sys"), Path::new("/proc/self/mounts"))
    }

    /// Look at a host whose sysfs is `sys` and mount table `mounts` (tests
    /// pass fixtures). AppArmor as runc decides it: securityfs has an
    /// `apparmor` directory and the module's `enabled` parameter is `Y`;
    /// SELinux as go-selinux does: a `selinuxfs` is mounted.
    pub fn detect_at(sys: &Path, mounts: &Path) -> HostLsm {
        let apparmor = sys.join("kernel/security/apparmor").is_dir()
            && std::fs::read(sys.join("module/apparmor/parameters/enabled"))
                .is_ok_and(|v| v.first() == Some(&b'Y'));
        let selinux = std::fs::read_to_string(mounts).is_ok_and(|t| {
            t.lines()
                .any(|l| l.split_whitespace().nth(2) == Some("selinuxfs"))
        });
        HostLsm { apparmor, selinux }
    }

    /// An AppArmor profile (`process.apparmorProfile`, `exec --apparmor`,
    /// named by `field`): kept if AppArmor can enforce it, refused if not;
    /// empty means none (as in runc).
    pub fn check_apparmor(&self, field: &str, profile: &Option<String>) -> Result<Option<String>> {
        check(self.apparmor, field, APPARMOR_OFF, profile)
    }

    /// A SELinux label (`process.selinuxLabel`, `linux.mountLabel`,
    /// `exec --process-label`, named by `field`): kept if
    /// SELinux can enforce it, refused if not; empty means none.
    pub fn check_selinux(&self, field: &str, label: &Option<String>) -> Result<Option<String>> {
        check(self.selinux, field, SELINUX_OFF, label)
    }
}

fn check(enabled: bool, field: &str, msg: &str, value: &Option<String>) -> Result<Option<String>> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(_) if !enabled => Err(Error::config(field, msg)),
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// Open `name` below the process's `attr` directory for writing, never
/// leaving it and following no symlink.
fn open_attr(attr_dir: BorrowedFd, name: &str) -> nix::Result<OwnedFd> {
    use crate::rootfs::sys;
    sys::openat2(
        attr_dir,
        Path::new(name),
        OFlag::O_WRONLY,
        sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS,
    )
}

/// Write `value` in one `write(2)`: the kernel takes an attr write whole or
/// not at all.
fn write_attr(fd: OwnedFd, name: &str, value: &str) -> Result<()> {
    match nix::unistd::write(fd.as_fd(), value.as_bytes()) {
        Ok(n) if n == value.len() => Ok(()),
        Ok(n) => Err(Error::Other(format!(
            "write attr/{name}: short write ({n} of {} bytes)",
            value.len()
        ))),
        Err(e) => Err(Error::sys(format!("write attr/{name} ({value:?})"), e)),
    }
}

/// Ask for `p`'s AppArmor profile and SELinux label at the next `execve`, through
/// this thread's `attr` directory under the verified `procfs` (runc's order:
/// before the user and capability change).
pub(crate) fn apply(p: &super::ProcessPlan, procfs: &crate::rootfs::Procfs) -> Result<()> {
    if p.apparmor_profile.is_none() && p.selinux_label.is_none() {
        return Ok(());
    }
    let attr = procfs.open_at(
        &crate::rootfs::Procfs::own("attr"),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    )?;
    if let Some(profile) = &p.apparmor_profile {
        apparmor_exec(attr.as_fd(), profile)?;
    }
    if let Some(label) = &p.selinux_label {
        selinux_exec(attr.as_fd(), label)?;
    }
    Ok(())
}

/// Make the next `execve` of this process enter AppArmor `profile`
/// (`aa_change_onexec`): `exec <profile>` into `attr/apparmor/exec`, or
/// `attr/exec` on kernels before the LSM stacking layout. `attr_dir` is the
/// process's own `/proc/thread-self/attr`, opened by the caller through the
/// verified procfs handle.
pub fn apparmor_exec(attr_dir: BorrowedFd, profile: &str) -> Result<()> {
    let (name, fd) = match open_attr(attr_dir, "apparmor/exec") {
        Err(Errno::ENOENT) => ("exec", open_attr(attr_dir, "exec")),
        r => ("apparmor/exec", r),
    };
    let fd = fd.map_err(|e| Error::sys(format!("apparmor: open attr/{name}"), e))?;
    write_attr(fd, name, &format!("exec {profile}"))
}

/// Make the next `execve` of this process run with SELinux `label`
/// (`setexeccon`): the label into `attr/exec`. `attr_dir` as for
/// [`apparmor_exec`].
pub fn selinux_exec(attr_dir: BorrowedFd, label: &str) -> Result<()> {
    let fd = open_attr(attr_dir, "exec")
        .map_err(|e| Error::sys("selinux: open attr/exec".to_string(), e))?;
    write_attr(fd, "exec", label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::fd::AsFd;

    use crate::rootfs::tests_support::TempDir;

    fn tempdir() -> TempDir {
        TempDir::new("lsm")
    }

    fn read(t: &TempDir, name: &str) -> String {
        fs::read_to_string(t.path().join(name)).unwrap()
    }

    fn dir_fd(p: &Path) -> OwnedFd {
        nix::fcntl::open(
            p,
            OFlag::O_DIRECTORY | OFlag::O_PATH,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap()
    }

    #[test]
    fn host_detection_reads_sysfs_and_mounts() {
        let t = tempdir();
        let sys = t.path().join("sys");
        let mounts = t.path().join("mounts");
        fs::create_dir_all(sys.join("kernel/security/apparmor")).unwrap();
        fs::create_dir_all(sys.join("module/apparmor/parameters")).unwrap();
        fs::write(sys.join("module/apparmor/parameters/enabled"), "N\n").unwrap();
        fs::write(&mounts, "proc /proc proc rw 0 0\n").unwrap();
        assert_eq!(HostLsm::detect_at(&sys, &mounts), HostLsm::default());
        fs::write(sys.join("module/apparmor/parameters/enabled"), "Y\n").unwrap();
        fs::write(&mounts, "selinuxfs /sys/fs/selinux selinuxfs rw 0 0\n").unwrap();
        let host = HostLsm::detect_at(&sys, &mounts);
        assert_eq!(
            host,
            HostLsm {
                apparmor: true,
                selinux: true
            }
        );
        // `enabled` = Y without securityfs' apparmor directory: not usable (runc).
        fs::remove_dir(sys.join("kernel/security/apparmor")).unwrap();
        assert!(!HostLsm::detect_at(&sys, &mounts).apparmor);
    }

    #[test]
    fn fields_are_refused_with_runcs_words_where_the_lsm_is_missing() {
        let none = HostLsm::default();
        let e = none
            .check_apparmor("process.apparmorProfile", &Some("p".into()))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.apparmorProfile: apparmor: config provided but apparmor not supported"
        );
        let e = none
            .check_selinux("linux.mountLabel", &Some("l".into()))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.mountLabel: selinux label is specified in config, but selinux is disabled or not supported"
        );
        assert_eq!(
            none.check_apparmor("f", &Some(String::new())).unwrap(),
            None
        );
        assert_eq!(none.check_selinux("x", &None).unwrap(), None);
        let all = HostLsm {
            apparmor: true,
            selinux: true,
        };
        assert_eq!(
            all.check_apparmor("f", &Some("p".into())).unwrap(),
            Some("p".into())
        );
    }

    #[test]
    fn apparmor_writes_the_stacked_attr_or_falls_back() {
        let t = tempdir();
        fs::write(t.path().join("exec"), "").unwrap();
        apparmor_exec(dir_fd(t.path()).as_fd(), "testa-prof").unwrap();
        assert_eq!(read(&t, "exec"), "exec testa-prof");
        fs::create_dir(t.path().join("apparmor")).unwrap();
        fs::write(t.path().join("apparmor/exec"), "").unwrap();
        apparmor_exec(dir_fd(t.path()).as_fd(), "other").unwrap();
        assert_eq!(read(&t, "apparmor/exec"), "exec other");
    }

    #[test]
    fn attr_writes_follow_no_symlink() {
        let t = tempdir();
        let target = t.path().join("target");
        fs::write(&target, "").unwrap();
        fs::create_dir(t.path().join("attr")).unwrap();
        std::os::unix::fs::symlink(&target, t.path().join("attr/exec")).unwrap();
        let attr = dir_fd(&t.path().join("attr"));
        assert!(selinux_exec(attr.as_fd(), "label").is_err());
        assert!(apparmor_exec(attr.as_fd(), "prof").is_err());
        // A symlinked `apparmor` directory is not followed either.
        fs::remove_file(t.path().join("attr/exec")).unwrap();
        fs::create_dir(t.path().join("elsewhere")).unwrap();
        fs::write(t.path().join("elsewhere/exec"), "").unwrap();
        std::os::unix::fs::symlink("../elsewhere", t.path().join("attr/apparmor")).unwrap();
        assert!(apparmor_exec(attr.as_fd(), "prof").is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "");
        assert_eq!(read(&t, "elsewhere/exec"), "");
    }

    #[test]
    fn selinux_label_goes_to_attr_exec() {
        let t = tempdir();
        fs::write(t.path().join("exec"), "").unwrap();
        selinux_exec(dir_fd(t.path()).as_fd(), "system_u:system_r:container_t:s0").unwrap();
        assert_eq!(read(&t, "exec"), "system_u:system_r:container_t:s0");
    }
}
