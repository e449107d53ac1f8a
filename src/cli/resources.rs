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
/// Numbers are taken as text and parsed here, as runc does, so that negative
/// values (`--cpu-quota -1`, `--memory -1`) are values, not flags.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// A JSON LinuxResources file, or `-` for standard input.
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// CFS period (µs).
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    cpu_period: Option<String>,
    /// CFS quota (µs) per period; -1 for none.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// CFS burst (µs).
    #[arg(long = "cpu-burst", allow_hyphen_values = true)]
    cpu_burst: Option<String>,
    #[arg(long = "cpu-share", allow_hyphen_values = true)]
    cpu_share: Option<String>,
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    cpu_rt_period: Option<String>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<String>,
    /// 1 for SCHED_IDLE, 0 for the default.
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    cpu_idle: Option<String>,
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
    /// Obsolete: ignored with a warning, as runc does.
    #[arg(long = "kernel-memory", allow_hyphen_values = true, hide = true)]
    kernel_memory: Option<String>,
    /// Obsolete: ignored with a warning, as runc does.
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true, hide = true)]
    kernel_memory_tcp: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    pub id: String,
}

/// A flag's number: unsigned ones refuse a sign, as runc's ParseUint.
fn number(flag: &'static str, value: &Option<String>, signed: bool) -> Result<Option<Value>, UsageError> {
    let Some(text) = value.as_deref() else { return Ok(None) };
    let bad = |problem: &str| UsageError::Flag { flag, value: text.to_string(), problem: problem.to_string() };
    if signed {
        text.parse::<i64>().map(|n| Some(n.into())).map_err(|_| bad("expected an integer"))
    } else {
        text.parse::<u64>().map(|n| Some(n.into())).map_err(|_| bad("expected a non-negative integer"))
    }
}

/// A flag's size: -1, or bytes with an optional k/m/g suffix.
fn size(flag: &'static str, value: &Option<String>) -> Result<Option<Value>, UsageError> {
    let Some(text) = value.as_deref() else { return Ok(None) };
    if text == "-1" {
        return Ok(Some((-1).into()));
    }
    parse_size(text)
        .map(|n| Some(n.into()))
        .map_err(|e| UsageError::Flag { flag, value: text.to_string(), problem: e.to_string() })
}

impl UpdateArgs {
    /// The resources asked for, as the spec's JSON.
    fn to_json(&self, warn: &mut dyn FnMut(&str)) -> Result<Value> {
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
        let mut set = |section: &str, key: &str, value: Option<Value>| {
            if let Some(value) = value {
                resources[section][key] = value;
            }
        };
        set("memory", "limit", size("memory", &self.memory)?);
        set("memory", "reservation", size("memory-reservation", &self.memory_reservation)?);
        set("memory", "swap", size("memory-swap", &self.memory_swap)?);
        set("cpu", "shares", number("cpu-share", &self.cpu_share, false)?);
        set("cpu", "quota", number("cpu-quota", &self.cpu_quota, true)?);
        set("cpu", "period", number("cpu-period", &self.cpu_period, false)?);
        set("cpu", "burst", number("cpu-burst", &self.cpu_burst, false)?);
        set("cpu", "realtimePeriod", number("cpu-rt-period", &self.cpu_rt_period, false)?);
        set("cpu", "realtimeRuntime", number("cpu-rt-runtime", &self.cpu_rt_runtime, true)?);
        set("cpu", "idle", number("cpu-idle", &self.cpu_idle, true)?);
        set("cpu", "cpus", self.cpuset_cpus.clone().map(Value::from));
        set("cpu", "mems", self.cpuset_mems.clone().map(Value::from));
        set("blockIO", "weight", self.blkio_weight.map(Value::from));
        set("pids", "limit", number("pids-limit", &self.pids_limit, true)?);
        for (flag, value) in [("kernel-memory", &self.kernel_memory), ("kernel-memory-tcp", &self.kernel_memory_tcp)] {
            if value.is_some() {
                warn(&format!("Setting --{flag} is ignored and will be removed"));
            }
        }
        if update_rules(&mut resources) {
            warn("Kernel memory settings are ignored and will be removed");
        }
        Ok(resources)
    }
}

/// What runc's `update` makes of the resources, whatever their source: no
/// kernel memory (obsolete) and no device rules (`update` cannot know all of
/// a container's devices, so runc leaves the cgroup's rules alone); and a
/// memory limit of -1 without a swap limit lifts both, or v1 would refuse
/// an unlimited memory under a limited memory+swap. True if kernel memory
/// was asked for (runc warns).
fn update_rules(resources: &mut Value) -> bool {
    let mut kernel = false;
    if let Some(memory) = resources.get_mut("memory").and_then(Value::as_object_mut) {
        kernel = memory.remove("kernel").is_some() | memory.remove("kernelTCP").is_some();
        if memory.get("limit").and_then(Value::as_i64) == Some(-1) && memory.get("swap").is_none_or(Value::is_null) {
            memory.insert("swap".into(), (-1).into());
        }
    }
    if let Some(object) = resources.as_object_mut() {
        object.remove("devices");
    }
    kernel
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

pub fn update(store: &Store, args: &UpdateArgs, warn: &mut dyn FnMut(&str)) -> Result<()> {
    let (_, cgroup) = live_cgroup(store, &args.id)?;
    let value = args.to_json(warn)?;
    // Named after the file given, or the flags that made the resources.
    let source = args.resources.clone().unwrap_or_else(|| "update flags".into());
    crate::logging::debug_with(|| format!("update {}: resources {value}", args.id));
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
    crate::logging::debug_with(|| format!("ps {id}: processes: {pids:?}"));
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

/// One line of `events`, in runc's field order (types/events.go).
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<cgroups::stats::Stats>,
}

/// Prints `{"type":"stats",…}` once with `--stats`; otherwise streams stats
/// every interval and an `{"type":"oom",…}` line for each OOM kill, until the
/// container stops.
pub fn events(store: &Store, id: &str, once: bool, interval: Duration) -> Result<()> {
    let (container, cgroup) = live_cgroup(store, id)?;
    let emit = |event: Event| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", serde_json::to_string(&event).expect("events serialise"));
        let _ = out.flush();
    };
    let stats = |cgroup: &dyn Cgroup| Event { kind: "stats", id, data: Some(cgroup.stats()) };
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
            emit(Event { kind: "oom", id, data: None });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_memory_lifts_swap_unless_given() {
        let mut r = json!({"memory": {"limit": -1}, "devices": [{"allow": true}]});
        assert!(!update_rules(&mut r));
        assert_eq!(r, json!({"memory": {"limit": -1, "swap": -1}}));
        let mut r = json!({"memory": {"limit": -1, "swap": 1000, "kernel": 5}});
        assert!(update_rules(&mut r));
        assert_eq!(r, json!({"memory": {"limit": -1, "swap": 1000}}));
        let mut r = json!({"memory": {"limit": 1000}});
        update_rules(&mut r);
        assert_eq!(r, json!({"memory": {"limit": 1000}}));
    }

    #[test]
    fn numbers_as_runc_parses_them() {
        assert_eq!(number("cpu-quota", &Some("-1".into()), true).unwrap(), Some((-1).into()));
        assert!(number("cpu-period", &Some("-1".into()), false).is_err());
        assert!(number("cpu-quota", &Some("abc".into()), true).is_err());
        assert_eq!(size("memory", &Some("-1".into())).unwrap(), Some((-1).into()));
        assert_eq!(size("memory", &Some("1m".into())).unwrap(), Some((1 << 20).into()));
    }
}
