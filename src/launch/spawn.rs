//! Cloning the process a launch talks to, and the guard that kills it if
//! the launch fails. husk is single-threaded here: the clone is a copy of a
//! process that holds no lock, so the child may allocate.

use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use super::LaunchError;
use crate::cgroups::Entry;
use crate::namespaces::NamespacePlan;
use crate::sys::{self, Forked};

/// A clone, seen from the side that returns.
pub struct Spawned {
    pub forked: Forked,
    /// Born in its cgroup (see cgroups::Entry), or to be placed by the parent.
    pub born_in_cgroup: bool,
}

/// Clones a child straight into the namespaces the plan creates, inside the
/// pid and time namespaces it joins or creates for children (which the
/// parent enters around the clone and leaves again), and, given an entry,
/// born in its cgroup2 directory. `spec` gives the time offsets of a new
/// time namespace.
pub fn clone_into(plan: &NamespacePlan, spec: Option<&Spec>, entry: Option<&Entry>) -> Result<Spawned, LaunchError> {
    let flags = plan.clone_flags();
    let guard = plan.enter_for_children(spec)?;
    let spawned = match entry {
        Some(entry) => clone_entering(flags.bits(), entry),
        None => sys::fork_into(flags.bits())
            .map(|forked| Spawned { forked, born_in_cgroup: false })
            .map_err(|source| LaunchError::Clone { flags: flags.bits(), source }),
    };
    if let Ok(Spawned { forked: Forked::Child, .. }) = spawned {
        // The guard puts the *parent* back; the child stays where it was born.
        std::mem::forget(guard);
    }
    spawned
}

/// Forks the intermediate process, which enters the namespaces one by one
/// and forks the init. The init is then the intermediate's child: husk
/// becomes a subreaper, so that the init is reparented to it, to be reaped
/// (and waited on by `run`), when the intermediate exits.
pub fn fork_intermediate() -> Result<Forked, LaunchError> {
    nix::sys::prctl::set_child_subreaper(true).map_err(|source| LaunchError::Subreaper { source })?;
    sys::fork_into(0).map_err(|source| LaunchError::Clone { flags: 0, source })
}

/// Clones a child (into the namespaces of `flags`) that is born in
/// `entry`'s cgroup2 directory, if it has one. On a kernel without clone3
/// (before 5.7) it is an ordinary clone, and the caller must place the
/// child. The v1 hierarchies the child joins itself.
fn clone_entering(flags: libc::c_int, entry: &Entry) -> Result<Spawned, LaunchError> {
    let clone_failed = |source| LaunchError::Clone { flags, source };
    let Some(dir) = &entry.clone_into else {
        return Ok(Spawned { forked: sys::fork_into(flags).map_err(clone_failed)?, born_in_cgroup: true });
    };
    let fd = nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|source| LaunchError::CgroupDir { path: dir.clone(), source })?;
    match sys::fork_into_cgroup(flags, fd.as_fd()) {
        Ok(forked) => Ok(Spawned { forked, born_in_cgroup: true }),
        Err(Errno::ENOSYS | Errno::E2BIG) => {
            Ok(Spawned { forked: sys::fork_into(flags).map_err(clone_failed)?, born_in_cgroup: false })
        }
        Err(source) => Err(LaunchError::CgroupDir { path: dir.clone(), source }),
    }
}

/// The processes a launch started; killed and reaped on drop unless released.
#[derive(Default)]
pub struct Children {
    pids: Vec<Pid>,
}

impl Children {
    pub fn push(&mut self, pid: Pid) {
        self.pids.push(pid);
    }

    /// Reaps a child that exited by design (the intermediate).
    pub fn reap(&mut self, pid: Pid) {
        let _ = waitpid(pid, None);
        self.pids.retain(|p| *p != pid);
    }

    pub fn release(mut self) {
        self.pids.clear();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for pid in self.pids.drain(..) {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}
