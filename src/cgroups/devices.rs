//! The device access rules of `linux.resources.devices`, completed with the
//! devices every container may use, as runc completes them. v1 writes them
//! to devices.allow/deny; v2 compiles them to an eBPF program.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// One rule: allow or deny `access` (a subset of "rwm") to devices of a
/// type and number; `None` matches any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'c', 'b', or None for all types.
    pub kind: Option<char>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    fn allow(kind: char, major: Option<i64>, minor: Option<i64>) -> Self {
        DeviceRule { allow: true, kind: Some(kind), major, minor, access: "rwm".into() }
    }

    /// The v1 devices.allow/deny line: `c 1:3 rwm`, `a *:* rwm`.
    pub fn v1_line(&self) -> String {
        let number = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
        format!("{} {}:{} {}", self.kind.unwrap_or('a'), number(self.major), number(self.minor), self.access)
    }
}

/// Devices a container can always use (runc's AllowedDevices): the spec's
/// default devices, ptys, and mknod of any device (the node alone is harmless
/// without read/write access).
fn always_allowed() -> Vec<DeviceRule> {
    let mknod = |kind| DeviceRule { allow: true, kind: Some(kind), major: None, minor: None, access: "m".into() };
    vec![
        mknod('c'),
        mknod('b'),
        DeviceRule::allow('c', Some(1), Some(3)),   // /dev/null
        DeviceRule::allow('c', Some(1), Some(8)),   // /dev/random
        DeviceRule::allow('c', Some(1), Some(7)),   // /dev/full
        DeviceRule::allow('c', Some(5), Some(0)),   // /dev/tty
        DeviceRule::allow('c', Some(1), Some(5)),   // /dev/zero
        DeviceRule::allow('c', Some(1), Some(9)),   // /dev/urandom
        DeviceRule::allow('c', Some(136), None),    // /dev/pts/*
        DeviceRule::allow('c', Some(5), Some(2)),   // /dev/ptmx
        DeviceRule::allow('c', Some(10), Some(200)), // /dev/net/tun
    ]
}

/// The config's rules in order, then the always-allowed devices. Later rules
/// override earlier ones, as successive writes to devices.allow/deny do.
pub fn rules(configured: &[LinuxDeviceCgroup]) -> Vec<DeviceRule> {
    let mut rules: Vec<DeviceRule> = configured
        .iter()
        // A fifo is no device: no cgroup rule can be about one.
        .filter(|d| d.typ() != Some(LinuxDeviceType::P))
        .map(|d| DeviceRule {
            allow: d.allow(),
            kind: match d.typ() {
                // 'u' (unbuffered) names a character device too.
                Some(LinuxDeviceType::C | LinuxDeviceType::U) => Some('c'),
                Some(LinuxDeviceType::B) => Some('b'),
                _ => None,
            },
            major: d.major().filter(|m| *m >= 0),
            minor: d.minor().filter(|m| *m >= 0),
            access: d.access().clone().unwrap_or_else(|| "rwm".into()),
        })
        .collect();
    rules.extend(always_allowed());
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines() {
        let deny_all: LinuxDeviceCgroup = serde_json::from_value(serde_json::json!({"allow": false, "access": "rwm"})).unwrap();
        let rules = rules(&[deny_all]);
        assert_eq!(rules[0].v1_line(), "a *:* rwm");
        assert!(!rules[0].allow);
        assert!(rules.iter().any(|r| r.v1_line() == "c 1:3 rwm" && r.allow));
        assert!(rules.iter().any(|r| r.v1_line() == "c 136:* rwm"));
    }
}
