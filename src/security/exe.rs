//! Keeping husk's own binary out of reach of containers (CVE-2019-5736).
//!
//! Until it execs the container's program, a container's init (and an
//! `exec`'d process) is husk's binary, inside the container. Being
//! non-dumpable keeps container processes away from its /proc/PID/exe,
//! unless they hold CAP_SYS_PTRACE over it; ETXTBSY stops writes only while
//! some process still executes husk. A process with CAP_SYS_PTRACE that
//! shares the pid namespace can take an O_PATH fd of /proc/PID/exe while it
//! is husk, wait for husk to be gone, and write through it.
//!
//! So `create`, `run` and `exec` first make sure husk runs from a read-only
//! view of its binary: if the binary is not on a read-only mount already,
//! husk makes a detached read-only bind mount of the file (open_tree +
//! mount_setattr; no copy, unlike runc's memfd clone) and, as root, moves
//! onto it in place (sys/exe_view.rs: its mappings and /proc/self/exe
//! become the view's), or else execs itself once through it. Everything
//! forked afterwards, the init included, then has an executable that cannot
//! be opened for writing. Rootless husk, which may not mount in its own
//! mount namespace, makes the view from a user namespace of its own.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::AtFlags;
use nix::sys::statvfs::{FsFlags, statvfs};

use crate::logging;
use crate::rootless::Caller;
use crate::sys;

#[derive(Debug, thiserror::Error)]
#[error("re-exec husk from a read-only view of its binary: {0}")]
pub struct ExeError(nix::errno::Errno);

/// Returns at once if husk's binary is read-only already, or, rootless,
/// beyond the reach of every process the container may have (see
/// `beyond_reach`); otherwise execs husk again, with the same arguments and
/// environment, from a read-only view (and so returns only on failure).
/// Kernels without open_tree (before 5.2) keep running as they are, with
/// the non-dumpable defence alone.
pub fn ensure_read_only_binary(caller: &Caller, warn: &mut dyn FnMut(&str)) -> Result<(), ExeError> {
    if !view_needed(caller) {
        return Ok(());
    }
    let view = match sys::read_only_view(c"/proc/self/exe") {
        Ok(view) => view,
        // Rootless: no privilege over our own mount namespace, so the view
        // is made in a user namespace of its own: 1.5 ms here, against 5 ms
        // for runc's sealed memfd copy (integration/bench/viewcost.c).
        Err(nix::errno::Errno::EPERM) => sys::read_only_view_of_exe_unprivileged().map_err(ExeError)?,
        Err(nix::errno::Errno::ENOSYS) => {
            warn("this kernel has no open_tree(2): husk's binary stays writable through /proc/PID/exe to containers with CAP_SYS_PTRACE");
            return Ok(());
        }
        Err(e) => return Err(ExeError(e)),
    };
    if adopt(&view, caller) {
        logging::debug_with(|| format!("running from a read-only view of husk's binary at {:?}", logging::since_start()));
        return Ok(());
    }
    logging::debug_with(|| format!("re-exec from a read-only view of husk's binary at {:?}", logging::since_start()));
    Err(ExeError(reexec(&view)))
}

/// Moves this process onto the view without an exec (sys::exe_view), where
/// it may: the host's root (the prctls take CAP_SYS_RESOURCE or
/// CAP_SYS_ADMIN in the host's user namespace). Whether /proc/self/exe is
/// now on the read-only view.
fn adopt(view: &std::os::fd::OwnedFd, caller: &Caller) -> bool {
    use std::os::fd::AsFd;
    caller.euid == 0
        && !caller.in_user_ns
        && sys::exe_view::run_from_view(view.as_fd()).is_ok()
        && statvfs("/proc/self/exe").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY))
}

/// The same, first thing in main, before the command line is parsed (done
/// again after a re-exec, the parse costs as much as the rest of the first
/// process's work): for the verbs `cli::puts_husk_in_a_container`
/// recognises. Any failure is left to `ensure_read_only_binary`, which runs
/// again once the log is open and reports it there.
pub fn ensure_read_only_binary_early() {
    let view = || match sys::read_only_view(c"/proc/self/exe") {
        Err(nix::errno::Errno::EPERM) => sys::read_only_view_of_exe_unprivileged(),
        other => other,
    };
    let caller = Caller::read();
    if view_needed(&caller)
        && let Ok(view) = view()
        && !adopt(&view, &caller)
    {
        reexec(&view);
    }
}

/// Whether husk runs from a binary a container process could write.
fn view_needed(caller: &Caller) -> bool {
    let read_only = statvfs("/proc/self/exe").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY));
    if read_only {
        return false;
    }
    if caller.euid != 0 || caller.in_user_ns {
        let owner = nix::sys::stat::stat("/proc/self/exe").ok();
        let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        if let Some(st) = owner
            && beyond_reach(&Binary { uid: st.st_uid, mode: st.st_mode }, caller, &uid_map)
        {
            logging::debug("husk's binary is not writable by any id a rootless container may have: no read-only view needed");
            return false;
        }
    }
    true
}

/// Execs husk from the view with the same arguments and environment;
/// returns only the failure.
fn reexec(view: &std::os::fd::OwnedFd) -> nix::errno::Errno {
    let to_c = |bytes: &[u8]| CString::new(bytes).unwrap_or_default();
    let args: Vec<CString> = std::env::args_os().map(|a| to_c(a.as_bytes())).collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| to_c(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect();
    nix::unistd::execveat(view, c"", &args, &env, AtFlags::AT_EMPTY_PATH).unwrap_err()
}

/// Owner and mode of husk's binary.
struct Binary {
    uid: u32,
    mode: u32,
}

/// Whether no process of a rootless container can ever open the binary for
/// writing, so that the read-only view (1.5 ms per call rootless) buys
/// nothing. A container's processes have only ids husk's own user
/// namespace maps, and they are no host root: they may write a file only as
/// its owner or group (with the owner's or group's write bit), as anyone
/// (the others' bit), or with CAP_DAC_OVERRIDE in a namespace that maps
/// both its owner and group. So the binary is beyond reach when nobody
/// but its owner may write it (POSIX ACLs show in the group bits), and
/// that owner is an id no container has: one husk's user namespace does
/// not map, or, in the host's, root (rootless maps only the user's own id
/// and subordinate ones, never root).
fn beyond_reach(binary: &Binary, caller: &Caller, uid_map: &str) -> bool {
    const GROUP_OR_OTHERS_WRITE: u32 = 0o022;
    if binary.mode & GROUP_OR_OTHERS_WRITE != 0 {
        return false;
    }
    if caller.in_user_ns { !maps(uid_map, binary.uid) } else { binary.uid == 0 && caller.euid != 0 }
}

/// Whether `id`, as a process in this namespace sees it, is mapped (the
/// kernel shows unmapped owners as the overflow id, 65534, which may also
/// be a mapped id).
fn maps(map: &str, id: u32) -> bool {
    map.lines().any(|line| {
        let f: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        f.len() == 3 && u64::from(id) >= f[0] && u64::from(id) < f[0] + f[2]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(euid: u32, in_user_ns: bool) -> Caller {
        Caller { euid, egid: euid, in_user_ns, xdg_runtime_dir: None, user: None }
    }

    const PODMAN_MAP: &str = "         0       1002          1\n         1     265536      65536\n";

    #[test]
    fn a_root_owned_binary_is_beyond_a_users_containers() {
        let binary = Binary { uid: 0, mode: 0o100755 };
        assert!(beyond_reach(&binary, &caller(1002, false), ""));
        // Unless group or others may write it.
        assert!(!beyond_reach(&Binary { mode: 0o100775, ..binary }, &caller(1002, false), ""));
        assert!(!beyond_reach(&Binary { mode: 0o100757, ..binary }, &caller(1002, false), ""));
        // The host's root needs the view: its containers may be root.
        assert!(!beyond_reach(&binary, &caller(0, false), ""));
    }

    #[test]
    fn the_users_own_binary_is_within_reach() {
        let binary = Binary { uid: 1002, mode: 0o100755 };
        assert!(!beyond_reach(&binary, &caller(1002, false), ""));
    }

    #[test]
    fn in_a_user_namespace_an_unmapped_owner_is_beyond_reach() {
        // A namespace mapping the user alone: the host's root owner shows
        // as the overflow id, 65534, which it does not map.
        let host_roots = Binary { uid: 65534, mode: 0o100755 };
        assert!(beyond_reach(&host_roots, &caller(0, true), "0 1002 1\n"));
        // The user's own binary is its root's there.
        assert!(!beyond_reach(&Binary { uid: 0, mode: 0o100755 }, &caller(0, true), "0 1002 1\n"));
        // Rootless podman's namespace maps 65534 too (a subordinate id):
        // an unmapped owner cannot be told from it, so the view is made.
        assert!(!beyond_reach(&host_roots, &caller(0, true), PODMAN_MAP));
    }
}
