//! The container's plan: `config.json` read once and turned into validated
//! parts before anything is created. Every error a user can fix is reported
//! from here, naming the field.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::namespace::{Kind, NamespacePlan};
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
    let de = &mut serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() || inner.is_syntax() || inner.is_eof() {
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
        if process.terminal {
            return Err(Error::config(
                "process.terminal",
                "terminals are not supported yet",
            ));
        }
        let hooks = Hooks::from_spec(&spec)?;
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
        })
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
    }
}
