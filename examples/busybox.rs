//! Run a busybox container through the library: build a bundle from
//! Debian's `busybox-static` (no download), create, start, wait, delete.
//!
//! `cargo run --example busybox [-- COMMAND...]` (as root).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use testa::container::{CreateOptions, Runtime, RuntimeOptions};

fn build_bundle(dir: &Path, args: &[String]) -> std::io::Result<()> {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))?;
    let list = Command::new("/bin/busybox").arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n")?;
    let spec = serde_json::json!({
        "ociVersion": "1.2.0",
        "process": {
            "args": args,
            "env": ["PATH=/bin", "HOME=/"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "capabilities": {
                "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "testa-demo",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore", "/proc/timer_list"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The container must never reach this program's own binary (CVE-2019-5736):
    // run from a sealed view of it before any container is made.
    testa::process::exeseal::reexec_sealed()?;
    if !Path::new("/bin/busybox").exists() {
        return Err("/bin/busybox missing: apt-get install -y busybox-static".into());
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        args = [
            "sh",
            "-c",
            "echo \"hello from $(hostname), pid $$, uid $(id -u)\"; ls /",
        ]
        .map(String::from)
        .to_vec();
    }
    let base = PathBuf::from(format!("/tmp/testa-example-{}", std::process::id()));
    let bundle = base.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    build_bundle(&bundle, &args)?;

    let mut opts = RuntimeOptions::default();
    opts.root = base.join("state");
    let rt = Runtime::new(opts)?;
    let result = (|| -> testa::Result<i32> {
        let c = rt.create("demo", &bundle, CreateOptions::default())?;
        println!(
            "created {} (pid {}), status {}",
            c.id(),
            c.pid(),
            c.status()
        );
        c.start()?;
        let code = c.wait()?;
        println!("exited with {code}");
        c.delete(false)?;
        Ok(code)
    })();
    std::fs::remove_dir_all(&base)?;
    std::process::exit(result?);
}
