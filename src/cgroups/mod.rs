//! cgroups: v1, v2 and hybrid hosts behind one interface.
//!
//! The host's mode is read at run time from what is mounted at
//! /sys/fs/cgroup, never assumed. A container's cgroup is a `CgroupPaths`
//! (one directory per v1 hierarchy, or one v2 directory), saved in the state
//! so that later verbs and `delete` find it whatever the bundle says then.

pub mod convert;
pub mod devices;
pub mod devices_bpf;
mod stats;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config.json: {field}: {message}")]
    Config { field: String, message: String },
    #[error("cgroup {}: {message}", path.display())]
    State { path: PathBuf, message: String },
    #[error(transparent)]
    Devices(#[from] devices_bpf::DeviceFilterError),
}

impl CgroupError {
    pub fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError {
        let path = path.to_path_buf();
        move |source| CgroupError::Io { op, path, source }
    }

    fn config(field: &str, message: impl Into<String>) -> CgroupError {
        CgroupError::Config { field: field.to_string(), message: message.into() }
    }
}

pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

/// Where a container's cgroup lives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum CgroupPaths {
    /// Unified host: one directory.
    V2(PathBuf),
    /// v1 or hybrid host: a directory per hierarchy, keyed by its mount
    /// point name (`memory`, `cpu,cpuacct`, `systemd`, and `unified` for a
    /// hybrid host's cgroup2 tree).
    V1(BTreeMap<String, PathBuf>),
}

/// What a container's processes can be asked to do through their cgroup.
pub trait Cgroup {
    /// Creates the directories; an existing one must be empty and thawed.
    fn create(&self) -> Result<()>;
    fn apply(&self, resources: &LinuxResources) -> Result<()>;
    fn add_process(&self, pid: i32) -> Result<()>;
    /// How a new process enters the cgroup without being migrated by
    /// another (see `Entry`).
    fn entry(&self) -> Entry;
    fn pids(&self) -> Result<Vec<i32>>;
    fn set_frozen(&self, frozen: bool) -> Result<()>;
    fn is_frozen(&self) -> bool;
    /// Signals every process; SIGKILL through cgroup.kill where it exists.
    fn signal_all(&self, signal: i32) -> Result<()>;
    /// The OOM kills seen so far.
    fn oom_kills(&self) -> u64;
    /// Resource usage, in runc's `events --stats` shape.
    fn stats(&self) -> serde_json::Value;
    /// Removes the directories (the processes must be gone).
    fn destroy(&self) -> Result<()>;
}

/// How a process enters a cgroup at birth, instead of `add_process`: a
/// migration by another process write-locks the kernel's global
/// threadgroup rwsem, whose writer waits for an RCU grace period (5 to
/// 15 ms of every create on this VM). A child cloned into a cgroup2
/// directory (CLONE_INTO_CGROUP), or a single-threaded process that writes
/// "0" to a v1 `tasks` file itself, takes no such lock.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// The cgroup2 directory to clone the process into (the whole cgroup
    /// on v2, the `unified` hierarchy on a hybrid host).
    pub clone_into: Option<PathBuf>,
    /// The v1 `tasks` files the process writes "0" to, itself.
    pub tasks_files: Vec<PathBuf>,
}

impl Entry {
    /// The process writes "0" to each `tasks` file: it joins as the thread
    /// it is (the whole process, being single-threaded).
    pub fn join_self(&self) -> Result<()> {
        for file in &self.tasks_files {
            std::fs::write(file, "0").map_err(CgroupError::io("write", file))?;
        }
        Ok(())
    }
}

/// The cgroup implementation for saved paths.
pub fn open(paths: &CgroupPaths) -> Box<dyn Cgroup> {
    match paths {
        CgroupPaths::V2(dir) => Box::new(v2::V2 { dir: dir.clone() }),
        CgroupPaths::V1(dirs) => Box::new(v1::V1 { dirs: dirs.clone() }),
    }
}

/// Whether /sys/fs/cgroup is a cgroup2 mount (a unified host).
pub fn is_unified() -> bool {
    statfs(CGROUP_ROOT).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// Resolves `linux.cgroupsPath` as runc's cgroupfs driver does: absent means
/// the container id; a relative path is under husk's own cgroup in each
/// hierarchy; an absolute one is under the hierarchy's root.
pub fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<CgroupPaths> {
    let requested = cgroups_path.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(id));
    let text = requested.to_string_lossy();
    if !requested.is_absolute() && text.split(':').count() == 3 {
        return Err(CgroupError::config(
            "linux.cgroupsPath",
            format!("{text:?} is a systemd slice path; the systemd cgroup driver is not supported yet"),
        ));
    }
    if requested.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(CgroupError::config("linux.cgroupsPath", format!("{text:?} must not contain \"..\"")));
    }
    let own = own_cgroups();
    let under = |mount: &Path, own_path: Option<&String>| -> PathBuf {
        let base = if requested.is_absolute() {
            mount.to_path_buf()
        } else {
            mount.join(own_path.map(|p| p.trim_start_matches('/')).unwrap_or(""))
        };
        base.join(requested.strip_prefix("/").unwrap_or(&requested))
    };
    if is_unified() {
        return Ok(CgroupPaths::V2(under(Path::new(CGROUP_ROOT), own.get(""))));
    }
    let mut dirs = BTreeMap::new();
    for (name, mount, key) in v1::hierarchies() {
        dirs.insert(name, under(&mount, own.get(&key)));
    }
    Ok(CgroupPaths::V1(dirs))
}

/// This process's cgroup per hierarchy, keyed by controller list as
/// /proc/self/cgroup names it (`memory`, `cpu,cpuacct`, `name=systemd`, and
/// the empty string for cgroup2).
fn own_cgroups() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// Writes one cgroup file, naming it in the error.
fn write(dir: &Path, file: &str, value: impl AsRef<[u8]>) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value.as_ref()).map_err(CgroupError::io("write", &path))
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn read_u64(dir: &Path, file: &str) -> u64 {
    read(dir, file).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// A `key value` line of a flat-keyed file (memory.stat, cpu.stat, …).
fn keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// The pids listed in a cgroup.procs file.
fn procs(dir: &Path) -> Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let text = std::fs::read_to_string(&path).map_err(CgroupError::io("read", &path))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Removes a cgroup directory, waiting briefly for exiting processes to
/// leave it (rmdir fails with EBUSY until they have).
fn remove_dir(dir: &Path) -> Result<()> {
    for _ in 0..500 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(CgroupError::io("remove", dir)(e)),
        }
    }
    Err(CgroupError::State { path: dir.to_path_buf(), message: "still busy after 5 s".into() })
}

/// Refuses a cgroup directory that exists with processes in it: it belongs
/// to someone else.
fn check_unused(dir: &Path) -> Result<()> {
    if dir.is_dir() && procs(dir).is_ok_and(|p| !p.is_empty()) {
        return Err(CgroupError::State {
            path: dir.to_path_buf(),
            message: "already exists and has processes in it".into(),
        });
    }
    Ok(())
}

/// Creates a cgroup directory and its parents.
fn make_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(CgroupError::io("create", dir))
}
