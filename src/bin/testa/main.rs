//! `testa`: the runc-compatible command line. It parses, calls the library,
//! and prints; every container operation is a library call.

mod args;
mod cgroup_cmds;
mod exec;
mod features;
mod log;
mod run;
mod spec;
mod tty;

use std::process::ExitCode;

use clap::Parser;
use testa::container::{parse_signal, CreateOptions, Runtime, RuntimeOptions};
use testa::Error;

use args::{Cli, Command, CreateArgs, LogFormat};
use log::Logger;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let log = Logger::new(
        cli.log.as_deref(),
        cli.log_format == LogFormat::Json,
        cli.debug,
    );
    // Commands that clone processes into a container run from a sealed view of
    // this binary, so the container can never write to it (CVE-2019-5736).
    let clones = matches!(
        cli.command,
        Command::Create(_)
            | Command::Run { .. }
            | Command::Exec(_)
            | Command::CreateFromFile { .. }
    );
    let sealed = if clones {
        testa::process::exeseal::reexec_sealed()
    } else {
        Ok(())
    };
    match sealed.and_then(|()| dispatch(cli, &log)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            log.error(&e.to_string());
            ExitCode::from(1)
        }
    }
}

/// `--help` and `--version` print as clap prints them; a usage mistake is one
/// line on stderr and exit 1, like every other error (runc exits 1 too).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("testa: {}", first.trim_start_matches("error: "));
            ExitCode::from(1)
        }
    }
}

fn runtime(cli: &Cli) -> Result<Runtime, Error> {
    if cli.systemd_cgroup {
        return Err(Error::Other(
            "--systemd-cgroup: the systemd cgroup driver is not supported yet".into(),
        ));
    }
    let mut opts = RuntimeOptions::default();
    opts.root = cli.root.clone();
    Runtime::new(opts)
}

/// `LISTEN_FDS` as systemd socket activation passes it to runc.
fn listen_fds() -> u32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn create_options(a: &CreateArgs) -> Result<CreateOptions, Error> {
    let mut o = CreateOptions::default();
    o.no_pivot = a.no_pivot;
    o.no_new_keyring = a.no_new_keyring;
    o.preserve_fds = a.preserve_fds;
    o.listen_fds = listen_fds();
    o.pid_file = a.pid_file.clone();
    o.console_socket = a.console_socket.clone();
    Ok(o)
}

fn warn_all(log: &Logger, warnings: Vec<Error>) {
    for w in warnings {
        log.warn(&w.to_string());
    }
}

fn dispatch(cli: Cli, log: &Logger) -> Result<u8, Error> {
    match &cli.command {
        Command::Spec { bundle, rootless } => {
            spec::write_default(bundle.as_deref(), *rootless)?;
            return Ok(0);
        }
        Command::Features => {
            println!("{}", features::json());
            return Ok(0);
        }
        _ => {}
    }
    // Before the runtime opens anything (the state root first): an fd number the
    // caller left free would be taken by one of ours and handed to the container.
    let passed = match &cli.command {
        Command::Create(a) | Command::Run { create: a, .. } => a.preserve_fds + listen_fds(),
        Command::Exec(a) => a.preserve_fds,
        _ => 0,
    };
    testa::process::check_passed_fds(passed, &[])?;
    let rt = runtime(&cli)?;
    match cli.command {
        Command::Create(a) => {
            let opts = create_options(&a)?;
            rt.create(&a.id, &a.bundle, opts)?;
        }
        Command::Start { id } => warn_all(log, rt.load(&id)?.start()?),
        Command::Run {
            create,
            detach,
            keep,
        } => return run::run(&rt, &create, create_options(&create)?, detach, keep, log),
        Command::State { id } => {
            let state = rt.load(&id)?.state();
            println!(
                "{}",
                serde_json::to_string_pretty(&state).expect("state serializes")
            );
        }
        Command::Kill { id, signal, all } => {
            let sig = parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            rt.load(&id)?.kill(sig, all)?;
        }
        Command::Delete { id, force } => match rt.load(&id) {
            // runc: deleting a missing container with --force is not an error.
            Err(Error::NotExist) if force => {}
            Err(e) => return Err(e),
            Ok(c) => warn_all(log, c.delete(force)?),
        },
        Command::List { format, quiet } => list(&rt, &format, quiet)?,
        Command::Exec(a) => return exec::exec(&rt, &a, log),
        Command::CreateFromFile { file } => testa::container::serve_helper_request(&rt, &file)?,
        Command::Pause { id } => rt.load(&id)?.pause()?,
        Command::Resume { id } => rt.load(&id)?.resume()?,
        Command::Update(a) => {
            let resources = cgroup_cmds::update_request(&a)?;
            rt.load(&a.id)?.update(&resources)?;
        }
        Command::Events {
            id,
            stats,
            interval,
        } => cgroup_cmds::events(&rt.load(&id)?, stats, cgroup_cmds::duration(&interval)?)?,
        Command::Ps {
            id,
            format,
            ps_args,
        } => cgroup_cmds::ps(&rt, &id, &format, &ps_args)?,
        Command::Spec { .. } | Command::Features => unreachable!("handled above"),
    }
    Ok(0)
}

fn list(rt: &Runtime, format: &str, quiet: bool) -> Result<(), Error> {
    let states: Vec<_> = rt
        .list()?
        .iter()
        .map(|c| {
            let mut s = c.state();
            s.owner = c.owner();
            s
        })
        .collect();
    if quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(());
    }
    match format {
        "json" if states.is_empty() => println!("null"),
        "json" => println!("{}", serde_json::to_string(&states).expect("serializes")),
        "table" => {
            let mut rows =
                vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for s in &states {
                rows.push([
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            print!("{}", table(&rows));
        }
        other => {
            return Err(Error::Other(format!(
                "invalid format option {other:?}: must be table or json"
            )))
        }
    }
    Ok(())
}

/// Columns as Go's tabwriter (minwidth 12, padding 3) aligns them for runc.
fn table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len() + 3).max(12);
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            if i == 5 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}
