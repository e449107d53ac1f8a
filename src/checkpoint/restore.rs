//! `restore`: `create`'s path (state, cgroup, hooks, pid file, console; see
//! container/create.rs) with CRIU in the init's place, as runc's Restore.
//! criu swrk enters the container's cgroup, restores the process tree as
//! husk's child (`rst_sibling`), and tells husk what it did: the
//! namespaces are up (prestart and createRuntime hooks run), the
//! terminal's master (to the console socket, or kept), the init's pid.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::rpc::{CriuOpts, CriuReq, CriuReqType, InheritFd, JoinNamespace};
use super::swrk::{self, CriuStdio};
use super::{CheckpointError, CommonOptions, Result, notify, opts};
use crate::cgroups::{Cgroup, CgroupPaths};
use crate::hooks;
use crate::launch::console::{self, ConsoleTarget};
use crate::launch::spawn::Children;
use crate::state::{Container, Status};
use crate::sys::child::PrivateBind;

const LOG_FILE: &str = "restore.log";
/// Where the rootfs is bound for CRIU, in its own mount namespace: CRIU's
/// root must be a mount point whose parent is not overmounted.
const CRIU_ROOT: &str = "criu-root";

/// `restore`'s own flags.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub common: CommonOptions,
}

/// What `restore` checks before it claims the id: its flags, the image
/// directory and CRIU itself. A refusal leaves nothing.
pub fn check(options: &RestoreOptions, id: &str) -> Result<()> {
    let common = &options.common;
    opts::cgroups_mode(common.manage_cgroups_mode.as_deref())?;
    opts::empty_ns_mask(&common.empty_ns)?;
    super::check_image_dir(&common.image_path, id)?;
    let version = swrk::version(&common.criu)?;
    if version < super::MIN_CRIU_VERSION {
        return Err(CheckpointError::OldCriu { found: version, min: super::MIN_CRIU_VERSION });
    }
    Ok(())
}

/// What the restore needs of `create`'s plan.
pub struct Context<'a> {
    pub options: &'a RestoreOptions,
    pub spec: &'a Spec,
    pub container: &'a Container,
    pub state_dir: &'a Path,
    pub cgroup: Option<&'a dyn Cgroup>,
    pub cgroup_paths: Option<&'a CgroupPaths>,
    pub console: Option<&'a ConsoleTarget>,
}

/// The restored init, and the terminal's master when husk keeps it.
pub struct Restored {
    pub pid: Pid,
    pub console: Option<OwnedFd>,
}

/// Restores the container; on error the restored processes (in `children`
/// and in the cgroup, which the caller's guard removes) are killed.
pub fn launch(ctx: &Context<'_>, children: &mut Children, warn: &mut dyn FnMut(&str)) -> crate::error::Result<Restored> {
    let common = &ctx.options.common;
    let log = common.log_dir().join(LOG_FILE);
    let result = restore(ctx, children, log.clone());
    if result.is_err() {
        super::dump::quote_log_errors(&log, warn);
    }
    result
}

fn restore(ctx: &Context<'_>, children: &mut Children, log: PathBuf) -> crate::error::Result<Restored> {
    let common = &ctx.options.common;
    let image_dir = open_dir(&common.image_path)?;
    let work_dir = match &common.work_path {
        Some(path) => {
            std::fs::create_dir_all(path).map_err(CheckpointError::io("create", path))?;
            Some(open_dir(path)?)
        }
        None => None,
    };
    let root = RootDir::make(ctx.state_dir)?;
    let mut criu_opts = CriuOpts {
        images_dir_fd: image_dir.as_raw_fd(),
        work_dir_fd: work_dir.as_ref().map(|d| d.as_raw_fd()),
        evasive_devices: Some(true),
        log_level: Some(4),
        log_file: Some(LOG_FILE.into()),
        rst_sibling: Some(true),
        root: Some(root.path.display().to_string()),
        manage_cgroups: Some(true),
        manage_cgroups_mode: Some(opts::cgroups_mode(common.manage_cgroups_mode.as_deref())? as i32),
        notify_scripts: Some(true),
        shell_job: Some(common.shell_job),
        ext_unix_sk: Some(common.ext_unix_sk),
        tcp_established: Some(common.tcp_established),
        file_locks: Some(common.file_locks),
        empty_ns: Some(opts::empty_ns_mask(&common.empty_ns)?),
        orphan_pts_master: Some(true),
        auto_dedup: Some(common.auto_dedup),
        lazy_pages: Some(common.lazy_pages),
        config_file: opts::config_file(&ctx.container.annotations),
        ..Default::default()
    };
    let namespace_files = namespaces(ctx.spec, &mut criu_opts)?;
    make_mount_targets(ctx.spec, &ctx.container.rootfs, &ctx.container.bundle)?;
    let cgroup_binds = super::dump::cgroup_binds(ctx.spec, ctx.cgroup_paths)?;
    criu_opts.ext_mnt = opts::restore_ext_mounts(ctx.spec, &ctx.container.bundle, &cgroup_binds);
    criu_opts.inherit_fd.extend(opts::inherit_fds(&read_descriptors(&common.image_path)?));

    let extra: Vec<BorrowedFd<'_>> = namespace_files.iter().map(|f| f.as_fd()).collect();
    let stdio = if ctx.console.is_some() { CriuStdio::Null } else { CriuStdio::Inherit };
    let bind = PrivateBind { source: c_path(&ctx.container.rootfs)?, target: c_path(&root.path)? };
    let mut criu = swrk::spawn(&common.criu, &extra, stdio, Some(bind), Some(log))?;
    if let Some(cgroup) = ctx.cgroup {
        // CRIU restores the tree into the cgroups it is in itself.
        cgroup.add_process(criu.pid()).map_err(CheckpointError::from)?;
        let own = format!("/proc/{}/cgroup", criu.pid());
        let text = std::fs::read_to_string(&own).map_err(CheckpointError::io("read", &own))?;
        criu_opts.cg_root = opts::cgroup_roots(&text);
    }
    let req = CriuReq { r#type: CriuReqType::Restore as i32, opts: Some(criu_opts), ..Default::default() };
    let mut handler = Handler { ctx, children, pid: None, console: None };
    let resp = criu.call(&req, &mut |n, fd| notify::dispatch(&mut handler, n, fd))?;
    let pid = handler.pid.or(resp.restore.map(|r| r.pid)).filter(|p| *p > 0).ok_or(CheckpointError::NoRestoredPid)?;
    let console = handler.console.take();
    criu.finish(false)?;
    Ok(Restored { pid: Pid::from_raw(pid), console })
}

struct Handler<'a, 'b> {
    ctx: &'a Context<'b>,
    children: &'a mut Children,
    pid: Option<i32>,
    console: Option<OwnedFd>,
}

impl notify::Handler for Handler<'_, '_> {
    /// runc's order: prestart, then createRuntime, in husk's namespaces,
    /// with the restored init's pid.
    fn setup_namespaces(&mut self, pid: i32) -> Result<()> {
        let state = self.ctx.container.state_with(Status::Creating, pid);
        for kind in hooks::RUNTIME_CREATE {
            hooks::run(self.ctx.container.hooks.as_ref(), *kind, &state, hooks::Inherited::default())?;
        }
        Ok(())
    }

    fn post_restore(&mut self, pid: i32) -> Result<()> {
        self.children.push(Pid::from_raw(pid));
        self.pid = Some(pid);
        Ok(())
    }

    fn orphan_pts_master(&mut self, master: OwnedFd) -> Result<()> {
        let Some(target) = self.ctx.console else {
            return Err(CheckpointError::Notify {
                script: "orphan-pts-master".into(),
                problem: "the restored container has a terminal, but its config has none".into(),
            });
        };
        self.console = console::pass_on(master, target).map_err(|e| CheckpointError::Notify {
            script: "orphan-pts-master".into(),
            problem: e.to_string(),
        })?;
        Ok(())
    }

    /// runc writes to a status fd `restore` has no flag for; nothing here.
    fn status_ready(&mut self) -> Result<()> {
        Ok(())
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(path, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty())
        .map_err(|source| CheckpointError::Io { op: "open", path: path.to_path_buf(), source: source.into() })
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| CheckpointError::Mount {
        op: "bind",
        path: path.to_path_buf(),
        source: nix::errno::Errno::EINVAL,
    })
}

/// The namespaces the config joins by path: network and pid ones go to
/// CRIU as inherited fds under the keys they were dumped with (its fds 4,
/// 5, …), the rest are joined by CRIU (runc's handleRestoringNamespaces).
fn namespaces(spec: &Spec, criu_opts: &mut CriuOpts) -> Result<Vec<std::fs::File>> {
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_deref()).unwrap_or_default();
    let mut files = Vec::new();
    for ns in list {
        let Some(path) = ns.path() else { continue };
        match ns.typ() {
            LinuxNamespaceType::Network | LinuxNamespaceType::Pid => {
                let file = std::fs::File::open(path).map_err(|source| CheckpointError::ExternalNamespace {
                    ns: opts::ns_name(ns.typ()).to_string(),
                    path: path.clone(),
                    source,
                })?;
                // Fd 3 is criu's socket.
                criu_opts.inherit_fd.push(InheritFd { key: opts::ns_key(ns.typ()), fd: 4 + files.len() as i32 });
                files.push(file);
            }
            LinuxNamespaceType::Cgroup => return Err(CheckpointError::CgroupNamespacePath),
            other => criu_opts.join_ns.push(JoinNamespace {
                ns: opts::ns_name(other).to_string(),
                ns_file: path.display().to_string(),
                extra_opt: None,
            }),
        }
    }
    Ok(files)
}

/// The mount targets CRIU mounts on, made in the rootfs as `create` makes
/// them (a file for a bind of a file), resolved inside it.
fn make_mount_targets(spec: &Spec, rootfs: &Path, bundle: &Path) -> Result<()> {
    let root = nix::fcntl::open(rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|source| CheckpointError::Mount { op: "open the rootfs", path: rootfs.to_path_buf(), source })?;
    for mount in opts::restore_targets(spec) {
        let source = mount.source().as_deref().map(|s| bundle.join(s));
        let file = source.is_some_and(|s| std::fs::metadata(s).is_ok_and(|m| !m.is_dir()));
        let leaf = if file { crate::rootfs::Leaf::File } else { crate::rootfs::Leaf::Directory };
        crate::rootfs::create_in_root(root.as_fd(), mount.destination(), leaf).map_err(|source| CheckpointError::Mount {
            op: "make the mount target",
            path: mount.destination().clone(),
            source,
        })?;
    }
    Ok(())
}

fn read_descriptors(image_path: &Path) -> Result<Vec<String>> {
    let path = image_path.join(super::DESCRIPTORS_FILE);
    let bytes = std::fs::read(&path).map_err(CheckpointError::io("read", &path))?;
    serde_json::from_slice(&bytes).map_err(|source| CheckpointError::Json { path, source })
}

/// The directory the rootfs is bound on for CRIU, removed after it (the
/// mount itself lived only in criu's mount namespace).
struct RootDir {
    path: PathBuf,
}

impl RootDir {
    fn make(state_dir: &Path) -> Result<RootDir> {
        let path = state_dir.join(CRIU_ROOT);
        std::fs::create_dir(&path).map_err(CheckpointError::io("create", &path))?;
        Ok(RootDir { path })
    }
}

impl Drop for RootDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.path);
    }
}
