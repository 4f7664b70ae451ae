#!/usr/bin/env bash
# tests/chaos.sh [seconds] [seed] [chaos flags...] -- seeded nemesis against a
# real cluster (kill -9 / SIGSTOP followers, proxy delay / blackhole / bit
# flips, kill -9 the leader, BGSAVE on rejoining followers, kill -9 during a
# snapshot install, long catch-ups, stopped checkpoint children, damage to
# the leader's newest WAL segment) while writers record every
# outcome and readers check follower reads; then heal, converge, and check
# that every acknowledged write is on every node. Extra flags go to the tool:
#   --faults kill-follower,snapkill,...|all   --small-segments   --lenient-reads
# See tests/tools/chaos.c for the list of faults.
set -u
cd "$(dirname "$0")/.."
BUILD=${RKV_BUILD:-${BUILD:-build}}
export RKV_BUILD=$BUILD
seconds=${1:-60}
seed=${2:-$(date +%s)}
shift $(( $# < 2 ? $# : 2 ))
exec "$BUILD/tools/chaos" --seconds "$seconds" --seed "$seed" "$@"
