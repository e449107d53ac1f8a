#!/usr/bin/env bash
# Builds (once per machine) a Debian bookworm host with systemd as PID 1, for
# the systemd cgroup driver's tests, and prints the directory that holds it:
#
#   integration/vm/systemd-image.sh        # prints /var/cache/husk-vm/systemd-<hash>
#
# That directory holds
#   rootfs.img   ext4 (made by mke2fs -d: no loop mount), the root file system:
#                systemd, dbus, udev, runc (the oracle), containerd, podman,
#                docker.io, iptables, criu, busybox-static, procps, jq
#   vmlinuz      Debian's kernel (linux-image-amd64) from that root
#   initrd.gz    a small busybox initramfs that loads the modules the kernel
#                lacks to reach the root (virtio_blk, ext4: Debian builds them
#                as modules), mounts /dev/vda and switch_roots to systemd
#   packages     the root's package list (dpkg-query), for the record
#
# The directory's name is a hash of this script (its package list and every
# build step), so editing the script builds a new image; the old one stays
# until removed. One build at a time (a lock in the cache directory). The
# root's systemd runs /usr/local/sbin/husk-payload once booted: it mounts the
# second virtio disk (/dev/vdb, see systemd-boot.sh) on /payload, runs
# /payload/run.sh with its output on the serial console, and powers off.
#
# Environment: HUSK_VM_CACHE (default /var/cache/husk-vm).
set -euo pipefail

script=$(readlink -f "$0")
cache=${HUSK_VM_CACHE:-/var/cache/husk-vm}
hash=$(sha256sum "$script" | cut -c1-16)
out=$cache/systemd-$hash

t0=$(date +%s)
say() { echo "systemd-image: $* ($(($(date +%s) - t0)) s)" >&2; }
die() {
    echo "systemd-image: $*" >&2
    exit 2
}

if [ -s "$out/rootfs.img" ]; then
    echo "$out"
    exit 0
fi
for tool in mmdebstrap mke2fs unshare findmnt cpio gzip; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install mmdebstrap e2fsprogs cpio (.ci/run does)"
done
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -s "$out/rootfs.img" ]; then
    echo "$out"
    exit 0
fi

# systemd and what systemd-run, busctl and the engines need (dbus-user-session:
# the user bus that rootless.sh reaches the user's systemd instance over); Debian's runc is
# the oracle; busybox-static makes the containers' root file systems. criu
# (3.17.1, built for this 6.1 kernel; it fails `criu check` on newer hosts)
# is what runc, husk, containerd and podman checkpoint and restore with
# (integration/checkpoint_vm.rs); its network lock uses iptables.
packages=(
    systemd systemd-sysv dbus udev kmod linux-image-amd64
    runc containerd podman conmon docker.io iptables criu
    busybox-static procps jq iproute2 dbus-user-session
)
mirror=http://deb.debian.org/debian
security=http://deb.debian.org/debian-security

tmp=$(mktemp -d "$cache/build.XXXXXX")
cleanup() {
    if findmnt -rn -o TARGET | grep -q "^$tmp"; then
        echo "systemd-image: something is mounted under $tmp; left in place" >&2
        return
    fi
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
root=$tmp/root

# --- 1. The root file system ---------------------------------------------------
# mmdebstrap mounts /proc, /sys and /dev in the chroot while installing: in a
# private mount namespace, so none of it can outlive the build or reach the
# host's mount table. It keeps services from starting in the chroot
# (policy-rc.d). Documentation and locales are not installed.
say "mmdebstrap bookworm: ${packages[*]}"
nice -n 10 unshare -m --propagation private \
    mmdebstrap --quiet --mode=root --variant=apt \
    --include="$(IFS=,; echo "${packages[*]}")" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main" >"$tmp/mmdebstrap.log" 2>&1 ||
    {
        tail -n 30 "$tmp/mmdebstrap.log" >&2
        die "mmdebstrap failed"
    }
say "root: $(du -sm "$root" | cut -f1) MiB"

# --- 2. Its configuration ------------------------------------------------------------
echo husk-vm >"$root/etc/hostname"
# A fixed machine id: not a first boot (no systemd-firstboot prompt on the
# console), and the same host at every boot of the image.
echo "$hash$hash" >"$root/etc/machine-id"
# The initramfs mounts the root read-write; nothing else is mounted from disk.
: >"$root/etc/fstab"
# Started by the scenarios that need them, not at boot.
systemctl --root="$root" disable --quiet docker.service docker.socket containerd.service 2>/dev/null || true
# What a test host does not need, each a second or more under emulation.
systemctl --root="$root" mask --quiet \
    getty@tty1.service serial-getty@ttyS0.service getty.target console-getty.service \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    fstrim.timer logrotate.timer man-db.timer systemd-tmpfiles-clean.timer \
    podman-auto-update.timer podman-auto-update.service podman-restart.service podman-clean-transient.service \
    modprobe@drm.service modprobe@efi_pstore.service systemd-pstore.service \
    systemd-networkd-wait-online.service systemd-firstboot.service \
    systemd-random-seed.service systemd-update-utmp.service systemd-update-utmp-runlevel.service \
    systemd-journal-catalog-update.service ldconfig.service systemd-hwdb-update.service \
    2>/dev/null || true
systemctl --root="$root" set-default --quiet multi-user.target
mkdir -p "$root/etc/systemd/journald.conf.d" "$root/payload"
# The journal stays in memory: the root disk is a throw-away snapshot.
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/volatile.conf"

cat >"$root/usr/local/sbin/husk-payload" <<'EOF'
#!/bin/sh
# Runs the test payload from the second disk, its output on the serial
# console, then powers off (systemd-boot.sh reads the console).
read -r up _ </proc/uptime
echo "HUSK-VM-READY uptime=${up}s kernel=$(uname -r) cgroupfs=$(stat -fc %T /sys/fs/cgroup)"
if mount -o rw /dev/vdb /payload 2>/tmp/payload-mount.err && [ -x /payload/run.sh ]; then
    (cd /payload && ./run.sh) 2>&1
    echo "HUSK-VM-PAYLOAD-EXIT $?"
else
    echo "HUSK-VM-NO-PAYLOAD $(cat /tmp/payload-mount.err)"
fi
read -r up _ </proc/uptime
echo "HUSK-VM-END uptime=${up}s"
sync
umount /payload 2>/dev/null
systemctl poweroff --force --force
EOF
chmod 755 "$root/usr/local/sbin/husk-payload"
# After multi-user.target: `systemctl is-system-running` reaches running
# (or degraded) while the payload runs, since a simple service's start job
# ends when its process is forked.
cat >"$root/etc/systemd/system/husk-payload.service" <<'EOF'
[Unit]
Description=husk test payload from /dev/vdb
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/husk-payload
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no

[Install]
WantedBy=multi-user.target
EOF
systemctl --root="$root" enable --quiet husk-payload.service

# Kernel modules of hardware the VM has not (about half of them): a smaller
# image and mke2fs. Docker's bridge, veth, netfilter and overlay stay.
kver=$(basename "$(ls -d "$root"/lib/modules/*)")
mods=$root/lib/modules/$kver/kernel
rm -rf --one-file-system "$mods"/drivers/{gpu,media,infiniband,staging,net/wireless,net/ethernet,isdn,scsi} \
    "$mods"/sound "$mods"/net/{bluetooth,wireless,mac80211}
chroot "$root" depmod "$kver"

# --- 3. The kernel and the initramfs -------------------------------------------
cp "$root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
# The modules between the kernel and /dev/vda, with their dependencies in
# load order (modules.dep lists a module's dependencies after it).
moddir=$root/lib/modules/$kver
want=(virtio_pci virtio_blk crc32c_generic ext4)
order=()
add_module() { # $1: a path relative to $moddir
    local m=$1 dep
    for have in "${order[@]}"; do [ "$have" = "$m" ] && return 0; done
    for dep in $(sed -n "s|^$m: *||p" "$moddir/modules.dep"); do add_module "$dep"; done
    order+=("$m")
}
for name in "${want[@]}"; do
    if grep -q "/$name.ko\$" "$moddir/modules.builtin"; then continue; fi
    path=$(grep -o "^[^:]*/$name\.ko[^:]*" "$moddir/modules.dep" | head -n 1) || die "no module $name in $kver"
    add_module "$path"
done
say "initramfs modules: ${order[*]}"
initrd=$tmp/initrd
mkdir -p "$initrd"/{bin,dev,proc,sys,newroot,modules}
cp "$root/bin/busybox" "$initrd/bin/busybox"
for applet in sh mount umount insmod switch_root sleep cat; do ln -s busybox "$initrd/bin/$applet"; done
: >"$initrd/modules/order"
for m in "${order[@]}"; do
    f=$(basename "$m")
    name=${f%%.ko*}
    case $f in
    *.xz) xz -dc "$moddir/$m" >"$initrd/modules/$name.ko" ;;
    *.zst) zstd -qdc "$moddir/$m" >"$initrd/modules/$name.ko" ;;
    *) cp "$moddir/$m" "$initrd/modules/$name.ko" ;;
    esac
    echo "$name" >>"$initrd/modules/order"
done
cat >"$initrd/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/modules/$m.ko" || echo "initramfs: insmod $m failed"; done </modules/order
n=0
while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; cat /proc/partitions; sleep 2; exit 1; }
umount /proc /sys /dev
exec switch_root /newroot /sbin/init
EOF
chmod 755 "$initrd/init"
(cd "$initrd" && find . -print | cpio -o -H newc --quiet | gzip -1) >"$tmp/initrd.gz"

# --- 4. The ext4 image -----------------------------------------------------------------
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$tmp/packages"
rm -rf --one-file-system "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/boot/*
used=$(du -sm "$root" | cut -f1)
# Room for the containers' state, images and logs of the scenarios: the
# image is sparse and the VM writes to a snapshot of it.
size=$((used + 1536))
say "mke2fs -d: ${used} MiB used, ${size} MiB image"
# Its "Creating regular file" line to stderr: this script's stdout is the
# image directory alone, which systemd-boot.sh reads.
nice -n 10 mke2fs -q -F -t ext4 -L husk-root -d "$root" "$tmp/rootfs.img" "${size}M" >&2

mkdir -p "$tmp/out"
mv "$tmp/rootfs.img" "$tmp/vmlinuz" "$tmp/initrd.gz" "$tmp/packages" "$tmp/out/"
echo "$kver" >"$tmp/out/kernel-release"
mv "$tmp/out" "$out"
say "built $out ($(du -sm "$out" | cut -f1) MiB on disk)"
echo "$out"
