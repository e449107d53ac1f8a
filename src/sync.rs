//! The channel between `husk create` and the container's init while the init
//! sets itself up: a SOCK_SEQPACKET pair, one message per packet. The init
//! reports failure here, naming the step that failed, and never prints.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
use serde::{Deserialize, Serialize};

/// Messages from the init (or the intermediate process) to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// A new user namespace exists: write its id maps, then send `IdMapsWritten`.
    WriteIdMaps,
    /// The intermediate forked the init; this is its pid in the parent's view.
    InitPid(i32),
    /// The mounts are made, the root not yet pivoted: run the prestart and
    /// createRuntime hooks, then answer `CreateHooksRan`.
    RunCreateHooks,
    /// The seccomp filter is loaded; its notify fd is attached (SCM_RIGHTS):
    /// send it to the listener, then answer `SeccompListenerSent`.
    SeccompListener,
    /// process.terminal: the pty master is attached (SCM_RIGHTS): pass it
    /// on (console socket, or husk's own terminal), then answer `ConsoleSent`.
    Console,
    /// Set up and waiting for `start`.
    Ready {
        /// When each step ended: (step, µs since the init started).
        timeline: Vec<(String, u64)>,
    },
    Failed { step: String, error: String },
}

/// Messages from the parent to the init.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    IdMapsWritten,
    /// The init is in its cgroup: it may create its cgroup namespace.
    Placed,
    /// The prestart and createRuntime hooks succeeded.
    CreateHooksRan,
    /// The seccomp notify fd reached `linux.seccomp.listenerPath`.
    SeccompListenerSent,
    /// The pty master reached its destination.
    ConsoleSent,
    /// The state is on disk: the init may outlive the parent.
    Committed,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("sync channel: {0}")]
    Sys(#[from] Errno),
    #[error("sync channel: the other side went away")]
    Closed,
    #[error("sync channel: bad message: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("sync channel: expected {expected}, got {got}")]
    Unexpected { expected: &'static str, got: String },
}

pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: the parent's end and the init's end.
pub fn pair() -> Result<(Channel, Channel), SyncError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send<T: Serialize>(&self, message: &T) -> Result<(), SyncError> {
        let bytes = serde_json::to_vec(message)?;
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)?;
        Ok(())
    }

    /// Sends a message with an fd attached.
    pub fn send_with_fd<T: Serialize>(&self, message: &T, fd: BorrowedFd<'_>) -> Result<(), SyncError> {
        let bytes = serde_json::to_vec(message)?;
        crate::sys::send_with_fd(self.fd.as_fd(), &bytes, fd)?;
        Ok(())
    }

    /// Receives a message and the fd attached to it, if any.
    pub fn recv_with_fd<T: for<'de> Deserialize<'de>>(&self) -> Result<(T, Option<OwnedFd>), SyncError> {
        let mut buf = vec![0u8; 64 * 1024];
        let (n, fd) = crate::sys::recv_with_fd(self.fd.as_fd(), &mut buf)?;
        if n == 0 {
            return Err(SyncError::Closed);
        }
        Ok((serde_json::from_slice(&buf[..n])?, fd))
    }

    pub fn recv<T: for<'de> Deserialize<'de>>(&self) -> Result<T, SyncError> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                other => break other?,
            }
        };
        if n == 0 {
            return Err(SyncError::Closed);
        }
        Ok(serde_json::from_slice(&buf[..n])?)
    }

    /// Waits for one specific message from the parent.
    pub fn expect(&self, expected: &'static str, matches: impl Fn(&ToInit) -> bool) -> Result<(), SyncError> {
        let message: ToInit = self.recv()?;
        if matches(&message) {
            Ok(())
        } else {
            Err(SyncError::Unexpected {
                expected,
                got: format!("{message:?}"),
            })
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}
