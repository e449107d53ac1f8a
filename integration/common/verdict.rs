// The verdict on the `RESULT name PASS|FAIL reason` lines of a scenario
// script's output (integration/cgroup-scenarios.sh, the VM payloads, the
// engines' scripts), and the table of scenario × runtime that the engine
// and checkpoint tests print.

// Each test takes what it needs of it.
#![allow(dead_code)]

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

/// Every `RESULT name PASS|FAIL reason` line of the output: PASS as Ok, a
/// FAIL (or a malformed line) as its reason; a later line of a name wins.
pub fn results(output: &str) -> BTreeMap<String, Result<(), String>> {
    let mut results = BTreeMap::new();
    for line in output.lines().map(|l| l.trim_end_matches('\r')) {
        let Some(rest) = line.strip_prefix("RESULT ") else { continue };
        let mut words = rest.splitn(3, ' ');
        let name = words.next().unwrap_or("").to_string();
        let result = match words.next() {
            Some("PASS") => Ok(()),
            _ => Err(words.next().unwrap_or("").to_string()),
        };
        results.insert(name, result);
    }
    results
}

/// A table of `rows` × `columns`, each cell PASS, FAIL or `-` (no result)
/// as `cell(row, column index)` says, or empty.
pub fn format_table(rows: &[String], columns: &[&str], cell: impl Fn(&str, usize) -> &'static str) -> String {
    let width = rows.iter().map(String::len).max().unwrap_or(0).max(8);
    let mut table = format!("{:width$}", "scenario");
    for name in columns {
        table.push_str(&format!("  {name:6}"));
    }
    table.push('\n');
    for row in rows {
        table.push_str(&format!("{row:width$}"));
        for column in 0..columns.len() {
            table.push_str(&format!("  {:6}", cell(row, column)));
        }
        table.push('\n');
    }
    table
}

/// The cell of one result: PASS, FAIL or `-` when there is none.
pub fn cell(result: Option<&Result<(), String>>) -> &'static str {
    match result {
        Some(Ok(())) => "PASS",
        Some(Err(_)) => "FAIL",
        None => "-",
    }
}
