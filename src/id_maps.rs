//! Writing a new user namespace's id maps. The host's root writes them
//! directly. A user may write only a map of its own id (and for gid_map
//! only after denying setgroups, as the kernel requires); anything more
//! goes through the setuid helpers newuidmap and newgidmap (package
//! `uidmap`), which allow the ranges /etc/subuid and /etc/subgid give the
//! user. Which way each map goes, and whether the helper will accept it,
//! is decided before anything is made, so that a mapping the user may not
//! have is a config error naming it, as the helper would refuse it later.

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::Pid;
use oci_spec::runtime::LinuxIdMapping;

use crate::config_error::ConfigError;
use crate::rootless::Caller;

#[derive(Debug, thiserror::Error)]
pub enum IdMapError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Write(#[from] crate::procfs::ProcfsError),
    #[error("run {command}: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("{command}: {message}")]
    Helper { command: String, message: String },
}

/// Which ids, uids or gids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::Uid => "linux.uidMappings",
            Kind::Gid => "linux.gidMappings",
        }
    }

    fn proc_file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }

    fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }

    fn subid_file(self) -> &'static str {
        match self {
            Kind::Uid => "/etc/subuid",
            Kind::Gid => "/etc/subgid",
        }
    }
}

/// One id map and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapWrite {
    pub kind: Kind,
    /// `container host size` triples.
    pub triples: Vec<(u32, u32, u32)>,
    pub by: Writer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// Written to /proc/PID/{uid,gid}_map by husk.
    Direct,
    /// Written by newuidmap/newgidmap, found at this path.
    Helper(PathBuf),
}

/// Both maps of a new user namespace, uid first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapPlan {
    pub maps: [MapWrite; 2],
    /// A user writing gid_map itself: the kernel takes it only once
    /// setgroups is denied, for good, in that namespace.
    pub deny_setgroups: bool,
}

/// The ids a user may map beside its own: a start and a count per line of
/// /etc/subuid or /etc/subgid naming the user (by name or number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubIds {
    pub ranges: Vec<(u64, u64)>,
}

impl SubIds {
    /// Parses /etc/subuid or /etc/subgid for the user `name` or `id`.
    pub fn parse(text: &str, name: Option<&str>, id: u32) -> SubIds {
        let id = id.to_string();
        let ranges = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.trim().split(':');
                let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
                let ours = owner == id || Some(owner) == name;
                ours.then(|| Some((start.parse().ok()?, count.parse().ok()?))).flatten()
            })
            .collect();
        SubIds { ranges }
    }

    fn allows(&self, host: u64, size: u64) -> bool {
        self.ranges.iter().any(|&(start, count)| host >= start && host + size <= start + count)
    }
}

/// What deciding the writers reads of the host, read once.
pub struct Host<'a> {
    pub caller: &'a Caller,
    /// The user's subordinate uids and gids.
    pub subuids: SubIds,
    pub subgids: SubIds,
    /// Where newuidmap and newgidmap are, if installed.
    pub newuidmap: Option<PathBuf>,
    pub newgidmap: Option<PathBuf>,
}

impl Host<'_> {
    pub fn read(caller: &Caller) -> Host<'_> {
        // A root writes the maps itself: nothing to read on its create.
        if caller.euid == 0 {
            return Host { caller, subuids: SubIds::default(), subgids: SubIds::default(), newuidmap: None, newgidmap: None };
        }
        let read = |file| std::fs::read_to_string(file).unwrap_or_default();
        let name = crate::state::user_name(&read("/etc/passwd"), caller.euid);
        Host {
            caller,
            subuids: SubIds::parse(&read(Kind::Uid.subid_file()), name.as_deref(), caller.euid),
            subgids: SubIds::parse(&read(Kind::Gid.subid_file()), name.as_deref(), caller.euid),
            newuidmap: find_in_path(Kind::Uid.helper()),
            newgidmap: find_in_path(Kind::Gid.helper()),
        }
    }
}

/// Decides how each map is written. As the host's root, or as a root in a
/// user namespace (which may map what its own namespace maps), directly.
pub fn plan(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping], host: &Host<'_>) -> Result<IdMapPlan, ConfigError> {
    let triples = |maps: &[LinuxIdMapping]| maps.iter().map(|m| (m.container_id(), m.host_id(), m.size())).collect::<Vec<_>>();
    let privileged = host.caller.euid == 0;
    let one = |kind, maps: &[LinuxIdMapping], own: u32, subids: &SubIds, helper: &Option<PathBuf>| {
        let triples = triples(maps);
        let by = if privileged { Writer::Direct } else { writer(kind, &triples, own, subids, helper.as_deref())? };
        Ok::<_, ConfigError>(MapWrite { kind, triples, by })
    };
    let maps = [
        one(Kind::Uid, uid, host.caller.euid, &host.subuids, &host.newuidmap)?,
        one(Kind::Gid, gid, host.caller.egid, &host.subgids, &host.newgidmap)?,
    ];
    let deny_setgroups = !privileged && maps[1].by == Writer::Direct;
    Ok(IdMapPlan { maps, deny_setgroups })
}

/// A user's own id alone is written directly; anything else needs the
/// helper, and ids the helper allows: the user's own, or subordinate ones.
fn writer(kind: Kind, triples: &[(u32, u32, u32)], own: u32, subids: &SubIds, helper: Option<&Path>) -> Result<Writer, ConfigError> {
    if let [(_, host, 1)] = triples
        && *host == own
    {
        return Ok(Writer::Direct);
    }
    let Some(helper) = helper else {
        return Err(ConfigError::config(
            kind.field(),
            format!("mapping more than the caller's own id takes {}, which is not installed (package uidmap): mapping tool not present", kind.helper()),
        ));
    };
    for (index, &(_, host, size)) in triples.iter().enumerate() {
        let (host, size) = (u64::from(host), u64::from(size));
        let own_id = host == u64::from(own) && size == 1;
        if !own_id && !subids.allows(host, size) {
            return Err(ConfigError::config(
                format!("{}[{index}]", kind.field()),
                format!(
                    "host ids {host}-{} are neither the caller's own ({own}) nor among its subordinate ids in {}",
                    host + size.max(1) - 1,
                    kind.subid_file()
                ),
            ));
        }
    }
    Ok(Writer::Helper(helper.to_path_buf()))
}

/// Parent side, once the process made its user namespace: writes both
/// maps of `pid`'s namespace as planned.
pub fn write(plan: &IdMapPlan, pid: Pid) -> Result<(), IdMapError> {
    for map in &plan.maps {
        match &map.by {
            Writer::Direct => {
                if map.kind == Kind::Gid && plan.deny_setgroups {
                    write_proc(pid, "setgroups", "deny")?;
                }
                let text: String = map.triples.iter().map(|(c, h, s)| format!("{c} {h} {s}\n")).collect();
                write_proc(pid, map.kind.proc_file(), &text)?;
            }
            Writer::Helper(helper) => run_helper(helper, pid, &map.triples)?,
        }
    }
    Ok(())
}

fn write_proc(pid: Pid, name: &str, text: &str) -> Result<(), IdMapError> {
    Ok(crate::procfs::write(&format!("{pid}/{name}"), text.as_bytes())?)
}

fn run_helper(helper: &Path, pid: Pid, triples: &[(u32, u32, u32)]) -> Result<(), IdMapError> {
    let mut args = vec![pid.to_string()];
    for (c, h, s) in triples {
        args.extend([c.to_string(), h.to_string(), s.to_string()]);
    }
    let command = format!("{} {}", helper.display(), args.join(" "));
    let output = Command::new(helper)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| IdMapError::Spawn { command: command.clone(), source })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = stderr.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("; ");
    let message = if message.is_empty() { output.status.to_string() } else { message };
    Err(IdMapError::Helper { command, message })
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Caller {
        Caller { euid: 1001, egid: 1001, in_user_ns: false, xdg_runtime_dir: None, user: None }
    }

    fn mapping(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        oci_spec::runtime::LinuxIdMappingBuilder::default().container_id(c).host_id(h).size(s).build().unwrap()
    }

    fn host<'a>(caller: &'a Caller, tools: bool) -> Host<'a> {
        let subids = SubIds::parse("huskrl:100000:65536\nother:300000:65536\n", Some("huskrl"), 1001);
        let tool = |name: &str| tools.then(|| PathBuf::from(format!("/usr/bin/{name}")));
        Host { caller, subuids: subids.clone(), subgids: subids, newuidmap: tool("newuidmap"), newgidmap: tool("newgidmap") }
    }

    #[test]
    fn the_users_own_id_is_written_directly() {
        let caller = user();
        let plan = plan(&[mapping(0, 1001, 1)], &[mapping(0, 1001, 1)], &host(&caller, false)).unwrap();
        assert!(plan.maps.iter().all(|m| m.by == Writer::Direct));
        assert!(plan.deny_setgroups);
    }

    #[test]
    fn ranges_go_through_the_helpers_when_subordinate() {
        let caller = user();
        let uids = [mapping(0, 1001, 1), mapping(1, 100000, 65536)];
        let plan = plan(&uids, &[mapping(0, 1001, 1)], &host(&caller, true)).unwrap();
        assert_eq!(plan.maps[0].by, Writer::Helper("/usr/bin/newuidmap".into()));
        assert_eq!(plan.maps[1].by, Writer::Direct);
        let gids = [mapping(0, 1001, 1), mapping(1, 100000, 65536)];
        assert!(!super::plan(&uids, &gids, &host(&caller, true)).unwrap().deny_setgroups);
    }

    #[test]
    fn ids_outside_the_users_ranges_are_named() {
        let caller = user();
        let uids = [mapping(0, 1001, 1), mapping(1, 300000, 10)];
        let err = plan(&uids, &[mapping(0, 1001, 1)], &host(&caller, true)).unwrap_err();
        assert_eq!(err.field, "linux.uidMappings[1]");
        assert!(err.problem.contains("300000-300009"), "{}", err.problem);
        // A range that runs past the end of the user's.
        let uids = [mapping(0, 165000, 1000)];
        assert!(plan(&uids, &[mapping(0, 1001, 1)], &host(&caller, true)).is_err());
    }

    #[test]
    fn without_the_helpers_only_the_own_id_maps() {
        let caller = user();
        let gids = [mapping(0, 1001, 1), mapping(1, 100000, 65536)];
        let err = plan(&[mapping(0, 1001, 1)], &gids, &host(&caller, false)).unwrap_err();
        assert_eq!(err.field, "linux.gidMappings");
        assert!(err.problem.contains("newgidmap"), "{}", err.problem);
        // Another user's id alone is no own id either.
        assert!(plan(&[mapping(0, 1002, 1)], &[mapping(0, 1001, 1)], &host(&caller, false)).is_err());
    }

    #[test]
    fn root_writes_whatever_is_asked() {
        let root = Caller { euid: 0, egid: 0, ..user() };
        let plan = plan(&[mapping(0, 300000, 10)], &[mapping(0, 0, 1)], &host(&root, false)).unwrap();
        assert!(plan.maps.iter().all(|m| m.by == Writer::Direct));
        assert!(!plan.deny_setgroups);
    }

    #[test]
    fn subordinate_ids_by_name_or_number() {
        let text = "# comment\nhuskrl:100000:65536\n1001:200000:10\nbad:line\nother:5:5\n";
        assert_eq!(SubIds::parse(text, Some("huskrl"), 1001).ranges, [(100000, 65536), (200000, 10)]);
    }
}
