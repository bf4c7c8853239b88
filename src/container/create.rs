//! `create` (and the first half of `run`): validate the bundle, make the
//! state directory, spawn the init, record it. On any error nothing is left
//! behind: no directory, no process.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::dir::StateDir;
use super::lock::Lock;
use super::plan::{load_spec, Plan};
use super::stale::{self, CgroupRecord};
use super::state::{now_rfc3339, proc_stat, StateFile};
use super::{validate_id, Container, CreateOptions, Runtime, EXEC_FIFO};
use crate::error::{Context, Error, Result};
use crate::namespace::IdMap;
use crate::process::spawn::{spawn, SpawnOptions};

impl Runtime {
    /// Create container `id` from the bundle directory `bundle`: the init
    /// is set up and waits for [`Container::start`].
    pub fn create(&self, id: &str, bundle: &Path, opts: CreateOptions) -> Result<Container> {
        let bundle = canonical_bundle(bundle)?;
        let spec = load_spec(&bundle)?;
        self.create_with_spec(id, &bundle, spec, opts)
    }

    /// Create container `id` from a spec built in memory; `bundle` is the
    /// directory relative paths of the spec (`root.path`) resolve against.
    pub fn create_with_spec(
        &self,
        id: &str,
        bundle: &Path,
        spec: oci_spec::runtime::Spec,
        opts: CreateOptions,
    ) -> Result<Container> {
        self.create_inner(id, bundle, spec, &opts, true)
    }

    /// Create and start container `id` at once, without the exec FIFO
    /// (`runc run`); [`Container::wait`] then reaps it. Also returns the
    /// failures of poststart hooks, which are warnings.
    pub fn run(
        &self,
        id: &str,
        bundle: &Path,
        opts: CreateOptions,
    ) -> Result<(Container, super::Warnings)> {
        let bundle = canonical_bundle(bundle)?;
        let spec = load_spec(&bundle)?;
        let c = self.create_inner(id, &bundle, spec, &opts, false)?;
        match c.after_exec() {
            Ok(warnings) => Ok((c, warnings)),
            Err(e) => {
                self.discard(c);
                Err(e)
            }
        }
    }

    fn create_inner(
        &self,
        id: &str,
        bundle: &Path,
        mut spec: oci_spec::runtime::Spec,
        opts: &CreateOptions,
        with_fifo: bool,
    ) -> Result<Container> {
        validate_id(id)?;
        if caller_is_threaded() {
            return match &self.helper {
                Some(helper) if with_fifo => self.create_via_helper(helper, id, bundle, spec, opts),
                _ => Err(Error::Other(format!(
                    "create: the calling process is multi-threaded; containers can only be \
                     cloned from a single-threaded process{}",
                    if with_fifo {
                        " (set RuntimeOptions::helper to the testa binary)"
                    } else {
                        " (use create and start with RuntimeOptions::helper)"
                    }
                ))),
            };
        }
        // Before this process opens anything that could take a free fd number.
        crate::process::check_passed_fds(
            opts.preserve_fds + opts.listen_fds,
            &[self.root.as_fd().as_raw_fd()],
        )?;
        crate::process::exeseal::require_sealed("create")?;
        if opts.listen_fds > 0 {
            add_listen_env(&mut spec, opts.listen_fds);
        }
        let mut plan = Plan::new(id, bundle, spec)?;
        let keeps = opts.keep_console && !with_fifo;
        if plan.process.terminal && opts.console_socket.is_none() && !keeps {
            return Err(Error::config(
                "process.terminal",
                "cannot allocate tty if runc will detach without setting console socket",
            ));
        }
        plan.rootfs.set_no_pivot(opts.no_pivot);
        plan.no_new_keyring = opts.no_new_keyring;
        // A cgroup that was there before us is not ours to remove on failure.
        let cgroup_existed = plan.cgroup.paths().iter().any(|(_, p)| p.exists());
        if !cgroup_existed {
            plan.cgroup_parents_made =
                crate::cgroups::missing_parents(plan.cgroup.as_ref(), &plan.cgroup_path);
        }
        let record = (!cgroup_existed).then(|| CgroupRecord {
            id: id.to_string(),
            cgroup_path: plan.cgroup_path.clone(),
            own_cgroups: plan.own_cgroups.clone(),
            parents_made: plan.cgroup_parents_made,
        });
        let (dir, lock) = self.claim(id, record.as_ref())?;
        match prepare_cgroup(&mut plan)
            .and_then(|()| spawn_into(&dir, &plan, opts, with_fifo, &lock))
        {
            Ok((state, spawned)) => Ok(Container {
                dir,
                state,
                spawned: Some(spawned),
            }),
            Err(e) => {
                if !cgroup_existed && plan.cgroup.destroy().is_ok() {
                    let (cg, path) = (plan.cgroup.as_ref(), &plan.cgroup_path);
                    crate::cgroups::remove_parents(cg, path, plan.cgroup_parents_made);
                }
                // Ours: we made it and still hold its lock.
                let _ = dir.remove(stale::RECORD);
                Err(e)
            }
        }
    }

    /// Make the directory of `id`, locked and holding `record`: made
    /// private, then renamed into place, so it is never visible unlocked
    /// and empty, and two creates of one id cannot both succeed. A
    /// directory a killed command left there (no state, lock free) is
    /// cleared first.
    fn claim(&self, id: &str, record: Option<&CgroupRecord>) -> Result<(StateDir, Lock)> {
        stale::sweep_private(&self.root, Some(id));
        let (mut dir, lock) = StateDir::make_private(&self.root, &stale::private_name(id))?;
        let made = match record {
            Some(r) => r.save(&dir.dir),
            None => Ok(()),
        };
        let mut published = made.and_then(|()| self.publish(&mut dir, id));
        if matches!(published, Err(Error::Exists(_))) && self.clear_stale(id) {
            published = self.publish(&mut dir, id);
        }
        match published {
            Ok(()) => Ok((dir, lock)),
            Err(e) => {
                let _ = dir.remove(stale::RECORD);
                Err(e)
            }
        }
    }

    fn publish(&self, dir: &mut StateDir, id: &str) -> Result<()> {
        dir.publish(id).map_err(|e| match e {
            nix::errno::Errno::EEXIST => Error::Exists(id.to_string()),
            e => Error::sys(format!("rename to {:?}", self.root().join(id)), e),
        })
    }

    /// Clear the entry `id` if a killed command left it (no state, lock
    /// free); whether it is gone.
    fn clear_stale(&self, id: &str) -> bool {
        let Ok(dir) = StateDir::open(&self.root, id) else {
            return false;
        };
        match dir.try_lock() {
            Ok(Some(lock)) if !dir.dir.has(super::state::STATE) => {
                stale::clear(dir, id, lock).is_ok()
            }
            _ => false,
        }
    }
}

/// Make the container's cgroup; one that already holds processes, or is
/// frozen, is refused (runc's reasons: limits, pause and kill would hit the
/// other processes too) unless the spec asks to share it.
fn prepare_cgroup(plan: &mut Plan) -> Result<()> {
    plan.cgroup.create()?;
    let path = plan.cgroup_path.display();
    if plan.cgroup.is_frozen()? {
        return Err(Error::config(
            "linux.cgroupsPath",
            format!("cgroup {path} is frozen"),
        ));
    }
    if !plan.shares_cgroup() && plan.cgroup.has_processes()? {
        return Err(Error::config(
            "linux.cgroupsPath",
            format!(
                "cgroup {path} already holds processes (annotation {}=true shares it)",
                super::plan::SHARE_CGROUP_ANNOTATION
            ),
        ));
    }
    Ok(())
}

/// The init is cloned from the calling process and runs Rust code until it
/// execs. In a multi-threaded caller another thread may hold a lock (malloc,
/// the environment) at the clone, and the child would deadlock on it; such
/// callers go through the helper binary instead (see `helper.rs`).
fn caller_is_threaded() -> bool {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count() > 1)
        .unwrap_or(false)
}

fn canonical_bundle(bundle: &Path) -> Result<PathBuf> {
    bundle
        .canonicalize()
        .map_err(|e| Error::io(format!("bundle: canonicalize({bundle:?})"), e))
}

fn add_listen_env(spec: &mut oci_spec::runtime::Spec, n: u32) {
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
        p.set_env(Some(env));
    }
}

/// The exec FIFO: writable by everyone (the init opens it as the container's
/// user, after the user switch), owned by the container's root.
fn open_fifo(dir: &StateDir, plan: &Plan) -> Result<OwnedFd> {
    let path = dir.dir.path().join(EXEC_FIFO);
    nix::unistd::mkfifoat(dir.dir.as_fd(), EXEC_FIFO, Mode::from_bits_truncate(0o622))
        .step(|| format!("mkfifo({path:?})"))?;
    // chmod rather than umask(0): the caller's umask is not ours to change.
    // The FIFO was just made by us in a directory only we can write to.
    nix::sys::stat::fchmodat(
        dir.dir.as_fd(),
        EXEC_FIFO,
        Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .step(|| format!("chmod({path:?}, 0622)"))?;
    let root_uid = IdMap::to_host(&plan.ns.uid_maps, 0).unwrap_or(0);
    let root_gid = IdMap::to_host(&plan.ns.gid_maps, 0).unwrap_or(0);
    nix::unistd::fchownat(
        dir.dir.as_fd(),
        EXEC_FIFO,
        Some(nix::unistd::Uid::from_raw(root_uid)),
        Some(nix::unistd::Gid::from_raw(root_gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .step(|| format!("chown({path:?}, {root_uid}, {root_gid})"))?;
    dir.dir.open(EXEC_FIFO, OFlag::O_PATH)
}

/// Spawn the init and record it.
fn spawn_into(
    dir: &StateDir,
    plan: &Plan,
    opts: &CreateOptions,
    with_fifo: bool,
    lock: &Lock,
) -> Result<(StateFile, crate::process::spawn::Spawned)> {
    let fifo = with_fifo.then(|| open_fifo(dir, plan)).transpose()?;
    let spawn_opts = SpawnOptions {
        exec_fifo: fifo.as_ref().map(|f| f.as_raw_fd()),
        preserve_fds: opts.preserve_fds + opts.listen_fds,
        close_in_child: vec![lock.raw_fd(), dir.raw_fd()],
        console_socket: opts.console_socket.clone(),
    };
    let mut recorded = None;
    let spawned = spawn(plan, &spawn_opts, |pid| {
        let pid = pid.as_raw();
        let start_time = proc_stat(pid)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::Other(format!("read /proc/{pid}/stat: init vanished")))?;
        let state = StateFile {
            id: plan.id.clone(),
            pid,
            start_time,
            bundle: plan.bundle.clone(),
            rootfs: plan.rootfs.root().to_path_buf(),
            created: now_rfc3339(),
            owner: String::new(),
            annotations: plan.spec.annotations().clone().unwrap_or_default(),
            spec: plan.spec.clone(),
            cgroup_path: plan.cgroup_path.clone(),
            own_cgroups: plan.own_cgroups.clone(),
            cgroup_parents_made: plan.cgroup_parents_made,
            exit_status: None,
        };
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, pid)?;
        }
        state.save(&dir.dir)?;
        recorded = Some(state);
        Ok(())
    })?;
    Ok((recorded.expect("on_ready ran"), spawned))
}

/// Write the pid file atomically, as runc does (containerd reads it at once).
pub(super) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string()).step(|| format!("--pid-file: write({tmp:?})"))?;
    std::fs::rename(&tmp, path).step(|| format!("--pid-file: rename({tmp:?}, {path:?})"))
}
