//! `exec`: a new process in a running container. It joins every namespace
//! of the container's init, its cgroup, and gets the process attributes and
//! the seccomp filter of the container, then execs; husk waits for it unless
//! detached, and exits with its code.

use std::os::fd::AsFd;
use std::path::PathBuf;

use oci_spec::runtime::Process;

use super::parent::{Children, clone_entering, expect_fd, write_pid_file};
use super::{console, proxy, run};
use crate::cgroups;
use crate::error::{Error, Result};
use crate::init::{self, ExecArgs};
use crate::namespaces::NamespacePlan;
use crate::security::{lsm, seccomp};
use crate::spec;
use crate::state::{Status, Store};
use crate::sync::{self, Channel, FromInit, ToInit};
use crate::sys::{self, Forked};

pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
}

/// Runs the process; returns husk's exit code (the process's, in the
/// foreground).
pub fn exec(store: &Store, opts: &ExecOptions) -> Result<i32> {
    let container = store.load(&opts.id)?;
    match store.status(&container) {
        Status::Stopped | Status::Creating => return Err(Error::Lifecycle("cannot exec in a stopped container".into())),
        // Until `start`, the container's pid 1 is husk's own binary (a fork
        // of `create`, waiting to exec). No container process may run beside
        // it: with CAP_SYS_PTRACE one could hold /proc/1/exe and write husk
        // once it execs (CVE-2019-5736).
        Status::Created => {
            return Err(Error::Lifecycle(
                "cannot exec in a created container: start it first (until then its init is husk's own binary)".into(),
            ));
        }
        Status::Paused if !opts.ignore_paused => {
            return Err(Error::Lifecycle("cannot exec in a paused container (use --ignore-paused to override)".into()));
        }
        _ => {}
    }
    let terminal = opts.process.terminal() == Some(true);
    let console_target = console::target(terminal, opts.detach, opts.console_socket.as_deref())?;
    // The bundle's config gives the seccomp profile, as for the init.
    let loaded = spec::load(&container.bundle)?;
    // The process's own AppArmor profile and SELinux label (--apparmor,
    // --process-label, -p) need their LSM, as the config's do.
    lsm::check_process(&opts.process, lsm::host())
        .map_err(|(field, message)| Error::Lifecycle(format!("exec: {field}: {message}")))?;
    let namespaces = NamespacePlan::of_process(container.pid)?;
    if !opts.detach {
        run::take_over_signals()?;
    }
    let (parent_end, child_end) = sync::pair()?;
    // Into the container's cgroup at birth and by itself, as the init (see
    // cgroups::Entry): before it joins the container's mount namespace, the
    // host's cgroup files are still in its view.
    let entry = container.cgroup.as_ref().map(|paths| cgroups::open(paths).entry());
    let guard = namespaces.enter_for_children(&loaded.spec)?;
    let (forked, entered) = match &entry {
        Some(entry) => clone_entering(0, entry)?,
        None => (sys::fork_into(0).map_err(Error::sys("fork exec process"))?, false),
    };
    let pid = match forked {
        Forked::Child => {
            std::mem::forget(guard);
            let _ = nix::unistd::close(parent_end.raw_fd());
            init::exec_main(ExecArgs {
                process: &opts.process,
                namespaces,
                channel: child_end,
                seccomp: loaded.seccomp.as_ref(),
                preserve_fds: opts.preserve_fds,
                cgroup_entry: entry,
            })
        }
        Forked::Parent(pid) => pid,
    };
    drop(guard);
    drop(child_end);
    drop(namespaces);
    let mut children = Children::default();
    children.push(pid);

    if !entered && let Some(paths) = &container.cgroup {
        cgroups::open(paths).add_process(pid.as_raw())?;
    }
    parent_end.send(&ToInit::Placed)?;
    let console = match &console_target {
        Some(target) => console::receive(&parent_end, target)?,
        None => None,
    };
    if let Some(listener) = loaded.seccomp.as_ref().and_then(seccomp::Filter::listener) {
        let notify_fd = expect_fd(&parent_end, "SeccompListener", |m| matches!(m, FromInit::SeccompListener))?;
        seccomp::send_to_listener(listener, notify_fd.as_fd(), &container, pid.as_raw())?;
        parent_end.send(&ToInit::SeccompListenerSent)?;
    }
    wait_for_exec(&parent_end)?;
    if let Some(pid_file) = &opts.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    children.release();
    if opts.detach {
        return Ok(0);
    }
    match console {
        Some(master) => proxy::proxy(pid, master),
        None => run::wait_forwarding(pid),
    }
}

/// The process reports a failed step, or its end of the channel closes
/// when execve succeeds (the socket is close-on-exec).
fn wait_for_exec(channel: &Channel) -> Result<()> {
    match channel.recv::<FromInit>() {
        Err(sync::SyncError::Closed) => Ok(()),
        Ok(FromInit::Failed { step, error }) => Err(Error::Init { step, error }),
        Ok(other) => Err(Error::Sync(sync::SyncError::Unexpected { expected: "exec", got: format!("{other:?}") })),
        Err(e) => Err(e.into()),
    }
}
