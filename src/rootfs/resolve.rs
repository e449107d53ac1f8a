//! Paths inside the rootfs, resolved so that nothing outside it can be
//! reached: every open goes through openat2(RESOLVE_IN_ROOT) from an fd of the
//! rootfs, so `..` and absolute symlinks stop at the container's `/`, and
//! mounts then target the opened fd (`/proc/self/fd/N`), never a path string
//! that could be swapped for a symlink in between.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2, readlinkat};
use nix::sys::stat::{Mode, mkdirat};

/// The deepest symlink chain followed before giving up, as the kernel does.
const MAX_SYMLINKS: usize = 40;

/// Opens `path` inside `root` with `flags` (O_CLOEXEC is always added).
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(root, relative(path).as_path(), how)
}

/// The path as relative to the root (`/a/b` → `a/b`, `/` → `.`).
pub fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The path of an fd that mount(2) and friends can use in place of a path
/// string: the kernel follows the magic link to the very inode we opened.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// What kind of inode to create at the end of a path.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Directory,
    File,
}

/// Opens `path` inside `root` as an O_PATH fd, creating missing directories
/// (mode 0755) and, if `leaf` says so, an empty file at the end.
pub fn create_in_root(root: BorrowedFd<'_>, path: &Path, leaf: Leaf) -> nix::Result<OwnedFd> {
    match open_in_root(root, path, OFlag::O_PATH) {
        Err(Errno::ENOENT) => {}
        other => return other,
    }
    // Walk the path with its existing symlinks already followed: a link
    // whose target is missing (`/abs -> /tmp/new`) must get its target made,
    // inside the root, not fail on the link itself.
    let rel = relative(&resolve_links(root, path));
    let mut parent = open_in_root(root, Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    let mut walked = PathBuf::new();
    let names: Vec<_> = rel.components().collect();
    for (i, component) in names.iter().enumerate() {
        walked.push(component);
        let last = i + 1 == names.len();
        match open_in_root(root, &walked, OFlag::O_PATH) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        // Re-open the parent as a real directory fd: mkdirat/openat need one.
        let dir = reopen_dir(parent.as_fd())?;
        let name = component.as_os_str();
        if last && leaf == Leaf::File {
            let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
            drop(nix::fcntl::openat(&dir, name, flags, Mode::from_bits_truncate(0o644))?);
        } else {
            match mkdirat(&dir, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        parent = open_in_root(root, &walked, OFlag::O_PATH)?;
    }
    Ok(parent)
}

/// Turns an O_PATH directory fd into one usable with *at() calls.
pub fn reopen_dir(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    let how = OpenHow::new().flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC);
    openat2(fd, ".", how)
}

/// The path with every symlink that exists along it followed the way
/// RESOLVE_IN_ROOT follows it: absolute targets start again at the root and
/// `..` stops there. Only names the path; opens still go through openat2.
fn resolve_links(root: BorrowedFd<'_>, path: &Path) -> PathBuf {
    walk_links(root, path).resolved
}

/// Checks, before any mount, that resolving `path` inside `root` does not
/// rely on a relative symlink that climbs above the rootfs (`../../etc`).
/// Such a link only makes sense as an attempt to reach the host, so it is
/// reported as an error rather than silently clamped. Absolute link targets
/// are the container's own paths (`/var/run -> /run`) and are fine.
///
/// This check is for the message only: the later openat2(RESOLVE_IN_ROOT)
/// keeps every access inside the rootfs even if the tree changes meanwhile.
pub fn find_escaping_symlink(root: BorrowedFd<'_>, path: &Path) -> Option<(PathBuf, OsString)> {
    walk_links(root, path).escape
}

struct Walk {
    resolved: PathBuf,
    /// The first relative link that climbs above the root, and its target.
    escape: Option<(PathBuf, OsString)>,
}

/// Follows the symlinks along `path` inside `root`, component by component.
fn walk_links(root: BorrowedFd<'_>, path: &Path) -> Walk {
    let mut resolved: Vec<OsString> = Vec::new();
    let mut pending: Vec<OsString> = components_reversed(path);
    let mut escape = None;
    let mut followed = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        resolved.push(name);
        let here: PathBuf = resolved.iter().collect();
        let Ok(target) = readlinkat(root, &here) else {
            continue; // not a symlink, or missing: nothing to follow
        };
        followed += 1;
        if followed > MAX_SYMLINKS {
            // The real open reports ELOOP.
            return Walk { resolved: path.to_path_buf(), escape };
        }
        resolved.pop();
        let target_path = Path::new(&target);
        if target_path.is_absolute() {
            resolved.clear();
        } else if escape.is_none() && climbs_above(&resolved, target_path) {
            escape = Some((here, target.clone()));
        }
        pending.extend(components_reversed(target_path));
    }
    Walk { resolved: resolved.iter().collect(), escape }
}

fn components_reversed(path: &Path) -> Vec<OsString> {
    let mut names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    names.reverse();
    names
}

/// Whether a relative link target, read in directory `base`, goes above `/`.
fn climbs_above(base: &[OsString], target: &Path) -> bool {
    let mut depth = base.len() as isize;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(n) if n.as_bytes() != b"." => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/b")), PathBuf::from("a/b"));
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
        assert_eq!(relative(Path::new("a/./b")), PathBuf::from("a/b"));
    }

    #[test]
    fn climbing() {
        let base: Vec<OsString> = vec!["mnt".into()];
        assert!(climbs_above(&base, Path::new("../../etc")));
        assert!(!climbs_above(&base, Path::new("../etc")));
        assert!(!climbs_above(&base, Path::new("x/../../etc")));
        assert!(climbs_above(&[], Path::new("..")));
    }
}
