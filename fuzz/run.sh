#!/usr/bin/env bash
# Fuzzes one of husk's input parsers for a fixed time, with cargo fuzz
# (nightly; `cargo install cargo-fuzz`). Not part of CI.
#
#   fuzz/run.sh TARGET SECONDS     TARGET: config process seccomp mount_options state, or all
#
# Seeds come from the repository (oci-bundles/, `husk spec`, the test
# profiles) into fuzz/seeds/TARGET; what libFuzzer learns stays in
# fuzz/corpus/TARGET and crashes go to fuzz/artifacts/TARGET (both ignored by
# git). A crash is a bug: reproduce it with
# `fuzz/target/x86_64-unknown-linux-gnu/release/TARGET ARTIFACT`, and turn it
# into a unit test beside the code that panicked.
set -euo pipefail
cd "$(dirname "$0")"
targets=(config process seccomp mount_options state)
if [ $# -ne 2 ]; then
    echo "usage: $0 TARGET|all SECONDS (targets: ${targets[*]})" >&2
    exit 2
fi
[ "$1" = all ] && chosen=("${targets[@]}") || chosen=("$1")
seconds=$2

# The build takes the shared cargo lock (/tmp/husk-cargo.lock) unless the
# caller holds it (HUSK_CARGO_LOCKED=1); the runs themselves do not.
build=(cargo +nightly fuzz build -O)
[ "${#chosen[@]}" -eq 1 ] && build+=("$1")
[ -n "${HUSK_CARGO_LOCKED:-}" ] || build=(flock /tmp/husk-cargo.lock "${build[@]}")
"${build[@]}"

/usr/bin/python3 - <<'PY'
import glob, json, os
def put(target, name, data):
    os.makedirs(f"seeds/{target}", exist_ok=True)
    with open(f"seeds/{target}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
configs = {os.path.basename(os.path.dirname(p)): json.load(open(p)) for p in glob.glob("../oci-bundles/*/config.json")}
binaries = [b for b in ("../target/x86_64-unknown-linux-gnu/debug/husk", "../target/debug/husk") if os.path.exists(b)]
if binaries:
    binary = os.path.abspath(binaries[0])
    import subprocess, tempfile
    for rootless in (False, True):
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([binary, "spec"] + (["--rootless"] if rootless else []), cwd=d, check=True)
            configs[f"spec{'-rootless' if rootless else ''}"] = json.load(open(f"{d}/config.json"))
docker = json.load(open("../integration/testdata/docker-default-seccomp.json"))
for name, config in configs.items():
    put("config", name, json.dumps(config, indent=1))
    with_seccomp = dict(config)
    with_seccomp.setdefault("linux", {})["seccomp"] = docker
    put("config", name + "-docker-seccomp", json.dumps(with_seccomp))
    put("process", name, json.dumps(config["process"]))
    for i, mount in enumerate(config.get("mounts", [])):
        put("mount_options", f"{name}-{i}", ",".join(mount.get("options", [])))
put("seccomp", "docker", json.dumps(docker))
put("seccomp", "small", json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "op": "SCMP_CMP_MASKED_EQ", "value": 255, "valueTwo": 8}]},
                 {"names": ["socket"], "action": "SCMP_ACT_NOTIFY"}],
    "listenerPath": "/run/agent.sock"}))
put("mount_options", "all", "rbind,ro,nosuid,nodev,noexec,rprivate,rshared,idmap,ridmap,rro,nosymfollow,mode=755,size=65536k")
state = {"id": "fuzz", "bundle": "/b", "rootfs": "/b/rootfs", "pid": 4242, "pid_start": 12345,
         "created": "2026-01-01T00:00:00.000000000Z", "annotations": {"a": "b"}, "owner": "",
         "cgroup": None}
put("state", "state", json.dumps(state))
put("state", "exec", json.dumps({"process": configs.get("spec", next(iter(configs.values())))["process"], "seccomp": None}))
PY

# The config target's empty bundle goes in a directory of this run's.
TMPDIR=$(mktemp -d)
export TMPDIR
trap 'rm -rf --one-file-system "$TMPDIR"' EXIT
for target in "${chosen[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    echo "fuzzing $target for ${seconds}s" >&2
    # -rss_limit_mb: config loading compiles profiles; 2 GB is plenty.
    "target/x86_64-unknown-linux-gnu/release/$target" "corpus/$target" "seeds/$target" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1
done
