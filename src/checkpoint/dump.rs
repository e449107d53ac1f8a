//! `checkpoint`: CRIU dumps the running container into the image directory,
//! as runc's Checkpoint; without `--leave-running` or `--pre-dump` the
//! container is then gone (CRIU killed it), and husk deletes it, as runc
//! destroys it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespaceType;

use super::rpc::{CriuFeatures, CriuOpts, CriuReq, CriuReqType};
use super::swrk::{self, CriuStdio};
use super::{CheckpointError, CommonOptions, ImageOwner, Result, opts};
use crate::error::Result as HuskResult;
use crate::state::{Container, Status, Store};

/// `checkpoint`'s own flags.
#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    pub common: CommonOptions,
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub status_fd: i32,
    pub page_server: Option<String>,
}

const LOG_FILE: &str = "dump.log";

/// Checkpoints container `id`.
pub fn checkpoint(store: &Store, id: &str, options: &DumpOptions, warn: &mut dyn FnMut(&str)) -> HuskResult<()> {
    let container = store.load(id)?;
    let status = store.status(&container);
    if status != Status::Running {
        return Err(CheckpointError::CannotCheckpoint(status).into());
    }
    let common = &options.common;
    // Every flag is read before anything is made.
    let cg_mode = opts::cgroups_mode(common.manage_cgroups_mode.as_deref())?;
    let empty_ns = opts::empty_ns_mask(&common.empty_ns)?;
    let page_server = options.page_server.as_deref().map(opts::page_server).transpose()?;
    if options.parent_path.as_deref().is_some_and(Path::is_absolute) {
        return Err(CheckpointError::ParentPathAbsolute.into());
    }
    let version = swrk::version(&common.criu)?;
    if version < super::MIN_CRIU_VERSION {
        return Err(CheckpointError::OldCriu { found: version, min: super::MIN_CRIU_VERSION }.into());
    }
    let loaded = crate::spec::load(&container.bundle)?;
    let image_dir = make_dir(&common.image_path)?;
    if let Some(parent) = &options.parent_path {
        check_parent(&common.image_path, parent)?;
    }
    let work_dir = common.work_path.as_deref().map(make_dir).transpose()?;
    let mut criu_opts = CriuOpts {
        images_dir_fd: image_dir.as_raw_fd(),
        work_dir_fd: work_dir.as_ref().map(|d| d.as_raw_fd()),
        log_level: Some(4),
        log_file: Some(LOG_FILE.into()),
        root: Some(container.rootfs.display().to_string()),
        manage_cgroups: Some(true),
        manage_cgroups_mode: Some(cg_mode as i32),
        notify_scripts: Some(true),
        pid: Some(container.pid),
        shell_job: Some(common.shell_job),
        leave_running: Some(options.leave_running),
        tcp_established: Some(common.tcp_established),
        ext_unix_sk: Some(common.ext_unix_sk),
        file_locks: Some(common.file_locks),
        empty_ns: Some(empty_ns),
        orphan_pts_master: Some(true),
        auto_dedup: Some(common.auto_dedup),
        lazy_pages: Some(common.lazy_pages),
        config_file: opts::config_file(&container.annotations),
        freeze_cgroup: container.cgroup.as_ref().and_then(opts::freeze_cgroup),
        ps: page_server,
        ..Default::default()
    };
    if let Some(parent) = &options.parent_path {
        criu_opts.parent_img = Some(parent.display().to_string());
        criu_opts.track_mem = Some(true);
    }
    criu_opts.external = external_namespaces(&loaded.spec)?;
    let kind = if options.pre_dump {
        swrk::check_features(&common.criu, CriuFeatures { mem_track: Some(true), ..Default::default() })?;
        CriuReqType::PreDump
    } else {
        CriuReqType::Dump
    };
    let mut status_fd = None;
    if common.lazy_pages {
        swrk::check_features(&common.criu, CriuFeatures { lazy_pages: Some(true), ..Default::default() })?;
        if options.status_fd != -1 {
            let fd = crate::sys::child::adopt_writable_fd(options.status_fd)
                .map_err(|problem| CheckpointError::StatusFd { fd: options.status_fd, problem })?;
            // Before 3.15 CRIU writes to it itself; since, husk does on
            // "status-ready", as runc.
            if version < 31500 {
                criu_opts.status_fd = Some(options.status_fd);
            }
            status_fd = Some(fd);
        }
    }
    if !options.pre_dump {
        criu_opts.ext_mnt = dump_mounts(&container, &loaded.spec)?;
        write_records(&common.image_path, &container)?;
    }
    let req = CriuReq { r#type: kind as i32, opts: Some(criu_opts), ..Default::default() };
    let log = common.log_dir().join(LOG_FILE);
    crate::logging::debug_with(|| format!("checkpoint {id}: {} into {}", kind.name(), common.image_path.display()));
    let result = run(&common.criu, &req, status_fd, log.clone(), options.pre_dump);
    if result.is_err() {
        quote_log_errors(&log, warn);
    }
    result?;
    drop(image_dir);
    if !(options.leave_running || options.pre_dump) {
        // CRIU killed the container's processes; what is left is husk's.
        crate::container::delete(store, id, true, warn)?;
    }
    Ok(())
}

fn run(criu: &Path, req: &CriuReq, mut status_fd: Option<OwnedFd>, log: PathBuf, pre_dump: bool) -> Result<()> {
    let mut swrk = swrk::spawn(criu, &[], CriuStdio::Null, None, Some(log))?;
    swrk.call(req, &mut |notify, _fd| {
        if notify.script.as_deref() == Some("status-ready")
            && let Some(fd) = status_fd.take()
        {
            let _ = nix::unistd::write(&fd, b"\0");
        }
        Ok(())
    })?;
    swrk.finish(pre_dump)
}

/// The image and work directories: made if missing (a container may be
/// checkpointed again into the same one), opened for CRIU, which reads
/// them through /proc/HUSK/fd.
fn make_dir(path: &Path) -> Result<OwnedFd> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(CheckpointError::io("create", path))?;
    nix::fcntl::open(path, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty())
        .map_err(|source| CheckpointError::Io { op: "open", path: path.to_path_buf(), source: source.into() })
}

/// runc's check: the parent images lie in a directory below the new ones.
fn check_parent(image_path: &Path, parent: &Path) -> Result<()> {
    let real = image_path.join(parent);
    match std::fs::metadata(&real) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(CheckpointError::ParentPath { path: real, problem: "not a directory".into() }),
        Err(e) => Err(CheckpointError::ParentPath { path: real, problem: e.to_string() }),
    }
}

/// The network and pid namespaces the config joins by path: CRIU leaves
/// them out of the images, keyed by their inode.
fn external_namespaces(spec: &oci_spec::runtime::Spec) -> Result<Vec<String>> {
    use std::os::unix::fs::MetadataExt;
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_deref()).unwrap_or_default();
    let mut external = Vec::new();
    for ns in namespaces {
        let (Some(path), LinuxNamespaceType::Network | LinuxNamespaceType::Pid) = (ns.path(), ns.typ()) else { continue };
        let meta = std::fs::metadata(path).map_err(CheckpointError::io("stat", path))?;
        external.push(opts::ns_external(ns.typ(), meta.ino()));
    }
    Ok(external)
}

/// The external mounts, with the masked files that exist in the container.
fn dump_mounts(container: &Container, spec: &oci_spec::runtime::Spec) -> Result<Vec<super::rpc::ExtMountMap>> {
    let masked: Vec<String> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|path| {
            let inside = format!("/proc/{}/root/{}", container.pid, path.trim_start_matches('/'));
            std::fs::metadata(inside).is_ok_and(|m| !m.is_dir())
        })
        .collect();
    Ok(opts::dump_ext_mounts(spec, &container.bundle, &cgroup_binds(spec, container.cgroup.as_ref())?, &masked))
}

/// The v1 hierarchies the config's `cgroup` entries bind from the host.
pub fn cgroup_binds(spec: &oci_spec::runtime::Spec, cgroup: Option<&crate::cgroups::CgroupPaths>) -> Result<Vec<(PathBuf, PathBuf)>> {
    let host = crate::host::HostFacts::read()?;
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_deref()).unwrap_or_default();
    let cgroup_ns = namespaces.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup);
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    Ok(mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("cgroup"))
        .flat_map(|m| crate::rootfs::bound_hierarchies(&host, cgroup, cgroup_ns, m.destination()))
        .collect())
}

/// descriptors.json (runc's: what the init's fds 0-2 are) and husk's
/// record of whose images these are.
fn write_records(image_path: &Path, container: &Container) -> Result<()> {
    let descriptors: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{}/fd/{fd}", container.pid)).map(|l| l.display().to_string()).unwrap_or_else(|_| "/dev/null".into())
        })
        .collect();
    let write = |name: &str, bytes: Vec<u8>| {
        let path = image_path.join(name);
        std::fs::write(&path, bytes).map_err(CheckpointError::io("write", path))
    };
    write(super::DESCRIPTORS_FILE, serde_json::to_vec(&descriptors).expect("strings serialise"))?;
    write(super::IMAGE_OWNER_FILE, serde_json::to_vec(&ImageOwner { id: container.id.clone() }).expect("the owner serialises"))
}

/// runc's logCriuErrors: each line of CRIU's log that says "Error", with
/// the five before it, as warnings.
pub fn quote_log_errors(log: &Path, warn: &mut dyn FnMut(&str)) {
    let Ok(text) = std::fs::read_to_string(log) else { return };
    let lines = error_context(&text);
    if lines.is_empty() {
        return;
    }
    warn(&format!("--- Quoting {:?}", log.display().to_string()));
    for line in lines {
        warn(&line);
    }
    warn("---");
}

/// The numbered lines to quote, "..." between groups that do not touch.
fn error_context(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut printed = 0usize;
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("Error") {
            continue;
        }
        let first = i.saturating_sub(5).max(printed);
        if printed != 0 && first > printed {
            out.push("...".to_string());
        }
        for (n, text) in lines.iter().enumerate().take(i + 1).skip(first) {
            out.push(format!("{}:{text}", n + 1));
        }
        printed = i + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_errors_with_their_context() {
        let text = (1..=20).map(|n| if n == 8 || n == 18 { format!("Error ({n})") } else { format!("l{n}") }).collect::<Vec<_>>().join("\n");
        let quoted = error_context(&text);
        assert_eq!(quoted[0], "3:l3");
        assert_eq!(quoted[5], "8:Error (8)");
        assert_eq!(quoted[6], "...");
        assert_eq!(quoted.last().unwrap(), "18:Error (18)");
        assert!(error_context("all fine\n").is_empty());
    }

    #[test]
    fn the_parent_path_must_be_a_directory_below() {
        let e = check_parent(Path::new("/nonexistent-images"), Path::new("pre")).unwrap_err().to_string();
        assert!(e.starts_with("invalid --parent-path: stat /nonexistent-images/pre: "), "{e}");
    }
}
