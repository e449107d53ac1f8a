#!/bin/bash
# shellcheck disable=SC2016 # single quotes on purpose: expanded by the container's shell
# Checkpoint and restore under CRIU (Debian's criu 3.17.1, built for this
# 6.1 kernel), with each runtime of /payload/checkpoint-runtimes in turn:
# Debian's runc first, which checks the scenarios themselves, then husk.
# Results as `RESULT checkpoint.<runtime>.<scenario>.<check>`; the criu
# checks once as `checkpoint.criu.*`. Scenarios:
#
#   counter     a counter loop writing `pid=$$ n=N` to its stdout (a pipe
#               to a log): checkpoint, the process gone and the container
#               removed; restore (stdout a new pipe), the counter goes on
#               from N+1, pid 1 still, the same pids in its pid namespace,
#               state running with the new host pid
#   leave       --leave-running: still running with the same pid; the image
#               restored under another id (another bundle: its own cgroup)
#               while the first goes on
#   predump     --pre-dump, then a dump with --parent-path, restored from it
#   terminal    terminal: true with --console-socket (console.py holds the
#               master), --shell-job: restored with another console socket,
#               the shell still reading and answering its terminal
#   tcp         a listener and an established connection between two of
#               the container's processes (on the host's network),
#               --tcp-established: after restore the connection still
#               echoes, the listener answers a new one
#   diff        (husk only) the mount list and state of husk's restored
#               container against runc's for the same bundle
#
# Each scenario ends with `nothing-left`: no state directory, cgroup,
# process or mount of it. /payload/checkpoint-scenarios (one line of
# names) runs some of them only, for a boot by hand (systemd-boot.sh).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. /payload/lib.sh
set -u

T=/tmp/husk-ck
RUNC=/usr/sbin/runc
HUSK=/payload/bin/husk
read -r -a RUNTIMES </payload/checkpoint-runtimes 2>/dev/null || RUNTIMES=(runc husk)
read -r -a SCENARIOS </payload/checkpoint-scenarios 2>/dev/null || SCENARIOS=(counter leave predump terminal tcp)
# Seconds a runtime command may take (criu under emulation: a few).
CT=120
mkdir -p "$T/rootfs"
for dir in bin proc sys dev tmp etc; do mkdir -p "$T/rootfs/$dir"; done
cp /bin/busybox "$T/rootfs/bin/busybox"
# The applets the containers run (each link a fork: all 400 take 20 s
# under emulation).
for applet in sh sleep cat nc timeout echo; do ln -sf busybox "$T/rootfs/bin/$applet"; done
oneline() { printf '%s' "$1" | tr '\n\r' '  ' | cut -c1-600; }
runtime_path() { case $1 in runc) echo "$RUNC" ;; husk) echo "$HUSK" ;; esac; }

# out, rc: the output and exit code of the last `rt ARGS...` (the runtime
# under test, with its state in $T/$RT/state).
rt() {
    out=$(timeout -k 5 "$CT" "$RTPATH" --root "$T/$RT/state" "$@" 2>&1 </dev/null)
    rc=$?
}
# The tail of CRIU's log in DIR for a failure's detail.
criu_log() { grep -h -B2 -A1 -i error "$1"/*.log 2>/dev/null | tail -n 6 | tr '\n' ' ' | cut -c1-400; }
# After a failed CRIU call: the end of its log in DIR, for the report.
show_log() {
    local log
    for log in "$1"/*.log; do
        [ -e "$log" ] || continue
        echo "# $log:"
        { grep -E 'Error|Warn' "$log" | tail -n 15; tail -n 10 "$log"; } | cut -c1-300 | sed 's/^/#   /'
    done
}

# bundle NAME JQ-FILTER: $T/$RT/NAME with runc's default config, a
# read-only busybox root, its cgroup /husk-ck/RT-NAME, then the filter.
# /tmp's tmpfs names its mode: without one, a tmpfs takes its directory's
# mode, which runc 1.1.5 sets by a chmod after the mount and runc 1.2 and
# later (husk with them) by a mode= in the mount data, and mountinfo shows
# only the latter; an explicit mode makes both runtimes' mountinfo alike.
bundle() {
    B=$T/$RT/$1
    mkdir -p "$B"
    (cd "$B" && "$RUNC" spec)
    jq --arg root "$T/rootfs" --arg cg "/husk-ck/$RT-$1" \
        '.root = {path: $root, readonly: true} | .process.terminal = false | .linux.cgroupsPath = $cg
        | .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]}]'" | $2" \
        "$B/config.json" >"$B/config.new" && mv "$B/config.new" "$B/config.json"
}
args() { jq -nc --arg s "$1" '["sh", "-c", $s]'; }

# start ID LOG [RUNTIME-ARGS...]: `run -d` of $B as ID, stdin /dev/null, its
# stdout and stderr a pipe into LOG (a pipe, as runc's own tests have it:
# the runtime hands CRIU the restored process's new stdio for it).
start_logged() {
    local id=$1 log=$2
    shift 2
    timeout -k 5 "$CT" "$RTPATH" --root "$T/$RT/state" run -d --bundle "$B" "$@" "$id" </dev/null > >(cat >>"$log") 2>&1
    rc=$?
}
# restore_logged ID LOG [RUNTIME-ARGS...]: `restore -d` of $B as ID, likewise.
restore_logged() {
    local id=$1 log=$2
    shift 2
    timeout -k 5 "$CT" "$RTPATH" --root "$T/$RT/state" restore -d --bundle "$B" "$@" "$id" </dev/null > >(cat >>"$log") 2>&1
    rc=$?
}
state_field() { "$RTPATH" --root "$T/$RT/state" state "$1" 2>/dev/null | jq -r ".$2"; }
# The last counter value in LOG, and the first.
last_n() { sed -n 's/.*n=\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
first_n() { sed -n 's/.*n=\([0-9]*\).*/\1/p' "$1" | head -n 1; }
lines() { grep -c 'n=' "$1" 2>/dev/null || echo 0; }
# The container's processes as seen in its pid namespace, "NSPID:COMMAND"
# for each process of its cgroup /husk-ck/K but the loop's passing
# `sleep 0.2`, sorted.
ns_pids() {
    local pid cmd
    for pid in $(cat "/sys/fs/cgroup/husk-ck/$1/cgroup.procs" 2>/dev/null); do
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-12)
        [ "$cmd" = "sleep 0.2 " ] || echo "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status"):$cmd"
    done | sort | tr '\n' ' '
}
# leftovers K ID: what is left of container ID of bundle K (RUNTIME-NAME:
# the bundle $T/RUNTIME/NAME, the cgroup /husk-ck/K, the mark ck-K on the
# init's command line): its state directory, its cgroup, processes, mounts
# of its bundle or of CRIU's restore root.
leftovers() {
    local k=$1 id=$2
    [ -e "$T/$RT/state/$id" ] && echo "state $T/$RT/state/$id"
    [ -d "/sys/fs/cgroup/husk-ck/$k" ] && echo "cgroup /husk-ck/$k"
    pgrep -f "ck-$k\$" | sed 's/^/process /'
    grep -E " $T/${k%%-*}/${k#*-}[ /]| /tmp/.criu" /proc/self/mountinfo | awk '{print "mount " $5}'
}
# finish SCENARIO K:ID...: kill and delete the containers, then check
# nothing-left of any.
finish() {
    local s=$1 pair left=""
    shift
    for pair; do
        rt kill "${pair#*:}" KILL
        wait_until 10 sh -c "[ \"\$($RTPATH --root $T/$RT/state state ${pair#*:} 2>/dev/null | jq -r .status)\" != running ]"
        rt delete --force "${pair#*:}"
    done
    for pair; do
        wait_until 10 sh -c "[ -z \"\$(pgrep -f 'ck-${pair%%:*}\$')\" ] && [ ! -d /sys/fs/cgroup/husk-ck/${pair%%:*} ]"
        left="$left$(leftovers "${pair%%:*}" "${pair#*:}" | tr '\n' ' ')"
    done
    check "$N.$s.nothing-left" "${left:-no state, cgroup, process or mount of $*}" [ -z "$left" ]
}
# A loop that prints its pid and an increasing count; MARK names it for
# pgrep (its command line carries it).
counter() { echo "sleep 1000 & i=0; while :; do echo \"pid=\$\$ n=\$i\"; i=\$((i + 1)); sleep 0.2; done # ck-$RT-$1"; }

# --- criu itself -------------------------------------------------------------
criu_checks() {
    local out
    phase checkpoint.criu
    out=$(criu check 2>&1)
    check checkpoint.criu.check "$(criu --version | head -1): $(oneline "$out")" [ "$out" = "Looks good." ]
    for feature in mem_dirty_track tcp_half_closed; do
        phase "checkpoint.criu.$feature"
        out=$(criu check --feature "$feature" 2>&1)
        check "checkpoint.criu.feature-$feature" "$(oneline "$out")" grep -q "is supported" <<<"$out"
    done
}

# --- counter -----------------------------------------------------------------
scenario_counter() {
    local s=counter id=ck-$RT-counter log1=$T/$RT/counter-1.log log2=$T/$RT/counter-2.log pid1 pid2 n1 n2 pids1 pids2 status
    bundle counter ".process.args = $(args "$(counter counter)")"
    start_logged "$id" "$log1"
    check "$N.$s.run" "run -d: rc=$rc $(oneline "$(cat "$log1")")" [ $rc = 0 ]
    wait_until 30 sh -c "[ \$(grep -c n= $log1) -ge 5 ]"
    pid1=$(state_field "$id" pid)
    pids1=$(ns_pids "$RT-counter")
    # runc's init is a session leader (nsexec's setsid): CRIU dumps no
    # process whose session is led from outside its pid namespace.
    local session
    session=$(awk '{ print $6 }' "/proc/$pid1/stat" 2>&1)
    check "$N.$s.session-leader" "init $pid1, session $session" [ "$session" = "$pid1" ]
    rt checkpoint --image-path "$T/$RT/counter-img" --work-path "$T/$RT/counter-work" "$id"
    check "$N.$s.checkpoint" "rc=$rc $(oneline "$out") $(criu_log "$T/$RT/counter-work")" [ $rc = 0 ]
    [ $rc = 0 ] || show_log "$T/$RT/counter-work"
    rt state "$id"
    status=$rc
    [ $rc = 0 ] && wait_until 10 sh -c "[ ! -d /proc/$pid1 ]"
    check "$N.$s.gone" "init $pid1 $( [ -d "/proc/$pid1" ] && echo alive || echo gone); state rc=$status; $(leftovers "$RT-counter" "$id" | tr '\n' ' ')" \
        eval "[ ! -d /proc/$pid1 ] && [ $status != 0 ] && [ -z \"\$(leftovers $RT-counter $id)\" ]"
    # What the old pipe still held reaches the log.
    sleep 1
    n1=$(last_n "$log1")
    restore_logged "$id" "$log2" --image-path "$T/$RT/counter-img" --work-path "$T/$RT/counter-rwork"
    check "$N.$s.restore" "rc=$rc $(oneline "$(cat "$log2")") $(criu_log "$T/$RT/counter-rwork")" [ $rc = 0 ]
    [ $rc = 0 ] || show_log "$T/$RT/counter-rwork"
    pid2=$(state_field "$id" pid)
    status=$(state_field "$id" status)
    check "$N.$s.state" "status $status, pid $pid2 (was $pid1)" \
        eval "[ '$status' = running ] && [ -n '$pid2' ] && [ '$pid2' != '$pid1' ] && [ -d /proc/$pid2 ]"
    [ $rc = 0 ] && wait_until 20 sh -c "[ \$(grep -c n= $log2) -ge 2 ]"
    n2=$(first_n "$log2")
    check "$N.$s.cgroup" "the restored init in $(cat "/proc/$pid2/cgroup" 2>&1), want /husk-ck/$RT-counter" \
        grep -qx "0::/husk-ck/$RT-counter" "/proc/$pid2/cgroup"
    check "$N.$s.continues" "last before: n=$n1; first after: $(head -n 1 "$log2")" \
        eval "[ -n '$n1' ] && [ '$(head -n 1 "$log2")' = 'pid=1 n=$((n1 + 1))' ]"
    pids2=$(ns_pids "$RT-counter")
    check "$N.$s.same-pids" "before: $pids1; after: $pids2" eval "[ -n '$pids1' ] && [ '$pids1' = '$pids2' ]"
    finish $s "$RT-counter:$id"
}

# --- leave-running --------------------------------------------------------------
scenario_leave() {
    local s=leave id=ck-$RT-leave id2=ck-$RT-leave2 log1=$T/$RT/leave-1.log log2=$T/$RT/leave-2.log pid1 n0 n1 first
    bundle leave ".process.args = $(args "$(counter leave)")"
    start_logged "$id" "$log1"
    wait_until 30 sh -c "[ \$(grep -c n= $log1) -ge 3 ]"
    pid1=$(state_field "$id" pid)
    n0=$(last_n "$log1")
    rt checkpoint --leave-running --image-path "$T/$RT/leave-img" --work-path "$T/$RT/leave-work" "$id"
    check "$N.$s.checkpoint" "rc=$rc $(oneline "$out") $(criu_log "$T/$RT/leave-work")" [ $rc = 0 ]
    [ $rc = 0 ] || show_log "$T/$RT/leave-work"
    n1=$(last_n "$log1")
    [ $rc = 0 ] && wait_until 10 sh -c "[ \"\$(sed -n 's/.*n=\([0-9]*\).*/\1/p' $log1 | tail -n 1)\" -gt ${n1:-0} ]"
    check "$N.$s.still-running" "status $(state_field "$id" status), pid $(state_field "$id" pid) (was $pid1), n=$n1 then n=$(last_n "$log1")" \
        eval "[ \"\$(state_field $id status)\" = running ] && [ \"\$(state_field $id pid)\" = $pid1 ] && [ \$(last_n $log1) -gt ${n1:-0} ]"
    # The image under another id, from a bundle with its own cgroup.
    bundle leave2 ".process.args = $(args "$(counter leave2)")"
    restore_logged "$id2" "$log2" --image-path "$T/$RT/leave-img" --work-path "$T/$RT/leave-rwork"
    [ $rc = 0 ] && wait_until 20 sh -c "[ \$(grep -c n= $log2) -ge 1 ]"
    first=$(first_n "$log2")
    check "$N.$s.restore-other-id" "rc=$rc $(oneline "$out") status $(state_field "$id2" status), cgroup $(cat /proc/"$(state_field "$id2" pid)"/cgroup 2>&1) [$(ls /sys/fs/cgroup/husk-ck | tr '\n' ' ')]; n before the dump $n0, first restored n=${first:-none}, the first's now $(last_n "$log1") $(criu_log "$T/$RT/leave-rwork")" \
        eval "[ $rc = 0 ] && [ \"\$(state_field $id2 status)\" = running ] && [ -n '$first' ] && [ '$first' -gt '$n0' ] && [ '$first' -le \$(last_n $log1) ]"
    [ $rc = 0 ] || show_log "$T/$RT/leave-rwork"
    check "$N.$s.both-running" "$id: $(state_field "$id" status), $id2: $(state_field "$id2" status)" \
        eval "[ \"\$(state_field $id status) \$(state_field $id2 status)\" = 'running running' ]"
    # The restored one first: runc 1.1.5 on cgroup v2 restores the
    # processes into the cgroup they were dumped from (the first's), so
    # that the first's delete can remove it.
    finish $s "$RT-leave2:$id2" "$RT-leave:$id"
}

# --- pre-dump ------------------------------------------------------------------
scenario_predump() {
    local s=predump id=ck-$RT-predump log1=$T/$RT/predump-1.log log2=$T/$RT/predump-2.log n1 parent
    bundle predump ".process.args = $(args "$(counter predump)")"
    start_logged "$id" "$log1"
    wait_until 30 sh -c "[ \$(grep -c n= $log1) -ge 3 ]"
    mkdir -p "$T/$RT/predump-images"
    rt checkpoint --pre-dump --image-path "$T/$RT/predump-images/pre" --work-path "$T/$RT/predump-prework" "$id"
    check "$N.$s.pre-dump" "rc=$rc $(oneline "$out") status $(state_field "$id" status) $(criu_log "$T/$RT/predump-prework")" \
        eval "[ $rc = 0 ] && [ \"\$(state_field $id status)\" = running ]"
    [ $rc = 0 ] || show_log "$T/$RT/predump-prework"
    # CRIU takes the parent's path relative to the image directory.
    rt checkpoint --parent-path ../pre --image-path "$T/$RT/predump-images/final" --work-path "$T/$RT/predump-work" "$id"
    parent=$(readlink "$T/$RT/predump-images/final/parent" 2>&1)
    check "$N.$s.dump-with-parent" "rc=$rc $(oneline "$out"); parent link: $parent $(criu_log "$T/$RT/predump-work")" \
        eval "[ $rc = 0 ] && [ '$parent' = ../pre ]"
    [ $rc = 0 ] || show_log "$T/$RT/predump-work"
    sleep 1
    n1=$(last_n "$log1")
    restore_logged "$id" "$log2" --image-path "$T/$RT/predump-images/final" --work-path "$T/$RT/predump-rwork"
    [ $rc = 0 ] && wait_until 20 sh -c "[ \$(grep -c n= $log2) -ge 1 ]"
    check "$N.$s.restore" "rc=$rc; last before: n=$n1; first after: $(head -n 1 "$log2") $(criu_log "$T/$RT/predump-rwork")" \
        eval "[ $rc = 0 ] && [ -n '$n1' ] && [ '$(head -n 1 "$log2")' = 'pid=1 n=$((n1 + 1))' ]"
    [ $rc = 0 ] || show_log "$T/$RT/predump-rwork"
    finish $s "$RT-predump:$id"
}

# --- terminal ------------------------------------------------------------------
# console NAME: console.py on $T/$RT/NAME.sock, typed into through
# $T/$RT/NAME.in, its terminal's output in $T/$RT/NAME.log.
console() {
    local c=$T/$RT/$1
    rm -f "$c.sock" "$c.in" "$c.log" "$c.log.ready"
    mkfifo "$c.in"
    /usr/bin/python3 /payload/console.py "$c.sock" "$c.in" "$c.log" 2>"$c.err" &
    CONSOLE_PID=$!
    wait_until 10 test -S "$c.sock"
}
# type_line NAME LINE: LINE typed into console NAME (a time limit: the
# fifo's open waits for console.py).
type_line() { timeout 10 sh -c 'printf "%s\r" "$1" >"$2"' - "$2" "$T/$RT/$1.in"; }
scenario_terminal() {
    local s=terminal id=ck-$RT-terminal c1 c2 ready
    bundle terminal ".process.terminal = true | .process.args = $(args "i=0; while read -r l; do i=\$((i + 1)); echo \"echo:\$l:\$i\"; done # ck-$RT-terminal")"
    console term1
    c1=$CONSOLE_PID
    rt run -d --console-socket "$T/$RT/term1.sock" --bundle "$B" "$id"
    check "$N.$s.run" "rc=$rc $(oneline "$out") $(cat "$T/$RT/term1.log.ready" 2>&1)" [ $rc = 0 ]
    type_line term1 one
    type_line term1 two
    wait_until 20 grep -q 'echo:two:2' "$T/$RT/term1.log"
    check "$N.$s.before" "terminal: $(oneline "$(tr -d '\r' <"$T/$RT/term1.log")")" grep -q 'echo:two:2' "$T/$RT/term1.log"
    rt checkpoint --shell-job --image-path "$T/$RT/terminal-img" --work-path "$T/$RT/terminal-work" "$id"
    check "$N.$s.checkpoint" "rc=$rc $(oneline "$out") $(criu_log "$T/$RT/terminal-work")" [ $rc = 0 ]
    [ $rc = 0 ] || show_log "$T/$RT/terminal-work"
    wait_until 10 sh -c "! kill -0 $c1 2>/dev/null" || kill "$c1" 2>/dev/null
    console term2
    c2=$CONSOLE_PID
    rt restore -d --shell-job --console-socket "$T/$RT/term2.sock" --image-path "$T/$RT/terminal-img" \
        --work-path "$T/$RT/terminal-rwork" --bundle "$B" "$id"
    ready=$([ $rc = 0 ] && wait_until 20 test -s "$T/$RT/term2.log.ready" && cat "$T/$RT/term2.log.ready")
    check "$N.$s.restore" "rc=$rc $(oneline "$out"); console: ${ready:-no master received} $(criu_log "$T/$RT/terminal-rwork")" \
        eval "[ $rc = 0 ] && [ -n '$ready' ]"
    [ $rc = 0 ] || show_log "$T/$RT/terminal-rwork"
    [ -n "$ready" ] && type_line term2 three && wait_until 20 grep -q 'echo:three:3' "$T/$RT/term2.log"
    check "$N.$s.after" "terminal: $(oneline "$(tr -d '\r' <"$T/$RT/term2.log" 2>&1)")" grep -q 'echo:three:3' "$T/$RT/term2.log"
    finish $s "$RT-terminal:$id"
    kill "$c2" 2>/dev/null
    wait "$c2" 2>/dev/null
}

# --- tcp -----------------------------------------------------------------------
scenario_tcp() {
    local s=${1:-tcp}
    local id=ck-$RT-$s log1=$T/$RT/$s-1.log log2=$T/$RT/$s-2.log n1 answer port=$((7000 + ${#RT}))
    # The host's network: with a network namespace of its own, runc 1.1.5
    # and criu 3.17 restore the established socket before the namespace's
    # loopback is up ("Can't connect inet socket back: Network is
    # unreachable"). A port per runtime: the same loopback for both.
    local net=' | .linux.namespaces |= map(select(.type != "network"))'
    # An echo server on 7000 (cat per connection), and a client that keeps
    # one connection to it, sending `n=N` lines whose echoes are its output.
    bundle $s ".process.args = $(args "nc -ll -p $port -e cat & sleep 1; i=0; while :; do echo \"pid=\$\$ n=\$i\"; i=\$((i + 1)); sleep 0.3; done | nc 127.0.0.1 $port # ck-$RT-$s")$net"
    start_logged "$id" "$log1"
    wait_until 30 sh -c "[ \$(grep -c n= $log1) -ge 3 ]"
    check "$N.$s.connected" "run -d rc=$rc; echoes: $(lines "$log1")" [ "$(lines "$log1")" -ge 3 ]
    rt checkpoint --tcp-established --image-path "$T/$RT/$s-img" --work-path "$T/$RT/$s-work" "$id"
    check "$N.$s.checkpoint" "rc=$rc $(oneline "$out") $(criu_log "$T/$RT/$s-work")" [ $rc = 0 ]
    [ $rc = 0 ] || show_log "$T/$RT/$s-work"
    sleep 0.5
    n1=$(last_n "$log1")
    restore_logged "$id" "$log2" --tcp-established --image-path "$T/$RT/$s-img" --work-path "$T/$RT/$s-rwork"
    check "$N.$s.restore" "rc=$rc $(oneline "$(cat "$log2")") $(criu_log "$T/$RT/$s-rwork")" [ $rc = 0 ]
    [ $rc = 0 ] || show_log "$T/$RT/$s-rwork"
    [ $rc = 0 ] && wait_until 20 sh -c "[ \$(grep -c n= $log2) -ge 2 ]"
    check "$N.$s.established" "last echo before: n=$n1; after: $(oneline "$(head -n 2 "$log2")")" \
        eval "[ -n '$n1' ] && [ \"\$(first_n $log2)\" -gt '$n1' ]"
    rt exec "$id" sh -c "echo hello-listener | timeout 3 nc 127.0.0.1 $port"
    answer=$out
    check "$N.$s.listener" "exec nc: rc=$rc '$(oneline "$answer")'" grep -q hello-listener <<<"$answer"
    finish $s "$RT-$s:$id"
}

# --- differential: runc's and husk's restored containers -----------------------
# diff_side: runc's bundle $T/runc/diff run, checkpointed and restored by
# $RT; the restored init's mounts (mount point, type, per-mount and fs
# options: no ids, no sources, sorted) and its state's fields (but
# ociVersion: runc 1.1.5 says 1.0.2-dev) in $T/diff-RT.*;
# then nothing left of it. One side at a time: the bundle has one cgroup.
diff_side() {
    local id=ck-$RT-diff pid log=$T/$RT/diff.log
    B=$T/runc/diff
    start_logged "$id" "$log"
    wait_until 30 sh -c "[ \$(grep -c n= $log) -ge 2 ]"
    pid=$(state_field "$id" pid)
    mounts "$pid" >"$T/diff-$RT.before"
    rt checkpoint --image-path "$T/$RT/diff-img" --work-path "$T/$RT/diff-work" "$id"
    restore_logged "$id" "$T/$RT/diff-2.log" --image-path "$T/$RT/diff-img" --work-path "$T/$RT/diff-rwork"
    DIFF_RC=$rc
    pid=$(state_field "$id" pid)
    mounts "$pid" >"$T/diff-$RT.mounts"
    "$RTPATH" --root "$T/$RT/state" state "$id" 2>&1 | jq -S '{status, bundle, rootfs, annotations}' >"$T/diff-$RT.state" 2>&1
    finish diff "runc-diff:$id"
}
mounts() {
    awk '{ for (i = 7; $i != "-"; i++); print $5, $(i + 1), $6, $(i + 3) }' "/proc/$1/mountinfo" 2>&1 | sort
}
scenario_diff() {
    local s=diff saved_rt=$RT saved_path=$RTPATH runc_rc
    RT=runc RTPATH=$RUNC N=checkpoint.$saved_rt.runc-side
    bundle diff ".process.args = $(args "$(counter diff)")"
    diff_side
    runc_rc=$DIFF_RC
    RT=$saved_rt RTPATH=$saved_path N=checkpoint.$saved_rt
    diff_side
    check "$N.$s.restored" "runc restore rc=$runc_rc, $RT restore rc=$DIFF_RC" eval "[ $runc_rc = 0 ] && [ $DIFF_RC = 0 ]"
    # What a restore changes in the mounts (runc's: the read-only root comes
    # back read-write), the same for both.
    diff "$T/diff-runc.before" "$T/diff-runc.mounts" >"$T/diff-runc.change"
    diff "$T/diff-$RT.before" "$T/diff-$RT.mounts" >"$T/diff-$RT.change"
    check "$N.$s.mounts-change" "runc's: $(oneline "$(cat "$T/diff-runc.change")"); $RT's: $(oneline "$(cat "$T/diff-$RT.change")")" \
        eval "[ -s $T/diff-$RT.before ] && cmp -s $T/diff-runc.change $T/diff-$RT.change"
    check "$N.$s.mounts" "runc's restored against $RT's: $(oneline "$(diff "$T/diff-runc.mounts" "$T/diff-$RT.mounts" 2>&1)")" \
        eval "[ -s $T/diff-runc.mounts ] && cmp -s $T/diff-runc.mounts $T/diff-$RT.mounts"
    check "$N.$s.state" "runc's against $RT's: $(oneline "$(diff "$T/diff-runc.state" "$T/diff-$RT.state" 2>&1)")" \
        eval "[ -s $T/diff-runc.state ] && cmp -s $T/diff-runc.state $T/diff-$RT.state"
}

criu_checks
for RT in "${RUNTIMES[@]}"; do
    RTPATH=$(runtime_path "$RT")
    N=checkpoint.$RT
    mkdir -p "$T/$RT/state"
    for scenario in "${SCENARIOS[@]}"; do
        phase "$N.$scenario"
        "scenario_$scenario"
    done
    if [ "$RT" != runc ] && [[ " ${SCENARIOS[*]} " == *" counter "* ]]; then
        phase "$N.diff"
        scenario_diff
    fi
done
phase checkpoint.done
rmdir /sys/fs/cgroup/husk-ck 2>/dev/null

