//! Fixtures for the controller tests, the manager on a tempdir, and the
//! root tests on the host's real v2 hierarchy (`/sys/fs/cgroup/unified` on a
//! hybrid host, `/sys/fs/cgroup` on a unified one).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::Manager;
use crate::cgroups::fs::CgroupDir;
use crate::cgroups::Manager as _;

static N: AtomicU32 = AtomicU32::new(0);

fn unique(tag: &str) -> String {
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("testa-v2-{tag}-{}-{n}", std::process::id())
}

/// A temp directory of plain files standing in for a cgroup.
pub(crate) struct Fixture(PathBuf);

impl Fixture {
    pub(crate) fn new(tag: &str) -> Fixture {
        let p = std::env::temp_dir().join(unique(tag));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Fixture(p)
    }
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
    pub(crate) fn dir(&self) -> CgroupDir {
        CgroupDir::open(&self.0).unwrap()
    }
    pub(crate) fn file(&self, name: &str, content: &str) {
        std::fs::write(self.0.join(name), content).unwrap();
    }
    pub(crate) fn files(&self, names: &[&str]) {
        for n in names {
            self.file(n, "");
        }
    }
    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Resources from JSON.
pub(crate) fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

#[test]
fn manager_places_validates_and_creates_on_a_tempdir() {
    let t = Fixture::new("mgr");
    t.file("cgroup.controllers", "memory pids\n");
    t.file("cgroup.subtree_control", "");
    let m = Manager::new(t.path(), Path::new("/user/1"), Path::new("web")).unwrap();
    assert_eq!(m.path(), t.path().join("user/1/web"));
    assert_eq!(
        m.paths(),
        vec![(String::new(), t.path().join("user/1/web"))]
    );
    assert!(m.clone_into().is_none());
    // Nothing below the mount exists yet: the mount's controllers count.
    m.validate(&res(r#"{"memory":{"limit":1048576},"pids":{"limit":10}}"#))
        .unwrap();
    for (json, field) in [
        (r#"{"cpu":{"shares":1024}}"#, "cpu.shares"),
        (r#"{"network":{"classID":7}}"#, "network.classID"),
        (
            r#"{"network":{"priorities":[{"name":"eth0","priority":1}]}}"#,
            "network.priorities",
        ),
        (r#"{"unified":{"io.max":"8:0 rbps=1"}}"#, "unified.io.max"),
        (
            r#"{"devices":[{"allow":true,"access":"x"}]}"#,
            "devices[0].access",
        ),
        (
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#,
            "hugepageLimits",
        ),
    ] {
        let e = m.validate(&res(json)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("linux.resources.{field}:")), "{e}");
    }
    assert!(m
        .apply(&res("{}"))
        .unwrap_err()
        .to_string()
        .contains("has not been created"));

    let mut m = m;
    m.create().unwrap();
    assert!(t.path().join("user/1/web").is_dir());
    assert_eq!(t.read("cgroup.subtree_control"), "+memory +pids");
    assert!(m.clone_into().is_some());
    m.add(42).unwrap_err(); // no cgroup.procs in a plain directory
    std::fs::create_dir(t.path().join("user/1/web/sub")).unwrap();
    m.destroy().unwrap();
    assert!(!t.path().join("user/1/web").exists());
    m.destroy().unwrap();
}

#[test]
fn manager_refuses_paths_outside_the_mount() {
    let t = Fixture::new("mgr-out");
    assert!(Manager::new(t.path(), Path::new("/.."), Path::new("x")).is_err());
    assert!(Manager::new(t.path(), Path::new("/a"), Path::new("../../x")).is_err());
}

// ---- root tests on the real hierarchy ----

/// The host's cgroup2 mount, or `None` (with a note) when not root.
fn v2_mount() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return None;
    }
    for p in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        if std::path::Path::new(p).join("cgroup.controllers").exists() {
            return Some(PathBuf::from(p));
        }
    }
    eprintln!("skipped: no cgroup2 hierarchy mounted");
    None
}

/// A created cgroup, killed and removed on drop even when the test fails.
struct Live(Manager);

impl Live {
    fn new(tag: &str) -> Option<Live> {
        let mount = v2_mount()?;
        let inner = PathBuf::from("/").join(unique(tag));
        let mut m = Manager::new(&mount, Path::new("/"), &inner).unwrap();
        m.create().unwrap();
        Some(Live(m))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.0.thaw();
        let _ = self.0.kill_all(Signal::SIGKILL);
        let _ = self.0.destroy();
    }
}

/// Clone a child straight into `cg` (the runtime's own `clone3` wrapper)
/// running `body` (async-signal-safe calls only: the test harness is
/// multi-threaded).
fn spawn_into(cg: BorrowedFd, body: fn() -> i32) -> Pid {
    use crate::process::clone::{fork_with, Forked};
    match fork_with(0, Some(cg.as_raw_fd())).expect("clone3") {
        // SAFETY: leaving the child without unwinding or running atexit.
        Forked::Child => unsafe { libc::_exit(body()) },
        Forked::Parent { pid, in_cgroup, .. } => {
            assert!(in_cgroup, "clone3 without CLONE_INTO_CGROUP");
            pid
        }
    }
}

fn sleeper() -> i32 {
    loop {
        // SAFETY: pause(2) only waits for a signal.
        unsafe { libc::pause() };
    }
}

/// Open `path` read-only in the child: 0 on success, else the errno.
fn try_open(path: &std::ffi::CStr) -> i32 {
    // SAFETY: a NUL-terminated path; the fd is closed at once.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    if fd >= 0 {
        // SAFETY: our fd.
        unsafe { libc::close(fd) };
        return 0;
    }
    // SAFETY: reading this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Child: /dev/null must open, /dev/zero must be refused with EPERM.
fn null_yes_zero_no() -> i32 {
    match (try_open(c"/dev/null"), try_open(c"/dev/zero")) {
        (0, libc::EPERM) => 0,
        (0, _) => 2,
        _ => 1,
    }
}

/// Child: /dev/zero opens (a default rule), /dev/kmsg (1:11) is refused.
fn zero_yes_kmsg_no() -> i32 {
    match (try_open(c"/dev/zero"), try_open(c"/dev/kmsg")) {
        (0, libc::EPERM | libc::ENOENT) => 0,
        (0, _) => 2,
        _ => 1,
    }
}

fn exit_code(pid: Pid) -> i32 {
    match waitpid(pid, None).unwrap() {
        WaitStatus::Exited(_, c) => c,
        s => panic!("child ended with {s:?}"),
    }
}

#[test]
fn root_clone_into_freeze_thaw_kill_destroy() {
    let Some(live) = Live::new("life") else {
        return;
    };
    let m = &live.0;
    let child = spawn_into(m.clone_into().unwrap(), sleeper);
    assert_eq!(m.pids().unwrap(), vec![child.as_raw()]);
    assert!(m.has_processes().unwrap());
    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());
    m.stats().unwrap();
    assert_eq!(m.oom_kills().unwrap(), 0);
    m.kill_all(Signal::SIGKILL).unwrap();
    assert_eq!(
        waitpid(child, None).unwrap(),
        WaitStatus::Signaled(child, Signal::SIGKILL, false)
    );
    assert!(!m.has_processes().unwrap());
    m.destroy().unwrap();
    assert!(!m.path().exists());
}

#[test]
fn root_add_forked_child_and_signal_through_the_freezer() {
    let Some(live) = Live::new("add") else { return };
    let m = &live.0;
    // SAFETY: the child only pauses until killed.
    let pid = match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            sleeper();
            unreachable!()
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    m.add(pid.as_raw()).unwrap();
    assert_eq!(m.pids().unwrap(), vec![pid.as_raw()]);
    m.kill_all(Signal::SIGTERM).unwrap();
    assert_eq!(
        waitpid(pid, None).unwrap(),
        WaitStatus::Signaled(pid, Signal::SIGTERM, false)
    );
    assert!(!m.is_frozen().unwrap(), "thawed after signalling");
}

#[test]
fn root_device_filter_allows_null_denies_zero_and_is_replaced() {
    let Some(live) = Live::new("dev") else { return };
    let m = &live.0;
    let dir = m.dir().unwrap();
    let only_null = [super::bpf::Rule {
        allow: true,
        typ: Some(super::bpf::DEV_CHAR),
        major: Some(1),
        minor: Some(3),
        access: 7,
    }];
    match super::devices::install(dir, &only_null) {
        Err(e) if e.errno() == Some(nix::errno::Errno::EPERM) => {
            eprintln!("skipped: bpf(2) refused: {e}");
            return;
        }
        r => r.unwrap(),
    }
    let ids = super::bpf::prog_query(dir.as_fd()).unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(exit_code(spawn_into(dir.as_fd(), null_yes_zero_no)), 0);

    // The spec's rules plus the defaults replace the filter.
    m.apply(&res(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#))
        .unwrap();
    let now = super::bpf::prog_query(dir.as_fd()).unwrap();
    assert_eq!(now.len(), 1);
    assert_ne!(now, ids);
    assert_eq!(exit_code(spawn_into(dir.as_fd(), zero_yes_kmsg_no)), 0);
    // An update without devices keeps it.
    m.apply(&res("{}")).unwrap();
    assert_eq!(super::bpf::prog_query(dir.as_fd()).unwrap(), now);
}

#[test]
fn root_hugetlb_limits_on_the_real_hierarchy() {
    let Some(live) = Live::new("huge") else {
        return;
    };
    let m = &live.0;
    let dir = m.dir().unwrap();
    if !dir.has("hugetlb.2MB.max") {
        eprintln!("skipped: no hugetlb controller or no 2MB pages here");
        return;
    }
    let r = res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#);
    m.validate(&r).unwrap();
    m.apply(&r).unwrap();
    assert_eq!(dir.read_u64("hugetlb.2MB.max").unwrap(), 4_194_304);
    if dir.has("hugetlb.2MB.rsvd.max") {
        assert_eq!(dir.read_u64("hugetlb.2MB.rsvd.max").unwrap(), 4_194_304);
    }
    let s = m.stats().unwrap();
    assert_eq!(s.hugetlb["2MB"].usage, 0);
    let bad = res(r#"{"hugepageLimits":[{"pageSize":"3MB","limit":1}]}"#);
    assert!(m
        .validate(&bad)
        .unwrap_err()
        .to_string()
        .contains("hugepageLimits[0].pageSize"));
}
