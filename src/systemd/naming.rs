//! The pure rules of runc's systemd driver that need no bus: what
//! `linux.cgroupsPath` ("slice:prefix:name") names, the unit made for it,
//! the cgroup that unit gets, and the conversions of resources into unit
//! property values.

use super::SystemdError;

/// The unit systemd makes for a container, parsed from `linux.cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdCgroup {
    /// The parent slice unit, e.g. `system.slice` or `a-b.slice`.
    pub slice: String,
    pub prefix: String,
    pub name: String,
}

fn path_error(problem: String) -> SystemdError {
    SystemdError::CgroupsPath { problem }
}

impl SystemdCgroup {
    /// runc's reading: an empty path is `runc-<id>.scope` in the default
    /// slice; otherwise exactly three `:`-separated parts, where an empty
    /// slice means the default (`system.slice`, or `user.slice` rootless).
    /// Refused here rather than by systemd: an empty name and a `/` in the
    /// prefix or the name (a unit name cannot hold one), and a slice that is
    /// not a valid slice unit name.
    pub fn parse(cgroups_path: Option<&str>, container_id: &str, rootless: bool) -> Result<Self, SystemdError> {
        let default_slice = if rootless { "user.slice" } else { "system.slice" };
        let path = cgroups_path.unwrap_or("");
        if path.is_empty() {
            return Ok(SystemdCgroup { slice: default_slice.into(), prefix: "runc".into(), name: container_id.into() });
        }
        let parts: Vec<&str> = path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(path_error(format!(
                "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"{path}\" instead"
            )));
        };
        if name.is_empty() {
            return Err(path_error(format!("\"{path}\": the name (after the second ':') is empty")));
        }
        for (what, part) in [("prefix", prefix), ("name", name)] {
            if part.contains('/') {
                return Err(path_error(format!("\"{path}\": the {what} \"{part}\" contains a '/'")));
            }
        }
        let slice = if slice.is_empty() { default_slice } else { slice };
        expand_slice(slice).map_err(|problem| path_error(format!("\"{path}\": {problem}")))?;
        Ok(SystemdCgroup { slice: slice.into(), prefix: prefix.into(), name: name.into() })
    }

    /// `<prefix>-<name>.scope`, or the name itself when it is a slice (as
    /// kubelet asks for its pod slices).
    pub fn unit_name(&self) -> String {
        if self.name.ends_with(".slice") {
            self.name.clone()
        } else {
            format!("{}-{}.scope", self.prefix, self.name)
        }
    }

    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// The unit's cgroup, relative to the hierarchy's root: the slice's
    /// parents, then the unit. `manager_cgroup` is the user manager's own
    /// cgroup when rootless (systemd's `ControlGroup` manager property,
    /// e.g. `/user.slice/user-1000.slice/user@1000.service`); on a v1
    /// hierarchy, runc puts this under PID 1's cgroup less `init.scope`,
    /// which is the root on every current systemd.
    pub fn cgroup_path(&self, manager_cgroup: Option<&str>) -> String {
        let slice = expand_slice(&self.slice).expect("validated by parse");
        let mut path = manager_cgroup.unwrap_or("").trim_end_matches('/').to_string();
        if slice != "/" {
            path.push_str(&slice);
        }
        path.push('/');
        path.push_str(&self.unit_name());
        path
    }
}

/// A slice's place in the tree: systemd nests `a-b.slice` under `a.slice`,
/// so `test-a-b.slice` is `/test.slice/test-a.slice/test-a-b.slice`, and
/// `-.slice` is the root.
pub fn expand_slice(slice: &str) -> Result<String, String> {
    let invalid = || format!("invalid slice name \"{slice}\"");
    let base = slice.strip_suffix(".slice").filter(|b| !b.is_empty()).ok_or_else(invalid)?;
    if slice.contains('/') {
        return Err(invalid());
    }
    if base == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for component in base.split('-') {
        // "test--a.slice" and "-test.slice" are not slices.
        if component.is_empty() {
            return Err(invalid());
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(component);
        path.push_str(".slice");
        prefix.push_str(component);
        prefix.push('-');
    }
    Ok(path)
}

/// `CPUQuotaPerSecUSec` for a quota and period (µs), as runc computes it:
/// none when neither is set, "infinity" (u64::MAX) without a positive quota,
/// else the quota per second of CPU rounded up to 10 ms, since systemd keeps
/// the value as a whole percentage and the cgroup would otherwise get less
/// than asked.
pub fn cpu_quota_per_sec(quota: i64, period: u64) -> Option<u64> {
    if quota == 0 && period == 0 {
        return None;
    }
    if quota <= 0 {
        return Some(u64::MAX);
    }
    let period = if period == 0 { 100_000 } else { period };
    let per_sec = (quota as u64).saturating_mul(1_000_000) / period;
    Some(per_sec.div_ceil(10_000) * 10_000)
}

/// A cpuset list ("0-3,7") as the bitmask systemd takes for `AllowedCPUs`
/// and `AllowedMemoryNodes` (`ay`): byte 0 holds CPUs 0–7, with no trailing
/// zero bytes. Spaces around items and empty items are allowed, as runc
/// allows them; an empty set is refused.
pub fn range_to_bits(field: &'static str, list: &str) -> Result<Vec<u8>, SystemdError> {
    let problem = |p: String| SystemdError::CpuList { field, value: list.to_string(), problem: p };
    let number = |s: &str| s.parse::<u32>().map_err(|_| problem(format!("\"{s}\" is not a number")));
    let mut bytes: Vec<u8> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (start, end) = match item.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(item)?, number(item)?),
        };
        if start > end {
            return Err(problem(format!("invalid range {item}")));
        }
        if end >= 1 << 16 {
            return Err(problem(format!("{end} is past the largest CPU systemd takes")));
        }
        for bit in start..=end {
            let at = (bit / 8) as usize;
            if bytes.len() <= at {
                bytes.resize(at + 1, 0);
            }
            bytes[at] |= 1 << (bit % 8);
        }
    }
    if bytes.is_empty() {
        return Err(problem("empty set".into()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str) -> Result<SystemdCgroup, String> {
        SystemdCgroup::parse(Some(path), "c1", false).map_err(|e| e.to_string())
    }

    #[test]
    fn slice_prefix_name_as_runc_reads_it() {
        let docker = parse("system.slice:docker:1234").unwrap();
        assert_eq!(docker.unit_name(), "docker-1234.scope");
        assert_eq!(docker.cgroup_path(None), "/system.slice/docker-1234.scope");

        let default = SystemdCgroup::parse(None, "web", false).unwrap();
        assert_eq!((default.slice.as_str(), default.unit_name()), ("system.slice", "runc-web.scope".into()));
        let rootless = SystemdCgroup::parse(Some(""), "web", true).unwrap();
        assert_eq!(rootless.slice, "user.slice");
        assert_eq!(parse(":husk:x").unwrap().slice, "system.slice");
        assert_eq!(SystemdCgroup::parse(Some(":husk:x"), "c", true).unwrap().slice, "user.slice");

        let dashed = parse("a-b.slice:husk:x").unwrap();
        assert_eq!(dashed.cgroup_path(None), "/a.slice/a-b.slice/husk-x.scope");
        assert_eq!(parse("-.slice:husk:x").unwrap().cgroup_path(None), "/husk-x.scope");

        // kubelet's pod slices: the name is the unit.
        let pod = parse("kubepods.slice:husk:kubepods-pod1.slice").unwrap();
        assert!(pod.is_slice());
        assert_eq!(pod.unit_name(), "kubepods-pod1.slice");

        let user = parse("user.slice:husk:x").unwrap();
        assert_eq!(
            user.cgroup_path(Some("/user.slice/user-1000.slice/user@1000.service")),
            "/user.slice/user-1000.slice/user@1000.service/user.slice/husk-x.scope"
        );
    }

    #[test]
    fn malformed_paths_name_the_field() {
        assert_eq!(
            parse("system.slice:x").unwrap_err(),
            "config.json: linux.cgroupsPath: expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got \"system.slice:x\" instead"
        );
        assert!(parse("a:b:c:d").unwrap_err().contains("of format \"slice:prefix:name\""));
        assert_eq!(
            parse("system.slice:husk:").unwrap_err(),
            "config.json: linux.cgroupsPath: \"system.slice:husk:\": the name (after the second ':') is empty"
        );
        assert_eq!(
            parse("system.slice:husk:a/b").unwrap_err(),
            "config.json: linux.cgroupsPath: \"system.slice:husk:a/b\": the name \"a/b\" contains a '/'"
        );
        assert!(parse("system.slice:hu/sk:x").unwrap_err().contains("the prefix \"hu/sk\" contains a '/'"));
        assert_eq!(
            parse("system:husk:x").unwrap_err(),
            "config.json: linux.cgroupsPath: \"system:husk:x\": invalid slice name \"system\""
        );
    }

    #[test]
    fn slices_expand_as_systemd_nests_them() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(expand_slice("test-a-b.slice").unwrap(), "/test.slice/test-a.slice/test-a-b.slice");
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        for bad in [".slice", "slice", "a.scope", "test--a.slice", "-test.slice", "test-.slice", "a/b.slice"] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpu_quota_rounds_up_to_ten_milliseconds() {
        assert_eq!(cpu_quota_per_sec(0, 0), None);
        assert_eq!(cpu_quota_per_sec(50_000, 100_000), Some(500_000));
        assert_eq!(cpu_quota_per_sec(50_000, 0), Some(500_000)); // the default period
        assert_eq!(cpu_quota_per_sec(1_001, 100_000), Some(20_000)); // 10 010 µs → 20 ms
        assert_eq!(cpu_quota_per_sec(123_456, 1_000_000), Some(130_000));
        assert_eq!(cpu_quota_per_sec(-1, 100_000), Some(u64::MAX));
        assert_eq!(cpu_quota_per_sec(0, 50_000), Some(u64::MAX));
    }

    #[test]
    fn cpu_lists_become_systemd_bitmasks() {
        assert_eq!(range_to_bits("cpus", "0").unwrap(), [1]);
        assert_eq!(range_to_bits("cpus", "0-3,5").unwrap(), [0b10_1111]);
        assert_eq!(range_to_bits("cpus", " 9 ,,").unwrap(), [0, 0b10]);
        assert_eq!(range_to_bits("mems", "8-15").unwrap(), [0, 0xff]);
        let err = range_to_bits("cpus", "3-1").unwrap_err().to_string();
        assert_eq!(err, "config.json: linux.resources.cpu.cpus: \"3-1\": invalid range 3-1");
        assert!(range_to_bits("cpus", "").is_err());
        assert!(range_to_bits("cpus", "a").is_err());
        assert!(range_to_bits("cpus", "1-").is_err());
    }
}
