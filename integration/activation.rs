//! systemd's protocols through husk: socket activation (LISTEN_FDS with
//! --preserve-fds) and readiness (NOTIFY_SOCKET relayed by `start`).

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// `notify` (integration/testdata/notify.c): sd_notify from the shell.
fn notify_probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| c_probe("notify", &[]))
}

/// `husk run --preserve-fds 1 ID` with fd 3 on a listening socket and fd 4
/// on a pipe, and LISTEN_FDS=1 with LISTEN_PID set to `listen_pid`: a
/// shell expression, `$$` for husk's own pid (the shell execs husk).
fn run_activated(b: &mut Bundle, name: &str, listen_pid: &str) -> (String, u64, u64) {
    let listener = UnixListener::bind(b.dir.join(format!("{name}.sock"))).unwrap();
    let (pipe_read, _pipe_write) = nix::unistd::pipe().unwrap();
    let inode = |fd: i32| std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap().ino();
    let (socket_ino, pipe_ino) = (inode(listener.as_raw_fd()), inode(pipe_read.as_raw_fd()));

    let id = b.id(name);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("export LISTEN_FDS=1 LISTEN_PID={listen_pid}; exec \"$@\""), "sh", HUSK])
        .args(b.husk_cmd(&["run", "--preserve-fds", "1", &id]).get_args());
    place_fds_in_child(&mut cmd, vec![(listener.as_raw_fd(), 3), (pipe_read.as_raw_fd(), 4)]);
    let out = b.output_of(cmd);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    (text(&out.stdout), socket_ino, pipe_ino)
}

/// Prints the LISTEN_ variables and what fds 3 to 5 of the shell are (no
/// command substitution: its pipe would be among them).
const SHOW_FDS: &str =
    "echo \"env: $LISTEN_FDS $LISTEN_PID\"; for fd in 3 4 5; do echo -n \"$fd: \"; readlink /proc/$$/fd/$fd 2>/dev/null || echo -; done";

#[test]
fn listen_fds_come_first_then_the_preserved_ones() {
    let mut b = Bundle::new(&["sh", "-c", SHOW_FDS]);
    let (stdout, socket_ino, pipe_ino) = run_activated(&mut b, "activated", "$$");
    assert_eq!(
        stdout,
        format!("env: 1 1\n3: socket:[{socket_ino}]\n4: pipe:[{pipe_ino}]\n5: -\n"),
        "fd 3 is the activation socket, fd 4 the preserved pipe, nothing after"
    );
}

#[test]
fn listen_fds_meant_for_another_process_are_not_passed() {
    let mut b = Bundle::new(&["sh", "-c", SHOW_FDS]);
    // LISTEN_PID names another process (1): the fds are not husk's to pass,
    // so only --preserve-fds 1 (fd 3) goes through, and no LISTEN_ variable.
    let (stdout, socket_ino, _) = run_activated(&mut b, "notours", "1");
    assert_eq!(stdout, format!("env:  \n3: socket:[{socket_ino}]\n4: -\n5: -\n"));
}

#[test]
fn start_relays_ready_from_the_container_to_notify_socket() {
    // The service is ready half a second after it starts: `start` must
    // not return before the host got READY=1.
    let mut b = Bundle::new(&["sh", "-c", "test \"$NOTIFY_SOCKET\" = /run/notify/notify.sock && sleep 0.5 && notify READY=1 && sleep 100"]);
    std::fs::copy(notify_probe(), b.rootfs().join("bin/notify")).unwrap();
    let host_path = b.dir.join("host-notify.sock");
    let host = UnixDatagram::bind(&host_path).unwrap();
    host.set_nonblocking(true).unwrap();
    let env = [("NOTIFY_SOCKET", host_path.to_str().unwrap())];
    let id = b.id("notify");

    let out = b.husk_env(&env, &["create", &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let out = b.husk_env(&env, &["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));

    let mut buf = [0u8; 256];
    let n = host.recv(&mut buf).expect("READY reached the host's socket before start returned");
    assert_eq!(text(&buf[..n]), format!("READY=1\nMAINPID={pid}\n"));
    assert_eq!(b.state(&id)["status"], "running");
}

#[test]
fn start_returns_when_a_notifying_container_exits_without_ready() {
    let mut b = Bundle::new(&["sh", "-c", "sleep 0.2; exit 3"]);
    let host_path = b.dir.join("host-notify.sock");
    let host = UnixDatagram::bind(&host_path).unwrap();
    host.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let env = [("NOTIFY_SOCKET", host_path.to_str().unwrap())];
    let id = b.id("noready");
    assert!(b.husk_env(&env, &["create", &id]).status.success());
    let out = b.husk_env(&env, &["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    assert_eq!(b.state(&id)["status"], "stopped");
    assert!(host.recv(&mut [0u8; 64]).is_err(), "nothing was relayed");
}
