//! Code generation of the seccomp compiler: the plan of each ABI (see
//! seccomp.rs) laid out as classic BPF instructions, the architecture
//! dispatch first, then per ABI the ENOSYS stub, the unconditional calls
//! and the argument checks of the conditional ones.

use serde::{Deserialize, Serialize};

use super::*;

// Classic BPF opcodes (linux/filter.h).
pub(super) const LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
pub(super) const ALU_AND_K: u16 = 0x54; // BPF_ALU (4) | BPF_AND (0x50) | BPF_K (0)
pub(super) const JA: u16 = 0x05; // BPF_JMP (5) | BPF_JA (0)
pub(super) const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ (0x10) | BPF_K
pub(super) const JGT: u16 = 0x25; // BPF_JMP | BPF_JGT (0x20) | BPF_K
pub(super) const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE (0x30) | BPF_K
pub(super) const JSET: u16 = 0x45; // BPF_JMP | BPF_JSET (0x40) | BPF_K
pub(super) const RET_K: u16 = 0x06; // BPF_RET (6) | BPF_K

// Offsets in struct seccomp_data.
pub(super) const OFFSET_NR: u32 = 0;
pub(super) const OFFSET_ARCH: u32 = 4;

pub(super) fn arg_offsets(index: u8) -> (u32, u32) {
    let base = 16 + 8 * u32::from(index);
    if cfg!(target_endian = "little") { (base + 4, base) } else { (base, base + 4) }
}

/// One classic BPF instruction, laid out like `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insn {
    pub(super) code: u16,
    pub(super) jt: u8,
    pub(super) jf: u8,
    pub(super) k: u32,
}

pub(super) fn stmt(code: u16, k: u32) -> Insn {
    Insn { code, jt: 0, jf: 0, k }
}

pub(super) fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

pub(super) fn ret(k: u32) -> Insn {
    stmt(RET_K, k)
}

/// Appends `body` to be run when `A <code> k` holds, and skipped otherwise.
/// `body` must not fall through (it ends in `ret`).
pub(super) fn when(out: &mut Vec<Insn>, code: u16, k: u32, body: Vec<Insn>) {
    match u8::try_from(body.len()) {
        Ok(len) => out.push(jump(code, k, 0, len)),
        Err(_) => {
            out.push(jump(code, k, 1, 0));
            out.push(stmt(JA, body.len() as u32));
        }
    }
    out.extend(body);
}

pub(super) fn emit(plans: &[AbiPlan<'_>], default: u32) -> Vec<Insn> {
    let mut out = vec![stmt(LD_W_ABS, OFFSET_ARCH)];
    let mut audits: Vec<u32> = Vec::new();
    for plan in plans {
        if !audits.contains(&plan.abi.audit()) {
            audits.push(plan.abi.audit());
        }
    }
    for audit in audits {
        let find = |abi: Abi| plans.iter().find(|p| p.abi == abi);
        let mut body = vec![stmt(LD_W_ABS, OFFSET_NR)];
        if audit == AUDIT_ARCH_X86_64 {
            match (find(Abi::X86_64), find(Abi::X32)) {
                // The x32 bit picks the table, as the kernel and runc's stub
                // do (numbers at or above 0x80000000 without it are x86_64's
                // to refuse: above any call, they get the stub's ENOSYS).
                (Some(wide), Some(x32)) => {
                    when(&mut body, JSET, X32_SYSCALL_BIT, abi_body(x32, default));
                    body.extend(abi_body(wide, default));
                }
                // No x32: its calls are a bad architecture, as in libseccomp,
                // except -1 (a tracer's "skip this call"), which goes to the
                // x86_64 rules without the stub (runc's stub lets every
                // number with the x32 bit through to libseccomp's filter).
                (Some(wide), None) => {
                    let stub = enosys_stub(wide);
                    body.push(jump(JSET, X32_SYSCALL_BIT, 0, 2));
                    body.push(jump(JEQ, u32::MAX, stub.len() as u8 + 3, 0));
                    body.push(ret(RET_BAD_ARCH));
                    body.extend(stub);
                    body.push(jump(JGE, X32_SYSCALL_BIT, 0, 1));
                    body.push(ret(RET_BAD_ARCH));
                    body.extend(rules_body(wide, default));
                }
                (None, Some(x32)) => {
                    body.push(jump(JSET, X32_SYSCALL_BIT, 1, 0));
                    body.push(ret(RET_BAD_ARCH));
                    body.extend(abi_body(x32, default));
                }
                (None, None) => unreachable!("an audit arch comes from a plan"),
            }
        } else {
            let plan = plans.iter().find(|p| p.abi.audit() == audit).expect("an audit arch comes from a plan");
            body.extend(abi_body(plan, default));
        }
        when(&mut out, JEQ, audit, body);
    }
    out.push(ret(RET_BAD_ARCH));
    out
}

/// The checks of one ABI, with the call number in A.
pub(super) fn abi_body(plan: &AbiPlan<'_>, default: u32) -> Vec<Insn> {
    let mut out = enosys_stub(plan);
    out.extend(rules_body(plan, default));
    out
}

/// runc's stub, with the call number in A: none or two instructions.
pub(super) fn enosys_stub(plan: &AbiPlan<'_>) -> Vec<Insn> {
    match plan.enosys_above {
        Some(highest) => vec![jump(JGT, highest, 0, 1), ret(RET_ERRNO | libc::ENOSYS as u32)],
        None => Vec::new(),
    }
}

/// The rules of one ABI, then its default, with the call number in A.
pub(super) fn rules_body(plan: &AbiPlan<'_>, default: u32) -> Vec<Insn> {
    let mut out = Vec::new();
    // Calls decided by number alone, grouped by action, allow first: runs of
    // up to 255 `jeq` jumping to one shared `ret`.
    let mut groups: BTreeMap<(bool, u32), Vec<u32>> = BTreeMap::new();
    for (nr, verdict) in &plan.verdicts {
        if let Verdict::Always(action) = verdict {
            groups.entry((*action != RET_ALLOW, *action)).or_default().push(*nr);
        }
    }
    for ((_, action), numbers) in groups {
        for run in numbers.chunks(255) {
            let last = run.len() - 1;
            for (i, nr) in run.iter().enumerate() {
                if i < last {
                    out.push(jump(JEQ, *nr, (last - i) as u8, 0));
                } else {
                    out.push(jump(JEQ, *nr, 0, 1));
                }
            }
            out.push(ret(action));
        }
    }
    // Calls with argument rules: each rule's conditions, then its action; a
    // failed condition jumps to the next rule; the default closes the list.
    for (nr, verdict) in &plan.verdicts {
        if let Verdict::Check(rules) = verdict {
            let mut body = Vec::new();
            for (action, conds) in rules {
                body.extend(rule_code(conds.as_ref(), *action, plan.abi.narrow()));
            }
            body.push(ret(default));
            when(&mut out, JEQ, *nr, body);
        }
    }
    out.push(ret(default));
    out
}

/// Where a conditional jump of a condition's code goes.
#[derive(Clone, Copy)]
pub(super) enum To {
    /// The next instruction.
    Next,
    /// Past this condition: it holds.
    Pass,
    /// The next rule: the condition does not hold.
    Fail,
}

pub(super) struct Step {
    code: u16,
    k: u32,
    jt: To,
    jf: To,
}

/// The code of one condition. On 64-bit ABIs the high words decide unless
/// they are equal, then the low words do; MaskedEq checks both halves.
pub(super) fn cond_steps(cond: &Cond, narrow: bool) -> Vec<Step> {
    use To::*;
    let step = |code, k, jt, jf| Step { code, k, jt, jf };
    let load = |offset| step(LD_W_ABS, offset, Next, Next);
    let (hi_offset, lo_offset) = arg_offsets(cond.index);
    let (hi, lo) = ((cond.value >> 32) as u32, cond.value as u32);
    let (hi_two, lo_two) = ((cond.value_two >> 32) as u32, cond.value_two as u32);
    let mut steps = Vec::new();
    if !narrow {
        steps.push(load(hi_offset));
        match cond.op {
            Op::Eq => steps.push(step(JEQ, hi, Next, Fail)),
            Op::Ne => steps.push(step(JEQ, hi, Next, Pass)),
            Op::Gt | Op::Ge => {
                steps.push(step(JGT, hi, Pass, Next));
                steps.push(step(JEQ, hi, Next, Fail));
            }
            Op::Lt | Op::Le => {
                steps.push(step(JGE, hi, Next, Pass));
                steps.push(step(JEQ, hi, Next, Fail));
            }
            Op::MaskedEq => {
                steps.push(step(ALU_AND_K, hi, Next, Next));
                steps.push(step(JEQ, hi_two, Next, Fail));
            }
        }
    }
    steps.push(load(lo_offset));
    match cond.op {
        Op::Eq => steps.push(step(JEQ, lo, Pass, Fail)),
        Op::Ne => steps.push(step(JEQ, lo, Fail, Pass)),
        Op::Gt => steps.push(step(JGT, lo, Pass, Fail)),
        Op::Ge => steps.push(step(JGE, lo, Pass, Fail)),
        Op::Lt => steps.push(step(JGE, lo, Fail, Pass)),
        Op::Le => steps.push(step(JGT, lo, Fail, Pass)),
        Op::MaskedEq => {
            steps.push(step(ALU_AND_K, lo, Next, Next));
            steps.push(step(JEQ, lo_two, Pass, Fail));
        }
    }
    steps
}

/// One rule: its conditions, then `ret action`. A failed condition jumps
/// just past the `ret`, where the next rule begins. A rule has at most six
/// conditions (one per argument), so every jump fits in a byte.
pub(super) fn rule_code(conds: &[Cond], action: u32, narrow: bool) -> Vec<Insn> {
    let blocks: Vec<Vec<Step>> = conds.iter().map(|c| cond_steps(c, narrow)).collect();
    let total = blocks.iter().map(Vec::len).sum::<usize>() + 1;
    debug_assert!(total <= 256);
    let mut out = Vec::with_capacity(total);
    for block in &blocks {
        let end = out.len() + block.len();
        for step in block {
            let at = out.len();
            let offset = |to: To| match to {
                To::Next => 0,
                To::Pass => (end - at - 1) as u8,
                To::Fail => (total - at - 1) as u8,
            };
            out.push(Insn {
                code: step.code,
                jt: offset(step.jt),
                jf: offset(step.jf),
                k: step.k,
            });
        }
    }
    out.push(ret(action));
    out
}

