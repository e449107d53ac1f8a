//! The parent's side of the conversation with a process it cloned (the
//! container's init, or a process started by `exec`): receiving its reports,
//! and killing it if the parent gives up.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::cgroups::Entry;
use crate::error::{Error, Result};
use crate::sync::{self, Channel, FromInit};
use crate::sys::{self, Forked};

/// Receives one message, turning a failure report into the init's error.
pub fn expect<T>(channel: &Channel, what: &'static str, pick: impl Fn(&FromInit) -> Option<T>) -> Result<T> {
    let message: FromInit = match channel.recv() {
        Ok(message) => message,
        Err(sync::SyncError::Closed) => {
            return Err(Error::Lifecycle("the container process exited before it was set up".into()));
        }
        Err(e) => return Err(e.into()),
    };
    check_message(message, what, pick)
}

/// Receives one message that carries an fd.
pub fn expect_fd(channel: &Channel, what: &'static str, is: impl Fn(&FromInit) -> bool) -> Result<OwnedFd> {
    let (message, fd): (FromInit, _) = match channel.recv_with_fd() {
        Ok(received) => received,
        Err(sync::SyncError::Closed) => {
            return Err(Error::Lifecycle("the container process exited before it was set up".into()));
        }
        Err(e) => return Err(e.into()),
    };
    check_message(message, what, |m| is(m).then_some(()))?;
    fd.ok_or_else(|| {
        Error::Sync(sync::SyncError::Unexpected {
            expected: what,
            got: "a message without its fd".into(),
        })
    })
}

fn check_message<T>(message: FromInit, what: &'static str, pick: impl Fn(&FromInit) -> Option<T>) -> Result<T> {
    if let FromInit::Failed { step, error } = message {
        return Err(Error::Init { step, error });
    }
    pick(&message).ok_or_else(|| {
        Error::Sync(sync::SyncError::Unexpected {
            expected: what,
            got: format!("{message:?}"),
        })
    })
}

/// Clones a child (into the namespaces of `flags`) that is born in
/// `entry`'s cgroup2 directory, if it has one. Returns whether it was: on
/// a kernel without clone3 (before 5.7) it is an ordinary clone, and the
/// caller must place the child. The v1 hierarchies the child joins itself.
pub fn clone_entering(flags: libc::c_int, entry: &Entry) -> Result<(Forked, bool)> {
    let clone_failed = |e| Error::sys(format!("clone with flags {flags:#x}"))(e);
    let Some(dir) = &entry.clone_into else {
        return Ok((sys::fork_into(flags).map_err(clone_failed)?, true));
    };
    let fd = nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(Error::sys(format!("open cgroup {}", dir.display())))?;
    match sys::fork_into_cgroup(flags, fd.as_fd()) {
        Ok(forked) => Ok((forked, true)),
        Err(nix::errno::Errno::ENOSYS | nix::errno::Errno::E2BIG) => Ok((sys::fork_into(flags).map_err(clone_failed)?, false)),
        Err(e) => Err(Error::sys(format!("clone into cgroup {}", dir.display()))(e)),
    }
}

pub fn write_pid_file(path: &Path, pid: Pid) -> Result<()> {
    // Written beside and renamed, so a reader never sees a partial pid.
    let tmp = path.with_extension("husk-tmp");
    std::fs::write(&tmp, pid.to_string()).map_err(Error::io("write pid file", &tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io("write pid file", path))
}

/// The processes create started; killed and reaped on drop unless released.
#[derive(Default)]
pub struct Children {
    pids: Vec<Pid>,
}

impl Children {
    pub fn push(&mut self, pid: Pid) {
        self.pids.push(pid);
    }

    pub fn forget(&mut self, pid: Pid) {
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

