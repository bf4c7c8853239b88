//! The v2 device controller is an eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`)
//! attached to the cgroup: this file builds it from device rules (pure) and
//! wraps the few bpf(2) commands that load, attach, query and detach it.
//!
//! Semantics are v1's, access bit by access bit: for each requested bit
//! (read, write, mknod) the LAST rule matching the device and naming the
//! bit decides; a bit no rule names is denied. The program walks the rules
//! from last to first keeping the still-undecided bits in r6:
//!
//! ```text
//! r2 = ctx->access_type & 0xffff   device type (BPF_DEVCG_DEV_*)
//! r3 = ctx->access_type >> 16      requested access (BPF_DEVCG_ACC_*)
//! r4 = ctx->major; r5 = ctx->minor; r6 = r3
//! per rule, last first, skipped unless type/major/minor match:
//!   deny  A:  if (r6 & A) return 0
//!   allow A:  r6 &= ~A; if (r6 == 0) return 1
//! return 0
//! ```
//!
//! runc (`libcontainer/cgroups/devices/devicefilter.go`, after crun's
//! `ebpf.c`) reaches the same verdicts by first reducing the rules with its
//! v1 emulator; this walk needs no reduction.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use crate::error::{Error, Result};

/// `BPF_DEVCG_ACC_MKNOD`.
pub(crate) const ACC_MKNOD: u32 = 1;
/// `BPF_DEVCG_ACC_READ`.
pub(crate) const ACC_READ: u32 = 2;
/// `BPF_DEVCG_ACC_WRITE`.
pub(crate) const ACC_WRITE: u32 = 4;
const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;
/// `BPF_DEVCG_DEV_BLOCK`.
pub(crate) const DEV_BLOCK: u32 = 1;
/// `BPF_DEVCG_DEV_CHAR`.
pub(crate) const DEV_CHAR: u32 = 2;

/// One device rule in kernel terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// `DEV_BLOCK` or `DEV_CHAR`; `None` is both ("a").
    pub typ: Option<u32>,
    /// Major number; `None` is any.
    pub major: Option<u32>,
    /// Minor number; `None` is any.
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u32,
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    /// Opcode.
    pub code: u8,
    /// dst_reg:4, src_reg:4 (bitfield order follows the byte order).
    pub regs: u8,
    /// Jump or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

// Opcode parts (linux/bpf_common.h, linux/bpf.h).
pub(crate) const LDX_MEM_W: u8 = 0x01 | 0x60; // BPF_LDX | BPF_MEM | BPF_W
pub(crate) const ALU_AND_K: u8 = 0x04 | 0x50; // BPF_ALU | BPF_AND | BPF_K
pub(crate) const ALU_RSH_K: u8 = 0x04 | 0x70;
pub(crate) const ALU_MOV_K: u8 = 0x04 | 0xb0;
pub(crate) const ALU_MOV_X: u8 = 0x04 | 0xb0 | 0x08;
pub(crate) const JMP_JEQ_K: u8 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
pub(crate) const JMP_JNE_K: u8 = 0x05 | 0x50;
pub(crate) const JMP_EXIT: u8 = 0x05 | 0x90;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    let regs = if cfg!(target_endian = "little") {
        dst | (src << 4)
    } else {
        (dst << 4) | src
    };
    Insn {
        code,
        regs,
        off,
        imm,
    }
}

/// Append `r0 = v; exit`.
fn ret(p: &mut Vec<Insn>, v: i32) {
    p.push(insn(ALU_MOV_K, 0, 0, 0, v));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
}

/// Build the program for `rules` (order as in the spec: later rules win).
pub(crate) fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
        insn(ALU_MOV_X, 6, 3, 0, 0),
    ];
    for rule in rules.iter().rev() {
        let access = rule.access & ACC_ALL;
        if access == 0 {
            continue;
        }
        // Jumps to the next block, patched once the block's end is known.
        let mut to_next = Vec::new();
        let mut jne = |p: &mut Vec<Insn>, reg: u8, v: u32| {
            to_next.push(p.len());
            p.push(insn(JMP_JNE_K, reg, 0, 0, v as i32));
        };
        if let Some(t) = rule.typ {
            jne(&mut p, 2, t);
        }
        if let Some(m) = rule.major {
            jne(&mut p, 4, m);
        }
        if let Some(m) = rule.minor {
            jne(&mut p, 5, m);
        }
        let matches_all = rule.typ.is_none() && rule.major.is_none() && rule.minor.is_none();
        if !rule.allow && access == ACC_ALL && matches_all {
            // Denies whatever is left: nothing after it could run, and the
            // verifier refuses unreachable instructions.
            ret(&mut p, 0);
            return p;
        }
        if !rule.allow {
            if access != ACC_ALL {
                // r7 = r6 & access; if r7 == 0 goto next
                p.push(insn(ALU_MOV_X, 7, 6, 0, 0));
                p.push(insn(ALU_AND_K, 7, 0, 0, access as i32));
                to_next.push(p.len());
                p.push(insn(JMP_JEQ_K, 7, 0, 0, 0));
            }
            ret(&mut p, 0);
        } else {
            p.push(insn(ALU_AND_K, 6, 0, 0, (!access & ACC_ALL) as i32));
            to_next.push(p.len());
            p.push(insn(JMP_JNE_K, 6, 0, 0, 0));
            ret(&mut p, 1);
        }
        let end = p.len();
        for i in to_next {
            p[i].off = (end - i - 1) as i16;
        }
    }
    ret(&mut p, 0);
    p
}

// bpf(2) commands, program and attach types (linux/bpf.h).
const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_ATTACH: u32 = 8;
const BPF_PROG_DETACH: u32 = 9;
const BPF_PROG_GET_FD_BY_ID: u32 = 13;
const BPF_PROG_QUERY: u32 = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// An attribute for one command, zero-padded to 256 bytes: larger than the
/// kernel's `union bpf_attr`, because the kernel writes some results back
/// at fixed offsets (`query.revision`) whatever size we pass.
#[repr(C)]
union Attr<T: Copy> {
    attr: T,
    raw: [u64; 32],
}

impl<T: Copy> Attr<T> {
    fn new(attr: T) -> Self {
        let mut a = Attr { raw: [0; 32] };
        a.attr = attr;
        a
    }
}

/// `bpf(cmd, attr, sizeof attr)`.
///
/// # Safety
/// `T` must be the layout the kernel expects for `cmd`, and every pointer
/// inside it must be valid for the kernel to read or write for the call.
unsafe fn bpf<T: Copy>(cmd: u32, attr: &mut Attr<T>) -> nix::Result<i32> {
    // SAFETY: per this function's contract; `attr` is a live, writable
    // buffer of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut Attr<T>,
            std::mem::size_of::<Attr<T>>(),
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as i32)
    }
}

/// Take ownership of a descriptor the kernel just returned.
fn owned(fd: i32) -> OwnedFd {
    // SAFETY: `fd` is a fresh descriptor from a successful bpf(2) call.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// Load a `BPF_PROG_TYPE_CGROUP_DEVICE` program; on refusal the error
/// carries the verifier's last words.
pub(crate) fn prog_load(insns: &[Insn]) -> Result<OwnedFd> {
    const LICENSE: &[u8] = b"GPL\0";
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"testa_devs");
    let mk = |log: &mut [u8]| ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
    };
    let step = format!(
        "bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE, {} insns)",
        insns.len()
    );
    let mut a = Attr::new(mk(&mut []));
    // SAFETY: a ProgLoad for BPF_PROG_LOAD; `insns` and LICENSE outlive the call.
    match unsafe { bpf(BPF_PROG_LOAD, &mut a) } {
        Ok(fd) => return Ok(owned(fd)),
        Err(e) if e != Errno::EINVAL && e != Errno::EACCES => return Err(Error::sys(step, e)),
        Err(_) => {}
    }
    let mut log = vec![0u8; 1 << 16];
    let mut a = Attr::new(mk(&mut log));
    // SAFETY: as above, and `log` is writable for `log_size` bytes.
    match unsafe { bpf(BPF_PROG_LOAD, &mut a) } {
        Ok(fd) => Ok(owned(fd)),
        Err(e) => {
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            // The complaint precedes the closing statistics line.
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = lines[lines.len().saturating_sub(3)..].join("; ");
            Err(Error::sys(format!("{step} (verifier: {tail})"), e))
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn attach_cmd(cmd: u32, cgroup: BorrowedFd, prog: BorrowedFd, flags: u32) -> nix::Result<()> {
    let mut a = Attr::new(Attach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        replace_bpf_fd: 0,
    });
    // SAFETY: an Attach for BPF_PROG_ATTACH/DETACH holds no pointers.
    unsafe { bpf(cmd, &mut a) }.map(drop)
}

/// Attach `prog` to `cgroup` as a device filter (`BPF_F_ALLOW_MULTI`).
pub(crate) fn prog_attach(cgroup: BorrowedFd, prog: BorrowedFd) -> Result<()> {
    attach_cmd(BPF_PROG_ATTACH, cgroup, prog, BPF_F_ALLOW_MULTI).map_err(|e| {
        Error::sys(
            "bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)",
            e,
        )
    })
}

/// Detach device filter `prog` from `cgroup`.
pub(crate) fn prog_detach(cgroup: BorrowedFd, prog: BorrowedFd) -> Result<()> {
    attach_cmd(BPF_PROG_DETACH, cgroup, prog, 0)
        .map_err(|e| Error::sys("bpf(BPF_PROG_DETACH, BPF_CGROUP_DEVICE)", e))
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Query {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

/// Ids of the device filters attached to `cgroup` itself.
pub(crate) fn prog_query(cgroup: BorrowedFd) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    for _ in 0..4 {
        let mut a = Attr::new(Query {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
        });
        // SAFETY: a Query for BPF_PROG_QUERY; `ids` is writable for prog_cnt ids.
        let r = unsafe { bpf(BPF_PROG_QUERY, &mut a) };
        // SAFETY: the union was initialised through `attr`, which the kernel updated.
        let cnt = unsafe { a.attr.prog_cnt } as usize;
        match r {
            Ok(_) => {
                ids.truncate(cnt);
                return Ok(ids);
            }
            // More programs than room: the kernel said how many.
            Err(Errno::ENOSPC) => ids = vec![0; cnt.max(ids.len() * 2)],
            Err(e) => return Err(Error::sys("bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE)", e)),
        }
    }
    Err(Error::Other(
        "bpf(BPF_PROG_QUERY): the list of device filters kept growing".into(),
    ))
}

/// An fd for program `id` (needed to detach it).
pub(crate) fn prog_fd_by_id(id: u32) -> nix::Result<OwnedFd> {
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct GetId {
        prog_id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut a = Attr::new(GetId {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    });
    // SAFETY: a GetId for BPF_PROG_GET_FD_BY_ID holds no pointers.
    unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut a) }.map(owned)
}

#[cfg(test)]
#[path = "bpf_tests.rs"]
mod tests;
