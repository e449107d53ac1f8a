//! The container's init: the process `create` clones, which sets itself up
//! step by step, waits for `start`, and ends in `execve` of the bundle's
//! command. Any failure is sent to the parent with the name of its step.
//!
//! It runs in a copy of a single-threaded husk, so it may allocate; it never
//! returns and never prints.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{Process, Spec};

use crate::cgroups;
use crate::hooks;
use crate::host::HostFacts;
use crate::launch::{ChildEnd, ChildSays, Exchange, InitFailure};
use crate::namespaces::{self, NamespacePlan};
use crate::process::{self, fields::{self, Tuning}};
use crate::rootfs::{self, RootfsPlan};
use crate::security::capabilities::CapabilityPlan;
use crate::security::lsm;
use crate::security::seccomp::{self, Filter};
use crate::state::Status;
use crate::sys::{self, Forked};
use crate::terminal;

/// Everything the init needs, prepared by the parent before the clone.
pub struct InitArgs<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: PathBuf,
    pub namespaces: NamespacePlan,
    /// The container's state, for the hooks the init runs (it fills in
    /// status and pid).
    pub state: serde_json::Value,
    /// The init's end of the launch conversation.
    pub channel: ChildEnd,
    /// An O_PATH fd of the state directory's exec.fifo.
    pub fifo: OwnedFd,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// linux.seccomp, compiled by the parent.
    pub seccomp: Option<&'a Filter>,
    /// When the init enters its v1 cgroups itself (the parent cloned it
    /// into the cgroup2 part, if any): see cgroups::Entry.
    pub cgroup_entry: Option<cgroups::Entry>,
    /// The host as `create` read it, and the container's cgroup.
    pub host: &'a HostFacts,
    pub cgroup: Option<&'a cgroups::CgroupPaths>,
    /// Scheduler, I/O priority, personality, memory policy: converted.
    pub tuning: &'a Tuning,
    /// The id-mapped mounts the parent made, to attach (rootfs/idmap.rs).
    pub idmapped: rootfs::IdmappedMounts,
    /// husk runs as a user, not as the host's root (runc's RootlessEUID):
    /// to write the id maps the parent must open our /proc files, which it
    /// may only while we are dumpable; and the user's groups are kept.
    pub rootless_euid: bool,
    /// husk itself runs in a user namespace (rootless podman runs it as the
    /// root of its own): no device can be made, only bound.
    pub husk_in_user_ns: bool,
}

type Failure = InitFailure;

/// Names the step a result belongs to: its failure is reported with the
/// step's name and the errno behind it.
trait Step<T> {
    fn step(self, name: &'static str) -> Result<T, Failure>;
}

impl<T, E: std::error::Error + 'static> Step<T> for Result<T, E> {
    fn step(self, name: &'static str) -> Result<T, Failure> {
        timeline::mark(name);
        self.map_err(|e| InitFailure::of(name, &e))
    }
}

/// A sysctl the init could not write.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct SysctlError(#[from] crate::procfs::ProcfsError);

/// When each step of the init ended, sent to the parent with `Ready` so
/// that `husk --debug` can show where the time of `create` goes. The init is
/// single-threaded; the lock is never contended.
mod timeline {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    static MARKS: Mutex<Vec<(&'static str, Instant)>> = Mutex::new(Vec::new());
    static START: Mutex<Option<Instant>> = Mutex::new(None);
    static STOPPED: AtomicBool = AtomicBool::new(false);

    pub fn start() {
        *START.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    pub fn mark(step: &'static str) {
        if !STOPPED.load(Ordering::Relaxed) {
            MARKS.lock().unwrap_or_else(|e| e.into_inner()).push((step, Instant::now()));
        }
    }

    /// Marks `step` now and no step after it: the clock is read no more
    /// once the seccomp filter is in (where the clock has no vDSO,
    /// clock_gettime is a syscall the filter may deny, and std's Instant
    /// panics on its failure). Only `Ready` carries the timeline anyway.
    pub fn stop_at(step: &'static str) {
        mark(step);
        STOPPED.store(true, Ordering::Relaxed);
    }

    /// (step, microseconds since the init started), one per step.
    pub fn take() -> Vec<(String, u64)> {
        let start = START.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(Instant::now);
        let marks = std::mem::take(&mut *MARKS.lock().unwrap_or_else(|e| e.into_inner()));
        marks.into_iter().map(|(s, at)| (s.to_string(), at.saturating_duration_since(start).as_micros() as u64)).collect()
    }
}

/// Entry point of the cloned child when the init was cloned straight into
/// its namespaces.
pub fn main(mut args: InitArgs<'_>) -> ! {
    timeline::start();
    let outcome = non_dumpable()
        .and_then(|()| join_cgroup(args.cgroup_entry.as_ref()))
        .and_then(|()| args.namespaces.join_paths(false).step("join namespaces"))
        .and_then(|()| map_user_namespace(&mut args))
        .and_then(|()| run(&mut args));
    report_and_exit(&args.channel, outcome)
}

/// Entry point of the intermediate process, used when namespaces must be
/// entered one by one: join by path (the user namespace first), create the
/// user namespace and have it mapped, create the rest, then fork the init,
/// which is born in the new pid and time namespaces.
pub fn intermediate_main(mut args: InitArgs<'_>) -> ! {
    timeline::start();
    let entered = non_dumpable().and_then(|()| enter_step_by_step(&mut args));
    let outcome = match entered.and_then(|()| sys::fork_into(0).step("fork init")) {
        Ok(Forked::Parent(pid)) => {
            let sent = args.channel.tell(&ChildSays::InitPid(pid.as_raw())).step("report init pid");
            match sent {
                Ok(()) => sys::exit_now(0),
                Err(failure) => Err(failure),
            }
        }
        // The intermediate says our pid, once we exist.
        Ok(Forked::Child) => args.channel.passed(Exchange::InitPid).step("report init pid").and_then(|()| run(&mut args)),
        Err(failure) => Err(failure),
    };
    report_and_exit(&args.channel, outcome)
}

/// What a process started by `exec` needs, prepared by `husk exec`.
pub struct ExecArgs<'a> {
    pub process: &'a Process,
    /// The container's namespaces (all but pid and time, which the parent
    /// entered for its children before the fork).
    pub namespaces: NamespacePlan,
    /// The process's end of the launch conversation.
    pub channel: ChildEnd,
    pub seccomp: Option<&'a seccomp::Filter>,
    pub preserve_fds: i32,
    /// The container's cgroup, which the process joins itself (v1) or was
    /// cloned into (cgroup2).
    pub cgroup_entry: Option<cgroups::Entry>,
    /// The process's tuning fields, and the container's personality and
    /// memory policy, converted.
    pub tuning: &'a Tuning,
    /// husk runs as a user: the user's groups are kept (see InitArgs).
    pub rootless_euid: bool,
}

/// Entry point of a process started by `exec`: join the container, wait
/// for the cgroup, become the configured process, execve. Its success is
/// the channel closing on exec (close-on-exec), its failure a message.
pub fn exec_main(mut args: ExecArgs<'_>) -> ! {
    let outcome = (|| {
        non_dumpable()?;
        join_cgroup(args.cgroup_entry.as_ref())?;
        args.namespaces.join_paths(false).step("join the container's namespaces")?;
        args.namespaces.close();
        args.channel.wait_for(Exchange::Placed).step("wait for cgroup placement")?;
        // execCPUAffinity.initial, set by `husk exec` before the clone,
        // stays until `final` (the kernel keeps it within the cpuset);
        // without it, an affinity inherited from husk is undone.
        if args.tuning.initial_cpus.is_none() {
            reset_affinity();
        }
        set_up_terminal(args.process, &mut args.channel, false)?;
        let (executable, exec) =
            become_process(args.process, args.tuning, args.seccomp, &mut args.channel, args.preserve_fds, args.rootless_euid)?;
        exec_process(&executable, exec)
    })();
    report_and_exit(&args.channel, outcome)
}

/// Entry point of the intermediate of a rootless `exec`: a user may enter
/// the container's pid namespace only from inside its user namespace, so
/// this process joins that first, then forks the process proper, born in
/// the container's pid and time namespaces, says its pid, and exits.
pub fn exec_intermediate_main(mut args: ExecArgs<'_>) -> ! {
    let forked = (|| {
        non_dumpable()?;
        args.namespaces.join_user_first().step("join the container's user namespace")?;
        let guard = args.namespaces.enter_for_children(None).step("join the container's pid namespace")?;
        let forked = sys::fork_into(0).step("fork the exec'd process")?;
        if let Forked::Child = forked {
            // The guard would put the parent back; the child stays born.
            std::mem::forget(guard);
        }
        Ok(forked)
    })();
    let outcome = match forked {
        Ok(Forked::Parent(pid)) => match args.channel.tell(&ChildSays::InitPid(pid.as_raw())).step("report the pid") {
            Ok(()) => sys::exit_now(0),
            Err(failure) => Err(failure),
        },
        Ok(Forked::Child) => match args.channel.passed(Exchange::InitPid).step("report the pid") {
            Ok(()) => exec_main(args),
            Err(failure) => Err(failure),
        },
        Err(failure) => Err(failure),
    };
    report_and_exit(&args.channel, outcome)
}

/// A process that enters its v1 cgroups itself does so first, while the
/// host's /sys/fs/cgroup is still in view.
fn join_cgroup(entry: Option<&cgroups::Entry>) -> Result<(), Failure> {
    match entry {
        Some(entry) => entry.join_self().step("join cgroups"),
        None => Ok(()),
    }
}

/// Until execve, an init or exec process is husk's own binary, inside the
/// container: non-dumpable, container processes cannot open its
/// /proc/PID/exe to overwrite husk (CVE-2019-5736). execve of the
/// container's program makes it dumpable again, as any process.
fn non_dumpable() -> Result<(), Failure> {
    nix::sys::prctl::set_dumpable(false).step("make the process non-dumpable")
}

fn enter_step_by_step(args: &mut InitArgs<'_>) -> Result<(), Failure> {
    args.namespaces.join_paths(true).step("join namespaces")?;
    // Joined, a user namespace leaves us the host's root, which it does not
    // map: files made in its mounts would have no owner (EOVERFLOW). Become
    // its root, as runc's init does (setuid(0), setgid(0)).
    if args.namespaces.joins(CloneFlags::CLONE_NEWUSER) {
        become_namespace_root()?;
    }
    if args.namespaces.creates(CloneFlags::CLONE_NEWUSER) {
        namespaces::create(CloneFlags::CLONE_NEWUSER).step("create user namespace")?;
        map_user_namespace(args)?;
    }
    let rest = args.namespaces.new - CloneFlags::CLONE_NEWUSER - CloneFlags::CLONE_NEWCGROUP;
    if args.namespaces.creates(namespaces::time_flag()) {
        namespaces::create(namespaces::time_flag()).step("create time namespace")?;
        namespaces::write_time_offsets(args.spec).step("write time offsets")?;
    }
    namespaces::create(rest - namespaces::time_flag()).step("create namespaces")
}

fn report_and_exit(channel: &ChildEnd, outcome: Result<Infallible, Failure>) -> ! {
    let Err(failure) = outcome;
    channel.fail(failure);
    sys::exit_now(1)
}

/// In a new user namespace, the parent writes the id maps; then the init
/// becomes root of the namespace.
fn map_user_namespace(args: &mut InitArgs<'_>) -> Result<(), Failure> {
    if !args.namespaces.creates(CloneFlags::CLONE_NEWUSER) {
        return Ok(());
    }
    // Dumpable only while nothing of the container runs: the namespace is
    // new and empty, and the parent is its only other user.
    if args.rootless_euid {
        nix::sys::prctl::set_dumpable(true).step("let the parent write the id maps")?;
    }
    args.channel.ask(Exchange::IdMaps, None).step("wait for id maps")?;
    non_dumpable()?;
    become_namespace_root()
}

fn become_namespace_root() -> Result<(), Failure> {
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).step("become root in the user namespace")?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid).step("become root in the user namespace")
}

/// The init proper, once in its namespaces.
fn run(args: &mut InitArgs<'_>) -> Result<Infallible, Failure> {
    let spec = args.spec;
    let process = spec.process().as_ref().expect("validated: process is present");
    let plan = &args.namespaces;

    args.channel.wait_for(Exchange::Placed).step("wait for cgroup placement")?;
    reset_affinity();
    if plan.creates(CloneFlags::CLONE_NEWCGROUP) {
        namespaces::create(CloneFlags::CLONE_NEWCGROUP).step("create cgroup namespace")?;
    }
    if plan.creates(CloneFlags::CLONE_NEWNET) {
        namespaces::bring_up_loopback().step("bring up loopback")?;
    }
    set_host_names(spec)?;

    let idmapped = std::mem::take(&mut args.idmapped);
    let rootfs_plan = RootfsPlan {
        spec,
        bundle: args.bundle,
        rootfs: args.rootfs.clone(),
        // Created, joined, or husk's own: devices are bound, not made.
        user_ns: plan.creates(CloneFlags::CLONE_NEWUSER) || plan.joins(CloneFlags::CLONE_NEWUSER) || args.husk_in_user_ns,
        cgroup_ns: plan.creates(CloneFlags::CLONE_NEWCGROUP),
        no_pivot: args.no_pivot,
        host: args.host,
        cgroup: args.cgroup,
        idmapped: &idmapped,
    };
    rootfs::prepare(&rootfs_plan).step("prepare rootfs")?;
    run_create_hooks(args)?;
    rootfs::enter(&rootfs_plan).step("pivot root")?;
    // After the pivot (the container's /dev/ptmx), before finalize (which
    // may make /dev read-only), as in runc.
    set_up_terminal(process, &mut args.channel, true)?;
    rootfs::reopen_null_stdio().step("reopen /dev/null for stdio")?;
    write_sysctls(spec)?;
    rootfs::finalize(spec).step("finalize rootfs")?;
    args.namespaces.close();

    if !args.no_new_keyring {
        // With an SELinux label, the keyring is made with it (runc's
        // SetKeyLabel); the key label is cleared again after.
        let label = process.selinux_label().as_deref().filter(|l| !l.is_empty());
        if label.is_some() {
            lsm::set_keyring_label(label).step("set keyring label")?;
        }
        let name = CString::new(format!("_ses.{}", args.id)).expect("ids have no NUL");
        sys::join_session_keyring(&name).step("join session keyring")?;
        if label.is_some() {
            lsm::set_keyring_label(None).step("set keyring label")?;
        }
    }
    let (executable, exec) = become_process(process, args.tuning, args.seccomp, &mut args.channel, args.preserve_fds, args.rootless_euid)?;

    args.channel.tell(&ChildSays::Ready { timeline: timeline::take() }).step("report ready")?;
    args.channel.wait_for(Exchange::Committed).step("wait for the parent to record the container")?;
    let start = wait_for_start(&args.fifo)?;
    // Without `env`, a startContainer hook has the process's environment,
    // as runc's init has taken it on by then.
    let inherited = hooks::Inherited { env: Some(&exec.env_strings), cwd: None };
    let started = run_hook_in_container(args, hooks::Kind::StartContainer, Status::Created, inherited);
    // `start` reads the fifo to its end: a failure here is its error; the
    // end of file when execve closes the fifo is its success.
    let outcome = started.and_then(|()| exec_process(&executable, exec));
    if let Err(failure) = &outcome {
        let report = serde_json::to_vec(failure).expect("a failure serialises");
        let _ = nix::unistd::write(&start, &report);
    }
    outcome
}

/// Between mounts and pivot_root: the parent runs the prestart and
/// createRuntime hooks in the runtime's namespaces, then the init runs the
/// createContainer hooks in the container's (their paths still resolve on
/// the host: the root is not pivoted yet).
fn run_create_hooks(args: &mut InitArgs<'_>) -> Result<(), Failure> {
    args.channel.ask(Exchange::CreateHooks, None).step("wait for createRuntime hooks")?;
    // As runc's init runs them: in the rootfs, and without `env` with the
    // process's environment as configured (HOME is added later).
    let process = args.spec.process().as_ref().expect("validated: process is present");
    let inherited = hooks::Inherited { env: Some(process.env().as_deref().unwrap_or_default()), cwd: Some(&args.rootfs) };
    run_hook_in_container(args, hooks::Kind::CreateContainer, Status::Creating, inherited)
}

/// Runs hooks of `kind` from the init, with the pid as the container sees it.
fn run_hook_in_container(args: &InitArgs<'_>, kind: hooks::Kind, status: Status, inherited: hooks::Inherited<'_>) -> Result<(), Failure> {
    let hooks = args.spec.hooks().as_ref();
    if !hooks::any(hooks, &[kind]) {
        return Ok(());
    }
    let mut state = args.state.clone();
    state["status"] = status.as_str().into();
    state["pid"] = std::process::id().into();
    hooks::run(hooks, kind, &state, inherited).step(kind.name())
}

/// With process.terminal, a pty of the container's devpts becomes the
/// process's stdio and controlling terminal (the init's also
/// `/dev/console`). Its master goes to the parent over the channel, and the
/// parent passes it on: the console socket's path is the host's, which the
/// init, pivoted or joined into the container, can no longer reach; and in
/// the foreground it is husk itself that keeps the master.
///
/// Without a terminal the process still leads a session of its own, as
/// runc's does (nsexec's stage 2 calls setsid for every init and exec):
/// CRIU refuses to dump a process whose session leader is outside the
/// container's pid namespace, and a session shared with the engine would
/// let job-control signals aimed at the engine's terminal reach it.
fn set_up_terminal(process: &Process, channel: &mut ChildEnd, bind_console: bool) -> Result<(), Failure> {
    if process.terminal() != Some(true) {
        return nix::unistd::setsid().map(drop).step("start a session of its own");
    }
    let pty = terminal::open(process.console_size().as_ref()).step("create pty")?;
    if bind_console {
        rootfs::bind_console(pty.slave.as_fd()).step("bind pty over /dev/console")?;
    }
    channel.ask(Exchange::Console, Some(pty.master.as_fd())).step("pass the pty master on")?;
    // Our copy must not reach the container's program.
    drop(pty.master);
    terminal::make_controlling(pty.slave, process.user().uid()).step("make the pty the controlling terminal")
}

/// A process placed in its cgroup gets every CPU its cpuset allows: on
/// kernels since 6.2 it would otherwise keep the affinity it inherited
/// (the engine's, systemd's `CPUAffinity=`), as runc 1.3.1 found. A
/// failure changes nothing and is not one of the container's: ignored, as
/// runc only warns.
fn reset_affinity() {
    let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &fields::all_cpus());
}

/// The process's own attributes, shared by the container's init and by
/// `exec`: rlimits, scheduling, seccomp, capabilities, user, working
/// directory and no_new_privs. Returns what execve needs.
///
/// A seccomp profile may deny anything but what the container's program
/// needs, so only what must follow the filter does: fds, signals, umask,
/// the tuning fields, the user and the working directory come first.
fn become_process(
    process: &Process,
    tuning: &Tuning,
    filter: Option<&seccomp::Filter>,
    channel: &mut ChildEnd,
    preserve_fds: i32,
    rootless_euid: bool,
) -> Result<(PathBuf, Exec), Failure> {
    process::set_rlimits(process).step("set rlimits")?;
    let exec = prepare_exec(process)?;
    tune(tuning)?;
    // Marked close-on-exec here, before the filter; anything husk opens
    // later is opened close-on-exec (Rust's std and nix calls with
    // O_CLOEXEC), so execve still takes nothing of husk's along.
    sys::cloexec_from(3 + preserve_fds).or_else(|_| sys::cloexec_from_proc(3 + preserve_fds)).step("close inherited fds")?;
    sys::reset_signals();
    nix::sys::stat::umask(exec.umask);

    let no_new_privs = process.no_new_privileges() == Some(true);
    let capabilities = CapabilityPlan::new(process.capabilities().as_ref());
    capabilities.limit_bounding().step("limit bounding capabilities")?;
    nix::sys::prctl::set_keepcaps(true).step("keep capabilities")?;
    // runc's order: the working directory is entered first as root, who
    // may traverse what the user may not, and again after the switch only
    // if root was refused.
    let entered = process::enter_cwd_as_root(process).step("enter working directory")?;
    process::switch_user(process, rootless_euid).step("switch user")?;
    // Again: a change of uid or gid resets the dumpable flag to
    // fs.suid_dumpable, which a host may set to 1. Done at once, while the
    // full permitted set (kept above) still keeps container processes out.
    non_dumpable()?;
    nix::sys::prctl::set_keepcaps(false).step("keep capabilities")?;
    if !entered {
        process::enter_cwd(process).step("enter working directory")?;
    }
    if no_new_privs {
        capabilities.apply().step("set capabilities")?;
    }
    // The AppArmor profile and SELinux label that the next execve, the
    // container's program, takes on (the parent checked that the host runs
    // that LSM). Set before no_new_privs, as runc does, and before the wait
    // for `start`, so that a profile the kernel refuses fails `create`.
    lsm::ExecLabels::of(process).apply().step("set LSM exec labels")?;
    if no_new_privs {
        nix::sys::prctl::set_no_new_privs().step("set no_new_privs")?;
    }
    let executable = process::find_executable(&process.args().as_ref().expect("validated")[0], &exec.env_strings)
        .step("find executable")?;
    if no_new_privs {
        load_seccomp(filter, channel)?;
    } else {
        // Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: the
        // whole permitted set is effective until the filter is in, and the
        // config's sets are applied after it. runc loads it before the
        // user switch; here the capability calls are the only ones the
        // filter must allow besides the start handshake.
        if filter.is_some() {
            capabilities.raise_effective().step("raise capabilities to load seccomp")?;
        }
        load_seccomp(filter, channel)?;
        capabilities.apply().step("set capabilities")?;
    }
    Ok((executable, exec))
}

/// Loads the filter; one that notifies has its fd passed to the listener
/// (by the parent, which can reach the listener's path).
fn load_seccomp(filter: Option<&seccomp::Filter>, channel: &mut ChildEnd) -> Result<(), Failure> {
    if filter.is_some() {
        timeline::stop_at("load seccomp filter");
    }
    if let Some(notify) = seccomp::install(filter).step("load seccomp filter")? {
        channel.ask(Exchange::SeccompListener, Some(notify.as_fd())).step("pass the seccomp notify fd on")?;
    }
    Ok(())
}

/// process.scheduler, process.ioPriority, linux.memoryPolicy,
/// execCPUAffinity.final and linux.personality, while the process still
/// has the capabilities they may need (CAP_SYS_NICE for a real-time
/// policy, CAP_SYS_ADMIN for the real-time I/O class).
fn tune(tuning: &Tuning) -> Result<(), Failure> {
    if let Some(attr) = &tuning.scheduler {
        sys::tuning::sched_setattr(attr).map_err(|e| fields::SchedulerError::of(attr, e)).step("set scheduler")?;
    }
    if let Some(ioprio) = tuning.io_priority {
        sys::tuning::ioprio_set_self(ioprio).step("set I/O priority")?;
    }
    if let Some(policy) = &tuning.memory_policy {
        sys::tuning::set_mempolicy(policy.mode, &policy.nodemask).step("set memory policy")?;
    }
    if let Some(cpus) = &tuning.final_cpus {
        let set = fields::cpu_set(cpus).step("set final CPU affinity")?;
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).step("set final CPU affinity")?;
    }
    if let Some(persona) = tuning.personality {
        sys::tuning::set_personality(persona).step("set personality")?;
    }
    Ok(())
}

fn set_host_names(spec: &Spec) -> Result<(), Failure> {
    if let Some(hostname) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(hostname).step("set hostname")?;
    }
    if let Some(domain) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        sys::set_domainname(domain.as_bytes()).step("set domainname")?;
    }
    Ok(())
}

/// Writes linux.sysctl under the container's /proc/sys (validated to be
/// namespaced keys only), through procfs.rs: a bind mount over a sysctl
/// file must not turn the write into one of a host file.
fn write_sysctls(spec: &Spec) -> Result<(), Failure> {
    let sysctls = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
    for (key, value) in sysctls.into_iter().flatten() {
        let relative = format!("sys/{}", key.replace('.', "/"));
        crate::procfs::write(&relative, value.as_bytes()).map_err(SysctlError).step("write sysctl")?;
    }
    Ok(())
}

struct Exec {
    args: Vec<CString>,
    env: Vec<CString>,
    env_strings: Vec<String>,
    umask: Mode,
}

fn prepare_exec(process: &Process) -> Result<Exec, Failure> {
    let env_strings = process::environment(process);
    Ok(Exec {
        args: process::cstrings(process.args().as_deref().unwrap_or_default(), "process.args")
            .step("prepare arguments")?,
        env: process::cstrings(&env_strings, "process.env").step("prepare environment")?,
        env_strings,
        umask: Mode::from_bits_truncate(process.user().umask().unwrap_or(0o022)),
    })
}

/// Blocks until `start` opens the fifo for reading, then tells it we go.
/// The fifo is reached through our O_PATH fd: its path is outside the
/// rootfs. The writing end is returned, open until execve closes it.
fn wait_for_start(fifo: &OwnedFd) -> Result<OwnedFd, Failure> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let writer = nix::fcntl::open(path.as_str(), OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
        .step("open exec fifo")?;
    nix::unistd::write(&writer, b"0").step("signal start")?;
    Ok(writer)
}

/// Nothing but execve: it runs under the container's seccomp filter.
fn exec_process(executable: &Path, exec: Exec) -> Result<Infallible, Failure> {
    let path = process::cpath(executable).step("exec")?;
    nix::unistd::execve(&path, &exec.args, &exec.env).step("exec")
}
