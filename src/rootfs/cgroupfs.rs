//! The `cgroup` mount entry: what the container sees at /sys/fs/cgroup.
//!
//! On a unified (v2) host that is one cgroup2 mount. On a v1 or hybrid host it
//! is a tmpfs holding one mount per v1 hierarchy, as runc builds it: with a
//! cgroup namespace each is mounted fresh (the kernel shows the namespace
//! root); without one, the container's own cgroup directory is bound, so the
//! container never sees the host's tree.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use oci_spec::runtime::Mount;

use super::RootfsError;
use super::mounts::{MountContext, remount, reopen_mounted, target_dir};
use super::options::MountOptions;
use super::resolve::{Leaf, create_in_root, fd_path};
use crate::cgroups::{self, CgroupPaths};
use crate::host::{CgroupMode, HostFacts};

/// What the container gets at the destination of a `cgroup` entry.
#[derive(Debug, PartialEq, Eq)]
enum CgroupMountPlan {
    /// A v2 host: one cgroup2 mount.
    Cgroup2,
    /// A v1 or hybrid host: a tmpfs holding one mount per v1 hierarchy.
    V1(Vec<HierarchyMount>),
}

/// One v1 hierarchy in the container's /sys/fs/cgroup.
#[derive(Debug, PartialEq, Eq)]
struct HierarchyMount {
    /// Its directory's name in the tmpfs, as on the host (`cpu,cpuacct`).
    name: String,
    source: HierarchySource,
    /// Symlinks to it, for a hierarchy of several controllers (`cpu` and
    /// `cpuacct` -> `cpu,cpuacct`).
    aliases: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum HierarchySource {
    /// Mounted fresh in the container's cgroup namespace, whose root the
    /// kernel shows: the mount's source name and its options.
    Fresh { source: &'static str, options: String },
    /// Without a cgroup namespace, the container's own cgroup directory,
    /// bound, so that it never sees the host's tree.
    Bind(PathBuf),
}

/// Plans the `cgroup` entry from the host's hierarchies and the container's
/// cgroup (where its init is by the time the rootfs is prepared).
fn plan(host: &HostFacts, container: Option<&CgroupPaths>, cgroup_ns: bool) -> CgroupMountPlan {
    if host.cgroup_mode == CgroupMode::V2 {
        return CgroupMountPlan::Cgroup2;
    }
    let container_dirs = match container {
        Some(CgroupPaths::V1(dirs)) => Some(dirs),
        _ => None,
    };
    let mounts = cgroups::hierarchies(host)
        .into_iter()
        // The cgroup2 tree of a hybrid host is not shown, as in runc.
        .filter(|h| !h.controllers.is_empty())
        .map(|h| {
            let source = if cgroup_ns {
                // runc names the source of the systemd hierarchy "systemd".
                let source = if h.controllers == ["name=systemd"] { "systemd" } else { "cgroup" };
                HierarchySource::Fresh { source, options: h.controllers.join(",") }
            } else {
                let own = || h.mount_point.join(h.own_path.as_deref().unwrap_or("/").trim_start_matches('/'));
                HierarchySource::Bind(container_dirs.and_then(|d| d.get(&h.name)).cloned().unwrap_or_else(own))
            };
            let aliases = if h.name.contains(',') { h.name.split(',').map(String::from).collect() } else { Vec::new() };
            HierarchyMount { name: h.name, source, aliases }
        })
        .collect();
    CgroupMountPlan::V1(mounts)
}

/// The v1 hierarchies a `cgroup` entry at `destination` binds from the
/// host (none on a v2 host or with a cgroup namespace), as (where in the
/// container, the host's directory): external mounts to CRIU.
pub fn bound_hierarchies(host: &HostFacts, container: Option<&CgroupPaths>, cgroup_ns: bool, destination: &Path) -> Vec<(PathBuf, PathBuf)> {
    match plan(host, container, cgroup_ns) {
        CgroupMountPlan::Cgroup2 => Vec::new(),
        CgroupMountPlan::V1(mounts) => mounts
            .into_iter()
            .filter_map(|m| match m.source {
                HierarchySource::Bind(source) => Some((destination.join(&m.name), source)),
                HierarchySource::Fresh { .. } => None,
            })
            .collect(),
    }
}

pub fn mount_cgroup(ctx: &MountContext<'_>, entry: &Mount, opts: &MountOptions) -> Result<(), RootfsError> {
    let destination = entry.destination();
    match plan(ctx.host, ctx.cgroup, ctx.cgroup_ns) {
        CgroupMountPlan::Cgroup2 => {
            let target = target_dir(ctx, destination)?;
            let flags = opts.flags - MsFlags::MS_REMOUNT;
            match mount(Some("cgroup2"), &fd_path(&target), Some("cgroup2"), flags, None::<&str>) {
                Ok(()) => Ok(()),
                // In a user namespace without a cgroup namespace of its own
                // (rootless), cgroup2 cannot be mounted: bound instead, as
                // runc binds it.
                Err(Errno::EPERM | Errno::EBUSY) => bind_cgroup2(ctx, destination, opts, &target),
                Err(e) => Err(RootfsError::sys("mount cgroup2 on", destination, e)),
            }
        }
        CgroupMountPlan::V1(hierarchies) => mount_v1_hierarchies(ctx, destination, opts, &hierarchies),
    }
}

/// runc's fallback for cgroup2: a bind of the container's own cgroup with
/// a cgroup namespace (emulating its view), else of the host's cgroup2
/// mount, with the entry's flags (read-only, usually) made to hold.
fn bind_cgroup2(ctx: &MountContext<'_>, destination: &Path, opts: &MountOptions, target: &std::os::fd::OwnedFd) -> Result<(), RootfsError> {
    let source = match ctx.cgroup {
        Some(CgroupPaths::V2(dir)) if ctx.cgroup_ns => dir.clone(),
        _ => PathBuf::from(cgroups::CGROUP_ROOT),
    };
    mount(Some(&source), &fd_path(target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| RootfsError::sys(&format!("bind {} on", source.display()), destination, e))?;
    let mounted = reopen_mounted(ctx, destination)?;
    remount(&mounted, destination, opts.flags | MsFlags::MS_BIND)
}

fn mount_v1_hierarchies(
    ctx: &MountContext<'_>,
    destination: &Path,
    opts: &MountOptions,
    hierarchies: &[HierarchyMount],
) -> Result<(), RootfsError> {
    // The tmpfs stays writable, as in runc, so that its mounts can be made.
    let base = opts.flags - (MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT);
    let target = target_dir(ctx, destination)?;
    let data = crate::security::lsm::format_mount_label("mode=755", ctx.mount_label);
    mount(Some("tmpfs"), &fd_path(&target), Some("tmpfs"), base, Some(data.as_str()))
        .map_err(|e| RootfsError::sys("mount tmpfs on", destination, e))?;
    for hierarchy in hierarchies {
        let dest = destination.join(&hierarchy.name);
        let target = create_in_root(ctx.root, &dest, Leaf::Directory)
            .map_err(|e| RootfsError::sys("create mount target", &dest, e))?;
        match &hierarchy.source {
            HierarchySource::Fresh { source, options } => {
                mount(Some(*source), &fd_path(&target), Some("cgroup"), base, Some(options.as_str()))
                    .map_err(|e| RootfsError::sys("mount cgroup on", &dest, e))?;
            }
            HierarchySource::Bind(source) => {
                mount(Some(source), &fd_path(&target), None::<&str>, MsFlags::MS_BIND, None::<&str>)
                    .map_err(|e| RootfsError::sys(&format!("bind {} on", source.display()), &dest, e))?;
            }
        }
        let mounted = reopen_mounted(ctx, &dest)?;
        remount(&mounted, &dest, opts.flags | MsFlags::MS_BIND)?;
        for alias in &hierarchy.aliases {
            let link = destination.join(alias);
            let dir = create_in_root(ctx.root, destination, Leaf::Directory)
                .and_then(|fd| super::resolve::reopen_dir(std::os::fd::AsFd::as_fd(&fd)))
                .map_err(|e| RootfsError::sys("open", destination, e))?;
            nix::unistd::symlinkat(hierarchy.name.as_str(), &dir, alias.as_str())
                .or_else(|e| if e == nix::errno::Errno::EEXIST { Ok(()) } else { Err(e) })
                .map_err(|e| RootfsError::sys("symlink", &link, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::recorded;

    fn names(plan: &CgroupMountPlan) -> Vec<&str> {
        match plan {
            CgroupMountPlan::V1(mounts) => mounts.iter().map(|m| m.name.as_str()).collect(),
            CgroupMountPlan::Cgroup2 => Vec::new(),
        }
    }

    fn source<'a>(plan: &'a CgroupMountPlan, name: &str) -> &'a HierarchySource {
        match plan {
            CgroupMountPlan::V1(mounts) => &mounts.iter().find(|m| m.name == name).expect(name).source,
            CgroupMountPlan::Cgroup2 => panic!("a v1 plan expected"),
        }
    }

    #[test]
    fn a_v2_host_gets_one_cgroup2_mount() {
        let host = recorded::v2();
        let container = cgroups::resolve(&host, Some(Path::new("/c")), "c").unwrap();
        assert_eq!(plan(&host, Some(&container), false), CgroupMountPlan::Cgroup2);
        assert_eq!(plan(&host, Some(&container), true), CgroupMountPlan::Cgroup2);
    }

    #[test]
    fn a_hybrid_host_gets_its_v1_hierarchies_without_unified() {
        let host = recorded::v1_hybrid();
        let planned = plan(&host, None, true);
        assert_eq!(names(&planned), ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"]);
        assert_eq!(
            source(&planned, "systemd"),
            &HierarchySource::Fresh { source: "systemd", options: "name=systemd".into() }
        );
        assert_eq!(source(&planned, "memory"), &HierarchySource::Fresh { source: "cgroup", options: "memory".into() });
    }

    #[test]
    fn without_a_cgroup_namespace_the_container_cgroup_is_bound() {
        let host = recorded::v1_hybrid();
        let container = cgroups::resolve(&host, Some(Path::new("/husk/c1")), "c1").unwrap();
        let planned = plan(&host, Some(&container), false);
        assert_eq!(source(&planned, "memory"), &HierarchySource::Bind("/sys/fs/cgroup/memory/husk/c1".into()));
        assert_eq!(source(&planned, "systemd"), &HierarchySource::Bind("/sys/fs/cgroup/systemd/husk/c1".into()));
        // Without the container's cgroup, husk's own (where the init is).
        let own = plan(&host, None, false);
        let HierarchySource::Bind(memory) = source(&own, "memory") else { panic!("a bind") };
        assert!(memory.starts_with("/sys/fs/cgroup/memory/process_api/"), "{}", memory.display());
    }

    #[test]
    fn a_hierarchy_of_several_controllers_gets_aliases() {
        // A host that co-mounts cpu and cpuacct, as most v1 hosts do.
        let mountinfo = "20 1 0:1 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                         21 20 0:2 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                         22 20 0:3 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
        let host = HostFacts::from_recorded(mountinfo, "2:cpu,cpuacct:/\n1:name=systemd:/\n", false).unwrap();
        let CgroupMountPlan::V1(mounts) = plan(&host, None, true) else { panic!("a v1 plan") };
        assert_eq!(mounts[0].name, "cpu,cpuacct");
        assert_eq!(mounts[0].aliases, ["cpu", "cpuacct"]);
        assert_eq!(mounts[0].source, HierarchySource::Fresh { source: "cgroup", options: "cpu,cpuacct".into() });
        assert_eq!(mounts[1].source, HierarchySource::Fresh { source: "systemd", options: "name=systemd".into() });
    }
}
