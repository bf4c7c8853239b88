//! Shared harness for the integration tests.
//!
//! The tests drive a runc-compatible binary: `$TESTA_BIN` if set (e.g.
//! `TESTA_BIN=/usr/sbin/runc` to validate the suite against real runc), else the
//! crate's own `testa` binary.
//!
//! Every test gets a [`Ctx`]: a unique container id, a unique directory under
//! `/tmp/testa-it/` holding its own state root (`--root`) and its own bundle
//! (busybox-static rootfs + a `config.json` equal to what `runc spec` emits,
//! with `terminal: false`). Dropping the `Ctx` cleans up even when the test
//! panicked: `kill -9` / `delete --force` every id it used, kill any process
//! still living in the rootfs, unmount everything under the directory, remove it.
//!
//! Commands run with stdout/stderr redirected to files (not pipes): a container
//! started by `create`/`run -d` inherits them, and a pipe would never see EOF.
//!
//! Run (as root; busybox-static installed):
//!
//! ```text
//! cargo test --tests -- --test-threads=2                      # against testa
//! TESTA_BIN=/usr/sbin/runc cargo test --tests -- --test-threads=2   # against runc
//! ```
//!
//! Env knobs: `TESTA_BIN` (binary under test), `TESTA_IT_KEEP=1` (keep
//! /tmp/testa-it/<id> for inspection), `TESTA_IT_LENIENT_WORDING=1` (only print,
//! not fail, when an error does not name the JSON field — testa's extra promise
//! runc does not keep).

#![allow(dead_code)]

pub mod fixtures;
pub mod host;
pub mod image;

pub use fixtures::*;
pub use host::*;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default timeout for one runtime invocation.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The binary under test.
pub fn bin() -> PathBuf {
    match std::env::var_os("TESTA_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_testa")),
    }
}

/// True when the binary under test is (probably) real runc: used only to print
/// notes about known runc differences, never to skip assertions.
pub fn is_runc() -> bool {
    bin()
        .file_name()
        .map(|n| n == OsStr::new("runc"))
        .unwrap_or(false)
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!("integration tests need root (euid is {euid}); run them as root (CI does)");
    }
}

/// Print why a test is skipped (only for features the kernel truly lacks).
pub fn skip(why: &str) {
    eprintln!("SKIP: {why}");
}

/// Result of one invocation.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit code; 128+N when the runtime itself was killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
    /// Panic with the full output unless the exit code is 0.
    #[track_caller]
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert_eq!(self.code, 0, "{what} failed: {self:#?}");
        self
    }
    #[track_caller]
    pub fn assert_fail(&self, what: &str) -> &Self {
        assert_ne!(self.code, 0, "{what} should have failed: {self:#?}");
        self
    }
}

/// Extra knobs for [`Ctx::testa_with`].
#[derive(Default)]
pub struct RunOpts<'a> {
    /// (target fd in the child, source fd in the test) — dup2'ed before exec,
    /// so the target is inherited without CLOEXEC.
    pub fds: Vec<(RawFd, RawFd)>,
    pub env: Vec<(&'a str, String)>,
    pub timeout: Option<Duration>,
    pub cwd: Option<PathBuf>,
    /// Run the binary through `sh -c 'LISTEN_FDS=N LISTEN_PID=$$ exec BIN ARGS'`
    /// so that LISTEN_PID is the runtime's own pid (socket activation).
    pub listen_fds: Option<u32>,
}

pub struct Ctx {
    pub name: String,
    pub id: String,
    /// unique per-test directory: /tmp/testa-it/<id>
    pub dir: PathBuf,
    /// state root passed as --root
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub config: Value,
    /// other container ids used by this test (cleaned up too)
    extra_ids: std::cell::RefCell<Vec<String>>,
    host_mounts_before: Vec<String>,
    cmd_counter: AtomicUsize,
    /// The runtime binary this context runs ([`bin`] unless a test points it at a
    /// copy, e.g. one a container will attack).
    pub bin: PathBuf,
}

/// Assert that a testa error message names the offending field or file.
/// Real runc words its errors differently, so these assertions are expected to
/// fail when the suite is validated against runc.
///
/// With `TESTA_IT_LENIENT_WORDING=1` a mismatch is only printed (useful when
/// validating the rest of the suite against runc).
#[track_caller]
pub fn expect_names_field(out: &Out, field: &str) {
    if std::env::var_os("TESTA_IT_LENIENT_WORDING").is_some() && !out.stderr.contains(field) {
        eprintln!(
            "TESTA-WORDING (lenient): error does not name `{field}`: {:?}",
            out.stderr
        );
        return;
    }
    assert!(
        out.stderr.contains(field),
        "TESTA-WORDING: the error must name `{field}` (runc words it differently; this assertion \
         is expected to fail against runc). stderr was: {:?}",
        out.stderr
    );
}

/// Assert an error is reported as exactly one (non-empty) line on stderr.
#[track_caller]
pub fn expect_one_line_error(out: &Out) {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one error line on stderr, got: {:?}",
        out.stderr
    );
}

impl Ctx {
    /// A fresh context with the default bundle. `name` should be the test name.
    pub fn new(name: &str) -> Ctx {
        require_root();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let short: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        let id = format!("{short}-{}-{n}", std::process::id());
        let dir = PathBuf::from("/tmp/testa-it").join(&id);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create test dir");
        let root = dir.join("state");
        let bundle = dir.join("bundle");
        let rootfs = bundle.join("rootfs");
        fs::create_dir_all(&root).unwrap();
        let ctx = Ctx {
            name: name.to_string(),
            id,
            dir,
            root,
            bundle,
            rootfs,
            config: default_config(),
            extra_ids: Default::default(),
            host_mounts_before: host_mounts(),
            cmd_counter: AtomicUsize::new(0),
            bin: bin(),
        };
        ctx.build_rootfs();
        ctx.write_config();
        ctx
    }

    fn build_rootfs(&self) {
        let r = &self.rootfs;
        for d in [
            "bin",
            "proc",
            "sys",
            "dev",
            "etc",
            "tmp",
            "root",
            "home/user",
        ] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        fs::set_permissions(r.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::copy(busybox_path(), r.join("bin/busybox")).expect("copy busybox");
        for a in busybox_applets() {
            let l = r.join("bin").join(&a);
            let _ = std::os::unix::fs::symlink("busybox", &l);
        }
        fs::write(
            r.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
        )
        .unwrap();
        fs::write(r.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
        fs::write(r.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        fs::write(r.join("rootfs-marker"), format!("{}\n", self.id)).unwrap();
    }

    /// Rewrite bundle/config.json from `self.config`.
    pub fn write_config(&self) {
        let s = serde_json::to_string_pretty(&self.config).unwrap();
        fs::write(self.bundle.join("config.json"), s).expect("write config.json");
    }

    /// Tweak the config and rewrite config.json.
    pub fn config(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self.write_config();
        self
    }

    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.config(|c| c["process"]["args"] = json!(args))
    }

    pub fn set_sh(&mut self, script: &str) -> &mut Self {
        self.set_args(&["sh", "-c", script])
    }

    /// Register another container id that this test uses (cleaned up on drop).
    pub fn other_id(&self, suffix: &str) -> String {
        let id = format!("{}-{suffix}", self.id);
        self.extra_ids.borrow_mut().push(id.clone());
        id
    }

    pub fn root_s(&self) -> String {
        self.root.to_string_lossy().into_owned()
    }
    pub fn bundle_s(&self) -> String {
        self.bundle.to_string_lossy().into_owned()
    }

    /// Invoke the binary with exactly `args` (no --root added).
    pub fn testa(&self, args: &[&str]) -> Out {
        self.testa_with(args, RunOpts::default())
    }

    pub fn testa_with(&self, args: &[&str], opts: RunOpts) -> Out {
        let n = self.cmd_counter.fetch_add(1, Ordering::SeqCst);
        let out_p = self.dir.join(format!("cmd{n}.out"));
        let err_p = self.dir.join(format!("cmd{n}.err"));
        let out_f = fs::File::create(&out_p).unwrap();
        let err_f = fs::File::create(&err_p).unwrap();
        let mut cmd = match opts.listen_fds {
            None => Command::new(&self.bin),
            Some(n) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!(
                        "export LISTEN_FDS={n} LISTEN_PID=$$; exec \"$0\" \"$@\""
                    ))
                    .arg(&self.bin);
                c
            }
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out_f)
            .stderr(err_f);
        cmd.current_dir(opts.cwd.clone().unwrap_or_else(|| self.dir.clone()));
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if !opts.fds.is_empty() {
            let fds = opts.fds.clone();
            // SAFETY: only async-signal-safe dup2/fcntl between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    for &(target, src) in &fds {
                        if target == src {
                            let fl = libc::fcntl(src, libc::F_GETFD);
                            if fl < 0 || libc::fcntl(src, libc::F_SETFD, fl & !libc::FD_CLOEXEC) < 0
                            {
                                return Err(std::io::Error::last_os_error());
                            }
                        } else if libc::dup2(src, target) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.bin));
        let timeout = opts.timeout.unwrap_or(CMD_TIMEOUT);
        let t = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if t.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{} {}` did not finish within {:?}; stderr so far: {}",
                    self.bin.display(),
                    args.join(" "),
                    timeout,
                    fs::read_to_string(&err_p).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        // Give a detached container a moment? No: its output goes to the same
        // file later; callers that need it read `read_file` themselves.
        let mut stdout = String::new();
        let mut stderr = String::new();
        fs::File::open(&out_p)
            .unwrap()
            .read_to_string(&mut stdout)
            .ok();
        fs::File::open(&err_p)
            .unwrap()
            .read_to_string(&mut stderr)
            .ok();
        Out {
            code,
            stdout,
            stderr,
        }
    }

    /// Invoke with `--root <state root>` prepended.
    pub fn rt(&self, args: &[&str]) -> Out {
        let root = self.root_s();
        let mut v: Vec<&str> = vec!["--root", &root];
        v.extend_from_slice(args);
        self.testa(&v)
    }

    pub fn rt_with(&self, args: &[&str], opts: RunOpts) -> Out {
        let root = self.root_s();
        let mut v: Vec<&str> = vec!["--root", &root];
        v.extend_from_slice(args);
        self.testa_with(&v, opts)
    }

    /// `run --bundle B ID` in the foreground.
    pub fn run(&self) -> Out {
        let b = self.bundle_s();
        self.rt(&["run", "--bundle", &b, &self.id])
    }

    /// Run `sh -c script` in a container, assert exit 0, return stdout.
    #[track_caller]
    pub fn run_sh(&mut self, script: &str) -> String {
        self.set_sh(script);
        let o = self.run();
        assert_eq!(o.code, 0, "container `sh -c {script:?}` failed: {o:#?}");
        o.stdout
    }

    pub fn create(&self) -> Out {
        let b = self.bundle_s();
        self.rt(&["create", "--bundle", &b, &self.id])
    }

    pub fn start(&self) -> Out {
        self.rt(&["start", &self.id])
    }

    pub fn delete(&self) -> Out {
        self.rt(&["delete", &self.id])
    }

    /// `state ID` parsed; panics if it fails.
    #[track_caller]
    pub fn state(&self) -> Value {
        self.state_of(&self.id)
    }

    #[track_caller]
    pub fn state_of(&self, id: &str) -> Value {
        let o = self.rt(&["state", id]);
        assert_eq!(o.code, 0, "state {id} failed: {o:#?}");
        serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}): {:?}", o.stdout))
    }

    pub fn status(&self) -> String {
        let o = self.rt(&["state", &self.id]);
        if o.code != 0 {
            return String::new();
        }
        serde_json::from_str::<Value>(&o.stdout)
            .ok()
            .and_then(|v| v["status"].as_str().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn wait_status(&self, want: &str, timeout: Duration) {
        let mut last = String::new();
        let ok = wait_until(timeout, || {
            last = self.status();
            last == want
        });
        assert!(
            ok,
            "container never reached status {want:?} (last {last:?})"
        );
    }

    /// Assert nothing of this test is left: no mount under its dir, no new host
    /// mount mentioning its id, no process in its rootfs, no state dir for its
    /// ids, no cgroup named after them.
    #[track_caller]
    pub fn assert_no_leaks(&self) {
        let m = mounts_under(&self.dir);
        assert!(
            m.is_empty(),
            "mounts left under {}: {m:?}",
            self.dir.display()
        );
        let before: HashSet<&String> = self.host_mounts_before.iter().collect();
        let now = host_mounts();
        let new: Vec<&String> = now
            .iter()
            .filter(|l| !before.contains(l) && l.contains(&self.id))
            .collect();
        assert!(
            new.is_empty(),
            "new host mounts mentioning {}: {new:?}",
            self.id
        );
        let p = procs_in(&self.rootfs, &self.id);
        assert!(
            p.is_empty(),
            "processes left in the container/with its id: {p:?}"
        );
        let mut ids = vec![self.id.clone()];
        ids.extend(self.extra_ids.borrow().iter().cloned());
        for id in &ids {
            assert!(
                !self.root.join(id).exists(),
                "state dir {}/{id} left behind",
                self.root.display()
            );
        }
        let left: Vec<_> = fs::read_dir(&self.root)
            .map(|r| r.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_else(|_| vec![]);
        assert!(left.is_empty(), "state root not empty: {left:?}");
        for id in &ids {
            let cg = cgroups_named(id);
            assert!(cg.is_empty(), "cgroups left for {id}: {cg:?}");
        }
    }

    /// Host-visible scratch dir (inside the test dir, outside the bundle).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let mut ids = vec![self.id.clone()];
        ids.extend(self.extra_ids.borrow().iter().cloned());
        let root = self.root_s();
        for id in &ids {
            if self.root.join(id).exists() {
                let o = Command::new(bin())
                    .args(["--root", &root, "kill", id, "KILL"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                let _ = o;
                let _ = Command::new(bin())
                    .args(["--root", &root, "delete", "--force", id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        // Safety net: processes still inside this rootfs (ours by construction).
        for _ in 0..50 {
            let p = procs_in(&self.rootfs, &self.id);
            if p.is_empty() {
                break;
            }
            for pid in p {
                // SAFETY: plain kill(2) of a pid this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Unmount anything left under the test dir, deepest first.
        for _ in 0..5 {
            let mut m = mounts_under(&self.dir);
            if m.is_empty() {
                break;
            }
            m.sort_by_key(|s| std::cmp::Reverse(s.len()));
            for mp in m {
                let _ = nix::mount::umount2(mp.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
        for id in &ids {
            for cg in cgroups_named(id) {
                let _ = fs::remove_dir(&cg);
            }
        }
        if std::env::var_os("TESTA_IT_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Parse `Key:\tvalue` lines of /proc/<pid>/status output.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim())
    })
}

/// Bit mask of the named capabilities (CAP_* names).
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().fold(0u64, |m, n| m | (1u64 << cap_number(n)))
}

pub fn cap_number(name: &str) -> u32 {
    const CAPS: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    CAPS.iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| panic!("unknown cap {name}")) as u32
}

/// Read the file at `p` to a string, or empty.
pub fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p).unwrap_or_default()
}
