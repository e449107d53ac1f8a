//! The container state store: one directory per container under `--root`,
//! holding `state.json` and, until `start`, the `exec.fifo` the init waits on.
//!
//! The status is never stored: it is derived from whether the init is alive
//! (its pid *and* start time, so a recycled pid is not mistaken for it) and
//! whether the fifo still exists, as runc does. Nothing has to be rewritten
//! when the container starts or exits.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cgroups::{self, CgroupPaths};
use crate::security::seccomp::Filter;
use crate::spec::OCI_VERSION;

pub const STATE_FILE: &str = "state.json";
/// What `exec` needs of the config (see `ExecDefaults`).
pub const EXEC_DEFAULTS_FILE: &str = "exec.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("invalid container id format: {0:?}")]
    BadId(String),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `create` has claimed the id but has no init yet (or died trying).
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What husk remembers about a container between invocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The init's pid in husk's pid namespace.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/PID/stat), to tell it from a
    /// later process that reuses the pid.
    pub pid_start: u64,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub owner: String,
    /// The container's cgroup, as placed at create.
    #[serde(default)]
    pub cgroup: Option<CgroupPaths>,
    /// The systemd unit that holds the cgroup (`--systemd-cgroup`), which
    /// `update` changes and `delete` stops, even after a create that was
    /// killed half-way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<cgroups::SystemdUnit>,
    /// The resctrl groups of `linux.intelRdt`, which delete removes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<crate::intel_rdt::RdtState>,
    /// The config's hooks, kept from create: `start` and `delete` run
    /// theirs even if the bundle changed or went away since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The container has no pid namespace of its own (it shares husk's or
    /// joined one by path): a SIGKILL of its init then leaves the other
    /// processes, so `kill KILL` sends it to all of them (see
    /// container::signal). A state from before this field had its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_pid_ns: bool,
}

/// The OCI state as runc prints it (`state`, `list -f json`): its fields in
/// runc's order, since some tools compare the text.
#[derive(Debug, Serialize)]
pub struct OciState<'a> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: &'static str,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
    pub owner: &'a str,
}

impl Container {
    /// The OCI state with the given status and pid: what `state` prints,
    /// and what hooks read on stdin (with the pid as seen where they run).
    pub fn state_with(&self, status: Status, pid: i32) -> serde_json::Value {
        serde_json::to_value(self.state_view(status, pid)).expect("the state serialises")
    }

    pub fn state_view(&self, status: Status, pid: i32) -> OciState<'_> {
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            pid,
            status: status.as_str(),
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
            owner: &self.owner,
        }
    }
}

/// What `exec` needs of the config, kept at create so that it reads neither
/// the bundle (which may have changed or gone) nor compiles the profile
/// again: the container's process, whose fields `exec` lays its flags over,
/// and the compiled seccomp filter. Apart from state.json, which `state`
/// reads on every call and should stay small.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecDefaults {
    pub process: oci_spec::runtime::Process,
    pub seccomp: Option<Filter>,
    /// linux.personality and linux.memoryPolicy: exec'd processes take
    /// them too (the personality as in runc's setns init; the memory
    /// policy is the container's, the spec says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<oci_spec::runtime::LinuxPersonality>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<oci_spec::runtime::LinuxMemoryPolicy>,
}

/// `--root`: where the containers' directories live.
pub struct Store {
    root: PathBuf,
}

/// A container directory being created; removed on drop unless kept.
pub struct Reservation {
    pub dir: PathBuf,
    keep: bool,
}

impl Reservation {
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Container ids as runc accepts them: letters, digits, `_+-.`, and not
/// `.` or `..`, so an id can never name a path outside the store.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+-.".contains(c);
    if id.is_empty() || id == "." || id == ".." || id.len() > 1024 || !id.chars().all(ok_char) {
        return Err(StateError::BadId(id.to_string()));
    }
    Ok(())
}

impl Store {
    pub fn new(root: PathBuf) -> Self {
        Store { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Claims the directory for a new container; fails if the id is taken.
    pub fn reserve(&self, id: &str) -> Result<Reservation, StateError> {
        validate_id(id)?;
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { op, path, source }
        };
        std::fs::create_dir_all(&self.root).map_err(io("create state root", &self.root))?;
        let dir = self.dir(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(Reservation { dir, keep: false }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StateError::Exists(id.to_string())),
            Err(e) => Err(io("create", &dir)(e)),
        }
    }

    pub fn load(&self, id: &str) -> Result<Container, StateError> {
        validate_id(id)?;
        let path = self.dir(id).join(STATE_FILE);
        crate::logging::debug_with(|| format!("loading the state of {id} from {}", path.display()));
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StateError::NotExist(id.to_string())),
            Err(source) => return Err(StateError::Io { op: "read", path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Writes state.json atomically: readers see the old or the new file.
    pub fn save(&self, container: &Container) -> Result<(), StateError> {
        self.write_file(&container.id, STATE_FILE, &serde_json::to_vec(container).expect("state serialises"))
    }

    pub fn save_exec_defaults(&self, id: &str, defaults: &ExecDefaults) -> Result<(), StateError> {
        self.write_file(id, EXEC_DEFAULTS_FILE, &serde_json::to_vec(defaults).expect("a process serialises"))
    }

    pub fn load_exec_defaults(&self, id: &str) -> Result<ExecDefaults, StateError> {
        validate_id(id)?;
        let path = self.dir(id).join(EXEC_DEFAULTS_FILE);
        let bytes = std::fs::read(&path).map_err(|source| StateError::Io { op: "read", path: path.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path, source })
    }

    /// Writes a file of the container's directory atomically (beside it,
    /// then renamed): readers see the old or the new file, never half.
    fn write_file(&self, id: &str, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        let dir = self.dir(id);
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let io = |op| {
            let path = path.clone();
            move |source| StateError::Io { op, path, source }
        };
        let written = std::fs::File::create(&tmp)
            .map_err(io("create"))
            .and_then(|mut file| file.write_all(bytes).map_err(io("write")))
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(io("rename")));
        // A partial temporary file (ENOSPC) is not left beside the state.
        // No fsync: like runc's, the state describes processes and cgroups
        // that do not outlive the machine, and rename alone keeps a reader
        // (or a kill) from ever seeing half a file.
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Every container with a readable state, sorted by id.
    pub fn list(&self) -> Vec<Container> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut found: Vec<Container> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|id| self.load(&id).ok())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }

    /// Removes a container's directory; a missing one is not an error.
    pub fn remove(&self, id: &str) -> Result<(), StateError> {
        validate_id(id)?;
        let dir = self.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(StateError::Io { op: "remove", path: dir, source: e })
            }
            _ => Ok(()),
        }
    }

    /// The container's status, derived from the living process and the fifo.
    pub fn status(&self, container: &Container) -> Status {
        let status = self.status_now(container);
        crate::logging::debug_with(|| format!("{} is {} (init pid {})", container.id, status.as_str(), container.pid));
        status
    }

    fn status_now(&self, container: &Container) -> Status {
        if container.pid == 0 {
            Status::Creating
        } else if !process_alive(container.pid, container.pid_start) {
            Status::Stopped
        } else if self.dir(&container.id).join(EXEC_FIFO).exists() {
            Status::Created
        } else if container.cgroup.as_ref().is_some_and(|c| cgroups::open(c).is_frozen()) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The OCI state, in runc's shape (runc adds rootfs, created and owner).
    pub fn oci_state<'a>(&self, container: &'a Container) -> OciState<'a> {
        let status = self.status(container);
        let pid = if status == Status::Stopped || status == Status::Creating { 0 } else { container.pid };
        container.state_view(status, pid)
    }

    /// The owner `list` shows: the name of the user owning the container's
    /// state directory (runc's), or `#UID` for a uid with no name.
    pub fn owner_name(&self, id: &str) -> String {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(self.dir(id)) else { return String::new() };
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        user_name(&passwd, meta.uid()).unwrap_or_else(|| format!("#{}", meta.uid()))
    }
}

/// The name of `uid` in an /etc/passwd text (`list`'s owner; the name
/// /etc/subuid may give a rootless user's ranges under).
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

/// The start time of a live (not zombie) process, or None.
pub fn start_time(pid: i32) -> Option<u64> {
    // Read directly: on every `state` and `start`, a general /proc parser
    // costs more than the two fields we need.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// The start time from a /proc/PID/stat line, or None for a zombie. The
/// command name may hold spaces and parentheses: fields count from the last ')'.
fn parse_stat(stat: &str) -> Option<u64> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // After the state, starttime is the 19th field (field 22 of the line).
    fields.nth(18)?.parse().ok()
}

pub fn process_alive(pid: i32, started: u64) -> bool {
    pid > 0 && start_time(pid) == Some(started)
}

/// The current time as RFC 3339 with nanoseconds, as runc writes it.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\n";
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 2).as_deref(), Some("bin"));
        assert_eq!(user_name(passwd, 7), None);
    }

    #[test]
    fn the_state_prints_in_runcs_order() {
        let c: Container = serde_json::from_value(serde_json::json!({
            "id": "c", "bundle": "/b", "rootfs": "/b/r", "pid": 9, "pid_start": 1, "created": "t",
            "annotations": {"k": "v"}, "owner": ""
        })).unwrap();
        let text = serde_json::to_string(&c.state_view(Status::Running, 9)).unwrap();
        assert_eq!(text, r#"{"ociVersion":"1.3.0","id":"c","pid":9,"status":"running","bundle":"/b","rootfs":"/b/r","created":"t","annotations":{"k":"v"},"owner":""}"#);
    }

    #[test]
    fn container_ids() {
        for good in ["a", "web-1", "x_y.z+1", "0123456789abcdef"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "ü", "a\0b"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stat_lines() {
        let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(line), Some(98765));
        let zombie = "42 (x) Z 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 0 0";
        assert_eq!(parse_stat(zombie), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_alive_and_wrong_start_time_is_not() {
        let me = std::process::id() as i32;
        let started = start_time(me).expect("own stat");
        assert!(process_alive(me, started));
        assert!(!process_alive(me, started + 1));
        assert!(!process_alive(0, 0));
    }
}
