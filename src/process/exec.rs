//! Finding the container's program in its `PATH` and replacing the init with it.

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::unistd::{access, AccessFlags};

use super::plan::ProcessPlan;
use crate::error::{Error, Result};

/// Resolve `args[0]` as `execvp` would, in the current root and as the
/// current user; errors name the field and read like runc's.
pub fn find_program(p: &ProcessPlan) -> Result<CString> {
    let name = p.args[0].to_bytes();
    let shown = String::from_utf8_lossy(name);
    let ok = |cand: &Path| {
        std::fs::metadata(cand).is_ok_and(|m| m.is_file())
            && access(cand, AccessFlags::X_OK).is_ok()
    };
    if name.contains(&b'/') {
        let cand = Path::new(std::ffi::OsStr::from_bytes(name));
        if ok(cand) {
            return Ok(p.args[0].clone());
        }
        return Err(Error::config(
            "process.args[0]",
            format!("exec: {shown:?}: no such executable file"),
        ));
    }
    for dir in p.path_var().split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(std::ffi::OsStr::from_bytes(name));
        if ok(&cand) {
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
