//! `husk features`: what this build supports, in the spec's features JSON
//! (features.md, features-linux.md). Every list comes from the code that
//! implements it, or names exactly what that code accepts.

use serde_json::{Value, json};

use crate::rootfs::options;
use crate::spec::OCI_VERSION;

pub fn features() -> Value {
    let capabilities: Vec<String> = {
        let mut names: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
        names.sort();
        names
    };
    // The seccomp flags the compiler accepts (security/seccomp.rs); this
    // kernel generation has them all.
    let seccomp_flags = [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];
    let (memory_policy_modes, memory_policy_flags) = crate::process::fields::memory_policy_names();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": crate::hooks::Kind::ALL.map(crate::hooks::Kind::name),
        "mountOptions": options::known_names(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": capabilities,
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "knownFlags": seccomp_flags,
                "supportedFlags": seccomp_flags
            },
            "apparmor": {"enabled": true},
            "selinux": {"enabled": true},
            "intelRdt": {"enabled": true, "schemata": true, "monitoring": true},
            "netDevices": {"enabled": true},
            "memoryPolicy": {"modes": memory_policy_modes, "flags": memory_policy_flags},
            // Bind mounts and new filesystems (rootfs/idmap.rs).
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": {
            "io.github.husk.version": env!("CARGO_PKG_VERSION"),
            // runc's key: engines read it to offer checkpoint/restore
            // (the criu binary itself is found when they are used).
            "org.opencontainers.runc.checkpoint.enabled": "true"
        }
    })
}
