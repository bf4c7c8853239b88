//! `testa exec`: the process from `--process FILE` (as containerd and conmon
//! pass it) or the container's own process with new args and overrides.

use oci_spec::runtime::Process;
use testa::container::{ExecOptions, Runtime};
use testa::process::lsm::HostLsm;
use testa::Error;

use crate::args::ExecArgs;
use crate::log::Logger;

fn process_of(rt: &Runtime, a: &ExecArgs) -> Result<Process, Error> {
    let c = rt.load(&a.id)?;
    let mut p = match &a.process {
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| Error::io(format!("--process: read {path:?}"), e))?;
            let de = &mut serde_json::Deserializer::from_slice(&text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                Error::config(
                    format!("--process: {}", e.path()),
                    e.into_inner().to_string(),
                )
            })?
        }
        None if a.args.is_empty() => {
            return Err(Error::Other(
                "exec: the command to run is missing (args or --process)".into(),
            ))
        }
        None => c.exec_process(a.args.clone()),
    };
    if a.tty {
        p.set_terminal(Some(true));
    }
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.into());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    if let Some(user) = &a.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        let parse = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| Error::Other(format!("--user: {user:?} is not uid[:gid]")))
        };
        let mut u = p.user().clone();
        u.set_uid(parse(uid)?);
        if let Some(g) = gid {
            u.set_gid(parse(g)?);
        }
        p.set_user(u);
    }
    if !a.additional_gids.is_empty() {
        let mut u = p.user().clone();
        u.set_additional_gids(Some(a.additional_gids.clone()));
        p.set_user(u);
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        p = c.with_container_defaults(p);
        add_caps(&mut p, &a.cap)?;
    }
    // Checked here to name the flag; the plan checks the process again.
    let host = HostLsm::detect_if(a.apparmor.is_some() || a.process_label.is_some());
    if let Some(profile) = host.check_apparmor("--apparmor", &a.apparmor)? {
        p.set_apparmor_profile(Some(profile));
    }
    if let Some(label) = host.check_selinux("--process-label", &a.process_label)? {
        p.set_selinux_label(Some(label));
    }
    Ok(p)
}

/// `--cap X` as runc has it since CVE-2022-29162: X joins the bounding,
/// effective, permitted and ambient sets, never the inheritable one (an
/// inheritable capability would come back through a file's inheritable
/// caps). The kernel raises an ambient capability only if the process has
/// it inheritable too, so X becomes ambient only where the container's own
/// inheritable set already holds it.
fn add_caps(p: &mut Process, names: &[String]) -> Result<(), Error> {
    let added = names
        .iter()
        .map(|c| {
            serde_json::from_value(serde_json::json!(c))
                .map_err(|_| Error::Other(format!("--cap: unknown capability {c:?}")))
        })
        .collect::<Result<Vec<oci_spec::runtime::Capability>, Error>>()?;
    let add = |set: &Option<oci_spec::runtime::Capabilities>| {
        let mut s = set.clone().unwrap_or_default();
        s.extend(added.iter().copied());
        Some(s)
    };
    let mut caps = p.capabilities().clone().unwrap_or_default();
    caps.set_bounding(add(caps.bounding()));
    caps.set_effective(add(caps.effective()));
    caps.set_permitted(add(caps.permitted()));
    caps.set_ambient(add(caps.ambient()));
    p.set_capabilities(Some(caps));
    Ok(())
}

pub fn exec(rt: &Runtime, a: &ExecArgs, log: &Logger) -> Result<u8, Error> {
    let process = process_of(rt, a)?;
    let c = rt.load(&a.id)?;
    let mut opts = ExecOptions::default();
    opts.preserve_fds = a.preserve_fds;
    opts.pid_file = a.pid_file.clone();
    opts.console_socket = a.console_socket.clone();
    let terminal = process.terminal().unwrap_or(false);
    if a.detach {
        if terminal && a.console_socket.is_none() {
            return Err(Error::Other(
                "cannot allocate tty if runc will detach without setting console socket".into(),
            ));
        }
        c.exec(&process, opts)?;
        return Ok(0);
    }
    let set = crate::run::block_forwarded_signals()?;
    let mut p = c.exec(&process, opts)?;
    let console = p.take_console();
    let code = crate::run::supervise(&set, console, || p.try_wait(), |s| p.signal(s), log)?;
    Ok(code as u8)
}
