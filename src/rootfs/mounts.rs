//! One `mounts` entry of the config, mounted inside the rootfs.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sys::statvfs::{FsFlags, statvfs};
use oci_spec::runtime::Mount;

use super::RootfsError;
use super::options::{self, MountOptions};
use super::resolve::{Leaf, create_in_root, fd_path, find_escaping_symlink};
use crate::security::lsm;
use crate::sys;

/// What a mount needs to know about the container around it.
pub struct MountContext<'a> {
    pub root: BorrowedFd<'a>,
    pub bundle: &'a Path,
    /// The container has a new cgroup namespace of its own.
    pub cgroup_ns: bool,
    /// For the `cgroup` entry: the host's hierarchies, the container's cgroup.
    pub host: &'a crate::host::HostFacts,
    pub cgroup: Option<&'a crate::cgroups::CgroupPaths>,
    /// linux.mountLabel: the SELinux context of the filesystems mounted
    /// fresh (validated: only set where the host runs SELinux).
    pub mount_label: Option<&'a str>,
    /// The id-mapped mounts the parent made, attached in place of binds.
    pub idmapped: &'a super::idmap::IdmappedMounts,
}

/// The mount(2) flags that may be locked on a mount inherited through a user
/// namespace; a remount must repeat them or it fails with EPERM.
const LOCKABLE: &[(FsFlags, MsFlags)] = &[
    (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
    (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
    (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
    (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
    (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
];

pub fn mount_entry(ctx: &MountContext<'_>, index: usize, entry: &Mount) -> Result<(), RootfsError> {
    let destination = entry.destination();
    let field = format!("mounts[{index}].destination");
    if let Some((link, target)) = find_escaping_symlink(ctx.root, destination) {
        return Err(RootfsError::Config {
            field,
            message: format!(
                "{}: symlink /{} -> {} leads out of the rootfs",
                destination.display(),
                link.display(),
                Path::new(&target).display()
            ),
        });
    }
    let opts = options::parse(entry.options().as_deref().unwrap_or_default());
    let typ = entry.typ().as_deref().unwrap_or("");
    if opts.is_bind() || typ == "bind" {
        bind_entry(ctx, index, entry, &opts)
    } else if typ == "cgroup" || typ == "cgroup2" {
        super::cgroupfs::mount_cgroup(ctx, entry, &opts)
    } else if typ == "tmpfs" {
        super::tmpfs::mount_tmpfs(ctx, index, entry, &opts)
    } else if let Some(tree) = ctx.idmapped.get(index) {
        // A filesystem the parent made and id-mapped (idmap/fresh.rs).
        let target = target_dir(ctx, destination)?;
        sys::mount_api::move_tree(tree, target.as_fd())
            .map_err(|e| RootfsError::sys(&format!("attach id-mapped {typ} on"), destination, e))?;
        finish(&reopen_mounted(ctx, destination)?, destination, &opts)
    } else {
        fresh_entry(ctx, entry, typ, &opts)
    }
}

/// A filesystem mounted fresh: proc, sysfs, devpts, mqueue, and others
/// (tmpfs has its own, rootfs/tmpfs.rs).
fn fresh_entry(
    ctx: &MountContext<'_>,
    entry: &Mount,
    typ: &str,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let destination = entry.destination();
    if typ == "proc" || typ == "sysfs" {
        refuse_unless_directory(ctx, destination, typ)?;
    }
    let target = target_dir(ctx, destination)?;
    let source = entry.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let flags = opts.flags - MsFlags::MS_REMOUNT;
    let label = ctx.mount_label.filter(|_| lsm::takes_context_option(typ));
    let data = lsm::format_mount_label(&opts.data, label);
    let data = (!data.is_empty()).then_some(data.as_str());
    let result = mount(Some(&source), &fd_path(&target), Some(typ), flags, data);
    match result {
        // sysfs cannot be mounted in a user namespace that does not own the
        // network namespace; runc then binds the host's /sys, read-only.
        Err(Errno::EPERM) if typ == "sysfs" => {
            let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount(Some("/sys"), &fd_path(&target), None::<&str>, flags, None::<&str>)
                .map_err(|e| RootfsError::sys("bind /sys on", destination, e))?;
            let mounted = reopen_mounted(ctx, destination)?;
            remount(&mounted, destination, opts.flags | MsFlags::MS_BIND)?;
        }
        other => other.map_err(|e| RootfsError::sys(&format!("mount {typ} on"), destination, e))?,
    }
    let mounted = reopen_mounted(ctx, destination)?;
    if typ == "mqueue"
        && let Some(label) = ctx.mount_label
    {
        // mqueue is labelled after the mount, as runc does.
        lsm::set_file_label(&fd_path(&mounted), label).map_err(|e| RootfsError::Host {
            what: format!("{}", destination.display()),
            message: e.to_string(),
        })?;
    }
    finish(&mounted, destination, opts)
}

/// proc and sysfs go on an ordinary directory or where there is nothing
/// yet: a symlink there is refused, not followed, in runc's words. Mounts
/// through a symlink swapped in at /proc were the way of CVE-2019-19921.
fn refuse_unless_directory(ctx: &MountContext<'_>, destination: &Path, typ: &str) -> Result<(), RootfsError> {
    let found = super::resolve::open_in_root(ctx.root, destination, OFlag::O_PATH | OFlag::O_NOFOLLOW);
    let fd = match found {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(RootfsError::sys("open mount target", destination, e)),
    };
    let st = nix::sys::stat::fstat(&fd).map_err(|e| RootfsError::sys("stat mount target", destination, e))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return Ok(());
    }
    Err(RootfsError::Host {
        what: format!("mount {typ} on {}", destination.display()),
        message: format!("filesystem {typ:?} must be mounted on ordinary directory"),
    })
}

fn bind_entry(ctx: &MountContext<'_>, index: usize, entry: &Mount, opts: &MountOptions) -> Result<(), RootfsError> {
    let destination = entry.destination();
    let source = entry.source().clone().unwrap_or_default();
    let source = if source.is_absolute() { source } else { ctx.bundle.join(source) };
    let tree = ctx.idmapped.get(index);
    // Open the source once, so the inode we check is the inode we bind; a
    // clone the parent made is that inode already (in a user namespace
    // the source may be out of our reach: idmap.rs).
    let (source_fd, stat) = match tree {
        Some(tree) => (None, nix::sys::stat::fstat(tree)),
        None => {
            let fd = nix::fcntl::open(&source, OFlag::O_PATH | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .map_err(|e| RootfsError::sys("open bind source", &source, e))?;
            let stat = nix::sys::stat::fstat(&fd);
            (Some(fd), stat)
        }
    };
    let is_dir = stat
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
        .map_err(|e| RootfsError::sys("stat bind source", &source, e))?;
    let leaf = if is_dir { Leaf::Directory } else { Leaf::File };
    let target = create_in_root(ctx.root, destination, leaf)
        .map_err(|e| RootfsError::sys("create mount target", destination, e))?;
    if let Some(tree) = tree {
        // Cloned from the source (and maybe id-mapped) by the parent.
        sys::mount_api::move_tree(tree, target.as_fd())
            .map_err(|e| RootfsError::sys(&format!("attach the clone of {} on", source.display()), destination, e))?;
    } else if let Some(source_fd) = &source_fd {
        let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        mount(Some(&fd_path(source_fd)), &fd_path(&target), None::<&str>, flags, None::<&str>)
            .map_err(|e| RootfsError::sys(&format!("bind {} on", source.display()), destination, e))?;
    }
    // The bound mount must be opened anew: `target` still names the inode
    // underneath it.
    let target = reopen_mounted(ctx, destination)?;
    let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        remount(&target, destination, opts.flags | MsFlags::MS_BIND)?;
    }
    finish(&target, destination, opts)
}

/// Creates (if needed) and opens a directory mount target.
pub fn target_dir(ctx: &MountContext<'_>, destination: &Path) -> Result<OwnedFd, RootfsError> {
    create_in_root(ctx.root, destination, Leaf::Directory)
        .map_err(|e| RootfsError::sys("create mount target", destination, e))
}

pub fn reopen_mounted(ctx: &MountContext<'_>, destination: &Path) -> Result<OwnedFd, RootfsError> {
    super::resolve::open_in_root(ctx.root, destination, OFlag::O_PATH)
        .map_err(|e| RootfsError::sys("open mounted", destination, e))
}

/// Remounts a bind mount with new flags, keeping any flag the kernel locked.
pub fn remount(target: &OwnedFd, destination: &Path, flags: MsFlags) -> Result<(), RootfsError> {
    let path = fd_path(target);
    let flags = flags | MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    let first = mount(None::<&str>, &path, None::<&str>, flags, None::<&str>);
    let result = match first {
        Err(Errno::EPERM) => {
            let current = statvfs(&path).map_err(|e| RootfsError::sys("statvfs", destination, e))?;
            let locked = LOCKABLE
                .iter()
                .filter(|(fs, _)| current.flags().contains(*fs))
                .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms);
            mount(None::<&str>, &path, None::<&str>, flags | locked, None::<&str>)
        }
        other => other,
    };
    result.map_err(|e| RootfsError::sys("remount", destination, e))
}

/// Propagation and recursive attributes, applied after the mount itself.
pub fn finish(target: &OwnedFd, destination: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    for flag in &opts.propagation {
        mount(None::<&str>, &fd_path(target), None::<&str>, *flag, None::<&str>)
            .map_err(|e| RootfsError::sys("set propagation of", destination, e))?;
    }
    if opts.has_recursive_attrs() {
        sys::mount_setattr_recursive(target.as_fd(), opts.recursive_set, opts.recursive_clear)
            .map_err(|e| RootfsError::sys("set recursive attributes of", destination, e))?;
    }
    Ok(())
}
