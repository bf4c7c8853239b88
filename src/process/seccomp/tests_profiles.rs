//! Profile tests: podman's default profile (when installed) and an excerpt of
//! Docker's, rendered for a set of capabilities, compiled and run.

use super::tests::{a0, call, errno, validate, x64, ALLOW};
use super::*;

#[test]
fn podman_default_profile() {
    let Ok(json) = std::fs::read_to_string(PODMAN_PROFILE_PATH) else {
        println!(
            "SKIP: {PODMAN_PROFILE_PATH} missing (apt-get install golang-github-containers-common)"
        );
        return;
    };
    let s = from_docker_profile(&json, PODMAN_DEFAULT_CAPS, "amd64").unwrap();
    let t = std::time::Instant::now();
    let f = Filter::compile(&s).unwrap();
    println!(
        "podman profile: {} insns, compiled in {:?}",
        f.instructions().len(),
        t.elapsed()
    );
    validate(f.instructions());
    assert!(f.instructions().len() < MAX_INSNS / 2);
    let z = [0; 6];
    for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
        assert_eq!(call(&f, abi, "getpid", z), ALLOW, "{abi:?}");
        assert_eq!(call(&f, abi, "chroot", z), ALLOW, "{abi:?}"); // CAP_SYS_CHROOT held
        assert_eq!(call(&f, abi, "acct", z), errno(1), "{abi:?}"); // no CAP_SYS_PACCT
    }
    assert_eq!(x64(&f, "bpf", z), errno(1));
    assert_eq!(x64(&f, "arch_prctl", z), ALLOW); // includes.arches amd64
    assert_eq!(x64(&f, "personality", a0(8)), ALLOW);
    assert_eq!(x64(&f, "personality", a0(1)), errno(38));
    assert_eq!(x64(&f, "socket", [16, 0, 9, 0, 0, 0]), errno(22));
    assert_eq!(x64(&f, "socket", [2, 1, 0, 0, 0, 0]), ALLOW);
    // Every unconditionally allowed name is allowed on every ABI that has it.
    for rule in s.syscalls().iter().flatten() {
        if rule.action() != oci_spec::runtime::LinuxSeccompAction::ScmpActAllow
            || rule.args().as_ref().is_some_and(|a| !a.is_empty())
        {
            continue;
        }
        for n in rule.names() {
            for abi in [Abi::X86_64, Abi::I386, Abi::X32] {
                if abi.resolve(n).is_some() {
                    assert_eq!(call(&f, abi, n, z), ALLOW, "{n} on {abi:?}");
                }
            }
        }
    }
    // With CAP_SYS_ADMIN the bpf rule flips.
    let mut caps = PODMAN_DEFAULT_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let f = Filter::compile(&from_docker_profile(&json, &caps, "amd64").unwrap()).unwrap();
    assert_eq!(x64(&f, "bpf", z), ALLOW);
}

/// An excerpt of Docker's default profile (moby `profiles/seccomp/default.json`).
const DOCKER_EXCERPT: &str = r#"{
  "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
  "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
              {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
  "syscalls": [
    {"names": ["read", "write", "getpid", "exit_group"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
     "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 1, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
     "includes": {"arches": ["s390", "s390x"]}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["clone", "clone3"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["landlock_create_ruleset"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.13"}},
    {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}}
  ]
}"#;

#[test]
fn docker_profile_rendering() {
    let s = super::profile::from_docker_profile_for(DOCKER_EXCERPT, &[], "amd64", (5, 10)).unwrap();
    let archs: Vec<String> = s
        .architectures()
        .iter()
        .flatten()
        .map(|a| {
            serde_json::to_value(a)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        archs,
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    );
    let f = Filter::compile(&s).unwrap();
    validate(f.instructions());
    assert_eq!(x64(&f, "clone", a0(0x0001_1200)), ALLOW);
    assert_eq!(x64(&f, "clone", a0(libc::CLONE_NEWNS as u64)), errno(1));
    assert_eq!(x64(&f, "clone3", [0; 6]), errno(38));
    assert_eq!(x64(&f, "personality", a0(0xffff_ffff)), ALLOW);
    assert_eq!(x64(&f, "personality", a0(0xffff_ffff_ffff_ffff)), errno(1));
    // 5.10 < 5.13: the rule is dropped, and landlock_create_ruleset (444) is above
    // the largest syscall left in the profile (clone3, 435): runc's ENOSYS stub.
    assert_eq!(x64(&f, "landlock_create_ruleset", [0; 6]), errno(38));
    assert_eq!(x64(&f, "getppid", [0; 6]), errno(1));
    assert_eq!(x64(&f, "arch_prctl", [0; 6]), ALLOW);
    let s = super::profile::from_docker_profile_for(
        DOCKER_EXCERPT,
        &["CAP_SYS_ADMIN"],
        "x86_64",
        (6, 18),
    )
    .unwrap();
    let f = Filter::compile(&s).unwrap();
    assert_eq!(x64(&f, "clone", a0(libc::CLONE_NEWNS as u64)), ALLOW);
    assert_eq!(x64(&f, "clone3", [0; 6]), ALLOW);
    assert_eq!(x64(&f, "landlock_create_ruleset", [0; 6]), ALLOW);
}
