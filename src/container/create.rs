//! `create`, the parent's side: load the bundle, claim the id, launch the
//! init into its namespaces and cgroup, then record the container. Read it
//! top to bottom; each step is named.
//!
//! If anything fails, the guards undo what was done: the init (and with it
//! its mount namespace) is killed and reaped, the cgroup removed, and the
//! state directory too. Nothing is left on the host.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;

use super::write_pid_file;
use crate::activation::{self, NotifySocket};
use crate::cgroups::{self, Cgroup, CgroupPaths, Scope, SystemdUnit};
use crate::checkpoint::restore::{self, RestoreOptions};
use crate::config_error::ConfigError;
use crate::error::{Error, Result};
use crate::hooks;
use crate::host::{self, HostFacts};
use crate::init::{self, InitArgs};
use crate::launch::console::{self, ConsoleTarget};
use crate::launch::parent::{self, ParentPart};
use crate::launch::pidfd;
use crate::launch::spawn::{self, Children, Spawned};
use crate::launch::{self, Launching, ParentEnd, Route, Script};
use crate::logging;
use crate::namespaces::NamespacePlan;
use crate::intel_rdt;
use crate::netdev;
use crate::id_maps::{self, IdMapPlan};
use crate::process::fields::{self, Tuning};
use crate::rootless::Caller;
use crate::rootfs;
use crate::spec;
use crate::state::{self, Container, EXEC_FIFO, ExecDefaults, Status, Store};
use crate::sys::Forked;

pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// Socket-activation fds (from 3 on) to pass before the preserved ones.
    pub listen_fds: u32,
    /// The host's NOTIFY_SOCKET, to relay the service's readiness to.
    pub notify_socket: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--pidfd-socket`.
    pub pidfd_socket: Option<PathBuf>,
    /// `create` and `run -d`: husk will not stay with the container.
    pub detached: bool,
    /// `--systemd-cgroup`: the cgroup is a systemd scope.
    pub systemd_cgroup: bool,
    /// `--rootless`, decided: a cgroup husk may not make is skipped when
    /// the config asks for no limits.
    pub rootless: bool,
    /// Who husk runs as: how the id maps are written.
    pub caller: Caller,
    /// `restore`: CRIU brings the container's processes back from its
    /// images instead of an init being launched.
    pub restore: Option<RestoreOptions>,
}

/// A created container, waiting for `start`.
pub struct Created {
    pub container: Container,
    /// The pty master, when husk keeps it (a terminal in the foreground).
    pub console: Option<OwnedFd>,
}

/// Creates the container; on success its init waits for `start`.
pub fn create(store: &Store, opts: &CreateOptions, warn: &mut dyn FnMut(&str)) -> Result<Created> {
    let phase = |name: &str| logging::phase("create", &opts.id, name);
    state::validate_id(&opts.id)?;
    let bundle = std::fs::canonicalize(&opts.bundle).map_err(Error::io("bundle", &opts.bundle))?;
    let mut loaded = spec::load(&bundle)?;
    for warning in &loaded.warnings {
        warn(&format!("{}: {warning}", loaded.file.display()));
    }
    activation::pass_listen_fds(&mut loaded.spec, opts.listen_fds);
    let notify = opts.notify_socket.as_ref().map(|host| NotifySocket::new(host, &store.dir(&opts.id)));
    if let Some(notify) = &notify {
        notify.add_to_spec(&mut loaded.spec);
    }
    let spec = &loaded.spec;
    // Decided before the id is claimed, so that a refusal leaves nothing.
    let mut plan = Plan::new(&loaded, &bundle, opts)?;
    phase("spec loaded");
    let reservation = store.reserve(&opts.id)?;
    if let Some(restore) = &opts.restore {
        restore::check(restore, &opts.id, warn)?;
    }
    // Once the id is ours (a duplicate id is refused first): a cgroup
    // that already has processes is shared, as runc 1.1 allows with this
    // warning (a systemd unit is always new: Scope refuses one in use).
    if plan.systemd.is_none() {
        let found = cgroups::processes_in(&plan.cgroup);
        if found > 0 {
            warn(&format!("container's cgroup is not empty: {found} process(es) found"));
            plan.shared_cgroup = true;
        }
    }

    // Recorded before anything is made, so that `delete` can undo a create
    // that was killed half-way, cgroup included. What later verbs need of
    // the config is kept too: they must not depend on the bundle.
    let container = Container {
        id: opts.id.clone(),
        bundle: bundle.clone(),
        rootfs: spec::rootfs_path(spec, &bundle),
        pid: 0,
        pid_start: 0,
        created: state::now_rfc3339(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        owner: String::new(),
        cgroup: Some(plan.cgroup.clone()),
        systemd: plan.systemd.clone(),
        intel_rdt: None,
        hooks: spec.hooks().clone(),
        shared_pid_ns: !plan.namespaces.creates(CloneFlags::CLONE_NEWPID),
    };
    store.save(&container)?;
    if plan.shared_cgroup {
        // Before anything is made: a `delete` of a create killed half-way
        // must leave the cgroup too.
        let marker = store.dir(&opts.id).join(super::SHARED_CGROUP);
        std::fs::write(&marker, b"").map_err(Error::io("mark the cgroup shared", &marker))?;
    }
    if let Some(notify) = &notify {
        notify.make_dir()?;
    }
    phase("state saved");
    let stopped = container.state_with(Status::Stopped, 0);
    let created = set_up(store, opts, &loaded, container, reservation, plan, &phase);
    if created.is_err() {
        // The container is stopped and gone (the guards undid it): as after
        // `delete`, its poststop hooks run (runc's destroy does the same).
        hooks::run_poststop(spec.hooks().as_ref(), &stopped, warn);
    }
    created
}

/// What `create` decides from the config before it claims the id.
struct Plan {
    namespaces: NamespacePlan,
    /// Where the pty master goes, with a terminal.
    console: Option<ConsoleTarget>,
    /// The order of the launch.
    script: Script,
    /// Read once, for the cgroup's path and the init's mounts.
    host: HostFacts,
    cgroup: CgroupPaths,
    /// The cgroup had processes in it already (create warned).
    shared_cgroup: bool,
    /// The unit that will hold the cgroup, with the systemd driver, and
    /// the unit properties the annotations ask for.
    systemd: Option<SystemdUnit>,
    unit_properties: Vec<crate::systemd::manager::Property>,
    /// `linux.netDevices`, each host interface looked up.
    net_devices: Vec<netdev::Move>,
    /// `linux.intelRdt`, checked against the host's resctrl tree.
    intel_rdt: Option<intel_rdt::RdtPlan>,
    /// The scheduler, I/O priority, personality and memory policy the init
    /// takes, checked against the host's CPUs and nodes.
    tuning: Tuning,
    /// The id-mapped mounts, made before anything else: a source that
    /// cannot be id-mapped is a config error that leaves nothing.
    idmapped: rootfs::IdmappedMounts,
    /// How a new user namespace's maps are written; a mapping the caller
    /// may not have is a config error before anything is made.
    id_maps: Option<IdMapPlan>,
}

impl Plan {
    fn new(loaded: &spec::Loaded, bundle: &Path, opts: &CreateOptions) -> Result<Plan> {
        let spec = &loaded.spec;
        let terminal = spec.process().as_ref().is_some_and(|p| p.terminal() == Some(true));
        let namespaces = NamespacePlan::from_spec(spec)?;
        let console = console::target(terminal, opts.detached, opts.console_socket.as_deref()).map_err(launch::LaunchError::from)?;
        let route = Route {
            launching: Launching::Init,
            creates_user_ns: namespaces.creates(CloneFlags::CLONE_NEWUSER),
            intermediate: namespaces.needs_intermediate(),
            runtime_create_hooks: hooks::any(spec.hooks().as_ref(), hooks::RUNTIME_CREATE),
            terminal: console.is_some(),
            seccomp_listener: loaded.seccomp.as_ref().is_some_and(|f| f.listener().is_some()),
        };
        let host = HostFacts::read()?;
        let cgroups_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().as_ref()).map(|p| p.to_string_lossy());
        let (cgroup, systemd, unit_properties) = if opts.systemd_cgroup {
            let (unit, paths) = if opts.rootless {
                // The user's systemd instance, over the user's bus.
                let manager_cgroup = || crate::systemd::manager::Manager::user()?.control_group();
                SystemdUnit::resolve_user(&host, cgroups_path.as_deref(), &opts.id, manager_cgroup)?
            } else {
                SystemdUnit::resolve(&host, &host::read_init_cgroups()?, cgroups_path.as_deref(), &opts.id)?
            };
            (paths, Some(unit), cgroups::annotated_properties(spec.annotations().as_ref())?)
        } else {
            (cgroups::resolve(&host, cgroups_path.as_deref().map(Path::new), &opts.id)?, None, Vec::new())
        };
        let net_devices = netdev::plan(spec.linux().as_ref().and_then(|l| l.net_devices().as_ref())).map_err(launch::LaunchError::from)?;
        let tuning = tuning(loaded)?;
        let intel_rdt = spec.linux().as_ref().and_then(|l| l.intel_rdt().as_ref());
        let intel_rdt = intel_rdt.map(|rdt| intel_rdt::plan(rdt, &opts.id, intel_rdt::resctrl_root(&host))).transpose()?;
        // Its config errors name the file, as the loader's do.
        let idmapped = rootfs::idmap::prepare(spec, bundle).map_err(|e| match e {
            rootfs::RootfsError::Config { field, message } => {
                Error::from(spec::SpecError::from(ConfigError::new(&loaded.file, field, message)))
            }
            other => Error::from(other),
        })?;
        let id_maps = route.creates_user_ns.then(|| id_map_plan(loaded, &opts.caller)).transpose()?;
        Ok(Plan {
            namespaces,
            console,
            script: Script::new(&route),
            host,
            cgroup,
            shared_cgroup: false,
            systemd,
            unit_properties,
            net_devices,
            tuning,
            idmapped,
            intel_rdt,
            id_maps,
        })
    }

    /// The init enters its cgroup itself where it can: cloned straight into
    /// its namespaces, as the host's root (not yet in a user namespace of
    /// its own, where the cgroup files are not its to write). Not into a
    /// systemd scope: systemd makes it for the init's pid, and moves it in.
    fn enters_cgroup_itself(&self) -> bool {
        !self.namespaces.needs_intermediate() && !self.namespaces.creates(CloneFlags::CLONE_NEWUSER) && self.systemd.is_none()
    }

    /// The cgroup as its driver makes it.
    fn cgroup_driver(&self, id: &str) -> Box<dyn Cgroup> {
        match &self.systemd {
            Some(unit) => Box::new(Scope::new(unit.clone(), &self.cgroup, id, self.unit_properties.clone())),
            None => cgroups::open(&self.cgroup),
        }
    }
}

fn id_map_plan(loaded: &spec::Loaded, caller: &Caller) -> Result<IdMapPlan> {
    let linux = loaded.spec.linux().as_ref();
    let uid = linux.and_then(|l| l.uid_mappings().as_deref()).unwrap_or_default();
    let gid = linux.and_then(|l| l.gid_mappings().as_deref()).unwrap_or_default();
    id_maps::plan(uid, gid, &id_maps::Host::read(caller))
        .map_err(|e| spec::SpecError::Field(ConfigError::new(&loaded.file, e.field, e.problem)).into())
}

/// The config's tuning fields, converted, with the CPUs and memory nodes
/// they name checked against the host's.
fn tuning(loaded: &spec::Loaded) -> Result<Tuning> {
    let spec = &loaded.spec;
    let linux = spec.linux().as_ref();
    let sources = fields::Sources {
        process: spec.process().as_ref().expect("validated: process is present"),
        process_prefix: "process.",
        personality: linux.and_then(|l| l.personality().as_ref()),
        memory_policy: linux.and_then(|l| l.memory_policy().as_ref()),
        exec: false,
    };
    sources.convert_on_host()
        .map_err(|(field, problem)| spec::SpecError::Field(ConfigError::new(&loaded.file, field, problem)).into())
}

/// What `exec` reads of the config, kept beside state.json.
fn exec_defaults(loaded: &spec::Loaded) -> ExecDefaults {
    let spec = &loaded.spec;
    ExecDefaults {
        process: spec.process().clone().expect("validated: process is present"),
        seccomp: loaded.seccomp.clone(),
        personality: spec.linux().as_ref().and_then(|l| l.personality().clone()),
        memory_policy: spec.linux().as_ref().and_then(|l| l.memory_policy().clone()),
    }
}

/// Everything of `create` after the container's state was first recorded:
/// cgroup, init, the launch, and the final record. On error the guards
/// kill what was started and remove what was made.
fn set_up(
    store: &Store,
    opts: &CreateOptions,
    loaded: &spec::Loaded,
    mut container: Container,
    reservation: state::Reservation,
    plan: Plan,
    phase: &dyn Fn(&str),
) -> Result<Created> {
    let spec = &loaded.spec;
    let cgroup = make_cgroup(&plan, opts, loaded)?;
    let cgroup_paths = cgroup.as_ref().map(|_| plan.cgroup.clone());
    if cgroup.is_none() {
        container.cgroup = None;
    }
    phase("cgroup ready");
    if let Some(options) = &opts.restore {
        let mut children = Children::default();
        let ctx = restore::Context {
            options,
            spec,
            container: &container,
            state_dir: &reservation.dir,
            cgroup: cgroup.as_ref().map(|c| c.get()),
            cgroup_paths: cgroup_paths.as_ref(),
            console: plan.console.as_ref(),
        };
        let restored = restore::launch(&ctx, &mut children, &mut |m| logging::warn(m))?;
        phase("restored");
        // `exec` into a restored container reads them as into a created one.
        store.save_exec_defaults(&opts.id, &exec_defaults(loaded))?;
        let rdt = record(store, opts, plan.intel_rdt.as_ref(), &mut container, restored.pid)?;
        children.release();
        if let Some(cgroup) = cgroup {
            cgroup.release();
        }
        rdt.release();
        reservation.keep();
        return Ok(Created { container, console: restored.console });
    }
    let fifo = make_exec_fifo(&reservation.dir)?;
    let (mut parent_end, init_end) = launch::pair(&plan.script)?;
    let cgroup_entry = cgroup.as_ref().filter(|_| plan.enters_cgroup_itself()).map(|c| c.get().entry());
    let args = InitArgs {
        id: &opts.id,
        spec,
        bundle: &container.bundle,
        rootfs: container.rootfs.clone(),
        namespaces: plan.namespaces,
        state: container.state_with(Status::Creating, 0),
        channel: init_end,
        fifo,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.listen_fds as i32 + opts.preserve_fds,
        seccomp: loaded.seccomp.as_ref(),
        cgroup_entry,
        host: &plan.host,
        cgroup: cgroup_paths.as_ref(),
        tuning: &plan.tuning,
        idmapped: plan.idmapped,
        rootless_euid: opts.caller.euid != 0,
        husk_in_user_ns: opts.caller.in_user_ns,
    };

    let mut children = Children::default();
    let (first, born_in_cgroup) = spawn_init(args, &parent_end, &mut children)?;
    phase("init cloned");
    // While the init sets itself up on the other CPU: only `exec`, of a
    // started container, reads it, and a failed create removes it with the
    // state directory.
    store.save_exec_defaults(&opts.id, &exec_defaults(loaded))?;
    phase("exec defaults saved");
    let state = container.state_with(Status::Creating, 0);
    let part = ParentPart {
        id_maps: plan.id_maps.as_ref(),
        cgroup: cgroup.as_ref().map(|c| c.get()),
        oom_score_adj: spec.process().as_ref().and_then(|p| p.oom_score_adj()),
        hooks: spec.hooks().as_ref(),
        state: &state,
        console: plan.console.as_ref(),
        listener: loaded.seccomp.as_ref().and_then(|f| f.listener()),
        net_devices: &plan.net_devices,
        placement_may_fail: false,
    };
    let launched = parent::converse(&mut parent_end, &part, first, born_in_cgroup, &mut children)?;
    phase("init ready");

    let rdt = record(store, opts, plan.intel_rdt.as_ref(), &mut container, launched.pid)?;
    parent::commit(&mut parent_end)?;
    children.release();
    if let Some(cgroup) = cgroup {
        cgroup.release();
    }
    rdt.release();
    reservation.keep();
    phase("recorded");
    Ok(Created { container, console: launched.console })
}

/// Records the container's init (launched or restored): its resctrl
/// groups, its pid in the state, the pidfd and pid file. Returns the
/// resctrl guard, which the caller releases once all is done.
fn record(store: &Store, opts: &CreateOptions, rdt: Option<&intel_rdt::RdtPlan>, container: &mut Container, pid: nix::unistd::Pid) -> Result<RdtGuard> {
    // Before the init runs anything: its children inherit the groups.
    let rdt = RdtGuard { state: rdt.map(|p| intel_rdt::apply(p, pid.as_raw())).transpose()? };
    container.intel_rdt = rdt.state.clone();
    container.pid = pid.as_raw();
    container.pid_start = state::start_time(container.pid).ok_or(super::LifecycleError::InitExitedDuringCreate)?;
    store.save(container)?;
    if let Some(socket) = &opts.pidfd_socket {
        pidfd::send(socket, pid, pidfd::ProcessKind::Init).map_err(launch::LaunchError::from)?;
    }
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    Ok(rdt)
}

/// Makes the container's cgroup. Rootless, a cgroup husk may not make is
/// skipped, as runc's rootless cgroup manager skips it, when the config
/// names no cgroup and asks for no limits: the container then stays in
/// husk's own cgroup. Asked-for limits are an error naming them.
fn make_cgroup(plan: &Plan, opts: &CreateOptions, loaded: &spec::Loaded) -> Result<Option<CgroupGuard>> {
    let linux = loaded.spec.linux().as_ref();
    let resources = linux.and_then(|l| l.resources().as_ref());
    let error = match CgroupGuard::create(plan.cgroup_driver(&opts.id), resources, plan.shared_cgroup) {
        Ok(guard) => return Ok(Some(guard)),
        Err(error) if error.is_permission() => error,
        Err(error) => return Err(error.into()),
    };
    if !opts.rootless {
        if opts.caller.euid != 0 {
            return Err(super::LifecycleError::NotRootCgroup { euid: opts.caller.euid, source: error }.into());
        }
        return Err(error.into());
    }
    if let Some(field) = resources.and_then(cgroups::first_limit) {
        let problem = format!("cannot be applied: rootless husk may not make the container's cgroup ({error})");
        return Err(spec::SpecError::Field(ConfigError::new(&loaded.file, format!("linux.resources.{field}"), problem)).into());
    }
    if linux.and_then(|l| l.cgroups_path().as_ref()).is_some() {
        return Err(error.into());
    }
    logging::debug(&format!("create {}: no cgroup of its own ({error})", opts.id));
    Ok(None)
}

/// Clones the init, straight into its namespaces (and its cgroup, if it
/// enters it itself) or through an intermediate process. Returns the pid of
/// the process the parent talks to first, and whether it was born in its
/// cgroup.
fn spawn_init(args: InitArgs<'_>, parent_end: &ParentEnd, children: &mut Children) -> Result<(nix::unistd::Pid, bool)> {
    if args.namespaces.needs_intermediate() {
        match spawn::fork_intermediate()? {
            Forked::Child => {
                parent_end.channel().close_in_child();
                init::intermediate_main(args)
            }
            Forked::Parent(pid) => {
                children.push(pid);
                Ok((pid, false))
            }
        }
    } else {
        let Spawned { forked, born_in_cgroup } = spawn::clone_into(&args.namespaces, Some(args.spec), args.cgroup_entry.as_ref())?;
        match forked {
            Forked::Child => {
                parent_end.channel().close_in_child();
                init::main(args)
            }
            Forked::Parent(pid) => {
                children.push(pid);
                Ok((pid, born_in_cgroup))
            }
        }
    }
}

/// The fifo the init blocks on until `start`; the init gets an O_PATH fd of
/// it, since its path is outside the container.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd> {
    let path = dir.join(EXEC_FIFO);
    let fail = |op: &'static str| {
        let path = path.clone();
        move |source| super::LifecycleError::ExecFifo { op, path, source }
    };
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o622)).map_err(fail("mkfifo"))?;
    // mkfifo applied the umask; the init may run as any user.
    nix::sys::stat::fchmodat(nix::fcntl::AT_FDCWD, &path, Mode::from_bits_truncate(0o622), nix::sys::stat::FchmodatFlags::FollowSymlink)
        .map_err(fail("chmod"))?;
    Ok(nix::fcntl::open(&path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(fail("open"))?)
}

/// The resctrl groups while create runs: removed on drop unless released.
struct RdtGuard {
    state: Option<intel_rdt::RdtState>,
}

impl RdtGuard {
    fn release(mut self) {
        self.state = None;
    }
}

impl Drop for RdtGuard {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let _ = intel_rdt::remove(&state);
        }
    }
}

/// The container's cgroup while create runs: destroyed on drop unless
/// released, after the processes in it were killed (declared before
/// `Children`, it is dropped after it).
struct CgroupGuard {
    cgroup: Option<Box<dyn Cgroup>>,
    /// The cgroup had someone else's processes in it: never killed or
    /// removed by us.
    shared: bool,
}

impl CgroupGuard {
    /// A `shared` cgroup had processes of someone else's in it: a failed
    /// create leaves it, and them, alone.
    fn create(cgroup: Box<dyn Cgroup>, resources: Option<&oci_spec::runtime::LinuxResources>, shared: bool) -> cgroups::Result<Self> {
        // Made before the guard exists: a cgroup refused (frozen, a systemd
        // unit in use) is never killed or removed by us.
        cgroup.create()?;
        let guard = CgroupGuard { cgroup: Some(cgroup), shared };
        let cgroup = guard.get();
        if let Some(resources) = resources {
            cgroup.apply(resources)?;
        }
        Ok(guard)
    }

    fn get(&self) -> &dyn Cgroup {
        self.cgroup.as_deref().expect("present until released")
    }

    fn release(mut self) {
        self.cgroup = None;
    }
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        if let Some(cgroup) = self.cgroup.take()
            && !self.shared
        {
            let _ = cgroup.signal_all(libc::SIGKILL);
            let _ = cgroup.destroy();
        }
    }
}
