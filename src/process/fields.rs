//! The fields that tune how the kernel runs the container's processes:
//! `process.scheduler`, `process.ioPriority`, `process.execCPUAffinity`,
//! `linux.personality` and `linux.memoryPolicy`. Each is checked and
//! converted here, into a `Tuning` of plain kernel values, once in the
//! parent: a bad value fails `create` or `exec` before anything is made, and
//! the init only has to make the syscalls (src/sys/tuning.rs).
//!
//! The rules are the spec's and runc's (libcontainer/configs/validate), plus
//! the kernel's own where it would refuse a value anyway (a FIFO priority
//! of 0, a deadline shorter than its runtime): refused here, the error names
//! the field instead of being an EINVAL of the init.

use libc::{c_int, c_ulong};
use nix::errno::Errno;
use nix::sched::CpuSet;
use oci_spec::runtime::{
    IOPriorityClass, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy,
    MemoryPolicyFlagType, MemoryPolicyModeType, Process,
};
use serde_json::Value;

use crate::host::{self, Topology};
use crate::sys::tuning::{SCHED_ATTR_SIZE, SchedAttr};

/// A value that cannot be used: (field path, problem).
pub type Invalid = (String, String);

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Invalid {
    (field.into(), problem.into())
}

/// What the init or an exec'd process applies, as the kernel takes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tuning {
    pub scheduler: Option<SchedAttr>,
    /// `class << 13 | level`, for ioprio_set(2).
    pub io_priority: Option<c_int>,
    /// The execution domain, for personality(2).
    pub personality: Option<c_ulong>,
    pub memory_policy: Option<MemoryPolicy>,
    /// execCPUAffinity (`exec` only; the spec leaves the init out).
    pub initial_cpus: Option<Vec<u32>>,
    pub final_cpus: Option<Vec<u32>>,
}

/// sched_setattr(2) refused the scheduler, worded where the errno alone
/// misleads (runc says the first too).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("SCHED_DEADLINE needs every CPU of the process's scheduling domain, which a cpuset of fewer CPUs takes away: {0}")]
    DeadlineCpus(#[source] Errno),
    #[error("the kernel's deadline bandwidth cannot admit this runtime/period: {0}")]
    DeadlineBandwidth(#[source] Errno),
    #[error("{0}")]
    Refused(#[source] Errno),
}

impl SchedulerError {
    pub fn of(attr: &SchedAttr, errno: Errno) -> SchedulerError {
        const SCHED_DEADLINE: u32 = 6;
        match errno {
            Errno::EPERM if attr.policy == SCHED_DEADLINE => SchedulerError::DeadlineCpus(errno),
            Errno::EBUSY if attr.policy == SCHED_DEADLINE => SchedulerError::DeadlineBandwidth(errno),
            _ => SchedulerError::Refused(errno),
        }
    }
}

/// set_mempolicy(2)'s arguments: the mode with its flags, and the node mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPolicy {
    pub mode: c_int,
    pub nodemask: Vec<c_ulong>,
}

/// The config's fields a `Tuning` comes from, and where their names start
/// (`process.` in config.json, nothing in an exec's process.json).
pub struct Sources<'a> {
    pub process: &'a Process,
    pub process_prefix: &'a str,
    pub personality: Option<&'a LinuxPersonality>,
    pub memory_policy: Option<&'a LinuxMemoryPolicy>,
    /// Whether execCPUAffinity applies (an exec'd process).
    pub exec: bool,
}

impl Sources<'_> {
    /// Checks and converts, the CPU and node lists against the host's
    /// online ones: read from sysfs only when there is a list to check
    /// (two reads saved on every create and exec without one).
    pub fn convert_on_host(&self) -> Result<Tuning, Invalid> {
        let has_lists = self.memory_policy.is_some() || self.process.exec_cpu_affinity().is_some();
        convert(self, has_lists.then(Topology::read).as_ref())
    }
}

/// CPUs and nodes a mask can hold: CPU_SETSIZE, and the kernel's largest
/// MAX_NUMNODES (NODES_SHIFT 10).
const MAX_CPUS: u32 = 1024;
const MAX_NODES: u32 = 1024;

/// Checks and converts. With `host`, CPU and node lists are also checked
/// against the host's (without, only their form and range).
pub fn convert(from: &Sources<'_>, host: Option<&Topology>) -> Result<Tuning, Invalid> {
    let p = from.process_prefix;
    let process = from.process;
    let mut tuning = Tuning {
        scheduler: process.scheduler().as_ref().map(|s| scheduler(s, &format!("{p}scheduler"))).transpose()?,
        io_priority: process.io_priority().as_ref().map(|io| io_priority(io, &format!("{p}ioPriority"))).transpose()?,
        personality: from.personality.map(|per| match per.domain() {
            LinuxPersonalityDomain::PerLinux => 0x0000,
            LinuxPersonalityDomain::PerLinux32 => 0x0008,
        }),
        memory_policy: from.memory_policy.map(|m| memory_policy(m, host)).transpose()?,
        ..Tuning::default()
    };
    if let Some(affinity) = process.exec_cpu_affinity().as_ref() {
        let field = format!("{p}execCPUAffinity");
        // Checked in the init's config too (as runc), applied only by exec.
        let initial = affinity.initial().as_deref().map(|l| cpu_list(l, &format!("{field}.initial"), host)).transpose()?;
        let last = affinity.cpu_affinity_final().as_deref().map(|l| cpu_list(l, &format!("{field}.final"), host)).transpose()?;
        if from.exec {
            tuning.initial_cpus = initial;
            tuning.final_cpus = last;
        }
    }
    Ok(tuning)
}

fn scheduler(s: &oci_spec::runtime::Scheduler, field: &str) -> Result<SchedAttr, Invalid> {
    use LinuxSchedulerPolicy as P;
    let policy = *s.policy();
    let name = policy_name(policy);
    let (number, realtime) = match policy {
        P::SchedOther => (0, false),
        P::SchedFifo => (1, true),
        P::SchedRr => (2, true),
        P::SchedBatch => (3, false),
        P::SchedIso => (4, false),
        P::SchedIdle => (5, false),
        P::SchedDeadline => (6, false),
    };
    // Range-checked for every policy (runc checks it for the fair ones
    // only); the kernel ignores it outside SCHED_OTHER and SCHED_BATCH.
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(invalid(format!("{field}.nice"), format!("{nice} is out of range (-20 to 19)")));
    }
    let priority = s.priority().unwrap_or(0);
    if realtime && !(1..=99).contains(&priority) {
        return Err(invalid(format!("{field}.priority"), format!("{priority} is out of range for {name} (1 to 99)")));
    }
    if !realtime && priority != 0 {
        return Err(invalid(format!("{field}.priority"), "can only be set for SCHED_FIFO or SCHED_RR"));
    }
    let (runtime, deadline, period) = (s.runtime().unwrap_or(0), s.deadline().unwrap_or(0), s.period().unwrap_or(0));
    if policy == P::SchedDeadline {
        deadline_params(runtime, deadline, period, field)?;
    } else if runtime != 0 || deadline != 0 || period != 0 {
        return Err(invalid(field, "runtime, deadline and period can only be set for SCHED_DEADLINE"));
    }
    let flags = s.flags().iter().flatten().fold(0, |bits, flag| bits | flag_bit(*flag));
    Ok(SchedAttr {
        size: SCHED_ATTR_SIZE,
        policy: number,
        flags,
        nice,
        priority: priority as u32,
        runtime,
        deadline,
        period,
        ..SchedAttr::default()
    })
}

/// The kernel's __checkparam_dl: runtime <= deadline <= period (0: the
/// deadline), a runtime of at least 1024 ns, and no value above 2^63.
fn deadline_params(runtime: u64, deadline: u64, period: u64, field: &str) -> Result<(), Invalid> {
    const HIGH_BIT: u64 = 1 << 63;
    if deadline == 0 {
        return Err(invalid(format!("{field}.deadline"), "is required with SCHED_DEADLINE"));
    }
    if runtime < 1024 {
        return Err(invalid(format!("{field}.runtime"), format!("{runtime} ns is below the kernel's least, 1024 ns")));
    }
    if deadline & HIGH_BIT != 0 || period & HIGH_BIT != 0 {
        return Err(invalid(field, "deadline and period must be below 2^63 ns"));
    }
    if runtime > deadline {
        return Err(invalid(format!("{field}.runtime"), format!("{runtime} is above the deadline {deadline}")));
    }
    if period != 0 && period < deadline {
        return Err(invalid(format!("{field}.period"), format!("{period} is below the deadline {deadline}")));
    }
    Ok(())
}

fn policy_name(policy: LinuxSchedulerPolicy) -> &'static str {
    use LinuxSchedulerPolicy as P;
    match policy {
        P::SchedOther => "SCHED_OTHER",
        P::SchedFifo => "SCHED_FIFO",
        P::SchedRr => "SCHED_RR",
        P::SchedBatch => "SCHED_BATCH",
        P::SchedIso => "SCHED_ISO",
        P::SchedIdle => "SCHED_IDLE",
        P::SchedDeadline => "SCHED_DEADLINE",
    }
}

/// SCHED_FLAG_* of linux/sched.h.
fn flag_bit(flag: LinuxSchedulerFlag) -> u64 {
    use LinuxSchedulerFlag as F;
    match flag {
        F::SchedResetOnFork => 0x01,
        F::SchedFlagReclaim => 0x02,
        F::SchedFlagDLOverrun => 0x04,
        F::SchedFlagKeepPolicy => 0x08,
        F::SchedFlagKeepParams => 0x10,
        F::SchedFlagUtilClampMin => 0x20,
        F::SchedFlagUtilClampMax => 0x40,
    }
}

/// The spec's flag names, and the names oci-spec's enum (de)serialises
/// them as: two of them differ (`SCHED_RESET_ON_FORK`,
/// `SCHED_FLAG_D_L_OVERRUN`), so config values are translated before the
/// spec is parsed (`normalize`).
const SCHED_FLAGS: [(&str, LinuxSchedulerFlag); 7] = [
    ("SCHED_FLAG_RESET_ON_FORK", LinuxSchedulerFlag::SchedResetOnFork),
    ("SCHED_FLAG_RECLAIM", LinuxSchedulerFlag::SchedFlagReclaim),
    ("SCHED_FLAG_DL_OVERRUN", LinuxSchedulerFlag::SchedFlagDLOverrun),
    ("SCHED_FLAG_KEEP_POLICY", LinuxSchedulerFlag::SchedFlagKeepPolicy),
    ("SCHED_FLAG_KEEP_PARAMS", LinuxSchedulerFlag::SchedFlagKeepParams),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", LinuxSchedulerFlag::SchedFlagUtilClampMin),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", LinuxSchedulerFlag::SchedFlagUtilClampMax),
];

fn io_priority(io: &oci_spec::runtime::LinuxIOPriority, field: &str) -> Result<c_int, Invalid> {
    const IOPRIO_CLASS_SHIFT: c_int = 13;
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = io.priority();
    if !(0..=7).contains(&level) {
        return Err(invalid(format!("{field}.priority"), format!("{level} is out of range (0 to 7)")));
    }
    Ok(class << IOPRIO_CLASS_SHIFT | level as c_int)
}

fn memory_policy(m: &LinuxMemoryPolicy, host: Option<&Topology>) -> Result<MemoryPolicy, Invalid> {
    use MemoryPolicyModeType as M;
    let field = "linux.memoryPolicy";
    let mode: c_int = match m.mode() {
        M::MpolDefault => 0,
        M::MpolPreferred => 1,
        M::MpolBind => 2,
        M::MpolInterleave => 3,
        M::MpolLocal => 4,
        M::MpolPreferredMany => 5,
        M::MpolWeightedInterleave => 6,
    };
    let mut flags: c_int = 0;
    for flag in m.flags().iter().flatten() {
        flags |= match flag {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        };
    }
    let (relative, fixed) = (flags & (1 << 14) != 0, flags & (1 << 15) != 0);
    if relative && fixed {
        return Err(invalid(format!("{field}.flags"), "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"));
    }
    let text = m.nodes().as_deref().unwrap_or("");
    let nodes = host::parse_list(text).map_err(|e| invalid(format!("{field}.nodes"), e))?;
    let mode_name = m.mode().to_string();
    match m.mode() {
        M::MpolDefault | M::MpolLocal if !nodes.is_empty() => {
            return Err(invalid(format!("{field}.nodes"), format!("must be empty with {mode_name}")));
        }
        M::MpolBind | M::MpolInterleave | M::MpolWeightedInterleave | M::MpolPreferredMany if nodes.is_empty() => {
            return Err(invalid(format!("{field}.nodes"), format!("{mode_name} needs at least one node")));
        }
        _ => {}
    }
    if let Some(&node) = nodes.iter().find(|&&n| n >= MAX_NODES) {
        return Err(invalid(format!("{field}.nodes"), format!("node {node} is out of range (at most {})", MAX_NODES - 1)));
    }
    // Relative nodes are positions among the allowed ones, and static ones
    // may name nodes the kernel will only use once they exist: only plain
    // node numbers must be the host's.
    if let Some(host) = host
        && !relative
        && !fixed
        && let Some(&node) = nodes.iter().find(|n| !host.memory_nodes.contains(n))
    {
        return Err(invalid(
            format!("{field}.nodes"),
            format!("node {node} does not exist (the host's memory nodes: {})", host::format_list(&host.memory_nodes)),
        ));
    }
    let bits = c_ulong::BITS;
    let mut nodemask = vec![0 as c_ulong; nodes.last().map_or(0, |&n| n / bits + 1) as usize];
    for n in nodes {
        nodemask[(n / bits) as usize] |= 1 << (n % bits);
    }
    Ok(MemoryPolicy { mode: mode | flags, nodemask })
}

/// The memory policy modes and flags `convert` takes, by their spec names
/// (for `husk features`).
pub fn memory_policy_names() -> (Vec<String>, Vec<String>) {
    use MemoryPolicyFlagType as F;
    use MemoryPolicyModeType as M;
    let modes = [M::MpolDefault, M::MpolBind, M::MpolInterleave, M::MpolWeightedInterleave, M::MpolPreferred, M::MpolPreferredMany, M::MpolLocal];
    let flags = [F::MpolFNumaBalancing, F::MpolFRelativeNodes, F::MpolFStaticNodes];
    (modes.iter().map(ToString::to_string).collect(), flags.iter().map(ToString::to_string).collect())
}

fn cpu_list(text: &str, field: &str, host: Option<&Topology>) -> Result<Vec<u32>, Invalid> {
    let cpus = host::parse_list(text).map_err(|e| invalid(field, e))?;
    if let Some(&cpu) = cpus.iter().find(|&&c| c >= MAX_CPUS) {
        return Err(invalid(field, format!("CPU {cpu} is out of range (at most {})", MAX_CPUS - 1)));
    }
    // A host whose sysfs says nothing (no /sys in a nested runtime's view)
    // leaves the check to the kernel.
    if let Some(host) = host.filter(|h| !h.online_cpus.is_empty())
        && let Some(&cpu) = cpus.iter().find(|c| !host.online_cpus.contains(c))
    {
        return Err(invalid(field, format!("CPU {cpu} is not online (online: {})", host::format_list(&host.online_cpus))));
    }
    Ok(cpus)
}

/// The mask of these CPUs (all below CPU_SETSIZE: checked by `convert`).
pub fn cpu_set(cpus: &[u32]) -> nix::Result<CpuSet> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu as usize)?;
    }
    Ok(set)
}

/// Every CPU a mask can name. Given to sched_setaffinity, the kernel keeps
/// those the process's cpuset allows (and, since 6.2, remembers the request
/// as all CPUs), which undoes an affinity inherited from the engine.
pub fn all_cpus() -> CpuSet {
    let mut set = CpuSet::new();
    for cpu in 0..CpuSet::count() {
        let _ = set.set(cpu);
    }
    set
}

/// Fixes up a process object in JSON before oci-spec parses it: the spec's
/// scheduler flag names become the crate's (an unknown one is an error
/// naming it), and an empty execCPUAffinity list is as good as none (the
/// spec: "if omitted or empty"), where the crate refuses it.
pub fn normalize(process: &mut Value, prefix: &str) -> Result<(), Invalid> {
    if let Some(flags) = process.pointer_mut("/scheduler/flags").and_then(Value::as_array_mut) {
        for (i, flag) in flags.iter_mut().enumerate() {
            let Some(name) = flag.as_str() else { continue };
            let Some((_, known)) = SCHED_FLAGS.iter().find(|(spec, _)| *spec == name) else {
                return Err(invalid(format!("{prefix}scheduler.flags[{i}]"), format!("unknown scheduler flag {name:?}")));
            };
            *flag = serde_json::to_value(known).expect("an enum serialises");
        }
    }
    if let Some(io) = process.get("ioPriority").and_then(Value::as_object) {
        for key in ["class", "priority"] {
            if !io.contains_key(key) {
                return Err(invalid(format!("{prefix}ioPriority.{key}"), "is required"));
            }
        }
    }
    if let Some(affinity) = process.get_mut("execCPUAffinity").and_then(Value::as_object_mut) {
        affinity.retain(|_, v| v.as_str() != Some(""));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
