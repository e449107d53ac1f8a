//! The thin layer of raw syscalls that neither `nix` nor `libc` wrap safely.
//!
//! Every `unsafe` block of husk lives here, each with a SAFETY note. The rest of
//! the code calls these functions and gets `nix::Result` back, like any other
//! nix call.

pub mod bpf;
pub mod exe_view;
pub mod tuning;
pub mod mount_api;
pub mod child;

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// What `fork_into` returns in each of the two processes.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// `clone(2)` used like `fork(2)`, but with namespace flags: the child starts
/// in the new namespaces named by `flags` and sends SIGCHLD when it exits.
pub fn fork_into(flags: libc::c_int) -> nix::Result<Forked> {
    // SAFETY: with a null stack pointer, clone behaves like fork: the child
    // continues on a copy of the parent's stack. husk calls this only while it
    // is single-threaded (no thread is ever spawned before a clone), so the
    // child holds no lock another thread could own, and may allocate freely.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match Errno::result(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// `clone3(2)` used like `fork_into`, with the child born in the cgroup2
/// directory `cgroup` (CLONE_INTO_CGROUP): nobody has to migrate it there,
/// which would write-lock the kernel's global threadgroup rwsem and wait
/// for an RCU grace period (5 to 15 ms per create on this VM).
pub fn fork_into_cgroup(flags: libc::c_int, cgroup: BorrowedFd<'_>) -> nix::Result<Forked> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    /// `struct clone_args` of linux/sched.h, up to `cgroup` (version 2).
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    let args = CloneArgs {
        flags: flags as u32 as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed, alive for the
    // call. With no stack, the child continues on a copy of the parent's
    // stack, as after fork; as for fork_into, husk is single-threaded here,
    // so the child holds no lock another thread could own.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match Errno::result(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// Ends the calling process at once, without running Rust destructors or
/// atexit handlers that belong to the parent's copy of the state.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// Marks every fd from `first` upwards close-on-exec, so that exec drops them.
pub fn cloexec_from(first: RawFd) -> nix::Result<()> {
    // SAFETY: close_range only changes fd flags; the range is plain integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(ret).map(drop)
}

/// Makes the child of `cmd` start with its stdio alone: every other fd it
/// would inherit is marked close-on-exec between fork and exec, as Go's
/// os/exec gives runc's hooks only what it names. The hooks husk runs must
/// not hold its channel, exec fifo or seccomp listener.
pub fn inherit_stdio_only(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure makes only async-signal-safe
    // syscalls (close_range, else fcntl) and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            if cloexec_from(3).is_err() {
                // A kernel without close_range (before 5.9): each fd up to
                // the soft limit, without the allocation a listing takes.
                let limit = libc::sysconf(libc::_SC_OPEN_MAX).clamp(3, 65536) as RawFd;
                for fd in 3..limit {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 {
                        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                    }
                }
            }
            Ok(())
        });
    }
}

/// Marks every fd from `first` upwards close-on-exec by listing
/// /proc/self/fd, as runc does: for a kernel, or a seccomp profile, without
/// close_range(2).
pub fn cloexec_from_proc(first: RawFd) -> nix::Result<()> {
    let entries = std::fs::read_dir("/proc/self/fd").map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|name| name.parse::<RawFd>().ok()) else {
            continue;
        };
        if fd < first {
            continue;
        }
        // SAFETY: F_GETFD and F_SETFD only read and change the fd's flags;
        // an fd that is gone by now (the listing's own) fails with EBADF,
        // which is skipped.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 {
            // SAFETY: as above.
            Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
        }
    }
    Ok(())
}

/// Joins a new anonymous session keyring, named like runc's.
pub fn join_session_keyring(name: &CStr) -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(ret).map(drop)
}

/// Sets the NIS domain name of the current UTS namespace.
pub fn set_domainname(name: &[u8]) -> nix::Result<()> {
    // SAFETY: the pointer and length describe `name`, which outlives the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(ret).map(drop)
}

/// Asks the kernel which namespace type an nsfs fd refers to (`NS_GET_NSTYPE`).
pub fn namespace_type(fd: BorrowedFd<'_>) -> nix::Result<libc::c_int> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)
    // SAFETY: NS_GET_NSTYPE takes no argument and only returns an int.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    Errno::result(ret)
}

/// Brings the loopback interface of the current network namespace up, as runc
/// does for every new network namespace.
pub fn loopback_up() -> nix::Result<()> {
    // SAFETY: socket returns a new fd or -1; we own it at once.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let sock = unsafe { OwnedFd::from_raw_fd(Errno::result(sock)?) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq that lives across both ioctls.
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) }).map(drop)
}

/// Resets every signal to its default action and unblocks them all, so that a
/// husk started with SIGCHLD ignored (or anything blocked) behaves normally,
/// and the container process does not inherit husk's dispositions.
///
/// Only an ignored signal outlives execve (a caught one goes back to its
/// default there), and husk's own start-up catches only SIGSEGV and SIGBUS
/// (Rust's stack-overflow report): those and the ignored ones, which
/// /proc/self/status lists, are set back, a read instead of a sigaction for
/// each of 62 signals. Unreadable (no /proc in a container's view), all are.
pub fn reset_signals() {
    let ignored = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| ignored_signals(&status)).unwrap_or(u64::MAX);
    // SIGRTMAX is 64 to the kernel; glibc's libc::SIGRTMAX() is the same.
    for sig in 1..=64 {
        let ignored = ignored & (1u64 << (sig - 1)) != 0;
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || !(ignored || sig == libc::SIGSEGV || sig == libc::SIGBUS) {
            continue;
        }
        set_default_disposition(sig);
    }
    // SAFETY: an empty, initialised set passed to sigprocmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// rt_sigaction(sig, SIG_DFL) by the system call itself: glibc's
/// sigaction refuses signals 32 and 33, which it keeps for its threads,
/// but a caller may have left them ignored, and the container would
/// inherit that.
fn set_default_disposition(sig: libc::c_int) {
    /// The kernel's struct sigaction (x86_64 and most others; not glibc's).
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::sighandler_t,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
    // SAFETY: the kernel reads one struct sigaction of the size given from
    // `default`, alive for the call, and writes nothing (no old action
    // asked for). SIG_DFL runs no code of ours. A failure (for a signal
    // that cannot be changed) leaves it as it was, which is harmless.
    unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, &default as *const KernelSigaction, std::ptr::null_mut::<KernelSigaction>(), 8usize) };
}

/// The mask of ignored signals (bit n-1 for signal n) in /proc/PID/status
/// text: its SigIgn line (stat's sigignore field shows only the first 31).
fn ignored_signals(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|line| line.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Sets and clears mount attributes on the mount at `fd` and every mount
/// below it (mount_setattr(2) with AT_RECURSIVE).
pub fn mount_setattr_recursive(fd: BorrowedFd<'_>, set: u64, clear: u64) -> nix::Result<()> {
    mount_setattr(fd, libc::AT_RECURSIVE, set, clear)
}

/// mount_setattr(2) on the mount `fd` itself (AT_EMPTY_PATH), with `flags`.
fn mount_setattr(fd: BorrowedFd<'_>, flags: libc::c_int, set: u64, clear: u64) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `attr` is a valid mount_attr whose size we pass; the empty path
    // with AT_EMPTY_PATH makes the kernel act on `fd` itself.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// kill(2) with a raw signal number: nix's Signal type has no real-time
/// signals, which `husk kill` must be able to send.
pub fn kill_raw(pid: i32, signal: i32) -> nix::Result<()> {
    // SAFETY: kill takes two integers and touches no memory.
    Errno::result(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// pidfd_open(2) (Linux 5.3), which nix does not wrap: a close-on-exec fd
/// that refers to the process `pid`.
pub fn pidfd_open(pid: Pid) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags (none) and touches no memory.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = Errno::result(ret)?;
    // SAFETY: a successful pidfd_open returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Opens /dev/null on any of fds 0, 1 and 2 that is closed, so that no fd
/// husk opens later lands there and reaches the container as its stdio.
pub fn ensure_stdio_open() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only queries the fd table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: a constant NUL-terminated path; the fd it returns is
            // the lowest free one, which is `fd`, and stays open for good.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: seccomp(2) returns a notify fd.
pub const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

/// Loads a classic BPF seccomp filter into the calling thread
/// (`seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`). With
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER` among `flags`, returns the filter's
/// notify fd (close-on-exec, as the kernel makes it).
pub fn seccomp_set_mode_filter(program: &[libc::sock_filter], flags: u32) -> nix::Result<Option<OwnedFd>> {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    let len = libc::c_ushort::try_from(program.len()).map_err(|_| Errno::EINVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `program`, `len` instructions long, and both
    // outlive the call; the kernel copies the program and never writes to it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_uint,
            &prog as *const libc::sock_fprog,
        )
    };
    let ret = Errno::result(ret)?;
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER, a successful seccomp(2) returns a new
        // fd that nothing else owns.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as RawFd) }))
    } else {
        Ok(None)
    }
}

/// Sends `bytes` on a unix socket with `fd` attached (SCM_RIGHTS), in one
/// sendmsg(2). Returns how many bytes went.
pub fn send_with_fd(sock: BorrowedFd<'_>, bytes: &[u8], fd: BorrowedFd<'_>) -> nix::Result<usize> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let iov = [std::io::IoSlice::new(bytes)];
    let fds = [fd.as_raw_fd()];
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// Receives one message from a unix socket into `buf`, with the fd sent
/// along with it (SCM_RIGHTS), if any, made close-on-exec. Any further fds
/// are closed.
/// The length of the next message on a SOCK_SEQPACKET socket, waiting for
/// one; 0 at end of file. MSG_PEEK leaves it queued, MSG_TRUNC makes the
/// kernel tell its whole length however small the buffer.
pub fn next_message_len(sock: BorrowedFd<'_>) -> nix::Result<usize> {
    use nix::sys::socket::{MsgFlags, recv};
    loop {
        match recv(sock.as_raw_fd(), &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

pub fn recv_with_fd(sock: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = loop {
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            other => break other?,
        }
    };
    let mut received = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: SCM_RIGHTS fds are new entries of our fd table, created
            // by this recvmsg; nothing else owns them.
            received.extend(fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    Ok((msg.bytes, received.into_iter().next()))
}

/// setxattr(2): sets an extended attribute of the file `path` names,
/// following symlinks (so a /proc/self/fd/N path reaches the fd's file).
pub fn set_xattr(path: &CStr, name: &CStr, value: &[u8]) -> nix::Result<()> {
    // SAFETY: both strings are NUL-terminated and, like `value` (whose
    // pointer and length are passed together), outlive the call; the kernel
    // only reads them.
    let ret = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    Errno::result(ret).map(drop)
}

/// A detached, read-only bind mount of the file at `path`: open_tree(2)
/// with OPEN_TREE_CLONE, then mount_setattr(2) MOUNT_ATTR_RDONLY on it. A
/// process exec'd through the returned fd has an executable nobody can open
/// for writing, /proc/PID/exe included: the mount is read-only and is no
/// mount of anyone else's.
pub fn read_only_view(path: &CStr) -> nix::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: `path` is a valid NUL-terminated string for the call's
    // duration; open_tree returns a new fd or -1, and we take ownership of
    // the fd at once.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    // SAFETY: open_tree returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(Errno::result(fd)? as RawFd) };
    mount_setattr(fd.as_fd(), 0, libc::MOUNT_ATTR_RDONLY, 0)?;
    Ok(fd)
}

/// Opens the slave of the pty whose master is `master` (TIOCGPTPEER), with
/// `flags`. Unlike opening `/dev/pts/N` by name, this reaches the very peer
/// of our master, whatever is mounted on /dev/pts in the container.
pub fn open_pty_peer(master: BorrowedFd<'_>, flags: libc::c_int) -> nix::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes its open flags as an integer argument and
    // returns a new fd or -1; it touches no memory of ours.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    let fd = Errno::result(fd)?;
    // SAFETY: a successful TIOCGPTPEER returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes the terminal `fd` the controlling terminal of the calling process,
/// which must lead a session that has none (TIOCSCTTY, without stealing it
/// from another session).
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal) and
    // touches no memory of ours.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// The window size of the terminal `fd` (TIOCGWINSZ).
pub fn window_size(fd: BorrowedFd<'_>) -> nix::Result<libc::winsize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize to the pointer, which points at
    // `size`, alive and writable for the call.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size as *mut libc::winsize) })?;
    Ok(size)
}

/// Sets the window size of the terminal `fd` (TIOCSWINSZ); the kernel sends
/// SIGWINCH to its foreground process group if the size changed.
pub fn set_window_size(fd: BorrowedFd<'_>, size: &libc::winsize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ only reads one winsize from the pointer, which
    // points at `size`, alive for the call.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, size as *const libc::winsize) }).map(drop)
}

/// `read_only_view` of the running binary for a caller without privilege
/// over its own mount namespace (rootless husk): a child cloned into a new
/// user and mount namespace, where it holds CAP_SYS_ADMIN, makes the view
/// and leaves it in the fd table it shares with the caller (CLONE_FILES),
/// at the number of a placeholder the caller opened first. The view is a
/// read-only clone of the binary's mount, owned by a mount namespace
/// nobody is in.
///
/// The child opens the binary by its path: /proc/self/exe still names the
/// mount of the namespace it left, which open_tree refuses. That the path
/// still leads to the running binary is checked (device and inode).
pub fn read_only_view_of_exe_unprivileged() -> nix::Result<OwnedFd> {
    use nix::sys::stat::{fstat, stat};
    let exe = std::ffi::CString::new(std::fs::read_link("/proc/self/exe").map_err(|_| Errno::ENOENT)?.into_os_string().into_encoded_bytes())
        .map_err(|_| Errno::EINVAL)?;
    let running = stat(c"/proc/self/exe")?;
    let placeholder = nix::fcntl::open(c"/dev/null", nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    let slot = placeholder.as_raw_fd();
    match fork_into(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_FILES)? {
        Forked::Child => {
            // The fd table is the caller's: close nothing of it but our own.
            let made = read_only_view(&exe).and_then(|view| {
                let seen = fstat(&view)?;
                if (seen.st_dev, seen.st_ino) != (running.st_dev, running.st_ino) {
                    return Err(Errno::ESTALE);
                }
                // SAFETY: dup3 onto the placeholder's number replaces it
                // atomically in the shared table; both fds are valid.
                Errno::result(unsafe { libc::dup3(view.as_raw_fd(), slot, libc::O_CLOEXEC) })
            });
            let code = match made {
                Ok(_) => 0,
                Err(e) => e as i32,
            };
            // SAFETY: _exit ends the child without running the caller's
            // destructors or flushing its buffers; the view's own fd closes
            // with it, its duplicate in the shared table stays.
            unsafe { libc::_exit(code & 0xff) }
        }
        Forked::Parent(child) => match nix::sys::wait::waitpid(child, None)? {
            nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(placeholder),
            nix::sys::wait::WaitStatus::Exited(_, errno) => Err(Errno::from_raw(errno)),
            _ => Err(Errno::ECHILD),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ignored_signals_of_a_status_text() {
        // Ignoring SIGUSR1, SIGPIPE and glibc's 32 and 33.
        let status = "Name:\tcat\nSigPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n\
                      SigIgn:\t0000000180001200\nSigCgt:\t0000000000000000\n";
        assert_eq!(super::ignored_signals(status), Some(1 << 9 | 1 << 12 | 1 << 31 | 1 << 32));
        assert_eq!(super::ignored_signals("Name:\tcat\n"), None);
    }
}
