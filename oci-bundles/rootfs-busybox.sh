#!/bin/sh
# Builds a minimal root filesystem from Debian's busybox-static:
#   oci-bundles/rootfs-busybox.sh DEST
# DEST gets /bin/busybox, a symlink per applet, /etc/passwd and /etc/group,
# and the empty directories a container's mounts land on.
set -eu
dest=${1:?usage: rootfs-busybox.sh DEST}
busybox=${BUSYBOX:-/bin/busybox}
# ldd fails on a static binary, which is what a rootfs without libc needs.
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
    echo "rootfs-busybox.sh: $busybox is not a static busybox; install Debian's busybox-static" >&2
    exit 1
fi
mkdir -p "$dest/bin" "$dest/etc" "$dest/proc" "$dest/sys" "$dest/dev" "$dest/tmp" "$dest/root" "$dest/home/user"
cp "$busybox" "$dest/bin/busybox"
for applet in $("$dest/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dest/bin/$applet"
done
cat > "$dest/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$dest/etc/group" <<'EOF'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
EOF
chmod 1777 "$dest/tmp"
chown 1000:1000 "$dest/home/user"
