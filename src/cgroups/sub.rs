//! `exec --cgroup`: the new process goes into a cgroup below the
//! container's, in some hierarchies or all (runc 1.1's flag). Each argument
//! is `PATH` (every hierarchy; the only form on cgroup v2) or
//! `CONTROLLER[,CONTROLLER]:PATH`; PATH is below the container's cgroup and
//! must exist (husk makes no cgroup for exec).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::CgroupPaths;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubCgroupError {
    /// runc's words for a malformed argument.
    #[error("invalid --cgroup argument: {arg}{detail}")]
    Invalid { arg: String, detail: String },
    #[error("--cgroup: {controller}: the container has no cgroup of this controller")]
    UnknownController { controller: String },
    #[error("--cgroup: {}: no such cgroup", path.display())]
    Missing { path: PathBuf },
}

/// The parsed arguments: the path for every hierarchy, or per controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubCgroups {
    All(PathBuf),
    Controllers(BTreeMap<String, PathBuf>),
}

fn invalid(arg: &str, detail: &str) -> SubCgroupError {
    SubCgroupError::Invalid { arg: arg.to_string(), detail: detail.to_string() }
}

/// Parses the `--cgroup` arguments (None if there are none), as runc does.
pub fn parse(args: &[String]) -> Result<Option<SubCgroups>, SubCgroupError> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut controllers = BTreeMap::new();
    for arg in args {
        let parts: Vec<&str> = arg.splitn(3, ':').collect();
        let (names, path) = match parts.as_slice() {
            [path] if args.len() == 1 => return Ok(Some(SubCgroups::All(checked_path(arg, path)?))),
            [_] => return Err(invalid(arg, " (missing <controller>: prefix)")),
            [names, path] => (*names, checked_path(arg, path)?),
            _ => return Err(invalid(arg, "")),
        };
        for name in names.split(',') {
            if name.is_empty() {
                return Err(invalid(arg, " (empty <controller> prefix)"));
            }
            if controllers.insert(name.to_string(), path.clone()).is_some() {
                return Err(invalid(arg, &format!(" (controller {name} specified multiple times)")));
            }
        }
    }
    Ok(Some(SubCgroups::Controllers(controllers)))
}

/// A path below the container's cgroup: relative, never climbing out.
fn checked_path(arg: &str, path: &str) -> Result<PathBuf, SubCgroupError> {
    let path = Path::new(path.trim_start_matches('/'));
    if path.as_os_str().is_empty() || path.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(invalid(arg, " (the path must lie below the container's cgroup)"));
    }
    Ok(path.to_path_buf())
}

/// The container's cgroup with the sub-cgroups laid over it, each checked
/// to exist. A hybrid host's `unified` tree and the named `systemd`
/// hierarchy keep the container's own cgroup where the sub-cgroup is not
/// made there (runc does not place exec'd processes in them).
pub fn apply(paths: &CgroupPaths, subs: &SubCgroups) -> Result<CgroupPaths, SubCgroupError> {
    let existing = |dir: PathBuf| if dir.is_dir() { Ok(dir) } else { Err(SubCgroupError::Missing { path: dir }) };
    match (paths, subs) {
        (CgroupPaths::V2(dir), SubCgroups::All(sub)) => Ok(CgroupPaths::V2(existing(dir.join(sub))?)),
        (CgroupPaths::V2(_), SubCgroups::Controllers(_)) => {
            Err(invalid("CONTROLLER:PATH", " (cgroup v2 takes a path alone: it has one hierarchy)"))
        }
        (CgroupPaths::V1(dirs), SubCgroups::All(sub)) => {
            let mut placed = BTreeMap::new();
            for (name, dir) in dirs {
                let inner = dir.join(sub);
                let dir = if !inner.is_dir() && (name == "unified" || name == "systemd") { dir.clone() } else { existing(inner)? };
                placed.insert(name.clone(), dir);
            }
            Ok(CgroupPaths::V1(placed))
        }
        (CgroupPaths::V1(dirs), SubCgroups::Controllers(wanted)) => {
            let mut placed = dirs.clone();
            for (controller, sub) in wanted {
                let name = controller.strip_prefix("name=").unwrap_or(controller);
                let hierarchy = dirs.keys().find(|key| key.split(',').any(|c| c == name));
                let Some(hierarchy) = hierarchy else {
                    return Err(SubCgroupError::UnknownController { controller: controller.clone() });
                };
                placed.insert(hierarchy.clone(), existing(dirs[hierarchy].join(sub))?);
            }
            Ok(CgroupPaths::V1(placed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn forms_runc_takes_and_refuses() {
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(parse(&args(&["sub/a"])).unwrap(), Some(SubCgroups::All("sub/a".into())));
        let Some(SubCgroups::Controllers(map)) = parse(&args(&["pids,memory:x", "cpu:/y"])).unwrap() else { panic!() };
        assert_eq!(map.len(), 3);
        assert_eq!(map["cpu"], PathBuf::from("y"));
        let err = parse(&args(&["a", "b"])).unwrap_err().to_string();
        assert_eq!(err, "invalid --cgroup argument: a (missing <controller>: prefix)");
        assert!(parse(&args(&[",pids:x"])).unwrap_err().to_string().contains("empty <controller> prefix"));
        assert!(parse(&args(&["pids:x", "pids:y"])).unwrap_err().to_string().contains("specified multiple times"));
        assert!(parse(&args(&["a:b:c"])).is_err());
        assert!(parse(&args(&["../up"])).unwrap_err().to_string().contains("below the container's cgroup"));
        assert!(parse(&args(&["pids:a/../../b"])).is_err());
    }

    #[test]
    fn laid_over_the_container_s_cgroup() {
        let dir = std::env::temp_dir().join(format!("husk-sub-cgroup-{}", std::process::id()));
        for d in ["pids/c/sub", "memory/c", "unified/c"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let dirs: BTreeMap<String, PathBuf> =
            ["pids", "memory", "unified"].iter().map(|n| (n.to_string(), dir.join(n).join("c"))).collect();
        let paths = CgroupPaths::V1(dirs);
        let subs = parse(&args(&["pids:sub"])).unwrap().unwrap();
        let CgroupPaths::V1(placed) = apply(&paths, &subs).unwrap() else { panic!() };
        assert_eq!(placed["pids"], dir.join("pids/c/sub"));
        assert_eq!(placed["memory"], dir.join("memory/c"));
        let all = parse(&args(&["sub"])).unwrap().unwrap();
        assert_eq!(apply(&paths, &all).unwrap_err(), SubCgroupError::Missing { path: dir.join("memory/c/sub") });
        let unknown = parse(&args(&["hugetlb:sub"])).unwrap().unwrap();
        assert!(matches!(apply(&paths, &unknown), Err(SubCgroupError::UnknownController { .. })));
        let v2 = CgroupPaths::V2(dir.join("pids/c"));
        assert_eq!(apply(&v2, &all).unwrap(), CgroupPaths::V2(dir.join("pids/c/sub")));
        assert!(apply(&v2, &subs).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
