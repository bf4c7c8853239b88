//! Security fields are honoured or refused, never ignored (issue 10, §3 and §5),
//! each test written as the attack it stops:
//!
//! - a `config.json` without `capabilities` must not run with the runtime's
//!   own (full) sets: absent means none, as runc and crun do;
//! - `exec --cap X` must not reach the inheritable or ambient sets
//!   (CVE-2022-29162), and an `exec --process` file without `capabilities`
//!   takes the container's sets (runc's rule), not the runtime's;
//! - `--preserve-fds N` without fds 3.. passed must not hand the runtime's
//!   own fds (namespace fds, sync socket) to the container;
//! - an AppArmor profile, SELinux label or mount label that this host cannot
//!   enforce is refused before anything is created;
//! - `mounts[].uidMappings` (id-mapped mounts, not implemented) are refused,
//!   not silently dropped.

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;

const CAP_KEYS: [&str; 5] = ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"];

/// The five capability masks of `/proc/<pid>/status` text.
fn cap_sets(status: &str) -> Vec<(&'static str, u64)> {
    CAP_KEYS
        .iter()
        .map(|k| {
            let v = status_field(status, k).unwrap_or_else(|| panic!("no {k} in {status}"));
            (*k, u64::from_str_radix(v, 16).unwrap())
        })
        .collect()
}

/// A running container (init sleeps) with `caps` as its capabilities
/// (`Value::Null`: the `capabilities` object is removed).
fn running(name: &str, caps: Value) -> Ctx {
    let mut c = Ctx::new(name);
    c.config(|cfg| match caps {
        Value::Null => {
            cfg["process"]
                .as_object_mut()
                .unwrap()
                .remove("capabilities");
        }
        caps => cfg["process"]["capabilities"] = caps,
    });
    c.set_args(&["sleep", "1000"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c
}

/// A running container with runc's default capabilities.
fn running_default(name: &str) -> Ctx {
    running(name, default_config()["process"]["capabilities"].clone())
}

/// The capability sets of the container's init, read from the host.
fn init_caps(c: &Ctx) -> Vec<(&'static str, u64)> {
    let pid = c.state()["pid"].as_i64().unwrap();
    cap_sets(&read(format!("/proc/{pid}/status")))
}

fn finish(c: &Ctx) {
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

/// No `capabilities` object: the init has no capability at all, bounding
/// included (runtime-spec: "absent" is the empty set; runc and crun agree).
/// Before the fix the init kept the runtime's full sets.
#[test]
fn no_capabilities_object_means_none() {
    let mut c = Ctx::new("no_caps_object");
    c.config(|cfg| {
        cfg["process"]
            .as_object_mut()
            .unwrap()
            .remove("capabilities");
    });
    let out = c.run_sh("grep -E '^Cap' /proc/self/status");
    for (k, v) in cap_sets(&out) {
        assert_eq!(
            v, 0,
            "{k} must be empty without a capabilities object: {out}"
        );
    }
    // As a non-root user too (nothing may come back through keepcaps).
    c.config(|cfg| cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000}));
    let out = c.run_sh("grep -E '^Cap' /proc/self/status");
    for (k, v) in cap_sets(&out) {
        assert_eq!(v, 0, "uid 1000 {k}: {out}");
    }
    c.assert_no_leaks();
}

/// `exec --cap CAP_SYS_ADMIN` in a container with runc's default sets: the
/// bounding, effective and permitted sets gain it; the inheritable and
/// ambient sets stay the container's (CVE-2022-29162: an inheritable
/// capability survives an exec of a file with inheritable file caps).
/// Before the fix CAP_SYS_ADMIN landed in all five sets.
#[test]
fn exec_cap_never_reaches_inheritable_or_ambient() {
    let c = running_default("exec_cap_narrow");
    let init = init_caps(&c);
    let o = c.rt(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &c.id,
        "grep",
        "-E",
        "^Cap",
        "/proc/self/status",
    ]);
    o.assert_ok("exec --cap");
    let admin = cap_mask(&["CAP_SYS_ADMIN"]);
    for ((k, got), (_, theirs)) in cap_sets(&o.stdout).into_iter().zip(init) {
        let want = match k {
            "CapInh" | "CapAmb" => theirs,
            _ => theirs | admin,
        };
        assert_eq!(
            got, want,
            "{k}: got {got:016x}, want {want:016x}\n{}",
            o.stdout
        );
    }
    finish(&c);
}

/// An `exec --process` file without `capabilities` runs with the container's
/// sets (runc's rule), and a container without any runs its exec with none.
/// Before the fix such a process kept the runtime's full sets. (The process
/// sets `noNewPrivileges` as the init does: without it, root's `execve`
/// refills the permitted set from the bounding set, for runc too.)
#[test]
fn exec_process_without_capabilities_takes_the_containers() {
    let caps = json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    });
    for (name, caps) in [("exec_proc_caps", caps), ("exec_proc_nocaps", Value::Null)] {
        let c = running(name, caps);
        let p = c.dir.join("process.json");
        fs::write(
            &p,
            json!({
                "args": ["grep", "-E", "^Cap", "/proc/self/status"],
                "cwd": "/", "user": {"uid": 0, "gid": 0}, "noNewPrivileges": true
            })
            .to_string(),
        )
        .unwrap();
        let o = c.rt(&["exec", "--process", p.to_str().unwrap(), &c.id]);
        o.assert_ok("exec --process");
        assert_eq!(cap_sets(&o.stdout), init_caps(&c), "{name}: {}", o.stdout);
        finish(&c);
    }
}

/// The refusal of a `--preserve-fds` whose fd 3 was not passed: one line
/// naming the flag and the fd, and nothing ran (no output).
#[track_caller]
fn expect_fd3_refused(o: &Out, what: &str) {
    o.assert_fail(what);
    assert_eq!(o.stdout, "", "nothing may have run: {o:?}");
    expect_one_line_error(o);
    assert!(
        o.stderr.contains("--preserve-fds") && o.stderr.contains("fd 3"),
        "{o:?}"
    );
}

/// `exec --preserve-fds 3` when the caller passed no fd 3..5: refused with
/// one line naming the flag and the fd, and nothing runs in the container.
/// Before the fix the exec ran and saw the runtime's own namespace fds as
/// fds 3, 4, 5.
#[test]
fn exec_preserve_fds_not_passed_is_refused() {
    let c = running_default("exec_preserve_unpassed");
    let o = c.rt(&["exec", "--preserve-fds", "3", &c.id, "ls", "/proc/self/fd"]);
    expect_fd3_refused(&o, "exec --preserve-fds 3 without fds");
    finish(&c);
}

/// `run --log FILE --preserve-fds 1` when the caller passed no fd 3: the
/// runtime's own log file must not become the container's fd 3 (a writable
/// host file). Refused before anything is made. Before the fix the log was
/// opened first, took fd 3, passed the "is fd 3 open" test and the
/// container wrote into it.
#[test]
fn run_preserve_fds_not_passed_is_refused() {
    let mut c = Ctx::new("run_preserve_unpassed");
    c.set_sh("echo PWNED >&3; ls /proc/self/fd");
    let log = c.dir.join("runtime.log");
    let (b, l) = (c.bundle_s(), log.to_str().unwrap().to_string());
    let o = c.rt(&[
        "--log",
        &l,
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        &b,
        &c.id,
    ]);
    expect_fd3_refused(&o, "run --preserve-fds 1 without fd 3");
    let logged = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !logged.contains("PWNED"),
        "the container wrote into the runtime's log: {logged}"
    );
    c.assert_no_leaks();
}

fn apparmor_enabled() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
}

fn selinux_enabled() -> bool {
    read("/proc/self/mounts")
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("selinuxfs"))
}

/// The LSM fields of a config this host cannot honour: `create` refuses
/// them naming the field, before any state dir or cgroup exists. Before the
/// fix they were ignored and the container ran unconfined.
#[test]
fn lsm_fields_the_host_cannot_enforce_are_refused() {
    let cases = [
        (
            "process",
            "apparmorProfile",
            "testa-test",
            apparmor_enabled(),
        ),
        (
            "process",
            "selinuxLabel",
            "system_u:system_r:container_t:s0",
            selinux_enabled(),
        ),
        (
            "linux",
            "mountLabel",
            "system_u:object_r:container_file_t:s0",
            selinux_enabled(),
        ),
    ];
    for (section, key, value, host_has_it) in cases {
        let field = format!("{section}.{key}");
        if host_has_it {
            skip(&format!(
                "{field}: this host has the LSM, the refusal cannot be shown"
            ));
            continue;
        }
        let mut c = Ctx::new("lsm_refused");
        c.config(|cfg| cfg[section][key] = json!(value));
        let o = c.create();
        o.assert_fail(&format!("create with {field}"));
        expect_one_line_error(&o);
        expect_names_field(&o, &field);
        assert!(o.stderr.contains("not supported"), "{o:?}");
        c.assert_no_leaks();
    }
}

/// An `exec --process` file carrying `apparmorProfile` / `selinuxLabel` goes
/// through the same check as the config (before the fix it was ignored and
/// the process ran unconfined).
#[test]
fn exec_process_lsm_fields_are_refused() {
    let c = running_default("exec_lsm_refused");
    for (key, value, host_has_it) in [
        ("apparmorProfile", "testa-test", apparmor_enabled()),
        (
            "selinuxLabel",
            "system_u:system_r:container_t:s0",
            selinux_enabled(),
        ),
    ] {
        if host_has_it {
            skip(&format!("process.{key}: this host has the LSM"));
            continue;
        }
        let p = c.dir.join("process.json");
        let mut process = json!({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}});
        process[key] = json!(value);
        fs::write(&p, process.to_string()).unwrap();
        let o = c.rt(&["exec", "--process", p.to_str().unwrap(), &c.id]);
        o.assert_fail(&format!("exec --process with {key}"));
        expect_one_line_error(&o);
        expect_names_field(&o, key);
    }
    finish(&c);
}

/// `mounts[].uidMappings` asks for an id-mapped mount, which testa does not
/// implement: refused naming the field instead of mounting the source with
/// host ids (before the fix the mappings were dropped and the bind was made).
#[test]
fn mount_id_mappings_are_refused() {
    let mut c = Ctx::new("mount_idmap_refused");
    let src = c.scratch("src");
    c.config(|cfg| {
        let mut m = bind_mount(&src, "/mnt", &[]);
        m["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        m["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        cfg["mounts"].as_array_mut().unwrap().push(m);
    });
    let n = c.config["mounts"].as_array().unwrap().len() - 1;
    let o = c.create();
    o.assert_fail("create with mounts[].uidMappings");
    expect_one_line_error(&o);
    expect_names_field(&o, &format!("mounts[{n}].uidMappings"));
    c.assert_no_leaks();
}
