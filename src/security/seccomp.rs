//! `linux.seccomp`: the profile compiled to a classic BPF program by husk
//! itself (no libseccomp), before the clone, and loaded by the init.
//!
//! The semantics are runc 1.1's on libseccomp 2.5, which engines and their
//! profiles are written against:
//!
//! - Architectures: the native one is always filtered, plus those listed.
//!   A call from any other architecture gets libseccomp's bad-arch action
//!   (kill the thread). On x86_64, x32 calls carry `__X32_SYSCALL_BIT` under
//!   the same audit arch: they are matched against the x32 table when
//!   `SCMP_ARCH_X32` is listed and killed otherwise, so they cannot slip past
//!   rules written for x86_64 numbers.
//! - Rules whose action equals the default action are dropped (runc does,
//!   since libseccomp refuses them). Several rules for a call are ORed; the
//!   conditions of one rule are ANDed, except that a rule naming the same
//!   argument twice becomes one rule per condition (runc's compatibility
//!   behaviour). A call with an unconditional rule takes that rule's action
//!   whatever its conditional rules say (libseccomp's tree does the same);
//!   otherwise its conditional rules are tried in profile order.
//! - 64-bit arguments are compared as two 32-bit halves, high word first;
//!   32-bit ABIs (i386, x32) compare the low word only, as libseccomp does.
//!   `SCMP_CMP_MASKED_EQ` compares with `valueTwo & value`, as libseccomp.
//! - On i386, a rule on a socket or SysV IPC call also holds for it through
//!   socketcall(2) or ipc(2) (first argument the call's number, the rule's
//!   condition on the first argument dropped), as libseccomp adds it.
//! - On x86_64 the x32 bit picks the x32 table; -1 (a tracer's skipped
//!   call) is left to the x86_64 rules, as in libseccomp's filter.
//! - runc's -ENOSYS stub: unless the default action lets calls through
//!   (allow, log, trace), a call numbered above the highest one the profile
//!   names, on an architecture the profile lists, fails with ENOSYS rather
//!   than the default action, so that a libc can fall back from a call newer
//!   than the profile (not when the default is ENOSYS already, as runc).
//!   On i386 the multiplexers count for "highest" (runc counts only them
//!   for a socket call: a direct socket(2) the profile allows would get
//!   ENOSYS there).
//!
//! src/security/seccomp/differential.rs checks all of this against
//! libseccomp 2.5 on random profiles.
//! - Unknown call names are skipped with a warning (names that exist only on
//!   other architectures are skipped silently).
//!
//! The program is linear: one arch check at the top, then per architecture
//! the unconditionally decided calls as runs of `jeq` sharing one `ret`, then
//! the calls with argument rules, each behind one `jeq`. Every jump is
//! relative and short, or hops over a block with `ja`, so no label fixing is
//! needed. The kernel's per-syscall action cache recognises such a program's
//! constant-allow calls and skips it for them.
//!
//! With `SCMP_ACT_NOTIFY`, the filter is loaded with a new listener; the init
//! passes the notify fd to `create` over the sync channel, and `create` sends
//! it to `listenerPath` with the container process state, as runc does.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Operator,
};

use super::syscalls::{self, Table};
use serde::{Deserialize, Serialize};

use crate::sys;

// The BPF layout of a compiled plan.
mod codegen;
use codegen::*;

// Filter return values (linux/seccomp.h).
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0x0000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ACTION_FULL: u32 = 0xffff_0000;
/// What libseccomp does with a call of an architecture not in the filter.
const RET_BAD_ARCH: u32 = RET_KILL_THREAD;

// Filter flags (linux/seccomp.h).
const FLAG_TSYNC: u32 = 1 << 0;
const FLAG_LOG: u32 = 1 << 1;
const FLAG_SPEC_ALLOW: u32 = 1 << 2;
const FLAG_NEW_LISTENER: u32 = sys::SECCOMP_FILTER_FLAG_NEW_LISTENER;
const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

// Audit architectures (linux/audit.h).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;
const ARGS: usize = 6;

/// A profile that cannot be compiled: the field and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ProfileError {
    pub field: String,
    pub message: String,
}

fn invalid<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, ProfileError> {
    Err(ProfileError {
        field: field.into(),
        message: message.into(),
    })
}

/// Loading the filter, or handing its notify fd to the listener, failed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, {flags}): {source}")]
    Load { flags: String, source: Errno },
    #[error("seccomp listener {}: {op}: {source}", path.display())]
    Listener {
        path: PathBuf,
        op: &'static str,
        source: Errno,
    },
}

/// Where the notify fd goes: `listenerPath` and `listenerMetadata`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listener {
    path: PathBuf,
    metadata: Option<String>,
}

/// A compiled profile: made by `create`, kept in the state for `exec`,
/// loaded by the init and by exec'd processes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Filter {
    program: Vec<Insn>,
    flags: u32,
    /// Set when the program can return SECCOMP_RET_USER_NOTIF.
    listener: Option<Listener>,
}

impl Filter {
    /// The listener to send the notify fd to, when the filter notifies.
    pub fn listener(&self) -> Option<&Listener> {
        self.listener.as_ref()
    }
}

/// The ABIs husk has syscall tables for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Abi {
    X86_64,
    I386,
    X32,
    Aarch64,
}

impl Abi {
    /// The ABI of the machine husk runs on, if husk has its table.
    fn native() -> Option<Abi> {
        if cfg!(target_arch = "x86_64") {
            Some(Abi::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Abi::Aarch64)
        } else {
            None
        }
    }

    fn of(arch: Arch) -> Option<Abi> {
        match arch {
            Arch::ScmpArchNative => Abi::native(),
            Arch::ScmpArchX86_64 => Some(Abi::X86_64),
            Arch::ScmpArchX86 => Some(Abi::I386),
            Arch::ScmpArchX32 => Some(Abi::X32),
            Arch::ScmpArchAarch64 => Some(Abi::Aarch64),
            _ => None,
        }
    }

    fn audit(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    fn table(self) -> Table {
        match self {
            Abi::X86_64 => syscalls::X86_64,
            Abi::I386 => syscalls::I386,
            Abi::X32 => syscalls::X32,
            Abi::Aarch64 => syscalls::AARCH64,
        }
    }

    /// Whether arguments are 32 bits wide (only their low word is compared).
    fn narrow(self) -> bool {
        matches!(self, Abi::I386 | Abi::X32)
    }
}

/// Whether this machine's kernel can run calls of `arch` (natively or in a
/// compat mode), so that a profile listing it without a table of ours
/// deserves a warning.
fn runs_here(arch: Arch) -> bool {
    if cfg!(target_arch = "aarch64") {
        matches!(arch, Arch::ScmpArchAarch64 | Arch::ScmpArchArm)
    } else {
        matches!(arch, Arch::ScmpArchX86_64 | Arch::ScmpArchX86 | Arch::ScmpArchX32)
    }
}

fn lookup(table: Table, name: &str) -> Option<u32> {
    table.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| table[i].1)
}

/// Whether any architecture has a call of this name.
fn known_anywhere(name: &str) -> bool {
    [syscalls::X86_64, syscalls::I386, syscalls::X32, syscalls::AARCH64]
        .iter()
        .any(|t| lookup(t, name).is_some())
        || syscalls::OTHER_ARCHITECTURES.binary_search(&name).is_ok()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// One argument condition: `args[index] op value` (for MaskedEq, `value`
/// is the mask and `value_two` the expected masked value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cond {
    index: u8,
    op: Op,
    value: u64,
    value_two: u64,
}

/// A rule of the profile, checked and translated.
struct Rule<'a> {
    names: &'a [String],
    action: u32,
    /// The ORed alternatives, each an AND of conditions; a single empty
    /// alternative for an unconditional rule.
    alternatives: Vec<Vec<Cond>>,
    /// Its action is the default action: it only counts for the ENOSYS stub.
    redundant: bool,
}

/// The filter action of an OCI action, with its errnoRet.
fn action_value(action: Action, errno_ret: Option<u32>, errno_field: &str) -> Result<u32, ProfileError> {
    let data = |default: u32| -> Result<u32, ProfileError> {
        let value = errno_ret.unwrap_or(default);
        if value > 0xffff {
            return invalid(errno_field, format!("{value} is out of range (at most 65535)"));
        }
        Ok(value)
    };
    let takes_errno = matches!(action, Action::ScmpActErrno | Action::ScmpActTrace);
    if errno_ret.is_some() && !takes_errno {
        return invalid(
            errno_field,
            format!("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not {action}"),
        );
    }
    Ok(match action {
        Action::ScmpActKill | Action::ScmpActKillThread => RET_KILL_THREAD,
        Action::ScmpActKillProcess => RET_KILL_PROCESS,
        Action::ScmpActTrap => RET_TRAP,
        Action::ScmpActErrno => RET_ERRNO | data(libc::EPERM as u32)?,
        Action::ScmpActTrace => RET_TRACE | data(libc::EPERM as u32)?,
        Action::ScmpActLog => RET_LOG,
        Action::ScmpActNotify => RET_USER_NOTIF,
        Action::ScmpActAllow => RET_ALLOW,
    })
}

fn condition(arg: &oci_spec::runtime::LinuxSeccompArg, field: &str) -> Result<Cond, ProfileError> {
    let index = arg.index();
    if index >= ARGS {
        return invalid(format!("{field}.index"), format!("{index} is out of range (0 to 5)"));
    }
    let op = match arg.op() {
        Operator::ScmpCmpNe => Op::Ne,
        Operator::ScmpCmpLt => Op::Lt,
        Operator::ScmpCmpLe => Op::Le,
        Operator::ScmpCmpEq => Op::Eq,
        Operator::ScmpCmpGe => Op::Ge,
        Operator::ScmpCmpGt => Op::Gt,
        Operator::ScmpCmpMaskedEq => Op::MaskedEq,
    };
    let value_two = arg.value_two().unwrap_or(0);
    Ok(Cond {
        index: index as u8,
        op,
        value: arg.value(),
        // libseccomp keeps only the bits of the expected value that are in
        // the mask (runc and crun take MaskedEq from it): `valueTwo` bits
        // outside `value` do not make the condition impossible.
        value_two: if op == Op::MaskedEq { value_two & arg.value() } else { value_two },
    })
}

/// Checks the profile's rules and turns them into conditions and actions.
fn rules<'a>(profile: &'a LinuxSeccomp, default: u32, warnings: &mut Vec<String>) -> Result<Vec<Rule<'a>>, ProfileError> {
    let mut rules = Vec::new();
    for (i, syscall) in profile.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        if syscall.names().is_empty() {
            return invalid(format!("{field}.names"), "must name at least one system call");
        }
        let action = action_value(syscall.action(), syscall.errno_ret(), &format!("{field}.errnoRet"))?;
        for (j, name) in syscall.names().iter().enumerate() {
            if action == RET_USER_NOTIF && name == "sendmsg" {
                return invalid(
                    format!("{field}.names[{j}]"),
                    "SCMP_ACT_NOTIFY cannot be used for sendmsg: the init passes the notify fd with it",
                );
            }
            // runc's words. The init writes to the exec fifo and the
            // channel after the filter is in, and the agent could not
            // answer a write it has not yet been given the fd to see.
            if action == RET_USER_NOTIF && name == "write" {
                return invalid(format!("{field}.names[{j}]"), "SCMP_ACT_NOTIFY cannot be used for the write syscall");
            }
            if !known_anywhere(name) {
                warnings.push(format!("{field}.names[{j}]: unknown system call {name:?}, ignored"));
            }
        }
        let mut conditions = Vec::new();
        for (j, arg) in syscall.args().iter().flatten().enumerate() {
            conditions.push(condition(arg, &format!("{field}.args[{j}]"))?);
        }
        let mut seen = [false; ARGS];
        let repeats = conditions.iter().any(|c| std::mem::replace(&mut seen[c.index as usize], true));
        let alternatives = if repeats {
            conditions.into_iter().map(|c| vec![c]).collect()
        } else {
            vec![conditions]
        };
        rules.push(Rule {
            names: syscall.names(),
            action,
            alternatives,
            redundant: action == default,
        });
    }
    Ok(rules)
}

/// One way for a call to get an action: (action, its ANDed conditions).
type Alternative<'a> = (u32, Cow<'a, [Cond]>);

/// What a call gets on one ABI.
enum Verdict<'a> {
    Always(u32),
    /// Conditional rules, tried in order: (action, conditions).
    Check(Vec<Alternative<'a>>),
}

/// One ABI's share of the filter.
struct AbiPlan<'a> {
    abi: Abi,
    verdicts: BTreeMap<u32, Verdict<'a>>,
    /// Calls above this number fail with ENOSYS.
    enosys_above: Option<u32>,
}

fn plan<'a>(abi: Abi, listed: bool, rules: &'a [Rule<'a>], stub: bool) -> AbiPlan<'a> {
    let table = abi.table();
    let mut by_nr: BTreeMap<u32, Vec<Alternative<'a>>> = BTreeMap::new();
    let mut highest = None;
    for rule in rules {
        for name in rule.names {
            let direct = lookup(table, name);
            // On i386 a socket or SysV IPC call can also be made through
            // socketcall(2) or ipc(2), its number in the first argument:
            // libseccomp adds the rule there too (with that number in place
            // of any condition on the first argument, which the multiplexer
            // does not pass through), and so must husk, or a deny rule could
            // be bypassed through the multiplexer.
            let multiplexed = if abi == Abi::I386 { syscalls::i386_multiplexed(name) } else { None };
            highest = highest.max(direct).max(multiplexed.map(|(nr, _)| nr));
            if rule.redundant {
                continue;
            }
            if let Some(nr) = direct {
                let entry = by_nr.entry(nr).or_default();
                entry.extend(rule.alternatives.iter().map(|alt| (rule.action, Cow::Borrowed(alt.as_slice()))));
            }
            if let Some((nr, call)) = multiplexed {
                let entry = by_nr.entry(nr).or_default();
                entry.extend(rule.alternatives.iter().map(|alt| {
                    let first = Cond {
                        index: 0,
                        op: Op::Eq,
                        value: call,
                        value_two: 0,
                    };
                    let rest = alt.iter().filter(|c| c.index != 0).copied();
                    (rule.action, Cow::Owned(std::iter::once(first).chain(rest).collect()))
                }));
            }
        }
    }
    let verdicts = by_nr
        .into_iter()
        .map(|(nr, alternatives)| {
            let verdict = match alternatives.iter().find(|(_, conds)| conds.is_empty()) {
                Some((action, _)) => Verdict::Always(*action),
                None => Verdict::Check(alternatives),
            };
            (nr, verdict)
        })
        .collect();
    AbiPlan {
        abi,
        verdicts,
        // runc's findLastSyscalls takes a highest number of 0 (only `read`
        // on x86_64) for "none found" and adds no stub then.
        enosys_above: if listed && stub { highest.filter(|&nr| nr != 0) } else { None },
    }
}

/// Compiles `linux.seccomp`. Warnings (unknown call names, architectures
/// without a table) are pushed with their field path.
pub fn compile(profile: &LinuxSeccomp, warnings: &mut Vec<String>) -> Result<Filter, ProfileError> {
    let Some(native) = Abi::native() else {
        return invalid("linux.seccomp", "this husk build has no system call table for this machine's architecture");
    };
    let default_action = profile.default_action();
    if default_action == Action::ScmpActNotify {
        return invalid("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");
    }
    let default = action_value(default_action, profile.default_errno_ret(), "linux.seccomp.defaultErrnoRet")?;
    let rules = rules(profile, default, warnings)?;

    let mut abis: Vec<(Abi, bool)> = vec![(native, false)];
    for (i, arch) in profile.architectures().iter().flatten().enumerate() {
        match Abi::of(*arch) {
            Some(abi) => match abis.iter_mut().find(|(a, _)| *a == abi) {
                Some(entry) => entry.1 = true,
                None => abis.push((abi, true)),
            },
            None if runs_here(*arch) => warnings.push(format!(
                "linux.seccomp.architectures[{i}]: no system call table for {arch} in this husk build; its calls will be killed"
            )),
            None => {}
        }
    }
    // runc adds no stub when the default already fails calls with ENOSYS:
    // it would make no difference but for numbers libseccomp kills as a bad
    // architecture (x86_64 numbers past the x32 bit).
    let stub = !matches!(default_action, Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace)
        && default != RET_ERRNO | libc::ENOSYS as u32;
    let plans: Vec<AbiPlan<'_>> = abis.iter().map(|(abi, listed)| plan(*abi, *listed, &rules, stub)).collect();

    let program = emit(&plans, default);
    if program.len() > MAX_INSTRUCTIONS {
        return invalid(
            "linux.seccomp",
            format!("the profile compiles to {} instructions, more than the kernel's {MAX_INSTRUCTIONS}", program.len()),
        );
    }
    let notifies = program.iter().any(|i| i.code == RET_K && i.k & RET_ACTION_FULL == RET_USER_NOTIF);

    let mut flags = 0;
    for flag in profile.flags().iter().flatten() {
        flags |= match flag {
            Flag::SeccompFilterFlagTsync => FLAG_TSYNC,
            Flag::SeccompFilterFlagLog => FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            Flag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        };
    }
    let path = profile.listener_path().as_ref().filter(|p| !p.as_os_str().is_empty());
    let metadata = profile.listener_metadata().as_ref().filter(|m| !m.is_empty());
    if metadata.is_some() && path.is_none() {
        return invalid("linux.seccomp.listenerMetadata", "must not be set without listenerPath");
    }
    let listener = if notifies {
        let Some(path) = path else {
            return invalid("linux.seccomp.listenerPath", "is required when SCMP_ACT_NOTIFY is used");
        };
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            // The kernel refuses TSYNC with a listener unless told to report
            // a thread it could not synchronise as ESRCH.
            flags |= FLAG_TSYNC_ESRCH;
        }
        Some(Listener {
            path: path.clone(),
            metadata: metadata.cloned(),
        })
    } else {
        // Only meaningful with a listener, and refused by the kernel without.
        flags &= !FLAG_WAIT_KILLABLE_RECV;
        None
    };
    Ok(Filter {
        program,
        flags,
        listener,
    })
}

fn describe_flags(flags: u32) -> String {
    let names = [
        (FLAG_TSYNC, "TSYNC"),
        (FLAG_LOG, "LOG"),
        (FLAG_SPEC_ALLOW, "SPEC_ALLOW"),
        (FLAG_NEW_LISTENER, "NEW_LISTENER"),
        (FLAG_TSYNC_ESRCH, "TSYNC_ESRCH"),
        (FLAG_WAIT_KILLABLE_RECV, "WAIT_KILLABLE_RECV"),
    ];
    let set: Vec<String> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| format!("SECCOMP_FILTER_FLAG_{name}"))
        .collect();
    if set.is_empty() { "0".into() } else { set.join("|") }
}

/// In the init or an exec'd process: loads the filter, if there is one.
/// Returns the notify fd of a filter that notifies, which the process
/// sends to the parent for the listener.
///
/// Without no_new_privs this needs CAP_SYS_ADMIN, so the init calls it
/// before dropping capabilities; with no_new_privs, as late as a failure can
/// still be reported to `create`.
pub fn install(filter: Option<&Filter>) -> Result<Option<OwnedFd>, SeccompError> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let program: Vec<libc::sock_filter> = filter
        .program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    sys::seccomp_set_mode_filter(&program, filter.flags).map_err(|source| SeccompError::Load {
        flags: describe_flags(filter.flags),
        source,
    })
}

impl Listener {
    /// In the parent: sends the notify fd to the listener with the
    /// container process state (`"fds": ["seccompFd"]`), in one connection,
    /// the fd with the first bytes. `state` is the container's state; the
    /// spec's fields of it are sent.
    pub fn send(&self, notify_fd: BorrowedFd<'_>, state: &serde_json::Value, pid: i32) -> Result<(), SeccompError> {
        use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr, connect, send, socket};
        let fail = |op: &'static str| {
            let path = self.path.clone();
            move |source| SeccompError::Listener { path, op, source }
        };
        let mut spec_state = serde_json::Map::new();
        for key in ["ociVersion", "id", "status", "pid", "bundle", "annotations"] {
            if let Some(value) = state.get(key) {
                spec_state.insert(key.to_string(), value.clone());
            }
        }
        let mut message = serde_json::json!({
            "ociVersion": state["ociVersion"],
            "fds": ["seccompFd"],
            "pid": pid,
            "state": spec_state,
        });
        if let Some(metadata) = &self.metadata {
            message["metadata"] = metadata.as_str().into();
        }
        let bytes = serde_json::to_vec(&message).expect("a JSON value serialises");

        let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(fail("socket"))?;
        let addr = UnixAddr::new(&self.path).map_err(fail("address"))?;
        connect(sock.as_raw_fd(), &addr).map_err(fail("connect"))?;
        let sent = sys::send_with_fd(sock.as_fd(), &bytes, notify_fd).map_err(fail("send"))?;
        let mut rest = &bytes[sent..];
        while !rest.is_empty() {
            match send(sock.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL) {
                Ok(n) => rest = &rest[n..],
                Err(Errno::EINTR) => {}
                Err(e) => return Err(fail("send")(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod differential;
