//! Lifecycle verbs: create/start/state/kill/delete/list/run, and the
//! informational commands (spec, features, --version, --log).

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// `sh` as pid 1 ignores TERM unless it traps it.
const TRAP_LOOP: &str = "trap 'exit 0' TERM; while :; do sleep 0.05; done";

#[test]
fn create_state_start_kill_delete() {
    let mut c = Ctx::new("create_state_start_kill_delete");
    let out = c.scratch("out");
    let script = format!("touch /out/ran; {TRAP_LOOP}");
    c.config(|cfg| {
        cfg["process"]["args"] = json!(["sh", "-c", script]);
        cfg["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind_mount(&out, "/out", &[]));
        cfg["annotations"] = json!({"org.testa.k": "v"});
    });

    c.create().assert_ok("create");
    let st = c.state();
    assert!(
        st["ociVersion"]
            .as_str()
            .map(|s| !s.is_empty())
            .unwrap_or(false),
        "ociVersion: {st}"
    );
    assert_eq!(st["id"], json!(c.id), "{st}");
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().unwrap_or(0);
    assert!(pid > 0, "pid must be > 0: {st}");
    let bundle = st["bundle"].as_str().unwrap_or("");
    assert!(
        Path::new(bundle).is_absolute(),
        "bundle must be absolute: {st}"
    );
    assert_eq!(Path::new(bundle), c.bundle.as_path(), "{st}");
    if let Some(a) = st.get("annotations") {
        assert!(a.is_object(), "annotations must be an object: {st}");
        assert_eq!(a["org.testa.k"], "v", "{st}");
    }
    // The init exists, already lives in the rootfs, and has not run the command.
    let root = fs::metadata(format!("/proc/{pid}/root")).expect("init pid alive");
    let rfs = fs::metadata(&c.rootfs).unwrap();
    assert_eq!(
        (root.dev(), root.ino()),
        (rfs.dev(), rfs.ino()),
        "created init's root is not the rootfs"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !out.join("ran").exists(),
        "the container command ran before start"
    );

    c.start().assert_ok("start");
    assert!(
        wait_until(T, || out.join("ran").exists()),
        "command did not run after start"
    );
    c.wait_status("running", T);
    assert_eq!(
        c.state()["pid"].as_i64().unwrap(),
        pid,
        "pid changed across start"
    );

    c.rt(&["kill", &c.id, "TERM"]).assert_ok("kill TERM");
    c.wait_status("stopped", T);

    c.delete().assert_ok("delete");
    let o = c.rt(&["state", &c.id]);
    assert_ne!(o.code, 0, "state after delete must fail: {o:?}");
    assert!(
        o.stderr.contains("does not exist"),
        "stderr must say 'does not exist': {o:?}"
    );
    c.assert_no_leaks();
}

#[test]
fn list_formats() {
    let mut c = Ctx::new("list_formats");
    c.set_args(&["sleep", "100"]);
    c.create().assert_ok("create");

    let o = c.rt(&["list"]);
    o.assert_ok("list");
    let mut lines = o.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{o:?}"
    );
    let row: Vec<&str> = lines
        .find(|l| l.split_whitespace().next() == Some(c.id.as_str()))
        .unwrap_or_else(|| panic!("no row for {}: {o:?}", c.id))
        .split_whitespace()
        .collect();
    assert_eq!(row[2], "created", "{row:?}");
    assert_eq!(row[3], c.bundle_s(), "{row:?}");
    assert_eq!(row[5], "root", "{row:?}");

    let o = c.rt(&["list", "--format", "json"]);
    o.assert_ok("list --format json");
    let v: Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON {e}: {o:?}"));
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["id"], json!(c.id));
    assert_eq!(arr[0]["status"], "created");
    assert!(arr[0]["pid"].as_i64().unwrap_or(0) > 0);
    assert_eq!(arr[0]["bundle"], json!(c.bundle_s()));

    let o = c.rt(&["list", "-q"]);
    o.assert_ok("list -q");
    assert_eq!(o.stdout.trim(), c.id, "{o:?}");

    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    let o = c.rt(&["list", "-q"]);
    assert_eq!(o.stdout.trim(), "", "{o:?}");
    c.assert_no_leaks();
}

#[test]
fn run_exit_code() {
    let mut c = Ctx::new("run_exit_code");
    c.set_sh("echo hi; exit 3");
    let o = c.run();
    assert_eq!(o.code, 3, "{o:?}");
    assert_eq!(o.stdout, "hi\n");
    c.assert_no_leaks();
}

#[test]
fn run_killed_by_signal_is_128_plus_signal() {
    let mut c = Ctx::new("run_killed_by_signal");
    // Not pid 1 (init of a pid ns ignores signals it has no handler for, even
    // SIGKILL sent from inside), so share the host pid namespace.
    c.config(|cfg| remove_ns(cfg, "pid"));
    c.set_sh("kill -9 $$");
    let o = c.run();
    assert_eq!(o.code, 137, "{o:?}");
    c.assert_no_leaks();
}

#[test]
fn run_detach() {
    let mut c = Ctx::new("run_detach");
    c.set_args(&["sleep", "100"]);
    let b = c.bundle_s();
    let o = c.rt(&["run", "--detach", "--bundle", &b, &c.id]);
    o.assert_ok("run --detach");
    assert_eq!(c.status(), "running");
    c.rt(&["kill", &c.id, "KILL"]).assert_ok("kill");
    c.wait_status("stopped", T);
    c.delete().assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn kill_by_name_and_number() {
    let mut c = Ctx::new("kill_by_name_and_number");
    c.set_args(&["sleep", "100"]);
    let b = c.bundle_s();
    for (i, sig) in ["KILL", "SIGKILL", "9"].iter().enumerate() {
        let id = c.other_id(&format!("k{i}"));
        c.rt(&["run", "-d", "--bundle", &b, &id])
            .assert_ok("run -d");
        c.rt(&["kill", &id, sig]).assert_ok(&format!("kill {sig}"));
        assert!(
            wait_until(T, || c.state_of(&id)["status"] == "stopped"),
            "kill {sig} did not stop the container"
        );
        c.rt(&["delete", &id]).assert_ok("delete");
    }
    c.assert_no_leaks();
}

#[test]
fn delete_running() {
    let mut c = Ctx::new("delete_running");
    c.set_args(&["sleep", "100"]);
    let b = c.bundle_s();
    c.rt(&["run", "-d", "--bundle", &b, &c.id])
        .assert_ok("run -d");
    let pid = c.state()["pid"].as_i64().unwrap();
    let o = c.delete();
    o.assert_fail("delete of a running container without --force");
    assert_eq!(c.status(), "running", "failed delete must leave it running");
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    assert!(
        wait_until(T, || !Path::new(&format!("/proc/{pid}")).exists()),
        "init {pid} still alive"
    );
    c.assert_no_leaks();
}

#[test]
fn start_twice_fails() {
    let mut c = Ctx::new("start_twice_fails");
    c.set_args(&["sleep", "100"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c.start().assert_fail("second start");
    assert_eq!(c.status(), "running");
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

#[test]
fn kill_stopped_fails() {
    let mut c = Ctx::new("kill_stopped_fails");
    c.set_args(&["true"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c.wait_status("stopped", T);
    let o = c.rt(&["kill", &c.id, "KILL"]);
    o.assert_fail("kill of a stopped container");
    assert!(o.stderr.contains("container not running"), "{o:?}");
    c.delete().assert_ok("delete stopped");
    c.assert_no_leaks();
}

#[test]
fn pid_file_written() {
    let mut c = Ctx::new("pid_file_written");
    c.set_args(&["sleep", "100"]);
    let pf = c.dir.join("pidfile");
    let b = c.bundle_s();
    c.rt(&[
        "create",
        "--bundle",
        &b,
        "--pid-file",
        pf.to_str().unwrap(),
        &c.id,
    ])
    .assert_ok("create");
    let content = fs::read_to_string(&pf).expect("pid file written");
    let pid: i64 = content
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file holds {content:?}"));
    assert_eq!(pid, c.state()["pid"].as_i64().unwrap());
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

#[test]
fn options_after_id() {
    let mut c = Ctx::new("options_after_id");
    c.set_args(&["sleep", "100"]);
    let b = c.bundle_s();
    c.rt(&["create", &c.id, "--bundle", &b])
        .assert_ok("create ID --bundle B");
    assert_eq!(c.status(), "created");
    assert_eq!(
        Path::new(c.state()["bundle"].as_str().unwrap()),
        c.bundle.as_path()
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

#[test]
fn spec_writes_config() {
    let c = Ctx::new("spec_writes_config");
    let d = c.scratch("spec");
    let o = c.testa_with(
        &["spec"],
        RunOpts {
            cwd: Some(d.clone()),
            ..Default::default()
        },
    );
    o.assert_ok("spec");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(d.join("config.json")).expect("config.json"))
            .unwrap();
    assert!(
        v["ociVersion"]
            .as_str()
            .map(|s| !s.is_empty())
            .unwrap_or(false),
        "{v}"
    );
    assert!(v["process"]["args"].is_array());
    // spec refuses to overwrite an existing file
    let o = c.testa_with(
        &["spec"],
        RunOpts {
            cwd: Some(d.clone()),
            ..Default::default()
        },
    );
    o.assert_fail("spec over an existing config.json");

    let d2 = c.scratch("spec-b");
    c.testa(&["spec", "--bundle", d2.to_str().unwrap()])
        .assert_ok("spec --bundle");
    assert!(d2.join("config.json").exists());

    let d3 = c.scratch("spec-rootless");
    c.testa(&["spec", "--rootless", "--bundle", d3.to_str().unwrap()])
        .assert_ok("spec --rootless");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(d3.join("config.json")).unwrap()).unwrap();
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    assert!(
        ns.iter().any(|n| n["type"] == "user"),
        "rootless spec lacks a user namespace: {v}"
    );
    assert!(
        v["linux"]["uidMappings"]
            .as_array()
            .map(|a| !a.is_empty())
            .unwrap_or(false),
        "{v}"
    );
}

#[test]
fn features_json() {
    let c = Ctx::new("features_json");
    let o = c.testa(&["features"]);
    o.assert_ok("features");
    let v: Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("features not JSON {e}: {o:?}"));
    assert!(v["ociVersionMin"].is_string(), "{v}");
    assert!(v["ociVersionMax"].is_string(), "{v}");
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup"]
        .into_iter()
        .filter(|n| !ns.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "features linux.namespaces lacks {missing:?}: {ns:?}"
    );
}

#[test]
fn version_mentions_spec() {
    let c = Ctx::new("version_mentions_spec");
    let o = c.testa(&["--version"]);
    o.assert_ok("--version");
    assert!(o.stdout.contains("spec"), "{o:?}");
}

#[test]
fn log_json_format() {
    let c = Ctx::new("log_json_format");
    let log = c.dir.join("log.json");
    let root = c.root_s();
    let o = c.testa(&[
        "--root",
        &root,
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "no-such-ctr",
    ]);
    o.assert_fail("state of a missing container");
    let text = fs::read_to_string(&log).expect("log file written");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "log file empty");
    for l in &lines {
        let v: Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line not JSON ({e}): {l:?}"));
        for k in ["level", "msg", "time"] {
            assert!(v.get(k).is_some(), "log line lacks {k}: {l}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"error\"") && l.contains("does not exist")),
        "no error line saying 'does not exist': {lines:?}"
    );
}

/// runc's default: the container joins a session keyring of its own,
/// `_ses.<id>` (visible to host root in /proc/keys); `--no-new-keyring`
/// keeps the caller's.
#[test]
fn session_keyring() {
    if !std::path::Path::new("/proc/keys").exists() {
        skip("kernel without /proc/keys (CONFIG_KEYS)");
        return;
    }
    let mut c = Ctx::new("session_keyring");
    c.set_args(&["sleep", "100"]);
    let b = c.bundle_s();
    let name = format!("_ses.{}", c.id);
    c.create().assert_ok("create");
    assert!(
        fs::read_to_string("/proc/keys").unwrap().contains(&name),
        "no {name} keyring"
    );
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    let other = c.other_id("nokeys");
    c.rt(&["create", "--no-new-keyring", "--bundle", &b, &other])
        .assert_ok("create --no-new-keyring");
    assert!(!fs::read_to_string("/proc/keys")
        .unwrap()
        .contains(&format!("_ses.{other}")));
    c.rt(&["delete", "--force", &other]).assert_ok("delete");
    c.assert_no_leaks();
}

/// Processes of the container other than its init, seen from the host:
/// those in the init's pid namespace.
fn other_procs_in_pid_ns(init: i64) -> Vec<i64> {
    // A reaped init (a real init reaps orphans at once) leaves nobody.
    let Ok(ns) = fs::read_link(format!("/proc/{init}/ns/pid")) else {
        return Vec::new();
    };
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok())
        .filter(|p| *p != init)
        .filter(|p| fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_ref() == Some(&ns))
        .filter(|p| {
            // zombies are dead already
            fs::read_to_string(format!("/proc/{p}/stat"))
                .map(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false)
        })
        .collect()
}

/// `kill` signals the init only; `kill --all` every process of the container.
#[test]
fn kill_all_reaches_every_process() {
    let mut c = Ctx::new("kill_all");
    // pid 1 ignores TERM (no handler); its two children do not.
    c.set_sh("sleep 100 & sleep 100 & wait");
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    let init = c.state()["pid"].as_i64().unwrap();
    assert!(
        wait_until(T, || other_procs_in_pid_ns(init).len() == 2),
        "children not started"
    );
    c.rt(&["kill", &c.id, "TERM"]).assert_ok("kill TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        other_procs_in_pid_ns(init).len(),
        2,
        "kill without --all reached the children"
    );
    c.rt(&["kill", "--all", &c.id, "TERM"])
        .assert_ok("kill --all TERM");
    assert!(
        wait_until(T, || other_procs_in_pid_ns(init).is_empty()),
        "kill --all left {:?}",
        other_procs_in_pid_ns(init)
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

/// The systemd cgroup driver does not exist yet: refused, nothing created.
#[test]
fn systemd_cgroup_is_refused() {
    let mut c = Ctx::new("systemd_cgroup");
    c.set_sh("true");
    let b = c.bundle_s();
    let o = c.rt(&["--systemd-cgroup", "run", "--bundle", &b, &c.id]);
    o.assert_fail("--systemd-cgroup run");
    assert!(o.stderr.contains("systemd"), "{o:?}");
    c.assert_no_leaks();
}

/// A foreground `run` forwards the signals it gets to the container process
/// and exits with the container's status.
#[test]
fn run_forwards_signals() {
    use std::process::{Command, Stdio};
    let mut c = Ctx::new("run_forwards_signals");
    let ready = c.scratch("out");
    c.config(|cfg| {
        cfg["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind_mount(&ready, "/out", &["rw"]));
    });
    c.set_sh("trap 'exit 7' TERM; touch /out/ready; while :; do sleep 0.1; done");
    let mut child = Command::new(bin())
        .args([
            "--root",
            &c.root_s(),
            "run",
            "--bundle",
            &c.bundle_s(),
            &c.id,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(T, || ready.join("ready").exists()),
        "container never started"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7), "{status:?}");
    c.assert_no_leaks();
}
