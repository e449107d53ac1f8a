//! Checks of a parsed spec that serde's types cannot express. Each failure is
//! a `(field path, message)` pair; `spec::parse` adds the file name.

use std::collections::HashSet;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::process::fields;
use crate::rootfs::options;
use crate::security::lsm;

pub type Invalid = (String, String);

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    (field.into(), message.into())
}

pub fn validate(spec: &Spec, bundle: &Path, warnings: &mut Vec<String>) -> Result<(), Invalid> {
    process(spec)?;
    root(spec, bundle)?;
    let namespaces = namespaces(spec)?;
    uts_and_time(spec, &namespaces)?;
    mounts(spec, warnings)?;
    linux_paths(spec)?;
    sysctl(spec, &namespaces)?;
    net_devices(spec, &namespaces)?;
    hooks(spec)?;
    // AppArmor and SELinux labels need the host to run that LSM: checked
    // here, in the parent, so `create` fails before anything is made.
    lsm::check(spec, lsm::host)?;
    tuning(spec, warnings)
}

/// Scheduler, I/O priority, CPU affinity, personality and memory policy:
/// their form here; the CPUs and nodes they name against the host's at
/// `create` (container::create), before anything is made.
fn tuning(spec: &Spec, warnings: &mut Vec<String>) -> Result<(), Invalid> {
    let linux = spec.linux().as_ref();
    let personality = linux.and_then(|l| l.personality().as_ref());
    if personality.and_then(|p| p.flags().as_ref()).is_some_and(|f| !f.is_empty()) {
        // The spec defines no flag; runc ignores them with a warning.
        warnings.push("linux.personality.flags: no personality flag is supported; ignored".into());
    }
    let sources = fields::Sources {
        process: spec.process().as_ref().expect("checked above"),
        process_prefix: "process.",
        personality,
        memory_policy: linux.and_then(|l| l.memory_policy().as_ref()),
        exec: false,
    };
    fields::convert(&sources, None).map(drop)
}

fn absolute(field: String, path: &str) -> Result<(), Invalid> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(invalid(field, format!("{path:?} is not an absolute path")))
    }
}

fn process(spec: &Spec) -> Result<(), Invalid> {
    let Some(process) = spec.process() else {
        return Err(invalid("process", "is required"));
    };
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(invalid("process.args", "must name the program to run"));
    }
    absolute("process.cwd".into(), &process.cwd().to_string_lossy())?;
    for (i, env) in process.env().iter().flatten().enumerate() {
        if !env.contains('=') {
            return Err(invalid(format!("process.env[{i}]"), format!("{env:?} is not KEY=VALUE")));
        }
    }
    let mut seen = HashSet::new();
    for (i, rlimit) in process.rlimits().iter().flatten().enumerate() {
        let field = format!("process.rlimits[{i}]");
        if !seen.insert(format!("{:?}", rlimit.typ())) {
            return Err(invalid(field, format!("duplicate rlimit {:?}", rlimit.typ())));
        }
        if rlimit.soft() > rlimit.hard() {
            return Err(invalid(field, "soft limit is above the hard limit"));
        }
    }
    Ok(())
}

fn root(spec: &Spec, bundle: &Path) -> Result<(), Invalid> {
    let Some(root) = spec.root() else {
        return Err(invalid("root", "is required"));
    };
    if root.path().as_os_str().is_empty() {
        return Err(invalid("root.path", "must not be empty"));
    }
    let rootfs = super::rootfs_path(spec, bundle);
    match std::fs::metadata(&rootfs) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(invalid("root.path", format!("{} is not a directory", rootfs.display()))),
        Err(e) => Err(invalid("root.path", format!("rootfs {}: {e}", rootfs.display()))),
    }
}

/// What the namespace list asks for: the types that are new or joined.
pub struct NamespaceSet {
    present: HashSet<LinuxNamespaceType>,
    new: HashSet<LinuxNamespaceType>,
}

impl NamespaceSet {
    fn has(&self, t: LinuxNamespaceType) -> bool {
        self.present.contains(&t)
    }
    fn is_new(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }
}

fn namespaces(spec: &Spec) -> Result<NamespaceSet, Invalid> {
    let mut set = NamespaceSet {
        present: HashSet::new(),
        new: HashSet::new(),
    };
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    for (i, ns) in list.iter().enumerate() {
        let field = format!("linux.namespaces[{i}]");
        if !set.present.insert(ns.typ()) {
            return Err(invalid(
                format!("{field}.type"),
                format!("duplicate namespace {:?}", crate::namespaces::spec_name(ns.typ())),
            ));
        }
        match ns.path() {
            Some(path) => absolute(format!("{field}.path"), &path.to_string_lossy())?,
            None => {
                set.new.insert(ns.typ());
            }
        }
    }
    if !set.has(LinuxNamespaceType::Mount) {
        return Err(invalid(
            "linux.namespaces",
            "a mount namespace is required: husk never changes the host's mounts",
        ));
    }
    let linux = spec.linux().as_ref();
    let has_maps = linux.is_some_and(|l| {
        l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
    });
    if set.is_new(LinuxNamespaceType::User) {
        let uid = linux.and_then(|l| l.uid_mappings().as_ref()).is_some_and(|m| !m.is_empty());
        let gid = linux.and_then(|l| l.gid_mappings().as_ref()).is_some_and(|m| !m.is_empty());
        if !uid {
            return Err(invalid("linux.uidMappings", "a new user namespace needs uid mappings"));
        }
        if !gid {
            return Err(invalid("linux.gidMappings", "a new user namespace needs gid mappings"));
        }
    } else if has_maps {
        return Err(invalid(
            "linux.uidMappings",
            "id mappings are only valid with a new user namespace",
        ));
    }
    Ok(set)
}

fn uts_and_time(spec: &Spec, ns: &NamespaceSet) -> Result<(), Invalid> {
    let uts = ns.is_new(LinuxNamespaceType::Uts);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(invalid("hostname", "setting the hostname needs a new uts namespace"));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(invalid("domainname", "setting the domainname needs a new uts namespace"));
    }
    let offsets = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref());
    if let Some(offsets) = offsets.filter(|o| !o.is_empty()) {
        if !ns.is_new(LinuxNamespaceType::Time) {
            return Err(invalid("linux.timeOffsets", "time offsets need a new time namespace"));
        }
        for clock in offsets.keys() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(invalid(
                    format!("linux.timeOffsets.{clock}"),
                    "only \"monotonic\" and \"boottime\" clocks have offsets",
                ));
            }
        }
    }
    Ok(())
}

fn mounts(spec: &Spec, warnings: &mut Vec<String>) -> Result<(), Invalid> {
    // Mappings, and the user namespace an idmap without them takes.
    crate::rootfs::idmap::requests(spec)?;
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{i}]");
        let destination = mount.destination().to_string_lossy();
        if destination.is_empty() {
            return Err(invalid(format!("{field}.destination"), "must not be empty"));
        }
        if !destination.starts_with('/') {
            warnings.push(format!(
                "{field}.destination: {destination:?} is relative (deprecated); taken as relative to /"
            ));
        }
        let opts = options::parse(mount.options().as_deref().unwrap_or_default());
        let typ = mount.typ().as_deref().unwrap_or("");
        // runc ignores it elsewhere; husk refuses what it would not apply.
        if opts.tmpcopyup && (typ != "tmpfs" || opts.is_bind()) {
            return Err(invalid(format!("{field}.options"), "tmpcopyup applies to tmpfs mounts only"));
        }
        let bind = opts.is_bind() || typ == "bind";
        if bind && mount.source().is_none() {
            return Err(invalid(format!("{field}.source"), "a bind mount needs a source"));
        }
        if !bind && typ.is_empty() {
            return Err(invalid(format!("{field}.type"), "is required unless the mount is a bind mount"));
        }
    }
    Ok(())
}

fn linux_paths(spec: &Spec) -> Result<(), Invalid> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    // maskedPaths and readonlyPaths may be relative: runc 1.1 and 1.4 take
    // them from the container's root (its init is in `/` by then), and so
    // does husk (rootfs::finalize).
    for (i, device) in linux.devices().iter().flatten().enumerate() {
        absolute(format!("linux.devices[{i}].path"), &device.path().to_string_lossy())?;
    }
    if let Some(propagation) = linux.rootfs_propagation().as_deref().filter(|p| !p.is_empty())
        && options::propagation_flag(propagation).is_none()
    {
        return Err(invalid(
            "linux.rootfsPropagation",
            format!("unknown propagation {propagation:?}"),
        ));
    }
    Ok(())
}

/// `linux.netDevices`: names the kernel takes, and a network namespace of
/// the container's to move them into.
fn net_devices(spec: &Spec, ns: &NamespaceSet) -> Result<(), Invalid> {
    let Some(devices) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else { return Ok(()) };
    crate::netdev::validate(devices, ns.has(LinuxNamespaceType::Network)).map_err(|(field, problem)| invalid(field, problem))
}

/// Only sysctls that belong to a namespace of the container may be set, as in
/// runc: anything else would change the host.
fn sysctl(spec: &Spec, ns: &NamespaceSet) -> Result<(), Invalid> {
    let sysctls = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
    for key in sysctls.into_iter().flat_map(|s| s.keys()) {
        let field = format!("linux.sysctl.{key}");
        let ipc = matches!(key.as_str(), "kernel.msgmax" | "kernel.msgmnb" | "kernel.msgmni"
            | "kernel.sem" | "kernel.shmall" | "kernel.shmmax" | "kernel.shmmni"
            | "kernel.shm_rmid_forced")
            || key.starts_with("fs.mqueue.");
        let needs = if ipc {
            LinuxNamespaceType::Ipc
        } else if key.starts_with("net.") {
            LinuxNamespaceType::Network
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            LinuxNamespaceType::Uts
        } else if key.starts_with("user.") {
            // The ucount limits (user.max_*) are per user namespace (runc 1.5).
            LinuxNamespaceType::User
        } else {
            return Err(invalid(field, "is not namespaced: setting it would change the host"));
        };
        if !ns.has(needs) {
            return Err(invalid(
                field,
                format!("needs a private {} namespace", crate::namespaces::spec_name(needs)),
            ));
        }
    }
    Ok(())
}

/// Hook paths are absolute (the spec extends execv so), timeouts positive.
fn hooks(spec: &Spec) -> Result<(), Invalid> {
    let Some(hooks) = spec.hooks() else {
        return Ok(());
    };
    for kind in crate::hooks::Kind::ALL {
        for (i, hook) in kind.of(hooks).iter().enumerate() {
            let field = format!("hooks.{}[{i}]", kind.name());
            absolute(format!("{field}.path"), &hook.path().to_string_lossy())?;
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(invalid(format!("{field}.timeout"), "must be greater than zero"));
            }
            for (j, env) in hook.env().iter().flatten().enumerate() {
                if !env.contains('=') {
                    return Err(invalid(format!("{field}.env[{j}]"), format!("{env:?} is not KEY=VALUE")));
                }
            }
        }
    }
    Ok(())
}
