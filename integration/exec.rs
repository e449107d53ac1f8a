//! `exec`: a new process in a running container, with every flag.

#[path = "common/mod.rs"]
mod common;
use common::*;

use serde_json::json;

#[test]
fn joins_the_containers_namespaces_and_cgroup() {
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["hostname"] = "exec-box".into();
    b.write();
    let id = b.run_detached("join");
    let init = b.state(&id)["pid"].as_i64().unwrap();
    let (code, out, err) = b.exec(&[&id, "sh", "-c", "hostname; echo $$; for n in mnt net ipc uts pid cgroup; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "exec-box");
    assert_ne!(lines[1], "1", "a new process, not the init");
    assert!(lines[1].parse::<u32>().unwrap() < 100, "a pid of the container's namespace: {}", lines[1]);
    for (i, n) in ["mnt", "net", "ipc", "uts", "pid", "cgroup"].iter().enumerate() {
        let theirs = std::fs::read_link(format!("/proc/{init}/ns/{n}")).unwrap();
        assert_eq!(lines[2 + i], theirs.display().to_string(), "{n}");
    }
    let init_cgroup = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    // Both entered it at birth (cgroups::Entry): in every hierarchy, the
    // cgroup named after the container.
    for line in init_cgroup.lines() {
        assert!(line.ends_with(&format!("/{id}")), "the init is not in the container's cgroup: {line}");
    }
    assert_eq!(lines[8..].join("\n"), init_cgroup.trim_end(), "same cgroup as the init");
}

#[test]
fn exit_codes_and_signals() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("codes");
    assert_eq!(b.exec(&[&id, "sh", "-c", "exit 7"]).0, 7);
    assert_eq!(b.exec(&[&id, "sh", "-c", "kill -9 $$"]).0, 137);
    // A set-up failure: 255, as runc's (integration/parity_cli.rs).
    let (code, _, err) = b.exec(&[&id, "no-such-program"]);
    assert_eq!(code, 255);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
}

#[test]
fn user_groups_env_cwd_and_caps_flags() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("flags");
    let (code, out, err) = b.exec(
        &["-u", "1000:1000", "-g", "5", "-g", "100", "-e", "GREETING=hi", "-e", "PATH=/bin", "--cwd", "/tmp", &id,
          "sh", "-c", "id -u; id -g; id -G; echo $GREETING; echo $PATH; pwd"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1000", "1000", "1000 5 100", "hi", "/bin", "/tmp"]);

    let (_, out, _) = b.exec(&[&id, "grep", "CapBnd", "/proc/self/status"]);
    let (code, with_cap, err) = b.exec(&["--cap", "CAP_SYS_ADMIN", &id, "grep", "CapBnd", "/proc/self/status"]);
    assert_eq!(code, 0, "{err}");
    let mask = |s: &str| u64::from_str_radix(s.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(mask(&with_cap), mask(&out) | (1 << 21), "CAP_SYS_ADMIN added");

    let (_, nnp, _) = b.exec(&["--no-new-privs", &id, "grep", "NoNewPrivs", "/proc/self/status"]);
    assert!(nnp.contains('1'), "{nnp}");
}

#[test]
fn process_json() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("pjson");
    let process = json!({
        "args": ["sh", "-c", "echo $ONLY; id -u; pwd"],
        "env": ["ONLY=from-process-json", "PATH=/bin"],
        "cwd": "/etc",
        "user": {"uid": 65534, "gid": 65534}
    });
    let path = b.dir.join("process.json");
    std::fs::write(&path, process.to_string()).unwrap();
    let (code, out, err) = b.exec(&["-p", path.to_str().unwrap(), &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["from-process-json", "65534", "/etc"]);
}

#[test]
fn detach_and_pid_file() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("detach");
    let pid_file = b.dir.join("exec.pid");
    let (code, _, err) = b.exec(&["-d", "--pid-file", pid_file.to_str().unwrap(), &id, "sleep", "50"]);
    assert_eq!(code, 0, "{err}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, "sleep\u{0}50\u{0}");
    let ps: Vec<i64> = serde_json::from_slice(&b.husk(&["ps", "-f", "json", &id]).stdout).unwrap();
    assert!(ps.contains(&(pid as i64)), "{ps:?}");
}

#[test]
fn preserve_fds_only_passes_what_is_asked() {
    use std::os::fd::AsRawFd;
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("fds");
    let extra = std::fs::File::open("/dev/null").unwrap();
    let raw = extra.as_raw_fd();
    // `ls` is the exec'd process itself (no shell, whose pipes would show),
    // and its own directory fd is the last one listed.
    for (preserve, expected) in [("0", "0 1 2 3"), ("1", "0 1 2 3 4")] {
        let mut cmd = b.husk_cmd(&["exec", "--preserve-fds", preserve, &id, "ls", "/proc/self/fd"]);
        open_fds_in_child(&mut cmd, raw, 3..=4);
        let out = cmd.output().unwrap();
        let listed = text(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(listed, expected, "--preserve-fds {preserve}: {}", text(&out.stderr));
    }
}

#[test]
fn stopped_and_paused_containers() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("paused");
    assert!(b.husk(&["pause", &id]).status.success());
    let (code, _, err) = b.exec(&[&id, "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("paused"), "{err}");
    // With --ignore-paused the process is created, frozen with the rest.
    assert!(b.husk(&["resume", &id]).status.success());
    assert_eq!(b.exec(&["--ignore-paused", &id, "true"]).0, 0);
    assert!(b.husk(&["kill", &id, "KILL"]).status.success());
    wait_until("stopped", || b.state(&id)["status"] == "stopped");
    let (code, _, err) = b.exec(&[&id, "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot exec in a stopped container"), "{err}");
}

#[test]
fn seccomp_and_rlimits_of_the_container_apply() {
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]);
    b.write();
    let id = b.run_detached("seccomp");
    let (code, out, err) = b.exec(&[&id, "sh", "-c", "mkdir /tmp/x 2>&1; ulimit -n; echo still-running"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("123") && out.contains("still-running"), "{out}");
}

#[test]
fn exec_into_a_user_namespaced_container() {
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.write();
    let id = b.run_detached("userns");
    let (code, out, err) = b.exec(&[&id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_eq!(code, 0, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "300000", "65536"]);
}

#[test]
fn lsm_flags_need_their_lsm_and_start_nothing_without_it() {
    // This host runs neither AppArmor nor SELinux: the flags are refused
    // before any process is made (where they run, lsm.rs applies them, as
    // for the init).
    let host_has = |lsm: &str| std::fs::read_to_string("/sys/kernel/security/lsm").is_ok_and(|l| l.contains(lsm));
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("lsm");
    let before = processes_rooted_in(&b.dir).len();
    for (flag, value, lsm, expected) in [
        ("--apparmor", "husk-test", "apparmor", "requested, but AppArmor is not enabled"),
        ("--process-label", "system_u:system_r:container_t:s0", "selinux", "requested, but SELinux is not enabled"),
    ] {
        if host_has(lsm) {
            eprintln!("{lsm} is enabled here: {flag} is checked by the differential tests of lsm.rs only");
            continue;
        }
        let (code, _, err) = b.exec(&[flag, value, &id, "true"]);
        assert_eq!(code, 255, "{flag}: {err}");
        assert!(err.contains(expected) && err.contains(value), "{flag}: {err}");
        assert_eq!(processes_rooted_in(&b.dir).len(), before, "{flag}: a process was started");
    }
}
