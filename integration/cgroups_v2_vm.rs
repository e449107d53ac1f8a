//! cgroup v2 for real: integration/vm/build-and-boot.sh builds a static husk,
//! boots Debian's kernel under QEMU (software emulation, no KVM) with cgroup2
//! mounted and every controller enabled, and runs the scenarios of
//! integration/cgroup-scenarios.sh there (all but the host-only
//! differential). Every check must PASS, and husk's `events --stats` must
//! match runc's (Debian's runc, copied into the VM) field by field. Most
//! hosts are v2-only, and this one is v1/hybrid, so this is where husk's v2
//! driver is tested.
//!
//! Needs qemu-system-x86, cpio, busybox-static, runc and Debian's apt lists
//! (.ci/run installs them); the kernel is downloaded once into target/vm. HUSK_SCENARIOS
//! limits the run to some scenarios.

#[path = "common/verdict.rs"]
mod verdict;
use verdict::verdict;

#[path = "common/stats.rs"]
mod stats;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The checks each scenario must report in the VM (each also reports
/// `cgroup-removed`). The differential is host-only.
const SCENARIOS: &[(&str, &[&str])] = &[
    ("basic", &["run"]),
    ("memory", &["oom-exit", "limit-file", "swap-file", "oom-event", "oom-counter"]),
    ("pids", &["limit-file", "fork-fails"]),
    ("cpu", &["limit-file", "usage-half-core"]),
    ("devices", &["zero-readable", "null-writable", "block-denied", "char-denied", "char-allowed"]),
    ("pause", &["state-paused", "counter-frozen", "state-running", "counter-advances"]),
    ("update", &["memory-flag", "resources-stdin", "cpu-flags", "unlimited"]),
    ("ps", &["json-pids"]),
    ("events", &["stats-type", "memory-usage", "pids-current"]),
    ("affinity", &["cpuset-init", "cpuset-exec", "all-init", "all-exec"]),
    ("limits", &["check-before-update", "swappiness-oom", "hugetlb-rsvd"]),
    // Debian's runc is copied into the VM (build-and-boot.sh's oracle).
    ("stats", &["runc-printed", "husk-printed"]),
    ("cleanup", &["created", "delete-force", "process-gone"]),
    ("nested", &["shared-warns", "sub-holds", "delete-force"]),
];

#[test]
fn cgroup_scenarios_on_a_v2_kernel() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let selected: Option<Vec<String>> = std::env::var("HUSK_SCENARIOS")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split_whitespace().map(String::from).collect());
    let mut expected = Vec::new();
    let mut scenarios = Vec::new();
    for (scenario, checks) in SCENARIOS {
        if selected.as_ref().is_some_and(|s| !s.iter().any(|n| n == scenario)) {
            continue;
        }
        scenarios.push(*scenario);
        expected.extend(checks.iter().map(|c| format!("{scenario}.{c}")));
        expected.push(format!("{scenario}.cgroup-removed"));
    }

    std::fs::create_dir_all(repo.join("target/vm")).unwrap();
    let log_path = repo.join("target/vm/test-output.log");
    let log = File::create(&log_path).unwrap();
    let started = Instant::now();
    // The script builds the static husk with cargo: this test runs under
    // cargo, which a developer starts under /tmp/husk-cargo.lock, so the
    // script must not take that lock again.
    let status = Command::new("bash")
        .arg(repo.join("integration/vm/build-and-boot.sh"))
        .env("HUSK_CARGO_LOCKED", "1")
        // The scenarios above only: the differential is host-only.
        .env("HUSK_SCENARIOS", scenarios.join(" "))
        .current_dir(&repo)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .expect("run integration/vm/build-and-boot.sh");
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    // Shown by the test harness when the test fails: the build, the boot and
    // the VM's whole serial console.
    println!("{output}");
    println!("build-and-boot.sh: {status} after {:.0?}", started.elapsed());

    if let Err(problems) = verdict(&output, &expected) {
        panic!("{problems}\n(serial log above and in target/vm/serial.log)");
    }
    if scenarios.contains(&"stats")
        && let Err(differences) = stats::compare_output(&output)
    {
        panic!("{differences}\n(in the cgroup v2 VM)");
    }
    assert!(status.success(), "build-and-boot.sh exited with {status}");
}

