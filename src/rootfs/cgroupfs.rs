//! The `cgroup` mount entry: what the container sees at /sys/fs/cgroup.
//!
//! On a unified (v2) host that is one cgroup2 mount. On a v1 or hybrid host it
//! is a tmpfs holding one mount per v1 hierarchy, as runc builds it: with a
//! cgroup namespace each is mounted fresh (the kernel shows the namespace
//! root); without one, the container's own cgroup directory is bound, so the
//! container never sees the host's tree.

use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};
use oci_spec::runtime::Mount;
use procfs::process::Process;

use super::RootfsError;
use super::mounts::{MountContext, remount, reopen_mounted, target_dir};
use super::options::MountOptions;
use super::resolve::{Leaf, create_in_root, fd_path};

const HOST_CGROUP_ROOT: &str = "/sys/fs/cgroup";

pub fn mount_cgroup(ctx: &MountContext<'_>, entry: &Mount, opts: &MountOptions) -> Result<(), RootfsError> {
    let destination = entry.destination();
    let unified = statfs(HOST_CGROUP_ROOT).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC);
    if unified {
        let target = target_dir(ctx, destination)?;
        let flags = opts.flags - MsFlags::MS_REMOUNT;
        return mount(Some("cgroup2"), &fd_path(&target), Some("cgroup2"), flags, None::<&str>)
            .map_err(|e| RootfsError::sys("mount cgroup2 on", destination, e));
    }
    mount_v1_hierarchies(ctx, destination, opts)
}

/// One v1 hierarchy as the host mounts it.
struct Hierarchy {
    /// The mount point's name under /sys/fs/cgroup (`cpu,cpuacct`, `systemd`).
    name: String,
    host_mount_point: PathBuf,
    /// The subsystem options to mount it with (`cpu,cpuacct`, `name=systemd`).
    subsystems: String,
    /// This process's cgroup within the hierarchy.
    own_path: String,
    /// The hierarchy's root as seen in the host mountinfo (usually `/`).
    mount_root: String,
}

fn mount_v1_hierarchies(ctx: &MountContext<'_>, destination: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let hierarchies = host_hierarchies().map_err(|e| RootfsError::Host {
        what: "reading the host's cgroup mounts".into(),
        message: e.to_string(),
    })?;
    // The tmpfs stays writable, as in runc, so that its mounts can be made.
    let base = opts.flags - (MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT);
    let target = target_dir(ctx, destination)?;
    let data = crate::security::lsm::format_mount_label("mode=755", ctx.mount_label);
    mount(Some("tmpfs"), &fd_path(&target), Some("tmpfs"), base, Some(data.as_str()))
        .map_err(|e| RootfsError::sys("mount tmpfs on", destination, e))?;
    for hierarchy in &hierarchies {
        let dest = destination.join(&hierarchy.name);
        let target = create_in_root(ctx.root, &dest, Leaf::Directory)
            .map_err(|e| RootfsError::sys("create mount target", &dest, e))?;
        if ctx.cgroup_ns {
            // runc names the source of the systemd hierarchy "systemd".
            let source = if hierarchy.subsystems == "name=systemd" { "systemd" } else { "cgroup" };
            mount(Some(source), &fd_path(&target), Some("cgroup"), base, Some(hierarchy.subsystems.as_str()))
                .map_err(|e| RootfsError::sys("mount cgroup on", &dest, e))?;
        } else {
            let relative = hierarchy.own_path.strip_prefix(&hierarchy.mount_root).unwrap_or(&hierarchy.own_path);
            let source = hierarchy.host_mount_point.join(relative.trim_start_matches('/'));
            mount(Some(&source), &fd_path(&target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|e| RootfsError::sys(&format!("bind {} on", source.display()), &dest, e))?;
        }
        let mounted = reopen_mounted(ctx, &dest)?;
        remount(&mounted, &dest, opts.flags | MsFlags::MS_BIND)?;
        // `cpu,cpuacct` is also reachable as `cpu` and `cpuacct`.
        if hierarchy.name.contains(',') {
            for alias in hierarchy.name.split(',') {
                let link = destination.join(alias);
                let dir = create_in_root(ctx.root, destination, Leaf::Directory)
                    .and_then(|fd| super::resolve::reopen_dir(std::os::fd::AsFd::as_fd(&fd)))
                    .map_err(|e| RootfsError::sys("open", destination, e))?;
                nix::unistd::symlinkat(hierarchy.name.as_str(), &dir, alias)
                    .or_else(|e| if e == nix::errno::Errno::EEXIST { Ok(()) } else { Err(e) })
                    .map_err(|e| RootfsError::sys("symlink", &link, e))?;
            }
        }
    }
    Ok(())
}

fn host_hierarchies() -> procfs::ProcResult<Vec<Hierarchy>> {
    let me = Process::myself()?;
    let cgroups = me.cgroups()?;
    let mut found = Vec::new();
    for info in me.mountinfo()? {
        if info.fs_type != "cgroup" || info.mount_point.parent() != Some(Path::new(HOST_CGROUP_ROOT)) {
            continue;
        }
        let subsystems: Vec<String> = info
            .super_options
            .iter()
            .filter_map(|(key, value)| match value {
                Some(v) if key == "name" => Some(format!("name={v}")),
                None if key != "rw" && key != "ro" => Some(key.clone()),
                _ => None,
            })
            .collect();
        let own = cgroups.0.iter().find(|cg| {
            subsystems.iter().all(|s| {
                cg.controllers.iter().any(|c| c == s)
            })
        });
        let Some(own) = own else { continue };
        let mut subsystems = subsystems;
        subsystems.sort();
        found.push(Hierarchy {
            name: info.mount_point.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            host_mount_point: info.mount_point.clone(),
            subsystems: subsystems.join(","),
            own_path: own.pathname.clone(),
            mount_root: info.root.clone(),
        });
    }
    Ok(found)
}
