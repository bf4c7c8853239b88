//! Overlay mounts and image layers, as root, on the real kernel: `rootfs::Overlay`
//! (copy-up, whiteouts, 500 layers through both mount paths, read-only), the layer
//! store (whiteouts and opaque dirs unpacked exactly, corrupted blobs refused, shared
//! layers stored once), containers run from a composed image rootfs, and an OCI
//! `overlay` mount in config.json.
//!
//! Every test works under its own `Ctx` directory (/tmp/testa-it/<id>), whose drop
//! unmounts everything below it and removes it, even when the test panics.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::Ctx;
use serde_json::json;
use testa::oci_spec::runtime::Spec;
use testa::rootfs::layers::{Compression, ImageConfig, Layout, LayoutWriter, Store};
use testa::rootfs::{Overlay, OverlayOption};

// ---------------------------------------------------------------- helpers

fn write(p: &Path, content: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {p:?}: {e}"))
}

/// `lower1` (top) and `lower2` with a file in each and one in both; empty upper/work.
struct Layers {
    lowers: Vec<PathBuf>,
    upper: PathBuf,
    work: PathBuf,
    merged: PathBuf,
}

fn two_layers(ctx: &Ctx) -> Layers {
    let l1 = ctx.scratch("lower1");
    let l2 = ctx.scratch("lower2");
    write(&l1.join("top.txt"), "top\n");
    write(&l2.join("base.txt"), "base\n");
    write(&l1.join("both.txt"), "from lower1\n");
    write(&l2.join("both.txt"), "from lower2\n");
    write(&l2.join("dir/deep.txt"), "deep\n");
    Layers {
        lowers: vec![l1, l2],
        upper: ctx.scratch("upper"),
        work: ctx.scratch("work"),
        merged: ctx.scratch("merged"),
    }
}

fn mounted(l: Layers) -> Layers {
    Overlay::new(&l.lowers)
        .upper(&l.upper, &l.work)
        .mount_at(&l.merged)
        .expect("mount overlay");
    l
}

fn umount(p: &Path) {
    nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH).expect("umount");
}

/// The mountinfo super options of the mount at `p`.
fn super_options(p: &Path) -> String {
    let want = p.to_string_lossy().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(want.as_str()))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .unwrap_or_default()
}

/// A tar archive built entry by entry.
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn header(kind: tar::EntryType, mode: u32, uid: u64, gid: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        h
    }

    fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0, 0);
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    fn file_owned(
        &mut self,
        path: &str,
        content: &str,
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, uid, gid);
        h.set_size(content.len() as u64);
        self.0
            .append_data(&mut h, path, content.as_bytes())
            .unwrap();
        self
    }

    fn file(&mut self, path: &str, content: &str) -> &mut Self {
        self.file_owned(path, content, 0o644, 0, 0)
    }

    fn bytes(&mut self, path: &str, content: &[u8], mode: u32) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, 0, 0);
        h.set_size(content.len() as u64);
        self.0.append_data(&mut h, path, content).unwrap();
        self
    }

    /// A PAX header carrying `SCHILY.xattr.<key>` for the next entry.
    fn xattr(&mut self, key: &str, value: &str) -> &mut Self {
        let rec = |body: &str| {
            // "<len> <body>\n", the length counting itself.
            let mut n = body.len() + 3;
            while format!("{n} {body}\n").len() != n {
                n += 1;
            }
            format!("{n} {body}\n")
        };
        let data = rec(&format!("SCHILY.xattr.{key}={value}"));
        let mut h = Self::header(tar::EntryType::XHeader, 0o644, 0, 0);
        h.set_size(data.len() as u64);
        self.0
            .append_data(&mut h, "PaxHeaders/x", data.as_bytes())
            .unwrap();
        self
    }

    fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    fn special(
        &mut self,
        path: &str,
        kind: tar::EntryType,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> &mut Self {
        let mut h = Self::header(kind, mode, 0, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.0.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

/// A layer tar with busybox-static and its applets, /etc/passwd and the usual dirs.
fn busybox_tar() -> Vec<u8> {
    let mut t = Tar::new();
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        t.dir(d, 0o755);
    }
    t.bytes(
        "bin/busybox",
        &fs::read(common::busybox_path()).unwrap(),
        0o755,
    );
    let list = std::process::Command::new(common::busybox_path())
        .arg("--list")
        .output()
        .unwrap();
    for a in String::from_utf8_lossy(&list.stdout).lines() {
        if a != "busybox" && !a.contains('/') {
            t.symlink(&format!("bin/{a}"), "busybox");
        }
    }
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    t.file("etc/group", "root:x:0:\n");
    t.file("etc/image-release", "base\n");
    t.finish()
}

/// What a path in a layer is: kind, mode, owner, and content / target / device.
fn describe(p: &Path) -> String {
    let m = fs::symlink_metadata(p).unwrap();
    let ft = m.file_type();
    let mode = m.mode() & 0o7777;
    let owner = format!("{}:{}", m.uid(), m.gid());
    if ft.is_symlink() {
        format!("link -> {}", fs::read_link(p).unwrap().display())
    } else if ft.is_dir() {
        let opaque = xattr_of(p, "trusted.overlay.opaque").unwrap_or_default();
        format!(
            "dir {mode:o} {owner}{}",
            if opaque == "y" { " opaque" } else { "" }
        )
    } else if ft.is_char_device() {
        format!(
            "char {}:{} {mode:o}",
            libc::major(m.rdev()),
            libc::minor(m.rdev())
        )
    } else if ft.is_fifo() {
        format!("fifo {mode:o} {owner}")
    } else {
        let x = xattr_of(p, "user.test")
            .map(|v| format!(" user.test={v}"))
            .unwrap_or_default();
        format!("file {mode:o} {owner} {:?}{x}", read(p))
    }
}

fn xattr_of(p: &Path, name: &str) -> Option<String> {
    let path = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let name = std::ffi::CString::new(name).unwrap();
    let mut buf = [0u8; 256];
    // SAFETY: valid C strings and a buffer of the length passed.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| String::from_utf8_lossy(&buf[..n as usize]).into_owned())
}

/// Every path below `root` (relative) with its description.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.insert(rel, describe(&p));
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn entries_of(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ---------------------------------------------------------------- Overlay

#[test]
fn lower_file_is_visible() {
    let ctx = Ctx::new("ovl_lower_visible");
    let l = mounted(two_layers(&ctx));
    assert_eq!(read(&l.merged.join("top.txt")), "top\n");
    assert_eq!(read(&l.merged.join("base.txt")), "base\n");
    assert_eq!(read(&l.merged.join("dir/deep.txt")), "deep\n");
    assert_eq!(
        read(&l.merged.join("both.txt")),
        "from lower1\n",
        "top layer wins"
    );
    let opts = super_options(&l.merged);
    assert!(opts.contains("upperdir="), "{opts}");
    assert!(
        opts.contains("lowerdir+="),
        "the new mount API, one layer per call: {opts}"
    );
    umount(&l.merged);
    ctx.assert_no_leaks();
}

#[test]
fn write_copies_up_into_upper_only() {
    let ctx = Ctx::new("ovl_copy_up");
    let l = mounted(two_layers(&ctx));
    fs::write(l.merged.join("dir/deep.txt"), "changed\n").unwrap();
    fs::write(l.merged.join("new.txt"), "new\n").unwrap();
    assert_eq!(read(&l.merged.join("dir/deep.txt")), "changed\n");
    assert_eq!(
        read(&l.upper.join("dir/deep.txt")),
        "changed\n",
        "copied up"
    );
    assert_eq!(read(&l.upper.join("new.txt")), "new\n");
    assert_eq!(
        read(&l.lowers[1].join("dir/deep.txt")),
        "deep\n",
        "lower untouched"
    );
    assert!(!l.lowers[0].join("new.txt").exists() && !l.lowers[1].join("new.txt").exists());
    umount(&l.merged);
    ctx.assert_no_leaks();
}

#[test]
fn delete_leaves_a_whiteout_in_upper() {
    let ctx = Ctx::new("ovl_whiteout");
    let l = mounted(two_layers(&ctx));
    fs::remove_file(l.merged.join("base.txt")).unwrap();
    assert!(!l.merged.join("base.txt").exists());
    let m = fs::symlink_metadata(l.upper.join("base.txt")).unwrap();
    assert!(m.file_type().is_char_device(), "whiteout is a char device");
    assert_eq!((libc::major(m.rdev()), libc::minor(m.rdev())), (0, 0));
    assert_eq!(
        read(&l.lowers[1].join("base.txt")),
        "base\n",
        "lower untouched"
    );
    umount(&l.merged);
    ctx.assert_no_leaks();
}

#[test]
fn readonly_overlay_refuses_writes() {
    let ctx = Ctx::new("ovl_readonly");
    let l = two_layers(&ctx);
    let o = Overlay::new(&l.lowers);
    assert!(o.is_readonly());
    o.mount_at(&l.merged).unwrap();
    assert_eq!(read(&l.merged.join("both.txt")), "from lower1\n");
    let e = fs::write(l.merged.join("x"), "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    let e = fs::OpenOptions::new()
        .append(true)
        .open(l.merged.join("top.txt"))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    let e = fs::remove_file(l.merged.join("top.txt")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    umount(&l.merged);
    ctx.assert_no_leaks();
}

/// 500 layers, each with its own `n.txt` and its version of `all.txt`.
fn many_layers(ctx: &Ctx, n: usize) -> Vec<PathBuf> {
    let base = ctx.scratch("many");
    (0..n)
        .map(|i| {
            let d = base.join(format!("layer-with-a-long-name-{i:04}"));
            write(&d.join("all.txt"), &format!("layer {i}\n"));
            write(&d.join(format!("{i}.txt")), "x");
            d
        })
        .collect()
}

fn check_500(ctx: &Ctx, force_mount_syscall: bool) {
    let lowers = many_layers(ctx, 500);
    let total: usize = lowers.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(
        total > 4096,
        "the paths alone must overflow a page ({total})"
    );
    let merged = ctx.scratch("merged");
    Overlay::new(&lowers)
        .force_mount_syscall(force_mount_syscall)
        .mount_at(&merged)
        .expect("500-layer overlay");
    assert_eq!(
        read(&merged.join("all.txt")),
        "layer 0\n",
        "top layer's version"
    );
    assert!(merged.join("499.txt").exists() && merged.join("250.txt").exists());
    assert_eq!(entries_of(&merged).len(), 501);
    umount(&merged);
    ctx.assert_no_leaks();
}

#[test]
fn five_hundred_layers_show_the_top_version() {
    let ctx = Ctx::new("ovl_500_layers");
    check_500(&ctx, false);
}

#[test]
fn five_hundred_layers_through_mount2_short_names() {
    let ctx = Ctx::new("ovl_500_mount2");
    check_500(&ctx, true);
}

#[test]
fn detached_mount_fd_and_options() {
    let ctx = Ctx::new("ovl_mount_fd");
    let l = two_layers(&ctx);
    let fd = Overlay::new(&l.lowers)
        .upper(&l.upper, &l.work)
        .option(OverlayOption::Index(false))
        .option(OverlayOption::Metacopy(false))
        .option(OverlayOption::Volatile)
        .mount_fd()
        .expect("fsmount");
    // Readable through the detached mount, before it is attached anywhere.
    let f = nix::fcntl::openat(
        &fd,
        "top.txt",
        nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut fs::File::from(f), &mut s).unwrap();
    assert_eq!(s, "top\n");
    assert!(entries_of(&l.merged).is_empty(), "nothing attached");
    drop(fd);
    ctx.assert_no_leaks();
}

#[test]
fn a_missing_layer_is_named() {
    let ctx = Ctx::new("ovl_missing_layer");
    let l = two_layers(&ctx);
    let missing = ctx.dir.join("no-such-layer");
    let lowers = vec![l.lowers[0].clone(), missing.clone(), l.lowers[1].clone()];
    for force in [false, true] {
        let e = Overlay::new(&lowers)
            .force_mount_syscall(force)
            .mount_at(&l.merged)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lower layer 2 of 3"), "{e}");
        assert!(e.contains(&missing.to_string_lossy().to_string()), "{e}");
        assert!(e.contains("ENOENT"), "{e}");
        eprintln!("force_mount_syscall={force}: {e}");
    }
    // The kernel's own explanation (the fs context log) is part of the error.
    let e = Overlay::new(&l.lowers)
        .option(OverlayOption::Other {
            key: "bogus".into(),
            value: Some("1".into()),
        })
        .mount_at(&l.merged)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bogus") && e.contains("kernel: "), "{e}");
    eprintln!("{e}");
    ctx.assert_no_leaks();
}

// ---------------------------------------------------------------- layers

/// Base layer and a layer with whiteouts, an opaque dir and every kind of entry.
fn whiteout_image(dir: &Path) -> (Layout, testa::rootfs::layers::Image) {
    let mut w = LayoutWriter::create(dir).unwrap();
    let base = Tar::new()
        .dir("etc", 0o755)
        .file("etc/passwd", "root:x:0:0::/:/bin/sh\n")
        .file("etc/hosts", "127.0.0.1 localhost\n")
        .dir("data", 0o755)
        .file("data/a", "a\n")
        .dir("data/sub", 0o755)
        .file("data/sub/c", "c\n")
        .file("keep", "keep\n")
        .finish();
    let top = Tar::new()
        .dir("etc", 0o755)
        .file("etc/.wh.hosts", "")
        .dir("data", 0o750)
        .file("data/.wh..wh..opq", "")
        .file("data/new", "new\n")
        .file_owned("data/owned", "owned\n", 0o600, 1000, 1001)
        .file_owned("suid", "s\n", 0o4755, 0, 0)
        .xattr("user.test", "hello")
        .file("with-xattr", "x\n")
        .hardlink("data/new-link", "data/new")
        .symlink("data/sym", "../keep")
        .special("fifo", tar::EntryType::Fifo, 0o640, 0, 0)
        .special("null", tar::EntryType::Char, 0o666, 1, 3)
        .file(".wh.gone-dir", "")
        .finish();
    let base = w.add_layer(&base, Compression::Zstd).unwrap();
    let top = w.add_layer(&top, Compression::Gzip).unwrap();
    w.add_image("test:latest", &[base, top], &ImageConfig::default())
        .unwrap();
    let layout = Layout::open(dir).unwrap();
    let image = layout.image("latest").unwrap();
    (layout, image)
}

#[test]
fn whiteouts_and_opaque_dirs_unpack_exactly() {
    let ctx = Ctx::new("layers_whiteouts");
    let (layout, image) = whiteout_image(&ctx.scratch("oci"));
    let store = Store::open(ctx.scratch("store")).unwrap();
    assert_eq!(store.unpack_image(&layout, &image).unwrap(), 2);
    let top = store.layer_dir(&image.layers()[1]).unwrap();
    let got = tree(&top);
    let want: BTreeMap<String, String> = [
        ("data", "dir 750 0:0 opaque"),
        ("data/new", "file 644 0:0 \"new\\n\""),
        ("data/new-link", "file 644 0:0 \"new\\n\""),
        ("data/owned", "file 600 1000:1001 \"owned\\n\""),
        ("data/sym", "link -> ../keep"),
        ("etc", "dir 755 0:0"),
        ("etc/hosts", "char 0:0 0"),
        ("fifo", "fifo 640 0:0"),
        ("gone-dir", "char 0:0 0"),
        ("null", "char 1:3 666"),
        ("suid", "file 4755 0:0 \"s\\n\""),
        ("with-xattr", "file 644 0:0 \"x\\n\" user.test=hello"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
    let ino = |p: &str| fs::metadata(top.join(p)).unwrap().ino();
    assert_eq!(ino("data/new"), ino("data/new-link"), "hard link kept");

    // And the composed view: the whiteouts hide, the opaque dir hides the base's content.
    let rootfs = store.compose(&image, &ctx.dir.join("ctr")).unwrap();
    let m = rootfs.path();
    assert!(!m.join("etc/hosts").exists());
    assert_eq!(read(&m.join("etc/passwd")), "root:x:0:0::/:/bin/sh\n");
    assert_eq!(
        entries_of(&m.join("data")),
        ["new", "new-link", "owned", "sym"]
    );
    assert_eq!(read(&m.join("data/sym")), "keep\n");
    rootfs.remove().unwrap();
    ctx.assert_no_leaks();
}

#[test]
fn a_corrupted_blob_is_rejected_and_nothing_is_stored() {
    let ctx = Ctx::new("layers_corrupt");
    let (layout, image) = whiteout_image(&ctx.scratch("oci"));
    let bad = &image.layers()[1];
    let blob = layout.blob_path(bad.digest()).unwrap();
    let mut data = fs::read(&blob).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&blob, &data).unwrap();
    let store_dir = ctx.scratch("store");
    let store = Store::open(&store_dir).unwrap();
    let e = store.unpack_image(&layout, &image).unwrap_err().to_string();
    assert!(e.contains(bad.digest()), "the error names the digest: {e}");
    assert!(e.contains("digest mismatch"), "{e}");
    // The good base layer may be stored; the bad one is not, not even partly.
    assert!(store.layer_dir(bad).is_none());
    assert_eq!(
        store.layers().unwrap(),
        vec![image.layers()[0].digest().to_string()]
    );
    let hex = bad.digest().trim_start_matches("sha256:");
    assert!(!store_dir.join("layers/sha256").join(hex).exists());
    assert!(
        entries_of(&store_dir.join("tmp")).is_empty(),
        "no temporary left"
    );

    // A truncated blob too.
    data.truncate(10);
    fs::write(&blob, &data).unwrap();
    let e = store.unpack_layer(&layout, bad).unwrap_err().to_string();
    assert!(e.contains(bad.digest()), "{e}");
    assert!(entries_of(&store_dir.join("tmp")).is_empty());
    ctx.assert_no_leaks();
}

#[test]
fn layers_shared_by_two_images_are_stored_once() {
    let ctx = Ctx::new("layers_shared");
    let dir = ctx.scratch("oci");
    let mut w = LayoutWriter::create(&dir).unwrap();
    let base = w
        .add_layer(
            &Tar::new().file("base", "base\n").finish(),
            Compression::Zstd,
        )
        .unwrap();
    let a = w
        .add_layer(&Tar::new().file("a", "a\n").finish(), Compression::Gzip)
        .unwrap();
    let b = w
        .add_layer(&Tar::new().file("b", "b\n").finish(), Compression::None)
        .unwrap();
    w.add_image("one:1", &[base.clone(), a], &ImageConfig::default())
        .unwrap();
    w.add_image("two:1", &[base, b], &ImageConfig::default())
        .unwrap();
    let layout = Layout::open(&dir).unwrap();
    assert_eq!(layout.tags().unwrap(), ["one:1", "two:1"]);
    let one = layout.image("one:1").unwrap();
    let two = layout.image("two:1").unwrap();
    let store = Store::open(ctx.scratch("store")).unwrap();
    assert_eq!(store.unpack_image(&layout, &one).unwrap(), 2);
    assert_eq!(
        store.unpack_image(&layout, &two).unwrap(),
        1,
        "base is shared"
    );
    assert_eq!(store.layers().unwrap().len(), 3);
    assert_eq!(
        store.lowers(&one).unwrap()[1],
        store.lowers(&two).unwrap()[1]
    );
    let e = layout.image("three").unwrap_err().to_string();
    assert!(e.contains("not found") && e.contains("one:1"), "{e}");
    ctx.assert_no_leaks();
}

/// A layout with a busybox image (one zstd layer) and a small app layer on top.
fn busybox_image(dir: &Path) -> (Layout, testa::rootfs::layers::Image) {
    let mut w = LayoutWriter::create(dir).unwrap();
    let base = w.add_layer(&busybox_tar(), Compression::Zstd).unwrap();
    let app = w
        .add_layer(
            &Tar::new()
                .dir("app", 0o755)
                .file("app/greeting", "hello from the image\n")
                .finish(),
            Compression::Gzip,
        )
        .unwrap();
    let mut config = ImageConfig::default();
    config.env = vec!["PATH=/bin".into(), "GREETING=image".into()];
    config.entrypoint = vec!["sh".into(), "-c".into()];
    config.cmd = vec!["cat greeting".into()];
    config.working_dir = Some("/app".into());
    config.user = Some("root".into());
    w.add_image("busybox:latest", &[base, app], &config)
        .unwrap();
    let layout = Layout::open(dir).unwrap();
    let image = layout.image("busybox:latest").unwrap();
    (layout, image)
}

/// Write a bundle whose root is `root` (absolute), from the default config filled
/// with the image config, running `script` when given.
fn bundle_for(
    ctx: &Ctx,
    name: &str,
    root: &Path,
    image: &testa::rootfs::layers::Image,
    script: Option<&str>,
) -> PathBuf {
    let mut config = ctx.config.clone();
    config["root"] = json!({"path": root, "readonly": false});
    let mut spec: Spec = serde_json::from_value(config).unwrap();
    image.config().apply_to(&mut spec).unwrap();
    let mut config = serde_json::to_value(&spec).unwrap();
    if let Some(s) = script {
        config["process"]["args"] = json!(["sh", "-c", s]);
    }
    let b = ctx.scratch(name);
    fs::write(
        b.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    b
}

#[test]
fn two_containers_from_one_image_see_their_own_writes() {
    let ctx = Ctx::new("layers_two_containers");
    let (layout, image) = busybox_image(&ctx.scratch("oci"));
    let store = Store::open(ctx.scratch("store")).unwrap();
    store.unpack_image(&layout, &image).unwrap();

    // The image's own command, with its Env, WorkingDir and Entrypoint + Cmd.
    let r0 = store.compose(&image, &ctx.dir.join("ctr0")).unwrap();
    let b0 = bundle_for(&ctx, "bundle0", r0.path(), &image, None);
    let id0 = ctx.other_id("c0");
    let out = ctx.rt(&["run", "--bundle", b0.to_str().unwrap(), &id0]);
    out.assert_ok("run the image's command");
    assert_eq!(out.stdout, "hello from the image\n");
    r0.remove().unwrap();

    let mut rootfs = Vec::new();
    for name in ["c1", "c2"] {
        let r = store.compose(&image, &ctx.dir.join(name)).unwrap();
        let script = format!(
            "echo {name} > /mine && echo {name} >> /app/greeting && rm /etc/image-release && \
             cat /mine && ls / | grep -c marker; touch /{name}-marker; echo $GREETING"
        );
        let b = bundle_for(
            &ctx,
            &format!("bundle-{name}"),
            r.path(),
            &image,
            Some(&script),
        );
        rootfs.push((name, r, b));
    }
    for (name, _, b) in &rootfs {
        let id = ctx.other_id(name);
        let out = ctx.rt(&["run", "--bundle", b.to_str().unwrap(), &id]);
        assert_eq!(out.stdout, format!("{name}\n0\nimage\n"), "{out:#?}");
    }
    let lowers = store.lowers(&image).unwrap();
    for (name, r, _) in &rootfs {
        let other = if *name == "c1" { "c2" } else { "c1" };
        let m = r.path();
        assert_eq!(read(&m.join("mine")), format!("{name}\n"));
        assert!(m.join(format!("{name}-marker")).exists());
        assert!(
            !m.join(format!("{other}-marker")).exists(),
            "{name} sees {other}'s file"
        );
        assert_eq!(
            read(&m.join("app/greeting")),
            format!("hello from the image\n{name}\n")
        );
        assert!(!m.join("etc/image-release").exists());
        // Its writes are in its own upper dir only.
        let up = r.upper();
        assert_eq!(read(&up.join("mine")), format!("{name}\n"));
        assert!(fs::symlink_metadata(up.join("etc/image-release"))
            .unwrap()
            .file_type()
            .is_char_device());
        // Both overlays are made of the same stored lower dirs.
        let opts = super_options(m);
        for l in &lowers {
            assert!(opts.contains(l.to_str().unwrap()), "{opts} lacks {l:?}");
        }
    }
    // The shared layers are untouched.
    assert_eq!(
        read(&lowers[0].join("app/greeting")),
        "hello from the image\n"
    );
    assert_eq!(read(&lowers[1].join("etc/image-release")), "base\n");
    assert!(!lowers[1].join("mine").exists());
    for (_, r, _) in rootfs {
        r.remove().unwrap();
    }
    ctx.assert_no_leaks();
}

// ---------------------------------------------------------------- config.json

#[test]
fn config_json_overlay_mount_works_in_a_container() {
    let mut ctx = Ctx::new("ovl_config_mount");
    let l = two_layers(&ctx);
    // A bundle-relative lower dir too, as runc resolves it from the bundle.
    write(&ctx.bundle.join("rel-lower/rel.txt"), "relative\n");
    let ro_lower = ctx.scratch("ro-lower");
    write(&ro_lower.join("ro.txt"), "ro\n");
    let lowerdir = format!(
        "lowerdir={}:{}:rel-lower",
        l.lowers[0].display(),
        l.lowers[1].display()
    );
    let upper = format!("upperdir={}", l.upper.display());
    let work = format!("workdir={}", l.work.display());
    let ro = format!("lowerdir={}:{}", ro_lower.display(), l.lowers[1].display());
    ctx.config(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/data", "type": "overlay", "source": "overlay",
                      "options": [lowerdir, upper, work, "index=off", "nodev"]}),
        );
        m.push(
            json!({"destination": "/ro", "type": "overlay", "source": "overlay",
                      "options": [ro]}),
        );
    });
    let out = ctx.run_sh(
        "cat /data/top.txt /data/base.txt /data/both.txt /data/rel.txt; \
         echo new > /data/new.txt; rm /data/base.txt; \
         cat /ro/ro.txt; touch /ro/x 2>/dev/null && echo WROTE; \
         grep ' /data ' /proc/self/mountinfo",
    );
    let mut lines = out.lines();
    for want in ["top", "base", "from lower1", "relative", "ro"] {
        assert_eq!(lines.next(), Some(want), "{out}");
    }
    let info = lines.next().unwrap_or_default();
    assert!(info.contains("overlay") && info.contains("nodev"), "{info}");
    // Mounted by rootfs::Overlay (fsconfig "lowerdir+"), not by a plain mount(2).
    assert!(info.contains("lowerdir+="), "{info}");
    assert!(
        !out.contains("WROTE"),
        "the lowerdir-only overlay is read-only: {out}"
    );
    assert_eq!(read(&l.upper.join("new.txt")), "new\n");
    assert!(fs::symlink_metadata(l.upper.join("base.txt"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(read(&l.lowers[1].join("base.txt")), "base\n");

    // A bad overlay mount is reported before anything runs, naming the field.
    let n = ctx.config["mounts"].as_array().unwrap().len();
    ctx.config(|c| {
        c["mounts"][n - 1]["options"] = json!(["upperdir=/x", "workdir=/y"]);
    });
    let out = ctx.run();
    out.assert_fail("overlay mount without lowerdir");
    if !common::is_runc() {
        assert!(
            out.stderr.contains(&format!("mounts[{}].options", n - 1))
                && out.stderr.contains("lowerdir"),
            "{out:#?}"
        );
    }
    ctx.assert_no_leaks();
}

#[test]
fn image_layers_keep_modes_on_the_composed_root() {
    // The permissions of the layer's directory entries reach the merged view.
    let ctx = Ctx::new("layers_modes");
    let dir = ctx.scratch("oci");
    let mut w = LayoutWriter::create(&dir).unwrap();
    let l = w
        .add_layer(
            &Tar::new()
                .dir("tmp", 0o1777)
                .dir("secret", 0o700)
                .file_owned("secret/key", "k\n", 0o400, 7, 8)
                .finish(),
            Compression::None,
        )
        .unwrap();
    w.add_image("m", &[l], &ImageConfig::default()).unwrap();
    let layout = Layout::open(&dir).unwrap();
    let image = layout.image("").unwrap();
    let store = Store::open(ctx.scratch("store")).unwrap();
    store.unpack_image(&layout, &image).unwrap();
    let r = store.compose(&image, &ctx.dir.join("ctr")).unwrap();
    let mode = |p: &str| fs::metadata(r.path().join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(mode("secret"), 0o700);
    assert_eq!(mode("secret/key"), 0o400);
    let m = fs::metadata(r.path().join("secret/key")).unwrap();
    assert_eq!((m.uid(), m.gid()), (7, 8));
    drop(r); // Drop unmounts.
    assert!(common::mounts_under(&ctx.dir).is_empty());
    ctx.assert_no_leaks();
}
