//! The runtime SIGKILLed at every system call of `create`, `start` and
//! `delete --force` (issue 11): after each kill, `delete --force ID` alone must
//! leave no state directory, cgroup, mount or process, and the id must be
//! reusable.
//!
//! A first run under strace lists the command's calls in order; then, for each
//! position, strace's fault injection kills the runtime there
//! (`inject=NAME:signal=SIGKILL:when=N`, N counting the calls of that NAME,
//! which is how strace counts). Without `-f`: only the runtime itself is killed
//! (its re-execution from the sealed binary keeps its pid, so that is traced
//! too); what it cloned must be cleaned up as if the machine had killed it.
//!
//! About 1,000 kill points in all; under a minute on the 2-core CI machine.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Run the runtime with `args` under strace with one `inject` spec; true when
/// it exited 0 (it was not killed).
fn traced(c: &Ctx, strace_args: &[String], args: &[&str]) -> bool {
    Command::new("strace")
        .args(strace_args)
        .arg(&c.bin)
        .arg("--root")
        .arg(&c.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("strace (Debian's strace package)")
        .success()
}

/// The command's system calls in order, each as (name, its count so far).
fn calls(c: &Ctx, args: &[&str]) -> Vec<(String, usize)> {
    let log = c.dir.join("calls.strace");
    let opts = [
        "-o".to_string(),
        log.to_string_lossy().into_owned(),
        "-qq".into(),
    ];
    assert!(traced(c, &opts, args), "the untouched command failed");
    let mut seen = std::collections::HashMap::<String, usize>::new();
    read(&log)
        .lines()
        .filter_map(|l| {
            let name = l.split('(').next()?;
            (!name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
            .then(|| name.to_string())
        })
        .map(|name| {
            let n = seen.entry(name.clone()).or_default();
            *n += 1;
            (name, *n)
        })
        .collect()
}

/// Kill the runtime at the `n`-th call of `name`.
fn killed_at(c: &Ctx, name: &str, n: usize, args: &[&str]) -> bool {
    let spec = format!("inject={name}:signal=SIGKILL:when={n}");
    traced(
        c,
        &[
            "-o".into(),
            "/dev/null".into(),
            "-qq".into(),
            "-e".into(),
            spec,
        ],
        args,
    )
}

/// After a kill at point `k` of `what`: `delete --force` alone cleans all.
#[track_caller]
fn cleaned(c: &Ctx, what: &str, k: usize) {
    let o = c.rt(&["delete", "--force", &c.id]);
    assert!(
        o.ok(),
        "{what} killed at call {k}: delete --force failed: {o:#?}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || procs_in(&c.rootfs, &c.id)
            .is_empty()),
        "{what} killed at call {k}: processes left"
    );
    c.assert_no_leaks();
}

/// Sweep `what` over every kill point: `before` sets the container up for
/// the command, `args` is the command. Returns the number of points.
fn sweep(c: &Ctx, what: &str, before: impl Fn(&Ctx), args: &[&str]) -> usize {
    before(c);
    let points = calls(c, args);
    cleaned(c, what, 0);
    assert!(
        points.len() > 20,
        "{what}: only {} calls traced",
        points.len()
    );
    let mut killed = 0;
    for (k, (name, n)) in points.iter().enumerate() {
        before(c);
        if !killed_at(c, name, *n, args) {
            killed += 1;
        }
        cleaned(c, &format!("{what} ({name} #{n})"), k + 1);
    }
    // A point the run did not reach (its calls varied) is a run not killed.
    assert!(
        killed * 10 >= points.len() * 9,
        "{what}: only {killed} of {} runs were killed",
        points.len()
    );
    points.len()
}

fn long_running(name: &str) -> Ctx {
    let mut c = Ctx::new(name);
    c.set_args(&["sleep", "600"]);
    c
}

#[test]
fn every_kill_point_of_create_is_cleaned() {
    let c = long_running("sweep_create");
    let b = c.bundle_s();
    let n = sweep(&c, "create", |_| {}, &["create", "--bundle", &b, &c.id]);
    eprintln!("create: {n} kill points");
}

#[test]
fn every_kill_point_of_start_is_cleaned() {
    let c = long_running("sweep_start");
    let n = sweep(
        &c,
        "start",
        |c| {
            c.create().assert_ok("create");
        },
        &["start", &c.id],
    );
    eprintln!("start: {n} kill points");
}

#[test]
fn every_kill_point_of_delete_is_cleaned() {
    let c = long_running("sweep_delete");
    let n = sweep(
        &c,
        "delete --force",
        |c| {
            c.create().assert_ok("create");
            c.start().assert_ok("start");
        },
        &["delete", "--force", &c.id],
    );
    eprintln!("delete --force: {n} kill points");
}
