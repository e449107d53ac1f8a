#!/usr/bin/env bash
# shellcheck disable=SC2016 # single quotes on purpose: expanded by the container's shell
# containerd driving RUNTIME through its io.containerd.runc.v2 shim
# (`ctr run --runc-binary RUNTIME`), on a private containerd. See lib.sh for
# the arguments and the output.
#
#   containerd.sh RUNTIME WORKDIR [SCENARIO...]

ALL="run-exit-code detached-exec ps pause-resume metrics kill tty delete"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
engine_init containerd "$@"

NS=huskeng
C=$T/bin/ctr
LOOP='trap "exit 0" TERM; while :; do sleep 0.2; done'
# A loop that ignores SIGTERM: only SIGKILL ends it.
STUBBORN='trap "" TERM; while :; do sleep 0.2; done'

# The options of every `ctr run`: the runtime, its state directory (--root,
# which the shim suffixes with the namespace), the fifos, and the cgroup.
opts() {
    echo "--runc-binary $RUNTIME --runc-root $T/runtime-root --fifo-dir $T/fifo --cgroup /$CGPARENT/$1"
}

# status ID: the task's STATUS column in `ctr task ls`.
status() { "$C" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
# task_pid ID: its PID column.
task_pid() { "$C" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }

# start_detached ID SCRIPT: `ctr run -d`, and waits for RUNNING.
start_detached() {
    # shellcheck disable=SC2046 # opts is a list of words
    try "$C" run -d $(opts "$1") "$IMAGE" "$1" sh -c "$2"
    [ "$rc" = 0 ] && wait_for 20 sh -c "[ \"\$('$C' task ls | awk '\$1 == \"$1\" { print \$3 }')\" = RUNNING ]"
}

# remove ID: the task (forced) and the container.
remove() {
    "$C" task delete --force "$1" >/dev/null 2>&1
    "$C" container delete "$1" >/dev/null 2>&1
}

scen_run-exit-code() {
    # shellcheck disable=SC2046
    try "$C" run --rm $(opts r1) "$IMAGE" r1 sh -c 'echo hello-from-ctr; exit 3'
    if [ "$rc" != 3 ]; then
        fail run-exit-code "ctr run exited $rc, want 3: $(oneline "$out")"
    elif [ "$out" != hello-from-ctr ]; then
        fail run-exit-code "output '$(oneline "$out")', want hello-from-ctr"
    else
        pass run-exit-code
    fi
    remove r1
}

scen_detached-exec() {
    if ! start_detached d1 "$LOOP"; then
        fail detached-exec "ctr run -d: rc=$rc $(oneline "$out"), status $(status d1)"
        remove d1
        return
    fi
    try "$C" task exec --exec-id e1 d1 sh -c 'echo "exec-out $(cat /proc/1/comm)"; exit 5'
    if [ "$rc" != 5 ]; then
        fail detached-exec "ctr task exec exited $rc, want 5: $(oneline "$out")"
    else
        expect detached-exec "exec output" "$out" "exec-out sh"
    fi
    # d1 stays for ps, pause-resume, metrics and kill.
}

scen_ps() {
    local pid
    pid=$(task_pid d1)
    try "$C" task ps d1
    if [ "$rc" != 0 ]; then
        fail ps "ctr task ps: rc=$rc $(oneline "$out")"
    elif [ -z "$pid" ] || ! awk 'NR > 1 { print $1 }' <<<"$out" | grep -qx "$pid"; then
        fail ps "the task's pid '$pid' is not in: $(oneline "$out")"
    else
        pass ps
    fi
}

scen_pause-resume() {
    local freezer=/sys/fs/cgroup/freezer/$CGPARENT/d1/freezer.state
    [ -f /sys/fs/cgroup/cgroup.controllers ] && freezer=/sys/fs/cgroup/$CGPARENT/d1/cgroup.freeze
    try "$C" task pause d1
    if [ "$rc" != 0 ]; then
        fail pause-resume "ctr task pause: rc=$rc $(oneline "$out")"
        return
    fi
    local paused frozen
    paused=$(status d1) frozen=$(cat "$freezer" 2>&1)
    try "$C" task resume d1
    if [ "$paused" != PAUSED ] || ! [[ $frozen == FROZEN || $frozen == 1 ]]; then
        fail pause-resume "after pause: status '$paused', $freezer '$frozen'"
    elif [ "$rc" != 0 ]; then
        fail pause-resume "ctr task resume: rc=$rc $(oneline "$out")"
    elif [ "$(status d1)" != RUNNING ]; then
        fail pause-resume "after resume: status '$(status d1)', $freezer '$(cat "$freezer" 2>&1)'"
    else
        # Running again: an exec answers.
        try "$C" task exec --exec-id e2 d1 echo alive
        expect pause-resume "exec after resume" "$out" alive
    fi
}

scen_metrics() {
    try "$C" task metrics --format json d1
    local pids mem
    pids=$(jq -r '.pids.current // 0' <<<"$out" 2>/dev/null)
    mem=$(jq -r '.memory.usage.usage // 0' <<<"$out" 2>/dev/null)
    if [ "$rc" != 0 ]; then
        fail metrics "ctr task metrics: rc=$rc $(oneline "$out")"
    elif ! [ "${pids:-0}" -ge 1 ] 2>/dev/null || ! [ "${mem:-0}" -gt 0 ] 2>/dev/null; then
        fail metrics "pids.current '$pids' and memory usage '$mem' should be > 0: $(oneline "$out")"
    else
        pass metrics
    fi
}

scen_kill() {
    # SIGTERM ends d1 through its trap (exit 0); SIGKILL ends one that
    # ignores SIGTERM (exit 137).
    try "$C" task kill d1
    if [ "$rc" != 0 ]; then
        fail kill "ctr task kill d1: rc=$rc $(oneline "$out")"
        remove d1
        return
    fi
    wait_for 20 sh -c "[ \"\$('$C' task ls | awk '\$1 == \"d1\" { print \$3 }')\" = STOPPED ]"
    try "$C" task delete d1
    local term_out=$out term_rc=$rc
    remove d1
    if ! start_detached k1 "$STUBBORN"; then
        fail kill "ctr run -d k1: rc=$rc $(oneline "$out")"
        remove k1
        return
    fi
    try "$C" task kill --signal SIGKILL k1
    local kill_rc=$rc kill_out=$out
    wait_for 20 sh -c "[ \"\$('$C' task ls | awk '\$1 == \"k1\" { print \$3 }')\" = STOPPED ]"
    try "$C" task delete k1
    remove k1
    if [ "$term_rc" != 0 ] || [ "$term_out" != "" ]; then
        # ctr warns of the exit code when it is not 0.
        fail kill "after SIGTERM, task delete: rc=$term_rc '$(oneline "$term_out")', want exit code 0"
    elif [ "$kill_rc" != 0 ]; then
        fail kill "ctr task kill --signal SIGKILL: rc=$kill_rc $(oneline "$kill_out")"
    elif ! grep -q 'exit code 137' <<<"$out"; then
        fail kill "after SIGKILL, task delete: '$(oneline "$out")', want exit code 137"
    else
        pass kill
    fi
}

scen_tty() {
    tm_shell_check tty ctr-tty "$C run -t --rm $(opts t1) $IMAGE t1 sh"
    remove t1
}

scen_delete() {
    if ! start_detached x1 "$LOOP"; then
        fail delete "ctr run -d: rc=$rc $(oneline "$out")"
        remove x1
        return
    fi
    local pid
    pid=$(task_pid x1)
    try "$C" task delete x1
    local plain_rc=$rc plain_out=$out
    try "$C" task delete --force x1
    local force_rc=$rc force_out=$out
    try "$C" container delete x1
    local cdel_rc=$rc cdel_out=$out
    local state=$T/runtime-root/$NS/x1 cg
    cg=$(find /sys/fs/cgroup -maxdepth 3 -type d -path "*/$CGPARENT/x1" 2>/dev/null | head -1)
    if [ "$plain_rc" = 0 ]; then
        fail delete "ctr task delete of a running task succeeded: $(oneline "$plain_out")"
    elif [ "$force_rc" != 0 ]; then
        fail delete "ctr task delete --force: rc=$force_rc $(oneline "$force_out")"
    elif [ "$cdel_rc" != 0 ]; then
        fail delete "ctr container delete: rc=$cdel_rc $(oneline "$cdel_out")"
    elif [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        fail delete "the task's process $pid is still alive"
    elif [ -e "$state" ]; then
        fail delete "the runtime's state $state is left"
    elif [ -n "$cg" ]; then
        fail delete "the cgroup $cg is left"
    elif "$C" container ls -q | grep -qx x1; then
        fail delete "container x1 still listed"
    else
        pass delete
    fi
    remove x1
}

# Clean-up of whatever a failed scenario left: every task and container.
remove_all() {
    for id in $("$C" container ls -q 2>/dev/null); do remove "$id"; done
}

wrapper ctr ctr --address "$T/containerd/sock" --namespace "$NS"
build_image || { echo "# building the image failed" >&2; exit 1; }
start_containerd || exit 1
at_exit remove_all
try "$C" images import "$T/image.tar"
[ "$rc" = 0 ] || { echo "# ctr images import failed: $out" >&2; exit 1; }
run_scenarios
