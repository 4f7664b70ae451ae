#!/usr/bin/env bash
# bench/failover.sh [TRIALS] -- how long writes stop when the leader dies.
#
# Starts a three-node elected cluster with default settings (election
# timeout 1000 ms, heartbeat 100 ms), runs bench/failover_probe.py (8 writer
# threads following the leader) and TRIALS times (default 20): waits until
# one leader is agreed on and writes flow, kill -9 the leader, records the
# probe's client-side gap (last OK before the kill to the first OK after),
# restarts the killed node and waits until it is a follower again. Prints
# every gap and the median / worst, in milliseconds.
#
#   bench/failover.sh 20
set -u
cd "$(dirname "$0")/.."
TRIALS=${1:-20}
BUILD=${BUILD:-build}
S="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
BASE=${BASE_PORT:-18500}
WORK=$(mktemp -d /tmp/rkv-failover-XXXXXX)
declare -A pid
probe=
cleanup() {
    [ -n "$probe" ] && kill "$probe" 2>/dev/null
    for i in 1 2 3; do [ -n "${pid[$i]:-}" ] && kill "${pid[$i]}" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
peers="1=127.0.0.1:$((BASE+10)),2=127.0.0.1:$((BASE+11)),3=127.0.0.1:$((BASE+12))"
start() { # node 1..3
    "$S" --node-id "$1" --port $((BASE+$1-1)) --peers "$peers" --data-dir "$WORK/d$1" \
        --log-level warn >> "$WORK/n$1.log" 2>&1 &
    pid[$1]=$!
}
role() { "$CLI" -p $((BASE+$1-1)) info replication 2>/dev/null | tr -d '\r' | sed -n 's/^election_role://p'; }
leader() { for i in 1 2 3; do [ "$(role $i)" = leader ] && { echo $i; return; }; done; }
wait_for() { # deadline_s, command...
    local end=$(( $(date +%s) + $1 )); shift
    until "$@"; do [ "$(date +%s)" -ge $end ] && return 1; sleep 0.05; done
}
is_follower() { [ "$(role $1)" = follower ]; }
has_leader() { L=$(leader); [ -n "$L" ]; }
for i in 1 2 3; do start $i; done
python3 bench/failover_probe.py --nodes "127.0.0.1:$BASE,127.0.0.1:$((BASE+1)),127.0.0.1:$((BASE+2))" \
    > "$WORK/probe.out" 2>&1 &
probe=$!
gaps=()
for t in $(seq "$TRIALS"); do
    wait_for 30 has_leader || { echo "trial $t: no leader" >&2; exit 1; }
    sleep 2 # steady load before the kill
    before=$(grep -c '^gap' "$WORK/probe.out")
    kill -9 "${pid[$L]}"; wait "${pid[$L]}" 2>/dev/null
    kill_t=$(date +%s.%N)
    new_gap() { [ "$(grep -c '^gap' "$WORK/probe.out")" -gt "$before" ]; }
    wait_for 30 new_gap || { echo "trial $t: writes did not resume within 30 s" >&2; exit 1; }
    g=$(grep '^gap' "$WORK/probe.out" | sed -n "$((before + 1))p" |
        awk -v k="$kill_t" '{ printf "%d %d", ($3 - $2) * 1000, ($3 - k) * 1000 }')
    gaps+=("${g% *}")
    echo "trial $t: killed node $L; gap ${g% *} ms (first OK ${g#* } ms after the kill)"
    start "$L"
    wait_for 30 is_follower "$L" || { echo "trial $t: node $L did not rejoin" >&2; exit 1; }
done
kill "$probe"; wait "$probe" 2>/dev/null; probe=
grep '^totals' "$WORK/probe.out"
printf '%s\n' "${gaps[@]}" | sort -n | awk '{a[NR]=$1} END {
    printf "failover gap over %d trials: min %d ms, median %d ms, p90 %d ms, max %d ms\n",
        NR, a[1], a[int((NR + 1) / 2)], a[int(NR * 0.9 + 0.5)], a[NR] }'
