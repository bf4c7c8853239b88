//! The cost of seccomp: compiling podman's default profile (or a built-in
//! fallback when `/usr/share/containers/seccomp.json` is not installed),
//! installing it, and what it adds to a system call (`getpid` and
//! `personality` loops without and with the filter; time per iteration = ns/call).
//! Installing and the syscall loops run in forked children, so the benchmark
//! process itself is never filtered.
//!
//! `cargo bench --bench seccomp`.

use std::hint::black_box;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe, read, write, ForkResult};
use testa::process::seccomp::{
    from_docker_profile, Filter, PODMAN_DEFAULT_CAPS, PODMAN_PROFILE_PATH,
};

/// A small allow-list with argument rules, for hosts without podman's profile.
const FALLBACK: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
  "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}],
  "syscalls":[{"names":["read","write","openat","close","fstat","mmap","munmap","brk","exit_group",
    "getpid","getppid","futex","rt_sigaction","rt_sigprocmask","clock_gettime","newfstatat","execve"],
    "action":"SCMP_ACT_ALLOW"},
   {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
   {"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#;

fn profile_json() -> String {
    std::fs::read_to_string(PODMAN_PROFILE_PATH).unwrap_or_else(|_| {
        eprintln!("{PODMAN_PROFILE_PATH} not installed: using the built-in fallback profile");
        FALLBACK.to_string()
    })
}

/// Run `work` in a forked child; it returns nanoseconds, passed back on a pipe.
fn in_child(work: impl FnOnce() -> u64) -> Duration {
    let (r, w) = pipe().expect("pipe");
    // SAFETY: the child makes system calls, allocates (glibc's malloc is
    // fork-safe) and leaves with _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let ns = work();
            let _ = write(w.as_fd(), &ns.to_ne_bytes());
            // SAFETY: leave the child without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut buf = [0u8; 8];
            let n = read(r.as_fd(), &mut buf).expect("read");
            waitpid(child, None).expect("waitpid");
            assert_eq!(n, 8, "the child failed");
            Duration::from_nanos(u64::from_ne_bytes(buf))
        }
    }
}

/// `iters` calls of `nr` with `arg0`, timed.
fn syscall_loop(iters: u64, nr: libc::c_long, arg0: libc::c_ulong) -> u64 {
    let t = Instant::now();
    for _ in 0..iters {
        // SAFETY: getpid ignores its arguments; personality(0xffffffff) only
        // queries the persona.
        black_box(unsafe { libc::syscall(nr, arg0) });
    }
    t.elapsed().as_nanos() as u64
}

fn seccomp(c: &mut Criterion) {
    let json = profile_json();
    let spec = from_docker_profile(&json, PODMAN_DEFAULT_CAPS, "amd64").expect("profile");
    let filter = Filter::compile(&spec).expect("compile");
    eprintln!("filter: {} instructions", filter.instructions().len());
    let mut g = c.benchmark_group("seccomp");
    g.bench_function("render docker profile", |b| {
        b.iter(|| from_docker_profile(black_box(&json), PODMAN_DEFAULT_CAPS, "amd64").unwrap())
    });
    g.bench_function("compile", |b| {
        b.iter(|| Filter::compile(black_box(&spec)).unwrap())
    });
    g.bench_function("install", |b| {
        // A process may stack at most 32768 instructions of filters: a child
        // installs at most 40 copies, and we fork as many children as needed.
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(40);
                left -= n;
                total += in_child(|| {
                    if nix::sys::prctl::set_no_new_privs().is_err() {
                        return u64::MAX;
                    }
                    let t = Instant::now();
                    for _ in 0..n {
                        filter.install().expect("install");
                    }
                    t.elapsed().as_nanos() as u64
                });
            }
            total
        })
    });
    // getpid is allowed whatever its arguments, so the kernel's per-syscall
    // cache of constant ALLOW verdicts skips the program; personality is
    // allowed only for some arguments, so every call runs the program.
    let calls: [(&str, libc::c_long, libc::c_ulong); 2] = [
        ("getpid", libc::SYS_getpid, 0),
        (
            "personality(0xffffffff)",
            libc::SYS_personality,
            0xffff_ffff,
        ),
    ];
    for (name, nr, arg0) in calls {
        g.bench_function(format!("{name} without filter"), |b| {
            b.iter_custom(|iters| in_child(|| syscall_loop(iters, nr, arg0)))
        });
        g.bench_function(format!("{name} with filter"), |b| {
            b.iter_custom(|iters| {
                in_child(|| {
                    nix::sys::prctl::set_no_new_privs().expect("PR_SET_NO_NEW_PRIVS");
                    filter.install().expect("install");
                    syscall_loop(iters, nr, arg0)
                })
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = seccomp
}
criterion_main!(benches);
