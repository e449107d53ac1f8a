#!/bin/sh
# The unprivileged user the rootless tests run as (integration/rootless.rs,
# integration/engines/podman-rootless.sh): made if missing, with 65536
# subordinate uids and gids, and left for the next run (removing it while
# another test may use it would race). Prints
#   NAME UID GID SUBUID-START SUBUID-COUNT SUBGID-START SUBGID-COUNT
set -eu
name=husk-rootless
# Serialised: tests run in parallel, and useradd locks /etc/passwd itself
# but two runs would both try to add the user.
exec 9>/run/husk-rootless-user.lock
flock 9
if ! id "$name" >/dev/null 2>&1; then
    # Debian's useradd gives a new user a range in /etc/subuid and /etc/subgid.
    useradd --create-home --shell /bin/sh "$name"
fi
for f in /etc/subuid /etc/subgid; do
    if ! grep -q "^$name:" "$f" 2>/dev/null; then
        usermod --add-subuids 400000-465535 --add-subgids 400000-465535 "$name"
    fi
done
range() { awk -F: -v n="$name" '$1 == n { print $2, $3; exit }' "$1"; }
echo "$name $(id -u "$name") $(id -g "$name") $(range /etc/subuid) $(range /etc/subgid)"
