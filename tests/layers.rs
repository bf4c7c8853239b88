//! Image layers as root: the layer store (whiteouts and opaque dirs unpacked
//! exactly, corrupted blobs refused, shared layers stored once, modes and
//! owners kept) and containers run from a composed image rootfs.
//!
//! Every test works under its own `Ctx` directory (/tmp/testa-it/<id>), whose drop
//! unmounts everything below it and removes it, even when the test panics.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::image::*;
use common::Ctx;
use serde_json::json;
use testa::oci_spec::runtime::Spec;
use testa::rootfs::layers::{Compression, ImageConfig, Layout, LayoutWriter, Store};

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
