//! tmpfs mounts, and `tmpcopyup`: the image's directory at the destination
//! copied into the new tmpfs, as runc and crun do (podman adds it to every
//! tmpfs it asks for: `--tmpfs`, `--read-only`).
//!
//! Like runc, a tmpfs on an existing directory takes that directory's mode
//! (`mode=` put before the configured options, which win), and with
//! `tmpcopyup` its root takes the directory's owner. runc mounts the tmpfs on
//! a temporary directory of the host's /tmp, copies, and moves it over; husk
//! opens the directory before mounting over it and copies from that fd (an
//! fd opened before a mount keeps reaching the inode underneath), so nothing
//! is made outside the rootfs. A read-only tmpfs is mounted writable for the
//! copy and remounted read-only after it, as runc does.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{FileStat, Mode, SFlag, UtimensatFlags, fchmod, fstat, fstatat, futimens, mkdirat, mknodat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, linkat, symlinkat};
use oci_spec::runtime::Mount;

use super::RootfsError;
use super::mounts::{MountContext, finish, reopen_mounted, target_dir};
use super::options::MountOptions;
use super::resolve::{fd_path, open_in_root, reopen_dir};
use crate::security::lsm;
use crate::sys::mount_api;

pub fn mount_tmpfs(ctx: &MountContext<'_>, index: usize, entry: &Mount, opts: &MountOptions) -> Result<(), RootfsError> {
    let destination = entry.destination();
    let existing = match open_in_root(ctx.root, destination, OFlag::O_PATH) {
        Ok(fd) => Some(fstat(&fd).map_err(|e| RootfsError::sys("stat", destination, e))?),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(RootfsError::sys("open", destination, e)),
    };
    let target = target_dir(ctx, destination)?;
    // Opened before the mount covers it: the image's content to copy.
    let image = match (&existing, opts.tmpcopyup) {
        (Some(_), true) => Some(reopen_dir(target.as_fd()).map_err(|e| RootfsError::sys("open", destination, e))?),
        _ => None,
    };
    let data = data_with_mode(existing.as_ref().map(|st| st.st_mode), &opts.data);
    let label = ctx.mount_label.filter(|_| lsm::takes_context_option("tmpfs"));
    let data = lsm::format_mount_label(&data, label);
    let data = (!data.is_empty()).then_some(data.as_str());
    let mut flags = opts.flags - MsFlags::MS_REMOUNT;
    // A read-only /dev is filled first: finalize makes it read-only, as
    // runc's finalizeRootfs does.
    let dev = is_dev(destination);
    if opts.tmpcopyup || dev {
        flags -= MsFlags::MS_RDONLY;
    }
    if let Some(tree) = ctx.idmapped.get(index) {
        // Made and id-mapped by the parent, with the same mode and flags.
        mount_api::move_tree(tree, target.as_fd()).map_err(|e| RootfsError::sys("attach id-mapped tmpfs on", destination, e))?;
    } else {
        let source = entry.source().clone().unwrap_or_else(|| PathBuf::from("tmpfs"));
        mount(Some(&source), &fd_path(&target), Some("tmpfs"), flags, data)
            .map_err(|e| RootfsError::sys("mount tmpfs on", destination, e))?;
    }
    let mounted = reopen_mounted(ctx, destination)?;
    if let (Some(image), Some(st)) = (image, existing) {
        let copy = reopen_dir(mounted.as_fd()).map_err(|e| RootfsError::sys("open mounted", destination, e))?;
        let mut tree = Tree { destination, links: HashMap::new(), root: copy.as_fd() };
        tree.copy_dir(image.as_fd(), copy.as_fd(), Path::new(""))?;
        // The root keeps the tmpfs's mode (the `mode=` above) and takes the
        // directory's owner, attributes and times.
        let fail = |op: &'static str| move |e| RootfsError::sys(op, destination, e);
        fchown(&copy, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid))).map_err(fail("tmpcopyup: chown"))?;
        copy_xattrs(image.as_fd(), copy.as_fd()).map_err(fail("tmpcopyup: copy xattrs of"))?;
        futimens(&copy, &atime(&st), &mtime(&st)).map_err(fail("tmpcopyup: set times of"))?;
    }
    if opts.tmpcopyup && !dev && opts.flags.contains(MsFlags::MS_RDONLY) {
        mount(None::<&str>, &fd_path(&mounted), None::<&str>, flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY, None::<&str>)
            .map_err(|e| RootfsError::sys("remount read-only", destination, e))?;
    }
    finish(&mounted, destination, opts)
}

/// The destination is the container's /dev (`/dev`, `/dev/`, `//dev`...).
pub(super) fn is_dev(destination: &Path) -> bool {
    super::resolve::relative(destination) == Path::new("dev")
}

/// The mount data of a tmpfs over a directory of mode `mode`: `mode=` first,
/// so that a configured `mode=` still wins (runc's order).
pub(super) fn data_with_mode(mode: Option<u32>, data: &str) -> String {
    match mode {
        Some(mode) if data.is_empty() => format!("mode={:04o}", mode & 0o7777),
        Some(mode) => format!("mode={:04o},{data}", mode & 0o7777),
        None => data.to_string(),
    }
}

fn atime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_atime, st.st_atime_nsec)
}

fn mtime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_mtime, st.st_mtime_nsec)
}

/// One copy: the inodes already copied (for hard links) and where errors
/// point.
struct Tree<'a> {
    destination: &'a Path,
    /// (device, inode) of each file with several links → its copy's path.
    links: HashMap<(u64, u64), PathBuf>,
    root: BorrowedFd<'a>,
}

impl Tree<'_> {
    fn error(&self, op: &'static str, rel: &Path) -> impl FnOnce(Errno) -> RootfsError {
        let path = self.destination.join(rel);
        move |e| RootfsError::sys(&format!("tmpcopyup: {op}"), &path, e)
    }

    /// Copies every entry of `src` into `dst` (both open directories);
    /// `rel` is their path below the destination.
    fn copy_dir(&mut self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, rel: &Path) -> Result<(), RootfsError> {
        let mut names = Vec::new();
        let dir = nix::dir::Dir::openat(src, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(self.error("read directory", rel))?;
        for entry in dir {
            let entry = entry.map_err(self.error("read directory", rel))?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name != "." && name != ".." {
                names.push(name.to_os_string());
            }
        }
        for name in names {
            self.copy_entry(src, dst, Path::new(&name), &rel.join(&name))?;
        }
        Ok(())
    }

    fn copy_entry(&mut self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>, name: &Path, rel: &Path) -> Result<(), RootfsError> {
        let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(self.error("stat", rel))?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let owner = (Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)));
        let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let key = (st.st_dev, st.st_ino);
        if kind != SFlag::S_IFDIR && st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key) {
                return linkat(self.root, first.as_path(), dst, name, AtFlags::empty()).map_err(self.error("link", rel));
            }
            self.links.insert(key, rel.to_path_buf());
        }
        let open = |dir: BorrowedFd<'_>, flags: OFlag, mode: Mode| openat(dir, name, flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, mode);
        match kind {
            SFlag::S_IFDIR => {
                mkdirat(dst, name, Mode::from_bits_truncate(0o700)).map_err(self.error("mkdir", rel))?;
                let from = open(src, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).map_err(self.error("open", rel))?;
                let to = open(dst, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).map_err(self.error("open", rel))?;
                self.copy_dir(from.as_fd(), to.as_fd(), rel)?;
                self.set_meta(from.as_fd(), to.as_fd(), &st, rel)
            }
            SFlag::S_IFREG => {
                let from = open(src, OFlag::O_RDONLY, Mode::empty()).map_err(self.error("open", rel))?;
                let to = open(dst, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL, Mode::from_bits_truncate(0o600))
                    .map_err(self.error("create", rel))?;
                let (mut reader, mut writer) = (File::from(from), File::from(to));
                std::io::copy(&mut reader, &mut writer)
                    .map_err(|e| self.error("copy", rel)(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
                self.set_meta(reader.as_fd(), writer.as_fd(), &st, rel)
            }
            SFlag::S_IFLNK => {
                let target = readlinkat(src, name).map_err(self.error("readlink", rel))?;
                symlinkat(target.as_os_str(), dst, name).map_err(self.error("symlink", rel))?;
                fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(self.error("chown", rel))?;
                utimensat(dst, name, &atime(&st), &mtime(&st), UtimensatFlags::NoFollowSymlink)
                    .map_err(self.error("set times of", rel))
            }
            // Devices, fifos and sockets: made anew (in a user namespace the
            // kernel refuses devices, as it refuses runc).
            _ => {
                mknodat(dst, name, kind, perm, st.st_rdev).map_err(self.error("mknod", rel))?;
                fchownat(dst, name, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(self.error("chown", rel))?;
                nix::sys::stat::fchmodat(dst, name, perm, nix::sys::stat::FchmodatFlags::FollowSymlink)
                    .map_err(self.error("chmod", rel))?;
                utimensat(dst, name, &atime(&st), &mtime(&st), UtimensatFlags::NoFollowSymlink)
                    .map_err(self.error("set times of", rel))
            }
        }
    }

    /// Owner, then mode (a chown clears set-id bits), then extended
    /// attributes (a chown drops file capabilities), then times (last: the
    /// others change ctime only, a directory's entries its mtime).
    fn set_meta(&self, from: BorrowedFd<'_>, to: BorrowedFd<'_>, st: &FileStat, rel: &Path) -> Result<(), RootfsError> {
        fchown(to, Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid))).map_err(self.error("chown", rel))?;
        fchmod(to, Mode::from_bits_truncate(st.st_mode & 0o7777)).map_err(self.error("chmod", rel))?;
        copy_xattrs(from, to).map_err(self.error("copy xattrs of", rel))?;
        futimens(to, &atime(st), &mtime(st)).map_err(self.error("set times of", rel))
    }
}

/// Copies every extended attribute of `from` to `to`. One the tmpfs does not
/// take (ENOTSUP), or that the container's user namespace may not set
/// (EPERM: `trusted.*`), is left out, as crun does.
fn copy_xattrs(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> nix::Result<()> {
    let names = match mount_api::list_xattrs(from) {
        Err(Errno::ENOTSUP) => return Ok(()),
        other => other?,
    };
    for name in names {
        let value = match mount_api::get_xattr(from, &name) {
            Err(Errno::ENODATA) => continue,
            other => other?,
        };
        match mount_api::set_xattr_fd(to, &name, &value) {
            Ok(()) | Err(Errno::ENOTSUP | Errno::EPERM) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_goes_first() {
        assert_eq!(data_with_mode(Some(0o40755), ""), "mode=0755");
        assert_eq!(data_with_mode(Some(0o41777), "size=65536k,mode=700"), "mode=1777,size=65536k,mode=700");
        assert_eq!(data_with_mode(None, "size=1m"), "size=1m");
        assert_eq!(data_with_mode(None, ""), "");
    }
}
