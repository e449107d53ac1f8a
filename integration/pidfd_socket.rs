//! `--pidfd-socket` on create, run and exec (runc 1.2's flag, which the
//! shims of newer containerd pass): one message on the socket whose payload
//! is runc's name of the process kind ("standard" for the init, "setns" for
//! an exec'd process), carrying a pidfd of that process, received before
//! the verb returns. Debian's runc 1.1 lacks the flag, so runc 1.2's contract
//! (its tests/integration/pidfd-socket.bats) is the reference.

#[path = "common/mod.rs"]
mod common;
use common::*;
use common::fd_socket::FdSocket;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// A pidfd socket in the bundle's directory: the runtime's message must be
/// waiting once the verb has returned.
fn pidfd_socket(b: &Bundle, name: &str) -> FdSocket {
    FdSocket::new(&b.dir, name, "pidfd socket")
}

/// The pid a pidfd refers to (its fdinfo's `Pid:`), and that it is one.
fn pid_of(pidfd: &OwnedFd) -> i64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", pidfd.as_raw_fd())).unwrap();
    assert_eq!(link.to_str(), Some("anon_inode:[pidfd]"), "not a pidfd");
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Pid in the pidfd's fdinfo: {info}"))
}

/// Whether the pidfd's process has exited within `wait` (a pidfd polls
/// readable once it has).
fn exits_within(pidfd: &OwnedFd, wait: Duration) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    poll(&mut fds, PollTimeout::from(ms)).expect("poll the pidfd") == 1
}

#[test]
fn create_sends_a_pidfd_of_the_init() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let socket = pidfd_socket(&b, "pidfd");
    let id = b.id("pidfd-create");
    let out = b.husk(&["create", "--pidfd-socket", socket.path(), &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let (payload, pidfd) = socket.receive(Duration::ZERO);
    assert_eq!(payload, "standard", "runc's name of the init's kind");
    assert_eq!(pid_of(&pidfd), b.state(&id)["pid"].as_i64().unwrap(), "the pidfd is not the init's");
    assert!(b.husk(&["start", &id]).status.success());
    assert!(!exits_within(&pidfd, Duration::from_millis(200)), "the init's pidfd reports an exit while it runs");
    assert!(b.husk(&["kill", &id, "KILL"]).status.success());
    assert!(exits_within(&pidfd, Duration::from_secs(10)), "the pidfd did not see the init exit");
}

#[test]
fn run_detached_sends_a_pidfd_of_the_init() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let socket = pidfd_socket(&b, "pidfd");
    let id = b.id("pidfd-run");
    let out = b.husk(&["run", "-d", "--pidfd-socket", socket.path(), &id]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let (payload, pidfd) = socket.receive(Duration::ZERO);
    assert_eq!(payload, "standard");
    assert_eq!(pid_of(&pidfd), b.state(&id)["pid"].as_i64().unwrap());
    assert!(b.husk(&["kill", &id, "KILL"]).status.success());
    assert!(exits_within(&pidfd, Duration::from_secs(10)));
}

#[test]
fn exec_sends_a_pidfd_of_the_process() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.id("pidfd-exec");
    let out = b.husk(&["run", "-d", &id]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let socket = pidfd_socket(&b, "pidfd");
    let pid_file = b.dir.join("exec.pid");
    let out = b.husk(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "--pidfd-socket",
        socket.path(),
        &id,
        "sleep",
        "0.5",
    ]);
    assert!(out.status.success(), "exec -d: {}", text(&out.stderr));
    let (payload, pidfd) = socket.receive(Duration::ZERO);
    assert_eq!(payload, "setns", "runc's name of an exec'd process's kind");
    let exec_pid: i64 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_eq!(pid_of(&pidfd), exec_pid, "the pidfd is not the exec'd process's");
    assert!(exits_within(&pidfd, Duration::from_secs(10)), "the pidfd did not see the process exit");
    // The init is another process, still running.
    assert_eq!(b.state(&id)["status"], "running");
}

#[test]
fn a_pidfd_socket_nobody_listens_on_fails_create_and_leaves_nothing() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.id("pidfd-missing");
    let missing = b.dir.join("nobody.sock");
    let out = b.husk(&["create", "--pidfd-socket", missing.to_str().unwrap(), &id]);
    assert!(!out.status.success(), "create with a dead pidfd socket succeeded");
    let err = text(&out.stderr);
    assert!(err.contains("connect to pidfd socket"), "stderr: {err}");
    assert!(!b.root.join(&id).exists(), "state of the failed create left");
    assert_no_cgroup(&id);
}
