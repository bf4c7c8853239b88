//! The cgroup commands: `update`, `events`, `ps`.

use std::io::Read;
use std::time::Duration;

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use testa::container::{Container, Runtime, Status};
use testa::Error;

use crate::args::UpdateArgs;

/// Bytes as runc accepts them: a number with an optional k/m/g/t suffix
/// (binary units), or -1.
fn bytes(field: &str, s: &str) -> Result<i64, Error> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let (num, mult) = match lower.trim_end_matches('b').chars().last() {
        Some('k') => (&lower[..lower.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 40),
        _ => (lower.trim_end_matches('b'), 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| Error::Other(format!("--{field}: invalid value {s:?}")))?;
    Ok(if n < 0.0 {
        -1
    } else {
        (n * mult as f64) as i64
    })
}

/// The resources an `update` asks for: the JSON of `--resources`, then
/// each flag on top.
pub fn update_request(a: &UpdateArgs) -> Result<LinuxResources, Error> {
    let mut v = match a.resources.as_deref() {
        None => json!({}),
        Some(src) => {
            let mut text = String::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| Error::io("--resources: read stdin", e))?;
            } else {
                text = std::fs::read_to_string(src)
                    .map_err(|e| Error::io(format!("--resources: read {src:?}"), e))?;
            }
            serde_json::from_str(&text).map_err(|e| Error::config("--resources", e.to_string()))?
        }
    };
    if !v.is_object() {
        return Err(Error::config("--resources", "expected a JSON object"));
    }
    let not_object = |path: &[&str]| {
        Error::config(
            format!("--resources.{}", path.join(".")),
            "expected a JSON object",
        )
    };
    let mut set = |path: &[&str], val: Value| -> Result<(), Error> {
        let (last, parents) = path.split_last().expect("a field path");
        let mut cur = &mut v;
        for (i, k) in parents.iter().enumerate() {
            cur = cur
                .as_object_mut()
                .ok_or_else(|| not_object(&path[..i]))?
                .entry(k.to_string())
                .or_insert(json!({}));
        }
        cur.as_object_mut()
            .ok_or_else(|| not_object(parents))?
            .insert(last.to_string(), val);
        Ok(())
    };
    if let Some(w) = a.blkio_weight {
        set(&["blockIO", "weight"], json!(w))?;
    }
    if let Some(x) = a.cpu_period {
        set(&["cpu", "period"], json!(x))?;
    }
    if let Some(x) = a.cpu_quota {
        set(&["cpu", "quota"], json!(x))?;
    }
    if let Some(x) = a.cpu_shares {
        set(&["cpu", "shares"], json!(x))?;
    }
    if let Some(x) = a.cpu_rt_period {
        set(&["cpu", "realtimePeriod"], json!(x))?;
    }
    if let Some(x) = a.cpu_rt_runtime {
        set(&["cpu", "realtimeRuntime"], json!(x))?;
    }
    if let Some(x) = &a.cpuset_cpus {
        set(&["cpu", "cpus"], json!(x))?;
    }
    if let Some(x) = &a.cpuset_mems {
        set(&["cpu", "mems"], json!(x))?;
    }
    if let Some(x) = &a.memory {
        set(&["memory", "limit"], json!(bytes("memory", x)?))?;
    }
    if let Some(x) = &a.memory_reservation {
        set(
            &["memory", "reservation"],
            json!(bytes("memory-reservation", x)?),
        )?;
    }
    if let Some(x) = &a.memory_swap {
        set(&["memory", "swap"], json!(bytes("memory-swap", x)?))?;
    }
    if let Some(x) = a.pids_limit {
        set(&["pids", "limit"], json!(x))?;
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "--resources".to_string()
        } else {
            format!("--resources.{path}")
        };
        Error::config(field, e.into_inner().to_string())
    })
}

/// `5s`, `500ms`, `1m`, or plain seconds.
pub fn duration(s: &str) -> Result<Duration, Error> {
    let bad = || Error::Other(format!("--interval: invalid duration {s:?}"));
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn print_event(kind: &str, id: &str, data: Option<Value>) {
    let mut ev = json!({"type": kind, "id": id});
    if let Some(d) = data {
        ev["data"] = d;
    }
    println!("{ev}");
}

/// `events`: statistics once (`--stats`), or a stream of statistics every
/// `interval` and an `oom` event whenever the OOM killer strikes.
pub fn events(c: &Container, once: bool, interval: Duration) -> Result<(), Error> {
    if c.status() == Status::Stopped {
        return Err(Error::State("container not running".into()));
    }
    let stats = || -> Result<Value, Error> {
        Ok(serde_json::to_value(c.stats()?).expect("stats serialize"))
    };
    if once {
        print_event("stats", c.id(), Some(stats()?));
        return Ok(());
    }
    // OOM kills are polled more often than statistics are printed.
    let tick = interval.min(Duration::from_millis(200));
    let mut ooms = c.oom_kills().unwrap_or(0);
    let mut since_stats = interval;
    while c.status() != Status::Stopped {
        if since_stats >= interval {
            print_event("stats", c.id(), Some(stats()?));
            since_stats = Duration::ZERO;
        }
        let now = c.oom_kills().unwrap_or(ooms);
        if now > ooms {
            print_event("oom", c.id(), None);
            ooms = now;
        }
        std::thread::sleep(tick);
        since_stats += tick;
    }
    Ok(())
}

/// `ps`: the container's pids as JSON, or ps(1)'s table cut to them.
pub fn ps(rt: &Runtime, id: &str, format: &str, ps_args: &[String]) -> Result<(), Error> {
    let c = rt.load(id)?;
    let pids = c.processes()?;
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids).expect("serializes"));
            Ok(())
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Error::io("ps: exec ps", e))?;
            if !out.status.success() {
                return Err(Error::Other(format!(
                    "ps: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| Error::Other("ps: no PID column in ps output".into()))?;
            println!("{header}");
            for l in lines {
                let pid = l.split_whitespace().nth(col).and_then(|p| p.parse().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    println!("{l}");
                }
            }
            Ok(())
        }
        other => Err(Error::Other(format!(
            "invalid format option {other:?}: must be table or json"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(bytes("m", "512").unwrap(), 512);
        assert_eq!(bytes("m", "64m").unwrap(), 64 << 20);
        assert_eq!(bytes("m", "1G").unwrap(), 1 << 30);
        assert_eq!(bytes("m", "-1").unwrap(), -1);
        assert!(bytes("m", "lots").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("2").unwrap(), Duration::from_secs(2));
        assert!(duration("0s").is_err());
        assert!(duration("5x").is_err());
    }
}
