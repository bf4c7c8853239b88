//! The namespace part of a container's plan: which kinds are new, which are
//! joined by path, and the user and time namespace settings, validated once.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use super::{IdMap, Kind, Kinds, TimeOffsets};
use crate::error::{Error, Result};

/// Validated namespace settings of a container.
#[derive(Debug, Clone, Default)]
pub struct NamespacePlan {
    /// Kinds to create.
    pub new: Kinds,
    /// Kinds to join, with the namespace file, in [`Kind::ALL`] order.
    pub join: Vec<(Kind, PathBuf)>,
    /// uid map of a new user namespace.
    pub uid_maps: Vec<IdMap>,
    /// gid map of a new user namespace.
    pub gid_maps: Vec<IdMap>,
    /// Offsets of a new time namespace.
    pub time_offsets: TimeOffsets,
}

fn kind_of(t: LinuxNamespaceType) -> Kind {
    match t {
        LinuxNamespaceType::Mount => Kind::Mount,
        LinuxNamespaceType::Cgroup => Kind::Cgroup,
        LinuxNamespaceType::Uts => Kind::Uts,
        LinuxNamespaceType::Ipc => Kind::Ipc,
        LinuxNamespaceType::User => Kind::User,
        LinuxNamespaceType::Pid => Kind::Pid,
        LinuxNamespaceType::Network => Kind::Net,
        LinuxNamespaceType::Time => Kind::Time,
    }
}

fn id_maps(maps: &Option<Vec<LinuxIdMapping>>) -> Vec<IdMap> {
    maps.iter()
        .flatten()
        .map(|m| IdMap {
            container_id: m.container_id(),
            host_id: m.host_id(),
            size: m.size(),
        })
        .collect()
}

impl NamespacePlan {
    /// Validate `linux.namespaces`, the id mappings and the time offsets.
    pub fn from_spec(spec: &Spec) -> Result<NamespacePlan> {
        let mut plan = NamespacePlan::default();
        let Some(linux) = spec.linux() else {
            return Ok(plan);
        };
        let mut seen = Kinds::EMPTY;
        let mut join = Vec::new();
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            let kind = kind_of(ns.typ());
            if seen.contains(kind) {
                return Err(Error::config(
                    format!("linux.namespaces[{i}].type"),
                    format!("namespace {kind} listed twice"),
                ));
            }
            seen |= Kinds::of(kind);
            match ns.path() {
                None => plan.new |= Kinds::of(kind),
                Some(p) if p.as_os_str().is_empty() => plan.new |= Kinds::of(kind),
                Some(p) if !p.is_absolute() => {
                    return Err(Error::config(
                        format!("linux.namespaces[{i}].path"),
                        format!("{p:?} must be an absolute path"),
                    ))
                }
                Some(p) if std::fs::symlink_metadata(p).is_err() => {
                    return Err(Error::config(
                        format!("linux.namespaces[{i}].path"),
                        format!("{p:?} does not exist"),
                    ))
                }
                Some(p) => join.push((kind, p.clone())),
            }
        }
        join.sort_by_key(|(k, _)| Kind::ALL.iter().position(|a| a == k));
        plan.join = join;

        plan.uid_maps = id_maps(linux.uid_mappings());
        plan.gid_maps = id_maps(linux.gid_mappings());
        let has_maps = !plan.uid_maps.is_empty() || !plan.gid_maps.is_empty();
        if plan.new.contains(Kind::User) {
            if plan.uid_maps.is_empty() || plan.gid_maps.is_empty() {
                return Err(Error::config(
                    "linux.uidMappings",
                    "a new user namespace needs both uidMappings and gidMappings",
                ));
            }
        } else if has_maps {
            return Err(Error::config(
                "linux.uidMappings",
                "id mappings need a new user namespace in linux.namespaces",
            ));
        }

        for (name, off) in linux.time_offsets().iter().flatten() {
            let value = Some((off.secs().unwrap_or(0), off.nanosecs().unwrap_or(0)));
            match name.as_str() {
                "monotonic" => plan.time_offsets.monotonic = value,
                "boottime" => plan.time_offsets.boottime = value,
                other => {
                    return Err(Error::config(
                        "linux.timeOffsets",
                        format!("unknown clock {other:?} (monotonic or boottime)"),
                    ))
                }
            }
        }
        if !plan.time_offsets.is_empty() && !plan.new.contains(Kind::Time) {
            return Err(Error::config(
                "linux.timeOffsets",
                "time offsets need a new time namespace in linux.namespaces",
            ));
        }
        Ok(plan)
    }

    /// Whether the container has a namespace of `kind` of its own (new or joined).
    pub fn has(&self, kind: Kind) -> bool {
        self.new.contains(kind) || self.join.iter().any(|(k, _)| *k == kind)
    }

    /// Whether everything can be done by the `clone3` flags alone: nothing
    /// to join and no time offsets to write before the namespace is entered.
    pub fn clone_only(&self) -> bool {
        self.join.is_empty() && self.time_offsets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(linux: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.0.2", "linux": linux})).unwrap()
    }

    #[test]
    fn new_and_joined_kinds() {
        let p = NamespacePlan::from_spec(&spec(serde_json::json!({
            "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/self/ns/net"}, {"type": "user", "path": "/proc/self/ns/user"}]
        })))
        .unwrap();
        assert_eq!(p.new, Kinds::PID);
        assert_eq!(p.join[0].0, Kind::User);
        assert_eq!(p.join[1].0, Kind::Net);
        assert!(!p.clone_only());
    }

    #[test]
    fn duplicate_kind_is_refused_with_its_index() {
        let e = NamespacePlan::from_spec(&spec(serde_json::json!({
            "namespaces": [{"type": "pid"}, {"type": "pid"}]
        })))
        .unwrap_err();
        assert!(e.to_string().starts_with("linux.namespaces[1].type"), "{e}");
    }

    #[test]
    fn user_namespace_needs_maps() {
        let e = NamespacePlan::from_spec(&spec(serde_json::json!({
            "namespaces": [{"type": "user"}]
        })))
        .unwrap_err();
        assert!(e.to_string().contains("uidMappings"), "{e}");
    }

    #[test]
    fn time_offsets_parsed_and_need_time_ns() {
        let p = NamespacePlan::from_spec(&spec(serde_json::json!({
            "namespaces": [{"type": "time"}],
            "timeOffsets": {"monotonic": {"secs": 100, "nanosecs": 5}}
        })))
        .unwrap();
        assert_eq!(p.time_offsets.monotonic, Some((100, 5)));
        let e = NamespacePlan::from_spec(&spec(serde_json::json!({
            "timeOffsets": {"boottime": {"secs": 1}}
        })))
        .unwrap_err();
        assert!(e.to_string().starts_with("linux.timeOffsets"), "{e}");
    }

    #[test]
    fn missing_join_path_is_refused() {
        let e = NamespacePlan::from_spec(&spec(serde_json::json!({
            "namespaces": [{"type": "network", "path": "/nonexistent/netns"}]
        })))
        .unwrap_err();
        assert!(e.to_string().contains("linux.namespaces[0].path"), "{e}");
    }
}
