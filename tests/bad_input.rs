//! Bad input is refused with a non-zero exit, one error line naming the
//! problem, and nothing left behind (state dir, mounts, processes, cgroups).
//!
//! The `expect_names_field` assertions check testa's promise to name the JSON
//! path of the bad field; runc words its errors differently, so those fail
//! against runc by design (set TESTA_IT_LENIENT_WORDING=1 to only print them).

mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// The checks every rejection must pass.
#[track_caller]
fn rejected(c: &Ctx, o: &Out, id: &str) {
    o.assert_fail("bad input");
    expect_one_line_error(o);
    assert!(!c.root.join(id).exists(), "state dir left for {id}");
    c.assert_no_leaks();
}

#[test]
fn missing_config_json() {
    let c = Ctx::new("missing_config_json");
    fs::remove_file(c.bundle.join("config.json")).unwrap();
    let o = c.create();
    rejected(&c, &o, &c.id);
    expect_names_field(&o, "config.json");
}

#[test]
fn invalid_json() {
    let c = Ctx::new("invalid_json");
    fs::write(
        c.bundle.join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": {",
    )
    .unwrap();
    let o = c.create();
    rejected(&c, &o, &c.id);
    expect_names_field(&o, "config.json");
}

#[test]
fn unknown_namespace_type() {
    let mut c = Ctx::new("unknown_namespace_type");
    c.config(|cfg| {
        cfg["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogus"}))
    });
    let o = c.create();
    rejected(&c, &o, &c.id);
    assert!(
        o.stderr.contains("bogus"),
        "error must name the bad value: {o:?}"
    );
    expect_names_field(&o, "linux.namespaces");
}

#[test]
fn bind_mount_missing_source() {
    let mut c = Ctx::new("bind_mount_missing_source");
    let missing = c.dir.join("no-such-source");
    let idx = c.config["mounts"].as_array().unwrap().len();
    c.config(|cfg| {
        cfg["mounts"]
            .as_array_mut()
            .unwrap()
            .push(bind_mount(&missing, "/mnt", &[]))
    });
    let o = c.create();
    rejected(&c, &o, &c.id);
    assert!(
        o.stderr.contains("no-such-source"),
        "error must name the path: {o:?}"
    );
    assert!(
        !c.rootfs.join("mnt").exists()
            || c.rootfs
                .join("mnt")
                .read_dir()
                .map(|mut d| d.next().is_none())
                .unwrap_or(true)
    );
    expect_names_field(&o, &format!("mounts[{idx}].source"));
}

#[test]
fn empty_args() {
    let mut c = Ctx::new("empty_args");
    c.config(|cfg| cfg["process"]["args"] = json!([]));
    let o = c.create();
    rejected(&c, &o, &c.id);
    expect_names_field(&o, "process.args");
}

#[test]
fn args_not_in_rootfs() {
    let mut c = Ctx::new("args_not_in_rootfs");
    c.config(|cfg| cfg["process"]["args"] = json!(["/usr/bin/not-in-rootfs"]));
    let o = c.create();
    rejected(&c, &o, &c.id);
    assert!(
        o.stderr.contains("/usr/bin/not-in-rootfs"),
        "error must name the path: {o:?}"
    );
    expect_names_field(&o, "process.args");
}

#[test]
fn duplicate_id() {
    let mut c = Ctx::new("duplicate_id");
    c.set_args(&["sleep", "100"]);
    c.create().assert_ok("first create");
    let pid = c.state()["pid"].as_i64().unwrap();
    let o = c.create();
    o.assert_fail("second create with the same id");
    expect_one_line_error(&o);
    assert!(
        o.stderr.contains("already exists"),
        "runc's wording is 'already exists': {o:?}"
    );
    // the first container is untouched
    let st = c.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"].as_i64().unwrap(), pid);
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
    expect_names_field(&o, &c.id);
}

#[test]
fn invalid_ids() {
    let c = Ctx::new("invalid_ids");
    let b = c.bundle_s();
    for bad in ["a/b", "..", ".", "", "../escape"] {
        let o = c.rt(&["create", "--bundle", &b, bad]);
        o.assert_fail(&format!("create with id {bad:?}"));
        expect_one_line_error(&o);
        assert!(!c.dir.join("escape").exists(), "id escaped the state root");
        c.assert_no_leaks();
    }
}

#[test]
fn start_not_created() {
    let c = Ctx::new("start_not_created");
    let o = c.rt(&["start", &c.id]);
    rejected(&c, &o, &c.id);
    assert!(o.stderr.contains("does not exist"), "{o:?}");
}

#[test]
fn kill_stopped() {
    let mut c = Ctx::new("kill_stopped");
    c.set_args(&["true"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c.wait_status("stopped", std::time::Duration::from_secs(10));
    let o = c.rt(&["kill", &c.id, "TERM"]);
    o.assert_fail("kill of a stopped container");
    expect_one_line_error(&o);
    assert!(o.stderr.contains("container not running"), "{o:?}");
    assert_eq!(c.status(), "stopped");
    c.delete().assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn kill_and_delete_unknown() {
    let c = Ctx::new("kill_and_delete_unknown");
    for args in [
        vec!["kill", "nope-unknown"],
        vec!["delete", "nope-unknown"],
        vec!["state", "nope-unknown"],
    ] {
        let o = c.rt(&args);
        rejected(&c, &o, "nope-unknown");
        assert!(o.stderr.contains("does not exist"), "{args:?}: {o:?}");
    }
    // delete --force of an unknown id succeeds silently (runc behaviour containerd relies on)
    let o = c.rt(&["delete", "--force", "nope-unknown"]);
    o.assert_ok("delete --force of an unknown id");
}

/// A runtime killed with SIGKILL in the middle of `create` (here: while its
/// createRuntime hook runs) leaves no process behind (the init dies with
/// it), and the next command on the state root clears its directory.
#[test]
fn runtime_killed_mid_create_leaves_nothing() {
    use std::process::{Command, Stdio};
    let mut c = Ctx::new("runtime_killed_mid_create");
    let marker = c.scratch("hook").join("started");
    let hook_pid = c.scratch("hook").join("pid");
    let script = format!(
        "echo $$ > {}; touch {}; exec sleep 30",
        hook_pid.display(),
        marker.display()
    );
    c.set_args(&["sleep", "100"]);
    c.config(|cfg| {
        cfg["hooks"] =
            json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    });
    let mut child = Command::new(bin())
        .args([
            "--root",
            &c.root_s(),
            "create",
            "--bundle",
            &c.bundle_s(),
            &c.id,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the runtime");
    assert!(
        wait_until(T, || marker.exists()),
        "createRuntime hook never started"
    );
    child.kill().expect("SIGKILL the runtime");
    child.wait().unwrap();
    // The hook's `sleep` is the hook's business; the container init must go.
    // Before pivot_root the init is a fork of the runtime: same command line.
    let init_cmdline = format!("create --bundle {} {}", c.bundle_s(), c.id);
    assert!(
        wait_until(T, || procs_in(&c.rootfs, &init_cmdline).is_empty()),
        "container init outlived the runtime: {:?}",
        procs_in(&c.rootfs, &init_cmdline)
    );
    let o = c.rt(&["list", "-q"]);
    o.assert_ok("list after the kill");
    assert_eq!(o.stdout, "", "a half-created container is listed");
    let o = c.rt(&["state", &c.id]);
    o.assert_fail("state of the half-created container");
    assert!(o.stderr.contains("does not exist"), "{o:?}");
    // The orphaned hook is not the runtime's to kill; the test cleans it up.
    if let Ok(pid) = fs::read_to_string(&hook_pid) {
        let _ = Command::new("kill").arg(pid.trim()).status();
        let proc_dir = format!("/proc/{}", pid.trim());
        wait_until(T, || !std::path::Path::new(&proc_dir).exists());
    }
    c.assert_no_leaks();
}

/// `update --resources` with JSON that is not an object, or a section that is
/// not one, is one line naming the place (it once panicked with SIGABRT).
#[test]
fn update_resources_of_the_wrong_shape() {
    let mut c = Ctx::new("update_resources_shape");
    c.set_args(&["sleep", "60"]);
    c.create().assert_ok("create");
    for (json, field) in [
        ("5", "--resources"),
        ("[]", "--resources"),
        (r#"{"memory": 5}"#, "--resources.memory"),
        (r#"{"pids": {"limit": "lots"}}"#, "--resources.pids.limit"),
    ] {
        let f = c.dir.join("r.json");
        fs::write(&f, json).unwrap();
        let path = f.to_string_lossy().into_owned();
        let o = c.rt(&["update", "--resources", &path, "--memory", "64m", &c.id]);
        o.assert_fail(json);
        assert!(o.code < 128, "{json}: killed by a signal: {o:?}");
        expect_one_line_error(&o);
        expect_names_field(&o, field);
    }
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

/// Wrong-typed fields keep their JSON path, even when serde calls the error a
/// syntax error; a top-level array is not an empty spec.
#[test]
fn config_errors_keep_the_field_path() {
    let mut c = Ctx::new("config_field_path");
    c.config(|cfg| cfg["linux"]["namespaces"][0]["type"] = json!(5));
    let o = c.create();
    rejected(&c, &o, &c.id);
    expect_names_field(&o, "linux.namespaces[0].type");

    fs::write(c.bundle.join("config.json"), "[]").unwrap();
    let o = c.create();
    rejected(&c, &o, &c.id);
    expect_names_field(&o, "config.json");
}

/// More supplementary groups than the kernel takes are refused in the plan,
/// naming the field (the init's error once outgrew the channel and read
/// "container init exited unexpectedly").
#[test]
fn too_many_additional_gids() {
    let mut c = Ctx::new("too_many_gids");
    let gids: Vec<u32> = (0..70_000).collect();
    c.config(|cfg| cfg["process"]["user"]["additionalGids"] = json!(gids));
    let o = c.create();
    rejected(&c, &o, &c.id);
    expect_names_field(&o, "process.user.additionalGids");
}

/// A mount destination longer than the kernel takes is named as the field.
#[test]
fn mount_destination_too_long() {
    let mut c = Ctx::new("mount_dest_too_long");
    let idx = c.config["mounts"].as_array().unwrap().len();
    let long = format!("/{}", "d/".repeat(2100));
    c.config(|cfg| {
        cfg["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": long, "type": "tmpfs", "source": "tmpfs"}))
    });
    let o = c.create();
    rejected(&c, &o, &c.id);
    expect_names_field(&o, &format!("mounts[{idx}].destination"));
}

/// A usage mistake is one line and exit 1, like every other error (the fuzz
/// target found clap's multi-line usage with exit 2).
#[test]
fn usage_mistakes_are_one_line() {
    let c = Ctx::new("usage_one_line");
    for args in [&["state", "-1:-1"][..], &["kill"][..], &["frobnicate"][..]] {
        let o = c.rt(args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        expect_one_line_error(&o);
    }
}
