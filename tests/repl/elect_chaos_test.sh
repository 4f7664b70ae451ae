#!/usr/bin/env bash
# The elected-cluster chaos run of `make check`: about 30 s (ELECT_CHAOS_SECONDS
# sets the nemesis's part, 25 s by default), a fresh seed each run (printed;
# rerun with tests/elect_chaos.sh SECONDS SEED), every fault of
# tests/tools/elect_chaos.c: the partition ones in network namespaces when
# this runs as root with iproute2, reported as skipped otherwise. Every
# client operation is recorded and the history must be linearizable, every
# node must agree on one leader and hold the same data at the end.
# ELECT_CHAOS_ARGS="--nodes 5 ..." passes more flags.
# shellcheck disable=SC2086 # ELECT_CHAOS_ARGS is a list of flags
# The whole output goes to a file; the runner shows the last lines, so the
# summary and every violation are repeated at the end.
set -u
cd "$(dirname "$0")/../.."
tag=rket$(( $$ % 100000 ))
out=$(mktemp /tmp/rkv-elect-chaos-out-XXXXXX)
hist=$(mktemp /tmp/rkv-elect-chaos-hist-XXXXXX)
cleanup() { # namespaces and the cable, should the tool have died before removing them
    command -v ip >/dev/null || return 0
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$tag" || true); do
        ip netns del "$ns" 2>/dev/null
    done
    ip link del "${tag}r" 2>/dev/null || true
}
trap cleanup EXIT
bash tests/elect_chaos.sh "${ELECT_CHAOS_SECONDS:-25}" "${ELECT_CHAOS_SEED:-$(date +%s)}" \
    --net-tag "$tag" --history "$hist" ${ELECT_CHAOS_ARGS:-} > "$out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    grep -v '^[0-9]* passed, [0-9]* failed' "$out"
    echo "---- elect_chaos summary and violations (full output above, kept in $out; history in $hist):"
    grep -E '^elect_chaos: (seed|faults|SKIPPED|VIOLATION|[0-9]+ violation)|^  |^lincheck: ' "$out" | tail -n 40 | sed 's/^/  /'
    if grep -q '^[0-9]* passed, [0-9]* failed' "$out"; then
        grep '^[0-9]* passed, [0-9]* failed' "$out" | tail -n 1
    else
        echo "0 passed, 1 failed, 0 skipped" # it died without its summary
    fi
else
    grep -v '^elect_chaos: t=' "$out"
    rm -f "$out" "$hist"
fi
exit $rc
