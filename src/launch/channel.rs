//! The launch channel: a SOCK_SEQPACKET pair between the parent and the
//! process it clones, one message per packet, an fd attached where the
//! exchange carries one. Behind a trait, so that the conversation's order is
//! tested without a second process.

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, send, socketpair};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::message::{ChildSays, ParentSays};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("launch channel: {op}: {source}")]
    Sys { op: &'static str, source: Errno },
    #[error("launch channel: bad message: {0}")]
    Decode(#[from] serde_json::Error),
    /// The other side closed its end (exited, or execve'd).
    #[error("launch channel: the other side went away")]
    Closed,
}

/// One end of a channel that sends `Out` and receives `In`.
pub trait Transport<Out, In> {
    fn send(&self, message: &Out, fd: Option<BorrowedFd<'_>>) -> Result<(), ChannelError>;
    fn recv(&self) -> Result<(In, Option<OwnedFd>), ChannelError>;
}

/// A socket end of the launch channel that sends `Out` and receives `In`:
/// the parent's end and the child's are different types, so neither side
/// can say the other's messages.
pub struct Socket<Out, In> {
    fd: OwnedFd,
    says: PhantomData<fn(Out) -> In>,
}

/// The parent's socket: it says `ParentSays`, hears `ChildSays`.
pub type ParentSocket = Socket<ParentSays, ChildSays>;
/// The child's socket, the other way round.
pub type ChildSocket = Socket<ChildSays, ParentSays>;

/// A connected pair: the parent's end and the child's end. Both are
/// close-on-exec: the child's closes when it execve's the program.
pub fn pair() -> Result<(ParentSocket, ChildSocket), ChannelError> {
    let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|source| ChannelError::Sys { op: "socketpair", source })?;
    Ok((Socket { fd: a, says: PhantomData }, Socket { fd: b, says: PhantomData }))
}

impl<Out, In> Socket<Out, In> {
    /// Closes this end in the cloned child, which must not hold the
    /// parent's end: its closing is how the child learns the parent died.
    pub fn close_in_child(&self) {
        let _ = nix::unistd::close(self.fd.as_raw_fd());
    }
}


impl<Out: Serialize, In: DeserializeOwned> Transport<Out, In> for Socket<Out, In> {
    fn send(&self, message: &Out, fd: Option<BorrowedFd<'_>>) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(message)?;
        let sent = match fd {
            Some(fd) => crate::sys::send_with_fd(self.fd.as_fd(), &bytes, fd),
            None => loop {
                match send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                    Err(Errno::EINTR) => continue,
                    other => break other,
                }
            },
        };
        sent.map(drop).map_err(|source| ChannelError::Sys { op: "send", source })
    }

    fn recv(&self) -> Result<(In, Option<OwnedFd>), ChannelError> {
        // A buffer of the message's own size (a few hundred bytes, mostly),
        // not one for the largest: zeroing 64 KiB for each message cost a
        // few percent of an exec.
        let len = crate::sys::next_message_len(self.fd.as_fd()).map_err(|source| ChannelError::Sys { op: "receive", source })?;
        if len == 0 {
            return Err(ChannelError::Closed);
        }
        let mut buf = vec![0u8; len];
        let (n, fd) = crate::sys::recv_with_fd(self.fd.as_fd(), &mut buf)
            .map_err(|source| ChannelError::Sys { op: "receive", source })?;
        if n == 0 {
            return Err(ChannelError::Closed);
        }
        Ok((serde_json::from_slice(&buf[..n])?, fd))
    }
}
