//! Loading `config.json`: parse, drop what may be dropped with a warning, and
//! reject what cannot be applied, naming the file and the field.
//!
//! Unknown fields and newer `ociVersion`s are accepted on purpose: engines add
//! fields before runtimes know them, and rejecting them breaks every container.

mod default;
mod validate;

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, Spec};
use serde_json::Value;

use crate::config_error::ConfigError;
use crate::security::seccomp;

pub use default::{OCI_VERSION, default_config};

pub const CONFIG_FILE: &str = "config.json";

/// An error in the bundle's configuration. It always names the file, and the
/// field path (`linux.namespaces[2].type`) when one applies.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(transparent)]
    Field(#[from] ConfigError),
}

/// A loaded, validated configuration and the warnings met on the way.
#[derive(Debug)]
pub struct Loaded {
    pub spec: Spec,
    pub file: PathBuf,
    pub warnings: Vec<String>,
    /// `linux.seccomp`, compiled.
    pub seccomp: Option<seccomp::Filter>,
}

/// Reads and validates `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Loaded, SpecError> {
    let file = bundle.join(CONFIG_FILE);
    let bytes = std::fs::read(&file).map_err(|source| SpecError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&bytes, file, bundle)
}

/// Parses and validates configuration bytes; `file` is only used in messages,
/// `bundle` resolves relative paths such as `root.path`.
pub fn parse(bytes: &[u8], file: PathBuf, bundle: &Path) -> Result<Loaded, SpecError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| SpecError::Syntax {
        file: file.clone(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let mut warnings = drop_unknown_capabilities(&mut value);
    drop_pids_without_limit(&mut value);
    if let Some(process) = value.get_mut("process") {
        crate::process::fields::normalize(process, "process.")
            .map_err(|(field, problem)| ConfigError::new(&file, field, problem))?;
    }
    let spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let problem = friendly_serde_message(&field, &e.inner().to_string());
        ConfigError::new(&file, field, problem)
    })?;
    let field_error = |field: String, problem: String| SpecError::Field(ConfigError::new(&file, field, problem));
    validate::validate(&spec, bundle, &mut warnings)
        .map_err(|(field, message)| field_error(field, message))?;
    // Compiled once, here: its errors then fail `create` before anything is
    // made, its warnings (unknown call names) reach the user, and the init
    // only has to load it.
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let started = std::time::Instant::now();
    let seccomp = profile
        .map(|p| seccomp::compile(p, &mut warnings))
        .transpose()
        .map_err(|e| field_error(e.field, e.message))?;
    if seccomp.is_some() {
        crate::logging::debug(&format!("seccomp profile compiled in {:?}", started.elapsed()));
    }
    Ok(Loaded {
        spec,
        file,
        warnings,
        seccomp,
    })
}

/// The rootfs directory of a bundle: `root.path`, relative to the bundle.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> PathBuf {
    let root = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
    if root.is_absolute() {
        root
    } else {
        bundle.join(root)
    }
}

/// Removes a `linux.resources.pids` that has no `limit`: the spec makes the
/// limit optional and 0 a real limit (no new task), while oci-spec reads an
/// absent limit as 0.
fn drop_pids_without_limit(config: &mut Value) {
    if let Some(resources) = config.pointer_mut("/linux/resources").and_then(Value::as_object_mut)
        && resources.get("pids").is_some_and(|p| p.get("limit").is_none_or(Value::is_null))
    {
        resources.remove("pids");
    }
}

/// Removes capability names this build does not know, one warning each, so
/// that a profile written for a newer kernel still runs.
fn drop_unknown_capabilities(config: &mut Value) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(sets) = config
        .pointer_mut("/process/capabilities")
        .and_then(Value::as_object_mut)
    else {
        return warnings;
    };
    for (set, names) in sets.iter_mut() {
        let Some(names) = names.as_array_mut() else {
            continue;
        };
        let mut index = 0;
        names.retain(|name| {
            let known = serde_json::from_value::<Capability>(name.clone()).is_ok();
            if !known {
                warnings.push(format!(
                    "process.capabilities.{set}[{index}]: unknown capability {name}, ignored"
                ));
            }
            index += 1;
            known
        });
    }
    warnings
}

/// serde_json appends " at line X column Y" to messages; we print it ourselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_string(),
        None => message.to_string(),
    }
}

/// Turns serde's wording into the words a user of the spec expects.
fn friendly_serde_message(field: &str, message: &str) -> String {
    let unknown = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split('`').next());
    match unknown {
        Some(value) if field.starts_with("linux.namespaces[") => {
            format!("unknown namespace {value:?}")
        }
        Some(value) => format!("unknown value {value:?}"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests;
