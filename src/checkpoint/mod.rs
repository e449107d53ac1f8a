//! `checkpoint` and `restore`, through CRIU as runc drives it: `criu swrk`
//! on a SOCK_SEQPACKET socketpair, CRIU's protobuf RPC (`rpc.rs`), the
//! options built from the container's config and runc's flags (`opts.rs`),
//! CRIU's notifications answered (`notify.rs`), the dump (`dump.rs`) and
//! the restore, which is `create` with CRIU in the init's place
//! (`restore.rs`, called from container/create.rs).

pub mod dump;
pub mod notify;
pub mod opts;
pub mod restore;
pub mod rpc;
pub mod swrk;

use std::path::PathBuf;

use crate::state::Status;

/// The oldest CRIU runc talks to (its VERSION request came with 3.0).
pub const MIN_CRIU_VERSION: i32 = 30000;
/// What husk writes into an image directory beside CRIU's images: whose
/// they are, checked by `restore`.
pub const IMAGE_OWNER_FILE: &str = "husk-checkpoint.json";
/// runc's record of the container's stdio, read back by `restore`.
pub const DESCRIPTORS_FILE: &str = "descriptors.json";
/// The first image CRIU writes; an image directory without it holds no
/// checkpoint.
pub const INVENTORY_FILE: &str = "inventory.img";

/// A failure of `checkpoint` or `restore`, naming the path, the flag or the
/// state; runc's words where it has them.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("CRIU version check failed: exec: \"{0}\": executable file not found in $PATH")]
    CriuNotInPath(String),
    #[error("CRIU version check failed: fork/exec {}: {source}", path.display())]
    CriuExec { path: PathBuf, source: std::io::Error },
    #[error("CRIU version {found} must be {min} or higher")]
    OldCriu { found: i32, min: i32 },
    #[error("criu is missing features: [{}]", .0.join(" "))]
    MissingFeatures(Vec<&'static str>),
    #[error("criu failed: type {kind} errno {errno}{}{}", .message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default(), log_hint(.log))]
    CriuFailed { kind: &'static str, errno: i32, message: Option<String>, log: Option<PathBuf> },
    #[error("criu {op}: {source}{}", log_hint(.log))]
    Swrk { op: &'static str, source: nix::errno::Errno, log: Option<PathBuf> },
    #[error("criu exited before answering ({status}){}", log_hint(.log))]
    CriuExited { status: String, log: Option<PathBuf> },
    #[error("criu answered {got} to a {expected} request")]
    UnexpectedResponse { expected: &'static str, got: String },
    #[error("criu sent a message husk cannot read: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("criu notification {script:?}: {problem}")]
    Notify { script: String, problem: String },
    #[error("Container cannot be checkpointed in {} state", .0.as_str())]
    CannotCheckpoint(Status),
    #[error("--parent-path must be relative")]
    ParentPathAbsolute,
    #[error("invalid --parent-path: stat {}: {problem}", path.display())]
    ParentPath { path: PathBuf, problem: String },
    #[error("Use --page-server ADDRESS:PORT to specify page server")]
    PageServer,
    #[error("Invalid port number")]
    PageServerPort,
    #[error("Invalid manage-cgroups-mode value")]
    CgroupsMode,
    #[error("namespace {0:?} is not supported")]
    EmptyNs(String),
    #[error("invalid --status-fd argument {fd}: {problem}")]
    StatusFd { fd: i32, problem: &'static str },
    #[error("--image-path {}: {problem}", path.display())]
    ImagePath { path: PathBuf, problem: String },
    #[error("--image-path {} holds no checkpoint (no {INVENTORY_FILE})", .0.display())]
    NoImages(PathBuf),
    #[error("--image-path {} holds the checkpoint of container {found:?}, not of {id:?}", path.display())]
    OtherContainer { path: PathBuf, found: String, id: String },
    #[error("Requested {ns} namespace {} does not exist: {source}", path.display())]
    ExternalNamespace { ns: String, path: PathBuf, source: std::io::Error },
    #[error("Do not know how to handle namespace NEWCGROUP")]
    CgroupNamespacePath,
    #[error("{op} {}: {source}", path.display())]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{op} {}: {source}", path.display())]
    Mount { op: &'static str, path: PathBuf, source: nix::errno::Errno },
    #[error("criu finished the restore without naming the container's process")]
    NoRestoredPid,
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
}

fn log_hint(log: &Option<PathBuf>) -> String {
    log.as_ref().map(|l| format!("; see {}", l.display())).unwrap_or_default()
}

impl CheckpointError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CheckpointError {
        let path = path.into();
        move |source| CheckpointError::Io { op, path, source }
    }
}

pub type Result<T, E = CheckpointError> = std::result::Result<T, E>;

/// The flags `checkpoint` and `restore` share, as runc's.
#[derive(Debug, Clone, Default)]
pub struct CommonOptions {
    /// The criu binary (the global `--criu`; "criu" on PATH).
    pub criu: PathBuf,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<String>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

impl CommonOptions {
    /// Where CRIU writes its log: the work directory, else the images'.
    pub fn log_dir(&self) -> &std::path::Path {
        self.work_path.as_deref().unwrap_or(&self.image_path)
    }
}

/// What husk records in the image directory at checkpoint.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ImageOwner {
    pub id: String,
}

/// The image directory `restore` reads: it must exist, hold CRIU's images,
/// and, where husk made them, be this container's.
pub fn check_image_dir(path: &std::path::Path, id: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(CheckpointError::ImagePath { path: path.to_path_buf(), problem: "not a directory".into() }),
        Err(e) => return Err(CheckpointError::ImagePath { path: path.to_path_buf(), problem: e.to_string() }),
    }
    if !path.join(INVENTORY_FILE).exists() {
        return Err(CheckpointError::NoImages(path.to_path_buf()));
    }
    let owner_path = path.join(IMAGE_OWNER_FILE);
    let owner = match std::fs::read(&owner_path) {
        Ok(bytes) => serde_json::from_slice::<ImageOwner>(&bytes).map_err(|source| CheckpointError::Json { path: owner_path, source })?,
        // Images from runc, or another tool: nothing to check against.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CheckpointError::io("read", owner_path)(e)),
    };
    if owner.id != id {
        return Err(CheckpointError::OtherContainer { path: path.to_path_buf(), found: owner.id, id: id.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_dir_checks() {
        let dir = std::env::temp_dir().join(format!("husk-images-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let missing = check_image_dir(&dir, "a").unwrap_err().to_string();
        assert!(missing.starts_with(&format!("--image-path {}: ", dir.display())), "{missing}");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(check_image_dir(&dir, "a").unwrap_err().to_string(), format!("--image-path {} holds no checkpoint (no inventory.img)", dir.display()));
        std::fs::write(dir.join(INVENTORY_FILE), b"").unwrap();
        check_image_dir(&dir, "a").unwrap();
        std::fs::write(dir.join(IMAGE_OWNER_FILE), br#"{"id":"a"}"#).unwrap();
        check_image_dir(&dir, "a").unwrap();
        assert_eq!(
            check_image_dir(&dir, "b").unwrap_err().to_string(),
            format!("--image-path {} holds the checkpoint of container \"a\", not of \"b\"", dir.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn criu_failures_in_runcs_words_with_the_log() {
        let e = CheckpointError::CriuFailed { kind: "DUMP", errno: 0, message: None, log: Some("/i/dump.log".into()) };
        assert_eq!(e.to_string(), "criu failed: type DUMP errno 0; see /i/dump.log");
    }
}
