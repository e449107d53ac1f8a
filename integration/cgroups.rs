//! cgroups on this host (v1, hybrid or v2), end to end: each test runs one
//! scenario of integration/cgroup-scenarios.sh with the built husk and a
//! busybox rootfs, echoes its output, and requires every check it printed to
//! PASS, the scenario's checks to be there, and SCENARIOS DONE. The script
//! prints why a check failed. cgroups_v2_vm.rs runs the same script on a
//! cgroup v2 kernel in a VM.

#[path = "common/mod.rs"]
mod common;
use common::*;

#[path = "common/verdict.rs"]
mod verdict;
use verdict::verdict;

#[path = "common/stats.rs"]
mod stats;

use std::fs::File;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// One scenario at a time: the cpu scenario measures the share of a core a
/// busy loop gets, which other scenarios running beside it would take.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `scenario` and checks its output; `checks` are the names (after
/// "scenario.") that must be reported, besides `cgroup-removed`, which
/// every scenario reports. Returns the script's output.
fn run_scenario(scenario: &str, checks: &[&str]) -> String {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // A bundle only for its private directory and its copy of the rootfs;
    // dropping it checks that no process or mount of ours is left.
    let bundle = Bundle::new(&["true"]);
    let out_path = bundle.dir.join("scenarios.out");
    let err_path = bundle.dir.join("scenarios.err");
    // Output through files, as Bundle::husk does: a container that outlived
    // the script would keep a pipe open.
    let status = Command::new("sh")
        .arg(repo().join("integration/cgroup-scenarios.sh"))
        .arg(HUSK)
        .arg(bundle.rootfs())
        .arg(bundle.dir.join("work"))
        .arg(scenario)
        .env("PATH", path_with_runc())
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .status()
        .expect("run cgroup-scenarios.sh");
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let errors = std::fs::read_to_string(&err_path).unwrap_or_default();
    println!("{output}");
    if !errors.is_empty() {
        println!("stderr of cgroup-scenarios.sh:\n{errors}");
    }
    assert!(status.success(), "cgroup-scenarios.sh exited with {status}");
    let mut expected: Vec<String> = checks.iter().map(|c| format!("{scenario}.{c}")).collect();
    expected.push(format!("{scenario}.cgroup-removed"));
    if let Err(problems) = verdict(&output, &expected) {
        panic!("{scenario}: {problems}");
    }
    output
}

/// PATH with /usr/sbin, where Debian puts runc (the differential's oracle).
fn path_with_runc() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    if path.split(':').any(|p| p == "/usr/sbin") { path } else { format!("{path}:/usr/sbin") }
}


#[test]
fn basic() {
    run_scenario("basic", &["run"]);
}

#[test]
fn memory() {
    // swap-file is skipped (not failed) where swap accounting is off.
    run_scenario("memory", &["oom-exit", "limit-file", "oom-event", "oom-counter"]);
}

#[test]
fn pids() {
    run_scenario("pids", &["limit-file", "fork-fails"]);
}

#[test]
fn cpu() {
    run_scenario("cpu", &["limit-file", "usage-half-core"]);
}

#[test]
fn devices() {
    run_scenario("devices", &["zero-readable", "null-writable", "block-denied", "char-denied", "char-allowed"]);
}

#[test]
fn pause() {
    run_scenario("pause", &["state-paused", "counter-frozen", "state-running", "counter-advances"]);
}

#[test]
fn update() {
    run_scenario("update", &["memory-flag", "resources-stdin", "cpu-flags", "unlimited"]);
}

#[test]
fn ps() {
    run_scenario("ps", &["json-pids"]);
}

#[test]
fn affinity() {
    run_scenario("affinity", &["cpuset-init", "cpuset-exec", "all-init", "all-exec"]);
}

#[test]
fn limits() {
    // hugetlb-rsvd is skipped (not failed) on a host whose containers get no
    // hugetlb controller (this one: v1 without a hugetlb hierarchy).
    run_scenario("limits", &["check-before-update", "swappiness-oom"]);
}

#[test]
fn events() {
    run_scenario("events", &["stats-type", "memory-usage", "pids-current"]);
}

/// The same bundle under runc and husk: `events --stats` has the same keys
/// at every level, equal limits, and non-zero usage in both or neither.
#[test]
fn stats_match_runc() {
    let output = run_scenario("stats", &["runc-printed", "husk-printed"]);
    if let Err(differences) = stats::compare_output(&output) {
        panic!("{differences}");
    }
}

#[test]
fn stats_comparison_finds_differences() {
    let event = |data: serde_json::Value| serde_json::json!({"type": "stats", "id": "x", "data": data});
    let runc = event(serde_json::json!({
        "memory": {"usage": {"limit": 100, "usage": 5}, "cache": 3, "raw": {"a": 1}},
        "cpu": {"usage": {"total": 9, "percpu": [1, 2]}},
        "blkio": {"ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1}]}
    }));
    assert!(stats::compare(&runc, &runc).is_empty());
    let husk = event(serde_json::json!({
        "memory": {"usage": {"limit": 200, "usage": 0}, "raw": {"a": 7, "b": 1}},
        "cpu": {"usage": {"total": 4, "percpu": [1]}},
        "blkio": {"ioServicedRecursive": [{"major": 8, "minor": 1, "op": "Read", "value": 1}]}
    }));
    let differences = stats::compare(&runc, &husk).join("
");
    for expected in [
        "data.memory.usage.limit: runc 100, husk 200 (must be equal)",
        "data.memory.usage.usage: runc 5, husk 0 (zero in one only)",
        "data.memory.cache: only runc has it (3)",
        "data.memory.raw.b: only husk has it (1)",
        "data.cpu.usage.percpu: runc has 2 numbers, husk 1",
        "data.blkio.ioServicedRecursive[]: runc's entries have fields",
    ] {
        assert!(differences.contains(expected), "{expected:?} not in:
{differences}");
    }
    assert!(!differences.contains("raw.a"), "counters other than usage are noise:
{differences}");
    assert!(!differences.contains("cpu.usage.total"), "both non-zero:
{differences}");
}

#[test]
fn cleanup() {
    run_scenario("cleanup", &["created", "delete-force", "process-gone"]);
}

#[test]
fn nested() {
    run_scenario("nested", &["shared-warns", "sub-holds", "delete-force"]);
}

#[test]
fn differential() {
    // memory-swap, blkio-weight and devices are compared where the host has
    // the files (skipped otherwise); swappiness and the OOM killer switch on
    // v1, where runc 1.1.5 writes them.
    let mut checks = vec!["memory-limit", "memory-reservation", "cpu-shares", "cpu-quota", "cpu-period", "pids-limit"];
    if !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        checks.extend(["memory-swappiness", "memory-oom-control"]);
    }
    run_scenario("differential", &checks);
}

#[test]
fn verdict_reads_results() {
    let expected = vec!["a.x".to_string(), "a.y".to_string()];
    assert!(verdict("RESULT a.x PASS\nSKIP a.z why\nRESULT a.y PASS\nSCENARIOS DONE\n", &expected).is_ok());
    let problems = verdict("RESULT a.x FAIL got 3, want 4\r\nSCENARIOS DONE\r\n", &expected).unwrap_err();
    assert!(problems.contains("FAIL a.x: got 3, want 4"), "{problems}");
    assert!(problems.contains("no result for a.y"), "{problems}");
    let problems = verdict("RESULT a.x PASS\nRESULT a.y PASS\n", &expected).unwrap_err();
    assert!(problems.contains("no SCENARIOS DONE"), "{problems}");
}

/// A cgroup that another container occupies is shared, with runc's
/// warning, and left alone: deleting the second container touches neither
/// the first's processes nor the cgroup, which goes with the first.
#[test]
fn occupied_cgroup_is_shared_with_a_warning_and_left_alone() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let path = format!("/husk-occupied-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = path.clone().into();
    b.write();
    let first = b.id("first");
    assert!(b.husk(&["run", "-d", &first]).status.success());
    let second = b.id("second");
    let out = b.husk(&["run", "-d", &second]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("container's cgroup is not empty: 1 process(es) found"), "{}", text(&out.stderr));
    let out = b.husk(&["delete", "--force", &second]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!b.root.join(&second).exists());
    assert_eq!(b.state(&first)["status"], "running");
    let pids = std::path::Path::new("/sys/fs/cgroup/pids").join(path.trim_start_matches('/'));
    if pids.parent().is_some_and(|p| p.is_dir()) {
        assert!(pids.is_dir(), "the shared cgroup went with the second container");
    }
    assert!(b.husk(&["delete", "--force", &first]).status.success());
    assert!(!pids.exists(), "the cgroup outlived the first container");
}

/// A frozen cgroup is refused too: a container placed there would never run.
#[test]
fn frozen_cgroup_is_refused() {
    let mut b = Bundle::new(&["true"]);
    let name = format!("husk-frozen-{}", std::process::id());
    let freezer = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        std::path::PathBuf::from(format!("/sys/fs/cgroup/{name}"))
    } else {
        std::path::PathBuf::from(format!("/sys/fs/cgroup/freezer/{name}"))
    };
    std::fs::create_dir_all(&freezer).unwrap();
    let (file, value) = if freezer.join("cgroup.freeze").exists() { ("cgroup.freeze", "1") } else { ("freezer.state", "FROZEN") };
    std::fs::write(freezer.join(file), value).unwrap();
    b.config["linux"]["cgroupsPath"] = format!("/{name}").into();
    b.write();
    let id = b.id("frozen");
    let out = b.husk(&["create", &id]);
    let _ = std::fs::remove_dir(&freezer);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already exists and is frozen"), "{}", text(&out.stderr));
    assert!(!b.root.join(&id).exists());
}

/// `pids.limit` 0 is a limit, as the spec says: the container may not fork
/// at all (runc 1.1.5 read it as "no limit"). A `pids` without a limit is
/// no limit.
#[test]
fn a_pids_limit_of_zero_forbids_forking() {
    // Shell builtins only, up to the fork of /bin/true.
    let script = "f=/sys/fs/cgroup/pids/pids.max; [ -e $f ] || f=/sys/fs/cgroup/pids.max; read limit <$f; echo $limit; /bin/true && echo forked";
    let mut b = Bundle::new(&["sh", "-c", script]);
    b.config["linux"]["resources"] = serde_json::json!({"pids": {"limit": 0}});
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "cgroup"}));
    b.write();
    let (code, stdout, stderr) = b.run("pids-zero");
    assert_ne!(code, 0, "forked under pids.max 0: {stdout} {stderr}");
    assert!(stdout.starts_with("0\n") && !stdout.contains("forked"), "stdout: {stdout:?} stderr: {stderr}");

    b.config["linux"]["resources"] = serde_json::json!({"pids": {}});
    b.write();
    let (code, stdout, stderr) = b.run("pids-none");
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert_eq!(stdout, "max\nforked\n", "stderr: {stderr}");
}
