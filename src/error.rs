//! The error every command returns: one variant per module's error type
//! (the lifecycle errors, whose wording engines match, are
//! `container::LifecycleError`; a config file's are `ConfigError`s).

use std::path::PathBuf;

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    #[error(transparent)]
    Activation(#[from] crate::activation::ActivationError),
    #[error(transparent)]
    Launch(#[from] crate::launch::LaunchError),
    #[error(transparent)]
    Lifecycle(#[from] crate::container::LifecycleError),
    #[error(transparent)]
    Usage(#[from] crate::cli::UsageError),
    #[error(transparent)]
    Signal(#[from] crate::signal::BadSignal),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error(transparent)]
    Exe(#[from] crate::security::exe::ExeError),
    #[error(transparent)]
    Rootless(#[from] crate::rootless::RootlessError),
    #[error(transparent)]
    Seccomp(#[from] crate::security::seccomp::SeccompError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    #[error(transparent)]
    IntelRdt(#[from] crate::intel_rdt::IntelRdtError),
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// Any failure of `exec` before the process runs: runc exits 255 for
    /// those, so that a caller tells them from the process's own codes.
    #[error("exec failed: {0}")]
    ExecFailed(Box<Error>),
    #[error("{op}: {source}")]
    Sys { op: String, source: Errno },
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    /// husk's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::ExecFailed(_) => 255,
            _ => 1,
        }
    }

    pub fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> Error {
        let op = op.into();
        move |source| Error::Sys { op, source }
    }

    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
