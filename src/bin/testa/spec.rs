//! `testa spec`: write runc's default `config.json` (optionally rootless).

use std::path::Path;

use serde_json::{json, Value};
use testa::Error;

const DEFAULT_SPEC: &str = include_str!("default_spec.json");

/// runc's `ToRootless`: a user namespace mapping the caller, no network
/// namespace, no cgroup mount, no gid option on devpts, `/sys` bind-mounted.
fn make_rootless(spec: &mut Value) {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let linux = &mut spec["linux"];
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network" && n["type"] != "user");
        ns.push(json!({"type": "user"}));
    }
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(res) = linux.as_object_mut() {
        res.remove("resources");
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        mounts.retain(|m| m["type"] != "cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| !o.as_str().is_some_and(|s| s.starts_with("gid=")));
            }
        }
    }
}

/// Write the default spec into `bundle` (or the current directory).
pub fn write_default(bundle: Option<&Path>, rootless: bool) -> Result<(), Error> {
    let mut spec: Value = serde_json::from_str(DEFAULT_SPEC).expect("default spec is JSON");
    if rootless {
        make_rootless(&mut spec);
    }
    let path = bundle.unwrap_or(Path::new(".")).join("config.json");
    if path.exists() {
        return Err(Error::Other(
            "File config.json exists. Remove it first".into(),
        ));
    }
    let text = serde_json::to_string_pretty(&spec).expect("serializes");
    std::fs::write(&path, text).map_err(|e| Error::io(format!("write({path:?})"), e))
}
