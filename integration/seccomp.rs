#[path = "common/mod.rs"]
mod common;
use common::*;
use common::docker::docker_profile;

// linux.seccomp end to end: profiles applied to busybox commands and to
// `sysprobe` (integration/testdata/sysprobe.c, a freestanding program that
// makes one raw system call, through the x86_64, i386 or x32 ABI, and prints
// "ok" or "errno N"); the notify listener; Docker's default profile; and the
// same profiles under runc (Debian's 1.1.5 on libseccomp 2.5.4) and husk,
// compared probe by probe.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const RUNC: &str = "/usr/sbin/runc";

fn sysprobe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| c_probe("sysprobe", &["-nostdlib", "-ffreestanding", "-fno-stack-protector"]))
}

/// A bundle running `sh -c script` under `profile`, with sysprobe in /bin
/// and a writable root.
fn bundle(script: &str, profile: Value) -> Bundle {
    let mut bundle = Bundle::new(&["sh", "-c", script]);
    std::fs::copy(sysprobe(), bundle.rootfs().join("bin/sysprobe")).unwrap();
    bundle.config["root"]["readonly"] = false.into();
    bundle.config["linux"]["seccomp"] = profile;
    bundle.write();
    bundle
}

#[test]
fn errno_rule_denies_mkdir_and_nothing_else() {
    let mut b = bundle(
        "mkdir /tmp/x 2>&1; echo mkdir=$?; touch /tmp/y && echo touched; ls /tmp; rmdir /tmp/nothing 2>&1; true",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        }),
    );
    let out = b.run_ok("mkdir");
    assert!(out.contains("can't create directory '/tmp/x': Operation not permitted"), "{out}");
    assert!(out.contains("mkdir=1"), "{out}");
    assert!(out.contains("touched\ny\n"), "{out}");
    // Other calls reach the kernel: rmdir fails with the kernel's ENOENT.
    assert!(out.contains("No such file or directory"), "{out}");
}

#[test]
fn argument_condition_on_personality() {
    // PER_LINUX32 (8) is refused; PER_LINUX (0) and the query (0xffffffff)
    // are not.
    let mut b = bundle(
        "linux32 true 2>&1; echo linux32=$?; linux64 true && echo linux64=$?; sysprobe 135 0xffffffff",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                "args": [{"index": 0, "value": 0xffff, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}]
        }),
    );
    let out = b.run_ok("personality");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("linux32=1"), "{out}");
    assert!(out.contains("linux64=0"), "{out}");
    assert!(out.ends_with("ok\n"), "{out}");
}

/// The reference semantics of the operators on 64-bit values.
fn holds(op: &str, arg: u64, value: u64, value_two: u64) -> bool {
    match op {
        "SCMP_CMP_NE" => arg != value,
        "SCMP_CMP_LT" => arg < value,
        "SCMP_CMP_LE" => arg <= value,
        "SCMP_CMP_EQ" => arg == value,
        "SCMP_CMP_GE" => arg >= value,
        "SCMP_CMP_GT" => arg > value,
        "SCMP_CMP_MASKED_EQ" => arg & value == value_two,
        _ => unreachable!(),
    }
}

#[test]
fn all_operators_on_64_bit_arguments_in_the_kernel() {
    // One call per operator (all of them ignore their arguments), each
    // failing with its own errno when its condition on arg1 holds.
    let calls = [
        ("SCMP_CMP_NE", "getppid", libc::SYS_getppid),
        ("SCMP_CMP_LT", "getuid", libc::SYS_getuid),
        ("SCMP_CMP_LE", "getgid", libc::SYS_getgid),
        ("SCMP_CMP_EQ", "geteuid", libc::SYS_geteuid),
        ("SCMP_CMP_GE", "getegid", libc::SYS_getegid),
        ("SCMP_CMP_GT", "getpgrp", libc::SYS_getpgrp),
        ("SCMP_CMP_MASKED_EQ", "gettid", libc::SYS_gettid),
    ];
    let value: u64 = 0x1_0000_0005;
    let value_two: u64 = 0x1_0000_0004;
    let args: [u64; 7] = [0, 5, 0xffff_ffff, 0x1_0000_0004, 0x1_0000_0005, 0x1_0000_0006, 0xffff_ffff_ffff_fffd];
    let rules: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (op, name, _))| {
            json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 100 + i,
                "args": [{"index": 1, "value": value, "valueTwo": value_two, "op": op}]})
        })
        .collect();
    let mut script = String::new();
    for (_, _, nr) in &calls {
        for arg in args {
            script.push_str(&format!("sysprobe {nr} 0 {arg:#x}\n"));
        }
    }
    let mut b = bundle(&script, json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
    let out = b.run_ok("operators");
    let mut expected = String::new();
    for (i, (op, _, _)) in calls.iter().enumerate() {
        for arg in args {
            if holds(op, arg, value, value_two) {
                expected.push_str(&format!("errno {}\n", 100 + i));
            } else {
                expected.push_str("ok\n");
            }
        }
    }
    assert_eq!(out, expected);
}

#[test]
fn other_abis_cannot_bypass_the_rules() {
    let profile = |arches: Value| {
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": arches,
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        })
    };
    let script = "sysprobe 110; sysprobe -32 64; echo i386=$?; sysprobe -32 20; sysprobe -x32 110; echo x32=$?";
    // Native only: i386 and x32 calls are killed (SIGSYS: 128 + 31).
    let mut b = bundle(script, profile(json!(["SCMP_ARCH_X86_64"])));
    assert_eq!(b.run_ok("native"), "errno 13\ni386=159\nx32=159\n");
    // i386 and x32 listed: their own numbers for getppid are caught (x32
    // would otherwise run getppid, were the kernel built with x32).
    let mut b = bundle(script, profile(json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])));
    assert_eq!(b.run_ok("all"), "errno 13\nerrno 13\ni386=0\nok\nerrno 13\nx32=0\n");
}

#[test]
fn calls_newer_than_the_profile_get_enosys() {
    let mut b = bundle(
        "sysprobe 1000; sysprobe 163; sysprobe -32 1000; sysprobe 39",
        json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": busybox_needs(), "action": "SCMP_ACT_ALLOW"}]
        }),
    );
    // 1000 is above every call named: ENOSYS; acct is below: EPERM.
    assert_eq!(b.run_ok("enosys"), "errno 38\nerrno 1\nerrno 38\nok\n");
}

/// What busybox's sh, sysprobe and husk's init need after the filter.
fn busybox_needs() -> Vec<&'static str> {
    vec![
        "read", "write", "openat", "open", "close", "close_range", "fstat", "newfstatat", "stat", "lseek", "mmap",
        "munmap", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "execve", "exit", "exit_group",
        "wait4", "clone", "fork", "vfork", "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "umask",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "fcntl", "dup2", "dup3", "getcwd", "chdir", "uname",
        "arch_prctl", "set_tid_address", "set_robust_list", "prlimit64", "readlink", "access", "getrandom",
        "rseq", "mprotect", "futex", "capget", "capset", "prctl", "setresuid", "setresgid", "setgroups", "pipe2",
    ]
}

#[test]
fn notify_listener_receives_the_fd_and_answers_calls() {
    let script = "mkdir /tmp/refused 2>&1; echo refused=$?; mkdir /tmp/faked; echo faked=$?; \
                  test -d /tmp/faked && echo exists || echo absent";
    let mut b = bundle(script, json!({}));
    let socket = b.dir.join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "listenerMetadata": "agent metadata",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.write();
    let id = b.id("notify");
    let out_path = b.dir.join("run.out");
    let err_path = b.dir.join("run.err");
    let mut husk = b
        .husk_cmd(&["run", &id])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = husk.try_wait().unwrap() {
                    panic!("husk exited ({status}) before connecting: {}", std::fs::read_to_string(&err_path).unwrap());
                }
                assert!(Instant::now() < deadline, "husk never connected to the listener");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let (state, notify_fd) = receive_state(stream.as_raw_fd());

    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "agent metadata");
    assert!(state["ociVersion"].as_str().is_some_and(|v| !v.is_empty()), "{state}");
    let pid = state["pid"].as_i64().expect("pid");
    assert!(pid > 0, "{state}");
    assert_eq!(state["state"]["id"], id.as_str());
    assert_eq!(state["state"]["status"], "creating");
    assert_eq!(state["state"]["pid"], pid);
    assert_eq!(state["state"]["bundle"], b.dir.to_str().unwrap());
    assert!(state["state"]["ociVersion"].is_string(), "{state}");

    // The first mkdir is refused with EACCES, the second is answered
    // "done" without running.
    for reply in [-libc::EACCES, 0] {
        let notification = receive_notification(&notify_fd);
        assert_eq!(i64::from(notification.data.nr), libc::SYS_mkdir);
        assert_eq!(notification.data.arch, 0xc000_003e, "AUDIT_ARCH_X86_64");
        assert!(notification.pid > 0);
        respond(&notify_fd, notification.id, reply);
    }
    let status = husk.wait().unwrap();
    let out = std::fs::read_to_string(&out_path).unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert!(status.success(), "husk run: {err}\n{out}");
    assert_eq!(
        out,
        "mkdir: can't create directory '/tmp/refused': Permission denied\nrefused=1\nfaked=0\nabsent\n"
    );
}

/// Reads the container process state (until the runtime closes the
/// connection) and the fd that came with it.
fn receive_state(sock: i32) -> (Value, OwnedFd) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut bytes = Vec::new();
    let mut fds = Vec::new();
    loop {
        let mut buf = [0u8; 4096];
        let mut space = nix::cmsg_space!([i32; 4]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).expect("recvmsg");
        let n = msg.bytes;
        for cmsg in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                fds.extend(received);
            }
        }
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    assert_eq!(fds.len(), 1, "exactly one fd is sent");
    // SAFETY: the fd was just received with SCM_RIGHTS and is ours alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    (serde_json::from_slice(&bytes).expect("the state is JSON"), fd)
}

fn receive_notification(fd: &OwnedFd) -> libc::seccomp_notif {
    let mut poll = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(fd),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut poll, nix::poll::PollTimeout::from(10_000u16)).unwrap();
    assert_eq!(ready, 1, "no notification within 10 s");
    // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
    let mut notification: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl fills in the struct we pass, which outlives the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notification) };
    assert_eq!(ret, 0, "SECCOMP_IOCTL_NOTIF_RECV: {}", std::io::Error::last_os_error());
    notification
}

/// Answers a notification: `error` 0 means the call "succeeded" with 0.
fn respond(fd: &OwnedFd, id: u64, error: i32) {
    let mut response = libc::seccomp_notif_resp { id, val: 0, error, flags: 0 };
    // SAFETY: the ioctl reads the struct we pass, which outlives the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut response) };
    assert_eq!(ret, 0, "SECCOMP_IOCTL_NOTIF_SEND: {}", std::io::Error::last_os_error());
}

#[test]
fn an_unreachable_listener_fails_create() {
    let mut b = bundle("true", json!({}));
    let socket = b.dir.join("nobody-listens.sock");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.write();
    let id = b.id("nolistener");
    let out = b.husk(&["create", &id]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("seccomp listener") && err.contains("nobody-listens.sock") && err.contains("connect"), "{err}");
    assert!(!b.root.join(&id).exists(), "nothing is left of the container");
}

#[test]
fn profile_errors_and_warnings_reach_the_user() {
    let mut b = bundle(
        "echo ran",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]
        }),
    );
    let (code, stdout, stderr) = b.run("warn");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "ran\n");
    assert!(stderr.contains("level=warning"), "{stderr}");
    assert!(stderr.contains("linux.seccomp.syscalls[0].names[1]: unknown system call"), "{stderr}");
    assert!(stderr.contains("no_such_call"), "{stderr}");

    let names = |n: &str| json!({"names": [n], "action": "SCMP_ACT_ERRNO"});
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [names("mkdir"), names("rmdir"), names("chmod"), {"names": ["chown"], "action": "SCMP_ACT_DENY"}]
    });
    b.write();
    let (code, _, stderr) = b.run("bad-action");
    assert_eq!(code, 1);
    assert!(
        stderr.contains(r#"config.json: linux.seccomp.syscalls[3].action: unknown value \"SCMP_ACT_DENY\""#),
        "{stderr}"
    );
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 5}]
    });
    b.write();
    let (code, _, stderr) = b.run("bad-errno");
    assert_eq!(code, 1);
    assert!(stderr.contains("config.json: linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO"), "{stderr}");
}


#[test]
fn docker_default_profile_runs_a_shell() {
    // With no_new_privs (husk spec's default) the filter is loaded last;
    // without (Docker's default), before the capabilities are dropped.
    for no_new_privileges in [true, false] {
        let mut b = bundle("echo ok; mkdir /tmp/d && echo made; unshare -m true 2>&1 || echo refused", docker_profile());
        b.config["process"]["noNewPrivileges"] = no_new_privileges.into();
        b.write();
        let (code, stdout, stderr) = b.run("docker");
        assert_eq!(code, 0, "noNewPrivileges {no_new_privileges}: {stderr}");
        assert!(!stderr.contains("warning"), "{stderr}");
        assert!(stdout.starts_with("ok\nmade\n"), "{stdout}");
        assert!(stdout.contains("Operation not permitted\nrefused\n"), "{stdout}");
    }
}

#[test]
fn docker_profile_in_a_user_namespace() {
    // The init enters its namespaces through the intermediate process and
    // loads the filter as root of a new user namespace, without
    // no_new_privs.
    let mut b = bundle("echo ok; id -u; mkdir /tmp/d && echo made", docker_profile());
    b.config["process"]["noNewPrivileges"] = false.into();
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.write();
    assert_eq!(b.run_ok("userns"), "ok\n0\nmade\n");
}

/// The probes of the differential test: busybox commands (`b LABEL CMD...`)
/// and raw calls (`p LABEL SYSPROBE-ARGS...`), each printing one line.
const PROBES: &str = r#"
b() { label=$1; shift; o=$("$@" 2>&1); echo "$label: $? $o"; }
p() { label=$1; shift; o=$(sysprobe "$@" 2>&1); echo "$label: $? $o"; }
rm -rf /tmp/d1 /tmp/fifo /tmp/link
b mkdir mkdir /tmp/d1
b mkdir-again mkdir /tmp/d1
b chmod chmod 600 /tmp/d1
b rmdir rmdir /tmp/d1
b mknod-fifo mknod /tmp/fifo p
b symlink ln -s /tmp /tmp/link
b linux32 linux32 true
b linux64 linux64 true
b unshare unshare -m true
b hostname hostname other
b mount mount -t tmpfs t /mnt
b chroot chroot / true
b renice renice -n 1 -p $$
b ionice ionice -c 3 true
b taskset taskset -p 1
b sync sync
b kill kill -0 1
p personality-query 135 0xffffffff
p personality-linux32 135 8
p personality-other 135 0x400000
p unshare-none 272 0
p acct 163 0
p clone3 435 0 0
p socket-inet 41 2 2 0
p socket-vsock 41 40 1 0
p getppid-zero 110 0
p getppid-4 110 4
p getppid-low 110 5
p getppid-2^32 110 0x100000000
p getppid-high 110 0x100000005
p nr-1000 1000
p i386-getpid -32 20
p i386-personality -32 136 0x400000
p i386-unshare -32 310 0
p i386-nr-1000 -32 1000
p x32-getpid -x32 39
p x32-unshare -x32 272 0
"#;

/// Runs PROBES under runc and under husk with the same config and compares
/// their output line by line.
fn differential(context: &str, profile: Value, no_new_privileges: bool) -> String {
    let mut b = bundle(PROBES, profile);
    b.config["process"]["noNewPrivileges"] = no_new_privileges.into();
    b.write();
    let (code, husk, husk_err) = b.run("husk");
    assert_eq!(code, 0, "{context}: husk: {husk_err}");

    let runc_root = b.dir.join("runc-state");
    let runc_id = b.id("runc");
    let out = Command::new(RUNC)
        .arg("--root")
        .arg(&runc_root)
        .args(["run", "-b"])
        .arg(&b.dir)
        .arg(&runc_id)
        .current_dir(&b.dir)
        .stdin(Stdio::null())
        .output()
        .expect("run /usr/sbin/runc (Debian's runc package)");
    let _ = Command::new(RUNC).arg("--root").arg(&runc_root).args(["delete", "--force", &runc_id]).output();
    let runc = text(&out.stdout);
    assert!(out.status.success(), "{context}: runc: {}", text(&out.stderr));
    assert!(runc.lines().count() > 30, "{context}: runc printed {runc}");
    for (h, r) in husk.lines().zip(runc.lines()) {
        assert_eq!(h, r, "{context}: husk (left) and runc (right) differ");
    }
    assert_eq!(husk.lines().count(), runc.lines().count(), "{context}");
    eprintln!("{context}, the same under runc and husk:\n{husk}");
    husk
}

fn line<'a>(out: &'a str, label: &str) -> &'a str {
    let prefix = format!("{label}: ");
    out.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {label} in {out}"))
}

#[test]
fn differential_docker_profile_against_runc() {
    let out = differential("Docker's profile", docker_profile(), false);
    // Spot checks that the profile took effect at all.
    assert_eq!(line(&out, "mkdir"), "0 ");
    assert_eq!(line(&out, "linux32"), "0 ");
    assert_eq!(line(&out, "personality-other"), "0 errno 1");
    assert_eq!(line(&out, "clone3"), "0 errno 38");
    assert_eq!(line(&out, "socket-vsock"), "0 errno 1");
    assert_eq!(line(&out, "nr-1000"), "0 errno 38");
    assert_eq!(line(&out, "i386-getpid"), "0 ok");
    assert_eq!(line(&out, "x32-unshare"), "0 errno 1");
}

#[test]
fn differential_small_profile_against_runc() {
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 0, "value": 0xffff, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
             "args": [{"index": 0, "value": 4, "op": "SCMP_CMP_GT"}]},
            {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 16},
            {"names": ["acct"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]
    });
    let out = differential("a small profile", profile, true);
    assert_eq!(line(&out, "mkdir"), "1 mkdir: can't create directory '/tmp/d1': Operation not permitted");
    assert_eq!(line(&out, "personality-linux32"), "0 errno 22");
    assert_eq!(line(&out, "unshare-none"), "0 errno 95");
    assert_eq!(line(&out, "getppid-4"), "0 ok");
    assert_eq!(line(&out, "getppid-low"), "0 errno 7");
    // A high word above the value's decides even when the low word is below.
    assert_eq!(line(&out, "getppid-2^32"), "0 errno 7");
    assert_eq!(line(&out, "acct"), "159 ");
    // x32 is not listed: killed (SIGSYS), under runc as under husk.
    assert_eq!(line(&out, "x32-getpid"), "159 ");
}
