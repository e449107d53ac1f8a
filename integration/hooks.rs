//! OCI hooks: each of the six kinds runs at its point of the lifecycle, in
//! its namespace, with the state on stdin; a failing one aborts (and cleans
//! up) or only warns, as the spec says for its kind.
//!
//! Every hook runs the same script, which appends one line to a log in the
//! rootfs: its name (from argv), the status and pid of the state it read,
//! and the mount and pid namespaces it ran in. The host hooks reach the log
//! through the bundle, the container hooks through the rootfs (before
//! pivot_root, the createContainer hook still sees host paths).

#[path = "common/mod.rs"]
mod common;
use common::*;

use serde_json::{Value, json};

const SCRIPT: &str = r#"#!/bin/sh
state=$(cat)
status=$(echo "$state" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
pid=$(echo "$state" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
echo "$1 $status $pid $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid) $HOOK_ENV" >> "$HOOK_LOG"
"#;

/// One line of the log.
#[derive(Debug)]
struct Seen {
    name: String,
    status: String,
    pid: i64,
    mnt_ns: String,
    pid_ns: String,
    env: String,
}

struct HookBundle {
    bundle: Bundle,
}

impl HookBundle {
    fn new(args: &[&str]) -> HookBundle {
        let mut bundle = Bundle::new(args);
        bundle.config["root"]["readonly"] = false.into();
        for path in [bundle.dir.join("hook.sh"), bundle.rootfs().join("hook.sh")] {
            std::fs::write(&path, SCRIPT).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        HookBundle { bundle }
    }

    /// A hook entry running the script as `name`; container-side hooks
    /// (startContainer) name paths inside the rootfs.
    fn recording(&self, name: &str, in_container: bool) -> Value {
        let (path, log) = if in_container {
            ("/hook.sh".to_string(), "/hooks.log".to_string())
        } else {
            (self.bundle.dir.join("hook.sh").display().to_string(), self.log_path())
        };
        json!({"path": path, "args": ["hook.sh", name], "env": [format!("HOOK_LOG={log}"), "HOOK_ENV=from-config"]})
    }

    fn log_path(&self) -> String {
        self.bundle.rootfs().join("hooks.log").display().to_string()
    }

    fn seen(&self) -> Vec<Seen> {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        log.lines()
            .map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                assert_eq!(f.len(), 6, "log line {line:?}");
                Seen {
                    name: f[0].into(),
                    status: f[1].into(),
                    pid: f[2].parse().unwrap_or(-1),
                    mnt_ns: f[3].into(),
                    pid_ns: f[4].into(),
                    env: f[5].into(),
                }
            })
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.name).collect()
    }
}

fn own_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap().display().to_string()
}

#[test]
fn hooks_run_in_order_in_their_namespaces_with_the_state() {
    let mut h = HookBundle::new(&["true"]);
    h.bundle.config["hooks"] = json!({
        "prestart": [h.recording("prestart", false)],
        "createRuntime": [h.recording("createRuntime-1", false), h.recording("createRuntime-2", false)],
        "createContainer": [h.recording("createContainer", false)],
        "startContainer": [h.recording("startContainer", true)],
        "poststart": [h.recording("poststart", false)],
        "poststop": [h.recording("poststop", false)],
    });
    h.bundle.write();
    let id = h.bundle.id("order");
    let out = h.bundle.husk(&["create", &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let init_pid = h.bundle.state(&id)["pid"].as_i64().unwrap();
    let init_mnt = std::fs::read_link(format!("/proc/{init_pid}/ns/mnt")).unwrap().display().to_string();
    let out = h.bundle.husk(&["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    wait_until("container to stop", || h.bundle.state(&id)["status"] == "stopped");
    let out = h.bundle.husk(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));

    let seen = h.seen();
    let names: Vec<&str> = seen.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["prestart", "createRuntime-1", "createRuntime-2", "createContainer", "startContainer", "poststart", "poststop"]
    );
    let statuses: Vec<&str> = seen.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(statuses, ["creating", "creating", "creating", "creating", "created", "running", "stopped"]);

    let (host_mnt, host_pid) = (own_ns("mnt"), own_ns("pid"));
    for s in &seen {
        assert_eq!(s.env, "from-config", "{}: the hook's env", s.name);
        let in_container = s.name == "createContainer" || s.name == "startContainer";
        if in_container {
            assert_eq!(s.mnt_ns, init_mnt, "{} runs in the container's mount namespace", s.name);
            assert_ne!(s.pid_ns, host_pid, "{} runs in the container's pid namespace", s.name);
            assert_eq!(s.pid, 1, "{} sees the init's pid as the container does", s.name);
        } else {
            assert_eq!(s.mnt_ns, host_mnt, "{} runs in the runtime's mount namespace", s.name);
            assert_eq!(s.pid_ns, host_pid, "{} runs in the runtime's pid namespace", s.name);
        }
    }
    for s in &seen[..3] {
        assert_eq!(s.pid, init_pid, "{} sees the init's pid as the runtime does", s.name);
    }
    assert_eq!(seen[5].pid, init_pid, "poststart sees the init's pid");
    assert_eq!(seen[6].pid, 0, "poststop: the container is gone");
}

#[test]
fn a_failing_create_hook_aborts_create_and_cleans_up() {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut h = HookBundle::new(&["true"]);
        h.bundle.config["hooks"] = json!({
            kind: [h.recording(kind, false), {"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 7"]}],
            "poststop": [h.recording("poststop", false)],
        });
        h.bundle.write();
        let id = h.bundle.id(&format!("fail-{}", kind.to_lowercase()));
        let out = h.bundle.husk(&["create", &id]);
        assert!(!out.status.success(), "{kind}: create succeeded");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("error running {kind} hook #1: exit status 7, stdout: , stderr: broken")),
            "{kind}: {stderr}"
        );
        assert!(!h.bundle.root.join(&id).exists(), "{kind}: state left behind");
        assert_no_cgroup(&id);
        // The first hook ran; after the failure, the container was
        // stopped and its poststop hooks ran (the spec's step 12).
        assert_eq!(h.names(), [kind, "poststop"], "{kind}");
        h.bundle.assert_clean();
    }
}

/// runc's order (integration/parity_setup.rs): the init has said "go"
/// before its startContainer hooks run, so `start` succeeds (husk warns
/// with the hook's error) and the container simply stops.
#[test]
fn a_failing_start_container_hook_stops_the_container_before_the_program_runs() {
    let mut h = HookBundle::new(&["touch", "/ran"]);
    h.bundle.config["hooks"] = json!({
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}],
    });
    h.bundle.write();
    let id = h.bundle.id("failstart");
    let out = h.bundle.husk(&["create", &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let out = h.bundle.husk(&["start", &id]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "start failed: {stderr}");
    assert!(stderr.contains("level=warning msg=\"error running startContainer hook #0: exit status 4"), "{stderr}");
    wait_until("container to stop", || h.bundle.state(&id)["status"] == "stopped");
    assert!(!h.bundle.rootfs().join("ran").exists(), "the program ran");
}

#[test]
fn a_failing_poststart_hook_fails_start_and_stops_the_container() {
    let mut h = HookBundle::new(&["sleep", "100"]);
    h.bundle.config["hooks"] = json!({"poststart": [{"path": "/bin/false"}]});
    h.bundle.write();
    let id = h.bundle.id("failpoststart");
    assert!(h.bundle.husk(&["create", &id]).status.success());
    let out = h.bundle.husk(&["start", &id]);
    assert!(!out.status.success(), "start succeeded");
    assert!(text(&out.stderr).contains("error running poststart hook #0: exit status 1"), "{}", text(&out.stderr));
    assert_eq!(h.bundle.state(&id)["status"], "stopped", "the container was stopped");
}

#[test]
fn a_failing_poststop_hook_only_warns() {
    let mut h = HookBundle::new(&["true"]);
    h.bundle.config["hooks"] = json!({
        "poststop": [{"path": "/bin/false"}, h.recording("poststop-after", false)],
    });
    h.bundle.write();
    let (code, _, stderr) = h.bundle.run("failpoststop");
    assert_eq!(code, 0, "run (whose delete runs poststop) failed: {stderr}");
    assert!(stderr.contains("error running poststop hook #0: exit status 1"), "no warning: {stderr}");
    assert!(stderr.contains("\"warning\"") || stderr.contains("level=warning"), "not a warning: {stderr}");
    // As the spec says: the remaining hooks continue as if it succeeded.
    assert_eq!(h.names(), ["poststop-after"]);
}

#[test]
fn a_hook_past_its_timeout_is_killed_and_create_fails() {
    let mut h = HookBundle::new(&["true"]);
    h.bundle.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    h.bundle.write();
    let id = h.bundle.id("timeout");
    let started = std::time::Instant::now();
    let out = h.bundle.husk(&["create", &id]);
    assert!(!out.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("hook ran past specified timeout of 1.0s"), "{stderr}");
    assert!(!h.bundle.root.join(&id).exists());
    assert_no_cgroup(&id);
}

#[test]
fn bad_hook_fields_are_refused_by_name() {
    let mut h = HookBundle::new(&["true"]);
    for (hooks, expected) in [
        (json!({"poststop": [{"path": "relative/hook"}]}), "hooks.poststop[0].path: "),
        (json!({"prestart": [{"path": "/bin/true", "timeout": 0}]}), "hooks.prestart[0].timeout: must be greater than zero"),
        (json!({"createRuntime": [{"path": "/bin/true", "env": ["NOEQUALS"]}]}), "hooks.createRuntime[0].env[0]"),
    ] {
        h.bundle.config["hooks"] = hooks;
        h.bundle.write();
        let id = h.bundle.id("badhook");
        let out = h.bundle.husk(&["create", &id]);
        assert!(!out.status.success());
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("config.json: {expected}")), "{stderr}");
        assert!(!expected.ends_with(": ") || stderr.contains("is not an absolute path"), "{stderr}");
        assert!(!h.bundle.root.join(&id).exists());
    }
}
