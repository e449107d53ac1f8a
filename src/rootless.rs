//! Rootless husk: whether it runs without the host's root, decided as runc
//! decides it, and what follows from that before any verb runs: where the
//! state lives, and whether a cgroup husk may not make is an error.

use std::path::{Path, PathBuf};

/// `--rootless`: true, false, or auto (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootlessFlag {
    True,
    False,
    Auto,
}

impl RootlessFlag {
    pub fn parse(value: Option<&str>) -> RootlessFlag {
        match value {
            Some("true") => RootlessFlag::True,
            Some("false") => RootlessFlag::False,
            // clap allows only true, false and auto.
            _ => RootlessFlag::Auto,
        }
    }
}

/// Who husk runs as, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub euid: u32,
    pub egid: u32,
    /// In a user namespace that does not map all ids (not the host's).
    pub in_user_ns: bool,
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$USER`, which runc reads to tell a rootless root from the host's.
    pub user: Option<String>,
}

impl Caller {
    pub fn read() -> Caller {
        let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        Caller {
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
            in_user_ns: !maps_all_ids(&uid_map),
            xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()).map(PathBuf::from),
            user: std::env::var("USER").ok(),
        }
    }

    /// Rootless: cgroups husk may not make are skipped where the config
    /// asks for no limits (runc's rootless cgroup manager). Auto means the
    /// caller is not the host's root: a non-zero euid, or a root inside a
    /// user namespace.
    pub fn rootless(&self, flag: RootlessFlag) -> bool {
        match flag {
            RootlessFlag::True => true,
            RootlessFlag::False => false,
            RootlessFlag::Auto => self.euid != 0 || self.in_user_ns,
        }
    }

    /// The state root when `--root` is not given: `$XDG_RUNTIME_DIR/husk`
    /// for a caller that is not the host's root (runc's
    /// shouldHonorXDGRuntimeDir), else /run/husk.
    pub fn default_root(&self) -> PathBuf {
        match &self.xdg_runtime_dir {
            Some(dir) if self.honours_xdg_runtime_dir() => dir.join("husk"),
            _ => PathBuf::from(DEFAULT_ROOT),
        }
    }

    fn honours_xdg_runtime_dir(&self) -> bool {
        if self.euid != 0 {
            return true;
        }
        // The host's root keeps /run/husk, whatever $XDG_RUNTIME_DIR says
        // (/run/user/0); a root in a user namespace is a user's.
        self.in_user_ns && self.user.as_deref() != Some("root")
    }
}

pub const DEFAULT_ROOT: &str = "/run/husk";

/// Whether a /proc/PID/uid_map is the host's: every id, mapped to itself.
fn maps_all_ids(uid_map: &str) -> bool {
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[derive(Debug, thiserror::Error)]
#[error("the path in $XDG_RUNTIME_DIR must be writable by the user: {op} {}: {source}", path.display())]
pub struct RootlessError {
    op: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

/// A state root taken from $XDG_RUNTIME_DIR, as runc makes it: 0700, and
/// sticky, so that systemd's clean-up of the runtime directory (of what
/// was not touched for a while) leaves it alone.
pub fn prepare_runtime_dir_root(root: &Path) -> Result<(), RootlessError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |op| move |source| RootlessError { op, path: root.to_path_buf(), source };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(root).map_err(fail("create"))?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o1700)).map_err(fail("chmod"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(euid: u32, in_user_ns: bool, xdg: Option<&str>, user: Option<&str>) -> Caller {
        Caller {
            euid,
            egid: euid,
            in_user_ns,
            xdg_runtime_dir: xdg.map(PathBuf::from),
            user: user.map(String::from),
        }
    }

    #[test]
    fn auto_is_rootless_for_a_user_or_a_root_in_a_user_namespace() {
        assert!(caller(1000, false, None, None).rootless(RootlessFlag::Auto));
        assert!(caller(0, true, None, None).rootless(RootlessFlag::Auto));
        assert!(!caller(0, false, None, None).rootless(RootlessFlag::Auto));
        assert!(!caller(1000, false, None, None).rootless(RootlessFlag::False));
        assert!(caller(0, false, None, None).rootless(RootlessFlag::True));
    }

    #[test]
    fn the_state_root_follows_xdg_runtime_dir_as_runc_does() {
        let user = caller(1000, false, Some("/run/user/1000"), Some("alice"));
        assert_eq!(user.default_root(), Path::new("/run/user/1000/husk"));
        // Without $XDG_RUNTIME_DIR, the system default (runc does the same).
        assert_eq!(caller(1000, false, None, None).default_root(), Path::new("/run/husk"));
        // The host's root ignores /run/user/0.
        assert_eq!(caller(0, false, Some("/run/user/0"), Some("root")).default_root(), Path::new("/run/husk"));
        // A root in a user namespace is a user's, unless $USER says root.
        assert_eq!(caller(0, true, Some("/run/user/1000"), Some("alice")).default_root(), Path::new("/run/user/1000/husk"));
        assert_eq!(caller(0, true, Some("/run/user/0"), Some("root")).default_root(), Path::new("/run/husk"));
    }

    #[test]
    fn the_hosts_uid_map_maps_every_id() {
        assert!(maps_all_ids("         0          0 4294967295\n"));
        assert!(!maps_all_ids("         0       1000          1\n"));
        assert!(!maps_all_ids("0 1000 1\n1 100000 65536\n"));
    }
}
