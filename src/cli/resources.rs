//! The verbs built on the container's cgroup: `update`, `ps`, `events`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use oci_spec::runtime::LinuxResources;
use serde_json::{Value, json};

use super::UsageError;
use crate::cgroups::{self, Cgroup, convert::parse_size};
use crate::config_error::ConfigError;
use crate::container::LifecycleError;
use crate::error::{Error, Result};
use crate::state::{Container, Status, Store};

/// runc's `update` flags; any given flag overrides the same field of `-r`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// A JSON LinuxResources file, or `-` for standard input.
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    #[arg(long = "cpu-burst")]
    cpu_burst: Option<u64>,
    #[arg(long = "cpu-share")]
    cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Memory limit: bytes, or with a k/m/g suffix; -1 for none.
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Memory plus swap; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    #[arg(long = "kernel-memory", allow_hyphen_values = true, hide = true)]
    kernel_memory: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    pub id: String,
}

impl UpdateArgs {
    /// The resources asked for, as the spec's JSON.
    fn to_json(&self) -> Result<Value> {
        let mut resources = match &self.resources {
            None => json!({}),
            Some(path) => {
                let mut text = String::new();
                let read = if path.as_os_str() == "-" {
                    std::io::stdin().read_to_string(&mut text).map(drop)
                } else {
                    std::fs::read_to_string(path).map(|t| text = t)
                };
                read.map_err(Error::io("read resources", path))?;
                serde_json::from_str(&text).map_err(|e| {
                    let at = format!("line {} column {}", e.line(), e.column());
                    UsageError::File(ConfigError::new(path, at, "invalid JSON"))
                })?
            }
        };
        let size = |flag: &'static str, value: &Option<String>| -> Result<Option<i64>, UsageError> {
            value
                .as_deref()
                .map(|v| parse_size(v).map_err(|e| UsageError::Flag { flag, value: v.to_string(), problem: e.to_string() }))
                .transpose()
        };
        let mut set = |section: &str, key: &str, value: Option<Value>| {
            if let Some(value) = value {
                resources[section][key] = value;
            }
        };
        set("memory", "limit", size("memory", &self.memory)?.map(Value::from));
        set("memory", "reservation", size("memory-reservation", &self.memory_reservation)?.map(Value::from));
        set("memory", "swap", size("memory-swap", &self.memory_swap)?.map(Value::from));
        set("memory", "kernel", size("kernel-memory", &self.kernel_memory)?.map(Value::from));
        set("cpu", "shares", self.cpu_share.map(Value::from));
        set("cpu", "quota", self.cpu_quota.map(Value::from));
        set("cpu", "period", self.cpu_period.map(Value::from));
        set("cpu", "burst", self.cpu_burst.map(Value::from));
        set("cpu", "realtimePeriod", self.cpu_rt_period.map(Value::from));
        set("cpu", "realtimeRuntime", self.cpu_rt_runtime.map(Value::from));
        set("cpu", "cpus", self.cpuset_cpus.clone().map(Value::from));
        set("cpu", "mems", self.cpuset_mems.clone().map(Value::from));
        set("blockIO", "weight", self.blkio_weight.map(Value::from));
        set("pids", "limit", self.pids_limit.map(Value::from));
        Ok(resources)
    }
}

/// The cgroup of a container that is alive.
fn live_cgroup(store: &Store, id: &str) -> Result<(Container, Box<dyn Cgroup>)> {
    let container = store.load(id)?;
    if matches!(store.status(&container), Status::Stopped | Status::Creating) {
        return Err(LifecycleError::NotRunning.into());
    }
    // Through its driver: `update` sets a systemd unit's properties too.
    let cgroup = container
        .cgroup
        .as_ref()
        .map(|paths| cgroups::open_managed(paths, container.systemd.as_ref(), id))
        .ok_or_else(|| LifecycleError::NoCgroup(id.to_string()))?;
    Ok((container, cgroup))
}

pub fn update(store: &Store, args: &UpdateArgs) -> Result<()> {
    let (_, cgroup) = live_cgroup(store, &args.id)?;
    let value = args.to_json()?;
    // Named after the file given, or the flags that made the resources.
    let source = args.resources.clone().unwrap_or_else(|| "update flags".into());
    let resources: LinuxResources = serde_path_to_error::deserialize(value)
        .map_err(|e| UsageError::File(ConfigError::new(source, e.path().to_string(), e.inner().to_string())))?;
    Ok(cgroup.apply(&resources)?)
}

pub fn ps(store: &Store, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    // Whatever the status, as runc: a stopped container lists what is left
    // in its cgroup (nothing, or what outlived its init).
    // Without a cgroup (rootless), the processes of its pid namespace.
    let container = store.load(id)?;
    let pids = crate::container::container_processes(&container);
    if format == "json" {
        // runc marshals an empty list as Go's nil slice: `null`.
        let json = if pids.is_empty() { "null".to_string() } else { serde_json::to_string(&pids).expect("pids serialise") };
        println!("{json}");
        return Ok(());
    }
    let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(Error::io("run", "ps"))?;
    if !output.status.success() {
        let problem = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(UsageError::Ps { args: args.join(" "), problem }.into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| UsageError::Ps { args: args.join(" "), problem: "no PID column".into() })?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{header}");
    for line in lines {
        let pid = line.split_whitespace().nth(column).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            let _ = writeln!(out, "{line}");
        }
    }
    Ok(())
}

/// Prints `{"type":"stats",…}` once with `--stats`; otherwise streams stats
/// every interval and an `{"type":"oom",…}` line for each OOM kill, until the
/// container stops.
pub fn events(store: &Store, id: &str, once: bool, interval: Duration) -> Result<()> {
    let (container, cgroup) = live_cgroup(store, id)?;
    let emit = |value: Value| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    };
    let stats = |cgroup: &dyn Cgroup| json!({"type": "stats", "id": id, "data": cgroup.stats()});
    if once {
        emit(stats(cgroup.as_ref()));
        return Ok(());
    }
    let mut ooms = cgroup.oom_kills();
    let mut next_stats = Instant::now();
    // OOM kills are polled, often, so that one is reported promptly.
    let tick = interval.min(Duration::from_millis(100));
    loop {
        let seen = cgroup.oom_kills();
        for _ in ooms..seen {
            emit(json!({"type": "oom", "id": id}));
        }
        ooms = seen;
        if matches!(store.status(&container), Status::Stopped) {
            return Ok(());
        }
        if Instant::now() >= next_stats {
            emit(stats(cgroup.as_ref()));
            next_stats = Instant::now() + interval;
        }
        std::thread::sleep(tick);
    }
}
