// The booted systemd host's harness, shared by systemd_vm.rs and
// checkpoint_vm.rs: static builds of what goes into the guest, the engines'
// busybox image, the payload disk's tree, and a boot of
// integration/vm/systemd-boot.sh whose serial console the verdict reads.

// Each test takes what it needs of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A static build in target/static (as build-and-boot.sh builds its static
/// husk) so that the test's own build is not invalidated and cargo's lock
/// on it is not needed: `what` is `--bin husk` or `--example systemd-client`.
/// HUSK_CARGO_LOCKED=1 says the caller holds /tmp/husk-cargo.lock already.
pub fn build_static(repo: &Path, what: &[&str], output: &str) -> PathBuf {
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
        // The flags of build-and-boot.sh's static build, so that the VM
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
pub fn make_image(repo: &Path, tarball: &Path) {
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

/// A fresh payload tree in `work`: run.sh and lib.sh, the given files of
/// integration/vm/systemd-payload/ (from, to: `scenarios/NN-name.sh` for a
/// scenario, run in name order), and bin/ with the static husk.
pub fn make_payload(repo: &Path, work: &Path, husk: &Path, files: &[(&str, &str)]) -> PathBuf {
    let dir = work.join(format!("payload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let source = repo.join("integration/vm/systemd-payload");
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    for (from, to) in [("run.sh", "run.sh"), ("lib.sh", "lib.sh")].iter().chain(files) {
        std::fs::copy(source.join(from), dir.join(to)).unwrap_or_else(|e| panic!("copy {from} into the payload: {e}"));
    }
    std::fs::copy(husk, dir.join("bin/husk")).unwrap();
    dir
}

/// One boot's console and how systemd-boot.sh ended.
pub struct Boot {
    /// The boot script's lines (and the image build's) then the console.
    pub text: String,
    pub status: ExitStatus,
    pub elapsed: Duration,
}

/// Boots the image in `mode` (v2 or hybrid) with the payload; the console
/// in `work`/serial-MODE.log, and everything in `work`/test-MODE.log.
pub fn boot(repo: &Path, mode: &str, payload: &Path, work: &Path) -> Boot {
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(repo.join("integration/vm/systemd-boot.sh"))
        .args([mode, payload.to_str().unwrap(), work.join(format!("serial-{mode}.log")).to_str().unwrap()])
        .current_dir(repo)
        .stdin(Stdio::null())
        .output()
        .expect("run integration/vm/systemd-boot.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&output.stdout));
    std::fs::write(work.join(format!("test-{mode}.log")), &text).unwrap();
    let elapsed = started.elapsed();
    // Shown by the harness when the test fails: the image build's and the
    // boot's lines, and the VM's serial console.
    println!("===== {mode} =====\n{text}\nsystemd-boot.sh {mode}: {} after {elapsed:.0?}", output.status);
    Boot { text, status: output.status, elapsed }
}
