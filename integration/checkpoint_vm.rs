//! Checkpoint and restore under CRIU, in the booted systemd host of
//! systemd_vm.rs (integration/vm/systemd-image.sh: Debian bookworm, its 6.1
//! kernel, criu 3.17.1, which fails `criu check` on this host's newer
//! kernel), booted once as a cgroup v2 host with the checkpoint payload only:
//! - checkpoint.sh: `criu check`, then with Debian's runc (which checks the
//!   scenarios themselves) and with husk: a counter loop checkpointed (gone,
//!   the container removed) and restored (the count going on, the same pids
//!   inside, running with a new host pid), `--leave-running` with the image
//!   restored under another id, `--pre-dump` then `--parent-path`, a
//!   terminal (`--shell-job`, `--console-socket` on both sides), a TCP
//!   listener with an established connection (`--tcp-established`), and for
//!   husk the differential: runc and husk checkpoint and restore the same
//!   bundle, and their restored containers' mounts and state are compared;
//!   every scenario checks that nothing is left;
//! - engines.sh's checkpoint scenarios: containerd (`ctr c checkpoint
//!   --task`, `ctr c restore --live`) and podman (`container checkpoint`,
//!   `restore`, `--export`/`--import`) driving runc, then husk.
//!
//! Prints a table of scenario × runtime. HUSK_VM_CHECKPOINT_RUNTIMES
//! (default `runc husk`) picks the runtimes of both parts. Needs what
//! systemd_vm.rs needs (.ci/run installs it); the image is shared with it.

#[path = "common/verdict.rs"]
mod verdict;
use verdict::{cell, format_table, results, verdict};
#[path = "common/vm.rs"]
mod vm;

use std::time::Instant;

/// The criu checks, once per boot.
const CRIU_CHECKS: &[&str] =
    &["checkpoint.criu.check", "checkpoint.criu.feature-mem_dirty_track", "checkpoint.criu.feature-tcp_half_closed"];

/// checkpoint.sh's scenarios and their checks, for every runtime.
const SCENARIOS: &[(&str, &[&str])] = &[
    ("counter", &["run", "session-leader", "checkpoint", "gone", "restore", "state", "cgroup", "continues", "same-pids", "nothing-left"]),
    ("leave", &["checkpoint", "still-running", "restore-other-id", "both-running", "nothing-left"]),
    ("predump", &["pre-dump", "dump-with-parent", "restore", "nothing-left"]),
    ("terminal", &["run", "before", "checkpoint", "restore", "after", "nothing-left"]),
    ("tcp", &["connected", "checkpoint", "restore", "established", "listener", "nothing-left"]),
];
/// The differential, for every runtime but runc: the checks of the
/// comparison, and `runc-side.diff.nothing-left` for runc's container.
const DIFF_CHECKS: &[&str] = &["restored", "mounts-change", "mounts", "state", "nothing-left"];

/// The engines' checkpoint scenarios (engines.sh with `checkpoint` in
/// /payload/engines-scenarios), per engine and runtime.
const ENGINES: &[(&str, &[&str])] = &[
    ("containerd", &["checkpoint", "restore", "continues", "delete", "nothing-left"]),
    ("podman", &["checkpoint", "restore", "continues", "export-import", "delete", "nothing-left"]),
];
const ENGINE_SETUP: &[&str] = &["engines.containerd.start", "engines.containerd.image", "engines.podman.image"];

fn runtimes() -> Vec<String> {
    let wanted = std::env::var("HUSK_VM_CHECKPOINT_RUNTIMES").unwrap_or_else(|_| "runc husk".into());
    wanted.split_whitespace().map(str::to_string).collect()
}

/// Every expected check, in the table's order: a runtime's rows together.
fn expected(runtimes: &[String]) -> Vec<String> {
    let mut checks: Vec<String> = CRIU_CHECKS.iter().chain(ENGINE_SETUP).map(|c| c.to_string()).collect();
    for (scenario, names) in SCENARIOS {
        checks.extend(names.iter().map(|c| format!("checkpoint.RT.{scenario}.{c}")));
    }
    checks.extend(DIFF_CHECKS.iter().map(|c| format!("checkpoint.RT.diff.{c}")));
    checks.push("checkpoint.RT.runc-side.diff.nothing-left".into());
    for (engine, names) in ENGINES {
        checks.extend(names.iter().map(|c| format!("engines.{engine}.RT.{c}")));
    }
    checks
        .into_iter()
        .flat_map(|c| {
            if !c.contains(".RT.") {
                return vec![c];
            }
            runtimes
                .iter()
                .filter(|rt| *rt != "runc" || !(c.contains(".diff.") || c.contains(".runc-side.")))
                .map(|rt| c.replace(".RT.", &format!(".{rt}.")))
                .collect()
        })
        .collect()
}

/// The table of the results: a row per check with its runtime taken out
/// of its name (`checkpoint.counter.run`), a column per runtime; a check of
/// no runtime (criu's, the engines' set-up) in the first column.
fn print_table(expected: &[String], runtimes: &[String], output: &str) {
    let found = results(output);
    let row_of = |name: &str| -> String {
        let words: Vec<&str> = name.split('.').filter(|w| !runtimes.iter().any(|rt| rt == w)).collect();
        words.join(".")
    };
    let mut rows: Vec<String> = Vec::new();
    for name in expected {
        let row = row_of(name);
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    let columns: Vec<&str> = runtimes.iter().map(String::as_str).collect();
    let table = format_table(&rows, &columns, |row, column| {
        let name = expected.iter().find(|name| {
            row_of(name) == row
                && (name.split('.').any(|w| w == runtimes[column])
                    || (column == 0 && !name.split('.').any(|w| runtimes.iter().any(|rt| rt == w))))
        });
        match name {
            Some(name) => cell(found.get(name)),
            None => "",
        }
    });
    println!("==== checkpoint: scenario × runtime\n{table}");
}

#[test]
fn checkpoint_and_restore_under_criu() {
    let repo = vm::repo();
    let started = Instant::now();
    let husk = vm::build_static(&repo, &["--bin", "husk"], "husk");
    let work = repo.join("target/checkpoint-vm");
    std::fs::create_dir_all(&work).unwrap();
    let runtimes = runtimes();
    let payload = vm::make_payload(
        &repo,
        &work,
        &husk,
        &[
            ("checkpoint.sh", "scenarios/10-checkpoint.sh"),
            ("engines.sh", "scenarios/20-engines.sh"),
            ("console.py", "console.py"),
        ],
    );
    vm::make_image(&repo, &payload.join("busybox-image.tar"));
    std::fs::write(payload.join("checkpoint-runtimes"), runtimes.join(" ") + "\n").unwrap();
    std::fs::write(payload.join("engines-runtimes"), runtimes.join(" ") + "\n").unwrap();
    std::fs::write(payload.join("engines-list"), "v2 containerd podman\n").unwrap();
    std::fs::write(payload.join("engines-scenarios"), "checkpoint\n").unwrap();

    let boot = vm::boot(&repo, "v2", &payload, &work);
    let _ = std::fs::remove_dir_all(&payload);
    let expected = expected(&runtimes);
    print_table(&expected, &runtimes, &boot.text);
    println!("the boot: {:.0?}; with the build: {:.0?}", boot.elapsed, started.elapsed());
    let verdict = verdict(&boot.text, &expected);
    assert!(verdict.is_ok(), "{}\n(the serial log above and in target/checkpoint-vm/)", verdict.unwrap_err());
    assert!(boot.status.success(), "systemd-boot.sh exited with {}", boot.status);
}
