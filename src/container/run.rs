//! `run` in the foreground: husk stays the container's parent, forwards the
//! signals it receives to the init, and exits with the init's exit code.

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Signals that are about husk itself and must stay deliverable.
const NOT_FORWARDED: &[Signal] = &[
    Signal::SIGKILL,
    Signal::SIGSTOP,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGILL,
    Signal::SIGFPE,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGABRT,
];

/// The signals `run` takes over: SIGCHLD and everything it forwards.
pub(super) fn taken_over() -> SigSet {
    let mut set = SigSet::all();
    for sig in NOT_FORWARDED {
        set.remove(*sig);
    }
    set
}

/// Blocks the signals before the init is cloned. A fast container (a
/// `/bin/true`) can exit before husk starts waiting; blocked, its SIGCHLD
/// stays pending instead of being lost.
pub fn take_over_signals() -> Result<()> {
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&taken_over()), None).map_err(Error::sys("block signals"))
}

/// Waits for the init, forwarding every other signal to it. Returns the
/// exit code as a shell reports it: the status, or 128 + the signal.
pub fn wait_forwarding(init: Pid) -> Result<i32> {
    let set = taken_over();
    loop {
        if let Some(code) = reap(init)? {
            return Ok(code);
        }
        let signal = set.wait().map_err(Error::sys("wait for signals"))?;
        if signal != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(init, signal);
        }
    }
}

/// Reaps every exited child; returns the init's code once it is among them.
pub(super) fn reap(init: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => return Ok(Some(128 + sig as i32)),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::ECHILD) => {
                return Err(super::LifecycleError::LostInit.into());
            }
            Err(e) => return Err(Error::sys("waitpid")(e)),
        }
    }
}
