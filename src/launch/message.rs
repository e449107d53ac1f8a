//! What the parent and the process it cloned say to each other: one message
//! per packet of the launch channel, each belonging to one `Exchange` of the
//! script.

use std::error::Error;
use std::fmt;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::script::Exchange;

/// From the cloned process (the init, the intermediate, or an exec'd
/// process) to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum ChildSays {
    /// A new user namespace exists: write its id maps.
    WriteIdMaps,
    /// The intermediate forked the init; its pid in the parent's view.
    InitPid(i32),
    /// The mounts are made, the root not yet pivoted: run the prestart and
    /// createRuntime hooks.
    RunCreateHooks,
    /// The pty master is attached (SCM_RIGHTS): pass it on.
    Console,
    /// The seccomp filter is loaded; its notify fd is attached: send it to
    /// the listener.
    SeccompListener,
    /// Set up and waiting for `start`; when each step ended, in µs since
    /// the process started (for `--debug`).
    Ready { timeline: Vec<(String, u64)> },
    /// A step failed; the process exits after saying so.
    Failed(InitFailure),
}

impl ChildSays {
    /// The exchange this message belongs to (none for a failure).
    pub fn exchange(&self) -> Option<Exchange> {
        Some(match self {
            ChildSays::WriteIdMaps => Exchange::IdMaps,
            ChildSays::InitPid(_) => Exchange::InitPid,
            ChildSays::RunCreateHooks => Exchange::CreateHooks,
            ChildSays::Console => Exchange::Console,
            ChildSays::SeccompListener => Exchange::SeccompListener,
            ChildSays::Ready { .. } => Exchange::Ready,
            ChildSays::Failed(_) => return None,
        })
    }

    /// The child's opening message of an exchange that carries no payload
    /// but an fd, or none at all.
    pub fn opening(exchange: Exchange) -> Option<ChildSays> {
        match exchange {
            Exchange::IdMaps => Some(ChildSays::WriteIdMaps),
            Exchange::CreateHooks => Some(ChildSays::RunCreateHooks),
            Exchange::Console => Some(ChildSays::Console),
            Exchange::SeccompListener => Some(ChildSays::SeccompListener),
            _ => None,
        }
    }
}

/// From the parent to the cloned process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentSays {
    IdMapsWritten,
    /// The process is in its cgroup: the init may create its cgroup namespace.
    Placed,
    /// The prestart and createRuntime hooks succeeded.
    CreateHooksRan,
    /// The pty master reached its destination.
    ConsoleSent,
    /// The seccomp notify fd reached `linux.seccomp.listenerPath`.
    SeccompListenerSent,
    /// The state is on disk: the init may outlive the parent.
    Committed,
}

impl ParentSays {
    pub fn exchange(self) -> Exchange {
        match self {
            ParentSays::IdMapsWritten => Exchange::IdMaps,
            ParentSays::Placed => Exchange::Placed,
            ParentSays::CreateHooksRan => Exchange::CreateHooks,
            ParentSays::ConsoleSent => Exchange::Console,
            ParentSays::SeccompListenerSent => Exchange::SeccompListener,
            ParentSays::Committed => Exchange::Committed,
        }
    }

    /// The parent's part of an exchange, where it has one.
    pub fn of(exchange: Exchange) -> Option<ParentSays> {
        Some(match exchange {
            Exchange::IdMaps => ParentSays::IdMapsWritten,
            Exchange::Placed => ParentSays::Placed,
            Exchange::CreateHooks => ParentSays::CreateHooksRan,
            Exchange::Console => ParentSays::ConsoleSent,
            Exchange::SeccompListener => ParentSays::SeccompListenerSent,
            Exchange::Committed => ParentSays::Committed,
            Exchange::InitPid | Exchange::Ready | Exchange::Exec => return None,
        })
    }
}

/// A failed step of the cloned process: its name, the errno behind it when
/// there is one, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitFailure {
    pub step: String,
    pub errno: Option<i32>,
    pub message: String,
}

impl InitFailure {
    /// A failure of `step`, with the errno found in `error` or its sources.
    pub fn of(step: &str, error: &(dyn Error + 'static)) -> InitFailure {
        InitFailure { step: step.to_string(), errno: errno_in(error), message: error.to_string() }
    }
}

impl fmt::Display for InitFailure {
    /// runc's words, which engines show to users.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unable to start container process: {}: {}", self.step, self.message)
    }
}

impl Error for InitFailure {}

/// The first errno in an error's chain of sources.
fn errno_in(error: &(dyn Error + 'static)) -> Option<i32> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(errno) = error.downcast_ref::<Errno>() {
            return Some(*errno as i32);
        }
        if let Some(code) = error.downcast_ref::<std::io::Error>().and_then(std::io::Error::raw_os_error) {
            return Some(code);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("mount {path}: {source}")]
    struct Wrapped {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn failures_keep_the_errno_of_their_source() {
        let wrapped = Wrapped { path: "/x".into(), source: std::io::Error::from_raw_os_error(libc::ENOENT) };
        let failure = InitFailure::of("prepare rootfs", &wrapped);
        assert_eq!(failure.errno, Some(libc::ENOENT));
        assert_eq!(failure.to_string(), "unable to start container process: prepare rootfs: mount /x: No such file or directory (os error 2)");
        assert_eq!(InitFailure::of("exec", &Errno::EACCES).errno, Some(libc::EACCES));
        let plain = std::fmt::Error;
        assert_eq!(InitFailure::of("x", &plain).errno, None);
    }

    #[test]
    fn every_message_names_its_exchange() {
        for exchange in Exchange::ALL {
            if let Some(reply) = ParentSays::of(exchange) {
                assert_eq!(reply.exchange(), exchange);
            }
            if let Some(opening) = ChildSays::opening(exchange) {
                assert_eq!(opening.exchange(), Some(exchange));
            }
        }
    }
}
