//! What a test container is made of: the busybox rootfs, runc's default
//! config, mounts and namespaces to add, the syscall probe.

use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn busybox_path() -> PathBuf {
    let p = PathBuf::from("/bin/busybox");
    if !p.exists() {
        panic!("/bin/busybox is missing: apt-get install -y busybox-static (the tests' container payload)");
    }
    p
}

pub fn busybox_applets() -> Vec<String> {
    let out = Command::new(busybox_path())
        .arg("--list")
        .output()
        .expect("busybox --list");
    assert!(out.status.success(), "busybox --list failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && l != "busybox" && !l.contains('/'))
        .collect()
}

/// What `runc spec` emits, with `terminal: false`.
pub fn default_config() -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Add a bind mount to the config.
pub fn bind_mount(src: &Path, dst: &str, opts: &[&str]) -> Value {
    let mut o: Vec<&str> = vec!["rbind"];
    o.extend_from_slice(opts);
    json!({"destination": dst, "type": "bind", "source": src.to_string_lossy(), "options": o})
}

/// Remove a namespace type from linux.namespaces.
pub fn remove_ns(c: &mut Value, kind: &str) {
    if let Some(a) = c["linux"]["namespaces"].as_array_mut() {
        a.retain(|n| n["type"] != kind);
    }
}

pub fn add_ns(c: &mut Value, ns: Value) {
    let kind = ns["type"].clone();
    let a = c["linux"]["namespaces"].as_array_mut().unwrap();
    a.retain(|n| n["type"] != kind);
    a.push(ns);
}

/// The syscall probe (`tests/probe/syscall.c`), built static with gcc once
/// per test process, copied into `rootfs/bin/syscall`.
pub fn install_probe(rootfs: &Path) {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let bin = BUILT.get_or_init(|| build_probe("syscall", &["-static", "-O2"]));
    fs::copy(bin, rootfs.join("bin/syscall")).expect("copy the probe");
}

/// Build `tests/probe/NAME.c` with gcc and `flags`; returns the binary's path
/// (under /tmp/testa-it, unique to this test process).
pub fn build_probe(name: &str, flags: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/probe/{name}.c"));
    let out = PathBuf::from(format!("/tmp/testa-it/{name}-{}", std::process::id()));
    fs::create_dir_all("/tmp/testa-it").unwrap();
    let st = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc (test probes are built with gcc)");
    assert!(st.success(), "building tests/probe/{name}.c failed");
    out
}
