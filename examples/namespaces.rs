//! The namespace API alone: new UTS and network namespaces for this
//! process, then back into the host's network namespace by pid.
//!
//! `cargo run --example namespaces` (as root).

use testa::namespace::{self, Kind, Kinds, Namespace};

fn ns_id(kind: Kind) -> String {
    std::fs::read_link(format!("/proc/self/ns/{}", kind.proc_name()))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn main() -> testa::Result<()> {
    // Keep a handle on the namespace we start in, to come back to it.
    let host_net = Namespace::of_pid(std::process::id() as i32, Kind::Net)?;
    let before = ns_id(Kind::Net);

    namespace::unshare(Kinds::UTS | Kinds::NET)?;
    namespace::loopback_up()?;
    nix::unistd::sethostname("sandbox").map_err(|e| testa::Error::sys("sethostname", e))?;
    println!(
        "in new namespaces: net {} (was {before}), hostname {:?}",
        ns_id(Kind::Net),
        nix::unistd::gethostname().unwrap_or_default()
    );
    assert_ne!(ns_id(Kind::Net), before);

    host_net.enter()?;
    println!("back in the host network namespace: {}", ns_id(Kind::Net));
    assert_eq!(ns_id(Kind::Net), before);
    Ok(())
}
