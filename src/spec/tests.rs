use std::path::{Path, PathBuf};

use super::*;

/// The bundle the specs are checked against: `/`, whose `root.path` below
/// exists on every machine, so the tests need no files of their own.
fn bundle() -> PathBuf {
    PathBuf::from("/")
}

fn base() -> serde_json::Value {
    let mut config = default_config(false);
    config["process"]["terminal"] = false.into();
    config["root"]["path"] = "/".into();
    config
}

fn check(config: &serde_json::Value) -> Result<Loaded, SpecError> {
    let bytes = serde_json::to_vec(config).unwrap();
    parse(&bytes, PathBuf::from("config.json"), &bundle())
}

fn error_of(config: &serde_json::Value) -> String {
    match check(config) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn default_config_is_valid() {
    let loaded = check(&base()).expect("valid");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn broken_json_names_line_and_column() {
    let err = parse(b"{\n \"ociVersion\": ", PathBuf::from("config.json"), Path::new("/")).unwrap_err();
    assert!(err.to_string().starts_with("config.json: invalid JSON at line 2"), "{err}");
}

#[test]
fn unknown_namespace_names_the_field() {
    let mut c = base();
    c["linux"]["namespaces"][2]["type"] = "netw".into();
    assert_eq!(error_of(&c), "config.json: linux.namespaces[2].type: unknown namespace \"netw\"");
}

#[test]
fn missing_args_and_relative_cwd() {
    let mut c = base();
    c["process"].as_object_mut().unwrap().remove("args");
    assert!(error_of(&c).starts_with("config.json: process.args:"));
    let mut c = base();
    c["process"]["cwd"] = "tmp".into();
    assert!(error_of(&c).starts_with("config.json: process.cwd:"));
}

#[test]
fn relative_masked_and_readonly_paths_are_taken_from_the_root() {
    // runc takes them from the container's root: so does husk.
    let mut c = base();
    c["linux"]["maskedPaths"][1] = "proc/kcore".into();
    c["linux"]["readonlyPaths"][0] = "proc/sys".into();
    check(&c).expect("relative paths are valid");
}

#[test]
fn missing_rootfs() {
    let mut c = base();
    c["root"]["path"] = "no-such-rootfs".into();
    assert!(error_of(&c).starts_with("config.json: root.path: rootfs "));
}

#[test]
fn unknown_fields_and_newer_versions_are_accepted() {
    let mut c = base();
    c["ociVersion"] = "1.9.0".into();
    c["someFutureField"] = serde_json::json!({"x": 1});
    c["linux"]["futureLinuxField"] = true.into();
    assert!(check(&c).is_ok());
}

#[test]
fn unknown_capabilities_warn() {
    let mut c = base();
    c["process"]["capabilities"]["bounding"][1] = "CAP_FROM_THE_FUTURE".into();
    let loaded = check(&c).expect("accepted");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("process.capabilities.bounding[1]"));
}

#[test]
fn duplicate_namespace_and_missing_mount_namespace() {
    let mut c = base();
    c["linux"]["namespaces"][1]["type"] = "pid".into();
    assert!(error_of(&c).contains("duplicate namespace"));
    let mut c = base();
    c["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
    c.as_object_mut().unwrap().remove("hostname");
    assert!(error_of(&c).starts_with("config.json: linux.namespaces: a mount namespace"));
}

#[test]
fn hostname_needs_uts_namespace() {
    let mut c = base();
    c["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
    assert!(error_of(&c).starts_with("config.json: hostname:"));
}

#[test]
fn user_namespace_needs_mappings() {
    let mut c = base();
    c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "user"}));
    assert!(error_of(&c).starts_with("config.json: linux.uidMappings:"));
}

#[test]
fn sysctls_must_be_namespaced() {
    let mut c = base();
    c["linux"]["sysctl"] = serde_json::json!({"kernel.panic": "1"});
    assert!(error_of(&c).starts_with("config.json: linux.sysctl.kernel.panic:"));
    let mut c = base();
    c["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"});
    assert!(check(&c).is_ok());
}

#[test]
fn rlimit_and_bind_checks() {
    let mut c = base();
    c["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
    assert!(error_of(&c).starts_with("config.json: process.rlimits[0]:"));
    let mut c = base();
    c["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]);
    assert!(error_of(&c).starts_with("config.json: process.rlimits[0].type:"));
    let mut c = base();
    c["mounts"][0] = serde_json::json!({"destination": "/x", "options": ["bind"]});
    assert!(error_of(&c).starts_with("config.json: mounts[0].source:"));
}

#[test]
fn seccomp_profiles_are_checked_and_warn() {
    let mut c = base();
    c["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["no_such_call", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
    let loaded = check(&c).expect("valid");
    assert_eq!(loaded.warnings, ["linux.seccomp.syscalls[1].names[0]: unknown system call \"no_such_call\", ignored"]);
    let mut c = base();
    c["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["a"], "action": "SCMP_ACT_ERRNO"}, {"names": ["b"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["c"], "action": "SCMP_ACT_ERRNO"}, {"names": ["d"], "action": "SCMP_ACT_DENY"}]});
    assert_eq!(error_of(&c), "config.json: linux.seccomp.syscalls[3].action: unknown value \"SCMP_ACT_DENY\"");
    let mut c = base();
    c["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]});
    assert_eq!(error_of(&c), "config.json: linux.seccomp.flags[0]: unknown value \"SECCOMP_FILTER_FLAG_BOGUS\"");
    let mut c = base();
    c["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]});
    assert_eq!(error_of(&c), "config.json: linux.seccomp.architectures[0]: unknown value \"SCMP_ARCH_VAX\"");
    let mut c = base();
    c["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}]});
    assert_eq!(error_of(&c), "config.json: linux.seccomp.syscalls[0].args[0].index: 9 is out of range (0 to 5)");
}

#[test]
fn lsm_labels_need_the_lsm_on_this_host() {
    let host = crate::security::lsm::host();
    let mut c = base();
    c["process"]["apparmorProfile"] = "foo".into();
    if host.apparmor {
        check(&c).expect("AppArmor is on: the profile is accepted");
    } else {
        assert_eq!(
            error_of(&c),
            "config.json: process.apparmorProfile: AppArmor profile \"foo\" requested, but AppArmor is not enabled on this host"
        );
    }
    for (object, key) in [("process", "selinuxLabel"), ("linux", "mountLabel")] {
        let field = format!("{object}.{key}");
        let mut c = base();
        c[object][key] = "system_u:system_r:container_t:s0".into();
        if host.selinux {
            check(&c).expect("SELinux is on: the label is accepted");
        } else {
            let e = error_of(&c);
            assert!(e.starts_with(&format!("config.json: {field}: SELinux")), "{e}");
            assert!(e.ends_with("but SELinux is not enabled on this host"), "{e}");
        }
    }
    // Empty strings mean unset, wherever they are.
    let mut c = base();
    c["process"]["apparmorProfile"] = "".into();
    c["process"]["selinuxLabel"] = "".into();
    c["linux"]["mountLabel"] = "".into();
    check(&c).expect("empty labels are no labels");
}

#[test]
fn tuning_fields_are_checked_with_their_config_path() {
    let with = |path: &str, value: serde_json::Value| {
        let mut c = base();
        let (section, key) = path.split_once('.').unwrap();
        c[section][key] = value;
        c
    };
    let ok = with("process.scheduler", serde_json::json!({"policy": "SCHED_BATCH", "nice": 19, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}));
    check(&ok).expect("valid");
    let c = with("process.scheduler", serde_json::json!({"policy": "SCHED_NOPE"}));
    assert_eq!(error_of(&c), "config.json: process.scheduler.policy: unknown value \"SCHED_NOPE\"");
    let c = with("process.scheduler", serde_json::json!({"policy": "SCHED_OTHER", "nice": 40}));
    assert_eq!(error_of(&c), "config.json: process.scheduler.nice: 40 is out of range (-20 to 19)");
    let c = with("process.scheduler", serde_json::json!({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_X"]}));
    assert_eq!(error_of(&c), "config.json: process.scheduler.flags[0]: unknown scheduler flag \"SCHED_FLAG_X\"");
    let c = with("process.ioPriority", serde_json::json!({"class": "IOPRIO_CLASS_NONE", "priority": 1}));
    assert_eq!(error_of(&c), "config.json: process.ioPriority.class: unknown value \"IOPRIO_CLASS_NONE\"");
    let c = with("process.execCPUAffinity", serde_json::json!({"initial": "0-x"}));
    assert!(error_of(&c).starts_with("config.json: process.execCPUAffinity.initial: "), "{}", error_of(&c));
    let c = with("linux.personality", serde_json::json!({"domain": "LINUX64"}));
    assert_eq!(error_of(&c), "config.json: linux.personality.domain: unknown value \"LINUX64\"");
    let c = with("linux.personality", serde_json::json!({"domain": "LINUX32", "flags": ["X"]}));
    assert_eq!(check(&c).expect("valid, with a warning").warnings, ["linux.personality.flags: no personality flag is supported; ignored"]);
    let c = with("linux.memoryPolicy", serde_json::json!({"mode": "MPOL_BIND"}));
    assert_eq!(error_of(&c), "config.json: linux.memoryPolicy.nodes: MPOL_BIND needs at least one node");
}

#[test]
fn a_pids_limit_of_zero_is_kept_and_a_missing_one_is_no_limit() {
    let mut c = base();
    c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 0}});
    let pids = *check(&c).unwrap().spec.linux().as_ref().unwrap().resources().as_ref().unwrap().pids();
    assert_eq!(pids.map(|p| p.limit()), Some(0));
    c["linux"]["resources"] = serde_json::json!({"pids": {}});
    let resources = check(&c).unwrap().spec.linux().as_ref().unwrap().resources().clone().unwrap();
    assert!(resources.pids().is_none());
}
