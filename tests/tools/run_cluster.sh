#!/usr/bin/env bash
# `make run`: a local three-node elected cluster on loopback, data under
# ./data/. The nodes elect their leader (Raft: --peers); kill it and another
# takes over within about two seconds.
#   node1  client port 7379, replication port 7479
#   node2  client port 7380, replication port 7480
#   node3  client port 7381, replication port 7481
# Every log line is prefixed with its node's name. Ctrl-C (or SIGTERM) stops
# every node cleanly: each gets SIGTERM, flushes and closes its WAL.
# RKV_TLS=1 (`make run-tls`): TLS everywhere. Each node also listens for TLS
# clients (7389, 7390, 7391; client certificates required), and replication
# and votes use mutual TLS. Throwaway certificates are made in $DATA/tls by
# tests/tools/gen_certs.sh when absent.
set -u
BUILD=${BUILD:-build}
DATA=${DATA:-./data}
BIN="$BUILD/rkv-server"
[ -x "$BIN" ] || { echo "run_cluster: $BIN not built (run make)" >&2; exit 1; }
mkdir -p "$DATA"
pids=()

start() { # name, args...
    local name=$1; shift
    "$BIN" "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
    pids+=($!)
}

stop_all() {
    trap - INT TERM
    echo "[run] stopping ${#pids[@]} nodes"
    kill -TERM "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    echo "[run] all nodes stopped"
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
PEERS=1=127.0.0.1:7479,2=127.0.0.1:7480,3=127.0.0.1:7481
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
    [ ${#TLS_ARGS[@]} -gt 0 ] && extra=("${TLS_ARGS[@]}" --tls-port $((7388 + i)))
    start node$i --node-id $i --port $((7378 + i)) --peers "$PEERS" --data-dir "$DATA/node$i" \
        "${secret_flags[@]+"${secret_flags[@]}"}" "${extra[@]+"${extra[@]}"}"
done
echo "[run] three elected nodes on 127.0.0.1:7379, 7380, 7381. In another terminal:"
echo "[run]   for p in 7379 7380 7381; do $BUILD/rkv-cli -p \$p role; done   # who leads"
echo "[run]   $BUILD/rkv-cli -p <leader port> set hello world"
if [ ${#TLS_ARGS[@]} -gt 0 ]; then
    echo "[run] TLS clients on 7389, 7390, 7391 (replication and votes over mutual TLS):"
    echo "[run]   redis-cli --tls --cacert $T/ca.crt --cert $T/client.crt --key $T/client.key -p 7389 ping"
    echo "[run]   $BUILD/rkv-cli --tls --cacert $T/ca.crt --cert $T/client.crt --key $T/client.key -p 7389 ping"
fi
echo "[run] Ctrl-C stops the cluster."
# Returns when any node exits; then stop the rest.
wait -n "${pids[@]}"
echo "[run] a node exited; stopping the cluster"
stop_all
