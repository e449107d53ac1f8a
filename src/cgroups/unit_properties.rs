//! The systemd unit properties of a container's resources, converted as
//! runc's systemd driver converts them (libcontainer/cgroups/systemd: its
//! `genV1ResourcesProperties`, `genV2ResourcesProperties`,
//! `unifiedResToSystemdProps` and the device rules' `systemdProperties`).
//! systemd gets what it knows as unit properties, so that a later
//! `systemctl daemon-reload` or a property change of the slice does not
//! undo the limits; the cgroup files are still written afterwards, for
//! everything else and for what systemd would round.
//!
//! Pure: the caller gives the systemd version, which decides what may be
//! sent (CPUQuotaPeriodUSec since 242, AllowedCPUs since 244).

use oci_spec::runtime::LinuxResources;

use super::convert::{blkio_weight_to_io_weight, shares_to_weight, swap_to_v2, unless_zero};
use super::devices::{self, DeviceRule};
use super::{CgroupError, Result};
use crate::systemd::manager::Property;
use crate::systemd::naming::{cpu_quota_per_sec, range_to_bits};
use crate::systemd::wire::Value;

/// Which of runc's two property sets: systemd names some limits
/// differently for v1 controllers (MemoryLimit, CPUShares, BlockIOWeight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// v1 controllers (a v1 or hybrid host).
    Legacy,
    Unified,
}

/// The resource properties, and the warnings of what systemd cannot hold
/// (those rules are still enforced through the cgroup files).
pub fn resources(r: &LinuxResources, layout: Layout, systemd_version: u32) -> Result<(Vec<Property>, Vec<String>)> {
    // Device properties only when the resources name devices, as the
    // cgroup files are only written then: an `update` of the memory limit
    // must not reset the unit's device list to the defaults.
    let (mut props, warnings) = match r.devices() {
        Some(list) => device_properties(&devices::rules(list)),
        None => (Vec::new(), Vec::new()),
    };
    let u64_prop = |name: &str, value: u64| Property::new(name, Value::U64(value));
    if let Some(memory) = r.memory() {
        // -1 ("unlimited") becomes u64::MAX, systemd's "infinity", as
        // runc's uint64 cast makes it.
        if let Some(limit) = unless_zero(memory.limit()) {
            let name = if layout == Layout::Unified { "MemoryMax" } else { "MemoryLimit" };
            props.push(u64_prop(name, limit as u64));
        }
        if layout == Layout::Unified {
            if let Some(reservation) = unless_zero(memory.reservation()) {
                props.push(u64_prop("MemoryLow", reservation as u64));
            }
            if let Some(swap) = memory.swap() {
                let value = swap_to_v2(swap, memory.limit())
                    .map_err(|m| CgroupError::config("linux.resources.memory.swap", m))?;
                match value.as_str() {
                    "max" => props.push(u64_prop("MemorySwapMax", u64::MAX)),
                    // runc sends no property for 0 (swap equal to the limit).
                    "0" => {}
                    n => props.push(u64_prop("MemorySwapMax", n.parse().unwrap_or(u64::MAX))),
                }
            }
        }
    }
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = unless_zero(cpu.shares()) {
            props.push(match layout {
                Layout::Unified => u64_prop("CPUWeight", shares_to_weight(shares)),
                Layout::Legacy => u64_prop("CPUShares", shares),
            });
        }
        cpu_quota(&mut props, cpu.quota().unwrap_or(0), cpu.period().unwrap_or(0), systemd_version);
        cpuset(&mut props, cpu.cpus().as_deref(), cpu.mems().as_deref(), systemd_version)?;
    }
    if let Some(weight) = r.block_io().as_ref().and_then(|b| unless_zero(b.weight())) {
        props.push(match layout {
            Layout::Unified => u64_prop("IOWeight", blkio_weight_to_io_weight(weight.into())),
            Layout::Legacy => u64_prop("BlockIOWeight", weight.into()),
        });
    }
    // -1 is infinity; 0 a limit, as in the files.
    if let Some(limit) = r.pids().as_ref().map(|p| p.limit()).filter(|l| *l >= -1) {
        props.push(u64_prop("TasksMax", if limit == -1 { u64::MAX } else { limit as u64 }));
    }
    if layout == Layout::Unified
        && let Some(unified) = r.unified()
    {
        props.extend(unified_properties(unified, systemd_version)?);
    }
    Ok((props, warnings))
}

/// runc's addCpuQuota: the period where systemd takes one, and the quota per
/// second (rounded up to 10 ms, see `cpu_quota_per_sec`).
fn cpu_quota(props: &mut Vec<Property>, quota: i64, period: u64, systemd_version: u32) {
    if period != 0 && systemd_version >= 242 {
        props.push(Property::new("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if let Some(per_sec) = cpu_quota_per_sec(quota, period) {
        props.push(Property::new("CPUQuotaPerSecUSec", Value::U64(per_sec)));
    }
}

fn cpuset(props: &mut Vec<Property>, cpus: Option<&str>, mems: Option<&str>, systemd_version: u32) -> Result<()> {
    if systemd_version < 244 {
        return Ok(());
    }
    for (name, field, list) in [("AllowedCPUs", "cpus", cpus), ("AllowedMemoryNodes", "mems", mems)] {
        if let Some(list) = list.filter(|l| !l.trim().is_empty()) {
            let bits = range_to_bits(field, list).map_err(|e| CgroupError::config(&format!("linux.resources.cpu.{field}"), cpu_list_problem(e)))?;
            props.push(Property::new(name, Value::bytes(&bits)));
        }
    }
    Ok(())
}

/// The problem part of a cpu list error (its field is named by the caller).
fn cpu_list_problem(error: crate::systemd::SystemdError) -> String {
    match error {
        crate::systemd::SystemdError::CpuList { value, problem, .. } => format!("\"{value}\": {problem}"),
        other => other.to_string(),
    }
}

/// The `linux.resources.unified` keys systemd has properties for; the rest
/// only go to the files, as runc does.
fn unified_properties(unified: &std::collections::HashMap<String, String>, systemd_version: u32) -> Result<Vec<Property>> {
    let mut props = Vec::new();
    // Sorted, so that the property list does not depend on hash order.
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        let value = unified[key].trim();
        let field = format!("linux.resources.unified.{key}");
        let invalid = |what: &str| CgroupError::config(&field, format!("\"{value}\": {what}"));
        let number_or_max = |text: &str| -> Result<u64> {
            if text == "max" { Ok(u64::MAX) } else { text.parse().map_err(|_| invalid("not a number or \"max\"")) }
        };
        match key.as_str() {
            "cpu.max" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                let (quota, period) = match words[..] {
                    [quota] => (quota, "100000"),
                    [quota, period] => (quota, period),
                    _ => return Err(invalid("expected \"QUOTA [PERIOD]\"")),
                };
                let quota = if quota == "max" { 0 } else { quota.parse().map_err(|_| invalid("quota is not a number"))? };
                let period = period.parse().map_err(|_| invalid("period is not a number"))?;
                cpu_quota(&mut props, quota, period, systemd_version);
            }
            "cpu.weight" => props.push(Property::new("CPUWeight", Value::U64(value.parse().map_err(|_| invalid("not a number"))?))),
            "cpuset.cpus" => cpuset(&mut props, Some(value), None, systemd_version)?,
            "cpuset.mems" => cpuset(&mut props, None, Some(value), systemd_version)?,
            "memory.high" | "memory.low" | "memory.min" | "memory.max" | "memory.swap.max" => {
                let name = match key.as_str() {
                    "memory.high" => "MemoryHigh",
                    "memory.low" => "MemoryLow",
                    "memory.min" => "MemoryMin",
                    "memory.max" => "MemoryMax",
                    _ => "MemorySwapMax",
                };
                props.push(Property::new(name, Value::U64(number_or_max(value)?)));
            }
            "pids.max" => props.push(Property::new("TasksMax", Value::U64(number_or_max(value)?))),
            _ => {}
        }
    }
    Ok(props)
}

/// What the device rules come to, as runc's device emulator reduces them.
#[derive(Debug, PartialEq, Eq)]
enum Reduced {
    AllowAll,
    /// Everything allowed but some: systemd has no deny list.
    DenyList,
    /// Nothing allowed but these: (type, major, minor, access).
    AllowList(Vec<(char, Option<i64>, Option<i64>, String)>),
}

/// Replays the rules in order, as successive writes to a v1 devices
/// cgroup apply them: a rule for every device resets the list; a rule
/// against the default adds an exception; a rule with the default takes
/// access away from the exceptions it covers.
fn reduce(rules: &[DeviceRule]) -> Reduced {
    let mut default_allow = false;
    let mut exceptions: Vec<(char, Option<i64>, Option<i64>, String)> = Vec::new();
    for rule in rules {
        let everything = rule.kind.is_none() && rule.major.is_none() && rule.minor.is_none();
        if everything && ["r", "w", "m"].iter().all(|a| rule.access.contains(a)) {
            default_allow = rule.allow;
            exceptions.clear();
            continue;
        }
        let kinds: &[char] = match rule.kind {
            Some('b') => &['b'],
            Some(_) => &['c'],
            None => &['c', 'b'],
        };
        for &kind in kinds {
            if rule.allow != default_allow {
                match exceptions.iter_mut().find(|(k, ma, mi, _)| (*k, *ma, *mi) == (kind, rule.major, rule.minor)) {
                    Some((_, _, _, access)) => *access = merge_access(access, &rule.access, true),
                    None => exceptions.push((kind, rule.major, rule.minor, merge_access("", &rule.access, true))),
                }
            } else {
                let covers = |(k, ma, mi, _): &(char, Option<i64>, Option<i64>, String)| {
                    *k == kind && rule.major.is_none_or(|m| *ma == Some(m)) && rule.minor.is_none_or(|m| *mi == Some(m))
                };
                for exception in exceptions.iter_mut().filter(|e| covers(e)) {
                    exception.3 = merge_access(&exception.3, &rule.access, false);
                }
                exceptions.retain(|e| !e.3.is_empty());
            }
        }
    }
    match (default_allow, exceptions.is_empty()) {
        (true, true) => Reduced::AllowAll,
        (true, false) => Reduced::DenyList,
        (false, _) => Reduced::AllowList(exceptions),
    }
}

/// `have` with `change`'s letters added or removed, in "rwm" order.
fn merge_access(have: &str, change: &str, add: bool) -> String {
    "rwm".chars().filter(|c| if add { have.contains(*c) || change.contains(*c) } else { have.contains(*c) && !change.contains(*c) }).collect()
}

/// `DevicePolicy` and `DeviceAllow`, in systemd's syntax: `/dev/char/1:3`
/// for one device, `char-136` for a major (systemd 240 and later parse
/// these from the string), `char-*` for every device of a type. An empty
/// `DeviceAllow` comes first, so that an update replaces the list.
fn device_properties(rules: &[DeviceRule]) -> (Vec<Property>, Vec<String>) {
    let policy = |p: &str| Property::new("DevicePolicy", Value::str(p));
    let empty = Property::new("DeviceAllow", Value::str_pairs(&[]));
    let entries = match reduce(rules) {
        Reduced::AllowAll => return (vec![policy("auto"), empty], Vec::new()),
        Reduced::DenyList => {
            let warning = "systemd has no device deny list: the unit denies every device, the cgroup's own rules apply the config's".to_string();
            return (vec![policy("strict"), empty], vec![warning]);
        }
        Reduced::AllowList(entries) => entries,
    };
    let mut warnings = Vec::new();
    let mut allow: Vec<(String, String)> = Vec::new();
    for (kind, major, minor, access) in entries {
        let group = if kind == 'b' { "block" } else { "char" };
        let path = match (major, minor) {
            (None, None) => format!("{group}-*"),
            (None, Some(minor)) => {
                warnings.push(format!("systemd takes no '{kind} *:{minor}' device rule; the cgroup's own rules apply it"));
                continue;
            }
            (Some(major), None) => format!("{group}-{major}"),
            (Some(major), Some(minor)) => format!("/dev/{group}/{major}:{minor}"),
        };
        allow.push((path, access));
    }
    let pairs: Vec<(&str, &str)> = allow.iter().map(|(p, a)| (p.as_str(), a.as_str())).collect();
    (vec![policy("strict"), empty, Property::new("DeviceAllow", Value::str_pairs(&pairs))], warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources_of(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    fn find<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
        props.iter().rev().find(|p| p.name == name).map(|p| &p.value)
    }

    #[test]
    fn the_v2_set_as_runc_sends_it() {
        let r = resources_of(serde_json::json!({
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 50},
            "blockIO": {"weight": 500}
        }));
        let (props, warnings) = resources(&r, Layout::Unified, 252).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(find(&props, "MemoryMax"), Some(&Value::U64(67108864)));
        assert_eq!(find(&props, "MemoryLow"), Some(&Value::U64(33554432)));
        assert_eq!(find(&props, "MemorySwapMax"), Some(&Value::U64(67108864)));
        assert_eq!(find(&props, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(find(&props, "CPUQuotaPeriodUSec"), Some(&Value::U64(100000)));
        assert_eq!(find(&props, "CPUQuotaPerSecUSec"), Some(&Value::U64(500000)));
        assert_eq!(find(&props, "AllowedCPUs"), Some(&Value::bytes(&[0b11])));
        assert_eq!(find(&props, "AllowedMemoryNodes"), Some(&Value::bytes(&[1])));
        assert_eq!(find(&props, "TasksMax"), Some(&Value::U64(50)));
        assert_eq!(find(&props, "IOWeight"), Some(&Value::U64(blkio_weight_to_io_weight(500))));
        assert!(find(&props, "MemoryLimit").is_none() && find(&props, "CPUShares").is_none());
    }

    #[test]
    fn the_v1_set_uses_the_legacy_names() {
        let r = resources_of(serde_json::json!({
            "memory": {"limit": 67108864, "reservation": 1, "swap": -1},
            "cpu": {"shares": 512},
            "pids": {"limit": -1},
            "blockIO": {"weight": 500}
        }));
        let (props, _) = resources(&r, Layout::Legacy, 252).unwrap();
        assert_eq!(find(&props, "MemoryLimit"), Some(&Value::U64(67108864)));
        assert_eq!(find(&props, "CPUShares"), Some(&Value::U64(512)));
        assert_eq!(find(&props, "BlockIOWeight"), Some(&Value::U64(500)));
        assert_eq!(find(&props, "TasksMax"), Some(&Value::U64(u64::MAX)));
        for absent in ["MemoryMax", "MemoryLow", "MemorySwapMax", "CPUWeight", "CPUQuotaPerSecUSec"] {
            assert!(find(&props, absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn zeros_and_old_systemds_send_nothing() {
        // Docker's "shares": 0, "weight": 0; a pids limit of 0 is one.
        let r = resources_of(serde_json::json!({
            "memory": {"limit": 0, "swap": 0}, "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "0"},
            "pids": {"limit": 0}, "blockIO": {"weight": 0}
        }));
        let (props, _) = resources(&r, Layout::Unified, 252).unwrap();
        let names: Vec<&str> = props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["AllowedCPUs", "TasksMax"]);
        assert_eq!(find(&props, "TasksMax"), Some(&Value::U64(0)));
        let r = resources_of(serde_json::json!({"cpu": {"quota": 20000, "period": 50000, "cpus": "0"}}));
        let (props, _) = resources(&r, Layout::Unified, 241).unwrap();
        assert!(find(&props, "CPUQuotaPeriodUSec").is_none() && find(&props, "AllowedCPUs").is_none());
        assert_eq!(find(&props, "CPUQuotaPerSecUSec"), Some(&Value::U64(400000)));
    }

    #[test]
    fn unified_keys_systemd_knows() {
        let r = resources_of(serde_json::json!({"unified": {
            "memory.high": "1048576", "memory.max": "max", "pids.max": "7", "cpu.max": "max 50000",
            "cpu.weight": "300", "io.max": "8:0 rbps=1", "memory.oom.group": "1"
        }}));
        let (props, _) = resources(&r, Layout::Unified, 252).unwrap();
        assert_eq!(find(&props, "MemoryHigh"), Some(&Value::U64(1048576)));
        assert_eq!(find(&props, "MemoryMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(find(&props, "TasksMax"), Some(&Value::U64(7)));
        assert_eq!(find(&props, "CPUQuotaPerSecUSec"), Some(&Value::U64(u64::MAX)));
        assert_eq!(find(&props, "CPUQuotaPeriodUSec"), Some(&Value::U64(50000)));
        assert_eq!(find(&props, "CPUWeight"), Some(&Value::U64(300)));
        let bad = resources_of(serde_json::json!({"unified": {"memory.high": "lots"}}));
        let error = resources(&bad, Layout::Unified, 252).unwrap_err().to_string();
        assert_eq!(error, "config.json: linux.resources.unified.memory.high: \"lots\": not a number or \"max\"");
        let bad = resources_of(serde_json::json!({"cpu": {"cpus": "3-1"}}));
        let error = resources(&bad, Layout::Unified, 252).unwrap_err().to_string();
        assert_eq!(error, "config.json: linux.resources.cpu.cpus: \"3-1\": invalid range 3-1");
    }

    fn device_props(json: serde_json::Value) -> (Vec<Property>, Vec<String>) {
        let configured: Vec<oci_spec::runtime::LinuxDeviceCgroup> = serde_json::from_value(json).unwrap();
        device_properties(&devices::rules(&configured))
    }

    fn allow_list(props: &[Property]) -> Vec<(String, String)> {
        match find(props, "DeviceAllow") {
            Some(Value::Array(_, items)) => items
                .iter()
                .map(|item| match item {
                    Value::Struct(pair) => (pair[0].as_str().unwrap().to_string(), pair[1].as_str().unwrap().to_string()),
                    other => panic!("{other:?}"),
                })
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn devices_only_when_named() {
        let (props, _) = resources(&resources_of(serde_json::json!({"memory": {"limit": 1}})), Layout::Unified, 252).unwrap();
        assert!(find(&props, "DevicePolicy").is_none());
        let (props, _) = resources(&resources_of(serde_json::json!({"devices": []})), Layout::Unified, 252).unwrap();
        assert_eq!(find(&props, "DevicePolicy"), Some(&Value::str("strict")));
    }

    #[test]
    fn deny_all_then_allows_is_a_strict_allow_list() {
        let (props, warnings) = device_props(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
            {"allow": true, "type": "b", "major": 8, "access": "r"},
            {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}
        ]));
        assert!(warnings.is_empty());
        assert_eq!(find(&props, "DevicePolicy"), Some(&Value::str("strict")));
        let list = allow_list(&props);
        let has = |path: &str, access: &str| list.contains(&(path.to_string(), access.to_string()));
        assert!(has("/dev/char/10:229", "r"), "{list:?}");
        assert!(has("block-8", "r"), "{list:?}");
        // The devices every container gets (devices::always_allowed).
        assert!(has("/dev/char/1:3", "rwm") && has("char-136", "rwm") && has("char-*", "m") && has("block-*", "m"), "{list:?}");
    }

    #[test]
    fn allow_all_and_deny_lists() {
        let (props, _) = device_props(serde_json::json!([{"allow": true, "access": "rwm"}]));
        assert_eq!(find(&props, "DevicePolicy"), Some(&Value::str("auto")));
        assert!(allow_list(&props).is_empty());
        let (props, warnings) = device_props(serde_json::json!([
            {"allow": true, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
        ]));
        // The always-allowed /dev/null rule comes later and takes the
        // exception back: everything is allowed again.
        assert_eq!(find(&props, "DevicePolicy"), Some(&Value::str("auto")), "{props:?} {warnings:?}");
        let (props, warnings) = device_props(serde_json::json!([
            {"allow": true, "access": "rwm"},
            {"allow": false, "type": "c", "major": 4, "minor": 1, "access": "rwm"}
        ]));
        assert_eq!(find(&props, "DevicePolicy"), Some(&Value::str("strict")));
        assert!(allow_list(&props).is_empty());
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn access_merges_in_rwm_order() {
        assert_eq!(merge_access("m", "wr", true), "rwm");
        assert_eq!(merge_access("rwm", "w", false), "rm");
        assert_eq!(merge_access("r", "r", false), "");
    }
}
