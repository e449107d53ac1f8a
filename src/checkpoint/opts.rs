//! The parts of CRIU's options that come from the container's config and
//! runc's flags, as runc builds them (criu_linux.go, checkpoint.go): pure
//! functions, unit-tested here.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

use super::rpc::{CgroupRoot, CriuCgMode, CriuPageServerInfo, ExtMountMap, InheritFd};
use super::{CheckpointError, Result};
use crate::cgroups::CgroupPaths;

/// runc's default when no `org.criu.config` annotation names another.
const RUNC_CRIU_CONFIG: &str = "/etc/criu/runc.conf";
const CONFIG_ANNOTATION: &str = "org.criu.config";

/// `--manage-cgroups-mode`, unset meaning CRIU's default (soft).
pub fn cgroups_mode(value: Option<&str>) -> Result<CriuCgMode> {
    Ok(match value.unwrap_or("") {
        "" => CriuCgMode::Default,
        "soft" => CriuCgMode::Soft,
        "full" => CriuCgMode::Full,
        "strict" => CriuCgMode::Strict,
        "ignore" => CriuCgMode::Ignore,
        _ => return Err(CheckpointError::CgroupsMode),
    })
}

/// `--empty-ns`: runc always leaves the network namespace's contents to
/// whoever set it up (it manages no interfaces), and accepts only
/// "network" besides.
pub fn empty_ns_mask(names: &[String]) -> Result<u32> {
    let mut mask = libc::CLONE_NEWNET as u32;
    for name in names {
        match name.as_str() {
            "network" => mask |= libc::CLONE_NEWNET as u32,
            other => return Err(CheckpointError::EmptyNs(other.to_string())),
        }
    }
    Ok(mask)
}

/// `--page-server ADDRESS:PORT` (Go's SplitHostPort: `[v6]:port` too).
pub fn page_server(value: &str) -> Result<CriuPageServerInfo> {
    let (address, port) = match value.strip_prefix('[') {
        Some(rest) => rest.split_once("]:").ok_or(CheckpointError::PageServer)?,
        None => match value.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, port),
            _ => return Err(CheckpointError::PageServer),
        },
    };
    if address.is_empty() || port.is_empty() {
        return Err(CheckpointError::PageServer);
    }
    let port: i32 = port.parse().map_err(|_| CheckpointError::PageServerPort)?;
    Ok(CriuPageServerInfo { address: Some(address.to_string()), port: Some(port), ..Default::default() })
}

/// CRIU's configuration file: the `org.criu.config` annotation's (none if
/// it is empty), else runc's.
pub fn config_file(annotations: &HashMap<String, String>) -> Option<String> {
    match annotations.get(CONFIG_ANNOTATION) {
        Some(file) if file.is_empty() => None,
        Some(file) => Some(file.clone()),
        None => Some(RUNC_CRIU_CONFIG.to_string()),
    }
}

/// The cgroup CRIU freezes the container with: v1's freezer hierarchy, or
/// the cgroup2 directory (cgroup.freeze).
pub fn freeze_cgroup(paths: &CgroupPaths) -> Option<String> {
    match paths {
        CgroupPaths::V2(dir) => Some(dir.display().to_string()),
        CgroupPaths::V1(dirs) => dirs.get("freezer").map(|d| d.display().to_string()),
    }
}

/// The cgroup roots of a restore, from /proc/CRIU/cgroup once criu is in
/// the container's cgroup: one per controller, as runc's ParseCgroupFile
/// reads it (the cgroup2 line is controller "").
pub fn cgroup_roots(proc_cgroup: &str) -> Vec<CgroupRoot> {
    let mut roots = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        for controller in controllers.split(',') {
            roots.push(CgroupRoot { ctrl: Some(controller.to_string()), path: path.to_string() });
        }
    }
    roots
}

/// The name runc gives a namespace kind (configs.NsName).
pub fn ns_name(kind: LinuxNamespaceType) -> &'static str {
    match kind {
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Time => "time",
    }
}

/// The key an external namespace is dumped and restored under:
/// `extRootNetNS`, `extRootPidNS`.
pub fn ns_key(kind: LinuxNamespaceType) -> String {
    let name = ns_name(kind);
    let mut title = name[..1].to_uppercase();
    title.push_str(&name[1..]);
    format!("extRoot{title}NS")
}

/// `--external net[INODE]:extRootNetNS`: a namespace the container joined
/// by path is not CRIU's to dump; restore hands it back by that key.
pub fn ns_external(kind: LinuxNamespaceType, inode: u64) -> String {
    format!("{}[{inode}]:{}", ns_name(kind), ns_key(kind))
}

/// The container's stdio as descriptors.json records them (what
/// /proc/PID/fd/N links to); restore maps its pipes to husk's own stdio.
pub fn inherit_fds(descriptors: &[String]) -> Vec<InheritFd> {
    descriptors
        .iter()
        .enumerate()
        .filter(|(_, d)| d.contains("pipe:"))
        .map(|(i, d)| InheritFd { key: d.clone(), fd: i as i32 })
        .collect()
}

/// A mount destination as CRIU names it: absolute and lexically clean.
pub fn clean_destination(dest: &Path) -> String {
    let mut clean = PathBuf::from("/");
    for part in dest.components() {
        match part {
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    clean.display().to_string()
}

fn is_bind(mount: &Mount) -> bool {
    mount.typ().as_deref() == Some("bind")
        || mount.options().as_deref().unwrap_or_default().iter().any(|o| o == "bind" || o == "rbind")
}

fn mounts(spec: &Spec) -> &[Mount] {
    spec.mounts().as_deref().unwrap_or_default()
}

/// The config's bind mounts, as (destination, source), a relative source
/// taken from the bundle as at create.
fn binds(spec: &Spec, bundle: &Path) -> Vec<(String, String)> {
    mounts(spec)
        .iter()
        .filter(|m| is_bind(m))
        .map(|m| {
            let source = m.source().as_deref().unwrap_or(Path::new(""));
            (clean_destination(m.destination()), bundle.join(source).display().to_string())
        })
        .collect()
}

fn device_paths(spec: &Spec) -> Vec<String> {
    let configured = spec.linux().as_ref().and_then(|l| l.devices().as_deref()).unwrap_or_default();
    crate::rootfs::device_list(configured).into_iter().map(|d| d.path.display().to_string()).collect()
}

fn map(key: impl Into<String>, val: impl Into<String>) -> ExtMountMap {
    ExtMountMap { key: key.into(), val: val.into() }
}

/// What a dump declares external: bind mounts and the v1 cgroup binds
/// (each by its destination), the masked files (bound from /dev/null) and
/// the devices, which are binds in a user namespace. /dev/console needs
/// none: it is bound from the container's own devpts.
pub fn dump_ext_mounts(spec: &Spec, bundle: &Path, cgroup_binds: &[(PathBuf, PathBuf)], masked_files: &[String]) -> Vec<ExtMountMap> {
    let mut list: Vec<ExtMountMap> = binds(spec, bundle).into_iter().map(|(dest, _)| map(dest.clone(), dest)).collect();
    list.extend(cgroup_binds.iter().map(|(dest, _)| {
        let dest = clean_destination(dest);
        map(dest.clone(), dest)
    }));
    list.extend(masked_files.iter().map(|path| map(path.clone(), "/dev/null")));
    list.extend(device_paths(spec).into_iter().map(|path| map(path.clone(), path)));
    list
}

/// What a restore maps the external mounts to: the bind sources, the
/// container's new cgroup directories, /dev/null for masked files and the
/// host's devices.
pub fn restore_ext_mounts(spec: &Spec, bundle: &Path, cgroup_binds: &[(PathBuf, PathBuf)]) -> Vec<ExtMountMap> {
    let mut list: Vec<ExtMountMap> = binds(spec, bundle).into_iter().map(|(dest, source)| map(dest, source)).collect();
    list.extend(cgroup_binds.iter().map(|(dest, source)| map(clean_destination(dest), source.display().to_string())));
    let masked = spec.linux().as_ref().and_then(|l| l.masked_paths().as_deref()).is_some_and(|m| !m.is_empty());
    if masked {
        list.push(map("/dev/null", "/dev/null"));
    }
    list.extend(device_paths(spec).into_iter().map(|path| map(path.clone(), path)));
    list
}

/// The mounts whose targets a restore makes in the rootfs, as runc's
/// prepareCriuRestoreMounts: all but those inside a tmpfs (CRIU restores
/// its content) and the cgroup entries (they appear with their parent).
pub fn restore_targets(spec: &Spec) -> Vec<&Mount> {
    let tmpfs: Vec<String> = mounts(spec)
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| clean_destination(m.destination()))
        .collect();
    mounts(spec)
        .iter()
        .filter(|m| !matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")))
        .filter(|m| {
            let dest = clean_destination(m.destination());
            !tmpfs.iter().any(|t| dest.starts_with(&format!("{}/", t.trim_end_matches('/'))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: serde_json::Value) -> Spec {
        serde_json::from_value(value).unwrap()
    }

    fn example() -> Spec {
        spec(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm"},
                {"destination": "/data/", "source": "/srv/data", "options": ["rbind", "ro"]},
                {"destination": "/etc/hosts", "type": "bind", "source": "hosts"},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}
            ],
            "linux": {
                "maskedPaths": ["/proc/kcore", "/proc/acpi"],
                "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
            }
        }))
    }

    #[test]
    fn dump_declares_binds_cgroups_masks_and_devices() {
        let cgroups = [(PathBuf::from("/sys/fs/cgroup/memory"), PathBuf::from("/sys/fs/cgroup/memory/c1"))];
        let list = dump_ext_mounts(&example(), Path::new("/b"), &cgroups, &["/proc/kcore".to_string()]);
        let pairs: Vec<(&str, &str)> = list.iter().map(|m| (m.key.as_str(), m.val.as_str())).collect();
        assert_eq!(&pairs[..4], [
            ("/data", "/data"),
            ("/etc/hosts", "/etc/hosts"),
            ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory"),
            ("/proc/kcore", "/dev/null"),
        ]);
        assert!(pairs.contains(&("/dev/null", "/dev/null")) && pairs.contains(&("/dev/fuse", "/dev/fuse")), "{pairs:?}");
    }

    #[test]
    fn restore_maps_them_to_their_sources() {
        let cgroups = [(PathBuf::from("/sys/fs/cgroup/memory"), PathBuf::from("/sys/fs/cgroup/memory/c2"))];
        let list = restore_ext_mounts(&example(), Path::new("/b"), &cgroups);
        let pairs: Vec<(&str, &str)> = list.iter().map(|m| (m.key.as_str(), m.val.as_str())).collect();
        assert_eq!(&pairs[..4], [
            ("/data", "/srv/data"),
            ("/etc/hosts", "/b/hosts"),
            ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/c2"),
            ("/dev/null", "/dev/null"),
        ]);
    }

    #[test]
    fn restore_targets_skip_tmpfs_contents_and_cgroups() {
        let spec = example();
        let targets: Vec<String> = restore_targets(&spec).iter().map(|m| m.destination().display().to_string()).collect();
        assert_eq!(targets, ["/proc", "/dev", "/data/", "/etc/hosts"]);
    }

    #[test]
    fn runcs_flag_values() {
        assert_eq!(cgroups_mode(None).unwrap(), CriuCgMode::Default);
        assert_eq!(cgroups_mode(Some("strict")).unwrap(), CriuCgMode::Strict);
        assert_eq!(cgroups_mode(Some("hard")).unwrap_err().to_string(), "Invalid manage-cgroups-mode value");
        let net = libc::CLONE_NEWNET as u32;
        assert_eq!(empty_ns_mask(&[]).unwrap(), net);
        assert_eq!(empty_ns_mask(&["network".into()]).unwrap(), net);
        assert_eq!(empty_ns_mask(&["pid".into()]).unwrap_err().to_string(), "namespace \"pid\" is not supported");
        let ps = page_server("10.0.0.1:27").unwrap();
        assert_eq!((ps.address.as_deref(), ps.port), (Some("10.0.0.1"), Some(27)));
        assert_eq!(page_server("[::1]:9").unwrap().address.as_deref(), Some("::1"));
        assert_eq!(page_server("host").unwrap_err().to_string(), "Use --page-server ADDRESS:PORT to specify page server");
        assert_eq!(page_server(":9").unwrap_err().to_string(), "Use --page-server ADDRESS:PORT to specify page server");
        assert_eq!(page_server("h:x").unwrap_err().to_string(), "Invalid port number");
    }

    #[test]
    fn the_criu_config_file() {
        let mut annotations = HashMap::new();
        assert_eq!(config_file(&annotations).as_deref(), Some("/etc/criu/runc.conf"));
        annotations.insert(CONFIG_ANNOTATION.to_string(), String::new());
        assert_eq!(config_file(&annotations), None);
        annotations.insert(CONFIG_ANNOTATION.to_string(), "/etc/c.conf".into());
        assert_eq!(config_file(&annotations).as_deref(), Some("/etc/c.conf"));
    }

    #[test]
    fn cgroup_roots_per_controller() {
        let text = "12:cpu,cpuacct:/c1\n1:name=systemd:/c1\n0::/c1\n";
        let roots: Vec<(String, String)> = cgroup_roots(text).into_iter().map(|r| (r.ctrl.unwrap(), r.path)).collect();
        let expected = [("cpu", "/c1"), ("cpuacct", "/c1"), ("name=systemd", "/c1"), ("", "/c1")];
        assert_eq!(roots, expected.map(|(c, p)| (c.to_string(), p.to_string())));
    }

    #[test]
    fn namespaces_descriptors_and_paths() {
        assert_eq!(ns_external(LinuxNamespaceType::Network, 4026531992), "net[4026531992]:extRootNetNS");
        assert_eq!(ns_key(LinuxNamespaceType::Pid), "extRootPidNS");
        let fds = inherit_fds(&["/dev/null".into(), "pipe:[77]".into(), "pipe:[78]".into()]);
        let got: Vec<(&str, i32)> = fds.iter().map(|f| (f.key.as_str(), f.fd)).collect();
        assert_eq!(got, [("pipe:[77]", 1), ("pipe:[78]", 2)]);
        assert_eq!(clean_destination(Path::new("data/./x/../y/")), "/data/y");
        let v1 = CgroupPaths::V1([("freezer".to_string(), PathBuf::from("/sys/fs/cgroup/freezer/c"))].into());
        assert_eq!(freeze_cgroup(&v1).as_deref(), Some("/sys/fs/cgroup/freezer/c"));
    }
}
