// `events --stats` of husk against runc's for the same container, field by
// field: the `STATS <runtime> <json>` lines of cgroup-scenarios.sh's
// `stats` scenario, compared by the host test (cgroups.rs) and the cgroup
// v2 VM test (cgroups_v2_vm.rs).

use std::collections::BTreeSet;

use serde_json::Value;

/// Numbers that must be equal: what the config set (limits), and the
/// cpuset settings both containers inherit.
fn must_be_equal(path: &str) -> bool {
    path.ends_with(".limit") || path.starts_with("data.cpuset.") || path == "data.pids.current"
}

/// Counters that both containers' work makes non-zero: zero in one and not
/// the other is a reading gone wrong. Other numbers (page faults, ticks,
/// throttled periods) are noise between two runs.
const NON_ZERO_TOGETHER: &[&str] = &[
    "data.cpu.usage.total",
    "data.memory.cache",
    "data.memory.usage.usage",
    "data.memory.swap.usage",
    "data.pids.current",
];

/// The differences between runc's and husk's stats, one line each: keys
/// present in one only (at any depth), and numbers out of line. `type`
/// must be "stats" in both; the ids differ by design.
pub fn compare(runc: &Value, husk: &Value) -> Vec<String> {
    let mut differences = Vec::new();
    for (name, event) in [("runc", runc), ("husk", husk)] {
        if event["type"] != "stats" {
            differences.push(format!("type: {name} printed {}, want \"stats\"", event["type"]));
        }
    }
    walk("data", &runc["data"], &husk["data"], &mut differences);
    differences
}

fn walk(path: &str, runc: &Value, husk: &Value, out: &mut Vec<String>) {
    match (runc, husk) {
        (Value::Object(r), Value::Object(h)) => {
            let keys: BTreeSet<&String> = r.keys().chain(h.keys()).collect();
            for key in keys {
                let at = format!("{path}.{key}");
                match (r.get(key), h.get(key)) {
                    (Some(rv), Some(hv)) => walk(&at, rv, hv, out),
                    (Some(rv), None) => out.push(format!("{at}: only runc has it ({})", short(rv))),
                    (None, Some(hv)) => out.push(format!("{at}: only husk has it ({})", short(hv))),
                    (None, None) => unreachable!("a key of one of them"),
                }
            }
        }
        (Value::Array(r), Value::Array(h)) => {
            // Lists of entries (blkio): the same fields, whatever the count.
            let fields = |list: &Vec<Value>| -> BTreeSet<String> {
                list.iter().filter_map(Value::as_object).flat_map(|o| o.keys().cloned()).collect()
            };
            let (rf, hf) = (fields(r), fields(h));
            if rf != hf {
                out.push(format!("{path}[]: runc's entries have fields {rf:?}, husk's {hf:?}"));
            }
            let numbers = r.iter().chain(h).all(Value::is_number);
            if numbers && must_be_equal(path) && r != h {
                out.push(format!("{path}: runc {}, husk {}", short(runc), short(husk)));
            } else if numbers && r.len() != h.len() {
                out.push(format!("{path}: runc has {} numbers, husk {}", r.len(), h.len()));
            }
        }
        (Value::Number(r), Value::Number(h)) => {
            if must_be_equal(path) && r != h {
                out.push(format!("{path}: runc {r}, husk {h} (must be equal)"));
            }
            let zero = |n: &serde_json::Number| n.as_f64() == Some(0.0);
            if NON_ZERO_TOGETHER.contains(&path) && zero(r) != zero(h) {
                out.push(format!("{path}: runc {r}, husk {h} (zero in one only)"));
            }
        }
        (r, h) if std::mem::discriminant(r) == std::mem::discriminant(h) => {}
        (r, h) => out.push(format!("{path}: runc {}, husk {} (not the same kind of value)", short(r), short(h))),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 { format!("{}…", text.chars().take(80).collect::<String>()) } else { text }
}

/// Finds the scenario's two STATS lines in `output` and compares them;
/// Err with every difference, each on its own line, and both objects.
pub fn compare_output(output: &str) -> Result<(), String> {
    let find = |runtime: &str| -> Result<Value, String> {
        let prefix = format!("STATS {runtime} ");
        let line = output
            .lines()
            .find_map(|l| l.trim_end_matches('\r').strip_prefix(prefix.as_str()))
            .ok_or_else(|| format!("no `{prefix}` line in the output"))?;
        serde_json::from_str(line).map_err(|e| format!("{runtime}'s stats are not JSON ({e}): {line}"))
    };
    let (runc, husk) = (find("runc")?, find("husk")?);
    let differences = compare(&runc, &husk);
    if differences.is_empty() {
        return Ok(());
    }
    Err(format!(
        "events --stats of husk differs from runc's:\n  {}\nrunc: {runc}\nhusk: {husk}",
        differences.join("\n  ")
    ))
}
