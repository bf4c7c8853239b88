//! Cgroups, end to end: limits read back from the cgroup files and seen
//! working from inside the container, pause/resume, update, events, ps,
//! and no cgroup left behind. Runs on the host (hybrid v1) and, through
//! `tests/vm/cgroup2-vm`, on pure cgroup v2.

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn is_v2() -> bool {
    let s = nix::sys::statfs::statfs("/sys/fs/cgroup").unwrap();
    s.filesystem_type().0 == 0x6367_7270
}

/// A container with an absolute cgroupsPath, so its directories are known.
fn ctx(name: &str) -> (Ctx, String) {
    let mut c = Ctx::new(name);
    let cg = format!("/testa-it-{}", c.id);
    let cgp = cg.clone();
    c.config(|cfg| cfg["linux"]["cgroupsPath"] = json!(cgp));
    (c, cg)
}

/// The directory of cgroup `cg` for v1 controller `ctrl` (ignored on v2).
fn cg_dir(cg: &str, ctrl: &str) -> PathBuf {
    let rel = cg.trim_start_matches('/');
    if is_v2() {
        Path::new("/sys/fs/cgroup").join(rel)
    } else {
        Path::new("/sys/fs/cgroup").join(ctrl).join(rel)
    }
}

fn read_cg(cg: &str, ctrl: &str, v1_file: &str, v2_file: &str) -> String {
    let f = if is_v2() { v2_file } else { v1_file };
    let p = cg_dir(cg, ctrl).join(f);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {p:?}: {e}"))
        .trim()
        .to_string()
}

fn resources(c: &mut Ctx, r: Value) {
    c.config(|cfg| {
        let mut merged = cfg["linux"]["resources"].clone();
        for (k, v) in r.as_object().unwrap() {
            merged[k] = v.clone();
        }
        cfg["linux"]["resources"] = merged;
    });
}

fn assert_no_cgroup(cg: &str) {
    let ctrls = [
        "memory", "pids", "cpu", "cpuset", "freezer", "devices", "blkio", "systemd", "unified",
    ];
    if is_v2() {
        assert!(!cg_dir(cg, "").exists(), "cgroup {cg} left behind");
    } else {
        for ctrl in ctrls {
            assert!(!cg_dir(cg, ctrl).exists(), "cgroup {cg} left in {ctrl}");
        }
    }
}

#[test]
fn memory_limit_and_oom_kill_reported() {
    let (mut c, cg) = ctx("cg_memory_oom");
    resources(
        &mut c,
        json!({"memory": {"limit": 33554432, "swap": 33554432}}),
    );
    // awk doubles a string until the OOM killer takes it.
    c.set_sh("sleep 1; awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo awk=$?; sleep 100");
    c.create().assert_ok("create");
    assert_eq!(
        read_cg(&cg, "memory", "memory.limit_in_bytes", "memory.max"),
        "33554432"
    );
    let events = c.dir.join("events.out");
    let mut ev = std::process::Command::new(bin())
        .args(["--root", &c.root_s(), "events", "--interval", "1s", &c.id])
        .stdout(fs::File::create(&events).unwrap())
        .spawn()
        .unwrap();
    c.start().assert_ok("start");
    let seen_oom = wait_until(T, || read(&events).contains("\"type\":\"oom\""));
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(seen_oom, "no oom event: {}", read(&events));
    let first: Value = serde_json::from_str(read(&events).lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "stats");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let (mut c, cg) = ctx("cg_pids");
    resources(&mut c, json!({"pids": {"limit": 10}}));
    // The inner shell forks until fork fails (fatal for busybox sh); the
    // outer one survives to keep the container running.
    c.set_sh("sh -c 'for i in $(seq 1 30); do sleep 30 & done' 2>/dev/null; sleep 30");
    c.create().assert_ok("create");
    assert_eq!(read_cg(&cg, "pids", "pids.max", "pids.max"), "10");
    c.start().assert_ok("start");
    let failed_forks = || -> u64 {
        read_cg(&cg, "pids", "pids.events", "pids.events")
            .strip_prefix("max ")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(wait_until(T, || failed_forks() > 0), "no fork hit pids.max");
    let current: u64 = read_cg(&cg, "pids", "pids.current", "pids.current")
        .parse()
        .unwrap();
    assert!(
        (8..=10).contains(&current),
        "pids.current {current} not at the limit"
    );
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

#[test]
fn cpu_limits_and_cpuset_pinning() {
    let (mut c, cg) = ctx("cg_cpu");
    resources(
        &mut c,
        json!({"cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}}),
    );
    c.set_sh("true");
    c.create().assert_ok("create");
    if is_v2() {
        assert_eq!(read_cg(&cg, "", "", "cpu.max"), "50000 100000");
        // runc's shares→weight: 1 + ((512 - 2) * 9999) / 262142 = 20
        assert_eq!(read_cg(&cg, "", "", "cpu.weight"), "20");
    } else {
        assert_eq!(read_cg(&cg, "cpu", "cpu.shares", ""), "512");
        assert_eq!(read_cg(&cg, "cpu", "cpu.cfs_quota_us", ""), "50000");
        assert_eq!(read_cg(&cg, "cpu", "cpu.cfs_period_us", ""), "100000");
    }
    assert_eq!(read_cg(&cg, "cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

#[test]
fn cpuset_seen_inside() {
    let (mut c, cg) = ctx("cg_cpuset_inside");
    resources(&mut c, json!({"cpu": {"cpus": "0"}}));
    let out = c.run_sh("grep Cpus_allowed_list /proc/self/status");
    assert_eq!(out.split_whitespace().last(), Some("0"), "{out}");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

/// `/dev/kmsg` bind-mounted from the host: runc's default rules (deny all,
/// then the runtime's standard devices) refuse it; an allow rule opens it.
#[test]
fn device_rules_deny_and_allow() {
    for allow in [false, true] {
        let (mut c, cg) = ctx(if allow {
            "cg_devices_allow"
        } else {
            "cg_devices_deny"
        });
        c.config(|cfg| {
            cfg["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind"]}));
            if allow {
                cfg["linux"]["resources"]["devices"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
            }
        });
        let out = c.run_sh("head -c1 /dev/zero >/dev/null && echo zero-ok; (echo testa-device-test > /dev/kmsg) 2>/dev/null && echo kmsg-ok || echo kmsg-denied");
        let want = if allow {
            "zero-ok\nkmsg-ok\n"
        } else {
            "zero-ok\nkmsg-denied\n"
        };
        assert_eq!(out, want, "allow={allow}");
        assert_no_cgroup(&cg);
        c.assert_no_leaks();
    }
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let (mut c, cg) = ctx("cg_pause");
    c.set_sh("sleep 100 & sleep 100");
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c.rt(&["pause", &c.id]).assert_ok("pause");
    assert_eq!(c.status(), "paused");
    if is_v2() {
        assert!(read_cg(&cg, "", "", "cgroup.events").contains("frozen 1"));
    } else {
        assert_eq!(read_cg(&cg, "freezer", "freezer.state", ""), "FROZEN");
    }
    let o = c.rt(&["pause", &c.id]);
    o.assert_fail("pause twice");
    c.rt(&["resume", &c.id]).assert_ok("resume");
    assert_eq!(c.status(), "running");
    let o = c.rt(&["resume", &c.id]);
    o.assert_fail("resume a running container");
    assert!(o.stderr.contains("not paused"), "{o:?}");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

#[test]
fn update_changes_live_limits() {
    let (mut c, cg) = ctx("cg_update");
    resources(
        &mut c,
        json!({"pids": {"limit": 100}, "memory": {"limit": 268435456}}),
    );
    c.set_sh("sleep 100");
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c.rt(&["update", "--pids-limit", "50", "--memory", "128m", &c.id])
        .assert_ok("update flags");
    assert_eq!(read_cg(&cg, "pids", "pids.max", "pids.max"), "50");
    assert_eq!(
        read_cg(&cg, "memory", "memory.limit_in_bytes", "memory.max"),
        "134217728"
    );
    let file = c.dir.join("res.json");
    fs::write(&file, r#"{"pids": {"limit": 42}}"#).unwrap();
    c.rt(&["update", "--resources", file.to_str().unwrap(), &c.id])
        .assert_ok("update --resources");
    assert_eq!(read_cg(&cg, "pids", "pids.max", "pids.max"), "42");
    // the memory limit set before stays
    assert_eq!(
        read_cg(&cg, "memory", "memory.limit_in_bytes", "memory.max"),
        "134217728"
    );
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    let o = c.rt(&["update", "--pids-limit", "5", &c.id]);
    o.assert_fail("update a deleted container");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

#[test]
fn events_stats_and_ps() {
    let (mut c, cg) = ctx("cg_stats");
    resources(
        &mut c,
        json!({"pids": {"limit": 100}, "memory": {"limit": 268435456}}),
    );
    c.set_sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 100 & sleep 100 & wait");
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    std::thread::sleep(Duration::from_millis(1500));
    let o = c.rt(&["events", "--stats", &c.id]);
    o.assert_ok("events --stats");
    let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {o:?}"));
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], json!(c.id));
    let d = &v["data"];
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0, "{d}");
    assert!(
        d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{d}"
    );
    assert_eq!(d["memory"]["usage"]["limit"], 268435456, "{d}");
    assert_eq!(d["pids"]["current"], 3, "{d}");
    assert_eq!(d["pids"]["limit"], 100, "{d}");

    let o = c.rt(&["ps", "--format", "json", &c.id]);
    o.assert_ok("ps --format json");
    let pids: Vec<i64> = serde_json::from_str(o.stdout.trim()).unwrap();
    let init = c.state()["pid"].as_i64().unwrap();
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(pids.contains(&init));
    let o = c.rt(&["ps", &c.id]);
    o.assert_ok("ps");
    assert!(
        o.stdout.lines().next().unwrap_or("").contains("PID"),
        "{o:?}"
    );
    assert_eq!(o.stdout.lines().count(), 4, "{o:?}");

    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

#[test]
fn failed_create_leaves_no_cgroup() {
    let (mut c, cg) = ctx("cg_failed_create");
    c.set_sh("true");
    c.config(|cfg| {
        cfg["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    });
    let o = c.create();
    o.assert_fail("create with a failing hook");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

/// A nested cgroupsPath makes its parents; `delete --force` removes the ones
/// this create made (runc leaves them), and so does a create that fails.
#[test]
fn nested_cgroups_path_leaves_no_parents() {
    let (mut c, top) = ctx("cg_nested_parents");
    let nested = format!("{top}/a/b/c");
    let cgp = nested.clone();
    c.config(|cfg| cfg["linux"]["cgroupsPath"] = json!(cgp));
    c.set_args(&["sleep", "60"]);
    c.create().assert_ok("create");
    assert!(
        cg_dir(&nested, "pids").is_dir(),
        "the nested cgroup was not made"
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    assert_no_cgroup(&top);

    c.config(|cfg| cfg["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]}));
    c.create().assert_fail("create with a failing hook");
    assert_no_cgroup(&top);
    c.assert_no_leaks();
}

#[test]
fn shared_cgroup_is_refused_unless_annotated() {
    let (mut c, cg) = ctx("cg_shared");
    c.set_sh("sleep 100");
    c.create().assert_ok("create first");
    let other = c.other_id("b");
    let b = c.bundle_s();
    let o = c.rt(&["create", "--bundle", &b, &other]);
    o.assert_fail("second container in the same cgroup");
    assert!(o.stderr.contains("linux.cgroupsPath"), "{o:?}");
    c.config(|cfg| cfg["annotations"] = json!({"org.testa.cgroup.share": "true"}));
    c.rt(&["create", "--bundle", &b, &other])
        .assert_ok("shared on request");
    c.rt(&["delete", "--force", &other])
        .assert_ok("delete second");
    assert!(
        c.state()["status"] == "created",
        "the first container survived"
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete first");
    assert_no_cgroup(&cg);
    c.assert_no_leaks();
}

/// With no cgroupsPath the cgroup is placed below the runtime's own; a
/// later command run from another cgroup must still find it.
#[test]
fn relative_cgroup_found_from_another_cgroup() {
    let mut c = Ctx::new("cg_relative");
    c.set_args(&["sleep", "100"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    // Another cgroup in the hierarchy `pause` uses.
    let other = if is_v2() {
        format!("/sys/fs/cgroup/testa-it-other-{}", c.id)
    } else {
        format!("/sys/fs/cgroup/freezer/testa-it-other-{}", c.id)
    };
    fs::create_dir_all(&other).unwrap();
    let script = format!(
        "echo $$ > {other}/cgroup.procs && exec {} --root {} pause {}",
        bin().display(),
        c.root_s(),
        c.id
    );
    let st = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(st.success(), "pause from another cgroup failed");
    assert_eq!(c.status(), "paused");
    c.rt(&["resume", &c.id]).assert_ok("resume");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    assert!(
        wait_until(T, || fs::remove_dir(&other).is_ok()),
        "{other} busy"
    );
    c.assert_no_leaks();
}
