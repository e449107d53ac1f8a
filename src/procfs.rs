//! Every write husk makes under /proc goes through here (CVE-2025-52881's
//! class). A path string such as `/proc/sys/net/core/somaxconn` names
//! whatever is mounted there: in the container, a bind mount that a racing
//! container or a hostile image got over a procfs file (or over /proc
//! itself) would turn husk's write into a write of a file of the host —
//! `/proc/sys/kernel/core_pattern` behind `/proc/self/attr/exec`, say.
//!
//! So the write goes through an fd that is checked, not a path:
//! - `/proc` is opened without following a symlink, and must be the root
//!   directory of a procfs (its magic and inode 1), not a directory of the
//!   image nor a bind of some procfs subdirectory;
//! - the file is opened from that fd with openat2 `RESOLVE_BENEATH |
//!   RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS`: no step may cross a mount
//!   point (a bind over the file or any directory on the way is refused
//!   with EXDEV), nor leave the procfs through `..` or a magic link. Plain
//!   procfs symlinks (`self`, `thread-self`) stay within the mount and are
//!   followed;
//! - the opened file is checked to be on procfs again, and written once.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::fstat;
use nix::sys::statfs::{PROC_SUPER_MAGIC, fstatfs};

/// The inode number of a procfs's root directory (PROC_ROOT_INO).
const PROC_ROOT_INO: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ProcfsError {
    #[error("open {path}: {source}")]
    Open { path: String, source: Errno },
    #[error("{path}: {what}; refusing to write through it")]
    NotProcfs { path: String, what: String },
    #[error("write {path}: {source}")]
    Write { path: String, source: Errno },
    #[error("write {path}: {written} of {len} bytes written")]
    Short { path: String, written: usize, len: usize },
}

impl ProcfsError {
    /// The errno behind the failure, where there is one (callers treat a
    /// missing attribute file as "nothing to do").
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ProcfsError::Open { source, .. } | ProcfsError::Write { source, .. } => Some(*source),
            _ => None,
        }
    }
}

/// Writes `value` to `/proc/<relative>` (`relative` as "sys/net/core/x",
/// "self/timens_offsets", "1234/uid_map"), in one write(2): the kernel takes
/// id maps, sysctls and LSM attributes from a single call.
pub fn write(relative: &str, value: &[u8]) -> Result<(), ProcfsError> {
    let path = format!("/proc/{relative}");
    let file = open_for_write(relative, &path)?;
    let written = nix::unistd::write(&file, value).map_err(|source| ProcfsError::Write { path: path.clone(), source })?;
    if written != value.len() {
        return Err(ProcfsError::Short { path, written, len: value.len() });
    }
    Ok(())
}

fn open_for_write(relative: &str, path: &str) -> Result<OwnedFd, ProcfsError> {
    let root = proc_root()?;
    let how = OpenHow::new()
        .flags(OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_XDEV | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let file = openat2(&root, relative.trim_start_matches('/'), how).map_err(|source| match source {
        Errno::EXDEV => ProcfsError::NotProcfs {
            path: path.to_string(),
            what: "it lies behind a mount point (a filesystem mounted over it or a directory on its way) or outside /proc".into(),
        },
        source => ProcfsError::Open { path: path.to_string(), source },
    })?;
    let fs = fstatfs(file.as_fd()).map_err(|source| ProcfsError::Open { path: path.to_string(), source })?;
    if fs.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(ProcfsError::NotProcfs { path: path.to_string(), what: "not on procfs".into() });
    }
    Ok(file)
}

/// `/proc`, checked to be the root of a procfs.
fn proc_root() -> Result<OwnedFd, ProcfsError> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let path = "/proc";
    let root = openat2(nix::fcntl::AT_FDCWD, path, how).map_err(|source| match source {
        Errno::ELOOP => ProcfsError::NotProcfs { path: path.into(), what: "a symbolic link".into() },
        source => ProcfsError::Open { path: path.into(), source },
    })?;
    let fs = fstatfs(root.as_fd()).map_err(|source| ProcfsError::Open { path: path.into(), source })?;
    if fs.filesystem_type() != PROC_SUPER_MAGIC {
        return Err(ProcfsError::NotProcfs { path: path.into(), what: "not a procfs".into() });
    }
    let st = fstat(&root).map_err(|source| ProcfsError::Open { path: path.into(), source })?;
    if st.st_ino != PROC_ROOT_INO {
        return Err(ProcfsError::NotProcfs {
            path: path.into(),
            what: "a directory of a procfs, not its root".into(),
        });
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_proc_is_a_procfs_root() {
        assert!(proc_root().is_ok());
    }

    #[test]
    fn magic_links_are_not_followed() {
        // /proc/self/fd/N leads anywhere: refused, even to a file we own.
        let path = std::env::temp_dir().join(format!("husk-procfs-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let err = write(&format!("self/fd/{fd}"), b"x").unwrap_err();
        drop(file);
        let written = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(err.errno(), Some(Errno::ELOOP), "{err}");
        assert!(written.is_empty());
    }

    #[test]
    fn dotdot_stays_beneath() {
        let err = write("../tmp/husk-procfs-dotdot", b"x").unwrap_err();
        assert!(matches!(err, ProcfsError::NotProcfs { .. }), "{err}");
        assert!(!std::path::Path::new("/tmp/husk-procfs-dotdot").exists());
    }
}
