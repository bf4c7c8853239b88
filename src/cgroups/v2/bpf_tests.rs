//! The device program's verdicts, checked with a tiny interpreter of the
//! instructions the builder emits and against a direct model of the rules.

use super::*;

/// Run `p` on a `bpf_cgroup_dev_ctx`; also checks what the verifier would:
/// only forward jumps, inside the program, and an exit on every path.
fn run(p: &[Insn], typ: u32, major: u32, minor: u32, access: u32) -> u64 {
    let ctx = [(access << 16) | typ, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = p[pc];
        let (dst, src) = if cfg!(target_endian = "little") {
            ((i.regs & 0xf) as usize, (i.regs >> 4) as usize)
        } else {
            ((i.regs >> 4) as usize, (i.regs & 0xf) as usize)
        };
        pc += 1;
        let jump = |pc: &mut usize, take: bool| {
            assert!(i.off >= 0, "backward jump");
            if take {
                *pc += i.off as usize;
            }
            assert!(*pc < p.len(), "jump out of the program");
        };
        match i.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "loads only from the context");
                r[dst] = u64::from(ctx[(i.off / 4) as usize]);
            }
            ALU_AND_K => r[dst] = u64::from(r[dst] as u32 & i.imm as u32),
            ALU_RSH_K => r[dst] = u64::from((r[dst] as u32) >> i.imm),
            ALU_MOV_K => r[dst] = u64::from(i.imm as u32),
            ALU_MOV_X => r[dst] = u64::from(r[src] as u32),
            JMP_JEQ_K => jump(&mut pc, r[dst] == i.imm as i64 as u64),
            JMP_JNE_K => jump(&mut pc, r[dst] != i.imm as i64 as u64),
            JMP_EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

/// The verifier's static checks: every instruction reachable, jumps forward
/// and inside the program, the last instruction an exit.
fn check_cfg(p: &[Insn]) {
    let mut seen = vec![false; p.len()];
    let mut todo = vec![0usize];
    while let Some(pc) = todo.pop() {
        assert!(pc < p.len(), "falls off the end");
        if std::mem::replace(&mut seen[pc], true) {
            continue;
        }
        match p[pc].code {
            JMP_EXIT => {}
            JMP_JEQ_K | JMP_JNE_K => {
                assert!(p[pc].off >= 0, "backward jump");
                todo.push(pc + 1);
                todo.push(pc + 1 + p[pc].off as usize);
            }
            _ => todo.push(pc + 1),
        }
    }
    let dead: Vec<usize> = (0..p.len()).filter(|i| !seen[*i]).collect();
    assert!(dead.is_empty(), "unreachable instructions {dead:?}");
    assert_eq!(p.last().map(|i| i.code), Some(JMP_EXIT));
}

/// The rules' meaning, directly: each requested bit is decided by the last
/// rule that matches the device and names the bit.
fn model(rules: &[Rule], typ: u32, major: u32, minor: u32, access: u32) -> u64 {
    let ok = [ACC_MKNOD, ACC_READ, ACC_WRITE]
        .into_iter()
        .filter(|b| access & b != 0)
        .all(|b| {
            rules
                .iter()
                .rev()
                .find(|r| {
                    r.typ.map_or(true, |t| t == typ)
                        && r.major.map_or(true, |m| m == major)
                        && r.minor.map_or(true, |m| m == minor)
                        && r.access & b != 0
                })
                .is_some_and(|r| r.allow)
        });
    u64::from(ok && access != 0)
}

fn rule(
    allow: bool,
    typ: Option<u32>,
    major: Option<u32>,
    minor: Option<u32>,
    access: u32,
) -> Rule {
    Rule {
        allow,
        typ,
        major,
        minor,
        access,
    }
}

const R: u32 = ACC_READ;
const W: u32 = ACC_WRITE;
const M: u32 = ACC_MKNOD;
const RWM: u32 = R | W | M;
const C: Option<u32> = Some(DEV_CHAR);
const B: Option<u32> = Some(DEV_BLOCK);

#[test]
fn a_final_deny_all_leaves_no_dead_code() {
    // The usual spec starts with deny-all, which the program checks last.
    let deny_all = rule(false, None, None, None, RWM);
    let p = program(&[deny_all, rule(true, C, Some(1), Some(3), RWM)]);
    check_cfg(&p);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R), 1);
    assert_eq!(run(&p, DEV_CHAR, 1, 5, R), 0);
    // And rules before a later deny-all are never reached, so not emitted.
    let p = program(&[rule(true, C, Some(1), Some(3), RWM), deny_all]);
    check_cfg(&p);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R), 0);
}

#[test]
fn nothing_allowed_by_default() {
    let p = program(&[]);
    check_cfg(&p);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R), 0);
    assert_eq!(run(&p, DEV_BLOCK, 8, 0, RWM), 0);
}

#[test]
fn exact_rule_allows_only_its_device() {
    let p = program(&[rule(true, C, Some(1), Some(3), RWM)]);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R | W), 1);
    assert_eq!(run(&p, DEV_CHAR, 1, 5, R), 0);
    assert_eq!(run(&p, DEV_BLOCK, 1, 3, R), 0);
}

#[test]
fn the_last_matching_rule_wins() {
    let allow_all = rule(true, None, None, None, RWM);
    let deny_zero = rule(false, C, Some(1), Some(5), RWM);
    let p = program(&[allow_all, deny_zero]);
    assert_eq!(run(&p, DEV_CHAR, 1, 5, R), 0);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R), 1);
    let p = program(&[deny_zero, allow_all]);
    assert_eq!(run(&p, DEV_CHAR, 1, 5, R), 1);
    // The usual spec: deny everything, then allow a few.
    let deny_all = rule(false, None, None, None, RWM);
    let p = program(&[deny_all, rule(true, C, Some(136), None, RWM)]);
    assert_eq!(run(&p, DEV_CHAR, 136, 7, R | W), 1);
    assert_eq!(run(&p, DEV_CHAR, 137, 7, R), 0);
}

#[test]
fn access_is_decided_bit_by_bit() {
    let p = program(&[rule(true, C, Some(1), Some(3), R)]);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R), 1);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R | W), 0);
    // Two partial allows add up, as on v1.
    let p = program(&[
        rule(true, C, Some(1), Some(3), R),
        rule(true, C, Some(1), Some(3), W),
    ]);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R | W), 1);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, M), 0);
    // A later partial deny takes only its bit away.
    let p = program(&[
        rule(true, C, Some(1), Some(3), RWM),
        rule(false, C, Some(1), Some(3), W),
    ]);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R | M), 1);
    assert_eq!(run(&p, DEV_CHAR, 1, 3, R | W), 0);
    // mknod of anything, as runc's defaults allow, but no reads.
    let p = program(&[rule(true, C, None, None, M), rule(true, B, None, None, M)]);
    assert_eq!(run(&p, DEV_BLOCK, 8, 0, M), 1);
    assert_eq!(run(&p, DEV_BLOCK, 8, 0, R), 0);
}

#[test]
fn agrees_with_the_model_on_random_rule_sets() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u32| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % u64::from(n)) as u32
    };
    for _ in 0..300 {
        let rules: Vec<Rule> = (0..next(6))
            .map(|_| Rule {
                allow: next(2) == 1,
                typ: [None, C, B][next(3) as usize],
                major: [None, Some(1), Some(5)][next(3) as usize],
                minor: [None, Some(3), Some(5)][next(3) as usize],
                access: 1 + next(7),
            })
            .collect();
        let p = program(&rules);
        check_cfg(&p);
        for typ in [DEV_BLOCK, DEV_CHAR] {
            for major in [1, 5, 9] {
                for minor in [3, 5, 9] {
                    for access in 1..=RWM {
                        assert_eq!(
                            run(&p, typ, major, minor, access),
                            model(&rules, typ, major, minor, access),
                            "{rules:?} {typ} {major}:{minor} {access}"
                        );
                    }
                }
            }
        }
    }
}
