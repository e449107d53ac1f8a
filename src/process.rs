//! Attributes of the container process that are not security policy: its
//! user and groups, rlimits, keyring, working directory,
//! environment, and the executable that `execve` will run.

pub mod fields;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{AccessFlags, Gid, Uid, access, setgroups, setresgid, setresuid};
use oci_spec::runtime::{PosixRlimitType, Process};

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{op}: {source}")]
    Sys { op: String, source: Errno },
    #[error("exec: {arg0:?}: executable file not found in $PATH")]
    NotInPath { arg0: String },
    #[error("exec: {arg0:?}: stat {arg0}: {}", go_strerror(*source))]
    NotFound { arg0: String, source: Errno },
    #[error("exec: {arg0:?}: {reason}")]
    NotExecutable { arg0: String, reason: String },
    #[error("process.cwd {cwd:?}: {reason}")]
    Cwd { cwd: String, reason: String },
    #[error("{what}: contains a NUL byte")]
    Nul { what: String },
}

/// An errno worded as Go words it ("no such file or directory"): engines
/// match these exact strings in runc's errors (Docker maps them to 127).
fn go_strerror(errno: Errno) -> String {
    let desc = errno.desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => desc.to_string(),
    }
}

fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> ProcessError {
    let op = op.into();
    move |source| ProcessError::Sys { op, source }
}

fn resource(kind: PosixRlimitType) -> Resource {
    match kind {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

pub fn set_rlimits(process: &Process) -> Result<(), ProcessError> {
    for limit in process.rlimits().iter().flatten() {
        setrlimit(resource(limit.typ()), limit.soft(), limit.hard())
            .map_err(sys(format!("setrlimit {:?}", limit.typ())))?;
    }
    Ok(())
}

/// Becomes the configured user. Supplementary groups are set first, while
/// husk may still do so; a user namespace whose setgroups is denied keeps
/// the ones it inherited. Rootless, the user's own groups are kept unless
/// the config names others, as runc keeps them (it sets none rootless).
pub fn switch_user(process: &Process, rootless_euid: bool) -> Result<(), ProcessError> {
    let user = process.user();
    let groups: Vec<Gid> = user.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    let setgroups_denied = std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny");
    let keep_inherited = rootless_euid && groups.is_empty();
    if !setgroups_denied && !keep_inherited {
        setgroups(&groups).map_err(sys("setgroups"))?;
    }
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    setresgid(gid, gid, gid).map_err(sys(format!("setresgid {gid}")))?;
    setresuid(uid, uid, uid).map_err(sys(format!("setresuid {uid}")))
}

/// The container's environment, with HOME added from the container's
/// /etc/passwd when the config does not set it, as runc does.
pub fn environment(process: &Process) -> Vec<String> {
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(process.user().uid())));
    }
    env
}

fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 5 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_string())
        .unwrap_or_else(|| "/".to_string())
}

/// Finds the program as the container will exec it, so that a missing
/// binary is reported by `create`, where engines expect it ("executable
/// file not found in $PATH" maps to exit code 127).
pub fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf, ProcessError> {
    if arg0.contains('/') {
        check_executable(Path::new(arg0), arg0)?;
        return Ok(PathBuf::from(arg0));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or_default();
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if check_executable(&candidate, arg0).is_ok() {
            return Ok(candidate);
        }
    }
    Err(ProcessError::NotInPath { arg0: arg0.to_string() })
}

fn check_executable(path: &Path, arg0: &str) -> Result<(), ProcessError> {
    let meta = std::fs::metadata(path).map_err(|e| ProcessError::NotFound {
        arg0: arg0.to_string(),
        source: Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)),
    })?;
    if meta.is_dir() {
        return Err(ProcessError::NotExecutable {
            arg0: arg0.to_string(),
            reason: "is a directory".into(),
        });
    }
    access(path, AccessFlags::X_OK).map_err(|e| ProcessError::NotExecutable {
        arg0: arg0.to_string(),
        reason: format!("permission denied ({e})"),
    })
}

/// Changes to process.cwd and checks that it is inside the container: a cwd
/// reached through a leaked host fd (`/proc/self/fd/N`) would give the
/// process a handle on the host's tree (CVE-2024-21626).
pub fn enter_cwd(process: &Process) -> Result<(), ProcessError> {
    enter_cwd_as(process, false).map(drop)
}

/// `enter_cwd` before the switch to process.user, as runc enters it first:
/// root may traverse what the user may not. Ok(false) if that was refused
/// for want of permission (EACCES, EPERM): the process tries again as its
/// user, who may reach what root may not (a volume root_squashed, say).
pub fn enter_cwd_as_root(process: &Process) -> Result<bool, ProcessError> {
    enter_cwd_as(process, true)
}

fn enter_cwd_as(process: &Process, permission_may_fail: bool) -> Result<bool, ProcessError> {
    let cwd = process.cwd();
    let err = |reason: String| ProcessError::Cwd {
        cwd: cwd.display().to_string(),
        reason,
    };
    match nix::unistd::chdir(cwd) {
        Err(Errno::EACCES | Errno::EPERM) if permission_may_fail => return Ok(false),
        other => other.map_err(|e| err(e.to_string()))?,
    }
    match nix::unistd::getcwd() {
        Ok(path) if path.is_absolute() => Ok(true),
        _ => Err(err("resolves outside the container's root".into())),
    }
}

/// Converts strings for execve.
pub fn cstrings(items: &[String], what: &str) -> Result<Vec<CString>, ProcessError> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| ProcessError::Nul { what: what.to_string() }))
        .collect()
}

pub fn cpath(path: &Path) -> Result<CString, ProcessError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| ProcessError::Nul {
        what: "executable path".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        let sh = find_executable("sh", &env).expect("sh on PATH");
        assert!(sh.ends_with("sh"));
        assert!(matches!(
            find_executable("no-such-program-husk", &env),
            Err(ProcessError::NotInPath { .. })
        ));
        assert!(matches!(find_executable("/no/such", &env), Err(ProcessError::NotFound { .. })));
        assert!(matches!(find_executable("/", &env), Err(ProcessError::NotExecutable { .. })));
    }

    #[test]
    fn not_found_message_is_the_one_engines_match() {
        let e = find_executable("nope", &[]).unwrap_err().to_string();
        assert_eq!(e, "exec: \"nope\": executable file not found in $PATH");
    }
}
