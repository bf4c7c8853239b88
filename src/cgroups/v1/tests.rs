//! The manager on a fixture root: placement, routing of fields to their
//! hierarchy's directory, validation errors, create and destroy.

use std::path::{Path, PathBuf};

use super::testutil::{resources, Tmp};
use super::Manager;
use crate::cgroups::{Layout, Manager as _};

const CGROUP: &str = "\
12:name=systemd:/
11:pids:/
9:memory:/process_api/abc
8:net_cls,net_prio:/
4:devices:/
2:cpu,cpuacct:/
0::/
";

const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
";

/// A fake `/sys/fs/cgroup` with the hierarchies of [`MOUNTINFO`].
fn fake_root() -> Tmp {
    let t = Tmp::new();
    for d in [
        "cpu,cpuacct",
        "memory/process_api/abc",
        "devices",
        "pids",
        "systemd",
        "unified",
    ] {
        std::fs::create_dir_all(t.path().join(d)).unwrap();
    }
    t
}

fn manager(root: &Path, inner: &str) -> Manager {
    Manager::new(root, Layout::Hybrid, CGROUP, MOUNTINFO, Path::new(inner)).unwrap()
}

#[test]
fn paths_follow_each_hierarchys_own_cgroup() {
    let t = fake_root();
    let m = manager(t.path(), "web");
    let r = t.path();
    assert_eq!(
        m.paths(),
        vec![
            ("cpu".to_string(), r.join("cpu,cpuacct/web")),
            ("cpuacct".to_string(), r.join("cpu,cpuacct/web")),
            ("devices".to_string(), r.join("devices/web")),
            ("memory".to_string(), r.join("memory/process_api/abc/web")),
            ("pids".to_string(), r.join("pids/web")),
            ("name=systemd".to_string(), r.join("systemd/web")),
            (String::new(), r.join("unified/web")),
        ],
        "net_cls,net_prio is listed but not mounted"
    );
    let v1 = Manager::new(r, Layout::V1, CGROUP, MOUNTINFO, Path::new("/abs")).unwrap();
    assert_eq!(
        v1.paths().last().unwrap(),
        &("name=systemd".to_string(), r.join("systemd/abs"))
    );
    assert!(Manager::new(r, Layout::Unified, CGROUP, MOUNTINFO, Path::new("x")).is_err());
    assert!(Manager::new(r, Layout::V1, "0::/\n", MOUNTINFO, Path::new("x")).is_err());
}

#[test]
fn validate_names_fields_the_host_cannot_honour() {
    let t = fake_root();
    std::fs::write(t.path().join("unified/cgroup.controllers"), "memory\n").unwrap();
    let m = manager(t.path(), "web");
    let err = |json: &str| m.validate(&resources(json)).unwrap_err().to_string();
    assert_eq!(
        err(r#"{"network": {"classID": 1}}"#),
        "linux.resources.network.classID: needs the net_cls cgroup controller, \
         which this host does not mount"
    );
    assert!(err(r#"{"blockIO": {"weight": 100}}"#)
        .starts_with("linux.resources.blockIO.weight: needs the blkio"));
    assert!(
        err(r#"{"cpu": {"cpus": "0"}}"#).starts_with("linux.resources.cpu.cpus: needs the cpuset")
    );
    assert_eq!(
        err(r#"{"unified": {"memory.high": "1"}}"#),
        "linux.resources.unified: cgroup v2 keys on a v1 host"
    );
    // hugetlb: not a v1 hierarchy here, and the unified root does not offer it.
    let e = err(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#);
    assert!(
        e.starts_with("linux.resources.hugepageLimits") && e.contains("hugetlb"),
        "{e}"
    );
    // The memory file checks look at the nearest existing ancestor.
    let e = err(r#"{"memory": {"limit": 10, "swap": 20}}"#);
    assert!(e.contains("memory.memsw.limit_in_bytes"), "{e}");
    std::fs::write(
        t.path()
            .join("memory/process_api/abc/memory.memsw.limit_in_bytes"),
        "",
    )
    .unwrap();
    m.validate(&resources(
        r#"{"memory": {"limit": 10, "swap": 20}, "pids": {"limit": 3}}"#,
    ))
    .unwrap();
}

#[test]
fn apply_routes_each_field_to_its_hierarchy() {
    let t = fake_root();
    let m = manager(t.path(), "web");
    let files: &[(&str, &[&str])] = &[
        ("cpu,cpuacct/web", &["cpu.shares"]),
        (
            "memory/process_api/abc/web",
            &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
        ),
        ("pids/web", &["pids.max"]),
        ("devices/web", &["devices.allow", "devices.deny"]),
    ];
    for (dir, names) in files {
        std::fs::create_dir_all(t.path().join(dir)).unwrap();
        for n in names.iter() {
            std::fs::write(t.path().join(dir).join(n), "").unwrap();
        }
    }
    let r = resources(
        r#"{"cpu": {"shares": 256}, "memory": {"limit": 1048576}, "pids": {"limit": 32},
            "devices": [{"allow": false, "access": "rwm"}]}"#,
    );
    m.apply(&r).unwrap();
    let read = |p: &str| std::fs::read_to_string(t.path().join(p)).unwrap();
    assert_eq!(read("cpu,cpuacct/web/cpu.shares"), "256");
    assert_eq!(
        read("memory/process_api/abc/web/memory.limit_in_bytes"),
        "1048576"
    );
    assert_eq!(read("pids/web/pids.max"), "32");
    assert_eq!(read("devices/web/devices.deny"), "a");
    assert_eq!(read("devices/web/devices.allow"), "c 136:* rwm");
}

#[test]
fn create_then_destroy_leaves_nothing() {
    let t = fake_root();
    let mut m = manager(t.path(), "a/b");
    m.create().unwrap();
    let dirs: Vec<PathBuf> = m.paths().into_iter().map(|(_, p)| p).collect();
    assert!(dirs.iter().all(|d| d.is_dir()));
    // A nested cgroup the container made goes too.
    std::fs::create_dir(dirs[0].join("nested")).unwrap();
    m.destroy().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()));
    assert!(
        t.path().join("pids/a").is_dir(),
        "parents are kept, as runc does"
    );
    m.destroy().unwrap();
    assert!(!m.has_processes().unwrap());
    assert!(!m.is_frozen().unwrap());
    assert_eq!(m.oom_kills().unwrap(), 0);
}

#[test]
fn hybrid_hugetlb_goes_to_the_unified_hierarchy() {
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("skipped: this kernel has no 2MB huge pages");
        return;
    }
    let t = fake_root();
    let u = t.path().join("unified");
    std::fs::write(u.join("cgroup.controllers"), "hugetlb\n").unwrap();
    std::fs::write(u.join("cgroup.subtree_control"), "").unwrap();
    std::fs::create_dir(u.join("web")).unwrap();
    std::fs::write(u.join("web/hugetlb.2MB.max"), "").unwrap();
    let mut m = manager(t.path(), "web");
    m.create().unwrap();
    let r = resources(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#);
    m.apply(&r).unwrap();
    let read = |p: &str| std::fs::read_to_string(u.join(p)).unwrap();
    assert_eq!(read("cgroup.subtree_control"), "+hugetlb");
    assert_eq!(read("web/hugetlb.2MB.max"), "4194304");
}
