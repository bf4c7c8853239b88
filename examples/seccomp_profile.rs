//! Render a Docker/podman-format seccomp profile into OCI `linux.seccomp`
//! for a set of capabilities, compile it, and print the JSON (the compiled
//! program's size and the compile time go to stderr).
//!
//! `cargo run --example seccomp_profile [PROFILE] [CAP...]`
//! (default: /usr/share/containers/seccomp.json and podman's default caps).

use std::time::Instant;

use testa::process::seccomp::{
    from_docker_profile, Filter, PODMAN_DEFAULT_CAPS, PODMAN_PROFILE_PATH,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| PODMAN_PROFILE_PATH.into());
    let caps: Vec<String> = args.collect();
    let caps: Vec<&str> = if caps.is_empty() {
        PODMAN_DEFAULT_CAPS.to_vec()
    } else {
        caps.iter().map(String::as_str).collect()
    };
    let text = std::fs::read_to_string(&path)?;
    let profile = from_docker_profile(&text, &caps, "amd64")?;
    let t = Instant::now();
    let filter = Filter::compile(&profile)?;
    eprintln!(
        "{path}: {} BPF instructions, compiled in {:?}",
        filter.instructions().len(),
        t.elapsed()
    );
    println!("{}", serde_json::to_string_pretty(&profile)?);
    Ok(())
}
