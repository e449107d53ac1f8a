//! `create`, the parent's side: load the bundle, claim the id, clone the init
//! into its namespaces, answer its requests until it is set up, then record
//! the container. Read it top to bottom; each step is named.
//!
//! If anything fails, the guards undo what was done: the init (and with it
//! its mount namespace) is killed and reaped, and the state directory is
//! removed. Nothing is left on the host.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::console::{self, ConsoleTarget};
use crate::activation::{self, NotifySocket};
use crate::cgroups::{self, Cgroup, CgroupPaths};
use crate::error::{Error, Result};
use crate::hooks;
use crate::host::HostFacts;
use crate::init::{self, InitArgs};
use crate::logging;
use crate::namespaces::{self, NamespacePlan};
use crate::security::seccomp::{self, Filter};
use crate::spec;
use crate::state::{self, Container, EXEC_FIFO, Status, Store};
use super::parent::{Children, clone_entering, expect, expect_fd, write_pid_file};
use crate::sync::{self, Channel, FromInit, ToInit};
use crate::sys::{self, Forked};

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
    /// `create` and `run -d`: husk will not stay with the container.
    pub detached: bool,
}

/// A created container, waiting for `start`.
pub struct Created {
    pub container: Container,
    /// The pty master, when husk keeps it (a terminal in the foreground).
    pub console: Option<OwnedFd>,
}

/// Creates the container; on success its init waits for `start`.
pub fn create(store: &Store, opts: &CreateOptions, warn: &mut dyn FnMut(&str)) -> Result<Created> {
    let started = std::time::Instant::now();
    let phase = |name: &str| logging::debug(&format!("create {}: {name} at {:?}", opts.id, started.elapsed()));
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
    let rootfs = spec::rootfs_path(spec, &bundle);
    // Decided before the id is claimed, so that a refusal leaves nothing.
    let terminal = spec.process().as_ref().is_some_and(|p| p.terminal() == Some(true));
    let plan = Plan {
        namespaces: NamespacePlan::from_spec(spec)?,
        console: console::target(terminal, opts.detached, opts.console_socket.as_deref())?,
        host: HostFacts::read()?,
    };
    phase("spec loaded");

    let linux = spec.linux().as_ref();
    let cgroup_paths = cgroups::resolve(&plan.host, linux.and_then(|l| l.cgroups_path().as_deref()), &opts.id)?;

    let reservation = store.reserve(&opts.id)?;
    // Recorded before anything is made, so that `delete` can undo a create
    // that was killed half-way, cgroup included.
    let container = Container {
        id: opts.id.clone(),
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        pid: 0,
        pid_start: 0,
        created: state::now_rfc3339(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        owner: String::new(),
        cgroup: Some(cgroup_paths.clone()),
        hooks: spec.hooks().clone(),
    };
    store.save(&container)?;
    if let Some(notify) = &notify {
        notify.make_dir()?;
    }
    let stopped = container.state_with(Status::Stopped, 0);
    let created = set_up(store, opts, &loaded, container, reservation, plan, &phase);
    if created.is_err() {
        // The container is stopped and gone (the guards undid it): as after
        // `delete`, its poststop hooks run (runc's destroy does the same).
        hooks::run_poststop(spec.hooks().as_ref(), &stopped, warn);
    }
    created
}

/// What `create` decided from the config before it claimed the id.
struct Plan {
    namespaces: NamespacePlan,
    /// Where the pty master goes, with a terminal.
    console: Option<ConsoleTarget>,
    /// Read once, for the cgroup's path and the init's mounts.
    host: HostFacts,
}

/// Everything of `create` after the container's state was first recorded:
/// cgroup, init, the conversation with it, and the final record. On error
/// the guards kill what was started and remove what was made.
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
    let linux = spec.linux().as_ref();
    let cgroup_paths = container.cgroup.clone().expect("create places every container in a cgroup");
    let cgroup = CgroupGuard::create(&cgroup_paths, linux.and_then(|l| l.resources().as_ref()))?;
    phase("cgroup ready");
    let fifo = make_exec_fifo(&reservation.dir)?;
    let (parent_end, init_end) = sync::pair()?;
    let bundle = container.bundle.clone();
    let mut args = InitArgs {
        id: &opts.id,
        spec,
        bundle: &bundle,
        rootfs: container.rootfs.clone(),
        namespaces: plan.namespaces,
        state: container.state_with(Status::Creating, 0),
        channel: init_end,
        fifo,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.listen_fds as i32 + opts.preserve_fds,
        seccomp: loaded.seccomp.as_ref(),
        cgroup_entry: None,
        host: &plan.host,
        cgroup: Some(&cgroup_paths),
    };
    let mut route = Route::of(&args.namespaces);
    // The init enters its cgroup itself where it can: cloned straight into
    // its namespaces, as the host's root (not yet in a user namespace of
    // its own, where the cgroup files are not its to write).
    if !route.intermediate && !route.creates_user {
        args.cgroup_entry = Some(cgroup.get().entry());
    }

    let mut children = Children::default();
    let first = spawn(args, &mut route, spec, &parent_end, &mut children)?;
    phase("init cloned");
    let listener = loaded.seccomp.as_ref().and_then(Filter::listener);
    let passes = Passes { console: plan.console.as_ref(), listener };
    let (init_pid, console) = converse(&parent_end, &route, spec, &container, first, cgroup.get(), &mut children, passes)?;
    phase("init ready");

    let pid_start = state::start_time(init_pid.as_raw())
        .ok_or_else(|| Error::Lifecycle("container init exited during create".into()))?;
    container.pid = init_pid.as_raw();
    container.pid_start = pid_start;
    store.save(&container)?;
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, init_pid)?;
    }
    parent_end.send(&ToInit::Committed)?;
    children.release();
    cgroup.release();
    reservation.keep();
    phase("recorded");
    Ok(Created { container, console })
}

/// The fifo the init blocks on until `start`; the init gets an O_PATH fd of
/// it, since its path is outside the container.
fn make_exec_fifo(dir: &Path) -> Result<OwnedFd> {
    let path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o622)).map_err(Error::sys(format!("mkfifo {}", path.display())))?;
    // mkfifo applied the umask; the init may run as any user.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .map_err(Error::io("chmod", &path))?;
    nix::fcntl::open(&path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(Error::sys(format!("open {}", path.display())))
}

/// How the init is born, decided from the namespace plan.
struct Route {
    /// Through an intermediate process that enters namespaces one by one.
    intermediate: bool,
    /// A new user namespace, whose id maps the parent writes.
    creates_user: bool,
    /// Born in its cgroup (see cgroups::Entry), or to be placed by us.
    entered_cgroup: bool,
}

impl Route {
    fn of(plan: &NamespacePlan) -> Route {
        Route {
            intermediate: plan.needs_intermediate(),
            creates_user: plan.creates(CloneFlags::CLONE_NEWUSER),
            entered_cgroup: false,
        }
    }
}

/// Clones the init, straight into its namespaces (and its cgroup, if it
/// enters it itself) or through an intermediate process. Returns the pid of
/// the process the parent talks to first.
fn spawn(
    args: InitArgs<'_>,
    route: &mut Route,
    spec: &oci_spec::runtime::Spec,
    parent_end: &Channel,
    children: &mut Children,
) -> Result<Pid> {
    if route.intermediate {
        // The init will be the intermediate's child: make it ours once the
        // intermediate exits, so that it can be reaped (and waited on by run).
        nix::sys::prctl::set_child_subreaper(true).map_err(Error::sys("become a subreaper"))?;
        match sys::fork_into(0).map_err(Error::sys("fork"))? {
            Forked::Child => {
                close_parent_end(parent_end);
                init::intermediate_main(args)
            }
            Forked::Parent(pid) => {
                children.push(pid);
                Ok(pid)
            }
        }
    } else {
        let flags = args.namespaces.clone_flags();
        let guard = args.namespaces.enter_for_children(spec)?;
        let forked = match &args.cgroup_entry {
            Some(entry) => clone_entering(flags.bits(), entry).map(|(forked, entered)| {
                route.entered_cgroup = entered;
                forked
            }),
            None => sys::fork_into(flags.bits()).map_err(Error::sys(format!("clone init with {flags:?}"))),
        };
        if let Ok(Forked::Child) = forked {
            // The guard puts the *parent* back; the init stays where it was born.
            std::mem::forget(guard);
        } else {
            drop(guard);
        }
        match forked? {
            Forked::Child => {
                close_parent_end(parent_end);
                init::main(args)
            }
            Forked::Parent(pid) => {
                children.push(pid);
                Ok(pid)
            }
        }
    }
}

/// The child must not hold the parent's end: its closing is how the init
/// learns that `husk create` died.
fn close_parent_end(parent_end: &Channel) {
    let _ = nix::unistd::close(parent_end.raw_fd());
}

/// The fds the init sends on the way, and where the parent passes them.
struct Passes<'a> {
    /// With a terminal: the pty master.
    console: Option<&'a ConsoleTarget>,
    /// With a seccomp listener: the filter's notify fd.
    listener: Option<&'a seccomp::Listener>,
}

/// Answers the init (and intermediate) until the init reports ready, and
/// returns the init's pid, and the pty master if husk keeps it. On the way:
/// the prestart and createRuntime hooks run when the init has its mounts,
/// and the init's pty master and seccomp notify fd are passed on.
#[allow(clippy::too_many_arguments)]
fn converse(
    channel: &Channel,
    route: &Route,
    spec: &oci_spec::runtime::Spec,
    container: &Container,
    first: Pid,
    cgroup: &dyn Cgroup,
    children: &mut Children,
    passes: Passes<'_>,
) -> Result<(Pid, Option<OwnedFd>)> {
    if route.creates_user {
        expect(channel, "WriteIdMaps", |m| matches!(m, FromInit::WriteIdMaps).then_some(()))?;
        namespaces::write_id_maps(first, spec)?;
        channel.send(&ToInit::IdMapsWritten)?;
    }
    let init = if route.intermediate {
        let pid = expect(channel, "InitPid", |m| match m {
            FromInit::InitPid(pid) => Some(Pid::from_raw(*pid)),
            _ => None,
        })?;
        children.push(pid);
        let _ = waitpid(first, None);
        children.forget(first);
        pid
    } else {
        first
    };
    // The init waits for its cgroup before it creates its cgroup namespace,
    // whose root is then the container's cgroup.
    if !route.entered_cgroup {
        cgroup.add_process(init.as_raw())?;
    }
    // Written by the parent (runc writes it before the clone): the init is
    // non-dumpable (CVE-2019-5736), so in a user namespace its /proc files
    // belong to the host's root, not to it; and lowering the score takes
    // CAP_SYS_RESOURCE in the host's user namespace.
    if let Some(score) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        let path = PathBuf::from(format!("/proc/{init}/oom_score_adj"));
        std::fs::write(&path, score.to_string()).map_err(Error::io("write oom_score_adj to", path))?;
    }
    channel.send(&ToInit::Placed)?;
    if hooks::any(spec.hooks().as_ref(), RUNTIME_CREATE_HOOKS) {
        expect(channel, "RunCreateHooks", |m| matches!(m, FromInit::RunCreateHooks).then_some(()))?;
        let state = container.state_with(Status::Creating, init.as_raw());
        for kind in RUNTIME_CREATE_HOOKS {
            hooks::run(spec.hooks().as_ref(), *kind, &state)?;
        }
        channel.send(&ToInit::CreateHooksRan)?;
    }
    let console = match passes.console {
        Some(target) => console::receive(channel, target)?,
        None => None,
    };
    if let Some(listener) = passes.listener {
        let notify_fd = expect_fd(channel, "SeccompListener", |m| matches!(m, FromInit::SeccompListener))?;
        seccomp::send_to_listener(listener, notify_fd.as_fd(), container, init.as_raw())?;
        channel.send(&ToInit::SeccompListenerSent)?;
    }
    let timeline = expect(channel, "Ready", |m| match m {
        FromInit::Ready { timeline } => Some(timeline.clone()),
        _ => None,
    })?;
    for (step, micros) in timeline {
        logging::debug(&format!("init: {step} at {micros}µs"));
    }
    Ok((init, console))
}

/// The hooks `create` runs itself, in the runtime's namespaces, in this order.
pub const RUNTIME_CREATE_HOOKS: &[hooks::Kind] = &[hooks::Kind::Prestart, hooks::Kind::CreateRuntime];

/// The container's cgroup while create runs: destroyed on drop unless
/// released, after the processes in it were killed (declared before
/// `Children`, it is dropped after it).
struct CgroupGuard {
    cgroup: Option<Box<dyn Cgroup>>,
}

impl CgroupGuard {
    fn create(paths: &CgroupPaths, resources: Option<&oci_spec::runtime::LinuxResources>) -> Result<Self> {
        let cgroup = cgroups::open(paths);
        // Checked and made before the guard exists: a cgroup that is in use
        // by someone else is refused, and never killed or removed by us.
        cgroup.create()?;
        let guard = CgroupGuard { cgroup: Some(cgroup) };
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
        if let Some(cgroup) = self.cgroup.take() {
            let _ = cgroup.signal_all(libc::SIGKILL);
            let _ = cgroup.destroy();
        }
    }
}
