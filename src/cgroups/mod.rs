//! cgroups: v1, v2 and hybrid hosts behind one interface.
//!
//! The host's mode is read at run time from what is mounted at
//! /sys/fs/cgroup, never assumed. A container's cgroup is a `CgroupPaths`
//! (one directory per v1 hierarchy, or one v2 directory), saved in the state
//! so that later verbs and `delete` find it whatever the bundle says then.

mod common;
pub mod convert;
pub mod devices;
pub mod devices_bpf;
mod scope;
pub mod stats;
pub mod sub;
mod unit_properties;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use crate::host::CGROUP_ROOT;
use crate::host::{CgroupMode, HostFacts};
pub use scope::{Scope, SystemdUnit, annotated_properties};
pub use v1::hierarchies;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config_error::ConfigError),
    #[error("cgroup {}: {message}", path.display())]
    State { path: PathBuf, message: String },
    #[error(transparent)]
    Devices(#[from] devices_bpf::DeviceFilterError),
    #[error(transparent)]
    Systemd(#[from] crate::systemd::SystemdError),
    #[error(transparent)]
    Sub(#[from] sub::SubCgroupError),
}

impl CgroupError {
    /// Whether the cgroup was not husk's to make or write (rootless).
    pub fn is_permission(&self) -> bool {
        match self {
            CgroupError::Io { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EROFS))
            }
            _ => false,
        }
    }

    pub fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError {
        let path = path.to_path_buf();
        move |source| CgroupError::Io { op, path, source }
    }

    /// The errno of a failed read or write.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CgroupError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn config(field: &str, message: impl Into<String>) -> CgroupError {
        CgroupError::Config(crate::config_error::ConfigError::config(field, message.into()))
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
    fn stats(&self) -> stats::Stats;
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

/// The cgroup implementation for saved paths: its files. What every verb
/// but `update` and `delete` needs, whichever driver made the cgroup.
/// The first limit `resources` asks for, as its config field: what a
/// container without a cgroup of its own cannot have. Device rules are no
/// limit here: rootless, runc ignores them too (the devices a container
/// without privilege can open are those the host lets its user open).
pub fn first_limit(resources: &LinuxResources) -> Option<&'static str> {
    let asked = [
        ("memory", resources.memory().is_some()),
        ("cpu", resources.cpu().is_some()),
        ("pids", resources.pids().is_some()),
        ("blockIO", resources.block_io().is_some()),
        ("hugepageLimits", resources.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())),
        ("network", resources.network().is_some()),
        ("rdma", resources.rdma().as_ref().is_some_and(|r| !r.is_empty())),
        ("unified", resources.unified().as_ref().is_some_and(|u| !u.is_empty())),
    ];
    asked.into_iter().find(|(_, asked)| *asked).map(|(field, _)| field)
}

pub fn open(paths: &CgroupPaths) -> Box<dyn Cgroup> {
    match paths {
        CgroupPaths::V2(dir) => Box::new(v2::V2 { dir: dir.clone() }),
        CgroupPaths::V1(dirs) => Box::new(v1::V1 { dirs: dirs.clone() }),
    }
}

/// The cgroup of a recorded container as its driver manages it: through
/// its systemd unit when it has one (so that `update` sets the unit's
/// properties and `delete` stops it), else its files.
pub fn open_managed(paths: &CgroupPaths, unit: Option<&SystemdUnit>, id: &str) -> Box<dyn Cgroup> {
    match unit {
        Some(unit) => Box::new(Scope::existing(unit.clone(), paths, id)),
        None => open(paths),
    }
}

/// After systemd made a unit's cgroup: the v1 hierarchies systemd does not
/// manage (cpuset, freezer, …) made as runc's joinCgroups makes them, the
/// controllers of a v2 cgroup enabled.
fn complete_made_cgroup(paths: &CgroupPaths) -> Result<()> {
    match paths {
        CgroupPaths::V2(dir) => v2::V2 { dir: dir.clone() }.enable_controllers(),
        CgroupPaths::V1(dirs) => v1::V1 { dirs: dirs.clone() }.make_dirs(),
    }
}

/// Refuses cgroup directories that exist with processes in them.
fn check_paths_unused(paths: &CgroupPaths) -> Result<()> {
    match paths {
        CgroupPaths::V2(dir) => check_unused(dir),
        CgroupPaths::V1(dirs) => dirs.values().try_for_each(|dir| check_unused(dir)),
    }
}

/// A directory to name in an error about the whole cgroup.
fn first_path(paths: &CgroupPaths) -> PathBuf {
    match paths {
        CgroupPaths::V2(dir) => dir.clone(),
        CgroupPaths::V1(dirs) => dirs.values().next().cloned().unwrap_or_default(),
    }
}

/// Resolves `linux.cgroupsPath` as runc's cgroupfs driver does: absent means
/// the container id; a relative path is under husk's own cgroup in each
/// hierarchy; an absolute one is under the hierarchy's root.
pub fn resolve(host: &HostFacts, cgroups_path: Option<&Path>, id: &str) -> Result<CgroupPaths> {
    let requested = cgroups_path.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(id));
    let text = requested.to_string_lossy();
    if !requested.is_absolute() && text.split(':').count() == 3 {
        return Err(CgroupError::config(
            "linux.cgroupsPath",
            format!("{text:?} is a systemd slice path: it needs the systemd cgroup driver (--systemd-cgroup)"),
        ));
    }
    if requested.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(CgroupError::config("linux.cgroupsPath", format!("{text:?} must not contain \"..\"")));
    }
    let under = |mount: &Path, own_path: Option<&str>| -> PathBuf {
        let base = if requested.is_absolute() {
            mount.to_path_buf()
        } else {
            mount.join(own_path.map(|p| p.trim_start_matches('/')).unwrap_or(""))
        };
        base.join(requested.strip_prefix("/").unwrap_or(&requested))
    };
    if host.cgroup_mode == CgroupMode::V2 {
        let root = Path::new(CGROUP_ROOT);
        let mount_root = host.cgroup_mounts().next().map(|m| m.root.as_str()).unwrap_or("/");
        let own = host.own_cgroup(&[]).map(|own| v1::relative_to_mount(own, mount_root));
        return Ok(CgroupPaths::V2(under(root, own.as_deref())));
    }
    let dirs = hierarchies(host)
        .into_iter()
        .map(|h| {
            let dir = under(&h.mount_point, h.own_path.as_deref());
            (h.name, dir)
        })
        .collect();
    Ok(CgroupPaths::V1(dirs))
}

/// Writes one cgroup file, naming it in the error.
fn write(dir: &Path, file: &str, value: impl AsRef<[u8]>) -> Result<()> {
    let path = dir.join(file);
    crate::logging::debug_with(|| format!("cgroup: writing {:?} to {}", String::from_utf8_lossy(value.as_ref()), path.display()));
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

/// The pids in a cgroup and in every cgroup below it (runc's GetAllPids):
/// a container may have made cgroups of its own inside its cgroup.
fn procs(dir: &Path) -> Result<Vec<i32>> {
    let path = dir.join("cgroup.procs");
    let text = std::fs::read_to_string(&path).map_err(CgroupError::io("read", &path))?;
    let mut pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    for sub in sub_cgroups(dir) {
        // One removed meanwhile has no processes left to list.
        match procs(&sub) {
            Ok(more) => pids.extend(more),
            Err(CgroupError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(pids)
}

/// The cgroups directly below `dir` (none if it cannot be read).
fn sub_cgroups(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect()
}

/// How many processes are in the cgroup `paths` names already (runc warns
/// of them; the cgroup is then shared, see CgroupGuard in create).
pub fn processes_in(paths: &CgroupPaths) -> usize {
    let first = first_path(paths);
    if !first.is_dir() {
        return 0;
    }
    open(paths).pids().map(|p| p.len()).unwrap_or(0)
}

/// Removes a cgroup directory, and first, depth first, the cgroups made
/// inside it (runc's RemovePath), waiting briefly for exiting processes to
/// leave each (rmdir fails with EBUSY until they have).
fn remove_dir(dir: &Path) -> Result<()> {
    for sub in sub_cgroups(dir) {
        remove_dir(&sub)?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::recorded;

    fn v1_dirs(paths: CgroupPaths) -> BTreeMap<String, PathBuf> {
        match paths {
            CgroupPaths::V1(dirs) => dirs,
            CgroupPaths::V2(dir) => panic!("a v1 host resolved to v2: {}", dir.display()),
        }
    }

    fn own_memory(host: &HostFacts) -> String {
        host.own_cgroup(&["memory".into()]).expect("recorded").to_string()
    }

    #[test]
    fn relative_paths_are_under_husks_own_cgroup_on_v1() {
        let host = recorded::v1_hybrid();
        let dirs = v1_dirs(resolve(&host, Some(Path::new("pod/c1")), "c1").unwrap());
        let names: Vec<&str> = dirs.keys().map(String::as_str).collect();
        assert_eq!(names, ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd", "unified"]);
        assert_eq!(dirs["cpu"], Path::new("/sys/fs/cgroup/cpu/pod/c1"));
        assert_eq!(dirs["unified"], Path::new("/sys/fs/cgroup/unified/pod/c1"));
        // husk runs in a memory cgroup of its own on the recorded host.
        assert_eq!(dirs["memory"], Path::new(&format!("/sys/fs/cgroup/memory{}/pod/c1", own_memory(&host))));
    }

    #[test]
    fn absolute_paths_are_under_each_root_on_v1() {
        let host = recorded::v1_hybrid();
        let dirs = v1_dirs(resolve(&host, Some(Path::new("/husk/c1")), "c1").unwrap());
        for (name, dir) in &dirs {
            assert_eq!(dir, &Path::new("/sys/fs/cgroup").join(name).join("husk/c1"));
        }
    }

    #[test]
    fn the_default_is_the_id_relative() {
        let host = recorded::v1_hybrid();
        let dirs = v1_dirs(resolve(&host, None, "web").unwrap());
        assert_eq!(dirs["pids"], Path::new("/sys/fs/cgroup/pids/web"));
        assert_eq!(dirs["memory"], Path::new(&format!("/sys/fs/cgroup/memory{}/web", own_memory(&host))));
        let v2 = recorded::v2();
        assert_eq!(resolve(&v2, None, "web").unwrap(), CgroupPaths::V2("/sys/fs/cgroup/husk-capture/shell/web".into()));
    }

    #[test]
    fn paths_on_v2() {
        let host = recorded::v2();
        assert_eq!(
            resolve(&host, Some(Path::new("pod/c1")), "c1").unwrap(),
            CgroupPaths::V2("/sys/fs/cgroup/husk-capture/shell/pod/c1".into())
        );
        assert_eq!(resolve(&host, Some(Path::new("/husk/c1")), "c1").unwrap(), CgroupPaths::V2("/sys/fs/cgroup/husk/c1".into()));
    }

    #[test]
    fn parent_components_and_slices_are_refused_on_both() {
        for host in [recorded::v1_hybrid(), recorded::v2()] {
            for path in ["../escape", "/a/../../b", "a/.."] {
                let error = resolve(&host, Some(Path::new(path)), "c").unwrap_err().to_string();
                assert_eq!(error, format!("config.json: linux.cgroupsPath: {path:?} must not contain \"..\""));
            }
            let error = resolve(&host, Some(Path::new("system.slice:husk:c1")), "c1").unwrap_err().to_string();
            assert!(error.starts_with("config.json: linux.cgroupsPath: \"system.slice:husk:c1\" is a systemd slice path"), "{error}");
        }
    }

    #[test]
    fn a_mount_of_a_subtree_is_followed() {
        // Inside a container whose /sys/fs/cgroup/memory is bound from its
        // cgroup /docker/abc: its own cgroup is that mount's root.
        let mountinfo = "20 1 0:1 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                         21 20 0:2 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let host = HostFacts::from_recorded(mountinfo, "1:memory:/docker/abc\n", false).unwrap();
        let dirs = v1_dirs(resolve(&host, Some(Path::new("inner")), "c").unwrap());
        assert_eq!(dirs["memory"], Path::new("/sys/fs/cgroup/memory/inner"));
    }
}
