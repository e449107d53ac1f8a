#!/bin/sh
# husk's own D-Bus client (src/systemd/, as integration/vm/systemd-client.rs)
# against the real systemd: a transient scope for a sleeping process with
# the properties runc's driver sends, checked with systemctl and in the
# cgroup files; a property change; the stop; and its errors.
. /payload/lib.sh
unit=husk-client-test.scope

version=$(systemd-client version 2>&1)
check client.version "$version" [ "$version" = "systemd 252" ]

sleep 600 &
pid=$!
out=$(systemd-client start-scope $unit system.slice $pid 67108864 42 50000 0 2>&1)
check client.start "$out" [ "$out" = "started $unit" ]
state=$(systemctl is-active $unit)
check client.active "$unit: $state" [ "$state" = active ]
cgroup=$(systemctl show -p ControlGroup --value $unit)
check client.pid-in-scope "/proc/$pid/cgroup: $(tr '\n' ' ' </proc/$pid/cgroup)" grep -q ":$cgroup\$" /proc/$pid/cgroup
for expected in MemoryMax=67108864 TasksMax=42 CPUQuotaPerSecUSec=500ms CPUQuotaPeriodUSec=100ms \
    AllowedCPUs=0 Delegate=yes DevicePolicy=strict Slice=system.slice DefaultDependencies=no \
    "DeviceAllow=/dev/null rwm" MemoryAccounting=yes TasksAccounting=yes; do
    property=${expected%%=*}
    got=$(systemctl show -p "$property" $unit | grep -F "$expected")
    check "client.property-$property" "$(systemctl show -p "$property" $unit | tr '\n' ' ')" [ -n "$got" ]
done
# The cgroup files systemd wrote for those properties.
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    dir=/sys/fs/cgroup$cgroup
    check client.file-memory.max "$(cat $dir/memory.max)" [ "$(cat $dir/memory.max)" = 67108864 ]
    check client.file-cpu.max "$(cat $dir/cpu.max)" [ "$(cat $dir/cpu.max)" = "50000 100000" ]
    check client.file-cpuset.cpus "$(cat $dir/cpuset.cpus)" [ "$(cat $dir/cpuset.cpus)" = 0 ]
    pids_dir=$dir
else
    pids_dir=/sys/fs/cgroup/pids$cgroup
    dir=/sys/fs/cgroup/cpu,cpuacct$cgroup
    check client.file-cpu.cfs_quota_us "$(cat $dir/cpu.cfs_quota_us)" [ "$(cat $dir/cpu.cfs_quota_us)" = 50000 ]
fi
check client.file-pids.max "$(cat $pids_dir/pids.max)" [ "$(cat $pids_dir/pids.max)" = 42 ]

out=$(systemd-client set $unit 77 2>&1)
value=$(systemctl show -p TasksMax --value $unit)
ok=false
[ "$value" = 77 ] && [ "$(cat $pids_dir/pids.max)" = 77 ] && ok=true
check client.set-properties "$out; TasksMax=$value; pids.max $(cat $pids_dir/pids.max)" $ok
out=$(systemd-client exists $unit 2>&1)
check client.exists "$out" [ "$out" = "$unit exists" ]

out=$(systemd-client stop $unit 2>&1)
left=$(systemctl list-units --all --no-legend --plain $unit)
ok=false
[ "$out" = "stopped $unit" ] && [ -z "$left" ] && ok=true
check client.stop "$out; left: [$left]" $ok
gone() { ! kill -0 $pid 2>/dev/null; }
wait_until 5 gone
check client.process-stopped "pid $pid $(kill -0 $pid 2>/dev/null && echo alive || echo gone)" gone
wait $pid 2>/dev/null
out=$(systemd-client exists $unit 2>&1)
check client.absent-after-stop "$out" [ "$out" = "$unit absent" ]
out=$(systemd-client stop $unit 2>&1)
check client.stop-absent "$out" [ "$out" = "no unit $unit" ]

# Errors: systemd refuses a bad slice; an unreachable bus names its socket.
sleep 600 &
pid=$!
out=$(systemd-client start-scope husk-client-bad.scope nope $pid 67108864 42 0 0 2>&1)
code=$?
case $out in
"systemd: StartTransientUnit: org.freedesktop.DBus.Error."*) pass client.refused "exit $code: $out" ;;
*) fail client.refused "exit $code: $out" ;;
esac
kill $pid
wait $pid 2>/dev/null
out=$(DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/husk-no-bus systemd-client version 2>&1)
check client.unreachable "$out" [ "$out" = "systemd: bus /run/husk-no-bus not reachable: No such file or directory" ]
