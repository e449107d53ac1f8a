//! `--pidfd-socket` (runc 1.2, on create, run and exec): a pidfd of the
//! container's process, sent over SCM_RIGHTS to the AF_UNIX socket at the
//! given path, so that the receiver (a shim) holds a handle on the process
//! that pid reuse cannot fool.
//!
//! runc's init opens the pidfd of itself and sends it during its set-up; husk
//! opens it from the parent, once the process is launched and before `create`
//! or `exec` returns. The receiver gets a handle on the same process either
//! way, before the verb returns, in one message whose payload is runc's name
//! for the kind of process: "standard" for a container's init, "setns" for an
//! exec'd one.

use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
use nix::unistd::Pid;

use crate::sys;

/// The kind of process whose pidfd is sent: runc's names of its init types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessKind {
    /// The container's init (`create`, `run`).
    Init,
    /// A process joined to a running container (`exec`).
    Exec,
}

impl ProcessKind {
    pub fn payload(self) -> &'static str {
        match self {
            ProcessKind::Init => "standard",
            ProcessKind::Exec => "setns",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PidfdError {
    #[error("pidfd_open of process {pid}: {source}")]
    Open { pid: i32, source: Errno },
    #[error("{op} pidfd socket {}: {source}", path.display())]
    Socket { op: &'static str, path: PathBuf, source: Errno },
    #[error("pidfd socket {}: short send of the message", path.display())]
    ShortSend { path: PathBuf },
}

/// Sends a pidfd of `pid` to the socket at `path`.
pub fn send(path: &Path, pid: Pid, kind: ProcessKind) -> Result<(), PidfdError> {
    let pidfd = sys::pidfd_open(pid).map_err(|source| PidfdError::Open { pid: pid.as_raw(), source })?;
    let fail = |op: &'static str| move |source| PidfdError::Socket { op, path: path.to_path_buf(), source };
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(fail("open"))?;
    let addr = UnixAddr::new(path).map_err(fail("address of"))?;
    connect(sock.as_raw_fd(), &addr).map_err(fail("connect to"))?;
    let payload = kind.payload().as_bytes();
    let sent = sys::send_with_fd(sock.as_fd(), payload, pidfd.as_fd()).map_err(fail("send the pidfd to"))?;
    if sent != payload.len() {
        return Err(PidfdError::ShortSend { path: path.to_path_buf() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixListener;

    #[test]
    fn runcs_payloads() {
        assert_eq!(ProcessKind::Init.payload(), "standard");
        assert_eq!(ProcessKind::Exec.payload(), "setns");
    }

    #[test]
    fn sends_a_pidfd_of_the_process() {
        let dir = std::env::temp_dir().join(format!("husk-pidfd-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let listener = UnixListener::bind(&path).unwrap();
        let me = nix::unistd::getpid();
        send(&path, me, ProcessKind::Exec).unwrap();
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 32];
        let (n, fd) = sys::recv_with_fd(conn.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"setns");
        let fd: OwnedFd = fd.expect("a pidfd attached");
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
        assert!(info.lines().any(|l| l == format!("Pid:\t{me}")), "fdinfo of the fd: {info}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_socket_is_an_error() {
        let err = send(Path::new("/nonexistent/husk-pidfd.sock"), nix::unistd::getpid(), ProcessKind::Init).unwrap_err();
        assert!(err.to_string().starts_with("connect to pidfd socket /nonexistent/husk-pidfd.sock"), "{err}");
    }
}
