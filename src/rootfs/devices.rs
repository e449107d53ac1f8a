//! /dev inside the container: the spec's default devices, `linux.devices`,
//! /dev/ptmx, the /dev/fd and stdio symlinks, and /dev/console for a
//! terminal.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use nix::unistd::{Gid, Uid, fchownat, symlinkat, unlinkat, UnlinkatFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::RootfsError;
use super::resolve::{Leaf, create_in_root, fd_path, reopen_dir};

/// A device node to create: the spec's defaults and `linux.devices` alike.
pub struct DeviceNode {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (config-linux.md, "Default Devices"),
/// in runc's order: in a user namespace they are bind mounts, and the order
/// shows in the container's mountinfo.
const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/random", 1, 8),
    ("/dev/full", 1, 7),
    ("/dev/tty", 5, 0),
    ("/dev/zero", 1, 5),
    ("/dev/urandom", 1, 9),
];

const SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

/// The default devices followed by the config's, a config entry replacing a
/// default of the same path.
pub fn device_list(configured: &[LinuxDevice]) -> Vec<DeviceNode> {
    let mut list: Vec<DeviceNode> = DEFAULTS
        .iter()
        .filter(|(path, ..)| !configured.iter().any(|d| d.path() == Path::new(path)))
        .map(|(path, major, minor)| DeviceNode {
            path: PathBuf::from(path),
            kind: SFlag::S_IFCHR,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    list.extend(configured.iter().map(|d| DeviceNode {
        path: d.path().clone(),
        kind: match d.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            _ => SFlag::S_IFCHR,
        },
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    }));
    list
}

/// Creates the nodes. In a user namespace mknod is not allowed, so the host's
/// device is bind-mounted instead, as runc does.
pub fn create_devices(root: BorrowedFd<'_>, devices: &[DeviceNode], bind: bool) -> Result<(), RootfsError> {
    for device in devices {
        if bind {
            bind_device(root, device)?;
        } else {
            make_node(root, device)?;
        }
    }
    Ok(())
}

fn parent_dir(root: BorrowedFd<'_>, path: &Path) -> Result<(std::os::fd::OwnedFd, PathBuf), RootfsError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = PathBuf::from(path.file_name().unwrap_or_default());
    let dir = create_in_root(root, parent, Leaf::Directory)
        .and_then(|fd| reopen_dir(fd.as_fd()))
        .map_err(|e| RootfsError::sys("create directory", parent, e))?;
    Ok((dir, name))
}

fn make_node(root: BorrowedFd<'_>, device: &DeviceNode) -> Result<(), RootfsError> {
    let (dir, name) = parent_dir(root, &device.path)?;
    match unlinkat(&dir, &name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(RootfsError::sys("replace", &device.path, e)),
    }
    let dev = makedev(device.major, device.minor);
    mknodat(&dir, &name, device.kind, Mode::from_bits_truncate(device.mode), dev)
        .map_err(|e| RootfsError::sys("mknod", &device.path, e))?;
    fchownat(&dir, &name, Some(Uid::from_raw(device.uid)), Some(Gid::from_raw(device.gid)), AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| RootfsError::sys("chown", &device.path, e))
}

fn bind_device(root: BorrowedFd<'_>, device: &DeviceNode) -> Result<(), RootfsError> {
    let target = create_in_root(root, &device.path, Leaf::File)
        .map_err(|e| RootfsError::sys("create device target", &device.path, e))?;
    mount(Some(&device.path), &fd_path(&target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| RootfsError::sys("bind host device on", &device.path, e))
}

/// /dev/ptmx pointing at the container's devpts, and the stdio symlinks;
/// /dev/core too where the host has /proc/kcore, as in runc.
pub fn create_symlinks(root: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let mut links: Vec<(&str, &str)> = SYMLINKS.to_vec();
    links.push(("pts/ptmx", "/dev/ptmx"));
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let link = Path::new(link);
        let (dir, name) = parent_dir(root, link)?;
        if link == Path::new("/dev/ptmx") {
            match unlinkat(&dir, &name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(RootfsError::sys("replace", link, e)),
            }
        }
        match symlinkat(target, &dir, &name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(RootfsError::sys("symlink", link, e)),
        }
    }
    Ok(())
}

/// Binds the pty slave over /dev/console, as runc does for an init with a
/// terminal, making /dev/console an empty file first if it is missing. Run
/// after the pivot, so `/` is the container's root. /dev/console is opened
/// without following a symlink and must be a file or a character device: a
/// rootfs whose /dev/console links elsewhere (/proc/sys/kernel/core_pattern,
/// a host path through a bound /dev) would otherwise have the pty mounted
/// over the link's target (CVE-2025-52565). Both ends of the mount are fds,
/// so nothing can be swapped between the check and the mount.
pub fn bind_console(slave: BorrowedFd<'_>) -> Result<(), RootfsError> {
    let path = Path::new("/dev/console");
    let root = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RootfsError::sys("open", Path::new("/"), e))?;
    let (dir, name) = parent_dir(root.as_fd(), path)?;
    let create = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match nix::fcntl::openat(&dir, &name, create, Mode::from_bits_truncate(0o666)) {
        Ok(_) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(RootfsError::sys("create", path, e)),
    }
    let target = nix::fcntl::openat(&dir, &name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RootfsError::sys("open", path, e))?;
    let st = nix::sys::stat::fstat(&target).map_err(|e| RootfsError::sys("stat", path, e))?;
    if ![SFlag::S_IFREG, SFlag::S_IFCHR].contains(&super::file_kind(&st)) {
        return Err(RootfsError::Config {
            field: "process.terminal".into(),
            message: format!(
                "/dev/console in the container is {}, not a file or a character device: \
                 refusing to bind the terminal over it",
                super::describe(&st)
            ),
        });
    }
    mount(Some(&fd_path(&slave)), &fd_path(&target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| RootfsError::sys("bind the terminal over", path, e))
}
