//! The cost of isolation primitives, one at a time: `unshare` of each
//! namespace kind (in a forked child, so the benchmark process stays put),
//! against a plain fork as the baseline.
//!
//! `cargo bench --bench primitives` (as root).

use criterion::{criterion_group, criterion_main, Criterion};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use testa::namespace::{self, Kind, Kinds};

/// Fork a child that runs `work` and exits; wait for it.
fn in_child(work: impl Fn() -> bool) {
    // SAFETY: the child only makes system calls and exits with _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = if work() { 0 } else { 1 };
            // SAFETY: leave the child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            waitpid(child, None).expect("waitpid");
        }
    }
}

fn unshare_each_kind(c: &mut Criterion) {
    let mut g = c.benchmark_group("unshare");
    g.bench_function("fork baseline", |b| b.iter(|| in_child(|| true)));
    for kind in Kind::ALL {
        g.bench_function(kind.oci_name(), |b| {
            b.iter(|| in_child(|| namespace::unshare(Kinds::of(kind)).is_ok()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = unshare_each_kind
}
criterion_main!(benches);
