//! Resource usage in the JSON shape of runc's `events --stats` data.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The numbers both cgroup versions can supply, in common units.
pub struct Raw {
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_kernel_ns: u64,
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
    pub memory_usage: u64,
    pub memory_max_usage: u64,
    pub memory_limit: u64,
    pub memory_failcnt: u64,
    pub swap_usage: u64,
    pub swap_limit: u64,
    pub cache: u64,
    pub memory_raw: BTreeMap<String, u64>,
    pub pids_current: u64,
    pub pids_limit: u64,
    /// (major:minor, read bytes, write bytes, read ops, write ops)
    pub io: Vec<(String, u64, u64, u64, u64)>,
}

pub fn assemble(raw: Raw) -> Value {
    let entry = |device: &str, op: &str, value: u64| {
        let (major, minor) = device.split_once(':').unwrap_or(("0", "0"));
        json!({"major": major.parse::<u64>().unwrap_or(0), "minor": minor.parse::<u64>().unwrap_or(0), "op": op, "value": value})
    };
    let mut bytes = Vec::new();
    let mut ops = Vec::new();
    for (device, rbytes, wbytes, rios, wios) in &raw.io {
        bytes.push(entry(device, "Read", *rbytes));
        bytes.push(entry(device, "Write", *wbytes));
        ops.push(entry(device, "Read", *rios));
        ops.push(entry(device, "Write", *wios));
    }
    json!({
        "cpu": {
            "usage": {"total": raw.cpu_total_ns, "kernel": raw.cpu_kernel_ns, "user": raw.cpu_user_ns},
            "throttling": {
                "periods": raw.periods,
                "throttled_periods": raw.throttled_periods,
                "throttled_time": raw.throttled_ns
            }
        },
        "memory": {
            "cache": raw.cache,
            "usage": {"limit": raw.memory_limit, "usage": raw.memory_usage, "max": raw.memory_max_usage, "failcnt": raw.memory_failcnt},
            "swap": {"limit": raw.swap_limit, "usage": raw.swap_usage},
            "raw": raw.memory_raw
        },
        "pids": {"current": raw.pids_current, "limit": raw.pids_limit},
        "blkio": {"ioServiceBytesRecursive": bytes, "ioServicedRecursive": ops},
        "hugetlb": {}
    })
}
