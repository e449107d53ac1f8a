// Docker's default seccomp profile, as Docker hands it to a runtime. Shared
// by the integration tests (as `common::docker`) and by the seccomp unit
// tests (through include!), so it names every path in full and imports
// nothing.

/// Docker's default capabilities, which decide its profile's conditional
/// rules (and the set most containers really run with).
pub const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// What moby does with integration/testdata/docker-default-seccomp.json
/// before handing it to the runtime, on amd64 with the default capabilities:
/// the arch map becomes `architectures`, and the rules are kept or dropped
/// by their `includes`/`excludes` (caps, arches, minKernel — this kernel is
/// newer than any minKernel in the profile).
pub fn docker_profile() -> serde_json::Value {
    use serde_json::Value;
    let moby: Value = serde_json::from_str(include_str!("../testdata/docker-default-seccomp.json")).unwrap();
    let list = |v: &Value, key: &str| -> Vec<String> {
        v.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect()
    };
    let mut architectures = Vec::new();
    for entry in moby["archMap"].as_array().unwrap() {
        if entry["architecture"] == "SCMP_ARCH_X86_64" {
            architectures.push(entry["architecture"].clone());
            architectures.extend(list(entry, "subArchitectures").into_iter().map(Value::from));
        }
    }
    let has_cap = |c: &String| DOCKER_CAPS.contains(&c.as_str());
    let syscalls: Vec<Value> = moby["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| {
            let (inc, exc) = (&rule["includes"], &rule["excludes"]);
            let arch_ok = list(inc, "arches").is_empty() || list(inc, "arches").iter().any(|a| a == "amd64");
            let arch_excluded = list(exc, "arches").iter().any(|a| a == "amd64");
            let caps_ok = list(inc, "caps").iter().all(has_cap);
            let caps_excluded = list(exc, "caps").iter().any(has_cap);
            let kernel_excluded = exc.get("minKernel").is_some();
            arch_ok && !arch_excluded && caps_ok && !caps_excluded && !kernel_excluded
        })
        .map(|rule| {
            let mut rule = rule.clone();
            let object = rule.as_object_mut().unwrap();
            for moby_only in ["comment", "includes", "excludes"] {
                object.remove(moby_only);
            }
            rule
        })
        .collect();
    serde_json::json!({
        "defaultAction": moby["defaultAction"],
        "defaultErrnoRet": moby["defaultErrnoRet"],
        "architectures": architectures,
        "syscalls": syscalls,
    })
}
