//! The systemd bus client of src/systemd/ as a command, for the systemd VM
//! (integration/vm/systemd-payload/client.sh drives it and checks what it
//! did with systemctl). Built as a static example by integration/systemd_vm.rs.
//!
//!   systemd-client version
//!   systemd-client start-scope UNIT SLICE PID MEMORY_MAX TASKS_MAX CPU_QUOTA_US ALLOWED_CPUS
//!   systemd-client set UNIT TASKS_MAX
//!   systemd-client exists UNIT
//!   systemd-client stop UNIT
//!
//! Prints one line of what happened; an error is its one line on stderr and
//! exit code 1.

#[allow(dead_code)]
#[path = "../../src/systemd/mod.rs"]
mod systemd;

use systemd::SystemdError;
use systemd::manager::{Manager, Property};
use systemd::naming::{cpu_quota_per_sec, range_to_bits};
use systemd::wire::Value;

fn number<T: std::str::FromStr>(text: &str) -> T {
    text.parse().unwrap_or_else(|_| usage())
}

fn usage() -> ! {
    eprintln!("usage: systemd-client version | start-scope UNIT SLICE PID MEMORY_MAX TASKS_MAX CPU_QUOTA_US ALLOWED_CPUS | set UNIT TASKS_MAX | exists UNIT | stop UNIT");
    std::process::exit(2)
}

fn run(args: &[String]) -> Result<String, SystemdError> {
    let mut manager = Manager::system()?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(match words[..] {
        ["version"] => format!("systemd {}", manager.version()?),
        ["start-scope", unit, slice, pid, memory_max, tasks_max, quota, cpus] => {
            // The properties runc's v2 driver sends for a container's scope.
            let mut props = vec![
                Property::new("Description", Value::str(&format!("husk test scope {unit}"))),
                Property::new("Slice", Value::str(slice)),
                Property::new("Delegate", Value::Bool(true)),
                Property::new("PIDs", Value::u32_array(&[number(pid)])),
                Property::new("MemoryAccounting", Value::Bool(true)),
                Property::new("CPUAccounting", Value::Bool(true)),
                Property::new("IOAccounting", Value::Bool(true)),
                Property::new("TasksAccounting", Value::Bool(true)),
                Property::new("DefaultDependencies", Value::Bool(false)),
                Property::new("MemoryMax", Value::U64(number(memory_max))),
                Property::new("TasksMax", Value::U64(number(tasks_max))),
                Property::new("AllowedCPUs", Value::bytes(&range_to_bits("cpus", cpus)?)),
                Property::new("DevicePolicy", Value::str("strict")),
                Property::new("DeviceAllow", Value::str_pairs(&[("/dev/null", "rwm"), ("char-pts", "rwm")])),
            ];
            if let Some(per_sec) = cpu_quota_per_sec(number(quota), 100_000) {
                props.push(Property::new("CPUQuotaPeriodUSec", Value::U64(100_000)));
                props.push(Property::new("CPUQuotaPerSecUSec", Value::U64(per_sec)));
            }
            manager.start_transient_unit(unit, "replace", &props, &[])?;
            format!("started {unit}")
        }
        ["set", unit, tasks_max] => {
            manager.set_unit_properties(unit, true, &[Property::new("TasksMax", Value::U64(number(tasks_max)))])?;
            format!("set {unit} TasksMax={tasks_max}")
        }
        ["exists", unit] => format!("{unit} {}", if manager.unit_exists(unit)? { "exists" } else { "absent" }),
        ["stop", unit] => {
            if manager.stop_unit(unit, "replace")? {
                format!("stopped {unit}")
            } else {
                format!("no unit {unit}")
            }
        }
        _ => usage(),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
