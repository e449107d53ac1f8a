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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// A static build in target/static (as build-and-boot.sh builds its static
/// husk) so that the test's own build is not invalidated and cargo's lock
/// on it is not needed: `what` is `--bin husk` or `--example systemd-client`.
fn build_static(repo: &Path, what: &[&str], output: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = if std::env::var_os("HUSK_CARGO_LOCKED").is_some() {
        Command::new(&cargo)
    } else {
        let mut flock = Command::new("flock");
        flock.arg("/tmp/husk-cargo.lock").arg(&cargo);
        flock
    };
    let status = build
        .args(["build", "--release", "--target", "x86_64-unknown-linux-gnu"])
        .args(what)
        .env("CARGO_TARGET_DIR", repo.join("target/static"))
        // The flags of build-and-boot.sh's static build, so that the two VM
        // tests share target/static instead of rebuilding it in turn.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .current_dir(repo)
        .stdin(Stdio::null())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building {what:?} failed");
    let binary = repo.join("target/static/x86_64-unknown-linux-gnu/release").join(output);
    let ldd = Command::new("ldd").arg(&binary).output().expect("run ldd");
    assert!(!String::from_utf8_lossy(&ldd.stdout).contains("=>"), "{} is dynamically linked", binary.display());
    binary
}

/// The engines' busybox image as one tarball that `ctr images import`,
/// `podman load` and `docker load` all take (as integration/engines/ builds
/// it): no registry is reachable from the VM.
fn make_image(repo: &Path, tarball: &Path) {
    let rootfs = tarball.with_extension("rootfs");
    let _ = std::fs::remove_dir_all(&rootfs);
    let status = Command::new("sh").arg(repo.join("oci-bundles/rootfs-busybox.sh")).arg(&rootfs).status();
    assert!(status.expect("run rootfs-busybox.sh").success(), "building the busybox root failed");
    let status = Command::new("python3")
        .arg(repo.join("integration/engines/image.py"))
        .args([&rootfs, tarball])
        .arg("docker.io/library/busybox:latest")
        .status();
    assert!(status.expect("run image.py").success(), "building the busybox image failed");
    std::fs::remove_dir_all(&rootfs).unwrap();
}

/// The payload disk's tree: the scenarios, the static husk and the client,
/// the engines' image and the runtimes they drive.
fn make_payload(repo: &Path, husk: &Path, client: &Path, runtimes: &[String], dir: &Path) {
    let source = repo.join("integration/vm/systemd-payload");
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    for (from, to) in [
        ("run.sh", "run.sh"),
        ("lib.sh", "lib.sh"),
        ("host.sh", "scenarios/10-host.sh"),
        ("client.sh", "scenarios/20-client.sh"),
        ("husk.sh", "scenarios/30-husk.sh"),
        ("engines.sh", "scenarios/40-engines.sh"),
        ("rootless.sh", "scenarios/50-rootless.sh"),
    ] {
        std::fs::copy(source.join(from), dir.join(to)).unwrap();
    }
    std::fs::copy(client, dir.join("bin/systemd-client")).unwrap();
    std::fs::copy(husk, dir.join("bin/husk")).unwrap();
    make_image(repo, &dir.join("busybox-image.tar"));
    std::fs::write(dir.join("engines-runtimes"), runtimes.join(" ") + "\n").unwrap();
    let lists: String = ["v2", "hybrid"].iter().map(|mode| format!("{mode} {}\n", engines(mode).join(" "))).collect();
    std::fs::write(dir.join("engines-list"), lists).unwrap();
    if std::env::var_os("HUSK_VM_ENGINE_TRACE").is_some() {
        std::fs::write(dir.join("engines-trace"), "").unwrap();
    }
}

#[test]
fn a_booted_systemd_host_in_both_cgroup_layouts() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let husk = build_static(&repo, &["--bin", "husk"], "husk");
    let client = build_static(&repo, &["--example", "systemd-client"], "examples/systemd-client");
    let work = repo.join("target/systemd-vm");
    let payload = work.join(format!("payload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&payload);
    let runtimes = engine_runtimes();
    make_payload(&repo, &husk, &client, &runtimes, &payload);

    let mut failures = Vec::new();
    let modes = std::env::var("HUSK_VM_MODES").unwrap_or_else(|_| "v2 hybrid".into());
    for mode in modes.split_whitespace() {
        let log = work.join(format!("test-{mode}.log"));
        let boot_started = Instant::now();
        let output = Command::new("bash")
            .arg(repo.join("integration/vm/systemd-boot.sh"))
            .args([mode, payload.to_str().unwrap(), work.join(format!("serial-{mode}.log")).to_str().unwrap()])
            .current_dir(&repo)
            .stdin(Stdio::null())
            .output()
            .expect("run integration/vm/systemd-boot.sh");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&output.stdout));
        std::fs::write(&log, &text).unwrap();
        // Shown by the harness when the test fails: the image build's and
        // the boot's lines, and the VM's serial console.
        println!("===== {mode} =====\n{text}\nsystemd-boot.sh {mode}: {} after {:.0?}", output.status, boot_started.elapsed());
        let expected: Vec<String> = HOST_CHECKS
            .iter()
            .chain(CLIENT_CHECKS)
            .chain(HUSK_CHECKS)
            .chain(mode_checks(mode))
            .map(|c| c.to_string())
            .chain(engine_checks(mode, &runtimes))
            .collect();
        if let Err(problems) = verdict(&text, &expected) {
            failures.push(format!("{mode}:\n{problems}"));
        } else if !output.status.success() {
            failures.push(format!("{mode}: systemd-boot.sh exited with {}", output.status));
        }
    }
    let _ = std::fs::remove_dir_all(&payload);
    println!("both boots and the build: {:.0?}", started.elapsed());
    assert!(failures.is_empty(), "{}\n(serial logs above and in target/systemd-vm/)", failures.join("\n"));
}
