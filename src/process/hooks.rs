//! OCI hooks: host programs run at fixed points of the lifecycle with the
//! container state on stdin, each within its `timeout`.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use oci_spec::runtime::{Hook as SpecHook, Spec};

use super::pidfd::PidFd;
use crate::error::{Error, Result};

/// One validated hook.
#[derive(Debug, Clone)]
pub struct Hook {
    path: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
}

/// The hooks of a container, by lifecycle point.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Deprecated `prestart`: runtime namespace, after the namespaces exist.
    pub prestart: Vec<Hook>,
    /// `createRuntime`: runtime namespace, before `pivot_root`.
    pub create_runtime: Vec<Hook>,
    /// `createContainer`: container namespaces, before `pivot_root`.
    pub create_container: Vec<Hook>,
    /// `startContainer`: in the container, just before the program is executed.
    pub start_container: Vec<Hook>,
    /// `poststart`: runtime namespace, after the program started.
    pub poststart: Vec<Hook>,
    /// `poststop`: runtime namespace, when the container is deleted.
    pub poststop: Vec<Hook>,
}

fn convert(name: &str, hooks: &Option<Vec<SpecHook>>) -> Result<Vec<Hook>> {
    hooks
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, h)| {
            let field = format!("hooks.{name}[{i}]");
            if !h.path().is_absolute() {
                return Err(Error::config(
                    format!("{field}.path"),
                    format!("{:?} must be absolute", h.path()),
                ));
            }
            let timeout = match h.timeout() {
                None => None,
                Some(t) if t > 0 => Some(Duration::from_secs(t as u64)),
                Some(t) => {
                    return Err(Error::config(
                        format!("{field}.timeout"),
                        format!("{t} must be positive"),
                    ))
                }
            };
            let env = h
                .env()
                .iter()
                .flatten()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Ok(Hook {
                path: h.path().clone(),
                args: h.args().clone().unwrap_or_default(),
                env,
                timeout,
            })
        })
        .collect()
}

impl Hooks {
    /// Validate the spec's `hooks`.
    pub fn from_spec(spec: &Spec) -> Result<Hooks> {
        let Some(h) = spec.hooks() else {
            return Ok(Hooks::default());
        };
        #[allow(deprecated)]
        let prestart = h.prestart();
        Ok(Hooks {
            prestart: convert("prestart", prestart)?,
            create_runtime: convert("createRuntime", h.create_runtime())?,
            create_container: convert("createContainer", h.create_container())?,
            start_container: convert("startContainer", h.start_container())?,
            poststart: convert("poststart", h.poststart())?,
            poststop: convert("poststop", h.poststop())?,
        })
    }
}

/// Run `hooks` (named `point` in errors) in order, each with `state` on stdin.
pub fn run_hooks(point: &str, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state).map_err(|msg| {
            Error::Other(format!("{point} hook #{i} ({}): {msg}", h.path.display()))
        })?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(&h.path);
    if let Some((arg0, rest)) = h.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear()
        .envs(h.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let pidfd = PidFd::open(child.id() as i32).map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE).
        let _ = stdin.write_all(state);
    }
    let exited = pidfd.wait_exit(h.timeout).map_err(|e| e.to_string())?;
    if !exited {
        let _ = pidfd.signal(Signal::SIGKILL);
        let _ = child.wait();
        return Err(format!(
            "timed out after {}s",
            h.timeout.unwrap_or_default().as_secs()
        ));
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut stderr);
    }
    let stderr = stderr.trim();
    Err(if stderr.is_empty() {
        format!("{status}")
    } else {
        format!("{status}: {stderr}")
    })
}
