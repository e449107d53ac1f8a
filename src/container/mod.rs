//! The container lifecycle after `create`: start, kill, delete, and the
//! foreground wait of `run`.

pub mod console;
pub mod create;
pub mod exec;
mod parent;
pub mod proxy;
pub mod run;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;

use crate::activation::{self, NotifySocket};
use crate::cgroups;
use crate::error::{Error, Result};
use crate::hooks;
use crate::state::{self, Container, EXEC_FIFO, Status, Store};

/// Lets a created container's init exec its command. With NOTIFY_SOCKET
/// set, returns once the service in it reported ready (or exited).
pub fn start(store: &Store, id: &str, warn: &mut dyn FnMut(&str)) -> Result<()> {
    let container = store.load(id)?;
    match store.status(&container) {
        Status::Created => {}
        Status::Running | Status::Paused => {
            return Err(Error::Lifecycle("cannot start an already running container".into()));
        }
        Status::Stopped => return Err(Error::Lifecycle("cannot start a container that has stopped".into())),
        Status::Creating => return Err(Error::Lifecycle("cannot start a container that is still being created".into())),
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
        Err(Errno::ENOENT) => return Err(Error::Lifecycle("cannot start an already running container".into())),
        Err(e) => return Err(Error::sys(format!("open {}", fifo_path.display()))(e)),
    };
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(Errno::EINTR) => {
                if !state::process_alive(container.pid, container.pid_start) {
                    return Err(Error::Lifecycle("container init exited before start".into()));
                }
            }
            Ok(_) => break,
            Err(e) => return Err(Error::sys("poll exec fifo")(e)),
        }
    }
    let report = read_to_end(&fifo)?;
    std::fs::remove_file(&fifo_path).map_err(Error::io("remove", &fifo_path))?;
    match report.split_first() {
        Some((b'0', [])) => {}
        Some((b'0', failure)) => return Err(Error::Lifecycle(String::from_utf8_lossy(failure).into_owned())),
        _ => return Err(Error::Lifecycle("container init exited before start".into())),
    }
    // The program runs: poststart hooks, in our namespaces. If one fails,
    // the container is stopped (the spec's lifecycle, step 9).
    let state = container.state_with(Status::Running, container.pid);
    if let Err(e) = hooks::run(container.hooks.as_ref(), hooks::Kind::Poststart, &state) {
        let _ = kill_and_wait(&container);
        return Err(e.into());
    }
    if let (Some(notify), Some(socket)) = (&notify, &notify_socket) {
        notify.relay_ready(socket, container.pid, container.pid_start)?;
    } else if notify.is_some() {
        warn("NOTIFY_SOCKET is set, but the container was created without it: readiness is not relayed");
    }
    Ok(())
}

/// The init's answer on the exec fifo: "0" when it goes, then either the
/// error of a step after that (startContainer hooks, execve) or nothing,
/// the fifo closing when execve succeeds (it is close-on-exec).
fn read_to_end(fifo: &std::os::fd::OwnedFd) -> Result<Vec<u8>> {
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
                    Err(e) => return Err(Error::sys("poll exec fifo")(e)),
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::sys("read exec fifo")(e)),
        }
    }
}

/// Sends a signal to the init, or with `all` to every process of the container.
pub fn signal(store: &Store, id: &str, signal: i32, all: bool) -> Result<()> {
    let container = store.load(id)?;
    if matches!(store.status(&container), Status::Stopped | Status::Creating) {
        return Err(Error::Lifecycle("container not running".into()));
    }
    if all && let Some(paths) = &container.cgroup {
        return Ok(cgroups::open(paths).signal_all(signal)?);
    }
    let targets = if all { container_processes(&container) } else { vec![container.pid] };
    for pid in targets {
        crate::sys::kill_raw(pid, signal).or_else(|e| if e == Errno::ESRCH { Ok(()) } else { Err(e) })
            .map_err(Error::sys(format!("kill {pid} with signal {signal}")))?;
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
    match store.status(&container) {
        Status::Stopped | Status::Creating => {}
        Status::Created => kill_and_wait(&container)?,
        Status::Running | Status::Paused if force => kill_and_wait(&container)?,
        status @ (Status::Running | Status::Paused) => {
            return Err(Error::Lifecycle(format!(
                "cannot delete container {id} that is not stopped: {}",
                status.as_str()
            )));
        }
    }
    if let Some(paths) = &container.cgroup {
        let cgroup = cgroups::open(paths);
        // Stray processes (left by an init that died) go with the cgroup.
        let _ = cgroup.signal_all(libc::SIGKILL);
        cgroup.destroy()?;
    }
    store.remove(id)?;
    hooks::run_poststop(container.hooks.as_ref(), &container.state_with(Status::Stopped, 0), warn);
    Ok(())
}

/// Freezes (pause) or thaws (resume) every process of a running container.
pub fn set_paused(store: &Store, id: &str, paused: bool) -> Result<()> {
    let container = store.load(id)?;
    let status = store.status(&container);
    let expected = if paused { Status::Running } else { Status::Paused };
    if status != expected {
        let verb = if paused { "pause" } else { "resume" };
        return Err(Error::Lifecycle(format!("cannot {verb} a container that is {}", status.as_str())));
    }
    let paths = container.cgroup.as_ref().ok_or_else(|| Error::Lifecycle(format!("container {id} has no cgroup")))?;
    Ok(cgroups::open(paths).set_frozen(paused)?)
}

/// SIGKILLs every process of the container and waits until the init is gone.
fn kill_and_wait(container: &Container) -> Result<()> {
    for pid in container_processes(container) {
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
        if Instant::now() > deadline {
            return Err(Error::Lifecycle(format!("container {} did not die after SIGKILL", container.id)));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}
