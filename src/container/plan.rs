//! The container's plan: `config.json` read once and turned into validated
//! parts before anything is created. Every error a user can fix is reported
//! from here, naming the field.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources, Spec};

use crate::cgroups::{self, Manager};
use crate::error::{Error, Result};
use crate::namespace::{Kind, NamespacePlan};
use crate::process::lsm::HostLsm;
use crate::process::seccomp::Filter;
use crate::process::{Hooks, ProcessPlan};
use crate::rootfs::RootfsPlan;

/// Everything the spawn needs, validated.
#[derive(Debug)]
pub(crate) struct Plan {
    pub id: String,
    pub bundle: PathBuf,
    pub spec: Spec,
    pub ns: NamespacePlan,
    pub rootfs: RootfsPlan,
    pub process: ProcessPlan,
    pub hooks: Hooks,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// Keep the runtime's session keyring instead of joining a new one.
    pub no_new_keyring: bool,
    /// The container's cgroup path (runc's placement rules; see `cgroups`).
    pub cgroup_path: PathBuf,
    /// Its cgroup, not yet created.
    pub cgroup: Box<dyn Manager>,
    /// The runtime's `/proc/self/cgroup`, which a relative path starts from.
    pub own_cgroups: String,
    /// How many parents of the cgroup directories this create makes (removed
    /// again with the cgroup when empty).
    pub cgroup_parents_made: usize,
    /// `linux.resources`, plus an allow rule for each `linux.devices` entry.
    pub resources: LinuxResources,
    /// `linux.seccomp`, compiled.
    pub seccomp: Option<Filter>,
    /// `linux.seccomp.listenerPath` and `listenerMetadata`.
    pub seccomp_listener: Option<Listener>,
}

/// A seccomp notify listener: `listenerPath` and `listenerMetadata`.
pub(crate) type Listener = (PathBuf, String);

/// Compile `linux.seccomp`; a notify profile needs a listener path.
pub(crate) fn seccomp_of(spec: &Spec) -> Result<(Option<Filter>, Option<Listener>)> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok((None, None));
    };
    let filter = Filter::compile(s)?;
    let listener = s
        .listener_path()
        .clone()
        .map(|p| (p, s.listener_metadata().clone().unwrap_or_default()));
    if filter.has_listener() && listener.is_none() {
        return Err(Error::config(
            "linux.seccomp.listenerPath",
            "SCMP_ACT_NOTIFY rules need a listener path",
        ));
    }
    Ok((Some(filter), listener))
}

/// Annotation that lets a container join a cgroup that already holds
/// processes (shared cgroups are refused otherwise).
pub const SHARE_CGROUP_ANNOTATION: &str = "org.testa.cgroup.share";

/// The spec's resources, with the spec's devices allowed (as runc does):
/// a device the container is given must also pass the device controller.
fn resources_of(spec: &Spec) -> Result<LinuxResources> {
    let linux = spec.linux().as_ref();
    let mut r = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let mut rules = r.devices().clone().unwrap_or_default();
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let rule: LinuxDeviceCgroup = serde_json::from_value(serde_json::json!({
            "allow": true,
            "type": d.typ().as_str(),
            "major": d.major(),
            "minor": d.minor(),
            "access": "rwm",
        }))
        .map_err(|e| Error::config("linux.devices", e.to_string()))?;
        rules.push(rule);
    }
    if !rules.is_empty() {
        r.set_devices(Some(rules));
    }
    Ok(r)
}

/// Read and parse `bundle/config.json`; errors name the JSON path of the bad field.
pub(crate) fn load_spec(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text =
        std::fs::read(&path).map_err(|e| Error::io(format!("config.json: open({path:?})"), e))?;
    parse_spec(&text)
}

/// Parse a spec from JSON text, naming the field that fails.
pub(crate) fn parse_spec(text: &[u8]) -> Result<Spec> {
    // serde takes a struct from a JSON array too (fields in order): `[]` would be
    // an empty spec.
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::config("config.json", "expected a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let full = e.path().to_string();
        let inner = e.into_inner();
        // `?` marks where the parser was when it could not read a key: the known
        // part before it is the place. A truncated file ends nowhere in
        // particular; any other error, syntax ones included, happened at `path`.
        let path = full.split('?').next().unwrap_or("").trim_end_matches('.');
        if path.is_empty() || inner.is_eof() {
            Error::config("config.json", inner.to_string())
        } else {
            Error::config(path, inner.to_string())
        }
    })
}

impl Plan {
    /// Validate `spec` for container `id` in `bundle` (absolute).
    pub(crate) fn new(id: &str, bundle: &Path, spec: Spec) -> Result<Plan> {
        let ns = NamespacePlan::from_spec(&spec)?;
        if !ns.new.contains(Kind::Mount) {
            return Err(Error::config(
                "linux.namespaces",
                "a new mount namespace is required",
            ));
        }
        let mut rootfs = RootfsPlan::from_spec(&spec, bundle)?;
        rootfs.set_in_user_ns(ns.has(Kind::User));
        let process = ProcessPlan::from_spec(&spec)?;
        // Refused everywhere: with runc's words where SELinux is missing, and as
        // not implemented where it is (the mounts would need `context=`).
        let mount_label = spec.linux().as_ref().and_then(|l| l.mount_label().clone());
        let labelled = mount_label.as_deref().is_some_and(|l| !l.is_empty());
        if HostLsm::detect_if(labelled)
            .check_selinux("linux.mountLabel", &mount_label)?
            .is_some()
        {
            return Err(Error::config(
                "linux.mountLabel",
                "SELinux mount labels are not supported by testa yet",
            ));
        }
        let hooks = Hooks::from_spec(&spec)?;
        let cgroup_path = cgroups::container_path(
            spec.linux()
                .as_ref()
                .and_then(|l| l.cgroups_path().as_deref()),
            id,
        )?;
        let resources = resources_of(&spec)?;
        let (seccomp, seccomp_listener) = seccomp_of(&spec)?;
        let own_cgroups = cgroups::own_cgroups()?;
        let cgroup = cgroups::open_as(&cgroup_path, &own_cgroups)?;
        cgroup.validate(&resources)?;
        let hostname = spec.hostname().clone().filter(|h| !h.is_empty());
        let domainname = spec.domainname().clone().filter(|h| !h.is_empty());
        if (hostname.is_some() || domainname.is_some()) && !ns.has(Kind::Uts) {
            return Err(Error::config(
                "hostname",
                "setting the hostname needs a uts namespace in linux.namespaces",
            ));
        }
        Ok(Plan {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            spec,
            ns,
            rootfs,
            process,
            hooks,
            hostname,
            domainname,
            no_new_keyring: false,
            cgroup_path,
            cgroup,
            own_cgroups,
            cgroup_parents_made: 0,
            resources,
            seccomp,
            seccomp_listener,
        })
    }

    /// Whether the spec allows joining a cgroup that holds processes.
    pub(crate) fn shares_cgroup(&self) -> bool {
        self.spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(SHARE_CGROUP_ANNOTATION))
            .is_some_and(|v| v == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_field() {
        let e = parse_spec(br#"{"ociVersion": "1.0.2", "linux": {"namespaces": [{"type": "pid"}, {"type": "foo"}]}}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("linux.namespaces[1].type: unknown variant `foo`"),
            "{e}"
        );
        let e = parse_spec(b"{not json").unwrap_err();
        assert!(e.to_string().starts_with("config.json: "), "{e}");
        let e = parse_spec(br#"{"linux": {nope}}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("linux: key must be a string"),
            "{e}"
        );
        let e = parse_spec(br#"{"linux": {"namespaces": [{"type": 5}]}}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("linux.namespaces[0].type: "),
            "{e}"
        );
    }
}
