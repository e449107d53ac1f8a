//! A process's terminal (process.terminal), made by that process itself
//! once it is inside the container: the container's init after the pivot,
//! or a process started by `exec` after it joined the mount namespace. Its
//! `/dev/ptmx` is then the container's, so the pty belongs to the
//! container's devpts instance, as in runc. The master goes to the parent
//! (see container/console.rs); the slave becomes the process's stdio and
//! controlling terminal.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::pty::{PtyMaster, grantpt, posix_openpt, unlockpt};
use nix::unistd::Uid;
use oci_spec::runtime::Box as ConsoleSize;

use crate::sys;

#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct TerminalError {
    op: &'static str,
    path: &'static str,
    source: Errno,
}

fn fail(op: &'static str, path: &'static str) -> impl FnOnce(Errno) -> TerminalError {
    move |source| TerminalError { op, path, source }
}

/// Both ends of a new pty.
pub struct Pty {
    pub master: PtyMaster,
    pub slave: OwnedFd,
}

/// Opens a pty through the container's /dev/ptmx, sized as
/// process.consoleSize says (if it gives both dimensions), so that the size
/// is there before anyone holds the master.
pub fn open(size: Option<&ConsoleSize>) -> Result<Pty, TerminalError> {
    const PTMX: &str = "/dev/ptmx";
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(fail("open", PTMX))?;
    grantpt(&master).map_err(fail("grantpt on", PTMX))?;
    unlockpt(&master).map_err(fail("unlockpt on", PTMX))?;
    let flags = (OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).bits();
    let slave = sys::open_pty_peer(master.as_fd(), flags).map_err(fail("open the slave of", PTMX))?;
    if let Some(size) = size.filter(|s| s.height() != 0 && s.width() != 0) {
        let winsize = libc::winsize {
            ws_row: clamp(size.height()),
            ws_col: clamp(size.width()),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        sys::set_window_size(master.as_fd(), &winsize).map_err(fail("set the size (process.consoleSize) of", PTMX))?;
    }
    Ok(Pty { master, slave })
}

fn clamp(n: u64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Makes the pty slave the process's stdin, stdout and stderr and its
/// controlling terminal, in a session of its own. The slave is first given
/// to the process's user, so that it may use its terminal after setuid
/// (runc's fixStdioPermissions; only the uid: devpts chose the group).
pub fn make_controlling(slave: OwnedFd, uid: u32) -> Result<(), TerminalError> {
    const SLAVE: &str = "pty slave";
    match nix::unistd::fchown(&slave, Some(Uid::from_raw(uid)), None) {
        // As runc: a uid not mapped in the user namespace, or a read-only
        // devpts, leaves the terminal root's rather than failing.
        Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => {}
        Err(e) => return Err(fail("chown", SLAVE)(e)),
    }
    nix::unistd::setsid().map_err(fail("setsid for", SLAVE))?;
    nix::unistd::dup2_stdin(&slave).map_err(fail("dup2 to stdin:", SLAVE))?;
    nix::unistd::dup2_stdout(&slave).map_err(fail("dup2 to stdout:", SLAVE))?;
    nix::unistd::dup2_stderr(&slave).map_err(fail("dup2 to stderr:", SLAVE))?;
    drop(slave);
    sys::set_controlling_terminal(std::io::stdin().as_fd()).map_err(fail("make the controlling terminal:", SLAVE))
}
