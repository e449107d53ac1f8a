//! runc parity: behaviours engines rely on, each run with Debian's runc
//! first (the oracle, which checks the test itself) and then with husk, on
//! the same bundle with its own --root, and compared.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::process::{Command, Stdio};

const RUNC: &str = "/usr/sbin/runc";

/// `RUNTIME --root <bundle>/state-<name> ARGS` in the bundle directory,
/// output through files (a detached container keeps them open).
fn runtime(b: &Bundle, runtime: &str, args: &[&str]) -> std::process::Output {
    let name = if runtime == RUNC { "runc" } else { "husk" };
    let mut cmd = Command::new(runtime);
    cmd.arg("--root").arg(b.dir.join(format!("state-{name}"))).args(args).stdin(Stdio::null());
    b.output_of(cmd)
}

fn both() -> [&'static str; 2] {
    [RUNC, env!("CARGO_BIN_EXE_husk")]
}

/// A `process.cwd` missing from the rootfs is made (Kubernetes'
/// workingDir relies on it), inside the rootfs.
#[test]
fn a_missing_working_directory_is_made() {
    for rt in both() {
        let mut b = Bundle::new(&["sh", "-c", "pwd; ls -ld . | cut -c1-10"]);
        b.config["process"]["cwd"] = "/work/dir/made".into();
        b.write();
        let id = b.id("cwd");
        let out = runtime(&b, rt, &["run", &id]);
        assert!(out.status.success(), "{rt}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "/work/dir/made\ndrwxr-xr-x\n", "{rt}");
        assert!(b.rootfs().join("work/dir/made").is_dir(), "{rt}: not made in the rootfs");
    }
}

/// A stopped container whose init left processes in its cgroup (no pid
/// namespace of its own, as in a pod): `ps` lists them, `kill --all`
/// succeeds and kills them. containerd's shim sends that kill.
#[test]
fn ps_and_kill_all_of_a_stopped_container_reach_what_is_left() {
    for rt in both() {
        let mut b = Bundle::new(&["sh", "-c", "sleep 77 & exit 0"]);
        b.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|ns| ns["type"] != "pid");
        b.write();
        let id = b.id("leftover");
        let out = runtime(&b, rt, &["run", "-d", &id]);
        assert!(out.status.success(), "{rt}: {}", text(&out.stderr));
        let state = || -> String {
            let out = runtime(&b, rt, &["state", &id]);
            serde_json::from_slice::<serde_json::Value>(&out.stdout).map(|s| s["status"].to_string()).unwrap_or_default()
        };
        wait_until("the init to exit", || state() == "\"stopped\"");
        let out = runtime(&b, rt, &["ps", "-f", "json", &id]);
        assert!(out.status.success(), "{rt} ps: {}", text(&out.stderr));
        let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(pids.len(), 1, "{rt}: the sleep is left: {pids:?}");
        let out = runtime(&b, rt, &["kill", "--all", &id, "KILL"]);
        assert!(out.status.success(), "{rt} kill --all: {}", text(&out.stderr));
        wait_until("the sleep to die", || std::fs::metadata(format!("/proc/{}", pids[0])).is_err());
        // runc prints an empty list as Go's nil slice.
        let out = runtime(&b, rt, &["ps", "-f", "json", &id]);
        assert_eq!(text(&out.stdout).trim(), "null", "{rt}: an empty list once all are gone");
        let out = runtime(&b, rt, &["ps", &id]);
        assert_eq!(text(&out.stdout).lines().count(), 1, "{rt}: the header alone: {}", text(&out.stdout));
        // Without --all, a stopped container is refused, in runc's words.
        let out = runtime(&b, rt, &["kill", &id, "KILL"]);
        assert!(!out.status.success() && text(&out.stderr).contains("container not running"), "{rt}: {}", text(&out.stderr));
        assert!(runtime(&b, rt, &["delete", &id]).status.success());
    }
}
