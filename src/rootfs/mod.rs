//! The container's filesystem view, built in the init's own mount namespace:
//! `prepare` mounts everything inside the rootfs, `enter` makes it `/`, and
//! `finalize` applies the read-only and masked paths and a read-only root.

mod cgroupfs;
mod devices;
pub mod idmap;
mod mounts;
pub mod options;
mod resolve;
mod tmpfs;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, fstat, makedev};
use oci_spec::runtime::Spec;

use crate::cgroups::CgroupPaths;
use crate::host::HostFacts;

pub use cgroupfs::bound_hierarchies;
pub use devices::{bind_console, device_list};
pub use resolve::{Leaf, create_in_root};
pub use idmap::IdmappedMounts;
use mounts::{MountContext, mount_entry, remount};
use resolve::{fd_path, open_in_root};

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{op} {}: {source}", path.display())]
    Sys {
        op: String,
        path: PathBuf,
        source: Errno,
    },
    #[error("config.json: {field}: {message}")]
    Config { field: String, message: String },
    #[error("{what}: {message}")]
    Host { what: String, message: String },
}

impl RootfsError {
    pub fn sys(op: &str, path: &Path, source: Errno) -> Self {
        RootfsError::Sys {
            op: op.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What building the rootfs needs to know.
pub struct RootfsPlan<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: PathBuf,
    /// The init runs in a new user namespace: devices must be bound, not made.
    pub user_ns: bool,
    pub cgroup_ns: bool,
    pub no_pivot: bool,
    /// The host as `create` read it.
    pub host: &'a HostFacts,
    /// The container's cgroup, which the init is in by now.
    pub cgroup: Option<&'a CgroupPaths>,
    /// The id-mapped mounts the parent made (idmap.rs).
    pub idmapped: &'a IdmappedMounts,
}

/// Mounts the rootfs and every configured mount inside it, and fills /dev.
pub fn prepare(plan: &RootfsPlan<'_>) -> Result<(), RootfsError> {
    let linux = plan.spec.linux().as_ref();
    let propagation = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(options::propagation_flag)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>)
        .map_err(|e| RootfsError::sys("set propagation of", Path::new("/"), e))?;
    if propagation.contains(MsFlags::MS_SHARED) {
        make_parent_mount_private(&plan.rootfs, plan.host)?;
    }
    let rootfs = &plan.rootfs;
    mount(Some(rootfs), rootfs, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| RootfsError::sys("bind rootfs", rootfs, e))?;
    let root = nix::fcntl::open(rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RootfsError::sys("open rootfs", rootfs, e))?;
    let ctx = MountContext {
        root: root.as_fd(),
        bundle: plan.bundle,
        cgroup_ns: plan.cgroup_ns,
        host: plan.host,
        cgroup: plan.cgroup,
        mount_label: crate::security::lsm::mount_label(plan.spec),
        idmapped: plan.idmapped,
    };
    let entries = plan.spec.mounts().as_deref().unwrap_or_default();
    for (index, entry) in entries.iter().enumerate() {
        mount_entry(&ctx, index, entry)?;
    }
    // A /dev bound from elsewhere is taken as it is, as in runc.
    let dev_is_bound = entries.iter().any(|m| {
        m.destination() == Path::new("/dev") && options::parse(m.options().as_deref().unwrap_or_default()).is_bind()
    });
    if !dev_is_bound {
        let configured = linux.and_then(|l| l.devices().as_deref()).unwrap_or_default();
        let old_umask = nix::sys::stat::umask(Mode::empty());
        let made = devices::create_devices(root.as_fd(), &devices::device_list(configured), plan.user_ns)
            .and_then(|()| devices::create_symlinks(root.as_fd()));
        nix::sys::stat::umask(old_umask);
        made?;
    }
    Ok(())
}

/// pivot_root(2) into the rootfs, or with `--no-pivot` MS_MOVE and chroot.
pub fn enter(plan: &RootfsPlan<'_>) -> Result<(), RootfsError> {
    let rootfs = &plan.rootfs;
    let err = |op: &'static str| move |e| RootfsError::sys(op, rootfs, e);
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let new_root = nix::fcntl::open(rootfs, flags, Mode::empty()).map_err(err("open"))?;
    if plan.no_pivot {
        hide_host_pseudo_filesystems(plan)?;
        nix::unistd::fchdir(&new_root).map_err(err("chdir"))?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).map_err(err("move"))?;
        nix::unistd::chroot(".").map_err(err("chroot"))?;
    } else {
        // pivot_root(".", ".") stacks the old root on the new one; detaching
        // it then leaves only the rootfs (runc's way, with no temporary dir).
        let old_root = nix::fcntl::open("/", flags, Mode::empty()).map_err(err("open /"))?;
        nix::unistd::fchdir(&new_root).map_err(err("chdir"))?;
        nix::unistd::pivot_root(".", ".").map_err(err("pivot_root"))?;
        nix::unistd::fchdir(&old_root).map_err(err("chdir to old root of"))?;
        mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
            .map_err(err("make old root a slave, from"))?;
        umount2(".", MntFlags::MNT_DETACH).map_err(err("detach old root, from"))?;
    }
    nix::unistd::chdir("/").map_err(err("chdir / in"))
}

/// Without pivot_root the host's mounts stay in the container's mount
/// namespace, under the rootfs moved over `/`. A full proc or sysfs mount
/// among them would let a process of the container that makes a user
/// namespace mount a fresh, unmasked procfs or sysfs (the kernel allows it
/// where a full one is already visible): as runc 1.1.5's msMoveRoot, each
/// is detached, or covered with a tmpfs where it cannot be.
fn hide_host_pseudo_filesystems(plan: &RootfsPlan<'_>) -> Result<(), RootfsError> {
    for point in host_pseudo_filesystems(plan.host, &plan.rootfs) {
        // Our detaching must not reach the host's mount namespace.
        match mount(None::<&str>, point, None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>) {
            // Below one detached already.
            Err(Errno::ENOENT) => continue,
            other => other.map_err(|e| RootfsError::sys("make a slave of", point, e))?,
        }
        match umount2(point, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            // Locked by a user namespace: covered instead.
            Err(Errno::EINVAL | Errno::EPERM) => {
                mount(Some("tmpfs"), point, Some("tmpfs"), MsFlags::empty(), None::<&str>)
                    .map_err(|e| RootfsError::sys("cover", point, e))?;
            }
            Err(e) => return Err(RootfsError::sys("detach", point, e)),
        }
    }
    Ok(())
}

/// The full (root-of-filesystem) proc and sysfs mounts of the host outside
/// `rootfs`, in mount order.
fn host_pseudo_filesystems<'a>(host: &'a HostFacts, rootfs: &Path) -> Vec<&'a Path> {
    host.mounts
        .iter()
        .filter(|m| (m.fs_type == "proc" || m.fs_type == "sysfs") && m.root == "/" && !m.mount_point.starts_with(rootfs))
        .map(|m| m.mount_point.as_path())
        .collect()
}

/// After the pivot: read-only paths, masked paths, and a read-only root.
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    let root = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RootfsError::sys("open", Path::new("/"), e))?;
    // A missing process.cwd is made, inside the root, as runc makes it
    // (Kubernetes' workingDir relies on it): after the mounts, so that it
    // is made in a volume mounted there, and before anything is read-only.
    // Only a missing one, and quietly: one that cannot be made (under
    // /proc/self/fd, say) fails where the process enters it, with the error
    // that names process.cwd.
    if let Some(cwd) = spec.process().as_ref().map(|p| p.cwd())
        && matches!(open_in_root(root.as_fd(), cwd, OFlag::O_PATH), Err(Errno::ENOENT))
    {
        let _ = resolve::create_in_root(root.as_fd(), cwd, resolve::Leaf::Directory);
    }
    if let Some(linux) = spec.linux() {
        for path in linux.readonly_paths().iter().flatten() {
            make_readonly(&root, Path::new(path))?;
        }
        let masked = linux.masked_paths().as_deref().unwrap_or_default();
        if !masked.is_empty() {
            let null = verified_dev_null(&root)?;
            for path in masked {
                mask(&root, &null, Path::new(path))?;
            }
        }
    }
    // A tmpfs /dev asked read-only was mounted writable, to be filled.
    for entry in spec.mounts().iter().flatten() {
        let opts = options::parse(entry.options().as_deref().unwrap_or_default());
        let dev_ro = entry.typ().as_deref() == Some("tmpfs") && tmpfs::is_dev(entry.destination()) && opts.flags.contains(MsFlags::MS_RDONLY);
        if dev_ro && let Some(dev) = open_existing(&root, Path::new("/dev"))? {
            remount(&dev, Path::new("/dev"), opts.flags - MsFlags::MS_REC - MsFlags::MS_REMOUNT)?;
        }
    }
    if spec.root().as_ref().is_some_and(|r| r.readonly() == Some(true)) {
        remount(&root, Path::new("/"), MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

/// Opens a path inside the container, or None if it does not exist.
fn open_existing(root: &OwnedFd, path: &Path) -> Result<Option<OwnedFd>, RootfsError> {
    match open_in_root(root.as_fd(), path, OFlag::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(RootfsError::sys("open", path, e)),
    }
}

fn make_readonly(root: &OwnedFd, path: &Path) -> Result<(), RootfsError> {
    let Some(fd) = open_existing(root, path)? else {
        return Ok(());
    };
    mount(Some(&fd_path(&fd)), &fd_path(&fd), None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| RootfsError::sys("bind", path, e))?;
    let Some(mounted) = open_existing(root, path)? else {
        return Ok(());
    };
    remount(&mounted, path, MsFlags::MS_RDONLY | MsFlags::MS_REC)
}

/// Stdio that is a null device (the host's /dev/null an engine handed in)
/// becomes the container's own /dev/null, as runc's reOpenDevNull does:
/// the container has no business holding a file of the host's mounts, and
/// CRIU cannot dump one ("Can't lookup mount=N for fd=0 path=/dev/null").
/// Without a real null device in the container nothing is reopened.
pub fn reopen_null_stdio() -> Result<(), RootfsError> {
    type DupOnto = fn(&OwnedFd) -> nix::Result<()>;
    let path = Path::new("/dev/null");
    let root = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RootfsError::sys("open", Path::new("/"), e))?;
    let Ok(null) = open_in_root(root.as_fd(), path, OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_NOCTTY) else {
        return Ok(());
    };
    let null_st = fstat(&null).map_err(|e| RootfsError::sys("stat", path, e))?;
    if file_kind(&null_st) != SFlag::S_IFCHR || null_st.st_rdev != makedev(1, 3) {
        return Ok(());
    }
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let stdio: [(std::os::fd::BorrowedFd<'_>, DupOnto); 3] = [
        (stdin.as_fd(), |null| nix::unistd::dup2_stdin(null)),
        (stdout.as_fd(), |null| nix::unistd::dup2_stdout(null)),
        (stderr.as_fd(), |null| nix::unistd::dup2_stderr(null)),
    ];
    for (fd, dup_onto) in stdio {
        // A closed stdio fd is EBADF: nothing to reopen.
        let Ok(st) = fstat(fd) else { continue };
        let same_inode = st.st_dev == null_st.st_dev && st.st_ino == null_st.st_ino;
        if file_kind(&st) == SFlag::S_IFCHR && st.st_rdev == null_st.st_rdev && !same_inode {
            dup_onto(&null).map_err(|e| RootfsError::sys("dup over stdio", path, e))?;
        }
    }
    Ok(())
}

/// The container's /dev/null, checked to be the real null device: a rootfs
/// could have put a symlink or another file there to have husk bind it over
/// the paths it masks (CVE-2025-31133).
fn verified_dev_null(root: &OwnedFd) -> Result<OwnedFd, RootfsError> {
    let path = Path::new("/dev/null");
    let fd = open_in_root(root.as_fd(), path, OFlag::O_PATH | OFlag::O_NOFOLLOW)
        .map_err(|e| RootfsError::sys("open", path, e))?;
    let st = fstat(&fd).map_err(|e| RootfsError::sys("stat", path, e))?;
    if file_kind(&st) != SFlag::S_IFCHR || st.st_rdev != makedev(1, 3) {
        let found = describe(&st);
        return Err(RootfsError::Config {
            field: "linux.maskedPaths".into(),
            message: format!(
                "/dev/null in the container is {found}, not the null device (character 1:3): \
                 refusing to bind it over the masked paths"
            ),
        });
    }
    Ok(fd)
}

fn file_kind(st: &nix::sys::stat::FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// What a file is, for errors that refuse it: "a symbolic link", "the
/// character device 1:5"...
fn describe(st: &nix::sys::stat::FileStat) -> String {
    let kind = file_kind(st);
    match kind {
        SFlag::S_IFLNK => "a symbolic link".to_string(),
        SFlag::S_IFREG => "a regular file".to_string(),
        SFlag::S_IFDIR => "a directory".to_string(),
        SFlag::S_IFCHR | SFlag::S_IFBLK => {
            let (major, minor) = (nix::sys::stat::major(st.st_rdev), nix::sys::stat::minor(st.st_rdev));
            let what = if kind == SFlag::S_IFCHR { "character" } else { "block" };
            format!("the {what} device {major}:{minor}")
        }
        _ => "not a device".to_string(),
    }
}

fn mask(root: &OwnedFd, null: &OwnedFd, path: &Path) -> Result<(), RootfsError> {
    let Some(fd) = open_existing(root, path)? else {
        return Ok(());
    };
    let st = fstat(&fd).map_err(|e| RootfsError::sys("stat", path, e))?;
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let result = if is_dir {
        mount(Some("tmpfs"), &fd_path(&fd), Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>)
    } else {
        mount(Some(&fd_path(null)), &fd_path(&fd), None::<&str>, MsFlags::MS_BIND, None::<&str>)
    };
    result.map_err(|e| RootfsError::sys("mask", path, e))
}

/// pivot_root refuses a new root whose parent mount is shared; with a shared
/// rootfsPropagation, make just that parent private.
fn make_parent_mount_private(rootfs: &Path, host: &HostFacts) -> Result<(), RootfsError> {
    let parent = parent_mount(rootfs, host);
    mount(None::<&str>, parent, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| RootfsError::sys("make private", parent, e))
}

/// The mount point a path lies on: the longest mount point it starts with.
fn parent_mount<'a>(path: &Path, host: &'a HostFacts) -> &'a Path {
    host.mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len())
        .map_or(Path::new("/"), |m| m.mount_point.as_path())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::recorded;

    #[test]
    fn host_proc_and_sys_hidden_without_pivot() {
        let host = recorded::v1_hybrid();
        let found = host_pseudo_filesystems(&host, Path::new("/work/bundle/rootfs"));
        assert_eq!(found, [Path::new("/proc"), Path::new("/sys")]);
        // Not what is already inside the rootfs.
        assert!(host_pseudo_filesystems(&host, Path::new("/")).is_empty());
    }

    #[test]
    fn parent_mount_of_a_rootfs() {
        let host = recorded::v1_hybrid();
        assert_eq!(parent_mount(Path::new("/work/bundle/rootfs"), &host), Path::new("/"));
        assert_eq!(parent_mount(Path::new("/dev/shm/b/rootfs"), &host), Path::new("/dev/shm"));
        assert_eq!(parent_mount(Path::new("/devices/x"), &host), Path::new("/"), "a prefix of a name is no parent");
        let v2 = recorded::v2();
        assert_eq!(parent_mount(Path::new("/tmp/work/scen-1/rootfs"), &v2), Path::new("/tmp"));
    }
}
