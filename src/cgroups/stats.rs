//! Resource usage as `events --stats` prints it: the JSON shape of runc's
//! types/events.go, field names and `omitempty` rules included (a zero
//! number, an empty list or map is left out where runc leaves it out; a
//! nested object never is). The shape is runc 1.1's, Debian's runc, which the
//! integration tests compare with key by key; newer runc adds `psi` (only
//! where pressure files are read) and `memory.event_count`, which husk does
//! not print.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{keyed, read, read_u64};

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    /// Per page size (`2MB`, `1GB`), as the hugetlb files name them.
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: IntelRdt,
    /// runc lists the interfaces it configured itself (none when the
    /// network namespace is set up by someone else): null.
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// The cpuset's settings (v1 only; zeros on v2, as in runc).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// v1: memory+swap (memsw); v2: swap alone.
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat, whole.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Bytes; `max` is the highest usage seen.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// 0 for no limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// The highest usage seen (v1 only).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Intel RDT (resctrl) is not supported: runc prints `{}` without it too.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct IntelRdt {}

/// An interface's counters, with runc's (Go's default) field names.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// A cgroup file holding one number, or "max" (unlimited): u64::MAX for
/// "max", as runc reports it.
pub fn read_limit(dir: &Path, file: &str) -> u64 {
    match read(dir, file).as_deref().map(str::trim) {
        Some("max") => u64::MAX,
        Some(value) => value.parse().unwrap_or(0),
        None => 0,
    }
}

/// A cpu or memory node list (`0-3,8`) as numbers.
pub fn parse_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.trim().parse::<u16>().ok()),
        }
    }
    out
}

/// v1 blkio lines (`8:0 Read 4096`, ending in `Total 4096`) as entries;
/// the totals are left out, as runc leaves them.
pub fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (device, op, value) = (words.next()?, words.next()?, words.next()?);
            let (major, minor) = device.split_once(':')?;
            Some(BlkioEntry { major: major.parse().ok()?, minor: minor.parse().ok()?, op: op.to_string(), value: value.parse().ok()? })
        })
        .collect()
}

/// v2 io.stat lines (`8:0 rbytes=4096 wbytes=0 rios=1 wios=0 …`) as
/// runc's byte and operation entries, Read then Write for each device.
pub fn parse_io_stat(text: &str) -> Blkio {
    let mut blkio = Blkio::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some((major, minor)) = words.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else { continue };
        for word in words {
            let Some((key, value)) = word.split_once('=') else { continue };
            let (list, op) = match key {
                "rbytes" => (&mut blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut blkio.io_service_bytes_recursive, "Write"),
                "rios" => (&mut blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut blkio.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry { major, minor, op: op.to_string(), value: value.parse().unwrap_or(0) });
        }
    }
    blkio
}

/// The page sizes of the hugetlb files in a directory (`hugetlb.2MB.*`).
pub fn hugetlb_sizes(dir: &Path) -> Vec<String> {
    let mut sizes: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let rest = name.strip_prefix("hugetlb.")?;
            Some(rest.split_once('.')?.0.to_string())
        })
        .collect();
    sizes.sort();
    sizes.dedup();
    sizes
}

/// A flat-keyed file's value for one key, 0 if absent.
pub fn key(dir: &Path, file: &str, name: &str) -> u64 {
    keyed(dir, file).get(name).copied().unwrap_or(0)
}

/// A v1 memory entry: `memory.<prefix>usage_in_bytes` and its siblings
/// (prefix "", "memsw.", "kmem.", "kmem.tcp."); zeros where the files do
/// not exist (no swap accounting), as in runc.
pub fn memory_entry_v1(dir: &Path, prefix: &str) -> MemoryEntry {
    let file = |name: &str| format!("memory.{prefix}{name}");
    MemoryEntry {
        limit: read_u64(dir, &file("limit_in_bytes")),
        usage: read_u64(dir, &file("usage_in_bytes")),
        max: read_u64(dir, &file("max_usage_in_bytes")),
        failcnt: read_u64(dir, &file("failcnt")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_blkio_lines() {
        assert_eq!(parse_list("0-3,8\n"), [0, 1, 2, 3, 8]);
        assert_eq!(parse_list(""), Vec::<u16>::new());
        let v1 = parse_blkio_v1("8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n");
        assert_eq!(v1.len(), 3);
        assert_eq!(v1[0], BlkioEntry { major: 8, minor: 0, op: "Read".into(), value: 4096 });
        let v2 = parse_io_stat("253:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(v2.io_service_bytes_recursive.iter().map(|e| e.value).collect::<Vec<_>>(), [4096, 8192]);
        assert_eq!(v2.io_serviced_recursive.iter().map(|e| (e.op.as_str(), e.value)).collect::<Vec<_>>(), [("Read", 1), ("Write", 2)]);
    }

    /// The empty value prints as runc prints a container that used
    /// nothing: every object there, zero numbers left out where runc
    /// leaves them out.
    #[test]
    fn json_shape_and_omitted_zeros() {
        let json = serde_json::to_value(Stats::default()).unwrap();
        let expected = serde_json::json!({
            "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
            "cpuset": {
                "cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
                "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
                "sched_load_balance": 0, "sched_relax_domain_level": 0
            },
            "memory": {
                "usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}
            },
            "pids": {},
            "blkio": {},
            "hugetlb": {},
            "intel_rdt": {},
            "network_interfaces": null
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn json_names_of_set_fields() {
        let stats = Stats {
            cpu: Cpu {
                usage: CpuUsage { total: 5, percpu: vec![2, 3], percpu_kernel: vec![1, 1], percpu_user: vec![1, 2], kernel: 2, user: 3 },
                throttling: Throttling { periods: 10, throttled_periods: 4, throttled_time: 7 },
            },
            hugetlb: [("2MB".to_string(), Hugetlb { usage: 0, max: 0, failcnt: 1 })].into_iter().collect(),
            ..Stats::default()
        };
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["cpu"]["throttling"], serde_json::json!({"periods": 10, "throttledPeriods": 4, "throttledTime": 7}));
        assert_eq!(json["cpu"]["usage"]["percpu_kernel"], serde_json::json!([1, 1]));
        assert_eq!(json["hugetlb"], serde_json::json!({"2MB": {"failcnt": 1}}));
        let interface = serde_json::to_value(NetworkInterface { name: "eth0".into(), rx_bytes: 1, ..Default::default() }).unwrap();
        assert_eq!(interface["Name"], "eth0");
        assert_eq!(interface["RxBytes"], 1);
    }
}
