#!/bin/sh
# Rootless husk with the systemd cgroup driver on the booted systemd host:
# an unprivileged user with lingering has its own systemd instance
# (user@UID.service), which systemd delegates a cgroup v2 subtree to; with
# --systemd-cgroup, husk asks that instance, over the user's bus, for a
# transient scope under it, as Debian's runc (the oracle, first) does. The
# resources land in the scope's files; pause, exec, ps, kill and delete
# work as the user; nothing is left. On the hybrid boot, rootless
# --systemd-cgroup is refused, as runc refuses it.
. /payload/lib.sh
HUSK=/payload/bin/husk
RUNC=/usr/sbin/runc
NAME=husk-rl
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then mode=v2; else mode=hybrid; fi
oneline() { tr '\n' ' ' <"$1" 2>/dev/null | cut -c1-400; }

id "$NAME" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$NAME"
uid=$(id -u "$NAME") gid=$(id -g "$NAME")
home=/home/$NAME
xdg=/run/user/$uid
# as_user COMMAND...: COMMAND as the user, with the environment of its session.
as_user() {
    setpriv --reuid "$uid" --regid "$gid" --init-groups env -i PATH=/usr/bin:/bin HOME="$home" USER="$NAME" \
        XDG_RUNTIME_DIR="$xdg" DBUS_SESSION_BUS_ADDRESS="unix:path=$xdg/bus" "$@"
}

# bundle NAME: a rootless bundle the user owns, sleeping, with limits.
bundle() {
    b=$home/$1
    mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/sys" "$b/rootfs/dev" "$b/rootfs/tmp"
    cp /bin/busybox "$b/rootfs/bin/"
    for applet in sh sleep cat echo true id; do ln -sf busybox "$b/rootfs/bin/$applet"; done
    chown -R "$uid:$gid" "$b"
    (cd "$b" && as_user "$HUSK" spec --rootless)
    jq '.process.terminal = false | .process.args = ["sleep", "300"]
        | .linux.resources = {memory: {limit: 67108864}, pids: {limit: 50}}' "$b/config.json" >"$b/config.new" &&
        mv "$b/config.new" "$b/config.json" && chown "$uid:$gid" "$b/config.json"
}

if [ $mode = hybrid ]; then
    # No lingering here: a runtime directory of the user's own.
    xdg=$home/xdg
    mkdir -p "$xdg" && chown "$uid:$gid" "$xdg" && chmod 700 "$xdg"
    bundle v1
    as_user "$HUSK" --systemd-cgroup run -d --bundle "$home/v1" rl-v1 </dev/null >/tmp/rl-v1.out 2>&1
    rc=$?
    if [ $rc != 0 ] && grep -q "needs a cgroup v2 host" /tmp/rl-v1.out; then
        pass rootless.v1-refused "$(oneline /tmp/rl-v1.out)"
    else
        fail rootless.v1-refused "rc=$rc: $(oneline /tmp/rl-v1.out)"
    fi
    exit 0
fi

phase rootless.user-manager
loginctl enable-linger "$NAME"
if wait_until 60 test -S "$xdg/bus"; then
    pass rootless.user-bus "$xdg/bus"
else
    fail rootless.user-bus "no $xdg/bus after enable-linger: $(systemctl status --no-pager "user@$uid.service" 2>&1 | tr '\n' ' ' | cut -c1-300)"
fi
manager=/user.slice/user-$uid.slice/user@$uid.service
delegated=$(cat "/sys/fs/cgroup$manager/cgroup.controllers" 2>/dev/null)
check rootless.delegated "controllers delegated to the user: $delegated" sh -c "echo '$delegated' | grep -qw memory && echo '$delegated' | grep -qw pids"

# scope_checks WHO RUNTIME ID UNIT: the runtime's container, as the user.
scope_checks() {
    who=$1 rt=$2 cid=$3 unit=$4
    cg=/sys/fs/cgroup$manager/user.slice/$unit
    pid=$(as_user "$rt" --systemd-cgroup state "$cid" | jq -r .pid)
    check "$who.scope-cgroup" "$cg for pid $pid: $(tr '\n' ' ' </proc/"$pid"/cgroup 2>&1)" grep -qx "0::$manager/user.slice/$unit" "/proc/$pid/cgroup"
    check "$who.memory.max" "$(cat "$cg/memory.max" 2>&1)" [ "$(cat "$cg/memory.max" 2>&1)" = 67108864 ]
    check "$who.pids.max" "$(cat "$cg/pids.max" 2>&1)" [ "$(cat "$cg/pids.max" 2>&1)" = 50 ]
    active=$(as_user systemctl --user is-active "$unit" 2>&1)
    check "$who.unit-active" "systemctl --user is-active $unit: $active" [ "$active" = active ]
}

phase rootless.runc
bundle runc
as_user "$RUNC" --systemd-cgroup run -d --bundle "$home/runc" rl-runc </dev/null >/tmp/rl-runc.out 2>&1 ||
    fail rootless.runc-run "$(oneline /tmp/rl-runc.out)"
scope_checks rootless.runc "$RUNC" rl-runc runc-rl-runc.scope
as_user "$RUNC" --systemd-cgroup delete --force rl-runc >/tmp/rl-runc-delete.out 2>&1
rc=$?
# The delete itself must succeed: a container that was never made leaves
# no cgroup either.
check rootless.runc-gone "rc=$rc: $(oneline /tmp/rl-runc-delete.out)" [ $rc = 0 -a ! -d "/sys/fs/cgroup$manager/user.slice/runc-rl-runc.scope" ]

phase rootless.husk
bundle husk
if as_user "$HUSK" --systemd-cgroup run -d --bundle "$home/husk" rl-husk </dev/null >/tmp/rl-husk.out 2>&1; then
    pass rootless.husk-run
else
    fail rootless.husk-run "$(oneline /tmp/rl-husk.out)"
fi
scope_checks rootless.husk "$HUSK" rl-husk runc-rl-husk.scope
cg=/sys/fs/cgroup$manager/user.slice/runc-rl-husk.scope
out=$(as_user "$HUSK" --systemd-cgroup exec rl-husk id -u 2>&1)
check rootless.husk-exec "id -u: $out" [ "$out" = 0 ]
as_user "$HUSK" --systemd-cgroup pause rl-husk >/tmp/rl-pause.out 2>&1
status=$(as_user "$HUSK" state rl-husk | jq -r .status)
check rootless.husk-pause "status $status, cgroup.freeze $(cat "$cg/cgroup.freeze" 2>&1): $(oneline /tmp/rl-pause.out)" [ "$status" = paused ]
as_user "$HUSK" --systemd-cgroup resume rl-husk >/tmp/rl-resume.out 2>&1
status=$(as_user "$HUSK" state rl-husk | jq -r .status)
check rootless.husk-resume "status $status: $(oneline /tmp/rl-resume.out)" [ "$status" = running ]
as_user "$HUSK" ps rl-husk >/tmp/rl-ps.out 2>&1
check rootless.husk-ps "$(oneline /tmp/rl-ps.out)" grep -q "sleep 300" /tmp/rl-ps.out
as_user "$HUSK" kill rl-husk KILL
stopped() { [ "$(as_user "$HUSK" state rl-husk | jq -r .status)" = stopped ]; }
wait_until 10 stopped
as_user "$HUSK" --systemd-cgroup delete rl-husk >/tmp/rl-delete.out 2>&1
rc=$?
check rootless.husk-delete "rc=$rc: $(oneline /tmp/rl-delete.out)" [ $rc = 0 -a ! -d "$cg" ]
active=$(as_user systemctl --user is-active runc-rl-husk.scope 2>&1)
left=$(ls -A "$xdg/husk" 2>&1)
check rootless.husk-nothing-left "unit $active; in \$XDG_RUNTIME_DIR/husk: [$left]" [ "$active" != active -a -z "$left" ]
loginctl disable-linger "$NAME"
