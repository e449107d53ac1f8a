//! systemd's protocols through the runtime, as runc carries them:
//!
//! - socket activation: the `LISTEN_FDS` husk itself was given (fds 3 on,
//!   for our pid) are passed to the container as its first extra fds, with
//!   `LISTEN_FDS=n` and `LISTEN_PID=1`; `--preserve-fds` come after them;
//! - readiness: with `NOTIFY_SOCKET` set, the container gets a socket of
//!   its own (the state directory's `notify/notify.sock`, bind-mounted at
//!   /run/notify) and `start` waits for its `READY=1`, then relays it to the
//!   host's socket with `MAINPID` set to the container's init, so that a
//!   systemd unit running an engine sees the service inside become ready.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::{MountBuilder, Spec};

/// A failure of the readiness relay, naming the socket.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct ActivationError {
    op: &'static str,
    path: std::path::PathBuf,
    source: std::io::Error,
}

type Result<T> = std::result::Result<T, ActivationError>;

fn io(op: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ActivationError {
    let path = path.to_path_buf();
    move |source| ActivationError { op, path, source }
}
use crate::state;

/// The number of socket-activation fds handed to us, if they are ours
/// (LISTEN_PID is our pid, as sd_listen_fds checks).
pub fn listen_fds() -> u32 {
    let ours = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse::<u32>().ok());
    match count {
        Some(n) if ours => n,
        _ => 0,
    }
}

/// Tells the container's process about the `count` activation fds.
pub fn pass_listen_fds(spec: &mut Spec, count: u32) {
    if count == 0 {
        return;
    }
    if let Some(process) = spec.process_mut() {
        let env = process.env_mut().get_or_insert_with(Vec::new);
        env.push(format!("LISTEN_FDS={count}"));
        env.push("LISTEN_PID=1".into());
    }
}

const IN_CONTAINER_DIR: &str = "/run/notify";
const SOCKET_NAME: &str = "notify.sock";

/// The host's `NOTIFY_SOCKET` and the container's socket in its state dir.
pub struct NotifySocket {
    host: PathBuf,
    socket: PathBuf,
}

/// The host's socket, from our environment.
pub fn host_notify_socket() -> Option<PathBuf> {
    std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()).map(PathBuf::from)
}

impl NotifySocket {
    /// For the container whose state directory is `dir`.
    pub fn new(host: &Path, dir: &Path) -> NotifySocket {
        NotifySocket {
            host: host.to_path_buf(),
            socket: dir.join("notify").join(SOCKET_NAME),
        }
    }

    fn dir(&self) -> &Path {
        self.socket.parent().expect("socket is in a directory")
    }

    /// At create, before the id is claimed: the directory the socket will
    /// live in, bind-mounted read-only into the container (the socket
    /// itself is made by `start`; a socket in a read-only mount can still
    /// be written to), and the variable that points the service at it.
    pub fn add_to_spec(&self, spec: &mut Spec) {
        let dir = self.dir();
        let mount = MountBuilder::default()
            .destination(IN_CONTAINER_DIR)
            .source(dir)
            .typ("bind")
            .options(["bind", "nosuid", "noexec", "nodev", "ro"].map(String::from).to_vec())
            .build()
            .expect("all fields set");
        spec.mounts_mut().get_or_insert_with(Vec::new).push(mount);
        if let Some(process) = spec.process_mut() {
            let env = process.env_mut().get_or_insert_with(Vec::new);
            env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
            env.push(format!("NOTIFY_SOCKET={IN_CONTAINER_DIR}/{SOCKET_NAME}"));
        }
    }

    /// At create, once the state directory exists: the directory to mount.
    pub fn make_dir(&self) -> Result<()> {
        std::fs::create_dir(self.dir()).map_err(io("create", self.dir()))
    }

    /// At start, before the init goes: the socket the service writes to.
    /// Returns None if create did not prepare the container for it.
    pub fn bind(&self) -> Result<Option<UnixDatagram>> {
        if !self.dir().is_dir() {
            return Ok(None);
        }
        let _ = std::fs::remove_file(&self.socket);
        let socket = UnixDatagram::bind(&self.socket).map_err(io("bind", &self.socket))?;
        // Any user of the container may report readiness.
        std::fs::set_permissions(&self.socket, std::fs::Permissions::from_mode(0o777))
            .map_err(io("chmod", &self.socket))?;
        Ok(Some(socket))
    }

    /// Waits for the service's `READY=1` and relays it to the host with the
    /// init as MAINPID; returns early if the init exits first.
    pub fn relay_ready(&self, socket: &UnixDatagram, pid: i32, pid_start: u64) -> Result<()> {
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(io("set timeout on", &self.socket))?;
        let mut buf = [0u8; 4096];
        loop {
            match socket.recv(&mut buf) {
                Ok(n) => {
                    let message = String::from_utf8_lossy(&buf[..n]);
                    if let Some(ready) = message.lines().find(|l| l.starts_with("READY=")) {
                        let out = format!("{ready}\nMAINPID={pid}\n");
                        let host = UnixDatagram::unbound().map_err(io("socket for", &self.host))?;
                        host.send_to(out.as_bytes(), &self.host).map_err(io("send READY to", &self.host))?;
                        return Ok(());
                    }
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if !state::process_alive(pid, pid_start) {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io("receive from", &self.socket)(e)),
            }
        }
    }
}
