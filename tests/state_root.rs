//! The state root is a dirfd (issue 10 §4): an entry planted at `<root>/<id>`
//! that is not a directory owned by the runtime (here a symlink to a
//! directory elsewhere holding a forged container record) is refused by
//! every command, and nothing at its target is read, written or removed:
//! not its files, not the cgroup its record names, not the process its
//! forged state names.

mod common;
use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// A throwaway cgroup the forged record names: under the v1 `pids`
/// hierarchy when there is one, else in the unified root.
fn bait_cgroup(c: &Ctx) -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup/pids");
    let base = if v1.join("cgroup.procs").exists() {
        v1
    } else {
        Path::new("/sys/fs/cgroup")
    };
    let p = base.join(format!("{}-bait", c.id));
    fs::create_dir(&p).expect("make bait cgroup");
    p
}

fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read(e.path()).unwrap_or_default())
        })
        .collect()
}

fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(19).unwrap().parse().unwrap()
}

struct Bait {
    dir: PathBuf,
    before: BTreeMap<String, Vec<u8>>,
}

/// `<root>/<id>` -> a directory elsewhere with a forged cgroup record (and
/// a forged state naming `victim` when given).
fn plant(c: &Ctx, id: &str, cgroup: &Path, victim: Option<&Child>) -> Bait {
    let dir = c.scratch(&format!("bait-{id}"));
    let inner = Path::new("/").join(cgroup.file_name().unwrap());
    fs::write(dir.join("cgroup.json"), json!([cgroup]).to_string()).unwrap();
    if let Some(v) = victim {
        let state = json!({
            "id": id, "pid": v.id(), "start_time": start_time(v.id()),
            "bundle": c.bundle, "rootfs": c.rootfs, "created": "2024-01-01T00:00:00Z",
            "owner": "", "spec": {"ociVersion": "1.0.2"}, "cgroup_path": inner,
            "own_cgroups": "",
        });
        fs::write(dir.join("state.json"), state.to_string()).unwrap();
    }
    std::os::unix::fs::symlink(&dir, c.root.join(id)).unwrap();
    let before = contents(&dir);
    Bait { dir, before }
}

#[track_caller]
fn assert_untouched(c: &Ctx, id: &str, bait: &Bait, cgroup: &Path, what: &str) {
    assert_eq!(
        contents(&bait.dir),
        bait.before,
        "{what}: the symlink's target was written or emptied"
    );
    assert!(
        cgroup.exists(),
        "{what}: removed the bait cgroup {cgroup:?}"
    );
    let link = c.root.join(id);
    assert!(
        link.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink()),
        "{what}: the planted entry is gone or replaced"
    );
}

#[test]
fn symlinked_entry_is_refused_and_its_target_untouched() {
    let c = Ctx::new("state_root_symlink");
    let cgroup = bait_cgroup(&c);
    let mut victim = Command::new("sleep").arg("1000").spawn().unwrap();

    // A record only: what a runtime killed mid-create would leave.
    let stale = c.other_id("stale");
    let bait1 = plant(&c, &stale, &cgroup, None);
    // A full forged state: a live pid and the bait cgroup.
    let forged = c.other_id("forged");
    let bait2 = plant(&c, &forged, &cgroup, Some(&victim));

    let b = c.bundle_s();
    let out = c.rt(&["create", "--bundle", &b, &stale]);
    out.assert_fail("create over a symlinked entry");
    expect_one_line_error(&out);
    assert_untouched(&c, &stale, &bait1, &cgroup, "create");

    let out = c.rt(&["list", "--format", "json"]);
    assert!(
        !out.stdout.contains(&forged) && !out.stdout.contains(&stale),
        "list showed a planted entry: {out:#?}"
    );
    assert_untouched(&c, &stale, &bait1, &cgroup, "list");
    assert_untouched(&c, &forged, &bait2, &cgroup, "list");

    c.rt(&["state", &forged])
        .assert_fail("state of a symlinked entry");
    c.rt(&["state", &stale])
        .assert_fail("state of a symlinked entry");
    assert_untouched(&c, &forged, &bait2, &cgroup, "state");

    let out = c.rt(&["delete", "--force", &forged]);
    out.assert_fail("delete --force of a symlinked entry");
    expect_one_line_error(&out);
    c.rt(&["delete", "--force", &stale])
        .assert_fail("delete --force of a symlinked entry");
    assert_untouched(&c, &forged, &bait2, &cgroup, "delete --force");
    assert_untouched(&c, &stale, &bait1, &cgroup, "delete --force");
    assert!(
        victim.try_wait().unwrap().is_none(),
        "delete --force killed the process a forged state named"
    );

    let _ = victim.kill();
    let _ = victim.wait();
    fs::remove_file(c.root.join(&stale)).unwrap();
    fs::remove_file(c.root.join(&forged)).unwrap();
    fs::remove_dir(&cgroup).unwrap();
    c.assert_no_leaks();
}
