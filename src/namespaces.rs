//! Which namespaces the container gets, and how the init enters them.
//!
//! New namespaces are created by the clone of the init itself where possible
//! (one syscall, and the init is pid 1 at once). Namespaces given by `path`
//! are opened and type-checked by the parent before anything is cloned, so a
//! wrong path fails early with nothing to clean up.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sched::{CloneFlags, setns, unshare};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("config.json: linux.namespaces[{index}].path: {}: {source}", path.display())]
    Open {
        index: usize,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config.json: linux.namespaces[{index}].path: {} is not a {expected} namespace", path.display())]
    WrongType {
        index: usize,
        path: PathBuf,
        expected: String,
    },
    #[error("{op} {kind} namespace: {source}")]
    Sys {
        op: &'static str,
        kind: String,
        source: Errno,
    },
    #[error("open {path}: {source}")]
    Proc {
        path: String,
        source: std::io::Error,
    },
    #[error("writing {file}: {source}")]
    Write {
        file: String,
        source: std::io::Error,
    },
    #[error("set linux.timeOffsets: {0}")]
    TimeOffsets(crate::procfs::ProcfsError),
}

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

/// A namespace type as the spec spells it ("network", "mount"); Display
/// gives the kernel's short names ("net", "mnt"), which config.json rejects.
pub fn spec_name(t: LinuxNamespaceType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| t.to_string())
}

/// CLONE_NEWTIME; nix's CloneFlags lacks it. It is only valid for unshare
/// and setns: as a clone(2) flag its bit means a signal number.
const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(0x80);

/// A namespace to join, opened by the parent.
pub struct Join {
    pub flag: CloneFlags,
    pub fd: OwnedFd,
    pub kind: String,
}

pub struct NamespacePlan {
    /// Namespaces to create, as flags.
    pub new: CloneFlags,
    /// Namespaces to join, the user namespace first (it decides what the
    /// others may do), then in config order.
    pub joins: Vec<Join>,
}

impl NamespacePlan {
    pub fn from_spec(spec: &Spec) -> Result<Self, NamespaceError> {
        let mut plan = NamespacePlan {
            new: CloneFlags::empty(),
            joins: Vec::new(),
        };
        let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_deref()).unwrap_or_default();
        for (index, ns) in list.iter().enumerate() {
            let flag = clone_flag(ns.typ());
            let Some(path) = ns.path() else {
                plan.new |= flag;
                continue;
            };
            let file = File::open(path).map_err(|source| NamespaceError::Open {
                index,
                path: path.clone(),
                source,
            })?;
            let fd = OwnedFd::from(file);
            let wrong_type = || NamespaceError::WrongType {
                index,
                path: path.clone(),
                expected: spec_name(ns.typ()),
            };
            let actual = sys::namespace_type(fd.as_fd()).map_err(|_| wrong_type())?;
            if actual != flag.bits() {
                return Err(wrong_type());
            }
            let join = Join {
                flag,
                fd,
                kind: ns.typ().to_string(),
            };
            if flag == CloneFlags::CLONE_NEWUSER {
                plan.joins.insert(0, join);
            } else {
                plan.joins.push(join);
            }
        }
        Ok(plan)
    }

    /// The namespaces of a running process that differ from husk's own: what
    /// `exec` joins. The user namespace comes first.
    pub fn of_process(pid: i32) -> Result<Self, NamespaceError> {
        const KINDS: [(&str, CloneFlags); 8] = [
            ("user", CloneFlags::CLONE_NEWUSER),
            ("ipc", CloneFlags::CLONE_NEWIPC),
            ("uts", CloneFlags::CLONE_NEWUTS),
            ("net", CloneFlags::CLONE_NEWNET),
            ("pid", CloneFlags::CLONE_NEWPID),
            ("cgroup", CloneFlags::CLONE_NEWCGROUP),
            ("time", CLONE_NEWTIME),
            ("mnt", CloneFlags::CLONE_NEWNS),
        ];
        let mut plan = NamespacePlan {
            new: CloneFlags::empty(),
            joins: Vec::new(),
        };
        // Each directory looked up once, not a /proc path walk per file.
        let theirs_dir = format!("/proc/{pid}/ns");
        let dir = |path: &str| nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty());
        let theirs = dir(&theirs_dir).map_err(|e| NamespaceError::Proc { path: theirs_dir.clone(), source: e.into() })?;
        let ours = dir("/proc/self/ns").ok();
        for (name, flag) in KINDS {
            let link = |dir: BorrowedFd<'_>| nix::fcntl::readlinkat(dir, name).ok();
            // Both unreadable (a kind this kernel lacks) counts as the same.
            if link(theirs.as_fd()) == ours.as_ref().and_then(|o| link(o.as_fd())) {
                continue;
            }
            let file: File = nix::fcntl::openat(&theirs, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| NamespaceError::Proc { path: format!("{theirs_dir}/{name}"), source: e.into() })?
                .into();
            plan.joins.push(Join {
                flag,
                fd: file.into(),
                kind: name.to_string(),
            });
        }
        Ok(plan)
    }

    pub fn creates(&self, flag: CloneFlags) -> bool {
        self.new.contains(flag)
    }

    pub fn joins(&self, flag: CloneFlags) -> bool {
        self.joins.iter().any(|j| j.flag == flag)
    }

    /// The init can be cloned straight into its namespaces unless it must
    /// join a user namespace, or join others before creating its own user
    /// namespace: both need an intermediate process that enters step by step.
    pub fn needs_intermediate(&self) -> bool {
        let joins_other = self
            .joins
            .iter()
            .any(|j| j.flag != CloneFlags::CLONE_NEWPID && j.flag != CLONE_NEWTIME);
        self.joins(CloneFlags::CLONE_NEWUSER) || (self.creates(CloneFlags::CLONE_NEWUSER) && joins_other)
    }

    /// Flags for the clone of the init. The cgroup namespace is left out: the
    /// init unshares it once the parent has placed it in its cgroup, so that
    /// the namespace's root is the container's cgroup. The time namespace
    /// cannot be a clone(2) flag at all.
    pub fn clone_flags(&self) -> CloneFlags {
        self.new - CloneFlags::CLONE_NEWCGROUP - CLONE_NEWTIME
    }

    /// Parent side, before the clone: pid and time namespaces apply to
    /// children only, so the parent enters them (or creates the time
    /// namespace and sets its offsets) and the init is born inside.
    /// The returned guard puts the parent back. `spec` gives the offsets of
    /// a new time namespace (an exec'd process creates none).
    pub fn enter_for_children(&self, spec: Option<&Spec>) -> Result<ChildrenGuard, NamespaceError> {
        let mut guard = ChildrenGuard { restore: Vec::new() };
        for join in self.joins.iter().filter(|j| j.flag == CloneFlags::CLONE_NEWPID || j.flag == CLONE_NEWTIME) {
            guard.save(join.flag, &join.kind)?;
            setns(&join.fd, join.flag).map_err(|source| NamespaceError::Sys {
                op: "join",
                kind: join.kind.clone(),
                source,
            })?;
        }
        if self.creates(CLONE_NEWTIME) {
            guard.save(CLONE_NEWTIME, "time")?;
            unshare(CLONE_NEWTIME).map_err(|source| NamespaceError::Sys {
                op: "create",
                kind: "time".into(),
                source,
            })?;
            if let Some(spec) = spec {
                write_time_offsets(spec)?;
            }
        }
        Ok(guard)
    }

    /// Init side: join every namespace given by path that the parent has not
    /// handled (all but pid and time, unless `all`).
    pub fn join_paths(&self, all: bool) -> Result<(), NamespaceError> {
        for join in &self.joins {
            let for_children = join.flag == CloneFlags::CLONE_NEWPID || join.flag == CLONE_NEWTIME;
            if for_children && !all {
                continue;
            }
            setns(&join.fd, join.flag).map_err(|source| NamespaceError::Sys {
                op: "join",
                kind: join.kind.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Joins the user namespace given by path, if any, and forgets it: a
    /// process may not join the user namespace it is in. Returns whether it
    /// joined one.
    pub fn join_user_first(&mut self) -> Result<bool, NamespaceError> {
        let Some(index) = self.joins.iter().position(|j| j.flag == CloneFlags::CLONE_NEWUSER) else {
            return Ok(false);
        };
        let join = self.joins.remove(index);
        setns(&join.fd, join.flag).map_err(|source| NamespaceError::Sys { op: "join", kind: join.kind.clone(), source })?;
        Ok(true)
    }

    /// Closes the namespace fds; the init must not carry them into exec.
    pub fn close(&mut self) {
        self.joins.clear();
    }
}

/// Undoes `enter_for_children` when dropped.
pub struct ChildrenGuard {
    restore: Vec<(CloneFlags, OwnedFd)>,
}

impl ChildrenGuard {
    fn save(&mut self, flag: CloneFlags, kind: &str) -> Result<(), NamespaceError> {
        let name = if flag == CLONE_NEWTIME { "time" } else { "pid" };
        let file = File::open(format!("/proc/self/ns/{name}")).map_err(|source| NamespaceError::Write {
            file: format!("/proc/self/ns/{name} (saving {kind})"),
            source,
        })?;
        self.restore.push((flag, file.into()));
        Ok(())
    }
}

impl Drop for ChildrenGuard {
    fn drop(&mut self) {
        for (flag, fd) in self.restore.drain(..).rev() {
            // The parent's own namespaces can always be re-entered.
            let _ = setns(&fd, flag);
        }
    }
}

/// Writes linux.timeOffsets to the new time namespace, before any process
/// is born in it (the kernel refuses later writes).
pub fn write_time_offsets(spec: &Spec) -> Result<(), NamespaceError> {
    let Some(offsets) = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref()) else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, offset) in offsets {
        let secs = offset.secs().unwrap_or(0);
        let nanos = offset.nanosecs().unwrap_or(0);
        text.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    crate::procfs::write("self/timens_offsets", text.as_bytes()).map_err(NamespaceError::TimeOffsets)
}

/// Init side, in a fresh network namespace: runc brings `lo` up.
pub fn bring_up_loopback() -> Result<(), NamespaceError> {
    sys::loopback_up().map_err(|source| NamespaceError::Sys {
        op: "bring up lo in",
        kind: "network".into(),
        source,
    })
}

/// Init side: unshare the namespaces in `flags`.
pub fn create(flags: CloneFlags) -> Result<(), NamespaceError> {
    if flags.is_empty() {
        return Ok(());
    }
    unshare(flags).map_err(|source| NamespaceError::Sys {
        op: "create",
        kind: format!("{flags:?}"),
        source,
    })
}

pub fn time_flag() -> CloneFlags {
    CLONE_NEWTIME
}
