//! Device rules on cgroup v2: an eBPF program of type
//! BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup, as runc
//! (libcontainer/cgroups/devices, devicefilter) and crun generate it. cgroup v2
//! has no devices controller; without the program nothing is enforced.
//!
//! The kernel runs the program for every open, and every mknod, of a device
//! node by a process of the cgroup, with a `struct bpf_cgroup_dev_ctx`:
//!
//! ```text
//! u32 access_type;  // (access << 16) | type
//! u32 major;
//! u32 minor;
//! ```
//!
//! and allows the operation only if every program attached returns 1.
//!
//! Semantics, those of successive writes to v1 devices.allow/devices.deny:
//! - rules are read last to first, and the last rule that names the device
//!   and an access bit decides that bit. A request asks for several bits at
//!   once (an O_RDWR open asks for read and write); it is allowed only if
//!   every bit is, so an "allow rw" rule wins outright, while a later
//!   "deny w" denies any request that includes write;
//! - a rule of type 'a' (kind None) resets everything, as it does in v1
//!   (and in runc's device emulator): "a" allow makes the default allow,
//!   "a" deny makes it deny, whatever its numbers and access say, and the
//!   rules before it no longer count;
//! - a bit no rule decides is denied (or allowed, after an "a" allow).
//!
//! The generated program has runc's shape: load the context into R2-R5,
//! then one block per rule that jumps to the next block when the rule does
//! not match and otherwise returns, then the default.

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

use crate::cgroups::devices::DeviceRule;
use crate::sys::bpf;
pub use crate::sys::bpf::Insn;

/// The name husk gives its programs, by which a later `apply` (a `husk
/// update`) recognises the ones to replace. Programs others attached to the
/// cgroup are left alone.
pub const PROGRAM_NAME: &str = "husk_devices";
/// runc's choice: device programs call no GPL-only helper.
const LICENSE: &CStr = c"Apache";
/// Bytes of verifier log kept when a load fails.
const LOG_SIZE: usize = 256 * 1024;
/// Lines of that log kept in the error message (the reason is at the end).
const LOG_LINES: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum DeviceFilterError {
    #[error("device rule \"{rule}\" for cgroup {}: {reason}", path.display())]
    InvalidRule { path: PathBuf, rule: String, reason: String },
    #[error("open cgroup {}: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("load the device filter for cgroup {} (BPF_PROG_LOAD): {source}{}", path.display(), log_suffix(.log))]
    Load { path: PathBuf, source: Errno, log: String },
    #[error("{op} on cgroup {}: {source}", path.display())]
    Bpf { op: &'static str, path: PathBuf, source: Errno },
}

fn log_suffix(log: &str) -> String {
    if log.is_empty() { String::new() } else { format!("; verifier log:\n{log}") }
}

// struct bpf_cgroup_dev_ctx values (linux/bpf.h).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_RWM: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;
/// Stands in R3 for a request without any access bit (the kernel asks so for
/// an exec or access(X_OK) of a device node): every rule "mentions" it, so
/// the last rule naming the device decides, as in v1 and runc. The access
/// is 16 bits wide, so the kernel never sets this bit itself.
const ACC_NONE: i32 = 1 << 16;

// Registers.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

// Opcodes, from libc's linux/bpf_common.h constants where it has them.
const BPF_ALU: u8 = libc::BPF_ALU as u8;
const BPF_JMP: u8 = libc::BPF_JMP as u8;
const BPF_K: u8 = libc::BPF_K as u8;
const BPF_X: u8 = libc::BPF_X as u8;
/// linux/bpf.h additions to the classic opcodes.
const BPF_JNE: u8 = 0x50;
const BPF_MOV: u8 = 0xb0;
const BPF_EXIT: u8 = 0x90;

const LDX_MEM_W: u8 = (libc::BPF_LDX | libc::BPF_MEM | libc::BPF_W) as u8;
const AND32_K: u8 = BPF_ALU | libc::BPF_AND as u8 | BPF_K;
const RSH32_K: u8 = BPF_ALU | libc::BPF_RSH as u8 | BPF_K;
const XOR32_X: u8 = BPF_ALU | libc::BPF_XOR as u8 | BPF_X;
const MOV32_K: u8 = BPF_ALU | BPF_MOV | BPF_K;
const MOV32_X: u8 = BPF_ALU | BPF_MOV | BPF_X;
const JEQ_K: u8 = BPF_JMP | libc::BPF_JEQ as u8 | BPF_K;
const JNE_K: u8 = BPF_JMP | BPF_JNE | BPF_K;
const JNE_X: u8 = BPF_JMP | BPF_JNE | BPF_X;
const EXIT: u8 = BPF_JMP | BPF_EXIT;

fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    Insn::new(LDX_MEM_W, dst, src, off, 0)
}
fn alu_k(code: u8, dst: u8, imm: i32) -> Insn {
    Insn::new(code, dst, 0, 0, imm)
}
fn alu_x(code: u8, dst: u8, src: u8) -> Insn {
    Insn::new(code, dst, src, 0, 0)
}
fn exit() -> Insn {
    Insn::new(EXIT, 0, 0, 0, 0)
}

/// Builds the program for these rules (pure; unit-testable).
///
/// The rules are expected to be valid (as `apply` checks): an access letter
/// other than r, w, m is ignored, a type other than 'c', 'b', 'a' or a
/// number outside u32 makes a rule that matches nothing.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let reset = rules.iter().rposition(is_wildcard);
    let default_allow = reset.is_some_and(|i| rules[i].allow);
    let live = &rules[reset.map_or(0, |i| i + 1)..];

    let mut insns = vec![
        // R2 <- type (low 16 bits of access_type)
        ldx_w(R2, R1, 0),
        alu_k(AND32_K, R2, 0xffff),
        // R3 <- access (high 16 bits of access_type): the bits still
        // undecided
        ldx_w(R3, R1, 0),
        alu_k(RSH32_K, R3, 16),
        // R4 <- major, R5 <- minor
        ldx_w(R4, R1, 4),
        ldx_w(R5, R1, 8),
        // if (R3 == 0) R3 = ACC_NONE
        Insn::new(JNE_K, R3, 0, 1, 0),
        alu_k(MOV32_K, R3, ACC_NONE),
    ];
    for rule in live.iter().rev() {
        insns.extend(rule_block(rule));
    }
    // Nothing decided the remaining bits.
    insns.push(alu_k(MOV32_K, R0, default_allow as i32));
    insns.push(exit());
    insns
}

fn is_wildcard(rule: &DeviceRule) -> bool {
    matches!(rule.kind, None | Some('a'))
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// The block of one rule: falls through to its end (the next rule's block)
/// when the rule does not apply to the request, returns otherwise. Empty
/// for a rule that can match nothing.
fn rule_block(rule: &DeviceRule) -> Vec<Insn> {
    let kind = match rule.kind {
        Some('c') => DEV_CHAR,
        Some('b') => DEV_BLOCK,
        _ => return Vec::new(),
    };
    let access = access_bits(&rule.access);
    let number = |n: Option<i64>| n.map(u32::try_from).transpose();
    let (Ok(major), Ok(minor), true) = (number(rule.major), number(rule.minor), access != 0) else {
        return Vec::new();
    };

    // Jumps to the next block are emitted with off = 0 and patched at the
    // end, when the block's length is known.
    let mut block = Vec::new();
    let mut to_next = Vec::new();
    let mut goto_next = |block: &mut Vec<Insn>, jump: Insn| {
        to_next.push(block.len());
        block.push(jump);
    };
    // if (R2 != type) goto next
    goto_next(&mut block, Insn::new(JNE_K, R2, 0, 0, kind));
    for (reg, value) in [(R4, major), (R5, minor)] {
        match value {
            None => {}
            // if (R4 != major) goto next; the immediate is sign-extended to
            // 64 bits, exact only up to i32::MAX.
            Some(value) if value <= i32::MAX as u32 => goto_next(&mut block, Insn::new(JNE_K, reg, 0, 0, value as i32)),
            // Above that: R1 <- value (a 32-bit move zero-extends), then
            // compare registers.
            Some(value) => {
                block.push(alu_k(MOV32_K, R1, value as i32));
                goto_next(&mut block, Insn::new(JNE_X, reg, R1, 0, 0));
            }
        }
    }
    if access & ACC_RWM == ACC_RWM {
        // The rule speaks for every access bit: it decides the request.
        block.push(alu_k(MOV32_K, R0, rule.allow as i32));
        block.push(exit());
    } else {
        // R1 <- R3 & access: the undecided bits this rule decides.
        // if (R1 == 0) goto next
        block.push(alu_x(MOV32_X, R1, R3));
        block.push(alu_k(AND32_K, R1, access | ACC_NONE));
        goto_next(&mut block, Insn::new(JEQ_K, R1, 0, 0, 0));
        if rule.allow {
            // R3 &= ~R1 (R1 is a subset of R3); if (R3 != 0) goto next
            block.push(alu_x(XOR32_X, R3, R1));
            goto_next(&mut block, Insn::new(JNE_K, R3, 0, 0, 0));
            block.push(alu_k(MOV32_K, R0, 1));
        } else {
            // One of the bits asked for is denied.
            block.push(alu_k(MOV32_K, R0, 0));
        }
        block.push(exit());
    }
    let len = block.len();
    for at in to_next {
        block[at].off = (len - at - 1) as i16;
    }
    block
}

/// Rejects what v1 and runc reject, before touching the cgroup.
fn validate(cgroup_dir: &Path, rules: &[DeviceRule]) -> Result<(), DeviceFilterError> {
    for rule in rules {
        let invalid = |reason: String| DeviceFilterError::InvalidRule {
            path: cgroup_dir.to_path_buf(),
            rule: rule.v1_line(),
            reason,
        };
        if !matches!(rule.kind, None | Some('a' | 'c' | 'b')) {
            return Err(invalid(format!("unknown device type {:?}", rule.kind.unwrap_or_default())));
        }
        if let Some(c) = rule.access.chars().find(|c| !"rwm".contains(*c)) {
            return Err(invalid(format!("unknown device access {c:?}")));
        }
        for n in [rule.major, rule.minor].into_iter().flatten() {
            if u32::try_from(n).is_err() {
                return Err(invalid(format!("device number {n} out of range")));
            }
        }
    }
    Ok(())
}

/// Loads the program and attaches it to the cgroup2 directory `cgroup_dir`,
/// replacing any program husk attached before (atomically with
/// BPF_F_REPLACE where the kernel has it, else by attaching the new one with
/// BPF_F_ALLOW_MULTI and detaching the old ones: in between, both apply,
/// which is never looser than either), so that `husk update` can swap rules.
pub fn apply(cgroup_dir: &Path, rules: &[DeviceRule]) -> Result<(), DeviceFilterError> {
    validate(cgroup_dir, rules)?;
    let insns = program(rules);
    let dir = File::open(cgroup_dir).map_err(|source| DeviceFilterError::Open { path: cgroup_dir.to_path_buf(), source })?;
    let ours: Vec<Attached> = attached(dir.as_fd(), cgroup_dir)?
        .into_iter()
        .filter(|p| p.info.name == PROGRAM_NAME && p.info.prog_type == bpf::PROG_TYPE_CGROUP_DEVICE)
        .collect();
    let prog = load(&insns, PROGRAM_NAME, cgroup_dir)?;
    let error = |op| move |source| DeviceFilterError::Bpf { op, path: cgroup_dir.to_path_buf(), source };

    if let [old] = ours.as_slice() {
        let flags = bpf::F_ALLOW_MULTI | bpf::F_REPLACE;
        match bpf::prog_attach(dir.as_fd(), prog.as_fd(), bpf::ATTACH_CGROUP_DEVICE, flags, Some(old.fd.as_fd())) {
            Ok(()) => return Ok(()),
            // A kernel before 5.6, without BPF_F_REPLACE.
            Err(Errno::EINVAL) => {}
            Err(e) => return Err(error("BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI|BPF_F_REPLACE)")(e)),
        }
    }
    bpf::prog_attach(dir.as_fd(), prog.as_fd(), bpf::ATTACH_CGROUP_DEVICE, bpf::F_ALLOW_MULTI, None)
        .map_err(error("BPF_PROG_ATTACH (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)"))?;
    for old in &ours {
        match bpf::prog_detach(dir.as_fd(), old.fd.as_fd(), bpf::ATTACH_CGROUP_DEVICE) {
            // ENOENT: someone detached it already.
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(error("BPF_PROG_DETACH (BPF_CGROUP_DEVICE) of the old device filter")(e)),
        }
    }
    Ok(())
}

/// A program attached to a cgroup.
struct Attached {
    fd: OwnedFd,
    info: bpf::ProgramInfo,
}

/// The device programs attached to the cgroup itself, in order.
fn attached(dir: BorrowedFd<'_>, path: &Path) -> Result<Vec<Attached>, DeviceFilterError> {
    let error = |op| move |source| DeviceFilterError::Bpf { op, path: path.to_path_buf(), source };
    let ids = bpf::prog_query(dir, bpf::ATTACH_CGROUP_DEVICE).map_err(error("BPF_PROG_QUERY (BPF_CGROUP_DEVICE)"))?;
    let mut programs = Vec::new();
    for id in ids {
        let fd = match bpf::prog_get_fd_by_id(id) {
            Ok(fd) => fd,
            // Detached and freed since the query.
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(error("BPF_PROG_GET_FD_BY_ID of an attached device filter")(e)),
        };
        let info = bpf::prog_info(fd.as_fd()).map_err(error("BPF_OBJ_GET_INFO_BY_FD of an attached device filter"))?;
        programs.push(Attached { fd, info });
    }
    Ok(programs)
}

/// Loads a device program; on failure, loads it again with the verifier log
/// on, to put the log in the error.
fn load(insns: &[Insn], name: &str, path: &Path) -> Result<OwnedFd, DeviceFilterError> {
    let try_load = |log: Option<&mut [u8]>| bpf::prog_load(bpf::PROG_TYPE_CGROUP_DEVICE, insns, LICENSE, name, log);
    let source = match try_load(None) {
        Ok(fd) => return Ok(fd),
        // Kernels before 5.11 charge programs to RLIMIT_MEMLOCK.
        Err(Errno::EPERM) => match with_memlock_raised(|| try_load(None)) {
            Ok(fd) => return Ok(fd),
            Err(e) => e,
        },
        Err(e) => e,
    };
    let mut log = vec![0u8; LOG_SIZE];
    if let Ok(fd) = with_memlock_raised(|| try_load(Some(&mut log))) {
        return Ok(fd);
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut kept = lines[lines.len().saturating_sub(LOG_LINES)..].join("\n");
    if lines.len() > LOG_LINES {
        kept.insert_str(0, "...\n");
    }
    Err(DeviceFilterError::Load { path: path.to_path_buf(), source, log: kept })
}

/// Runs `f` with RLIMIT_MEMLOCK raised as far as allowed, as runc does before
/// loading, then restores the limit: the program keeps what it was charged,
/// and nothing husk forks later inherits the raised limit.
fn with_memlock_raised<T>(f: impl FnOnce() -> T) -> T {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_MEMLOCK) else {
        return f();
    };
    let infinity = nix::sys::resource::RLIM_INFINITY;
    let raised = setrlimit(Resource::RLIMIT_MEMLOCK, infinity, infinity).is_ok()
        || setrlimit(Resource::RLIMIT_MEMLOCK, hard, hard).is_ok();
    let result = f();
    if raised {
        let _ = setrlimit(Resource::RLIMIT_MEMLOCK, soft, hard);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, kind: Option<char>, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceRule {
        DeviceRule { allow, kind, major, minor, access: access.into() }
    }
    fn deny_all() -> DeviceRule {
        rule(false, None, None, None, "rwm")
    }
    fn allow_all() -> DeviceRule {
        rule(true, None, None, None, "rwm")
    }
    fn c(allow: bool, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceRule {
        rule(allow, Some('c'), major, minor, access)
    }

    const PRELUDE: usize = 8;
    const R: u32 = ACC_READ as u32;
    const W: u32 = ACC_WRITE as u32;
    const M: u32 = ACC_MKNOD as u32;
    const CHAR: u32 = DEV_CHAR as u32;
    const BLOCK: u32 = DEV_BLOCK as u32;

    /// Runs a program the way the kernel would, for the instructions
    /// `program` emits, checking on the way what the verifier checks
    /// (forward jumps in bounds, context reads only through R1 at entry).
    fn run(prog: &[Insn], kind: u32, major: u32, minor: u32, access: u32) -> bool {
        const CTX: u64 = 0xc7c7_0000_0000_0000;
        let ctx = [(access << 16) | kind, major, minor];
        let mut r = [0u64; 11];
        let mut set = [false; 11];
        r[1] = CTX;
        set[1] = true;
        let mut pc = 0;
        loop {
            let i = prog[pc];
            pc += 1;
            let (d, s) = (i.dst() as usize, i.src() as usize);
            let mut jump = |cond: bool| {
                assert!(i.off >= 0, "backward jump at {}", pc - 1);
                if cond {
                    pc += i.off as usize;
                }
                assert!(pc < prog.len(), "jump out of the program");
            };
            let imm = i.imm as i64 as u64;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(r[s], CTX, "load through a non-context register");
                    assert!(i.off >= 0 && i.off % 4 == 0 && i.off < 12);
                    r[d] = ctx[i.off as usize / 4] as u64;
                }
                AND32_K => r[d] = (r[d] as u32 & i.imm as u32) as u64,
                RSH32_K => r[d] = ((r[d] as u32) >> i.imm) as u64,
                XOR32_X => r[d] = (r[d] as u32 ^ r[s] as u32) as u64,
                MOV32_K => r[d] = i.imm as u32 as u64,
                MOV32_X => r[d] = r[s] as u32 as u64,
                JEQ_K => jump(r[d] == imm),
                JNE_K => jump(r[d] != imm),
                JNE_X => jump(r[d] != r[s]),
                EXIT => {
                    assert!(set[0], "R0 not set at exit");
                    assert!(r[0] <= 1);
                    return r[0] == 1;
                }
                code => panic!("unexpected opcode {code:#x}"),
            }
            if !matches!(i.code, JEQ_K | JNE_K | JNE_X) {
                assert!(set[s] || !matches!(i.code, MOV32_X | XOR32_X | LDX_MEM_W), "read of unset R{s}");
                set[d] = true;
            }
        }
    }

    /// The meaning of the rules, written plainly: each bit asked for is
    /// decided by the last rule naming the device and that bit (a request
    /// without bits, by the last rule naming the device); an 'a' rule
    /// decides everything before it.
    fn reference(rules: &[DeviceRule], kind: u32, major: u32, minor: u32, access: u32) -> bool {
        let bits: Vec<u32> = if access == 0 { vec![0] } else { [R, W, M].into_iter().filter(|b| access & b != 0).collect() };
        bits.into_iter().all(|bit| {
            for rule in rules.iter().rev() {
                if is_wildcard(rule) {
                    return rule.allow;
                }
                let rule_kind = if rule.kind == Some('c') { CHAR } else { BLOCK };
                let rule_bits = access_bits(&rule.access) as u32;
                let names_device = rule_kind == kind
                    && rule.major.is_none_or(|m| m == major as i64)
                    && rule.minor.is_none_or(|m| m == minor as i64);
                let names_bit = if bit == 0 { rule_bits != 0 } else { rule_bits & bit != 0 };
                if names_device && names_bit {
                    return rule.allow;
                }
            }
            false
        })
    }

    fn the_test_rules() -> Vec<DeviceRule> {
        vec![deny_all(), c(true, Some(1), Some(3), "rwm"), c(true, Some(1), Some(5), "r")]
    }

    #[test]
    fn insn_encoding() {
        let i = Insn::new(JNE_X, 4, 1, -2, 7);
        assert_eq!((i.dst(), i.src(), i.off, i.imm), (4, 1, -2, 7));
        assert_eq!(format!("{i:?}"), "Insn { code: 0x5d, dst: 4, src: 1, off: -2, imm: 7 }");
    }

    #[test]
    fn no_rules_deny_everything() {
        let prog = program(&[]);
        assert_eq!(prog.len(), PRELUDE + 2);
        assert_eq!(prog[PRELUDE..], [alu_k(MOV32_K, R0, 0), exit()]);
        assert!(!run(&prog, CHAR, 1, 3, R));
    }

    #[test]
    fn shape_of_deny_all_then_allows() {
        let prog = program(&the_test_rules());
        // The prelude, c 1:5 r (last rule first), c 1:3 rwm, the default.
        let partial_allow = 3 + 3 + 4;
        let full = 3 + 2;
        assert_eq!(prog.len(), PRELUDE + partial_allow + full + 2);
        let zero = &prog[PRELUDE..PRELUDE + partial_allow];
        assert_eq!(zero[0], Insn::new(JNE_K, R2, 0, 9, DEV_CHAR));
        assert_eq!(zero[1], Insn::new(JNE_K, R4, 0, 8, 1));
        assert_eq!(zero[2], Insn::new(JNE_K, R5, 0, 7, 5));
        assert_eq!(zero[4], alu_k(AND32_K, R1, ACC_READ | ACC_NONE));
        let null = &prog[PRELUDE + partial_allow..PRELUDE + partial_allow + full];
        assert_eq!(
            null,
            [
                Insn::new(JNE_K, R2, 0, 4, DEV_CHAR),
                Insn::new(JNE_K, R4, 0, 3, 1),
                Insn::new(JNE_K, R5, 0, 2, 3),
                alu_k(MOV32_K, R0, 1),
                exit(),
            ]
        );
        // Default deny.
        assert_eq!(prog[prog.len() - 2..], [alu_k(MOV32_K, R0, 0), exit()]);
    }

    #[test]
    fn the_test_rules_mean_what_they_say() {
        let prog = program(&the_test_rules());
        for access in [R, W, M, R | W, R | W | M, 0] {
            assert!(run(&prog, CHAR, 1, 3, access), "/dev/null {access}");
            assert!(!run(&prog, CHAR, 1, 7, access), "/dev/full {access}");
            assert!(!run(&prog, BLOCK, 1, 3, access), "block 1:3 {access}");
        }
        assert!(run(&prog, CHAR, 1, 5, R));
        assert!(run(&prog, CHAR, 1, 5, 0));
        for access in [W, M, R | W, R | M] {
            assert!(!run(&prog, CHAR, 1, 5, access), "/dev/zero {access}");
        }
    }

    #[test]
    fn partial_deny_catches_combined_requests() {
        // runc's `(access & ~rule_access) == 0` match would let an O_RDWR
        // open through a "deny w".
        let prog = program(&[allow_all(), c(false, Some(1), Some(5), "w")]);
        assert!(!run(&prog, CHAR, 1, 5, R | W));
        assert!(!run(&prog, CHAR, 1, 5, W));
        assert!(run(&prog, CHAR, 1, 5, R | M));
        assert!(run(&prog, CHAR, 1, 3, R | W));
        // The default is allow here.
        assert_eq!(prog[prog.len() - 2..], [alu_k(MOV32_K, R0, 1), exit()]);
    }

    #[test]
    fn last_match_wins() {
        let hole = program(&[deny_all(), c(true, Some(1), None, "rwm"), c(false, Some(1), Some(3), "rwm")]);
        assert!(!run(&hole, CHAR, 1, 3, R));
        assert!(run(&hole, CHAR, 1, 5, R | W));
        let covered = program(&[deny_all(), c(false, Some(1), Some(3), "rwm"), c(true, Some(1), None, "rwm")]);
        assert!(run(&covered, CHAR, 1, 3, R));
        // Bits add up across rules: r from one, w from another.
        let split = program(&[deny_all(), c(true, Some(1), Some(3), "r"), c(true, Some(1), None, "w")]);
        assert!(run(&split, CHAR, 1, 3, R | W));
        assert!(!run(&split, CHAR, 1, 3, R | W | M));
        assert!(!run(&split, CHAR, 1, 5, R | W));
        // A later allow of w undoes an earlier deny of w, not of r.
        let undo = program(&[allow_all(), c(false, Some(1), Some(3), "rw"), c(true, Some(1), Some(3), "w")]);
        assert!(run(&undo, CHAR, 1, 3, W | M));
        assert!(!run(&undo, CHAR, 1, 3, R | W));
    }

    #[test]
    fn type_a_resets() {
        let prog = program(&[c(true, Some(1), Some(3), "rwm"), rule(false, None, Some(1), Some(3), "r")]);
        assert_eq!(prog.len(), PRELUDE + 2, "rules before an 'a' rule do not count");
        assert!(!run(&prog, CHAR, 1, 3, R));
        let prog = program(&[deny_all(), rule(true, Some('a'), None, None, "m"), c(false, Some(1), Some(3), "rwm")]);
        assert!(run(&prog, CHAR, 1, 5, R | W), "an 'a' allow allows all access, whatever it says");
        assert!(run(&prog, BLOCK, 8, 0, R | W));
        assert!(!run(&prog, CHAR, 1, 3, R));
    }

    #[test]
    fn rules_that_match_nothing_are_left_out() {
        let prog = program(&[
            deny_all(),
            c(true, Some(1), Some(3), ""),
            c(true, Some(-1), None, "rwm"),
            rule(true, Some('p'), None, None, "rwm"),
        ]);
        assert_eq!(prog.len(), PRELUDE + 2);
    }

    #[test]
    fn numbers_above_i32_max() {
        let big = u32::MAX - 1;
        let prog = program(&[deny_all(), rule(true, Some('b'), Some(big as i64), Some(big as i64), "rwm")]);
        assert!(run(&prog, BLOCK, big, big, R | W));
        assert!(!run(&prog, BLOCK, big, 1, R | W));
        assert!(!run(&prog, BLOCK, 1, big, R | W));
        assert_eq!(prog.iter().filter(|i| i.code == JNE_X).count(), 2);
    }

    #[test]
    fn program_agrees_with_reference_on_random_rules() {
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let majors = [1u32, 5, 136];
        let minors = [3u32, 5, 7];
        let accesses = ["r", "w", "m", "rw", "rm", "wm", "rwm"];
        for _ in 0..2000 {
            let count = next(7) as usize;
            let rules: Vec<DeviceRule> = (0..count)
                .map(|_| {
                    let kind = match next(8) {
                        0 => None,
                        1..=3 => Some('b'),
                        _ => Some('c'),
                    };
                    let pick = |i: u64, list: &[u32]| list.get(i as usize).map(|&n| n as i64);
                    rule(next(2) == 0, kind, pick(next(4), &majors), pick(next(4), &minors), accesses[next(7) as usize])
                })
                .collect();
            let prog = program(&rules);
            for kind in [CHAR, BLOCK] {
                for &major in &majors {
                    for &minor in &minors {
                        for access in 0..8 {
                            assert_eq!(
                                run(&prog, kind, major, minor, access),
                                reference(&rules, kind, major, minor, access),
                                "rules {rules:?}, request type {kind} {major}:{minor} access {access}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn invalid_rules_are_rejected_before_touching_the_cgroup() {
        let path = Path::new("/nonexistent/husk-cgroup");
        let err = apply(path, &[c(true, Some(1), Some(3), "rx")]).unwrap_err();
        assert!(matches!(err, DeviceFilterError::InvalidRule { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/husk-cgroup") && err.to_string().contains("'x'"), "{err}");
        let err = apply(path, &[c(true, Some(1 << 32), None, "r")]).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = apply(path, &[c(true, Some(1), Some(3), "r")]).unwrap_err();
        assert!(matches!(err, DeviceFilterError::Open { .. }), "{err}");
    }

    /// Kernel tests: as root, against /sys/fs/cgroup/unified.
    mod kernel {
        use std::process::Command;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use super::*;

        const UNIFIED: &str = "/sys/fs/cgroup/unified";

        fn usable() -> bool {
            if !nix::unistd::geteuid().is_root() {
                eprintln!("skipped: the device filter kernel tests need root");
                return false;
            }
            match nix::sys::statfs::statfs(UNIFIED) {
                Ok(fs) if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => true,
                _ => {
                    eprintln!("skipped: {UNIFIED} is not a cgroup2 mount");
                    false
                }
            }
        }

        /// A fresh cgroup, killed and removed on drop.
        struct TestCgroup(PathBuf);

        impl TestCgroup {
            fn new() -> TestCgroup {
                static N: AtomicUsize = AtomicUsize::new(0);
                let n = N.fetch_add(1, Ordering::SeqCst);
                let path = PathBuf::from(format!("{UNIFIED}/husk-bpf-test-{}-{n}", std::process::id()));
                std::fs::create_dir(&path).unwrap();
                TestCgroup(path)
            }

            fn programs(&self) -> Vec<bpf::ProgramInfo> {
                let dir = File::open(&self.0).unwrap();
                attached(dir.as_fd(), &self.0).unwrap().into_iter().map(|p| p.info).collect()
            }

            fn husk_programs(&self) -> Vec<u32> {
                self.programs().into_iter().filter(|p| p.name == PROGRAM_NAME).map(|p| p.id).collect()
            }

            /// Runs `script` in a shell that first moves itself into the
            /// cgroup; returns its stdout lines.
            fn run(&self, script: &str) -> Vec<String> {
                let procs = self.0.join("cgroup.procs");
                let full = format!("echo $$ > {} || exit 99\n{script}", procs.display());
                let out = Command::new("sh").arg("-c").arg(full).output().unwrap();
                assert!(out.status.success(), "{out:?}");
                String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
            }
        }

        impl Drop for TestCgroup {
            fn drop(&mut self) {
                for _ in 0..200 {
                    // Only the test's own shells ever enter this cgroup.
                    if let Ok(procs) = std::fs::read_to_string(self.0.join("cgroup.procs")) {
                        for pid in procs.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                            let _ = crate::sys::kill_raw(pid, libc::SIGKILL);
                        }
                    }
                    if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                eprintln!("could not remove {}", self.0.display());
            }
        }

        /// One line per check: `name=ok` or `name=fail:<error>`.
        fn checks(tmp: &Path) -> String {
            let t = tmp.display();
            let mut script = String::from(
                "check() { name=$1; shift; if out=$(\"$@\" 2>&1); then echo \"$name=ok\"; else echo \"$name=fail:$out\"; fi; }\n",
            );
            for (name, cmd) in [
                ("null_r", "sh -c 'true < /dev/null'"),
                ("null_w", "sh -c 'true > /dev/null'"),
                ("null_rw", "sh -c 'true <> /dev/null'"),
                ("zero_r", "sh -c 'true < /dev/zero'"),
                ("zero_w", "sh -c 'true > /dev/zero'"),
                ("zero_rw", "sh -c 'true <> /dev/zero'"),
                ("full_r", "sh -c 'true < /dev/full'"),
            ] {
                script.push_str(&format!("check {name} {cmd}\n"));
            }
            script.push_str(&format!("check mknod_full mknod {t}/full c 1 7\n"));
            script.push_str(&format!("check mknod_null mknod {t}/null c 1 3\n"));
            script.push_str(&format!("rm -f {t}/full {t}/null\n"));
            script
        }

        fn outcomes(cgroup: &TestCgroup, tmp: &Path) -> std::collections::BTreeMap<String, String> {
            cgroup
                .run(&checks(tmp))
                .into_iter()
                .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect()
        }

        fn expect(got: &std::collections::BTreeMap<String, String>, name: &str, ok: bool) {
            let value = got.get(name).unwrap_or_else(|| panic!("no outcome for {name}: {got:?}"));
            if ok {
                assert_eq!(value, "ok", "{name} should work: {got:?}");
            } else {
                assert!(value.starts_with("fail:") && value.contains("Operation not permitted"), "{name} should fail with EPERM: {got:?}");
            }
        }

        /// A scratch directory for mknod, removed on drop.
        struct TmpDir(PathBuf);

        impl TmpDir {
            fn new() -> TmpDir {
                static N: AtomicUsize = AtomicUsize::new(0);
                let n = N.fetch_add(1, Ordering::SeqCst);
                let dir = std::env::temp_dir().join(format!("husk-bpf-test-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                TmpDir(dir)
            }
        }

        impl Drop for TmpDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }

        #[test]
        fn enforces_and_replaces() {
            if !usable() {
                return;
            }
            // Declared first, dropped last: the cgroup goes before the
            // scratch directory, on success or panic alike.
            let tmp = TmpDir::new();
            let tmp = &tmp.0;
            let cgroup = TestCgroup::new();
            // Someone else's program, which must survive our updates.
            let allow = [alu_k(MOV32_K, R0, 1), exit()];
            let other = load(&allow, "other_filter", &cgroup.0).unwrap();
            let dir = File::open(&cgroup.0).unwrap();
            bpf::prog_attach(dir.as_fd(), other.as_fd(), bpf::ATTACH_CGROUP_DEVICE, bpf::F_ALLOW_MULTI, None).unwrap();

            apply(&cgroup.0, &the_test_rules()).unwrap();
            let first = cgroup.husk_programs();
            assert_eq!(first.len(), 1, "{:?}", cgroup.programs());
            let got = outcomes(&cgroup, tmp);
            expect(&got, "null_r", true);
            expect(&got, "null_w", true);
            expect(&got, "null_rw", true);
            expect(&got, "zero_r", true);
            expect(&got, "zero_w", false);
            expect(&got, "zero_rw", false);
            expect(&got, "full_r", false);
            expect(&got, "mknod_full", false);
            expect(&got, "mknod_null", true);

            // `husk update`: /dev/zero fully, /dev/null read-only.
            apply(&cgroup.0, &[deny_all(), c(true, Some(1), Some(5), "rwm"), c(true, Some(1), Some(3), "r")]).unwrap();
            let second = cgroup.husk_programs();
            assert_eq!(second.len(), 1, "{:?}", cgroup.programs());
            assert_ne!(second, first, "the program was not replaced");
            let got = outcomes(&cgroup, tmp);
            expect(&got, "null_r", true);
            expect(&got, "null_w", false);
            expect(&got, "null_rw", false);
            expect(&got, "zero_w", true);
            expect(&got, "zero_rw", true);
            expect(&got, "full_r", false);
            expect(&got, "mknod_null", false);

            // Default allow with a partial deny: O_RDWR must not slip by.
            apply(&cgroup.0, &[allow_all(), c(false, Some(1), Some(5), "w")]).unwrap();
            let third = cgroup.husk_programs();
            assert_eq!(third.len(), 1, "{:?}", cgroup.programs());
            assert!(third != second && third != first);
            let got = outcomes(&cgroup, tmp);
            expect(&got, "zero_r", true);
            expect(&got, "zero_w", false);
            expect(&got, "zero_rw", false);
            expect(&got, "null_rw", true);
            expect(&got, "full_r", true);
            expect(&got, "mknod_full", true);

            let names: Vec<String> = cgroup.programs().into_iter().map(|p| p.name).collect();
            assert_eq!(names, ["other_filter", PROGRAM_NAME], "the other program must stay");

            // Two husk programs (as after an interrupted update): no single
            // one to replace, so attach, then detach both old ones.
            let stale = load(&allow, PROGRAM_NAME, &cgroup.0).unwrap();
            bpf::prog_attach(dir.as_fd(), stale.as_fd(), bpf::ATTACH_CGROUP_DEVICE, bpf::F_ALLOW_MULTI, None).unwrap();
            assert_eq!(cgroup.husk_programs().len(), 2);
            apply(&cgroup.0, &the_test_rules()).unwrap();
            let fourth = cgroup.husk_programs();
            assert_eq!(fourth.len(), 1, "{:?}", cgroup.programs());
            assert!(!third.contains(&fourth[0]));
            let names: Vec<String> = cgroup.programs().into_iter().map(|p| p.name).collect();
            assert_eq!(names, ["other_filter", PROGRAM_NAME]);
            let got = outcomes(&cgroup, tmp);
            expect(&got, "zero_r", true);
            expect(&got, "zero_w", false);
            expect(&got, "full_r", false);
        }

        #[test]
        fn verifier_log_in_error() {
            if !usable() {
                return;
            }
            // Returns without setting R0.
            let err = load(&[exit()], "husk_bad", Path::new("/some/cgroup")).unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, DeviceFilterError::Load { source: Errno::EACCES | Errno::EINVAL, .. }), "{message}");
            assert!(message.contains("/some/cgroup") && message.contains("BPF_PROG_LOAD"), "{message}");
            assert!(message.contains("verifier log") && message.contains("R0"), "{message}");
        }
    }
}
