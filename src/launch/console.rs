//! The parent's side of a process's terminal (process.terminal, `exec -t`):
//! where its pty master goes, by runc's rules, and passing it there. The
//! process makes the pty inside the container (see terminal.rs) and sends
//! the master over the launch channel; the parent forwards it to the
//! console socket, or keeps it to stand between the pty and its own stdio
//! (see container/proxy.rs).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
use nix::sys::termios::{OutputFlags, SetArg, tcgetattr, tcsetattr};

use crate::sys;

/// The payload of the console socket's message: runc sends the name of the
/// master's file (containerd/console's `Name()`), which is the path it
/// opened, "/dev/ptmx". Engines read the fd and ignore the name, but a
/// receiver may check it.
pub const PTY_NAME: &str = "/dev/ptmx";

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("cannot allocate tty if runc will detach without setting console socket")]
    TtyWithoutSocket,
    #[error("cannot use console socket if runc will not detach or allocate tty")]
    SocketWithoutTty,
    #[error("{op} console socket {}: {source}", path.display())]
    Socket { op: &'static str, path: PathBuf, source: Errno },
    #[error("console socket {}: short send of the pty's name", path.display())]
    ShortSend { path: PathBuf },
    #[error("clear ONLCR on the pty master: {0}")]
    Onlcr(Errno),
}

/// Where the pty master of a process with a terminal goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleTarget {
    /// To the AF_UNIX socket at this path (`--console-socket`), in one
    /// message with the fd attached.
    Socket(PathBuf),
    /// To husk itself, which proxies its own stdio to it (foreground `run`
    /// and `exec`).
    Proxy,
}

/// runc's rules (its `checkTerminal`), with its words: a process that will
/// be detached from husk needs a console socket for its terminal, and a
/// console socket is only for a detached process with a terminal. `create`
/// is always detached.
pub fn target(terminal: bool, detached: bool, socket: Option<&Path>) -> Result<Option<ConsoleTarget>, ConsoleError> {
    match (terminal, detached, socket) {
        (true, true, None) => Err(ConsoleError::TtyWithoutSocket),
        (true, true, Some(path)) => Ok(Some(ConsoleTarget::Socket(path.to_path_buf()))),
        (_, _, Some(_)) => Err(ConsoleError::SocketWithoutTty),
        (true, false, None) => Ok(Some(ConsoleTarget::Proxy)),
        (false, _, None) => Ok(None),
    }
}

/// Passes the pty master to `target`. Returns it when husk keeps it.
pub fn pass_on(master: OwnedFd, target: &ConsoleTarget) -> Result<Option<OwnedFd>, ConsoleError> {
    match target {
        ConsoleTarget::Socket(path) => {
            send_to_socket(path, master.as_fd())?;
            Ok(None)
        }
        ConsoleTarget::Proxy => {
            // As runc: the pty passes "\n" through untouched; husk's own
            // terminal, whose output processing stays on in raw mode, adds
            // the "\r" (and a file or pipe gets plain lines). Done before
            // the process goes on, so that none of its output is translated.
            clear_onlcr(master.as_fd()).map_err(ConsoleError::Onlcr)?;
            Ok(Some(master))
        }
    }
}

/// Connects to the console socket and sends the master in one message
/// whose payload is the pty's name, as runc does.
fn send_to_socket(path: &Path, master: BorrowedFd<'_>) -> Result<(), ConsoleError> {
    let fail = |op: &'static str| move |source| ConsoleError::Socket { op, path: path.to_path_buf(), source };
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(fail("open"))?;
    let addr = UnixAddr::new(path).map_err(fail("address of"))?;
    connect(sock.as_raw_fd(), &addr).map_err(fail("connect to"))?;
    let sent = sys::send_with_fd(sock.as_fd(), PTY_NAME.as_bytes(), master).map_err(fail("send the pty master to"))?;
    if sent != PTY_NAME.len() {
        return Err(ConsoleError::ShortSend { path: path.to_path_buf() });
    }
    Ok(())
}

fn clear_onlcr(master: BorrowedFd<'_>) -> nix::Result<()> {
    let mut termios = tcgetattr(master)?;
    termios.output_flags.remove(OutputFlags::ONLCR);
    tcsetattr(master, SetArg::TCSANOW, &termios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runcs_rules_and_words() {
        let socket = Some(Path::new("/s"));
        let message = |r: Result<Option<ConsoleTarget>, ConsoleError>| r.unwrap_err().to_string();
        assert_eq!(
            message(target(true, true, None)),
            "cannot allocate tty if runc will detach without setting console socket"
        );
        for (terminal, detached) in [(false, true), (false, false), (true, false)] {
            assert_eq!(
                message(target(terminal, detached, socket)),
                "cannot use console socket if runc will not detach or allocate tty",
                "terminal {terminal}, detached {detached}"
            );
        }
        assert_eq!(target(true, true, socket).unwrap(), Some(ConsoleTarget::Socket("/s".into())));
        assert_eq!(target(true, false, None).unwrap(), Some(ConsoleTarget::Proxy));
        assert_eq!(target(false, true, None).unwrap(), None);
        assert_eq!(target(false, false, None).unwrap(), None);
    }
}
