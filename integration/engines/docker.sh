#!/usr/bin/env bash
# shellcheck disable=SC2016 # single quotes on purpose: expanded by the container's shell
# Docker driving RUNTIME: a private dockerd (data root, exec root, pid file,
# socket, daemon.json) on a private containerd, with RUNTIME added by
# `--add-runtime` and made the default runtime (`docker build`'s RUN
# containers use the default), and `docker run --runtime` naming it too.
# See lib.sh for the arguments and the output.
#
#   docker.sh RUNTIME WORKDIR [SCENARIO...]
#
# No bridge and no iptables: containers run with `--network host`, and
# `docker build --network host`, but for network-none: a container with a
# network namespace of its own gets dockerd's libnetwork-setkey prestart
# hook, which the runtime must run with the container's state on stdin.

ALL="run create-start exec-tty stop kill logs memory cpu-shares restart volume build network-none"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
engine_init docker "$@"

D=$T/bin/docker
# dockerd reserves the name runc for its own.
DRT=$RUNTIME_NAME
[ "$DRT" = runc ] && DRT=runc-under-test
RUNOPTS=(--runtime "$DRT" --network host)
LOOP='trap "exit 0" TERM; while :; do sleep 0.2; done'

start_dockerd() {
    mkdir -p "$T/docker" "$T/dockercfg"
    # dockerd makes /run/docker/plugins (for plugin sockets) whatever its
    # exec root: removed at exit if this run made it.
    if [ ! -e /run/docker ]; then
        at_exit "rmdir /run/docker/plugins /run/docker 2>/dev/null"
    fi
    # Its identity key, else /etc/docker/key.json.
    echo "{\"deprecated-key-path\": \"$T/docker/key.json\"}" >"$T/docker/daemon.json"
    start_daemon dockerd "'$D' version" \
        dockerd --data-root "$T/docker/data" --exec-root "$T/docker/exec" \
        --pidfile "$T/docker/dockerd.pid" -H "unix://$T/docker/docker.sock" \
        --config-file "$T/docker/daemon.json" --containerd "$T/containerd/sock" \
        --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
        --userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs \
        --cgroup-parent "/$CGPARENT" --storage-driver overlay2 \
        --add-runtime "$DRT=$RUNTIME" --default-runtime "$DRT" --debug
}

# inspect NAME FORMAT
inspect() { "$D" inspect --format "$2" "$1" 2>&1; }

scen_run() {
    try "$D" run --rm "${RUNOPTS[@]}" "$IMAGE" echo hi there
    if [ "$rc" != 0 ] || [ "$out" != "hi there" ]; then
        fail run "docker run echo hi there: rc=$rc '$(oneline "$out")'"
        return
    fi
    try "$D" run --rm "${RUNOPTS[@]}" "$IMAGE" sh -c 'exit 3'
    expect run "docker run sh -c 'exit 3': exit code" "$rc" 3
}

scen_create-start() { create_then_start_attached "$D" "${RUNOPTS[@]}"; }

scen_exec-tty() {
    if run_detached exec-tty "$D" e1 -- "$LOOP"; then
        tm_shell_check exec-tty docker-exec "$D exec -it e1 sh"
    fi
    "$D" rm -f e1 >/dev/null 2>&1
}

scen_stop() {
    # The container sees SIGTERM (and carries on), then dies of SIGKILL
    # after the 2 s of `stop -t 2`.
    run_detached stop "$D" s1 -- 'trap "echo got-TERM" TERM; echo ready; while :; do sleep 0.2; done' || return
    wait_for 20 sh -c "'$D' logs s1 | grep -q ready"
    local t0 t1 state logs
    t0=$(date +%s%N)
    try "$D" stop -t 2 s1
    t1=$(date +%s%N)
    local ms=$(((t1 - t0) / 1000000))
    state=$(inspect s1 '{{.State.Status}} {{.State.ExitCode}}')
    logs=$("$D" logs s1 2>&1)
    if [ "$rc" != 0 ]; then
        fail stop "docker stop -t 2: rc=$rc $(oneline "$out")"
    elif [ "$ms" -lt 1900 ] || [ "$ms" -gt 15000 ]; then
        fail stop "docker stop -t 2 took ${ms} ms, want about 2 s"
    elif [ "$state" != "exited 137" ]; then
        fail stop "after stop: '$(oneline "$state")', want 'exited 137'"
    else
        expect stop "the container's log (SIGTERM seen)" "$(oneline "$logs")" "ready got-TERM"
    fi
    "$D" rm -f s1 >/dev/null 2>&1
}

scen_kill() {
    run_detached kill "$D" k1 -- 'trap "echo got-USR1" USR1; echo ready; while :; do sleep 0.2; done' || return
    wait_for 20 sh -c "'$D' logs k1 | grep -q ready"
    try "$D" kill -s USR1 k1
    local usr1_rc=$rc usr1_out=$out
    wait_for 10 sh -c "'$D' logs k1 | grep -q got-USR1"
    local usr1_logs
    usr1_logs=$("$D" logs k1 2>&1)
    try "$D" kill k1
    local kill_rc=$rc kill_out=$out
    wait_for 10 sh -c "[ \"\$('$D' inspect --format '{{.State.Running}}' k1)\" = false ]"
    local state
    state=$(inspect k1 '{{.State.Status}} {{.State.ExitCode}}')
    if [ "$usr1_rc" != 0 ]; then
        fail kill "docker kill -s USR1: rc=$usr1_rc $(oneline "$usr1_out")"
    elif [ "$(oneline "$usr1_logs")" != "ready got-USR1" ]; then
        fail kill "after kill -s USR1, logs '$(oneline "$usr1_logs")', want 'ready got-USR1'"
    elif [ "$kill_rc" != 0 ]; then
        fail kill "docker kill: rc=$kill_rc $(oneline "$kill_out")"
    else
        expect kill "after docker kill" "$state" "exited 137"
    fi
    "$D" rm -f k1 >/dev/null 2>&1
}

scen_logs() {
    run_detached logs "$D" l1 -- 'echo line-out; echo line-err >&2; echo last' || return
    try "$D" wait l1
    local all stdout
    all=$("$D" logs l1 2>&1 | sort | tr '\n' ' ')
    stdout=$("$D" logs l1 2>/dev/null | tr '\n' ' ')
    if [ "$stdout" != "line-out last " ]; then
        fail logs "docker logs' stdout: '$stdout', want 'line-out last '"
    else
        expect logs "docker logs, sorted" "$all" "last line-err line-out "
    fi
    "$D" rm -f l1 >/dev/null 2>&1
}

scen_memory() {
    local limit=/sys/fs/cgroup/memory/memory.limit_in_bytes
    [ -f /sys/fs/cgroup/cgroup.controllers ] && limit=/sys/fs/cgroup/memory.max
    try "$D" run --rm --memory 32m "${RUNOPTS[@]}" "$IMAGE" cat $limit
    if [ "$rc" != 0 ] || [ "$out" != 33554432 ]; then
        fail memory "the container's $limit: rc=$rc '$(oneline "$out")', want 33554432"
        return
    fi
    # dd's 64 MiB buffer does not fit: dd (pid 1) is killed by the OOM killer.
    try "$D" run --name m1 --memory 32m "${RUNOPTS[@]}" "$IMAGE" dd if=/dev/zero of=/dev/null bs=64M count=1
    local state
    state=$(inspect m1 '{{.State.ExitCode}} {{.State.OOMKilled}}')
    if [ "$rc" != 137 ]; then
        fail memory "docker run --memory 32m dd bs=64M: rc=$rc '$(oneline "$out")', want 137"
    else
        expect memory "exit code and OOMKilled in docker inspect" "$state" "137 true"
    fi
    "$D" rm -f m1 >/dev/null 2>&1
}

scen_cpu-shares() {
    # Docker sends cpu.shares 0 (and blockIO.weight 0) when none is asked
    # for; runc takes 0 as unset and the kernel's default (1024) stays.
    local file=/sys/fs/cgroup/cpu/cpu.shares want=1024
    [ -f /sys/fs/cgroup/cgroup.controllers ] && file=/sys/fs/cgroup/cpu.weight want=100
    try "$D" run --rm "${RUNOPTS[@]}" "$IMAGE" cat $file
    if [ "$rc" != 0 ] || [ "$out" != $want ]; then
        fail cpu-shares "without --cpu-shares, the container's $file: rc=$rc '$(oneline "$out")', want $want"
        return
    fi
    # runc's map of shares to weight: 1 + (512 - 2) * 9999 / 262142 = 20.
    [ $want = 100 ] && want=20 || want=512
    try "$D" run --rm --cpu-shares 512 "${RUNOPTS[@]}" "$IMAGE" cat $file
    expect cpu-shares "with --cpu-shares 512, the container's $file" "$out" $want
}

scen_restart() {
    run_detached restart "$D" r1 --restart on-failure:2 -- 'echo run; exit 1' || return
    # Restarted twice (after 100 and 200 ms), then left exited.
    wait_for 30 sh -c "[ \"\$('$D' inspect --format '{{.RestartCount}} {{.State.Status}}' r1)\" = '2 exited' ]"
    sleep 1
    local state runs
    state=$(inspect r1 '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}')
    runs=$("$D" logs r1 2>&1 | grep -c '^run$')
    if [ "$state" != "2 exited 1" ]; then
        fail restart "restart count, status, exit code: '$(oneline "$state")', want '2 exited 1'"
    else
        expect restart "runs in the log" "$runs" 3
    fi
    "$D" rm -f r1 >/dev/null 2>&1
}

scen_volume() {
    mkdir -p "$T/vol"
    echo from-host >"$T/vol/host.txt"
    try "$D" run --rm -v "$T/vol:/data" "${RUNOPTS[@]}" "$IMAGE" sh -c 'cat /data/host.txt && echo from-container >/data/out.txt'
    if [ "$rc" != 0 ] || [ "$out" != from-host ]; then
        fail volume "bind volume: rc=$rc '$(oneline "$out")', want from-host"
        return
    fi
    if [ "$(cat "$T/vol/out.txt" 2>&1)" != from-container ]; then
        fail volume "the host's $T/vol/out.txt: '$(cat "$T/vol/out.txt" 2>&1)', want from-container"
        return
    fi
    # A named volume outlives the container that wrote it.
    try "$D" run --rm -v hvol:/data "${RUNOPTS[@]}" "$IMAGE" sh -c 'echo kept >/data/f'
    try "$D" run --rm -v hvol:/data:ro "${RUNOPTS[@]}" "$IMAGE" sh -c 'cat /data/f; touch /data/g 2>/dev/null || echo read-only'
    expect volume "named volume" "$(oneline "$out")" "kept read-only"
    "$D" volume rm hvol >/dev/null 2>&1
}

scen_build() {
    local ctx=$T/build
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<EOF
FROM $IMAGE
RUN echo built-by-run >/built.txt && echo "RUN saw \$(cat /proc/1/comm)"
CMD ["cat", "/built.txt"]
EOF
    local default
    default=$("$D" info --format '{{.DefaultRuntime}}' 2>&1)
    if [ "$default" != "$DRT" ]; then
        fail build "the daemon's default runtime is '$default', not $DRT"
        return
    fi
    try env DOCKER_BUILDKIT=0 "$D" build --network host -t husk-eng-build:1 "$ctx"
    if [ "$rc" != 0 ]; then
        fail build "docker build (legacy builder): rc=$rc $(oneline "$(tail -5 <<<"$out")")"
        return
    fi
    if ! grep -q '^RUN saw sh' <<<"$out"; then
        fail build "the RUN step's output is missing: $(oneline "$(tail -8 <<<"$out")")"
        return
    fi
    try "$D" run --rm "${RUNOPTS[@]}" husk-eng-build:1
    expect build "the built image's file" "$out" built-by-run
    "$D" rmi -f husk-eng-build:1 >/dev/null 2>&1
}

# Clean-up of whatever a failed scenario left.
scen_network-none() {
    try "$D" run --rm --runtime "$DRT" --network none "$IMAGE" ls /sys/class/net
    expect network-none "docker run --network none (through dockerd's prestart hook): rc and interfaces" "$rc $out" "0 lo"
}

remove_all() {
    local ids
    ids=$("$D" ps -aq 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && "$D" rm -f $ids >/dev/null 2>&1
    "$D" volume prune -f >/dev/null 2>&1
}

# Debian's client (docker.io), not another docker on PATH.
wrapper docker env DOCKER_CONFIG="$T/dockercfg" /usr/bin/docker -H "unix://$T/docker/docker.sock"
build_image || { echo "# building the image failed" >&2; exit 1; }
start_containerd || exit 1
start_dockerd || exit 1
at_exit remove_all
try "$D" load -i "$T/image.tar"
[ "$rc" = 0 ] || { echo "# docker load failed: $out" >&2; exit 1; }
run_scenarios
