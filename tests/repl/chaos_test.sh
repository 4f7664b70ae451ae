#!/usr/bin/env bash
# The chaos run of `make check`: 60 seconds (CHAOS_SECONDS overrides), a
# fresh seed each run (printed; rerun with tests/chaos.sh SECONDS SEED).
#
# The default mix is the faults today's server survives: kill / SIGSTOP
# followers, proxy delay / blackhole / bit flips, kill -9 the leader, BGSAVE
# on rejoining followers, kill -9 during a snapshot install, long catch-ups
# (small segments on about half the seeds) and stopped checkpoint children;
# follower reads are checked, and reads that go backwards on a connection are
# reported but not fatal. CHAOS_NEW_FAULTS=1 adds the faults that find the
# bugs being fixed -- damage to the leader's newest WAL segment while it is
# down (acknowledged writes lost) -- and makes read regressions fatal (a
# follower rejoining by an older snapshot serves reads from it). Those runs
# fail on today's code; the lead turns CHAOS_NEW_FAULTS on here when the
# fixes land. Also: CHAOS_ARGS="--faults ... --small-segments ..." (see
# tests/tools/chaos.c).
# shellcheck disable=SC2086 # CHAOS_ARGS is a list of flags
exec "$(dirname "$0")/../chaos.sh" "${CHAOS_SECONDS:-60}" "${CHAOS_SEED:-$(date +%s)}" ${CHAOS_ARGS:-}
