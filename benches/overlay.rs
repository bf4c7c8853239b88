//! The cost of overlay mounts: mount + unmount with 1, 10, 100 and 500 lower
//! layers (and an upper layer, as a container has), through the new mount API (`fsconfig` `lowerdir+` per layer) and through
//! `mount(2)` (one data string; fd-number short names in a forked child once the
//! paths overflow a page); and the time to compose (mount) and remove a container
//! rootfs from an image already in the layer store.
//!
//! `cargo bench --bench overlay` (as root). Runs in its own mount namespace, so a
//! failed run leaves no mount behind; its files are under /tmp/testa-bench-overlay-PID.

use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion};
use nix::mount::{umount2, MntFlags};
use testa::rootfs::layers::{Compression, ImageConfig, Layout, LayoutWriter, Store};
use testa::rootfs::Overlay;

const COUNTS: [usize; 4] = [1, 10, 100, 500];

fn make_layers(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            // Realistic store paths: <store>/layers/sha256/<64 hex>/diff.
            let d = dir.join(format!("layers/sha256/{i:064x}/diff"));
            std::fs::create_dir_all(d.join("etc")).unwrap();
            std::fs::write(d.join("etc/file"), format!("{i}\n")).unwrap();
            d
        })
        .collect()
}

fn mount_unmount(c: &mut Criterion, dir: &Path) {
    let lowers = make_layers(dir, *COUNTS.iter().max().unwrap());
    let target = dir.join("merged");
    let (upper, work) = (dir.join("upper"), dir.join("work"));
    for d in [&target, &upper, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut g = c.benchmark_group("overlay mount+umount");
    for n in COUNTS {
        for (name, legacy) in [("fsconfig lowerdir+", false), ("mount(2)", true)] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
                let o = Overlay::new(&lowers[..n])
                    .upper(&upper, &work)
                    .force_mount_syscall(legacy);
                b.iter(|| {
                    o.mount_at(&target).expect("mount");
                    umount2(&target, MntFlags::empty()).expect("umount");
                })
            });
        }
    }
    g.finish();
}

fn layer_tar(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        t.append_data(&mut h, path, *data).unwrap();
    }
    t.into_inner().unwrap()
}

fn compose(c: &mut Criterion, dir: &Path) {
    // A busybox image of five layers, already unpacked into the store.
    let busybox = std::fs::read("/bin/busybox").unwrap_or_else(|_| vec![0; 1 << 20]);
    let mut w = LayoutWriter::create(dir.join("oci")).unwrap();
    let mut layers = vec![w
        .add_layer(
            &layer_tar(&[("bin/busybox", &busybox, 0o755)]),
            Compression::Zstd,
        )
        .unwrap()];
    for i in 0..4 {
        let name = format!("etc/layer{i}");
        layers.push(
            w.add_layer(&layer_tar(&[(&name, b"x\n", 0o644)]), Compression::Gzip)
                .unwrap(),
        );
    }
    w.add_image("bench", &layers, &ImageConfig::default())
        .unwrap();
    let layout = Layout::open(dir.join("oci")).unwrap();
    let image = layout.image("bench").unwrap();
    let store = Store::open(dir.join("store")).unwrap();
    store.unpack_image(&layout, &image).unwrap();
    let ctr = dir.join("container");
    c.bench_function(
        "compose rootfs from a stored 5-layer image (+ remove)",
        |b| {
            b.iter(|| {
                let r = store.compose(&image, &ctr).expect("compose");
                r.remove().expect("remove");
            })
        },
    );
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: the overlay benchmarks need root");
        return;
    }
    // Our own mount namespace (still single-threaded here), private, so nothing
    // mounted below reaches the host even if a run dies.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_PRIVATE | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .expect("make / private");
    let dir = PathBuf::from(format!("/tmp/testa-bench-overlay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Criterion::default().sample_size(20).configure_from_args();
    mount_unmount(&mut c, &dir);
    compose(&mut c, &dir);
    c.final_summary();
    let _ = std::fs::remove_dir_all(&dir);
}
