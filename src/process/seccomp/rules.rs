//! The rules of one syscall on one ABI, merged the way libseccomp's filter
//! database (`db.c`) merges them, and the BPF for them (as `gen_bpf.c` lays it out).
//!
//! A rule is a chain of 32-bit comparison nodes (a 64-bit argument test becomes
//! two or three nodes on its high and low words). Chains of one syscall are
//! merged into a tree whose levels are kept in libseccomp's order (higher
//! argument first, high word before low word, `==`/`!=` before `<` before `>`).
//! Evaluation walks a level node by node; a node whose branch has neither a
//! sub-level nor an action falls through to the next node of its level, and a
//! level that ends falls through to the next node of its parent's level, and
//! finally to the default action. So among several rules of one syscall the
//! first that matches in tree order decides; identical tests with different
//! actions are an error (libseccomp's `EEXIST`), and an unconditional rule
//! replaces every conditional one.

use super::bpf::{self, Asm, Label};

/// A comparison operator (`SCMP_CMP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// One argument test of a rule: `(arg & mask) <op> (datum & mask)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cond {
    pub arg: u8,
    pub op: Op,
    pub mask: u64,
    pub datum: u64,
}

/// The 32-bit test a node performs (after `and mask` for `MaskedEq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Gt,
    Ge,
    MaskedEq,
}

#[derive(Clone, Debug)]
struct Node {
    arg: u8,
    hi: bool,
    op: Cmp,
    op_orig: Op,
    mask: u32,
    datum: u32,
    datum_full: u64,
    nxt_t: Vec<Node>,
    nxt_f: Vec<Node>,
    act_t: Option<u32>,
    act_f: Option<u32>,
}

/// Two rules test the same thing but want different actions (libseccomp `EEXIST`).
#[derive(Debug)]
pub(super) struct Conflict;

impl Node {
    fn new(c: &Cond, hi: bool, op: Cmp) -> Node {
        let (mask, datum) = if hi {
            ((c.mask >> 32) as u32, (c.datum >> 32) as u32)
        } else {
            (c.mask as u32, c.datum as u32)
        };
        Node {
            arg: c.arg,
            hi,
            op,
            op_orig: c.op,
            mask,
            datum: datum & mask,
            datum_full: c.datum,
            nxt_t: Vec::new(),
            nxt_f: Vec::new(),
            act_t: None,
            act_f: None,
        }
    }

    /// Continue on branch `t` (true) or false with `next`, or end in `action`.
    fn cont(mut self, t: bool, next: &Option<Node>, action: u32) -> Node {
        match (next, t) {
            (Some(n), true) => self.nxt_t = vec![n.clone()],
            (Some(n), false) => self.nxt_f = vec![n.clone()],
            (None, true) => self.act_t = Some(action),
            (None, false) => self.act_f = Some(action),
        }
        self
    }

    fn leaf(&self) -> bool {
        self.nxt_t.is_empty() && self.nxt_f.is_empty()
    }

    fn arg_pri(&self) -> u32 {
        (u32::from(self.arg) << 1) + u32::from(self.hi)
    }

    fn op_pri(&self) -> u32 {
        match self.op_orig {
            Op::MaskedEq | Op::Eq | Op::Ne => 3,
            Op::Le | Op::Lt => 2,
            Op::Ge | Op::Gt => 1,
        }
    }

    /// libseccomp's `_db_chain_lt`.
    fn lt(&self, b: &Node) -> bool {
        if self.arg_pri() != b.arg_pri() {
            return self.arg_pri() < b.arg_pri();
        }
        if self.op_pri() != b.op_pri() {
            return self.op_pri() < b.op_pri();
        }
        match self.op_orig {
            Op::Le | Op::Lt => self.datum > b.datum,
            _ => self.datum < b.datum,
        }
    }

    /// libseccomp's `_db_chain_eq`.
    fn same_test(&self, b: &Node) -> bool {
        self.arg_pri() == b.arg_pri()
            && self.op == b.op
            && self.datum == b.datum
            && self.mask == b.mask
    }
}

/// Whether a condition can be skipped (a masked test with an empty mask).
fn noop(c: &Cond, bits32: bool) -> bool {
    c.op == Op::MaskedEq && (c.mask as u32 == 0) && (bits32 || c.mask >> 32 == 0)
}

/// The chain of nodes for a rule; `None` when it has no (effective) condition.
fn chain(conds: &[Cond], action: u32, bits32: bool) -> Option<Node> {
    let (c, rest) = conds.split_first()?;
    if noop(c, bits32) {
        return chain(rest, action, bits32);
    }
    let next = chain(rest, action, bits32);
    if bits32 {
        let (op, t) = match c.op {
            Op::Ne => (Cmp::Eq, false),
            Op::Lt => (Cmp::Ge, false),
            Op::Le => (Cmp::Gt, false),
            Op::Eq => (Cmp::Eq, true),
            Op::Ge => (Cmp::Ge, true),
            Op::Gt => (Cmp::Gt, true),
            Op::MaskedEq => (Cmp::MaskedEq, true),
        };
        return Some(Node::new(c, false, op).cont(t, &next, action));
    }
    Some(match c.op {
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // hi > H: decided; hi == H: the low word decides; else the other way.
            let lo_op = if matches!(c.op, Op::Gt | Op::Le) {
                Cmp::Gt
            } else {
                Cmp::Ge
            };
            let upward = matches!(c.op, Op::Gt | Op::Ge);
            let c2 = Node::new(c, false, lo_op).cont(upward, &next, action);
            let mut c1 = Node::new(c, true, Cmp::Eq);
            if !upward {
                c1 = c1.cont(false, &next, action);
            }
            c1.nxt_t = vec![c2];
            let mut c0 = Node::new(c, true, Cmp::Gt);
            if upward {
                c0 = c0.cont(true, &next, action);
            }
            c0.nxt_f = vec![c1];
            c0
        }
        Op::Eq | Op::MaskedEq | Op::Ne => {
            let op = if c.op == Op::MaskedEq {
                Cmp::MaskedEq
            } else {
                Cmp::Eq
            };
            let t = c.op != Op::Ne;
            let c1 = Node::new(c, false, op).cont(t, &next, action);
            let mut c0 = Node::new(c, true, op);
            if !t {
                c0 = c0.cont(false, &next, action);
            }
            c0.nxt_t = vec![c1];
            c0
        }
    })
}

/// Every action in a tree equals `action` (libseccomp `_db_tree_act_check`).
fn act_check(level: &[Node], action: u32) -> Result<(), Conflict> {
    for n in level {
        if n.act_t.is_some_and(|a| a != action) || n.act_f.is_some_and(|a| a != action) {
            return Err(Conflict);
        }
        act_check(&n.nxt_t, action)?;
        act_check(&n.nxt_f, action)?;
    }
    Ok(())
}

/// Merge the single-path tree `n` into `level` (libseccomp `_db_tree_add`).
fn tree_add(level: &mut Vec<Node>, n: Node) -> Result<(), Conflict> {
    for i in 0..level.len() {
        let x = &mut level[i];
        if x.same_test(&n) {
            if let Some(nt) = n.act_t {
                match x.act_t {
                    None => {
                        act_check(&x.nxt_t, nt)?;
                        x.nxt_t.clear();
                        x.act_t = Some(nt);
                    }
                    Some(xt) if xt != nt => {
                        if n.hi && n.datum_full > x.datum_full {
                            x.act_t = Some(nt);
                        }
                        if x.leaf() || n.leaf() {
                            return Err(Conflict);
                        }
                    }
                    Some(_) => {}
                }
            }
            if let Some(nf) = n.act_f {
                match x.act_f {
                    None => {
                        act_check(&x.nxt_f, nf)?;
                        x.nxt_f.clear();
                        x.act_f = Some(nf);
                    }
                    Some(xf) if xf != nf => {
                        // libseccomp assigns act_t here (sic); kept for fidelity.
                        if n.hi && n.datum_full < x.datum_full {
                            x.act_t = n.act_t;
                        }
                        if x.leaf() || n.leaf() {
                            return Err(Conflict);
                        }
                    }
                    Some(_) => {}
                }
            }
            for (t, sub) in [(true, n.nxt_t), (false, n.nxt_f)] {
                let Some(sub) = sub.into_iter().next() else {
                    continue;
                };
                let (x_sub, x_act) = if t {
                    (&mut x.nxt_t, x.act_t)
                } else {
                    (&mut x.nxt_f, x.act_f)
                };
                if !x_sub.is_empty() {
                    tree_add(x_sub, sub)?;
                } else if x_act.is_none() {
                    *x_sub = vec![sub];
                } else {
                    // The existing rule is shorter: it already decides.
                    return Ok(());
                }
            }
            return Ok(());
        } else if x.lt(&n) {
            level.insert(i, n);
            return Ok(());
        }
    }
    level.push(n);
    Ok(())
}

/// All rules of one syscall number on one ABI.
#[derive(Clone, Debug, Default)]
pub(super) struct Syscall {
    /// The action of an unconditional rule (then `chains` is empty).
    action: Option<u32>,
    chains: Vec<Node>,
}

impl Syscall {
    /// Add a rule (libseccomp `db_rule_add`).
    pub(super) fn add(
        &mut self,
        conds: &[Cond],
        action: u32,
        bits32: bool,
    ) -> Result<(), Conflict> {
        if self.action.is_some() {
            // An unconditional rule already decides everything.
            return Ok(());
        }
        let new = chain(conds, action, bits32);
        match new {
            Some(n) if self.chains.is_empty() => self.chains = vec![n],
            Some(n) => tree_add(&mut self.chains, n)?,
            // An unconditional rule replaces the conditional ones.
            None => {
                self.chains.clear();
                self.action = Some(action);
            }
        }
        Ok(())
    }

    /// The action when the syscall has an unconditional rule.
    pub(super) fn unconditional(&self) -> Option<u32> {
        self.action
    }

    /// Emit the argument tests; on no match jump to `default`.
    pub(super) fn emit(&self, asm: &mut Asm, entry: Label, default: Label) {
        asm.bind(entry);
        emit_level(asm, &self.chains, default, None, entry);
    }
}

/// Emit one level; `known` is the accumulator (offset, mask) when entering its
/// first node, if known. `first` is the label already bound for that node.
fn emit_level(asm: &mut Asm, level: &[Node], fall: Label, known: Option<(u32, u32)>, first: Label) {
    let starts: Vec<Label> = (0..level.len())
        .map(|i| if i == 0 { first } else { asm.label() })
        .collect();
    for (i, n) in level.iter().enumerate() {
        if i > 0 {
            asm.bind(starts[i]);
        }
        let next = starts.get(i + 1).copied().unwrap_or(fall);
        let off = bpf::off_arg(n.arg, n.hi);
        let mut acc = if i == 0 { known } else { None };
        let reload = match acc {
            Some((o, m)) => o != off || (n.mask & m) != n.mask,
            None => true,
        };
        if reload {
            asm.load(off);
            acc = Some((off, u32::MAX));
        }
        if acc.is_some_and(|(_, m)| m != n.mask) {
            asm.and(n.mask);
        }
        let state = Some((off, n.mask));
        let code = match n.op {
            Cmp::Eq | Cmp::MaskedEq => bpf::JEQ,
            Cmp::Gt => bpf::JGT,
            Cmp::Ge => bpf::JGE,
        };
        let target = |sub: &[Node], act: Option<u32>, asm: &mut Asm| match (sub.first(), act) {
            (Some(_), _) => asm.label(),
            (None, Some(a)) => asm.ret_label(a),
            (None, None) => next,
        };
        let jt = target(&n.nxt_t, n.act_t, asm);
        let jf = target(&n.nxt_f, n.act_f, asm);
        asm.jump(code, n.datum, jt, jf);
        if !n.nxt_t.is_empty() {
            asm.bind(jt);
            emit_level(asm, &n.nxt_t, next, state, jt);
        }
        if !n.nxt_f.is_empty() {
            asm.bind(jf);
            emit_level(asm, &n.nxt_f, next, state, jf);
        }
    }
}
