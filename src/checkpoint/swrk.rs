//! `criu swrk 3`: CRIU as a child serving one request on fd 3, one end of a
//! SOCK_SEQPACKET socketpair (each protobuf message is one packet), as
//! runc's criuSwrk. Notifications come in between the request and its
//! answer; each is acknowledged after husk acted on it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::errno::Errno;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, send, socketpair};
use prost::Message;

use super::rpc::{CriuFeatures, CriuNotify, CriuReq, CriuReqType, CriuResp};
use super::{CheckpointError, Result};
use crate::sys::child::{self, PrivateBind};

/// runc's buffer: CRIU's answers are small.
const BUFFER: usize = 10 * 4096;

/// What criu's stdio is.
pub enum CriuStdio {
    /// /dev/null (a dump: runc gives criu no stdio).
    Null,
    /// husk's own (a restore: the restored process's pipes are inherited
    /// from criu by their descriptors.json keys).
    Inherit,
}

/// A running `criu swrk`.
pub struct Swrk {
    child: Option<Child>,
    sock: OwnedFd,
    /// Where criu logs, for the errors.
    log: Option<PathBuf>,
}

/// Starts `criu swrk 3` with `extra` as its fds 4, 5, … and, with `bind`,
/// in a mount namespace of its own holding that bind mount.
pub fn spawn(criu: &Path, extra: &[BorrowedFd<'_>], stdio: CriuStdio, bind: Option<PrivateBind>, log: Option<PathBuf>) -> Result<Swrk> {
    let (ours, theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|source| CheckpointError::Swrk { op: "socketpair", source, log: None })?;
    let mut cmd = Command::new(criu);
    cmd.args(["swrk", "3"]);
    let (stdin, stdout, stderr) = match stdio {
        CriuStdio::Null => (Stdio::null(), Stdio::null(), Stdio::null()),
        CriuStdio::Inherit => (Stdio::inherit(), Stdio::inherit(), Stdio::inherit()),
    };
    cmd.stdin(stdin).stdout(stdout).stderr(stderr);
    let mut fds = vec![theirs.as_fd()];
    fds.extend_from_slice(extra);
    child::prepare(&mut cmd, &fds, bind).map_err(|source| CheckpointError::Swrk { op: "prepare", source, log: None })?;
    let spawned = cmd.spawn().map_err(|source| spawn_error(criu, source))?;
    // Only criu holds its end now: if it dies, our reads see EOF.
    drop(theirs);
    crate::logging::debug_with(|| format!("criu swrk started as pid {}", spawned.id()));
    Ok(Swrk { child: Some(spawned), sock: ours, log })
}

/// runc's words (Go's os/exec): a name not found on PATH, or a path that
/// cannot be run.
fn spawn_error(criu: &Path, source: std::io::Error) -> CheckpointError {
    let bare = criu.components().count() == 1 && !criu.to_string_lossy().contains('/');
    if bare && source.kind() == std::io::ErrorKind::NotFound {
        CheckpointError::CriuNotInPath(criu.display().to_string())
    } else {
        CheckpointError::CriuExec { path: criu.to_path_buf(), source }
    }
}

impl Swrk {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    fn fail(&self, op: &'static str) -> impl FnOnce(Errno) -> CheckpointError + '_ {
        move |source| CheckpointError::Swrk { op, source, log: self.log.clone() }
    }

    /// criu is gone: reaped, with its status in the error.
    fn exited(&mut self) -> CheckpointError {
        let status = self.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        CheckpointError::CriuExited { status, log: self.log.clone() }
    }

    fn send(&mut self, req: &CriuReq) -> Result<()> {
        let bytes = req.encode_to_vec();
        loop {
            match send(self.sock.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                Ok(_) => return Ok(()),
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(self.exited()),
                Err(e) => return Err(self.fail("send")(e)),
            }
        }
    }

    /// One answer, with the fd CRIU attached to it (orphan-pts-master).
    fn recv(&mut self) -> Result<(CriuResp, Option<OwnedFd>)> {
        let mut buf = vec![0u8; BUFFER];
        let (n, fd) = match crate::sys::recv_with_fd(self.sock.as_fd(), &mut buf) {
            // criu went away, before or after reading the request.
            Ok((0, _)) | Err(Errno::ECONNRESET) => return Err(self.exited()),
            Ok(received) => received,
            Err(e) => return Err(self.fail("receive")(e)),
        };
        if n == buf.len() {
            return Err(CheckpointError::Swrk { op: "receive (message too long)", source: Errno::EMSGSIZE, log: self.log.clone() });
        }
        Ok((CriuResp::decode(&buf[..n])?, fd))
    }

    /// Sends `req` and returns CRIU's answer of the same type, handing each
    /// notification before it to `on_notify` and acknowledging it.
    pub fn call(&mut self, req: &CriuReq, on_notify: &mut dyn FnMut(&CriuNotify, Option<OwnedFd>) -> Result<()>) -> Result<CriuResp> {
        let expected = req.r#type();
        crate::logging::debug_with(|| format!("criu: {} request", expected.name()));
        self.send(req)?;
        loop {
            let (resp, fd) = self.recv()?;
            let kind = resp.r#type();
            if !resp.success {
                return Err(CheckpointError::CriuFailed {
                    kind: kind.name(),
                    errno: resp.cr_errno.unwrap_or(0),
                    message: resp.cr_errmsg.clone(),
                    log: self.log.clone(),
                });
            }
            if kind == CriuReqType::Notify {
                let notify = resp.notify.clone().unwrap_or_default();
                crate::logging::debug_with(|| format!("criu notifies {:?}", notify.script.as_deref().unwrap_or("")));
                on_notify(&notify, fd)?;
                self.send(&CriuReq { r#type: CriuReqType::Notify as i32, notify_success: Some(true), ..Default::default() })?;
                continue;
            }
            if kind != expected {
                return Err(CheckpointError::UnexpectedResponse { expected: expected.name(), got: kind.name().to_string() });
            }
            return Ok(resp);
        }
    }

    /// Closes our end and reaps criu.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        let _ = nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Write);
        match self.child.take() {
            Some(mut child) => child.wait(),
            None => Err(std::io::Error::other("criu was reaped already")),
        }
    }

    /// Waits for criu after a successful request: it exits 0, except after a
    /// pre-dump, which it ends waiting for a final dump runc never sends.
    pub fn finish(mut self, pre_dump: bool) -> Result<()> {
        let status = self.wait().map_err(|e| CheckpointError::CriuExited { status: e.to_string(), log: self.log.clone() })?;
        if !status.success() && !pre_dump {
            return Err(CheckpointError::CriuExited { status: status.to_string(), log: self.log.clone() });
        }
        Ok(())
    }
}

impl Drop for Swrk {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // A failed conversation: criu must not outlive it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The CRIU version, by a VERSION request: the first thing runc asks.
pub fn version(criu: &Path) -> Result<i32> {
    let mut swrk = spawn(criu, &[], CriuStdio::Null, None, None)?;
    let resp = swrk.call(&CriuReq { r#type: CriuReqType::Version as i32, ..Default::default() }, &mut |n, _| {
        Err(CheckpointError::Notify { script: n.script.clone().unwrap_or_default(), problem: "unexpected during a version request".into() })
    })?;
    swrk.finish(false)?;
    let version = resp.version.ok_or_else(|| CheckpointError::UnexpectedResponse { expected: "VERSION", got: "an answer without a version".into() })?;
    crate::logging::debug_with(|| format!("criu version {}", version.number()));
    Ok(version.number())
}

/// Checks that CRIU has the features asked for (runc's checkCriuFeatures),
/// naming the missing ones as runc does.
pub fn check_features(criu: &Path, wanted: CriuFeatures) -> Result<()> {
    let mut swrk = spawn(criu, &[], CriuStdio::Null, None, None)?;
    let req = CriuReq { r#type: CriuReqType::FeatureCheck as i32, features: Some(wanted.clone()), ..Default::default() };
    let resp = swrk.call(&req, &mut |n, _| {
        Err(CheckpointError::Notify { script: n.script.clone().unwrap_or_default(), problem: "unexpected during a feature check".into() })
    })?;
    swrk.finish(false)?;
    let found = resp.features.unwrap_or_default();
    let mut missing = Vec::new();
    if wanted.mem_track == Some(true) && found.mem_track == Some(false) {
        missing.push("MemTrack");
    }
    if wanted.lazy_pages == Some(true) && found.lazy_pages == Some(false) {
        missing.push("LazyPages");
    }
    if missing.is_empty() { Ok(()) } else { Err(CheckpointError::MissingFeatures(missing)) }
}
