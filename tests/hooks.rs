//! OCI hooks: order, the state on stdin, timeouts, failing poststop.

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

const HOOK_SH: &str = r#"name="$1"; log="$2"
state=$(cat | tr -d '\n')
printf '%s %s\n' "$name" "$state" >> "$log"
"#;

fn hook(script: &Path, log: &Path, name: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", script.to_string_lossy(), name, log.to_string_lossy()],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    })
}

fn logged(log: &Path) -> Vec<(String, Value)> {
    read(log)
        .lines()
        .map(|l| {
            let (name, st) = l.split_once(' ').unwrap_or((l, ""));
            let v: Value = serde_json::from_str(st)
                .unwrap_or_else(|e| panic!("hook {name}: stdin was not state JSON ({e}): {st:?}"));
            (name.to_string(), v)
        })
        .collect()
}

#[test]
fn all_hooks_in_order_with_state() {
    let mut c = Ctx::new("all_hooks_in_order");
    // the dir is bind-mounted at the same path: createContainer/startContainer
    // run in the container's mount namespace
    let hk = c.scratch("hooks");
    let script = hk.join("hook.sh");
    let log = hk.join("log");
    fs::write(&script, HOOK_SH).unwrap();
    let hk_s = hk.to_string_lossy().to_string();
    c.config(|cfg| {
        cfg["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind_mount(&hk, &hk_s, &[]));
        let mut hooks = json!({});
        for h in HOOKS {
            hooks[h] = json!([hook(&script, &log, h)]);
        }
        cfg["hooks"] = hooks;
        cfg["process"]["args"] = json!(["true"]);
    });
    let names = |v: &[(String, Value)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();

    c.create().assert_ok("create");
    // runc 1.1.5 runs poststart here already (fixed in runc 1.2): the spec says after start
    assert_eq!(
        names(&logged(&log)),
        ["prestart", "createRuntime", "createContainer"],
        "after create"
    );
    c.start().assert_ok("start");
    c.wait_status("stopped", Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(5), || logged(&log).len() >= 5),
        "poststart not run: {:?}",
        read(&log)
    );
    assert_eq!(
        names(&logged(&log)),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart"
        ],
        "after start"
    );
    c.delete().assert_ok("delete");
    let all = logged(&log);
    assert_eq!(names(&all), HOOKS, "after delete");
    let pid0 = all[0].1["pid"].as_i64().unwrap_or(0);
    for (name, st) in &all {
        assert_eq!(st["id"], json!(c.id), "{name}: {st}");
        assert_eq!(
            Path::new(st["bundle"].as_str().unwrap_or("")),
            c.bundle.as_path(),
            "{name}: {st}"
        );
        assert!(st["ociVersion"].is_string(), "{name}: {st}");
        assert!(st["status"].is_string(), "{name}: {st}");
        // runc reports pid 1 (its pid-ns view) to the in-container hooks; compare
        // the host-side ones only
        if matches!(name.as_str(), "prestart" | "createRuntime" | "poststart") {
            assert_eq!(
                st["pid"].as_i64().unwrap_or(0),
                pid0,
                "{name}: pid differs: {st}"
            );
        }
    }
    assert!(pid0 > 0, "prestart state has no pid");
    c.assert_no_leaks();
}

#[test]
fn hook_timeout_fails_create_and_cleans_up() {
    let mut c = Ctx::new("hook_timeout");
    let marker = format!("4.{}", std::process::id());
    let m = marker.clone();
    c.config(|cfg| {
        cfg["hooks"] = json!({"createRuntime": [{
            "path": "/bin/sh", "args": ["sh", "-c", format!("exec sleep {m}")], "timeout": 1
        }]});
        cfg["process"]["args"] = json!(["true"]);
    });
    let t = Instant::now();
    let o = c.create();
    let took = t.elapsed();
    o.assert_fail("create with a hook that times out");
    assert!(
        took < Duration::from_secs(4),
        "create took {took:?}: the 1 s timeout was not enforced"
    );
    assert!(
        o.stderr.to_lowercase().contains("timed out") || o.stderr.contains("timeout"),
        "{o:?}"
    );
    let hook_alive = || procs_in(Path::new("/nonexistent"), &format!("sleep {marker}")).len();
    assert!(
        wait_until(Duration::from_secs(2), || hook_alive() == 0),
        "timed-out hook process still running"
    );
    c.assert_no_leaks();
}

#[test]
fn failing_poststop_is_only_a_warning() {
    let mut c = Ctx::new("failing_poststop");
    c.config(|cfg| {
        cfg["hooks"] = json!({"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "echo boom >&2; exit 1"]}]});
        cfg["process"]["args"] = json!(["true"]);
    });
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c.wait_status("stopped", Duration::from_secs(10));
    let o = c.delete();
    o.assert_ok("delete with failing poststop");
    let st = c.rt(&["state", &c.id]);
    st.assert_fail("state after delete");
    c.assert_no_leaks();
}

#[test]
fn failing_prestart_fails_create_and_cleans_up() {
    let mut c = Ctx::new("failing_prestart");
    c.config(|cfg| {
        cfg["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}]});
        cfg["process"]["args"] = json!(["true"]);
    });
    c.create().assert_fail("create with failing prestart");
    c.assert_no_leaks();
}
