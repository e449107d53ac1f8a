//! runc parity of the command line and its output: each step run with
//! Debian's runc first (the oracle, which checks the test itself), then with
//! husk, on the same bundle with each its own --root, and compared.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const RUNC: &str = "/usr/sbin/runc";

#[derive(Clone, Copy)]
struct Rt {
    bin: &'static str,
    name: &'static str,
}

fn both() -> [Rt; 2] {
    [Rt { bin: RUNC, name: "runc" }, Rt { bin: HUSK, name: "husk" }]
}

/// `RUNTIME --root <bundle>/state-<name> [GLOBAL] ARGS` in the bundle
/// directory, output through files (a detached container keeps them open).
fn runtime_with(b: &Bundle, rt: Rt, global: &[&str], args: &[&str]) -> Output {
    let mut cmd = Command::new(rt.bin);
    cmd.arg("--root").arg(b.dir.join(format!("state-{}", rt.name))).args(global).args(args).stdin(Stdio::null());
    b.output_of(cmd)
}

fn runtime(b: &Bundle, rt: Rt, args: &[&str]) -> Output {
    runtime_with(b, rt, &[], args)
}

/// A detached container of one runtime, deleted by force on drop whatever
/// the test did.
struct Running<'a> {
    b: &'a Bundle,
    rt: Rt,
    id: String,
}

impl<'a> Running<'a> {
    fn start(b: &'a Bundle, rt: Rt, id: &str) -> Running<'a> {
        let out = runtime(b, rt, &["run", "-d", id]);
        let running = Running { b, rt, id: id.to_string() };
        assert!(out.status.success(), "{} run: {}", rt.name, text(&out.stderr));
        running
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.push(&self.id);
        runtime(self.b, self.rt, &all)
    }

    /// `exec ID ARGS…` (the id before the command).
    fn exec(&self, flags: &[&str], command: &[&str]) -> Output {
        let mut all = vec!["exec"];
        all.extend(flags);
        all.push(&self.id);
        all.extend(command);
        runtime(self.b, self.rt, &all)
    }

    fn state(&self) -> Value {
        let out = self.run(&["state"]);
        assert!(out.status.success(), "{} state: {}", self.rt.name, text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The container's directory in a v1 hierarchy, from its init's
    /// /proc/PID/cgroup (each hierarchy is mounted at its root here).
    fn cgroup(&self, controller: &str) -> PathBuf {
        let pid = self.state()["pid"].as_i64().unwrap();
        let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let path = table
            .lines()
            .find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                controllers.split(',').any(|c| c == controller).then(|| path.to_string())
            })
            .unwrap_or_else(|| panic!("no {controller} hierarchy for pid {pid}"));
        PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"))
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let _ = runtime(self.b, self.rt, &["delete", "--force", &self.id]);
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display())).trim().to_string()
}

fn is_v1() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

/// Set-up failures of `exec` exit 255, as runc's; the process's own code is
/// husk's code.
#[test]
fn exec_set_up_errors_exit_255_and_the_process_code_is_kept() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    std::fs::write(b.dir.join("bad.json"), "{bad").unwrap();
    std::fs::write(b.dir.join("noargs.json"), r#"{"cwd": "/", "user": {"uid": 0, "gid": 0}}"#).unwrap();
    let mut codes = Vec::new();
    for rt in both() {
        let id = b.id(&format!("exec255-{}", rt.name));
        let c = Running::start(&b, rt, &id);
        let cases: [(&str, Output); 7] = [
            ("bad --pid-file directory", c.exec(&["--pid-file", "/nonexistent-dir/pid"], &["true"])),
            ("nonexistent container", runtime(&b, rt, &["exec", "no-such-container", "true"])),
            ("bad process.json", c.exec(&["-p", "bad.json"], &[])),
            ("process.json without args", c.exec(&["-p", "noargs.json"], &[])),
            ("missing executable", c.exec(&[], &["/nonexistent"])),
            ("exit 3", c.exec(&[], &["sh", "-c", "exit 3"])),
            ("exit 0", c.exec(&[], &["true"])),
        ];
        let mut these: Vec<(&str, Option<i32>)> = cases.iter().map(|(what, out)| (*what, out.status.code())).collect();
        assert!(c.run(&["pause"]).status.success());
        these.push(("paused without --ignore-paused", c.exec(&[], &["true"]).status.code()));
        assert!(c.run(&["resume"]).status.success());
        let out = c.exec(&["--pid-file", "/nonexistent-dir/pid"], &["true"]);
        assert!(text(&out.stderr).contains("exec failed"), "{}: {}", rt.name, text(&out.stderr));
        let out = c.exec(&["-p", "noargs.json"], &[]);
        assert!(text(&out.stderr).contains("exec failed: args must not be empty"), "{}: {}", rt.name, text(&out.stderr));
        let out = c.exec(&[], &[]);
        assert!(text(&out.stderr).contains("exec failed: process args cannot be empty"), "{}: {}", rt.name, text(&out.stderr));
        codes.push(these);
    }
    // runc decides what is expected.
    for (what, code) in &codes[0] {
        let want = match *what {
            "exit 3" => 3,
            "exit 0" => 0,
            _ => 255,
        };
        assert_eq!(*code, Some(want), "runc, {what}");
    }
    assert_eq!(codes[1], codes[0], "husk's codes against runc's");
}

/// `exec -p` with a process.json that has no `user` runs as root.
#[test]
fn exec_process_json_without_user_is_root() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    std::fs::write(b.dir.join("p.json"), r#"{"args": ["sh", "-c", "id -u; id -g"], "cwd": "/", "env": ["PATH=/bin"]}"#).unwrap();
    for rt in both() {
        let id = b.id(&format!("nouser-{}", rt.name));
        let c = Running::start(&b, rt, &id);
        let out = c.exec(&["-p", "p.json"], &[]);
        assert!(out.status.success(), "{}: {}", rt.name, text(&out.stderr));
        assert_eq!(text(&out.stdout), "0\n0\n", "{}", rt.name);
    }
}

/// `update` takes -1 for the quota and the memory limit; `--memory -1` on
/// v1 lifts memory+swap too when no --memory-swap is given.
#[test]
fn update_takes_negative_values_and_unlimited_memory_lifts_swap() {
    if !is_v1() {
        eprintln!("skipped: not a v1 host (the v2 scenarios check update there)");
        return;
    }
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["resources"]["memory"] = serde_json::json!({"limit": 100 << 20, "swap": 200 << 20});
    b.config["linux"]["resources"]["cpu"] = serde_json::json!({"quota": 50000, "period": 100000});
    b.write();
    let mut seen = Vec::new();
    for rt in both() {
        let id = b.id(&format!("negative-{}", rt.name));
        let c = Running::start(&b, rt, &id);
        let (cpu, memory) = (c.cgroup("cpu"), c.cgroup("memory"));
        let has_swap = memory.join("memory.memsw.limit_in_bytes").exists();
        for flags in [&["--cpu-quota", "-1"][..], &["--memory", "-1"], &["--pids-limit", "-1"]] {
            let mut args = vec!["update"];
            args.extend(flags);
            let out = c.run(&args);
            assert!(out.status.success(), "{} update {flags:?}: {}", rt.name, text(&out.stderr));
        }
        let mut files = vec![read(&cpu, "cpu.cfs_quota_us"), read(&memory, "memory.limit_in_bytes")];
        if has_swap {
            files.push(read(&memory, "memory.memsw.limit_in_bytes"));
        }
        // Unsigned flags refuse a sign, as runc's.
        for flags in [&["--cpu-period", "-1"][..], &["--cpu-share", "-5"], &["--cpu-quota", "abc"]] {
            let mut args = vec!["update"];
            args.extend(flags);
            files.push(format!("{flags:?} exits {:?}", c.run(&args).status.success()));
        }
        seen.push(files);
    }
    assert_eq!(seen[0][0], "-1", "runc: the quota lifted");
    assert_eq!(seen[0][1], seen[0].get(2).cloned().unwrap_or_else(|| seen[0][1].clone()), "runc: memsw lifted with the limit");
    assert_eq!(seen[1], seen[0], "husk against runc");
}

/// A cgroup the test makes in every v1 hierarchy that has `controller`'s
/// files, with the container's cgroup inside; removed on drop (after the
/// containers, which are dropped first).
struct ParentCgroup {
    name: String,
}

impl Drop for ParentCgroup {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else { return };
        for hierarchy in entries.flatten() {
            let dir = hierarchy.path().join(&self.name);
            if dir.is_dir() {
                // Only empty cgroups go; what a runtime left is a failure
                // the runtime's own tests report.
                let _ = std::fs::remove_dir(&dir);
            }
        }
    }
}

/// A shorter period that the kernel refuses before the quota shrinks
/// (the parent's share would be exceeded in between) is written again after
/// the quota, as runc does.
#[test]
fn update_retries_a_refused_period_after_the_quota() {
    if !is_v1() {
        eprintln!("skipped: not a v1 host (cpu.max takes both at once on v2)");
        return;
    }
    let mut b = Bundle::new(&["sleep", "1000"]);
    let parent = ParentCgroup { name: format!("husk-parity-{}", b.id("parent")) };
    let mut seen = Vec::new();
    for rt in both() {
        let id = b.id(&format!("period-{}", rt.name));
        b.config["linux"]["cgroupsPath"] = format!("/{}/{id}", parent.name).into();
        b.config["linux"]["resources"]["cpu"] = serde_json::json!({"quota": 50000, "period": 100000});
        b.write();
        let c = Running::start(&b, rt, &id);
        let cpu = c.cgroup("cpu");
        // Half a CPU for the parent too: a child's 50000/50000 would exceed it.
        let parent_dir = cpu.parent().unwrap();
        std::fs::write(parent_dir.join("cpu.cfs_quota_us"), "50000").unwrap();
        let out = c.run(&["update", "--cpu-period", "50000", "--cpu-quota", "25000"]);
        seen.push((out.status.success(), read(&cpu, "cpu.cfs_quota_us"), read(&cpu, "cpu.cfs_period_us"), text(&out.stderr)));
        drop(c);
        let _ = std::fs::write(parent_dir.join("cpu.cfs_quota_us"), "-1");
    }
    assert_eq!((seen[0].0, seen[0].1.as_str(), seen[0].2.as_str()), (true, "25000", "50000"), "runc: {}", seen[0].3);
    assert_eq!((seen[1].0, &seen[1].1, &seen[1].2), (seen[0].0, &seen[0].1, &seen[0].2), "husk: {}", seen[1].3);
}

/// The update flags runc 1.1.5 has beside the negative numbers: realtime
/// period and runtime, memory+swap, and the obsolete kernel memory flags,
/// which runc ignores with a warning.
#[test]
fn update_realtime_swap_and_kernel_memory_flags() {
    if !is_v1() {
        eprintln!("skipped: not a v1 host");
        return;
    }
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["resources"]["memory"] = serde_json::json!({"limit": 100 << 20});
    b.write();
    let mut seen = Vec::new();
    for rt in both() {
        let id = b.id(&format!("flags-{}", rt.name));
        let c = Running::start(&b, rt, &id);
        let (cpu, memory) = (c.cgroup("cpu"), c.cgroup("memory"));
        let mut facts = Vec::new();
        let out = c.run(&["update", "--cpu-rt-period", "100000", "--cpu-rt-runtime", "10000"]);
        facts.push(format!("rt: {} {} {}", out.status.success(), read(&cpu, "cpu.rt_period_us"), read(&cpu, "cpu.rt_runtime_us")));
        if memory.join("memory.memsw.limit_in_bytes").exists() {
            let out = c.run(&["update", "--memory-swap", "300M"]);
            facts.push(format!("swap: {} {}", out.status.success(), read(&memory, "memory.memsw.limit_in_bytes")));
            // Below the memory limit: the kernel refuses it.
            let out = c.run(&["update", "--memory-swap", "50M"]);
            facts.push(format!("swap below the limit: {}", out.status.success()));
        }
        for flag in ["--kernel-memory", "--kernel-memory-tcp"] {
            let out = c.run(&["update", flag, "10M"]);
            let warned = text(&out.stderr).contains("ignored and will be removed");
            facts.push(format!("{flag}: {} warned {warned}", out.status.success()));
        }
        std::fs::write(b.dir.join("kernel.json"), r#"{"memory": {"kernel": 10485760}}"#).unwrap();
        let out = c.run(&["update", "-r", "kernel.json"]);
        let warned = text(&out.stderr).contains("ignored and will be removed");
        facts.push(format!("-r with memory.kernel: {} warned {warned}", out.status.success()));
        seen.push(facts);
    }
    assert!(seen[0][0].starts_with("rt: true 100000 10000"), "runc: {:?}", seen[0]);
    assert_eq!(seen[1], seen[0], "husk against runc");
}

/// runc 1.2's `--cpu-idle` and `--cpu-burst` (Debian's runc has neither):
/// checked against the kernel's files.
#[test]
fn update_cpu_idle_and_burst() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let rt = both()[1];
    let id = b.id("idle-burst");
    let c = Running::start(&b, rt, &id);
    let cpu = if is_v1() { c.cgroup("cpu") } else { return };
    let out = c.run(&["update", "--cpu-quota", "50000", "--cpu-idle", "1", "--cpu-burst", "20000"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    if cpu.join("cpu.idle").exists() {
        assert_eq!(read(&cpu, "cpu.idle"), "1");
    }
    if cpu.join("cpu.cfs_burst_us").exists() {
        assert_eq!(read(&cpu, "cpu.cfs_burst_us"), "20000");
    }
    assert!(!c.run(&["update", "--cpu-burst", "-1"]).status.success(), "an unsigned flag");
}

/// Device rules on v1: the same devices.list as runc's after create, and
/// `update -r` with device rules leaves them alone, as runc's update does.
#[test]
fn v1_device_rules_match_runcs() {
    if !Path::new("/sys/fs/cgroup/devices/devices.list").exists() {
        eprintln!("skipped: no v1 devices hierarchy");
        return;
    }
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["linux"]["resources"]["devices"] = serde_json::json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "w"},
        {"allow": true, "type": "b", "major": 7, "access": "r"},
    ]);
    b.write();
    std::fs::write(b.dir.join("devices.json"), r#"{"devices": [{"allow": true, "access": "rwm"}]}"#).unwrap();
    let mut lists = Vec::new();
    for rt in both() {
        let id = b.id(&format!("devices-{}", rt.name));
        let c = Running::start(&b, rt, &id);
        let dir = c.cgroup("devices");
        let created = read(&dir, "devices.list");
        let out = c.run(&["update", "-r", "devices.json"]);
        assert!(out.status.success(), "{}: {}", rt.name, text(&out.stderr));
        lists.push((created, read(&dir, "devices.list")));
    }
    assert!(lists[0].0.contains("c 1:11 rm"), "runc: {}", lists[0].0);
    assert_eq!(lists[0].1, lists[0].0, "runc: update leaves the devices");
    assert_eq!(lists[1], lists[0], "husk against runc");
    // A deny inside an allowed wildcard: runc refuses the config, as v1
    // would silently not deny it.
    b.config["linux"]["resources"]["devices"] = serde_json::json!([
        {"allow": true, "type": "c", "access": "rwm"},
        {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"},
    ]);
    b.write();
    let mut refused = Vec::new();
    for rt in both() {
        let id = b.id(&format!("hole-{}", rt.name));
        let out = runtime(&b, rt, &["run", "-d", &id]);
        let _ = runtime(&b, rt, &["delete", "--force", &id]);
        refused.push(out.status.success());
    }
    assert_eq!(refused, [false, false], "runc, then husk, run -d of a hole in a wildcard");
}

/// The JSON text with every value (string, number, literal) masked, keys,
/// punctuation and layout kept.
fn shape(json: &str) -> String {
    let mut out = String::new();
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            s.push(c);
                            s.extend(chars.next());
                        }
                        '"' => break,
                        _ => s.push(c),
                    }
                }
                // A key is followed by a colon.
                let rest: String = chars.clone().take_while(|c| c.is_whitespace() || *c == ':').collect();
                if rest.contains(':') { out.push_str(&format!("\"{s}\"")) } else { out.push_str("\"…\"") }
            }
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' => {
                while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-' || *c == '+') {
                    chars.next();
                }
                out.push('…');
            }
            c => out.push(c),
        }
    }
    out
}

/// The keys of a JSON text in document order, as dotted paths.
fn key_paths(json: &str) -> Vec<String> {
    let shaped = shape(json);
    let mut paths = Vec::new();
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut last_key: Option<String> = None;
    let mut chars = shaped.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => stack.push(last_key.take()),
            '}' | ']' => {
                stack.pop();
            }
            '"' => {
                let key: String = chars.by_ref().take_while(|c| *c != '"').collect();
                if key != "…" {
                    let prefix: Vec<&str> = stack.iter().flatten().map(String::as_str).collect();
                    paths.push(if prefix.is_empty() { key.clone() } else { format!("{}.{key}", prefix.join(".")) });
                    last_key = Some(key);
                }
            }
            _ => {}
        }
    }
    paths
}

#[test]
fn the_shape_masks_values_only() {
    assert_eq!(shape(r#"{"a": "x\"y", "b": [1, -2.5, true, null], "c": {"d": ""}}"#), r#"{"a": "…", "b": […, …, …, …], "c": {"d": "…"}}"#);
    assert_eq!(key_paths(r#"{"type":"s","data":{"cpu":{"usage":{"total":1}},"pids":{}}}"#), ["type", "data", "data.cpu", "data.cpu.usage", "data.cpu.usage.total", "data.pids"]);
}

/// `state`, `list -f json` and `events --stats` print their objects in
/// runc's field order and layout (some tools compare the text).
#[test]
fn json_output_in_runcs_order() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config["annotations"] = serde_json::json!({"org.example": "v"});
    b.write();
    let mut texts = Vec::new();
    for rt in both() {
        let id = b.id(&format!("order-{}", rt.name));
        let c = Running::start(&b, rt, &id);
        let state = text(&c.run(&["state"]).stdout);
        let list = text(&runtime(&b, rt, &["list", "-f", "json"]).stdout);
        let events = text(&c.run(&["events", "--stats"]).stdout);
        texts.push((state, list, events));
    }
    let (runc, husk) = (&texts[0], &texts[1]);
    assert!(runc.0.contains("\"annotations\""), "runc prints the annotations: {}", runc.0);
    assert_eq!(shape(&husk.0), shape(&runc.0), "state:\nrunc {}\nhusk {}", runc.0, husk.0);
    assert_eq!(shape(&husk.1), shape(&runc.1), "list -f json:\nrunc {}\nhusk {}", runc.1, husk.1);
    let owner = |list: &str| serde_json::from_str::<Value>(list).unwrap()[0]["owner"].clone();
    assert_eq!(owner(&husk.1), owner(&runc.1), "list's owner");
    // Stats leave zero numbers out (omitempty), so the two may hold
    // different keys: those both have come in the same order.
    let (r, h) = (key_paths(&runc.2), key_paths(&husk.2));
    assert_eq!(&r[..3], ["type", "id", "data"], "runc: {}", runc.2);
    let common: Vec<&String> = r.iter().filter(|k| h.contains(k)).collect();
    let husk_common: Vec<&String> = h.iter().filter(|k| r.contains(k)).collect();
    assert!(common.len() > 20, "few keys in common: {common:?}");
    assert_eq!(husk_common, common, "events --stats key order");
}

/// `--debug` makes every verb log its steps as debug lines (JSON with
/// --log-format json, as runc's); without it there are none.
#[test]
fn every_verb_logs_debug_lines_with_debug_only() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = b.id("debug");
    let spec_dir = b.dir.join("spec-out");
    std::fs::create_dir(&spec_dir).unwrap();
    let spec_dir = spec_dir.to_str().unwrap().to_string();
    let log = b.dir.join("debug.log");
    let log_arg = log.to_str().unwrap().to_string();
    // runc first: its exec logs its steps at debug level, in this shape.
    let oracle = Running::start(&b, both()[0], &format!("{id}-runc"));
    let _ = std::fs::remove_file(&log);
    let out = runtime_with(&b, both()[0], &["--debug", "--log", &log_arg, "--log-format", "json"], &["exec", &oracle.id, "true"]);
    assert!(out.status.success());
    let first: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["level"], "debug");
    drop(oracle);
    let husk = both()[1];
    // Whatever fails below, the container goes.
    let _guard = Running { b: &b, rt: husk, id: id.clone() };
    let verbs: Vec<Vec<&str>> = vec![
        vec!["create", &id],
        vec!["start", &id],
        vec!["state", &id],
        vec!["list"],
        vec!["ps", &id],
        vec!["pause", &id],
        vec!["resume", &id],
        vec!["update", "--pids-limit", "50", &id],
        vec!["exec", &id, "true"],
        vec!["events", "--stats", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", "--force", &id],
        vec!["run", "-d", &id],
        vec!["spec", "--bundle", &spec_dir],
        vec!["features"],
    ];
    for debug in [true, false] {
        for verb in &verbs {
            let _ = std::fs::remove_file(&log);
            let _ = std::fs::remove_file(Path::new(&spec_dir).join("config.json"));
            let mut global = vec!["--log", &log_arg, "--log-format", "json"];
            if debug {
                global.insert(0, "--debug");
            }
            let out = runtime_with(&b, husk, &global, verb);
            assert!(out.status.success(), "{verb:?}: {}", text(&out.stderr));
            if verb[0] == "run" {
                assert!(runtime(&b, husk, &["delete", "--force", &id]).status.success());
            }
            let lines: Vec<Value> = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{verb:?}: {l:?}: {e}")))
                .collect();
            let count = lines.iter().filter(|l| l["level"] == "debug").count();
            if debug {
                assert!(count >= 2, "{verb:?} with --debug: {count} debug lines: {lines:?}");
            } else {
                assert_eq!(count, 0, "{verb:?} without --debug: {lines:?}");
            }
        }
    }
}

/// What containerd's runc shim reads of the runtime's answers, for both
/// runtimes: the substrings its checkKillError and delete look for
/// ("container not running", "does not exist"), in the last error line of
/// the JSON --log it passes, and `ps --format json` as a list of pids.
#[test]
fn kill_delete_and_ps_answer_as_the_shim_parses_them() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.write();
    for rt in both() {
        let log = b.dir.join(format!("{}.log", rt.name));
        let log_str = log.to_str().unwrap().to_string();
        let global = ["--log", log_str.as_str(), "--log-format", "json"];
        let last_error = || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let line = text.lines().rfind(|l| l.contains("\"error\"")).unwrap_or_default().to_string();
            let entry: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{}: no JSON error line in {text}", rt.name));
            entry["msg"].as_str().unwrap_or_default().to_string()
        };
        for verb in [&["kill", "nosuch", "KILL"][..], &["delete", "nosuch"], &["state", "nosuch"], &["ps", "nosuch"]] {
            let out = runtime_with(&b, rt, &global, verb);
            assert!(!out.status.success(), "{} {verb:?} succeeded", rt.name);
            assert!(last_error().contains("does not exist"), "{} {verb:?}: {}", rt.name, last_error());
        }
        let id = format!("shim-{}", rt.name);
        let c = Running::start(&b, rt, &id);
        let out = c.run(&["ps", "--format", "json"]);
        let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{} ps json: {e}: {}", rt.name, text(&out.stdout)));
        assert_eq!(pids, [c.state()["pid"].as_i64().unwrap()], "{} ps --format json", rt.name);
        let out = runtime_with(&b, rt, &global, &["kill", &id, "KILL"]);
        assert!(out.status.success(), "{} kill: {}", rt.name, text(&out.stderr));
        wait_until("the container to stop", || c.state()["status"] == "stopped");
        let out = runtime_with(&b, rt, &global, &["kill", &id, "KILL"]);
        assert!(!out.status.success(), "{} kill of a stopped container succeeded", rt.name);
        assert!(last_error().contains("container not running"), "{} kill of a stopped container: {}", rt.name, last_error());
    }
}

/// Go's flag parsing, as runc's command line has it: a long flag with one
/// dash is the flag (containerd's go-runc passes restore's `-no-subreaper`
/// so), and a global flag after the verb is refused.
#[test]
fn one_dash_long_flags_work_and_globals_come_before_the_verb() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.write();
    for rt in both() {
        let id = format!("dash-{}", rt.name);
        let mut cmd = Command::new(rt.bin);
        cmd.arg("-root").arg(b.dir.join(format!("state-{}", rt.name))).args(["-log-format=json", "run", "-detach", &id]);
        let out = b.output_of(cmd);
        assert!(out.status.success(), "{}: -root, -log-format=json, run -detach: {}", rt.name, text(&out.stderr));
        let running = Running { b: &b, rt, id: id.clone() };
        let state = running.run(&["state"]);
        assert!(text(&state.stdout).contains("\"running\""), "{}: {}", rt.name, text(&state.stdout));
        // `state --root DIR ID`: the global flag after the verb is no flag
        // of state's.
        let late = runtime(&b, rt, &["state", "--root", "/nonexistent", &id]);
        assert!(!late.status.success(), "{}: state --root after the verb: {}", rt.name, text(&late.stdout));
        let killed = runtime(&b, rt, &["delete", "-force", &id]);
        assert!(killed.status.success(), "{}: delete -force: {}", rt.name, text(&killed.stderr));
    }
    b.assert_clean();
}
