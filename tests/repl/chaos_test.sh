#!/usr/bin/env bash
# The chaos run of `make check`: 60 seconds (CHAOS_SECONDS overrides), a
# fresh seed each run (printed; rerun with tests/chaos.sh SECONDS SEED).
#
# The default mix is every fault of tests/tools/chaos.c: kill / SIGSTOP
# followers, proxy delay / blackhole / bit flips, kill -9 the leader, BGSAVE
# on rejoining followers, kill -9 during a snapshot install, damage to the
# leader's newest WAL segment while it is down, long catch-ups (small
# segments on about half the seeds) and stopped checkpoint children; follower
# reads must never go backwards on a connection. Also: CHAOS_ARGS="--faults
# ... --small-segments ..." (see tests/tools/chaos.c).
# shellcheck disable=SC2086 # CHAOS_ARGS is a list of flags
# The whole output goes to a file; the runner shows the last lines, so the
# summary and every violation are repeated at the end (a violation can be
# far above the closing lines, behind the log tails of a failed run).
out=$(mktemp /tmp/rkv-chaos-out-XXXXXX)
"$(dirname "$0")/../chaos.sh" "${CHAOS_SECONDS:-60}" "${CHAOS_SEED:-$(date +%s)}" ${CHAOS_ARGS:-} > "$out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    grep -v '^[0-9]* passed, [0-9]* failed' "$out"
    echo "---- chaos summary and violations (full output above, kept in $out):"
    grep -E '^chaos: (seed|reads|bgsave|node|leader|the cluster|[0-9]+ violation)|READ (REGRESSION|VIOLATION)|acknowledged OK but|died|sanitizer' "$out" | tail -n 30 | sed 's/^/  /'
    echo "0 passed, 1 failed"
else
    grep -v '^chaos: t=' "$out"
    rm -f "$out"
fi
exit $rc
