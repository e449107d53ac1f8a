# shellcheck shell=bash
# Shared by containerd.sh, podman.sh and docker.sh: reporting, a private
# temporary directory, the busybox image, tmux, a private containerd, and the
# clean-up that leaves nothing of a run on the host.
#
# An engine script is run as
#
#   ENGINE.sh RUNTIME WORKDIR [SCENARIO...]
#
# RUNTIME  the OCI runtime the engine drives (husk, or /usr/sbin/runc to
#          check the scenarios themselves), an absolute path
# WORKDIR  scratch space; the run works in WORKDIR/ENGINE-PID and removes it
#          (ENGINES_KEEP=1 keeps it, its logs included, for a post-mortem)
# SCENARIO names among the script's ALL (default: all of them)
#
# and prints `RESULT <engine>.<scenario> PASS` or `RESULT <engine>.<scenario>
# FAIL <reason>` per scenario, then `SCENARIOS DONE` (the format of
# integration/cgroup-scenarios.sh, judged by integration/common/verdict.rs).
# Everything the engine makes lives under the private directory T: its root,
# state and exec-root, its socket, its configuration, and tmux's socket.
# Containers are put under a cgroup parent named after T, which the clean-up
# removes along with every process, mount and directory of the run.

set -u

ENGINES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$ENGINES_DIR/../.." && pwd)
IMAGE=docker.io/library/busybox:latest
# Seconds any single engine command may take before it is counted as hung.
CMD_TIMEOUT=${ENGINES_CMD_TIMEOUT:-90}

# ---------------------------------------------------------------------------
# Arguments and the private directory

engine_init() {
    ENGINE=$1
    shift
    if [ $# -lt 2 ]; then
        echo "usage: $ENGINE.sh RUNTIME WORKDIR [SCENARIO...]   (scenarios: $ALL)" >&2
        exit 2
    fi
    RUNTIME=$1 WORK=$2
    shift 2
    SCENARIOS=${*:-$ALL}
    case $RUNTIME in /*) ;; *) echo "$ENGINE.sh: RUNTIME must be an absolute path" >&2; exit 2 ;; esac
    [ -x "$RUNTIME" ] || { echo "$ENGINE.sh: $RUNTIME is not executable" >&2; exit 2; }
    RUNTIME_NAME=$(basename "$RUNTIME")
    mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd -P) || exit 2
    T=$WORK/$ENGINE-$$
    mkdir -p "$T/bin" "$T/logs" || exit 2
    # Processes started here inherit the working directory: conmon writes an
    # `oom` file into its own when a container meets the OOM killer.
    cd "$T" || exit 2
    # A name for the cgroup parent of every container of this run.
    CGPARENT=husk-eng-$ENGINE-$$
    RUN_CONTAINERD_EXISTED=0
    [ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1
    CLEANUPS=""
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    echo "# $ENGINE with $RUNTIME ($("$RUNTIME" --version 2>&1 | head -1)) in $T"
}

# at_exit COMMAND: run COMMAND (a shell string) at exit, the last first.
at_exit() {
    CLEANUPS="$1
$CLEANUPS"
}

# ---------------------------------------------------------------------------
# Reporting

pass() { echo "RESULT $ENGINE.$1 PASS"; }
fail() {
    echo "RESULT $ENGINE.$1 FAIL $2"
    FAILED="$FAILED $1"
}
FAILED=""

# oneline TEXT: TEXT on one line, cut short, for a FAIL reason.
oneline() { printf '%s' "$1" | tr '\n\r' '  ' | cut -c1-600; }

# run_scenarios: each scenario of SCENARIOS, then SCENARIOS DONE. A scenario
# is a function scen_NAME that calls pass NAME or fail NAME REASON (once; a
# scenario that reports nothing fails as such).
run_scenarios() {
    for s in $SCENARIOS; do
        local before
        before=$(date +%s)
        "scen_$s" >"$T/logs/scen-$s.out" 2>&1
        grep -h '^RESULT ' "$T/logs/scen-$s.out"
        grep -q "^RESULT $ENGINE.$s " "$T/logs/scen-$s.out" || fail "$s" "reported no result: $(oneline "$(tail -5 "$T/logs/scen-$s.out")")"
        echo "# $s: $(($(date +%s) - before))s"
    done
    echo "SCENARIOS DONE"
}

# expect NAME DESCRIPTION ACTUAL WANTED: pass if ACTUAL = WANTED.
expect() {
    if [ "$3" = "$4" ]; then pass "$1"; else fail "$1" "$2: got '$(oneline "$3")', want '$4'"; fi
}

# run_detached SCENARIO CLI NAME [OPTION...] -- SCRIPT: `CLI run -d --name
# NAME OPTION... RUNOPTS... IMAGE sh -c SCRIPT`, with Docker's verbs
# (docker, podman). If it fails, SCENARIO fails and it returns 1.
run_detached() {
    local scenario=$1 cli=$2 name=$3 opts=()
    shift 3
    while [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    try "$cli" run -d --name "$name" "${opts[@]}" "${RUNOPTS[@]}" "$IMAGE" sh -c "$2"
    if [ "$rc" != 0 ]; then
        fail "$scenario" "$ENGINE run -d${opts[*]:+ ${opts[*]}}: rc=$rc $(oneline "$out")"
        return 1
    fi
}

# create_then_start_attached CLI [OPTION...]: the create-start scenario of
# the engines whose CLI has Docker's verbs (docker, podman): `create` makes
# a container that prints "started" and exits 2, which must then be in
# state "created"; `start -a` must print "started" and exit 2.
create_then_start_attached() {
    local cli=$1 state
    shift
    try "$cli" create --name cs1 "$@" "$IMAGE" sh -c 'echo started; exit 2'
    if [ "$rc" != 0 ]; then
        fail create-start "$ENGINE create: rc=$rc $(oneline "$out")"
        return
    fi
    state=$("$cli" inspect --format '{{.State.Status}}' cs1 2>&1)
    try "$cli" start -a cs1
    if [ "$state" != created ]; then
        fail create-start "after create: state '$(oneline "$state")', want created"
    elif [ "$rc" != 2 ] || [ "$out" != started ]; then
        fail create-start "$ENGINE start -a: rc=$rc '$(oneline "$out")', want 2 and 'started'"
    else
        pass create-start
    fi
    "$cli" rm -f cs1 >/dev/null 2>&1
}

# stop_then_rm SCENARIO CLI NAME: the end of a detached container whose
# script traps SIGTERM and exits 0, with podman's verbs: `stop -t 10` must
# leave it "exited 0", `rm` must remove it, and `ps -a` then be empty.
stop_then_rm() {
    local s=$1 cli=$2 name=$3 state
    try "$cli" stop -t 10 "$name"
    if [ "$rc" != 0 ]; then
        fail "$s" "$ENGINE stop: rc=$rc $(oneline "$out")"
        return
    fi
    state=$("$cli" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$name" 2>&1)
    if [ "$state" != "exited 0" ]; then
        fail "$s" "after stop (SIGTERM, trapped, exit 0): state '$(oneline "$state")', want 'exited 0'"
        return
    fi
    try "$cli" rm "$name"
    if [ "$rc" != 0 ]; then
        fail "$s" "$ENGINE rm: rc=$rc $(oneline "$out")"
        return
    fi
    try "$cli" ps -aq
    expect "$s" "containers left after rm" "$out" ""
}

# ---------------------------------------------------------------------------
# Commands

# out: the output (stdout and stderr) of the last `try`; rc: its exit code.
# try COMMAND...: runs COMMAND with a time limit, keeps its output and code.
try() {
    out=$(timeout -k 5 "$CMD_TIMEOUT" "$@" 2>&1 </dev/null)
    rc=$?
    printf '+ %s\n%s\n[rc=%s]\n' "$*" "$out" "$rc" >>"$T/logs/commands.log"
    return 0
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.2s until it succeeds.
wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# wrapper NAME COMMAND...: writes $T/bin/NAME, which runs COMMAND "$@" with
# the time limit. Scenarios and tmux sessions call the engines' clients
# through these, so every call has the private flags.
wrapper() {
    local name=$1 args=""
    shift
    for a in "$@"; do args="$args $(printf '%q' "$a")"; done
    printf '#!/bin/sh\nexec timeout --foreground -k 5 %s%s "$@"\n' "$CMD_TIMEOUT" "$args" >"$T/bin/$name"
    chmod +x "$T/bin/$name"
}

# ---------------------------------------------------------------------------
# The image

# build_image: $T/image.tar, a busybox image named $IMAGE.
build_image() {
    sh "$REPO/oci-bundles/rootfs-busybox.sh" "$T/rootfs" >/dev/null &&
        python3 "$ENGINES_DIR/image.py" "$T/rootfs" "$T/image.tar" "$IMAGE"
}

# ---------------------------------------------------------------------------
# Daemons

# start_daemon NAME READY-COMMAND COMMAND...: starts COMMAND in the
# background, logging to $T/logs/NAME.log, its pid in $T/NAME.pid, and waits
# up to 30s for READY-COMMAND (a shell string) to succeed. It is stopped at
# exit by its pid.
start_daemon() {
    local name=$1 ready=$2
    shift 2
    "$@" >"$T/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$T/$name.pid"
    at_exit "stop_pid $! $name"
    if ! wait_for 30 sh -c "$ready || ! kill -0 $!" || ! kill -0 $! 2>/dev/null; then
        echo "# $name did not start; its log:" >&2
        tail -20 "$T/logs/$name.log" >&2
        return 1
    fi
}

# stop_pid PID NAME: SIGTERM, 15s to exit, then SIGKILL.
stop_pid() {
    kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null
    if ! wait_for 15 sh -c "! kill -0 $1"; then
        echo "# $2 ($1) ignored SIGTERM: killed" >&2
        kill -KILL "$1" 2>/dev/null
        wait_for 5 sh -c "! kill -0 $1"
    fi
    wait "$1" 2>/dev/null
    return 0
}

# start_containerd: a containerd of our own, its socket $T/containerd/sock,
# with a snapshotter that works here (overlayfs) and no cri plugin. Its
# /opt plugin directory is private too. Shims put their sockets in
# /run/containerd/s (fixed in containerd 1.6), which the clean-up removes when
# we made it and it is empty.
start_containerd() {
    local d=$T/containerd
    mkdir -p "$d"
    cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$d/sock"
[ttrpc]
  address = "$d/sock.ttrpc"
[debug]
  address = "$d/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
    start_daemon containerd "ctr --address '$d/sock' version" \
        containerd --config "$d/config.toml" --log-level debug
}

# ---------------------------------------------------------------------------
# tmux, for the interactive scenarios

tm() { tmux -S "$T/tmux.sock" "$@"; }

# tm_run SESSION COMMAND: runs the shell string COMMAND in a new 160x40
# session; when it ends the pane shows `EXIT=<code>` and stays.
tm_run() {
    if [ ! -e "$T/tmux.sock" ]; then
        at_exit "tm kill-server 2>/dev/null"
    fi
    tm new-session -d -s "$1" -x 160 -y 40 "$2; echo EXIT=\$?; sleep 600"
}

# tm_screen SESSION: the pane's text (with its history).
tm_screen() { tm capture-pane -p -J -S -200 -t "$1" 2>/dev/null; }

# tm_wait SESSION SECONDS PATTERN: until the pane matches the extended regex.
tm_wait() { wait_for "$2" sh -c "tmux -S '$T/tmux.sock' capture-pane -p -J -S -200 -t '$1' | grep -Eq '$3'"; }

# tm_type SESSION TEXT: types TEXT and Enter.
tm_type() { tm send-keys -t "$1" -l "$2" && tm send-keys -t "$1" Enter; }

# tm_shell_check NAME SESSION CLIENT-COMMAND: the interactive check shared by
# the engines. CLIENT-COMMAND starts `sh` in a container on a terminal; the
# check waits for the prompt, asks for `tty` and arithmetic, then `exit 7`,
# and requires a pty, the answer, and 7 as the client's exit code.
tm_shell_check() {
    local name=$1 s=$2 screen
    tm_run "$s" "$3"
    if ! tm_wait "$s" 30 '(/ #|EXIT=)'; then
        fail "$name" "no shell prompt in 30s; screen: $(oneline "$(tm_screen "$s" | grep -v '^$' | tail -8)")"
        return
    fi
    if ! tm_screen "$s" | grep -q '/ #'; then
        screen=$(tm_screen "$s" | grep -v '^$')
        fail "$name" "the client ended before a prompt; screen: $(oneline "$(tail -8 <<<"$screen")")"
        tm kill-session -t "$s" 2>/dev/null
        return
    fi
    tm_type "$s" 'tty; echo "answer=$((6*7))"; exit 7'
    tm_wait "$s" 30 'EXIT=' || true
    screen=$(tm_screen "$s" | grep -v '^$')
    printf '%s\n' "$screen" >"$T/logs/tmux-$s.screen"
    tm kill-session -t "$s" 2>/dev/null
    if ! grep -q '^/dev/pts/' <<<"$screen"; then
        fail "$name" "tty did not print /dev/pts/N; screen: $(oneline "$(tail -8 <<<"$screen")")"
    elif ! grep -q '^answer=42' <<<"$screen"; then
        fail "$name" "no answer=42; screen: $(oneline "$(tail -8 <<<"$screen")")"
    elif ! grep -q '^EXIT=7' <<<"$screen"; then
        fail "$name" "client did not exit 7; screen: $(oneline "$(tail -8 <<<"$screen")")"
    else
        pass "$name"
    fi
}

# ---------------------------------------------------------------------------
# Clean-up

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    # The engine's own clean-up and the daemons, the last started first.
    while IFS= read -r c; do
        [ -n "$c" ] && eval "$c"
    done <<<"$CLEANUPS"
    CLEANUPS=""
    kill_ours
    unmount_under "$T"
    remove_cgroups "$CGPARENT"
    if [ "$RUN_CONTAINERD_EXISTED" = 0 ]; then
        rmdir /run/containerd/s /run/containerd/runc /run/containerd/fifo /run/containerd 2>/dev/null
    fi
    if [ -n "$FAILED" ] || [ "${ENGINES_KEEP:-0}" = 1 ]; then
        echo "# logs kept in $T/logs"
    fi
    if [ "${ENGINES_KEEP:-0}" != 1 ]; then
        # Keep the logs of a failed run (small), drop the engine's data.
        if [ -n "$FAILED" ]; then
            find "$T" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null
        else
            rm -rf "$T"
        fi
    fi
    exit $status
}

# kill_ours: processes whose command line names $T (shims, conmon, and
# anything else started for this run that outlived its daemon), by pid.
kill_ours() {
    local pids="" p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] && continue
        if { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$T/"; then
            pids="$pids $p"
        fi
    done
    [ -z "$pids" ] && return 0
    echo "# left-over processes of this run killed: $pids" >&2
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.5
}

# unmount_under DIR: every mount point at or under DIR, the deepest first.
unmount_under() {
    local m
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
}

# remove_cgroups NAME: the cgroup directory NAME (at the top of each
# hierarchy) and everything in it, processes killed.
remove_cgroups() {
    local h d p i
    for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [ -d "$h$1" ] || continue
        find "$h$1" -depth -type d 2>/dev/null | while read -r d; do
            [ -f "$d/freezer.state" ] && echo THAWED >"$d/freezer.state" 2>/dev/null
            for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
            i=0
            while ! rmdir "$d" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        done
    done
}
