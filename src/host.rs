//! What husk needs to know about the host, read once per command and passed
//! down: the cgroup mode, the mount table and husk's own cgroups. Everything
//! that decides from these (cgroup path resolution, the v1 hierarchies, the
//! container's /sys/fs/cgroup) takes a `HostFacts`, so that it is tested on
//! recorded data from real hosts (src/testdata/hosts/) rather than on the
//! machine the tests happen to run on.

use std::path::Path;

use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};
use procfs::process::{MountInfo, MountInfos};
use procfs::{ProcessCGroup, ProcessCGroups};

/// Where cgroup controllers are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, thiserror::Error)]
#[error("reading the host's {what}: {message}")]
pub struct HostError {
    what: &'static str,
    message: String,
}

impl HostError {
    fn from_proc(what: &'static str) -> impl FnOnce(procfs::ProcError) -> HostError {
        move |e| HostError { what, message: e.to_string() }
    }
}

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// v1 hierarchies under /sys/fs/cgroup, no cgroup2.
    V1,
    /// v1 hierarchies and a cgroup2 tree beside them (/sys/fs/cgroup/unified).
    Hybrid,
    /// /sys/fs/cgroup is cgroup2 itself.
    V2,
}

/// The host, as husk saw it when the command started.
#[derive(Debug)]
pub struct HostFacts {
    pub cgroup_mode: CgroupMode,
    /// husk's mount namespace (/proc/self/mountinfo). A container's new
    /// mount namespace starts as a copy of it.
    pub mounts: Vec<MountInfo>,
    /// husk's own cgroup in each hierarchy (/proc/self/cgroup).
    pub own_cgroups: Vec<ProcessCGroup>,
}

impl HostFacts {
    /// Reads this host: /proc/self/mountinfo and /proc/self/cgroup, and
    /// whether /sys/fs/cgroup is a cgroup2 mount.
    pub fn read() -> Result<HostFacts, HostError> {
        let me = procfs::process::Process::myself().map_err(HostError::from_proc("/proc/self"))?;
        let mounts = me.mountinfo().map_err(HostError::from_proc("mountinfo"))?;
        let own = me.cgroups().map_err(HostError::from_proc("cgroups (/proc/self/cgroup)"))?;
        let root_is_cgroup2 = statfs(CGROUP_ROOT).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC);
        Ok(HostFacts::new(mounts, own, root_is_cgroup2))
    }

    /// The facts of a recorded host: the text of its /proc/self/mountinfo
    /// and /proc/self/cgroup, and whether its /sys/fs/cgroup is cgroup2.
    #[cfg(test)]
    pub fn from_recorded(mountinfo: &str, self_cgroup: &str, root_is_cgroup2: bool) -> Result<HostFacts, HostError> {
        use procfs::FromBufRead;
        use std::io::Cursor;
        let mounts = MountInfos::from_buf_read(Cursor::new(mountinfo)).map_err(HostError::from_proc("mountinfo"))?;
        let own = ProcessCGroups::from_buf_read(Cursor::new(self_cgroup))
            .map_err(HostError::from_proc("cgroups (/proc/self/cgroup)"))?;
        Ok(HostFacts::new(mounts, own, root_is_cgroup2))
    }

    fn new(mounts: MountInfos, own: ProcessCGroups, root_is_cgroup2: bool) -> HostFacts {
        let mounts = mounts.0;
        let cgroup_mode = if root_is_cgroup2 {
            CgroupMode::V2
        } else if mounts.iter().any(|m| m.fs_type == "cgroup2" && m.mount_point.parent() == Some(Path::new(CGROUP_ROOT))) {
            CgroupMode::Hybrid
        } else {
            CgroupMode::V1
        };
        HostFacts { cgroup_mode, mounts, own_cgroups: own.0 }
    }

    /// The cgroup filesystems mounted directly under /sys/fs/cgroup (on a
    /// v2 host, /sys/fs/cgroup itself).
    pub fn cgroup_mounts(&self) -> impl Iterator<Item = &MountInfo> {
        let root = Path::new(CGROUP_ROOT);
        let v2 = self.cgroup_mode == CgroupMode::V2;
        self.mounts.iter().filter(move |m| {
            let placed = if v2 { m.mount_point == root } else { m.mount_point.parent() == Some(root) };
            placed && (m.fs_type == "cgroup" || m.fs_type == "cgroup2")
        })
    }

    /// husk's own cgroup in the v1 hierarchy of these controllers
    /// (`["cpu", "cpuacct"]`, `["name=systemd"]`), or in the cgroup2 tree
    /// for an empty list.
    pub fn own_cgroup(&self, controllers: &[String]) -> Option<&str> {
        self.own_cgroups.iter().find_map(|cg| {
            let mut theirs: Vec<&str> = cg.controllers.iter().map(String::as_str).collect();
            let mut ours: Vec<&str> = controllers.iter().map(String::as_str).collect();
            theirs.sort_unstable();
            ours.sort_unstable();
            (theirs == ours && (cg.hierarchy == 0) == ours.is_empty()).then_some(cg.pathname.as_str())
        })
    }

    /// Every controller name /proc/self/cgroup lists for v1 hierarchies
    /// (`name=systemd` for a named one): what tells a mount's controllers
    /// from its other options (`rw`, `clone_children`, `release_agent=…`).
    pub fn v1_controller_names(&self) -> impl Iterator<Item = &str> {
        self.own_cgroups.iter().filter(|cg| cg.hierarchy != 0).flat_map(|cg| cg.controllers.iter().map(String::as_str))
    }
}

/// The host's online CPUs and NUMA memory nodes, which process fields
/// name (execCPUAffinity, linux.memoryPolicy): a list that names one the
/// host does not have is refused before anything is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub online_cpus: Vec<u32>,
    pub memory_nodes: Vec<u32>,
}

impl Topology {
    /// Reads /sys/devices/system/cpu/online and /sys/devices/system/node/online.
    /// A kernel without NUMA has no node directory, and one node, 0; an
    /// unreadable CPU list is empty (nothing known, nothing checked).
    pub fn read() -> Topology {
        let list = |path: &str| std::fs::read_to_string(path).ok().and_then(|t| parse_list(t.trim()).ok());
        Topology {
            online_cpus: list("/sys/devices/system/cpu/online").unwrap_or_default(),
            memory_nodes: list("/sys/devices/system/node/online").unwrap_or_else(|| vec![0]),
        }
    }
}

/// Parses the kernel's list format (cpuset(7)): `0-3,7` is 0, 1, 2, 3 and 7.
/// Returns the numbers sorted, without repeats; an empty text is no number.
pub fn parse_list(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    if text.is_empty() {
        return Ok(out);
    }
    for part in text.split(',') {
        let number = |s: &str| s.parse::<u32>().map_err(|_| format!("{text:?} is not a list such as \"0-3,7\""));
        match part.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (number(low)?, number(high)?);
                if low > high {
                    return Err(format!("{text:?}: range {part:?} goes downwards"));
                }
                out.extend(low..=high);
            }
            None => out.push(number(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Writes numbers back in the kernel's list format, ranges joined.
pub fn format_list(numbers: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        while i + 1 < numbers.len() && numbers[i + 1] == numbers[i] + 1 {
            i += 1;
        }
        parts.push(if numbers[i] == start { start.to_string() } else { format!("{start}-{}", numbers[i]) });
        i += 1;
    }
    parts.join(",")
}

/// PID 1's cgroups (/proc/1/cgroup): where the systemd driver's slices are
/// on v1 hierarchies. Read only for that driver.
pub fn read_init_cgroups() -> Result<Vec<ProcessCGroup>, HostError> {
    let init = procfs::process::Process::new(1).map_err(HostError::from_proc("/proc/1"))?;
    Ok(init.cgroups().map_err(HostError::from_proc("cgroups (/proc/1/cgroup)"))?.0)
}

/// Recorded hosts, for the unit tests of everything that takes `HostFacts`.
#[cfg(test)]
pub mod recorded {
    use super::HostFacts;

    /// This development VM: Debian 12, kernel 6.18, v1 controllers each in
    /// its own hierarchy, cgroup2 at /sys/fs/cgroup/unified; husk runs in a
    /// memory cgroup of its own (`/process_api/…`) and at the root elsewhere.
    pub fn v1_hybrid() -> HostFacts {
        HostFacts::from_recorded(
            include_str!("testdata/hosts/v1-hybrid.mountinfo"),
            include_str!("testdata/hosts/v1-hybrid.cgroup"),
            false,
        )
        .expect("recorded v1-hybrid host parses")
    }

    /// The cgroup v2 VM of integration/vm (Debian's 6.1 kernel, busybox
    /// init), recorded from a shell in a cgroup of its own.
    pub fn v2() -> HostFacts {
        HostFacts::from_recorded(include_str!("testdata/hosts/v2.mountinfo"), include_str!("testdata/hosts/v2.cgroup"), true)
            .expect("recorded v2 host parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_of_the_recorded_hosts() {
        assert_eq!(recorded::v1_hybrid().cgroup_mode, CgroupMode::Hybrid);
        assert_eq!(recorded::v2().cgroup_mode, CgroupMode::V2);
    }

    #[test]
    fn a_host_without_cgroup2_is_v1() {
        let text = include_str!("testdata/hosts/v1-hybrid.mountinfo");
        let v1_only: String = text.lines().filter(|l| !l.contains(" cgroup2 ")).map(|l| format!("{l}\n")).collect();
        let host = HostFacts::from_recorded(&v1_only, include_str!("testdata/hosts/v1-hybrid.cgroup"), false).unwrap();
        assert_eq!(host.cgroup_mode, CgroupMode::V1);
    }

    #[test]
    fn own_cgroups_by_controllers() {
        let host = recorded::v1_hybrid();
        assert!(host.own_cgroup(&["memory".into()]).is_some_and(|p| p.starts_with("/process_api/")));
        assert_eq!(host.own_cgroup(&["cpu".into()]), Some("/"));
        assert_eq!(host.own_cgroup(&["name=systemd".into()]), Some("/"));
        assert_eq!(host.own_cgroup(&[]), Some("/"));
        assert_eq!(host.own_cgroup(&["hugetlb".into()]), None);
        let v2 = recorded::v2();
        assert_eq!(v2.own_cgroup(&[]), Some("/husk-capture/shell"));
        assert_eq!(v2.own_cgroup(&["memory".into()]), None);
    }

    #[test]
    fn cgroup_mounts_of_the_recorded_hosts() {
        let points = |host: &HostFacts| -> Vec<String> {
            host.cgroup_mounts().map(|m| m.mount_point.display().to_string()).collect()
        };
        let v1 = points(&recorded::v1_hybrid());
        assert_eq!(v1.len(), 10, "{v1:?}");
        assert!(v1.contains(&"/sys/fs/cgroup/unified".to_string()));
        assert!(!v1.contains(&"/sys/fs/cgroup".to_string()), "the tmpfs is not a cgroup mount");
        assert_eq!(points(&recorded::v2()), ["/sys/fs/cgroup"]);
    }

    #[test]
    fn kernel_lists() {
        assert_eq!(parse_list("0-3,7"), Ok(vec![0, 1, 2, 3, 7]));
        assert_eq!(parse_list("7,0-1,1"), Ok(vec![0, 1, 7]));
        assert_eq!(parse_list(""), Ok(vec![]));
        assert!(parse_list("3-1").unwrap_err().contains("downwards"));
        for bad in ["a", "1,", "-1", "1-", "1--2", " 1"] {
            assert!(parse_list(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_list(&[0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
        assert_eq!(format_list(&[]), "");
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let error = HostFacts::from_recorded("not a mountinfo line", "", false).unwrap_err();
        assert!(error.to_string().starts_with("reading the host's mountinfo: "), "{error}");
    }
}
