//! `husk exec`'s flags, turned into the process to run: either a complete
//! `-p process.json`, or the container's own process with the command line
//! and the flags laid over it, as runc does.

use std::path::PathBuf;

use clap::Args;
use oci_spec::runtime::{Capabilities, Capability, Process};

use super::UsageError;
use crate::config_error::ConfigError;
use crate::container::exec::ExecOptions;
use crate::error::{Error, Result};
use crate::state::Store;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// A process.json with the whole process to run.
    #[arg(short = 'p', long)]
    process: Option<PathBuf>,
    /// Do not wait for the process.
    #[arg(short = 'd', long)]
    detach: bool,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Unix socket to send a pidfd of the process to.
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
    /// Allocate a pseudo-terminal (its master goes to --console-socket, or
    /// husk proxies its own terminal to it).
    #[arg(short = 't', long)]
    tty: bool,
    /// Working directory in the container.
    #[arg(long)]
    cwd: Option<String>,
    /// Set an environment variable (KEY=VALUE); may repeat.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// uid[:gid] to run as.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Additional group ids; may repeat.
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Add a capability (to the bounding, effective and permitted sets).
    #[arg(short = 'c', long = "cap")]
    cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    #[arg(long = "process-label")]
    process_label: Option<String>,
    #[arg(long)]
    apparmor: Option<String>,
    /// Exec even if the container is paused.
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    /// Into a cgroup below the container's: PATH, or CONTROLLER[,...]:PATH
    /// (cgroup v1); may repeat.
    #[arg(long = "cgroup")]
    cgroup: Vec<String>,
    pub id: String,
    /// The command and its arguments (unless -p).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl ExecArgs {
    pub fn options(&self, store: &Store) -> Result<ExecOptions> {
        // That it exists first: the answer engines match.
        store.load(&self.id)?;
        let process = match &self.process {
            Some(path) => {
                let text = std::fs::read(path).map_err(Error::io("read", path))?;
                let mut value: serde_json::Value = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&text))
                    .map_err(|e| UsageError::File(ConfigError::new(path, e.path().to_string(), e.inner().to_string())))?;
                // No `user` is root, as in runc (whose Go struct zero-fills it).
                if let Some(object) = value.as_object_mut() {
                    object.entry("user").or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
                }
                crate::process::fields::normalize(&mut value, "")
                    .map_err(|(field, problem)| UsageError::File(ConfigError::new(path, field, problem)))?;
                serde_path_to_error::deserialize(value)
                    .map_err(|e| UsageError::File(ConfigError::new(path, e.path().to_string(), e.inner().to_string())))?
            }
            None => self.overlay(store)?,
        };
        if process.args().as_ref().is_none_or(|a| a.is_empty()) {
            let error = if self.process.is_some() { UsageError::NoProcessArgs } else { UsageError::NoExecCommand };
            return Err(error.into());
        }
        Ok(ExecOptions {
            id: self.id.clone(),
            process,
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            preserve_fds: self.preserve_fds as i32,
            ignore_paused: self.ignore_paused,
            console_socket: self.console_socket.clone(),
            sub_cgroups: crate::cgroups::sub::parse(&self.cgroup).map_err(crate::cgroups::CgroupError::from)?,
            pidfd_socket: self.pidfd_socket.clone(),
        })
    }

    /// The container's process (as kept at create) with the command line
    /// and flags applied.
    fn overlay(&self, store: &Store) -> Result<Process> {
        let mut process = store.load_exec_defaults(&self.id)?.process;
        process.set_args(Some(self.command.clone()));
        // As runc: -t alone decides; the config's terminal is the init's.
        // (With -p, process.json's own `terminal` decides and -t is ignored.)
        process.set_terminal(Some(self.tty));
        let mut env = process.env().clone().unwrap_or_default();
        for pair in &self.env {
            let key = pair.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(pair.clone());
        }
        process.set_env(Some(env));
        if let Some(cwd) = &self.cwd {
            process.set_cwd(cwd.into());
        }
        let mut user = process.user().clone();
        if let Some(spec) = &self.user {
            let (uid, gid) = spec.split_once(':').unwrap_or((spec, ""));
            let number = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| UsageError::Flag { flag: "user", value: spec.clone(), problem: "expected uid[:gid]".into() })
            };
            user.set_uid(number(uid)?);
            if !gid.is_empty() {
                user.set_gid(number(gid)?);
            }
        }
        if !self.additional_gids.is_empty() {
            let mut gids = user.additional_gids().clone().unwrap_or_default();
            gids.extend(&self.additional_gids);
            user.set_additional_gids(Some(gids));
        }
        process.set_user(user);
        if !self.cap.is_empty() {
            let added: Capabilities = self
                .cap
                .iter()
                .map(|name| {
                    serde_json::from_value::<Capability>(name.as_str().into())
                        .map_err(|_| Error::from(UsageError::Flag { flag: "cap", value: name.clone(), problem: "unknown capability".into() }))
                })
                .collect::<Result<_>>()?;
            let mut caps = process.capabilities().clone().unwrap_or_default();
            let extend = |set: &Option<Capabilities>| Some(set.clone().unwrap_or_default().union(&added).copied().collect::<Capabilities>());
            // Not inheritable or ambient, as in runc: ambient needs inheritable.
            caps.set_bounding(extend(caps.bounding()));
            caps.set_effective(extend(caps.effective()));
            caps.set_permitted(extend(caps.permitted()));
            process.set_capabilities(Some(caps));
        }
        if self.no_new_privs {
            process.set_no_new_privileges(Some(true));
        }
        if let Some(label) = &self.process_label {
            process.set_selinux_label(Some(label.clone()));
        }
        if let Some(profile) = &self.apparmor {
            process.set_apparmor_profile(Some(profile.clone()));
        }
        Ok(process)
    }
}
