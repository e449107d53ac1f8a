//! Linux security modules: the AppArmor profile (`process.apparmorProfile`)
//! and the SELinux labels (`process.selinuxLabel`, `linux.mountLabel`),
//! applied as runc applies them.
//!
//! Whether the host has each LSM is probed by the parent when the config is
//! validated, so that a label the host cannot apply fails `create` before
//! anything is made. It is never silently dropped (runc ignores SELinux
//! labels on a host without SELinux; husk refuses them). The probes take a
//! root directory, so tests can point them at a fake /sys and /proc.
//!
//! The init then only writes: the key label before it makes its session
//! keyring, the exec attribute that the container's execve takes on, and
//! `context="…"` in the data of the filesystems it mounts.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use nix::errno::Errno;
use oci_spec::runtime::{Process, Spec};

/// A field of the config that cannot be applied here, and why.
pub type Invalid = (String, String);

/// Which LSMs the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLsms {
    pub apparmor: bool,
    pub selinux: bool,
}

impl HostLsms {
    /// Probes the host whose `/` is `root`.
    pub fn probe(root: &Path) -> Self {
        HostLsms {
            apparmor: apparmor_enabled(root),
            selinux: selinux_enabled(root),
        }
    }
}

/// This host's LSMs, probed once.
pub fn host() -> HostLsms {
    static HOST: OnceLock<HostLsms> = OnceLock::new();
    *HOST.get_or_init(|| HostLsms::probe(Path::new("/")))
}

/// runc's `apparmor.IsEnabled`: securityfs has an `apparmor` directory and
/// the module reports itself enabled ("Y").
pub fn apparmor_enabled(root: &Path) -> bool {
    root.join("sys/kernel/security/apparmor").is_dir()
        && std::fs::read(root.join("sys/module/apparmor/parameters/enabled")).is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// SELinux is on when selinuxfs is mounted (at /sys/fs/selinux, or wherever
/// the mount table says) and has its `enforce` file.
pub fn selinux_enabled(root: &Path) -> bool {
    let Ok(mountinfo) = std::fs::read_to_string(root.join("proc/self/mountinfo")) else {
        return false;
    };
    selinuxfs_mount_point(&mountinfo).is_some_and(|point| {
        let relative = point.trim_start_matches('/');
        root.join(relative).join("enforce").is_file()
    })
}

/// The mount point of the first selinuxfs in a mountinfo table.
fn selinuxfs_mount_point(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "selinuxfs" {
            return None;
        }
        // Spaces in paths are escaped as \040 in mountinfo.
        Some(before.split_whitespace().nth(4)?.replace("\\040", " "))
    })
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Checks the process's labels against the host: each one asked for needs
/// its LSM. Empty strings mean unset.
///
/// `host` is asked only when a label is set: probing reads securityfs and
/// the mount table, which a config without labels (the common case, on
/// every create and exec) does not need.
pub fn check_process(process: &Process, host: impl Fn() -> HostLsms) -> Result<(), Invalid> {
    if let Some(profile) = set(process.apparmor_profile()) {
        if !host().apparmor {
            return Err((
                "process.apparmorProfile".into(),
                format!("AppArmor profile {profile:?} requested, but AppArmor is not enabled on this host"),
            ));
        }
        no_nul("process.apparmorProfile", profile)?;
    }
    if let Some(label) = set(process.selinux_label()) {
        if !host().selinux {
            return Err((
                "process.selinuxLabel".into(),
                format!("SELinux label {label:?} requested, but SELinux is not enabled on this host"),
            ));
        }
        no_nul("process.selinuxLabel", label)?;
    }
    Ok(())
}

/// Checks every label of the config against the host.
pub fn check(spec: &Spec, host: impl Fn() -> HostLsms + Copy) -> Result<(), Invalid> {
    if let Some(process) = spec.process() {
        check_process(process, host)?;
    }
    let mount_label = spec.linux().as_ref().and_then(|l| set(l.mount_label()));
    if let Some(label) = mount_label {
        if !host().selinux {
            return Err((
                "linux.mountLabel".into(),
                format!("SELinux mount label {label:?} requested, but SELinux is not enabled on this host"),
            ));
        }
        no_nul("linux.mountLabel", label)?;
        if label.contains('"') {
            return Err(("linux.mountLabel".into(), format!("{label:?} cannot be quoted in mount options")));
        }
    }
    Ok(())
}

fn no_nul(field: &str, value: &str) -> Result<(), Invalid> {
    if value.contains('\0') {
        return Err((field.into(), "contains a NUL byte".into()));
    }
    Ok(())
}

/// The mount label of the config, if any.
pub fn mount_label(spec: &Spec) -> Option<&str> {
    spec.linux().as_ref().and_then(|l| set(l.mount_label()))
}

/// Mount data with the SELinux context added, as go-selinux's
/// `label.FormatMountLabel` writes it: `context="LABEL"`, quoted because
/// MCS labels hold commas (`s0:c1,c2`).
pub fn format_mount_label(data: &str, label: Option<&str>) -> String {
    match label {
        None => data.to_string(),
        Some(label) if data.is_empty() => format!("context=\"{label}\""),
        Some(label) => format!("{data},context=\"{label}\""),
    }
}

/// Whether a fresh mount of this type takes the mount label in its data.
/// As in runc: not proc and sysfs (their labels come from policy), and not
/// mqueue, which is labelled after the mount (see `set_file_label`).
pub fn takes_context_option(fs_type: &str) -> bool {
    !matches!(fs_type, "proc" | "sysfs" | "mqueue" | "cgroup" | "cgroup2")
}

#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    #[error("{what}: {source}")]
    Sys { what: String, source: Errno },
    #[error("set the {attr} attribute to {value:?}: {source}")]
    Attr {
        attr: String,
        value: String,
        source: crate::procfs::ProcfsError,
    },
}

fn lsm_error(what: impl Into<String>) -> impl FnOnce(Errno) -> LsmError {
    let what = what.into();
    move |source| LsmError::Sys { what, source }
}

/// Writes one of the calling thread's LSM attributes under
/// /proc/thread-self/attr (the same as /proc/self/attr in the single-threaded
/// init; runc writes the thread's too), through procfs.rs: a container
/// whose /proc is a plain directory of the image must not turn the write
/// into a no-op (CVE-2019-16884), nor a bind mount over the attribute turn
/// it into a write of another file (CVE-2025-52881).
fn write_attr(attr: &str, value: &str) -> Result<(), LsmError> {
    // (An empty value is still written: it clears the attribute.)
    crate::procfs::write(&format!("thread-self/attr/{attr}"), value.as_bytes()).map_err(|source| LsmError::Attr {
        attr: attr.to_string(),
        value: value.to_string(),
        source,
    })
}

/// The labels the container's execve takes on.
pub struct ExecLabels {
    apparmor: Option<String>,
    selinux: Option<String>,
}

impl ExecLabels {
    pub fn of(process: &Process) -> Self {
        ExecLabels {
            apparmor: set(process.apparmor_profile()).map(str::to_string),
            selinux: set(process.selinux_label()).map(str::to_string),
        }
    }

    /// Sets the attributes that the next execve applies (and then resets):
    /// runc's `apparmor.ApplyProfile` (change_onexec) and
    /// `selinux.SetExecLabel`. The init execs nothing else before the
    /// container's program.
    pub fn apply(&self) -> Result<(), LsmError> {
        if let Some(profile) = &self.apparmor {
            // Kernels with LSM stacking have AppArmor's own directory; older
            // ones only the shared attribute.
            let attr = if Path::new("/proc/thread-self/attr/apparmor").is_dir() {
                "apparmor/exec"
            } else {
                "exec"
            };
            write_attr(attr, &format!("exec {profile}"))?;
        }
        if let Some(label) = &self.selinux {
            write_attr("exec", label)?;
        }
        Ok(())
    }
}

/// Sets (or with None, clears) the SELinux label of the keys the thread
/// creates, so that the session keyring gets the process label, as runc
/// does. A kernel without the attribute has nothing to label.
pub fn set_keyring_label(label: Option<&str>) -> Result<(), LsmError> {
    match write_attr("keycreate", label.unwrap_or("")) {
        Err(LsmError::Attr { source, .. }) if source.errno() == Some(Errno::ENOENT) => Ok(()),
        other => other,
    }
}

/// Labels a mounted filesystem's root (`security.selinux`), for the
/// filesystems that do not take `context=` (runc's `label.SetFileLabel`
/// after mounting mqueue). `path` may be a /proc/self/fd/N link: it is
/// followed.
pub fn set_file_label(path: &Path, label: &str) -> Result<(), LsmError> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| LsmError::Sys {
        what: format!("{}: NUL in path", path.display()),
        source: Errno::EINVAL,
    })?;
    crate::sys::set_xattr(&cpath, c"security.selinux", label.as_bytes())
        .map_err(lsm_error(format!("label {} as {label:?}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fake host root under the test's temporary directory.
    struct FakeRoot(PathBuf);

    impl FakeRoot {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("husk-lsm-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            FakeRoot(dir)
        }

        fn file(&self, path: &str, content: &str) -> &Self {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
            self
        }

        fn dir(&self, path: &str) -> &Self {
            std::fs::create_dir_all(self.0.join(path)).unwrap();
            self
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const PLAIN_MOUNTINFO: &str = "22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
        23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw\n";

    #[test]
    fn apparmor_needs_securityfs_and_the_module_enabled() {
        let root = FakeRoot::new("aa");
        assert!(!apparmor_enabled(&root.0), "empty host");
        root.file("sys/module/apparmor/parameters/enabled", "Y\n");
        assert!(!apparmor_enabled(&root.0), "module loaded, but no securityfs entry");
        root.dir("sys/kernel/security/apparmor");
        assert!(apparmor_enabled(&root.0));
        root.file("sys/module/apparmor/parameters/enabled", "N\n");
        assert!(!apparmor_enabled(&root.0), "disabled on the kernel command line");
        assert_eq!(HostLsms::probe(&root.0), HostLsms { apparmor: false, selinux: false });
    }

    #[test]
    fn selinux_needs_selinuxfs_mounted_with_enforce() {
        let root = FakeRoot::new("se");
        assert!(!selinux_enabled(&root.0), "no mountinfo");
        root.file("proc/self/mountinfo", PLAIN_MOUNTINFO);
        root.file("sys/fs/selinux/enforce", "1");
        assert!(!selinux_enabled(&root.0), "an enforce file, but no selinuxfs mounted");
        let with_selinuxfs = format!("{PLAIN_MOUNTINFO}24 22 0:22 / /sys/fs/selinux rw,relatime - selinuxfs selinuxfs rw\n");
        root.file("proc/self/mountinfo", &with_selinuxfs);
        assert!(selinux_enabled(&root.0));
        assert_eq!(HostLsms::probe(&root.0), HostLsms { apparmor: false, selinux: true });
        std::fs::remove_file(root.0.join("sys/fs/selinux/enforce")).unwrap();
        assert!(!selinux_enabled(&root.0), "selinuxfs without enforce");
    }

    #[test]
    fn selinuxfs_found_where_the_mount_table_puts_it() {
        let table = "24 22 0:22 / /old\\040place rw - selinuxfs none rw\n";
        assert_eq!(selinuxfs_mount_point(table).as_deref(), Some("/old place"));
        assert_eq!(selinuxfs_mount_point(PLAIN_MOUNTINFO), None);
    }

    /// A spec with these process fields (beside the required ones) and this
    /// `linux` object.
    fn spec_with(process: serde_json::Value, linux: serde_json::Value) -> Spec {
        let mut full = serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}});
        full.as_object_mut().unwrap().extend(process.as_object().unwrap().clone());
        serde_json::from_value(serde_json::json!({"ociVersion": "1.2.0", "process": full, "linux": linux})).unwrap()
    }

    const NONE: HostLsms = HostLsms { apparmor: false, selinux: false };
    const BOTH: HostLsms = HostLsms { apparmor: true, selinux: true };

    #[test]
    fn labels_need_their_lsm() {
        let aa = spec_with(serde_json::json!({"apparmorProfile": "foo"}), serde_json::json!({}));
        let (field, message) = check(&aa, || NONE).unwrap_err();
        assert_eq!(field, "process.apparmorProfile");
        assert_eq!(message, "AppArmor profile \"foo\" requested, but AppArmor is not enabled on this host");
        assert!(check(&aa, || HostLsms { apparmor: true, selinux: false }).is_ok());

        let se = spec_with(serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0"}), serde_json::json!({}));
        let (field, message) = check(&se, || HostLsms { apparmor: true, selinux: false }).unwrap_err();
        assert_eq!(field, "process.selinuxLabel");
        assert!(message.contains("SELinux is not enabled on this host"), "{message}");
        assert!(check(&se, || BOTH).is_ok());

        let ml = spec_with(serde_json::json!({}), serde_json::json!({"mountLabel": "system_u:object_r:container_file_t:s0:c1,c2"}));
        let (field, message) = check(&ml, || NONE).unwrap_err();
        assert_eq!(field, "linux.mountLabel");
        assert!(message.starts_with("SELinux mount label \"system_u"), "{message}");
        assert!(check(&ml, || BOTH).is_ok());
    }

    #[test]
    fn empty_labels_are_unset() {
        let spec = spec_with(
            serde_json::json!({"apparmorProfile": "", "selinuxLabel": ""}),
            serde_json::json!({"mountLabel": ""}),
        );
        assert!(check(&spec, || NONE).is_ok());
        assert_eq!(mount_label(&spec), None);
        let labels = ExecLabels::of(spec.process().as_ref().unwrap());
        assert!(labels.apparmor.is_none() && labels.selinux.is_none());
    }

    #[test]
    fn mount_label_formatting_matches_go_selinux() {
        let label = "system_u:object_r:container_file_t:s0:c1,c2";
        assert_eq!(format_mount_label("", None), "");
        assert_eq!(format_mount_label("mode=755", None), "mode=755");
        assert_eq!(format_mount_label("", Some(label)), format!("context=\"{label}\""));
        assert_eq!(format_mount_label("mode=755,size=65536k", Some(label)), format!("mode=755,size=65536k,context=\"{label}\""));
        assert!(takes_context_option("tmpfs") && takes_context_option("devpts"));
        assert!(!takes_context_option("proc") && !takes_context_option("sysfs") && !takes_context_option("mqueue"));
    }
}
