//! Launching a process into a container: the conversation between husk and
//! the process it clones (the container's init for `create`, a new process
//! for `exec`), in one place.
//!
//! The order of the conversation is a `Script`, decided once from the plan
//! (user namespace, intermediate process, hooks, terminal, seccomp listener,
//! init or exec). The parent walks it in `parent::converse`; the child walks
//! the same script through its `Conversation` (see init.rs), and each side
//! refuses a message that is not the next exchange's. A feature that needs
//! a new step adds one `Exchange`, its place in `Script::new`, and its two
//! parts.

pub mod channel;
pub mod console;
pub mod conversation;
pub mod message;
pub mod parent;
pub mod pidfd;
pub mod script;
pub mod spawn;

use std::path::PathBuf;

use nix::errno::Errno;

pub use conversation::Conversation;
pub use message::{ChildSays, InitFailure};
pub use script::{Exchange, Launching, Route, Script};

/// The child's end of the conversation.
pub type ChildEnd = Conversation<channel::ChildSocket>;
/// The parent's end of the conversation.
pub type ParentEnd = Conversation<channel::ParentSocket>;

/// A connected pair of ends that walk `script`: the parent's, the child's.
pub fn pair(script: &Script) -> Result<(ParentEnd, ChildEnd), LaunchError> {
    let (parent, child) = channel::pair()?;
    Ok((Conversation::new(script.clone(), parent), Conversation::new(script.clone(), child)))
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The process failed at a named step, with the errno behind it.
    #[error(transparent)]
    Init(InitFailure),
    #[error("the container process exited before it was set up (waiting for {waiting_for:?})")]
    ChildExited { waiting_for: Exchange },
    #[error("launch: {} was due, got {got}", due.map(|d| format!("{d:?}")).unwrap_or_else(|| "nothing".into()))]
    OutOfOrder { due: Option<Exchange>, got: String },
    #[error("launch: {0:?} is the parent's to open")]
    NotChildsToOpen(Exchange),
    #[error("launch: {0:?} is the child's to open")]
    NotParentsToOpen(Exchange),
    #[error("launch: a failure report is no step of the script")]
    NotScripted,
    #[error("launch: {exchange:?} {}", if *attached { "carries no fd" } else { "must carry an fd" })]
    Fd { exchange: Exchange, attached: bool },
    /// The script has an exchange the parent was given nothing for.
    #[error("launch: {0:?} was not planned for")]
    Unplanned(Exchange),
    #[error(transparent)]
    Channel(#[from] channel::ChannelError),
    #[error("clone with flags {flags:#x}: {source}")]
    Clone { flags: libc::c_int, source: Errno },
    #[error("become a subreaper: {source}")]
    Subreaper { source: Errno },
    #[error("clone into cgroup {}: {source}", path.display())]
    CgroupDir { path: PathBuf, source: Errno },
    #[error("set oom_score_adj: {0}")]
    OomScoreAdj(crate::procfs::ProcfsError),
    #[error(transparent)]
    Namespace(#[from] crate::namespaces::NamespaceError),
    #[error(transparent)]
    IdMap(#[from] crate::id_maps::IdMapError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error(transparent)]
    NetDevice(#[from] crate::netdev::NetDeviceError),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    #[error(transparent)]
    Seccomp(#[from] crate::security::seccomp::SeccompError),
    #[error(transparent)]
    Console(#[from] console::ConsoleError),
    #[error(transparent)]
    Pidfd(#[from] pidfd::PidfdError),
}
