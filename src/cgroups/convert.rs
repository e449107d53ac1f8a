//! Conversions between the spec's (v1-shaped) resource values and cgroup v2
//! files, using the formulas runc and crun publish, so that one config gives
//! the same limits under any of the three runtimes.

/// A value that runc reads as "not set" when it is 0: CPU shares, period,
/// quota and realtime values, and block I/O weights. Docker sends
/// `"shares": 0` and `"weight": 0` for every container that sets none;
/// written, 0 shares would become the kernel's minimum (2), not the default.
pub fn unless_zero<T: PartialEq + Default>(value: Option<T>) -> Option<T> {
    value.filter(|v| *v != T::default())
}

/// cpu.shares (2..262144) → cpu.weight (1..10000), runc's linear map.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) → io.weight (1..10000), runc's linear map.
pub fn blkio_weight_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (weight.clamp(10, 1000) - 10) * 9999 / 990
}

/// A limit as cgroup files write it: "max" for unlimited (-1 or absent).
pub fn limit_or_max(value: Option<i64>) -> String {
    match value {
        Some(v) if v >= 0 => v.to_string(),
        _ => "max".to_string(),
    }
}

/// OCI's `memory.swap` is memory+swap (the v1 memsw limit); v2's
/// memory.swap.max is swap alone. -1 stays unlimited; swap equal to the
/// limit means no swap.
pub fn swap_to_v2(swap: i64, limit: Option<i64>) -> Result<String, String> {
    if swap < 0 {
        return Ok("max".into());
    }
    match limit {
        Some(limit) if limit >= 0 => {
            if swap < limit {
                return Err(format!("memory.swap ({swap}) must not be below memory.limit ({limit})"));
            }
            Ok((swap - limit).to_string())
        }
        // Without a memory limit, memory+swap cannot be split.
        _ => Err("memory.swap needs memory.limit on cgroup v2".into()),
    }
}

/// cpu.max: "quota period", quota "max" when unlimited.
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> String {
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".to_string(),
    };
    // Without a period, the cgroup keeps its own (an update of the quota
    // alone must not reset it).
    match period {
        Some(period) => format!("{quota} {period}"),
        None => quota,
    }
}

/// Parses a size as runc's `update` flags accept it: bytes, or a number with
/// a k/m/g/t/p suffix (binary multiples, optional "b"/"ib"), or -1.
pub fn parse_size(text: &str) -> Result<i64, String> {
    let lower = text.trim().to_ascii_lowercase();
    if lower == "-1" {
        return Ok(-1);
    }
    let digits_end = lower.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| format!("invalid size: {text:?}"))?;
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(format!("invalid size: {text:?}")),
    };
    Ok((number * (1u64 << shift) as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_unset() {
        assert_eq!(unless_zero(Some(0u64)), None);
        assert_eq!(unless_zero(Some(0i64)), None);
        assert_eq!(unless_zero(Some(512u64)), Some(512));
        assert_eq!(unless_zero(None::<u16>), None);
    }

    #[test]
    fn shares_map_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 0);
    }

    #[test]
    fn blkio_weight_maps_like_runc() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_and_limits() {
        assert_eq!(swap_to_v2(-1, Some(100)).unwrap(), "max");
        assert_eq!(swap_to_v2(100, Some(100)).unwrap(), "0");
        assert_eq!(swap_to_v2(300, Some(100)).unwrap(), "200");
        assert!(swap_to_v2(50, Some(100)).is_err());
        assert_eq!(limit_or_max(Some(-1)), "max");
        assert_eq!(limit_or_max(Some(10)), "10");
        assert_eq!(cpu_max(Some(50_000), Some(100_000)), "50000 100000");
        assert_eq!(cpu_max(None, None), "max");
        assert_eq!(cpu_max(Some(20_000), None), "20000");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("48M").unwrap(), 48 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("lots").is_err());
    }
}
