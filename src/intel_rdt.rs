//! `linux.intelRdt`: the container's CLOS group in the resctrl file system,
//! by the spec's rules (config-linux.md, "IntelRdt"): the group is `closID`
//! (`/` the root, the default CLOS), or one named after the container that
//! husk makes and removes; schemata lines (`l3CacheSchema`, `memBwSchema`,
//! then `schemata`) are written to a group husk makes and compared with an
//! existing one's; a `closID` without schemata must exist; with
//! `enableMonitoring`, a MON group named after the container.
//!
//! Planned from the host's mount table before anything is made (no resctrl
//! mounted is the config's error, as the spec wants); applied by the parent
//! once the init exists, before it runs anything.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxIntelRdt;
use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;
use crate::host::HostFacts;

#[derive(Debug, thiserror::Error)]
pub enum IntelRdtError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("linux.intelRdt: {op} {}: {source}", path.display())]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IntelRdtError {
    let path = path.to_path_buf();
    move |source| IntelRdtError::Io { op, path, source }
}

fn config(field: &str, problem: String) -> IntelRdtError {
    ConfigError::config(format!("linux.intelRdt{field}"), problem).into()
}

/// What create will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdtPlan {
    pub group: PathBuf,
    /// The group does not exist yet: husk makes it and writes `schemata`.
    pub make: bool,
    pub schemata: Vec<String>,
    /// The MON group, with `enableMonitoring`.
    pub monitor: Option<PathBuf>,
    /// Made for this container (no `closID`): removed by delete.
    pub remove_group: bool,
}

/// What delete undoes, kept in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdtState {
    pub group: PathBuf,
    pub remove_group: bool,
    pub monitor: Option<PathBuf>,
}

/// Where resctrl is mounted on this host, if it is.
pub fn resctrl_root(host: &HostFacts) -> Option<&Path> {
    host.mounts.iter().find(|m| m.fs_type == "resctrl").map(|m| m.mount_point.as_path())
}

/// The spec's rules, checked against the resctrl tree at `root`.
pub fn plan(rdt: &LinuxIntelRdt, id: &str, root: Option<&Path>) -> Result<RdtPlan, IntelRdtError> {
    let mut lines = Vec::new();
    for (field, value) in [(".l3CacheSchema", rdt.l3_cache_schema()), (".memBwSchema", rdt.mem_bw_schema())] {
        if let Some(value) = value {
            if value.contains('\n') {
                return Err(config(field, "must not contain a newline".into()));
            }
            if field == ".memBwSchema" && !value.starts_with("MB:") {
                return Err(config(field, format!("\"{value}\" does not start with \"MB:\"")));
            }
            lines.push(value.clone());
        }
    }
    for (i, line) in rdt.schemata().iter().flatten().enumerate() {
        if line.contains('\n') {
            return Err(config(&format!(".schemata[{i}]"), "must not contain a newline".into()));
        }
        lines.push(line.clone());
    }
    let Some(root) = root else {
        return Err(config("", "no resctrl file system is mounted: Intel RDT is not available on this host".into()));
    };
    let (group, named) = match rdt.clos_id().as_deref() {
        None => (root.join(id), false),
        Some("/") => (root.to_path_buf(), true),
        Some(clos) if clos.is_empty() || clos == "." || clos == ".." || clos.contains('/') => {
            return Err(config(".closID", format!("\"{clos}\" is not a group name")));
        }
        Some(clos) => (root.join(clos), true),
    };
    let exists = group.is_dir();
    if named && lines.is_empty() && !exists {
        return Err(config(".closID", format!("no CLOS group {} to join", group.display())));
    }
    if exists && !lines.is_empty() {
        let current = std::fs::read_to_string(group.join("schemata")).map_err(io("read", &group.join("schemata")))?;
        if let Some(line) = lines.iter().find(|line| !schemata_has(&current, line)) {
            return Err(config("", format!("{} has schemata other than \"{line}\"", group.display())));
        }
    }
    let monitor = (*rdt.enable_monitoring() == Some(true)).then(|| group.join("mon_groups").join(id));
    Ok(RdtPlan { make: !exists, remove_group: !named && !exists, group, schemata: lines, monitor })
}

/// Whether the schemata file's text has `line` (`L3:0=ff;1=f0`): the
/// kernel prints every resource in full, with its own spacing and leading
/// zeros, so each domain of the line is compared by value.
fn schemata_has(current: &str, line: &str) -> bool {
    let parse = |l: &str| -> Option<(String, Vec<(String, String)>)> {
        let (resource, domains) = l.split_once(':')?;
        let domains = domains
            .split(';')
            .filter_map(|d| {
                let (id, value) = d.split_once('=')?;
                let value = value.trim().trim_start_matches('0');
                Some((id.trim().to_string(), if value.is_empty() { "0".into() } else { value.to_lowercase() }))
            })
            .collect();
        Some((resource.trim().to_string(), domains))
    };
    let Some((resource, wanted)) = parse(line) else { return false };
    current.lines().filter_map(parse).any(|(r, have)| r == resource && wanted.iter().all(|d| have.contains(d)))
}

/// Puts `pid` in the planned groups, making what the plan makes.
pub fn apply(plan: &RdtPlan, pid: i32) -> Result<RdtState, IntelRdtError> {
    if plan.make {
        std::fs::create_dir(&plan.group).map_err(io("create", &plan.group))?;
        if !plan.schemata.is_empty() {
            let file = plan.group.join("schemata");
            std::fs::write(&file, plan.schemata.join("\n") + "\n").map_err(io("write", &file))?;
        }
    }
    let tasks = plan.group.join("tasks");
    std::fs::write(&tasks, pid.to_string()).map_err(io("write", &tasks))?;
    if let Some(monitor) = &plan.monitor {
        std::fs::create_dir(monitor).map_err(io("create", monitor))?;
        let tasks = monitor.join("tasks");
        std::fs::write(&tasks, pid.to_string()).map_err(io("write", &tasks))?;
    }
    Ok(RdtState { group: plan.group.clone(), remove_group: plan.remove_group, monitor: plan.monitor.clone() })
}

/// What delete (and a failed create) removes: the MON group, and the
/// group husk made for the container. Gone already is fine.
pub fn remove(state: &RdtState) -> Result<(), IntelRdtError> {
    let remove = |dir: &Path| match std::fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", dir)(e)),
        _ => Ok(()),
    };
    if let Some(monitor) = &state.monitor {
        remove(monitor)?;
    }
    if state.remove_group {
        remove(&state.group)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdt(json: serde_json::Value) -> LinuxIntelRdt {
        serde_json::from_value(json).unwrap()
    }

    /// A directory standing in for /sys/fs/resctrl: the plan's rules and the
    /// files written are what a real resctrl tree gets (this host has none).
    fn fake_root(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("husk-resctrl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("shared/mon_groups")).unwrap();
        std::fs::write(root.join("shared/schemata"), "    L3:0=0ff;1=0f0\n    MB:0=100;1= 50\n").unwrap();
        root
    }

    #[test]
    fn without_resctrl_it_is_the_configs_error() {
        let error = plan(&rdt(serde_json::json!({"closID": "x"})), "c1", None).unwrap_err().to_string();
        assert_eq!(error, "config.json: linux.intelRdt: no resctrl file system is mounted: Intel RDT is not available on this host");
        let error = plan(&rdt(serde_json::json!({"memBwSchema": "L3:0=1"})), "c1", None).unwrap_err().to_string();
        assert_eq!(error, "config.json: linux.intelRdt.memBwSchema: \"L3:0=1\" does not start with \"MB:\"");
    }

    #[test]
    fn a_group_of_the_containers_own_is_made_written_and_removed() {
        let root = fake_root("own");
        let config = rdt(serde_json::json!({"l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=50", "schemata": ["L2:0=3"], "enableMonitoring": true}));
        let planned = plan(&config, "c1", Some(&root)).unwrap();
        assert_eq!(planned.group, root.join("c1"));
        assert!(planned.make && planned.remove_group);
        // What a real tree has: the group's own mon_groups directory.
        std::fs::create_dir(root.join("c1")).unwrap();
        std::fs::create_dir(root.join("c1/mon_groups")).unwrap();
        let planned = RdtPlan { make: false, ..planned };
        let state = apply(&planned, 42).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("c1/tasks")).unwrap(), "42");
        assert_eq!(std::fs::read_to_string(root.join("c1/mon_groups/c1/tasks")).unwrap(), "42");
        std::fs::remove_file(root.join("c1/tasks")).unwrap();
        std::fs::remove_file(root.join("c1/mon_groups/c1/tasks")).unwrap();
        // The kernel's own directories go with the group; the stand-in's not.
        remove(&RdtState { remove_group: false, ..state.clone() }).unwrap();
        assert!(!root.join("c1/mon_groups/c1").exists() && root.join("c1").exists());
        std::fs::remove_dir(root.join("c1/mon_groups")).unwrap();
        remove(&state).unwrap();
        assert!(!root.join("c1").exists());
        remove(&state).unwrap();

        // Made by husk: the schemata lines in the spec's order.
        let config = rdt(serde_json::json!({"l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=50", "schemata": ["L2:0=3"]}));
        let state = apply(&plan(&config, "c2", Some(&root)).unwrap(), 43).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("c2/schemata")).unwrap(), "L3:0=f\nMB:0=50\nL2:0=3\n");
        assert_eq!(state, RdtState { group: root.join("c2"), remove_group: true, monitor: None });
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_named_group_is_joined_compared_and_kept() {
        let root = fake_root("named");
        let join = plan(&rdt(serde_json::json!({"closID": "shared"})), "c1", Some(&root)).unwrap();
        assert!(!join.make && !join.remove_group && join.schemata.is_empty());
        let matching = plan(&rdt(serde_json::json!({"closID": "shared", "l3CacheSchema": "L3:0=ff", "memBwSchema": "MB:1=50"})), "c1", Some(&root));
        assert!(matching.is_ok_and(|p| !p.make), "schemata compared by value");
        let other = plan(&rdt(serde_json::json!({"closID": "shared", "l3CacheSchema": "L3:0=f"})), "c1", Some(&root)).unwrap_err().to_string();
        assert!(other.ends_with("has schemata other than \"L3:0=f\""), "{other}");
        let missing = plan(&rdt(serde_json::json!({"closID": "nosuch"})), "c1", Some(&root)).unwrap_err().to_string();
        assert!(missing.starts_with("config.json: linux.intelRdt.closID: no CLOS group"), "{missing}");
        let made = plan(&rdt(serde_json::json!({"closID": "fresh", "schemata": ["L3:0=1"]})), "c1", Some(&root)).unwrap();
        assert!(made.make && !made.remove_group, "a named group is made but never removed");
        let default = plan(&rdt(serde_json::json!({"closID": "/"})), "c1", Some(&root)).unwrap();
        assert_eq!(default.group, root);
        assert!(plan(&rdt(serde_json::json!({"closID": "../x"})), "c1", Some(&root)).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
