//! The syscalls of id-mapped mounts and of copying a tree with its extended
//! attributes: open_tree(2), fsopen(2)/fsconfig(2)/fsmount(2),
//! mount_setattr(2) with MOUNT_ATTR_IDMAP, move_mount(2), the short-lived
//! process that holds a user namespace, and the fd forms of the xattr calls.
//! None is wrapped by nix.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::Pid;

use super::Forked;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// A detached copy of the mount tree at `path` (open_tree(2) with
/// OPEN_TREE_CLONE): the mount alone, or with every mount below it when
/// `recursive`. Nobody sees it until it is moved somewhere.
pub fn clone_tree(path: &CStr, recursive: bool) -> nix::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `path` is a valid NUL-terminated string for the call's
    // duration; open_tree only reads it and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    let fd = Errno::result(fd)? as RawFd;
    // SAFETY: open_tree returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

/// A filesystem context of type `fstype` (fsopen(2)), to configure with
/// `fs_set` and make with `fs_mount`. Reading it gives the kernel's messages.
pub fn fs_open(fstype: &CStr) -> nix::Result<OwnedFd> {
    // SAFETY: `fstype` is NUL-terminated and outlives the call; fsopen
    // returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    let fd = Errno::result(fd)? as RawFd;
    // SAFETY: fsopen returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets one parameter of a filesystem context: `key=value`, or the flag
/// `key` (fsconfig(2) FSCONFIG_SET_STRING or FSCONFIG_SET_FLAG).
pub fn fs_set(fs: BorrowedFd<'_>, key: &CStr, value: Option<&CStr>) -> nix::Result<()> {
    let (cmd, value) = match value {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: `key` and `value` are NUL-terminated strings (or a null value
    // for a flag, as fsconfig requires) that outlive the call.
    let ret = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, key.as_ptr(), value, 0) };
    Errno::result(ret).map(drop)
}

/// Creates the filesystem of a configured context and returns a detached
/// mount of it with the mount attributes `attrs` (FSCONFIG_CMD_CREATE,
/// then fsmount(2)).
pub fn fs_mount(fs: BorrowedFd<'_>, attrs: u64) -> nix::Result<OwnedFd> {
    // SAFETY: CMD_CREATE takes no key or value (both null).
    let ret = unsafe {
        libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_CMD_CREATE, std::ptr::null::<libc::c_char>(), std::ptr::null::<libc::c_void>(), 0)
    };
    Errno::result(ret)?;
    // SAFETY: fsmount takes integers only and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs as libc::c_uint) };
    let fd = Errno::result(fd)? as RawFd;
    // SAFETY: fsmount returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Gives the detached mount `tree` the id mapping of the user namespace
/// `userns` (mount_setattr(2) MOUNT_ATTR_IDMAP), on every mount of the tree
/// when `recursive`. The kernel refuses (EINVAL) a filesystem that cannot
/// be id-mapped, and a mount that is already attached.
pub fn set_idmap(tree: BorrowedFd<'_>, userns: BorrowedFd<'_>, recursive: bool) -> nix::Result<()> {
    let attr = libc::mount_attr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: `attr` is a valid mount_attr whose size we pass, alive for the
    // call; the empty path with AT_EMPTY_PATH makes the kernel act on `tree`.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// Attaches the detached mount `tree` on the inode `target` is an fd of
/// (move_mount(2) with both paths empty): no path string is resolved.
pub fn move_tree(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: both paths are the same constant empty string; with the
    // EMPTY_PATH flags the kernel acts on the two fds, which outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(ret).map(drop)
}

/// Forks a child born in a new user namespace that does nothing but wait:
/// the caller writes its id maps, opens /proc/PID/ns/user, then closes the
/// returned fd (the child reads its end to EOF and exits) and reaps it. The
/// child also ends if the caller dies, since the pipe closes with it.
pub fn fork_user_namespace() -> nix::Result<(Pid, OwnedFd)> {
    let (wait_end, wake_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    match super::fork_into(libc::CLONE_NEWUSER)? {
        Forked::Child => {
            drop(wake_end);
            let mut byte = [0u8; 1];
            loop {
                match nix::unistd::read(&wait_end, &mut byte) {
                    Err(Errno::EINTR) => continue,
                    _ => super::exit_now(0),
                }
            }
        }
        Forked::Parent(pid) => Ok((pid, wake_end)),
    }
}

/// The names of the extended attributes of the file `fd` is open on.
pub fn list_xattrs(fd: BorrowedFd<'_>) -> nix::Result<Vec<CString>> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // SAFETY: the pointer and size describe `buf` (a null pointer with
        // size 0 asks for the size only); the kernel writes at most that.
        let ret = unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match Errno::result(ret) {
            Ok(0) => return Ok(Vec::new()),
            Ok(n) if buf.is_empty() => buf = vec![0; n as usize],
            Ok(n) => {
                buf.truncate(n as usize);
                let names = buf.split(|b| *b == 0).filter(|n| !n.is_empty());
                return Ok(names.map(|n| CString::new(n).expect("split at NUL")).collect());
            }
            // The list grew between the two calls: ask again.
            Err(Errno::ERANGE) => buf.clear(),
            Err(e) => return Err(e),
        }
    }
}

/// The value of the extended attribute `name` of the file `fd` is open on.
pub fn get_xattr(fd: BorrowedFd<'_>, name: &CStr) -> nix::Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // SAFETY: `name` is NUL-terminated; the pointer and size describe
        // `buf` (size 0 asks for the size only); the kernel writes at most that.
        let ret = unsafe { libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        match Errno::result(ret) {
            Ok(n) if buf.is_empty() && n > 0 => buf = vec![0; n as usize],
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            Err(Errno::ERANGE) => buf.clear(),
            Err(e) => return Err(e),
        }
    }
}

/// Sets the extended attribute `name` of the file `fd` is open on.
pub fn set_xattr_fd(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> nix::Result<()> {
    // SAFETY: `name` is NUL-terminated and, like `value` (pointer and length
    // passed together), outlives the call; the kernel only reads them.
    let ret = unsafe { libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    Errno::result(ret).map(drop)
}
