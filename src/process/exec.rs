//! Finding the container's program in its `PATH` and replacing the init with it.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::unistd::{access, AccessFlags};

use super::plan::ProcessPlan;
use crate::error::{Error, Result};

/// Why a candidate is not a program, in Go's `exec.LookPath` words (runc's
/// texts, which podman and containerd match to pick exit codes 126/127).
fn check_executable(cand: &Path) -> std::result::Result<(), String> {
    match std::fs::metadata(cand) {
        Err(e) => {
            let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT));
            let text = errno.desc();
            let mut lower = text[..1].to_lowercase();
            lower.push_str(&text[1..]);
            Err(format!("stat {}: {lower}", cand.display()))
        }
        Ok(m) if m.is_file() && access(cand, AccessFlags::X_OK).is_ok() => Ok(()),
        Ok(_) => Err("permission denied".into()),
    }
}

/// Resolve `args[0]` as `execvp` would, in the current root and as the
/// current user; errors name the field and read like runc's.
pub fn find_program(p: &ProcessPlan) -> Result<CString> {
    let name = p.args[0].to_bytes();
    let shown = String::from_utf8_lossy(name);
    if name.contains(&b'/') {
        let cand = Path::new(std::ffi::OsStr::from_bytes(name));
        return match check_executable(cand) {
            Ok(()) => Ok(p.args[0].clone()),
            Err(why) => Err(Error::config(
                "process.args[0]",
                format!("exec: {shown:?}: {why}"),
            )),
        };
    }
    for dir in p.path_var().split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(std::ffi::OsStr::from_bytes(name));
        if check_executable(&cand).is_ok() {
            return Ok(CString::new(cand.as_os_str().as_bytes()).expect("no NUL in path"));
        }
    }
    Err(Error::config(
        "process.args[0]",
        format!("exec: {shown:?}: executable file not found in $PATH"),
    ))
}

/// `execve` the program; returns only on failure.
pub fn exec(program: &CStr, p: &ProcessPlan) -> Error {
    let err = nix::unistd::execve(program, &p.args, &p.env).unwrap_err();
    Error::sys(format!("execve({program:?})"), err)
}
