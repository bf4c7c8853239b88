//! The program: an architecture check, then per architecture a binary search
//! over syscall-number intervals, then the argument tests of the syscalls that
//! have them.
//!
//! ```text
//!   ld  [arch]
//!   jeq AUDIT_ARCH_X86_64 -> x86_64 section
//!   jeq AUDIT_ARCH_I386   -> i386 section          (only if SCMP_ARCH_X86 listed)
//!   ret KILL_THREAD                                (libseccomp's bad-arch action)
//! section:
//!   ld  [nr]
//!   jge K1 ? (jge K2 ? .. : ..) : (jge K3 ? .. : ..)   -- ~log2(intervals) compares
//!   leaves: `ret ACTION` shared per action, or a syscall's argument tests
//! ```
//!
//! Each section's syscall-number space `0..=u32::MAX` is split into intervals
//! with one outcome each: the default action; libseccomp's x32 filter-out on
//! x86_64 (`nr >= 0x40000000` except `-1` is a bad-arch kill when x32 is not
//! listed); runc's `-ENOSYS` stub above the largest syscall the profile names
//! (evaluated before everything else, so it wins); and each syscall's rule.
//! Adjacent intervals with one outcome merge, so an allow-list of a few hundred
//! syscalls becomes some dozens of intervals per ABI.

use std::collections::BTreeMap;

use super::arch::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_BIT};
use super::bpf::{self, Asm, Label};
use super::compile::{Plan, RET_ERRNO, RET_KILL_THREAD};

/// What happens to the syscall numbers of one interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ret(u32),
    Rules(Abi, u32),
}

/// A partition of `0..=u32::MAX`: interval start → outcome up to the next start.
struct Partition(BTreeMap<u32, Outcome>);

impl Partition {
    fn new(o: Outcome) -> Self {
        Partition(BTreeMap::from([(0, o)]))
    }

    fn at(&self, x: u32) -> Outcome {
        *self.0.range(..=x).next_back().expect("0 is always a key").1
    }

    fn paint(&mut self, lo: u32, hi: u32, o: Outcome) {
        if lo > hi {
            return;
        }
        let after = (hi < u32::MAX).then(|| self.at(hi + 1));
        let inside: Vec<u32> = self.0.range(lo..=hi).map(|(k, _)| *k).collect();
        for k in inside {
            self.0.remove(&k);
        }
        self.0.insert(lo, o);
        if let Some(a) = after {
            self.0.entry(hi + 1).or_insert(a);
        }
    }

    /// The intervals, adjacent equal outcomes merged.
    fn intervals(&self) -> Vec<(u32, Outcome)> {
        let mut out: Vec<(u32, Outcome)> = Vec::new();
        for (k, o) in &self.0 {
            if out.last().map(|(_, last)| last) != Some(o) {
                out.push((*k, *o));
            }
        }
        out
    }
}

/// Generate the program for `plan`.
pub(super) fn generate(plan: &Plan) -> Vec<libc::sock_filter> {
    let mut asm = Asm::default();
    let kill = asm.ret_label(RET_KILL_THREAD);
    let has_i386 = plan.abis.contains(&Abi::I386);
    let l64 = asm.label();
    let l32 = asm.label();
    asm.load(bpf::OFF_ARCH);
    if has_i386 {
        let next = asm.label();
        asm.jump(bpf::JEQ, AUDIT_ARCH_X86_64, l64, next);
        asm.bind(next);
        asm.jump(bpf::JEQ, AUDIT_ARCH_I386, l32, kill);
    } else {
        asm.jump(bpf::JEQ, AUDIT_ARCH_X86_64, l64, kill);
    }
    let mut bodies: Vec<(Label, Abi, u32)> = Vec::new();
    let sections: &[(Label, &[Abi])] = if has_i386 {
        &[(l64, &[Abi::X86_64, Abi::X32]), (l32, &[Abi::I386])]
    } else {
        &[(l64, &[Abi::X86_64, Abi::X32])]
    };
    for (label, abis) in sections {
        let part = partition(plan, abis);
        asm.bind(*label);
        let ivs = part.intervals();
        let mut leaf = |o: Outcome, asm: &mut Asm| match o {
            Outcome::Ret(a) => asm.ret_label(a),
            Outcome::Rules(abi, nr) => {
                let l = asm.label();
                bodies.push((l, abi, nr));
                l
            }
        };
        if ivs.len() == 1 {
            let l = leaf(ivs[0].1, &mut asm);
            asm.ja(l);
        } else {
            asm.load(bpf::OFF_NR);
            search(&mut asm, &ivs, &mut leaf);
        }
    }
    let default = asm.ret_label(plan.default);
    for (label, abi, nr) in bodies {
        plan.rules[&abi][&nr].emit(&mut asm, label, default);
    }
    asm.finish()
}

/// Binary search over `ivs` (at least two intervals), accumulator = nr.
fn search(
    asm: &mut Asm,
    ivs: &[(u32, Outcome)],
    leaf: &mut impl FnMut(Outcome, &mut Asm) -> Label,
) {
    let (left, right) = ivs.split_at(ivs.len() / 2);
    let mut side = |part: &[(u32, Outcome)], asm: &mut Asm| {
        if part.len() == 1 {
            leaf(part[0].1, asm)
        } else {
            asm.label()
        }
    };
    let jf = side(left, asm);
    let jt = side(right, asm);
    asm.jump(bpf::JGE, right[0].0, jt, jf);
    if left.len() > 1 {
        asm.bind(jf);
        search(asm, left, leaf);
    }
    if right.len() > 1 {
        asm.bind(jt);
        search(asm, right, leaf);
    }
}

/// The outcome of every syscall number for the ABIs sharing one `AUDIT_ARCH`.
fn partition(plan: &Plan, abis: &[Abi]) -> Partition {
    let mut p = Partition::new(Outcome::Ret(plan.default));
    let x86_64 = abis.contains(&Abi::X86_64);
    if x86_64 && !plan.abis.contains(&Abi::X32) {
        // libseccomp: x32 calls are a bad architecture unless x32 is in the filter
        // (but -1, which tracers use to skip a call, goes to the default action).
        p.paint(X32_BIT, u32::MAX - 1, Outcome::Ret(RET_KILL_THREAD));
    }
    for abi in abis {
        for (nr, sys) in plan.rules.get(abi).into_iter().flatten() {
            let o = match sys.unconditional() {
                Some(a) => Outcome::Ret(a),
                None => Outcome::Rules(*abi, *nr),
            };
            p.paint(*nr, *nr, o);
        }
    }
    let enosys = Outcome::Ret(RET_ERRNO | libc::ENOSYS as u32);
    for abi in abis {
        let Some(max) = plan.enosys_above.get(abi).copied() else {
            continue;
        };
        match abi {
            // runc's stub tests bit 30 first: x86_64 numbers have it clear,
            // x32 numbers have it set.
            Abi::X86_64 => {
                p.paint(max + 1, X32_BIT - 1, enosys);
                p.paint(0x8000_0000, 0xbfff_ffff, enosys);
            }
            Abi::X32 => {
                p.paint(max + 1, 0x7fff_ffff, enosys);
                p.paint(0xc000_0000.max(max + 1), u32::MAX, enosys);
            }
            Abi::I386 => p.paint(max.saturating_add(1), u32::MAX, enosys),
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_paints_and_merges() {
        let mut p = Partition::new(Outcome::Ret(1));
        p.paint(10, 20, Outcome::Ret(2));
        p.paint(15, 15, Outcome::Ret(3));
        p.paint(21, 30, Outcome::Ret(2));
        let ivs = p.intervals();
        let want = vec![
            (0, Outcome::Ret(1)),
            (10, Outcome::Ret(2)),
            (15, Outcome::Ret(3)),
            (16, Outcome::Ret(2)),
            (31, Outcome::Ret(1)),
        ];
        assert_eq!(ivs, want);
        assert_eq!(p.at(u32::MAX), Outcome::Ret(1));
    }
}
