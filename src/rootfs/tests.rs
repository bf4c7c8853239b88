//! Tests of the plan (unprivileged) and of the real mounts (root, in a forked child
//! with its own mount namespace).

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{major, minor};
use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use super::tests_support::{in_child, is_root, TempDir};
use super::*;

fn spec(v: Value) -> Spec {
    serde_json::from_value(v).expect("test spec")
}

/// A bundle with an empty `rootfs` directory.
fn bundle(tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    std::fs::create_dir_all(t.path().join("rootfs")).unwrap();
    t
}

fn plan_err(b: &TempDir, v: Value) -> String {
    RootfsPlan::from_spec(&spec(v), b.path())
        .unwrap_err()
        .to_string()
}

#[test]
fn plan_from_minimal_spec() {
    let b = bundle("plan");
    let p = RootfsPlan::from_spec(
        &spec(json!({"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": true}})),
        b.path(),
    )
    .unwrap();
    assert_eq!(p.root(), b.path().canonicalize().unwrap().join("rootfs"));
    assert!(p.readonly && p.setup_dev && !p.in_user_ns && !p.no_pivot);
    assert_eq!(p.devices.len(), 6);
}

#[test]
fn plan_errors_name_their_field() {
    let b = bundle("planerr");
    let base = |extra: Value| {
        let mut v = json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"}});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    assert!(plan_err(&b, json!({"ociVersion": "1.0.2"})).starts_with("root: "));
    assert!(
        plan_err(&b, json!({"ociVersion": "1.0.2", "root": {"path": "nope"}}))
            .starts_with("root.path: ")
    );
    assert_eq!(
        plan_err(&b, base(json!({"linux": {"rootfsPropagation": "x"}}))),
        "linux.rootfsPropagation: unknown value \"x\""
    );
    assert_eq!(
        plan_err(
            &b,
            base(json!({"mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "bind", "source": "/nope", "options": ["rbind"]}
            ]}))
        ),
        "mounts[1].source: \"/nope\" does not exist"
    );
    assert_eq!(
        plan_err(&b, base(json!({"linux": {"maskedPaths": ["/ok", "rel"]}}))),
        "linux.maskedPaths[1]: \"rel\" must be absolute"
    );
    assert!(
        plan_err(&b, base(json!({"linux": {"readonlyPaths": ["x"]}})))
            .starts_with("linux.readonlyPaths[0]: ")
    );
    assert_eq!(
        plan_err(
            &b,
            base(json!({"linux": {"sysctl": {"vm.swappiness": "1"}}}))
        ),
        "linux.sysctl: vm.swappiness: not namespaced, refused"
    );
    assert!(plan_err(
        &b,
        base(
            json!({"linux": {"devices": [{"path": "/tmp/x", "type": "c", "major": 1, "minor": 3}]}})
        )
    )
    .starts_with("linux.devices[0].path: "));
    let ok = RootfsPlan::from_spec(
        &spec(base(json!({"linux": {
            "sysctl": {"net.ipv4.ip_forward": "1"},
            "namespaces": [{"type": "network"}, {"type": "user"}]
        }, "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]}))),
        b.path(),
    )
    .unwrap();
    assert!(ok.in_user_ns);
}

#[test]
fn bind_on_dev_disables_device_setup() {
    let b = bundle("devbind");
    let p = RootfsPlan::from_spec(
        &spec(
            json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "mounts": [
                {"destination": "/dev", "source": "/dev", "options": ["rbind"]}
            ]}),
        ),
        b.path(),
    )
    .unwrap();
    assert!(!p.setup_dev);
}

// ---- privileged tests -------------------------------------------------------------

fn check(cond: bool, what: &str) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn errno_of(r: std::io::Result<impl Sized>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

fn is_mount_point(p: &str) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo::parse(&text)
        .iter()
        .any(|m| m.mount_point == Path::new(p))
}

/// A tiny rootfs: busybox, a few directories, a file to mask, a directory for
/// tmpcopyup, and a symlink pointing at `/etc` (to be resolved inside the root).
fn tiny_rootfs(b: &TempDir) -> PathBuf {
    let r = b.path().join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "etc", "tmp", "seeded"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", r.join("bin/sh")).unwrap();
    std::fs::write(r.join("etc/secret"), b"secret").unwrap();
    std::fs::write(r.join("seeded/seed"), b"seed").unwrap();
    std::fs::set_permissions(r.join("seeded"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::os::unix::fs::symlink("/etc", r.join("evil")).unwrap();
    std::fs::create_dir_all(b.path().join("data")).unwrap();
    std::fs::write(b.path().join("data/hello"), b"hi").unwrap();
    r
}

#[test]
fn full_setup_as_root() {
    if !is_root("full_setup_as_root") {
        return;
    }
    let b = bundle("full");
    tiny_rootfs(&b);
    let probe = "testa-rootfs-probe-do-not-create";
    let s = spec(json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/data", "type": "bind", "source": "data",
             "options": ["rbind", "ro", "nosuid", "rprivate"]},
            {"destination": "/seeded", "type": "tmpfs", "source": "tmpfs",
             "options": ["tmpcopyup", "size=1m", "ro"]},
            {"destination": format!("/evil/{probe}"), "type": "tmpfs", "source": "tmpfs"}
        ],
        "linux": {
            "namespaces": [{"type": "mount"}, {"type": "ipc"}],
            "devices": [{"path": "/dev/fifo0", "type": "p", "fileMode": 0o600, "uid": 7, "gid": 8}],
            "maskedPaths": ["/proc/kcore", "/proc/timer_list", "/proc/does-not-exist", "/etc/secret", "/proc/scsi", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/nope"],
            "sysctl": {"kernel.shmmni": "1234"}
        }
    }));
    let plan = RootfsPlan::from_spec(&s, b.path()).unwrap();
    in_child(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWIPC).map_err(|e| e.to_string())?;
        let procfs = Procfs::open().map_err(|e| format!("procfs: {e}"))?;
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        enter(&plan).map_err(|e| format!("enter: {e}"))?;
        finalize(&plan, &procfs).map_err(|e| format!("finalize: {e}"))?;

        check(
            std::env::current_dir().unwrap() == Path::new("/"),
            "cwd is /",
        )?;
        check(
            Path::new("/bin/busybox").exists(),
            "busybox visible at /bin",
        )?;
        check(
            is_mount_point("/proc") && Path::new("/proc/self/fd").exists(),
            "proc mounted",
        )?;
        // Devices: mknod with the right numbers and mode, links.
        for (p, ma, mi) in [
            ("/dev/null", 1, 3),
            ("/dev/zero", 1, 5),
            ("/dev/full", 1, 7),
            ("/dev/random", 1, 8),
            ("/dev/urandom", 1, 9),
            ("/dev/tty", 5, 0),
        ] {
            let md = std::fs::symlink_metadata(p).map_err(|e| format!("{p}: {e}"))?;
            check(
                md.file_type().is_char_device(),
                &format!("{p} is a char device"),
            )?;
            check(
                major(md.rdev()) == ma && minor(md.rdev()) == mi,
                &format!("{p} is {ma}:{mi}"),
            )?;
            check(
                md.mode() & 0o7777 == 0o666 && md.uid() == 0,
                &format!("{p} mode 0666 uid 0"),
            )?;
        }
        let fifo = std::fs::symlink_metadata("/dev/fifo0").map_err(|e| e.to_string())?;
        check(
            fifo.file_type().is_fifo() && fifo.mode() & 0o777 == 0o600,
            "fifo0 p 0600",
        )?;
        check((fifo.uid(), fifo.gid()) == (7, 8), "fifo0 owned 7:8")?;
        for (l, t) in [
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stderr", "/proc/self/fd/2"),
            ("/dev/ptmx", "pts/ptmx"),
        ] {
            check(
                std::fs::read_link(l).ok() == Some(PathBuf::from(t)),
                &format!("{l} -> {t}"),
            )?;
        }
        check(
            Path::new("/dev/pts/ptmx").exists() && is_mount_point("/dev/mqueue"),
            "devpts, mqueue",
        )?;
        // sysfs read-only, cgroup v1/v2 read-only.
        check(
            errno_of(std::fs::create_dir("/sys/x")).is_some(),
            "sysfs not writable",
        )?;
        check(is_mount_point("/sys/fs/cgroup"), "cgroup mounted")?;
        let cg_entries = std::fs::read_dir("/sys/fs/cgroup")
            .map_err(|e| e.to_string())?
            .count();
        check(cg_entries > 0, "cgroup mount has hierarchies")?;
        check(
            errno_of(std::fs::create_dir("/sys/fs/cgroup/x")) == Some(libc::EROFS),
            "cgroup ro",
        )?;
        // The read-only bind.
        check(
            std::fs::read("/data/hello").ok().as_deref() == Some(&b"hi"[..]),
            "bind readable",
        )?;
        check(
            errno_of(std::fs::write("/data/new", b"x")) == Some(libc::EROFS),
            "bind is ro",
        )?;
        // tmpcopyup, mode of the original dir kept, delayed ro.
        check(
            std::fs::read("/seeded/seed").ok().as_deref() == Some(&b"seed"[..]),
            "tmpcopyup",
        )?;
        let md = std::fs::metadata("/seeded").map_err(|e| e.to_string())?;
        check(md.mode() & 0o7777 == 0o1777, "tmpfs keeps the dir's mode")?;
        check(
            errno_of(std::fs::write("/seeded/x", b"x")) == Some(libc::EROFS),
            "tmpfs ro at the end",
        )?;
        // The symlink to /etc resolved inside the root.
        check(
            is_mount_point(&format!("/etc/{probe}")),
            "symlinked destination inside root",
        )?;
        // Masked and read-only paths.
        check(
            std::fs::read("/etc/secret")
                .map(|v| v.is_empty())
                .unwrap_or(false),
            "file masked",
        )?;
        for f in ["/proc/kcore", "/proc/timer_list"] {
            if Path::new(f).exists() {
                check(
                    std::fs::read(f).map(|v| v.is_empty()).unwrap_or(false),
                    &format!("{f} masked"),
                )?;
            }
        }
        if Path::new("/sys/firmware").is_dir() {
            check(
                std::fs::read_dir("/sys/firmware")
                    .map(|d| d.count() == 0)
                    .unwrap_or(false),
                "dir masked",
            )?;
        }
        check(
            errno_of(std::fs::write("/proc/sys/kernel/shmmni", b"1")) == Some(libc::EROFS),
            "/proc/sys ro",
        )?;
        // The sysctl, in our IPC namespace.
        let v = std::fs::read_to_string("/proc/sys/kernel/shmmni").map_err(|e| e.to_string())?;
        check(v.trim() == "1234", "sysctl written")?;
        // Read-only root; /dev stays writable.
        check(
            errno_of(std::fs::write("/newfile", b"x")) == Some(libc::EROFS),
            "root ro",
        )?;
        check(
            std::fs::write("/dev/shm-probe", b"x").is_ok(),
            "/dev writable",
        )?;
        Ok(())
    });
    assert!(
        !Path::new("/etc").join(probe).exists(),
        "host /etc untouched"
    );
}

#[test]
fn no_pivot_and_bound_devices_as_root() {
    if !is_root("no_pivot_and_bound_devices_as_root") {
        return;
    }
    let b = bundle("nopivot");
    tiny_rootfs(&b);
    let s = spec(json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]},
            {"destination": "/etc/hostname", "source": "/etc/hostname", "options": ["bind", "ro"]}
        ],
        "linux": {"rootfsPropagation": "rprivate", "maskedPaths": ["/proc/kcore"]}
    }));
    let mut plan = RootfsPlan::from_spec(&s, b.path()).unwrap();
    plan.set_no_pivot(true);
    plan.set_in_user_ns(true);
    in_child(|| {
        let procfs = Procfs::open().map_err(|e| format!("procfs: {e}"))?;
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        enter(&plan).map_err(|e| format!("enter: {e}"))?;
        finalize(&plan, &procfs).map_err(|e| format!("finalize: {e}"))?;
        check(Path::new("/bin/busybox").exists(), "in the root")?;
        let md = std::fs::metadata("/dev/null").map_err(|e| e.to_string())?;
        check(
            md.file_type().is_char_device() && md.rdev() == nix::sys::stat::makedev(1, 3),
            "bound null",
        )?;
        check(is_mount_point("/dev/null"), "null is a bind mount")?;
        check(
            std::fs::metadata("/etc/hostname")
                .map(|m| m.is_file())
                .unwrap_or(false),
            "file bind",
        )?;
        check(
            errno_of(std::fs::write("/etc/hostname", b"x")) == Some(libc::EROFS),
            "file bind ro",
        )?;
        check(std::fs::write("/writable", b"x").is_ok(), "root rw")?;
        Ok(())
    });
}

/// Enter a new user namespace (mapping root to root) with a new mount namespace, so
/// that the mounts inherited from the parent namespace have locked flags.
fn enter_user_ns() -> Result<(), String> {
    use nix::sched::{unshare, CloneFlags};
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("unshare(CLONE_NEWUSER|CLONE_NEWNS): {e}"))?;
    std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    std::fs::write("/proc/self/uid_map", "0 0 1").map_err(|e| format!("uid_map: {e}"))?;
    std::fs::write("/proc/self/gid_map", "0 0 1").map_err(|e| format!("gid_map: {e}"))?;
    Ok(())
}

#[test]
fn user_namespace_locked_flags_as_root() {
    if !is_root("user_namespace_locked_flags_as_root") {
        return;
    }
    let b = bundle("userns");
    tiny_rootfs(&b);
    let locked = b.path().join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    let s = spec(json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/locked", "type": "none", "source": "locked", "options": ["rbind", "ro"]}
        ],
        "linux": {"namespaces": [{"type": "user"}, {"type": "mount"}]}
    }));
    let plan = RootfsPlan::from_spec(&s, b.path()).unwrap();
    assert!(plan.in_user_ns);
    in_child(|| {
        use nix::mount::{mount, MsFlags};
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("tmpfs"), &locked, Some("tmpfs"), flags, None::<&str>)
            .map_err(|e| format!("mount tmpfs: {e}"))?;
        std::fs::write(locked.join("f"), b"locked").map_err(|e| e.to_string())?;
        enter_user_ns()?;
        let procfs = Procfs::open().map_err(|e| format!("procfs: {e}"))?;
        prepare(&plan).map_err(|e| format!("prepare: {e}"))?;
        enter(&plan).map_err(|e| format!("enter: {e}"))?;
        finalize(&plan, &procfs).map_err(|e| format!("finalize: {e}"))?;
        // sysfs could not be mounted (no network namespace): the host's is bound.
        check(
            Path::new("/sys/kernel").is_dir(),
            "sysfs bound from the host",
        )?;
        check(
            std::fs::read("/locked/f").ok().as_deref() == Some(&b"locked"[..]),
            "locked bind",
        )?;
        check(
            errno_of(std::fs::write("/locked/g", b"x")) == Some(libc::EROFS),
            "locked bind ro",
        )?;
        let st = nix::sys::statvfs::statvfs("/locked").map_err(|e| e.to_string())?;
        let kept = nix::sys::statvfs::FsFlags::ST_NOSUID | nix::sys::statvfs::FsFlags::ST_NODEV;
        check(st.flags().contains(kept), "locked nosuid,nodev kept")?;
        let md = std::fs::metadata("/dev/null").map_err(|e| e.to_string())?;
        check(
            md.rdev() == nix::sys::stat::makedev(1, 3),
            "/dev/null bound from the host",
        )?;
        check(
            errno_of(std::fs::write("/x", b"x")) == Some(libc::EROFS),
            "root ro",
        )?;
        Ok(())
    });
}
