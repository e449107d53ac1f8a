#!/usr/bin/env bash
# Runs the cgroup scenarios on a real cgroup v2 kernel: Debian's, booted under
# QEMU in software emulation (TCG: no KVM needed), as root:
#
#   integration/vm/build-and-boot.sh [SCENARIO...]
#
# 1. the kernel: Debian's linux-image-6.1.0-N-amd64 (the version the
#    linux-image-amd64 metapackage points at), downloaded with apt-get and
#    cached as target/vm/vmlinuz; everything it needs here (cgroup2 with all
#    controllers, BPF device filters, namespaces, devtmpfs, the serial
#    console) is built in, so no modules are loaded;
# 2. a statically linked husk, built in target/static so that the normal
#    build is not invalidated;
# 3. an initramfs: busybox-static and its applets, the static husk, the
#    scenario script and a busybox rootfs for the bundles; its /init mounts
#    cgroup2 with every controller enabled, prints HUSK-VM-READY, runs the
#    scenarios and powers off;
# 4. the boot, its serial console printed and kept in target/vm/serial.log.
#
# Exits 0 when the VM printed SCENARIOS DONE and no check failed.
#
# Environment:
#   HUSK_CARGO_LOCKED=1   the caller holds /tmp/husk-cargo.lock already (the
#                         Rust test, which runs under cargo); otherwise the
#                         static build takes it
#   HUSK_SCENARIOS        the scenarios when none are given (default: all)
#   HUSK_VM_TIMEOUT       seconds before the VM is killed (default 600)
#   HUSK_VM_RUNTIME=PATH  test another runtime instead of husk, copied into
#                         the VM with its shared libraries: with
#                         /usr/sbin/runc it checks the scenarios themselves
#                         against runc on cgroup v2
#   HUSK_VM_ORACLE=PATH   runc for the scenarios that compare with it (stats,
#                         differential), copied in as /bin/runc with its shared
#                         libraries (default: /usr/sbin/runc where it is
#                         installed; empty: none, and those scenarios skip)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vm=$repo/target/vm
mkdir -p "$vm"
# One build-and-boot at a time: they share target/vm.
exec 9>"$vm/.lock"
flock 9

t0=$(date +%s)
say() { echo "vm: $* ($(($(date +%s) - t0)) s)" >&2; }
die() {
    echo "vm: $*" >&2
    exit 2
}

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ] && [ -n "${HUSK_SCENARIOS:-}" ]; then
    read -r -a scenarios <<<"$HUSK_SCENARIOS"
fi

for tool in qemu-system-x86_64 cpio gzip dpkg-deb apt-get; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install qemu-system-x86 cpio (.ci/run does)"
done
busybox=${BUSYBOX:-/bin/busybox}
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" 2>/dev/null | grep -q '=>'; then
    die "$busybox is not a static busybox: apt-get install busybox-static"
fi

# --- 1. The kernel -----------------------------------------------------------

# The package the linux-image-amd64 metapackage depends on.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}
# Downloads the kernel package into $tmp; prints the .deb's path.
download_kernel() {
    local pkg
    pkg=$(kernel_package)
    [ -n "$pkg" ] || return 1
    say "downloading $pkg"
    # apt downloads as _apt where it can write; as root otherwise, warning.
    chown _apt "$tmp" 2>/dev/null || true
    (cd "$tmp" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
    ls "$tmp"/*.deb 2>/dev/null | head -n 1 | grep .
}
if [ ! -s "$vm/vmlinuz" ]; then
    tmp=$vm/kernel.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if ! deb=$(download_kernel); then
        # No such package in the apt lists, or lists older than the archive.
        say "apt-get update, then again"
        apt-get update -qq
        deb=$(download_kernel) || die "cannot download Debian's kernel (linux-image-amd64's dependency)"
    fi
    # Only /boot is needed: the same files `dpkg-deb -x` would give there.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/*'
    cp "$tmp"/boot/config-* "$vm/kernel-config"
    echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >"$vm/kernel-package"
    cp "$tmp"/boot/vmlinuz-* "$vm/vmlinuz.new"
    mv "$vm/vmlinuz.new" "$vm/vmlinuz"
    rm -rf "$tmp"
fi
say "kernel: $(cat "$vm/kernel-package" 2>/dev/null || echo "$vm/vmlinuz")"

# --- 2. The runtime under test --------------------------------------------------

if [ -n "${HUSK_VM_RUNTIME:-}" ]; then
    runtime=$(command -v "$HUSK_VM_RUNTIME") || die "no $HUSK_VM_RUNTIME"
    say "runtime under test: $runtime (instead of husk)"
else
    say "building a static husk in target/static"
    build=(env -u CARGO_ENCODED_RUSTFLAGS RUSTFLAGS="-C target-feature=+crt-static"
        CARGO_TARGET_DIR="$repo/target/static"
        "${CARGO:-cargo}" build --release --target x86_64-unknown-linux-gnu --bin husk)
    if [ -z "${HUSK_CARGO_LOCKED:-}" ]; then
        build=(flock /tmp/husk-cargo.lock "${build[@]}")
    fi
    (cd "$repo" && "${build[@]}")
    runtime=$repo/target/static/x86_64-unknown-linux-gnu/release/husk
    # ldd says "statically linked" (static-pie) or "not a dynamic executable".
    if ldd "$runtime" 2>/dev/null | grep -q '=>'; then
        die "$runtime is dynamically linked"
    fi
fi

# --- 3. The initramfs ------------------------------------------------------------

stage=$vm/initramfs
rm -rf "$stage"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,run,newroot,usr}
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
ln -s bin "$stage/sbin"
ln -s ../bin "$stage/usr/bin"
ln -s ../bin "$stage/usr/sbin"
# copy_with_libs BINARY DEST: BINARY into the initramfs as DEST, with the
# shared libraries it loads (none for the static husk).
copy_with_libs() {
    cp "$1" "$stage$2"
    for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib"
    done
}
copy_with_libs "$runtime" /bin/husk
oracle=${HUSK_VM_ORACLE-/usr/sbin/runc}
if [ -n "$oracle" ] && [ -x "$oracle" ]; then
    copy_with_libs "$oracle" /bin/runc
    say "oracle: $oracle as /bin/runc"
fi
cp "$repo/integration/cgroup-scenarios.sh" "$stage/cgroup-scenarios.sh"
BUSYBOX=$busybox "$repo/oci-bundles/rootfs-busybox.sh" "$stage/rootfs"

cat >"$stage/init" <<'EOF'
#!/bin/sh
# The VM's init (busybox sh).
export PATH=/bin
if [ "${1:-}" != stage2 ]; then
    # Stage 1, on the initramfs. pivot_root cannot move away from it (its
    # mount has no parent), and every container pivots: so copy everything
    # to a tmpfs and switch_root there.
    mount -t tmpfs -o mode=755 newroot /newroot
    for f in /*; do
        case $f in /newroot | /dev | /proc | /sys) ;; *) cp -a "$f" /newroot/ ;; esac
    done
    mkdir -p /newroot/dev /newroot/proc /newroot/sys
    exec switch_root /newroot /init stage2
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control
done
# Kernel messages (OOM kills) would land in the middle of result lines.
dmesg -n 1
read -r up _ </proc/uptime
echo
echo "HUSK-VM-READY uptime=${up}s kernel=$(uname -r) controllers=[$(cat /sys/fs/cgroup/cgroup.controllers)] subtree_control=[$(cat /sys/fs/cgroup/cgroup.subtree_control)]"

scenarios=$(sed -n 's/.*husk\.scenarios=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' ')
# shellcheck disable=SC2086 # a list of words
sh /cgroup-scenarios.sh /bin/husk /rootfs /tmp/work $scenarios 2>&1 | tee /tmp/results
read -r up _ </proc/uptime
echo "HUSK-VM-END uptime=${up}s"
if grep -q '^RESULT .* FAIL' /tmp/results; then
    echo "HUSK-VM-DMESG (last 60 lines)"
    dmesg | tail -n 60
fi
sync
poweroff -f
EOF
chmod 755 "$stage/init"
(cd "$stage" && find . -print | cpio -o -H newc --quiet | gzip -1) >"$vm/initrd.gz.new"
mv "$vm/initrd.gz.new" "$vm/initrd.gz"
rm -rf "$stage"
say "initramfs: $(du -k "$vm/initrd.gz" | cut -f1) KiB"

# --- 4. The boot ----------------------------------------------------------------

append="console=ttyS0 panic=-1 quiet"
if [ ${#scenarios[@]} -gt 0 ]; then
    append="$append husk.scenarios=$(IFS=,; echo "${scenarios[*]}")"
fi
say "booting: qemu-system-x86_64 -accel tcg, 2 CPUs, 1 GiB; append: $append"
boot_start=$(date +%s)
set +e
timeout "${HUSK_VM_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 \
    -nographic -no-reboot -nic none \
    -kernel "$vm/vmlinuz" -initrd "$vm/initrd.gz" -append "$append" </dev/null |
    tr -d '\r' | tee "$vm/serial.log"
qemu=${PIPESTATUS[0]}
set -e
wall=$(($(date +%s) - boot_start))

ready=$(sed -n 's/.*HUSK-VM-READY uptime=\([0-9.]*\)s.*/\1/p' "$vm/serial.log")
end=$(sed -n 's/.*HUSK-VM-END uptime=\([0-9.]*\)s.*/\1/p' "$vm/serial.log")
say "qemu exited $qemu after ${wall} s; guest uptime at READY ${ready:-?} s, at END ${end:-?} s; serial log: $vm/serial.log"
if [ "$qemu" = 124 ]; then
    die "the VM did not finish within ${HUSK_VM_TIMEOUT:-600} s"
fi
grep -q '^SCENARIOS DONE' "$vm/serial.log" || die "the VM did not print SCENARIOS DONE"
if grep -q '^RESULT .* FAIL' "$vm/serial.log"; then
    echo "vm: failed checks:" >&2
    grep '^RESULT .* FAIL' "$vm/serial.log" >&2
    exit 1
fi
echo "vm: all checks passed" >&2
