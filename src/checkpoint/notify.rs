//! CRIU's notifications (`notify_scripts`), as runc's criuNotifications
//! handles them: each is read into an `Event` and handed to the verb's
//! `Handler`; the rest are acknowledged and nothing more.

use std::os::fd::OwnedFd;

use super::rpc::CriuNotify;
use super::{CheckpointError, Result};

/// A notification husk acts on.
#[derive(Debug)]
pub enum Event {
    /// The restored tree's namespaces exist (its init is `pid`): runc runs
    /// the prestart and createRuntime hooks here.
    SetupNamespaces { pid: i32 },
    /// The restored init runs as `pid`.
    PostRestore { pid: i32 },
    /// The restored terminal's master, sent along with the message.
    OrphanPtsMaster(OwnedFd),
    /// The lazy-pages server is ready: `\0` goes to `--status-fd`.
    StatusReady,
    /// CRIU locks and unlocks the network itself; runc's own part is its
    /// configured interfaces, and like husk it has none for an OCI config.
    NetworkLock,
    NetworkUnlock,
    /// Any other script name (pre-dump, post-dump, pre-resume, …).
    Other(String),
}

pub trait Handler {
    fn setup_namespaces(&mut self, pid: i32) -> Result<()>;
    fn post_restore(&mut self, pid: i32) -> Result<()>;
    fn orphan_pts_master(&mut self, master: OwnedFd) -> Result<()>;
    fn status_ready(&mut self) -> Result<()>;
}

/// Reads a notification; the ones that need a pid or an fd must have it.
pub fn event(notify: &CriuNotify, fd: Option<OwnedFd>) -> Result<Event> {
    let script = notify.script.clone().unwrap_or_default();
    let missing = |what: &str| CheckpointError::Notify { script: script.clone(), problem: format!("criu sent no {what}") };
    let pid = || notify.pid.filter(|p| *p > 0).ok_or_else(|| missing("pid"));
    Ok(match script.as_str() {
        "setup-namespaces" => Event::SetupNamespaces { pid: pid()? },
        "post-restore" => Event::PostRestore { pid: pid()? },
        "orphan-pts-master" => Event::OrphanPtsMaster(fd.ok_or_else(|| missing("fd"))?),
        "status-ready" => Event::StatusReady,
        "network-lock" => Event::NetworkLock,
        "network-unlock" => Event::NetworkUnlock,
        _ => Event::Other(script),
    })
}

/// Hands one notification to `handler`.
pub fn dispatch(handler: &mut dyn Handler, notify: &CriuNotify, fd: Option<OwnedFd>) -> Result<()> {
    match event(notify, fd)? {
        Event::SetupNamespaces { pid } => handler.setup_namespaces(pid),
        Event::PostRestore { pid } => handler.post_restore(pid),
        Event::OrphanPtsMaster(master) => handler.orphan_pts_master(master),
        Event::StatusReady => handler.status_ready(),
        Event::NetworkLock | Event::NetworkUnlock => Ok(()),
        Event::Other(script) => {
            crate::logging::debug_with(|| format!("criu notification {script:?}: nothing for husk to do"));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::checkpoint::rpc::CriuResp;

    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
    }

    impl Handler for Recorder {
        fn setup_namespaces(&mut self, pid: i32) -> Result<()> {
            self.calls.push(format!("setup-namespaces {pid}"));
            Ok(())
        }
        fn post_restore(&mut self, pid: i32) -> Result<()> {
            self.calls.push(format!("post-restore {pid}"));
            Ok(())
        }
        fn orphan_pts_master(&mut self, _master: OwnedFd) -> Result<()> {
            self.calls.push("orphan-pts-master".into());
            Ok(())
        }
        fn status_ready(&mut self) -> Result<()> {
            self.calls.push("status-ready".into());
            Ok(())
        }
    }

    /// A NOTIFY answer on the wire, as CRIU encodes it.
    fn recorded(script: &str, pid: Option<u8>) -> CriuNotify {
        let mut notify = vec![0x0a, script.len() as u8];
        notify.extend_from_slice(script.as_bytes());
        if let Some(pid) = pid {
            notify.extend_from_slice(&[0x10, pid]);
        }
        let mut wire = vec![0x08, 0x06, 0x10, 0x01, 0x2a, notify.len() as u8];
        wire.extend_from_slice(&notify);
        CriuResp::decode(wire.as_slice()).unwrap().notify.unwrap()
    }

    #[test]
    fn a_restore_s_notifications_reach_the_handler() {
        let mut recorder = Recorder::default();
        let (master, _peer) = nix::unistd::pipe().unwrap();
        dispatch(&mut recorder, &recorded("network-lock", None), None).unwrap();
        dispatch(&mut recorder, &recorded("setup-namespaces", Some(42)), None).unwrap();
        dispatch(&mut recorder, &recorded("orphan-pts-master", None), Some(master)).unwrap();
        dispatch(&mut recorder, &recorded("post-setup-namespaces", None), None).unwrap();
        dispatch(&mut recorder, &recorded("post-restore", Some(42)), None).unwrap();
        dispatch(&mut recorder, &recorded("network-unlock", None), None).unwrap();
        dispatch(&mut recorder, &recorded("status-ready", None), None).unwrap();
        assert_eq!(recorder.calls, ["setup-namespaces 42", "orphan-pts-master", "post-restore 42", "status-ready"]);
    }

    #[test]
    fn a_notification_without_what_it_needs_is_an_error() {
        let mut recorder = Recorder::default();
        let e = dispatch(&mut recorder, &recorded("orphan-pts-master", None), None).unwrap_err();
        assert_eq!(e.to_string(), "criu notification \"orphan-pts-master\": criu sent no fd");
        let e = dispatch(&mut recorder, &recorded("post-restore", None), None).unwrap_err();
        assert_eq!(e.to_string(), "criu notification \"post-restore\": criu sent no pid");
        assert!(recorder.calls.is_empty());
    }
}
