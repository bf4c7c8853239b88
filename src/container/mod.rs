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
mod exec;
mod helper;
mod kill;
mod lock;
mod pause;
pub(crate) mod plan;
mod start;
pub use exec::{ExecOptions, ExecProcess};
pub use helper::serve_helper_request;
pub use kill::parse_signal;
pub use start::Warnings;
pub(crate) mod state;
mod update;

use std::path::{Path, PathBuf};

pub use state::{format_rfc3339, OciState, Status, OCI_VERSION};

use crate::error::{Context, Error, Result};
use crate::process::spawn::Spawned;
use lock::Lock;
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
    root: PathBuf,
    helper: Option<PathBuf>,
}

/// A container known to a [`Runtime`].
#[derive(Debug)]
pub struct Container {
    dir: PathBuf,
    state: StateFile,
    /// Present when this runtime object spawned the init (it can wait for it).
    spawned: Option<Spawned>,
}

/// The cgroup directories a create made, recorded before it made them so a
/// runtime killed mid-create leaves nothing the next command cannot remove.
pub(crate) const CGROUP_RECORD: &str = "cgroup.json";

/// Remove what a runtime killed mid-create left: its cgroup directories.
pub(crate) fn clear_stale(dir: &Path) {
    let record = dir.join(CGROUP_RECORD);
    let paths: Vec<PathBuf> = std::fs::read(&record)
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or_default();
    for p in paths.iter().rev() {
        let _ = crate::cgroups::fs::remove_dir(p);
    }
    let _ = std::fs::remove_file(record);
}

/// Check a container id as runc does: letters, digits, `_+-.`, not `.`/`..`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
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
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&opts.root)
            .step(|| format!("mkdir({:?})", opts.root))?;
        let root = opts
            .root
            .canonicalize()
            .step(|| format!("canonicalize({:?})", opts.root))?;
        Ok(Runtime {
            root,
            helper: opts.helper,
        })
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        Ok(self.root.join(id))
    }

    /// Load an existing container.
    pub fn load(&self, id: &str) -> Result<Container> {
        let dir = self.dir(id)?;
        let _lock = Lock::acquire(&dir)?;
        Container::load(dir)
    }

    /// All containers with a recorded state, sorted by id. Directories left
    /// by a runtime killed mid-create (no state, lock free) are removed.
    pub fn list(&self) -> Result<Vec<Container>> {
        let entries =
            std::fs::read_dir(&self.root).step(|| format!("read_dir({:?})", self.root))?;
        let mut out: Vec<Container> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| {
                let dir = e.path();
                if !StateFile::path(&dir).exists() {
                    if let Ok(Some(_lock)) = Lock::try_acquire(&dir) {
                        clear_stale(&dir);
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                    return None;
                }
                Container::load(dir).ok()
            })
            .collect();
        out.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(out)
    }
}

impl Container {
    fn load(dir: PathBuf) -> Result<Container> {
        if !StateFile::path(&dir).exists() {
            return Err(Error::NotExist);
        }
        let state = StateFile::load(&dir)?;
        Ok(Container {
            dir,
            state,
            spawned: None,
        })
    }

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
        match self.state.status(&self.dir) {
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
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata(&self.dir).map(|m| m.uid()).unwrap_or(0);
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
        let _lock = Lock::acquire(&self.dir)?;
        let mut state = StateFile::load(&self.dir)?;
        state.exit_status = Some(code);
        state.save(&self.dir)
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
