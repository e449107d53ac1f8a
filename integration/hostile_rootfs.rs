//! Hostile root filesystems: images built to make the runtime touch the
//! host, each test named after the CVE or the class it belongs to, as
//! escapes.rs does. In every case `create` (here `run`) either fails with a
//! one-line error that names what it refused, or the container runs and
//! everything it mounted or made is inside its rootfs: the host paths the
//! image points at are snapshotted (names, kinds, modes, owners, sizes,
//! mtimes and ctimes) before and after and must not change, and the host's
//! mount table gains nothing under them. The harness (common/mod.rs) checks
//! on drop that no mount, state or process of the bundle is left.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What is recorded of each file under a host path.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot(Vec<String>);

impl Snapshot {
    /// Every file under `path`, without following symlinks.
    fn of(path: &Path) -> Snapshot {
        let mut lines = Vec::new();
        walk(path, path, &mut lines);
        lines.sort();
        Snapshot(lines)
    }
}

fn walk(top: &Path, path: &Path, lines: &mut Vec<String>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        lines.push(format!("{}: absent", path.display()));
        return;
    };
    lines.push(format!(
        "{} mode={:o} owner={}:{} size={} mtime={}.{} ctime={}.{}",
        path.strip_prefix(top).unwrap_or(path).display(),
        meta.mode(),
        meta.uid(),
        meta.gid(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    ));
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            walk(top, &entry.path(), lines);
        }
    }
}

/// How one run ended.
#[derive(Debug)]
enum Outcome {
    Ran,
    /// The message of husk's one error line.
    Refused(String),
}

/// `husk run` of a fresh id, killed (and the test failed) after 20 s: a
/// FIFO opened for reading at a mount target would block forever.
fn run_bounded(b: &mut Bundle, name: &str) -> Outcome {
    let id = b.id(name);
    let out_path = b.dir.join(format!("{id}.out"));
    let err_path = b.dir.join(format!("{id}.err"));
    let mut child = b
        .husk_cmd(&["run", &id])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: husk run did not end in 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    if status.success() {
        return Outcome::Ran;
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("level=error")).collect();
    assert_eq!(errors.len(), 1, "{name}: not one error line: {stderr:?}");
    assert!(!errors[0].contains("panicked"), "{name}: {stderr}");
    let message = errors[0].split("msg=").nth(1).unwrap_or(errors[0]).trim().trim_matches('"').replace("\\\"", "\"");
    Outcome::Refused(message)
}

/// The default config with the /dev tmpfs taken out, so that /dev is the
/// image's own directory and what the image put under it counts.
fn without_dev_tmpfs(b: &mut Bundle) {
    b.config["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/dev");
}

fn mount_at(b: &mut Bundle, index: usize, mount: Value) {
    b.config["mounts"].as_array_mut().unwrap().insert(index, mount);
}

fn push_mount(b: &mut Bundle, mount: Value) {
    b.config["mounts"].as_array_mut().unwrap().push(mount);
}

/// A bundle file to bind at `destination`.
fn bind_bundle_file(b: &mut Bundle, name: &str, destination: &str) {
    std::fs::write(b.dir.join(name), format!("{name} of the bundle\n")).unwrap();
    push_mount(b, json!({"destination": destination, "type": "bind", "source": name, "options": ["bind", "ro"]}));
}

/// The host directory a hostile image points at, with a file in it.
fn host_target(b: &Bundle) -> PathBuf {
    let host = b.dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("marker"), "host\n").unwrap();
    host
}

/// Runs the bundle once and checks that `host` did not change and got no
/// mount; returns the outcome.
fn run_checked(b: &mut Bundle, name: &str, host: &Path) -> Outcome {
    b.write();
    let before = Snapshot::of(host);
    let outcome = run_bounded(b, name);
    assert_eq!(Snapshot::of(host), before, "{name}: the host path changed ({outcome:?})");
    assert_eq!(host_mounts_of(host), Vec::<String>::new(), "{name}: mounted on the host ({outcome:?})");
    outcome
}

/// The mount targets of the image, and how to set up the config for each.
const TARGETS: &[&str] = &["/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/etc/hostname", "/etc/resolv.conf", "/mnt/volume"];

fn configure_target(b: &mut Bundle, target: &str) {
    match target {
        "/dev/pts" | "/dev/shm" => without_dev_tmpfs(b),
        "/etc/hostname" => bind_bundle_file(b, "hostname", target),
        "/etc/resolv.conf" => bind_bundle_file(b, "resolv.conf", target),
        "/mnt/volume" => {
            std::fs::create_dir_all(b.dir.join("volume")).unwrap();
            push_mount(b, json!({"destination": target, "type": "bind", "source": "volume", "options": ["rbind"]}));
        }
        _ => {}
    }
}

/// Replaces `target` in the image (whatever the image has there) by `make`.
fn replace_in_image(b: &Bundle, target: &str, make: impl FnOnce(&Path)) {
    let path = b.rootfs().join(target.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&path);
    let _ = std::fs::remove_file(&path);
    make(&path);
}

#[test]
fn hostile_image_symlinks_at_mount_targets() {
    // Every mount target a runtime fills, a symlink in the image: absolute
    // to a host path, relative and climbing out of the rootfs, through
    // /proc/self/root (a magic link), and a loop.
    let mut table = Vec::new();
    for target in TARGETS {
        for kind in ["absolute", "relative", "proc-self-root", "loop"] {
            let mut b = Bundle::new(&["true"]);
            let host = host_target(&b);
            configure_target(&mut b, target);
            let host_rel = host.strip_prefix("/").unwrap().to_path_buf();
            replace_in_image(&b, target, |path| {
                let link = match kind {
                    "absolute" => host.clone(),
                    "relative" => Path::new("../../../../../../../../..").join(&host_rel),
                    "proc-self-root" => Path::new("/proc/self/root").join(&host_rel),
                    _ => {
                        // name -> name.loop -> name, in the same directory.
                        let other = path.with_extension("loop");
                        std::os::unix::fs::symlink(path.file_name().unwrap(), &other).unwrap();
                        PathBuf::from(other.file_name().unwrap())
                    }
                };
                std::os::unix::fs::symlink(link, path).unwrap();
            });
            let name = format!("link{}", table.len());
            let outcome = run_checked(&mut b, &name, &host);
            match (&outcome, *target, kind) {
                // proc and sysfs go on an ordinary directory only (runc's
                // words), whatever the link is.
                (Outcome::Refused(m), "/proc" | "/sys", _) => {
                    assert!(m.contains("must be mounted on ordinary directory") || m.contains("leads out of the rootfs"), "{target} {kind}: {m}")
                }
                (_, "/proc" | "/sys", _) => panic!("{target} {kind}: a symlink at {target} was followed: {outcome:?}"),
                (Outcome::Refused(m), _, "relative") => assert!(m.contains("leads out of the rootfs"), "{target} {kind}: {m}"),
                (Outcome::Refused(m), _, _) => assert!(m.contains(target), "{target} {kind}: the error names no target: {m}"),
                (Outcome::Ran, _, "absolute") => {
                    // Followed inside the rootfs: what it mounted is there.
                    let inside = b.rootfs().join(&host_rel);
                    assert!(inside.exists(), "{target} {kind}: ran, and nothing was made at {}", inside.display());
                }
                (Outcome::Ran, _, _) => panic!("{target} {kind}: ran through a link that leads out or loops"),
            }
            table.push(format!("{target:18} {kind:15} {outcome:?}"));
        }
    }
    for line in &table {
        eprintln!("{line}");
    }
}

#[test]
fn hostile_image_files_where_directories_belong_and_the_reverse() {
    // A regular file, a FIFO or a socket where a filesystem mounts, and a
    // directory where a file is bound (and a file where a directory is).
    // Nothing may block on a FIFO, and nothing is followed or made outside.
    let cases: &[(&str, &str)] = &[
        ("/proc", "file"),
        ("/proc", "fifo"),
        ("/sys", "socket"),
        ("/dev", "file"),
        ("/dev/pts", "fifo"),
        ("/dev/shm", "socket"),
        ("/etc/hostname", "directory"),
        ("/etc/hostname", "socket"),
        ("/etc/resolv.conf", "fifo"),
        ("/mnt/volume", "file"),
        ("/mnt/volume", "fifo"),
    ];
    let mut table = Vec::new();
    for (target, kind) in cases {
        let mut b = Bundle::new(&["sh", "-c", &format!("ls -la {target} >/dev/null")]);
        let host = host_target(&b);
        configure_target(&mut b, target);
        replace_in_image(&b, target, |path| match *kind {
            "file" => std::fs::write(path, "image file\n").unwrap(),
            "directory" => std::fs::create_dir(path).unwrap(),
            "fifo" => nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap(),
            _ => drop(std::os::unix::net::UnixListener::bind(path).unwrap()),
        });
        let outcome = run_checked(&mut b, &format!("kind{}", table.len()), &host);
        match &outcome {
            Outcome::Refused(m) => assert!(m.contains(target), "{target} {kind}: the error names no target: {m}"),
            // A file bound over a FIFO or a socket: the kernel allows a
            // non-directory over a non-directory, inside the rootfs.
            Outcome::Ran => assert!(
                matches!(*target, "/etc/hostname" | "/etc/resolv.conf") && *kind != "directory",
                "{target} {kind}: ran with a {kind} at a mount target"
            ),
        }
        table.push(format!("{target:18} {kind:10} {outcome:?}"));
    }
    for line in &table {
        eprintln!("{line}");
    }
}

#[test]
fn cve_2024_45310_mount_target_swapped_in_a_shared_volume() {
    // A shared volume (a host directory bound at /vol), and another
    // container that sees it too: played by a thread of the test that
    // swaps vol/sub between a directory and symlinks out (absolute, and
    // relative climbing) while husk runs containers whose mount target
    // /vol/sub/made/target does not exist yet, so husk must make it. runc
    // before 1.1.14 could be made to create those directories or files on
    // the host. Here each run mounts inside (the volume or the rootfs) or
    // fails clearly; the host directory the links name gets nothing.
    let mut b = Bundle::new(&["true"]);
    let host = host_target(&b);
    let vol = b.dir.join("vol");
    std::fs::create_dir_all(vol.join("sub")).unwrap();
    let host_rel = host.strip_prefix("/").unwrap();
    std::os::unix::fs::symlink(Path::new("../../../../../../../../..").join(host_rel), vol.join("rel")).unwrap();
    std::os::unix::fs::symlink(&host, vol.join("abs")).unwrap();
    std::fs::write(b.dir.join("payload"), "payload\n").unwrap();
    mount_at(&mut b, 0, json!({"destination": "/vol", "type": "bind", "source": "vol", "options": ["rbind"]}));
    let base = b.config.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let flips = Arc::new(AtomicUsize::new(0));
    let flipper = {
        let (stop, flips, vol) = (stop.clone(), flips.clone(), vol.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for other in ["rel", "abs", "abs", "rel"] {
                    exchange(&vol.join("sub"), &vol.join(other)).unwrap();
                    flips.fetch_add(1, Ordering::Relaxed);
                    std::thread::yield_now();
                }
                // What a run made in the volume is the volume's; cleared so
                // that every run must make its target again.
                if let Ok(meta) = std::fs::symlink_metadata(vol.join("sub"))
                    && meta.is_dir()
                {
                    let _ = std::fs::remove_dir_all(vol.join("sub/made"));
                }
            }
        })
    };
    let (mut ran, mut refused) = (0, 0);
    let mut failure = None;
    for i in 0..80 {
        b.config = base.clone();
        let mount = match i % 3 {
            0 => json!({"destination": "/vol/sub/made/target", "type": "tmpfs", "source": "tmpfs", "options": ["size=1232k"]}),
            1 => json!({"destination": "/vol/sub/made/target", "type": "bind", "source": "vol", "options": ["rbind"]}),
            _ => json!({"destination": "/vol/sub/made/file", "type": "bind", "source": "payload", "options": ["bind"]}),
        };
        push_mount(&mut b, mount);
        b.write();
        let before = Snapshot::of(&host);
        let outcome = run_bounded(&mut b, &format!("swap{i}"));
        let after = Snapshot::of(&host);
        let mounts = host_mounts_of(&host);
        if after != before || !mounts.is_empty() {
            failure = Some(format!("run {i} ({outcome:?}) changed the host: {:?} mounts {mounts:?}", after.0));
            break;
        }
        match outcome {
            Outcome::Ran => ran += 1,
            Outcome::Refused(m) if m.contains("/vol/sub") => refused += 1,
            Outcome::Refused(m) => {
                failure = Some(format!("run {i}: an error that names no target: {m}"));
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    if let Some(failure) = failure {
        panic!("{failure}");
    }
    eprintln!("80 runs, {} swaps: {ran} ran, {refused} refused", flips.load(Ordering::Relaxed));
    assert!(ran > 0, "the race never let a run through: the test shows nothing");
}

#[test]
fn cve_2019_19921_proc_is_a_symlink_into_a_bind_mounted_volume() {
    // The image's /proc links into a volume mounted before it (CVE-2019-19921,
    // and its return as CVE-2023-27561): a procfs mounted through the link
    // would land in the volume, which another container shares, and that
    // one could then redirect the runtime's procfs writes. Refused, with
    // runc's words; the volume gets no mount and no file.
    for link in ["/vol", "/vol/proc", "vol/proc"] {
        let mut b = Bundle::new(&["true"]);
        let vol = b.dir.join("vol");
        std::fs::create_dir_all(vol.join("proc")).unwrap();
        mount_at(&mut b, 0, json!({"destination": "/vol", "type": "bind", "source": "vol", "options": ["rbind"]}));
        replace_in_image(&b, "/proc", |path| std::os::unix::fs::symlink(link, path).unwrap());
        match run_checked(&mut b, "proclink", &vol) {
            Outcome::Refused(m) => assert!(m.contains("filesystem \"proc\" must be mounted on ordinary directory"), "{link}: {m}"),
            outcome => panic!("/proc -> {link}: {outcome:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// CVE-2025-52881: procfs writes redirected by a mount over /proc files
// ---------------------------------------------------------------------------
//
// husk's writes inside the container are the namespaced sysctls (and, on a
// host with AppArmor or SELinux, /proc/thread-self/attr/*; this one has
// neither, see escapes.rs). Whatever is mounted over the file, a directory
// on its way or /proc itself, the write must not reach it.

const SYSCTL: &str = "net.core.somaxconn";

/// A host file standing in for /proc/sys/kernel/core_pattern, and the
/// directory it is in.
fn trap(b: &Bundle) -> (PathBuf, PathBuf) {
    let dir = b.dir.join("trap");
    std::fs::create_dir_all(dir.join("sys/net/core")).unwrap();
    let file = dir.join("sys/net/core/somaxconn");
    std::fs::write(&file, "trap\n").unwrap();
    (dir, file)
}

#[test]
fn cve_2025_52881_sysctl_writes_refuse_a_mount_over_procfs() {
    // The control: without a mount over it the sysctl is written, and the
    // container reads it back.
    let mut b = Bundle::new(&["cat", "/proc/sys/net/core/somaxconn"]);
    b.config["linux"]["sysctl"] = json!({SYSCTL: "1234"});
    b.write();
    assert_eq!(b.run_ok("control").trim(), "1234");

    let cases: &[(&str, &str)] = &[
        ("file", "a host file bound over /proc/sys/net/core/somaxconn"),
        ("sys", "a host directory bound over /proc/sys"),
        ("proc", "a host directory bound over /proc"),
        ("image", "no procfs at all: the image's own /proc/sys"),
        ("procfs", "another procfs file (the comm of a host process) bound over /proc/sys/net/core/somaxconn"),
    ];
    // The host process whose /proc/PID/comm stands for core_pattern: a
    // procfs file of the host, which a check of the filesystem alone passes.
    let sleeper = Sleeper(std::process::Command::new("sleep").arg("1000").spawn().unwrap());
    let comm = PathBuf::from(format!("/proc/{}/comm", sleeper.0.id()));
    for (case, what) in cases {
        let mut b = Bundle::new(&["true"]);
        let (dir, file) = trap(&b);
        b.config["linux"]["sysctl"] = json!({SYSCTL: "1234"});
        let bind = |source: &Path, destination: &str| {
            json!({"destination": destination, "type": "bind", "source": source, "options": ["bind"]})
        };
        match *case {
            "file" => push_mount(&mut b, bind(&file, "/proc/sys/net/core/somaxconn")),
            "sys" => push_mount(&mut b, bind(&dir.join("sys"), "/proc/sys")),
            "proc" => push_mount(&mut b, bind(&dir, "/proc")),
            "procfs" => push_mount(&mut b, bind(&comm, "/proc/sys/net/core/somaxconn")),
            _ => {
                b.config["mounts"].as_array_mut().unwrap().retain(|m| m["type"] != "proc");
                b.config["linux"]["maskedPaths"] = json!([]);
                b.config["linux"]["readonlyPaths"] = json!([]);
                let image_proc = b.rootfs().join("proc/sys/net/core");
                std::fs::create_dir_all(&image_proc).unwrap();
                std::fs::write(image_proc.join("somaxconn"), "image\n").unwrap();
            }
        }
        let outcome = run_checked(&mut b, case, &dir);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "trap\n", "{what}: the trap was written");
        if *case == "image" {
            let image_file = b.rootfs().join("proc/sys/net/core/somaxconn");
            assert_eq!(std::fs::read_to_string(image_file).unwrap(), "image\n", "{what}: the image's file was written");
        }
        assert_eq!(std::fs::read_to_string(&comm).unwrap(), "sleep\n", "{what}: the host process's comm was written");
        match outcome {
            Outcome::Refused(m) => {
                assert!(m.contains("write sysctl") && m.contains("refusing to write through it"), "{what}: {m}")
            }
            outcome => panic!("{what}: {outcome:?}"),
        }
    }
}

/// A process of the test, killed (by its pid) when the test ends.
struct Sleeper(std::process::Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
