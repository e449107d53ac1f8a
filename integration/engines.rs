//! Container engines driving husk, end to end: containerd (`ctr` through the
//! io.containerd.runc.v2 shim), podman (through conmon) and Docker (dockerd on
//! containerd) each run the scenarios of integration/engines/<engine>.sh,
//! once with Debian's runc, which checks the scenarios themselves, and once
//! with the built husk. Every engine runs with private directories, sockets
//! and configuration, started and stopped by the script, which leaves nothing
//! on the host (see integration/engines/lib.sh).
//!
//! Each test prints a table of scenario × runtime and requires every
//! scenario to pass with both runtimes; a FAIL line below the table gives the
//! engine's own error (which quotes the runtime's). ENGINES_RUNTIMES=husk (or
//! runc) runs one runtime only; ENGINES_KEEP=1 keeps each run's directory, the
//! engines' logs included. The engines come from Debian (.ci/run installs
//! containerd, podman, docker.io, tmux).

#[path = "common/verdict.rs"]
mod verdict;
use verdict::{cell, format_table, results, verdict};

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

const HUSK: &str = env!("CARGO_BIN_EXE_husk");
const RUNC: &str = "/usr/sbin/runc";

/// One engine at a time: the scenarios time `docker stop -t 2`, fill memory
/// to the OOM killer, and share /run/containerd/s (containerd 1.6's shim
/// sockets) and the default runtime state directories.
static SERIAL: Mutex<()> = Mutex::new(());

/// The runtimes to run the scenarios with, by name and path.
fn runtimes() -> Vec<(&'static str, &'static str)> {
    let wanted = std::env::var("ENGINES_RUNTIMES").unwrap_or_else(|_| "runc husk".into());
    [("runc", RUNC), ("husk", HUSK)]
        .into_iter()
        .filter(|(name, _)| wanted.split_whitespace().any(|w| w == *name))
        .collect()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory with a short path: engines put unix sockets in it
/// (107 bytes at most), and podman refuses a run root over 50 characters.
fn workdir(engine: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/tmp/husk-eng-{}-{engine}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the work directory");
    dir
}

/// What one script run reported: its output, and per scenario PASS or the
/// FAIL reason.
struct Run {
    output: String,
    results: BTreeMap<String, Result<(), String>>,
    problems: Result<(), String>,
}

fn run_script(engine: &str, (name, runtime): (&str, &str), work: &Path, expected: &[String]) -> Run {
    let out_path = work.join(format!("{engine}-{name}.out"));
    let err_path = work.join(format!("{engine}-{name}.err"));
    // Output through files: a process that outlived the script would keep a
    // pipe open.
    let status = Command::new("bash")
        .arg(repo().join(format!("integration/engines/{engine}.sh")))
        .arg(runtime)
        .arg(work)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .status()
        .expect("run the engine script");
    let mut output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let errors = std::fs::read_to_string(&err_path).unwrap_or_default();
    if !errors.is_empty() {
        output.push_str(&format!("stderr of {engine}.sh:\n{errors}"));
    }
    let results = results(&output);
    let mut problems = verdict(&output, expected);
    if !status.success() {
        let exited = format!("{engine}.sh exited with {status}");
        problems = Err(match problems {
            Ok(()) => exited,
            Err(p) => format!("{exited}\n{p}"),
        });
    }
    Run { output, results, problems }
}

/// Runs ENGINE's scenarios with each runtime, prints the table, and fails
/// with every problem.
fn run_engine(engine: &str, tool: &str, scenarios: &[&str]) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "{tool} is not installed: .ci/run installs the engines (containerd, podman, docker.io, tmux)"
    );
    let expected: Vec<String> = scenarios.iter().map(|s| format!("{engine}.{s}")).collect();
    let work = workdir(engine);
    let mut runs = Vec::new();
    for (name, path) in runtimes() {
        let run = run_script(engine, (name, path), &work, &expected);
        println!("==== {engine} with {name} ({path})\n{}", run.output);
        runs.push((name, run));
    }

    let columns: Vec<&str> = runs.iter().map(|(name, _)| *name).collect();
    let table = format_table(&expected, &columns, |scenario, column| cell(runs[column].1.results.get(scenario)));
    let mut failures = String::new();
    for (name, run) in &runs {
        if let Err(problems) = &run.problems {
            for line in problems.lines() {
                failures.push_str(&format!("[{name}] {line}\n"));
            }
        }
    }
    println!("==== {engine}: scenario × runtime\n{table}{failures}");
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        println!("the logs of failed runs are kept under {}", work.display());
    }
    assert!(failures.is_empty(), "{engine} (the table and the outputs are above):\n{failures}");
}

#[test]
fn containerd() {
    run_engine(
        "containerd",
        "ctr",
        &["run-exit-code", "detached-exec", "ps", "pause-resume", "metrics", "kill", "tty", "delete"],
    );
}

#[test]
fn podman() {
    run_engine(
        "podman",
        "podman",
        &["run-rm", "detached-exec-stop-rm", "tty", "oom", "create-start", "logs", "read-only", "tmpfs-copyup"],
    );
}

/// Rootless podman, as an unprivileged user (integration/engines/rootless-user.sh).
#[test]
fn podman_rootless() {
    run_engine("podman-rootless", "podman", &["run-exit-code", "detached-exec-stop-rm", "user", "volume", "clean"]);
}

#[test]
fn docker() {
    run_engine(
        "docker",
        "dockerd",
        &["run", "create-start", "exec-tty", "stop", "kill", "logs", "memory", "cpu-shares", "restart", "volume", "build", "network-none"],
    );
}
