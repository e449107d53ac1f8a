#!/usr/bin/env bash
# Boots the systemd host of systemd-image.sh (built first if not cached) under
# QEMU in software emulation, with a test payload, and prints its serial
# console:
#
#   integration/vm/systemd-boot.sh v2|hybrid PAYLOAD-DIR [LOG]
#
# v2      the default of bookworm's systemd 252: cgroup2 on /sys/fs/cgroup
# hybrid  systemd.unified_cgroup_hierarchy=0: v1 controllers under
#         /sys/fs/cgroup/<ctrl>, systemd's own cgroup2 on /sys/fs/cgroup/unified
#
# PAYLOAD-DIR becomes an ext4 disk (mke2fs -d), the VM's /dev/vdb, mounted on
# /payload; the image's husk-payload.service runs /payload/run.sh once the
# system is up (after multi-user.target) with its output on the serial
# console, then powers off. The root disk is a snapshot: the cached image is
# never written. The console goes to stdout and to LOG (default
# target/systemd-vm/serial-MODE.log).
#
# Exits 0 when the payload ran and exited 0, 1 when it failed, 2 when the VM
# did not get there (no payload run, timeout).
#
# Environment: HUSK_VM_TIMEOUT (seconds, default 600), HUSK_VM_CACHE (see
# systemd-image.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() {
    echo "systemd-boot: $*" >&2
    exit 2
}
[ $# -ge 2 ] || die "usage: systemd-boot.sh v2|hybrid PAYLOAD-DIR [LOG]"
mode=$1
payload=$(cd "$2" && pwd) || die "no payload directory $2"
log=${3:-$repo/target/systemd-vm/serial-$mode.log}
mkdir -p "$(dirname "$log")"

append="console=ttyS0 quiet loglevel=3 panic=-1 systemd.show_status=error"
case $mode in
v2) ;;
hybrid) append="$append systemd.unified_cgroup_hierarchy=0" ;;
*) die "mode is v2 or hybrid, not $mode" ;;
esac
[ -x "$payload/run.sh" ] || die "$payload/run.sh is not an executable"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing: apt-get install qemu-system-x86"

image=$("$here/systemd-image.sh")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/husk-systemd-vm.XXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT
size=$(($(du -sm "$payload" | cut -f1) + 64))
mke2fs -q -F -t ext4 -L husk-payload -d "$payload" "$tmp/payload.img" "${size}M" >/dev/null 2>"$tmp/mke2fs.err" ||
    die "mke2fs -d $payload: $(cat "$tmp/mke2fs.err")"

echo "systemd-boot: $mode: $image; append: $append" >&2
start=$(date +%s%N)
set +e
# The snapshot's overlay goes to $TMPDIR: point it at $tmp.
TMPDIR=$tmp timeout "${HUSK_VM_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 \
    -nographic -no-reboot -nic none \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.gz" -append "$append" \
    -drive "file=$image/rootfs.img,if=virtio,format=raw,snapshot=on" \
    -drive "file=$tmp/payload.img,if=virtio,format=raw" </dev/null |
    tr -d '\r' | tee "$log"
qemu=${PIPESTATUS[0]}
set -e
wall_ms=$((($(date +%s%N) - start) / 1000000))

ready=$(sed -n 's/.*HUSK-VM-READY uptime=\([0-9.]*\)s.*/\1/p' "$log")
end=$(sed -n 's/.*HUSK-VM-END uptime=\([0-9.]*\)s.*/\1/p' "$log")
printf 'systemd-boot: %s: qemu exited %s after %d.%03d s; guest uptime at READY %s s, at END %s s; log %s\n' \
    "$mode" "$qemu" $((wall_ms / 1000)) $((wall_ms % 1000)) "${ready:-?}" "${end:-?}" "$log" >&2
[ "$qemu" != 124 ] || die "$mode: the VM did not finish within ${HUSK_VM_TIMEOUT:-600} s"
grep -q '^HUSK-VM-PAYLOAD-EXIT ' "$log" || die "$mode: the payload did not run"
grep -q '^HUSK-VM-PAYLOAD-EXIT 0$' "$log" || exit 1
