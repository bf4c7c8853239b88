//! What the process sees from inside: namespaces, identity, limits, capabilities.

mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn host_ns(kind: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn pid1_and_rootfs() {
    let mut c = Ctx::new("pid1_and_rootfs");
    let out = c.run_sh("echo $$; cat /rootfs-marker; ls /");
    let mut l = out.lines();
    assert_eq!(l.next(), Some("1"), "{out}");
    assert_eq!(
        l.next(),
        Some(c.id.as_str()),
        "/ is not the bundle rootfs: {out}"
    );
    c.assert_no_leaks();
}

#[test]
fn hostname() {
    let mut c = Ctx::new("hostname");
    c.config(|cfg| cfg["hostname"] = json!("testa-host"));
    let out = c.run_sh("hostname; cat /proc/sys/kernel/hostname");
    assert_eq!(out, "testa-host\ntesta-host\n");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "testa-host", "hostname leaked to the host");
    c.assert_no_leaks();
}

#[test]
fn domainname() {
    let mut c = Ctx::new("domainname");
    c.config(|cfg| cfg["domainname"] = json!("testa.example"));
    let out = c.run_sh("cat /proc/sys/kernel/domainname");
    assert_eq!(
        out, "testa.example\n",
        "domainname not set (runc 1.1.5 ignores the field)"
    );
    let host = fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    assert_ne!(
        host.trim(),
        "testa.example",
        "domainname leaked to the host"
    );
    c.assert_no_leaks();
}

#[test]
fn new_net_ns_has_only_lo_up() {
    let mut c = Ctx::new("new_net_ns_has_only_lo_up");
    let out = c.run_sh("ls /sys/class/net; echo --; cat /sys/class/net/lo/flags");
    let (ifs, flags) = out.split_once("--\n").unwrap();
    assert_eq!(ifs.split_whitespace().collect::<Vec<_>>(), ["lo"], "{out}");
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 0x1, 0x1, "lo is not UP (flags {flags:#x})");
    assert_eq!(flags & 0x8, 0x8, "lo lacks LOOPBACK (flags {flags:#x})");
    c.assert_no_leaks();
}

#[test]
fn default_mounts_in_mountinfo() {
    let mut c = Ctx::new("default_mounts_in_mountinfo");
    let out = c.run_sh("cat /proc/self/mountinfo");
    let mut seen = Vec::new();
    for l in out.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-").unwrap();
        seen.push((f[4].to_string(), f[sep + 1].to_string(), f[5].to_string()));
    }
    let find = |mp: &str| seen.iter().find(|(m, _, _)| m == mp).cloned();
    for (mp, ty) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = find(mp).unwrap_or_else(|| panic!("{mp} not mounted: {out}"));
        assert_eq!(m.1, ty, "{mp} has type {} : {out}", m.1);
    }
    let root = find("/").expect("no / in mountinfo");
    assert!(
        root.2.split(',').any(|o| o == "ro"),
        "readonly root is not ro: {root:?}"
    );
    let sys = find("/sys").unwrap();
    assert!(sys.2.split(',').any(|o| o == "ro"), "/sys not ro: {sys:?}");
    assert!(
        seen.iter().any(|(m, _, _)| m.starts_with("/sys/fs/cgroup")),
        "no cgroup mount: {out}"
    );
    // nothing of the host's other mounts is visible
    assert!(
        !seen
            .iter()
            .any(|(m, _, _)| m.starts_with("/work") || m.starts_with("/tmp/testa-it")),
        "{out}"
    );
    c.assert_no_leaks();
}

#[test]
fn user_groups_umask_cwd_env() {
    let mut c = Ctx::new("user_groups_umask_cwd_env");
    c.config(|cfg| {
        cfg["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 23});
        cfg["process"]["cwd"] = json!("/home/user");
        cfg["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("FOO=bar baz"));
    });
    let out = c.run_sh(
        "grep -E '^(Uid|Gid|Groups):' /proc/self/status; umask; pwd; echo \"$FOO\"; echo \"$HOME\"",
    );
    assert_eq!(
        status_field(&out, "Uid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "Gid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    let mut groups: Vec<&str> = status_field(&out, "Groups")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    groups.sort();
    assert_eq!(groups, ["10", "20"], "{out}");
    let rest: Vec<&str> = out.lines().skip(3).collect();
    assert_eq!(rest[0], "0027", "umask: {out}");
    assert_eq!(rest[1], "/home/user", "cwd: {out}");
    assert_eq!(rest[2], "bar baz", "env: {out}");
    c.assert_no_leaks();
}

#[test]
fn rlimits() {
    let mut c = Ctx::new("rlimits");
    let out = c.run_sh("ulimit -Sn; ulimit -Hn");
    assert_eq!(out, "1024\n1024\n", "default RLIMIT_NOFILE 1024/1024");
    // never above the host's hard limit (20000): no CAP_SYS_RESOURCE here
    c.config(|cfg| {
        cfg["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 4096},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ]);
    });
    let out = c.run_sh("grep -E 'Max (open files|processes|core file size)' /proc/self/limits");
    let row = |k: &str| -> Vec<String> {
        let l = out
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("{k}: {out}"));
        l[k.len()..]
            .split_whitespace()
            .take(2)
            .map(|s| s.to_string())
            .collect()
    };
    assert_eq!(row("Max open files"), ["512", "4096"], "{out}");
    assert_eq!(row("Max processes"), ["300", "400"], "{out}");
    assert_eq!(row("Max core file size"), ["0", "0"], "{out}");
    c.assert_no_leaks();
}

#[test]
fn capabilities_exact() {
    let mut c = Ctx::new("capabilities_exact");
    let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    c.config(|cfg| {
        cfg["process"]["capabilities"] = json!({
            "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set
        });
    });
    let out = c.run_sh("grep -E '^Cap' /proc/self/status");
    let want = format!("{:016x}", cap_mask(&set));
    assert_eq!(want, "0000000000000420");
    for k in ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(status_field(&out, k), Some(want.as_str()), "{k}: {out}");
    }
    // Non-root user: ambient caps make them survive the exec.
    c.config(|cfg| {
        cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        cfg["process"]["capabilities"] = json!({"bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set});
    });
    let out = c.run_sh("grep -E '^Cap' /proc/self/status");
    for k in ["CapEff", "CapPrm", "CapAmb"] {
        assert_eq!(
            status_field(&out, k),
            Some(want.as_str()),
            "uid 1000 {k}: {out}"
        );
    }
    // no capabilities object at all: nothing for a non-root user
    c.config(|cfg| {
        cfg["process"]["capabilities"] = json!({"bounding": ["CAP_KILL"]});
    });
    let out = c.run_sh("grep -E '^Cap' /proc/self/status");
    assert_eq!(
        status_field(&out, "CapEff"),
        Some("0000000000000000"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "CapBnd"),
        Some("0000000000000020"),
        "{out}"
    );
    c.assert_no_leaks();
}

#[test]
fn no_new_privileges() {
    let mut c = Ctx::new("no_new_privileges");
    let out = c.run_sh("grep NoNewPrivs /proc/self/status");
    assert_eq!(status_field(&out, "NoNewPrivs"), Some("1"), "{out}");
    c.config(|cfg| cfg["process"]["noNewPrivileges"] = json!(false));
    let out = c.run_sh("grep NoNewPrivs /proc/self/status");
    assert_eq!(status_field(&out, "NoNewPrivs"), Some("0"), "{out}");
    c.assert_no_leaks();
}

#[test]
fn oom_score_adj() {
    let mut c = Ctx::new("oom_score_adj");
    let before = fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    c.config(|cfg| cfg["process"]["oomScoreAdj"] = json!(123));
    assert_eq!(c.run_sh("cat /proc/self/oom_score_adj"), "123\n");
    assert_eq!(
        fs::read_to_string("/proc/self/oom_score_adj").unwrap(),
        before,
        "caller's score changed"
    );
    c.assert_no_leaks();
}

#[test]
fn user_namespace_mappings() {
    let mut c = Ctx::new("user_namespace_mappings");
    c.config(|cfg| {
        add_ns(cfg, json!({"type": "user"}));
        cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        cfg["process"]["args"] = json!([
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; exec sleep 100"
        ]);
    });
    c.create().assert_ok("create with userns");
    c.start().assert_ok("start");
    c.wait_status("running", T);
    let pid = c.state()["pid"].as_i64().unwrap();
    // host view: the process runs as the mapped uid
    let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status_field(&st, "Uid").unwrap().starts_with("100000"),
        "host sees {st}"
    );
    assert!(
        status_field(&st, "Gid").unwrap().starts_with("100000"),
        "host sees {st}"
    );
    let uid_map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    assert_ne!(
        fs::read_link(format!("/proc/{pid}/ns/user"))
            .unwrap()
            .to_string_lossy(),
        host_ns("user")
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    // inside view (foreground run)
    c.config(|cfg| {
        cfg["process"]["args"] = json!(["sh", "-c", "cat /proc/self/uid_map; id -u; id -g"])
    });
    let o = c.run();
    o.assert_ok("run with userns");
    let l: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        l[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"],
        "{o:?}"
    );
    assert_eq!(&l[1..], ["0", "0"], "{o:?}");
    c.assert_no_leaks();
}

#[test]
fn join_net_ns_by_path() {
    let mut c = Ctx::new("join_net_ns_by_path");
    let nsfile = c.dir.join("netns");
    fs::write(&nsfile, "").unwrap();
    let st = std::process::Command::new("unshare")
        .arg(format!("--net={}", nsfile.display()))
        .arg("true")
        .status()
        .expect("unshare");
    assert!(st.success(), "unshare --net=FILE failed");
    let ino = fs::metadata(&nsfile).unwrap().ino();
    let p = nsfile.to_string_lossy().to_string();
    c.config(|cfg| add_ns(cfg, json!({"type": "network", "path": p})));
    let out = c.run_sh("readlink /proc/self/ns/net; ls /sys/class/net");
    assert_eq!(out.lines().next().unwrap(), format!("net:[{ino}]"), "{out}");
    let _ = nix::mount::umount2(&nsfile, nix::mount::MntFlags::MNT_DETACH);
    c.assert_no_leaks();
}

#[test]
fn namespaces_new_and_shared() {
    let mut c = Ctx::new("namespaces_new_and_shared");
    c.config(|cfg| {
        add_ns(cfg, json!({"type": "cgroup"}));
        remove_ns(cfg, "ipc");
    });
    let out = c.run_sh("for n in pid net ipc uts mnt cgroup user; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup");
    let l: Vec<&str> = out.lines().collect();
    let kinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user"];
    for (i, k) in kinds.iter().enumerate() {
        let shared = matches!(*k, "ipc" | "user");
        if shared {
            assert_eq!(l[i], host_ns(k), "{k} should be the host's: {out}");
        } else {
            assert_ne!(l[i], host_ns(k), "{k} should be new: {out}");
        }
    }
    // cgroup ns: the container's own cgroup is its root
    for line in &l[kinds.len()..] {
        assert!(
            line.ends_with(":/"),
            "cgroup ns root not / : {line:?} in {out}"
        );
    }
    // ipc ns of its own when asked
    c.config(|cfg| add_ns(cfg, json!({"type": "ipc"})));
    let out = c.run_sh("readlink /proc/self/ns/ipc");
    assert_ne!(out.trim(), host_ns("ipc"));
    c.assert_no_leaks();
}

#[test]
fn time_namespace_offsets() {
    if !Path::new("/proc/self/ns/time").exists() {
        return skip("kernel has no time namespaces (/proc/self/ns/time missing)");
    }
    let mut c = Ctx::new("time_namespace_offsets");
    let off = 10 * 86400i64;
    c.config(|cfg| {
        add_ns(cfg, json!({"type": "time"}));
        cfg["linux"]["timeOffsets"] = json!({
            "monotonic": {"secs": off, "nanosecs": 0},
            "boottime": {"secs": off, "nanosecs": 0}
        });
    });
    let host_before: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = c.run_sh("cat /proc/uptime; readlink /proc/self/ns/time");
    let host_after: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let inside: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        inside >= host_before + off as f64 - 1.0 && inside <= host_after + off as f64 + 1.0,
        "uptime inside {inside}, host {host_before}..{host_after}, offset {off}"
    );
    assert_ne!(out.lines().nth(1).unwrap(), host_ns("time"));
    c.assert_no_leaks();
}

#[test]
fn personality_linux32() {
    let mut c = Ctx::new("personality_linux32");
    c.config(|cfg| cfg["linux"]["personality"] = json!({"domain": "LINUX32"}));
    c.set_sh("uname -m");
    let o = c.run();
    o.assert_ok("run with personality LINUX32");
    assert_eq!(o.stdout.trim(), "i686", "{o:?}");
    c.assert_no_leaks();
}
