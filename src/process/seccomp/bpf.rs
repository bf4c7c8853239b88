//! Classic BPF: the few opcodes a seccomp filter needs, an assembler with
//! symbolic labels (far conditional jumps get trampolines), and an interpreter
//! used by [`super::Filter::evaluate`] and the tests.

use std::collections::HashMap;

/// `BPF_LD | BPF_W | BPF_ABS`: load the 32-bit word at offset `k` of `seccomp_data`.
pub(super) const LD_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`.
pub(super) const AND_K: u16 = 0x54;
/// `BPF_JMP | BPF_JA`.
pub(super) const JA: u16 = 0x05;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub(super) const JEQ: u16 = 0x15;
/// `BPF_JMP | BPF_JGT | BPF_K`.
pub(super) const JGT: u16 = 0x25;
/// `BPF_JMP | BPF_JGE | BPF_K`.
pub(super) const JGE: u16 = 0x35;
/// `BPF_JMP | BPF_JSET | BPF_K`.
pub(super) const JSET: u16 = 0x45;
/// `BPF_RET | BPF_K`.
pub(super) const RET: u16 = 0x06;

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Offset of `seccomp_data.nr`.
pub(super) const OFF_NR: u32 = 0;
/// Offset of `seccomp_data.arch`.
pub(super) const OFF_ARCH: u32 = 4;

/// Offset of the low (`hi == false`) or high word of argument `arg` (little endian).
pub(super) fn off_arg(arg: u8, hi: bool) -> u32 {
    16 + 8 * u32::from(arg) + if hi { 4 } else { 0 }
}

/// A jump target, resolved at assembly.
pub(super) type Label = u32;

#[derive(Clone, Copy, Debug)]
enum Item {
    /// `code` with jump targets (conditional jumps) or `ja` target in `jt`.
    Insn {
        code: u16,
        k: u32,
        jt: Label,
        jf: Label,
    },
    /// Binds a label to the next instruction.
    Bind(Label),
}

/// A program under construction: instructions with symbolic labels.
#[derive(Default)]
pub(super) struct Asm {
    items: Vec<Item>,
    next_label: Label,
    /// Labels of shared `ret` instructions by action value.
    rets: HashMap<u32, Label>,
}

impl Asm {
    /// A fresh, unbound label.
    pub(super) fn label(&mut self) -> Label {
        self.next_label += 1;
        self.next_label
    }

    /// Bind `l` to the next instruction emitted.
    pub(super) fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }

    /// `ld [k]`.
    pub(super) fn load(&mut self, k: u32) {
        self.insn(LD_ABS, k, 0, 0);
    }

    /// `and #k`.
    pub(super) fn and(&mut self, k: u32) {
        self.insn(AND_K, k, 0, 0);
    }

    /// A conditional jump `code #k, jt, jf`.
    pub(super) fn jump(&mut self, code: u16, k: u32, jt: Label, jf: Label) {
        self.insn(code, k, jt, jf);
    }

    /// `ja l`.
    pub(super) fn ja(&mut self, l: Label) {
        self.insn(JA, 0, l, l);
    }

    /// The label of the (shared) `ret #action` instruction.
    pub(super) fn ret_label(&mut self, action: u32) -> Label {
        if let Some(l) = self.rets.get(&action) {
            return *l;
        }
        let l = self.label();
        self.rets.insert(action, l);
        l
    }

    fn insn(&mut self, code: u16, k: u32, jt: Label, jf: Label) {
        self.items.push(Item::Insn { code, k, jt, jf });
    }

    /// Place the shared `ret`s, resolve labels (inserting trampolines for
    /// conditional jumps further than 255 instructions) and encode.
    pub(super) fn finish(mut self) -> Vec<libc::sock_filter> {
        let mut rets: Vec<(u32, Label)> = self.rets.iter().map(|(a, l)| (*a, *l)).collect();
        rets.sort_unstable();
        for (action, l) in &rets {
            self.bind(*l);
            self.insn(RET, *action, 0, 0);
        }
        let ret_of: HashMap<Label, u32> = rets.iter().map(|(a, l)| (*l, *a)).collect();
        loop {
            let pos = self.positions();
            let mut far = Vec::new();
            let mut at = 0usize;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Insn { code, jt, jf, .. } = *item {
                    if is_cond(code) {
                        let d = |l: Label| pos[&l] - at - 1;
                        if d(jt) > 255 || d(jf) > 255 {
                            far.push(i);
                        }
                    }
                    at += 1;
                }
            }
            if far.is_empty() {
                break;
            }
            for &i in far.iter().rev() {
                self.trampoline(i, &pos, &ret_of);
            }
        }
        let pos = self.positions();
        let mut out = Vec::with_capacity(pos.len());
        for item in &self.items {
            if let Item::Insn { code, k, jt, jf } = *item {
                let at = out.len();
                let (jt, jf, k) = if is_cond(code) {
                    ((pos[&jt] - at - 1) as u8, (pos[&jf] - at - 1) as u8, k)
                } else if code == JA {
                    (0, 0, (pos[&jt] - at - 1) as u32)
                } else {
                    (0, 0, k)
                };
                out.push(libc::sock_filter { code, jt, jf, k });
            }
        }
        out
    }

    /// Instruction index of every label.
    fn positions(&self) -> HashMap<Label, usize> {
        let mut pos = HashMap::new();
        let mut at = 0;
        for item in &self.items {
            match item {
                Item::Bind(l) => {
                    pos.insert(*l, at);
                }
                Item::Insn { .. } => at += 1,
            }
        }
        pos
    }

    /// Route the far targets of the conditional jump at `i` through `ja` (or a
    /// copy of the `ret`) placed right after it.
    fn trampoline(&mut self, i: usize, pos: &HashMap<Label, usize>, ret_of: &HashMap<Label, u32>) {
        let Item::Insn { code, k, jt, jf } = self.items[i] else {
            return;
        };
        let here = self.items[..i]
            .iter()
            .filter(|x| matches!(x, Item::Insn { .. }))
            .count();
        let far = |l: Label| pos[&l] - here - 1 > 255;
        let after = self.label();
        let mut tail = Vec::new();
        let mut hop = |target: Label, labels: &mut Label| -> Label {
            *labels += 1;
            let l = *labels;
            tail.push(Item::Bind(l));
            match ret_of.get(&target) {
                Some(action) => tail.push(Item::Insn {
                    code: RET,
                    k: *action,
                    jt: 0,
                    jf: 0,
                }),
                None => tail.push(Item::Insn {
                    code: JA,
                    k: 0,
                    jt: target,
                    jf: 0,
                }),
            }
            l
        };
        let new_jt = if far(jt) {
            hop(jt, &mut self.next_label)
        } else {
            jt
        };
        let new_jf = if far(jf) && jf != jt {
            hop(jf, &mut self.next_label)
        } else if far(jf) {
            new_jt
        } else {
            jf
        };
        tail.push(Item::Bind(after));
        self.items[i] = Item::Insn {
            code,
            k,
            jt: new_jt,
            jf: new_jf,
        };
        self.items.splice(i + 1..i + 1, tail);
    }
}

fn is_cond(code: u16) -> bool {
    matches!(code, JEQ | JGT | JGE | JSET)
}

/// Run `prog` on a `seccomp_data` laid out as the kernel does and return the
/// action value. Panics on malformed programs (the generator's bug, not input).
pub(super) fn run(prog: &[libc::sock_filter], data: &[u8; 64]) -> u32 {
    let word = |k: u32| {
        let k = k as usize;
        u32::from_ne_bytes([data[k], data[k + 1], data[k + 2], data[k + 3]])
    };
    let mut a = 0u32;
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        match i.code {
            LD_ABS => a = word(i.k),
            AND_K => a &= i.k,
            JA => pc += i.k as usize,
            RET => return i.k,
            code => {
                let taken = match code {
                    JEQ => a == i.k,
                    JGT => a > i.k,
                    JGE => a >= i.k,
                    JSET => a & i.k != 0,
                    _ => panic!("unexpected BPF opcode {code:#x} at {}", pc - 1),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
        }
    }
}
