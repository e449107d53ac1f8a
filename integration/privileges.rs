//! Capabilities and privileges of the processes husk starts, by the class of
//! runc CVE each guards against (named in the test, as escapes.rs does): the
//! inheritable and ambient sets stay empty unless the config asks
//! (CVE-2022-29162, runc 1.1.2: `exec --cap` and the default filled the
//! inheritable set), and a setuid-root binary in the image gains nothing
//! under noNewPrivileges, for `exec`'d processes too (the init's case is
//! escapes.rs's no_new_privs_stops_a_setuid_root_binary).

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

/// A capability set of /proc/PID/status text, e.g. "CapInh".
fn cap_set(status: &str, field: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

const CAP_KILL: u64 = 1 << 5;
const CAP_SYS_ADMIN: u64 = 1 << 21;

#[test]
fn cve_2022_29162_inheritable_and_ambient_stay_empty_unless_asked() {
    let mut b = Bundle::new(&["sleep", "100"]);
    // husk spec's, as runc spec's: an ambient list but no inheritable one.
    // Ambient capabilities must also be inheritable (capabilities(7)), so
    // they stay unset; a runtime that filled the inheritable set to make
    // them stick would hand them to every program the container runs.
    let caps = &b.config["process"]["capabilities"];
    assert!(caps.get("inheritable").is_none() && caps.get("ambient").is_some(), "{caps}");
    let id = b.run_detached("inh");

    // The init, seen from the host.
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!((cap_set(&init, "CapInh"), cap_set(&init, "CapAmb")), (0, 0), "the init");
    assert_ne!(cap_set(&init, "CapBnd"), 0, "the bounding set is not empty: the check means something");

    // exec, with and without --cap: runc 1.1.1 put --cap's capabilities in
    // the inheritable set too, where a program with inheritable file
    // capabilities would have gained them.
    for flags in [&[][..], &["--cap", "CAP_SYS_ADMIN"][..]] {
        let mut args = flags.to_vec();
        args.extend([id.as_str(), "cat", "/proc/self/status"]);
        let (code, out, err) = b.exec(&args);
        assert_eq!(code, 0, "{err}");
        assert_eq!((cap_set(&out, "CapInh"), cap_set(&out, "CapAmb")), (0, 0), "exec {flags:?}");
        if !flags.is_empty() {
            assert_ne!(cap_set(&out, "CapEff") & CAP_SYS_ADMIN, 0, "--cap took effect");
        }
    }

    // The control: asked for in process.json, both sets are set, so the
    // checks above can fail.
    let process = json!({
        "args": ["cat", "/proc/self/status"],
        "env": ["PATH=/bin:/usr/bin"],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
            "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]
        }
    });
    let path = b.dir.join("process.json");
    std::fs::write(&path, process.to_string()).unwrap();
    let (code, out, err) = b.exec(&["-p", path.to_str().unwrap(), &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!((cap_set(&out, "CapInh"), cap_set(&out, "CapAmb")), (CAP_KILL, CAP_KILL), "{out}");
}

#[test]
fn no_new_privs_stops_a_setuid_root_binary_run_by_exec() {
    // The config's noNewPrivileges holds for exec'd processes (kept with the
    // process at create); `exec --no-new-privs` sets it where the config
    // does not. Without either, the same binary does become root: the test
    // can fail.
    for (config_nnp, flags, expected) in [
        (true, &[][..], "uid=1000 euid=1000"),
        (false, &["--no-new-privs"][..], "uid=1000 euid=1000"),
        (false, &[][..], "uid=1000 euid=0"),
    ] {
        let mut b = Bundle::new(&["sleep", "100"]);
        let probe = b.rootfs().join("bin/suid-probe");
        std::fs::copy(escprobe(), &probe).unwrap();
        std::os::unix::fs::chown(&probe, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o4755)).unwrap();
        b.config["process"]["noNewPrivileges"] = config_nnp.into();
        b.write();
        let id = b.run_detached("suid");
        let mut args = vec!["-u", "1000:1000"];
        args.extend(flags);
        args.extend([id.as_str(), "suid-probe", "euid"]);
        let (code, out, err) = b.exec(&args);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.trim(), expected, "config noNewPrivileges {config_nnp}, exec {flags:?}");
    }
}

#[test]
fn exec_caps_stay_within_the_bounding_set_and_exec_cap_extends_it_as_runc() {
    // The container's bounding set (husk spec's, as runc spec's) lacks
    // CAP_SYS_ADMIN.
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.run_detached("bnd");
    let bounding = |out: &str| cap_set(out, "CapBnd");

    // A plain exec has the container's bounding set, not husk's own.
    let (code, plain, err) = b.exec(&[&id, "cat", "/proc/self/status"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(bounding(&plain) & CAP_SYS_ADMIN, 0, "{plain}");

    // process.json asking for CAP_SYS_ADMIN in effective and permitted but
    // not in bounding: the kernel's rule at execve (root's permitted set
    // is bounded) leaves it out, whatever husk set before.
    let process = json!({
        "args": ["cat", "/proc/self/status"],
        "env": ["PATH=/bin:/usr/bin"],
        "cwd": "/",
        "capabilities": {
            "bounding": ["CAP_KILL"], "effective": ["CAP_KILL", "CAP_SYS_ADMIN"], "permitted": ["CAP_KILL", "CAP_SYS_ADMIN"]
        }
    });
    let path = b.dir.join("process.json");
    std::fs::write(&path, process.to_string()).unwrap();
    let (code, out, err) = b.exec(&["-p", path.to_str().unwrap(), &id]);
    assert_eq!(code, 0, "{err}");
    for set in ["CapBnd", "CapPrm", "CapEff"] {
        assert_eq!(cap_set(&out, set), CAP_KILL, "{set}: {out}");
    }

    // `exec --cap` adds to the bounding set as well as to the effective
    // and permitted ones, as runc's exec.go does: the caller asked for it.
    let (code, out, err) = b.exec(&["--cap", "CAP_SYS_ADMIN", &id, "cat", "/proc/self/status"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(bounding(&out), bounding(&plain) | CAP_SYS_ADMIN, "{out}");
    assert_ne!(cap_set(&out, "CapEff") & CAP_SYS_ADMIN, 0, "{out}");
}
