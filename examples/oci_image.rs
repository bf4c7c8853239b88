//! Run a container straight from an OCI image layout, through the library:
//! layout → image (by tag) → layers unpacked once into a store → an overlay rootfs
//! (the image's layers + this container's upper dir) → a spec filled from the image
//! config → create, start, wait, delete → unmount.
//!
//! ```text
//! cargo run --example oci_image                          # builds a busybox image offline
//! cargo run --example oci_image -- DIR [TAG] [-- CMD...] # e.g. from `skopeo copy ... oci:DIR:TAG`
//! ```
//!
//! As root. Without a layout it writes one itself from Debian's `busybox-static`
//! (`/bin/busybox`), so it runs with no network.

use std::path::{Path, PathBuf};
use std::process::Command;

use testa::container::{CreateOptions, Runtime, RuntimeOptions};
use testa::oci_spec::runtime::{RootBuilder, Spec};
use testa::rootfs::layers::{Compression, ImageConfig, Layout, LayoutWriter, Store};

/// A tar archive of busybox-static, its applets and a minimal /etc.
fn busybox_layer() -> std::io::Result<Vec<u8>> {
    let mut t = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        match link {
            Some(l) => t.append_link(&mut h, path, l),
            None => t.append_data(&mut h, path, data),
        }
    };
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        add(d, tar::EntryType::Directory, 0o755, b"", None)?;
    }
    let busybox = std::fs::read("/bin/busybox")?;
    add(
        "bin/busybox",
        tar::EntryType::Regular,
        0o755,
        &busybox,
        None,
    )?;
    let list = Command::new("/bin/busybox").arg("--list").output()?;
    for a in String::from_utf8_lossy(&list.stdout).lines() {
        if a != "busybox" && !a.contains('/') {
            let path = format!("bin/{a}");
            add(&path, tar::EntryType::Symlink, 0o777, b"", Some("busybox"))?;
        }
    }
    let passwd = b"root:x:0:0:root:/root:/bin/sh\n";
    add("etc/passwd", tar::EntryType::Regular, 0o644, passwd, None)?;
    add(
        "etc/group",
        tar::EntryType::Regular,
        0o644,
        b"root:x:0:\n",
        None,
    )?;
    t.into_inner()
}

/// Write an OCI layout with `demo:latest`: busybox (zstd) + a small layer (gzip).
fn build_layout(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = LayoutWriter::create(dir)?;
    let base = w.add_layer(&busybox_layer()?, Compression::Zstd)?;
    let mut app = tar::Builder::new(Vec::new());
    let motd = b"hello from an OCI image layer\n";
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(motd.len() as u64);
    app.append_data(&mut h, "etc/motd", &motd[..])?;
    let app = w.add_layer(&app.into_inner()?, Compression::Gzip)?;
    let mut config = ImageConfig::default();
    config.env = vec!["PATH=/bin".into(), "IMAGE=demo".into()];
    config.cmd = vec![
        "sh".into(),
        "-c".into(),
        "cat /etc/motd; echo \"I am $(id -un) in $(pwd) of image $IMAGE\"; ls /".into(),
    ];
    config.working_dir = Some("/root".into());
    config.user = Some("root".into());
    w.add_image("demo:latest", &[base, app], &config)?;
    Ok(())
}

/// The runtime part of `runc spec`, with the rootfs and process left to the image.
fn base_spec() -> Result<Spec, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "ociVersion": "1.2.0",
        "process": {
            "args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {
                "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs"},
        "hostname": "oci-image-demo",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"]
        }
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The container must never reach this program's own binary (CVE-2019-5736):
    // run from a sealed view of it before any container is made.
    testa::process::exeseal::reexec_sealed()?;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let cmd: Vec<String> = match args.iter().position(|a| a == "--") {
        Some(i) => {
            let c = args.split_off(i);
            c[1..].to_vec()
        }
        None => Vec::new(),
    };
    let base = PathBuf::from(format!("/tmp/testa-oci-example-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let (layout_dir, tag) = match args.as_slice() {
        [] => {
            if !Path::new("/bin/busybox").exists() {
                return Err("/bin/busybox missing: apt-get install -y busybox-static".into());
            }
            let d = base.join("oci");
            build_layout(&d)?;
            (d, "demo:latest".to_string())
        }
        [dir] => (PathBuf::from(dir), String::new()),
        [dir, tag, ..] => (PathBuf::from(dir), tag.clone()),
    };

    let result = (|| -> Result<i32, Box<dyn std::error::Error>> {
        let layout = Layout::open(&layout_dir)?;
        let image = layout.image(&tag)?;
        println!(
            "image {:?} ({}), {} layers",
            image.name(),
            image.manifest_digest(),
            image.layers().len()
        );
        let store = Store::open(base.join("store"))?;
        let t = std::time::Instant::now();
        let n = store.unpack_image(&layout, &image)?;
        println!("unpacked {n} layers in {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let rootfs = store.compose(&image, &base.join("container"))?;
        println!("composed {:?} in {:?}", rootfs.path(), t.elapsed());

        let mut spec = base_spec()?;
        spec.set_root(Some(RootBuilder::default().path(rootfs.path()).build()?));
        image.config().apply_to(&mut spec)?;
        if !cmd.is_empty() {
            if let Some(p) = spec.process_mut() {
                p.set_args(Some(cmd.clone()));
            }
        }

        let mut opts = RuntimeOptions::default();
        opts.root = base.join("state");
        let rt = Runtime::new(opts)?;
        let c = rt.create_with_spec("oci-demo", &base, spec, CreateOptions::default())?;
        c.start()?;
        let code = c.wait()?;
        c.delete(false)?;
        println!("exited with {code}; its writes are in {:?}", rootfs.upper());
        rootfs.remove()?;
        Ok(code)
    })();
    let _ = std::fs::remove_dir_all(&base);
    std::process::exit(result?);
}
