//! The parent's side of a process's terminal (process.terminal, `exec -t`):
//! where its pty master goes, by runc's rules, and passing it there. The
//! process makes the pty inside the container (see terminal.rs) and sends
//! the master over the sync channel; the parent forwards it to the console
//! socket, or keeps it to stand between the pty and its own stdio (see
//! proxy.rs).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
use nix::sys::termios::{OutputFlags, SetArg, tcgetattr, tcsetattr};

use super::parent::expect_fd;
use crate::error::{Error, Result};
use crate::sync::{Channel, FromInit, ToInit};
use crate::sys;

/// The payload of the console socket's message: runc sends the name of the
/// master's file (containerd/console's `Name()`), which is the path it
/// opened, "/dev/ptmx". Engines read the fd and ignore the name, but a
/// receiver may check it.
pub const PTY_NAME: &str = "/dev/ptmx";

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
pub fn target(terminal: bool, detached: bool, socket: Option<&Path>) -> Result<Option<ConsoleTarget>> {
    match (terminal, detached, socket) {
        (true, true, None) => Err(Error::Lifecycle(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        )),
        (true, true, Some(path)) => Ok(Some(ConsoleTarget::Socket(path.to_path_buf()))),
        (_, _, Some(_)) => Err(Error::Lifecycle(
            "cannot use console socket if runc will not detach or allocate tty".into(),
        )),
        (true, false, None) => Ok(Some(ConsoleTarget::Proxy)),
        (false, _, None) => Ok(None),
    }
}

/// Receives the pty master from the process and passes it to `target`,
/// then lets the process go on. Returns the master when husk keeps it.
pub fn receive(channel: &Channel, target: &ConsoleTarget) -> Result<Option<OwnedFd>> {
    let master = expect_fd(channel, "Console", |m| matches!(m, FromInit::Console))?;
    let kept = match target {
        ConsoleTarget::Socket(path) => {
            send_to_socket(path, master.as_fd())?;
            None
        }
        ConsoleTarget::Proxy => {
            // As runc: the pty passes "\n" through untouched; husk's own
            // terminal, whose output processing stays on in raw mode, adds
            // the "\r" (and a file or pipe gets plain lines). Done before
            // the process goes on, so that none of its output is translated.
            clear_onlcr(master.as_fd()).map_err(Error::sys("clear ONLCR on the pty master"))?;
            Some(master)
        }
    };
    channel.send(&ToInit::ConsoleSent)?;
    Ok(kept)
}

/// Connects to the console socket and sends the master in one message
/// whose payload is the pty's name, as runc does.
fn send_to_socket(path: &Path, master: BorrowedFd<'_>) -> Result<()> {
    let fail = |op: &str| Error::sys(format!("{op} console socket {}", path.display()));
    let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(fail("open"))?;
    let addr = UnixAddr::new(path).map_err(fail("address of"))?;
    connect(sock.as_raw_fd(), &addr).map_err(fail("connect to"))?;
    let sent = sys::send_with_fd(sock.as_fd(), PTY_NAME.as_bytes(), master).map_err(fail("send the pty master to"))?;
    if sent != PTY_NAME.len() {
        return Err(Error::Lifecycle(format!("console socket {}: short send of the pty's name", path.display())));
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
        let message = |r: Result<Option<ConsoleTarget>>| r.unwrap_err().to_string();
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
