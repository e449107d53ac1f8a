#!/bin/sh
# cgroup scenarios: husk's cgroup features end to end, on a cgroup v1 (or
# hybrid) host or a cgroup v2 host. POSIX sh: runs under dash and busybox sh.
#
#   cgroup-scenarios.sh HUSK ROOTFS WORKDIR [SCENARIO...]
#
# HUSK     the husk binary (any runc-compatible runtime works: running the
#          script with runc checks the script itself)
# ROOTFS   a busybox root filesystem (oci-bundles/rootfs-busybox.sh); used
#          read-only, by absolute root.path, by every bundle
# WORKDIR  scratch space; the script works in WORKDIR/scen-PID and removes it
# SCENARIO any of the names in ALL below (default: $HUSK_SCENARIOS, else all)
#
# Prints one line per check, `RESULT <scenario>.<check> PASS` or
# `RESULT <scenario>.<check> FAIL <reason>`, `SKIP <scenario>.<check> <reason>`
# for a check this host cannot make, and `SCENARIOS DONE` at the end. Every
# container gets an absolute linux.cgroupsPath /husk-scen-<name>-PID, so its
# cgroup is /sys/fs/cgroup/husk-scen-… on v2 and
# /sys/fs/cgroup/<controller>/husk-scen-… on v1. Each scenario ends by
# deleting its containers and checking that their cgroups are gone from every
# hierarchy (<scenario>.cgroup-removed); whatever a failed husk leaves behind
# is then removed by the script, so nothing outlives it.
# HUSK_SCEN_KEEP=1 keeps WORKDIR/scen-PID (bundles, outputs) for a post-mortem.

# shellcheck disable=SC2016 # single quotes on purpose: for the container or eval
set -u

ALL="basic memory pids cpu devices pause update ps events affinity limits stats cleanup nested differential"

if [ $# -lt 3 ]; then
    echo "usage: $0 HUSK ROOTFS WORKDIR [SCENARIO...]   (scenarios: $ALL)" >&2
    exit 2
fi
HUSK=$1 ROOTFS=$2 WORK=$3
shift 3
if [ $# -eq 0 ]; then
    # shellcheck disable=SC2086 # a list of words
    set -- ${HUSK_SCENARIOS:-$ALL}
fi

case $HUSK in
    /*) ;;
    */*) HUSK=$(pwd)/$HUSK ;;
    *) _found=$(command -v "$HUSK") || { echo "$0: no $HUSK on PATH" >&2; exit 2; }; HUSK=$_found ;;
esac
[ -x "$HUSK" ] || { echo "$0: $HUSK is not executable" >&2; exit 2; }
ROOTFS=$(cd "$ROOTFS" 2>/dev/null && pwd -P) || { echo "$0: no rootfs directory $2" >&2; exit 2; }
[ -x "$ROOTFS/bin/sh" ] || { echo "$0: $ROOTFS has no /bin/sh" >&2; exit 2; }
mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd -P) || exit 2
case $ROOTFS$WORK in
    *[\"\\]*) echo "$0: paths with quotes or backslashes are not supported" >&2; exit 2 ;;
esac

RUN=$WORK/scen-$$
STATE=$RUN/state
mkdir -p "$STATE" || exit 2

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then CGMODE=v2; else CGMODE=v1; fi

# ---------------------------------------------------------------------------
# Reporting

pass() { echo "RESULT $1 PASS"; }
fail() { echo "RESULT $1 FAIL $2"; }
skip() { echo "SKIP $1 $2"; }
# fail_all REASON NAME...: the checks that cannot be made after a failed step
fail_all() {
    _reason=$1
    shift
    for _n in "$@"; do fail "$_n" "$_reason"; done
}
# check NAME REASON-IF-FAILED COMMAND...
check() {
    _name=$1 _reason=$2
    shift 2
    if "$@"; then pass "$_name"; else fail "$_name" "$_reason"; fi
}
# A file's contents on one line, cut short: for FAIL reasons.
oneline() {
    if [ -e "$1" ]; then tr '\n' ' ' <"$1" | cut -c1-400; else echo "<no $1>"; fi
}
# The contents of a file, or <missing PATH>.
val() {
    if [ -r "$1" ]; then cat "$1" 2>/dev/null; else echo "<missing $1>"; fi
}

# ---------------------------------------------------------------------------
# cgroup paths

# cgdir CONTROLLER CGPATH: the directory of CGPATH in CONTROLLER's hierarchy.
cgdir() {
    if [ $CGMODE = v2 ]; then echo "/sys/fs/cgroup$2"; else echo "/sys/fs/cgroup/$1$2"; fi
}
# Every mounted hierarchy: the v2 root, or each v1 directory (plus unified).
hierarchies() {
    if [ $CGMODE = v2 ]; then
        echo /sys/fs/cgroup
    else
        for _h in /sys/fs/cgroup/*; do [ -d "$_h" ] && echo "$_h"; done
    fi
}
# The v1 controllers husk must place a container in, among those mounted.
v1_controllers() {
    for _c in cpu cpuacct cpuset devices freezer memory pids blkio; do
        [ -d "/sys/fs/cgroup/$_c" ] && echo "$_c"
    done
}
# The cgroup directories named NAME (anywhere: the default cgroup path of a
# container without cgroupsPath is not known here), depth 6 at most.
find_named() {
    for _h in $(hierarchies); do
        find "$_h" -maxdepth 6 -type d -name "$1" 2>/dev/null
    done
}

# Kill what is left in a cgroup directory tree and remove it.
rm_cgroup() {
    find "$1" -depth -type d 2>/dev/null | while read -r _d; do
        [ -f "$_d/cgroup.freeze" ] && echo 0 >"$_d/cgroup.freeze" 2>/dev/null
        [ -f "$_d/freezer.state" ] && echo THAWED >"$_d/freezer.state" 2>/dev/null
        if [ -f "$_d/cgroup.kill" ]; then
            echo 1 >"$_d/cgroup.kill" 2>/dev/null
        else
            for _p in $(cat "$_d/cgroup.procs" 2>/dev/null); do kill -9 "$_p" 2>/dev/null; done
        fi
        _i=0
        while ! rmdir "$_d" 2>/dev/null && [ $_i -lt 50 ]; do
            sleep 0.1
            _i=$((_i + 1))
        done
    done
}

# ---------------------------------------------------------------------------
# Bundles and containers

ALL_IDS="" ALL_CGS="" BG_PIDS="" RUNC_IDS=""
SCEN_IDS="" SCEN_CGS=""

# JSON string and array of strings.
jstr() {
    _s=$(printf '%s\n' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n/\\n/g')
    printf '"%s"' "$_s"
}
jargs() {
    _out=""
    for _a in "$@"; do _out="$_out${_out:+,}$(jstr "$_a")"; done
    printf '[%s]' "$_out"
}

# new_bundle NAME ARGS-JSON RESOURCES [CAPS]
# Writes RUN/NAME/config.json and sets B (bundle), ID (container id) and CG
# (cgroupsPath). RESOURCES is JSON members of linux.resources, which also
# gets the default deny-all device rule unless RESOURCES has "devices"; or
# "none" for no linux.resources and no cgroupsPath at all. CAPS is extra
# quoted capability names ("CAP_MKNOD"). Strings in ARGS-JSON: no tabs.
# The container's /tmp is RUN/NAME/out, writable, so the host sees its files.
new_bundle() {
    B=$RUN/$1 ID=scen-$1-$$ CG=/husk-scen-$1-$$
    mkdir -p "$B/out"
    chmod 1777 "$B/out"
    _caps='"CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"'"${4:+,$4}"
    if [ "$3" = none ]; then
        _cgroup=""
        CG=""
    else
        case $3 in
            *'"devices"'*) _resources="{$3}" ;;
            *) _resources="{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]${3:+, $3}}" ;;
        esac
        _cgroup="\"cgroupsPath\": \"$CG\",
    \"resources\": $_resources,"
        SCEN_CGS="$SCEN_CGS $CG"
        ALL_CGS="$ALL_CGS $CG"
    fi
    SCEN_IDS="$SCEN_IDS $ID"
    ALL_IDS="$ALL_IDS $ID"
    cat >"$B/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": $2,
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
    "cwd": "/",
    "capabilities": {
      "bounding": [$_caps],
      "effective": [$_caps],
      "inheritable": [$_caps],
      "permitted": [$_caps],
      "ambient": [$_caps]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "$ROOTFS", "readonly": true},
  "hostname": "scen",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    {"destination": "/tmp", "type": "bind", "source": "$B/out", "options": ["rbind", "rw"]}
  ],
  "linux": {
    $_cgroup
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}

# husk with the scenario state root, bounded in time.
H() { timeout 60 "$HUSK" --root "$STATE" "$@"; }

# Foreground run of bundle B as ID: sets RC; output in B/fg.out, B/fg.err.
run_fg() {
    H run --bundle "$B" "$ID" >"$B/fg.out" 2>"$B/fg.err" </dev/null
    RC=$?
}
# Detached run of bundle B as ID; on failure sets WHY and returns 1. The
# output goes to files: the container keeps husk's stdout and stderr.
run_detached() {
    H run -d --bundle "$B" "$ID" >"$B/run.out" 2>"$B/run.err" </dev/null
    _rc=$?
    [ $_rc -eq 0 ] && return 0
    WHY="run -d exited $_rc: $(oneline "$B/run.err")"
    return 1
}
# The init pid of container $1 from `state`.
init_pid() {
    H state "$1" 2>/dev/null | sed -n 's/^ *"pid": *\([0-9][0-9]*\).*/\1/p' | head -n 1
}
# The status of container $1 from `state`.
status_of() {
    H state "$1" 2>/dev/null | sed -n 's/^ *"status": *"\([a-z]*\)".*/\1/p' | head -n 1
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
    _n=$(($1 * 10))
    shift
    while ! "$@"; do
        _n=$((_n - 1))
        [ $_n -le 0 ] && return 1
        sleep 0.1
    done
}

# Milliseconds since boot, from /proc/uptime (busybox date has no %N).
uptime_ms() {
    read -r _up _idle </proc/uptime
    _s=${_up%.*} _f=${_up#*.}
    echo $((_s * 1000 + ${_f#0} * 10))
}

# begin NAME / finish NAME: every scenario's frame. finish deletes the
# scenario's containers, checks that none of their cgroups is left in any
# hierarchy, and removes whatever was.
begin() {
    echo "== scenario $1"
    SCEN_IDS="" SCEN_CGS=""
}
finish() {
    for _id in $SCEN_IDS; do H delete --force "$_id" >/dev/null 2>&1; done
    _left=""
    for _cg in $SCEN_CGS; do
        for _h in $(hierarchies); do
            [ -d "$_h$_cg" ] && _left="$_left $_h$_cg"
        done
    done
    for _id in $SCEN_IDS; do
        for _d in $(find_named "*$_id*"); do _left="$_left $_d"; done
    done
    if [ -z "$_left" ]; then
        pass "$1.cgroup-removed"
    else
        fail "$1.cgroup-removed" "after delete --force, left behind:$_left"
        for _d in $_left; do rm_cgroup "$_d"; done
    fi
}

cleanup_all() {
    trap - EXIT INT TERM
    for _p in $BG_PIDS; do kill "$_p" 2>/dev/null; done
    for _id in $ALL_IDS; do H delete --force "$_id" >/dev/null 2>&1; done
    for _id in $RUNC_IDS; do
        timeout 30 runc --root "$RUN/runc-state" delete --force "$_id" >/dev/null 2>&1
    done
    for _cg in $ALL_CGS; do
        for _h in $(hierarchies); do
            [ -d "$_h$_cg" ] && rm_cgroup "$_h$_cg"
        done
    done
    [ -n "${HUSK_SCEN_KEEP:-}" ] || rm -rf "$RUN"
}
trap cleanup_all EXIT
trap 'cleanup_all; exit 130' INT TERM

# ---------------------------------------------------------------------------
# Scenarios

# A trivial container, no resources: husk works at all on this host.
sc_basic() {
    new_bundle basic "$(jargs sh -c 'echo hello-from-husk; exit 7')" none
    run_fg
    _out=$(cat "$B/fg.out")
    check basic.run "exit $RC (want 7), stdout '$_out' (want hello-from-husk), stderr: $(oneline "$B/fg.err")" \
        eval '[ "$RC" = 7 ] && [ "$_out" = hello-from-husk ]'
}

# Memory limit: 32 MiB, swap equal to it (no swap); allocating 100 MiB gets
# the process OOM-killed, and `events` reports the OOM.
sc_memory() {
    _res='"memory": {"limit": 33554432, "swap": 33554432}'
    # tail buffers its input, waiting for the last 10 lines: /dev/zero has
    # none, so it holds all 100 MiB, as anonymous memory.
    new_bundle memory-oom "$(jargs sh -c 'head -c 104857600 /dev/zero | tail >/dev/null')" "$_res"
    run_fg
    check memory.oom-exit "husk run exited $RC, want 137 (OOM kill); stderr: $(oneline "$B/fg.err")" [ "$RC" = 137 ]

    new_bundle memory-ev "$(jargs sh -c 'while [ ! -e /tmp/go ]; do sleep 0.1; done
head -c 104857600 /dev/zero | tail >/dev/null
echo "tail exited $?" >/tmp/after
exec sleep 60')" "$_res"
    if ! run_detached; then
        fail_all "$WHY" memory.limit-file memory.swap-file memory.oom-event memory.oom-counter
        return
    fi
    _ev=$B/events.out
    timeout 60 "$HUSK" --root "$STATE" events "$ID" >"$_ev" 2>"$B/events.err" </dev/null &
    _evpid=$!
    BG_PIDS="$BG_PIDS $_evpid"

    if [ $CGMODE = v2 ]; then
        _f=$(cgdir memory "$CG")/memory.max
    else
        _f=$(cgdir memory "$CG")/memory.limit_in_bytes
    fi
    _v=$(val "$_f")
    check memory.limit-file "$_f is '$_v', want 33554432" [ "$_v" = 33554432 ]

    # swap == limit: no swap at all.
    if [ $CGMODE = v2 ]; then
        _f=$(cgdir memory "$CG")/memory.swap.max _want=0
    else
        _f=$(cgdir memory "$CG")/memory.memsw.limit_in_bytes _want=33554432
    fi
    if [ ! -e "$(dirname "$_f")" ] || [ -e "$_f" ]; then
        _v=$(val "$_f")
        check memory.swap-file "$_f is '$_v', want $_want" [ "$_v" = "$_want" ]
    else
        skip memory.swap-file "no $(basename "$_f"): swap accounting is off on this kernel"
    fi

    sleep 1 # events is watching by now
    : >"$B/out/go"
    wait_for 30 oom_reported_or_events_gone "$_ev" "$_evpid"
    if grep -q '"type": *"oom"' "$_ev"; then
        pass memory.oom-event
    else
        fail memory.oom-event "no {\"type\":\"oom\"} from events; events printed: $(oneline "$_ev") stderr: $(oneline "$B/events.err"); container: $(oneline "$B/out/after")"
    fi
    if [ $CGMODE = v2 ]; then _f=$(cgdir memory "$CG")/memory.events; else _f=$(cgdir memory "$CG")/memory.oom_control; fi
    _v=$(sed -n 's/^oom_kill \([0-9]*\)$/\1/p' "$_f" 2>/dev/null)
    check memory.oom-counter "oom_kill in $_f is '${_v}', want >= 1 ($(oneline "$_f"))" [ "${_v:-0}" -ge 1 ]
    kill "$_evpid" 2>/dev/null
    wait "$_evpid" 2>/dev/null
}

oom_reported_or_events_gone() {
    grep -q '"type": *"oom"' "$1" || ! kill -0 "$2" 2>/dev/null
}

# pids limit 10: the 10th task cannot be forked.
sc_pids() {
    new_bundle pids "$(jargs sh -c '( i=0; while [ $i -lt 15 ]; do sleep 5 & i=$((i+1)); echo $i >/tmp/started; done ) 2>/tmp/err
echo done >/tmp/loopdone
exec sleep 60')" '"pids": {"limit": 10}'
    if ! run_detached; then
        fail_all "$WHY" pids.limit-file pids.fork-fails
        return
    fi
    _f=$(cgdir pids "$CG")/pids.max
    _v=$(val "$_f")
    check pids.limit-file "$_f is '$_v', want 10" [ "$_v" = 10 ]
    if ! wait_for 20 test -e "$B/out/loopdone"; then
        fail pids.fork-fails "the fork loop did not end in 20 s; started: $(oneline "$B/out/started")"
        return
    fi
    _started=$(cat "$B/out/started" 2>/dev/null)
    if [ "${_started:-0}" -lt 15 ] && grep -qE "can't fork|Resource temporarily unavailable" "$B/out/err"; then
        pass pids.fork-fails
    else
        fail pids.fork-fails "started $_started of 15 sleeps (want fewer, with fork failing); stderr: $(oneline "$B/out/err")"
    fi
}

# CPU quota 50000/100000: the files say so, and a busy loop gets half a core.
sc_cpu() {
    new_bundle cpu "$(jargs sh -c 'while :; do :; done')" '"cpu": {"quota": 50000, "period": 100000}'
    if ! run_detached; then
        fail_all "$WHY" cpu.limit-file cpu.usage-half-core
        return
    fi
    _d=$(cgdir cpu "$CG")
    if [ $CGMODE = v2 ]; then
        _v=$(val "$_d/cpu.max")
        check cpu.limit-file "$_d/cpu.max is '$_v', want '50000 100000'" [ "$_v" = "50000 100000" ]
    else
        _q=$(val "$_d/cpu.cfs_quota_us") _p=$(val "$_d/cpu.cfs_period_us")
        check cpu.limit-file "cfs_quota_us '$_q' (want 50000), cfs_period_us '$_p' (want 100000) in $_d" \
            eval '[ "$_q" = 50000 ] && [ "$_p" = 100000 ]'
    fi
    sleep 0.5
    _u0=$(cpu_usage_us) _t0=$(uptime_ms)
    sleep 2
    _u1=$(cpu_usage_us) _t1=$(uptime_ms)
    if [ -z "$_u0" ] || [ -z "$_u1" ]; then
        fail cpu.usage-half-core "no usage counter: $(cpu_usage_file)"
        return
    fi
    _pct=$(((_u1 - _u0) * 100 / ((_t1 - _t0) * 1000)))
    echo "# cpu: the busy loop used ${_pct}% of a core over $((_t1 - _t0)) ms"
    check cpu.usage-half-core "busy loop used ${_pct}% of a core over $((_t1 - _t0)) ms, want 25-75% ($(cpu_usage_file))" \
        eval '[ "$_pct" -ge 25 ] && [ "$_pct" -le 75 ]'
}
cpu_usage_file() {
    if [ $CGMODE = v2 ]; then echo "$(cgdir cpu "$CG")/cpu.stat"; else echo "$(cgdir cpuacct "$CG")/cpuacct.usage"; fi
}
# The container's CPU time in microseconds.
cpu_usage_us() {
    if [ $CGMODE = v2 ]; then
        sed -n 's/^usage_usec \([0-9]*\)$/\1/p' "$(cpu_usage_file)" 2>/dev/null
    else
        _ns=$(cat "$(cpu_usage_file)" 2>/dev/null) && echo $((_ns / 1000))
    fi
}

# Devices: the default rules (deny all, plus the devices every container may
# use). /dev/zero and /dev/null work; a block device node and a disallowed
# char device node, made with CAP_MKNOD, cannot be opened: EPERM, the device
# cgroup's answer (without it, sda is ENXIO where there is no such disk, and
# kmsg opens). Then a rule allowing c 1:11 w lets the same open through.
# /dev/kmsg (c 1:11) is the char device because it exists on every kernel
# and needs no capability to open for writing; /dev/mem does not always exist.
DEVICE_PROBE='n=$(head -c 1 /dev/zero | wc -c); [ "$n" = 1 ] && echo "zero ok" || echo "zero err read $n bytes"
if r=$( (echo x >/dev/null) 2>&1 ); then echo "null ok"; else echo "null err $r"; fi
if r=$(mknod /dev/scen-sda b 8 0 2>&1); then echo "mknod-b ok"; else echo "mknod-b err $r"; fi
if r=$(head -c 1 /dev/scen-sda 2>&1 >/dev/null); then echo "sda ok"; else echo "sda err $r"; fi
if r=$(mknod /dev/scen-kmsg c 1 11 2>&1); then echo "mknod-c ok"; else echo "mknod-c err $r"; fi
if r=$( (echo "<7>husk cgroup-scenarios: device probe" >/dev/scen-kmsg) 2>&1 ); then echo "kmsg ok"; else echo "kmsg err $r"; fi'
# probe_line WORD: the probe's line for WORD, from B/fg.out.
probe_line() { grep "^$1 " "$B/fg.out" | head -n 1; }
sc_devices() {
    new_bundle devices "$(jargs sh -c "$DEVICE_PROBE")" "" '"CAP_MKNOD"'
    run_fg
    if [ "$RC" != 0 ]; then
        fail_all "husk run exited $RC: $(oneline "$B/fg.err") $(oneline "$B/fg.out")" \
            devices.zero-readable devices.null-writable devices.block-denied devices.char-denied
    else
        _l=$(probe_line zero)
        check devices.zero-readable "head -c 1 /dev/zero: $_l" [ "$_l" = "zero ok" ]
        _l=$(probe_line null)
        check devices.null-writable "echo >/dev/null: $_l" [ "$_l" = "null ok" ]
        _m=$(probe_line mknod-b) _l=$(probe_line sda)
        check devices.block-denied "mknod b 8 0: '$_m'; open: '$_l' (want mknod ok, open EPERM)" \
            eval '[ "$_m" = "mknod-b ok" ] && case $_l in "sda err"*"Operation not permitted"*) true ;; *) false ;; esac'
        _m=$(probe_line mknod-c) _l=$(probe_line kmsg)
        check devices.char-denied "mknod c 1 11: '$_m'; open for writing: '$_l' (want mknod ok, open EPERM)" \
            eval '[ "$_m" = "mknod-c ok" ] && case $_l in "kmsg err"*"Operation not permitted"*) true ;; *) false ;; esac'
    fi

    new_bundle devices-allow "$(jargs sh -c "$DEVICE_PROBE")" \
        '"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]' \
        '"CAP_MKNOD"'
    run_fg
    _l=$(probe_line kmsg)
    check devices.char-allowed "with rule c 1:11 w, open for writing: '$_l' (husk run exited $RC: $(oneline "$B/fg.err"))" \
        [ "$_l" = "kmsg ok" ]
}

# Pause and resume: the freezer stops the container's processes.
sc_pause() {
    new_bundle pause "$(jargs sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/c.tmp; mv /tmp/c.tmp /tmp/counter; sleep 0.1; done')" ""
    if ! run_detached; then
        fail_all "$WHY" pause.state-paused pause.counter-frozen pause.state-running pause.counter-advances
        return
    fi
    _c=$B/out/counter
    if ! wait_for 10 test -s "$_c"; then
        fail_all "the counter never appeared in $_c" pause.state-paused pause.counter-frozen pause.state-running pause.counter-advances
        return
    fi
    H pause "$ID" >"$B/pause.out" 2>&1
    _rc=$?
    _s=$(status_of "$ID")
    if [ $CGMODE = v2 ]; then _ff=$(cgdir freezer "$CG")/cgroup.freeze; else _ff=$(cgdir freezer "$CG")/freezer.state; fi
    check pause.state-paused "pause exited $_rc ($(oneline "$B/pause.out")); state says '$_s', want paused; $_ff: $(val "$_ff")" \
        eval '[ "$_rc" = 0 ] && [ "$_s" = paused ]'
    sleep 0.3
    _c1=$(cat "$_c")
    sleep 1
    _c2=$(cat "$_c")
    check pause.counter-frozen "counter went from $_c1 to $_c2 in 1 s while paused" [ "$_c1" = "$_c2" ]

    H resume "$ID" >"$B/resume.out" 2>&1
    _rc=$?
    _s=$(status_of "$ID")
    check pause.state-running "resume exited $_rc ($(oneline "$B/resume.out")); state says '$_s', want running" \
        eval '[ "$_rc" = 0 ] && [ "$_s" = running ]'
    wait_for 3 counter_passed "$_c" "$_c2"
    _c3=$(cat "$_c")
    check pause.counter-advances "counter went from $_c2 to $_c3 within 3 s of resume" counter_passed "$_c" "$_c2"
}
# counter_passed FILE N: FILE holds a number greater than N.
counter_passed() {
    _x=$(cat "$1" 2>/dev/null)
    [ -n "$_x" ] && [ "$_x" -gt "$2" ] 2>/dev/null
}

# update: new limits on a running container, by flag and by JSON on stdin.
sc_update() {
    new_bundle update "$(jargs sleep 60)" '"memory": {"limit": 67108864}, "pids": {"limit": 100}'
    if ! run_detached; then
        fail_all "$WHY" update.memory-flag update.resources-stdin update.cpu-flags update.unlimited
        return
    fi
    if [ $CGMODE = v2 ]; then _f=$(cgdir memory "$CG")/memory.max; else _f=$(cgdir memory "$CG")/memory.limit_in_bytes; fi
    _v0=$(val "$_f")
    H update --memory 48M "$ID" >"$B/update.out" 2>&1
    _rc=$?
    _v=$(val "$_f")
    check update.memory-flag "update --memory 48M exited $_rc ($(oneline "$B/update.out")); $_f went from '$_v0' to '$_v', want 50331648" \
        eval '[ "$_rc" = 0 ] && [ "$_v" = 50331648 ]'

    _f=$(cgdir pids "$CG")/pids.max
    _v0=$(val "$_f")
    echo '{"pids":{"limit":20}}' | H update -r - "$ID" >"$B/update.out" 2>&1
    _rc=$?
    _v=$(val "$_f")
    check update.resources-stdin "update -r - with {\"pids\":{\"limit\":20}} exited $_rc ($(oneline "$B/update.out")); $_f went from '$_v0' to '$_v', want 20" \
        eval '[ "$_rc" = 0 ] && [ "$_v" = 20 ]'

    H update --cpu-quota 20000 --cpu-period 100000 "$ID" >"$B/update.out" 2>&1
    _rc=$?
    _d=$(cgdir cpu "$CG")
    if [ $CGMODE = v2 ]; then
        _v=$(val "$_d/cpu.max") _want="20000 100000"
    else
        _v="$(val "$_d/cpu.cfs_quota_us") $(val "$_d/cpu.cfs_period_us")" _want="20000 100000"
    fi
    check update.cpu-flags "update --cpu-quota 20000 --cpu-period 100000 exited $_rc ($(oneline "$B/update.out")); quota and period are '$_v', want '$_want'" \
        eval '[ "$_rc" = 0 ] && [ "$_v" = "$_want" ]'

    # -1 lifts the quota and the memory limit, and with no --memory-swap the
    # swap limit too (runc's update; v1 refuses unlimited memory under a
    # limited memory+swap). The period stays.
    H update --cpu-quota -1 --memory -1 "$ID" >"$B/update.out" 2>&1
    _rc=$?
    _m=$(cgdir memory "$CG")
    if [ $CGMODE = v2 ]; then
        _v="$(val "$_d/cpu.max") $(val "$_m/memory.max")" _want="max 100000 max"
        if [ -e "$_m/memory.swap.max" ]; then _v="$_v $(val "$_m/memory.swap.max")" _want="$_want max"; fi
    else
        _v="$(val "$_d/cpu.cfs_quota_us") $(val "$_m/memory.limit_in_bytes")" _want="-1 9223372036854771712"
        if [ -e "$_m/memory.memsw.limit_in_bytes" ]; then
            _v="$_v $(val "$_m/memory.memsw.limit_in_bytes")" _want="$_want 9223372036854771712"
        fi
    fi
    check update.unlimited "update --cpu-quota -1 --memory -1 exited $_rc ($(oneline "$B/update.out")); got '$_v', want '$_want'" \
        eval '[ "$_rc" = 0 ] && [ "$_v" = "$_want" ]'
}

# ps -f json lists the container's processes.
sc_ps() {
    new_bundle ps "$(jargs sh -c 'sleep 100 & sleep 100 & wait')" ""
    if ! run_detached; then
        fail ps.json-pids "$WHY"
        return
    fi
    wait_for 10 ps_count_is 3
    _n=$(ps_count)
    check ps.json-pids "ps -f json printed '$(oneline "$B/ps.out")' ($_n pids, want 3: sh and two sleeps); stderr: $(oneline "$B/ps.err")" \
        [ "$_n" = 3 ]
}
ps_count() {
    H ps -f json "$ID" >"$B/ps.out" 2>"$B/ps.err"
    if grep -q '^ *\[[0-9, ]*\] *$' "$B/ps.out"; then
        tr -c '0-9' '\n' <"$B/ps.out" | grep -c '[0-9]'
    else
        echo "not-a-json-array-of-pids"
    fi
}
ps_count_is() { [ "$(ps_count)" = "$1" ]; }

# CPU affinity: whatever CPU husk is pinned to (an engine under systemd's
# CPUAffinity=), a container's init and exec'd processes get every CPU their
# cpuset allows (runc 1.3.1's reset). Under `taskset 1` (CPU 0 only): a
# cpuset of 0-1 gives 0-1, no cpuset every online CPU.
sc_affinity() {
    _online=$(cat /sys/devices/system/cpu/online)
    case $_online in
        0 | "") skip affinity "one CPU"; return ;;
    esac
    for _case in cpuset all; do
        if [ $_case = cpuset ]; then
            _res='"cpu": {"cpus": "0-1", "mems": "0"}' _want=0-1
        else
            _res="" _want=$_online
        fi
        new_bundle "affinity-$_case" "$(jargs sh -c 'grep Cpus_allowed_list /proc/self/status >/tmp/init.txt; sleep 100')" "$_res"
        taskset 1 "$HUSK" --root "$STATE" run -d --bundle "$B" "$ID" >"$B/run.out" 2>"$B/run.err" </dev/null
        _rc=$?
        if [ $_rc -ne 0 ]; then
            fail_all "run -d exited $_rc: $(oneline "$B/run.err")" "affinity.$_case-init" "affinity.$_case-exec"
            continue
        fi
        wait_for 10 test -s "$B/out/init.txt"
        _init=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$B/out/init.txt")
        check "affinity.$_case-init" "init's Cpus_allowed_list '$_init', want '$_want'" [ "$_init" = "$_want" ]
        _exec=$(taskset 1 "$HUSK" --root "$STATE" exec "$ID" grep Cpus_allowed_list /proc/self/status 2>"$B/exec.err" </dev/null |
            sed -n 's/^Cpus_allowed_list:[[:space:]]*//p')
        check "affinity.$_case-exec" "exec'd Cpus_allowed_list '$_exec', want '$_want'; stderr: $(oneline "$B/exec.err")" \
            [ "$_exec" = "$_want" ]
    done
}

# events --stats: one stats object, runc's shape.
sc_events() {
    new_bundle events "$(jargs sh -c 'sleep 100 & sleep 100 & wait')" '"memory": {"limit": 67108864}, "pids": {"limit": 100}'
    if ! run_detached; then
        fail_all "$WHY" events.stats-type events.memory-usage events.pids-current
        return
    fi
    sleep 0.5
    H events --stats "$ID" >"$B/stats.out" 2>"$B/stats.err"
    _rc=$?
    _o="events --stats exited $_rc, printed: $(oneline "$B/stats.out") stderr: $(oneline "$B/stats.err")"
    check events.stats-type "$_o" grep -q '"type": *"stats"' "$B/stats.out"
    # Key order is free: data.memory.usage is the only object named "usage"
    # holding a "usage" in runc's stats (cpu.usage has "total").
    check events.memory-usage "want data.memory.usage.usage > 0; $_o" \
        grep -q '"memory": *{.*"usage": *{[^{}]*"usage": *[1-9]' "$B/stats.out"
    check events.pids-current "want data.pids.current > 0; $_o" grep -q '"pids": *{[^{}]*"current": *[1-9]' "$B/stats.out"
}

# events --stats of the same container under runc and under husk: both
# objects are printed whole, on `STATS <runtime> <json>` lines, and compared
# field by field by the Rust side (integration/common/stats.rs), on the host
# by cgroups.rs and in the v2 VM by cgroups_v2_vm.rs. Skipped without runc.
sc_stats() {
    if ! command -v runc >/dev/null 2>&1; then
        skip stats "runc is not on PATH"
        return
    fi
    # Some CPU time (a busy loop) and page cache (a file on /dev/shm, a
    # tmpfs), then idle; /tmp/busy-done says that is over. Both containers
    # run the same rootfs, read-only.
    _args=$(jargs sh -c 'i=0; while [ $i -lt 10000 ]; do i=$((i+1)); done; dd if=/dev/zero of=/dev/shm/f bs=64k count=8 2>/dev/null; touch /tmp/busy-done; sleep 100')
    _res='"memory": {"limit": 67108864, "reservation": 33554432}, "pids": {"limit": 100}, "cpu": {"shares": 512, "quota": 50000, "period": 100000}'
    new_bundle stats-runc "$_args" "$_res"
    _rb=$B _rid=$ID
    RUNC_IDS="$RUNC_IDS $ID"
    new_bundle stats-husk "$_args" "$_res"
    _checks="stats.runc-printed stats.husk-printed"
    if ! timeout 60 runc --root "$RUN/runc-state" run -d --bundle "$_rb" "$_rid" >"$_rb/run.out" 2>"$_rb/run.err" </dev/null; then
        fail_all "runc run -d failed: $(oneline "$_rb/run.err")" $_checks
        return
    fi
    if ! run_detached; then
        fail_all "$WHY" $_checks
        timeout 30 runc --root "$RUN/runc-state" delete --force "$_rid" >/dev/null 2>&1
        return
    fi
    wait_for 60 test -e "$_rb/out/busy-done"
    wait_for 60 test -e "$B/out/busy-done"
    timeout 30 runc --root "$RUN/runc-state" events --stats "$_rid" >"$_rb/stats.out" 2>"$_rb/stats.err"
    _rrc=$?
    H events --stats "$ID" >"$B/stats.out" 2>"$B/stats.err"
    _hrc=$?
    echo "STATS runc $(tr -d '\n' <"$_rb/stats.out")"
    echo "STATS husk $(tr -d '\n' <"$B/stats.out")"
    check stats.runc-printed "runc events --stats exited $_rrc: $(oneline "$_rb/stats.err")" \
        eval '[ "$_rrc" = 0 ] && grep -q "\"type\": *\"stats\"" "$_rb/stats.out"'
    check stats.husk-printed "husk events --stats exited $_hrc: $(oneline "$B/stats.err")" \
        eval '[ "$_hrc" = 0 ] && grep -q "\"type\": *\"stats\"" "$B/stats.out"'
    timeout 30 runc --root "$RUN/runc-state" delete --force "$_rid" >/dev/null 2>&1
}

# The cgroup exists (in every controller on v1) while the container runs,
# and delete --force of the running container removes it with the processes.
sc_cleanup() {
    new_bundle cleanup "$(jargs sleep 100)" '"memory": {"limit": 67108864}, "pids": {"limit": 100}, "cpu": {"shares": 512}'
    if ! run_detached; then
        fail_all "$WHY" cleanup.created cleanup.delete-force cleanup.process-gone
        return
    fi
    _pid=$(init_pid "$ID")
    _missing=""
    if [ $CGMODE = v2 ]; then
        _d=$(cgdir "" "$CG")
        grep -qx "$_pid" "$_d/cgroup.procs" 2>/dev/null || _missing=" $_d (with init $_pid in cgroup.procs)"
    else
        for _c in $(v1_controllers); do
            _d=$(cgdir "$_c" "$CG")
            grep -qx "$_pid" "$_d/cgroup.procs" 2>/dev/null || _missing="$_missing $_d"
        done
    fi
    check cleanup.created "missing while running:$_missing" [ -z "$_missing" ]
    H delete --force "$ID" >"$B/delete.out" 2>&1
    _rc=$?
    check cleanup.delete-force "delete --force exited $_rc: $(oneline "$B/delete.out")" [ "$_rc" = 0 ]
    if [ -z "$_pid" ]; then
        fail cleanup.process-gone "no init pid from state"
    elif wait_for 5 dead "$_pid"; then
        pass cleanup.process-gone
    else
        fail cleanup.process-gone "init $_pid still alive 5 s after delete --force: $(oneline "/proc/$_pid/status" | cut -c1-120)"
    fi
}
# dead PID: no such process, or a zombie (its reaper is not ours).
dead() {
    [ ! -e "/proc/$1" ] || [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)" = Z ]
}

# A second container in a cgroup that has processes already: a warning and
# it runs, as in runc 1.1. Cgroups made inside the container's, one with a
# process of the container in it: delete --force removes them, depth first,
# then the container's (runc's RemovePath); finish checks nothing is left.
sc_nested() {
    new_bundle nested "$(jargs sleep 100)" ""
    if ! run_detached; then
        fail_all "$WHY" nested.shared-warns nested.sub-holds nested.delete-force
        return
    fi
    _first=$ID _init=$(init_pid "$ID")
    ID=scen-nested2-$$
    SCEN_IDS="$SCEN_IDS $ID" ALL_IDS="$ALL_IDS $ID"
    H run -d --bundle "$B" "$ID" >"$B/second.out" 2>"$B/second.err" </dev/null
    _rc=$?
    check nested.shared-warns "second run -d exited $_rc: $(oneline "$B/second.err")" \
        eval '[ "$_rc" = 0 ] && grep -q "cgroup is not empty: 1 process(es) found" "$B/second.err"'
    H delete --force "$ID" >/dev/null 2>&1
    ID=$_first
    H exec -d "$ID" sleep 101 >"$B/exec.out" 2>&1
    _procs=$(cgdir pids "$CG")/cgroup.procs
    _pid=""
    wait_for 5 eval '_pid=$(grep -vx "$_init" "$_procs" 2>/dev/null | head -n 1); [ -n "$_pid" ]'
    _moved=""
    for _h in $(hierarchies); do
        [ -d "$_h$CG" ] || continue
        mkdir -p "$_h$CG/sub/inner"
        echo "$_pid" >"$_h$CG/sub/inner/cgroup.procs" 2>/dev/null && _moved="$_moved $_h"
    done
    check nested.sub-holds "the exec'd sleep '$_pid' went into no sub-cgroup: $(oneline "$B/exec.out")" [ -n "$_moved" ]
    H delete --force "$ID" >"$B/delete.out" 2>&1
    _rc=$?
    check nested.delete-force "delete --force exited $_rc: $(oneline "$B/delete.out")" [ "$_rc" = 0 ]
}

# Differential: the same resources under runc and husk give the same cgroup
# files. Host only: skipped where runc is not on PATH (the VM).
sc_differential() {
    if ! command -v runc >/dev/null 2>&1; then
        skip differential "runc is not on PATH"
        return
    fi
    _res='"memory": {"limit": 67108864, "reservation": 33554432}, "cpu": {"shares": 512, "quota": 30000, "period": 100000}, "pids": {"limit": 50}'
    if [ -n "$(blkio_weight_file)" ]; then _res="$_res"', "blockIO": {"weight": 500}'; fi
    # v1 only: runc 1.1.5 writes them there; on v2 both runtimes have none.
    if [ $CGMODE = v1 ]; then
        _res=$(echo "$_res" | sed 's/"reservation": 33554432}/"reservation": 33554432, "swappiness": 10, "disableOOMKiller": true}/')
    fi
    new_bundle diff-runc "$(jargs sleep 30)" "$_res"
    _rb=$B _rid=$ID _rcg=$CG
    RUNC_IDS="$RUNC_IDS $ID"
    new_bundle diff-husk "$(jargs sleep 30)" "$_res"
    _keys="memory-limit memory-reservation memory-swap memory-swappiness memory-oom-control cpu-shares cpu-quota cpu-period pids-limit blkio-weight devices"
    if ! timeout 60 runc --root "$RUN/runc-state" run -d --bundle "$_rb" "$_rid" >"$_rb/run.out" 2>"$_rb/run.err" </dev/null; then
        for _k in $_keys; do fail "differential.$_k" "runc run -d failed: $(oneline "$_rb/run.err")"; done
        return
    fi
    if ! run_detached; then
        for _k in $_keys; do fail "differential.$_k" "$WHY"; done
        timeout 30 runc --root "$RUN/runc-state" delete --force "$_rid" >/dev/null 2>&1
        return
    fi
    for _k in $_keys; do
        _file=$(diff_file "$_k")
        if [ -z "$_file" ]; then
            case $_k in
                blkio-weight) skip "differential.$_k" "this kernel has no blkio/io weight file (no BFQ): not configured" ;;
                *) skip "differential.$_k" "nothing to compare on cgroup $CGMODE" ;;
            esac
            continue
        fi
        _ctl=${_file%%/*} _file=${_file#*/}
        _rf=$(cgdir "$_ctl" "$_rcg")/$_file _hf=$(cgdir "$_ctl" "$CG")/$_file
        if [ ! -e "$_rf" ]; then
            skip "differential.$_k" "runc's cgroup has no $_file"
            continue
        fi
        _rv=$(diff_value "$_k" "$_rf") _hv=$(diff_value "$_k" "$_hf")
        check "differential.$_k" "$_file: runc '$_rv', husk '$_hv'" [ "$_rv" = "$_hv" ]
    done
    timeout 30 runc --root "$RUN/runc-state" delete --force "$_rid" >/dev/null 2>&1
}
# The blkio weight file, if this kernel has one (BFQ or CFQ, or iocost).
blkio_weight_file() {
    if [ $CGMODE = v2 ]; then
        for _f in /sys/fs/cgroup/*/io.bfq.weight /sys/fs/cgroup/*/io.weight; do
            [ -e "$_f" ] && { echo "io/${_f##*/}"; return; }
        done
    else
        for _f in blkio.bfq.weight blkio.weight; do
            [ -e "/sys/fs/cgroup/blkio/$_f" ] && { echo "blkio/$_f"; return; }
        done
    fi
}
# diff_file KEY: CONTROLLER/FILE to compare for KEY, or nothing.
diff_file() {
    if [ $CGMODE = v2 ]; then
        case $1 in
            memory-limit) echo memory/memory.max ;;
            memory-reservation) echo memory/memory.low ;;
            memory-swap) echo memory/memory.swap.max ;;
            cpu-shares) echo cpu/cpu.weight ;;
            cpu-quota | cpu-period) echo cpu/cpu.max ;;
            pids-limit) echo pids/pids.max ;;
            blkio-weight) blkio_weight_file ;;
        esac
    else
        case $1 in
            memory-limit) echo memory/memory.limit_in_bytes ;;
            memory-reservation) echo memory/memory.soft_limit_in_bytes ;;
            memory-swap) echo memory/memory.memsw.limit_in_bytes ;;
            memory-swappiness) echo memory/memory.swappiness ;;
            memory-oom-control) echo memory/memory.oom_control ;;
            cpu-shares) echo cpu/cpu.shares ;;
            cpu-quota) echo cpu/cpu.cfs_quota_us ;;
            cpu-period) echo cpu/cpu.cfs_period_us ;;
            pids-limit) echo pids/pids.max ;;
            blkio-weight) blkio_weight_file ;;
            devices) echo devices/devices.list ;;
        esac
    fi
}
# diff_value KEY FILE: the value compared, on one line. devices.list is
# compared as a set: its order is the order the rules were written in, which
# does not change what they allow.
diff_value() {
    case $CGMODE$1 in
        v2cpu-quota) val "$2" | cut -d' ' -f1 ;;
        v2cpu-period) val "$2" | cut -d' ' -f2 ;;
        v1devices) val "$2" | sort | tr '\n' ';' | sed 's/;$//' ;;
        *) val "$2" | tr '\n' ';' | sed 's/;$//' ;;
    esac
}

# Newer resource fields: memory.checkBeforeUpdate (an update below the usage
# is refused and the container keeps its limit: v1's kernel refuses it
# anyway, v2's would OOM-kill), swappiness and disableOOMKiller (written on
# v1, ignored with a warning on v2, as runc), and hugepage limits on both
# the fault and the reservation files (v2, where the container's cgroup has
# the hugetlb controller).
sc_limits() {
    # 24 MiB in /dev/shm (a tmpfs: charged to the container as shmem).
    new_bundle limits-check "$(jargs sh -c 'head -c 25165824 /dev/zero >/dev/shm/fill; touch /dev/shm/full; exec sleep 60')" '"memory": {"limit": 67108864}'
    if run_detached; then
        _pid=$(init_pid "$ID")
        wait_for 20 test -e "/proc/$_pid/root/dev/shm/full"
        if [ $CGMODE = v2 ]; then _f=$(cgdir memory "$CG")/memory.max; else _f=$(cgdir memory "$CG")/memory.limit_in_bytes; fi
        echo '{"memory": {"limit": 8388608, "checkBeforeUpdate": true}}' | H update -r - "$ID" >"$B/update.out" 2>&1
        _rc=$? _v=$(val "$_f") _st=$(H state "$ID" 2>/dev/null | sed -n 's/^ *"status": *"\([a-z]*\)".*/\1/p')
        check limits.check-before-update "update to 8 MiB under 24 MiB used exited $_rc ($(oneline "$B/update.out")); $_f is '$_v'; status $_st" \
            eval '[ "$_rc" != 0 ] && [ "$_v" = 67108864 ] && [ "$_st" = running ]'
    else
        fail limits.check-before-update "$WHY"
    fi

    new_bundle limits-v1only "$(jargs true)" '"memory": {"limit": 67108864, "swappiness": 10, "disableOOMKiller": true}'
    run_fg
    if [ $CGMODE = v2 ]; then
        check limits.swappiness-oom "run exited $RC; stderr: $(oneline "$B/fg.err")" \
            eval '[ "$RC" = 0 ] && grep -q "swappiness: not available on cgroup v2: ignored" "$B/fg.err" && grep -q "disableOOMKiller: not available on cgroup v2: ignored" "$B/fg.err"'
    else
        new_bundle limits-v1files "$(jargs sleep 30)" '"memory": {"limit": 67108864, "swappiness": 10, "disableOOMKiller": true}'
        if run_detached; then
            _d=$(cgdir memory "$CG")
            _s=$(val "$_d/memory.swappiness") _o=$(sed -n 's/^oom_kill_disable //p' "$_d/memory.oom_control")
            check limits.swappiness-oom "swappiness '$_s' (want 10), oom_kill_disable '$_o' (want 1); foreground run exited $RC" \
                eval '[ "$_s" = 10 ] && [ "$_o" = 1 ] && [ "$RC" = 0 ]'
        else
            fail limits.swappiness-oom "$WHY"
        fi
    fi

    if [ $CGMODE = v2 ] && grep -qw hugetlb /sys/fs/cgroup/cgroup.subtree_control; then
        _huge='"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]'
        # runc (where it is on PATH: the VM's oracle) sets the same fault
        # limit; Debian's runc 1.1.5 leaves the reservations at max, which
        # runc 1.2 and later write too, as husk does.
        _runc=""
        if command -v runc >/dev/null 2>&1; then
            new_bundle limits-huge-runc "$(jargs sleep 30)" "$_huge"
            RUNC_IDS="$RUNC_IDS $ID"
            if timeout 60 runc --root "$RUN/runc-state" run -d --bundle "$B" "$ID" >"$B/run.out" 2>"$B/run.err" </dev/null; then
                _d=$(cgdir hugetlb "$CG")
                _runc="$(val "$_d/hugetlb.2MB.max") $(val "$_d/hugetlb.2MB.rsvd.max")"
                timeout 30 runc --root "$RUN/runc-state" delete --force "$ID" >/dev/null 2>&1
            else
                _runc="runc run -d failed: $(oneline "$B/run.err")"
            fi
        fi
        new_bundle limits-huge "$(jargs sleep 30)" "$_huge"
        if run_detached; then
            _d=$(cgdir hugetlb "$CG")
            _m=$(val "$_d/hugetlb.2MB.max") _r=$(val "$_d/hugetlb.2MB.rsvd.max")
            check limits.hugetlb-rsvd "hugetlb.2MB.max '$_m', hugetlb.2MB.rsvd.max '$_r', want 4194304 both; runc: '${_runc:-not here}'" \
                eval '[ "$_m" = 4194304 ] && [ "$_r" = 4194304 ] && { [ -z "$_runc" ] || [ "${_runc%% *}" = 4194304 ]; }'
        else
            fail limits.hugetlb-rsvd "$WHY"
        fi
    else
        skip limits.hugetlb-rsvd "no hugetlb controller for the container's cgroup here"
    fi
}

# ---------------------------------------------------------------------------

echo "# husk: $HUSK ($("$HUSK" --version 2>&1 | head -n 1)); cgroup $CGMODE; kernel $(uname -r); scenarios: $*"
if [ $CGMODE = v2 ]; then
    echo "# controllers: $(cat /sys/fs/cgroup/cgroup.controllers); enabled for children: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
else
    echo "# v1 controllers: $(v1_controllers | tr '\n' ' ')"
fi
for SCEN in "$@"; do
    case " $ALL " in
        *" $SCEN "*)
            begin "$SCEN"
            "sc_$SCEN"
            finish "$SCEN"
            ;;
        *) fail "$SCEN" "unknown scenario (known: $ALL)" ;;
    esac
done
echo "SCENARIOS DONE"
