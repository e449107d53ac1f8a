#!/bin/sh
# The payload's entry point in the systemd VM (systemd-boot.sh): runs every
# scenario of /payload/scenarios in name order, each printing
# `RESULT name PASS|FAIL detail` lines (integration/common/verdict.rs reads
# them), then SCENARIOS DONE.
export PATH=/payload/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Kernel messages would land in the middle of result lines.
dmesg -n 1 2>/dev/null
for scenario in /payload/scenarios/*.sh; do
    echo "SCENARIO $(basename "$scenario" .sh) at $(cut -d' ' -f1 /proc/uptime) s"
    sh "$scenario" || echo "RESULT $(basename "$scenario" .sh).exit FAIL the scenario exited $?"
done
echo "SCENARIOS DONE"
