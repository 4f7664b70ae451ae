#!/usr/bin/env bash
# `make run`: a local three-node elected cluster on loopback, data under
# ./data/. The nodes elect their leader (Raft: --peers); kill it and another
# takes over within about two seconds.
#   node1  client port 7379, replication port 7479
#   node2  client port 7380, replication port 7480
#   node3  client port 7381, replication port 7481
# Every log line is prefixed with its node's name, shutdown lines included
# (the prefixing sed ignores Ctrl-C, so it outlives the node it reads).
# Ctrl-C (or SIGTERM) stops every node cleanly: each gets SIGTERM, flushes
# and closes its WAL. Data persists in $DATA across runs (the banner says
# so); FRESH=1 (`make run FRESH=1`) or `make run-clean` starts empty.
# "cluster is up" is printed once a leader is elected and has a quorum of
# followers connected: from then on writes are accepted.
# RKV_TLS=1 (`make run-tls`): TLS everywhere. Each node also listens for TLS
# clients (7389, 7390, 7391; client certificates required), and replication
# and votes use mutual TLS. Throwaway certificates are made in $DATA/tls by
# tests/tools/gen_certs.sh when absent.
# PORT=N moves every port: client ports N..N+2, replication N+100..N+102,
# TLS N+10..N+12 (default 7379).
set -u
BUILD=${BUILD:-build}
PORT=${PORT:-7379}
C1=$PORT C2=$((PORT + 1)) C3=$((PORT + 2))
R1=$((PORT + 100)) R2=$((PORT + 101)) R3=$((PORT + 102))
DATA=${DATA:-./data}
BIN="$BUILD/rkv-server"
[ -x "$BIN" ] || { echo "run_cluster: $BIN not built (run make)" >&2; exit 1; }
CLI="$BUILD/rkv-cli"
if [ "${FRESH:-0}" = 1 ] && [ -d "$DATA" ]; then
    echo "[run] FRESH=1: removing $DATA"
    rm -rf "${DATA:?}/node1" "${DATA:?}/node2" "${DATA:?}/node3"
fi
reused=0
for i in 1 2 3; do [ -d "$DATA/node$i" ] && reused=1; done
mkdir -p "$DATA"
seds=()

start() { # name, args...
    local name=$1; shift
    # The node and its log prefixer are siblings in one pipeline: Ctrl-C in
    # the terminal reaches both, so sed ignores SIGINT and drains the
    # node's last lines (its shutdown) before it sees end of file.
    "$BIN" "$@" 2>&1 | (trap '' INT; exec sed -u "s/^/[$name] /") &
    seds+=($!)
}

stop_all() {
    trap - INT TERM
    echo "[run] stopping the nodes"
    pkill -TERM -P "$$" -x rkv-server 2>/dev/null # the nodes are this shell's children
    wait 2>/dev/null
    echo "[run] all nodes stopped; data kept in $DATA (make run-clean or make run FRESH=1 to start empty)"
    exit 0
}
trap stop_all INT TERM

# The cluster secret (docs/SECURITY.md): every node proves it on every
# replication and vote connection. Generated once, kept with the data.
SECRET="$DATA/cluster-secret"
secret_flags=()
if ldd "$BIN" 2>/dev/null | grep -q libcrypto && command -v openssl >/dev/null 2>&1; then
    if [ ! -s "$SECRET" ]; then
        (umask 077; openssl rand -hex 32 > "$SECRET") && echo "[run] generated the cluster secret $SECRET"
    fi
    [ -s "$SECRET" ] && secret_flags=(--cluster-secret-file "$SECRET")
fi
PEERS=1=127.0.0.1:$R1,2=127.0.0.1:$R2,3=127.0.0.1:$R3
TLS_ARGS=()
if [ "${RKV_TLS:-0}" = 1 ]; then
    T="$DATA/tls"
    if [ ! -f "$T/ca.crt" ] || [ ! -f "$T/node.key" ] || [ ! -f "$T/client.key" ]; then
        echo "[run] making throwaway certificates in $T"
        "$(dirname "$0")/gen_certs.sh" "$T" || exit 1
    fi
    TLS_ARGS=(--tls-replication yes --tls-cert-file "$T/node.crt" --tls-key-file "$T/node.key"
              --tls-ca-cert-file "$T/ca.crt" --tls-auth-clients yes)
fi
for i in 1 2 3; do
    extra=()
    [ ${#TLS_ARGS[@]} -gt 0 ] && extra=("${TLS_ARGS[@]}" --tls-port $((PORT + 9 + i)))
    start node$i --node-id $i --port $((PORT - 1 + i)) --peers "$PEERS" --data-dir "$DATA/node$i" \
        "${secret_flags[@]+"${secret_flags[@]}"}" "${extra[@]+"${extra[@]}"}"
done
echo "[run] three elected nodes; data in $DATA/node1..3$([ $reused = 1 ] && echo ' (REUSED from an earlier run: make run-clean or make run FRESH=1 starts empty)')"
echo "[run]   node1  clients 127.0.0.1:$C1  replication and votes 127.0.0.1:$R1"
echo "[run]   node2  clients 127.0.0.1:$C2  replication and votes 127.0.0.1:$R2"
echo "[run]   node3  clients 127.0.0.1:$C3  replication and votes 127.0.0.1:$R3"
# Up = some node leads with a quorum of followers connected (writes are
# accepted from then on); within 15 s or the script says what it sees.
leader_port() {
    local p info
    for p in $C1 $C2 $C3; do
        info=$("$CLI" -p "$p" -t 1 info replication 2>/dev/null) || continue
        case "$info" in *role:master*) ;; *) continue ;; esac
        local k=${info#*connected_slaves:}; k=${k%%[!0-9]*}
        [ "${k:-0}" -ge 1 ] && { echo "$p"; return 0; }
    done
    return 1
}
up=""
for _ in $(seq 1 300); do
    up=$(leader_port) && break
    sleep 0.05
done
if [ -n "$up" ]; then
    echo "[run] cluster is up: the leader is on port $up; writes are accepted. In another terminal:"
    echo "[run]   $CLI -p $up set hello world"
    echo "[run]   $CLI -p $( [ "$up" = "$C1" ] && echo "$C2" || echo "$C1") get hello             # followers serve reads"
    echo "[run]   for p in $C1 $C2 $C3; do $CLI -p \$p role | head -1; done   # who leads"
else
    echo "[run] no leader with a quorum after 15 s: see the log lines above"
fi
if [ ${#TLS_ARGS[@]} -gt 0 ]; then
    echo "[run] TLS clients on $((PORT + 10)), $((PORT + 11)), $((PORT + 12)) (replication and votes over mutual TLS):"
    echo "[run]   redis-cli --tls --cacert $T/ca.crt --cert $T/client.crt --key $T/client.key -p $((PORT + 10)) ping"
    echo "[run]   $BUILD/rkv-cli --tls --cacert $T/ca.crt --cert $T/client.crt --key $T/client.key -p $((PORT + 10)) ping"
fi
echo "[run] Ctrl-C stops the cluster."
# Returns when any node exits; then stop the rest.
wait -n "${seds[@]}"
echo "[run] a node exited; stopping the cluster"
stop_all
