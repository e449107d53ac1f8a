//! The parent's side of a launch: it walks the script and, at each
//! exchange, does its part: writes the id maps, adopts the init, places it
//! in its cgroup, runs the runtime's create hooks, passes the pty master and
//! the seccomp notify fd on.

use std::os::fd::{AsFd, OwnedFd};

use nix::unistd::Pid;
use oci_spec::runtime::Hooks;

use super::channel::Transport;
use super::console::{self, ConsoleTarget};
use super::conversation::Conversation;
use super::message::{ChildSays, ParentSays};
use super::script::Exchange;
use super::spawn::Children;
use super::LaunchError;
use crate::cgroups::Cgroup;
use crate::hooks;
use crate::security::seccomp::Listener;

/// What the parent brings to a launch; `create` and `exec` fill it in.
pub struct ParentPart<'a> {
    /// How `linux.uidMappings` and `gidMappings` are written into a new
    /// user namespace.
    pub id_maps: Option<&'a crate::id_maps::IdMapPlan>,
    /// The cgroup the process must be in before it goes on.
    pub cgroup: Option<&'a dyn Cgroup>,
    /// process.oomScoreAdj, written by the parent (see `place`).
    pub oom_score_adj: Option<i32>,
    /// The hooks of which the parent runs prestart and createRuntime.
    pub hooks: Option<&'a Hooks>,
    /// The container's state as hooks and the seccomp listener read it
    /// (status "creating"); the pid is filled in.
    pub state: &'a serde_json::Value,
    pub console: Option<&'a ConsoleTarget>,
    pub listener: Option<&'a Listener>,
    /// Host interfaces to move into the process's network namespace.
    pub net_devices: &'a [crate::netdev::Move],
    /// A rootless `exec`: a cgroup the user may not move the process into
    /// (outside the subtree delegated to it) leaves the process where it
    /// is, as runc's rootless exec leaves it.
    pub placement_may_fail: bool,
}

/// A process that was launched.
pub struct Launched {
    /// Its pid in husk's pid namespace.
    pub pid: Pid,
    /// The pty master, when husk keeps it (a terminal in the foreground).
    pub console: Option<OwnedFd>,
}

/// Does the parent's part of every exchange up to the end of the script,
/// or up to `Committed`, which the caller says with `commit` once it has
/// recorded the container. `first` is the process that was cloned, and
/// `born_in_cgroup` whether it entered its cgroup at birth.
pub fn converse<T: Transport<ParentSays, ChildSays>>(
    conversation: &mut Conversation<T>,
    part: &ParentPart<'_>,
    first: Pid,
    mut born_in_cgroup: bool,
    children: &mut Children,
) -> Result<Launched, LaunchError> {
    let mut launched = Launched { pid: first, console: None };
    while let Some(exchange) = conversation.due() {
        match exchange {
            Exchange::IdMaps => {
                conversation.receive(exchange)?;
                if let Some(plan) = part.id_maps {
                    crate::id_maps::write(plan, first)?;
                }
                conversation.reply(exchange)?;
            }
            Exchange::InitPid => {
                if let (ChildSays::InitPid(pid), _) = conversation.receive(exchange)? {
                    launched.pid = Pid::from_raw(pid);
                    children.push(launched.pid);
                    // The intermediate's work is done; it exits.
                    children.reap(first);
                    // Forked by a process outside the cgroup.
                    born_in_cgroup = false;
                }
            }
            Exchange::Placed => {
                place(part, launched.pid, born_in_cgroup)?;
                conversation.reply(exchange)?;
            }
            Exchange::CreateHooks => {
                conversation.receive(exchange)?;
                let state = with_pid(part.state, launched.pid);
                for kind in hooks::RUNTIME_CREATE {
                    hooks::run(part.hooks, *kind, &state, hooks::Inherited::default())?;
                }
                conversation.reply(exchange)?;
            }
            Exchange::Console => {
                let (_, master) = conversation.receive(exchange)?;
                let (Some(master), Some(target)) = (master, part.console) else {
                    return Err(LaunchError::Unplanned(exchange));
                };
                launched.console = console::pass_on(master, target)?;
                conversation.reply(exchange)?;
            }
            Exchange::SeccompListener => {
                let (_, notify) = conversation.receive(exchange)?;
                let (Some(notify), Some(listener)) = (notify, part.listener) else {
                    return Err(LaunchError::Unplanned(exchange));
                };
                let state = with_pid(part.state, launched.pid);
                listener.send(notify.as_fd(), &state, launched.pid.as_raw())?;
                conversation.reply(exchange)?;
            }
            Exchange::Ready => {
                if let (ChildSays::Ready { timeline }, _) = conversation.receive(exchange)? {
                    for (step, micros) in timeline {
                        crate::logging::debug(&format!("init: {step} at {micros}µs"));
                    }
                }
            }
            Exchange::Committed => break,
            Exchange::Exec => conversation.await_exec()?,
        }
    }
    Ok(launched)
}

/// Lets the init outlive `create`: the container is recorded.
pub fn commit<T: Transport<ParentSays, ChildSays>>(conversation: &mut Conversation<T>) -> Result<(), LaunchError> {
    conversation.reply(Exchange::Committed)
}

/// Puts the process in its cgroup, unless it was born there, and writes
/// its oom_score_adj. Written by the parent (runc writes it before the
/// clone): the process is non-dumpable (CVE-2019-5736), so in a user
/// namespace its /proc files belong to the host's root, not to it; and
/// lowering the score takes CAP_SYS_RESOURCE in the host's user namespace.
fn place(part: &ParentPart<'_>, pid: Pid, born_in_cgroup: bool) -> Result<(), LaunchError> {
    if !born_in_cgroup && let Some(cgroup) = part.cgroup {
        match cgroup.add_process(pid.as_raw()) {
            Err(e) if part.placement_may_fail && e.is_permission() => {
                crate::logging::debug(&format!("the process stays outside the container's cgroup: {e}"));
            }
            other => other?,
        }
    }
    // Once the init's network namespace exists, and before the hooks that
    // may configure the devices further.
    crate::netdev::move_all(part.net_devices, pid)?;
    if let Some(score) = part.oom_score_adj {
        crate::procfs::write(&format!("{pid}/oom_score_adj"), score.to_string().as_bytes()).map_err(LaunchError::OomScoreAdj)?;
    }
    Ok(())
}

fn with_pid(state: &serde_json::Value, pid: Pid) -> serde_json::Value {
    let mut state = state.clone();
    state["pid"] = pid.as_raw().into();
    state
}
