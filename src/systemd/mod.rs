//! systemd's side of the systemd cgroup driver, as runc's driver talks to it:
//! a D-Bus client of systemd's manager written against the wire protocol
//! (`bus`, `wire`, `manager`), and the pure naming rules that turn
//! `linux.cgroupsPath` ("slice:prefix:name") into a unit and its cgroup
//! (`naming`).
//!
//! Hand-written rather than a crate: zbus 6 is async only and starts a
//! helper thread ("zruntime") while a connection lives outside its
//! `block_on`, and husk clones while single-threaded; the client here is
//! blocking, opens its socket only when the systemd driver is asked for,
//! and every wait has a deadline.
//!
//! Self-contained (no `crate::` imports), so that tests outside the binary
//! can include it with `#[path]`.

pub mod bus;
pub mod gvariant;
pub mod manager;
pub mod naming;
pub mod wire;

/// Every failure of the systemd driver, each naming the bus socket, the
/// unit or the config field.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("systemd: bus {socket} not reachable: {}", io_text(source))]
    Unreachable { socket: String, source: std::io::Error },
    #[error("systemd: bus address \"{address}\" has no unix socket")]
    BadAddress { address: String },
    #[error("systemd: bus {socket}: {op}: {}", io_text(source))]
    Io { socket: String, op: &'static str, source: std::io::Error },
    #[error("systemd: bus {socket} refused authentication: {reply}")]
    AuthRefused { socket: String, reply: String },
    #[error("systemd: bus {socket}: timed out waiting for {waiting_for}")]
    Timeout { socket: String, waiting_for: String },
    #[error("systemd: not running on the bus {socket}: nobody owns org.freedesktop.systemd1 there")]
    NotRunning { socket: String },
    #[error("systemd: malformed D-Bus message: {problem}")]
    Malformed { problem: String },
    #[error("systemd: {method}: {name}: {message}")]
    MethodFailed { method: String, name: String, message: String },
    #[error("systemd: {verb} {unit}: the job ended with result \"{result}\"")]
    JobFailed { verb: &'static str, unit: String, result: String },
    #[error("systemd: reply to {method} is not of the expected type: {body}")]
    UnexpectedReply { method: &'static str, body: String },
    #[error("config.json: linux.cgroupsPath: {problem}")]
    CgroupsPath { problem: String },
    #[error("config.json: linux.resources.cpu.{field}: \"{value}\": {problem}")]
    CpuList { field: &'static str, value: String, problem: String },
    #[error("--systemd-cgroup rootless needs a cgroup v2 host: a user's systemd instance manages no v1 hierarchy")]
    RootlessNeedsV2,
}

/// An I/O error's text without Rust's " (os error N)".
fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => nix::errno::Errno::from_raw(errno).desc().to_string(),
        None => e.to_string(),
    }
}

impl SystemdError {
    /// The D-Bus error name of a failed method call.
    pub fn dbus_error_name(&self) -> Option<&str> {
        match self {
            SystemdError::MethodFailed { name, .. } => Some(name),
            _ => None,
        }
    }
}
