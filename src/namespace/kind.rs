//! The namespace kinds and sets of them, as the kernel's `CLONE_NEW*` flags.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// One kind of namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// User namespace: uid/gid mappings and capabilities. Always handled first.
    User,
    /// Mount namespace.
    Mount,
    /// PID namespace (applies to children of the process that creates or joins it).
    Pid,
    /// Network namespace.
    Net,
    /// System V IPC and POSIX message queue namespace.
    Ipc,
    /// Hostname and domain name namespace.
    Uts,
    /// Cgroup root namespace.
    Cgroup,
    /// Time namespace (monotonic and boot-time offsets; applies to children).
    Time,
}

impl Kind {
    /// All kinds, in the order they must be joined: user first, so that the
    /// others are joined with the capabilities the user namespace grants; mount
    /// last but one so joining paths still resolve in the old mount namespace.
    pub const ALL: [Kind; 8] = [
        Kind::User,
        Kind::Ipc,
        Kind::Uts,
        Kind::Net,
        Kind::Pid,
        Kind::Cgroup,
        Kind::Time,
        Kind::Mount,
    ];

    /// The `CLONE_NEW*` flag of this kind.
    pub fn clone_flag(self) -> libc::c_int {
        match self {
            Kind::User => libc::CLONE_NEWUSER,
            Kind::Mount => libc::CLONE_NEWNS,
            Kind::Pid => libc::CLONE_NEWPID,
            Kind::Net => libc::CLONE_NEWNET,
            Kind::Ipc => libc::CLONE_NEWIPC,
            Kind::Uts => libc::CLONE_NEWUTS,
            Kind::Cgroup => libc::CLONE_NEWCGROUP,
            Kind::Time => libc::CLONE_NEWTIME,
        }
    }

    /// The file name of this kind under `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Mount => "mnt",
            Kind::Pid => "pid",
            Kind::Net => "net",
            Kind::Ipc => "ipc",
            Kind::Uts => "uts",
            Kind::Cgroup => "cgroup",
            Kind::Time => "time",
        }
    }

    /// The name the OCI runtime spec uses (`network`, `mount`, ...).
    pub fn oci_name(self) -> &'static str {
        match self {
            Kind::Mount => "mount",
            Kind::Net => "network",
            other => other.proc_name(),
        }
    }

    /// Parse the OCI spec's name of a namespace type.
    pub fn from_oci_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.oci_name() == name)
    }

    /// Whether the namespace applies only to children of the process that
    /// creates or joins it (so the container init needs one more fork).
    pub fn applies_to_children(self) -> bool {
        matches!(self, Kind::Pid | Kind::Time)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.oci_name())
    }
}

/// A set of namespace kinds, held as the union of their `CLONE_NEW*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Kinds(libc::c_int);

impl Kinds {
    /// No namespace.
    pub const EMPTY: Kinds = Kinds(0);
    /// User namespace.
    pub const USER: Kinds = Kinds(libc::CLONE_NEWUSER);
    /// Mount namespace.
    pub const MOUNT: Kinds = Kinds(libc::CLONE_NEWNS);
    /// PID namespace.
    pub const PID: Kinds = Kinds(libc::CLONE_NEWPID);
    /// Network namespace.
    pub const NET: Kinds = Kinds(libc::CLONE_NEWNET);
    /// IPC namespace.
    pub const IPC: Kinds = Kinds(libc::CLONE_NEWIPC);
    /// UTS namespace.
    pub const UTS: Kinds = Kinds(libc::CLONE_NEWUTS);
    /// Cgroup namespace.
    pub const CGROUP: Kinds = Kinds(libc::CLONE_NEWCGROUP);
    /// Time namespace.
    pub const TIME: Kinds = Kinds(libc::CLONE_NEWTIME);

    /// The set holding only `kind`.
    pub fn of(kind: Kind) -> Kinds {
        Kinds(kind.clone_flag())
    }

    /// The union of the `CLONE_NEW*` flags, for `clone3` or `unshare`.
    pub fn bits(self) -> libc::c_int {
        self.0
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.clone_flag() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set without `other`'s kinds.
    pub fn without(self, other: Kinds) -> Kinds {
        Kinds(self.0 & !other.0)
    }

    /// The kinds in the set, in [`Kind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl From<Kind> for Kinds {
    fn from(kind: Kind) -> Kinds {
        Kinds::of(kind)
    }
}

impl BitOr for Kinds {
    type Output = Kinds;
    fn bitor(self, rhs: Kinds) -> Kinds {
        Kinds(self.0 | rhs.0)
    }
}

impl BitOrAssign for Kinds {
    fn bitor_assign(&mut self, rhs: Kinds) {
        self.0 |= rhs.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_oci_name(k.oci_name()), Some(k));
        }
        assert_eq!(Kind::from_oci_name("net"), None);
        assert_eq!(Kind::from_oci_name("network"), Some(Kind::Net));
    }

    #[test]
    fn set_operations() {
        let s = Kinds::NET | Kinds::PID | Kinds::USER;
        assert!(s.contains(Kind::Net) && !s.contains(Kind::Mount));
        let order: Vec<_> = s.iter().collect();
        assert_eq!(order, vec![Kind::User, Kind::Net, Kind::Pid]);
        assert_eq!(s.without(Kinds::PID).iter().count(), 2);
    }
}
