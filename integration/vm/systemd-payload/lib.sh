# Sourced by the payload's scenarios: result lines for integration/common/verdict.rs.
pass() { echo "RESULT $1 PASS ${2:-}"; }
fail() { echo "RESULT $1 FAIL ${2:-}"; }
# check NAME DETAIL COMMAND...: PASS when the command succeeds.
check() {
    name=$1 detail=$2
    shift 2
    if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}
# wait_until SECONDS COMMAND...: polls every 0.1 s.
wait_until() {
    limit=$(($1 * 10))
    shift
    n=0
    until "$@"; do
        [ $n -lt $limit ] || return 1
        sleep 0.1
        n=$((n + 1))
    done
}
# phase NAME: the guest's uptime, to see where a scenario spends its time.
phase() { echo "PHASE $1 $(cut -d' ' -f1 /proc/uptime)"; }
