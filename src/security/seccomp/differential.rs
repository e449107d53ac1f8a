//! husk's seccomp compiler against libseccomp 2.5, as runc 1.1 drives it.
//!
//! Random profiles (seeded) are compiled by husk and by libseccomp
//! (integration/testdata/libseccomp-bpf.py, Debian's python3-seccomp), and
//! both programs are run in a classic BPF interpreter written here (not the
//! one of tests.rs, whose opcode set is husk's own) over random
//! `seccomp_data`. The decision must be the same for every input, except
//! where husk documents that it follows runc rather than libseccomp:
//!
//! - runc's -ENOSYS stub (libcontainer/seccomp/patchbpf) is not
//!   libseccomp's: the expected decision is libseccomp's program with the
//!   stub's rule applied in front of it, modelled here from runc's source
//!   (per listed architecture, calls above the highest number the profile
//!   names there get ENOSYS, unless the default action lets calls through).
//! - Rules with different actions that all match one input: libseccomp
//!   orders them in its decision tree, husk in profile order (after an
//!   unconditional rule); both must pick a matching rule, husk its own.
//! - The stub's bound on i386, where a profile names socket or SysV IPC
//!   calls: runc takes libseccomp's number for them, which is the
//!   multiplexer's (socketcall 102, ipc 117), so that under runc a direct
//!   socket(2) (359) the profile allows fails with ENOSYS whenever nothing
//!   higher is named. husk's bound is the highest of the direct call and
//!   its multiplexer; the test applies husk's bound there.
//!
//! libseccomp 2.5.4 itself miscompiles some profiles (a lost `ld [0]` after
//! the arch check when x32 is listed; 64-bit ranges on an argument that two
//! rules compare). Where its program returns what no rule of the profile
//! (nor the default) gives, the rules evaluated here decide; such profiles
//! are counted, printed and bounded.
//!
//! This is a unit test, not an integration test, because the compiler is
//! private to the husk binary and is not reachable from an integration test
//! without a test-only command line; the heavy part is the interpreter.
//!
//! CI runs 500 profiles x 10,000 inputs. A longer run:
//! `HUSK_SECCOMP_PROFILES=20000 HUSK_SECCOMP_SEED=7 cargo test --release --bin husk seccomp::differential`
//! (HUSK_SECCOMP_INPUTS sets the inputs per profile; HUSK_SECCOMP_SHOW_REFUSED=1
//! prints the profiles libseccomp refuses, which runc would fail to load;
//! HUSK_SECCOMP_SHOW_DEFECTS=1 the first input of each profile libseccomp
//! miscompiles).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::*;

const HELPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/integration/testdata/libseccomp-bpf.py");
const PYTHON: &str = "/usr/bin/python3";
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
const ENOSYS: u32 = RET_ERRNO | libc::ENOSYS as u32;

/// i386's socketcall(2) and ipc(2).
const MULTIPLEXERS: [u32; 2] = [102, 117];

/// splitmix64: small, seedable, good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------
// A classic BPF interpreter for seccomp programs: the whole instruction set
// the kernel's seccomp checker admits (loads of seccomp_data words, scratch
// memory, ALU, jumps, ret), decoded once per program.

#[derive(Clone, Copy)]
enum Src {
    K(u32),
    X,
}

#[derive(Clone, Copy)]
enum Op {
    LdData(usize),
    LdImm(u32),
    LdMem(usize),
    LdxImm(u32),
    LdxMem(usize),
    LdLen,
    LdxLen,
    St(usize),
    Stx(usize),
    Alu(u16, Src),
    Neg,
    Ja(usize),
    Jmp(u16, Src, usize, usize),
    Ret(u32),
    RetA,
    Tax,
    Txa,
}

struct Program(Vec<Op>);

fn decode(raw: &[(u16, u8, u8, u32)]) -> Result<Program, String> {
    if raw.is_empty() || raw.len() > MAX_INSTRUCTIONS {
        return Err(format!("{} instructions", raw.len()));
    }
    let mut ops = Vec::with_capacity(raw.len());
    for (pc, &(code, jt, jf, k)) in raw.iter().enumerate() {
        let mem = || if k < 16 { Ok(k as usize) } else { Err(format!("{pc}: scratch slot {k}")) };
        let src = if code & 0x08 != 0 { Src::X } else { Src::K(k) };
        let target = |off: usize| {
            let t = pc + 1 + off;
            if t < raw.len() { Ok(t) } else { Err(format!("{pc}: jump to {t}, past the end")) }
        };
        let op = match code {
            0x20 if k % 4 == 0 && k < 64 => Op::LdData(k as usize / 4),
            0x00 => Op::LdImm(k),
            0x60 => Op::LdMem(mem()?),
            0x01 => Op::LdxImm(k),
            0x61 => Op::LdxMem(mem()?),
            0x80 => Op::LdLen,
            0x81 => Op::LdxLen,
            0x02 => Op::St(mem()?),
            0x03 => Op::Stx(mem()?),
            0x84 => Op::Neg,
            c if c & 0x07 == 0x04 && matches!(c & 0xf0, 0x00..=0x70 | 0x90 | 0xa0) => {
                if matches!(c & 0xf0, 0x30 | 0x90) && matches!(src, Src::K(0)) {
                    return Err(format!("{pc}: division by zero"));
                }
                Op::Alu(c & 0xf0, src)
            }
            0x05 => Op::Ja(target(k as usize)?),
            c if c & 0x07 == 0x05 && matches!(c & 0xf0, 0x10..=0x40) => {
                Op::Jmp(c & 0xf0, src, target(jt as usize)?, target(jf as usize)?)
            }
            0x06 => Op::Ret(k),
            0x16 => Op::RetA,
            0x07 => Op::Tax,
            0x87 => Op::Txa,
            _ => return Err(format!("{pc}: opcode {code:#x} k {k:#x}")),
        };
        ops.push(op);
    }
    match ops.last() {
        Some(Op::Ret(_) | Op::RetA) => Ok(Program(ops)),
        _ => Err("the program does not end in ret".into()),
    }
}

impl Program {
    fn run(&self, data: &[u32; 16]) -> u32 {
        let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
        let mut pc = 0;
        loop {
            pc = match self.0[pc] {
                Op::LdData(w) => {
                    a = data[w];
                    pc + 1
                }
                Op::LdImm(k) => {
                    a = k;
                    pc + 1
                }
                Op::LdMem(m) => {
                    a = mem[m];
                    pc + 1
                }
                Op::LdxImm(k) => {
                    x = k;
                    pc + 1
                }
                Op::LdxMem(m) => {
                    x = mem[m];
                    pc + 1
                }
                Op::LdLen => {
                    a = 64;
                    pc + 1
                }
                Op::LdxLen => {
                    x = 64;
                    pc + 1
                }
                Op::St(m) => {
                    mem[m] = a;
                    pc + 1
                }
                Op::Stx(m) => {
                    mem[m] = x;
                    pc + 1
                }
                Op::Neg => {
                    a = a.wrapping_neg();
                    pc + 1
                }
                Op::Alu(op, src) => {
                    let v = match src {
                        Src::K(k) => k,
                        Src::X => x,
                    };
                    a = match op {
                        0x00 => a.wrapping_add(v),
                        0x10 => a.wrapping_sub(v),
                        0x20 => a.wrapping_mul(v),
                        // The kernel returns 0 from a filter dividing by X = 0.
                        0x30 | 0x90 if v == 0 => return 0,
                        0x30 => a / v,
                        0x90 => a % v,
                        0x40 => a | v,
                        0x50 => a & v,
                        0x60 => a.checked_shl(v).unwrap_or(0),
                        0x70 => a.checked_shr(v).unwrap_or(0),
                        _ => a ^ v,
                    };
                    pc + 1
                }
                Op::Ja(t) => t,
                Op::Jmp(op, src, jt, jf) => {
                    let v = match src {
                        Src::K(k) => k,
                        Src::X => x,
                    };
                    let taken = match op {
                        0x10 => a == v,
                        0x20 => a > v,
                        0x30 => a >= v,
                        _ => a & v != 0,
                    };
                    if taken { jt } else { jf }
                }
                Op::Ret(k) => return k,
                Op::RetA => return a,
                Op::Tax => {
                    x = a;
                    pc + 1
                }
                Op::Txa => {
                    a = x;
                    pc + 1
                }
            };
        }
    }
}

fn seccomp_data(arch: u32, nr: u32, args: &[u64; 6]) -> [u32; 16] {
    let mut words = [0u32; 16];
    words[0] = nr;
    words[1] = arch;
    // instruction_pointer (words 2, 3) stays 0: no profile can name it.
    for (i, arg) in args.iter().enumerate() {
        let bytes = arg.to_ne_bytes();
        words[4 + 2 * i] = u32::from_ne_bytes(bytes[0..4].try_into().unwrap());
        words[5 + 2 * i] = u32::from_ne_bytes(bytes[4..8].try_into().unwrap());
    }
    words
}

#[test]
fn the_interpreter_runs_known_programs() {
    // ld [4]; jeq #0xc000003e, 0, 3; ld [16]; and #0xf0; jset #0x10, 1, 0;
    // ret ALLOW; ret ERRNO|A-bits via tax/txa.
    let raw = [
        (0x20, 0, 0, 4),
        (0x15, 0, 5, AUDIT_ARCH_X86_64),
        (0x20, 0, 0, 16),
        (0x54, 0, 0, 0xf0),
        (0x45, 1, 0, 0x10),
        (0x06, 0, 0, RET_ALLOW),
        (0x07, 0, 0, 0),
        (0x00, 0, 0, RET_ERRNO),
        (0x4c, 0, 0, 0), // A |= X
        (0x16, 0, 0, 0),
    ];
    let program = decode(&raw).unwrap();
    assert_eq!(program.run(&seccomp_data(AUDIT_ARCH_X86_64, 0, &[0x1f, 0, 0, 0, 0, 0])), RET_ERRNO | 0x10);
    assert_eq!(program.run(&seccomp_data(AUDIT_ARCH_X86_64, 0, &[0x2f, 0, 0, 0, 0, 0])), RET_ALLOW);
    assert_eq!(program.run(&seccomp_data(AUDIT_ARCH_I386, 0, &[0x1f, 0, 0, 0, 0, 0])), RET_ERRNO);
    assert!(decode(&[(0x15, 0, 3, 0), (0x06, 0, 0, 0)]).is_err(), "a jump past the end");
    assert!(decode(&[(0x20, 0, 0, 2), (0x06, 0, 0, 0)]).is_err(), "a misaligned load");
    assert!(decode(&[(0x20, 0, 0, 0)]).is_err(), "no ret at the end");
}

// ---------------------------------------------------------------------------
// libseccomp's side.

/// The call tables of libseccomp: ABI label ("x86_64", "x86", "x32") ->
/// name -> number.
type Tables = BTreeMap<String, BTreeMap<String, u32>>;

fn helper(arg: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(PYTHON)
        .arg(HELPER)
        .arg(arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{PYTHON} {HELPER}: {e} (the test needs python3 and python3-seccomp)"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "libseccomp-bpf.py {arg}: {}", String::from_utf8_lossy(&out.stderr));
    writer.join().unwrap().unwrap();
    out.stdout
}

fn libseccomp_tables() -> Tables {
    serde_json::from_slice(&helper("names", b"")).unwrap()
}

struct Libseccomp {
    program: Program,
    /// runc's findLastSyscalls: ABI label -> highest number named there.
    last: BTreeMap<String, u32>,
}

fn libseccomp_compile(profiles: &[Value]) -> Vec<Result<Libseccomp, String>> {
    let mut input = Vec::new();
    for p in profiles {
        serde_json::to_writer(&mut input, p).unwrap();
        input.push(b'\n');
    }
    let out = helper("compile", &input);
    let results: Vec<Result<Libseccomp, String>> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(e) = v["error"].as_str() {
                return Err(e.to_string());
            }
            let bytes: Vec<u8> = (0..v["bpf"].as_str().unwrap().len() / 2)
                .map(|i| u8::from_str_radix(&v["bpf"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let raw: Vec<(u16, u8, u8, u32)> = bytes
                .chunks(8)
                .map(|c| (u16::from_ne_bytes([c[0], c[1]]), c[2], c[3], u32::from_ne_bytes(c[4..8].try_into().unwrap())))
                .collect();
            let program = decode(&raw).unwrap_or_else(|e| panic!("libseccomp's program: {e}"));
            let last = serde_json::from_value(v["last"].clone()).unwrap();
            Ok(Libseccomp { program, last })
        })
        .collect();
    assert_eq!(results.len(), profiles.len(), "one answer per profile");
    results
}

// ---------------------------------------------------------------------------
// Profiles and inputs.

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_LOG",
    "SCMP_ACT_ALLOW",
];
const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];
const ARCHES: &[&str] = &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_NATIVE"];
const EDGES: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0xffff_ffff_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];

fn errno(rng: &mut Rng) -> Option<u32> {
    match rng.below(6) {
        0 => None,
        1 => Some(0),
        2 => Some(65535),
        3 => Some(libc::ENOSYS as u32),
        _ => Some(1 + rng.below(200) as u32),
    }
}

fn value(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => *rng.pick(EDGES),
        1 => rng.below(16) as u64,
        2 => rng.next() & 0xffff_ffff,
        _ => rng.next(),
    }
}

fn action(rng: &mut Rng, notify: bool) -> Value {
    let name = if notify && rng.chance(5) { "SCMP_ACT_NOTIFY" } else { *rng.pick(ACTIONS) };
    let mut a = json!({ "action": name });
    if matches!(name, "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE")
        && let Some(e) = errno(rng)
    {
        a["errnoRet"] = e.into();
    }
    a
}

fn profile(rng: &mut Rng, pool: &[&str]) -> Value {
    let default = action(rng, false);
    let mut p = json!({ "defaultAction": default["action"], "listenerPath": "/run/listener.sock" });
    if let Some(e) = default.get("errnoRet") {
        p["defaultErrnoRet"] = e.clone();
    }
    if !rng.chance(15) {
        let arches: Vec<&str> = (0..1 + rng.below(4)).map(|_| *rng.pick(ARCHES)).collect();
        p["architectures"] = json!(arches);
    }
    // A few hot names that several rules share, so that rules for one call
    // meet; notify rules stay off write and sendmsg (husk refuses those).
    let hot: Vec<&str> = (0..2 + rng.below(10)).map(|_| *rng.pick(pool)).collect();
    let rules: Vec<Value> = (0..rng.below(12))
        .map(|_| {
            let names: Vec<&str> = (0..1 + rng.below(4)).map(|_| *rng.pick(&hot)).collect();
            let notify = !names.iter().any(|n| matches!(*n, "write" | "sendmsg"));
            let mut rule = action(rng, notify);
            rule["names"] = json!(names);
            if !rng.chance(35) {
                let args: Vec<Value> = (0..1 + rng.below(6))
                    .map(|_| {
                        let op = *rng.pick(OPS);
                        let mut arg = json!({"index": rng.below(6), "op": op, "value": value(rng)});
                        if op == "SCMP_CMP_MASKED_EQ" || rng.chance(10) {
                            arg["valueTwo"] = value(rng).into();
                        }
                        arg
                    })
                    .collect();
                rule["args"] = json!(args);
            }
            rule
        })
        .collect();
    p["syscalls"] = json!(rules);
    p
}

/// Numbers and argument values worth trying for one profile.
struct Targets {
    /// Per ABI label, the numbers the profile names there.
    numbers: BTreeMap<&'static str, Vec<u32>>,
    values: Vec<u64>,
}

fn targets(p: &Value, tables: &Tables) -> Targets {
    let mut numbers: BTreeMap<&'static str, Vec<u32>> = BTreeMap::new();
    let mut values = EDGES.to_vec();
    for rule in p["syscalls"].as_array().unwrap() {
        for name in rule["names"].as_array().unwrap() {
            if let Some((mux, call)) = syscalls::i386_multiplexed(name.as_str().unwrap()) {
                numbers.entry("x86").or_default().push(mux);
                values.push(call);
            }
            for label in ["x86_64", "x86", "x32"] {
                if let Some(nr) = tables[label].get(name.as_str().unwrap()) {
                    numbers.entry(label).or_default().push(*nr);
                }
            }
        }
        for arg in rule["args"].as_array().into_iter().flatten() {
            let v = arg["value"].as_u64().unwrap();
            let two = arg["valueTwo"].as_u64().unwrap_or(0);
            values.extend([v, v.wrapping_add(1), v.wrapping_sub(1), two, two.wrapping_add(1), two | !v, two ^ 1]);
            values.extend([v & 0xffff_ffff, v | 0xffff_ffff_0000_0000, two & 0xffff_ffff]);
        }
    }
    Targets { numbers, values }
}

fn input(rng: &mut Rng, t: &Targets) -> (u32, u32, [u64; 6]) {
    let arch = match rng.below(20) {
        0..=10 => AUDIT_ARCH_X86_64,
        11..=16 => AUDIT_ARCH_I386,
        17 => AUDIT_ARCH_AARCH64,
        18 => AUDIT_ARCH_ARM,
        _ => rng.next() as u32,
    };
    let label = match arch {
        AUDIT_ARCH_I386 => "x86",
        _ if rng.chance(30) => "x32",
        _ => "x86_64",
    };
    let named = t.numbers.get(label).filter(|n| !n.is_empty());
    let nr = match (rng.below(10), named) {
        (0..=4, Some(n)) => *rng.pick(n),
        (5, Some(n)) => rng.pick(n).wrapping_add(rng.below(5) as u32).wrapping_sub(2),
        (6..=7, _) => rng.below(500) as u32 | if label == "x32" { X32_SYSCALL_BIT } else { 0 },
        (8, _) => *rng.pick(&[0, 0x3fff_ffff, 0x4000_0000, 0x4000_0200, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]),
        _ => rng.next() as u32,
    };
    let mut args = [0u64; 6];
    for arg in &mut args {
        *arg = match rng.below(10) {
            0..=5 => *rng.pick(&t.values),
            6 => rng.pick(&t.values) ^ (1 << rng.below(64)),
            7 => (rng.next() << 32) | (rng.pick(&t.values) & 0xffff_ffff),
            8 => *rng.pick(EDGES),
            _ => rng.next(),
        };
    }
    (arch, nr, args)
}

/// runc's -ENOSYS stub in front of libseccomp's program (patchbpf's
/// generateEnosysStub): which ABI section an input reaches, and whether it
/// is above the highest call of the profile there.
fn runc_stub(p: &Value, last: &BTreeMap<String, u32>, arch: u32, nr: u32) -> bool {
    let mut last = last.clone();
    if let Some(x86) = last.get_mut("x86") {
        // husk's bound (see the module's comment): the direct numbers count,
        // and the multiplexers'.
        *x86 = husk_i386_bound(p).unwrap_or(*x86);
    }
    let default = p["defaultAction"].as_str().unwrap();
    if matches!(default, "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" | "SCMP_ACT_TRACE")
        || p["defaultErrnoRet"].as_u64() == Some(libc::ENOSYS as u64)
    {
        return false;
    }
    let label = match arch {
        AUDIT_ARCH_I386 => "x86",
        AUDIT_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => "x32",
        AUDIT_ARCH_X86_64 => "x86_64",
        _ => return false,
    };
    // findLastSyscalls keeps an architecture only if its highest number is
    // not 0 (its "not found" value).
    last.get(label).is_some_and(|&max| max != 0 && nr > max)
}

/// The action value of an OCI action and errnoRet, as runc gives it to
/// libseccomp (written again here rather than taken from husk).
fn action_of(name: &str, errno: Option<u64>) -> u32 {
    let data = errno.unwrap_or(1) as u32;
    match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data,
        "SCMP_ACT_TRACE" => RET_TRACE | data,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_NOTIFY" => RET_USER_NOTIF,
        _ => RET_ALLOW,
    }
}

fn cond_holds(arg: &Value, args: &[u64; 6], narrow: bool) -> bool {
    let cut = |v: u64| if narrow { v & 0xffff_ffff } else { v };
    let a = cut(args[arg["index"].as_u64().unwrap() as usize]);
    let v = cut(arg["value"].as_u64().unwrap());
    let two = cut(arg["valueTwo"].as_u64().unwrap_or(0));
    match arg["op"].as_str().unwrap() {
        "SCMP_CMP_NE" => a != v,
        "SCMP_CMP_LT" => a < v,
        "SCMP_CMP_LE" => a <= v,
        "SCMP_CMP_EQ" => a == v,
        "SCMP_CMP_GE" => a >= v,
        "SCMP_CMP_GT" => a > v,
        _ => a & v == two & v,
    }
}

/// The rules of the profile that match a call, as runc translates them:
/// (unconditional, action), in profile order, rules with the default action
/// left out. None when the call's ABI is not in the filter.
fn matching_rules(p: &Value, tables: &Tables, arch: u32, nr: u32, args: &[u64; 6]) -> Option<Vec<(bool, u32)>> {
    let listed = |a: &str| p["architectures"].as_array().is_some_and(|l| l.iter().any(|x| x == a));
    let label = match arch {
        AUDIT_ARCH_I386 if listed("SCMP_ARCH_X86") => "x86",
        AUDIT_ARCH_X86_64 if nr >= X32_SYSCALL_BIT && listed("SCMP_ARCH_X32") => "x32",
        AUDIT_ARCH_X86_64 if nr < X32_SYSCALL_BIT => "x86_64",
        _ => return None,
    };
    let narrow = label != "x86_64";
    let default = action_of(p["defaultAction"].as_str().unwrap(), p["defaultErrnoRet"].as_u64());
    let mut matching = Vec::new();
    for rule in p["syscalls"].as_array().unwrap() {
        let action = action_of(rule["action"].as_str().unwrap(), rule["errnoRet"].as_u64());
        let names = rule["names"].as_array().unwrap();
        if action == default {
            continue;
        }
        let conds: &[Value] = rule["args"].as_array().map_or(&[], Vec::as_slice);
        // Through i386's multiplexer: its first argument is the call, and
        // the rule's own conditions on it do not apply.
        let through = names.iter().find_map(|n| match syscalls::i386_multiplexed(n.as_str().unwrap()) {
            Some((mux, call)) if label == "x86" && mux == nr => Some(call),
            _ => None,
        });
        if let Some(call) = through {
            let rest: Vec<&Value> = conds.iter().filter(|c| c["index"] != 0).collect();
            let holds = |c: &&Value| cond_holds(c, args, narrow);
            let split = {
                let mut i: Vec<u64> = conds.iter().map(|c| c["index"].as_u64().unwrap()).collect();
                i.sort();
                i.dedup();
                i.len() < conds.len()
            };
            // A split rule's alternative on the first argument alone
            // becomes the call test alone.
            let others = if split {
                rest.iter().any(holds) || rest.len() < conds.len()
            } else {
                rest.iter().all(holds)
            };
            if args[0] & 0xffff_ffff == call && others {
                matching.push((false, action));
            }
        }
        if !names.iter().any(|n| tables[label].get(n.as_str().unwrap()) == Some(&nr)) {
            continue;
        }
        let mut indexes: Vec<u64> = conds.iter().map(|c| c["index"].as_u64().unwrap()).collect();
        indexes.sort();
        indexes.dedup();
        let holds = if indexes.len() < conds.len() {
            conds.iter().any(|c| cond_holds(c, args, narrow))
        } else {
            conds.iter().all(|c| cond_holds(c, args, narrow))
        };
        if holds {
            matching.push((conds.is_empty(), action));
        }
    }
    Some(matching)
}

/// husk's documented precedence: an unconditional rule first, then the
/// conditional rules in profile order, then the default action.
fn husk_precedence(matching: &[(bool, u32)]) -> Option<u32> {
    matching.iter().find(|(always, _)| *always).or(matching.first()).map(|(_, action)| *action)
}

/// The highest i386 number of the profile's names, counting a multiplexed
/// call's direct number and its multiplexer's; None when it names none.
fn husk_i386_bound(p: &Value) -> Option<u32> {
    let names = p["syscalls"].as_array().unwrap().iter().flat_map(|r| r["names"].as_array().unwrap());
    let names: Vec<&str> = names.map(|n| n.as_str().unwrap()).collect();
    if !names.iter().any(|n| syscalls::i386_multiplexed(n).is_some()) {
        return None;
    }
    names
        .iter()
        .flat_map(|n| [lookup(syscalls::I386, n), syscalls::i386_multiplexed(n).map(|(mux, _)| mux)])
        .flatten()
        .max()
}

// ---------------------------------------------------------------------------
// The test.

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Names to build profiles from: those libseccomp knows on x86_64, i386 or
/// x32 and husk knows too (a name only husk knows is newer than
/// libseccomp 2.5, and runc would skip it), without the multiplexed ones.
fn pool(tables: &Tables) -> Vec<&str> {
    let mut names: Vec<&str> = tables.values().flat_map(|t| t.keys().map(String::as_str)).collect();
    names.sort();
    names.dedup();
    // Where husk's table has a call libseccomp's lacks (newer than 2.5.4:
    // map_shadow_stack on x32, say), runc would skip it there and the stub's
    // bound would move: a difference of tables, not of compilers.
    let abis = [("x86_64", Abi::X86_64), ("x86", Abi::I386), ("x32", Abi::X32)];
    names.retain(|n| {
        known_anywhere(n)
            && abis.iter().all(|(label, abi)| lookup(abi.table(), n).is_none() || tables[*label].contains_key(*n))
    });
    names
}

#[test]
fn husk_and_libseccomp_agree_on_call_numbers() {
    let tables = libseccomp_tables();
    let mut missing = Vec::new();
    for (label, abi) in [("x86_64", Abi::X86_64), ("x86", Abi::I386), ("x32", Abi::X32)] {
        assert!(tables[label].len() > 300, "libseccomp's {label} table");
        for (name, nr) in &tables[label] {
            match lookup(abi.table(), name) {
                Some(ours) => assert_eq!(ours, *nr, "{label} {name}: husk {ours}, libseccomp {nr}"),
                None => missing.push(format!("{label} {name}")),
            }
        }
    }
    assert!(missing.is_empty(), "calls libseccomp knows and husk does not: {missing:?}");
}

#[test]
fn husk_and_libseccomp_decide_alike_on_random_profiles() {
    let seed = env_number("HUSK_SECCOMP_SEED", 18) as u64;
    let profiles = env_number("HUSK_SECCOMP_PROFILES", 500);
    let inputs = env_number("HUSK_SECCOMP_INPUTS", 10_000);
    let started = std::time::Instant::now();
    let tables = libseccomp_tables();
    let pool = pool(&tables);
    let mut rng = Rng(seed);
    let generated: Vec<Value> = (0..profiles).map(|_| profile(&mut rng, &pool)).collect();
    let theirs = libseccomp_compile(&generated);

    let (mut compared, mut stubbed, mut reordered, mut refused, mut runs) = (0, 0, 0, Vec::new(), 0u64);
    let (mut defects, mut defect_inputs, mut multiplexed) = (Vec::new(), 0, 0);
    for (i, (p, theirs)) in generated.iter().zip(theirs).enumerate() {
        let context = || format!("profile {i} (seed {seed}): {p}");
        let parsed: LinuxSeccomp = serde_json::from_value(p.clone()).unwrap_or_else(|e| panic!("{e}: {}", context()));
        let ours = compile(&parsed, &mut Vec::new());
        let theirs = match theirs {
            Ok(t) => t,
            Err(e) => {
                if std::env::var_os("HUSK_SECCOMP_SHOW_REFUSED").is_some() {
                    eprintln!("libseccomp refuses profile {i}: {e}: {p}");
                }
                refused.push(e);
                continue;
            }
        };
        let ours = ours.unwrap_or_else(|e| panic!("husk refuses what libseccomp takes: {e}: {}", context()));
        let raw: Vec<(u16, u8, u8, u32)> = ours.program.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        let ours = decode(&raw).unwrap_or_else(|e| panic!("husk's program: {e}: {}", context()));
        compared += 1;
        let t = targets(p, &tables);
        let default = action_of(p["defaultAction"].as_str().unwrap(), p["defaultErrnoRet"].as_u64());
        for _ in 0..inputs {
            let (arch, nr, args) = input(&mut rng, &t);
            let data = seccomp_data(arch, nr, &args);
            let (h, l) = (ours.run(&data), theirs.program.run(&data));
            runs += 1;
            if arch == AUDIT_ARCH_I386 && MULTIPLEXERS.contains(&nr) && h != default {
                multiplexed += 1;
            }
            let expected = if runc_stub(p, &theirs.last, arch, nr) {
                // Deliberate: runc's stub, not libseccomp, decides here.
                stubbed += 1;
                ENOSYS
            } else if h == l {
                l
            } else {
                // The profile's rules, evaluated here as runc hands them to
                // libseccomp, arbitrate.
                let matching = matching_rules(p, &tables, arch, nr, &args);
                let actions: std::collections::BTreeSet<u32> = matching.iter().flatten().map(|(_, a)| *a).collect();
                let documented = matching.as_deref().map(|m| husk_precedence(m).unwrap_or(default));
                if actions.len() >= 2 && actions.contains(&l) {
                    // Known difference: rules with different actions that
                    // all match. libseccomp orders them in its decision tree
                    // (by argument, not profile order, and refuses some
                    // overlaps outright); husk documents its own order. Both
                    // pick a matching rule; husk's must be the documented one.
                    reordered += 1;
                    documented.unwrap()
                } else if documented.is_some()
                    && !(actions.contains(&l) || actions.is_empty() && l == default)
                    // Never on a multiplexer: there the rules are husk's
                    // reading, which libseccomp must confirm.
                    && !(arch == AUDIT_ARCH_I386 && MULTIPLEXERS.contains(&nr))
                {
                    // libseccomp's program returns what no rule of the profile
                    // gives for this input (nor the default): 2.5.4
                    // miscompiles some profiles (a lost `ld [0]` after the
                    // arch check when x32 is listed; 64-bit ranges on an
                    // argument two rules both compare). Counted and bounded.
                    defect_inputs += 1;
                    if defects.last() != Some(&i) {
                        defects.push(i);
                        if std::env::var_os("HUSK_SECCOMP_SHOW_DEFECTS").is_some() {
                            eprintln!("libseccomp wrong: arch {arch:#x} nr {nr:#x} args {args:x?}: {l:#x}, husk {h:#x}: {p}");
                        }
                    }
                    documented.unwrap()
                } else {
                    l
                }
            };
            assert_eq!(
                h,
                expected,
                "arch {arch:#x} nr {nr:#x} args {args:x?}: husk {h:#x}, libseccomp{} {l:#x}\n{}",
                if expected != l { " + runc's stub" } else { "" },
                context()
            );
        }
    }
    eprintln!(
        "{compared} profiles x {inputs} inputs agree ({runs} runs, {stubbed} decided by the ENOSYS stub, \
         {reordered} by husk's rule order, {multiplexed} ruled on i386's socketcall or ipc) in {:.1?}; libseccomp's program was wrong for {} inputs of {} profiles (the first: {:?}); \
         libseccomp refused {} profiles: {:?}",
        started.elapsed(),
        defect_inputs,
        defects.len(),
        &defects[..defects.len().min(5)],
        refused.len(),
        refused.iter().take(3).collect::<Vec<_>>()
    );
    // The comparison must cover most profiles, and exercise the stub.
    assert!(compared * 10 >= profiles * 7, "only {compared} of {profiles} profiles compared");
    assert!(stubbed > 0 && multiplexed > 0 || profiles < 50);
    assert!(defects.len() * 10 <= compared, "libseccomp wrong on {} of {compared} profiles: suspect the model", defects.len());
}
