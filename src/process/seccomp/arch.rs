//! The x86 ABIs a filter on x86_64 can see, and syscall name resolution per ABI
//! (including i386's `socketcall(2)` / `ipc(2)` multiplexers, as libseccomp does).

use super::tables;

/// `AUDIT_ARCH_X86_64`: x86_64 and x32 tasks.
pub(super) const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_I386`: i386 (ia32 compat) tasks.
pub(super) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`.
pub(super) const X32_BIT: u32 = 0x4000_0000;

/// i386 `socketcall` and `ipc` numbers.
const I386_SOCKETCALL: u32 = 102;
const I386_IPC: u32 = 117;

/// `socketcall(2)` sub-call numbers (`SYS_SOCKET` ..), from `linux/net.h`.
const SOCKETCALLS: &[(&str, u64)] = &[
    ("socket", 1),
    ("bind", 2),
    ("connect", 3),
    ("listen", 4),
    ("accept", 5),
    ("getsockname", 6),
    ("getpeername", 7),
    ("socketpair", 8),
    ("send", 9),
    ("recv", 10),
    ("sendto", 11),
    ("recvfrom", 12),
    ("shutdown", 13),
    ("setsockopt", 14),
    ("getsockopt", 15),
    ("sendmsg", 16),
    ("recvmsg", 17),
    ("accept4", 18),
    ("recvmmsg", 19),
    ("sendmmsg", 20),
];

/// `ipc(2)` sub-call numbers (`SEMOP` ..), from `linux/ipc.h`.
const IPCCALLS: &[(&str, u64)] = &[
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

/// One syscall ABI of an x86_64 kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Abi {
    /// Native 64-bit (`SCMP_ARCH_X86_64`).
    X86_64,
    /// ia32 compat (`SCMP_ARCH_X86`).
    I386,
    /// x32 (`SCMP_ARCH_X32`).
    X32,
}

/// Where a rule on one syscall name lands for one ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Landing {
    /// The syscall number as the filter sees it in `seccomp_data.nr`.
    pub nr: u32,
    /// For a multiplexed call (`socketcall`, `ipc`): the sub-call that argument 0
    /// must equal; libseccomp replaces the rule's own argument-0 test with it.
    pub subcall: Option<u64>,
}

impl Abi {
    /// The `AUDIT_ARCH_*` value in `seccomp_data.arch`.
    pub fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
        }
    }

    /// Whether libseccomp treats arguments as 32-bit (only the low word compared).
    pub(super) fn is_32bit(self) -> bool {
        !matches!(self, Abi::X86_64)
    }

    /// The libseccomp name of the ABI.
    pub fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "SCMP_ARCH_X86_64",
            Abi::I386 => "SCMP_ARCH_X86",
            Abi::X32 => "SCMP_ARCH_X32",
        }
    }

    /// The number of `name` on this ABI, if the ABI has it as a direct syscall.
    pub fn resolve(self, name: &str) -> Option<u32> {
        let table = match self {
            Abi::X86_64 => tables::X86_64,
            Abi::I386 => tables::I386,
            Abi::X32 => tables::X32,
        };
        let i = table.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
        let nr = table[i].1;
        Some(if self == Abi::X32 { nr | X32_BIT } else { nr })
    }

    /// Every syscall number a rule on `name` lands on (empty if unknown here).
    pub(super) fn landings(self, name: &str) -> Vec<Landing> {
        let mut out = Vec::with_capacity(2);
        if self == Abi::I386 {
            let mux = [(SOCKETCALLS, I386_SOCKETCALL), (IPCCALLS, I386_IPC)];
            for (calls, nr) in mux {
                if let Some((_, sub)) = calls.iter().find(|(n, _)| *n == name) {
                    out.push(Landing {
                        nr,
                        subcall: Some(*sub),
                    });
                }
            }
        }
        if let Some(nr) = self.resolve(name) {
            out.push(Landing { nr, subcall: None });
        }
        out
    }
}

/// How an OCI architecture name maps onto this host.
pub(super) enum ArchKind {
    /// One of the ABIs an x86_64 kernel runs.
    Abi(Abi),
    /// A little-endian foreign architecture: libseccomp adds a section that can
    /// never match on this host, so it changes nothing.
    Foreign,
    /// A big-endian architecture: libseccomp refuses to mix it with x86 (EDOM).
    BigEndian,
}

/// Classify an `SCMP_ARCH_*` name; `None` if unknown.
pub(super) fn classify(name: &str) -> Option<ArchKind> {
    Some(match name {
        "SCMP_ARCH_NATIVE" | "SCMP_ARCH_X86_64" => ArchKind::Abi(Abi::X86_64),
        "SCMP_ARCH_X86" => ArchKind::Abi(Abi::I386),
        "SCMP_ARCH_X32" => ArchKind::Abi(Abi::X32),
        "SCMP_ARCH_ARM"
        | "SCMP_ARCH_AARCH64"
        | "SCMP_ARCH_MIPSEL"
        | "SCMP_ARCH_MIPSEL64"
        | "SCMP_ARCH_MIPSEL64N32"
        | "SCMP_ARCH_PPC64LE"
        | "SCMP_ARCH_RISCV64"
        | "SCMP_ARCH_LOONGARCH64" => ArchKind::Foreign,
        "SCMP_ARCH_MIPS"
        | "SCMP_ARCH_MIPS64"
        | "SCMP_ARCH_MIPS64N32"
        | "SCMP_ARCH_PPC"
        | "SCMP_ARCH_PPC64"
        | "SCMP_ARCH_S390"
        | "SCMP_ARCH_S390X" => ArchKind::BigEndian,
        _ => return None,
    })
}
