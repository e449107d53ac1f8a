//! The container lifecycle after `create`: start, kill, delete, and the
//! foreground wait of `run`.

pub mod create;
pub mod exec;
pub mod proxy;
pub mod run;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;

use crate::activation::{self, NotifySocket};
use crate::cgroups;
use crate::error::Result;
use crate::hooks;
use crate::launch::InitFailure;
use crate::state::{self, Container, EXEC_FIFO, Status, Store};

/// A lifecycle rule broken, or a container that did not do what its
/// status promised. The words are runc's where engines match them.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("container not running")]
    NotRunning,
    #[error("cannot start an already running container")]
    StartRunning,
    #[error("cannot start a container that has stopped")]
    StartStopped,
    #[error("cannot start a container that is still being created")]
    StartCreating,
    #[error("container init exited before start")]
    InitExitedBeforeStart,
    #[error("container init exited during create")]
    InitExitedDuringCreate,
    #[error("cannot exec in a stopped container")]
    ExecStopped,
    #[error("cannot exec in a created container: start it first (until then its init is husk's own binary)")]
    ExecCreated,
    #[error("cannot exec in a paused container (use --ignore-paused to override)")]
    ExecPaused,
    #[error("exec: {field}: {problem}")]
    ExecProcess { field: String, problem: String },
    #[error("cannot delete container {id} that is not stopped: {}", status.as_str())]
    DeleteNotStopped { id: String, status: Status },
    #[error("cannot {verb} a container that is {}", status.as_str())]
    CannotPauseResume { verb: &'static str, status: Status },
    #[error("container {0} has no cgroup")]
    NoCgroup(String),
    #[error("container {0} did not die after SIGKILL")]
    DidNotDie(String),
    #[error("lost track of the container's init")]
    LostInit,
    #[error("{op} {}: {source}", path.display())]
    ExecFifo { op: &'static str, path: PathBuf, source: Errno },
    #[error("write pid file {}: {source}", path.display())]
    PidFile { path: PathBuf, source: std::io::Error },
    #[error("kill {pid} with signal {signal}: {source}")]
    Kill { pid: i32, signal: i32, source: Errno },
    #[error("become a subreaper: {0}")]
    Subreaper(Errno),
    #[error("--rootless false, but husk runs as uid {euid}, not as the host's root: {source}")]
    NotRootCgroup { euid: u32, source: crate::cgroups::CgroupError },
}

/// A file in the state directory of a container placed in a cgroup that
/// had processes in it already (create warned, as runc does): the cgroup is
/// not the container's, and `delete` leaves it, and what is in it, alone.
pub(crate) const SHARED_CGROUP: &str = "cgroup.shared";

/// Written beside and renamed, so a reader never sees a partial pid.
pub fn write_pid_file(path: &Path, pid: nix::unistd::Pid) -> Result<(), LifecycleError> {
    let tmp = path.with_extension("husk-tmp");
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LifecycleError::PidFile { path, source }
    };
    std::fs::write(&tmp, pid.to_string()).map_err(fail(&tmp))?;
    std::fs::rename(&tmp, path).map_err(fail(path))
}

/// Lets a created container's init exec its command. With NOTIFY_SOCKET
/// set, returns once the service in it reported ready (or exited).
pub fn start(store: &Store, id: &str, warn: &mut dyn FnMut(&str)) -> Result<()> {
    let phase = |name: &str| crate::logging::phase("start", id, name);
    let container = store.load(id)?;
    phase("state loaded");
    match store.status(&container) {
        Status::Created => {}
        Status::Running | Status::Paused => return Err(LifecycleError::StartRunning.into()),
        Status::Stopped => return Err(LifecycleError::StartStopped.into()),
        Status::Creating => return Err(LifecycleError::StartCreating.into()),
    }
    let notify = activation::host_notify_socket().map(|host| NotifySocket::new(&host, &store.dir(id)));
    let notify_socket = match &notify {
        Some(notify) => notify.bind()?,
        None => None,
    };
    let fifo_path = store.dir(id).join(EXEC_FIFO);
    // Non-blocking, so that a dead init cannot hang us in open(2); its
    // blocked open(O_WRONLY) returns as soon as we are there.
    let fifo = match nix::fcntl::open(&fifo_path, OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Err(LifecycleError::StartRunning.into()),
        Err(source) => return Err(LifecycleError::ExecFifo { op: "open", path: fifo_path, source }.into()),
    };
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(Errno::EINTR) => {
                if !state::process_alive(container.pid, container.pid_start) {
                    return Err(LifecycleError::InitExitedBeforeStart.into());
                }
            }
            Ok(_) => break,
            Err(source) => return Err(LifecycleError::ExecFifo { op: "poll", path: fifo_path, source }.into()),
        }
    }
    crate::logging::debug_with(|| format!("start {id}: the init (pid {}) opened the exec fifo", container.pid));
    phase("the init opened the fifo");
    let report = read_to_end(&fifo, &fifo_path)?;
    phase("the init went on (fifo closed)");
    nix::unistd::unlink(&fifo_path).map_err(|source| LifecycleError::ExecFifo { op: "remove", path: fifo_path.clone(), source })?;
    match report.split_first() {
        Some((b'0', [])) => {}
        // The init's failure, as it would have told `create`.
        Some((b'0', failure)) => match serde_json::from_slice::<InitFailure>(failure) {
            // runc's order: its init has said "go" before it runs the
            // startContainer hooks, so `start` succeeds, poststart runs,
            // and the container is simply stopped. husk says why.
            Ok(failure) if failure.step == hooks::Kind::StartContainer.name() => warn(&failure.message),
            Ok(failure) => return Err(crate::launch::LaunchError::Init(failure).into()),
            Err(_) => return Err(LifecycleError::InitExitedBeforeStart.into()),
        },
        _ => return Err(LifecycleError::InitExitedBeforeStart.into()),
    }
    // The program runs: poststart hooks, in our namespaces. If one fails,
    // the container is stopped (the spec's lifecycle, step 9).
    crate::logging::debug_with(|| format!("start {id}: the container's process runs; poststart hooks"));
    let state = container.state_with(Status::Running, container.pid);
    if let Err(e) = hooks::run(container.hooks.as_ref(), hooks::Kind::Poststart, &state, hooks::Inherited::default()) {
        let _ = kill_and_wait(&container, store.dir(id).join(SHARED_CGROUP).exists());
        return Err(e.into());
    }
    phase("poststart hooks run");
    if let (Some(notify), Some(socket)) = (&notify, &notify_socket) {
        notify.relay_ready(socket, container.pid, container.pid_start)?;
    } else if notify.is_some() {
        warn("NOTIFY_SOCKET is set, but the container was created without it: readiness is not relayed");
    }
    Ok(())
}

/// The init's answer on the exec fifo: "0" when it goes, then either the
/// failure of a step after that (startContainer hooks, execve) as JSON, or
/// nothing, the fifo closing when execve succeeds (it is close-on-exec).
fn read_to_end(fifo: &std::os::fd::OwnedFd, path: &Path) -> Result<Vec<u8>> {
    let fail = |op: &'static str| move |source| LifecycleError::ExecFifo { op, path: path.to_path_buf(), source };
    let mut report = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fifo, &mut buf) {
            Ok(0) => return Ok(report),
            Ok(n) => report.extend_from_slice(&buf[..n]),
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => return Err(fail("poll")(e).into()),
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(fail("read")(e).into()),
        }
    }
}

/// Sends a signal to the init, or with `all` to every process of the container.
pub fn signal(store: &Store, id: &str, signal: i32, all: bool) -> Result<()> {
    let container = store.load(id)?;
    // With --all, a stopped container's cgroup may still hold processes (a
    // pod-shared pid namespace outlives its init): runc signals them, and
    // containerd's shim relies on it.
    if !all && matches!(store.status(&container), Status::Stopped | Status::Creating) {
        return Err(LifecycleError::NotRunning.into());
    }
    // The kernel kills a whole pid namespace with its init, but a container
    // without one of its own would lose only its init to a SIGKILL: as in
    // runc 1.2, it goes to every process of the container.
    let all = all || (signal == libc::SIGKILL && container.shared_pid_ns);
    crate::logging::debug_with(|| format!("kill {id}: signal {signal} to {}", if all { "every process of its cgroup" } else { "its init" }));
    if all && let Some(paths) = &container.cgroup {
        return Ok(cgroups::open(paths).signal_all(signal)?);
    }
    let targets = if all { container_processes(&container) } else { vec![container.pid] };
    for pid in targets {
        crate::sys::kill_raw(pid, signal).or_else(|e| if e == Errno::ESRCH { Ok(()) } else { Err(e) })
            .map_err(|source| LifecycleError::Kill { pid, signal, source })?;
    }
    Ok(())
}

/// The processes of a container: its cgroup's, or without a cgroup, all in
/// its pid namespace when it has one of its own, otherwise just the init.
pub fn container_processes(container: &Container) -> Vec<i32> {
    if let Some(paths) = &container.cgroup
        && let Ok(pids) = cgroups::open(paths).pids()
    {
        return pids;
    }
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(ns) = ns_of(container.pid) else {
        return Vec::new();
    };
    if ns_of(std::process::id() as i32).as_ref() == Some(&ns) {
        return vec![container.pid];
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![container.pid];
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| ns_of(*pid).as_ref() == Some(&ns))
        .collect()
}

/// Deletes a container. A created one is killed (its command never ran); a
/// running one only with `force`.
pub fn delete(store: &Store, id: &str, force: bool, warn: &mut dyn FnMut(&str)) -> Result<()> {
    let phase = |name: &str| crate::logging::phase("delete", id, name);
    let container = match store.load(id) {
        Ok(container) => container,
        Err(state::StateError::NotExist(_)) => {
            // A directory without state is what a killed `create` leaves.
            if store.dir(id).is_dir() {
                return Ok(store.remove(id)?);
            }
            if force {
                return Ok(());
            }
            return Err(state::StateError::NotExist(id.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    phase("state loaded");
    let shared = store.dir(id).join(SHARED_CGROUP).exists();
    match store.status(&container) {
        Status::Stopped | Status::Creating => {}
        Status::Created => kill_and_wait(&container, shared)?,
        Status::Running | Status::Paused if force => kill_and_wait(&container, shared)?,
        status @ (Status::Running | Status::Paused) => {
            return Err(LifecycleError::DeleteNotStopped { id: id.to_string(), status }.into());
        }
    }
    phase("processes gone");
    if let Some(paths) = &container.cgroup
        && !shared
    {
        // Through its driver: a systemd scope is stopped, not just removed.
        let cgroup = cgroups::open_managed(paths, container.systemd.as_ref(), id);
        // Stray processes (left by an init that died) go with the cgroup.
        let _ = cgroup.signal_all(libc::SIGKILL);
        cgroup.destroy()?;
    }
    phase("cgroup removed");
    if let Some(rdt) = &container.intel_rdt {
        crate::intel_rdt::remove(rdt)?;
    }
    store.remove(id)?;
    phase("state removed");
    hooks::run_poststop(container.hooks.as_ref(), &container.state_with(Status::Stopped, 0), warn);
    phase("poststop hooks run");
    Ok(())
}

/// Freezes (pause) or thaws (resume) every process of a running container.
pub fn set_paused(store: &Store, id: &str, paused: bool) -> Result<()> {
    let container = store.load(id)?;
    let status = store.status(&container);
    let expected = if paused { Status::Running } else { Status::Paused };
    if status != expected {
        let verb = if paused { "pause" } else { "resume" };
        return Err(LifecycleError::CannotPauseResume { verb, status }.into());
    }
    let paths = container.cgroup.as_ref().ok_or_else(|| LifecycleError::NoCgroup(id.to_string()))?;
    crate::logging::debug_with(|| format!("{id}: {} its cgroup", if paused { "freezing" } else { "thawing" }));
    Ok(cgroups::open(paths).set_frozen(paused)?)
}

/// SIGKILLs every process of the container and waits until the init is gone.
/// In a shared cgroup, the init alone: the others in the cgroup may not be
/// the container's (with a pid namespace of its own, its processes go with
/// its init).
fn kill_and_wait(container: &Container, shared_cgroup: bool) -> Result<()> {
    // Opened before the kill, and checked to be the init's (not a reused
    // pid's): the init's exit makes it readable, so the wait below ends
    // when the init does instead of on a polling tick.
    let exit = crate::sys::pidfd_open(nix::unistd::Pid::from_raw(container.pid))
        .ok()
        .filter(|_| state::process_alive(container.pid, container.pid_start));
    let targets = if shared_cgroup { vec![container.pid] } else { container_processes(container) };
    for pid in targets {
        let _ = crate::sys::kill_raw(pid, libc::SIGKILL);
    }
    // A frozen (v1) task only dies once thawed.
    if let Some(paths) = &container.cgroup {
        let cgroup = cgroups::open(paths);
        if cgroup.is_frozen() {
            cgroup.set_frozen(false)?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while state::process_alive(container.pid, container.pid_start) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(LifecycleError::DidNotDie(container.id.clone()).into());
        }
        match &exit {
            Some(pidfd) => {
                let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
                let wait = PollTimeout::try_from(left.min(Duration::from_millis(100))).unwrap_or(PollTimeout::MAX);
                let _ = poll(&mut fds, wait);
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    Ok(())
}
