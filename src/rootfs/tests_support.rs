//! Helpers for the tests of this module: unique temporary directories and running a
//! privileged check in a forked child inside its own mount namespace.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under `std::env::temp_dir()`, removed (after a lazy unmount of anything
/// left mounted below it) when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A new, unique, empty directory.
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "testa-rootfs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether privileged tests can run here; prints why not when they cannot.
pub(crate) fn is_root(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("{test}: skipped, needs root");
    }
    root
}

/// Run `f` in a forked child that first unshares its mount namespace and makes `/`
/// rprivate, so nothing it mounts reaches the host. Panics (in the parent) with the
/// child's message when `f` fails.
pub(crate) fn in_child(f: impl FnOnce() -> Result<(), String>) {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    // SAFETY: the child only makes system calls and small allocations (glibc keeps
    // malloc usable after fork) and leaves with _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let run = || -> Result<(), String> {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
                    .map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
                nix::mount::mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    nix::mount::MsFlags::MS_PRIVATE | nix::mount::MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| format!("make / rprivate: {e}"))?;
                f()
            };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                .unwrap_or_else(|_| Err("panicked".into()));
            let code = match r {
                Ok(()) => 0,
                Err(msg) => {
                    // Straight to fd 2: the test harness's capture of eprintln! would
                    // never be printed from this child.
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr(), "privileged child failed: {msg}");
                    1
                }
            };
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
            WaitStatus::Exited(_, 0) => {}
            other => panic!("privileged child failed: {other:?} (its message is above)"),
        },
    }
}
