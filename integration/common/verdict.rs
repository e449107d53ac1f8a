// The verdict on integration/cgroup-scenarios.sh's output, shared by the
// host test (cgroups.rs) and the cgroup v2 VM test (cgroups_v2_vm.rs).

use std::collections::BTreeMap;

/// Checks the script's output: every `RESULT name PASS|FAIL reason` line
/// passed, every expected name appeared, and `SCENARIOS DONE` ended it.
/// Returns the problems, one per line.
pub fn verdict(output: &str, expected: &[String]) -> Result<(), String> {
    let mut results: BTreeMap<&str, Result<(), &str>> = BTreeMap::new();
    let mut problems = Vec::new();
    for line in output.lines().map(|l| l.trim_end_matches('\r')) {
        let Some(rest) = line.strip_prefix("RESULT ") else { continue };
        let mut words = rest.splitn(3, ' ');
        let (name, outcome, reason) = (words.next().unwrap_or(""), words.next(), words.next());
        match outcome {
            Some("PASS") => {
                results.entry(name).or_insert(Ok(()));
            }
            Some("FAIL") => {
                results.insert(name, Err(reason.unwrap_or("")));
            }
            _ => problems.push(format!("malformed result line: {line}")),
        }
    }
    for (name, result) in &results {
        if let Err(reason) = result {
            problems.push(format!("FAIL {name}: {reason}"));
        }
    }
    for name in expected {
        if !results.contains_key(name.as_str()) {
            problems.push(format!("no result for {name}"));
        }
    }
    if !output.lines().any(|l| l.trim_end_matches('\r') == "SCENARIOS DONE") {
        problems.push("no SCENARIOS DONE: the scenarios did not finish".into());
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}
