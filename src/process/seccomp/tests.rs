//! Verdict tests: the compiled program is checked the way the kernel checks a
//! filter and then run by an independent interpreter on `seccomp_data` inputs.

use oci_spec::runtime::LinuxSeccomp;

use super::*;

pub(super) const ALLOW: u32 = 0x7fff_0000;
const KILL_THREAD: u32 = 0;
const KILL_PROCESS: u32 = 0x8000_0000;
const TRAP: u32 = 0x0003_0000;
const LOG: u32 = 0x7ffc_0000;
const NOTIFY: u32 = 0x7fc0_0000;
pub(super) const fn errno(e: u32) -> u32 {
    0x0005_0000 | e
}
const fn trace(e: u32) -> u32 {
    0x7ff0_0000 | e
}
const X32: u32 = 0x4000_0000;

/// The kernel's structural checks (`bpf_check_classic` + `seccomp_check_filter`).
pub(super) fn validate(p: &[libc::sock_filter]) {
    assert!(!p.is_empty() && p.len() <= MAX_INSNS, "length {}", p.len());
    assert_eq!(p[p.len() - 1].code, bpf::RET, "must end in ret");
    for (pc, i) in p.iter().enumerate() {
        let rest = p.len() - pc - 1;
        match i.code {
            bpf::LD_ABS => assert!(i.k % 4 == 0 && i.k < 64, "ld {} at {pc}", i.k),
            bpf::JA => assert!((i.k as usize) < rest, "ja out of range at {pc}"),
            bpf::JEQ | bpf::JGT | bpf::JGE | bpf::JSET => {
                assert!(
                    (i.jt as usize) < rest && (i.jf as usize) < rest,
                    "jump at {pc}"
                )
            }
            bpf::AND_K | bpf::RET => {}
            c => panic!("opcode {c:#x} at {pc}"),
        }
    }
}

/// An interpreter of its own (not `bpf::run`), on the raw `seccomp_data` fields.
fn interp(p: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let word = |k: u32| -> u32 {
        match k {
            0 => nr,
            4 => arch,
            8 | 12 => 0,
            k => {
                let a = args[(k as usize - 16) / 8];
                if k % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
        }
    };
    let (mut a, mut pc) = (0u32, 0usize);
    loop {
        let i = p[pc];
        pc += 1;
        let cond = match i.code {
            bpf::RET => return i.k,
            bpf::LD_ABS => {
                a = word(i.k);
                continue;
            }
            bpf::AND_K => {
                a &= i.k;
                continue;
            }
            bpf::JA => {
                pc += i.k as usize;
                continue;
            }
            bpf::JEQ => a == i.k,
            bpf::JGT => a > i.k,
            bpf::JGE => a >= i.k,
            _ => a & i.k != 0,
        };
        pc += usize::from(if cond { i.jt } else { i.jf });
    }
}

pub(super) fn compile(json: &str) -> Filter {
    let f = Filter::compile_json(json).unwrap_or_else(|e| panic!("{e}"));
    validate(f.instructions());
    f
}

fn spec(json: &str) -> LinuxSeccomp {
    parse_profile(json).unwrap()
}

/// Verdict for `name` on `abi` with `args`.
pub(super) fn call(f: &Filter, abi: Abi, name: &str, args: [u64; 6]) -> u32 {
    let nr = abi
        .resolve(name)
        .unwrap_or_else(|| panic!("{name} on {abi:?}"));
    let v = interp(f.instructions(), abi.audit_arch(), nr, args);
    assert_eq!(
        v,
        f.evaluate(abi.audit_arch(), nr, args),
        "interpreters differ"
    );
    v
}

pub(super) fn x64(f: &Filter, name: &str, args: [u64; 6]) -> u32 {
    call(f, Abi::X86_64, name, args)
}

pub(super) fn a0(v: u64) -> [u64; 6] {
    [v, 0, 0, 0, 0, 0]
}

#[test]
fn every_action() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO"},
        {"names":["getuid"],"action":"SCMP_ACT_ERRNO","errnoRet":42},
        {"names":["getgid"],"action":"SCMP_ACT_KILL"},
        {"names":["geteuid"],"action":"SCMP_ACT_KILL_THREAD"},
        {"names":["getegid"],"action":"SCMP_ACT_KILL_PROCESS"},
        {"names":["getpgrp"],"action":"SCMP_ACT_TRAP"},
        {"names":["setsid"],"action":"SCMP_ACT_TRACE","errnoRet":7},
        {"names":["setuid"],"action":"SCMP_ACT_TRACE"},
        {"names":["getpid"],"action":"SCMP_ACT_ALLOW"},
        {"names":["gettid"],"action":"SCMP_ACT_LOG"},
        {"names":["getpriority"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    let z = [0; 6];
    let want = [
        ("getppid", errno(1)),
        ("getuid", errno(42)),
        ("getgid", KILL_THREAD),
        ("geteuid", KILL_THREAD),
        ("getegid", KILL_PROCESS),
        ("getpgrp", TRAP),
        ("setsid", trace(7)),
        ("setuid", trace(1)),
        ("getpid", ALLOW),
        ("gettid", LOG),
        ("getpriority", NOTIFY),
        ("read", errno(38)),
    ];
    for (name, v) in want {
        assert_eq!(x64(&f, name, z), v, "{name}");
    }
    assert!(f.has_listener());
    assert_eq!(f.flags(), FilterFlags::NEW_LISTENER);
}

/// Values around `d` where the high and low words differ.
fn probes(d: u64) -> Vec<u64> {
    let hi = d & !0xffff_ffff;
    let mut v = vec![0, 1, u64::MAX, d, hi, hi | 0xffff_ffff];
    for delta in [1u64, 0x1_0000_0000, 0x1_0000_0001] {
        v.push(d.wrapping_add(delta));
        v.push(d.wrapping_sub(delta));
    }
    v
}

#[test]
fn operators_on_64_bit_words() {
    type Pred = fn(u64, u64) -> bool;
    let cases: &[(&str, Pred)] = &[
        ("SCMP_CMP_EQ", |a, d| a == d),
        ("SCMP_CMP_NE", |a, d| a != d),
        ("SCMP_CMP_LT", |a, d| a < d),
        ("SCMP_CMP_LE", |a, d| a <= d),
        ("SCMP_CMP_GT", |a, d| a > d),
        ("SCMP_CMP_GE", |a, d| a >= d),
    ];
    for d in [
        0x0000_0001_0000_0005u64,
        0xffff_0000_0000_ffff,
        7,
        0x8000_0000,
    ] {
        for (op, want) in cases {
            let f = compile(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],
                "action":"SCMP_ACT_ERRNO","args":[{{"index":3,"value":{d},"op":"{op}"}}]}}]}}"#
            ));
            for a in probes(d) {
                let got = x64(&f, "getppid", [0, 0, 0, a, 0, 0]);
                let exp = if want(a, d) { errno(1) } else { ALLOW };
                assert_eq!(got, exp, "{a:#x} {op} {d:#x}");
            }
        }
    }
}

#[test]
fn masked_eq_and_and_conditions() {
    // Docker's clone rule: no namespace flags in arg 0, and (here) arg 1 == 5.
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],
        "action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,
        "op":"SCMP_CMP_MASKED_EQ"},{"index":1,"value":5,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let clone = |a: u64, b: u64| x64(&f, "clone", [a, b, 0, 0, 0, 0]);
    assert_eq!(clone(0x0001_1200, 5), ALLOW); // CLONE_VM|CLONE_FS|SIGCHLD-ish
    assert_eq!(clone(0xffff_ffff_0000_0011, 5), ALLOW); // high word outside the mask
    assert_eq!(clone(libc::CLONE_NEWUSER as u64, 5), errno(1));
    assert_eq!(clone(0x11, 6), errno(1));
    assert_eq!(clone(0x11, 0x1_0000_0005), errno(1));
    // A 64-bit mask: high and low words are both masked.
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],
        "action":"SCMP_ACT_KILL_PROCESS","args":[{"index":2,"value":18374686479671623935,
        "valueTwo":18374686479671623680,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
    ); // mask ff00_0000_0000_00ff, datum ff00_0000_0000_0000
    let g = |a: u64| x64(&f, "getppid", [0, 0, a, 0, 0, 0]);
    assert_eq!(g(0xff12_3456_7890_ab00), KILL_PROCESS);
    assert_eq!(g(0xff00_0000_0000_0001), ALLOW);
    assert_eq!(g(0xfe00_0000_0000_0000), ALLOW);
}

#[test]
fn several_rules_on_one_syscall() {
    // podman's socket rules without CAP_AUDIT_WRITE.
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[
        {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":22,"args":[
          {"index":0,"value":16,"op":"SCMP_CMP_EQ"},{"index":2,"value":9,"op":"SCMP_CMP_EQ"}]},
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":9,"op":"SCMP_CMP_NE"}]},
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":16,"op":"SCMP_CMP_NE"}]},
        {"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":2,"value":9,"op":"SCMP_CMP_NE"}]}]}"#,
    );
    let s = |d: u64, p: u64| x64(&f, "socket", [d, 0, p, 0, 0, 0]);
    assert_eq!(s(16, 9), errno(22)); // AF_NETLINK, NETLINK_AUDIT
    assert_eq!(s(16, 0), ALLOW);
    assert_eq!(s(2, 9), ALLOW);
    assert_eq!(s(2, 6), ALLOW);
    // Two tests on one argument are ORed (runc splits them into rules).
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],
        "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":3,"op":"SCMP_CMP_EQ"},
        {"index":0,"value":5,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(x64(&f, "getppid", a0(3)), errno(1));
    assert_eq!(x64(&f, "getppid", a0(5)), errno(1));
    assert_eq!(x64(&f, "getppid", a0(4)), ALLOW);
}

#[test]
fn unconditional_rule_wins_and_conflicts_are_errors() {
    for order in [[0, 1], [1, 0]] {
        let rules = [
            r#"{"names":["getppid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}"#,
            r#"{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}"#,
        ];
        let f = compile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{},{}]}}"#,
            rules[order[0]], rules[order[1]]
        ));
        assert_eq!(x64(&f, "getppid", a0(1)), KILL_PROCESS);
        assert_eq!(x64(&f, "getppid", a0(2)), KILL_PROCESS);
    }
    let e = Filter::compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getppid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]},
        {"names":["getppid"],"action":"SCMP_ACT_TRAP","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("linux.seccomp.syscalls[1]: rule for \"getppid\""),
        "{e}"
    );
}

#[test]
fn compat_abis() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["getppid","socket","mmap"],
        "action":"SCMP_ACT_ERRNO","errnoRet":9,"args":[{"index":1,"value":4294967298,
        "op":"SCMP_CMP_EQ"}]},{"names":["rt_sigaction"],"action":"SCMP_ACT_TRAP"}]}"#,
    );
    let hi_lo = [0, 0x1_0000_0002, 0, 0, 0, 0];
    let lo_only = [0, 2, 0, 0, 0, 0];
    for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
        assert_eq!(call(&f, abi, "getppid", hi_lo), errno(9), "{abi:?}");
        assert_eq!(call(&f, abi, "rt_sigaction", [0; 6]), TRAP, "{abi:?}");
        // libseccomp compares only the low word on 32-bit ABIs.
        let want = if abi == Abi::X86_64 { ALLOW } else { errno(9) };
        assert_eq!(call(&f, abi, "getppid", lo_only), want, "{abi:?}");
    }
    assert_eq!(Abi::I386.resolve("getppid"), Some(64));
    assert_eq!(Abi::X32.resolve("rt_sigaction"), Some(X32 | 512));
    // i386 socket calls also go through socketcall(SYS_SOCKET=1, ...).
    let sc = Abi::I386.resolve("socketcall").unwrap();
    let i386 = Abi::I386.audit_arch();
    assert_eq!(
        f.evaluate(i386, sc, [1, 0x1_0000_0002, 0, 0, 0, 0]),
        errno(9)
    );
    assert_eq!(f.evaluate(i386, sc, [2, 2, 0, 0, 0, 0]), ALLOW);
    // Not listed: x32 calls are a bad architecture, -1 is not.
    let f = compile(r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}"#);
    let x86_64 = Abi::X86_64.audit_arch();
    assert_eq!(f.evaluate(x86_64, X32 | 39, [0; 6]), KILL_THREAD);
    assert_eq!(f.evaluate(x86_64, u32::MAX, [0; 6]), errno(1));
    assert_eq!(f.evaluate(i386, 20, [0; 6]), KILL_THREAD);
    assert_eq!(f.evaluate(0xc000_00b7, 172, [0; 6]), KILL_THREAD); // aarch64
}

/// A host the generator has no native section for is refused (the filter
/// would kill every filtered process at its first syscall).
#[test]
fn foreign_hosts_are_refused() {
    for arch in ["aarch64", "riscv64", "s390x", "x86"] {
        let e = compile::check_host_arch(arch).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "linux.seccomp: seccomp filters are only generated for x86_64 hosts, this host is {arch}"
            )
        );
    }
    compile::check_host_arch("x86_64").unwrap();
}

/// A profile whose `architectures` leave out the native one still filters
/// native calls: libseccomp always adds the native arch, and so do we.
#[test]
fn native_arch_is_always_filtered() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_AARCH64"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":9}]}"#,
    );
    assert_eq!(x64(&f, "getppid", [0; 6]), errno(9));
    assert_eq!(x64(&f, "getpid", [0; 6]), ALLOW);
    // The foreign arch listed gets no section: its tasks cannot exist here.
    assert_eq!(f.evaluate(0xc000_00b7, 173, [0; 6]), KILL_THREAD);
}

#[test]
fn unknown_names_are_skipped_and_listed() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["getpid","no_such_call","s390_runtime_instr"],
        "action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(f.unknown_syscalls(), ["no_such_call", "s390_runtime_instr"]);
    assert_eq!(x64(&f, "getpid", [0; 6]), ALLOW);
}

#[test]
fn runc_enosys_stub() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["getpid","close_range"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let x86_64 = Abi::X86_64.audit_arch();
    let max = Abi::X86_64.resolve("close_range").unwrap();
    assert_eq!(f.evaluate(x86_64, max, [0; 6]), ALLOW);
    assert_eq!(f.evaluate(x86_64, max - 1, [0; 6]), errno(1));
    assert_eq!(f.evaluate(x86_64, max + 1, [0; 6]), errno(38));
    assert_eq!(f.evaluate(x86_64, 5000, [0; 6]), errno(38));
    // Permissive default: no stub.
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_X86_64"],
        "syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(f.evaluate(x86_64, 5000, [0; 6]), LOG);
}

#[test]
fn errors_name_the_rule() {
    let cases = [
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"},{"names":["x"],"action":"SCMP_ACT_FOO"}]}"#,
            "linux.seccomp.syscalls[1].action: unknown action \"SCMP_ACT_FOO\"",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ABOUT\"",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].index: must be an argument number from 0 to 5",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}"#,
            "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_VAX\"",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}"#,
            "linux.seccomp.syscalls[0].names: must not be empty",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#,
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_S390X"]}"#,
            "linux.seccomp.architectures[0]: SCMP_ARCH_S390X cannot be combined with x86_64 (big-endian ABI)",
        ),
    ];
    for (json, want) in cases {
        let e = Filter::compile_json(json).unwrap_err().to_string();
        assert_eq!(e, want);
    }
    // The typed path reports the index too (oci-spec cannot hold bad names).
    let s = spec(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    assert!(Filter::compile(&s).is_ok());
}

#[test]
fn flags() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    let want = FilterFlags::LOG
        | FilterFlags::SPEC_ALLOW
        | FilterFlags::TSYNC
        | FilterFlags::NEW_LISTENER
        | FilterFlags::TSYNC_ESRCH
        | FilterFlags::WAIT_KILLABLE_RECV;
    assert_eq!(f.flags(), want);
    assert_eq!(
        FilterFlags::LOG.to_string(),
        "SECCOMP_FILTER_FLAG_LOG",
        "reads like strace"
    );
}

#[test]
fn far_jumps_get_trampolines() {
    // 300 syscalls with argument tests: bodies end up far from the search tree.
    let names: Vec<String> = super::tables::X86_64
        .iter()
        .take(300)
        .map(|(n, _)| format!("\"{n}\""))
        .collect();
    let json = format!(
        r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{{"names":[{}],"action":"SCMP_ACT_ALLOW",
        "args":[{{"index":1,"value":7,"op":"SCMP_CMP_GT"}}]}}]}}"#,
        names.join(",")
    );
    let f = compile(&json);
    assert!(f.instructions().len() > 1000);
    for (n, _) in super::tables::X86_64.iter().take(300) {
        assert_eq!(x64(&f, n, [0, 8, 0, 0, 0, 0]), ALLOW, "{n}");
        assert_eq!(x64(&f, n, [0, 7, 0, 0, 0, 0]), errno(1), "{n}");
    }
}

#[test]
fn random_and_rules_match_direct_evaluation() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let ops = [
        "SCMP_CMP_EQ",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_GT",
    ];
    let ops = [&ops[..], &["SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ"]].concat();
    let pick =
        |r: u64| [0u64, 1, 0x1_0000_0000, 0xffff_ffff, 0x8000_0000_0000_0001][r as usize % 5];
    for _ in 0..200 {
        let n = 1 + rnd() as usize % 3;
        let mut conds = Vec::new();
        for i in 0..n {
            let op = ops[rnd() as usize % ops.len()];
            let (v, v2) = (pick(rnd()) ^ (rnd() % 3), pick(rnd()));
            conds.push((i * 2, op, v, v2));
        }
        let args: Vec<String> = conds
            .iter()
            .map(|(i, op, v, v2)| {
                format!(r#"{{"index":{i},"value":{v},"valueTwo":{v2},"op":"{op}"}}"#)
            })
            .collect();
        let f = compile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],
            "action":"SCMP_ACT_TRAP","args":[{}]}}]}}"#,
            args.join(",")
        ));
        for _ in 0..20 {
            let mut a = [0u64; 6];
            for (i, _, v, v2) in &conds {
                a[*i] = [*v, v.wrapping_add(1), v.wrapping_sub(1), *v2, pick(rnd())]
                    [rnd() as usize % 5];
            }
            let hit = conds.iter().all(|(i, op, v, v2)| {
                let x = a[*i];
                match *op {
                    "SCMP_CMP_EQ" => x == *v,
                    "SCMP_CMP_NE" => x != *v,
                    "SCMP_CMP_LT" => x < *v,
                    "SCMP_CMP_LE" => x <= *v,
                    "SCMP_CMP_GT" => x > *v,
                    "SCMP_CMP_GE" => x >= *v,
                    _ => x & v == v2 & v,
                }
            });
            let want = if hit { TRAP } else { ALLOW };
            assert_eq!(x64(&f, "getppid", a), want, "{conds:?} {a:x?}");
        }
    }
}
