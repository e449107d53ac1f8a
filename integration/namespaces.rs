//! Namespaces: user namespaces with id maps, joining namespaces by path
//! (through the intermediate process where the order demands it), time
//! namespace offsets, and a cgroup namespace.

#[path = "common/mod.rs"]
mod common;
use common::*;

use serde_json::json;

fn add_namespace(b: &mut Bundle, ns: serde_json::Value) {
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(ns);
}

fn map_user_namespace(b: &mut Bundle) {
    add_namespace(b, json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
}

#[test]
fn user_namespace_maps_ids() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox | awk '{print $3}'"]);
    map_user_namespace(&mut b);
    b.write();
    let out = b.run_ok("userns");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words[..6], ["0", "200000", "65536", "0", "200000", "65536"], "{out}");
    assert_eq!(words[6], "0", "root inside");
    // Files owned by host root are unmapped inside: the overflow uid.
    assert_eq!(words[7], "65534");
}

/// Starts a long-running container and returns its init pid.
fn holder(b: &mut Bundle, name: &str) -> (String, i64) {
    let id = b.id(name);
    let out = b.husk(&["run", "-d", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

#[test]
fn joins_namespaces_by_path() {
    let mut host = Bundle::new(&["sleep", "100"]);
    host.config["hostname"] = "holder".into();
    host.write();
    let (_, pid) = holder(&mut host, "holder");

    let mut b = Bundle::new(&["sh", "-c", "hostname; for n in net uts ipc; do readlink /proc/self/ns/$n; done; ps -o pid | wc -l"]);
    b.config.as_object_mut().unwrap().remove("hostname");
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        let t = ns["type"].as_str().unwrap().to_string();
        let file = match t.as_str() {
            "network" => "net",
            "uts" => "uts",
            "ipc" => "ipc",
            "pid" => "pid",
            _ => continue,
        };
        ns["path"] = format!("/proc/{pid}/ns/{file}").into();
    }
    b.write();
    let out = b.run_ok("joiner");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "holder", "joined the holder's uts namespace");
    for (i, file) in ["net", "uts", "ipc"].iter().enumerate() {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{file}")).unwrap();
        assert_eq!(lines[1 + i], theirs.display().to_string());
    }
    // In the holder's pid namespace: its sleep (pid 1), our sh and ps.
    assert!(lines[4].trim().parse::<u32>().unwrap() >= 3, "{out}");
}

#[test]
fn joins_a_network_namespace_from_a_new_user_namespace() {
    // Joining by path and creating a user namespace at once needs the
    // intermediate process: the join must happen before the new user
    // namespace exists.
    let mut host = Bundle::new(&["sleep", "100"]);
    let (_, pid) = holder(&mut host, "netholder");
    let mut b = Bundle::new(&["sh", "-c", "readlink /proc/self/ns/net; id -u; echo $$"]);
    map_user_namespace(&mut b);
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = format!("/proc/{pid}/ns/net").into();
        }
    }
    // sysfs cannot be mounted for a network namespace the user namespace
    // does not own; husk falls back to binding /sys, as runc does.
    b.write();
    let out = b.run_ok("intermediate");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap().display().to_string());
    assert_eq!(lines[1], "0");
    assert_eq!(lines[2], "1", "still pid 1 of a new pid namespace");
}

#[test]
fn wrong_namespace_type_is_refused_before_anything_runs() {
    let mut b = Bundle::new(&["true"]);
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "ipc" {
            ns["path"] = "/proc/self/ns/net".into();
        }
    }
    b.write();
    let (code, _, stderr) = b.run("wrongtype");
    assert_ne!(code, 0);
    assert!(stderr.contains("linux.namespaces[2].path") && stderr.contains("is not a ipc namespace"), "{stderr}");
}

#[test]
fn time_namespace_offsets_shift_the_monotonic_clock() {
    let mut b = Bundle::new(&["cat", "/proc/uptime"]);
    add_namespace(&mut b, json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 0, "nanosecs": 0}, "boottime": {"secs": 86400000, "nanosecs": 0}});
    b.write();
    let out = b.run_ok("timens");
    let uptime: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(uptime > 86_400_000.0, "boottime offset applied: {uptime}");
}

#[test]
fn cgroup_namespace_root_is_the_containers_cgroup() {
    let mut b = Bundle::new(&["cat", "/proc/self/cgroup"]);
    add_namespace(&mut b, json!({"type": "cgroup"}));
    b.write();
    let out = b.run_ok("cgroupns");
    // Inside its own cgroup namespace, the container's cgroup is the root.
    for line in out.lines() {
        assert!(line.ends_with(":/"), "{out}");
    }
}

#[test]
fn demo_bundles_from_the_repo_run() {
    // The example bundles under oci-bundles/ with their own rootfs.
    let rootfs = repo().join("oci-bundles/busybox/rootfs");
    if !rootfs.join("bin/busybox").exists() {
        let status = std::process::Command::new(repo().join("oci-bundles/rootfs-busybox.sh")).arg(&rootfs).status().unwrap();
        assert!(status.success());
    }
    for (bundle, expect) in [("busybox", "Hello from husk"), ("userns", "uid_map:")] {
        let root = std::env::temp_dir().join(format!("husk-it-demo-{}-{bundle}", std::process::id()));
        let id = format!("demo-{}-{bundle}", std::process::id());
        let out = std::process::Command::new(HUSK)
            .arg("--root").arg(&root).args(["run", "--bundle"]).arg(repo().join("oci-bundles").join(bundle)).arg(&id)
            .output().unwrap();
        let _ = std::fs::remove_dir_all(&root);
        assert!(out.status.success(), "{bundle}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(expect), "{bundle}: {}", text(&out.stdout));
    }
}

#[test]
fn oom_score_adj_in_a_user_namespace() {
    // The init is non-dumpable (CVE-2019-5736), so in a user namespace its
    // /proc/self files belong to the host's root: the parent writes the
    // score. (Only raised here: lowering it takes CAP_SYS_RESOURCE, which
    // root lacks on the test machines.)
    for score in [345, 999] {
        let mut b = Bundle::new(&["cat", "/proc/self/oom_score_adj"]);
        map_user_namespace(&mut b);
        b.config["process"]["oomScoreAdj"] = score.into();
        b.write();
        assert_eq!(b.run_ok("oomuserns").trim(), score.to_string());
    }
}

/// `linux.sysctl` keys under `user.` (the ucount limits) belong to the user
/// namespace: set inside a container's own, refused without one (they would
/// change the host's).
#[test]
fn user_sysctls_are_set_in_the_containers_user_namespace() {
    let mut b = Bundle::new(&["cat", "/proc/sys/user/max_user_namespaces", "/proc/sys/user/max_mnt_namespaces"]);
    map_user_namespace(&mut b);
    b.config["linux"]["sysctl"] = serde_json::json!({"user.max_user_namespaces": "7", "user.max_mnt_namespaces": "12"});
    b.write();
    assert_eq!(b.run_ok("user-sysctl"), "7\n12\n");
    let host = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap();
    assert_ne!(host.trim(), "7", "the host's limit changed");

    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["sysctl"] = serde_json::json!({"user.max_user_namespaces": "7"});
    b.write();
    let id = b.id("user-sysctl-host");
    let out = b.husk(&["create", &id]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success() && stderr.contains("linux.sysctl.user.max_user_namespaces: needs a private user namespace"), "{stderr}");
}

/// A container that joins another's user namespace by path (a pod's
/// sandbox, under CRI) becomes that namespace's root before it makes its
/// mounts: as the host's root, unmapped there, mkdir in its new /dev failed
/// with EOVERFLOW, and mknod is not allowed in a user namespace at all, so
/// its devices are bound.
#[test]
fn joins_a_user_namespace_by_path() {
    let mut sandbox = Bundle::new(&["sleep", "100"]);
    map_user_namespace(&mut sandbox);
    sandbox.write();
    let (_, pid) = holder(&mut sandbox, "sandbox");

    let mut b = Bundle::new(&["sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user; [ -c /dev/null ] && echo null"]);
    add_namespace(&mut b, json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
    b.write();
    let out = b.run_ok("userns-joiner");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words[..4], ["0", "0", "200000", "65536"], "{out}");
    assert_eq!(words[4], std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap().display().to_string());
    assert_eq!(words[5], "null", "{out}");
}
