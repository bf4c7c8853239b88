//! Seeded fuzzing of what callers hand the runtime (issue 11): `config.json`,
//! `exec --process`, `update --resources`, signals and ids. Every case must end
//! in exit 0 or one clear error line with exit 1: never a panic, a signal or a
//! hang, and nothing left behind once `delete --force` ran.
//!
//! A case is the default config (or process, or resources) with one to three
//! random mutations: a value replaced by one of another type or shape, a key
//! removed, an unknown key added. `TESTA_FUZZ_SEED` and `TESTA_FUZZ_CASES` pick the
//! seed and scale the number of cases (CI runs the defaults, a few seconds per
//! hundred cases); a failure prints the seed and the case to replay it.

mod common;
use common::*;
use serde_json::{json, Map, Value};
use std::fs;

/// xorshift64*: a small deterministic generator (no dependency for tests).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn seed() -> u64 {
    std::env::var("TESTA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e57_a5eed)
}

/// `base` cases, times `TESTA_FUZZ_CASES / 100` when that is set.
fn cases(base: usize) -> usize {
    std::env::var("TESTA_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .map_or(base, |n| base * n / 100)
}

fn random_string(r: &mut Rng) -> String {
    let pieces = [
        "",
        "a",
        "/",
        "..",
        "../..",
        "/proc/self/exe",
        "/dev/null",
        "CAP_SYS_ADMIN",
        "pid",
        "é",
        "\u{202e}",
        " ",
        "-1",
        "0x10",
        "ro",
        "bind",
        "tmpfs",
        "SIGKILL",
        "=",
        ":",
        "\\",
    ];
    let mut s = String::new();
    for _ in 0..r.below(4) {
        let piece: &&str = r.pick(&pieces);
        s.push_str(piece);
    }
    if r.below(20) == 0 {
        s.push_str(&"x".repeat(r.below(5000)));
    }
    s
}

fn random_value(r: &mut Rng, depth: usize) -> Value {
    match r.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!(*r.pick(&[0i64, -1, 1, 255, 65536, i64::MAX, i64::MIN, 4_294_967_296])),
        3 => json!(*r.pick(&[0.5f64, -1e300, 1e300])),
        4 | 5 => json!(random_string(r)),
        6 => Value::Array(
            (0..r.below(4))
                .map(|_| random_value(r, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..r.below(4) {
                m.insert(random_string(r), random_value(r, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// Every place in `v` (JSON pointers), containers and leaves.
fn places(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                places(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                places(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// One to three mutations of `base`.
fn mutate(r: &mut Rng, base: &Value) -> Value {
    let mut v = base.clone();
    for _ in 0..1 + r.below(3) {
        let mut all = Vec::new();
        places(&v, String::new(), &mut all);
        let at = r.pick(&all).clone();
        let (parent, key) = match at.rfind('/') {
            Some(i) => (at[..i].to_string(), at[i + 1..].to_string()),
            None => (String::new(), String::new()),
        };
        match r.below(4) {
            0 if !at.is_empty() => match v.pointer_mut(&parent) {
                Some(Value::Object(m)) => {
                    m.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            },
            1 => {
                if let Some(Value::Object(m)) = v.pointer_mut(&at) {
                    m.insert(random_string(r), random_value(r, 0));
                }
            }
            _ => {
                if let Some(x) = v.pointer_mut(&at) {
                    *x = random_value(r, 0);
                }
            }
        }
    }
    v
}

/// The contract for one invocation: exit 0, or exit 1 with one error line;
/// never a panic or a signal.
#[track_caller]
fn sane(o: &Out, what: &str) {
    assert!(
        o.code == 0 || o.code == 1,
        "{what}: exit {} (a panic is 101, a signal 128+N): {o:#?}",
        o.code
    );
    assert!(!o.stderr.contains("panicked"), "{what}: panicked: {o:#?}");
    if o.code != 0 {
        let lines = o.stderr.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(lines, 1, "{what}: not one error line: {o:#?}");
    }
}

#[test]
fn fuzzed_configs_are_refused_cleanly_or_run() {
    let mut c = Ctx::new("fuzz_config");
    c.set_args(&["sleep", "600"]);
    let base = c.config.clone();
    let seed = seed();
    let mut r = Rng::new(seed);
    let mut created = 0;
    for case in 0..cases(400) {
        let cfg = mutate(&mut r, &base);
        c.config = cfg.clone();
        c.write_config();
        let what = format!("seed {seed} case {case}, config {cfg}");
        let o = c.create();
        sane(&o, &what);
        created += usize::from(o.ok());
        let d = c.rt(&["delete", "--force", &c.id]);
        assert!(d.ok(), "{what}: delete --force: {d:#?}");
        c.assert_no_leaks();
    }
    // The mutations must leave some configs valid, or the fuzzing only ever
    // exercised the parser.
    assert!(created > 0, "no fuzzed config was ever created");
}

#[test]
fn fuzzed_exec_processes_and_resources() {
    let mut c = Ctx::new("fuzz_exec_update");
    c.set_args(&["sleep", "600"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    let seed = seed();
    let mut r = Rng::new(seed ^ 0x5eed);
    let process = {
        let mut p = c.config["process"].clone();
        p["args"] = json!(["true"]);
        p
    };
    let resources = json!({
        "memory": {"limit": 67108864, "reservation": 33554432},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 100},
        "blockIO": {"weight": 100}
    });
    let f = c.dir.join("fuzz.json");
    let path = f.to_string_lossy().into_owned();
    for case in 0..cases(150) {
        let p = mutate(&mut r, &process);
        fs::write(&f, p.to_string()).unwrap();
        let what = format!("seed {seed} exec case {case}, process {p}");
        sane(&c.rt(&["exec", "--process", &path, &c.id]), &what);

        let res = mutate(&mut r, &resources);
        fs::write(&f, res.to_string()).unwrap();
        let what = format!("seed {seed} update case {case}, resources {res}");
        sane(&c.rt(&["update", "--resources", &path, &c.id]), &what);
    }
    assert_eq!(
        c.status(),
        "running",
        "the container did not survive the fuzzing"
    );
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    assert!(wait_until(CMD_TIMEOUT, || procs_in(&c.rootfs, &c.id).is_empty()));
    c.assert_no_leaks();
}

#[test]
fn fuzzed_signals_and_ids() {
    let mut c = Ctx::new("fuzz_kill");
    c.set_sh("trap '' TERM INT HUP USR1 USR2; while :; do sleep 1; done");
    c.create().assert_ok("create");
    let seed = seed();
    let mut r = Rng::new(seed ^ 0x0c0ffee);
    let signals = [
        "TERM",
        "SIGTERM",
        "15",
        "0",
        "-1",
        "65",
        "SIGRTMIN+3",
        "SIGNOPE",
        "",
        "KILL9",
        "USR1",
        "sigint",
        "99999999999999999999",
    ];
    for case in 0..cases(150) {
        let sig = if r.below(3) == 0 {
            random_string(&mut r)
        } else {
            r.pick(&signals).to_string()
        };
        let what = format!("seed {seed} kill case {case}, signal {sig:?}");
        if sig.contains("KILL") && !sig.contains("KILL9") {
            continue; // a real SIGKILL would end the container the loop needs
        }
        sane(&c.rt(&["kill", &c.id, &sig]), &what);
        let id = random_string(&mut r);
        let what = format!("seed {seed} id case {case}, id {id:?}");
        for verb in ["state", "kill", "delete", "start", "pause"] {
            if !id.is_empty() && id != c.id {
                sane(&c.rt(&[verb, &id]), &format!("{what} ({verb})"));
            }
        }
    }
    c.rt(&["delete", "--force", &c.id])
        .assert_ok("delete --force");
    c.assert_no_leaks();
}
