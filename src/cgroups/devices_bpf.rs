// PLACEHOLDER so the tree compiles while devices_bpf.rs is being written;
// replace this whole file.
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("eBPF device filter: {0}")]
pub struct DeviceFilterError(String);

pub fn apply(cgroup_dir: &Path, _rules: &[crate::cgroups::devices::DeviceRule]) -> Result<(), DeviceFilterError> {
    Err(DeviceFilterError(format!("{}: not written yet", cgroup_dir.display())))
}
