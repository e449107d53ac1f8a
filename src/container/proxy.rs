//! A foreground process with a terminal and no console socket (`run`,
//! `exec -t`): husk keeps the pty master and stands between it and its own
//! stdio until the process exits, as runc does. Its stdin, if a terminal,
//! is put in raw mode so that every key (^C included) reaches the
//! container's terminal, and is restored on the way out, error or not; the
//! pty follows the size of husk's terminal; other signals are forwarded as
//! `run` forwards them.
//!
//! One thread, one poll(2) loop over the signals (a signalfd of the set
//! `run` blocked before the clone), the master and stdin.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use nix::unistd::Pid;

use super::run;
use crate::error::{Error, Result};
use crate::sys;

const BUFFER: usize = 16 * 1024;

/// Proxies until `pid` exits; returns its exit code as a shell reports it.
pub fn proxy(pid: Pid, master: OwnedFd) -> Result<i32> {
    let host = HostTerminal::enter_raw_mode()?;
    host.copy_size_to(master.as_fd());
    let signals = SignalFd::with_flags(&run::taken_over(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(Error::sys("signalfd"))?;
    // Non-blocking: a container that stops reading its terminal must not
    // stop husk from reaping it or forwarding signals.
    fcntl(&master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(Error::sys("make the pty master non-blocking"))?;
    let mut streams = Streams::new(master);
    // It may have exited before the loop starts: SIGCHLD then waits in the
    // signalfd, but reap first anyway, as `run` does.
    if let Some(code) = run::reap(pid)? {
        streams.drain_output();
        return Ok(code);
    }
    loop {
        let stdin_ready = streams.wait(signals.as_fd())?;
        while let Some(info) = signals.read_signal().map_err(Error::sys("read signalfd"))? {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => {
                    if let Some(code) = run::reap(pid)? {
                        streams.drain_output();
                        return Ok(code);
                    }
                }
                // The pty's size, not a signal to forward: the kernel
                // signals the container's foreground process group itself.
                libc::SIGWINCH => host.copy_size_to(streams.master.as_fd()),
                signal => {
                    let _ = sys::kill_raw(pid.as_raw(), signal);
                }
            }
        }
        streams.copy(stdin_ready);
    }
}

/// husk's own terminal, if it has one.
struct HostTerminal {
    /// stdin, when it is a terminal, and its mode before raw mode.
    raw: Option<(OwnedFd, Termios)>,
    /// The terminal whose size the pty follows: stdin, stdout or stderr,
    /// the first that is a terminal.
    sized: Option<OwnedFd>,
}

impl HostTerminal {
    /// Raw input, as runc's: no echo, no line editing, no signals from
    /// keys; output processing is kept, so "\n" from the pty (whose ONLCR
    /// is off) still starts a new line.
    fn enter_raw_mode() -> Result<HostTerminal> {
        let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
        let stdio = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
        let sized = stdio.iter().find(|fd| nix::unistd::isatty(fd).unwrap_or(false));
        let mut host = HostTerminal {
            raw: None,
            sized: sized.map(dup_cloexec).transpose().map_err(Error::sys("dup the terminal"))?,
        };
        if nix::unistd::isatty(stdio[0]).unwrap_or(false) {
            let stdin = dup_cloexec(&stdio[0]).map_err(Error::sys("dup stdin"))?;
            let saved = tcgetattr(&stdin).map_err(Error::sys("get the terminal mode of stdin"))?;
            let mut raw = saved.clone();
            cfmakeraw(&mut raw);
            raw.output_flags = saved.output_flags;
            tcsetattr(&stdin, SetArg::TCSANOW, &raw).map_err(Error::sys("put stdin in raw mode"))?;
            host.raw = Some((stdin, saved));
        }
        Ok(host)
    }

    /// Gives the pty husk's terminal size; without a terminal it keeps
    /// process.consoleSize.
    fn copy_size_to(&self, master: BorrowedFd<'_>) {
        if let Some(size) = self.sized.as_ref().and_then(|fd| sys::window_size(fd.as_fd()).ok()) {
            let _ = sys::set_window_size(master, &size);
        }
    }
}

impl Drop for HostTerminal {
    fn drop(&mut self) {
        if let Some((stdin, saved)) = &self.raw {
            let _ = tcsetattr(stdin, SetArg::TCSADRAIN, saved);
        }
    }
}

fn dup_cloexec(fd: &BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let copy = nix::unistd::dup(fd)?;
    fcntl(&copy, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok(copy)
}

/// The two copies: stdin → master and master → stdout.
struct Streams {
    master: OwnedFd,
    /// Until stdin reaches its end. Its end is not passed on: a terminal
    /// has no end of file but ^D, which the process's own terminal settings
    /// give a meaning (runc does the same).
    stdin_open: bool,
    /// Until every slave is closed (EIO).
    master_open: bool,
    /// Read from stdin, not yet taken by the master.
    pending: Vec<u8>,
    /// Until writing to stdout fails (a closed pipe): the output is then
    /// read and dropped, so that the process never blocks on it.
    stdout_open: bool,
}

impl Streams {
    fn new(master: OwnedFd) -> Streams {
        Streams { master, stdin_open: true, master_open: true, pending: Vec::new(), stdout_open: true }
    }

    /// Waits until a signal, the master or stdin has something for us;
    /// returns whether stdin may be read without blocking.
    fn wait(&self, signals: BorrowedFd<'_>) -> Result<bool> {
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(signals, PollFlags::POLLIN)];
        if self.master_open {
            let mut events = PollFlags::POLLIN;
            if !self.pending.is_empty() {
                events |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(self.master.as_fd(), events));
        }
        // Read no more until the master took what we have.
        let polls_stdin = self.stdin_open && self.pending.is_empty();
        if polls_stdin {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(false),
            Err(e) => return Err(Error::sys("poll")(e)),
        }
        // Readable, at its end (POLLHUP) or in error: a read says which.
        Ok(polls_stdin && fds.last().and_then(PollFd::revents).is_some_and(|r| !r.is_empty()))
    }

    /// Moves what can move without blocking, each way.
    fn copy(&mut self, stdin_ready: bool) {
        if stdin_ready {
            let mut buf = vec![0u8; BUFFER];
            match nix::unistd::read(std::io::stdin(), &mut buf) {
                Ok(0) => self.stdin_open = false,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => self.stdin_open = false,
            }
        }
        if self.master_open && !self.pending.is_empty() {
            match nix::unistd::write(&self.master, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                // No slave is open any more: nobody will read it.
                Err(_) => self.pending.clear(),
            }
        }
        self.read_output();
    }

    /// Copies what the master has to stdout, until it would block.
    fn read_output(&mut self) {
        let mut buf = vec![0u8; BUFFER];
        while self.master_open {
            match nix::unistd::read(&self.master, &mut buf) {
                Ok(0) | Err(Errno::EIO) => self.master_open = false,
                Ok(n) => self.write_stdout(&buf[..n]),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    }

    /// After the process exited: whatever it wrote before is still in the
    /// pty, to be shown before husk exits.
    fn drain_output(&mut self) {
        self.read_output();
    }

    fn write_stdout(&mut self, mut bytes: &[u8]) {
        while self.stdout_open && !bytes.is_empty() {
            match nix::unistd::write(std::io::stdout(), bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    // A non-blocking stdout (shared with whoever set it):
                    // wait until it takes more.
                    let stdout = std::io::stdout();
                    let _ = poll(&mut [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)], PollTimeout::NONE);
                }
                Err(_) => self.stdout_open = false,
            }
        }
    }
}
