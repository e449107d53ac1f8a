//! husk's sources, built in as modules (husk is a binary crate, with no
//! library to depend on), and one entry point per fuzz target. Each entry
//! point does what husk does with such input, and must return, whatever the
//! bytes: a panic is a bug.

#![allow(dead_code, unused_imports, clippy::all)]

use std::path::{Path, PathBuf};

#[path = "../../src/activation.rs"]
mod activation;
#[path = "../../src/cgroups/mod.rs"]
mod cgroups;
#[path = "../../src/cli/mod.rs"]
mod cli;
#[path = "../../src/config_error.rs"]
mod config_error;
#[path = "../../src/container/mod.rs"]
mod container;
#[path = "../../src/error.rs"]
mod error;
#[path = "../../src/hooks.rs"]
mod hooks;
#[path = "../../src/host.rs"]
mod host;
#[path = "../../src/id_maps.rs"]
mod id_maps;
#[path = "../../src/init.rs"]
mod init;
#[path = "../../src/intel_rdt.rs"]
mod intel_rdt;
#[path = "../../src/launch/mod.rs"]
mod launch;
#[path = "../../src/logging.rs"]
mod logging;
#[path = "../../src/namespaces.rs"]
mod namespaces;
#[path = "../../src/netdev.rs"]
mod netdev;
#[path = "../../src/netlink.rs"]
mod netlink;
// process.rs has a child module (process/fields.rs), which rustc would look
// for beside process.rs if it were loaded by #[path]: fuzz/src/process/ holds
// symbolic links to both instead.
mod process;
#[path = "../../src/rootfs/mod.rs"]
mod rootfs;
#[path = "../../src/rootless.rs"]
mod rootless;
#[path = "../../src/security/mod.rs"]
mod security;
#[path = "../../src/signal.rs"]
mod signal;
#[path = "../../src/spec/mod.rs"]
mod spec;
#[path = "../../src/state.rs"]
mod state;
#[path = "../../src/sys/mod.rs"]
mod sys;
#[path = "../../src/systemd/mod.rs"]
mod systemd;
#[path = "../../src/terminal.rs"]
mod terminal;

/// config.json, as `create` reads it: parsed, normalised, validated, its
/// seccomp profile compiled (spec::parse does all of it). The bundle is an
/// empty directory with an empty `rootfs` (validation stops at a missing
/// root); parse only reads the host.
pub fn config(data: &[u8]) {
    static BUNDLE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let bundle = BUNDLE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("husk-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).expect("make the fuzz bundle");
        dir
    });
    let _ = spec::parse(data, bundle.join("config.json"), bundle);
}

/// `exec -p process.json`: the steps of cli::exec's ExecArgs::options
/// (which also needs a container), then the conversion of its scheduling,
/// I/O priority and CPU fields that the exec'd process gets.
pub fn process(data: &[u8]) {
    let Ok(mut value) = serde_path_to_error::deserialize::<_, serde_json::Value>(&mut serde_json::Deserializer::from_slice(data))
    else {
        return;
    };
    if let Some(object) = value.as_object_mut() {
        object.entry("user").or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    if process::fields::normalize(&mut value, "").is_err() {
        return;
    }
    let Ok(process) = serde_path_to_error::deserialize::<_, oci_spec::runtime::Process>(value) else {
        return;
    };
    let sources = process::fields::Sources {
        process: &process,
        process_prefix: "",
        personality: None,
        memory_policy: None,
        exec: true,
    };
    let _ = process::fields::convert(&sources, None);
}

/// `linux.seccomp` alone, compiled.
pub fn seccomp(data: &[u8]) {
    let Ok(profile) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else {
        return;
    };
    let _ = security::seccomp::compile(&profile, &mut Vec::new());
}

/// One mount's options: the bytes as a list, one option per line or comma.
pub fn mount_options(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let options: Vec<String> = text.split([',', '\n']).map(str::to_string).collect();
    let _ = rootfs::options::parse(&options);
}

/// state.json and exec.json as the state store reads them (Store::load and
/// load_exec_defaults deserialise the file), then the state `state` prints.
/// The status is not derived: that reads the host's /proc and cgroups.
pub fn state(data: &[u8]) {
    if let Ok(container) = serde_json::from_slice::<state::Container>(data) {
        let _ = state::validate_id(&container.id);
        let _ = serde_json::to_vec(&container.state_view(state::Status::Stopped, 0));
        let _ = serde_json::to_vec(&container);
    }
    let _ = serde_json::from_slice::<state::ExecDefaults>(data);
}
