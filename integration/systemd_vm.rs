//! A booted systemd host, for the systemd cgroup driver: Debian bookworm
//! with systemd 252 as PID 1 under QEMU (integration/vm/systemd-image.sh
//! builds it once per machine into /var/cache/husk-vm; systemd-boot.sh boots
//! it), booted twice: cgroup v2 and hybrid (systemd.unified_cgroup_hierarchy=0).
//! Each boot runs the payload of integration/vm/systemd-payload/:
//! - host.sh proves the host: PID 1, `systemctl is-system-running`, the
//!   cgroup layout, systemd's manager on the system bus through busctl, and
//!   Debian's runc (the oracle) running a busybox container with
//!   `--systemd-cgroup` in a transient scope with its properties;
//! - client.sh drives husk's own D-Bus client (src/systemd/, built as the
//!   static example `systemd-client`) against that systemd: a scope for a
//!   sleeping process, its properties in `systemctl show` and the cgroup
//!   files, a property change, the stop, and its errors;
//! - rootless.sh runs husk as an unprivileged user with --systemd-cgroup
//!   in the user's own systemd instance (lingering, its bus, a delegated
//!   v2 subtree), after Debian's runc: the scope under user@UID.service,
//!   the limits in its files, exec, pause, resume, ps, kill, delete, and
//!   nothing left; on the hybrid boot, the refusal;
//! - engines.sh runs containerd (ctr, the runc v2 shim's SystemdCgroup
//!   option), podman (--cgroup-manager systemd) and Docker
//!   (native.cgroupdriver=systemd) on Debian's runc, then on husk: run with
//!   an exit code, the memory limit in the scope, exec, stop, kill, delete,
//!   and no unit or cgroup left. Their busybox image is built here
//!   (integration/engines/image.py). HUSK_VM_ENGINE_RUNTIMES (default
//!   `runc husk`) picks the runtimes; HUSK_VM_ENGINE_TRACE=1 prints every
//!   engine command with its time. HUSK_VM_MODES (default `v2 hybrid`) picks
//!   the boots.
//!
//! Needs mmdebstrap, e2fsprogs, qemu-system-x86 and the Debian mirror (.ci/run
//! installs them); a cold cache builds the image first (about 2.5 minutes).
//! HUSK_CARGO_LOCKED=1 says the caller holds /tmp/husk-cargo.lock, which the
//! build of the example otherwise takes.

#[path = "common/verdict.rs"]
mod verdict;
use verdict::verdict;
#[path = "common/vm.rs"]
mod vm;

use std::path::{Path, PathBuf};
use std::time::Instant;

const HOST_CHECKS: &[&str] = &[
    "host.pid1",
    "host.system-running",
    "host.bus",
    "runc.run",
    "runc.scope-active",
    "runc.scope-has-init",
    "runc.init-cgroup",
    "runc.memory-property",
    "runc.tasks-property",
    "runc.scope-gone",
];

const CLIENT_CHECKS: &[&str] = &[
    "client.version",
    "client.start",
    "client.active",
    "client.pid-in-scope",
    "client.property-MemoryMax",
    "client.property-TasksMax",
    "client.property-CPUQuotaPerSecUSec",
    "client.property-CPUQuotaPeriodUSec",
    "client.property-AllowedCPUs",
    "client.property-Delegate",
    "client.property-DevicePolicy",
    "client.property-DeviceAllow",
    "client.property-Slice",
    "client.property-DefaultDependencies",
    "client.file-pids.max",
    "client.set-properties",
    "client.exists",
    "client.stop",
    "client.process-stopped",
    "client.absent-after-stop",
    "client.stop-absent",
    "client.refused",
    "client.unreachable",
];

/// The engines of engines.sh in each cgroup layout, and the checks of each
/// with each runtime (`engines.<engine>.<runtime>.<check>`). The hybrid
/// boot runs podman alone: with all three, its guest kernel reported soft
/// lockups in dockerd's and containerd-shim's tasks under TCG and the boot
/// ran out of time (1 boot in 8); v2 runs all three.
fn engines(mode: &str) -> &'static [&'static str] {
    match mode {
        "hybrid" => &["podman"],
        _ => &["containerd", "podman", "docker"],
    }
}
const ENGINE_CHECKS: &[&str] =
    &["run-exit-code", "scope", "memory-property", "memory-file", "exec", "stop", "kill", "delete", "nothing-left"];
/// Once per boot: the daemons' start and the image's import.
fn engine_setup_checks(engine: &str) -> &'static [&'static str] {
    match engine {
        "containerd" => &["engines.containerd.start", "engines.containerd.image"],
        "podman" => &["engines.podman.image"],
        _ => &["engines.docker.start", "engines.docker.image"],
    }
}

/// The runtimes the engines drive, in order: Debian's runc first, which
/// checks the scenarios themselves.
fn engine_runtimes() -> Vec<String> {
    let wanted = std::env::var("HUSK_VM_ENGINE_RUNTIMES").unwrap_or_else(|_| "runc husk".into());
    wanted.split_whitespace().map(str::to_string).collect()
}

fn engine_checks(mode: &str, runtimes: &[String]) -> Vec<String> {
    let mut checks: Vec<String> =
        engines(mode).iter().flat_map(|e| engine_setup_checks(e)).map(|c| c.to_string()).collect();
    for runtime in runtimes {
        for engine in engines(mode) {
            checks.extend(ENGINE_CHECKS.iter().map(|c| format!("engines.{engine}.{runtime}.{c}")));
        }
    }
    checks
}

/// husk's own driver (husk.sh), the checks both layouts have.
const HUSK_CHECKS: &[&str] = &[
    "husk.features",
    "husk.run-exit",
    "husk.run-leaves-nothing",
    "husk.create",
    "husk.scope-active",
    "husk.scope-cgroup",
    "husk.scope-has-init",
    "husk.init-cgroup",
    "husk.property-TasksMax",
    "husk.property-CPUQuotaPerSecUSec",
    "husk.property-CPUQuotaPeriodUSec",
    "husk.property-AllowedCPUs",
    "husk.property-MemoryLow",
    "husk.property-Delegate",
    "husk.property-DevicePolicy",
    "husk.property-DeviceAllow",
    "husk.property-Slice",
    "husk.property-DefaultDependencies",
    "husk.property-MemoryAccounting",
    "husk.property-CPUAccounting",
    "husk.property-TasksAccounting",
    "husk.file-pids.max",
    "husk.file-cpuset.cpus",
    "husk.start",
    "husk.exec-in-scope",
    "husk.pause",
    "husk.resume",
    "husk.ps",
    "husk.update-properties",
    "husk.update-files",
    "husk.kill",
    "husk.delete",
    "husk.delete-no-unit",
    "husk.delete-no-cgroup",
    "husk.oom-exit",
    "husk.oom-leaves-nothing",
    "husk.dashed-slice",
    "husk.dashed-slice-file",
    "husk.dashed-slice-delete",
    "husk.slice-unit",
    "husk.slice-unit-delete",
    "husk.delete-force-created",
    "husk.killed-create-leaves-nothing",
    "husk.failed-create-leaves-nothing",
    "husk.bad-cgroups-path",
    "husk.slice-refused",
    "husk.nothing-left",
];

/// The checks only one cgroup layout has: systemd's v1 property names and
/// the v1 files.
fn mode_checks(mode: &str) -> &'static [&'static str] {
    match mode {
        "v2" => &[
            "host.cgroup-v2",
            "client.file-memory.max",
            "client.file-cpu.max",
            "client.file-cpuset.cpus",
            "husk.property-MemoryMax",
            // Hybrid: see husk.sh's OOM part.
            "husk.oom-event",
            "husk.property-CPUWeight",
            "husk.file-memory.max",
            "husk.file-memory.low",
            "husk.file-cpu.max",
            "husk.file-cpu.weight",
            // rootless.sh: the user's systemd instance, runc then husk.
            "rootless.user-bus",
            "rootless.delegated",
            "rootless.runc.scope-cgroup",
            "rootless.runc.memory.max",
            "rootless.runc.pids.max",
            "rootless.runc.unit-active",
            "rootless.runc-gone",
            "rootless.husk-run",
            "rootless.husk.scope-cgroup",
            "rootless.husk.memory.max",
            "rootless.husk.pids.max",
            "rootless.husk.unit-active",
            "rootless.husk-exec",
            "rootless.husk-pause",
            "rootless.husk-resume",
            "rootless.husk-ps",
            "rootless.husk-delete",
            "rootless.husk-nothing-left",
        ],
        _ => &[
            "host.cgroup-hybrid",
            "client.file-cpu.cfs_quota_us",
            "husk.property-MemoryLimit",
            "husk.property-CPUShares",
            "husk.file-memory.limit_in_bytes",
            "husk.file-memory.soft_limit_in_bytes",
            "husk.file-cpu.cfs_quota_us",
            "husk.file-cpu.shares",
            "rootless.v1-refused",
        ],
    }
}

/// The payload disk's tree: the scenarios, the static husk and the client,
/// the engines' image and the runtimes they drive.
fn make_payload(repo: &Path, work: &Path, husk: &Path, client: &Path, runtimes: &[String]) -> PathBuf {
    let dir = vm::make_payload(
        repo,
        work,
        husk,
        &[
            ("host.sh", "scenarios/10-host.sh"),
            ("client.sh", "scenarios/20-client.sh"),
            ("husk.sh", "scenarios/30-husk.sh"),
            ("engines.sh", "scenarios/40-engines.sh"),
            ("rootless.sh", "scenarios/50-rootless.sh"),
        ],
    );
    std::fs::copy(client, dir.join("bin/systemd-client")).unwrap();
    vm::make_image(repo, &dir.join("busybox-image.tar"));
    std::fs::write(dir.join("engines-runtimes"), runtimes.join(" ") + "\n").unwrap();
    let lists: String = ["v2", "hybrid"].iter().map(|mode| format!("{mode} {}\n", engines(mode).join(" "))).collect();
    std::fs::write(dir.join("engines-list"), lists).unwrap();
    if std::env::var_os("HUSK_VM_ENGINE_TRACE").is_some() {
        std::fs::write(dir.join("engines-trace"), "").unwrap();
    }
    dir
}

#[test]
fn a_booted_systemd_host_in_both_cgroup_layouts() {
    let repo = vm::repo();
    let started = Instant::now();
    let husk = vm::build_static(&repo, &["--bin", "husk"], "husk");
    let client = vm::build_static(&repo, &["--example", "systemd-client"], "examples/systemd-client");
    let work = repo.join("target/systemd-vm");
    std::fs::create_dir_all(&work).unwrap();
    let runtimes = engine_runtimes();
    let payload = make_payload(&repo, &work, &husk, &client, &runtimes);

    let mut failures = Vec::new();
    let modes = std::env::var("HUSK_VM_MODES").unwrap_or_else(|_| "v2 hybrid".into());
    for mode in modes.split_whitespace() {
        let boot = vm::boot(&repo, mode, &payload, &work);
        let expected: Vec<String> = HOST_CHECKS
            .iter()
            .chain(CLIENT_CHECKS)
            .chain(HUSK_CHECKS)
            .chain(mode_checks(mode))
            .map(|c| c.to_string())
            .chain(engine_checks(mode, &runtimes))
            .collect();
        if let Err(problems) = verdict(&boot.text, &expected) {
            failures.push(format!("{mode}:\n{problems}"));
        } else if !boot.status.success() {
            failures.push(format!("{mode}: systemd-boot.sh exited with {}", boot.status));
        }
    }
    let _ = std::fs::remove_dir_all(&payload);
    println!("both boots and the build: {:.0?}", started.elapsed());
    assert!(failures.is_empty(), "{}\n(serial logs above and in target/systemd-vm/)", failures.join("\n"));
}
