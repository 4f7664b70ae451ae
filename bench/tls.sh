#!/usr/bin/env bash
# bench/tls.sh [ROUNDS] [REQUESTS] -- what TLS costs a quorum-durable SET, as
# ratios measured side by side in one run (issue 12).
#
# Two three-node elected clusters of this build, one after the other in each
# round (default 3 rounds, alternating, so machine noise spreads over both):
#   plain  no TLS anywhere (the cluster secret on, as deployed)
#   tls    mutual TLS between the nodes (--tls-replication yes) and a TLS
#          client port beside the plain one (client certificates required)
# and redis-benchmark -t set -c 50 -n REQUESTS (default 100000) against each
# leader: plain cluster / plain port, TLS cluster / plain port (the cost of
# TLS replication alone), TLS cluster / TLS port (the whole cost). Prints
# the medians and the ratios to the plain cluster; and, when redis-server is
# installed, Redis's own plain and TLS ports in the same rounds, so that
# TLS's cost can be compared with what it costs Redis. Needs redis-benchmark
# built with TLS (Debian's is) and the openssl command.
#
#   bench/tls.sh 3 100000
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
N=${2:-100000}
BUILD=${BUILD:-build}
S="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
BASE=${BASE_PORT:-18600}
command -v redis-benchmark >/dev/null || { echo "tls.sh: needs redis-benchmark" >&2; exit 1; }
WORK=$(mktemp -d /tmp/rkv-tlsbench-XXXXXX)
pids=()
cleanup() {
    [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
tests/tools/gen_certs.sh "$WORK/tls" >/dev/null || { echo "tls.sh: gen_certs failed" >&2; exit 1; }
(umask 077; openssl rand -hex 32 > "$WORK/secret")
T="$WORK/tls"
TLSC=(--tls --cacert "$T/ca.crt" --cert "$T/client.crt" --key "$T/client.key")

start_cluster() { # mode (plain|tls)
    local mode=$1 peers="1=127.0.0.1:$((BASE+10)),2=127.0.0.1:$((BASE+11)),3=127.0.0.1:$((BASE+12))"
    rm -rf "$WORK/d"; mkdir -p "$WORK/d"; pids=()
    for i in 1 2 3; do
        local extra=()
        [ "$mode" = tls ] && extra=(--tls-replication yes --tls-port $((BASE+20+i)) --tls-cert-file "$T/node.crt"
            --tls-key-file "$T/node.key" --tls-ca-cert-file "$T/ca.crt")
        "$S" --node-id $i --port $((BASE+i)) --peers "$peers" --data-dir "$WORK/d/n$i" --log-level warn \
            --cluster-secret-file "$WORK/secret" "${extra[@]}" >> "$WORK/n$i.log" 2>&1 &
        pids+=($!)
    done
    local end=$(( $(date +%s) + 20 ))
    while [ "$(date +%s)" -lt $end ]; do
        for i in 1 2 3; do
            if "$CLI" -p $((BASE+i)) info replication 2>/dev/null | tr -d '\r' | grep -q '^election_role:leader' &&
               [ "$("$CLI" -p $((BASE+i)) set warm up 2>/dev/null)" = OK ]; then
                L=$i; return 0
            fi
        done
        sleep 0.1
    done
    echo "tls.sh: no leader in the $mode cluster" >&2; exit 1
}
stop_cluster() { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; pids=(); }
rps() { # redis-benchmark args... -> requests per second
    redis-benchmark "$@" -t set -c 50 -n "$N" -q 2>/dev/null | tr '\r' '\n' |
        sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Redis for reference (no persistence, so its TLS cost is not hidden behind a
# disk): the same two measurements, plain port and TLS port.
redis_rps() { # -> "plain tls"
    command -v redis-server >/dev/null || return 0
    local rd="$WORK/redis"; rm -rf "$rd"; mkdir -p "$rd"
    redis-server --port $((BASE+30)) --tls-port $((BASE+31)) --tls-cert-file "$T/node.crt" \
        --tls-key-file "$T/node.key" --tls-ca-cert-file "$T/ca.crt" --tls-auth-clients yes \
        --save '' --appendonly no --dir "$rd" --daemonize no > "$rd/log" 2>&1 &
    local rp=$!
    local end=$(( $(date +%s) + 10 ))
    until redis-cli -p $((BASE+30)) ping >/dev/null 2>&1; do
        [ "$(date +%s)" -ge $end ] && { kill $rp 2>/dev/null; return 0; }; sleep 0.05
    done
    echo "$(rps -p $((BASE+30))) $(rps -p $((BASE+31)) "${TLSC[@]}")"
    kill $rp 2>/dev/null; wait $rp 2>/dev/null
}
plain=() replplain=() full=() rplain=() rtls=()
for r in $(seq "$ROUNDS"); do
    read -r a b <<< "$(redis_rps)"
    [ -n "${a:-}" ] && rplain+=("$a") rtls+=("$b")
    start_cluster plain
    plain+=("$(rps -p $((BASE+L)))")
    stop_cluster
    start_cluster tls
    replplain+=("$(rps -p $((BASE+L)))")
    full+=("$(rps -p $((BASE+20+L)) "${TLSC[@]}")")
    stop_cluster
    echo "round $r: plain ${plain[-1]}  tls-replication+plain-port ${replplain[-1]}  tls-replication+tls-port ${full[-1]}"
done
mp=$(median "${plain[@]}") mr=$(median "${replplain[@]}") mf=$(median "${full[@]}")
printf 'SET c50 quorum-durable, medians of %d rounds (req/s):\n' "$ROUNDS"
printf '  plain cluster, plain port            %10.0f  1.00\n' "$mp"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '  TLS replication, plain client port   %10.0f  %s\n' "$mr" "$(ratio "$mr" "$mp")"
printf '  TLS replication, TLS client port     %10.0f  %s\n' "$mf" "$(ratio "$mf" "$mp")"
if [ ${#rplain[@]} -gt 0 ]; then
    ma=$(median "${rplain[@]}") mb=$(median "${rtls[@]}")
    printf 'Redis (no persistence), same run, for reference:\n'
    printf '  plain port                           %10.0f  1.00\n' "$ma"
    printf '  TLS port                             %10.0f  %s\n' "$mb" "$(ratio "$mb" "$ma")"
fi
