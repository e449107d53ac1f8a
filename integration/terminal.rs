//! Terminals: `process.terminal`, `--console-socket`, `exec -t`, and the
//! foreground proxy of `run` and `exec -t`, as runc does them (runc 1.1.5 at
//! /usr/sbin/runc is the oracle of `same_as_runc`).
//!
//! The console socket is played by the test, as an engine plays it: an
//! AF_UNIX listener that receives the pty master with SCM_RIGHTS. The
//! foreground tests drive husk from a real terminal, a tmux pane on a
//! private tmux server, typing with send-keys and reading the screen.

#[path = "common/mod.rs"]
mod common;
use common::*;
use common::fd_socket::FdSocket;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::json;

const RUNC: &str = "/usr/sbin/runc";
/// What runc sends with the master (containerd/console's `Name()`).
const RUNC_PTY_NAME: &str = "/dev/ptmx";
const TIMEOUT: Duration = Duration::from_secs(10);

/// A bundle whose process has a terminal of the given size.
fn terminal_bundle(args: &[&str], height: u32, width: u32) -> Bundle {
    let mut b = Bundle::new(args);
    b.config["process"]["terminal"] = true.into();
    b.config["process"]["consoleSize"] = json!({"height": height, "width": width});
    b.write();
    b
}

/// A console socket in the bundle's directory; `receive` gives the pty
/// master as a `Terminal`.
struct ConsoleSocket(FdSocket);

impl ConsoleSocket {
    fn new(b: &Bundle, name: &str) -> ConsoleSocket {
        ConsoleSocket(FdSocket::new(&b.dir, name, "console socket"))
    }

    fn path(&self) -> &str {
        self.0.path()
    }

    fn receive(&self) -> (String, Terminal) {
        let (payload, master) = self.0.receive(TIMEOUT);
        (payload, Terminal::new(master))
    }
}

/// The test's side of a pty master.
struct Terminal {
    master: OwnedFd,
    /// Read and not yet consumed by `expect_line`.
    unread: String,
}

impl Terminal {
    fn new(master: OwnedFd) -> Terminal {
        // A pty master, nothing else, answers TIOCGPTN (ptsname).
        assert!(
            nix::sys::termios::tcgetattr(&master).is_ok(),
            "the fd is a terminal (its link: {:?})",
            std::fs::read_link(format!("/proc/self/fd/{}", master.as_raw_fd()))
        );
        Terminal { master, unread: String::new() }
    }

    fn send(&self, line: &str) {
        let bytes = format!("{line}\n");
        assert_eq!(nix::unistd::write(&self.master, bytes.as_bytes()).unwrap(), bytes.len());
    }

    /// Reads what is there within `wait`; false at the end (no slave left).
    fn read_some(&mut self, wait: Duration) -> bool {
        let timeout = PollTimeout::try_from(wait.as_millis() as i32).unwrap();
        let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, timeout).unwrap() == 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(&self.master, &mut buf) {
            Ok(0) | Err(Errno::EIO) => false,
            Ok(n) => {
                self.unread.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
            Err(e) => panic!("read the pty master: {e}"),
        }
    }

    /// Reads until a whole line of output is `line`; returns the output up
    /// to it, which is consumed.
    fn expect_line(&mut self, line: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let lines: Vec<&str> = self.unread.split('\n').map(|l| l.trim_end_matches('\r')).collect();
            // The last piece is not a whole line yet.
            if let Some(i) = lines[..lines.len() - 1].iter().position(|l| *l == line) {
                let consumed: usize = self.unread.split('\n').take(i + 1).map(|l| l.len() + 1).sum();
                let before = self.unread[..consumed].to_string();
                self.unread.drain(..consumed);
                return before;
            }
            assert!(Instant::now() < deadline, "no line {line:?} in the terminal's output: {:?}", self.unread);
            assert!(self.read_some(Duration::from_millis(100)), "the terminal closed before {line:?}: {:?}", self.unread);
        }
    }

    /// Everything until no slave is left (the process exited).
    fn read_to_end(&mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while self.read_some(Duration::from_millis(100)) {
            assert!(Instant::now() < deadline, "the terminal stayed open: {:?}", self.unread);
        }
        std::mem::take(&mut self.unread)
    }
}

/// Prints what the tests check of a process's terminal, one fact a line;
/// `who` is the process whose stdio and session are looked at.
fn terminal_facts(who: &str) -> String {
    format!(
        "tty; stty size; \
         echo fds $(readlink /proc/{who}/fd/0) $(readlink /proc/{who}/fd/1) $(readlink /proc/{who}/fd/2); \
         echo session-and-tty $(cut -d' ' -f6,7 /proc/{who}/stat); \
         echo pts $(ls /dev/pts); \
         echo owner $(stat -L -c %u:%g /proc/{who}/fd/0); \
         [ -e /dev/console ] && echo console $(stat -c %t:%T /dev/console) pty $(stat -L -c %t:%T /proc/{who}/fd/0)"
    )
}

/// `cut -f6,7 /proc/1/stat` of a session leader (pid 1) whose controlling
/// terminal is /dev/pts/0 (major 136, minor 0: 136 << 8).
const LEADS_PTS_0: &str = "session-and-tty 1 34816";

fn lines(text: &str) -> Vec<String> {
    text.split('\n').map(|l| l.trim_end_matches('\r').to_string()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn console_socket_gets_a_pty_of_the_container() {
    let mut b = terminal_bundle(&["sh"], 33, 111);
    let socket = ConsoleSocket::new(&b, "console");
    let id = b.id("socket");
    let out = b.husk(&["create", "--console-socket", socket.path(), &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let (payload, mut term) = socket.receive();
    assert_eq!(payload, RUNC_PTY_NAME, "the name runc sends");
    assert!(b.husk(&["start", &id]).status.success());

    term.send("echo hi");
    term.expect_line("hi");
    term.send(&terminal_facts("1"));
    // In order; the shell's echo of what it was sent is never one of them.
    for answer in [
        "/dev/pts/0",
        "33 111",
        "fds /dev/pts/0 /dev/pts/0 /dev/pts/0",
        LEADS_PTS_0,
        // The container's own devpts instance: its first pty, and nothing
        // of the host's.
        "pts 0 ptmx",
        "owner 0:5",
        "console 88:0 pty 88:0",
    ] {
        term.expect_line(answer);
    }
    term.send("exit 3");
    term.read_to_end();
    wait_until("the container stops", || b.state(&id)["status"] == "stopped");
}

#[test]
fn console_size_dev_console_and_stdio_without_input() {
    // A process that only prints: everything it says arrives on the master,
    // and the master reports the end once it exits.
    let script = terminal_facts("1");
    let mut b = terminal_bundle(&["sh", "-c", &script], 25, 91);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let socket = ConsoleSocket::new(&b, "console");
    let id = b.id("size");
    let out = b.husk(&["run", "-d", "--console-socket", socket.path(), &id]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let (payload, mut term) = socket.receive();
    assert_eq!(payload, RUNC_PTY_NAME);
    let output = term.read_to_end();
    assert_eq!(
        lines(&output),
        [
            "/dev/pts/0",
            "25 91",
            "fds /dev/pts/0 /dev/pts/0 /dev/pts/0",
            LEADS_PTS_0,
            "pts 0 ptmx",
            // Given to the process's user; the group stays devpts's tty.
            "owner 1000:5",
            "console 88:0 pty 88:0",
        ],
        "{output:?}"
    );
    // Without a terminal there is no /dev/console at all.
    let mut plain = Bundle::new(&["sh", "-c", "test -e /dev/console && echo console || echo none; tty"]);
    let (code, stdout, stderr) = plain.run("plain");
    assert_eq!(code, 1, "tty fails without a terminal: {stdout} {stderr}");
    assert_eq!(lines(&stdout), ["none", "not a tty"]);
}

/// A runc container, deleted on drop.
struct RuncContainer {
    root: PathBuf,
    id: String,
}

impl RuncContainer {
    /// `runc ARGS`, output through files (never pipes, which a container
    /// would keep open).
    fn runc(&self, b: &Bundle, args: &[&str]) -> std::process::Output {
        let (out, err) = (b.dir.join("runc.out"), b.dir.join("runc.err"));
        let status = Command::new(RUNC)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .current_dir(&b.dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .expect("run runc");
        std::process::Output {
            status,
            stdout: std::fs::read(out).unwrap_or_default(),
            stderr: std::fs::read(err).unwrap_or_default(),
        }
    }
}

impl Drop for RuncContainer {
    fn drop(&mut self) {
        let _ = Command::new(RUNC).arg("--root").arg(&self.root).args(["delete", "--force", &self.id]).output();
    }
}

#[test]
fn same_as_runc() {
    // The same bundle under both runtimes, each with its own console
    // socket: the same name sent, the same terminal as the process sees it
    // (run as a user, whom the pty is given to).
    assert!(Path::new(RUNC).exists(), "{RUNC} is missing: install Debian's runc (.ci/run does)");
    let script = terminal_facts("1");
    let mut b = terminal_bundle(&["sh", "-c", &script], 27, 95);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();

    let socket = ConsoleSocket::new(&b, "husk");
    let id = b.id("husk");
    let out = b.husk(&["create", "--console-socket", socket.path(), &id]);
    assert!(out.status.success(), "husk create: {}", text(&out.stderr));
    assert!(b.husk(&["start", &id]).status.success());
    let (husk_name, mut term) = socket.receive();
    let husk = lines(&term.read_to_end());

    let socket = ConsoleSocket::new(&b, "runc");
    let runc = RuncContainer { root: b.dir.join("runc-state"), id: b.id("runc") };
    let out = runc.runc(&b, &["create", "--console-socket", socket.path(), &runc.id]);
    assert!(out.status.success(), "runc create: {}", text(&out.stderr));
    assert!(runc.runc(&b, &["start", &runc.id]).status.success());
    let (runc_name, mut term) = socket.receive();
    let runc_lines = lines(&term.read_to_end());

    assert_eq!((husk_name, &husk), (runc_name, &runc_lines), "husk, then runc");
    assert!(husk.iter().any(|l| l == "27 95"), "{husk:?}");
}

#[test]
fn exec_tty_with_console_socket() {
    let mut b = terminal_bundle(&["sleep", "100"], 22, 77);
    b.config["process"]["terminal"] = false.into();
    b.write();
    let id = b.run_detached("exec");
    let socket = ConsoleSocket::new(&b, "exec");
    let out = b.husk(&["exec", "-d", "-t", "--console-socket", socket.path(), &id, "sh"]);
    assert!(out.status.success(), "exec -t: {}", text(&out.stderr));
    let (payload, mut term) = socket.receive();
    assert_eq!(payload, RUNC_PTY_NAME);
    term.send("echo hi");
    term.expect_line("hi");
    term.send("tty; stty size; echo fds $(readlink /proc/$$/fd/0) $(readlink /proc/$$/fd/1) $(readlink /proc/$$/fd/2); [ \"$(cut -d' ' -f6,7 /proc/$$/stat)\" = \"$$ 34816\" ] && echo leads-pts-0");
    term.expect_line("/dev/pts/0");
    // The container's process.consoleSize, as runc gives exec.
    term.expect_line("22 77");
    term.expect_line("fds /dev/pts/0 /dev/pts/0 /dev/pts/0");
    // A session of its own, with the pty as its controlling terminal.
    term.expect_line("leads-pts-0");
    term.send("exit 3");
    term.read_to_end();

    // -p process.json with terminal: true, and its own consoleSize.
    let process = json!({
        "terminal": true,
        "consoleSize": {"height": 12, "width": 34},
        "args": ["sh", "-c", "tty; stty size"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0}
    });
    let path = b.dir.join("process.json");
    std::fs::write(&path, process.to_string()).unwrap();
    let socket = ConsoleSocket::new(&b, "exec-p");
    let out = b.husk(&["exec", "-d", "--console-socket", socket.path(), "-p", path.to_str().unwrap(), &id]);
    assert!(out.status.success(), "exec -p: {}", text(&out.stderr));
    let (payload, mut term) = socket.receive();
    assert_eq!(payload, RUNC_PTY_NAME);
    assert_eq!(lines(&term.read_to_end()), ["/dev/pts/1", "12 34"]);
}

#[test]
fn foreground_without_a_terminal_still_proxies() {
    // husk's stdin is /dev/null and its stdout a file: no raw mode, but
    // the pty's output is copied, with plain "\n" (ONLCR off, as in runc),
    // and the exit code is the process's.
    let mut b = terminal_bundle(&["sh", "-c", "tty; stty size; echo out; exit 5"], 20, 60);
    let (code, stdout, stderr) = b.run("fg");
    assert_eq!(code, 5, "{stderr}");
    assert_eq!(stdout, "/dev/pts/0\n20 60\nout\n");

    b.config["process"]["terminal"] = false.into();
    b.config["process"]["args"] = json!(["sleep", "100"]);
    b.write();
    let id = b.run_detached("fg-exec");
    let out = b.husk(&["exec", "-t", &id, "sh", "-c", "tty; echo $((6*7)); exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "/dev/pts/0\n42\n");
}

#[test]
fn terminal_in_a_user_namespace() {
    // The init is born through the intermediate process here; its pty is
    // made the same way, and given to the process's user as mapped.
    let script = format!("{}; exit 6", terminal_facts("1"));
    let mut b = terminal_bundle(&["sh", "-c", &script], 21, 81);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write();
    let (code, stdout, stderr) = b.run("userns");
    assert_eq!(code, 6, "{stderr}");
    assert_eq!(
        lines(&stdout),
        [
            "/dev/pts/0",
            "21 81",
            "fds /dev/pts/0 /dev/pts/0 /dev/pts/0",
            LEADS_PTS_0,
            "pts 0 ptmx",
            "owner 1000:5",
            "console 88:0 pty 88:0",
        ]
    );
}

/// A private tmux server with one session of `width`×`height` running sh;
/// killed on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(dir: &Path, width: u32, height: u32) -> Tmux {
        let tmux = Tmux { socket: dir.join("tmux.sock") };
        let out = tmux.cmd(&["new-session", "-d", "-s", "t", "-x", &width.to_string(), "-y", &height.to_string(), "sh"]);
        assert!(out.status.success(), "tmux new-session: {}", text(&out.stderr));
        tmux
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-S").arg(&self.socket).args(args).stdin(Stdio::null()).output().expect("run tmux")
    }

    /// Types `line` and Enter.
    fn type_line(&self, line: &str) {
        assert!(self.cmd(&["send-keys", "-t", "t", "-l", line]).status.success());
        assert!(self.cmd(&["send-keys", "-t", "t", "Enter"]).status.success());
    }

    fn screen(&self) -> String {
        text(&self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout)
    }

    /// Waits until a line of the screen is `line`.
    fn wait_for_line(&self, line: &str) {
        assert!(self.wait_for_line_within(line, TIMEOUT), "no line {line:?} on the screen:\n{}", self.screen());
    }

    fn wait_for_line_within(&self, line: &str, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if self.screen().lines().any(|l| l.trim_end() == line) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pane's terminal settings (`stty -g`: modes and control
    /// characters, not the size).
    fn modes(&self) -> String {
        let tty = text(&self.cmd(&["display-message", "-p", "-t", "t", "#{pane_tty}"]).stdout);
        let out = Command::new("stty").args(["-g", "-F", tty.trim()]).output().unwrap();
        assert!(out.status.success(), "stty -F {tty}: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// Runs `command` (a husk in the foreground, on a shell in the container)
/// in a tmux pane of 120×40 and drives it: a round trip, the size, a
/// resize, `exit 3`, and the pane's terminal as it was before.
fn drive_foreground(b: &Bundle, command: &str) {
    let tmux = Tmux::start(&b.dir, 120, 40);
    let before = tmux.modes();
    tmux.type_line(&format!("cd {} && {command}; echo code=$?", b.dir.display()));
    tmux.wait_for_line("Enter 'help' for a list of built-in commands.");
    tmux.type_line("echo hi");
    tmux.wait_for_line("hi");
    let during = tmux.modes();
    assert_ne!(during, before, "husk put its terminal in raw mode");
    // husk's terminal size, not process.consoleSize.
    tmux.type_line("stty size");
    tmux.wait_for_line("40 120");
    assert!(tmux.cmd(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]).status.success());
    // The new size reaches the pty when husk gets its SIGWINCH, which may
    // come after the keys typed next: ask until it shows.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        tmux.type_line("stty size");
        if tmux.wait_for_line_within("30 100", Duration::from_millis(500)) {
            break;
        }
        assert!(Instant::now() < deadline, "the pty never got the new size:\n{}", tmux.screen());
    }
    tmux.type_line("exit 3");
    tmux.wait_for_line("code=3");
    assert_eq!(tmux.modes(), before, "the terminal is restored:\n{}", tmux.screen());
}

#[test]
fn foreground_run_in_a_real_terminal() {
    let mut b = terminal_bundle(&["sh"], 10, 50);
    let id = b.id("tmux-run");
    let command = format!("{HUSK} --root {} run {id}", b.root.display());
    drive_foreground(&b, &command);
    // run deleted its container on the way out.
    assert!(!b.root.join(&id).exists());
}

#[test]
fn foreground_exec_in_a_real_terminal() {
    let mut b = terminal_bundle(&["sleep", "100"], 10, 50);
    b.config["process"]["terminal"] = false.into();
    b.write();
    let id = b.run_detached("tmux-exec");
    let command = format!("{HUSK} --root {} exec -t {id} sh", b.root.display());
    drive_foreground(&b, &command);
    assert_eq!(b.state(&id)["status"], "running", "the container goes on");
}

/// husk failed, said `message`, and left no container behind.
fn assert_refused(b: &Bundle, out: &std::process::Output, id: &str, message: &str) {
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains(message), "expected {message:?}: {}", text(&out.stderr));
    assert!(!b.root.join(id).exists(), "state of {id} left behind");
    let list = b.husk(&["list", "-q"]);
    assert!(!text(&list.stdout).lines().any(|l| l == id), "{id} listed");
}

const NEEDS_SOCKET: &str = "cannot allocate tty if runc will detach without setting console socket";
const SOCKET_UNUSED: &str = "cannot use console socket if runc will not detach or allocate tty";

#[test]
fn runcs_refusals() {
    let mut b = terminal_bundle(&["sh"], 10, 50);
    let socket = ConsoleSocket::new(&b, "unused");
    let id = b.id("refused");
    assert_refused(&b, &b.husk(&["create", &id]), &id, NEEDS_SOCKET);
    assert_refused(&b, &b.husk(&["run", "-d", &id]), &id, NEEDS_SOCKET);
    // Not detached: the socket has no use.
    assert_refused(&b, &b.husk(&["run", "--console-socket", socket.path(), &id]), &id, SOCKET_UNUSED);
    // No socket to connect to: refused, and nothing left.
    let missing = b.dir.join("missing.sock");
    let out = b.husk(&["create", "--console-socket", missing.to_str().unwrap(), &id]);
    assert_refused(&b, &out, &id, "console socket");
    assert!(processes_rooted_in(&b.dir).is_empty());

    b.config["process"]["terminal"] = false.into();
    b.write();
    assert_refused(&b, &b.husk(&["create", "--console-socket", socket.path(), &id]), &id, SOCKET_UNUSED);
    assert!(!socket.0.connected(), "nobody connected");

    b.config["process"]["args"] = json!(["sleep", "100"]);
    b.write();
    let busy = b.run_detached("exec-refused");
    for (args, message) in [
        (vec!["exec", "-d", "--console-socket", socket.path()], SOCKET_UNUSED),
        (vec!["exec", "-t", "--console-socket", socket.path()], SOCKET_UNUSED),
        (vec!["exec", "-d", "-t"], NEEDS_SOCKET),
    ] {
        let mut all = args.clone();
        all.extend([busy.as_str(), "true"]);
        let out = b.husk(&all);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stderr).contains(message), "{args:?}: {}", text(&out.stderr));
    }
    let ps: Vec<i64> = serde_json::from_slice(&b.husk(&["ps", "-f", "json", &busy]).stdout).unwrap();
    assert_eq!(ps.len(), 1, "only the init runs: {ps:?}");
}
