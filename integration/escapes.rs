//! Container escapes, each reproduced and shown to fail, named after the CVE
//! class it belongs to; and the capability and LSM checks that go with them.
//!
//! What busybox cannot do from inside a container is done by `escprobe`
//! (integration/testdata/escprobe.c, a small static C program the tests
//! compile with `cc -static`): opening /proc/1/exe through O_PATH and
//! re-opening it for writing, and printing its own uid and euid.
//!
//! Every attack that would write to husk's binary targets a private copy of
//! it (the runtime of that test's container), so that a defence that fails
//! shows as a changed copy instead of breaking the tests running beside.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

/// Puts escprobe in the bundle's rootfs as /bin/escprobe.
fn install_escprobe(b: &Bundle) {
    std::fs::copy(escprobe(), b.rootfs().join("bin/escprobe")).unwrap();
}


/// Sets the bounding, effective and permitted sets to `caps`, and the
/// inheritable and ambient sets to `ambient`.
fn set_caps(b: &mut Bundle, caps: &[&str], ambient: &[&str]) {
    b.config["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
        "inheritable": ambient, "ambient": ambient,
    });
}

fn add_mount(b: &mut Bundle, mount: Value) {
    b.config["mounts"].as_array_mut().unwrap().push(mount);
}

/// `husk ARGS` with another husk binary (a private copy), like Bundle::husk.
fn husk_with(binary: &Path, b: &Bundle, args: &[&str]) -> Output {
    b.husk_binary(binary, args)
}

/// husk's stderr with the quoting of its text log format undone.
fn unescaped(stderr: &[u8]) -> String {
    text(stderr).replace("\\\"", "\"")
}

// ---------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------

const BIND_AND_CHOWN: &str = "nc -l -p 80 >/dev/null 2>&1 & pid=$!; sleep 0.3; \
    if netstat -ltn | grep -q ':80 '; then echo bind=ok; else echo bind=refused; fi; kill $pid 2>/dev/null; \
    touch /tmp/f; chown 1000 /tmp/f 2>&1; echo chown=$?; grep CapEff /proc/self/status";

#[test]
fn capabilities_only_net_bind_service() {
    // Root in the container, with CAP_NET_BIND_SERVICE in every set where it
    // means something (bounding, effective, permitted, and inheritable +
    // ambient so that it survives any exec): port 80 binds, chown fails.
    let mut b = Bundle::new(&["sh", "-c", BIND_AND_CHOWN]);
    b.config["root"]["readonly"] = false.into();
    set_caps(&mut b, &["CAP_NET_BIND_SERVICE"], &["CAP_NET_BIND_SERVICE"]);
    b.write();
    let out = b.run_ok("nbs");
    assert!(out.contains("bind=ok"), "{out}");
    assert!(out.contains("chown: /tmp/f: Operation not permitted"), "{out}");
    assert!(out.contains("chown=1"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000400"), "only bit 10: {out}");

    // The control: with no capability at all, the same bind is refused (so
    // the check above can fail), and chown still is.
    let mut b = Bundle::new(&["sh", "-c", BIND_AND_CHOWN]);
    b.config["root"]["readonly"] = false.into();
    set_caps(&mut b, &[], &[]);
    b.write();
    let out = b.run_ok("nocaps");
    assert!(out.contains("bind=refused"), "{out}");
    assert!(out.contains("chown=1"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
}

// ---------------------------------------------------------------------------
// LSMs
// ---------------------------------------------------------------------------

fn host_has_apparmor() -> bool {
    Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

fn host_has_selinux() -> bool {
    Path::new("/sys/fs/selinux/enforce").is_file()
}

#[test]
fn lsm_labels_are_refused_where_the_host_lacks_the_lsm() {
    // This host has neither AppArmor nor SELinux: asking for a label is a
    // clear error at create, and nothing is left behind (the harness checks).
    let cases: &[(&str, &str, &str, bool)] = &[
        ("process", "apparmorProfile", "process.apparmorProfile: AppArmor profile \"foo\" requested, but AppArmor is not enabled on this host", host_has_apparmor()),
        ("process", "selinuxLabel", "process.selinuxLabel: SELinux label \"foo\" requested, but SELinux is not enabled on this host", host_has_selinux()),
        ("linux", "mountLabel", "linux.mountLabel: SELinux mount label \"foo\" requested, but SELinux is not enabled on this host", host_has_selinux()),
    ];
    for (object, field, expected, host_has_it) in cases {
        if *host_has_it {
            eprintln!("this host runs the LSM behind {field}: its refusal is not tested here");
            continue;
        }
        let mut b = Bundle::new(&["true"]);
        b.config[object][field] = "foo".into();
        b.write();
        let id = b.id("lsm");
        let out = b.husk(&["create", &id]);
        assert!(!out.status.success(), "{field} was accepted");
        let stderr = unescaped(&out.stderr);
        assert!(stderr.contains(&format!("config.json: {expected}")), "{stderr}");
        assert!(!b.root.join(&id).exists(), "no state left");
    }

    // Empty strings mean unset: the container runs.
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["apparmorProfile"] = "".into();
    b.config["process"]["selinuxLabel"] = "".into();
    b.config["linux"]["mountLabel"] = "".into();
    b.write();
    b.run_ok("emptylabels");

    // `exec` checks the process's own labels the same way.
    if !host_has_apparmor() {
        let mut b = Bundle::new(&["sleep", "100"]);
        let id = b.id("execlsm");
        assert!(b.husk(&["run", "-d", &id]).status.success());
        let out = b.husk(&["exec", "--apparmor", "foo", &id, "true"]);
        assert!(!out.status.success());
        let stderr = unescaped(&out.stderr);
        assert!(stderr.contains("AppArmor profile \"foo\" requested, but AppArmor is not enabled on this host"), "{stderr}");
    }
}

// ---------------------------------------------------------------------------
// CVE-2019-5736: overwriting the runtime through /proc/<pid>/exe
// ---------------------------------------------------------------------------
//
// husk never re-execs: a created container's init is a fork of `husk
// create`, so until `start` its /proc/PID/exe is husk's own binary, and it
// is pid 1 of the container's pid namespace. Two defences:
//
// 1. The init (and the intermediate, and `exec`'s process) is made
//    non-dumpable as its first step. /proc/PID/exe then needs ptrace read
//    access, which for a non-dumpable process takes CAP_SYS_PTRACE in the
//    process's mm user namespace (the host's): a container process without
//    it cannot open the link at all, not even O_PATH (EACCES).
// 2. While the init executes husk, the kernel refuses to open the binary for
//    writing (ETXTBSY), whoever asks.
//
// And no container process exists beside a created init in the normal case:
// the init is alone in its new pid namespace, and `exec` into a created
// container is refused. The tests below put an attacker there on purpose: a
// second container that joins the created container's pid namespace.
//
// With CAP_SYS_PTRACE the attacker passes defence 1: while the init is husk,
// ETXTBSY still stops every write-open. An O_PATH fd taken then could be
// re-opened for writing once the init has exec'd the container's program and
// no husk process runs any more, were it not for defence 3: `create`, `run`
// and `exec` re-exec husk once from a detached read-only bind mount of its
// binary (security/exe.rs), so the fd names a file on a read-only mount
// (`cve_2019_5736_cap_sys_ptrace_fd_held_across_start`).

/// A created container whose runtime is a private copy of husk; returns
/// (bundle, id, init pid, copy of husk).
fn created_with_husk_copy() -> (Bundle, String, i64, PathBuf) {
    let mut a = Bundle::new(&["sleep", "60"]);
    let copy = a.dir.join("runtime/husk");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(HUSK, &copy).unwrap();
    let id = a.id("victim");
    let out = husk_with(&copy, &a, &["create", &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let pid = a.state(&id)["pid"].as_i64().unwrap();
    // Still husk, but run from a detached read-only view of the copy, so
    // its /proc/PID/exe names that view's root, not the writable file.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "husk", "the created init is still husk");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_ne!(exe, copy, "the init must not run from the writable binary");
    (a, id, pid, copy)
}

/// A container that joins the pid namespace of `pid`, runs as root with
/// Docker's default capabilities (plus `extra`), and has escprobe.
fn attacker(pid: i64, extra: &[&str], args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    install_escprobe(&b);
    let mut caps: Vec<&str> = common::docker::DOCKER_CAPS.to_vec();
    caps.extend(extra);
    set_caps(&mut b, &caps, &[]);
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "pid" {
            ns["path"] = format!("/proc/{pid}/ns/pid").into();
        }
    }
    b.write();
    b
}

/// The busybox half of the attack: `exec 3</proc/1/exe` and `>>/proc/1/exe`
/// in a loop, then escprobe's loop (plain and O_PATH opens) for 1 s.
const EXE_ATTACK: &str = "echo pid1=$(cat /proc/1/comm); r=0; w=0; i=0; \
    while [ $i -lt 100 ]; do \
      (exec 3</proc/1/exe) 2>/dev/null && r=$((r+1)); \
      (exec 3>>/proc/1/exe) 2>/dev/null && w=$((w+1)); \
      i=$((i+1)); \
    done; echo sh-read-ok=$r sh-write-ok=$w; \
    (exec 3>>/proc/1/exe) 2>&1; \
    escprobe exe-loop 1";

/// The tally line of one escprobe method.
fn tally<'a>(out: &'a str, method: &str) -> &'a str {
    let prefix = format!("{method} ok=");
    out.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {method} line in: {out}"))
}

/// Starts the victim with its husk copy, waits for the exec, and checks that
/// the copy is still, byte for byte, the binary it was copied from.
fn start_and_check_binary(a: &Bundle, id: &str, pid: i64, copy: &Path) {
    let out = husk_with(copy, a, &["start", id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    wait_until("the victim's init to exec", || {
        std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e.ends_with("busybox"))
    });
    // A moment for anything still racing to land.
    std::thread::sleep(Duration::from_millis(200));
    let original = std::fs::read(HUSK).unwrap();
    let after = std::fs::read(copy).unwrap();
    assert!(after == original, "husk's binary was changed from inside a container ({} bytes, was {})", after.len(), original.len());
}

#[test]
fn cve_2019_5736_proc_exe_overwrite_from_a_container_in_the_pid_namespace() {
    let (a, id, pid, copy) = created_with_husk_copy();
    let mut b = attacker(pid, &[], &["sh", "-c", EXE_ATTACK]);
    let out = b.run_ok("attacker");

    // The attacker does see husk's init as its pid 1...
    assert!(out.contains("pid1=husk"), "{out}");
    // ...but cannot open its exe in any way: non-dumpable, it takes
    // CAP_SYS_PTRACE, which the attacker lacks (EACCES, defence 1).
    assert!(out.contains("sh-read-ok=0 sh-write-ok=0"), "{out}");
    assert!(out.contains("can't create /proc/1/exe: Permission denied"), "{out}");
    for method in ["read", "wronly", "opath"] {
        let line = tally(&out, method);
        assert!(line.starts_with(&format!("{method} ok=0 EACCES=")), "{line}");
        assert_eq!(line.split(' ').count(), 3, "only EACCES: {line}");
    }
    assert_eq!(tally(&out, "opath-reopen-wronly"), "opath-reopen-wronly ok=0", "no O_PATH fd to re-open");
    start_and_check_binary(&a, &id, pid, &copy);
}

#[test]
fn cve_2019_5736_with_cap_sys_ptrace_etxtbsy_holds_while_created() {
    // With CAP_SYS_PTRACE the attacker gets through defence 1: it may read
    // husk's binary and hold an O_PATH fd of it. Writing is still refused,
    // as long as the init executes husk: ETXTBSY (defence 2), for both the
    // direct write-open and the O_PATH re-open.
    let (a, id, pid, copy) = created_with_husk_copy();
    let mut b = attacker(pid, &["CAP_SYS_PTRACE"], &["sh", "-c", EXE_ATTACK]);
    let out = b.run_ok("ptracer");
    assert!(out.contains("pid1=husk"), "{out}");
    assert!(out.contains("sh-write-ok=0"), "{out}");
    assert!(!out.contains("sh-read-ok=0 "), "CAP_SYS_PTRACE does allow reading: {out}");
    assert!(out.contains("can't create /proc/1/exe: Text file busy"), "{out}");
    let read = tally(&out, "read");
    assert!(!read.starts_with("read ok=0"), "{read}");
    for method in ["wronly", "opath-reopen-wronly"] {
        let line = tally(&out, method);
        assert!(line.starts_with(&format!("{method} ok=0 ETXTBSY=")), "{line}");
        assert_eq!(line.split(' ').count(), 3, "only ETXTBSY: {line}");
    }
    let opath = tally(&out, "opath");
    assert!(!opath.starts_with("opath ok=0"), "{opath}");
    start_and_check_binary(&a, &id, pid, &copy);
}

#[test]
fn cve_2019_5736_cap_sys_ptrace_fd_held_across_start() {
    // The original exploit's order: take the fd while pid 1 is the runtime,
    // wait for it to exec the container's program, then write. Here
    // CAP_SYS_PTRACE passes the non-dumpable check, and ETXTBSY ends when the
    // last process executing husk (the init, then `husk start`) is gone.
    // What holds is the read-only view husk re-execs from (runc re-execs from a
    // sealed copy or a read-only mount; husk binds its binary read-only, no
    // copy). Without CAP_SYS_PTRACE the fd cannot be taken at all (see the
    // test above without it).
    let (a, id, pid, copy) = created_with_husk_copy();
    let mut b = attacker(pid, &["CAP_SYS_PTRACE"], &["escprobe", "exe-hold", "5"]);
    // The attacker runs in the background, holding the fd, while A starts.
    let bid = b.id("holder");
    let log = b.dir.join("holder.log");
    let mut child = b
        .husk_cmd(&["run", &bid])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the attacker to hold /proc/1/exe", || {
        std::fs::read_to_string(&log).is_ok_and(|s| s.contains("hold:"))
    });
    let held = std::fs::read_to_string(&log).unwrap();
    assert!(held.contains("hold: ok (pid 1 is husk)"), "{held}");
    let out = husk_with(&copy, &a, &["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    child.wait().unwrap();
    let out = std::fs::read_to_string(&log).unwrap();
    let original = std::fs::read(HUSK).unwrap();
    let after = std::fs::read(&copy).unwrap();
    assert!(out.contains("reopen-after-exec ok=0"), "re-opened husk's binary for writing: {out}");
    assert!(after == original, "husk's binary was changed from inside a container: {out}");
}

#[test]
fn cve_2019_5736_every_mapping_of_the_created_init_is_the_read_only_view() {
    // /proc/PID/map_files leads to husk's binary as /proc/PID/exe does. As
    // root, husk moves onto the read-only view in place, replacing each
    // mapping of the binary: one it missed would still be the writable file.
    let (_a, _id, pid, copy) = created_with_husk_copy();
    let inode = std::fs::metadata(&copy).unwrap().ino().to_string();
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut seen = 0;
    for line in maps.lines().filter(|l| l.split_whitespace().nth(4) == Some(inode.as_str())) {
        // map_files names the range without leading zeros.
        let (start, end) = line.split_whitespace().next().unwrap().split_once('-').unwrap();
        let trim = |a: &str| a.trim_start_matches('0').to_string();
        let entry = format!("/proc/{pid}/map_files/{}-{}", trim(start), trim(end));
        let fd = nix::fcntl::open(entry.as_str(), nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .unwrap_or_else(|e| panic!("{entry}: {e}"));
        let fs = nix::sys::statvfs::fstatvfs(&fd).unwrap();
        assert!(fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY), "{line}: husk's binary on a writable mount");
        seen += 1;
    }
    assert!(seen >= 3, "the init maps husk's binary:\n{maps}");
}

#[test]
fn cve_2019_5736_exec_into_a_created_container_is_refused() {
    // `exec` would put a container process beside the created init, which
    // is still husk: refused until `start`.
    let mut b = Bundle::new(&["sleep", "60"]);
    let id = b.id("created");
    assert!(b.husk(&["create", &id]).status.success());
    let out = b.husk(&["exec", &id, "true"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot exec in a created container"), "{}", text(&out.stderr));
    assert!(b.husk(&["start", &id]).status.success());
    let out = b.husk(&["exec", &id, "true"]);
    assert!(out.status.success(), "after start: {}", text(&out.stderr));
}

// ---------------------------------------------------------------------------
// CVE-2024-21626: leaked fds, and a cwd outside the rootfs
// ---------------------------------------------------------------------------

/// A host directory with a marker file, outside the rootfs.
fn host_dir(b: &Bundle) -> (PathBuf, String) {
    let dir = b.dir.join("host-secret-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let marker = format!("HOST-MARKER-{}", b.dir.file_name().unwrap().to_string_lossy());
    std::fs::write(dir.join(&marker), "host").unwrap();
    (dir, marker)
}

/// `husk ARGS` with fds 3..=10 of husk's caller open on `dir` (not
/// close-on-exec), as a careless engine could leave them.
fn husk_holding_fds(b: &Bundle, dir: &Path, args: &[&str]) -> Output {
    let held = std::fs::File::open(dir).unwrap();
    let raw = held.as_raw_fd();
    let mut cmd = b.husk_cmd(args);
    open_fds_in_child(&mut cmd, raw, 3..=10);
    let out = cmd.output().unwrap();
    drop(held);
    out
}

#[test]
fn cve_2024_21626_no_host_fd_reaches_the_container() {
    let script = "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; ls -l /proc/self/fd/; \
        for n in 3 4 5 6 7 8 9 10; do ls /proc/self/fd/$n/ 2>/dev/null; done; true";
    let mut b = Bundle::new(&["sh", "-c", script]);
    let (dir, marker) = host_dir(&b);
    let id = b.id("fds");
    let out = husk_holding_fds(&b, &dir, &["run", &id]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: Vec<i32> = stdout.lines().next().unwrap().split_whitespace().map(|s| s.parse().unwrap()).collect();
    // 0, 1, 2 and the one fd `ls` opens to read the directory.
    assert_eq!(&listed[..3], &[0, 1, 2], "{stdout}");
    assert_eq!(listed.len(), 4, "nothing but stdio and ls's own fd: {stdout}");
    assert!(!stdout.contains(&marker), "a host directory was reachable: {stdout}");
    assert!(!stdout.contains(&dir.to_string_lossy().into_owned()), "{stdout}");
}

#[test]
fn cve_2024_21626_cwd_through_a_leaked_fd_stays_in_the_container() {
    // process.cwd = /proc/self/fd/N: the init resolves it with chdir(2)
    // while it still holds fds, its caller's (3..=10 here, a host
    // directory) or its own (the second round, with nothing inherited).
    // Each run must fail with the cwd error or land inside the container.
    //
    // Without husk's getcwd check (process::enter_cwd), the chdir into a
    // leaked host directory succeeds, the container starts with its cwd
    // there, and `ls` lists the host directory: the marker shows, and this
    // test fails (checked with the check removed: fd 3 already showed the
    // host directory and the bundle around it).
    let script = "echo pwd=$(pwd); echo cwd=$(readlink /proc/self/cwd); ls -a; echo ..; ls -a ..; true";
    for inherited in [true, false] {
        for n in 3..=10 {
            let mut b = Bundle::new(&["sh", "-c", script]);
            let (dir, marker) = host_dir(&b);
            b.config["process"]["cwd"] = format!("/proc/self/fd/{n}").into();
            b.write();
            let id = b.id(&format!("cwd{n}"));
            let out = if inherited {
                husk_holding_fds(&b, &dir, &["run", &id])
            } else {
                b.husk(&["run", &id])
            };
            let (stdout, stderr) = (text(&out.stdout), unescaped(&out.stderr));
            let context = format!("fd {n} (inherited: {inherited}): stdout {stdout:?}, stderr {stderr:?}");
            if out.status.success() {
                assert!(!stdout.contains(&marker), "host directory reached: {context}");
                assert!(!stdout.contains("unreachable"), "cwd outside the root: {context}");
                assert!(!stdout.contains("config.json") && !stdout.contains("state.json"), "{context}");
                let cwd = stdout.lines().find_map(|l| l.strip_prefix("cwd=")).unwrap_or_default();
                assert!(cwd.starts_with('/'), "{context}");
            } else {
                assert!(stderr.contains(&format!("process.cwd \"/proc/self/fd/{n}\"")), "not the cwd error: {context}");
                assert!(stdout.is_empty(), "{context}");
            }
            if inherited {
                // A leaked host directory must be refused, not entered.
                assert!(!out.status.success(), "{context}");
                assert!(stderr.contains("resolves outside the container's root"), "{context}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// CVE-2021-30465: symlink races on mount targets
// ---------------------------------------------------------------------------

#[test]
fn cve_2021_30465_symlink_race_on_mount_target() {
    // A thread flips rootfs/mnt/target between a directory and a symlink out
    // of the rootfs (relative, climbing with ../, and absolute), as fast as
    // it can, while husk runs containers with a tmpfs, then a bind mount,
    // at /mnt/target. Each run must fail with a clear error or mount inside
    // the rootfs; the host directory never gets a mount or a file. (With
    // targets opened without RESOLVE_IN_ROOT and no escaping-link check,
    // a bind landed outside the rootfs within two runs and this failed.)
    let script = "grep -E 'size=1232k|/payload ' /proc/self/mountinfo || echo NO-MOUNT; \
        touch /mnt/target/from-container 2>/dev/null; true";
    let mut b = Bundle::new(&["sh", "-c", script]);
    let host = b.dir.join("host-target");
    std::fs::create_dir_all(&host).unwrap();
    let payload = b.dir.join("payload");
    std::fs::create_dir_all(&payload).unwrap();
    std::fs::write(payload.join("payload-file"), "payload").unwrap();
    let mnt = b.rootfs().join("mnt");
    std::fs::create_dir_all(mnt.join("target")).unwrap();
    let host_rel = host.strip_prefix("/").unwrap();
    std::os::unix::fs::symlink(Path::new("../../../../../../../../..").join(host_rel), mnt.join("rel")).unwrap();
    std::os::unix::fs::symlink(&host, mnt.join("abs")).unwrap();
    b.config["root"]["readonly"] = false.into();
    b.write();
    let base = b.config.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let flips = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flipper = {
        let (stop, flips, mnt) = (stop.clone(), flips.clone(), mnt.clone());
        std::thread::spawn(move || {
            let target = mnt.join("target");
            while !stop.load(Ordering::Relaxed) {
                for other in ["rel", "rel", "abs", "abs"] {
                    exchange(&target, &mnt.join(other)).unwrap();
                    flips.fetch_add(1, Ordering::Relaxed);
                    std::thread::yield_now();
                }
            }
        })
    };

    let iterations = 100;
    let (mut mounted, mut refused, mut refused_as_escape) = (0, 0, 0);
    let mut seen = std::collections::BTreeSet::new();
    let mut outcome = Ok(());
    for i in 0..iterations {
        let tmpfs = i % 2 == 0;
        b.config = base.clone();
        let mount = if tmpfs {
            json!({"destination": "/mnt/target", "type": "tmpfs", "source": "tmpfs", "options": ["size=1232k"]})
        } else {
            json!({"destination": "/mnt/target", "type": "bind", "source": "payload", "options": ["rbind", "rw"]})
        };
        add_mount(&mut b, mount);
        b.write();
        let (code, stdout, stderr) = b.run(&format!("race{i}"));
        let context = format!("iteration {i} ({}): code {code}, stdout {stdout:?}, stderr {stderr:?}", if tmpfs { "tmpfs" } else { "bind" });
        let check = (|| {
            if code == 0 {
                // Mounted, and inside: a mount outside the new root would
                // not show in the container's mountinfo at all.
                if stdout.contains("NO-MOUNT") || stdout.trim().is_empty() {
                    return Err(format!("the mount is not in the container: {context}"));
                }
                for line in stdout.lines() {
                    // mountinfo's fifth field: where the mount is, as the
                    // container sees it.
                    seen.insert(format!("mounted at {}", line.split(' ').nth(4).unwrap_or("?")));
                }
                mounted += 1;
            } else if stderr.contains("level=error") && stderr.contains("/mnt/target") {
                // Refused: the escaping link seen by the check before the
                // mount ("mounts[N].destination: … leads out of the
                // rootfs"), or the tree changing under the resolution
                // (ENOENT, EAGAIN from openat2). Each names the destination.
                let message = stderr.split("msg=").nth(1).unwrap_or(&stderr).trim().to_string();
                seen.insert(format!("refused: {message}"));
                if stderr.contains("leads out of the rootfs") {
                    refused_as_escape += 1;
                }
                refused += 1;
            } else {
                return Err(format!("failed without a clear error: {context}"));
            }
            let entries: Vec<_> = std::fs::read_dir(&host).unwrap().flatten().map(|e| e.file_name()).collect();
            if !entries.is_empty() {
                return Err(format!("the host directory received {entries:?}: {context}"));
            }
            let mounts = host_mounts_of(&host);
            if !mounts.is_empty() {
                return Err(format!("the host directory is mounted on: {mounts:?}: {context}"));
            }
            Ok(())
        })();
        if check.is_err() {
            outcome = check;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    // Put the directory back in place before the bundle goes.
    let _ = std::fs::remove_file(mnt.join("target"));
    if let Err(message) = outcome {
        panic!("{message}");
    }
    eprintln!(
        "{iterations} runs, {} flips: {mounted} mounted inside the rootfs, {refused} refused \
         ({refused_as_escape} as a link out of the rootfs)",
        flips.load(Ordering::Relaxed)
    );
    for outcome in &seen {
        eprintln!("  {outcome}");
    }
    assert_eq!(mounted + refused, iterations);
    assert!(mounted > 0, "the setup never let a mount through");
}

// ---------------------------------------------------------------------------
// CVE-2025-31133 (maskedPaths through a fake /dev/null) and CVE-2025-52565
// (/dev/console)
// ---------------------------------------------------------------------------
//
// husk fills /dev itself (on the config's tmpfs) unless the config binds a
// directory at /dev; then the rootfs's author controls /dev/null, which husk
// binds over every masked path, and /dev/console, which husk binds a
// terminal over.

/// A bundle whose /dev is its own directory `devdir`, bound in place of the
/// usual tmpfs; returns the directory.
fn bundle_with_bound_dev(args: &[&str]) -> (Bundle, PathBuf) {
    let mut b = Bundle::new(args);
    let devdir = b.dir.join("devdir");
    std::fs::create_dir_all(&devdir).unwrap();
    for mount in b.config["mounts"].as_array_mut().unwrap() {
        if mount["destination"] == "/dev" {
            *mount = json!({"destination": "/dev", "type": "bind", "source": "devdir", "options": ["rbind", "rw", "nosuid"]});
        }
    }
    b.write();
    (b, devdir)
}

fn mknod(path: &Path, major: u64, minor: u64) {
    nix::sys::stat::mknod(path, nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::from_bits_truncate(0o666), nix::sys::stat::makedev(major, minor))
        .unwrap();
}

#[test]
fn cve_2025_31133_masked_paths_refuse_a_fake_dev_null() {
    // /dev/null replaced by links to a host file or a procfs file, by a
    // regular file, by another device, or missing: masking is refused with
    // an error that says what was found. (Without verified_dev_null's check
    // husk bound the symlink itself over /proc/keys, and this failed.)
    let cases: &[(&str, &str)] = &[
        ("symlink-absolute", "a symbolic link"),
        ("symlink-relative", "a symbolic link"),
        ("symlink-proc", "a symbolic link"),
        ("regular-file", "a regular file"),
        ("zero-device", "the character device 1:5"),
        ("missing", "/dev/null"),
    ];
    for (case, found) in cases {
        let (mut b, devdir) = bundle_with_bound_dev(&["sh", "-c", "wc -c </proc/keys"]);
        let secret = b.dir.join("host-secret");
        std::fs::write(&secret, "host secret\n").unwrap();
        let null = devdir.join("null");
        match *case {
            "symlink-absolute" => std::os::unix::fs::symlink(&secret, &null).unwrap(),
            "symlink-relative" => std::os::unix::fs::symlink(
                Path::new("../../../../../../../../..").join(secret.strip_prefix("/").unwrap()),
                &null,
            )
            .unwrap(),
            "symlink-proc" => std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", &null).unwrap(),
            "regular-file" => std::fs::write(&null, "").unwrap(),
            "zero-device" => mknod(&null, 1, 5),
            _ => {}
        }
        let (code, stdout, stderr) = b.run(&format!("null-{case}"));
        let context = format!("{case}: stdout {stdout:?} stderr {stderr:?}");
        assert_ne!(code, 0, "masking went ahead: {context}");
        assert!(stdout.is_empty(), "{context}");
        if *case == "missing" {
            assert!(stderr.contains("/dev/null") && stderr.contains("ENOENT"), "{context}");
        } else {
            let expected = format!(
                "linux.maskedPaths: /dev/null in the container is {found}, not the null device (character 1:3): refusing to bind it over the masked paths"
            );
            assert!(stderr.contains(&expected), "{context}");
        }
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host secret\n");
        assert!(host_mounts_of(&secret).is_empty(), "{context}");
        assert!(host_mounts_of(&devdir).is_empty(), "{context}");
        // The attacker's /dev/null is left as it was.
        if case.starts_with("symlink") {
            assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_symlink());
        }
    }

    // The control: a real null device in the bound /dev, and masking works.
    let (mut b, devdir) = bundle_with_bound_dev(&["sh", "-c", "wc -c </proc/keys; ls -A /sys/firmware | wc -l"]);
    mknod(&devdir.join("null"), 1, 3);
    let out = b.run_ok("realnull");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "0"], "{out}");
}

#[test]
fn cve_2025_52565_dev_console_is_never_followed() {
    // Without a terminal husk never creates /dev/console nor binds anything
    // on it. A rootfs whose /dev/console is a symlink to a host path (with
    // /dev bound from the bundle) runs, and the host path is left alone.
    for relative in [false, true] {
        let (mut b, devdir) = bundle_with_bound_dev(&["sh", "-c", "echo console=$(readlink /dev/console); ls -A /dev | tr '\\n' ' '"]);
        mknod(&devdir.join("null"), 1, 3);
        let target = b.dir.join("host-console");
        std::fs::write(&target, "host console\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let before = std::fs::metadata(&target).unwrap();
        let link_target = if relative {
            Path::new("../../../../../../../../..").join(target.strip_prefix("/").unwrap())
        } else {
            target.clone()
        };
        std::os::unix::fs::symlink(&link_target, devdir.join("console")).unwrap();
        let out = b.run_ok(if relative { "console-rel" } else { "console-abs" });
        assert!(out.contains(&format!("console={}", link_target.display())), "still the rootfs's own link: {out}");
        let after = std::fs::metadata(&target).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "host console\n");
        assert_eq!(after.permissions().mode() & 0o7777, 0o600, "not chmod'ed");
        assert_eq!((after.mtime(), after.uid(), after.gid()), (before.mtime(), before.uid(), before.gid()));
        assert!(host_mounts_of(&target).is_empty());
        assert_eq!(std::fs::read_link(devdir.join("console")).unwrap(), link_target);
        // husk made nothing in the rootfs where the link points.
        assert!(!b.rootfs().join(target.strip_prefix("/").unwrap()).exists());
    }

    // With a terminal, husk binds the pty over /dev/console, but never over
    // a symlink: the link's target (the host's file, reached through the
    // bound /dev) would get the mount. (Without bind_console's check, the
    // pty was bound over the host file and this failed.)
    let (mut b, devdir) = bundle_with_bound_dev(&["sh", "-c", "echo ran"]);
    mknod(&devdir.join("null"), 1, 3);
    std::os::unix::fs::symlink("pts/ptmx", devdir.join("ptmx")).unwrap();
    let target = b.dir.join("host-console");
    std::fs::write(&target, "host console\n").unwrap();
    std::os::unix::fs::symlink(&target, devdir.join("console")).unwrap();
    b.config["process"]["terminal"] = true.into();
    b.write();
    let (code, stdout, stderr) = b.run("console-terminal");
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("/dev/console in the container is a symbolic link, not a file or a character device"),
        "{stderr}"
    );
    assert!(!stdout.contains("ran"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "host console\n");
    assert!(host_mounts_of(&target).is_empty());
    assert_eq!(std::fs::read_link(devdir.join("console")).unwrap(), target);
    // The control: a plain file there, and the pty is bound over it.
    std::fs::remove_file(devdir.join("console")).unwrap();
    std::fs::write(devdir.join("console"), "").unwrap();
    let (code, stdout, stderr) = b.run("console-file");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "ran\n");
}

// ---------------------------------------------------------------------------
// Writes to procfs and sysfs that would reach the host
// ---------------------------------------------------------------------------

#[test]
fn proc_and_sys_writes_fail_under_the_default_spec() {
    // `husk spec`'s config as it is: root in the container, its default
    // capabilities. Each file is only opened for writing (`: > FILE`), never
    // written: the open is what a read-only mount refuses, and if it ever
    // succeeded nothing on the host would change.
    // Existing files (where this kernel has them), and new files in
    // read-only or masked directories.
    let writes = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/modprobe",
        "/proc/sys/kernel/panic",
        "/proc/sys/kernel/hostname",
        "/proc/sys/vm/overcommit_memory",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sysrq-trigger",
        "/proc/irq/default_smp_affinity",
        "/proc/fs/nfsd/threads",
        "/proc/bus/pci/devices",
        "/sys/kernel/mm/transparent_hugepage/enabled",
        "/sys/kernel/uevent_helper",
        "/sys/kernel/profiling",
        "/sys/kernel/kexec_load_disabled",
        "/sys/power/state",
        "/sys/module/apparmor/parameters/enabled",
        "/sys/fs/cgroup/cgroup.procs",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/devices/devices.allow",
    ];
    // (/sys/fs/cgroup itself is, on a v1 host, a tmpfs of the container's
    // own, left writable as runc leaves it; the hierarchies in it are not.)
    let creates = ["/sys/kernel/escape", "/sys/firmware/escape", "/sys/fs/cgroup/memory/escape"];
    let masked_files = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/latency_stats", "/proc/sched_debug", "/proc/timer_stats"];
    let masked_dirs = ["/proc/acpi", "/proc/scsi", "/proc/asound", "/sys/firmware"];
    let try_open = |file: &str| {
        format!("if out=$( (: > {file}) 2>&1); then echo \"OPENED {file}\"; else echo \"refused {file}: $out\"; fi; ")
    };
    let mut script = String::new();
    for file in writes {
        script += &format!("if [ -e {file} ]; then {} fi; ", try_open(file));
    }
    for file in creates {
        script += &try_open(file);
    }
    for file in masked_files {
        script += &format!("if [ -e {file} ]; then echo \"read {file} $(wc -c < {file})\"; fi; ");
    }
    for dir in masked_dirs {
        script += &format!("if [ -e {dir} ]; then echo \"list {dir} $(ls -A {dir} | wc -l)\"; fi; ");
    }
    let mut b = Bundle::new(&["sh", "-c", &script]);
    let out = b.run_ok("procsys");
    assert!(!out.contains("OPENED"), "{out}");
    let mut checked = 0;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("refused ") {
            assert!(rest.ends_with("Read-only file system"), "refused, but not by a read-only mount: {line}");
            checked += 1;
        } else if line.starts_with("read ") || line.starts_with("list ") {
            assert!(line.ends_with(" 0"), "masked, yet not empty: {line}");
            checked += 1;
        }
    }
    // Whatever this kernel lacks, these are always there.
    let always = [
        "refused /proc/sys/kernel/core_pattern",
        "refused /sys/kernel/escape",
        "refused /sys/firmware/escape",
        "read /proc/keys 0",
        "list /sys/firmware 0",
    ];
    for must in always {
        assert!(out.contains(must), "{must}: {out}");
    }
    for (file, what) in [("/proc/sysrq-trigger", "refused"), ("/proc/kcore", "read")] {
        if Path::new(file).exists() {
            assert!(out.contains(&format!("{what} {file}")), "{file}: {out}");
        }
    }
    assert!(checked >= 10, "{out}");
    eprintln!("{out}");
}

// ---------------------------------------------------------------------------
// no_new_privs
// ---------------------------------------------------------------------------

#[test]
fn no_new_privs_stops_a_setuid_root_binary() {
    for (no_new_privs, expected) in [(true, "uid=1000 euid=1000"), (false, "uid=1000 euid=0")] {
        let mut b = Bundle::new(&["suid-probe", "euid"]);
        let probe = b.rootfs().join("bin/suid-probe");
        std::fs::copy(escprobe(), &probe).unwrap();
        std::os::unix::fs::chown(&probe, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o4755)).unwrap();
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        b.config["process"]["noNewPrivileges"] = no_new_privs.into();
        b.write();
        let out = b.run_ok(if no_new_privs { "nnp" } else { "nonnp" });
        // With no_new_privs false the same binary does become root: the
        // test can fail.
        assert_eq!(out.trim(), expected, "noNewPrivileges {no_new_privs}");
    }
}
