//! The container's filesystem: mounts, devices, readonly/masked paths, sysctl,
//! pivot_root vs --no-pivot, propagation.

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

fn push_mount(cfg: &mut Value, m: Value) {
    cfg["mounts"].as_array_mut().unwrap().push(m);
}

/// (mount point, fs type, mount options, super options) rows of a mountinfo text.
fn mountinfo_rows(text: &str) -> Vec<(String, String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some((
                f[4].to_string(),
                f[sep + 1].to_string(),
                f[5].to_string(),
                f.get(sep + 3).unwrap_or(&"").to_string(),
            ))
        })
        .collect()
}

#[test]
fn bind_file_and_dir_destinations_created() {
    let mut c = Ctx::new("bind_file_and_dir");
    let data = c.scratch("data");
    fs::write(data.join("file.txt"), "file-content\n").unwrap();
    fs::create_dir_all(data.join("dir")).unwrap();
    fs::write(data.join("dir/inner"), "inner\n").unwrap();
    c.config(|cfg| {
        push_mount(
            cfg,
            bind_mount(&data.join("file.txt"), "/mnt/a/file.txt", &[]),
        );
        push_mount(cfg, bind_mount(&data.join("dir"), "/mnt/b/dir", &[]));
    });
    let out = c.run_sh("cat /mnt/a/file.txt; cat /mnt/b/dir/inner; test -f /mnt/a/file.txt && echo F; test -d /mnt/b/dir && echo D");
    assert_eq!(out, "file-content\ninner\nF\nD\n");
    // the missing destinations were created inside the rootfs with the source's kind
    assert!(
        c.rootfs.join("mnt/a/file.txt").is_file(),
        "file destination not created as a file"
    );
    assert!(
        c.rootfs.join("mnt/b/dir").is_dir(),
        "dir destination not created as a dir"
    );
    c.assert_no_leaks();
}

#[test]
fn bind_ro_and_rw() {
    let mut c = Ctx::new("bind_ro_and_rw");
    let ro = c.scratch("ro");
    let rw = c.scratch("rw");
    c.config(|cfg| {
        push_mount(cfg, bind_mount(&ro, "/ro", &["ro"]));
        push_mount(cfg, bind_mount(&rw, "/rw", &[]));
    });
    let out = c.run_sh(
        "touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused; touch /rw/y && echo rw-ok",
    );
    assert_eq!(out, "ro-refused\nrw-ok\n");
    assert!(!ro.join("x").exists());
    assert!(
        rw.join("y").exists(),
        "write to rw bind not visible on the host"
    );
    c.assert_no_leaks();
}

#[test]
fn rbind_vs_bind_submounts() {
    let mut c = Ctx::new("rbind_vs_bind");
    let top = c.scratch("top");
    let sub = top.join("sub");
    fs::create_dir_all(&sub).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .expect("mount tmpfs for the submount");
    fs::write(sub.join("in-submount"), "x").unwrap();
    c.config(|cfg| {
        push_mount(cfg, json!({"destination": "/r", "type": "bind", "source": top.to_string_lossy(), "options": ["rbind"]}));
        push_mount(cfg, json!({"destination": "/b", "type": "bind", "source": top.to_string_lossy(), "options": ["bind"]}));
    });
    let out = c.run_sh("ls /r/sub; echo --; ls /b/sub");
    assert_eq!(
        out, "in-submount\n--\n",
        "rbind must carry submounts, bind must not"
    );
    nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH).unwrap();
    c.assert_no_leaks();
}

#[test]
fn tmpfs_size_and_mode() {
    let mut c = Ctx::new("tmpfs_size_and_mode");
    c.config(|cfg| {
        push_mount(
            cfg,
            json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "size=1m", "mode=0710"]}),
        );
    });
    let out = c.run_sh(
        "stat -c %a /scratch; df -k /scratch | tail -1; grep ' /scratch ' /proc/self/mountinfo",
    );
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "710", "{out}");
    let total: u64 = l[1].split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(total, 1024, "tmpfs size: {out}");
    let rows = mountinfo_rows(l[2]);
    assert_eq!(rows[0].1, "tmpfs");
    assert!(
        rows[0].2.split(',').any(|o| o == "nosuid") && rows[0].2.split(',').any(|o| o == "nodev"),
        "{out}"
    );
    assert!(rows[0].3.contains("size=1024k"), "{out}");
    c.assert_no_leaks();
}

#[test]
fn devpts_mqueue_sysfs_cgroup() {
    let mut c = Ctx::new("devpts_mqueue_sysfs_cgroup");
    let out = c.run_sh("cat /proc/self/mountinfo; echo --; readlink /dev/ptmx; ls /sys/fs/cgroup; echo --; ls /sys/kernel >/dev/null && echo sys-ok");
    let (mi, rest) = out.split_once("\n--\n").unwrap();
    let rows = mountinfo_rows(mi);
    let pts = rows
        .iter()
        .find(|r| r.0 == "/dev/pts")
        .expect("devpts mounted");
    assert_eq!(pts.1, "devpts");
    for o in ["ptmxmode=666", "mode=620", "gid=5"] {
        assert!(
            pts.3.split(',').any(|x| x == o),
            "devpts lacks {o}: {pts:?}"
        );
    }
    let mq = rows
        .iter()
        .find(|r| r.0 == "/dev/mqueue")
        .expect("mqueue mounted");
    assert_eq!(mq.1, "mqueue");
    assert!(rows.iter().any(|r| r.0 == "/sys" && r.1 == "sysfs"));
    assert!(
        rows.iter()
            .any(|r| r.0.starts_with("/sys/fs/cgroup") && (r.1 == "cgroup" || r.1 == "cgroup2")),
        "{mi}"
    );
    let (top, tail) = rest.split_once("\n--\n").unwrap();
    let mut tl = top.lines();
    assert_eq!(
        tl.next(),
        Some("pts/ptmx"),
        "/dev/ptmx must link to pts/ptmx: {rest}"
    );
    let entries: Vec<&str> = tl.collect();
    if Path::new("/sys/fs/cgroup/memory").exists() {
        assert!(
            entries.contains(&"memory"),
            "v1 memory controller not visible: {entries:?}"
        );
    } else {
        assert!(entries.contains(&"cgroup.controllers"), "{entries:?}");
    }
    assert_eq!(tail.trim(), "sys-ok");
    c.assert_no_leaks();
}

#[test]
fn symlink_destination_stays_inside_rootfs() {
    let mut c = Ctx::new("symlink_destination_inside");
    let hostdir = c.dir.join("hostdir-must-not-exist");
    let data = c.scratch("payload");
    fs::write(data.join("payload"), "p\n").unwrap();
    // rootfs/evil -> absolute host path of a dir that does not exist on the host
    std::os::unix::fs::symlink(&hostdir, c.rootfs.join("evil")).unwrap();
    c.config(|cfg| {
        cfg["root"]["readonly"] = json!(false);
        push_mount(cfg, bind_mount(&data, "/evil", &[]));
        push_mount(
            cfg,
            json!({"destination": "/evil2/x", "type": "tmpfs", "source": "tmpfs"}),
        );
    });
    std::os::unix::fs::symlink(&hostdir, c.rootfs.join("evil2")).unwrap();
    let out = c.run_sh("cat /evil/payload");
    assert_eq!(out, "p\n");
    assert!(
        !hostdir.exists(),
        "the runtime followed a rootfs symlink out to the host: {} exists",
        hostdir.display()
    );
    let inside = c.rootfs.join(hostdir.strip_prefix("/").unwrap());
    assert!(
        inside.is_dir(),
        "destination should have been created inside the rootfs at {}",
        inside.display()
    );
    c.assert_no_leaks();
}

#[test]
fn default_devices_and_links() {
    let mut c = Ctx::new("default_devices_and_links");
    let out = c.run_sh(
        "for d in null zero full random urandom tty; do stat -c '%n %F %t %T %a' /dev/$d; done; \
         for l in fd stdin stdout stderr ptmx; do echo \"$l $(readlink /dev/$l)\"; done; \
         test -d /dev/shm && echo shm; test -e /dev/kmsg || echo no-kmsg",
    );
    let want = [
        "/dev/null character special file 1 3 666",
        "/dev/zero character special file 1 5 666",
        "/dev/full character special file 1 7 666",
        "/dev/random character special file 1 8 666",
        "/dev/urandom character special file 1 9 666",
        "/dev/tty character special file 5 0 666",
        "fd /proc/self/fd",
        "stdin /proc/self/fd/0",
        "stdout /proc/self/fd/1",
        "stderr /proc/self/fd/2",
        "ptmx pts/ptmx",
        "shm",
        "no-kmsg",
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{out}");
    c.assert_no_leaks();
}

#[test]
fn spec_devices() {
    let mut c = Ctx::new("spec_devices");
    c.config(|cfg| {
        cfg["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
            {"path": "/dev/custom/blk", "type": "b", "major": 7, "minor": 200, "fileMode": 384, "uid": 1000, "gid": 1000}
        ]);
    });
    let out = c.run_sh("stat -c '%F %t %T %a %u %g' /dev/fuse /dev/custom/blk");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "character special file a e5 666 0 0",
            "block special file 7 c8 600 1000 1000"
        ],
        "{out}"
    );
    // devices live on the container's /dev tmpfs, never in the host rootfs dir
    assert!(
        !c.rootfs.join("dev/fuse").exists()
            || fs::metadata(c.rootfs.join("dev/fuse"))
                .map(|m| !m.file_type().is_char_device())
                .unwrap_or(true)
    );
    c.assert_no_leaks();
}

#[test]
fn readonly_root() {
    let mut c = Ctx::new("readonly_root");
    let out = c.run_sh(
        "touch /x 2>/dev/null && echo writable || echo ro; touch /dev/shm/ok && echo shm-rw",
    );
    assert_eq!(out, "ro\nshm-rw\n");
    assert!(!c.rootfs.join("x").exists());
    c.config(|cfg| cfg["root"]["readonly"] = json!(false));
    let out = c.run_sh("touch /x 2>/dev/null && echo writable || echo ro");
    assert_eq!(out, "writable\n");
    assert!(c.rootfs.join("x").exists());
    c.assert_no_leaks();
}

#[test]
fn masked_paths() {
    let mut c = Ctx::new("masked_paths");
    fs::write(c.rootfs.join("etc/secret"), "s3cret\n").unwrap();
    fs::create_dir_all(c.rootfs.join("etc/secretdir")).unwrap();
    fs::write(c.rootfs.join("etc/secretdir/f"), "x").unwrap();
    c.config(|cfg| {
        let m = cfg["linux"]["maskedPaths"].as_array_mut().unwrap();
        m.push(json!("/etc/secret"));
        m.push(json!("/etc/secretdir"));
        m.push(json!("/does/not/exist"));
    });
    let out = c.run_sh(
        "wc -c < /proc/timer_list; cat /etc/secret | wc -c; ls -A /etc/secretdir | wc -l; ls -A /sys/firmware | wc -l; \
         echo x > /etc/secret; wc -c < /etc/secret; test -e /proc/kcore && wc -c < /proc/kcore || echo 0",
    );
    let l: Vec<&str> = out.lines().map(|s| s.trim()).collect();
    assert_eq!(l, ["0", "0", "0", "0", "0", "0"], "{out}");
    assert!(
        !fs::read_to_string("/proc/timer_list")
            .unwrap_or_default()
            .is_empty(),
        "host timer_list empty: test is moot"
    );
    assert_eq!(
        fs::read_to_string(c.rootfs.join("etc/secret")).unwrap(),
        "s3cret\n"
    );
    c.assert_no_leaks();
}

#[test]
fn readonly_paths() {
    let mut c = Ctx::new("readonly_paths");
    fs::create_dir_all(c.rootfs.join("data")).unwrap();
    c.config(|cfg| {
        cfg["root"]["readonly"] = json!(false);
        cfg["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/data"));
    });
    let out = c.run_sh(
        "touch /data/x 2>/dev/null && echo data-writable || echo data-ro; touch /y && echo root-rw; \
         echo 1 > /proc/sys/kernel/shmmax 2>/dev/null && echo procsys-writable || echo procsys-ro; \
         grep -E ' /proc/(sys|bus) ' /proc/self/mountinfo | wc -l",
    );
    assert_eq!(
        out.lines().map(|s| s.trim()).collect::<Vec<_>>(),
        ["data-ro", "root-rw", "procsys-ro", "2"],
        "{out}"
    );
    c.assert_no_leaks();
}

#[test]
fn sysctl_namespaced() {
    let mut c = Ctx::new("sysctl_namespaced");
    let host = fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    c.config(|cfg| {
        cfg["linux"]["sysctl"] = json!({"kernel.shmmax": "123456789", "net.ipv4.ip_forward": "1"})
    });
    let out = c.run_sh("cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward");
    assert_eq!(out, "123456789\n1\n");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(),
        host,
        "host value changed"
    );
    c.assert_no_leaks();
}

#[test]
fn sysctl_not_namespaced_refused() {
    let mut c = Ctx::new("sysctl_not_namespaced_refused");
    let host = fs::read_to_string("/proc/sys/vm/swappiness").unwrap();
    let want = if host.trim() == "17" { "18" } else { "17" };
    c.config(|cfg| cfg["linux"]["sysctl"] = json!({"vm.swappiness": want}));
    c.set_args(&["true"]);
    let o = c.run();
    o.assert_fail("run with a non-namespaced sysctl");
    assert!(
        o.stderr.contains("vm.swappiness"),
        "error must name the key: {o:?}"
    );
    assert_eq!(
        fs::read_to_string("/proc/sys/vm/swappiness").unwrap(),
        host,
        "host sysctl changed"
    );
    c.assert_no_leaks();
}

#[test]
fn no_pivot() {
    let mut c = Ctx::new("no_pivot");
    c.set_sh("cat /rootfs-marker; echo $$; ls /proc/1/root/ >/dev/null && echo ok");
    let b = c.bundle_s();
    let o = c.rt(&["run", "--no-pivot", "--bundle", &b, &c.id]);
    o.assert_ok("run --no-pivot");
    assert_eq!(o.stdout, format!("{}\n1\nok\n", c.id));
    c.assert_no_leaks();
}

/// With rootfsPropagation "rslave" a mount made on the host below a (shared) bind
/// (runc maps "private"/"slave" to the non-recursive flag, "rprivate"/"rslave" to MS_REC)
/// source after the container started shows up inside; with "rprivate" it does not.
#[test]
fn rootfs_propagation() {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let mut c = Ctx::new("rootfs_propagation");
    let prop = c.scratch("prop");
    let out = c.scratch("out");
    // make `prop` a shared mount of its own on the host
    mount(
        Some(&prop),
        &prop,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    mount(
        None::<&str>,
        &prop,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    fs::create_dir_all(prop.join("sub")).unwrap();
    c.config(|cfg| {
        push_mount(cfg, bind_mount(&prop, "/prop", &[]));
        push_mount(cfg, bind_mount(&out, "/out", &[]));
        cfg["process"]["args"] = json!(["sh", "-c",
            "touch /out/started; i=0; while [ ! -e /prop/sub/flag ] && [ $i -lt 30 ]; do sleep 0.05; i=$((i+1)); done; \
             if [ -e /prop/sub/flag ]; then echo seen > /out/result; else echo not-seen > /out/result; fi"]);
    });
    for (prop_mode, want) in [("rslave", "seen"), ("rprivate", "not-seen")] {
        let _ = fs::remove_file(out.join("result"));
        let _ = fs::remove_file(out.join("started"));
        c.config(|cfg| cfg["linux"]["rootfsPropagation"] = json!(prop_mode));
        c.create().assert_ok("create");
        c.start().assert_ok("start");
        assert!(wait_until(std::time::Duration::from_secs(5), || out
            .join("started")
            .exists()));
        mount(
            Some("tmpfs"),
            &prop.join("sub"),
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        fs::write(prop.join("sub/flag"), "x").unwrap();
        assert!(
            wait_until(std::time::Duration::from_secs(5), || out
                .join("result")
                .exists()),
            "no result"
        );
        c.wait_status("stopped", std::time::Duration::from_secs(5));
        c.delete().assert_ok("delete");
        umount2(&prop.join("sub"), MntFlags::MNT_DETACH).unwrap();
        let got = fs::read_to_string(out.join("result")).unwrap();
        assert_eq!(got.trim(), want, "rootfsPropagation {prop_mode}");
    }
    umount2(&prop, MntFlags::MNT_DETACH).unwrap();
    c.assert_no_leaks();
}
