//! The parent's side of the conversation with a process it cloned (the
//! container's init, or a process started by `exec`): receiving its reports,
//! and killing it if the parent gives up.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::sync::{self, Channel, FromInit};

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

