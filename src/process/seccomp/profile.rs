//! Profiles as JSON: OCI `linux.seccomp` checked field by field (so that a bad
//! action or operator is reported with the rule that holds it), and Docker's /
//! podman's profile format rendered into OCI for a set of capabilities.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{Map, Value};

use super::arch;

use crate::error::{Error, Result};

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_LOG",
    "SCMP_ACT_ALLOW",
];
const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];
const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];
/// Architectures libseccomp knows that never match on x86_64 and the
/// generator has no table for; they are dropped.
const UNREPRESENTABLE: &[&str] = &["SCMP_ARCH_LOONGARCH64"];

fn known(field: String, v: &Value, names: &[&str], what: &str) -> Result<()> {
    match v.as_str() {
        Some(s) if names.contains(&s) => Ok(()),
        Some(s) => Err(Error::config(field, format!("unknown {what} {s:?}"))),
        None => Err(Error::config(field, format!("{what} must be a string"))),
    }
}

/// Parse an OCI `linux.seccomp` object. Unknown actions, operators,
/// architectures and flags are reported naming the field
/// (`linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`).
pub fn parse_profile(json: &str) -> Result<LinuxSeccomp> {
    const F: &str = "linux.seccomp";
    let mut v: Value =
        serde_json::from_str(json).map_err(|e| Error::config(F, format!("invalid JSON: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| Error::config(F, "must be an object"))?;
    let default = obj.get("defaultAction").unwrap_or(&Value::Null);
    known(format!("{F}.defaultAction"), default, ACTIONS, "action")?;
    if let Some(Value::Array(flags)) = obj.get("flags") {
        for (i, f) in flags.iter().enumerate() {
            known(format!("{F}.flags[{i}]"), f, FLAGS, "flag")?;
        }
    }
    if let Some(Value::Array(archs)) = obj.get_mut("architectures") {
        for (i, a) in archs.iter().enumerate() {
            let ok = a.as_str().and_then(arch::classify).is_some();
            if !ok {
                return Err(Error::config(
                    format!("{F}.architectures[{i}]"),
                    format!("unknown architecture {a}"),
                ));
            }
        }
        archs.retain(|a| !a.as_str().is_some_and(|s| UNREPRESENTABLE.contains(&s)));
    }
    if let Some(Value::Array(rules)) = obj.get("syscalls") {
        for (i, r) in rules.iter().enumerate() {
            let field = format!("{F}.syscalls[{i}]");
            let action = r.get("action").unwrap_or(&Value::Null);
            known(format!("{field}.action"), action, ACTIONS, "action")?;
            let args = r.get("args").and_then(Value::as_array);
            for (j, a) in args.into_iter().flatten().enumerate() {
                let op = a.get("op").unwrap_or(&Value::Null);
                known(format!("{field}.args[{j}].op"), op, OPS, "operator")?;
                if a.get("index")
                    .and_then(Value::as_u64)
                    .map_or(true, |x| x > 5)
                {
                    return Err(Error::config(
                        format!("{field}.args[{j}].index"),
                        "must be an argument number from 0 to 5",
                    ));
                }
            }
        }
    }
    let profile = serde_path_to_error::deserialize(v)
        .map_err(|e| Error::config(format!("{F}.{}", e.path()), e.inner().to_string()))?;
    Ok(profile)
}

/// The host's kernel version (major, minor), from `uname`.
fn kernel_version() -> (u64, u64) {
    let uts = nix::sys::utsname::uname().ok();
    let release = uts
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_version(&release).unwrap_or((0, 0))
}

fn parse_version(s: &str) -> Option<(u64, u64)> {
    let mut it = s.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn field<'a>(k: &str, f: Option<&'a Value>) -> Vec<&'a str> {
    strings(f.and_then(|f| f.get(k)))
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Where Debian's podman finds its default profile
/// (package `golang-github-containers-common`).
pub const PODMAN_PROFILE_PATH: &str = "/usr/share/containers/seccomp.json";

/// The capabilities podman 4 gives a container by default (containers.conf),
/// which its default profile is rendered for.
pub const PODMAN_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Render a profile in Docker's format (`defaultAction`, `archMap`, `syscalls[]`
/// with `includes`/`excludes` by `caps`, `arches` and `minKernel`) into OCI
/// `linux.seccomp`, as podman (containers-common `seccomp.LoadProfile`) and
/// Docker do for a container: `caps` is its bounding set (`"CAP_SYS_ADMIN"`..),
/// `arch` the Go name of the host architecture (`"amd64"`; `"x86_64"` accepted).
///
/// A rule is kept when none of `excludes.arches` is `arch`, none of
/// `excludes.caps` is held, `includes.arches` (if any) has `arch`, all of
/// `includes.caps` are held and the running kernel is at least
/// `includes.minKernel`. `archMap`'s entry for `arch` gives `architectures`.
pub fn from_docker_profile(json: &str, caps: &[&str], arch: &str) -> Result<LinuxSeccomp> {
    from_docker_profile_for(json, caps, arch, kernel_version())
}

/// [`from_docker_profile`] for a given kernel version instead of the running one.
pub(super) fn from_docker_profile_for(
    json: &str,
    caps: &[&str],
    arch: &str,
    kernel: (u64, u64),
) -> Result<LinuxSeccomp> {
    const F: &str = "seccomp profile";
    let arch = if arch == "x86_64" { "amd64" } else { arch };
    let v: Value =
        serde_json::from_str(json).map_err(|e| Error::config(F, format!("invalid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| Error::config(F, "must be an object"))?;
    let mut out = Map::new();
    for key in [
        "defaultAction",
        "defaultErrnoRet",
        "flags",
        "listenerPath",
        "listenerMetadata",
    ] {
        if let Some(x) = obj.get(key) {
            out.insert(key.into(), x.clone());
        }
    }
    let archs = strings(obj.get("architectures"));
    let arch_map = obj.get("archMap").and_then(Value::as_array);
    if !archs.is_empty() && arch_map.is_some_and(|m| !m.is_empty()) {
        return Err(Error::config(
            F,
            "'architectures' and 'archMap' were specified in the seccomp profile, use either",
        ));
    }
    let native = match arch {
        "amd64" => Some("SCMP_ARCH_X86_64"),
        "arm64" => Some("SCMP_ARCH_AARCH64"),
        "mips64" => Some("SCMP_ARCH_MIPS64"),
        "mips64n32" => Some("SCMP_ARCH_MIPS64N32"),
        "mipsel64" => Some("SCMP_ARCH_MIPSEL64"),
        "mipsel64n32" => Some("SCMP_ARCH_MIPSEL64N32"),
        "s390x" => Some("SCMP_ARCH_S390X"),
        "riscv64" => Some("SCMP_ARCH_RISCV64"),
        _ => None,
    };
    let mut architectures: Vec<Value> = archs.iter().map(|a| Value::from(*a)).collect();
    for entry in arch_map.into_iter().flatten() {
        if native.is_some() && entry.get("architecture").and_then(Value::as_str) == native {
            architectures.push(Value::from(native));
            for sub in strings(entry.get("subArchitectures")) {
                architectures.push(Value::from(sub));
            }
            break;
        }
    }
    if !architectures.is_empty() {
        out.insert("architectures".into(), Value::Array(architectures));
    }
    let mut syscalls = Vec::new();
    let rules = obj.get("syscalls").and_then(Value::as_array);
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        let (inc, exc) = (rule.get("includes"), rule.get("excludes"));
        if field("arches", exc).contains(&arch)
            || field("caps", exc).iter().any(|c| caps.contains(c))
        {
            continue;
        }
        let inc_arches = field("arches", inc);
        if !inc_arches.is_empty() && !inc_arches.contains(&arch) {
            continue;
        }
        if !field("caps", inc).iter().all(|c| caps.contains(c)) {
            continue;
        }
        let min = inc.and_then(|f| f.get("minKernel")).and_then(Value::as_str);
        if let Some(min) = min {
            let want = parse_version(min).ok_or_else(|| {
                Error::config(
                    format!("syscalls[{i}].includes.minKernel"),
                    format!("invalid kernel version {min:?}"),
                )
            })?;
            if kernel < want {
                continue;
            }
        }
        let name = rule
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let mut names = strings(rule.get("names"));
        match (name, names.is_empty()) {
            (Some(_), false) => {
                return Err(Error::config(
                    format!("syscalls[{i}]"),
                    "'name' and 'names' were specified in the seccomp profile, use either",
                ))
            }
            (Some(n), true) => names.push(n),
            _ => {}
        }
        if names.is_empty() {
            continue;
        }
        let mut r = Map::new();
        r.insert("names".into(), Value::from(names));
        for key in ["action", "errnoRet", "args"] {
            if let Some(x) = rule.get(key).filter(|x| !x.is_null()) {
                r.insert(key.into(), x.clone());
            }
        }
        syscalls.push(Value::Object(r));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    let profile = parse_profile(&Value::Object(out).to_string())?;
    Ok(profile)
}
