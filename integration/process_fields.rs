//! The process fields that tune how the kernel runs a container's
//! processes (process.scheduler, process.ioPriority,
//! process.execCPUAffinity, linux.personality, linux.memoryPolicy), each
//! read back from inside the container or from the host; the reset of an
//! inherited CPU affinity; what husk does under a seccomp filter that
//! allows little more than execve; and `kill KILL` of a container without a
//! pid namespace of its own.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::process::Command;

use serde_json::{Value, json};

/// A running container (`run -d`) to look at or exec into.
fn running(b: &mut Bundle, name: &str) -> String {
    b.write();
    b.run_detached(name)
}

fn init_pid(b: &Bundle, id: &str) -> i64 {
    b.state(id)["pid"].as_i64().unwrap()
}

/// `exec -p` with this process.json.
fn exec_process(b: &Bundle, id: &str, process: Value) -> (i32, String, String) {
    let path = b.dir.join(format!("process-{}.json", rand_tag()));
    std::fs::write(&path, process.to_string()).unwrap();
    let result = b.exec(&["-p", path.to_str().unwrap(), id]);
    let _ = std::fs::remove_file(path);
    result
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// A host tool's output (util-linux's chrt, ionice, taskset).
fn host_tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The value of a `key : value` line of /proc/PID/sched.
fn sched_field(sched: &str, key: &str) -> String {
    sched
        .lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {key} in\n{sched}"))
}

fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap().trim().to_string()
}

fn has_two_cpus() -> bool {
    let online = online_cpus();
    online != "0" && !online.is_empty()
}

/// Asserts that husk failed with one line naming `field`, and left nothing.
#[track_caller]
fn refused(b: &mut Bundle, field: &str, problem: &str) {
    b.write();
    let id = b.id("bad");
    let out = b.husk(&["create", &id]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "create succeeded with a bad {field}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    let expected = format!("config.json: {field}: ");
    assert!(stderr.contains(&expected), "error lacks {expected:?}: {stderr}");
    assert!(stderr.contains(problem), "error lacks {problem:?}: {stderr}");
    assert!(!b.root.join(&id).exists(), "state of {id} left behind");
    assert_no_cgroup(&id);
}

#[test]
fn scheduler_is_applied_to_the_init_and_to_exec() {
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 19, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    let id = running(&mut b, "batch");
    let pid = init_pid(&b, &id).to_string();
    let chrt = host_tool("chrt", &["-p", &pid]);
    assert!(chrt.contains("scheduling policy: SCHED_BATCH|SCHED_RESET_ON_FORK"), "{chrt}");
    let sched = std::fs::read_to_string(format!("/proc/{pid}/sched")).unwrap();
    assert_eq!(sched_field(&sched, "policy"), "3");
    assert_eq!(sched_field(&sched, "prio"), "139", "nice 19");
    // An exec'd process takes the config's scheduler too, as in runc.
    let (code, out, err) = b.exec(&[&id, "cat", "/proc/self/sched"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sched_field(&out, "policy"), "3");
    assert_eq!(sched_field(&out, "prio"), "139");
    // And a process.json's own.
    let (code, out, err) = exec_process(&b, &id, json!({"args": ["cat", "/proc/self/sched"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0},
        "scheduler": {"policy": "SCHED_IDLE"}}));
    assert_eq!(code, 0, "{err}");
    assert_eq!(sched_field(&out, "policy"), "5");
}

#[test]
fn deadline_and_real_time_schedulers() {
    // runc's own test values.
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["process"]["scheduler"] =
        json!({"policy": "SCHED_DEADLINE", "nice": 19, "priority": 0, "runtime": 42000, "deadline": 1000000, "period": 1000000});
    let id = running(&mut b, "deadline");
    let chrt = host_tool("chrt", &["-p", &init_pid(&b, &id).to_string()]);
    assert!(chrt.contains("SCHED_DEADLINE"), "{chrt}");
    assert!(chrt.contains("runtime/deadline/period parameters: 42000/1000000/1000000"), "{chrt}");

    // A deadline task needs every CPU of its domain: a cpuset of one is
    // refused, in words that say so (as runc's).
    if has_two_cpus() {
        let mut b = Bundle::new(&["true"]);
        b.config["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE", "runtime": 42000, "deadline": 1000000, "period": 1000000});
        b.config["linux"]["resources"]["cpu"] = json!({"cpus": "0", "mems": "0"});
        b.write();
        let (code, _, err) = b.run("deadline-cpuset");
        assert_ne!(code, 0);
        assert!(err.contains("set scheduler: SCHED_DEADLINE needs every CPU"), "{err}");
    }

    // A real-time policy needs real-time time in the container's cpu
    // cgroup where the kernel groups it (CONFIG_RT_GROUP_SCHED, this host).
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_RR", "priority": 10});
    if std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        b.config["linux"]["resources"]["cpu"] = json!({"realtimeRuntime": 10000, "realtimePeriod": 1000000});
    }
    let id = running(&mut b, "rr");
    let chrt = host_tool("chrt", &["-p", &init_pid(&b, &id).to_string()]);
    assert!(chrt.contains("scheduling policy: SCHED_RR"), "{chrt}");
    assert!(chrt.contains("scheduling priority: 10"), "{chrt}");
}

#[test]
fn io_priority_is_applied() {
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let id = running(&mut b, "ioprio");
    let ionice = host_tool("ionice", &["-p", &init_pid(&b, &id).to_string()]);
    assert_eq!(ionice.trim(), "best-effort: prio 6");
    let (code, out, err) = b.exec(&[&id, "sh", "-c", "ionice -p $$"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("best-effort") && out.contains('6'), "exec'd: {out}");
    let (code, out, err) = exec_process(&b, &id, json!({"args": ["sh", "-c", "ionice -p $$"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0},
        "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}}));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("idle"), "{out}");
    // The real-time class takes a capability the container may not keep:
    // set while the process still has it.
    let (code, out, err) = exec_process(&b, &id, json!({"args": ["sh", "-c", "ionice -p $$"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 1000, "gid": 1000},
        "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 2}}));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("realtime") && out.contains('2'), "{out}");
    // A process.json that sets none gets the config's, as in runc.
    let (code, out, err) = exec_process(&b, &id, json!({"args": ["sh", "-c", "ionice -p $$"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}}));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("best-effort") && out.contains('6'), "{out}");
}

fn cpus_allowed(status: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).expect("Cpus_allowed_list").trim().to_string()
}

#[test]
fn an_inherited_cpu_affinity_is_reset() {
    if !has_two_cpus() {
        eprintln!("one CPU: nothing to reset");
        return;
    }
    let mut b = Bundle::new(&["sleep", "100"]);
    b.write();
    let id = b.id("reset");
    // husk itself pinned to CPU 0, as an engine under systemd's
    // CPUAffinity= would be.
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0", HUSK]).args(b.husk_cmd(&["run", "-d", &id]).get_args());
    let out = b.output_of(cmd);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let pid = init_pid(&b, &id);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(cpus_allowed(&status), online_cpus(), "the init kept husk's affinity");
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0", HUSK]).args(b.husk_cmd(&["exec", &id, "cat", "/proc/self/status"]).get_args());
    let out = b.output_of(cmd);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert_eq!(cpus_allowed(&text(&out.stdout)), online_cpus(), "the exec'd process kept husk's affinity");
}

#[test]
fn exec_cpu_affinity_initial_and_final() {
    if !has_two_cpus() {
        eprintln!("one CPU: no affinity to choose");
        return;
    }
    let mut b = Bundle::new(&["sleep", "100"]);
    // The config's is the default of exec'd processes; the init, which the
    // spec leaves out, keeps all CPUs.
    b.config["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "1"});
    let id = running(&mut b, "affinity");
    let status = std::fs::read_to_string(format!("/proc/{}/status", init_pid(&b, &id))).unwrap();
    assert_eq!(cpus_allowed(&status), online_cpus());
    let (code, out, err) = b.exec(&[&id, "cat", "/proc/self/status"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cpus_allowed(&out), "1", "final");
    let process = |affinity: Value| json!({"args": ["cat", "/proc/self/status"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "execCPUAffinity": affinity});
    // With `initial` alone, the kernel keeps it through the move into the
    // cgroup, which allows all CPUs.
    let (code, out, err) = exec_process(&b, &id, process(json!({"initial": "1"})));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cpus_allowed(&out), "1", "initial, kept");
    let (code, out, err) = exec_process(&b, &id, process(json!({"initial": "1", "final": "0-1"})));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cpus_allowed(&out), "0-1", "final after initial");
    // An empty list is no list (the spec: "if omitted or empty").
    let (code, out, err) = exec_process(&b, &id, process(json!({"initial": "", "final": ""})));
    assert_eq!(code, 0, "{err}");
    assert_eq!(cpus_allowed(&out), online_cpus());
    // CPUs the host does not have: refused before anything runs.
    let (code, _, err) = exec_process(&b, &id, process(json!({"final": "0,1023"})));
    assert_ne!(code, 0);
    assert!(err.contains("execCPUAffinity.final: CPU 1023 is not online"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let (code, _, err) = exec_process(&b, &id, process(json!({"initial": "4096"})));
    assert_ne!(code, 0);
    assert!(err.contains("execCPUAffinity.initial: CPU 4096 is out of range"), "{err}");
    let ps = b.husk(&["ps", &id]);
    assert_eq!(text(&ps.stdout).lines().count(), 2, "only the init is left: {}", text(&ps.stdout));
}

#[test]
fn personality_linux32_shows_i686() {
    let mut b = Bundle::new(&["uname", "-m"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.write();
    assert_eq!(b.run_ok("linux32").trim(), "i686");
    b.config["linux"]["personality"] = json!({"domain": "LINUX"});
    b.write();
    assert_eq!(b.run_ok("linux").trim(), std::env::consts::ARCH);
    // exec'd processes take it too, as in runc.
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    let id = running(&mut b, "exec32");
    let (code, out, err) = b.exec(&[&id, "uname", "-m"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "i686");
}

/// The policy numa_maps shows for the process's stack (its task policy).
fn numa_policy_of(numa_maps: &str) -> String {
    let line = numa_maps.lines().find(|l| l.contains("stack")).unwrap_or_else(|| panic!("no stack in\n{numa_maps}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn memory_policy_is_applied() {
    let nodes = std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_else(|_| "0".into());
    let first = nodes.trim().split([',', '-']).next().unwrap().to_string();
    let mut b = Bundle::new(&["cat", "/proc/self/numa_maps"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": first});
    b.write();
    assert_eq!(numa_policy_of(&b.run_ok("bind")), format!("bind:{first}"));
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": first, "flags": ["MPOL_F_STATIC_NODES"]});
    b.write();
    assert_eq!(numa_policy_of(&b.run_ok("interleave")), format!("interleave=static:{first}"));
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_PREFERRED", "nodes": first});
    b.write();
    assert_eq!(numa_policy_of(&b.run_ok("preferred")), format!("prefer:{first}"));
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_LOCAL"});
    b.write();
    assert_eq!(numa_policy_of(&b.run_ok("local")), "local");
    // Without a memory policy, the default.
    b.config["linux"].as_object_mut().unwrap().remove("memoryPolicy");
    b.write();
    assert_eq!(numa_policy_of(&b.run_ok("default")), "default");
    // exec'd processes take the container's.
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": first});
    let id = running(&mut b, "exec-bind");
    let (code, out, err) = b.exec(&[&id, "cat", "/proc/self/numa_maps"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(numa_policy_of(&out), format!("bind:{first}"));
}

#[test]
fn bad_values_name_the_field_and_leave_nothing() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("process.scheduler", json!({"policy": "SCHED_NOPE"}), "process.scheduler.policy", "SCHED_NOPE"),
        ("process.scheduler", json!({"policy": "SCHED_OTHER", "nice": 20}), "process.scheduler.nice", "out of range"),
        ("process.scheduler", json!({"policy": "SCHED_FIFO", "priority": 0}), "process.scheduler.priority", "out of range"),
        ("process.scheduler", json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}), "process.scheduler.flags[0]", "SCHED_FLAG_NOPE"),
        ("process.ioPriority", json!({"class": "IOPRIO_CLASS_NOPE", "priority": 0}), "process.ioPriority.class", "IOPRIO_CLASS_NOPE"),
        ("process.ioPriority", json!({"class": "IOPRIO_CLASS_BE", "priority": 8}), "process.ioPriority.priority", "out of range"),
        ("process.execCPUAffinity", json!({"final": "0-4095"}), "process.execCPUAffinity.final", "out of range"),
        ("process.execCPUAffinity", json!({"initial": "1000"}), "process.execCPUAffinity.initial", "is not online"),
        ("process.execCPUAffinity", json!({"initial": "one"}), "process.execCPUAffinity.initial", "one"),
        ("linux.personality", json!({"domain": "LINUX64"}), "linux.personality.domain", "LINUX64"),
        ("linux.memoryPolicy", json!({"mode": "MPOL_BIND", "nodes": "7"}), "linux.memoryPolicy.nodes", "node 7 does not exist"),
        ("linux.memoryPolicy", json!({"mode": "MPOL_NOPE"}), "linux.memoryPolicy.mode", "MPOL_NOPE"),
    ];
    for (path, value, field, problem) in cases {
        let mut b = Bundle::new(&["true"]);
        let (section, key) = path.split_once('.').unwrap();
        b.config[section][key] = value;
        refused(&mut b, field, problem);
    }
}

/// A profile that returns EPERM for every call it does not name, and names
/// only what the container's program (a static busybox) needs and what the
/// start handshake needs after the filter (sendto and recvmsg on the
/// launch socket, openat and write of the exec fifo), as runc's does: no
/// close_range, fcntl, rt_sigaction, rt_sigprocmask, umask, prctl or
/// sched_setaffinity, which older generated and Kubernetes Localhost
/// profiles lack.
fn minimal_profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{
            "names": ["execve", "exit", "exit_group", "read", "write", "openat", "close", "sendmsg", "recvmsg",
                "sendto", "recvfrom", "brk", "mmap", "munmap", "arch_prctl", "set_tid_address", "getpid", "getuid",
                "geteuid", "getppid", "nanosleep", "clock_nanosleep", "newfstatat", "fstat", "ioctl", "getcwd", "uname",
                "mprotect", "readlink", "clock_gettime", "writev", "prlimit64", "getrandom", "set_robust_list", "rseq"],
            "action": "SCMP_ACT_ALLOW"
        }]
    })
}

#[test]
fn a_profile_without_close_range_still_starts() {
    let mut b = Bundle::new(&["echo", "started"]);
    b.config["process"]["noNewPrivileges"] = true.into();
    b.config["linux"]["seccomp"] = minimal_profile();
    b.write();
    let (code, out, err) = b.run("minimal");
    assert_eq!(code, 0, "run under the minimal profile: {err}");
    assert_eq!(out.trim(), "started");

    // And exec: after its filter, an exec'd process does nothing but execve.
    let mut b = Bundle::new(&["sleep", "100"]);
    b.config["process"]["noNewPrivileges"] = true.into();
    b.config["linux"]["seccomp"] = minimal_profile();
    let id = running(&mut b, "minimal-exec");
    let (code, out, err) = b.exec(&[&id, "echo", "exec'd"]);
    assert_eq!(code, 0, "exec under the minimal profile: {err}");
    assert_eq!(out.trim(), "exec'd");
}

#[test]
fn without_no_new_privs_only_the_capability_calls_follow_the_filter() {
    // Loading the filter then takes CAP_SYS_ADMIN, so the capability sets
    // can only be applied after it (capget, capset, prctl for the ambient
    // set); the user switch, the working directory and the rest come first.
    let mut b = Bundle::new(&["echo", "started"]);
    b.config["process"]["noNewPrivileges"] = false.into();
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
    let mut profile = minimal_profile();
    for name in ["capget", "capset", "prctl"] {
        profile["syscalls"][0]["names"].as_array_mut().unwrap().push(name.into());
    }
    b.config["linux"]["seccomp"] = profile;
    b.write();
    let (code, out, err) = b.run("caps");
    assert_eq!(code, 0, "run under the minimal profile without no_new_privs: {err}");
    assert_eq!(out.trim(), "started");
    // The process still gets exactly the config's capabilities (root's,
    // which execve keeps within the bounding set).
    let mut b = Bundle::new(&["grep", "^Cap", "/proc/self/status"]);
    b.config["process"]["noNewPrivileges"] = false.into();
    b.config["process"]["capabilities"] = json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]});
    b.write();
    let out = b.run_ok("capsets");
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        let line = out.lines().find(|l| l.starts_with(set)).unwrap();
        assert!(line.ends_with("0000000000000020"), "{line}");
    }
    assert!(out.lines().any(|l| l == "CapInh:\t0000000000000000"), "{out}");
}

#[test]
fn no_fd_of_husk_reaches_the_container_under_the_minimal_profile() {
    // With close_range denied, the fds must still be close-on-exec: they
    // are marked before the filter is loaded.
    let mut b = Bundle::new(&["ls", "/proc/self/fd"]);
    b.config["process"]["noNewPrivileges"] = true.into();
    let mut profile = minimal_profile();
    profile["syscalls"][0]["names"].as_array_mut().unwrap().push("getdents64".into());
    b.config["linux"]["seccomp"] = profile;
    b.write();
    let id = b.id("fds");
    let mut cmd = b.husk_cmd(&["run", &id]);
    // fds 5 to 7 open in husk, as an engine's shim may leave them.
    open_fds_in_child(&mut cmd, 2, 5..=7);
    let out = b.output_of(cmd);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let fds: Vec<String> = text(&out.stdout).split_whitespace().map(String::from).collect();
    // 0-2, and the one ls reads /proc/self/fd with.
    assert!(fds.len() <= 4 && !fds.iter().any(|fd| ["5", "6", "7"].contains(&fd.as_str())), "fds: {fds:?}");
}

/// The container's processes, as `husk ps` lists them.
fn container_pids(b: &Bundle, id: &str) -> Vec<i32> {
    let out = b.husk(&["ps", id]);
    assert!(out.status.success(), "ps: {}", text(&out.stderr));
    text(&out.stdout).lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)?.parse().ok()).collect()
}

/// A pid is gone, or left only as a zombie for its parent to reap.
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

fn without_pid_namespace(b: &mut Bundle) {
    let namespaces: Vec<Value> =
        b.config["linux"]["namespaces"].as_array().unwrap().iter().filter(|ns| ns["type"] != "pid").cloned().collect();
    b.config["linux"]["namespaces"] = namespaces.into();
}

#[test]
fn kill_without_a_pid_namespace_reaches_every_process() {
    let mut b = Bundle::new(&["sh", "-c", "sleep 100 & sleep 100; true"]);
    without_pid_namespace(&mut b);
    let id = running(&mut b, "nopidns");
    wait_until("three processes", || container_pids(&b, &id).len() == 3);
    let pids = container_pids(&b, &id);
    let out = b.husk(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    wait_until("every process gone", || pids.iter().all(|&p| dead(p)));
    wait_until("stopped", || b.state(&id)["status"] == "stopped");

    // Only SIGKILL goes to all, as in runc: a SIGTERM reaches the init
    // alone, and the process it leaves lives on (delete --force ends it).
    let mut b = Bundle::new(&["sh", "-c", "trap 'exit 3' TERM; sleep 100 & wait"]);
    without_pid_namespace(&mut b);
    let id = running(&mut b, "term");
    wait_until("two processes", || container_pids(&b, &id).len() == 2);
    let pids = container_pids(&b, &id);
    let init = init_pid(&b, &id) as i32;
    let out = b.husk(&["kill", &id, "TERM"]);
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    wait_until("the init gone", || dead(init));
    let rest: Vec<i32> = pids.into_iter().filter(|&p| p != init).collect();
    assert!(rest.iter().all(|&p| !dead(p)), "SIGTERM reached more than the init");
    let out = b.husk(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    wait_until("the rest gone", || rest.iter().all(|&p| dead(p)));
}

#[test]
fn features_list_the_memory_policy_husk_applies() {
    let out = Command::new(HUSK).arg("features").output().unwrap();
    assert!(out.status.success());
    let features: Value = serde_json::from_slice(&out.stdout).unwrap();
    let policy = &features["linux"]["memoryPolicy"];
    let modes: Vec<&str> = policy["modes"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(modes.len(), 7, "{modes:?}");
    let first = std::fs::read_to_string("/sys/devices/system/node/online").unwrap_or_else(|_| "0".into());
    let first = first.trim().split([',', '-']).next().unwrap().to_string();
    // Each listed mode is one a container gets.
    for mode in modes {
        let mut b = Bundle::new(&["cat", "/proc/self/numa_maps"]);
        let nodes = if mode == "MPOL_DEFAULT" || mode == "MPOL_LOCAL" { Value::Null } else { first.clone().into() };
        b.config["linux"]["memoryPolicy"] = json!({"mode": mode, "nodes": nodes});
        b.write();
        let (code, out, err) = b.run("mode");
        assert_eq!(code, 0, "{mode}: {err}");
        assert!(!out.is_empty(), "{mode}");
    }
    let flags: Vec<&str> = policy["flags"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(flags, ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]);
    for flag in flags {
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": first, "flags": [flag]});
        b.write();
        let (code, _, err) = b.run("flag");
        assert_eq!(code, 0, "{flag}: {err}");
    }
}
