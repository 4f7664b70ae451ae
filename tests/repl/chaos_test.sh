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
exec "$(dirname "$0")/../chaos.sh" "${CHAOS_SECONDS:-60}" "${CHAOS_SEED:-$(date +%s)}" ${CHAOS_ARGS:-}
