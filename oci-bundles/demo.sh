#!/usr/bin/env bash
# Builds husk and runs the demo container (as root):  sudo oci-bundles/demo.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    echo "demo: installing Debian's busybox-static for the rootfs" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi
cargo build --release
[ -x oci-bundles/busybox/rootfs/bin/busybox ] || oci-bundles/rootfs-busybox.sh oci-bundles/busybox/rootfs

root=$(mktemp -d /tmp/husk-demo.XXXXXX)
trap 'rm -rf "$root"' EXIT
exec_id="demo-$$"
target/x86_64-unknown-linux-gnu/release/husk --root "$root" run --bundle oci-bundles/busybox "$exec_id"
