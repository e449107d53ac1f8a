#!/usr/bin/env bash
# shellcheck disable=SC2016 # single quotes on purpose: expanded by the container's shell
# podman (through conmon) driving RUNTIME (`podman --runtime RUNTIME`), with
# private storage, run root, tmp dir and configuration: containers.conf,
# storage.conf and registries.conf come from $T through CONTAINERS_CONF,
# CONTAINERS_STORAGE_CONF and CONTAINERS_REGISTRIES_CONF, so /etc is neither
# read for them nor changed. See lib.sh for the arguments and the output.
#
#   podman.sh RUNTIME WORKDIR [SCENARIO...]
#
# containers.conf names the runtime in runtime_supports_json: podman passes
# `--log` (and reads the runtime's JSON errors) only to the runtimes named
# there. podman passes the runtime no --root, so it keeps its state in its
# default directory (/run/runc, /run/husk), each container under podman's
# unique 64-hex id; that directory is removed at exit if this run made it
# and left it empty. (`--runtime-flag root=` is not an option: podman's
# clean-up process, started by conmon, drops it.) Its default_ulimits stay under this host's hard limits: podman's own
# default (nofile and nproc 1048576) needs CAP_SYS_RESOURCE, which this
# host's bounding set lacks. Locks are files in the tmp dir, not podman's
# shared /dev/shm/libpod_lock.

ALL="run-rm detached-exec-stop-rm tty oom create-start logs read-only tmpfs-copyup"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
engine_init podman "$@"

P=$T/bin/podman
LOOP='trap "exit 0" TERM; while :; do sleep 0.2; done'
# Every container's cgroup is under the run's cgroup parent (conmon's too).
RUNOPTS=(--cgroup-parent "/$CGPARENT")

write_config() {
    mkdir -p "$T/conf" "$T/hooks" "$T/net" "$T/tmp"
    cat >"$T/conf/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/tmp/events.log"
tmp_dir = "$T/tmp"
image_copy_tmp_dir = "$T/tmp"
volume_path = "$T/volumes"
static_dir = "$T/root/libpod"
hooks_dir = ["$T/hooks"]
lock_type = "file"
runtime_supports_json = ["$RUNTIME_NAME", "crun", "runc", "kata", "runsc", "krun"]

[network]
network_config_dir = "$T/net"
EOF
    cat >"$T/conf/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$T/root"
runroot = "$T/rr"
EOF
    cat >"$T/conf/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
}

# inspect NAME FORMAT: podman inspect --format FORMAT.
inspect() { "$P" inspect --format "$2" "$1" 2>&1; }

scen_run-rm() {
    try "$P" run --rm "${RUNOPTS[@]}" "$IMAGE" echo hi
    if [ "$rc" != 0 ] || [ "$out" != hi ]; then
        fail run-rm "podman run --rm echo hi: rc=$rc '$(oneline "$out")'"
        return
    fi
    try "$P" run --rm "${RUNOPTS[@]}" "$IMAGE" sh -c 'exit 3'
    if [ "$rc" != 3 ]; then
        fail run-rm "podman run --rm sh -c 'exit 3': rc=$rc '$(oneline "$out")', want 3"
        return
    fi
    try "$P" ps -aq
    expect run-rm "containers left after run --rm" "$out" ""
}

scen_detached-exec-stop-rm() {
    local s=detached-exec-stop-rm
    run_detached "$s" "$P" p1 -- "$LOOP" || return
    try "$P" exec p1 sh -c 'echo "exec-out $(cat /proc/1/comm)"; exit 4'
    if [ "$rc" != 4 ] || [ "$out" != "exec-out sh" ]; then
        fail $s "podman exec: rc=$rc '$(oneline "$out")', want 4 and 'exec-out sh'"
        return
    fi
    # Not a tty: the output is not mixed with a terminal's \r.
    try "$P" exec p1 sh -c '[ -t 0 ] || echo no-tty'
    if [ "$out" != no-tty ]; then
        fail $s "podman exec without -t: '$(oneline "$out")', want no-tty"
        return
    fi
    stop_then_rm $s "$P" p1
}

scen_tty() {
    tm_shell_check tty podman-tty "$P run -it --rm --cgroup-parent /$CGPARENT $IMAGE sh"
}

scen_oom() {
    # dd's 64 MiB buffer, filled from /dev/zero, does not fit in 32 MiB; dd
    # is pid 1, killed by the OOM killer.
    try "$P" run --name oom1 --memory 32m "${RUNOPTS[@]}" "$IMAGE" \
        dd if=/dev/zero of=/dev/null bs=64M count=1
    local run_rc=$rc run_out=$out state
    # podman 4.3 on cgroup v1 reports OOMKilled false even with runc, so
    # only the exit code is checked, in inspect too.
    state=$(inspect oom1 '{{.State.ExitCode}}')
    "$P" rm -f oom1 >/dev/null 2>&1
    local limit=/sys/fs/cgroup/memory/memory.limit_in_bytes
    [ -f /sys/fs/cgroup/cgroup.controllers ] && limit=/sys/fs/cgroup/memory.max
    try "$P" run --rm --memory 32m "${RUNOPTS[@]}" "$IMAGE" cat $limit
    if [ "$rc" != 0 ] || [ "$out" != 33554432 ]; then
        fail oom "the container's $limit: rc=$rc '$(oneline "$out")', want 33554432"
    elif [ "$run_rc" != 137 ]; then
        fail oom "podman run --memory 32m dd bs=64M: rc=$run_rc '$(oneline "$run_out")', want 137"
    else
        expect oom "exit code in podman inspect" "$state" 137
    fi
}

scen_create-start() { create_then_start_attached "$P" "${RUNOPTS[@]}"; }

scen_logs() {
    run_detached logs "$P" p3 -- 'echo line-out; echo line-err >&2; echo last' || return
    try "$P" wait p3
    try "$P" logs p3
    # stdout and stderr are both there (their order is conmon's: it reads two
    # pipes).
    expect logs "podman logs, sorted" "$(sort <<<"$out" | tr '\n' ' ')" "last line-err line-out "
    "$P" rm -f p3 >/dev/null 2>&1
}

# --read-only: podman mounts tmpfs on /tmp, /var/tmp and /run, each with
# tmpcopyup. /tmp is writable, takes the image's mode (1777), and / is not.
scen_read-only() {
    try "$P" run --rm --read-only "${RUNOPTS[@]}" "$IMAGE" sh -c \
        'grep -q " /tmp .* - tmpfs " /proc/self/mountinfo && touch /tmp/ok && ! touch /ro 2>/dev/null && stat -c %a /tmp'
    if [ "$rc" != 0 ]; then
        fail read-only "podman run --read-only: rc=$rc '$(oneline "$out")'"
        return
    fi
    expect read-only "mode of the tmpfs on /tmp" "$out" 1777
}

# --tmpfs /home: a tmpfs (with tmpcopyup) over the image's /home, which it
# copies: /home/user is there, owned by 1000:1000 as in the image.
scen_tmpfs-copyup() {
    try "$P" run --rm --tmpfs /home "${RUNOPTS[@]}" "$IMAGE" sh -c \
        'grep -q " /home .* - tmpfs " /proc/self/mountinfo && touch /home/new && stat -c "%u:%g %a" /home/user'
    if [ "$rc" != 0 ]; then
        fail tmpfs-copyup "podman run --tmpfs /home: rc=$rc '$(oneline "$out")'"
        return
    fi
    expect tmpfs-copyup "owner and mode of the copied /home/user" "$out" "1000:1000 755"
}

# containers/image keeps its blob cache in /var/lib/containers/cache for root
# whatever the storage root: removed at exit unless it was there before.
if [ ! -e /var/lib/containers ]; then
    at_exit "rm -rf /var/lib/containers"
fi
if [ ! -e "/run/$RUNTIME_NAME" ]; then
    at_exit "rmdir '/run/$RUNTIME_NAME' 2>/dev/null"
fi
write_config
wrapper podman env CONTAINERS_CONF="$T/conf/containers.conf" \
    CONTAINERS_STORAGE_CONF="$T/conf/storage.conf" \
    CONTAINERS_REGISTRIES_CONF="$T/conf/registries.conf" \
    podman --root "$T/root" --runroot "$T/rr" --tmpdir "$T/tmp" \
    --runtime "$RUNTIME" --cgroup-manager cgroupfs --events-backend file \
    --network-config-dir "$T/net" --hooks-dir "$T/hooks" --storage-driver overlay
build_image || { echo "# building the image failed" >&2; exit 1; }
at_exit "'$P' rm -af -t 0 >/dev/null 2>&1"
try "$P" load -i "$T/image.tar"
[ "$rc" = 0 ] || { echo "# podman load failed: $out" >&2; exit 1; }
try "$P" images --format '{{.Repository}}:{{.Tag}}'
grep -qx "$IMAGE" <<<"$out" || { echo "# podman load: no $IMAGE in: $out" >&2; exit 1; }
run_scenarios
