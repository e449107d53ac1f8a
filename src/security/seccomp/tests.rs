//! The BPF generation, checked by running the programs in a small classic
//! BPF interpreter over hand-made `seccomp_data`.

use super::*;
use serde_json::{Value, json};

/// Runs a program the way the kernel would, after checking that it is
/// well formed (every jump forward and in range, ends in `ret`).
fn run(program: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_ne_bytes());
    data[4..8].copy_from_slice(&arch.to_ne_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_ne_bytes());
    }
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let insn = program[pc];
        let k = insn.k;
        pc += 1;
        let taken = |t: bool| if t { insn.jt as usize } else { insn.jf as usize };
        match insn.code {
            LD_W_ABS => {
                let at = k as usize;
                a = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
            }
            ALU_AND_K => a &= k,
            JA => pc += k as usize,
            JEQ => pc += taken(a == k),
            JGT => pc += taken(a > k),
            JGE => pc += taken(a >= k),
            JSET => pc += taken(a & k != 0),
            RET_K => return k,
            other => panic!("unexpected opcode {other:#x}"),
        }
        assert!(pc < program.len(), "jump out of the program");
    }
}

fn well_formed(program: &[Insn]) {
    assert!(program.len() <= MAX_INSTRUCTIONS);
    assert_eq!(program.last().unwrap().code, RET_K);
    for (pc, insn) in program.iter().enumerate() {
        let targets: Vec<usize> = match insn.code {
            JA => vec![pc + 1 + insn.k as usize],
            JEQ | JGT | JGE | JSET => vec![pc + 1 + insn.jt as usize, pc + 1 + insn.jf as usize],
            _ => vec![],
        };
        for target in targets {
            assert!(target < program.len(), "instruction {pc} jumps to {target}, past the end");
        }
    }
}

fn profile(value: Value) -> LinuxSeccomp {
    serde_json::from_value(value).expect("a valid profile")
}

fn compiled(value: Value) -> Filter {
    let mut warnings = Vec::new();
    let filter = compile(&profile(value), &mut warnings).expect("compiles");
    assert!(warnings.is_empty(), "{warnings:?}");
    well_formed(&filter.program);
    filter
}

fn error(value: Value) -> String {
    compile(&profile(value), &mut Vec::new()).unwrap_err().to_string()
}

const EPERM: u32 = RET_ERRNO | 1;
const ENOSYS: u32 = RET_ERRNO | 38;

fn nr(abi: Abi, name: &str) -> u32 {
    lookup(abi.table(), name).unwrap_or_else(|| panic!("{name} on {abi:?}"))
}

fn x86_64(filter: &Filter, name: &str, args: [u64; 6]) -> u32 {
    run(&filter.program, AUDIT_ARCH_X86_64, nr(Abi::X86_64, name), args)
}

#[test]
fn tables_are_sorted_and_match_libc_on_this_host() {
    for table in [syscalls::X86_64, syscalls::I386, syscalls::X32, syscalls::AARCH64] {
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0), "a table is out of order");
    }
    assert!(syscalls::OTHER_ARCHITECTURES.windows(2).all(|w| w[0] < w[1]));
    let native = Abi::native().expect("a table for this machine").table();
    let mut expected = vec![
        ("read", libc::SYS_read),
        ("personality", libc::SYS_personality),
        ("clone3", libc::SYS_clone3),
        ("openat2", libc::SYS_openat2),
        ("mount_setattr", libc::SYS_mount_setattr),
        ("seccomp", libc::SYS_seccomp),
        ("execve", libc::SYS_execve),
        ("unshare", libc::SYS_unshare),
        ("fchmodat2", 452),
        ("mseal", 462),
    ];
    #[cfg(target_arch = "x86_64")]
    expected.extend([("mkdir", libc::SYS_mkdir), ("arch_prctl", libc::SYS_arch_prctl)]);
    for (name, number) in expected {
        assert_eq!(lookup(native, name), Some(number as u32), "{name}");
    }
}

#[test]
fn errno_rule_and_default_allow() {
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    }));
    assert_eq!(x86_64(&filter, "mkdir", [0; 6]), EPERM);
    assert_eq!(x86_64(&filter, "mkdirat", [0; 6]), EPERM);
    assert_eq!(x86_64(&filter, "rmdir", [0; 6]), RET_ALLOW);
    assert_eq!(x86_64(&filter, "read", [0; 6]), RET_ALLOW);
    // No stub with a permissive default: an unknown number is allowed.
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 1000, [0; 6]), RET_ALLOW);
    assert!(filter.listener.is_none());
    assert_eq!(filter.flags, 0);
}

#[test]
fn every_action_and_its_errno() {
    let actions = [
        ("SCMP_ACT_KILL", None, RET_KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", None, RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", None, RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", None, RET_TRAP),
        ("SCMP_ACT_ERRNO", None, RET_ERRNO | 1),
        ("SCMP_ACT_ERRNO", Some(13), RET_ERRNO | 13),
        ("SCMP_ACT_ERRNO", Some(0), RET_ERRNO),
        ("SCMP_ACT_TRACE", None, RET_TRACE | 1),
        ("SCMP_ACT_TRACE", Some(7), RET_TRACE | 7),
        ("SCMP_ACT_LOG", None, RET_LOG),
        ("SCMP_ACT_ALLOW", None, RET_ALLOW),
    ];
    for (action, errno, expected) in actions {
        let mut rule = json!({"names": ["getppid"], "action": action});
        if let Some(errno) = errno {
            rule["errnoRet"] = errno.into();
        }
        let filter = compiled(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 22, "syscalls": [rule]}));
        let got = x86_64(&filter, "getppid", [0; 6]);
        // A rule with the default action is dropped, leaving the default.
        if expected == RET_ERRNO | 22 {
            continue;
        }
        assert_eq!(got, expected, "{action} {errno:?}");
        assert_eq!(x86_64(&filter, "getpid", [0; 6]), RET_ERRNO | 22, "default errno");
    }
    let filter = compiled(json!({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}], "listenerPath": "/run/agent.sock"}));
    assert_eq!(x86_64(&filter, "getppid", [0; 6]), RET_USER_NOTIF);
    assert_eq!(x86_64(&filter, "getpid", [0; 6]), RET_KILL_PROCESS);
}

/// The reference semantics of a condition on a 64-bit (or, narrow, a
/// 32-bit) argument.
fn holds(op: Op, arg: u64, value: u64, value_two: u64, narrow: bool) -> bool {
    let (arg, value, value_two) = if narrow {
        (arg as u32 as u64, value as u32 as u64, value_two as u32 as u64)
    } else {
        (arg, value, value_two)
    };
    match op {
        Op::Ne => arg != value,
        Op::Lt => arg < value,
        Op::Le => arg <= value,
        Op::Eq => arg == value,
        Op::Ge => arg >= value,
        Op::Gt => arg > value,
        Op::MaskedEq => arg & value == value_two,
    }
}

#[test]
fn comparisons_of_64_bit_arguments_match_the_reference() {
    let edges: [u64; 12] = [
        0,
        1,
        42,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0001,
        0x1_ffff_ffff,
        0x8000_0000_0000_0000,
        0xffff_ffff_0000_0000,
        u64::MAX,
    ];
    let ops = [
        ("SCMP_CMP_NE", Op::Ne),
        ("SCMP_CMP_LT", Op::Lt),
        ("SCMP_CMP_LE", Op::Le),
        ("SCMP_CMP_EQ", Op::Eq),
        ("SCMP_CMP_GE", Op::Ge),
        ("SCMP_CMP_GT", Op::Gt),
        ("SCMP_CMP_MASKED_EQ", Op::MaskedEq),
    ];
    let mut checked = 0;
    for (name, op) in ops {
        for value in edges {
            let value_two = if op == Op::MaskedEq { value & 0x1_0000_0001 } else { 0 };
            let filter = compiled(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
                    "args": [{"index": 3, "value": value, "valueTwo": value_two, "op": name}]}]
            }));
            for arg in edges {
                let args = [0, 0, 0, arg, 0, 0];
                for (audit, abi) in [(AUDIT_ARCH_X86_64, Abi::X86_64), (AUDIT_ARCH_I386, Abi::I386)] {
                    let got = run(&filter.program, audit, nr(abi, "getppid"), args);
                    let want = if holds(op, arg, value, value_two, abi.narrow()) { RET_ERRNO | 5 } else { RET_ALLOW };
                    assert_eq!(got, want, "{abi:?}: {arg:#x} {name} {value:#x} ({value_two:#x})");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 7 * 12 * 12 * 2);
}

#[test]
fn conditions_and_rules_combine() {
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            // ANDed: arg0 == 1 and arg1 > 10.
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 10, "op": "SCMP_CMP_GT"}]},
            // A second rule for the same call: ORed.
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
            // The same argument twice: one rule per condition (runc).
            {"names": ["tkill"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 3, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]},
            // Different actions: the first matching rule decides.
            {"names": ["tgkill"], "action": "SCMP_ACT_TRAP", "args": [{"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
            {"names": ["tgkill"], "action": "SCMP_ACT_LOG", "args": [{"index": 2, "value": 5, "op": "SCMP_CMP_GE"}]}
        ]
    }));
    assert_eq!(x86_64(&filter, "kill", [1, 11, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x86_64(&filter, "kill", [1, 10, 0, 0, 0, 0]), EPERM);
    assert_eq!(x86_64(&filter, "kill", [2, 11, 0, 0, 0, 0]), EPERM);
    assert_eq!(x86_64(&filter, "kill", [7, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x86_64(&filter, "tkill", [3, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x86_64(&filter, "tkill", [4, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x86_64(&filter, "tkill", [5, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(x86_64(&filter, "tgkill", [0, 0, 9, 0, 0, 0]), RET_TRAP);
    assert_eq!(x86_64(&filter, "tgkill", [0, 0, 6, 0, 0, 0]), RET_LOG);
    assert_eq!(x86_64(&filter, "tgkill", [0, 0, 4, 0, 0, 0]), EPERM);
}

#[test]
fn unconditional_rules_win_and_default_rules_are_dropped() {
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getpid"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
        ]
    }));
    // The ERRNO rule is the default action: dropped, as runc does.
    assert_eq!(x86_64(&filter, "personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x86_64(&filter, "personality", [9, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(x86_64(&filter, "getpid", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn architectures() {
    let denies_mkdir = |arches: Value| {
        compiled(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": arches,
            "syscalls": [{"names": ["mkdir", "getpid"], "action": "SCMP_ACT_ERRNO"}]
        }))
    };
    // Native only: i386 calls are a bad architecture, and so are x32 ones.
    let filter = denies_mkdir(json!([]));
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 83, [0; 6]), EPERM);
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 39, [0; 6]), RET_BAD_ARCH);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 83, [0; 6]), RET_BAD_ARCH);
    // -1, a tracer's "skip this call", is x86_64's (libseccomp's order).
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, u32::MAX, [0; 6]), RET_ALLOW);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 0x8000_0000, [0; 6]), RET_BAD_ARCH);
    assert_eq!(run(&filter.program, AUDIT_ARCH_AARCH64, 34, [0; 6]), RET_BAD_ARCH);
    // i386 uses its own numbers: mkdir is 39 there (getpid on x86_64).
    let filter = denies_mkdir(json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 39, [0; 6]), EPERM);
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 20, [0; 6]), EPERM, "getpid on i386");
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 40, [0; 6]), RET_ALLOW, "rmdir on i386");
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 83, [0; 6]), RET_BAD_ARCH);
    // x32 listed: its calls are matched against x32 numbers.
    let filter = denies_mkdir(json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]));
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 83, [0; 6]), EPERM);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 84, [0; 6]), RET_ALLOW);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 83, [0; 6]), EPERM);
    // aarch64 listed: its numbers (mkdirat is 34 there, no mkdir).
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert_eq!(run(&filter.program, AUDIT_ARCH_AARCH64, 34, [0; 6]), EPERM);
    assert_eq!(run(&filter.program, AUDIT_ARCH_AARCH64, 35, [0; 6]), RET_ALLOW);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 258, [0; 6]), EPERM, "the native arch is always there");
}

#[test]
fn newer_calls_get_enosys_like_runc() {
    let profile = |default: &str, arches: Value| {
        compiled(json!({
            "defaultAction": default,
            "architectures": arches,
            "syscalls": [{"names": ["read", "write", "mkdir", "getpid"], "action": "SCMP_ACT_ALLOW"}]
        }))
    };
    let filter = profile("SCMP_ACT_ERRNO", json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
    assert_eq!(x86_64(&filter, "getpid", [0; 6]), RET_ALLOW);
    // Below the highest named (mkdir, 83): the default action.
    assert_eq!(x86_64(&filter, "chdir", [0; 6]), EPERM);
    assert_eq!(x86_64(&filter, "chroot", [0; 6]), ENOSYS);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 1000, [0; 6]), ENOSYS);
    // i386: the highest named there is mkdir (39) too.
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 40, [0; 6]), ENOSYS);
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 10, [0; 6]), EPERM);
    // Killing defaults get the stub too; permissive ones do not.
    let filter = profile("SCMP_ACT_KILL_PROCESS", json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(x86_64(&filter, "chroot", [0; 6]), ENOSYS);
    assert_eq!(x86_64(&filter, "chdir", [0; 6]), RET_KILL_PROCESS);
    for permissive in ["SCMP_ACT_LOG", "SCMP_ACT_TRACE"] {
        let filter = profile(permissive, json!(["SCMP_ARCH_X86_64"]));
        assert_ne!(x86_64(&filter, "chroot", [0; 6]), ENOSYS, "{permissive}");
    }
    // Without architectures, runc adds no stub.
    let filter = profile("SCMP_ACT_ERRNO", json!([]));
    assert_eq!(x86_64(&filter, "chroot", [0; 6]), EPERM);
    let filter = profile("SCMP_ACT_ERRNO", json!(["SCMP_ARCH_NATIVE"]));
    assert_eq!(x86_64(&filter, "chroot", [0; 6]), ENOSYS);
}

#[test]
fn unknown_names_warn_and_other_architectures_do_not() {
    let mut warnings = Vec::new();
    let filter = compile(
        &profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir", "no_such_call", "arm_fadvise64_64", "socketcall"], "action": "SCMP_ACT_ERRNO"}
            ]
        })),
        &mut warnings,
    )
    .unwrap();
    assert_eq!(warnings, ["linux.seccomp.syscalls[1].names[1]: unknown system call \"no_such_call\", ignored"]);
    assert_eq!(x86_64(&filter, "mkdir", [0; 6]), EPERM);
}

#[test]
fn long_bodies_and_long_runs_use_far_jumps() {
    // 600 calls allowed outright (three runs of jeq), and one call with 60
    // rules, whose body is longer than a conditional jump reaches.
    let names: Vec<&str> = syscalls::X86_64.iter().map(|(n, _)| *n).filter(|n| *n != "getppid").collect();
    let rules: Vec<Value> = (0..60)
        .map(|i| json!({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100 + i,
            "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": i, "op": "SCMP_CMP_GE"}]}))
        .collect();
    let mut syscalls = vec![json!({"names": names, "action": "SCMP_ACT_ALLOW"})];
    syscalls.extend(rules);
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls
    }));
    assert!(filter.program.iter().any(|i| i.code == JA), "a far jump is used");
    assert_eq!(x86_64(&filter, "getppid", [59, 60, 0, 0, 0, 0]), RET_ERRNO | 159);
    assert_eq!(x86_64(&filter, "getppid", [0, 0, 0, 0, 0, 0]), RET_ERRNO | 100);
    assert_eq!(x86_64(&filter, "getppid", [59, 58, 0, 0, 0, 0]), RET_KILL_PROCESS);
    for (name, number) in syscalls::X86_64 {
        if *name != "getppid" {
            assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, *number, [0; 6]), RET_ALLOW, "{name}");
        }
    }
    for (name, number) in syscalls::X32 {
        if *name != "getppid" && lookup(syscalls::X86_64, name).is_some() {
            assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, *number, [0; 6]), RET_ALLOW, "x32 {name}");
        }
    }
}

#[test]
fn flags_and_listener() {
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath": "/run/agent.sock",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }));
    // No notify action: no listener, and WAIT_KILLABLE_RECV means nothing.
    assert_eq!(filter.flags, FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW);
    assert!(filter.listener.is_none());
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "listenerPath": "/run/agent.sock",
        "listenerMetadata": "hello",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert_eq!(
        filter.flags,
        FLAG_TSYNC | FLAG_TSYNC_ESRCH | FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV
    );
    let listener = filter.listener().expect("a listener");
    assert_eq!(listener.path, PathBuf::from("/run/agent.sock"));
    assert_eq!(listener.metadata.as_deref(), Some("hello"));
    assert_eq!(
        describe_flags(filter.flags),
        "SECCOMP_FILTER_FLAG_TSYNC|SECCOMP_FILTER_FLAG_NEW_LISTENER|SECCOMP_FILTER_FLAG_TSYNC_ESRCH|SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
    );
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}),
            "linux.seccomp.syscalls[1].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not SCMP_ACT_ALLOW",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 3}),
            "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not SCMP_ACT_KILL",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}),
            "linux.seccomp.defaultErrnoRet: 70000 is out of range (at most 65535)",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[1].index: 6 is out of range (0 to 5)",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names: must name at least one system call",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath: is required when SCMP_ACT_NOTIFY is used",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                   "syscalls": [{"names": ["mkdir", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for sendmsg: the init passes the notify fd with it",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                   "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"}),
            "linux.seccomp.listenerMetadata: must not be set without listenerPath",
        ),
    ];
    for (profile, expected) in cases {
        assert_eq!(error(profile), expected);
    }
}

include!("../../../integration/common/docker.rs");

#[test]
fn docker_default_profile_compiles_fast_and_behaves() {
    let docker = profile(docker_profile());
    let mut warnings = Vec::new();
    let filter = compile(&docker, &mut warnings).expect("Docker's profile compiles");
    assert!(warnings.is_empty(), "{warnings:?}");
    well_formed(&filter.program);

    let rounds = 50;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(compile(std::hint::black_box(&docker), &mut Vec::new()).unwrap());
    }
    let each = started.elapsed() / rounds;
    eprintln!(
        "Docker's default profile: {} rules -> {} BPF instructions, compiled in {each:?}",
        docker.syscalls().as_ref().map_or(0, Vec::len),
        filter.program.len()
    );
    // The target is well under 2 ms in release builds; debug builds (and a
    // busy machine) get slack.
    assert!(each < std::time::Duration::from_millis(20), "compiling took {each:?}");

    let call = |name: &str, args: [u64; 6]| x86_64(&filter, name, args);
    assert_eq!(call("read", [0; 6]), RET_ALLOW);
    assert_eq!(call("mkdir", [0; 6]), RET_ALLOW);
    assert_eq!(call("arch_prctl", [0; 6]), RET_ALLOW);
    assert_eq!(call("chroot", [0; 6]), RET_ALLOW);
    assert_eq!(call("personality", [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call("personality", [0xffff_ffff, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call("personality", [0x0040_0000, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(call("socket", [libc::AF_INET as u64, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call("socket", [libc::AF_VSOCK as u64, 0, 0, 0, 0, 0]), EPERM);
    let fork_flags = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u64;
    assert_eq!(call("clone", [fork_flags, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(call("clone", [fork_flags | libc::CLONE_NEWNS as u64, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(call("clone3", [0; 6]), ENOSYS);
    assert_eq!(call("unshare", [0; 6]), EPERM);
    assert_eq!(call("mount", [0; 6]), EPERM);
    assert_eq!(call("ptrace", [0; 6]), RET_ALLOW);
    assert_eq!(call("kexec_load", [0; 6]), EPERM);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 999, [0; 6]), ENOSYS);
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 20, [0; 6]), RET_ALLOW, "i386 getpid");
    assert_eq!(run(&filter.program, AUDIT_ARCH_I386, 136, [0x0040_0000, 0, 0, 0, 0, 0]), EPERM, "i386 personality");
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39, [0; 6]), RET_ALLOW, "x32 getpid");
    assert_eq!(run(&filter.program, AUDIT_ARCH_AARCH64, 172, [0; 6]), RET_BAD_ARCH);
}

#[test]
fn masked_eq_ignores_expected_bits_outside_the_mask_like_libseccomp() {
    // valueTwo 0x1_0000_0003 under mask 0xff: libseccomp (so runc and crun)
    // compares against 0x03, so arg 0x103 matches; compared as written the
    // rule could never match. Found by the differential test.
    for arches in [json!(["SCMP_ARCH_X86_64"]), json!(["SCMP_ARCH_X86"])] {
        let filter = compiled(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": arches,
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 0xff, "valueTwo": 0x1_0000_0003u64}]}]
        }));
        assert_eq!(x86_64(&filter, "getppid", [0x103, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(x86_64(&filter, "getppid", [0x104, 0, 0, 0, 0, 0]), RET_ALLOW);
        let i386 = nr(Abi::I386, "getppid");
        assert_eq!(run(&filter.program, AUDIT_ARCH_I386, i386, [0x103, 0, 0, 0, 0, 0]) == EPERM, arches[0] == "SCMP_ARCH_X86");
    }
}

#[test]
fn i386_socket_and_ipc_rules_also_hold_through_their_multiplexers() {
    // A deny rule on socket must not be bypassed with socketcall(SYS_SOCKET)
    // on i386 (libseccomp adds it there too; found by the differential).
    let filter = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]},
            {"names": ["semop", "shmat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ]
    }));
    let i386 = |nr: u32, args: [u64; 6]| run(&filter.program, AUDIT_ARCH_I386, nr, args);
    assert_eq!(i386(359, [40, 0, 0, 0, 0, 0]), EPERM, "direct socket(AF_VSOCK)");
    assert_eq!(i386(359, [2, 0, 0, 0, 0, 0]), RET_ALLOW);
    // Through socketcall the first argument is the call (SYS_SOCKET = 1),
    // so the rule's condition on it cannot be checked: libseccomp drops it.
    assert_eq!(i386(102, [1, 0x1000, 0, 0, 0, 0]), EPERM, "socketcall(SYS_SOCKET)");
    assert_eq!(i386(102, [3, 0x1000, 0, 0, 0, 0]), RET_ALLOW, "socketcall(SYS_CONNECT)");
    assert_eq!(i386(117, [1, 0, 0, 0, 0, 0]), RET_ERRNO | 13, "ipc(SEMOP)");
    assert_eq!(i386(117, [21, 0, 0, 0, 0, 0]), RET_ERRNO | 13, "ipc(SHMAT)");
    assert_eq!(i386(117, [22, 0, 0, 0, 0, 0]), RET_ALLOW, "ipc(SHMDT)");
    assert_eq!(i386(nr(Abi::I386, "shmat"), [0; 6]), RET_ERRNO | 13, "direct shmat");
    // x86_64 has no multiplexer: socketcall's number there is another call.
    assert_eq!(x86_64(&filter, "socket", [40, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(&filter.program, AUDIT_ARCH_X86_64, 102, [1, 0, 0, 0, 0, 0]), RET_ALLOW, "getuid on x86_64");
}
