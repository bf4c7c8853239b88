//! What testa remembers of a container (`state.json`, written atomically)
//! and the OCI state it reports, with the status derived from the live
//! process: pid plus start time, so a recycled pid reads as `stopped`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dir::Dir;
use super::plan::Plan;
use crate::error::{Error, Result};

/// The record's file name in a container's directory.
pub(crate) const STATE: &str = "state.json";

/// The OCI runtime-spec version testa implements.
pub const OCI_VERSION: &str = "1.2.0";

/// A container's status, as the OCI spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created.
    Creating,
    /// Created, waiting for `start`.
    Created,
    /// The program is running.
    Running,
    /// Frozen through its cgroup.
    Paused,
    /// The process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The record testa keeps in `<root>/<id>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StateFile {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The spec, for the hooks that run after create (poststart, poststop).
    pub spec: oci_spec::runtime::Spec,
    /// The container's cgroup path (as `cgroups::open` takes it).
    pub cgroup_path: PathBuf,
    /// The creating runtime's `/proc/self/cgroup`, which a relative
    /// `cgroup_path` starts from.
    #[serde(default)]
    pub own_cgroups: String,
    /// How many parents of the cgroup directories the create made.
    #[serde(default)]
    pub cgroup_parents_made: usize,
    /// Exit status, once a waiting runtime reaped the process.
    #[serde(default)]
    pub exit_status: Option<i32>,
}

/// The OCI state of a container, as `testa state` prints it (runc's shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OciState {
    /// Spec version.
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Pid of the container process (0 once stopped).
    pub pid: i32,
    /// Current status.
    pub status: Status,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Annotations from the spec.
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
    /// Owner (runc reports the empty string for root).
    pub owner: String,
}

/// The state JSON hooks get on stdin: `{ociVersion, id, status, pid, bundle, annotations}`.
pub(crate) fn oci_state_json(plan: &Plan, status: Status, pid: i32) -> Vec<u8> {
    hook_state(
        &plan.id,
        status,
        pid,
        &plan.bundle,
        plan.spec.annotations().as_ref(),
    )
}

pub(crate) fn hook_state(
    id: &str,
    status: Status,
    pid: i32,
    bundle: &Path,
    annotations: Option<&HashMap<String, String>>,
) -> Vec<u8> {
    let mut v = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status,
        "bundle": bundle,
    });
    if pid > 0 {
        v["pid"] = pid.into();
    }
    if let Some(a) = annotations.filter(|a| !a.is_empty()) {
        v["annotations"] = serde_json::json!(a);
    }
    serde_json::to_vec(&v).expect("state serializes")
}

/// Fields of `/proc/<pid>/stat` we need: state letter and start time.
pub(crate) fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // `rest` starts at field 3 (state); start time is field 22.
    Some((
        fields.first()?.chars().next()?,
        fields.get(19)?.parse().ok()?,
    ))
}

impl StateFile {
    /// The recorded state; `NotExist` if there is none (yet, or any more).
    pub(crate) fn load(dir: &Dir) -> Result<StateFile> {
        let text = dir.read(STATE)?.ok_or(Error::NotExist)?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Other(format!("{:?}: {e}", dir.path().join(STATE))))
    }

    /// Write atomically: a temporary file renamed over the old one.
    pub(crate) fn save(&self, dir: &Dir) -> Result<()> {
        dir.write_atomic(STATE, &serde_json::to_vec(self).expect("state serializes"))
    }

    /// Whether the recorded process is alive (and is still the same process).
    pub(crate) fn alive(&self) -> bool {
        matches!(proc_stat(self.pid), Some((state, start)) if state != 'Z' && state != 'X' && start == self.start_time)
    }

    /// The status derived from the process and the exec FIFO.
    pub(crate) fn status(&self, dir: &Dir) -> Status {
        if !self.alive() {
            Status::Stopped
        } else if dir.has(super::EXEC_FIFO) {
            Status::Created
        } else {
            Status::Running
        }
    }

    pub(crate) fn oci_state(&self, status: Status) -> OciState {
        OciState {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
            owner: self.owner.clone(),
        }
    }
}

/// Now as RFC 3339 with nanoseconds in UTC, as Go's `time.RFC3339Nano` prints it.
pub(crate) fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Format a time since the epoch as RFC 3339 in UTC, as Go's
/// `time.RFC3339Nano` does (trailing zeros of the fraction dropped).
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    // Days to civil date (Howard Hinnant's algorithm).
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{frac}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_go() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_700_000_000, 120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400, 5),
            "2000-02-29T00:00:00.000000005Z"
        );
    }

    #[test]
    fn own_process_is_alive_and_start_time_checked() {
        let pid = std::process::id() as i32;
        let (state, start) = proc_stat(pid).unwrap();
        assert_ne!(state, 'Z');
        let mut s = StateFile {
            id: "x".into(),
            pid,
            start_time: start,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            annotations: HashMap::new(),
            spec: Default::default(),
            cgroup_path: "x".into(),
            own_cgroups: String::new(),
            cgroup_parents_made: 0,
            exit_status: None,
        };
        assert!(s.alive());
        s.start_time += 1;
        assert!(
            !s.alive(),
            "a pid with another start time is another process"
        );
    }

    #[test]
    fn status_names_are_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Created).unwrap(),
            "\"created\""
        );
        assert_eq!(Status::Stopped.to_string(), "stopped");
    }
}
