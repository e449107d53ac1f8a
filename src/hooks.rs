//! OCI hooks: programs the config asks to run at six points of the
//! lifecycle, each with the container's state JSON on stdin.
//!
//! Where each kind runs (the callers decide; this module only runs them):
//! - `prestart`, `createRuntime`: by `create`, in the runtime's namespaces,
//!   when the init has made its namespaces and mounts but not pivoted yet;
//! - `createContainer`: by the init, in the container's namespaces, before
//!   pivot_root (so its path still resolves on the host);
//! - `startContainer`: by the init after `start`, inside the container,
//!   before the execve of the container's program;
//! - `poststart`: by `start`, once the program runs;
//! - `poststop`: by `delete`, after the container is gone (a failure there
//!   only warns).
//!
//! Stdin, stdout and stderr of a hook are memfds, not pipes: a hook that
//! leaves a daemon behind holding them cannot hang us, and no file system
//! is needed inside the container. They are all it inherits of husk's fds.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::memfd::{MFdFlags, memfd_create};
use oci_spec::runtime::{Hook, Hooks};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];

    /// The kind's name in config.json.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in `hooks`, in the order they run.
    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            Kind::Prestart => hooks.prestart(),
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// The hooks the runtime runs itself during create, in its own namespaces,
/// in this order, once the init has its mounts.
pub const RUNTIME_CREATE: &[Kind] = &[Kind::Prestart, Kind::CreateRuntime];

/// True if `hooks` has any hook of one of `kinds`.
pub fn any(hooks: Option<&Hooks>, kinds: &[Kind]) -> bool {
    hooks.is_some_and(|h| kinds.iter().any(|k| !k.of(h).is_empty()))
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// runc's wording, which engines show to users.
    #[error("error running {kind} hook #{index}: {reason}, stdout: {stdout}, stderr: {stderr}")]
    Failed {
        kind: &'static str,
        index: usize,
        reason: String,
        stdout: String,
        stderr: String,
    },
    #[error("error running {kind} hook #{index} ({path}): {op}: {source}")]
    Io {
        kind: &'static str,
        index: usize,
        path: String,
        op: &'static str,
        source: std::io::Error,
    },
}

/// What a hook inherits where its config says nothing, as runc runs them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Inherited<'a> {
    /// The environment of a hook without `env`: the container process's
    /// for the hooks the init runs (runc's init has taken it on by then);
    /// None for the runtime's own, which runc's hooks inherit.
    pub env: Option<&'a [String]>,
    /// The working directory: the rootfs for createContainer hooks (runc's
    /// init is there); None for the caller's.
    pub cwd: Option<&'a Path>,
}

/// Runs the hooks of `kind` one after another, each with `state` on stdin;
/// stops at the first that fails.
pub fn run(hooks: Option<&Hooks>, kind: Kind, state: &serde_json::Value, inherited: Inherited<'_>) -> Result<(), HookError> {
    let Some(hooks) = hooks else {
        return Ok(());
    };
    let list = kind.of(hooks);
    if list.is_empty() {
        return Ok(());
    }
    let state = serde_json::to_vec(state).expect("JSON values serialise");
    for (index, hook) in list.iter().enumerate() {
        run_one(hook, &state, inherited).map_err(|failure| failure.into_error(kind, index, hook))?;
    }
    Ok(())
}

/// Runs the poststop hooks. A failure is only a warning, and the rest run
/// as if it had succeeded (the spec's lifecycle, step 13).
pub fn run_poststop(hooks: Option<&Hooks>, state: &serde_json::Value, warn: &mut dyn FnMut(&str)) {
    let Some(hooks) = hooks else {
        return;
    };
    let state = serde_json::to_vec(state).expect("JSON values serialise");
    for (index, hook) in Kind::Poststop.of(hooks).iter().enumerate() {
        if let Err(failure) = run_one(hook, &state, Inherited::default()) {
            warn(&failure.into_error(Kind::Poststop, index, hook).to_string());
        }
    }
}

/// Why one hook failed, before we know which one it was.
enum Failure {
    Io(&'static str, std::io::Error),
    Status { reason: String, stdout: String, stderr: String },
}

impl Failure {
    fn into_error(self, kind: Kind, index: usize, hook: &Hook) -> HookError {
        let kind = kind.name();
        match self {
            Failure::Io(op, source) => HookError::Io {
                kind,
                index,
                path: hook.path().display().to_string(),
                op,
                source,
            },
            Failure::Status { reason, stdout, stderr } => HookError::Failed { kind, index, reason, stdout, stderr },
        }
    }
}

fn run_one(hook: &Hook, state: &[u8], inherited: Inherited<'_>) -> Result<(), Failure> {
    let mut stdin = memfd("hook-stdin")?;
    stdin.write_all(state).map_err(|e| Failure::Io("write state", e))?;
    stdin.seek(SeekFrom::Start(0)).map_err(|e| Failure::Io("write state", e))?;
    let stdout = memfd("hook-stdout")?;
    let stderr = memfd("hook-stderr")?;

    let mut command = Command::new(hook.path());
    // args[0] is the program's argv[0], as for execv; env, when given, is
    // the hook's whole environment, nothing of ours leaks into it.
    if let Some((arg0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        std::os::unix::process::CommandExt::arg0(&mut command, arg0);
        command.args(rest);
    }
    if let Some(env) = hook.env().as_deref().or(inherited.env) {
        command.env_clear().envs(env.iter().filter_map(|pair| pair.split_once('=')));
    }
    if let Some(cwd) = inherited.cwd {
        command.current_dir(cwd);
    }
    crate::sys::inherit_stdio_only(&mut command);
    command
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(clone(&stdout)?))
        .stderr(Stdio::from(clone(&stderr)?));
    let mut child = command.spawn().map_err(|e| Failure::Io("start", e))?;
    let timeout = hook.timeout().map(|seconds| Duration::from_secs(seconds.max(0) as u64));
    let status = wait(&mut child, timeout)?;
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(Failure::Status {
            reason: describe(status),
            stdout: captured(stdout),
            stderr: captured(stderr),
        }),
        None => Err(Failure::Status {
            reason: format!("hook ran past specified timeout of {:.1}s", timeout.unwrap_or_default().as_secs_f64()),
            stdout: captured(stdout),
            stderr: captured(stderr),
        }),
    }
}

/// Waits for the hook; past the timeout it is killed and None returned.
fn wait(child: &mut std::process::Child, timeout: Option<Duration>) -> Result<Option<ExitStatus>, Failure> {
    let Some(timeout) = timeout else {
        return child.wait().map(Some).map_err(|e| Failure::Io("wait", e));
    };
    let deadline = Instant::now() + timeout;
    // Hooks usually take a few milliseconds: poll often at first.
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| Failure::Io("wait", e))? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
            Ok(signal) => format!("signal: {}", signal.as_str()),
            Err(_) => format!("signal: {signal}"),
        },
        _ => status.to_string(),
    }
}

fn memfd(name: &str) -> Result<std::fs::File, Failure> {
    memfd_create(name, MFdFlags::MFD_CLOEXEC)
        .map(std::fs::File::from)
        .map_err(|e| Failure::Io("memfd_create", e.into()))
}

fn clone(file: &std::fs::File) -> Result<OwnedFd, Failure> {
    file.try_clone().map(OwnedFd::from).map_err(|e| Failure::Io("dup", e))
}

/// What the hook wrote, trimmed to a size that fits an error line.
fn captured(mut file: std::fs::File) -> String {
    const LIMIT: u64 = 4096;
    let mut text = String::new();
    if file.seek(SeekFrom::Start(0)).is_ok() {
        let _ = (&mut file).take(LIMIT).read_to_string(&mut text);
    }
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hooks {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn state_reaches_stdin_and_failures_name_the_hook() {
        let hooks = hook(serde_json::json!({
            "poststart": [
                {"path": "/bin/sh", "args": ["sh", "-c", "read s; test \"$s\" = '{\"id\":\"x\"}'"]},
                {"path": "/bin/sh", "args": ["sh", "-c", "echo out; echo err >&2; exit 3"]}
            ]
        }));
        let state = serde_json::json!({"id": "x"});
        let err = run(Some(&hooks), Kind::Poststart, &state, Inherited::default()).unwrap_err().to_string();
        assert_eq!(err, "error running poststart hook #1: exit status 3, stdout: out, stderr: err");
    }

    #[test]
    fn args_and_env_are_exactly_the_hooks() {
        let hooks = hook(serde_json::json!({
            "prestart": [{
                "path": "/bin/sh",
                "args": ["hook-zero", "-c", "test \"$0\" = hook-zero && test \"$A\" = 1 && test -z \"$HOME\""],
                "env": ["A=1"]
            }]
        }));
        // The test runner has HOME set: it must not reach the hook.
        assert!(std::env::var_os("HOME").is_some());
        run(Some(&hooks), Kind::Prestart, &serde_json::json!({}), Inherited::default()).unwrap();
    }

    #[test]
    fn without_env_a_hook_inherits_and_runs_where_told() {
        let hooks = hook(serde_json::json!({
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "test \"$A\" = 2 && test -z \"$HOME\" && test \"$(pwd)\" = /proc"]}],
            "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "test -n \"$HOME\""]}]
        }));
        let env = ["A=2".to_string()];
        let inherited = Inherited { env: Some(&env), cwd: Some(Path::new("/proc")) };
        run(Some(&hooks), Kind::CreateContainer, &serde_json::json!({}), inherited).unwrap();
        // Nothing said: the runtime's own environment, as runc's hooks.
        run(Some(&hooks), Kind::Poststart, &serde_json::json!({}), Inherited::default()).unwrap();
    }

    #[test]
    fn a_hook_gets_stdio_alone() {
        // An fd of ours, not close-on-exec, as an engine may leave one.
        let file = std::fs::File::open("/dev/null").unwrap();
        let fd = nix::unistd::dup(&file).unwrap();
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).unwrap();
        let hooks = hook(serde_json::json!({
            "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; exit 1"]}]
        }));
        let err = run(Some(&hooks), Kind::Poststart, &serde_json::json!({}), Inherited::default()).unwrap_err().to_string();
        // 3 is ls's own listing.
        assert!(err.contains("stdout: 0 1 2 3,"), "{err}");
        drop(fd);
    }

    #[test]
    fn timeout_kills_the_hook() {
        let hooks = hook(serde_json::json!({
            "createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]
        }));
        let started = Instant::now();
        let err = run(Some(&hooks), Kind::CreateRuntime, &serde_json::json!({}), Inherited::default()).unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(err.contains("hook ran past specified timeout of 1.0s"), "{err}");
    }

    #[test]
    fn missing_program_is_an_error_naming_it() {
        let hooks = hook(serde_json::json!({"poststop": [{"path": "/nonexistent/hook"}]}));
        let err = run(Some(&hooks), Kind::Poststop, &serde_json::json!({}), Inherited::default()).unwrap_err().to_string();
        assert!(err.contains("poststop hook #0 (/nonexistent/hook): start"), "{err}");
    }
}
