#!/usr/bin/env bash
# bench/catchup.sh -- rejoin speed: WAL catch-up of a follower N records
# behind, snapshot rejoin of a wiped follower, and client write throughput
# during a catch-up compared with the same load without one.
#
#   bench/catchup.sh [--records N] [--out DIR]      (default 1000000)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
RECORDS=1000000
OUT=bench/out
while [ $# -gt 0 ]; do
    case $1 in
        --records) RECORDS=$2; shift ;;
        --out) OUT=$2; shift ;;
        *) echo "usage: $0 [--records N] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
make -s -j2 BUILD="$BUILD" "$BUILD/rkv-server" "$BUILD/rkv-cli" "$BUILD/rkv-bench" >/dev/null || exit 1
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/rkv-catchup-XXXXXX)
SERVER="$ROOT/$BUILD/rkv-server" CLI="$ROOT/$BUILD/rkv-cli" BENCH="$ROOT/$BUILD/rkv-bench"
P=${BASE_PORT:-17500}
pids=() f2=""
cleanup() { kill "${pids[@]}" $f2 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { echo "[catchup] $*" >&2; }
info() { "$CLI" -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
now_ms() { date +%s%3N; }
wait_up() { for _ in $(seq 200); do "$CLI" -p "$1" -t 1 ping >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }
start_f2() {
    "$SERVER" --node-id 3 --role follower --port $((P+2)) --repl-port $((P+12)) --data-dir "$WORK/f2" \
        --log-file "$WORK/f2.log" &
    f2=$!
}
# Follower 2's link state in the leader's INFO (follower1 line).
f2_state() { "$CLI" -p $P info replication | tr -d '\r' | sed -n 's/^follower1:.*state=\([a-z_]*\).*/\1/p'; }
f2_field() { "$CLI" -p $P info replication | tr -d '\r' | sed -n "s/^follower1:.*$1=\([0-9]*\).*/\1/p"; }
lsn() { info $P persistence last_lsn; }
# Waits until follower 2 streams live records again (caught up).
wait_streaming() {
    sleep 0.2
    until [ "$(f2_state)" = streaming ] && [ "$(info $((P+2)) replication applied_lsn 2>/dev/null || echo 0)" -gt "$1" ]; do
        sleep 0.02
    done
}
# Client write rate (records/s) over the next SECONDS, from the leader's LSN.
write_rate() {
    local l0 t0 l1 t1
    l0=$(lsn); t0=$(now_ms); sleep "$1"; l1=$(lsn); t1=$(now_ms)
    awk -v a="$l0" -v b="$l1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / ((e - s) / 1000) }'
}

"$SERVER" --node-id 2 --role follower --port $((P+1)) --repl-port $((P+11)) --data-dir "$WORK/f1" --log-level warn &
pids+=($!)
start_f2
"$SERVER" --node-id 1 --port $P --data-dir "$WORK/l" --quorum 1 --log-file "$WORK/l.log" --wal-retain-bytes 0 \
    --checkpoint-every-bytes 0 --followers 127.0.0.1:$((P+11)),127.0.0.1:$((P+12)) &
pids+=($!)
wait_up $P && wait_up $((P+1)) && wait_up $((P+2)) || exit 1
sleep 1

log "baseline: client write rate with no catch-up running"
"$BENCH" --quiet -p $P -c 50 --duration 6 -n 100000000 -r 100000 > /dev/null &
bpid=$!
sleep 1
BASE=$(write_rate 3)
wait $bpid

log "idle catch-up: follower 2 down, $RECORDS records written, restarted with no client load"
kill $f2; wait $f2 2>/dev/null; f2=""
IDLE_FROM=$(lsn)
"$BENCH" --quiet -p $P -c 50 -P 64 -n "$RECORDS" -r 1000000 -d 100 > /dev/null
start_f2
wait_streaming "$IDLE_FROM"
IDLE_LINE=$(grep "caught up:" "$WORK/l.log" | tail -n 1 | sed 's/.*caught up: //')

log "follower 2 down; writing $RECORDS records"
kill $f2; wait $f2 2>/dev/null; f2=""
F2_LSN=$(lsn)
"$BENCH" --quiet -p $P -c 50 -P 64 -n "$RECORDS" -r 1000000 -d 100 > /dev/null
BEHIND=$(( $(lsn) - F2_LSN ))
BYTES_PER_REC=$(awk -v b="$(info $P persistence wal_bytes)" -v l="$(lsn)" 'BEGIN { printf "%.1f", b / l }')

log "restarting follower 2 ($BEHIND records behind) with the same client load running"
"$BENCH" --quiet -p $P -c 50 --duration 60 -n 100000000 -r 100000 > /dev/null &
bpid=$!
sleep 1
L0=$(lsn); T0=$(now_ms)
start_f2
wait_streaming "$F2_LSN"
T1=$(now_ms); L1=$(lsn)
CATCHUP_MS=$((T1 - T0))
SHIPPED=$(( $(info $((P+2)) replication applied_lsn) - F2_LSN ))
DURING=$(awk -v a="$L0" -v b="$L1" -v s="$T0" -v e="$T1" 'BEGIN { printf "%.0f", (b - a) / ((e - s) / 1000) }')
kill $bpid 2>/dev/null; wait $bpid 2>/dev/null
WAL_CATCHUPS=$(f2_field catchup_wal)
# The leader's own measure, from the handshake to the switch to streaming
# (the time above also counts the follower's start-up and the redial backoff).
LEADER_LINE=$(grep "caught up:" "$WORK/l.log" | tail -n 1 | sed 's/.*caught up: //')

log "snapshot rejoin: follower 2 wiped"
# Two checkpoints, so the WAL below the older one (LSN 1 on) is removed and a
# wiped follower can only come back by snapshot.
for round in 1 2; do
    "$CLI" -p $P set "checkpoint-round-$round" x >/dev/null
    "$CLI" -p $P bgsave >/dev/null
    while [ "$(info $P persistence checkpoint_in_progress)" = 1 ]; do sleep 0.05; done
done
KEYS=$("$CLI" -p $P dbsize | sed 's/[^0-9]//g')
kill $f2; wait $f2 2>/dev/null; f2=""
rm -rf "$WORK/f2"
T2=$(now_ms)
start_f2
wait_streaming 0
SNAP_MS=$(( $(now_ms) - T2 ))
SNAPS=$(f2_field catchup_snapshot)

awk -v r="$SHIPPED" -v behind="$BEHIND" -v ms="$CATCHUP_MS" -v bpr="$BYTES_PER_REC" -v base="$BASE" \
    -v during="$DURING" -v leader="$LEADER_LINE" -v idle="$IDLE_LINE" -v keys="$KEYS" -v sms="$SNAP_MS" -v wc="$WAL_CATCHUPS" -v sc="$SNAPS" 'BEGIN {
    printf "WAL catch-up of a follower %d records behind: %d records (%.0f MB) shipped in %d ms, %.0f records/s, %.0f MB/s (catchup_wal=%s)\n",
        behind, r, r * bpr / 1e6, ms, r / (ms / 1000), r * bpr / 1e6 / (ms / 1000), wc
    printf "  leader: %s\n", leader
    printf "the same with no client load, measured by the leader: %s\n", idle
    printf "client writes during the catch-up: %.0f/s vs %.0f/s without (%.0f%%)\n",
        during, base, 100 * during / base
    printf "snapshot rejoin of a wiped follower, %d keys: %d ms (catchup_snapshot=%s)\n", keys, sms, sc
}' | tee "$OUT/catchup.txt"
