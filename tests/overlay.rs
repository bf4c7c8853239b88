//! Overlay mounts as root on the real kernel: `rootfs::Overlay` (copy-up,
//! whiteouts, 500 layers through both mount paths, read-only, detached fds,
//! errors naming the layer) and an OCI `overlay` mount in config.json.
//!
//! Every test works under its own `Ctx` directory (/tmp/testa-it/<id>), whose drop
//! unmounts everything below it and removes it, even when the test panics.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use common::image::*;
use common::Ctx;
use serde_json::json;
use testa::rootfs::{Overlay, OverlayOption};

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
