#!/usr/bin/env bash
# bench/ab.sh OLD_BUILD NEW_BUILD [ROUNDS] -- the same rkv workloads on two
# builds of rkv-server, alternating A, B, A, B... in one run, so a change's
# cost is a ratio measured side by side on this noisy machine, not two
# numbers from two runs. Each round starts a fresh 3-node cluster (quorum 1)
# of one build and runs: SET 50 clients, SET 1 client, SET pipelined 16 deep,
# GET 50 clients, and the write-then-read pipeline (SET/GET pairs through
# redis-cli --pipe, if redis-cli is installed). The load generator is the
# NEW build's rkv-bench for both. Prints medians per build and the ratios.
#
# ELECTED=new (or old, both) starts that side as an elected cluster (--peers,
# election timeout 1 s) and benchmarks whichever node won; the default runs
# both as the fixed topology (--role/--followers).
#
#   git worktree add /tmp/old <rev> && make -C /tmp/old -j2 build/rkv-server
#   ELECTED=new bench/ab.sh /tmp/old/build build 3
set -u
cd "$(dirname "$0")/.."
OLD=${1:?old build dir}
NEW=${2:?new build dir}
ROUNDS=${3:-3}
BENCH="$NEW/rkv-bench" CLI="$NEW/rkv-cli"
N=${N:-200000} NP=${NP:-1000000} NG=${NG:-400000} PAIRS=${PAIRS:-100000}
BASE=${BASE_PORT:-18300}
WORK=$(mktemp -d /tmp/rkv-ab-XXXXXX)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
log() { echo "[ab] $*" >&2; }
awk -v n="$PAIRS" 'BEGIN { for (i = 0; i < n; i++) { v = "v" i;
    printf "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", length(v), v } }' > "$WORK/pairs"

ELECTED=${ELECTED:-none}
LP=$BASE
start_elected() { # build dir
    local s="$1/rkv-server" p=$BASE
    local peers="1=127.0.0.1:$((p+10)),2=127.0.0.1:$((p+11)),3=127.0.0.1:$((p+12))"
    rm -rf "$WORK"/d1 "$WORK"/d2 "$WORK"/d3
    for i in 1 2 3; do
        "$s" --node-id $i --port $((p+i-1)) --peers "$peers" --data-dir "$WORK/d$i" --log-level warn &
        pids+=($!)
    done
    for _ in $(seq 100); do
        for i in 0 1 2; do
            if "$CLI" -p $((p+i)) info replication 2>/dev/null | grep -q '^election_role:leader'; then
                LP=$((p+i))
                "$CLI" -p $LP set ab:ready 1 2>/dev/null | grep -q OK && return 0
            fi
        done
        sleep 0.1
    done
    log "elected cluster of $1 did not come up"; return 1
}
start() { # build dir, side
    local s="$1/rkv-server" p=$BASE
    LP=$BASE
    case "$ELECTED" in both|"$2") start_elected "$1"; return ;; esac
    rm -rf "$WORK"/d1 "$WORK"/d2 "$WORK"/d3
    "$s" --node-id 2 --role follower --port $((p+1)) --repl-port $((p+11)) --data-dir "$WORK/d2" --log-level warn &
    pids+=($!)
    "$s" --node-id 3 --role follower --port $((p+2)) --repl-port $((p+12)) --data-dir "$WORK/d3" --log-level warn &
    pids+=($!)
    "$s" --node-id 1 --port $p --data-dir "$WORK/d1" --quorum 1 --log-level warn \
        --followers 127.0.0.1:$((p+11)),127.0.0.1:$((p+12)) &
    pids+=($!)
    for _ in $(seq 100); do "$CLI" -p $p cluster check >/dev/null 2>&1 && return 0; sleep 0.1; done
    log "cluster of $1 did not come up"; return 1
}
stop() { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=(); }
rps() { "$BENCH" --quiet "$@" 2>&1 | tail -n 1 | tee "$WORK/last" | sed -n 's/.*: \([0-9.]*\) req\/s.*/\1/p'; }
p99_last() { sed -n 's/.*p99=\([0-9.]*\) ms.*/\1/p' "$WORK/last"; }
p50() { "$BENCH" --quiet "$@" 2>&1 | tail -n 1 | sed -n 's/.*p50=\([0-9.]*\) ms.*/\1/p'; }
pipe_ms() {
    command -v redis-cli >/dev/null || { echo ""; return; }
    local t0 t1
    t0=$(date +%s%N); redis-cli -p $LP --pipe < "$WORK/pairs" >/dev/null 2>&1; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
}
for r in $(seq "$ROUNDS"); do
    for side in old new; do
        b=$OLD; [ $side = new ] && b=$NEW
        start "$b" $side || exit 1
        echo "$side set50 $(rps -p $LP -c 50 -n $N -d 100 -r 100000)" >> "$WORK/res"
        echo "$side set50_p99 $(p99_last)" >> "$WORK/res"
        echo "$side set1_p50 $(p50 -p $LP -c 1 -n $((N / 10)) -d 100 -r 100000)" >> "$WORK/res"
        echo "$side setp16 $(rps -p $LP -c 50 -P 16 -n $NP -d 100 -r 100000)" >> "$WORK/res"
        echo "$side get50 $(rps -p $LP -c 50 -n $NG -r 100000 --mix get)" >> "$WORK/res"
        echo "$side pairs_ms $(pipe_ms)" >> "$WORK/res"
        stop
        log "round $r $side done"
    done
done
med() { grep "^$1 $2 " "$WORK/res" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END { if (NR) print a[int((NR + 1) / 2)] }'; }
printf '| workload | old (median of %s) | new | new / old |\n|---|---|---|---|\n' "$ROUNDS"
for w in set50 set50_p99 set1_p50 setp16 get50 pairs_ms; do
    o=$(med old $w) n=$(med new $w)
    printf '| %s | %s | %s | %s |\n' "$w" "$o" "$n" \
        "$(awk -v a="$n" -v b="$o" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }')"
done
