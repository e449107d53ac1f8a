//! cgroup v2: one directory, controllers enabled down the tree, devices
//! through eBPF, freezing through cgroup.freeze.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::common::{self, Version, write_all};
use super::stats::{self, Cpu, CpuUsage, Hugetlb, Memory, MemoryEntry, Pids, Stats, Throttling};
use super::convert::{blkio_weight_to_io_weight, cpu_max, limit_or_max, shares_to_weight, swap_to_v2, unless_zero};
use super::{CGROUP_ROOT, Cgroup, CgroupError, Entry, Result, devices, devices_bpf, keyed, procs, read, read_u64, write};

pub struct V2 {
    pub dir: PathBuf,
}

impl V2 {
    /// Enables every available controller in each ancestor's
    /// subtree_control, so the container's directory has their files.
    pub(super) fn enable_controllers(&self) -> Result<()> {
        let root = Path::new(CGROUP_ROOT);
        let mut ancestors: Vec<&Path> = self.dir.ancestors().skip(1).take_while(|a| a.starts_with(root)).collect();
        ancestors.reverse();
        for dir in ancestors {
            let available = read(dir, "cgroup.controllers").unwrap_or_default();
            let enabled = read(dir, "cgroup.subtree_control").unwrap_or_default();
            let enabled: Vec<&str> = enabled.split_whitespace().collect();
            let missing: Vec<String> =
                available.split_whitespace().filter(|c| !enabled.contains(c)).map(|c| format!("+{c}")).collect();
            // Written only where something is missing: above a delegated
            // subtree (rootless, systemd's user instance) the directories
            // are root's, and systemd enabled what it delegates already.
            if missing.is_empty() {
                continue;
            }
            match write(dir, "cgroup.subtree_control", missing.join(" ")) {
                // A controller a user may not enable stays off, as runc
                // leaves it: a limit of it then fails naming its file.
                Err(e) if e.is_permission() => {}
                other => other?,
            }
        }
        Ok(())
    }
}

impl Cgroup for V2 {
    fn create(&self) -> Result<()> {
        if self.dir.is_dir() && self.is_frozen() {
            return Err(CgroupError::State { path: self.dir.clone(), message: "already exists and is frozen".into() });
        }
        // One with processes in it is shared, as runc allows with a
        // warning (create warns: cgroups::processes_in).
        super::make_dir(&self.dir)?;
        self.enable_controllers().inspect_err(|_| {
            let _ = self.destroy();
        })
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        let dir = &self.dir;
        if let Some(memory) = r.memory() {
            if let Some(reservation) = memory.reservation() {
                write(dir, "memory.low", limit_or_max(Some(reservation)))?;
            }
            if let Some(limit) = memory.limit() {
                // v1's kernel refuses a limit below the usage; v2's would
                // OOM-kill instead: checkBeforeUpdate asks for v1's way.
                let usage = read_u64(dir, "memory.current");
                if memory.check_before_update() == Some(true) && limit >= 0 && (limit as u64) < usage {
                    return Err(CgroupError::config(
                        "linux.resources.memory.limit",
                        format!("{limit} is below the current usage of {usage} bytes (checkBeforeUpdate)"),
                    ));
                }
                write(dir, "memory.max", limit_or_max(Some(limit)))?;
            }
            if let Some(swap) = memory.swap() {
                let value = swap_to_v2(swap, memory.limit()).map_err(|m| CgroupError::config("linux.resources.memory.swap", m))?;
                write(dir, "memory.swap.max", value)?;
            }
            // cgroup v2 has neither; runc ignores them there, with a warning.
            if memory.swappiness().is_some() {
                crate::logging::warn("linux.resources.memory.swappiness: not available on cgroup v2: ignored");
            }
            if memory.disable_oom_killer() == Some(true) {
                crate::logging::warn("linux.resources.memory.disableOOMKiller: not available on cgroup v2: ignored");
            }
        }
        if let Some(cpu) = r.cpu() {
            if let Some(shares) = unless_zero(cpu.shares()) {
                write(dir, "cpu.weight", shares_to_weight(shares).to_string())?;
            }
            let (quota, period) = (unless_zero(cpu.quota()), unless_zero(cpu.period()));
            if quota.is_some() || period.is_some() {
                write(dir, "cpu.max", cpu_max(quota, period))?;
            }
            if let Some(burst) = cpu.burst() {
                write(dir, "cpu.max.burst", burst.to_string())?;
            }
            if let Some(idle) = cpu.idle() {
                write(dir, "cpu.idle", idle.to_string())?;
            }
            if unless_zero(cpu.realtime_runtime()).is_some() || unless_zero(cpu.realtime_period()).is_some() {
                return Err(CgroupError::config("linux.resources.cpu.realtimeRuntime", "realtime scheduling limits are not available on cgroup v2"));
            }
            if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
                write(dir, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
                write(dir, "cpuset.mems", mems)?;
            }
        }
        // 0 is a limit (no new task), as the spec says since 1.2; a `pids`
        // without a limit was dropped when the config was read.
        if let Some(pids) = r.pids() {
            write(dir, "pids.max", limit_or_max(Some(pids.limit())))?;
        }
        if let Some(io) = r.block_io() {
            if let Some(weight) = unless_zero(io.weight()) {
                write(dir, "io.weight", format!("default {}", blkio_weight_to_io_weight(weight as u64)))?;
            }
            for device in io.weight_device().iter().flatten() {
                if let Some(weight) = unless_zero(device.weight()) {
                    let value = blkio_weight_to_io_weight(weight as u64);
                    write(dir, "io.weight", format!("{}:{} {value}", device.major(), device.minor()))?;
                }
            }
            write_all(dir, &common::block_io_throttles(io, Version::V2))?;
        }
        if let Some(limits) = r.hugepage_limits() {
            let rsvd = common::accounts_hugetlb_rsvd(dir, limits, Version::V2);
            write_all(dir, &common::hugetlb_limits(limits, Version::V2, rsvd))?;
        }
        if let Some(rdma) = r.rdma() {
            write_all(dir, &common::rdma_limits(rdma))?;
        }
        if r.network().is_some() {
            return Err(CgroupError::config("linux.resources.network", "net_cls and net_prio do not exist on cgroup v2"));
        }
        if let Some(unified) = r.unified() {
            common::write_unified(dir, unified)?;
        }
        if let Some(list) = r.devices() {
            devices_bpf::apply(dir, &devices::rules(list))?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        write(&self.dir, "cgroup.procs", pid.to_string())
    }

    fn entry(&self) -> Entry {
        Entry { clone_into: Some(self.dir.clone()), tasks_files: Vec::new() }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        procs(&self.dir)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        write(&self.dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
        // The write returns before every task has stopped; cgroup.events
        // says when the whole cgroup is.
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        for _ in 0..1000 {
            if read(&self.dir, "cgroup.events").is_some_and(|e| e.lines().any(|l| l == want)) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Err(CgroupError::State { path: self.dir.clone(), message: format!("did not reach \"{want}\"") })
    }

    fn is_frozen(&self) -> bool {
        read(&self.dir, "cgroup.freeze").is_some_and(|f| f.trim() == "1")
    }

    fn signal_all(&self, signal: i32) -> Result<()> {
        if signal == libc::SIGKILL && self.dir.join("cgroup.kill").exists() {
            return write(&self.dir, "cgroup.kill", "1");
        }
        for pid in self.pids()? {
            let _ = crate::sys::kill_raw(pid, signal);
        }
        Ok(())
    }

    fn oom_kills(&self) -> u64 {
        keyed(&self.dir, "memory.events").get("oom_kill").copied().unwrap_or(0)
    }

    fn stats(&self) -> Stats {
        let dir = &self.dir;
        let cpu = keyed(dir, "cpu.stat");
        let usec = |key: &str| cpu.get(key).copied().unwrap_or(0) * 1000;
        let raw = keyed(dir, "memory.stat");
        let usage = MemoryEntry {
            limit: stats::read_limit(dir, "memory.max"),
            usage: read_u64(dir, "memory.current"),
            max: 0,
            failcnt: stats::key(dir, "memory.events", "max"),
        };
        // Reported as v1's memory+swap, as runc does, so that one reading
        // of the numbers serves both versions.
        let swap_limit = stats::read_limit(dir, "memory.swap.max");
        let swap = MemoryEntry {
            limit: if swap_limit == u64::MAX { u64::MAX } else { swap_limit.saturating_add(usage.limit) },
            usage: read_u64(dir, "memory.swap.current") + usage.usage,
            max: 0,
            failcnt: stats::key(dir, "memory.swap.events", "max"),
        };
        let pids_limit = stats::read_limit(dir, "pids.max");
        Stats {
            cpu: Cpu {
                usage: CpuUsage { total: usec("usage_usec"), kernel: usec("system_usec"), user: usec("user_usec"), ..CpuUsage::default() },
                throttling: Throttling {
                    periods: cpu.get("nr_periods").copied().unwrap_or(0),
                    throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
                    throttled_time: usec("throttled_usec"),
                },
            },
            memory: Memory { cache: raw.get("file").copied().unwrap_or(0), usage, swap, raw, ..Memory::default() },
            pids: Pids { current: read_u64(dir, "pids.current"), limit: if pids_limit == u64::MAX { 0 } else { pids_limit } },
            blkio: stats::parse_io_stat(&read(dir, "io.stat").unwrap_or_default()),
            hugetlb: stats::hugetlb_sizes(dir)
                .into_iter()
                .map(|size| {
                    let usage = read_u64(dir, &format!("hugetlb.{size}.current"));
                    let failcnt = stats::key(dir, &format!("hugetlb.{size}.events"), "max");
                    (size, Hugetlb { usage, max: 0, failcnt })
                })
                .collect(),
            ..Stats::default()
        }
    }

    fn destroy(&self) -> Result<()> {
        super::remove_dir(&self.dir)
    }
}
