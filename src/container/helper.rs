//! Creating from a multi-threaded caller: the request (id, bundle, spec,
//! options) is written to a private file in the state root and the helper
//! binary (`testa create-from-file FILE`), a fresh single-threaded process
//! with the caller's stdio (which the container inherits, as on the direct
//! path), takes the direct path; its error line comes back through a JSON
//! log file. The caller then loads the container it made.

use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use super::{Container, CreateOptions, Runtime};
use crate::error::{Error, Result};

/// What the helper reads.
#[derive(Serialize, Deserialize)]
struct Request {
    id: String,
    bundle: PathBuf,
    spec: Spec,
    options: CreateOptions,
}

impl Runtime {
    pub(super) fn create_via_helper(
        &self,
        helper: &Path,
        id: &str,
        bundle: &Path,
        spec: Spec,
        opts: &CreateOptions,
    ) -> Result<Container> {
        let request = serde_json::to_vec(&Request {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            spec,
            options: opts.clone(),
        })
        .expect("requests serialize");
        // The state root is private (0700): nobody else can swap these files.
        let stem = self
            .root
            .join(format!(".helper-{id}-{}", std::process::id()));
        let (req_path, log_path) = (stem.with_extension("json"), stem.with_extension("log"));
        std::fs::write(&req_path, request)
            .map_err(|e| Error::io(format!("create: write {req_path:?}"), e))?;
        let status = Command::new(helper)
            .arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&log_path)
            .args(["--log-format", "json", "create-from-file"])
            .arg(&req_path)
            .status();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let _ = std::fs::remove_file(&req_path);
        let _ = std::fs::remove_file(&log_path);
        let status = status.map_err(|e| Error::io(format!("create: run helper {helper:?}"), e))?;
        if !status.success() {
            return Err(Error::Other(helper_error(&log, status)));
        }
        self.load(id)
    }
}

/// The helper's error: the `msg` of its last JSON log line.
fn helper_error(log: &str, status: std::process::ExitStatus) -> String {
    log.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["msg"].as_str().map(String::from))
        .unwrap_or_else(|| format!("create helper failed ({status})"))
}

/// The helper's side: read the request in `path` and create the container
/// it describes, here, on the direct path.
pub fn serve_helper_request(rt: &Runtime, path: &Path) -> Result<()> {
    let text = std::fs::read(path).map_err(|e| Error::io(format!("read {path:?}"), e))?;
    let request: Request = serde_json::from_slice(&text)
        .map_err(|e| Error::Other(format!("create-from-file {path:?}: {e}")))?;
    rt.create_with_spec(&request.id, &request.bundle, request.spec, request.options)
        .map(drop)
}
