//! The cgroup files v1 and v2 share in meaning, if not always in name:
//! block I/O throttles, rdma limits, hugetlb limits and the raw `unified`
//! keys. Each is turned into the lines to write once, here, and the v1 and
//! v2 drivers only say which version's files they write.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxHugepageLimit, LinuxRdma};

use super::{CgroupError, Result, write};

/// Which version's file names a write uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// One line written to one cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub file: String,
    pub line: String,
}

impl FileWrite {
    fn new(file: impl Into<String>, line: impl Into<String>) -> FileWrite {
        FileWrite { file: file.into(), line: line.into() }
    }
}

/// Writes each line to its file in `dir`, in order.
pub fn write_all(dir: &Path, writes: &[FileWrite]) -> Result<()> {
    for w in writes {
        write(dir, &w.file, &w.line)?;
    }
    Ok(())
}

/// `linux.resources.blockIO` throttles: v1's blkio.throttle.<kind>_device
/// (`8:0 1048576`) or v2's io.max (`8:0 rbps=1048576`), one line a device.
pub fn block_io_throttles(io: &LinuxBlockIo, version: Version) -> Vec<FileWrite> {
    let throttles = [
        ("read_bps", "rbps", io.throttle_read_bps_device()),
        ("write_bps", "wbps", io.throttle_write_bps_device()),
        ("read_iops", "riops", io.throttle_read_iops_device()),
        ("write_iops", "wiops", io.throttle_write_iops_device()),
    ];
    let mut writes = Vec::new();
    for (v1_kind, v2_key, list) in throttles {
        for device in list.iter().flatten() {
            let device_id = format!("{}:{}", device.major(), device.minor());
            writes.push(match version {
                Version::V1 => FileWrite::new(format!("blkio.throttle.{v1_kind}_device"), format!("{device_id} {}", device.rate())),
                Version::V2 => FileWrite::new("io.max", format!("{device_id} {v2_key}={}", device.rate())),
            });
        }
    }
    writes
}

/// `linux.resources.rdma`: rdma.max lines (`mlx5_0 hca_handle=3
/// hca_object=100`), the same file on both versions. Devices in name order,
/// so that the writes do not depend on a hash map's.
pub fn rdma_limits(rdma: &HashMap<String, LinuxRdma>) -> Vec<FileWrite> {
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    devices
        .into_iter()
        .map(|(device, limits)| {
            let mut line = device.clone();
            if let Some(handles) = limits.hca_handles() {
                line.push_str(&format!(" hca_handle={handles}"));
            }
            if let Some(objects) = limits.hca_objects() {
                line.push_str(&format!(" hca_object={objects}"));
            }
            FileWrite::new("rdma.max", line)
        })
        .collect()
}

/// The hugetlb limit file of a page size: v1's
/// hugetlb.<size>.limit_in_bytes, v2's hugetlb.<size>.max.
pub fn hugetlb_file(page_size: &str, version: Version) -> String {
    match version {
        Version::V1 => format!("hugetlb.{page_size}.limit_in_bytes"),
        Version::V2 => format!("hugetlb.{page_size}.max"),
    }
}

/// The hugetlb reservation limit file of a page size (kernel 5.7 and
/// later): hugetlb.<size>.rsvd.limit_in_bytes, hugetlb.<size>.rsvd.max.
pub fn hugetlb_rsvd_file(page_size: &str, version: Version) -> String {
    match version {
        Version::V1 => format!("hugetlb.{page_size}.rsvd.limit_in_bytes"),
        Version::V2 => format!("hugetlb.{page_size}.rsvd.max"),
    }
}

/// `linux.resources.hugepageLimits`, one write a page size; where the
/// kernel accounts reservations (`with_rsvd`), the same limit on them too,
/// as runc writes both: the spec's limit is of reservations where they are
/// accounted, and a fault limit alone lets mmap succeed and SIGBUS later.
pub fn hugetlb_limits(limits: &[LinuxHugepageLimit], version: Version, with_rsvd: bool) -> Vec<FileWrite> {
    let mut writes = Vec::new();
    for l in limits {
        writes.push(FileWrite::new(hugetlb_file(l.page_size(), version), l.limit().to_string()));
        if with_rsvd {
            writes.push(FileWrite::new(hugetlb_rsvd_file(l.page_size(), version), l.limit().to_string()));
        }
    }
    writes
}

/// Whether `dir` has the reservation files of these limits.
pub fn accounts_hugetlb_rsvd(dir: &Path, limits: &[LinuxHugepageLimit], version: Version) -> bool {
    limits.first().is_some_and(|l| dir.join(hugetlb_rsvd_file(l.page_size(), version)).exists())
}

/// Writes the raw `linux.resources.unified` keys into a cgroup2 directory
/// (a v2 cgroup, or a hybrid host's `unified` one). A key must name a file
/// of that directory: one that is missing means its controller is not
/// available there, which is an error, not something to skip. Keys are
/// checked, all of them, before any is written, and written in name order.
pub fn write_unified(dir: &Path, unified: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<_> = unified.iter().collect();
    keys.sort();
    for (key, _) in &keys {
        check_unified_key(key)?;
        if !dir.join(key).exists() {
            let controller = key.split('.').next().unwrap_or(key);
            return Err(CgroupError::config(
                &format!("linux.resources.unified.{key}"),
                format!("the {controller} controller is not available in {}", dir.display()),
            ));
        }
    }
    let writes: Vec<FileWrite> = keys.into_iter().map(|(key, value)| FileWrite::new(key.clone(), value.clone())).collect();
    write_all(dir, &writes)
}

/// A unified key names a file of the cgroup directory itself: not a path,
/// not a hidden or empty name.
fn check_unified_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains('/') || key.starts_with('.') {
        return Err(CgroupError::config(&format!("linux.resources.unified.{key}"), "is not a cgroup file name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_io() -> LinuxBlockIo {
        serde_json::from_value(serde_json::json!({
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
            "throttleWriteIOPSDevice": [{"major": 253, "minor": 1, "rate": 50}]
        }))
        .unwrap()
    }

    fn pairs(writes: &[FileWrite]) -> Vec<(&str, &str)> {
        writes.iter().map(|w| (w.file.as_str(), w.line.as_str())).collect()
    }

    #[test]
    fn throttles_in_both_versions() {
        assert_eq!(
            pairs(&block_io_throttles(&block_io(), Version::V1)),
            [
                ("blkio.throttle.read_bps_device", "8:0 1048576"),
                ("blkio.throttle.write_bps_device", "8:16 2097152"),
                ("blkio.throttle.read_iops_device", "8:0 100"),
                ("blkio.throttle.write_iops_device", "253:1 50"),
            ]
        );
        assert_eq!(
            pairs(&block_io_throttles(&block_io(), Version::V2)),
            [("io.max", "8:0 rbps=1048576"), ("io.max", "8:16 wbps=2097152"), ("io.max", "8:0 riops=100"), ("io.max", "253:1 wiops=50")]
        );
        assert!(block_io_throttles(&LinuxBlockIo::default(), Version::V2).is_empty());
    }

    #[test]
    fn rdma_lines_in_device_order() {
        let rdma: HashMap<String, LinuxRdma> = serde_json::from_value(serde_json::json!({
            "mlx5_1": {"hcaObjects": 100},
            "mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000},
            "mlx4_0": {}
        }))
        .unwrap();
        assert_eq!(
            pairs(&rdma_limits(&rdma)),
            [("rdma.max", "mlx4_0"), ("rdma.max", "mlx5_0 hca_handle=3 hca_object=10000"), ("rdma.max", "mlx5_1 hca_object=100")]
        );
    }

    #[test]
    fn hugetlb_files_by_version() {
        let limits: Vec<LinuxHugepageLimit> =
            serde_json::from_value(serde_json::json!([{"pageSize": "2MB", "limit": 4194304}, {"pageSize": "1GB", "limit": 0}])).unwrap();
        assert_eq!(pairs(&hugetlb_limits(&limits, Version::V1, false)), [("hugetlb.2MB.limit_in_bytes", "4194304"), ("hugetlb.1GB.limit_in_bytes", "0")]);
        assert_eq!(pairs(&hugetlb_limits(&limits, Version::V2, false)), [("hugetlb.2MB.max", "4194304"), ("hugetlb.1GB.max", "0")]);
        assert_eq!(
            pairs(&hugetlb_limits(&limits[..1], Version::V2, true)),
            [("hugetlb.2MB.max", "4194304"), ("hugetlb.2MB.rsvd.max", "4194304")]
        );
        assert_eq!(pairs(&hugetlb_limits(&limits[1..], Version::V1, true))[1], ("hugetlb.1GB.rsvd.limit_in_bytes", "0"));
    }

    #[test]
    fn unified_keys_are_checked_before_any_write() {
        let dir = std::env::temp_dir().join(format!("husk-unified-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.high"), "max").unwrap();
        std::fs::write(dir.join("pids.max"), "max").unwrap();
        let keys = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };

        let missing = write_unified(&dir, &keys(&[("memory.high", "1000"), ("io.weight", "100")])).unwrap_err().to_string();
        assert_eq!(missing, format!("config.json: linux.resources.unified.io.weight: the io controller is not available in {}", dir.display()));
        assert_eq!(std::fs::read_to_string(dir.join("memory.high")).unwrap(), "max", "nothing written before the refusal");

        for bad in ["../pids.max", ".hidden", ""] {
            let error = write_unified(&dir, &keys(&[(bad, "1")])).unwrap_err().to_string();
            assert_eq!(error, format!("config.json: linux.resources.unified.{bad}: is not a cgroup file name"));
        }

        write_unified(&dir, &keys(&[("memory.high", "1000"), ("pids.max", "20")])).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("memory.high")).unwrap(), "1000");
        assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "20");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
