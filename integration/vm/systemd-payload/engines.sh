#!/bin/bash
# shellcheck disable=SC2016 # single quotes on purpose: expanded by the container's shell
# The engines with their systemd cgroup driver, on the booted systemd host:
# containerd (io.containerd.runc.v2 with the SystemdCgroup option, driven by
# ctr), podman (--cgroup-manager systemd) and Docker
# (native.cgroupdriver=systemd), each driving Debian's runc, then husk (the
# runtimes of /payload/engines-runtimes; the engines of this cgroup layout's
# line in /payload/engines-list). Per engine and runtime:
#
#   run-exit-code    `run` of `sh -c 'exit 3'` gives 3
#   scope            a detached container's init is in the transient scope
#                    that the engine's cgroupsPath names, and it is active
#   memory-property  its 32 MiB limit as the unit's MemoryMax (v2) or
#                    MemoryLimit (hybrid) in `systemctl show`
#   memory-file      and in the scope's cgroup file
#   exec             an exec in it gives its exit code and output
#   stop             the engine's stop (SIGTERM, trapped: exit 0)
#   kill             the engine's kill of a container that ignores SIGTERM: 137
#   delete           the containers removed, the engine lists none
#   nothing-left     no unit and no cgroup of any of them left
#
# Results as `RESULT engines.<engine>.<runtime>.<check>`; setup as
# `RESULT engines.<engine>.start|image`. The daemons (the VM's own containerd
# and docker services) start once per boot and stop at the end; Docker's
# checks run beside the others' (emulation is slow: the boot's budget); every
# command has a time limit, so a hung engine fails a check, not the boot.
# On a failure, the engines' commands (with their times) and the daemons'
# warnings follow the results (and always with /payload/engines-trace).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. /payload/lib.sh
set -u

IMAGE=docker.io/library/busybox:latest
TARBALL=/payload/busybox-image.tar
if grep -qw systemd.unified_cgroup_hierarchy=0 /proc/cmdline; then
    MODE=hybrid MEMPROP=MemoryLimit
else
    MODE=v2 MEMPROP=MemoryMax
fi
read -r -a RUNTIMES </payload/engines-runtimes 2>/dev/null || RUNTIMES=(runc husk)
ENGINES=(containerd podman docker)
[ -e /payload/engines-list ] && read -r -a ENGINES < <(sed -n "s/^$MODE //p" /payload/engines-list)
T=/tmp/husk-engines
mkdir -p "$T"
LOG=$T/commands.log # per engine: see engine
LOOP='trap "exit 0" TERM; while :; do sleep 0.2; done'
STUBBORN='trap "" TERM; while :; do sleep 0.2; done'
LIMIT=33554432
# Seconds any engine command may take.
CT=${ENGINES_CMD_TIMEOUT:-90}

# out, rc: the output and exit code of the last `try COMMAND...` (the
# engines' commands carry their time limit: see tl, C, P, D).
try() {
    local t0=${EPOCHREALTIME/./}
    out=$("$@" 2>&1 </dev/null)
    rc=$?
    local us=$((${EPOCHREALTIME/./} - t0))
    printf '+ %s\n%s\n[rc=%s %d.%02ds]\n' "$*" "$out" "$rc" $((us / 1000000)) $((us % 1000000 / 10000)) >>"$LOG"
}
# tl COMMAND...: COMMAND under the time limit.
tl() { timeout -k 5 "$CT" "$@"; }
# A failed check: the engines' logs are printed at the end.
FAILED=""
fail() {
    echo "RESULT $1 FAIL ${2:-}"
    FAILED="$FAILED $1"
}
oneline() { printf '%s' "$1" | tr '\n\r' '  ' | cut -c1-500; }
# wait_for SECONDS COMMAND...: polls every 0.2 s.
wait_for() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
runtime_path() { case $1 in runc) echo /usr/sbin/runc ;; husk) echo /payload/bin/husk ;; esac; }

# cgroup_of PID: its path in systemd's hierarchy (the unified one on v2, the
# name=systemd one on hybrid).
cgroup_of() {
    if [ $MODE = v2 ]; then
        sed -n 's/^0:://p' "/proc/$1/cgroup"
    else
        sed -n 's/^[0-9]*:name=systemd://p' "/proc/$1/cgroup"
    fi
}
# memory_file CGROUP: the memory limit file of that cgroup.
memory_file() {
    if [ $MODE = v2 ]; then echo "/sys/fs/cgroup$1/memory.max"; else echo "/sys/fs/cgroup/memory$1/memory.limit_in_bytes"; fi
}
# gone ID: no unit and no cgroup directory whose name holds ID.
gone() { [ -z "$(leftovers "$1")" ]; }
# leftovers ID: those units and cgroup directories.
leftovers() {
    systemctl list-units --all --no-legend --plain "*$1*" | awk '{print $1}'
    find /sys/fs/cgroup -maxdepth 5 -type d -name "*$1*" 2>/dev/null
}

# ---------------------------------------------------------------------------
# The engines, each as the same verbs, each one command of the engine's
# client (their start-up under emulation is what costs), setting out and rc
# through try:
#   X_run_rm NAME SCRIPT          run to the end, removed; sets ID
#   X_run_d NAME memory|- SCRIPT  detached (memory: a 32 MiB limit); sets ID
#   X_pid NAME                    prints its init's pid
#   X_exec NAME SCRIPT, X_stop NAME, X_kill NAME
#   X_exit NAME                   waits for its end, prints "exited CODE"
#   X_rm NAME...                  removes the stopped containers
#   X_ls                          prints the names of the engine's containers
#   X_clean NAME...               forces them away (after a failure)
#   X_unit ID                     the scope that the engine's cgroupsPath names

# containerd: the VM's service; ctr's --runc-binary and --runc-systemd-cgroup
# are the shim's BinaryName and SystemdCgroup options.
C=(tl ctr --namespace husk-eng)
containerd_config() {
    mkdir -p /etc/containerd
    # No CRI plugin: a quicker start, and nothing of Kubernetes' is tested.
    cat >/etc/containerd/config.toml <<'END'
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
END
}
containerd_setup() {
    try tl systemctl start containerd
    if [ $rc = 0 ] && wait_for 30 "${C[@]}" version; then
        pass engines.containerd.start "$(tl ctr version | sed -n 's/^ *Version: *//p' | tail -1)"
    else
        fail engines.containerd.start "systemctl start containerd: rc=$rc $(oneline "$out")"
        return 1
    fi
    try "${C[@]}" images import "$TARBALL"
    check engines.containerd.image "ctr images import: rc=$rc $(oneline "$out")" [ $rc = 0 ]
}
containerd_opts() { # NAME
    echo "--runc-binary $RTPATH --runc-systemd-cgroup --cgroup system.slice:husk-ctr:$1"
}
containerd_unit() { echo "husk-ctr-$1.scope"; }
containerd_run_rm() {
    ID=$1
    # shellcheck disable=SC2046 # a list of options
    try "${C[@]}" run --rm $(containerd_opts "$1") "$IMAGE" "$1" sh -c "$2"
}
containerd_run_d() {
    ID=$1
    local memory=
    [ "$2" = memory ] && memory="--memory-limit $LIMIT"
    # shellcheck disable=SC2046,SC2086
    try "${C[@]}" run -d $(containerd_opts "$1") $memory "$IMAGE" "$1" sh -c "$3"
}
containerd_pid() { "${C[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
containerd_exec() { try "${C[@]}" task exec --exec-id e1 "$1" sh -c "$2"; }
# ctr task kill: SIGTERM by default.
containerd_stop() { try "${C[@]}" task kill "$1"; }
containerd_kill() { try "${C[@]}" task kill --signal SIGKILL "$1"; }
# ctr has no wait: task delete fails until the task has stopped, then warns
# of an exit code other than 0.
containerd_exit() {
    local deadline=$(($(date +%s) + 20))
    try "${C[@]}" task delete "$1"
    while [ $rc != 0 ] && [ "$(date +%s)" -lt $deadline ]; do
        sleep 0.3
        try "${C[@]}" task delete "$1"
    done
    if [ $rc != 0 ]; then
        echo "task delete: rc=$rc $(oneline "$out")"
    elif [[ $out =~ exit\ code\ ([0-9]+) ]]; then
        echo "exited ${BASH_REMATCH[1]}"
    else
        echo "exited 0"
    fi
}
containerd_rm() { try "${C[@]}" container delete "$@"; }
containerd_clean() {
    local c
    for c; do "${C[@]}" task delete --force "$c"; done
    "${C[@]}" container delete "$@"
} >>"$LOG" 2>&1
containerd_ls() { "${C[@]}" container ls -q 2>&1; }
# ctr's checkpoint of a running task into an image (the rw layer with it)
# leaves the task running (runc's --leave-running); restore --live needs
# the container gone, and starts the restored task.
containerd_checkpoint() { try "${C[@]}" container checkpoint --task --rw "$1" "husk.test/checkpoint/$1:1"; }
containerd_restore() {
    "${C[@]}" task kill --signal SIGKILL "$1" >>"$LOG" 2>&1
    containerd_exit "$1" >/dev/null
    "${C[@]}" container delete "$1" >>"$LOG" 2>&1
    try "${C[@]}" container restore --live --rw "$1" "husk.test/checkpoint/$1:1"
}
containerd_rmi() { "${C[@]}" images rm "husk.test/checkpoint/$1:1" >>"$LOG" 2>&1; }

# podman: through conmon, its configuration in $T (the runtime among those
# that take --log, netns none: no network set-up).
podman_setup() {
    mkdir -p "$T/podman"
    cat >"$T/podman/containers.conf" <<END
[containers]
netns = "none"
log_driver = "k8s-file"

[engine]
cgroup_manager = "systemd"
events_logger = "file"
events_logfile_path = "$T/podman/events.log"
runtime_supports_json = ["husk", "crun", "runc"]
END
    export CONTAINERS_CONF=$T/podman/containers.conf
    try tl podman load -i "$TARBALL"
    check engines.podman.image "podman load: rc=$rc $(oneline "$out")" [ $rc = 0 ]
}
podman_unit() { echo "libpod-$1.scope"; }
podman_run_rm() {
    # A file per container: a late writer of an earlier one (a timed-out
    # client under TCG) cannot make this run refuse its --cidfile.
    rm -f "$T/cid-$1"
    try "${P[@]}" run --rm --cidfile "$T/cid-$1" --name "$1" "$IMAGE" sh -c "$2"
    ID=$(cat "$T/cid-$1" 2>/dev/null)
}
podman_run_d() {
    local opts=()
    [ "$2" = memory ] && opts=(--memory 32m)
    try "${P[@]}" run -d --name "$1" "${opts[@]}" "$IMAGE" sh -c "$3"
    ID=$out
}
podman_pid() { "${P[@]}" inspect --format '{{.State.Pid}}' "$1" 2>/dev/null; }
podman_exec() { try "${P[@]}" exec "$1" sh -c "$2"; }
podman_stop() { try "${P[@]}" stop -t 20 "$1"; }
podman_kill() { try "${P[@]}" kill "$1"; }
podman_exit() { echo "exited $("${P[@]}" wait "$1" 2>&1)"; }
podman_rm() { try "${P[@]}" rm "$@"; }
podman_clean() { "${P[@]}" rm -f -t 0 "$@" >>"$LOG" 2>&1; }
podman_ls() { "${P[@]}" ps -a --format '{{.Names}}' 2>&1; }
# podman's checkpoint stops the container (exited, kept); restore starts it
# again from the images; --export/--import carry it as a tarball.
podman_checkpoint() { try "${P[@]}" container checkpoint "$1"; }
podman_restore() { try "${P[@]}" container restore "$1"; }
podman_export() { try "${P[@]}" container checkpoint --export "$2" "$1"; }
podman_import() { try "${P[@]}" container restore --import "$1" --name "$2"; }
podman_rmi() { :; }

# Docker: the VM's service on the VM's containerd, its daemon.json naming
# both runtimes (dockerd keeps the name runc for its own) and the systemd
# driver; no bridge, no iptables: containers use the host's network.
# AppArmor is in the kernel but the image has no apparmor_parser to load
# Docker's profile: the containers run unconfined.
declare -A DOCKER_RUNTIME_NAMES=([runc]=debian-runc [husk]=husk)
docker_config() {
    mkdir -p /etc/docker
    cat >/etc/docker/daemon.json <<'END'
{
  "exec-opts": ["native.cgroupdriver=systemd"],
  "runtimes": {
    "debian-runc": {"path": "/usr/sbin/runc"},
    "husk": {"path": "/payload/bin/husk"}
  },
  "bridge": "none",
  "iptables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false
}
END
}
docker_setup() {
    try tl systemctl start docker
    local driver
    driver=$(tl docker info --format '{{.CgroupDriver}} {{.CgroupVersion}}' 2>&1)
    if [ $rc = 0 ] && [[ $driver == systemd* ]]; then
        pass engines.docker.start "$(tl docker version --format '{{.Server.Version}}' 2>&1); cgroup driver, version: $driver"
    else
        fail engines.docker.start "systemctl start docker: rc=$rc $(oneline "$out"); docker info: $(oneline "$driver"); $(journalctl -u docker --no-pager | tail -5 | tr '\n' ' ')"
        return 1
    fi
    try tl docker load -i "$TARBALL"
    check engines.docker.image "docker load: rc=$rc $(oneline "$out")" [ $rc = 0 ]
}
D=(tl docker)
docker_unit() { echo "docker-$1.scope"; }
docker_opts() { echo "--runtime ${DOCKER_RUNTIME_NAMES[$RT]} --network host --security-opt apparmor=unconfined"; }
docker_run_rm() {
    rm -f "$T/cid-docker-$1"
    # shellcheck disable=SC2046
    try "${D[@]}" run --rm --cidfile "$T/cid-docker-$1" --name "$1" $(docker_opts) "$IMAGE" sh -c "$2"
    ID=$(cat "$T/cid-docker-$1" 2>/dev/null)
}
docker_run_d() {
    local opts=()
    [ "$2" = memory ] && opts=(--memory 32m)
    # shellcheck disable=SC2046
    try "${D[@]}" run -d --name "$1" "${opts[@]}" $(docker_opts) "$IMAGE" sh -c "$3"
    ID=$out
}
docker_pid() { "${D[@]}" inspect --format '{{.State.Pid}}' "$1" 2>/dev/null; }
docker_exec() { try "${D[@]}" exec "$1" sh -c "$2"; }
docker_stop() { try "${D[@]}" stop -t 20 "$1"; }
docker_kill() { try "${D[@]}" kill "$1"; }
docker_exit() { echo "exited $("${D[@]}" wait "$1" 2>&1)"; }
docker_rm() { try "${D[@]}" rm "$@"; }
docker_clean() { "${D[@]}" rm -f "$@" >>"$LOG" 2>&1; }
docker_ls() { "${D[@]}" ps -a --format '{{.Names}}' 2>&1; }

# ---------------------------------------------------------------------------
# The checks of one engine ($E) with one runtime ($RT).

verb() { "${E}_$1" "${@:2}"; }

scenarios() {
    local n=engines.$E.$RT ids=() made=() r=r-$RT m=m-$RT k=k-$RT pid cg unit want value file detail

    verb run_rm "$r" 'echo hello; exit 3'
    [ -n "${ID:-}" ] && ids+=("$ID")
    check "$n.run-exit-code" "rc=$rc, want 3: $(oneline "$out")" [ $rc = 3 ]

    verb run_d "$m" memory "$LOOP"
    made+=("$m")
    if [ $rc != 0 ]; then
        fail "$n.scope" "run -d: rc=$rc $(oneline "$out")"
    else
        ids+=("$ID")
        pid=$(verb pid "$m")
        cg=$(cgroup_of "$pid" 2>/dev/null)
        unit=${cg##*/} want=$(verb unit "$ID")
        if [ "$unit" = "$want" ] && [ "$(systemctl is-active "$unit")" = active ]; then
            pass "$n.scope" "pid $pid in $cg, active"
        else
            fail "$n.scope" "pid $pid in '$cg' ($(systemctl is-active "$unit" 2>&1)), want $want: $(tr '\n' ' ' <"/proc/$pid/cgroup" 2>&1)"
        fi
        value=$(systemctl show -p $MEMPROP --value "$unit" 2>&1)
        check "$n.memory-property" "$unit: $MEMPROP=$value" [ "$value" = $LIMIT ]
        [ $MODE = hybrid ] && cg=$(sed -n 's/^[0-9]*:memory://p' "/proc/$pid/cgroup")
        file=$(memory_file "$cg")
        value=$(cat "$file" 2>&1)
        check "$n.memory-file" "$file: $value" [ "$value" = $LIMIT ]
        verb exec "$m" 'echo "exec-out $(cat /proc/1/comm)"; exit 5'
        check "$n.exec" "rc=$rc '$(oneline "$out")', want 5 and 'exec-out sh'" [ "$rc $out" = "5 exec-out sh" ]
        verb stop "$m"
        detail="stop: rc=$rc $(oneline "$out")"
        value=$(verb exit "$m")
        check "$n.stop" "$detail; then '$value', want 'exited 0'" [ "$value" = "exited 0" ]
    fi

    verb run_d "$k" - "$STUBBORN"
    made+=("$k")
    if [ $rc != 0 ]; then
        fail "$n.kill" "run -d: rc=$rc $(oneline "$out")"
    else
        ids+=("$ID")
        verb kill "$k"
        detail="kill: rc=$rc $(oneline "$out")"
        value=$(verb exit "$k")
        check "$n.kill" "$detail; then '$value', want 'exited 137'" [ "$value" = "exited 137" ]
    fi

    local problems=""
    verb rm "${made[@]}"
    [ $rc = 0 ] || problems="rm ${made[*]}: rc=$rc $(oneline "$out");"
    value=$(verb ls | grep -xE "$r|$m|$k" | tr '\n' ' ')
    [ -z "$value" ] || problems="$problems still listed: $value"
    check "$n.delete" "${problems:-removed: ${made[*]}}" [ -z "$problems" ]
    # What a failure left: forced away, so that it cannot trouble the rest.
    [ -z "$value" ] || verb clean $value

    local left="" id
    for id in "${ids[@]}"; do
        wait_for 10 gone "$id" || left="$left $(leftovers "$id" | tr '\n' ' ')"
    done
    check "$n.nothing-left" "${left:-no unit or cgroup of ${#ids[@]} containers}" [ -z "$left" ]
}

# The checkpoint scenarios (/payload/engines-scenarios says `checkpoint`,
# integration/checkpoint_vm.rs): a counter that keeps a token drawn at its
# start and an increasing count in /tmp/n of its root file system.
#
#   checkpoint       the engine's checkpoint succeeds
#   restore          its restore gives a running container
#   continues        with the token of before and a count past the one
#                    read before the checkpoint: its memory, not a new start
#   export-import    (podman) checkpoint --export, rm, restore --import under
#                    another name: the token again, the count going on
#   delete           the containers removed, the engine lists none
#   nothing-left     no unit and no cgroup of any of them left
COUNTER='t=$RANDOM$RANDOM; i=0; while :; do i=$((i + 1)); echo "$t $i" >/tmp/n; sleep 0.2; done'
# counter_value NAME: the token and count in its /tmp/n (through the host's
# view of its root).
counter_value() { cat "/proc/$(verb pid "$1")/root/tmp/n" 2>/dev/null; }
# counter_at_least NAME COUNT: whether NAME's count reached COUNT (its pid
# looked up each time: ctr may not list the task yet).
counter_at_least() {
    local value
    value=$(counter_value "$1")
    [ -n "$value" ] && [ "${value#* }" -ge "$2" ]
}
# counter_after NAME "TOKEN COUNT": waits for NAME's count to pass COUNT;
# prints what it read.
counter_after() {
    local deadline=$(($(date +%s) + 20)) value
    while :; do
        value=$(counter_value "$1")
        [ "${value% *}" = "${2% *}" ] && [ "${value#* }" -gt "${2#* }" ] && break
        [ "$(date +%s)" -lt "$deadline" ] || break
        sleep 0.3
    done
    echo "$value"
}
checkpoint_scenarios() {
    local n=engines.$E.$RT ids=() made=() c=c-$RT c2=c2-$RT before after value
    verb run_d "$c" - "$COUNTER"
    made+=("$c")
    [ $rc = 0 ] && ids+=("$ID")
    wait_for 20 counter_at_least "$c" 3
    before=$(counter_value "$c")
    verb checkpoint "$c"
    check "$n.checkpoint" "run -d, then the count '$before'; checkpoint: rc=$rc $(oneline "$out")" \
        eval "[ $rc = 0 ] && [ -n '$before' ]"
    verb restore "$c"
    check "$n.restore" "rc=$rc $(oneline "$out"); pid $(verb pid "$c")" eval "[ $rc = 0 ] && [ -n \"\$(verb pid $c)\" ]"
    after=$([ $rc = 0 ] && counter_after "$c" "$before")
    check "$n.continues" "before the checkpoint '$before', after the restore '$after'" \
        eval "[ -n '$before' ] && [ '${after% *}' = '${before% *}' ] && [ '${after#* }' -gt '${before#* }' ]"
    local exported=""
    if [ "$E" = podman ]; then
        before=$(counter_value "$c")
        exported=$(tl podman inspect --format '{{.Id}}' "$c" 2>/dev/null)
        verb export "$c" "$T/$c.tar.gz"
        value="export: rc=$rc $(oneline "$out")"
        verb rm "$c"
        [ $rc = 0 ] && made=()
        verb import "$T/$c.tar.gz" "$c2"
        made+=("$c2")
        [ $rc = 0 ] && ids+=("$("${P[@]}" inspect --format '{{.Id}}' "$c2" 2>/dev/null)")
        after=$([ $rc = 0 ] && counter_after "$c2" "$before")
        check "$n.export-import" "$value; import: rc=$rc $(oneline "$out"); the count '$before', then '$after' in $c2" \
            eval "[ $rc = 0 ] && [ -n '$before' ] && [ '${after% *}' = '${before% *}' ] && [ '${after#* }' -gt '${before#* }' ]"
    fi
    local id note=""
    # One at a time: podman's rm -f removes none when one name is unknown.
    for id in "${made[@]}"; do verb clean "$id"; done
    verb rmi "$c"
    value=$(verb ls | grep -xE "$c|$c2" | tr '\n' ' ')
    check "$n.delete" "${value:+still listed: $value}" [ -z "$value" ]
    # runc 1.1.5 on cgroup v2 gives CRIU no cgroup root (only v1's), so
    # CRIU restores the imported container's processes into the cgroup they
    # were dumped from, the exported container's: a bare directory, empty
    # once they are gone, which no one removes. Taken away (and said) for
    # runc; any other runtime must leave nothing.
    local stale=/sys/fs/cgroup/machine.slice/libpod-$exported.scope
    if [ "$RT" = runc ] && [ -n "$exported" ] && [ -d "$stale" ] && ! systemctl is-active -q "libpod-$exported.scope"; then
        wait_for 10 rmdir "$stale" && note="; runc left the exported container's cgroup $stale (removed)"
    fi
    local left=""
    for id in "${ids[@]}"; do
        wait_for 10 gone "$id" || left="$left $(leftovers "$id" | tr '\n' ' ')"
    done
    check "$n.nothing-left" "${left:-no unit or cgroup of ${#ids[@]} containers}$note" [ -z "$left" ]
}

# engine E: its set-up, then its checks with each runtime; its commands in
# $T/commands-E.log.
engine() {
    local before RT
    E=$1 LOG=$T/commands-$1.log
    before=$(date +%s)
    "${E}_setup" || return
    echo "# engines: $E set up in $(($(date +%s) - before)) s"
    for RT in "${RUNTIMES[@]}"; do
        RTPATH=$(runtime_path "$RT")
        P=(tl podman --cgroup-manager systemd --runtime "$RTPATH")
        before=$(date +%s)
        "$SCENARIOS"
        echo "# engines: $E with $RT in $(($(date +%s) - before)) s"
    done
}

SCENARIOS=scenarios
[ "$(cat /payload/engines-scenarios 2>/dev/null)" = checkpoint ] && SCENARIOS=checkpoint_scenarios
echo "# engines: ${ENGINES[*]} with ${RUNTIMES[*]} on $MODE: $SCENARIOS"
started=$(date +%s)
containerd_config
docker_config
# Docker's engine runs beside the others (its output follows theirs): the
# guest has two CPUs, and the engines' clients mostly wait on their daemons.
# Its own service starts the VM's containerd if it is not up yet.
docker=""
for E in "${ENGINES[@]}"; do
    if [ "$E" = docker ]; then
        (engine docker) >"$T/out-docker" 2>&1 &
        docker=$!
    fi
done
for E in "${ENGINES[@]}"; do
    [ "$E" = docker ] || engine "$E"
done
if [ -n "$docker" ]; then
    wait "$docker"
    cat "$T/out-docker"
    grep -q '^RESULT .* FAIL' "$T/out-docker" && FAILED="$FAILED docker"
fi
echo "# engines: all in $(($(date +%s) - started)) s"

before=$(date +%s)
tl systemctl stop docker.service docker.socket containerd.service
echo "# engines: daemons stopped in $(($(date +%s) - before)) s"
# The engines' own words on a failure, for the report: the commands and the
# daemons' warnings.
if [ -n "$FAILED" ] || [ -e /payload/engines-trace ]; then
    echo "# engines: failed:${FAILED:- none}; the commands:"
    for log in "$T"/commands-*.log; do
        echo "# $log"
        tail -n 120 "$log" | cut -c1-400 | sed 's/^/#   /'
    done
    echo "# engines: containerd and docker warnings:"
    journalctl -u containerd -u docker --no-pager -o cat -p warning | tail -n 40 | cut -c1-400 | sed 's/^/#   /'
fi
