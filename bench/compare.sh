#!/usr/bin/env bash
# bench/compare.sh -- rkv vs Redis (with WAIT) vs etcd, same machine, one run.
#
# Starts, on loopback: rkv (three elected nodes, quorum 1; RKV_FIXED=1 for the
# fixed leader + 2 followers), Redis 7 primary +
# 2 replicas twice (no persistence; appendonly yes + appendfsync always on all
# nodes) and etcd 3.4 (three members), runs the same workloads one after the
# other with rkv-bench (RESP; for Redis every SET is followed by WAIT 1 0) and
# wrk against etcd's HTTP gateway, and prints a table of ratios. Missing
# Redis/etcd are skipped (install them with --install).
#
#   bench/compare.sh [--install] [--quick] [--out DIR]
#
# Results: DIR/results.md (the table), DIR/latency.svg (latency CDF of the
# main workload), raw outputs in DIR. Speed is compared as ratios measured in
# this one run; absolute numbers on a shared 2-core machine vary run to run.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
OUT=bench/out
INSTALL=0
QUICK=0
while [ $# -gt 0 ]; do
    case $1 in
        --install) INSTALL=1 ;;
        --quick) QUICK=1 ;;
        --out) OUT=$2; shift ;;
        *) echo "usage: $0 [--install] [--quick] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
if [ $INSTALL = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq redis-server redis-tools etcd-server etcd-client wrk >/dev/null
fi
make -s -j2 BUILD="$BUILD" "$BUILD/rkv-server" "$BUILD/rkv-cli" "$BUILD/rkv-bench" >/dev/null || exit 1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/rkv-compare-XXXXXX)
BENCH="$ROOT/$BUILD/rkv-bench"
SERVER="$ROOT/$BUILD/rkv-server"
N=${N:-200000}; NP=${NP:-1000000}; NG=${NG:-400000}; DUR=${DUR:-10}
TLS_N=${TLS_N:-100000}; FAILOVERS=${FAILOVERS:-5}
[ $QUICK = 1 ] && { N=30000; NP=200000; NG=60000; DUR=3; TLS_N=20000; FAILOVERS=1; }
# SMOKE=1 (make bench-smoke): every workload once at a tiny size, to prove
# the scripts still run, not to measure anything.
[ "${SMOKE:-0}" = 1 ] && { N=2000; NP=20000; NG=4000; DUR=1; TLS_N=2000; FAILOVERS=1; PAIRS=${PAIRS:-2000}; }
BASE=${BASE_PORT:-17300}
pids=()
cleanup() { kill "${pids[@]}" ${rpids[@]+"${rpids[@]}"} 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

log() { echo "[compare] $*" >&2; }
wait_port() { # port: until it answers PING (RESP), 10 s
    for _ in $(seq 100); do
        "$ROOT/$BUILD/rkv-cli" -p "$1" -t 1 ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "port $1 did not come up"; return 1
}
run_bench() { # label, args...: prints the summary line, saves it
    local label=$1; shift
    local line
    line=$(${PIN:-} "$BENCH" --quiet "$@" 2>&1 | tail -n 1)
    echo "$line" > "$OUT/$label.txt"
    log "$label: $line"
}
rps() { sed -n 's/.*: \([0-9.]*\) req\/s.*/\1/p' "$OUT/$1.txt" 2>/dev/null; }
pct() { sed -n "s/.*$2=\([0-9.]*\) ms.*/\1/p" "$OUT/$1.txt" 2>/dev/null; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
# Write-then-read pipeline (issue 10 item 17): PAIRS "SET k v" / "GET k"
# pairs through `redis-cli --pipe`; saves "<ms> ms" for label $1.
[ $QUICK = 1 ] && PAIRS=${PAIRS:-20000}
PAIRS=${PAIRS:-100000}
PIPE_FILE=$WORK/pairs.resp
awk -v n="$PAIRS" 'BEGIN { for (i = 0; i < n; i++) { v = "v" i;
    printf "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", length(v), v } }' > "$PIPE_FILE"
run_pipe() { # label, port
    command -v redis-cli >/dev/null || { log "$1: redis-cli not installed, skipped"; return; }
    local t0 t1 out
    t0=$(date +%s%N)
    out=$(redis-cli -p "$2" --pipe < "$PIPE_FILE" 2>&1 | tail -n 1)
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) ms ($out)" > "$OUT/$1.txt"
    log "$1: $(cat "$OUT/$1.txt")"
}
pipe_ms() { sed -n 's/^\([0-9]*\) ms.*/\1/p' "$OUT/$1.txt" 2>/dev/null; }

# ---- rkv: three elected nodes (RKV_FIXED=1: the fixed leader + 2 followers) ----
# The elected leader is moved to port $BASE with FAILOVER, so every workload
# below addresses the leader at $BASE as with the fixed topology.
rkv_role() { "$ROOT/$BUILD/rkv-cli" -p "$1" info replication 2>/dev/null | tr -d '\r' | sed -n 's/^election_role://p'; }
start_rkv() {
    [ "${RKV_FIXED:-0}" = 1 ] && { start_rkv_fixed; return; }
    local p=$BASE peers="1=127.0.0.1:$((BASE+10)),2=127.0.0.1:$((BASE+11)),3=127.0.0.1:$((BASE+12))"
    for i in 1 2 3; do
        ${TASKSET:-} "$SERVER" --node-id $i --port $((p+i-1)) --peers "$peers" --data-dir "$WORK/rkv$i" \
            --log-level warn ${RKV_LEADER_EXTRA:-} &
        pids+=($!)
    done
    wait_port $p && wait_port $((p+1)) && wait_port $((p+2))
    for _ in $(seq 100); do
        if [ "$(rkv_role $p)" = leader ]; then
            "$ROOT/$BUILD/rkv-cli" -p $p set compare:ready 1 2>/dev/null | grep -q OK && return 0
        else
            for q in $((p+1)) $((p+2)); do
                [ "$(rkv_role $q)" = leader ] &&
                    "$ROOT/$BUILD/rkv-cli" -p $q failover to 127.0.0.1 $p >/dev/null 2>&1
            done
        fi
        sleep 0.1
    done
    log "rkv: no leader on port $p"
    return 1
}
start_rkv_fixed() {
    local p=$BASE
    "$SERVER" --node-id 2 --role follower --port $((p+1)) --repl-port $((p+11)) --data-dir "$WORK/rkv2" --log-level warn &
    pids+=($!)
    "$SERVER" --node-id 3 --role follower --port $((p+2)) --repl-port $((p+12)) --data-dir "$WORK/rkv3" --log-level warn &
    pids+=($!)
    "$SERVER" --node-id 1 --port $p --data-dir "$WORK/rkv1" --quorum 1 --log-level warn ${RKV_LEADER_EXTRA:-} \
        --followers 127.0.0.1:$((p+11)),127.0.0.1:$((p+12)) &
    pids+=($!)
    wait_port $p && wait_port $((p+1)) && wait_port $((p+2))
    for _ in $(seq 50); do
        "$ROOT/$BUILD/rkv-cli" -p $p cluster check >/dev/null 2>&1 && return 0
        sleep 0.1
    done
}
# ---- Redis: primary + 2 replicas; $1 = "none" or "aof" ----
start_redis() {
    local mode=$1 p=$2 persist="--appendonly no"
    [ "$mode" = aof ] && persist="--appendonly yes --appendfsync always"
    for i in 0 1 2; do
        mkdir -p "$WORK/redis-$mode-$i"
        local repl=""
        [ $i -gt 0 ] && repl="--replicaof 127.0.0.1 $p"
        redis-server --port $((p+i)) --dir "$WORK/redis-$mode-$i" --save '' $persist $repl \
            --daemonize no --logfile "$WORK/redis-$mode-$i/log" &
        pids+=($!)
    done
    wait_port $p && wait_port $((p+1)) && wait_port $((p+2))
    for _ in $(seq 100); do
        [ "$(redis-cli -p $p info replication | tr -d '\r' | sed -n 's/^connected_slaves://p')" = 2 ] && break
        sleep 0.1
    done
    # Let the initial full syncs settle before measuring.
    redis-cli -p $p wait 2 5000 >/dev/null
}
start_etcd() {
    local p=$1 cluster=""
    for i in 0 1 2; do cluster+="e$i=http://127.0.0.1:$((p+10+i)),"; done
    for i in 0 1 2; do
        etcd --name e$i --data-dir "$WORK/etcd$i" \
            --listen-client-urls http://127.0.0.1:$((p+i)) --advertise-client-urls http://127.0.0.1:$((p+i)) \
            --listen-peer-urls http://127.0.0.1:$((p+10+i)) --initial-advertise-peer-urls http://127.0.0.1:$((p+10+i)) \
            --initial-cluster "${cluster%,}" --initial-cluster-state new --log-level error >"$WORK/etcd$i.log" 2>&1 &
        pids+=($!)
    done
    for _ in $(seq 100); do
        ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:$p endpoint health >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "etcd did not become healthy"; return 1
}

RK=$BASE
# Every row against Redis without persistence runs interleaved: both
# clusters up at once, rkv and Redis alternating workload by workload,
# HEAD_ROUNDS times (3; 1 with --quick), medians kept. Run minutes apart, the
# host's noise alone moved the c50 SET ratio from 0.5 to 1.0 and the GET
# ratio from 0.75 to 1.2 between two runs.
HEAD_ROUNDS=${HEAD_ROUNDS:-3}
[ $QUICK = 1 ] && HEAD_ROUNDS=${HEAD_ROUNDS_QUICK:-1}
[ "${SMOKE:-0}" = 1 ] && HEAD_ROUNDS=1
RN=$((BASE + 100))
# combine LABEL ROUNDS: LABEL.txt gets the medians of LABEL.1.txt ... (req/s and
# each percentile taken separately), in rkv-bench's summary format.
combine() {
    local label=$1 k=$2 files=() i
    for i in $(seq "$k"); do [ -s "$OUT/$label.$i.txt" ] && files+=("$OUT/$label.$i.txt"); done
    [ ${#files[@]} -eq 0 ] && return
    cat "${files[@]}" | awk '
        function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j] < a[j-1]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
                                       return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
        { n++; name = $1
          for (f = 1; f <= NF; f++) {
              if ($(f+1) ~ /^req\/s/) r[n] = $f
              if ($f ~ /^p50=/) { x = $f; sub(/p50=/, "", x); p50[n] = x }
              if ($f ~ /^p99=/) { x = $f; sub(/p99=/, "", x); p99[n] = x }
              if ($f ~ /^p99\.9=/) { x = $f; sub(/p99\.9=/, "", x); p999[n] = x } } }
        END { printf "%s %.1f req/s, p50=%.3f ms p99=%.3f ms p99.9=%.3f ms (medians of %d interleaved runs)\n",
                     name, med(r, n), med(p50, n), med(p99, n), med(p999, n), n }' > "$OUT/$label.txt"
    log "$label: $(cat "$OUT/$label.txt")"
}
log "rkv cluster"
start_rkv || exit 1
rpids=()
if command -v redis-server >/dev/null; then
    log "Redis, no persistence, beside it for the interleaved rows"
    keep=("${pids[@]}"); pids=()
    start_redis none $RN
    rpids=("${pids[@]}"); pids=("${keep[@]}")
fi
# pair LABEL RKV-ARGS... -- REDIS-ARGS...: round $r of one workload on both.
pair() {
    local label=$1; shift
    local a=() ; while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done; shift
    run_bench rkv_$label.$r "${a[@]}"
    [ ${#rpids[@]} -gt 0 ] && run_bench redis_$label.$r "$@"
}
for r in $(seq "$HEAD_ROUNDS"); do
    h1=(); h2=(); [ "$r" = 1 ] && h1=(--latency-out "$OUT/rkv_set.hist") h2=(--latency-out "$OUT/redis_set.hist")
    pair set -p $RK -c 50 -n $N -d 100 -r 100000 "${h1[@]}" -- -p $RN -c 50 -n $N -d 100 -r 100000 --wait 1 "${h2[@]}"
    pair set_1 -p $RK -c 1 -n $((N / 10)) -d 100 -r 100000 -- -p $RN -c 1 -n $((N / 10)) -d 100 -r 100000 --wait 1
    pair set_p16 -p $RK -c 50 -P 16 -n $NP -d 100 -r 100000 -- -p $RN -c 50 -P 16 -n $NP -d 100 -r 100000
    pair get -p $RK -c 50 -n $NG -r 100000 --mix get -- -p $RN -c 50 -n $NG -r 100000 --mix get
    pair get_f -p $((RK+1)) -c 50 -n $NG -r 100000 --mix get -- -p $((RN+1)) -c 50 -n $NG -r 100000 --mix get
    # Issue 13's workloads: SET with an expiry, INCR on one hot key, MULTI/EXEC of 10 SETs.
    pair setex -p $RK -c 50 -n $N -d 100 -r 100000 --cmd setex -- -p $RN -c 50 -n $N -d 100 -r 100000 --cmd setex --wait 1
    pair incr -p $RK -c 50 -n $N -r 1 --cmd incr -- -p $RN -c 50 -n $N -r 1 --cmd incr --wait 1
    pair incr_p16 -p $RK -c 50 -P 16 -n $NP -r 1 --cmd incr -- -p $RN -c 50 -P 16 -n $NP -r 1 --cmd incr
    pair multi10 -p $RK -c 50 -n $((N / 10)) -d 100 -r 100000 --cmd multi10 -- -p $RN -c 50 -n $((N / 10)) -d 100 -r 100000 --cmd multi10 --wait 1
    run_pipe rkv_pipe_pairs.$r $RK
    [ ${#rpids[@]} -gt 0 ] && run_pipe redis_pipe_pairs.$r $RN
done
for l in set set_1 set_p16 get get_f setex incr incr_p16 multi10; do
    combine rkv_$l "$HEAD_ROUNDS"; combine redis_$l "$HEAD_ROUNDS"
done
for l in rkv_pipe_pairs redis_pipe_pairs; do # the median time
    for i in $(seq "$HEAD_ROUNDS"); do cat "$OUT/$l.$i.txt" 2>/dev/null; done |
        sort -n | awk -v k="$HEAD_ROUNDS" '{ a[NR] = $0 } END { if (NR) print a[int((NR + 1) / 2)] }' > "$OUT/$l.txt"
    [ -s "$OUT/$l.txt" ] || rm -f "$OUT/$l.txt"
done
if [ ${#rpids[@]} -gt 0 ]; then
    kill "${rpids[@]}" 2>/dev/null; wait "${rpids[@]}" 2>/dev/null; rpids=()
fi
run_bench rkv_get_all --target 127.0.0.1:$RK --target 127.0.0.1:$((RK+1)) --target 127.0.0.1:$((RK+2)) -c 50 -n $NG -r 100000 --mix get
run_bench rkv_get_1 -p $RK -c 1 -n $((NG / 10)) -r 100000 --mix get
run_bench rkv_get_f1 -p $((RK+1)) -c 1 -n $((NG / 10)) -r 100000 --mix get
mkdir -p "$WORK/fsync"
"$BENCH" storage --records 2000 --batch 1 --dir "$WORK/fsync" > "$OUT/fsync.txt" 2>&1
kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=()

rm -rf "$WORK"/rkv1 "$WORK"/rkv2 "$WORK"/rkv3

# Single node: durable SET vs Redis appendfsync always, one process each.
log "single node: rkv vs Redis appendfsync always"
"$SERVER" --port $((BASE + 50)) --data-dir "$WORK/single" --log-level warn &
pids+=($!)
wait_port $((BASE + 50))
run_bench single_rkv_set -p $((BASE + 50)) -c 50 -n $N -d 100 -r 100000
if command -v redis-server >/dev/null; then
    mkdir -p "$WORK/redis-single"
    redis-server --port $((BASE + 51)) --dir "$WORK/redis-single" --save '' --appendonly yes \
        --appendfsync always --daemonize no --logfile "$WORK/redis-single/log" &
    pids+=($!)
    wait_port $((BASE + 51))
    run_bench single_redis_aof_set -p $((BASE + 51)) -c 50 -n $N -d 100 -r 100000
fi
kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=()

if command -v redis-server >/dev/null; then
    RA=$((BASE + 200))
    log "Redis, appendfsync always, WAIT 1"
    start_redis aof $RA
    run_bench redis_aof_set -p $RA -c 50 -n $N -d 100 -r 100000 --wait 1 --latency-out "$OUT/redis_aof_set.hist"
    kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=()
else
    log "redis-server not installed: skipped (--install)"
fi

ETCD_RPS=""
if command -v etcd >/dev/null && command -v wrk >/dev/null; then
    EP=$((BASE + 300))
    log "etcd"
    if start_etcd $EP; then
        wrk -t 2 -c 50 -d ${DUR}s -s bench/etcd_put.lua http://127.0.0.1:$EP/v3/kv/put > "$OUT/etcd_put.txt" 2>&1
        ETCD_RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$OUT/etcd_put.txt")
        grep -q '"header"' "$OUT/etcd_put.txt" 2>/dev/null
        log "etcd put: $ETCD_RPS req/s"
    fi
    kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=()
else
    log "etcd or wrk not installed: skipped (--install)"
fi

# ---- scale with cores: one node pinned to one core, the load on the other ----
# On this 2-core machine three nodes and the load generator share the CPU.
# Pinned, the numbers say what one server core does, which is how rkv would
# use a bigger machine (one node per machine, the load from elsewhere).
SC=$((BASE + 450))
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    log "scale: one pinned node per core"
    rm -rf "$WORK/scale"
    taskset -c 0 "$SERVER" --port $SC --data-dir "$WORK/scale" --log-level warn &
    pids+=($!)
    wait_port $SC
    PIN="taskset -c 1" run_bench scale_rkv_set -p $SC -c 50 -n $N -d 100 -r 100000
    PIN="taskset -c 1" run_bench scale_rkv_get -p $SC -c 50 -n $NG -r 100000 --mix get
    PIN="taskset -c 1" run_bench scale_rkv_p16 -p $SC -c 50 -P 16 -n $NP -d 100 -r 100000
    kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=()
    if command -v redis-server >/dev/null; then
        taskset -c 0 redis-server --port $((SC+1)) --save '' --appendonly no --daemonize no \
            --logfile "$WORK/redis-scale.log" &
        pids+=($!)
        wait_port $((SC+1))
        PIN="taskset -c 1" run_bench scale_redis_set -p $((SC+1)) -c 50 -n $N -d 100 -r 100000
        PIN="taskset -c 1" run_bench scale_redis_get -p $((SC+1)) -c 50 -n $NG -r 100000 --mix get
        PIN="taskset -c 1" run_bench scale_redis_p16 -p $((SC+1)) -c 50 -P 16 -n $NP -d 100 -r 100000
        kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=()
    fi
    # The three-node cluster squeezed onto one core (the load on the other),
    # against the same cluster free on both: how it uses a second core.
    log "scale: the 3-node cluster on one core"
    rm -rf "$WORK"/rkv1 "$WORK"/rkv2 "$WORK"/rkv3
    TASKSET="taskset -c 0" start_rkv || exit 1
    PIN="taskset -c 1" run_bench scale_cl1_set -p $RK -c 50 -n $N -d 100 -r 100000
    kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=()
    rm -rf "$WORK"/rkv1 "$WORK"/rkv2 "$WORK"/rkv3
else
    log "taskset missing or fewer than 2 cores: scaling skipped"
fi

# ---- TLS on every port (bench/tls.sh, one round) and failover time ----
TLS_LINE="" RTLS_LINE=""
if command -v redis-benchmark >/dev/null && command -v openssl >/dev/null; then
    log "TLS: bench/tls.sh 1 $TLS_N"
    BASE_PORT=$((BASE + 600)) BUILD=$BUILD bench/tls.sh 1 "$TLS_N" > "$OUT/tls.txt" 2>&1
    TLS_RATIO=$(sed -n 's/^  TLS replication, TLS client port *[0-9.]* *\([0-9.]*\)$/\1/p' "$OUT/tls.txt")
    TLS_PLAIN=$(sed -n 's/^  plain cluster, plain port *\([0-9.]*\).*/\1/p' "$OUT/tls.txt")
    TLS_FULL=$(sed -n 's/^  TLS replication, TLS client port *\([0-9.]*\).*/\1/p' "$OUT/tls.txt")
    RTLS_RATIO=$(sed -n '/^Redis/,$ s/^  TLS port *[0-9.]* *\([0-9.]*\)$/\1/p' "$OUT/tls.txt")
    log "TLS: rkv keeps ${TLS_RATIO:-?} of its plain throughput, Redis ${RTLS_RATIO:-?}"
fi
FO_MED="" FO_MAX=""
if command -v python3 >/dev/null; then
    log "failover: bench/failover.sh $FAILOVERS"
    BASE_PORT=$((BASE + 700)) BUILD=$BUILD bench/failover.sh "$FAILOVERS" > "$OUT/failover.txt" 2>&1
    FO_MED=$(sed -n 's/.*median \([0-9]*\) ms.*/\1/p' "$OUT/failover.txt")
    FO_MAX=$(sed -n 's/.*max \([0-9]*\) ms.*/\1/p' "$OUT/failover.txt")
    log "failover: median ${FO_MED:-?} ms, max ${FO_MAX:-?} ms"
fi

# ---- memory and recovery: 1M keys, 100-byte values ----
MK=$((BASE + 400))
log "memory: 1M keys"
"$SERVER" --port $MK --data-dir "$WORK/mem" --log-level warn &
pids+=($!)
wait_port $MK
"$BENCH" --quiet -p $MK -c 50 -P 64 --prefill --mix get -n 1000 -r 1000000 -d 100 > /dev/null
RKV_KEYS=$("$ROOT/$BUILD/rkv-cli" -p $MK dbsize | sed 's/[^0-9]//g')
RKV_MEM=$("$ROOT/$BUILD/rkv-cli" -p $MK info memory | tr -d '\r' | sed -n 's/^used_memory://p')
kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null; pids=()
T0=$(date +%s%N)
"$SERVER" --port $MK --data-dir "$WORK/mem" --log-file "$WORK/mem.log" &
pids+=($!)
wait_port $MK
T1=$(date +%s%N)
RECOVER_MS=$(( (T1 - T0) / 1000000 ))
RECOVER_LOG=$(sed -n 's/.*recovered .* in \([0-9.]*\) ms.*/\1/p' "$WORK/mem.log" | tail -n 1)
kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null; pids=()
REDIS_MEM="" REDIS_KEYS=""
if command -v redis-server >/dev/null; then
    redis-server --port $((MK+1)) --save '' --daemonize no --logfile "$WORK/redis-mem.log" &
    pids+=($!)
    wait_port $((MK+1))
    "$BENCH" --quiet -p $((MK+1)) -c 50 -P 64 --prefill --mix get -n 1000 -r 1000000 -d 100 > /dev/null
    REDIS_KEYS=$(redis-cli -p $((MK+1)) dbsize)
    REDIS_MEM=$(redis-cli -p $((MK+1)) info memory | tr -d '\r' | sed -n 's/^used_memory://p')
    kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null; pids=()
fi

# ---- table ----
# One fdatasync: the storage benchmark's batch-1 rate; one loopback round
# trip: the single-client GET p50 on the leader (a read does no I/O).
FSYNC_US=$(sed -n 's/^append batch=1 .*fdatasyncs\/s=\([0-9.]*\).*/\1/p' "$OUT/fsync.txt" | head -n 1 |
    awk '{ if ($1 > 0) printf "%.0f", 1000000 / $1 }')
RTT_MS=$(pct rkv_get_1 p50)
P50_1=$(pct rkv_set_1 p50)
BOUND=$(awk -v r="$RTT_MS" -v f="$FSYNC_US" 'BEGIN { if (r == "" || f == "") print ""; else printf "%.3f", 2 * r + f / 1000 }')
per_key() { awk -v m="$1" -v k="$2" 'BEGIN { if (m == "" || k == "" || k == 0) print "n/a"; else printf "%.0f", m / k }'; }
# goal RATIO OP TARGET: "met" / "missed" (n/a without a number)
goal() { awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN { if (r == "" || r == "n/a") { print "n/a"; exit }
    ok = (op == ">=") ? (r + 0 >= t + 0) : (r + 0 <= t + 0); print ok ? "met" : "missed" }'; }
# row LABEL RKV OTHER RATIO OP TARGET
row() { echo "| $1 | $2 | $3 | $4 | $5 $6 | $(goal "$4" "$5" "$6") |"; }
per_core() { awk -v a="$1" -v c="$2" 'BEGIN { if (a == "") print "n/a"; else printf "%.0f", a / c }'; }
{
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), command: bench/compare.sh$([ $QUICK = 1 ] && echo ' --quick')"
    echo
    echo "| workload | rkv | comparison | ratio (rkv / other) | goal | |"
    echo "|---|---|---|---|---|---|"
    row "SET, 50 clients, quorum durable vs Redis SET+WAIT 1, no persistence" "$(rps rkv_set) req/s" "$(rps redis_set) req/s" "$(ratio "$(rps rkv_set)" "$(rps redis_set)")" ">=" 1.0
    row "p99 of the above (ms; theirs / ours)" "$(pct rkv_set p99)" "$(pct redis_set p99) (no persistence), $(pct redis_aof_set p99) (aof)" "$(ratio "$(pct redis_set p99)" "$(pct rkv_set p99)")" ">=" 1.0
    row "single client p50 quorum SET (ms) vs 2 RTT + 1 fdatasync" "$P50_1" "$BOUND (RTT p50 $RTT_MS ms, fdatasync $FSYNC_US us)" "$(ratio "$P50_1" "$BOUND")" "<=" 1.2
    row "pipelined 16, 50 clients: quorum SET vs Redis SET (no WAIT)" "$(rps rkv_set_p16) req/s" "$(rps redis_set_p16) req/s" "$(ratio "$(rps rkv_set_p16)" "$(rps redis_set_p16)")" ">=" 1.2
    row "SET, 50 clients, quorum durable vs Redis SET+WAIT 1, appendfsync always" "$(rps rkv_set) req/s" "$(rps redis_aof_set) req/s" "$(ratio "$(rps rkv_set)" "$(rps redis_aof_set)")" ">=" 1.6
    row "put, 50 clients: rkv quorum SET vs etcd put" "$(rps rkv_set) req/s" "${ETCD_RPS:-n/a} req/s" "$(ratio "$(rps rkv_set)" "$ETCD_RPS")" ">=" 10
    row "GET, 50 clients, leader" "$(rps rkv_get) req/s" "$(rps redis_get) req/s" "$(ratio "$(rps rkv_get)" "$(rps redis_get)")" ">=" 1.0
    row "GET, 50 clients, follower" "$(rps rkv_get_f) req/s" "$(rps redis_get_f) req/s (replica)" "$(ratio "$(rps rkv_get_f)" "$(rps redis_get_f)")" ">=" 1.0
    row "memory, bytes per key (1M keys, 100-byte values; theirs / ours)" "$(per_key "$RKV_MEM" "$RKV_KEYS") ($RKV_KEYS keys)" "$(per_key "$REDIS_MEM" "$REDIS_KEYS") ($REDIS_KEYS keys)" "$(ratio "$(per_key "$REDIS_MEM" "$REDIS_KEYS")" "$(per_key "$RKV_MEM" "$RKV_KEYS")")" ">=" 1.0
    row "startup recovery of that data set (ms; ratio to the 1000 ms budget)" "${RECOVER_LOG:-?} ms (process ready in $RECOVER_MS ms)" "" "$(ratio "${RECOVER_LOG:-}" 1000)" "<=" 1.0
    row "write-then-read pipeline: $PAIRS SET/GET pairs, redis-cli --pipe (ms; theirs / ours)" "$(pipe_ms rkv_pipe_pairs) ms (quorum durable)" "$(pipe_ms redis_pipe_pairs) ms (no WAIT, no persistence)" "$(ratio "$(pipe_ms redis_pipe_pairs)" "$(pipe_ms rkv_pipe_pairs)")" ">=" 1.0
    row "SET EX 3600 vs plain SET, rkv, 50 clients" "$(rps rkv_setex) req/s" "$(rps rkv_set) req/s (plain SET)" "$(ratio "$(rps rkv_setex)" "$(rps rkv_set)")" ">=" 0.95
    row "SET EX, 50 clients, quorum durable vs Redis SET EX+WAIT 1, no persistence" "$(rps rkv_setex) req/s" "$(rps redis_setex) req/s" "$(ratio "$(rps rkv_setex)" "$(rps redis_setex)")" ">=" 1.0
    row "INCR one hot key, 50 clients, quorum durable vs Redis INCR+WAIT 1" "$(rps rkv_incr) req/s" "$(rps redis_incr) req/s" "$(ratio "$(rps rkv_incr)" "$(rps redis_incr)")" ">=" 1.0
    row "INCR one hot key, pipelined 16, 50 clients vs Redis INCR (no WAIT)" "$(rps rkv_incr_p16) req/s" "$(rps redis_incr_p16) req/s" "$(ratio "$(rps rkv_incr_p16)" "$(rps redis_incr_p16)")" ">=" 1.0
    row "MULTI + 10 SETs + EXEC, 50 clients, transactions/s vs Redis +WAIT 1" "$(rps rkv_multi10) tx/s" "$(rps redis_multi10) tx/s" "$(ratio "$(rps rkv_multi10)" "$(rps redis_multi10)")" ">=" 1.0
    row "TLS on every port: SET c50 kept of plain (rkv: TLS replication + TLS client port; Redis: TLS port), rkv / Redis" "${TLS_RATIO:-n/a} (${TLS_FULL:-?} of ${TLS_PLAIN:-?} req/s, redis-benchmark)" "${RTLS_RATIO:-n/a}" "$(ratio "${TLS_RATIO:-}" "${RTLS_RATIO:-}")" ">=" 1.0
    row "failover: writes stopped when the leader is killed (median of $FAILOVERS, ms; ratio to 2 election timeouts)" "${FO_MED:-n/a} ms (max ${FO_MAX:-n/a})" "election timeout 1000 ms" "$(ratio "${FO_MED:-}" 2000)" "<=" 1.0
    row "single node: durable SET, 50 clients vs Redis appendfsync always" "$(rps single_rkv_set) req/s" "$(rps single_redis_aof_set) req/s" "$(ratio "$(rps single_rkv_set)" "$(rps single_redis_aof_set)")" ">=" 1.0
    echo
    echo "Scale with cores (taskset: the server on core 0, rkv-bench on core 1; per server core):"
    echo
    echo "| workload, one node on one core | rkv (durable, fdatasync per batch) | Redis (no persistence) | rkv / Redis |"
    echo "|---|---|---|---|"
    echo "| SET, 50 clients | $(rps scale_rkv_set) req/s | $(rps scale_redis_set) req/s | $(ratio "$(rps scale_rkv_set)" "$(rps scale_redis_set)") |"
    echo "| GET, 50 clients | $(rps scale_rkv_get) req/s | $(rps scale_redis_get) req/s | $(ratio "$(rps scale_rkv_get)" "$(rps scale_redis_get)") |"
    echo "| SET pipelined 16, 50 clients | $(rps scale_rkv_p16) req/s | $(rps scale_redis_p16) req/s | $(ratio "$(rps scale_rkv_p16)" "$(rps scale_redis_p16)") |"
    echo
    echo "Three-node quorum SET, 50 clients: all three nodes on one core (load on the other) $(rps scale_cl1_set) req/s = $(per_core "$(rps scale_cl1_set)" 1) per server core; unpinned on two cores shared with the load $(rps rkv_set) req/s ($(ratio "$(rps rkv_set)" "$(rps scale_cl1_set)")x)."
    echo
    echo "Follower reads (B1), 50 clients: leader only $(rps rkv_get) req/s; spread over leader + 2 followers $(rps rkv_get_all) req/s ($(ratio "$(rps rkv_get_all)" "$(rps rkv_get)")x). Single client p50: leader $(pct rkv_get_1 p50) ms, follower $(pct rkv_get_f1 p50) ms."
} > "$OUT/results.md"
cat "$OUT/results.md"

# ---- latency CDF chart of the main workload ----
if [ -f "$OUT/rkv_set.hist" ]; then
    bench/latency_svg.sh "$OUT/latency.svg" "rkv quorum SET" "$OUT/rkv_set.hist" \
        "Redis SET+WAIT 1 (no persistence)" "$OUT/redis_set.hist" \
        "Redis SET+WAIT 1 (appendfsync always)" "$OUT/redis_aof_set.hist"
    log "chart: $OUT/latency.svg"
fi
