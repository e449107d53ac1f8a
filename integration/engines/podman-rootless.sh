#!/usr/bin/env bash
# shellcheck disable=SC2016 # single quotes on purpose: expanded by the container's shell
# Rootless podman (an unprivileged user's, through conmon) driving RUNTIME,
# with private storage (vfs), run root, tmp dir, configuration and
# $XDG_RUNTIME_DIR, all under $T and owned by the user that
# rootless-user.sh makes. podman runs the runtime as the root of its own
# user namespace (made with newuidmap from the user's subordinate ids), with
# no network and no cgroups (this host is cgroup v1, where a user may make
# none). See lib.sh for the arguments and the output.
#
#   podman-rootless.sh RUNTIME WORKDIR [SCENARIO...]

ALL="run-exit-code detached-exec-stop-rm user volume clean"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
engine_init podman-rootless "$@"

read -r USERNAME USER_UID USER_GID _ <<<"$("$ENGINES_DIR/rootless-user.sh")" || exit 2
P=$T/bin/podman
LOOP='trap "exit 0" TERM; while :; do sleep 0.2; done'
RUNOPTS=()
# podman refuses a run root over 50 characters: a short one beside $T.
RR=/tmp/husk-prl-$$

write_config() {
    mkdir -p "$T/conf" "$T/tmp" "$T/xdg" "$T/home" "$T/vol"
    cat >"$T/conf/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024"]
netns = "none"
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$T/tmp/events.log"
tmp_dir = "$T/tmp"
volume_path = "$T/volumes"
runtime_supports_json = ["$RUNTIME_NAME", "crun", "runc"]
EOF
    cat >"$T/conf/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$T/root"
runroot = "$RR"
EOF
    cat >"$T/conf/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "disabled"
EOF
    echo "from the host" >"$T/vol/hello"
    mkdir -p "$RR"
    chown -R "$USER_UID:$USER_GID" "$T" "$RR"
    chmod 700 "$T/xdg"
}

scen_run-exit-code() {
    try "$P" run --rm "$IMAGE" sh -c 'echo "$(id -u) $(hostname)"; exit 3'
    if [ "$rc" != 3 ]; then
        fail run-exit-code "podman run sh -c 'exit 3': rc=$rc '$(oneline "$out")', want 3"
        return
    fi
    # Root in the container, which is the user outside.
    case $out in
    "0 "*) pass run-exit-code ;;
    *) fail run-exit-code "id -u in the container: '$(oneline "$out")', want 0" ;;
    esac
}

scen_detached-exec-stop-rm() {
    local s=detached-exec-stop-rm
    run_detached "$s" "$P" p1 -- "$LOOP" || return
    try "$P" exec p1 sh -c 'echo "exec-out $(cat /proc/1/comm)"; exit 4'
    if [ "$rc" != 4 ] || [ "$out" != "exec-out sh" ]; then
        fail $s "podman exec: rc=$rc '$(oneline "$out")', want 4 and 'exec-out sh'"
        return
    fi
    stop_then_rm $s "$P" p1
}

# --user 1000: a subordinate id outside, the image's `user` inside.
scen_user() {
    try "$P" run --rm --user 1000 "$IMAGE" id
    expect user "id as --user 1000" "$out" "uid=1000(user) gid=1000(user) groups=1000(user)"
}

scen_volume() {
    try "$P" run --rm -v "$T/vol:/vol" "$IMAGE" sh -c 'cat /vol/hello && echo written >/vol/new'
    if [ "$rc" != 0 ] || [ "$out" != "from the host" ]; then
        fail volume "podman run -v: rc=$rc '$(oneline "$out")'"
        return
    fi
    expect volume "the file the container wrote" "$(cat "$T/vol/new" 2>&1)" written
}

# Nothing of the runtime is left: no state under $XDG_RUNTIME_DIR, no
# container process.
scen_clean() {
    try "$P" ps -aq
    local left
    left=$(ls -A "$T/xdg/$RUNTIME_NAME" 2>&1)
    if [ -n "$out" ]; then
        fail clean "containers left: $(oneline "$out")"
    elif [ -n "$left" ]; then
        fail clean "left in \$XDG_RUNTIME_DIR/$RUNTIME_NAME: $(oneline "$left")"
    else
        pass clean
    fi
}

at_exit "unmount_under '$RR'; rm -rf --one-file-system '$RR'"
write_config
wrapper podman setpriv --reuid "$USER_UID" --regid "$USER_GID" --init-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$T/home" USER="$USERNAME" \
    XDG_RUNTIME_DIR="$T/xdg" CONTAINERS_CONF="$T/conf/containers.conf" \
    CONTAINERS_STORAGE_CONF="$T/conf/storage.conf" \
    CONTAINERS_REGISTRIES_CONF="$T/conf/registries.conf" \
    podman --root "$T/root" --runroot "$RR" --tmpdir "$T/tmp" \
    --runtime "$RUNTIME" --cgroup-manager cgroupfs --events-backend file --storage-driver vfs
# The pause process that holds podman's user namespace names nothing of $T
# on its command line: it goes by its pid file.
at_exit '[ -f "$T/tmp/pause.pid" ] && kill -KILL "$(cat "$T/tmp/pause.pid")" 2>/dev/null'
build_image || { echo "# building the image failed" >&2; exit 1; }
chown "$USER_UID:$USER_GID" "$T/image.tar"
at_exit "'$P' rm -af -t 0 >/dev/null 2>&1"
try "$P" load -i "$T/image.tar"
[ "$rc" = 0 ] || { echo "# podman load failed: $out" >&2; exit 1; }
run_scenarios
