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
# Waits until follower 2 has applied the leader's last LSN; prints ms taken.
wait_caught_up() {
    local t0=$1 target
    target=$(info $P persistence last_lsn)
    while [ "$(info $((P+2)) replication applied_lsn 2>/dev/null || echo 0)" != "$target" ]; do sleep 0.02; done
    echo $(( $(now_ms) - t0 ))
}

"$SERVER" --node-id 2 --role follower --port $((P+1)) --repl-port $((P+11)) --data-dir "$WORK/f1" --log-level warn &
pids+=($!)
start_f2
"$SERVER" --node-id 1 --port $P --data-dir "$WORK/l" --quorum 1 --log-level warn \
    --checkpoint-every-bytes 0 --followers 127.0.0.1:$((P+11)),127.0.0.1:$((P+12)) &
pids+=($!)
wait_up $P && wait_up $((P+1)) && wait_up $((P+2)) || exit 1
sleep 1

log "baseline write throughput (no catch-up running)"
"$BENCH" --quiet -p $P -c 50 --duration 4 -n 100000000 -r 100000 > "$OUT/catchup_baseline.txt"
BASE=$(sed -n 's/.*: \([0-9.]*\) req\/s.*/\1/p' "$OUT/catchup_baseline.txt")

log "follower 2 down; writing $RECORDS records"
kill $f2; wait $f2 2>/dev/null; f2=""
"$BENCH" --quiet -p $P -c 50 -P 64 -n "$RECORDS" -r 1000000 -d 100 > /dev/null
BYTES_BEHIND=$(info $P persistence wal_bytes)

log "restarting follower 2: WAL catch-up, with the same client load running"
T0=$(now_ms)
start_f2
"$BENCH" --quiet -p $P -c 50 --duration 4 -n 100000000 -r 100000 > "$OUT/catchup_during.txt" &
bpid=$!
CATCHUP_MS=$(wait_caught_up "$T0")
wait $bpid
DURING=$(sed -n 's/.*: \([0-9.]*\) req\/s.*/\1/p' "$OUT/catchup_during.txt")
WAL_CATCHUPS=$("$CLI" -p $P info replication | tr -d '\r' | sed -n 's/^follower1:.*catchup_wal=\([0-9]*\).*/\1/p')

log "snapshot rejoin: follower 2 wiped"
"$CLI" -p $P bgsave >/dev/null
while [ "$(info $P persistence checkpoint_in_progress)" = 1 ]; do sleep 0.05; done
KEYS=$("$CLI" -p $P dbsize | sed 's/[^0-9]//g')
kill $f2; wait $f2 2>/dev/null; f2=""
rm -rf "$WORK/f2"
T1=$(now_ms)
start_f2
SNAP_MS=$(wait_caught_up "$T1")
SNAPS=$("$CLI" -p $P info replication | tr -d '\r' | sed -n 's/^follower1:.*catchup_snapshot=\([0-9]*\).*/\1/p')

awk -v r="$RECORDS" -v ms="$CATCHUP_MS" -v b="$BYTES_BEHIND" -v base="$BASE" -v during="$DURING" \
    -v keys="$KEYS" -v sms="$SNAP_MS" -v wc="$WAL_CATCHUPS" -v sc="$SNAPS" 'BEGIN {
    printf "WAL catch-up of %d records (leader WAL %.0f MB): %d ms, %.0f records/s, %.0f MB/s (catchup_wal=%s)\n",
        r, b / 1e6, ms, r / (ms / 1000), (b / 1e6) / (ms / 1000), wc
    printf "client writes during the catch-up: %.0f req/s vs %.0f req/s without (%.0f%%)\n",
        during, base, 100 * during / base
    printf "snapshot rejoin of a wiped follower, %d keys: %d ms (catchup_snapshot=%s)\n", keys, sms, sc
}' | tee "$OUT/catchup.txt"
