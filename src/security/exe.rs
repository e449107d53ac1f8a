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
//! husk execs itself once through a detached read-only bind mount of the
//! file (open_tree + mount_setattr; no copy, unlike runc's memfd clone).
//! Everything forked afterwards, the init included, then has an executable
//! that cannot be opened for writing. Rootless husk, which may not mount in
//! its own mount namespace, makes the view from a user namespace of its own.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::AtFlags;
use nix::sys::statvfs::{FsFlags, statvfs};

use crate::sys;

#[derive(Debug, thiserror::Error)]
#[error("re-exec husk from a read-only view of its binary: {0}")]
pub struct ExeError(nix::errno::Errno);

/// Returns at once if husk's binary is read-only already; otherwise execs
/// husk again, with the same arguments and environment, from a read-only
/// view (and so returns only on failure). Kernels without open_tree (before
/// 5.2) keep running as they are, with the non-dumpable defence alone.
pub fn ensure_read_only_binary(warn: &mut dyn FnMut(&str)) -> Result<(), ExeError> {
    let read_only = statvfs("/proc/self/exe").is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY));
    if read_only {
        return Ok(());
    }
    let view = match sys::read_only_view(c"/proc/self/exe") {
        Ok(view) => view,
        // Rootless: no privilege over our own mount namespace, so the view
        // is made in a user namespace of its own (cheaper than runc's sealed
        // memfd copy of the binary; see integration/bench).
        Err(nix::errno::Errno::EPERM) => sys::read_only_view_of_exe_unprivileged().map_err(ExeError)?,
        Err(nix::errno::Errno::ENOSYS) => {
            warn("this kernel has no open_tree(2): husk's binary stays writable through /proc/PID/exe to containers with CAP_SYS_PTRACE");
            return Ok(());
        }
        Err(e) => return Err(ExeError(e)),
    };
    let to_c = |bytes: &[u8]| CString::new(bytes).unwrap_or_default();
    let args: Vec<CString> = std::env::args_os().map(|a| to_c(a.as_bytes())).collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| to_c(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
        .collect();
    let err = nix::unistd::execveat(&view, c"", &args, &env, AtFlags::AT_EMPTY_PATH).unwrap_err();
    Err(ExeError(err))
}
