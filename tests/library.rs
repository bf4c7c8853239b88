//! The library API as an embedder sees it (no CLI).

mod common;

use std::path::PathBuf;

use testa::container::{validate_id, CreateOptions, Runtime, RuntimeOptions, Status};

fn scratch(name: &str) -> PathBuf {
    let p = PathBuf::from(format!("/tmp/testa-lib-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn runtime(base: &std::path::Path) -> Runtime {
    let mut opts = RuntimeOptions::default();
    opts.root = base.join("state");
    Runtime::new(opts).expect("runtime")
}

/// The test harness runs tests on threads, so this process is multi-threaded:
/// create must refuse cleanly (a clone from a threaded process could
/// deadlock in the child), before creating anything.
#[test]
fn create_from_threaded_caller_is_refused_cleanly() {
    let base = scratch("threaded");
    let rt = runtime(&base);
    std::fs::create_dir_all(base.join("bundle/rootfs")).unwrap();
    std::fs::write(
        base.join("bundle/config.json"),
        include_str!("../src/bin/testa/default_spec.json"),
    )
    .unwrap();
    let err = rt
        .create("c1", &base.join("bundle"), CreateOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("multi-threaded"), "{err}");
    assert_eq!(std::fs::read_dir(rt.root()).unwrap().count(), 0);
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn unknown_container_does_not_exist() {
    let base = scratch("unknown");
    let rt = runtime(&base);
    let err = rt.load("nope").unwrap_err();
    assert_eq!(err.to_string(), "container does not exist");
    assert!(rt.list().unwrap().is_empty());
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn ids_are_checked_like_runc() {
    for ok in ["a", "web-1", "x_y.z+1"] {
        validate_id(ok).unwrap();
    }
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "../x",
        "a b",
        ".tmp-1-2-x",
        ".helper-x",
    ] {
        let e = validate_id(bad).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid id format"),
            "{bad:?}: {e}"
        );
    }
}

/// With a helper binary, a multi-threaded caller (this test process) gets
/// its container: created by the helper, then driven through the library.
#[test]
fn threaded_caller_creates_through_the_helper() {
    let mut c = common::Ctx::new("lib_helper");
    c.set_args(&["sleep", "100"]);
    let mut opts = RuntimeOptions::default();
    opts.root = c.root.clone();
    opts.helper = Some(common::bin());
    let rt = Runtime::new(opts).unwrap();
    let mut create = CreateOptions::default();
    create.pid_file = Some(c.dir.join("pid"));
    let ctr = rt
        .create(&c.id, &c.bundle, create)
        .expect("create through the helper");
    assert_eq!(ctr.status(), Status::Created);
    assert_eq!(
        common::read(c.dir.join("pid")).trim(),
        ctr.pid().to_string()
    );
    ctr.start().unwrap();
    assert_eq!(ctr.status(), Status::Running);
    assert!(ctr.wait().is_err(), "not our child: wait must refuse");
    ctr.delete(true).unwrap();
    // and a bad config is reported with the helper's error line
    c.set_args(&[]);
    let err = rt
        .create(&c.id, &c.bundle, CreateOptions::default())
        .unwrap_err();
    assert_eq!(err.to_string(), "process.args: must not be empty");
    c.assert_no_leaks();
}
