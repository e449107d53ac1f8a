//! The error every command returns: one variant per module's error type, plus
//! the lifecycle errors whose wording engines match ("container not running",
//! "does not exist").

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
    Sync(#[from] crate::sync::SyncError),
    #[error(transparent)]
    Signal(#[from] crate::signal::BadSignal),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error(transparent)]
    Exe(#[from] crate::security::exe::ExeError),
    #[error(transparent)]
    Seccomp(#[from] crate::security::seccomp::SeccompError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// The container's init (or an exec'd process) failed at a named step.
    #[error("unable to start container process: {step}: {error}")]
    Init { step: String, error: String },
    /// A lifecycle rule was broken (wrong status, and the like).
    #[error("{0}")]
    Lifecycle(String),
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
