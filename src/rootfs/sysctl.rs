//! `linux.sysctl`: only keys that belong to a namespace the container has its own of
//! are accepted (runc's rules); they are written under `/proc/sys` after entering the
//! root, through a verified procfs handle.

use std::path::{Path, PathBuf};

use super::Procfs;
use crate::error::{Error, Result};

/// The IPC-namespaced keys outside `fs.mqueue.*`.
const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Which namespaces the container gets (new, or joined by path: in both cases not the
/// runtime's own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Namespaces {
    /// An IPC namespace.
    pub(crate) ipc: bool,
    /// A network namespace.
    pub(crate) net: bool,
    /// A UTS namespace.
    pub(crate) uts: bool,
}

/// One validated sysctl: the path below `/proc/sys` and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sysctl {
    /// The key as written in the spec.
    pub(crate) key: String,
    /// Relative path below `/proc/sys` (`net/ipv4/ip_forward`).
    pub(crate) path: PathBuf,
    /// The value to write.
    pub(crate) value: String,
}

/// Validate one key. Keys use dots (`net.ipv4.ip_forward`) or, when a component has a
/// dot in its name, slashes (`net/ipv4/conf/eth0.100/forwarding`).
fn check(key: &str, ns: Namespaces) -> std::result::Result<PathBuf, String> {
    let (path, dotted) = if key.contains('/') {
        (PathBuf::from(key), key.replace('/', "."))
    } else {
        (PathBuf::from(key.replace('.', "/")), key.to_string())
    };
    let parts: Vec<&str> = key.split(['/', '.'].as_ref()).collect();
    let bad_parts = if key.contains('/') {
        key.split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    } else {
        parts.iter().any(|p| p.is_empty())
    };
    if bad_parts || key.starts_with('/') {
        return Err(format!("{key}: not a valid sysctl name"));
    }
    let need = |have: bool, kind: &str| {
        if have {
            Ok(path.clone())
        } else {
            Err(format!("{key}: not allowed without a new {kind} namespace"))
        }
    };
    if IPC_KEYS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
        return need(ns.ipc, "ipc");
    }
    if dotted.starts_with("net.") {
        return need(ns.net, "network");
    }
    if dotted == "kernel.hostname" || dotted == "kernel.domainname" {
        return need(ns.uts, "uts");
    }
    Err(format!("{key}: not namespaced, refused"))
}

/// Validate `linux.sysctl` (sorted by key, so that the writes are deterministic).
pub(crate) fn from_spec(
    map: &std::collections::HashMap<String, String>,
    ns: Namespaces,
) -> Result<Vec<Sysctl>> {
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        let path = check(key, ns).map_err(|msg| Error::config("linux.sysctl", msg))?;
        out.push(Sysctl {
            key: key.clone(),
            path,
            value: value.clone(),
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Write the sysctls through `procfs` (`sys/...`, never following a symlink or
/// crossing a mount below it): the init's own namespaces decide what they change.
pub(crate) fn write(procfs: &Procfs, list: &[Sysctl]) -> Result<()> {
    for s in list {
        procfs.write(&Path::new("sys").join(&s.path), &s.value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn v(keys: &[&str], ns: Namespaces) -> Result<Vec<Sysctl>> {
        let m: HashMap<String, String> = keys.iter().map(|k| (k.to_string(), "1".into())).collect();
        from_spec(&m, ns)
    }

    const ALL: Namespaces = Namespaces {
        ipc: true,
        net: true,
        uts: true,
    };

    #[test]
    fn namespaced_keys_accepted() {
        let r = v(
            &[
                "kernel.shm_rmid_forced",
                "fs.mqueue.msg_max",
                "net.ipv4.ip_forward",
                "kernel.domainname",
                "net/ipv4/conf/eth0.100/forwarding",
            ],
            ALL,
        )
        .unwrap();
        assert_eq!(r[0].key, "fs.mqueue.msg_max");
        assert_eq!(r[0].path, PathBuf::from("fs/mqueue/msg_max"));
        let fwd = r.iter().find(|s| s.key.contains("eth0.100")).unwrap();
        assert_eq!(fwd.path, PathBuf::from("net/ipv4/conf/eth0.100/forwarding"));
    }

    #[test]
    fn refused_keys() {
        let e = v(&["kernel.pid_max"], ALL).unwrap_err().to_string();
        assert_eq!(e, "linux.sysctl: kernel.pid_max: not namespaced, refused");
        let e = v(&["net.ipv4.ip_forward"], Namespaces::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linux.sysctl: net.ipv4.ip_forward: not allowed without a new network namespace"
        );
        assert!(v(&["kernel.sem"], Namespaces { ipc: false, ..ALL }).is_err());
        assert!(v(&["kernel.hostname"], Namespaces { uts: false, ..ALL }).is_err());
        assert!(v(&["kernel.hostname"], ALL).is_ok());
        assert!(v(&["net/../../etc"], ALL).is_err());
        assert!(v(&["net..x"], ALL).is_err());
        assert!(v(&["/net/x"], ALL).is_err());
    }
}
