#!/usr/bin/env bash
# tests/elect_chaos.sh [seconds] [seed] [elect_chaos flags...] -- the seeded
# nemesis against an elected cluster (kill -9 / SIGSTOP the leader, rolling
# restarts, follower kills, and as root with iproute2 cables pulled and
# partitions in network namespaces) while workers record every operation;
# then heal, one leader, converge, and check the history for
# linearizability. Extra flags go to the tool, e.g.
#   --nodes 5  --faults partition-leader,stop-leader  --history FILE
#   --strict-errors  --no-netns  --workers 8
# For long runs keep the history (--history FILE) and recheck it with
# build/tools/lincheck FILE. See tests/tools/elect_chaos.c for the faults.
set -u
cd "$(dirname "$0")/.."
BUILD=${RKV_BUILD:-${BUILD:-build}}
export RKV_BUILD=$BUILD
seconds=${1:-300}
seed=${2:-$(date +%s)}
shift $(( $# < 2 ? $# : 2 ))
exec "$BUILD/tools/elect_chaos" --seconds "$seconds" --seed "$seed" "$@"
