#!/usr/bin/env bash
# tests/chaos.sh [seconds] [seed] -- seeded nemesis against a real cluster
# (kill -9 / SIGSTOP followers, proxy delay / blackhole / bit flips, kill -9
# the leader) while writers record every outcome; then heal, converge, and
# check that every acknowledged write is on every node. See tests/tools/chaos.c.
set -u
cd "$(dirname "$0")/.."
BUILD=${RKV_BUILD:-${BUILD:-build}}
export RKV_BUILD=$BUILD
seconds=${1:-60}
seed=${2:-$(date +%s)}
exec "$BUILD/tools/chaos" --seconds "$seconds" --seed "$seed"
