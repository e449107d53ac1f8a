//! Id-mapped mounts (`idmap`, `ridmap`, `mounts[].uidMappings` and
//! `gidMappings`): what each mount asks for, checked when the config is
//! loaded, and the detached, id-mapped mounts the parent makes before the
//! init is cloned.
//!
//! They are made by the parent, as runc does: mount_setattr(MOUNT_ATTR_IDMAP)
//! needs CAP_SYS_ADMIN over the filesystem's user namespace, which the init,
//! root of the container's user namespace only, lacks. The init inherits
//! the fds and attaches each mount in place of a bind mount (move_mount).
//! The mapping is a user namespace made for it by a short-lived child (or the
//! one the container joins): an idmapped mount only reads the namespace's
//! maps, so one with the container's maps maps as the container's would.
//! A bind mount's source is cloned (open_tree); any other filesystem is
//! made new (idmap/fresh.rs), as crun 1.9 does, where runc refuses it.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use super::RootfsError;
use super::options;
use crate::sys::mount_api;

mod fresh;

/// The most ranges a uid_map or gid_map takes (user_namespaces(7)).
const MAX_RANGES: usize = 340;

/// Filesystems whose instance belongs to the namespaces of the process that
/// mounts it: only the init can make them.
const NAMESPACED: &[&str] = &["proc", "sysfs", "mqueue", "cgroup", "cgroup2"];

/// One range of a mapping: `size` ids from `container` map to `host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl Range {
    fn of(m: &LinuxIdMapping) -> Range {
        Range { container: m.container_id(), host: m.host_id(), size: m.size() }
    }
}

/// Where the mapping of one id-mapped mount comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Maps written into a user namespace made for the mount: its own
    /// uidMappings/gidMappings, or the container's new user namespace's.
    Maps { uid: Vec<Range>, gid: Vec<Range>, field: String },
    /// The user namespace the container joins (linux.namespaces[].path).
    Joined(PathBuf),
}

/// What is id-mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A bind mount's source, cloned.
    Bind,
    /// A filesystem of this type made for the mount (tmpfs, ...), as crun
    /// 1.9 does.
    Fresh(String),
}

/// One id-mapped mount of the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub index: usize,
    pub kind: Kind,
    pub mapping: Mapping,
    /// `rbind`: the submounts are cloned too.
    pub rbind: bool,
    /// `ridmap`: the submounts are id-mapped too.
    pub recursive: bool,
}

pub type Invalid = (String, String);

/// The id-mapped mounts of a config, or the field and problem of the first
/// that cannot be made. Pure: reads only the spec.
pub fn requests(spec: &Spec) -> Result<Vec<Request>, Invalid> {
    let mut found = Vec::new();
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{index}]");
        let opts = options::parse(mount.options().as_deref().unwrap_or_default());
        let (uid, gid) = (mount.uid_mappings().as_ref(), mount.gid_mappings().as_ref());
        if !opts.idmap && uid.is_none() && gid.is_none() {
            continue;
        }
        match (uid, gid) {
            (Some(_), None) => return Err((format!("{field}.uidMappings"), "must be given together with gidMappings".into())),
            (None, Some(_)) => return Err((format!("{field}.gidMappings"), "must be given together with uidMappings".into())),
            _ => {}
        }
        let typ = mount.typ().as_deref().unwrap_or("");
        let kind = if opts.is_bind() || typ == "bind" {
            Kind::Bind
        } else if NAMESPACED.contains(&typ) {
            // Made by the parent, they would be the host's.
            return Err((
                format!("{field}.options"),
                format!("a {typ} mount belongs to the container's namespaces and cannot be id-mapped"),
            ));
        } else {
            Kind::Fresh(typ.to_string())
        };
        let mapping = match (uid, gid) {
            (Some(uid), Some(gid)) => {
                let uid = checked_ranges(&format!("{field}.uidMappings"), uid)?;
                let gid = checked_ranges(&format!("{field}.gidMappings"), gid)?;
                Mapping::Maps { uid, gid, field: format!("{field}.uidMappings") }
            }
            _ => container_mapping(spec).ok_or_else(|| {
                (
                    format!("{field}.options"),
                    "idmap without uidMappings and gidMappings takes the container's user namespace, \
                     and the container has none"
                        .to_string(),
                )
            })?,
        };
        found.push(Request {
            index,
            kind,
            mapping,
            rbind: opts.flags.contains(MsFlags::MS_REC),
            recursive: opts.ridmap,
        });
    }
    Ok(found)
}

/// The container's user namespace, as a mapping: the one it joins, or the
/// maps of the one it creates.
fn container_mapping(spec: &Spec) -> Option<Mapping> {
    let linux = spec.linux().as_ref()?;
    let user = linux.namespaces().iter().flatten().find(|n| n.typ() == LinuxNamespaceType::User)?;
    if let Some(path) = user.path() {
        return Some(Mapping::Joined(path.clone()));
    }
    let ranges = |maps: &Option<Vec<LinuxIdMapping>>| maps.iter().flatten().map(Range::of).collect::<Vec<_>>();
    Some(Mapping::Maps {
        uid: ranges(linux.uid_mappings()),
        gid: ranges(linux.gid_mappings()),
        field: "linux.uidMappings".into(),
    })
}

/// The ranges of one mapping, checked as the kernel checks a uid_map: not
/// empty, no empty range, none that wraps the 32-bit id space, no two that
/// overlap on either side, at most 340.
fn checked_ranges(field: &str, maps: &[LinuxIdMapping]) -> Result<Vec<Range>, Invalid> {
    let ranges: Vec<Range> = maps.iter().map(Range::of).collect();
    if ranges.is_empty() {
        return Err((field.to_string(), "must not be empty".into()));
    }
    if ranges.len() > MAX_RANGES {
        return Err((field.to_string(), format!("has {} ranges; the kernel takes at most {MAX_RANGES}", ranges.len())));
    }
    let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
    for (i, r) in ranges.iter().enumerate() {
        if r.size == 0 {
            return Err((format!("{field}[{i}].size"), "must be greater than zero".into()));
        }
        // The kernel takes no range that wraps in 32 bits: id 4294967295
        // (-1, "no id") is never mapped.
        if end(r.container, r.size) > u64::from(u32::MAX) || end(r.host, r.size) > u64::from(u32::MAX) {
            return Err((format!("{field}[{i}]"), "the range reaches id 4294967295, which cannot be mapped".into()));
        }
        for (j, other) in ranges.iter().enumerate().take(i) {
            let overlap = |a: u32, b: u32| u64::from(a.max(b)) < end(a, r.size).min(end(b, other.size));
            if overlap(r.container, other.container) {
                return Err((format!("{field}[{i}]"), format!("its containerID range overlaps that of {field}[{j}]")));
            }
            if overlap(r.host, other.host) {
                return Err((format!("{field}[{i}]"), format!("its hostID range overlaps that of {field}[{j}]")));
            }
        }
    }
    Ok(ranges)
}

/// The text of a uid_map or gid_map file.
pub fn map_text(ranges: &[Range]) -> String {
    ranges.iter().map(|r| format!("{} {} {}\n", r.container, r.host, r.size)).collect()
}

/// The detached mounts the parent made for a config, by mount index:
/// id-mapped ones, and in a user namespace every bind source, cloned. The
/// init attaches each in place of the bind mount; the fds are close-on-exec.
#[derive(Default)]
pub struct IdmappedMounts {
    trees: Vec<(usize, OwnedFd)>,
}

impl IdmappedMounts {
    pub fn get(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.trees.iter().find(|(i, _)| *i == index).map(|(_, fd)| fd.as_fd())
    }
}

/// Parent side, before the init is cloned: one detached mount per
/// id-mapped entry, cloned from its source (resolved against `bundle`) and
/// id-mapped. Mounts with the same mapping share one user namespace. On
/// error nothing is left: the trees are detached and go with their fds.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<IdmappedMounts, RootfsError> {
    let requests = requests(spec).map_err(|(field, message)| RootfsError::Config { field, message })?;
    let mut namespaces: Vec<(Mapping, OwnedFd)> = Vec::new();
    let mut made = IdmappedMounts::default();
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    for request in requests {
        let field = format!("mounts[{}].options", request.index);
        let userns = match namespaces.iter().position(|(m, _)| *m == request.mapping) {
            Some(i) => i,
            None => {
                namespaces.push((request.mapping.clone(), user_namespace(&request.mapping)?));
                namespaces.len() - 1
            }
        };
        let mount = &mounts[request.index];
        let (tree, source) = match &request.kind {
            Kind::Bind => {
                let source = mount.source().clone().unwrap_or_default();
                let source = if source.is_absolute() { source } else { bundle.join(source) };
                let path = c_string(&format!("mounts[{}].source", request.index), source.as_os_str().as_bytes())?;
                let tree = mount_api::clone_tree(&path, request.rbind).map_err(|e| RootfsError::Config {
                    field: format!("mounts[{}].source", request.index),
                    message: format!("{}: {}", source.display(), e.desc()),
                })?;
                (tree, source)
            }
            Kind::Fresh(typ) => (fresh::make(spec, bundle, request.index, mount, typ)?, PathBuf::from(typ)),
        };
        let what = match &request.kind {
            Kind::Bind => format!("{} is on a filesystem that", source.display()),
            Kind::Fresh(typ) => format!("a {typ} filesystem"),
        };
        mount_api::set_idmap(tree.as_fd(), namespaces[userns].1.as_fd(), request.recursive).map_err(|e| {
            let message = match e {
                // Also the answer for a user namespace without maps, which
                // husk never makes (its maps are checked non-empty).
                Errno::EINVAL => format!(
                    "{what} cannot be id-mapped{} (mount_setattr: EINVAL)",
                    if request.recursive { ", or has a submount on one" } else { "" }
                ),
                e => format!("id-mapping {}: {e}", source.display()),
            };
            RootfsError::Config { field: field.clone(), message }
        })?;
        made.trees.push((request.index, tree));
    }
    clone_bind_sources(spec, bundle, &mut made)?;
    Ok(made)
}

/// In a user namespace (made or joined), the init is root of that
/// namespace only: a bind source only the host's root may reach (under a
/// 0700 directory of root's) is out of its reach. So every bind source is
/// cloned here, by the parent, still the host's root, and the init attaches
/// the clone as it attaches an id-mapped one (runc 1.1 opens them before
/// its init joins the user namespace, for the same reason).
fn clone_bind_sources(spec: &Spec, bundle: &Path, made: &mut IdmappedMounts) -> Result<(), RootfsError> {
    if container_mapping(spec).is_none() {
        return Ok(());
    }
    for (index, mount) in spec.mounts().iter().flatten().enumerate() {
        let opts = options::parse(mount.options().as_deref().unwrap_or_default());
        let bind = opts.is_bind() || mount.typ().as_deref() == Some("bind");
        if !bind || made.get(index).is_some() {
            continue;
        }
        let field = format!("mounts[{index}].source");
        let source = mount.source().clone().unwrap_or_default();
        let source = if source.is_absolute() { source } else { bundle.join(source) };
        let path = c_string(&field, source.as_os_str().as_bytes())?;
        let tree = match mount_api::clone_tree(&path, opts.flags.contains(MsFlags::MS_REC)) {
            Ok(tree) => tree,
            // A rootless husk may not clone mounts at all, and reaches no
            // more than its init does: the init binds them itself.
            Err(nix::errno::Errno::EPERM) => return Ok(()),
            Err(e) => return Err(RootfsError::sys("clone bind source", &source, e)),
        };
        made.trees.push((index, tree));
    }
    Ok(())
}

fn c_string(field: &str, bytes: &[u8]) -> Result<CString, RootfsError> {
    CString::new(bytes).map_err(|_| RootfsError::Config { field: field.to_string(), message: "contains a NUL byte".into() })
}

/// An fd of a user namespace with `mapping`'s maps.
fn user_namespace(mapping: &Mapping) -> Result<OwnedFd, RootfsError> {
    let (uid, gid, field) = match mapping {
        Mapping::Joined(path) => {
            let file = File::open(path).map_err(|e| RootfsError::Host {
                what: format!("open user namespace {}", path.display()),
                message: e.to_string(),
            })?;
            return Ok(file.into());
        }
        Mapping::Maps { uid, gid, field } => (uid, gid, field),
    };
    let (pid, wake) = mount_api::fork_user_namespace()
        .map_err(|e| RootfsError::sys("fork a process in a new user namespace for", Path::new("/proc/self/ns/user"), e))?;
    let opened = (|| {
        for (name, ranges) in [("uid_map", uid), ("gid_map", gid)] {
            crate::procfs::write(&format!("{pid}/{name}"), map_text(ranges).as_bytes()).map_err(|e| RootfsError::Config {
                field: if name == "gid_map" { field.replace("uidMappings", "gidMappings") } else { field.clone() },
                message: format!("the kernel refuses the mapping: {e}"),
            })?;
        }
        let path = format!("/proc/{pid}/ns/user");
        File::open(&path)
            .map(OwnedFd::from)
            .map_err(|e| RootfsError::Host { what: path, message: e.to_string() })
    })();
    // The child reads to EOF and exits; the kill is for a child that is
    // somehow still there.
    drop(wake);
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
    opened
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(mounts: serde_json::Value, linux: serde_json::Value) -> Spec {
        serde_json::from_value(json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "mounts": mounts,
            "linux": linux,
        }))
        .unwrap()
    }

    fn userns(maps: bool) -> serde_json::Value {
        let mut linux = json!({"namespaces": [{"type": "mount"}, {"type": "user"}]});
        if maps {
            linux["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            linux["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        }
        linux
    }

    fn error(mounts: serde_json::Value, linux: serde_json::Value) -> (String, String) {
        requests(&spec(mounts, linux)).unwrap_err()
    }

    #[test]
    fn own_mappings_recursion_and_mounts_without_idmap() {
        let mounts = json!([
            {"destination": "/plain", "source": "/src", "options": ["bind"]},
            {"destination": "/a", "source": "/src", "options": ["rbind", "idmap"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
             "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]},
            {"destination": "/b", "source": "/src", "type": "bind", "options": ["rbind", "ridmap"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
             "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]},
        ]);
        let found = requests(&spec(mounts, json!({"namespaces": [{"type": "mount"}]}))).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].index, found[0].rbind, found[0].recursive), (1, true, false));
        assert_eq!((found[1].index, found[1].rbind, found[1].recursive), (2, true, true));
        let Mapping::Maps { uid, gid, .. } = &found[0].mapping else { panic!("own maps") };
        assert_eq!(uid, &[Range { container: 0, host: 1000, size: 10 }]);
        assert_eq!(gid, &[Range { container: 0, host: 2000, size: 10 }]);
        // Mappings alone, with neither option, still ask for an idmap.
        let mounts = json!([{"destination": "/a", "source": "/src", "options": ["bind"],
            "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}]);
        assert_eq!(requests(&spec(mounts, json!({}))).unwrap().len(), 1);
    }

    #[test]
    fn without_own_mappings_the_container_user_namespace() {
        let mounts = json!([{"destination": "/a", "source": "/src", "options": ["bind", "idmap"]}]);
        let found = requests(&spec(mounts.clone(), userns(true))).unwrap();
        assert_eq!(
            found[0].mapping,
            Mapping::Maps {
                uid: vec![Range { container: 0, host: 100000, size: 65536 }],
                gid: vec![Range { container: 0, host: 200000, size: 65536 }],
                field: "linux.uidMappings".into(),
            }
        );
        let joined = json!({"namespaces": [{"type": "mount"}, {"type": "user", "path": "/proc/7/ns/user"}]});
        assert_eq!(requests(&spec(mounts.clone(), joined)).unwrap()[0].mapping, Mapping::Joined("/proc/7/ns/user".into()));
        let (field, message) = error(mounts, json!({"namespaces": [{"type": "mount"}]}));
        assert_eq!(field, "mounts[0].options");
        assert!(message.contains("the container has none"), "{message}");
    }

    #[test]
    fn refused_shapes() {
        let one = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let (field, _) = error(json!([{"destination": "/a", "source": "/s", "options": ["bind"], "uidMappings": one}]), json!({}));
        assert_eq!(field, "mounts[0].uidMappings");
        let (field, _) = error(json!([{"destination": "/a", "source": "/s", "options": ["bind"], "gidMappings": one}]), json!({}));
        assert_eq!(field, "mounts[0].gidMappings");
        let (field, message) = error(json!([{"destination": "/a", "type": "proc", "source": "proc", "options": ["idmap"]}]), userns(true));
        assert_eq!(field, "mounts[0].options");
        assert!(message.contains("belongs to the container's namespaces"), "{message}");
        let tmpfs = json!([{"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}]);
        assert_eq!(requests(&spec(tmpfs, userns(true))).unwrap()[0].kind, Kind::Fresh("tmpfs".into()));
        let (field, message) = error(
            json!([{"destination": "/a", "source": "/s", "options": ["bind"], "uidMappings": [], "gidMappings": []}]),
            json!({}),
        );
        assert_eq!((field.as_str(), message.as_str()), ("mounts[0].uidMappings", "must not be empty"));
    }

    fn ranges_error(maps: serde_json::Value) -> (String, String) {
        let maps: Vec<LinuxIdMapping> = serde_json::from_value(maps).unwrap();
        checked_ranges("m", &maps).unwrap_err()
    }

    #[test]
    fn malformed_ranges() {
        assert_eq!(ranges_error(json!([{"containerID": 0, "hostID": 1, "size": 0}])).0, "m[0].size");
        let past = ranges_error(json!([{"containerID": 4294967290u32, "hostID": 1, "size": 7}]));
        assert_eq!(past, ("m[0]".into(), "the range reaches id 4294967295, which cannot be mapped".into()));
        assert_eq!(ranges_error(json!([{"containerID": 1, "hostID": 4294967295u32, "size": 1}])).0, "m[0]");
        let both = json!([{"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 9, "hostID": 5000, "size": 1}]);
        assert_eq!(ranges_error(both).1, "its containerID range overlaps that of m[0]");
        let host = json!([{"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 10, "hostID": 1009, "size": 5}]);
        assert_eq!(ranges_error(host).1, "its hostID range overlaps that of m[0]");
        // Adjacent ranges do not overlap; the last id may be mapped.
        let fine: Vec<LinuxIdMapping> = serde_json::from_value(json!([
            {"containerID": 0, "hostID": 1000, "size": 10}, {"containerID": 10, "hostID": 1010, "size": 5},
            {"containerID": 4294967293u32, "hostID": 4294967293u32, "size": 2}
        ]))
        .unwrap();
        assert_eq!(checked_ranges("m", &fine).unwrap().len(), 3);
        let many: Vec<serde_json::Value> = (0..341).map(|i| json!({"containerID": i, "hostID": i, "size": 1})).collect();
        assert!(ranges_error(json!(many)).1.contains("at most 340"));
    }

    #[test]
    fn map_file_text() {
        let text = map_text(&[Range { container: 0, host: 100000, size: 65536 }, Range { container: 65536, host: 5, size: 1 }]);
        assert_eq!(text, "0 100000 65536\n65536 5 1\n");
    }
}
