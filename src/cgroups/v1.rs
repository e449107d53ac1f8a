//! cgroup v1 (and hybrid hosts): a directory in every mounted hierarchy.
//! On a hybrid host the cgroup2 tree is one more hierarchy, `unified`, which
//! serves the controllers v1 does not mount (hugetlb on some hosts) and the
//! raw `unified` keys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::common::{self, Version, write_all};
use super::convert::{limit_or_max, unless_zero};
use super::stats::{self, Blkio, Cpu, CpuSet, CpuUsage, Hugetlb, Memory, Pids, Stats, Throttling};
use crate::host::{CgroupMode, HostFacts};

use super::{CGROUP_ROOT, Cgroup, CgroupError, Entry, Result, devices, keyed, procs, read, read_u64, write};

pub struct V1 {
    pub dirs: BTreeMap<String, PathBuf>,
}

/// One cgroup hierarchy mounted under /sys/fs/cgroup on a v1 or hybrid
/// host (the cgroup2 tree of a hybrid host is one of them, `unified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The mount point's name: `memory`, `cpu,cpuacct`, `systemd`, `unified`.
    pub name: String,
    pub mount_point: PathBuf,
    /// Its controllers, sorted, as mount options name them (`cpu`,
    /// `cpuacct`; `name=systemd`); empty for cgroup2.
    pub controllers: Vec<String>,
    /// husk's own cgroup in it, relative to what the mount shows (its root,
    /// in mountinfo, is not always the hierarchy's).
    pub own_path: Option<String>,
}

/// The hierarchies of a v1 or hybrid host, from its mount table (none on a
/// v2 host).
pub fn hierarchies(host: &HostFacts) -> Vec<Hierarchy> {
    if host.cgroup_mode == CgroupMode::V2 {
        return Vec::new();
    }
    let known: BTreeSet<&str> = host.v1_controller_names().collect();
    host.cgroup_mounts()
        .map(|mount| {
            let mut controllers: Vec<String> = if mount.fs_type == "cgroup2" {
                Vec::new()
            } else {
                mount
                    .super_options
                    .iter()
                    .map(|(key, value)| match value {
                        Some(v) if key == "name" => format!("name={v}"),
                        _ => key.clone(),
                    })
                    .filter(|option| known.contains(option.as_str()))
                    .collect()
            };
            controllers.sort();
            let own_path = host.own_cgroup(&controllers).map(|own| relative_to_mount(own, &mount.root));
            Hierarchy {
                name: mount.mount_point.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                mount_point: mount.mount_point.clone(),
                controllers,
                own_path,
            }
        })
        .collect()
}

/// A cgroup path of /proc/self/cgroup (from the hierarchy's root) as a path
/// under a mount of the hierarchy whose root is `mount_root` (a container's
/// bind of its own cgroup shows `/docker/…` as root).
pub fn relative_to_mount(own: &str, mount_root: &str) -> String {
    match Path::new(own).strip_prefix(mount_root) {
        Ok(rest) => format!("/{}", rest.display()),
        Err(_) => own.to_string(),
    }
}

impl V1 {
    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(name, _)| name.split(',').any(|c| c == controller))
            .map(|(_, dir)| dir.as_path())
    }

    /// The directory of a controller the resources need; an error if the
    /// host does not mount it.
    fn need(&self, controller: &str, field: &str) -> Result<&Path> {
        self.dir(controller).ok_or_else(|| CgroupError::config(field, format!("the host has no {controller} cgroup controller")))
    }

    /// A new cpuset cgroup starts with no cpus and mems: copy the parent's,
    /// or no process could join it.
    /// Makes every directory (existing ones are kept) and gives a new
    /// cpuset its parent's cpus and mems.
    pub(super) fn make_dirs(&self) -> Result<()> {
        for dir in self.dirs.values() {
            super::make_dir(dir)?;
        }
        self.inherit_cpuset()
    }

    fn inherit_cpuset(&self) -> Result<()> {
        let Some(dir) = self.dir("cpuset") else { return Ok(()) };
        let mut chain: Vec<&Path> = dir.ancestors().take_while(|a| a.starts_with(CGROUP_ROOT)).collect();
        chain.reverse();
        for pair in chain.windows(2) {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if read(pair[1], file).is_some_and(|v| v.trim().is_empty()) {
                    let parent = read(pair[0], file).unwrap_or_default();
                    write(pair[1], file, parent.trim())?;
                }
            }
        }
        Ok(())
    }

    fn apply_memory(&self, r: &LinuxResources) -> Result<()> {
        let Some(memory) = r.memory() else { return Ok(()) };
        let dir = self.need("memory", "linux.resources.memory")?;
        let bytes = |v: i64| v.to_string();
        if let Some(reservation) = memory.reservation() {
            write(dir, "memory.soft_limit_in_bytes", bytes(reservation))?;
        }
        // memsw must stay >= the limit at every moment: raise memsw first
        // when growing, the limit first when shrinking.
        let current_memsw = read_u64(dir, "memory.memsw.limit_in_bytes");
        let grow = memory.limit().is_some_and(|l| l < 0 || l as u64 > current_memsw);
        let write_swap = |dir: &Path| -> Result<()> {
            match memory.swap() {
                Some(swap) if dir.join("memory.memsw.limit_in_bytes").exists() => write(dir, "memory.memsw.limit_in_bytes", bytes(swap)),
                Some(_) => Err(CgroupError::config("linux.resources.memory.swap", "the host has no swap accounting (memory.memsw.*)")),
                None => Ok(()),
            }
        };
        if grow {
            write_swap(dir)?;
        }
        if let Some(limit) = memory.limit() {
            write(dir, "memory.limit_in_bytes", bytes(limit))?;
        }
        if !grow {
            write_swap(dir)?;
        }
        if let Some(kernel) = memory.kernel() {
            write(dir, "memory.kmem.limit_in_bytes", bytes(kernel))?;
        }
        if let Some(tcp) = memory.kernel_tcp() {
            write(dir, "memory.kmem.tcp.limit_in_bytes", bytes(tcp))?;
        }
        if let Some(swappiness) = memory.swappiness() {
            write(dir, "memory.swappiness", swappiness.to_string())?;
        }
        if memory.disable_oom_killer() == Some(true) {
            write(dir, "memory.oom_control", "1")?;
        }
        Ok(())
    }

    fn apply_cpu(&self, r: &LinuxResources) -> Result<()> {
        let Some(cpu) = r.cpu() else { return Ok(()) };
        let (shares, period, quota) = (unless_zero(cpu.shares()), unless_zero(cpu.period()), unless_zero(cpu.quota()));
        let (rt_period, rt_runtime) = (unless_zero(cpu.realtime_period()), unless_zero(cpu.realtime_runtime()));
        let wants_cpu = shares.is_some() || quota.is_some() || period.is_some()
            || cpu.burst().is_some() || rt_period.is_some() || rt_runtime.is_some() || cpu.idle().is_some();
        if wants_cpu {
            let dir = self.need("cpu", "linux.resources.cpu")?;
            if let Some(shares) = shares {
                write(dir, "cpu.shares", shares.to_string())?;
            }
            // The period first: a quota is checked against the current period.
            // But a shorter period may make the current quota exceed the
            // parent's share (EINVAL): then the quota first and the period
            // again, as runc does.
            let mut refused_period = None;
            if let Some(period) = period {
                match write(dir, "cpu.cfs_period_us", period.to_string()) {
                    Err(e) if quota.is_some() && e.errno() == Some(libc::EINVAL) => refused_period = Some(period),
                    other => other?,
                }
            }
            if let Some(quota) = quota {
                write(dir, "cpu.cfs_quota_us", quota.to_string())?;
            }
            if let Some(period) = refused_period {
                write(dir, "cpu.cfs_period_us", period.to_string())?;
            }
            if let Some(burst) = cpu.burst() {
                write(dir, "cpu.cfs_burst_us", burst.to_string())?;
            }
            if let Some(period) = rt_period {
                write(dir, "cpu.rt_period_us", period.to_string())?;
            }
            if let Some(runtime) = rt_runtime {
                write(dir, "cpu.rt_runtime_us", runtime.to_string())?;
            }
            if let Some(idle) = cpu.idle() {
                write(dir, "cpu.idle", idle.to_string())?;
            }
        }
        if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
            write(self.need("cpuset", "linux.resources.cpu.cpus")?, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = cpu.mems().as_deref().filter(|m| !m.is_empty()) {
            write(self.need("cpuset", "linux.resources.cpu.mems")?, "cpuset.mems", mems)?;
        }
        Ok(())
    }

    fn apply_block_io(&self, r: &LinuxResources) -> Result<()> {
        let Some(io) = r.block_io() else { return Ok(()) };
        let dir = self.need("blkio", "linux.resources.blockIO")?;
        // Weights exist only with the BFQ (blkio.bfq.weight) or the old CFQ
        // scheduler (blkio.weight).
        let weight_file = ["blkio.weight", "blkio.bfq.weight"].into_iter().find(|f| dir.join(f).exists());
        let (weight, leaf_weight) = (unless_zero(io.weight()), unless_zero(io.leaf_weight()));
        let device_weights: Vec<_> = io.weight_device().iter().flatten().filter_map(|d| Some((d, unless_zero(d.weight())?))).collect();
        let weighted = weight.is_some() || leaf_weight.is_some() || !device_weights.is_empty();
        if weighted && weight_file.is_none() {
            return Err(CgroupError::config("linux.resources.blockIO.weight", "the host's block I/O scheduler has no weights (no blkio.weight or blkio.bfq.weight)"));
        }
        if let (Some(file), Some(weight)) = (weight_file, weight) {
            write(dir, file, weight.to_string())?;
        }
        if let Some(leaf) = leaf_weight {
            write(dir, "blkio.leaf_weight", leaf.to_string())?;
        }
        for (device, weight) in device_weights {
            if let Some(file) = weight_file {
                write(dir, &format!("{file}_device"), format!("{}:{} {weight}", device.major(), device.minor()))?;
            }
        }
        write_all(dir, &common::block_io_throttles(io, Version::V1))?;
        Ok(())
    }

    fn apply_others(&self, r: &LinuxResources) -> Result<()> {
        if let Some(pids) = r.pids() {
            let dir = self.need("pids", "linux.resources.pids")?;
            // 0 is a limit (see V2::apply).
            write(dir, "pids.max", limit_or_max(Some(pids.limit())))?;
        }
        self.apply_hugetlb(r)?;
        if let Some(network) = r.network() {
            if let Some(class_id) = network.class_id() {
                write(self.need("net_cls", "linux.resources.network.classID")?, "net_cls.classid", class_id.to_string())?;
            }
            for priority in network.priorities().iter().flatten() {
                let dir = self.need("net_prio", "linux.resources.network.priorities")?;
                write(dir, "net_prio.ifpriomap", format!("{} {}", priority.name(), priority.priority()))?;
            }
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|l| !l.is_empty()) {
            write_all(self.need("rdma", "linux.resources.rdma")?, &common::rdma_limits(rdma))?;
        }
        if let Some(unified) = r.unified().as_ref().filter(|u| !u.is_empty()) {
            let Some(dir) = self.dirs.get("unified") else {
                return Err(CgroupError::config("linux.resources.unified", "raw cgroup v2 keys need a cgroup v2 hierarchy, and this host has none"));
            };
            common::write_unified(dir, unified)?;
        }
        if let Some(list) = r.devices() {
            let dir = self.need("devices", "linux.resources.devices")?;
            apply_devices(dir, &devices::rules(list))?;
        }
        Ok(())
    }

    /// Hugepage limits go to the v1 hugetlb hierarchy, or on a hybrid host
    /// that mounts none, to the cgroup2 tree's hugetlb files.
    fn apply_hugetlb(&self, r: &LinuxResources) -> Result<()> {
        let Some(limits) = r.hugepage_limits().as_ref().filter(|l| !l.is_empty()) else { return Ok(()) };
        if let Some(dir) = self.dir("hugetlb") {
            let rsvd = common::accounts_hugetlb_rsvd(dir, limits, Version::V1);
            return write_all(dir, &common::hugetlb_limits(limits, Version::V1, rsvd));
        }
        let unified = self.dirs.get("unified").filter(|dir| {
            limits.iter().all(|l| dir.join(common::hugetlb_file(l.page_size(), Version::V2)).exists())
        });
        match unified {
            Some(dir) => {
                let rsvd = common::accounts_hugetlb_rsvd(dir, limits, Version::V2);
                write_all(dir, &common::hugetlb_limits(limits, Version::V2, rsvd))
            }
            None => self.need("hugetlb", "linux.resources.hugepageLimits").map(drop),
        }
    }

    fn freezer(&self) -> Option<&Path> {
        self.dir("freezer")
    }
}

/// The rules as the smallest change from the cgroup's current ones (see
/// devices::Emulator), checked after as runc checks them.
fn apply_devices(dir: &Path, rules: &[devices::DeviceRule]) -> Result<()> {
    let target = devices::Emulator::from_rules(rules).map_err(|m| CgroupError::config("linux.resources.devices", m))?;
    let current = || -> Result<devices::Emulator> {
        let path = dir.join("devices.list");
        let list = std::fs::read_to_string(&path).map_err(CgroupError::io("read", &path))?;
        devices::Emulator::from_list(&list).map_err(|message| CgroupError::State { path, message })
    };
    for rule in current()?.transition(&target) {
        write(dir, if rule.allow { "devices.allow" } else { "devices.deny" }, rule.v1_line())?;
    }
    // Only a cgroup that denies by default lists all its rules.
    let after = current()?;
    let matches = if target.default_allow() { after.default_allow() } else { after == target };
    if !matches {
        let message = "the device rules written did not give the rules asked for".to_string();
        return Err(CgroupError::State { path: dir.to_path_buf(), message });
    }
    Ok(())
}

impl Cgroup for V1 {
    fn create(&self) -> Result<()> {
        if self.is_frozen() {
            let path = self.freezer().map(Path::to_path_buf).unwrap_or_default();
            return Err(CgroupError::State { path, message: "already exists and is frozen".into() });
        }
        // One with processes in it is shared, as runc allows with a
        // warning (create warns: cgroups::processes_in). A hierarchy that
        // is not ours to write (rootless) fails after others were made:
        // those go again.
        self.make_dirs().inspect_err(|_| {
            let _ = self.destroy();
        })
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        self.apply_memory(r)?;
        self.apply_cpu(r)?;
        self.apply_block_io(r)?;
        self.apply_others(r)
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        for dir in self.dirs.values() {
            write(dir, "cgroup.procs", pid.to_string())?;
        }
        Ok(())
    }

    fn entry(&self) -> Entry {
        // The freezer last: in a frozen cgroup (exec --ignore-paused) the
        // process stops there, and should not before it is in all others.
        let mut v1: Vec<_> = self.dirs.iter().filter(|(name, _)| *name != "unified").collect();
        v1.sort_by_key(|(name, _)| *name == "freezer");
        Entry {
            clone_into: self.dirs.get("unified").cloned(),
            tasks_files: v1.into_iter().map(|(_, dir)| dir.join("tasks")).collect(),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        // Any hierarchy holds every process; prefer pids, then the first.
        let dir = self.dir("pids").or_else(|| self.dirs.values().next().map(PathBuf::as_path));
        match dir {
            Some(dir) => procs(dir),
            None => Ok(Vec::new()),
        }
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let Some(dir) = self.freezer() else {
            return Err(CgroupError::State { path: PathBuf::from(CGROUP_ROOT), message: "the host has no freezer controller".into() });
        };
        let want = if frozen { "FROZEN" } else { "THAWED" };
        for _ in 0..1000 {
            write(dir, "freezer.state", want)?;
            if read(dir, "freezer.state").is_some_and(|s| s.trim() == want) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Err(CgroupError::State { path: dir.to_path_buf(), message: format!("did not reach {want}") })
    }

    fn is_frozen(&self) -> bool {
        self.freezer().and_then(|d| read(d, "freezer.state")).is_some_and(|s| s.trim() != "THAWED")
    }

    fn signal_all(&self, signal: i32) -> Result<()> {
        // No one in it (a stopped container's delete): no one to signal,
        // nor to fork into it, so no freezing (four freezer.state writes
        // and reads on every `delete`).
        if self.pids()?.is_empty() {
            return Ok(());
        }
        // Freeze so that no process forks a child we would miss.
        let frozen = signal == libc::SIGKILL && self.freezer().is_some() && self.set_frozen(true).is_ok();
        for pid in self.pids()? {
            let _ = crate::sys::kill_raw(pid, signal);
        }
        if frozen {
            self.set_frozen(false)?;
        }
        Ok(())
    }

    fn oom_kills(&self) -> u64 {
        self.dir("memory").map(|d| keyed(d, "memory.oom_control")).and_then(|m| m.get("oom_kill").copied()).unwrap_or(0)
    }

    fn stats(&self) -> Stats {
        let empty = PathBuf::new();
        let dir = |controller: &str| self.dir(controller).unwrap_or(&empty);
        let memory = dir("memory");
        let raw = keyed(memory, "memory.stat");
        Stats {
            cpu: cpu_stats(dir("cpu"), dir("cpuacct")),
            cpuset: cpuset_stats(dir("cpuset")),
            memory: Memory {
                cache: raw.get("cache").copied().unwrap_or(0),
                usage: stats::memory_entry_v1(memory, ""),
                swap: stats::memory_entry_v1(memory, "memsw."),
                kernel: stats::memory_entry_v1(memory, "kmem."),
                kernel_tcp: stats::memory_entry_v1(memory, "kmem.tcp."),
                raw,
            },
            pids: Pids { current: read_u64(dir("pids"), "pids.current"), limit: read_u64(dir("pids"), "pids.max") },
            blkio: blkio_stats(dir("blkio")),
            hugetlb: self.dir("hugetlb").map(hugetlb_stats).unwrap_or_default(),
            ..Stats::default()
        }
    }

    fn destroy(&self) -> Result<()> {
        for dir in self.dirs.values() {
            super::remove_dir(dir)?;
        }
        Ok(())
    }
}

/// cpuacct's usage (ns; per cpu from cpuacct.usage_all) and user/system
/// split (cpuacct.stat, in USER_HZ ticks), cpu's throttling (cpu.stat).
fn cpu_stats(cpu: &Path, cpuacct: &Path) -> Cpu {
    let throttling = keyed(cpu, "cpu.stat");
    let get = |key: &str| throttling.get(key).copied().unwrap_or(0);
    let ticks = keyed(cpuacct, "cpuacct.stat");
    const NS_PER_TICK: u64 = 1_000_000_000 / 100;
    let (mut percpu_user, mut percpu_kernel) = (Vec::new(), Vec::new());
    // "cpu user system" and a line per cpu.
    for line in read(cpuacct, "cpuacct.usage_all").unwrap_or_default().lines().skip(1) {
        let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        if let [_, user, system] = numbers[..] {
            percpu_user.push(user);
            percpu_kernel.push(system);
        }
    }
    Cpu {
        usage: CpuUsage {
            total: read_u64(cpuacct, "cpuacct.usage"),
            percpu: read(cpuacct, "cpuacct.usage_percpu").unwrap_or_default().split_whitespace().filter_map(|w| w.parse().ok()).collect(),
            percpu_kernel,
            percpu_user,
            kernel: ticks.get("system").copied().unwrap_or(0) * NS_PER_TICK,
            user: ticks.get("user").copied().unwrap_or(0) * NS_PER_TICK,
        },
        throttling: Throttling {
            periods: get("nr_periods"),
            throttled_periods: get("nr_throttled"),
            throttled_time: get("throttled_time"),
        },
    }
}

fn cpuset_stats(dir: &Path) -> CpuSet {
    let number = |file: &str| read_u64(dir, &format!("cpuset.{file}"));
    CpuSet {
        cpus: stats::parse_list(&read(dir, "cpuset.cpus").unwrap_or_default()),
        cpu_exclusive: number("cpu_exclusive"),
        mems: stats::parse_list(&read(dir, "cpuset.mems").unwrap_or_default()),
        mem_hardwall: number("mem_hardwall"),
        mem_exclusive: number("mem_exclusive"),
        memory_migrate: number("memory_migrate"),
        memory_spread_page: number("memory_spread_page"),
        memory_spread_slab: number("memory_spread_slab"),
        memory_pressure: number("memory_pressure"),
        sched_load_balance: number("sched_load_balance"),
        sched_relax_domain_level: read(dir, "cpuset.sched_relax_domain_level").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
    }
}

/// Block I/O counters from the first set of files that has any, in runc's
/// order: BFQ's, CFQ's, the throttle's recursive ones, the throttle's own.
fn blkio_stats(dir: &Path) -> Blkio {
    const SETS: [(&str, &str); 4] = [
        ("blkio.bfq.io_serviced_recursive", "blkio.bfq.io_service_bytes_recursive"),
        ("blkio.io_serviced_recursive", "blkio.io_service_bytes_recursive"),
        ("blkio.throttle.io_serviced_recursive", "blkio.throttle.io_service_bytes_recursive"),
        ("blkio.throttle.io_serviced", "blkio.throttle.io_service_bytes"),
    ];
    for (serviced, bytes) in SETS {
        let ops = stats::parse_blkio_v1(&read(dir, serviced).unwrap_or_default());
        if !ops.is_empty() {
            let bytes = stats::parse_blkio_v1(&read(dir, bytes).unwrap_or_default());
            return Blkio { io_service_bytes_recursive: bytes, io_serviced_recursive: ops };
        }
    }
    Blkio::default()
}

fn hugetlb_stats(dir: &Path) -> BTreeMap<String, Hugetlb> {
    stats::hugetlb_sizes(dir)
        .into_iter()
        .map(|size| {
            let file = |name: &str| format!("hugetlb.{size}.{name}");
            let entry = Hugetlb {
                usage: read_u64(dir, &file("usage_in_bytes")),
                max: read_u64(dir, &file("max_usage_in_bytes")),
                failcnt: read_u64(dir, &file("failcnt")),
            };
            (size, entry)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_joins_v1_by_tasks_freezer_last_and_clones_into_unified() {
        let dirs: BTreeMap<String, PathBuf> = ["cpu", "freezer", "memory", "unified"]
            .into_iter()
            .map(|name| (name.to_string(), PathBuf::from(format!("/sys/fs/cgroup/{name}/c"))))
            .collect();
        let entry = V1 { dirs }.entry();
        assert_eq!(entry.clone_into, Some(PathBuf::from("/sys/fs/cgroup/unified/c")));
        let files: Vec<_> = entry.tasks_files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(files, ["/sys/fs/cgroup/cpu/c/tasks", "/sys/fs/cgroup/memory/c/tasks", "/sys/fs/cgroup/freezer/c/tasks"]);
    }
}

#[cfg(test)]
mod discovery_tests {
    use super::*;
    use crate::host::recorded;

    #[test]
    fn hierarchies_of_the_hybrid_host() {
        let found = hierarchies(&recorded::v1_hybrid());
        let summary: Vec<(String, String)> = found.iter().map(|h| (h.name.clone(), h.controllers.join(","))).collect();
        let want: Vec<(String, String)> = [
            ("cpu", "cpu"), ("cpuacct", "cpuacct"), ("cpuset", "cpuset"), ("memory", "memory"), ("devices", "devices"),
            ("freezer", "freezer"), ("blkio", "blkio"), ("pids", "pids"), ("systemd", "name=systemd"), ("unified", ""),
        ]
        .iter()
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect();
        assert_eq!(summary, want);
        let memory = found.iter().find(|h| h.name == "memory").unwrap();
        assert_eq!(memory.mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert!(memory.own_path.as_deref().is_some_and(|p| p.starts_with("/process_api/")));
        assert!(found.iter().filter(|h| h.name != "memory").all(|h| h.own_path.as_deref() == Some("/")));
    }

    #[test]
    fn a_v2_host_has_no_v1_hierarchies() {
        assert!(hierarchies(&recorded::v2()).is_empty());
    }

    #[test]
    fn mount_options_that_are_not_controllers_are_left_out() {
        let mountinfo = "20 1 0:1 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                         21 20 0:2 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,clone_children,cpu,cpuacct\n\
                         22 20 0:3 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd\n\
                         23 1 0:4 / /elsewhere rw - cgroup cgroup rw,pids\n";
        let host = HostFacts::from_recorded(mountinfo, "3:pids:/\n2:cpu,cpuacct:/a\n1:name=systemd:/b\n", false).unwrap();
        let found = hierarchies(&host);
        assert_eq!(found.len(), 2, "only mounts under /sys/fs/cgroup: {found:?}");
        assert_eq!(found[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(found[0].own_path.as_deref(), Some("/a"));
        assert_eq!(found[1].controllers, ["name=systemd"]);
        assert_eq!(found[1].own_path.as_deref(), Some("/b"));
    }
}
