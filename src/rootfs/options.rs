//! Mount option strings (the spec's "Linux mount options" table) turned into
//! the flags of mount(2), the propagation changes that follow it, the
//! recursive attributes of mount_setattr(2), and the leftover data string.

use nix::mount::MsFlags;

/// MS_NOSYMFOLLOW (Linux 5.10); not in nix's MsFlags.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

const MOUNT_ATTR_RDONLY: u64 = 0x01;
const MOUNT_ATTR_NOSUID: u64 = 0x02;
const MOUNT_ATTR_NODEV: u64 = 0x04;
const MOUNT_ATTR_NOEXEC: u64 = 0x08;
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x00;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// One mount entry's options, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags passed to mount(2).
    pub flags: MsFlags,
    /// Flags the options turned off explicitly (`rw`, `suid`, …).
    pub cleared: MsFlags,
    /// Propagation changes, applied in order after the mount.
    pub propagation: Vec<MsFlags>,
    /// mount_setattr(2) attributes to set and clear, recursively.
    pub recursive_set: u64,
    pub recursive_clear: u64,
    /// Filesystem-specific options, comma-joined, for mount(2)'s data.
    pub data: String,
    /// `idmap`/`ridmap`: an id-mapped mount was asked for.
    pub idmap: bool,
    /// `ridmap`: the submounts of an `rbind` are id-mapped too.
    pub ridmap: bool,
    /// `tmpcopyup`: copy the underlying directory's content into the tmpfs.
    pub tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            recursive_set: 0,
            recursive_clear: 0,
            data: String::new(),
            idmap: false,
            ridmap: false,
            tmpcopyup: false,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn has_recursive_attrs(&self) -> bool {
        self.recursive_set != 0 || self.recursive_clear != 0
    }
}

/// A plain flag option: its name, whether it clears the flag, and the flag.
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("atime", true, MsFlags::MS_NOATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("defaults", false, MsFlags::empty()),
    ("dev", true, MsFlags::MS_NODEV),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("loud", true, MsFlags::MS_SILENT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("nodev", false, MsFlags::MS_NODEV),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("noiversion", true, MsFlags::MS_I_VERSION),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("nosymfollow", false, MS_NOSYMFOLLOW),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("silent", false, MsFlags::MS_SILENT),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("suid", true, MsFlags::MS_NOSUID),
    ("symfollow", true, MS_NOSYMFOLLOW),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
];

/// Propagation options, as accepted in `options` and in `rootfsPropagation`.
const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Recursive (mount_setattr) options: name, whether it clears, attribute.
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", false, MOUNT_ATTR_RDONLY),
    ("rrw", true, MOUNT_ATTR_RDONLY),
    ("rnosuid", false, MOUNT_ATTR_NOSUID),
    ("rsuid", true, MOUNT_ATTR_NOSUID),
    ("rnodev", false, MOUNT_ATTR_NODEV),
    ("rdev", true, MOUNT_ATTR_NODEV),
    ("rnoexec", false, MOUNT_ATTR_NOEXEC),
    ("rexec", true, MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, MOUNT_ATTR_NODIRATIME),
    ("rrelatime", false, MOUNT_ATTR_RELATIME),
    ("rnorelatime", true, MOUNT_ATTR_RELATIME),
    ("rnoatime", false, MOUNT_ATTR_NOATIME),
    ("ratime", true, MOUNT_ATTR_NOATIME),
    ("rstrictatime", false, MOUNT_ATTR_STRICTATIME),
    ("rnostrictatime", true, MOUNT_ATTR_STRICTATIME),
    ("rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW),
];

/// The options that are neither flags nor attributes: applied by husk
/// itself (rootfs/tmpfs.rs, rootfs/idmap.rs).
const EXTENSIONS: &[&str] = &["idmap", "ridmap", "tmpcopyup"];

/// Every option name husk recognises, for `husk features`.
pub fn known_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FLAGS.iter().map(|(n, ..)| *n).collect();
    names.extend(PROPAGATION.iter().map(|(n, _)| *n));
    names.extend(RECURSIVE.iter().map(|(n, ..)| *n));
    names.extend(EXTENSIONS);
    names
}

/// Looks up a propagation option by name (`rslave` → MS_SLAVE|MS_REC).
pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    PROPAGATION.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Parses one mount entry's option list. Anything not in the tables is a
/// filesystem option and goes to the data string, as runc does.
pub fn parse(options: &[String]) -> MountOptions {
    let mut parsed = MountOptions::default();
    let mut data = Vec::new();
    for option in options {
        let option = option.as_str();
        if let Some((_, clear, flag)) = FLAGS.iter().find(|(n, ..)| *n == option) {
            if *clear {
                parsed.flags.remove(*flag);
                parsed.cleared.insert(*flag);
            } else {
                parsed.flags.insert(*flag);
                parsed.cleared.remove(*flag);
            }
        } else if let Some(flag) = propagation_flag(option) {
            parsed.propagation.push(flag);
        } else if let Some((_, clear, attr)) = RECURSIVE.iter().find(|(n, ..)| *n == option) {
            apply_recursive(&mut parsed, *clear, *attr);
        } else if option == "idmap" || option == "ridmap" {
            parsed.idmap = true;
            parsed.ridmap |= option == "ridmap";
        } else if option == "tmpcopyup" {
            parsed.tmpcopyup = true;
        } else {
            data.push(option);
        }
    }
    parsed.data = data.join(",");
    parsed
}

fn apply_recursive(parsed: &mut MountOptions, clear: bool, attr: u64) {
    let is_atime = attr == MOUNT_ATTR_RELATIME
        || attr == MOUNT_ATTR_NOATIME
        || attr == MOUNT_ATTR_STRICTATIME;
    if is_atime {
        // The atime modes are one field: setting one clears the others.
        parsed.recursive_clear |= MOUNT_ATTR_ATIME_MASK;
        parsed.recursive_set &= !MOUNT_ATTR_ATIME_MASK;
        if !clear {
            parsed.recursive_set |= attr;
        }
    } else if clear {
        parsed.recursive_clear |= attr;
        parsed.recursive_set &= !attr;
    } else {
        parsed.recursive_set |= attr;
        parsed.recursive_clear &= !attr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> MountOptions {
        parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn plain_flags_and_data() {
        let o = opts(&["nosuid", "noexec", "mode=755", "size=65536k", "ro"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY
        );
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.is_bind());
    }

    #[test]
    fn later_option_wins() {
        let o = opts(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
        let o = opts(&["rw", "ro"]);
        assert!(o.flags.contains(MsFlags::MS_RDONLY));
        assert!(!o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn bind_and_rbind() {
        assert_eq!(opts(&["bind"]).flags, MsFlags::MS_BIND);
        assert_eq!(opts(&["rbind"]).flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert!(opts(&["rbind", "ro"]).is_bind());
    }

    #[test]
    fn propagation_in_order() {
        let o = opts(&["rbind", "rprivate", "shared"]);
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SHARED]
        );
        assert_eq!(propagation_flag("rslave"), Some(MsFlags::MS_SLAVE | MsFlags::MS_REC));
        assert_eq!(propagation_flag("sideways"), None);
    }

    #[test]
    fn recursive_attributes() {
        let o = opts(&["rro", "rnosuid", "rexec"]);
        assert_eq!(o.recursive_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(o.recursive_clear, MOUNT_ATTR_NOEXEC);
        assert!(o.has_recursive_attrs());
        let o = opts(&["rnoatime", "rstrictatime"]);
        assert_eq!(o.recursive_set, MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.recursive_clear, MOUNT_ATTR_ATIME_MASK);
    }

    #[test]
    fn nosymfollow_and_special_options() {
        let o = opts(&["nosymfollow", "idmap", "tmpcopyup"]);
        assert!(o.flags.contains(MS_NOSYMFOLLOW));
        assert!(o.idmap && o.tmpcopyup && !o.ridmap);
        assert_eq!(o.data, "");
        let o = opts(&["rbind", "ridmap"]);
        assert!(o.idmap && o.ridmap);
        for name in EXTENSIONS {
            assert!(known_names().contains(name));
        }
    }
}
