//! The device access rules of `linux.resources.devices`, completed with the
//! devices every container may use, as runc completes them. v1 writes them
//! to devices.allow/deny; v2 compiles them to an eBPF program.

use std::collections::BTreeMap;

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

/// What a v1 devices cgroup allows, as runc's emulator models it: a default
/// (allow or deny everything) and exceptions to it, each device pattern with
/// the accesses that differ from the default. v1 rules are then written as
/// the smallest change from what the cgroup has (its devices.list) to what
/// the config asks: no moment where a device the container uses is denied,
/// and no write the kernel would take differently from what was meant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Emulator {
    default_allow: bool,
    exceptions: BTreeMap<Pattern, Access>,
}

/// A device pattern, ordered as runc orders them (major, minor, type), with
/// a wildcard (-1) before any number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pattern {
    major: i64,
    minor: i64,
    kind: char,
}

/// A subset of "rwm", as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Access(u8);

const LETTERS: [(char, u8); 3] = [('r', 1), ('w', 2), ('m', 4)];

impl Access {
    fn parse(text: &str) -> Option<Access> {
        text.chars()
            .try_fold(0u8, |bits, c| LETTERS.iter().find(|(l, _)| *l == c).map(|(_, b)| bits | b))
            .map(Access)
    }

    fn text(self) -> String {
        LETTERS.iter().filter(|(_, b)| self.0 & b != 0).map(|(l, _)| l).collect()
    }

    fn minus(self, other: Access) -> Access {
        Access(self.0 & !other.0)
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Emulator {
    /// The state a devices.list shows. A cgroup that allows by default
    /// lists `a *:* rwm` alone: its deny exceptions cannot be read back.
    pub fn from_list(list: &str) -> Result<Emulator, String> {
        let mut emulator = Emulator::default();
        for line in list.lines().filter(|l| !l.trim().is_empty()) {
            let rule = parse_list_line(line).ok_or_else(|| format!("devices.list line {line:?} is not in its format"))?;
            emulator.apply(&rule)?;
        }
        Ok(emulator)
    }

    /// The state the rules make of a cgroup that starts denying everything.
    pub fn from_rules(rules: &[DeviceRule]) -> Result<Emulator, String> {
        let mut emulator = Emulator::default();
        for rule in rules {
            emulator.apply(rule)?;
        }
        Ok(emulator)
    }

    /// One write to devices.allow (`rule.allow`) or devices.deny, as the
    /// kernel takes it; refused where the kernel would silently do less.
    fn apply(&mut self, rule: &DeviceRule) -> Result<(), String> {
        let Some(kind) = rule.kind else {
            // Type `a` resets the cgroup, whatever numbers it carries.
            *self = Emulator { default_allow: rule.allow, exceptions: BTreeMap::new() };
            return Ok(());
        };
        let access = Access::parse(&rule.access).ok_or_else(|| format!("access {:?} is not a subset of \"rwm\"", rule.access))?;
        let pattern = Pattern { major: rule.major.unwrap_or(-1), minor: rule.minor.unwrap_or(-1), kind };
        if rule.allow != self.default_allow {
            let entry = self.exceptions.entry(pattern).or_default();
            entry.0 |= access.0;
            return Ok(());
        }
        // Removing an exception: the kernel ignores a removal from within a
        // wider (wildcard) exception, which would leave access the config
        // meant to take away.
        let wider = [
            Pattern { major: -1, ..pattern },
            Pattern { minor: -1, ..pattern },
            Pattern { major: -1, minor: -1, ..pattern },
        ];
        for wide in wider.into_iter().filter(|w| *w != pattern) {
            if self.exceptions.get(&wide).is_some_and(|a| a.0 & access.0 != 0) {
                return Err(format!(
                    "the rule {:?} cannot be applied on cgroup v1: it would punch a hole in the wider rule {:?}",
                    rule.v1_line(),
                    exception_rule(wide, self.exceptions[&wide], true).v1_line()
                ));
            }
        }
        if let Some(current) = self.exceptions.get_mut(&pattern) {
            *current = current.minus(access);
            if current.is_empty() {
                self.exceptions.remove(&pattern);
            }
        }
        Ok(())
    }

    pub fn default_allow(&self) -> bool {
        self.default_allow
    }

    /// The writes that take a cgroup from this state to `target`: a reset
    /// only when the default changes, or when this state allows by default
    /// (whose deny exceptions are unknown); then the exceptions to drop, then
    /// those to add.
    pub fn transition(&self, target: &Emulator) -> Vec<DeviceRule> {
        let mut writes = Vec::new();
        let empty = BTreeMap::new();
        let mut old = &self.exceptions;
        if self.default_allow || self.default_allow != target.default_allow {
            writes.push(DeviceRule { allow: target.default_allow, kind: None, major: None, minor: None, access: "rwm".into() });
            old = &empty;
        }
        for (pattern, access) in old {
            let dropped = access.minus(target.exceptions.get(pattern).copied().unwrap_or_default());
            if !dropped.is_empty() {
                writes.push(exception_rule(*pattern, dropped, target.default_allow));
            }
        }
        for (pattern, access) in &target.exceptions {
            let gained = access.minus(old.get(pattern).copied().unwrap_or_default());
            if !gained.is_empty() {
                writes.push(exception_rule(*pattern, gained, !target.default_allow));
            }
        }
        writes
    }
}

fn exception_rule(pattern: Pattern, access: Access, allow: bool) -> DeviceRule {
    let number = |n: i64| (n >= 0).then_some(n);
    DeviceRule { allow, kind: Some(pattern.kind), major: number(pattern.major), minor: number(pattern.minor), access: access.text() }
}

/// A devices.list line, `c 1:3 rwm` or `a *:* rwm`, as an allow rule.
fn parse_list_line(line: &str) -> Option<DeviceRule> {
    let mut fields = line.split_whitespace();
    let kind = match fields.next()? {
        "a" => None,
        "b" => Some('b'),
        "c" => Some('c'),
        _ => return None,
    };
    let (major, minor) = fields.next()?.split_once(':')?;
    let number = |n: &str| -> Option<Option<i64>> {
        if n == "*" { Some(None) } else { n.parse::<u32>().ok().map(|n| Some(i64::from(n))) }
    };
    let access = fields.next()?.to_string();
    if fields.next().is_some() || Access::parse(&access).is_none_or(Access::is_empty) {
        return None;
    }
    Some(DeviceRule { allow: true, kind, major: number(major)?, minor: number(minor)?, access })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(line: &str, allow: bool) -> DeviceRule {
        DeviceRule { allow, ..parse_list_line(line).unwrap() }
    }

    fn lines(rules: &[DeviceRule]) -> Vec<String> {
        rules.iter().map(|r| format!("{} {}", if r.allow { "allow" } else { "deny" }, r.v1_line())).collect()
    }

    #[test]
    fn a_new_cgroup_is_reset_then_given_its_devices() {
        // A fresh cgroup under the root allows everything.
        let current = Emulator::from_list("a *:* rwm\n").unwrap();
        assert!(current.default_allow());
        let target = Emulator::from_rules(&[rule("a *:* rwm", false), rule("c 1:3 rwm", true), rule("c 1:5 rw", true)]).unwrap();
        assert_eq!(lines(&current.transition(&target)), ["deny a *:* rwm", "allow c 1:3 rwm", "allow c 1:5 rw"]);
    }

    #[test]
    fn a_whitelist_changes_by_its_differences_alone() {
        // Recorded from a container's devices.list after runc's create.
        let current = Emulator::from_list("c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\nb *:* m\n").unwrap();
        let target = Emulator::from_rules(&[
            rule("a *:* rwm", false),
            rule("c 1:3 rwm", true),
            rule("c 1:5 r", true),
            rule("c 136:* rwm", true),
            rule("b *:* m", true),
            rule("c 10:200 rwm", true),
        ])
        .unwrap();
        assert_eq!(lines(&current.transition(&target)), ["deny c 1:5 wm", "allow c 10:200 rwm"]);
        assert!(current.transition(&current).is_empty());
    }

    #[test]
    fn a_deny_inside_an_allowed_wildcard_is_refused() {
        let rules = [rule("a *:* rwm", false), rule("c *:* rwm", true), rule("c 1:3 w", false)];
        let e = Emulator::from_rules(&rules).unwrap_err();
        assert!(e.contains("punch a hole"), "{e}");
        // The same numbers, or no overlap in access, are fine.
        assert!(Emulator::from_rules(&[rule("a *:* rwm", false), rule("c *:* m", true), rule("c 1:3 rw", false)]).is_ok());
    }

    #[test]
    fn later_rules_override_earlier_ones() {
        let target = Emulator::from_rules(&[rule("c 1:3 rwm", true), rule("c 1:3 w", false)]).unwrap();
        assert_eq!(target, Emulator::from_list("c 1:3 rm\n").unwrap());
        let all = Emulator::from_rules(&[rule("c 1:3 rwm", true), rule("a *:* rwm", true)]).unwrap();
        assert!(all.default_allow() && all.exceptions.is_empty());
    }

    #[test]
    fn list_lines_out_of_format_are_refused() {
        assert!(Emulator::from_list("c 1:3 rwx\n").is_err());
        assert!(Emulator::from_list("x 1:3 rwm\n").is_err());
        assert!(Emulator::from_list("c 1 rwm\n").is_err());
    }

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
