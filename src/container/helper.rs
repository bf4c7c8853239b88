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

/// The prefix of the helper's request and log files in the state root.
pub(crate) const PRIVATE: &str = ".helper-";

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
        // New files made relative to the state root's fd (never through a
        // planted link); the root is private (0700), so nobody can swap them.
        let stem = format!("{PRIVATE}{id}-{}", std::process::id());
        let (req, log) = (format!("{stem}.json"), format!("{stem}.log"));
        self.root.write_new(&req, &request)?;
        let status = self.root.write_new(&log, b"").and_then(|()| {
            Command::new(helper)
                .arg("--root")
                .arg(self.root())
                .arg("--log")
                .arg(self.root().join(&log))
                .args(["--log-format", "json", "create-from-file"])
                .arg(self.root().join(&req))
                .status()
                .map_err(|e| Error::io(format!("create: run helper {helper:?}"), e))
        });
        let log_text = self.root.read(&log).ok().flatten().unwrap_or_default();
        let log_text = String::from_utf8_lossy(&log_text);
        let _ = self.root.remove(&req);
        let _ = self.root.remove(&log);
        let status = status?;
        if !status.success() {
            return Err(Error::Other(helper_error(&log_text, status)));
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
