//! Races on one container id and runtimes killed at any step (issue 11):
//! a state dir is never visible unlocked and empty, a command removes only
//! what it made and still holds, and `delete --force ID` alone cleans what
//! any killed command left under that id.

mod common;
use common::*;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// Stall a create 300 ms at its first flock (taking its directory's lock).
const DELAY_FLOCK: &str = "flock:delay_enter=300000:when=1";

/// A runtime command started in the background, output in files (a
/// container inherits stdout/stderr, so pipes would never see EOF).
struct Bg {
    child: Child,
    err: PathBuf,
}

impl Bg {
    fn start(c: &Ctx, tag: &str, prefix: &[&str], args: &[&str]) -> Bg {
        let err = c.dir.join(format!("{tag}.err"));
        let (prog, pre) = match prefix.split_first() {
            Some((p, rest)) => (PathBuf::from(p), rest),
            None => (c.bin.clone(), &[][..]),
        };
        let mut cmd = Command::new(prog);
        cmd.args(pre);
        if !prefix.is_empty() {
            cmd.arg(&c.bin);
        }
        let child = cmd
            .arg("--root")
            .arg(&c.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(c.dir.join(format!("{tag}.out"))).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn runtime");
        Bg { child, err }
    }

    fn finish(mut self) -> Out {
        let mut status = None;
        assert!(
            wait_until(CMD_TIMEOUT, || {
                status = self.child.try_wait().unwrap();
                status.is_some()
            }),
            "command did not finish"
        );
        use std::os::unix::process::ExitStatusExt;
        let st = status.unwrap();
        Out {
            code: st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
            stdout: String::new(),
            stderr: fs::read_to_string(&self.err).unwrap_or_default(),
        }
    }
}

/// Not `-f`: the runtime re-executes itself in place (same pid), and a
/// traced container init would keep strace alive until the init exits.
fn strace_inject(spec: &str) -> Vec<String> {
    ["strace", "-o", "/dev/null", "-qq", "-e"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("inject={spec}")])
        .collect()
}

/// Run the runtime under strace with one injection (a delay, or SIGKILL).
fn traced(c: &Ctx, tag: &str, spec: &str, args: &[&str]) -> Bg {
    let pre = strace_inject(spec);
    let pre: Vec<&str> = pre.iter().map(|s| s.as_str()).collect();
    Bg::start(c, tag, &pre, args)
}

/// `create --bundle B ID` in the background, under strace with `inject`
/// when given.
fn create_bg(c: &Ctx, tag: &str, inject: Option<&str>) -> Bg {
    let b = c.bundle_s();
    let args = ["create", "--bundle", b.as_str(), c.id.as_str()];
    match inject {
        Some(spec) => traced(c, tag, spec, &args),
        None => Bg::start(c, tag, &[], &args),
    }
}

fn entries(c: &Ctx) -> Vec<String> {
    fs::read_dir(&c.root)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The one winner's container is intact: `state` reads it, its init lives,
/// and `delete --force` alone removes everything.
#[track_caller]
fn assert_winner_intact_then_clean(c: &Ctx) {
    let st = c.state();
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().unwrap();
    assert!(
        PathBuf::from(format!("/proc/{pid}")).exists(),
        "init {pid} gone"
    );
    assert!(
        !cgroups_named(&c.id).is_empty(),
        "the winner's cgroup is gone"
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

#[track_caller]
fn assert_exactly_one_won(outs: &[Out]) {
    let won = outs.iter().filter(|o| o.ok()).count();
    assert_eq!(won, 1, "exactly one create must win: {outs:#?}");
    for o in outs.iter().filter(|o| !o.ok()) {
        assert!(
            o.stderr.contains("already exists"),
            "a losing create must fail with runc's \"already exists\": {o:#?}"
        );
    }
}

#[test]
fn parallel_creates_of_one_id_one_wins() {
    let c = Ctx::new("conc_parallel_create");
    let bgs: Vec<Bg> = (0..50)
        .map(|i| create_bg(&c, &format!("create{i}"), None))
        .collect();
    let outs: Vec<Out> = bgs.into_iter().map(Bg::finish).collect();
    assert_exactly_one_won(&outs);
    assert_winner_intact_then_clean(&c);
}

#[test]
fn create_racing_a_delayed_create_of_the_same_id() {
    let c = Ctx::new("conc_delayed_create");
    // The first create stalls 300 ms at its first flock: its directory
    // exists (or, with a private temp dir, is about to be claimed).
    let first = create_bg(&c, "first", Some(DELAY_FLOCK));
    assert!(
        wait_until(T, || !entries(&c).is_empty()),
        "the first create never made a directory"
    );
    let second = create_bg(&c, "second", None).finish();
    let first = first.finish();
    assert_exactly_one_won(&[first, second]);
    assert_winner_intact_then_clean(&c);
}

#[test]
fn list_and_state_during_a_create_never_remove_it() {
    let c = Ctx::new("conc_list_during_create");
    let create = create_bg(&c, "create", Some(DELAY_FLOCK));
    assert!(
        wait_until(T, || !entries(&c).is_empty()),
        "create never made a directory"
    );
    let mut create = create;
    let mut rounds = 0;
    while create.child.try_wait().unwrap().is_none() {
        c.rt(&["list"]);
        c.rt(&["state", &c.id]);
        rounds += 1;
        assert!(rounds < 2000, "create never finished");
    }
    let out = create.finish();
    assert!(rounds > 1, "the hammer never overlapped the create");
    out.assert_ok("create hammered by list and state");
    assert_winner_intact_then_clean(&c);
}

/// SIGKILL the runtime at the `when`-th call of `syscall` during create;
/// `delete --force ID` alone must then clean everything and the id be reusable.
fn killed_create_is_cleaned_by_delete(name: &str, syscall: &str) {
    let c = Ctx::new(name);
    let spec = format!("{syscall}:signal=SIGKILL");
    let out = create_bg(&c, "killed", Some(&spec)).finish();
    assert_ne!(out.code, 0, "the runtime was not killed: {out:#?}");
    assert!(
        !entries(&c).is_empty(),
        "the kill point left nothing to clean (test too late or too early)"
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force after a killed create");
    wait_until(T, || procs_in(&c.rootfs, &c.id).is_empty());
    c.assert_no_leaks();
    c.create().assert_ok("create of the id again");
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

#[test]
fn create_killed_once_its_dir_exists() {
    // The first flock follows the state directory's mkdir.
    killed_create_is_cleaned_by_delete("conc_kill_after_dir", "flock:when=1");
}

#[test]
fn create_killed_once_its_cgroup_exists() {
    // The init is cloned once the cgroup is made.
    killed_create_is_cleaned_by_delete("conc_kill_after_cgroup", "clone,clone3:when=1");
}

#[test]
fn start_killed_after_opening_the_fifo() {
    let mut c = Ctx::new("conc_kill_start");
    c.set_sh("trap 'exit 0' TERM; while :; do sleep 0.05; done");
    c.create().assert_ok("create");
    // Killed at its second poll (Rust's start-up polls stdio first): the
    // FIFO is open and the init released.
    let out = traced(&c, "start", "poll:signal=SIGKILL:when=2", &["start", &c.id]).finish();
    assert_ne!(out.code, 0, "start was not killed: {out:#?}");
    let status = c.status();
    assert_ne!(
        status, "created",
        "the program was released but state says created"
    );
    let again = c.start();
    again.assert_fail("a second start");
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}

#[test]
fn delete_force_of_a_paused_container() {
    let mut c = Ctx::new("conc_delete_paused");
    c.set_sh("while :; do sleep 0.05; done");
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    c.rt(&["pause", &c.id]).assert_ok("pause");
    assert_eq!(c.status(), "paused");
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force of a paused container");
    wait_until(T, || procs_in(&c.rootfs, &c.id).is_empty());
    c.assert_no_leaks();
}

/// Run `args_of(i)` for i in 0..n all at once; every one must succeed.
fn all_at_once(c: &Ctx, what: &str, n: usize, args_of: impl Fn(usize) -> Vec<String>) -> Vec<Out> {
    let bgs: Vec<Bg> = (0..n)
        .map(|i| {
            let args = args_of(i);
            let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            Bg::start(c, &format!("{what}{i}"), &[], &args)
        })
        .collect();
    let outs: Vec<Out> = bgs.into_iter().map(Bg::finish).collect();
    for (i, o) in outs.iter().enumerate() {
        assert!(o.ok(), "{what} #{i} failed: {o:#?}");
    }
    outs
}

/// 100 distinct containers created at once, then started, killed and deleted
/// at once: every command succeeds and nothing is left.
#[test]
fn hundred_parallel_lifecycles() {
    let mut c = Ctx::new("conc_hundred");
    c.set_sh("trap 'exit 0' TERM; while :; do sleep 0.1; done");
    let ids: Vec<String> = (0..100).map(|i| c.other_id(&format!("p{i}"))).collect();
    let b = c.bundle_s();
    let verb = |v: &'static str| {
        let (ids, b) = (ids.clone(), b.clone());
        move |i: usize| -> Vec<String> {
            let id = ids[i].clone();
            match v {
                "create" => vec!["create".into(), "--bundle".into(), b.clone(), id],
                "kill" => vec!["kill".into(), id, "TERM".into()],
                "delete" => vec!["delete".into(), "--force".into(), id],
                _ => vec![v.into(), id],
            }
        }
    };
    all_at_once(&c, "create", ids.len(), verb("create"));
    assert_eq!(
        entries(&c).len(),
        ids.len(),
        "state dirs: {:?}",
        entries(&c)
    );
    all_at_once(&c, "start", ids.len(), verb("start"));
    for id in &ids {
        assert_eq!(c.state_of(id)["status"], "running", "{id}");
    }
    all_at_once(&c, "kill", ids.len(), verb("kill"));
    all_at_once(&c, "delete", ids.len(), verb("delete"));
    assert!(wait_until(T, || procs_in(&c.rootfs, &c.id).is_empty()));
    c.assert_no_leaks();
}

/// 20 `exec`s into one container at once: each runs as its own process.
#[test]
fn twenty_parallel_execs() {
    let mut c = Ctx::new("conc_execs");
    c.set_args(&["sleep", "600"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    let outs = all_at_once(&c, "exec", 20, |i| {
        vec![
            "exec".into(),
            c.id.clone(),
            "sh".into(),
            "-c".into(),
            format!("echo {i} $$"),
        ]
    });
    let mut pids = std::collections::HashSet::new();
    for (i, _) in outs.iter().enumerate() {
        let text = fs::read_to_string(c.dir.join(format!("exec{i}.out"))).unwrap();
        let mut words = text.split_whitespace();
        assert_eq!(
            words.next(),
            Some(i.to_string().as_str()),
            "exec {i} printed {text:?}"
        );
        pids.insert(words.next().unwrap_or_default().to_string());
    }
    assert_eq!(
        pids.len(),
        20,
        "the execs did not run as 20 processes: {pids:?}"
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}
