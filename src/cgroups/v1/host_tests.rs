//! Root tests against the host's real hierarchies. Each uses a fresh
//! cgroup name (relative, so it lands below this process's own cgroup in
//! every hierarchy) and destroys it even when an assertion fails. They
//! skip, saying so, when not root or when the host is not v1/hybrid.

use std::path::Path;
use std::process::{Child, Command};

use nix::sys::signal::Signal;

use super::Manager;
use crate::cgroups::{Layout, Manager as _, CGROUP_ROOT};

/// Kills the child and destroys the cgroup on drop.
struct Guard {
    m: Manager,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.m.thaw();
        let _ = self.m.destroy();
    }
}

/// A manager for a new cgroup, or `None` (with a note) where the test cannot run.
fn host_manager(tag: &str) -> Option<Guard> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return None;
    }
    let layout = Layout::detect().ok()?;
    if layout == Layout::Unified {
        eprintln!("skipped: host has no cgroup v1 hierarchies");
        return None;
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let name = format!("testa-v1-{tag}-{}", std::process::id());
    let m = Manager::new(Path::new(CGROUP_ROOT), layout, &own, &mi, Path::new(&name)).unwrap();
    Some(Guard { m, child: None })
}

fn proc_state(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("State:"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn host_lifecycle_limits_freeze_kill_destroy() {
    let Some(mut g) = host_manager("life") else {
        return;
    };
    let r: oci_spec::runtime::LinuxResources = serde_json::from_str(
        r#"{"pids": {"limit": 16}, "memory": {"limit": 67108864},
            "cpu": {"shares": 512}, "devices": []}"#,
    )
    .unwrap();
    g.m.validate(&r).unwrap();
    g.m.create().unwrap();
    g.m.apply(&r).unwrap();

    let child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    g.child = Some(child);
    g.m.add(pid as i32).unwrap();
    assert_eq!(g.m.pids().unwrap(), vec![pid as i32]);
    assert!(g.m.has_processes().unwrap());
    for (ctrl, dir) in g.m.paths() {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.to_string(), "{ctrl:?} at {dir:?}");
    }

    let s = g.m.stats().unwrap();
    assert_eq!((s.pids.current, s.pids.limit), (1, 16));
    assert_eq!(s.memory.usage.limit, 67_108_864);
    assert!(
        !s.cpuset.cpus.is_empty(),
        "cpuset inherited the parent's cpus"
    );

    g.m.freeze().unwrap();
    assert!(g.m.is_frozen().unwrap());
    let freezer =
        g.m.paths()
            .into_iter()
            .find(|(c, _)| c == "freezer")
            .unwrap()
            .1;
    let state = std::fs::read_to_string(freezer.join("freezer.state")).unwrap();
    assert_eq!(state.trim(), "FROZEN");
    eprintln!("frozen child: {}", proc_state(pid));
    g.m.thaw().unwrap();
    assert!(!g.m.is_frozen().unwrap());

    g.m.kill_all(Signal::SIGKILL).unwrap();
    let status = g.child.take().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(g.m.pids().unwrap().is_empty());

    g.m.destroy().unwrap();
    for (ctrl, dir) in g.m.paths() {
        assert!(!dir.exists(), "{ctrl:?} left {dir:?}");
    }
}

#[test]
fn host_validate_reports_unmounted_controllers() {
    let Some(g) = host_manager("val") else { return };
    let r: oci_spec::runtime::LinuxResources =
        serde_json::from_str(r#"{"network": {"classID": 1}}"#).unwrap();
    match g.m.validate(&r) {
        Ok(()) => eprintln!("net_cls is mounted here; nothing to check"),
        Err(e) => assert!(
            e.to_string().starts_with("linux.resources.network.classID"),
            "{e}"
        ),
    }
    assert!(!g.m.paths()[0].1.exists(), "validate creates nothing");
}
