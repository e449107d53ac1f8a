//! A filesystem made for an id-mapped mount that is not a bind mount (a
//! tmpfs, say): the parent creates it with the new mount API, detached, in
//! the host's user namespace, where the kernel lets it be id-mapped, and the
//! init attaches it as it would have mounted it.
//!
//! What mount(2) takes as flags and data becomes fsconfig(2) parameters:
//! each comma-separated data option one parameter (`key=value` or the flag
//! `key`), the superblock flags their fsconfig names, and the per-mount
//! flags fsmount(2)'s attributes. A tmpfs over an existing directory takes
//! its mode first, as in rootfs/tmpfs.rs.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, fstat};
use oci_spec::runtime::{Mount, Spec};

use super::super::options;
use super::super::resolve::open_in_root;
use super::super::tmpfs::data_with_mode;
use super::{RootfsError, c_string};
use crate::security::lsm;
use crate::sys::mount_api;

const MOUNT_ATTR_RDONLY: u64 = 0x01;
const MOUNT_ATTR_NOSUID: u64 = 0x02;
const MOUNT_ATTR_NODEV: u64 = 0x04;
const MOUNT_ATTR_NOEXEC: u64 = 0x08;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;

/// Per-mount flags and the fsmount(2) attribute of each.
const ATTRS: &[(MsFlags, u64)] = &[
    (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
    (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
    (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
    (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
    (MsFlags::MS_NOATIME, MOUNT_ATTR_NOATIME),
    (MsFlags::MS_STRICTATIME, MOUNT_ATTR_STRICTATIME),
    (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
];

/// Superblock flags and their fsconfig(2) names.
const SUPERBLOCK: &[(MsFlags, &str)] = &[
    (MsFlags::MS_RDONLY, "ro"),
    (MsFlags::MS_SYNCHRONOUS, "sync"),
    (MsFlags::MS_DIRSYNC, "dirsync"),
    (MsFlags::MS_LAZYTIME, "lazytime"),
    (MsFlags::MS_MANDLOCK, "mand"),
    (MsFlags::MS_SILENT, "silent"),
];

/// The fsconfig parameters and fsmount attributes of a mount entry. A
/// tmpcopyup tmpfs is made writable: the init copies, then remounts it.
pub fn parameters(flags: MsFlags, data: &str, copyup: bool) -> (Vec<(String, Option<String>)>, u64) {
    let flags = if copyup { flags - MsFlags::MS_RDONLY } else { flags };
    let mut params: Vec<(String, Option<String>)> = data
        .split(',')
        .filter(|o| !o.is_empty())
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (o.to_string(), None),
        })
        .collect();
    params.extend(SUPERBLOCK.iter().filter(|(f, _)| flags.contains(*f)).map(|(_, n)| (n.to_string(), None)));
    let attrs = ATTRS.iter().filter(|(f, _)| flags.contains(*f)).fold(0, |acc, (_, a)| acc | a);
    (params, attrs)
}

/// A detached mount of a new filesystem of type `typ` for mount `index`.
pub fn make(spec: &Spec, bundle: &Path, index: usize, mount: &Mount, typ: &str) -> Result<OwnedFd, RootfsError> {
    let field = format!("mounts[{index}]");
    let opts = options::parse(mount.options().as_deref().unwrap_or_default());
    let mut data = opts.data.clone();
    if typ == "tmpfs" {
        data = data_with_mode(directory_mode(spec, bundle, mount.destination()), &data);
    }
    let (mut params, attrs) = parameters(opts.flags, &data, opts.tmpcopyup);
    let source = mount.source().as_ref().map_or_else(|| typ.to_string(), |s| s.to_string_lossy().into_owned());
    params.insert(0, ("source".into(), Some(source)));
    if let Some(label) = lsm::mount_label(spec).filter(|_| lsm::takes_context_option(typ)) {
        params.push(("context".into(), Some(label.to_string())));
    }
    let fs = mount_api::fs_open(&c_string(&format!("{field}.type"), typ.as_bytes())?).map_err(|e| RootfsError::Config {
        field: format!("{field}.type"),
        message: match e {
            Errno::ENODEV => format!("{typ:?} is no filesystem type of this kernel"),
            e => format!("fsopen {typ}: {e}"),
        },
    })?;
    for (key, value) in &params {
        let key_c = c_string(&format!("{field}.options"), key.as_bytes())?;
        let value_c = value.as_deref().map(|v| c_string(&format!("{field}.options"), v.as_bytes())).transpose()?;
        mount_api::fs_set(fs.as_fd(), &key_c, value_c.as_deref()).map_err(|e| {
            let option = value.as_ref().map_or_else(|| key.clone(), |v| format!("{key}={v}"));
            RootfsError::Config {
                field: format!("{field}.options"),
                message: format!("{typ} refuses {option}: {}", kernel_says(fs.as_fd(), e)),
            }
        })?;
    }
    mount_api::fs_mount(fs.as_fd(), attrs).map_err(|e| RootfsError::Config {
        field: format!("{field}.options"),
        message: format!("making the {typ}: {}", kernel_says(fs.as_fd(), e)),
    })
}

/// The mode of the directory at `destination` in the rootfs, if it is one
/// (the parent reads it before any mount of the container is made).
fn directory_mode(spec: &Spec, bundle: &Path, destination: &Path) -> Option<u32> {
    let root = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
    let rootfs = if root.is_absolute() { root } else { bundle.join(root) };
    let root = nix::fcntl::open(&rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).ok()?;
    let fd = open_in_root(root.as_fd(), destination, OFlag::O_PATH).ok()?;
    let st = fstat(&fd).ok()?;
    (st.st_mode & libc::S_IFMT == libc::S_IFDIR).then_some(st.st_mode)
}

/// The errno, with what the kernel logged in the filesystem context (the
/// reason fsconfig gives beyond its errno).
fn kernel_says(fs: BorrowedFd<'_>, errno: Errno) -> String {
    let mut said = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = nix::unistd::read(fs, &mut buf) {
        if n == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf[..n]).trim_end().to_string();
        said.push(line.split_once(' ').map_or(line.clone(), |(_, m)| m.to_string()));
    }
    if said.is_empty() { errno.to_string() } else { format!("{errno} ({})", said.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_flags_and_attributes() {
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_RDONLY | MsFlags::MS_SYNCHRONOUS;
        let (params, attrs) = parameters(flags, "mode=0755,size=1m,noswap", false);
        let want: Vec<(String, Option<String>)> = vec![
            ("mode".into(), Some("0755".into())),
            ("size".into(), Some("1m".into())),
            ("noswap".into(), None),
            ("ro".into(), None),
            ("sync".into(), None),
        ];
        assert_eq!(params, want);
        assert_eq!(attrs, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        // A copy-up is made writable; the init remounts it read-only.
        let (params, attrs) = parameters(MsFlags::MS_RDONLY | MsFlags::MS_NOATIME, "", true);
        assert!(params.is_empty());
        assert_eq!(attrs, MOUNT_ATTR_NOATIME);
    }
}
