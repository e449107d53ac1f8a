//! The listening end of a socket a runtime sends one fd to, with
//! SCM_RIGHTS: `--console-socket` (the pty master) and `--pidfd-socket`
//! (a pidfd), in a bundle's directory.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct FdSocket {
    listener: UnixListener,
    path: PathBuf,
    /// What it is, for the messages of a failed assertion.
    what: &'static str,
}

impl FdSocket {
    pub fn new(dir: &Path, name: &str, what: &'static str) -> FdSocket {
        let path = dir.join(format!("{name}.sock"));
        let listener = UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind the {what}: {e}"));
        listener.set_nonblocking(true).unwrap();
        FdSocket { listener, path, what }
    }

    pub fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Whether a connection is waiting (taking it).
    pub fn connected(&self) -> bool {
        self.listener.accept().is_ok()
    }

    /// Accepts the runtime's connection, waiting up to `wait` for it (zero:
    /// it must be there already), and receives its one message: the
    /// payload and the one fd it carried (asserted to be the only fd, and
    /// the only message).
    pub fn receive(&self, wait: Duration) -> (String, OwnedFd) {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        let what = self.what;
        let deadline = Instant::now() + wait;
        let (stream, _) = loop {
            match self.listener.accept() {
                Ok(conn) => break conn,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("no connection on the {what}: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4096];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .unwrap_or_else(|e| panic!("recvmsg on the {what}: {e}"));
        let mut fds = Vec::new();
        for cmsg in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                // SAFETY: SCM_RIGHTS fds are new entries of our fd table,
                // made by this recvmsg; nothing else owns them.
                fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        let bytes = msg.bytes;
        let payload = String::from_utf8_lossy(&buf[..bytes]).into_owned();
        assert_eq!(fds.len(), 1, "one fd with the message {payload:?} on the {what}");
        let mut rest = [0u8; 64];
        let more = nix::unistd::read(&stream, &mut rest).expect("read after the message");
        assert_eq!(more, 0, "more than one message on the {what}: {:?}", String::from_utf8_lossy(&rest[..more]));
        (payload, fds.pop().unwrap())
    }
}
