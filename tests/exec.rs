//! `exec`: a new process in a running container shares its namespaces,
//! cgroup, user and security settings; flags override them; exit codes,
//! fds and errors behave as runc's.

mod common;
use common::*;
use serde_json::json;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A running container whose init sleeps.
fn running(name: &str) -> Ctx {
    let mut c = Ctx::new(name);
    c.config(|cfg| {
        cfg["hostname"] = json!("exec-host");
        cfg["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
        });
        cfg["process"]["noNewPrivileges"] = json!(true);
    });
    c.set_args(&["sleep", "1000"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c
}

fn exec(c: &Ctx, args: &[&str]) -> Out {
    let mut v = vec!["exec"];
    v.extend_from_slice(args);
    c.rt(&v)
}

fn host(path: String) -> String {
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn link(path: String) -> String {
    fs::read_link(&path).unwrap().to_string_lossy().into_owned()
}

#[test]
fn exec_joins_namespaces_cgroup_and_identity() {
    let c = running("exec_joins");
    let init = c.state()["pid"].as_i64().unwrap();
    let o = exec(
        &c,
        &[&c.id, "sh", "-c", "for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done; hostname; cat /proc/self/cgroup; id -u; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; cat /proc/self/mountinfo | wc -l"],
    );
    o.assert_ok("exec");
    let mut want = String::new();
    for n in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        want += &format!("{}\n", link(format!("/proc/{init}/ns/{n}")));
    }
    want += "exec-host\n";
    assert!(o.stdout.starts_with(&want), "{o:?}\nwant prefix {want}");
    // the same cgroup as the init, seen from the same cgroup namespace
    let rest: Vec<&str> = o.stdout[want.len()..].lines().collect();
    let status = host(format!("/proc/{init}/status"));
    for key in [
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ] {
        let theirs = status_field(&status, key).unwrap();
        let line = rest
            .iter()
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap_or_else(|| panic!("no {key} in {o:?}"));
        assert_eq!(line.split_whitespace().nth(1), Some(theirs), "{key}: {o:?}");
    }
    assert!(rest.contains(&"0"), "uid 0 expected: {rest:?}");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn exec_process_in_container_cgroup_and_ps() {
    let c = running("exec_cgroup_ps");
    let init = c.state()["pid"].as_i64().unwrap();
    let pidfile = c.dir.join("exec.pid");
    exec(
        &c,
        &[
            "--detach",
            "--pid-file",
            pidfile.to_str().unwrap(),
            &c.id,
            "sleep",
            "500",
        ],
    )
    .assert_ok("exec --detach");
    let pid: i64 = read(&pidfile).trim().parse().unwrap();
    assert_eq!(
        host(format!("/proc/{pid}/cgroup")),
        host(format!("/proc/{init}/cgroup"))
    );
    let o = c.rt(&["ps", "--format", "json", &c.id]);
    o.assert_ok("ps");
    let pids: Vec<i64> = serde_json::from_str(o.stdout.trim()).unwrap();
    assert!(pids.contains(&pid) && pids.contains(&init), "{pids:?}");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    assert!(wait_until(T, || !std::path::Path::new(&format!(
        "/proc/{pid}"
    ))
    .exists()));
    c.assert_no_leaks();
}

#[test]
fn exec_user_cwd_env_and_exit_code() {
    let c = running("exec_overrides");
    let o = exec(
        &c,
        &[
            "--user",
            "1000:1000",
            "--cwd",
            "/tmp",
            "--env",
            "FOO=bar",
            &c.id,
            "sh",
            "-c",
            "id -u; id -g; pwd; echo $FOO; exit 5",
        ],
    );
    assert_eq!(o.code, 5, "{o:?}");
    assert_eq!(o.stdout, "1000\n1000\n/tmp\nbar\n");
    let o = exec(&c, &[&c.id, "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.code, 128 + 15, "{o:?}");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn exec_with_process_json() {
    let c = running("exec_process_json");
    let p = c.dir.join("process.json");
    fs::write(
        &p,
        json!({
            "args": ["sh", "-c", "echo $ONE; id -u"],
            "env": ["PATH=/bin", "ONE=1"],
            "cwd": "/",
            "user": {"uid": 1000, "gid": 1000}
        })
        .to_string(),
    )
    .unwrap();
    let o = exec(&c, &["--process", p.to_str().unwrap(), &c.id]);
    o.assert_ok("exec --process");
    assert_eq!(o.stdout, "1\n1000\n");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn exec_fds_only_stdio_and_preserved() {
    let c = running("exec_fds");
    let f3 = c.dir.join("three");
    fs::write(&f3, "three\n").unwrap();
    let (a, leak) = (
        File::open(&f3).unwrap(),
        File::open("/etc/hostname").unwrap(),
    );
    let o = c.rt_with(
        &["exec", &c.id, "ls", "/proc/self/fd"],
        RunOpts {
            fds: vec![(7, leak.as_raw_fd())],
            ..Default::default()
        },
    );
    o.assert_ok("exec ls");
    let fds: Vec<u32> = o
        .stdout
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(fds, [0, 1, 2, 3], "{o:?}");
    let o = c.rt_with(
        &["exec", "--preserve-fds", "1", &c.id, "sh", "-c", "cat <&3"],
        RunOpts {
            fds: vec![(3, a.as_raw_fd())],
            ..Default::default()
        },
    );
    o.assert_ok("exec --preserve-fds");
    assert_eq!(o.stdout, "three\n");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn exec_into_paused_or_stopped_fails() {
    let c = running("exec_paused_stopped");
    c.rt(&["pause", &c.id]).assert_ok("pause");
    let o = exec(&c, &[&c.id, "true"]);
    o.assert_fail("exec into a paused container");
    assert!(o.stderr.contains("paused"), "{o:?}");
    c.rt(&["resume", &c.id]).assert_ok("resume");
    c.rt(&["kill", &c.id, "KILL"]).assert_ok("kill");
    c.wait_status("stopped", T);
    let o = exec(&c, &[&c.id, "true"]);
    o.assert_fail("exec into a stopped container");
    assert!(
        o.stderr
            .contains("cannot exec a container that has stopped"),
        "{o:?}"
    );
    c.rt(&["delete", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

/// Missing or non-executable programs fail with runc's texts, which
/// podman and containerd match to choose exit codes 127 and 126.
#[test]
fn exec_errors_read_like_runc() {
    let c = running("exec_errors");
    let o = exec(&c, &[&c.id, "/nonexistent"]);
    o.assert_fail("exec /nonexistent");
    assert!(
        o.stderr
            .contains("exec: \\\"/nonexistent\\\": stat /nonexistent: no such file or directory"),
        "{o:?}"
    );
    let o = exec(&c, &[&c.id, "/etc/passwd"]);
    o.assert_fail("exec /etc/passwd");
    assert!(
        o.stderr
            .contains("exec: \\\"/etc/passwd\\\": permission denied"),
        "{o:?}"
    );
    let o = exec(&c, &[&c.id, "nosuchcmd"]);
    o.assert_fail("exec nosuchcmd");
    assert!(
        o.stderr
            .contains("exec: \\\"nosuchcmd\\\": executable file not found in $PATH"),
        "{o:?}"
    );
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}
