//! `exec`: a new process in a running container. It joins every namespace
//! of the container's init, its cgroup, and gets the process attributes and
//! the seccomp filter of the container, then execs; husk waits for it unless
//! detached, and exits with its code. What it needs of the config was kept
//! in the state at create: the bundle is not read again.

use std::path::PathBuf;

use nix::sched::CpuSet;
use oci_spec::runtime::Process;

use super::{LifecycleError, proxy, run, write_pid_file};
use crate::cgroups;
use crate::error::{Error, Result};
use crate::init::{self, ExecArgs};
use crate::launch::console;
use crate::launch::parent::{self, ParentPart};
use crate::launch::pidfd;
use crate::launch::spawn::{self, Children, Spawned};
use crate::launch::{self, Route, Script};
use crate::namespaces::NamespacePlan;
use crate::process::fields::{self, Tuning};
use crate::security::lsm;
use crate::state::{ExecDefaults, Status, Store};
use crate::sys::Forked;

pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--cgroup`: cgroups below the container's to go into instead.
    pub sub_cgroups: Option<cgroups::sub::SubCgroups>,
    /// `--pidfd-socket`.
    pub pidfd_socket: Option<PathBuf>,
}

/// Runs the process; returns husk's exit code (the process's, in the
/// foreground).
pub fn exec(store: &Store, opts: &ExecOptions) -> Result<i32> {
    let phase = |name: &str| crate::logging::phase("exec", &opts.id, name);
    let container = store.load(&opts.id)?;
    match store.status(&container) {
        Status::Stopped | Status::Creating => return Err(LifecycleError::ExecStopped.into()),
        // Until `start`, the container's pid 1 is husk's own binary (a fork
        // of `create`, waiting to exec). No container process may run beside
        // it: with CAP_SYS_PTRACE one could hold /proc/1/exe and write husk
        // once it execs (CVE-2019-5736).
        Status::Created => return Err(LifecycleError::ExecCreated.into()),
        Status::Paused if !opts.ignore_paused => return Err(LifecycleError::ExecPaused.into()),
        _ => {}
    }
    let debug = |step: &str| crate::logging::debug_with(|| format!("exec {}: {step}", opts.id));
    debug(&format!("running {:?} in the container of init pid {}", opts.process.args().as_deref().unwrap_or_default(), container.pid));
    let terminal = opts.process.terminal() == Some(true);
    let console_target = console::target(terminal, opts.detach, opts.console_socket.as_deref()).map_err(launch::LaunchError::from)?;
    let defaults = store.load_exec_defaults(&opts.id)?;
    // The process's own AppArmor profile and SELinux label (--apparmor,
    // --process-label, -p) need their LSM, as the config's do.
    lsm::check_process(&opts.process, lsm::host)
        .map_err(|(field, problem)| LifecycleError::ExecProcess { field, problem })?;
    let tuning = tuning(opts, &defaults)?;
    let listener = defaults.seccomp.as_ref().and_then(|f| f.listener());
    let namespaces = NamespacePlan::of_process(container.pid)?;
    // Rootless, the container's pid namespace may be joined only from
    // inside its user namespace: an intermediate joins that first.
    let rootless_euid = !nix::unistd::geteuid().is_root();
    let intermediate = rootless_euid && namespaces.joins(nix::sched::CloneFlags::CLONE_NEWUSER);
    let script = Script::new(&Route {
        terminal: console_target.is_some(),
        seccomp_listener: listener.is_some(),
        intermediate,
        ..Route::exec()
    });
    phase("state and process loaded");
    debug("joining the init's namespaces and cgroup");
    if !opts.detach {
        run::take_over_signals()?;
    }
    let (mut parent_end, child_end) = launch::pair(&script)?;
    // Into the container's cgroup at birth and by itself, as the init (see
    // cgroups::Entry): before it joins the container's mount namespace, the
    // host's cgroup files are still in its view.
    let paths = match (&container.cgroup, &opts.sub_cgroups) {
        (Some(paths), Some(subs)) => Some(cgroups::sub::apply(paths, subs).map_err(cgroups::CgroupError::from)?),
        (paths, _) => paths.clone(),
    };
    let cgroup = paths.as_ref().map(cgroups::open);
    let entry = cgroup.as_ref().map(|c| c.entry());
    // execCPUAffinity.initial: the CPUs the process runs on until it is in
    // the container's cgroup, where it is born (cgroup2) or which it joins
    // first thing (v1): set on husk itself, which the clone inherits it
    // from, and given back after.
    let own_affinity = match &tuning.initial_cpus {
        Some(cpus) => Some(set_initial_affinity(cpus)?),
        None => None,
    };
    let spawned = if intermediate {
        spawn::fork_intermediate().map(|forked| Spawned { forked, born_in_cgroup: false })
    } else {
        spawn::clone_into(&namespaces, None, entry.as_ref())
    };
    if let (Ok(Spawned { forked: Forked::Parent(_), .. }) | Err(_), Some(own)) = (&spawned, &own_affinity) {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), own);
    }
    let Spawned { forked, born_in_cgroup } = spawned?;
    let pid = match forked {
        Forked::Child => {
            parent_end.channel().close_in_child();
            let args = ExecArgs {
                process: &opts.process,
                namespaces,
                channel: child_end,
                seccomp: defaults.seccomp.as_ref(),
                preserve_fds: opts.preserve_fds,
                // Placed by the parent, when forked by an intermediate
                // outside the cgroup.
                cgroup_entry: entry.filter(|_| !intermediate),
                tuning: &tuning,
                rootless_euid,
            };
            if intermediate { init::exec_intermediate_main(args) } else { init::exec_main(args) }
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_end);
    drop(namespaces);
    debug(&format!("spawned pid {pid} (born in the cgroup: {born_in_cgroup})"));
    phase("process cloned");
    let mut children = Children::default();
    children.push(pid);

    let state = container.state_with(Status::Running, container.pid);
    let part = ParentPart {
        id_maps: None,
        cgroup: cgroup.as_deref(),
        oom_score_adj: None,
        hooks: None,
        state: &state,
        console: console_target.as_ref(),
        listener,
        net_devices: &[],
        placement_may_fail: rootless_euid,
    };
    let launched = parent::converse(&mut parent_end, &part, pid, born_in_cgroup, &mut children)?;
    // The process proper, when an intermediate forked it.
    let pid = launched.pid;
    debug(&format!("pid {pid} set up and executing"));
    phase("process executing");
    if let Some(socket) = &opts.pidfd_socket {
        pidfd::send(socket, pid, pidfd::ProcessKind::Exec).map_err(launch::LaunchError::from)?;
    }
    if let Some(pid_file) = &opts.pid_file {
        debug(&format!("writing pid file {}", pid_file.display()));
        write_pid_file(pid_file, pid)?;
    }
    children.release();
    if opts.detach {
        return Ok(0);
    }
    debug(&format!("waiting for pid {pid}{}", if launched.console.is_some() { " and proxying its terminal" } else { "" }));
    let code = match launched.console {
        Some(master) => proxy::proxy(pid, master),
        None => run::wait_forwarding(pid),
    }?;
    debug(&format!("pid {pid} exited: status {code}"));
    phase("process exited");
    Ok(code)
}

/// The process's tuning fields (its own, and the container's personality
/// and memory policy), with its CPU lists checked against the host's.
fn tuning(opts: &ExecOptions, defaults: &ExecDefaults) -> Result<Tuning> {
    // As in runc, the config's scheduler, I/O priority and CPU affinity are
    // those of a process.json that sets none.
    let mut process = opts.process.clone();
    if process.scheduler().is_none() {
        process.set_scheduler(defaults.process.scheduler().clone());
    }
    if process.io_priority().is_none() {
        process.set_io_priority(*defaults.process.io_priority());
    }
    if process.exec_cpu_affinity().is_none() {
        process.set_exec_cpu_affinity(defaults.process.exec_cpu_affinity().clone());
    }
    let sources = fields::Sources {
        process: &process,
        process_prefix: "",
        personality: defaults.personality.as_ref(),
        memory_policy: defaults.memory_policy.as_ref(),
        exec: true,
    };
    sources.convert_on_host()
        .map_err(|(field, problem)| LifecycleError::ExecProcess { field, problem }.into())
}

/// Sets husk's own affinity to `cpus`; returns the one it had.
fn set_initial_affinity(cpus: &[u32]) -> Result<CpuSet> {
    let me = nix::unistd::Pid::from_raw(0);
    let own = nix::sched::sched_getaffinity(me).map_err(Error::sys("sched_getaffinity"))?;
    let set = fields::cpu_set(cpus).map_err(Error::sys("execCPUAffinity.initial"))?;
    nix::sched::sched_setaffinity(me, &set).map_err(Error::sys("sched_setaffinity (execCPUAffinity.initial)"))?;
    Ok(own)
}
