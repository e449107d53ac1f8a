#!/bin/sh
# Proves the VM is the host the systemd driver needs: systemd as PID 1, the
# cgroup layout the kernel command line asked for, systemd's manager on the
# system bus, and Debian's runc (the oracle) running a container in a
# transient scope with its systemd cgroup driver.
. /payload/lib.sh

comm=$(cat /proc/1/comm)
check host.pid1 "PID 1 is $comm" [ "$comm" = systemd ]

state=$(timeout 120 systemctl is-system-running --wait 2>&1)
failed=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')
case $state in
running | degraded) pass host.system-running "$state; failed units: [${failed}]" ;;
*) fail host.system-running "$state; failed units: [${failed}]; jobs: $(systemctl list-jobs --no-legend | tr '\n' ';')" ;;
esac

fs=$(stat -fc %T /sys/fs/cgroup)
if grep -qw systemd.unified_cgroup_hierarchy=0 /proc/cmdline; then
    unified=$(stat -fc %T /sys/fs/cgroup/unified 2>&1)
    ok=false
    [ "$fs" = tmpfs ] && [ "$unified" = cgroup2fs ] && [ -d /sys/fs/cgroup/memory/system.slice ] && ok=true
    check host.cgroup-hybrid "/sys/fs/cgroup: $fs, /sys/fs/cgroup/unified: $unified, memory: $(stat -fc %T /sys/fs/cgroup/memory 2>&1)" $ok
    mode=hybrid
else
    check host.cgroup-v2 "/sys/fs/cgroup: $fs, controllers: $(cat /sys/fs/cgroup/cgroup.controllers)" [ "$fs" = cgroup2fs ]
    mode=v2
fi

version=$(busctl --system get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
    org.freedesktop.systemd1.Manager Version 2>&1)
case $version in
's "252'*) pass host.bus "busctl: Manager.Version: $version" ;;
*) fail host.bus "busctl: Manager.Version: $version" ;;
esac

# Debian's runc with --systemd-cgroup: a detached busybox sleeper.
bundle=/tmp/runc-bundle
unit=husk-check-runc.scope
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/"
for applet in sh sleep cat; do ln -s busybox "$bundle/rootfs/bin/$applet"; done
(cd "$bundle" && runc spec)
jq '.process.terminal = false | .process.args = ["sleep", "300"]
    | .linux.cgroupsPath = "system.slice:husk-check:runc"
    | .linux.resources.memory.limit = 67108864 | .linux.resources.pids.limit = 50' \
    "$bundle/config.json" >"$bundle/config.new" && mv "$bundle/config.new" "$bundle/config.json"
if runc --systemd-cgroup run -d --bundle "$bundle" husk-check-runc </dev/null >/tmp/runc.out 2>&1; then
    pass runc.run "runc $(runc --version | head -n 1 | cut -d' ' -f3)"
else
    fail runc.run "$(tr '\n' ' ' </tmp/runc.out)"
fi
pid=$(runc state husk-check-runc | jq -r .pid)
check runc.scope-active "$unit: $(systemctl is-active $unit)" [ "$(systemctl is-active $unit)" = active ]
cgroup=$(systemctl show -p ControlGroup --value $unit)
if systemctl status --no-pager $unit | grep -q "$pid"; then
    pass runc.scope-has-init "systemctl status $unit lists pid $pid; cgroup $cgroup"
else
    fail runc.scope-has-init "pid $pid not in systemctl status $unit: $(systemctl status --no-pager $unit | tr '\n' ' ')"
fi
# v2: "0::/system.slice/…"; hybrid: "1:name=systemd:/system.slice/…".
check runc.init-cgroup "/proc/$pid/cgroup: $(tr '\n' ' ' </proc/$pid/cgroup)" grep -q ":$cgroup\$" /proc/$pid/cgroup
# runc's v1 driver sets MemoryLimit, its v2 driver MemoryMax.
if [ $mode = v2 ]; then memory=MemoryMax; else memory=MemoryLimit; fi
value=$(systemctl show -p $memory --value $unit)
check runc.memory-property "$memory=$value" [ "$value" = 67108864 ]
value=$(systemctl show -p TasksMax --value $unit)
check runc.tasks-property "TasksMax=$value" [ "$value" = 50 ]

runc kill husk-check-runc KILL
stopped() { [ "$(runc state husk-check-runc 2>/dev/null | jq -r .status)" != running ]; }
wait_until 5 stopped
runc delete husk-check-runc
inactive() { ! systemctl is-active -q $unit; }
wait_until 5 inactive
left=$(systemctl list-units --all --no-legend --plain $unit)
check runc.scope-gone "after delete: [$left]" [ -z "$left" ]
rm -rf --one-file-system "$bundle"
