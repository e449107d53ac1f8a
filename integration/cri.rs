//! The CRI path, as the kubelet drives it: containerd's CRI plugin (Debian's
//! containerd 1.6, on private directories) starts the io.containerd.runc.v2
//! shim, which drives the runtime of the pod's handler. integration/cri/cri.py
//! is the CRI client (Python gRPC stubs generated from shared/cri-api's
//! api.proto): it builds a pause image and a busybox image, starts
//! containerd with a `runc` handler (Debian's runc) and a `husk` handler (the
//! built husk), and runs each scenario of integration/cri/scenarios.py with
//! runc first, which checks the scenario, then with husk.
//!
//! The test prints a table of scenario × handler and requires every scenario
//! to pass with both; a FAIL line below it gives the reason, ending with the
//! errors containerd logged (which quote the runtime's). CRI_HANDLERS=husk
//! runs one handler only; CRI_KEEP=1 keeps the run's directory, containerd's
//! log in it. .ci/run installs containerd, python3-grpcio and
//! python3-grpc-tools.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const HUSK: &str = env!("CARGO_BIN_EXE_husk");
/// Debian's Python, which has Debian's grpcio (a `python3` earlier in PATH,
/// such as a pyenv shim, may not).
const PYTHON: &str = "/usr/bin/python3";

#[test]
fn cri() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = PathBuf::from(format!("/tmp/husk-cri-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create the work directory");
    let has_grpc = Command::new(PYTHON).args(["-c", "import grpc, grpc_tools"]).status();
    assert!(
        has_grpc.is_ok_and(|s| s.success()),
        "{PYTHON} lacks grpc: .ci/run installs python3-grpcio and python3-grpc-tools"
    );
    // Output through a file: a process that outlived the driver would keep
    // a pipe open.
    let out_path = work.join("cri.out");
    let status = Command::new(PYTHON)
        .arg(repo.join("integration/cri/cri.py"))
        .arg(HUSK)
        .arg(&work)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(Stdio::inherit())
        .status()
        .expect("run integration/cri/cri.py");
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    println!("{output}");

    // scenario -> handler -> result, in the order the driver ran them.
    let mut order: Vec<String> = Vec::new();
    let mut handlers: Vec<String> = Vec::new();
    let mut results: BTreeMap<(String, String), Result<(), String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for line in output.lines() {
        if let Some(left) = line.strip_prefix("LEFT ") {
            problems.push(format!("left after the run: {left}"));
            continue;
        }
        let Some(rest) = line.strip_prefix("RESULT ") else { continue };
        let mut words = rest.splitn(4, ' ');
        let (Some(scenario), Some(handler), Some(outcome)) = (words.next(), words.next(), words.next()) else {
            problems.push(format!("malformed result line: {line}"));
            continue;
        };
        if !order.iter().any(|s| s == scenario) {
            order.push(scenario.to_string());
        }
        if !handlers.iter().any(|h| h == handler) {
            handlers.push(handler.to_string());
        }
        let result = match outcome {
            "PASS" => Ok(()),
            _ => Err(words.next().unwrap_or("").to_string()),
        };
        results.insert((scenario.to_string(), handler.to_string()), result);
    }
    if !status.success() {
        problems.push(format!("cri.py exited with {status}"));
    }
    if !output.lines().any(|l| l == "SCENARIOS DONE") {
        problems.push("no SCENARIOS DONE: the scenarios did not finish".into());
    }
    if order.is_empty() {
        problems.push("no scenario ran".into());
    }

    let width = order.iter().map(String::len).max().unwrap_or(0).max(8);
    let mut table = format!("{:width$}", "scenario");
    for h in &handlers {
        table.push_str(&format!("  {h:6}"));
    }
    table.push('\n');
    for scenario in &order {
        table.push_str(&format!("{scenario:width$}"));
        for h in &handlers {
            let cell = match results.get(&(scenario.clone(), h.clone())) {
                Some(Ok(())) => "PASS",
                Some(Err(_)) => "FAIL",
                None => {
                    problems.push(format!("no result for {scenario} with {h}"));
                    "-"
                }
            };
            table.push_str(&format!("  {cell:6}"));
        }
        table.push('\n');
    }
    for scenario in &order {
        for h in &handlers {
            if let Some(Err(reason)) = results.get(&(scenario.clone(), h.clone())) {
                problems.push(format!("[{h}] FAIL {scenario}: {reason}"));
            }
        }
    }
    let problems = problems.join("\n");
    println!("==== CRI: scenario × handler\n{table}{problems}");
    if problems.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("the driver's output is kept in {}", out_path.display());
    }
    assert!(problems.is_empty(), "CRI (the table and the output are above):\n{problems}");
}
