//! Containers and their lifecycle: the state root, one directory per id,
//! and one file per verb (create, start, kill, delete).
//!
//! ```no_run
//! use testa::container::{CreateOptions, Runtime, RuntimeOptions};
//! let rt = Runtime::new(RuntimeOptions::default())?;
//! let c = rt.create("web", "/bundles/web".as_ref(), CreateOptions::default())?;
//! c.start()?;
//! println!("exit status {}", c.wait()?);
//! c.delete(false)?;
//! # Ok::<(), testa::Error>(())
//! ```

mod cgroup;
mod create;
mod delete;
mod dir;
mod exec;
mod helper;
mod kill;
mod lock;
mod pause;
pub(crate) mod plan;
mod stale;
mod start;
pub use exec::{ExecOptions, ExecProcess};
pub use helper::serve_helper_request;
pub use kill::parse_signal;
pub use start::Warnings;
pub(crate) mod state;
mod update;

use std::path::{Path, PathBuf};

pub use state::{format_rfc3339, OciState, Status, OCI_VERSION};

use crate::error::{Error, Result};
use crate::process::spawn::Spawned;
use dir::{Dir, StateDir};
use state::StateFile;

/// Name of the exec FIFO in a container's state directory.
pub(crate) const EXEC_FIFO: &str = "exec.fifo";

/// Options of a [`Runtime`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeOptions {
    /// Directory holding one state directory per container (runc's `--root`).
    pub root: PathBuf,
    /// The `testa` binary. A multi-threaded caller (a tokio server, say)
    /// cannot clone the container init itself (another thread may hold a
    /// lock the child needs); with a helper, [`Runtime::create`] runs it
    /// (fork + exec is safe anywhere) and the helper takes the direct path.
    /// Such a container is not the caller's child: [`Container::wait`] is
    /// not available for it (its status is).
    pub helper: Option<PathBuf>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            root: PathBuf::from("/run/testa"),
            helper: None,
        }
    }
}

/// Options of [`Runtime::create`] and [`Runtime::run`].
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CreateOptions {
    /// Use `MS_MOVE` + `chroot` instead of `pivot_root` (runc's `--no-pivot`).
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new `_ses.<id>` one
    /// (runc's `--no-new-keyring`).
    pub no_new_keyring: bool,
    /// Pass fds `3..3+preserve_fds` of the caller to the container.
    pub preserve_fds: u32,
    /// Socket-activation fds (`LISTEN_FDS`) passed before the preserved
    /// ones; the container gets `LISTEN_FDS` and `LISTEN_PID=1`.
    pub listen_fds: u32,
    /// Write the container's pid to this file.
    pub pid_file: Option<PathBuf>,
    /// Send a terminal's pty master to this unix socket (`--console-socket`).
    pub console_socket: Option<PathBuf>,
    /// With [`Runtime::run`]: keep a terminal's pty master for the caller
    /// ([`Container::take_console`]) when there is no console socket.
    pub keep_console: bool,
}

/// The container runtime: a state root holding containers.
#[derive(Debug, Clone)]
pub struct Runtime {
    root: Dir,
    helper: Option<PathBuf>,
}

/// A container known to a [`Runtime`].
#[derive(Debug)]
pub struct Container {
    dir: StateDir,
    state: StateFile,
    /// Present when this runtime object spawned the init (it can wait for it).
    spawned: Option<Spawned>,
}

/// Check a container id as runc does: letters, digits, `_+-.`, not `.`/`..`;
/// and not a name testa keeps for itself in the state root (`.tmp-*`, `.helper-*`).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && !id.starts_with(stale::PRIVATE)
        && !id.starts_with(helper::PRIVATE)
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Other(format!("invalid id format: {id:?}")))
    }
}

impl Runtime {
    /// A runtime keeping its state under `opts.root` (created if missing, mode 0700).
    pub fn new(opts: RuntimeOptions) -> Result<Runtime> {
        Ok(Runtime {
            root: Dir::open_root(&opts.root)?,
            helper: opts.helper,
        })
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Load an existing container. A directory a killed command left
    /// (no state, lock free) is cleaned on the way and reads as missing.
    pub fn load(&self, id: &str) -> Result<Container> {
        validate_id(id)?;
        let found = StateDir::open(&self.root, id).and_then(|dir| {
            let lock = dir.lock()?;
            match StateFile::load(&dir.dir) {
                Ok(state) => Ok(Container {
                    dir,
                    state,
                    spawned: None,
                }),
                Err(Error::NotExist) => {
                    stale::clear(dir, id, lock)?;
                    Err(Error::NotExist)
                }
                Err(e) => Err(e),
            }
        });
        if matches!(found, Err(Error::NotExist)) {
            stale::sweep_private(&self.root, Some(id));
        }
        found
    }

    /// All containers with a recorded state, sorted by id. Directories left
    /// by a killed command (no state, lock free) are removed; one being
    /// created (locked) is skipped; entries that are not our directories
    /// are left alone.
    pub fn list(&self) -> Result<Vec<Container>> {
        stale::sweep_private(&self.root, None);
        let mut out: Vec<Container> = self
            .root
            .names()?
            .into_iter()
            .filter(|n| validate_id(n).is_ok())
            .filter_map(|id| {
                let dir = StateDir::open(&self.root, &id).ok()?;
                let state = match StateFile::load(&dir.dir) {
                    Err(Error::NotExist) => {
                        if let Ok(Some(lock)) = dir.try_lock() {
                            // Checked again under the lock: a create may just have finished.
                            if !dir.dir.has(state::STATE) {
                                let _ = stale::clear(dir, &id, lock);
                            }
                        }
                        return None;
                    }
                    r => r.ok()?,
                };
                Some(Container {
                    dir,
                    state,
                    spawned: None,
                })
            })
            .collect();
        out.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(out)
    }
}

impl Container {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// The pid of the container process, in the runtime's pid namespace.
    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// The current status, derived from the live process.
    pub fn status(&self) -> Status {
        match self.state.status(&self.dir.dir) {
            s @ (Status::Running | Status::Created) => {
                let frozen = self.cgroup().and_then(|c| c.is_frozen());
                if frozen.unwrap_or(false) {
                    Status::Paused
                } else {
                    s
                }
            }
            s => s,
        }
    }

    /// The OCI state (what `testa state` prints).
    pub fn state(&self) -> OciState {
        self.state.oci_state(self.status())
    }

    /// The user owning the container's state directory, as `runc list` shows it.
    pub fn owner(&self) -> String {
        let uid = self.dir.dir.uid();
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| format!("#{uid}"))
    }

    /// The pty master of a terminal container that was not sent to a
    /// console socket (a foreground `run` relays it).
    pub fn take_console(&mut self) -> Option<std::os::fd::OwnedFd> {
        self.spawned.as_mut().and_then(|s| s.console.take())
    }

    /// The spec the container was created from.
    pub fn spec(&self) -> &oci_spec::runtime::Spec {
        &self.state.spec
    }

    /// The exit status recorded when a runtime waited for the process.
    pub fn exit_status(&self) -> Option<i32> {
        self.state.exit_status
    }

    /// Reap the container process if it has exited, without blocking;
    /// records and returns its status (exit code, or 128 + signal).
    pub fn try_wait(&self) -> Result<Option<i32>> {
        let code = crate::process::reap(self.state.pid, false)?;
        if let Some(code) = code {
            self.record_exit(code)?;
        }
        Ok(code)
    }

    fn record_exit(&self, code: i32) -> Result<()> {
        let _lock = self.dir.lock()?;
        let mut state = StateFile::load(&self.dir.dir)?;
        state.exit_status = Some(code);
        state.save(&self.dir.dir)
    }

    /// Send `sig` to the container process only (no state check), as a
    /// foreground `run` forwards the signals it receives.
    pub fn signal(&self, sig: nix::sys::signal::Signal) -> Result<()> {
        match &self.spawned {
            Some(s) => s.pidfd.signal(sig),
            None => crate::process::PidFd::open(self.state.pid)?.signal(sig),
        }
    }

    /// Wait for the container process to exit and return its status as a
    /// shell reports it: the exit code, or 128 + the signal number.
    ///
    /// Only the runtime object that created the container is its parent
    /// and can reap it; others get an error.
    pub fn wait(&self) -> Result<i32> {
        if self.spawned.is_none() {
            return Err(Error::Other(format!(
                "container {}: wait: not a child of this runtime",
                self.id()
            )));
        }
        let code = crate::process::reap(self.state.pid, true)?.expect("blocking wait");
        self.record_exit(code)?;
        Ok(code)
    }
}
