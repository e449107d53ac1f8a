//! Setting up a helper's child between fork and exec (`criu swrk`): its
//! inherited fds at fixed numbers, and a private mount namespace with one
//! bind mount in it, so that what it needs mounted exists only for it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::Command;

use nix::errno::Errno;

/// More than criu's socket and the namespaces it may inherit.
const MAX_FDS: usize = 16;

/// A bind mount made in the child's own mount namespace: the host's mounts
/// reach it (the namespace is a slave of husk's), nothing of it reaches the
/// host, and it is gone with the child.
pub struct PrivateBind {
    pub source: CString,
    pub target: CString,
}

/// Makes `fds` the child's fds 3, 4, … (in that order; close-on-exec off),
/// and with `bind`, runs it in a mount namespace of its own with that bind
/// mount. The fds must stay open until the child is spawned.
pub fn prepare(cmd: &mut Command, fds: &[BorrowedFd<'_>], bind: Option<PrivateBind>) -> nix::Result<()> {
    use std::os::unix::process::CommandExt;
    if fds.len() > MAX_FDS {
        return Err(Errno::EMFILE);
    }
    let mut raw = [-1 as RawFd; MAX_FDS];
    for (slot, fd) in raw.iter_mut().zip(fds) {
        *slot = fd.as_raw_fd();
    }
    let count = fds.len();
    // SAFETY: between fork and exec the closure makes only async-signal-safe
    // calls (sigprocmask, fcntl, dup2, unshare, mount) on data prepared before the
    // fork, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // A foreground husk blocks the signals it forwards; criu
            // needs its SIGCHLD.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            let target_end = 3 + count as RawFd;
            // First out of the way of every target number, then into place:
            // a source may sit at another's target.
            let mut moved = [-1 as RawFd; MAX_FDS];
            for i in 0..count {
                moved[i] = libc::fcntl(raw[i], libc::F_DUPFD_CLOEXEC, target_end);
                if moved[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, fd) in moved.iter().enumerate().take(count) {
                // dup2 leaves the new fd without FD_CLOEXEC.
                if libc::dup2(*fd, 3 + i as RawFd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(bind) = &bind {
                if libc::unshare(libc::CLONE_NEWNS) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let root = c"/";
                let none = std::ptr::null();
                if libc::mount(none, root.as_ptr(), none, libc::MS_SLAVE | libc::MS_REC, std::ptr::null()) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let flags = libc::MS_BIND | libc::MS_REC;
                if libc::mount(bind.source.as_ptr(), bind.target.as_ptr(), none, flags, std::ptr::null()) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(())
}

/// Takes ownership of an fd husk was given by number on its command line
/// (`--status-fd`), after checking that it is open and writable.
pub fn adopt_writable_fd(fd: RawFd) -> Result<OwnedFd, &'static str> {
    if fd < 0 {
        return Err("not an fd");
    }
    // SAFETY: F_GETFL reads the flags of an fd number and changes nothing.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err("bad file descriptor");
    }
    if flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err("not writable");
    }
    // SAFETY: the fd is open (F_GETFL succeeded) and was handed to husk by
    // its caller for this use alone; nothing else in husk owns it.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}
