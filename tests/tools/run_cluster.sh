#!/usr/bin/env bash
# `make run`: a local three-node elected cluster on loopback, data under
# ./data/. The nodes elect their leader (Raft: --peers); kill it and another
# takes over within about two seconds.
#   node1  client port 7379, replication port 7479
#   node2  client port 7380, replication port 7480
#   node3  client port 7381, replication port 7481
# Every log line is prefixed with its node's name. Ctrl-C (or SIGTERM) stops
# every node cleanly: each gets SIGTERM, flushes and closes its WAL.
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
if "$BIN" --help 2>&1 | grep -q -- --cluster-secret-file && command -v openssl >/dev/null 2>&1; then
    if [ ! -s "$SECRET" ]; then
        (umask 077; openssl rand -hex 32 > "$SECRET") && echo "[run] generated the cluster secret $SECRET"
    fi
    [ -s "$SECRET" ] && secret_flags=(--cluster-secret-file "$SECRET")
fi
PEERS=1=127.0.0.1:7479,2=127.0.0.1:7480,3=127.0.0.1:7481
for i in 1 2 3; do
    start node$i --node-id $i --port $((7378 + i)) --peers "$PEERS" --data-dir "$DATA/node$i" \
        "${secret_flags[@]}"
done
echo "[run] three elected nodes on 127.0.0.1:7379, 7380, 7381. In another terminal:"
echo "[run]   for p in 7379 7380 7381; do $BUILD/rkv-cli -p \$p role; done   # who leads"
echo "[run]   $BUILD/rkv-cli -p <leader port> set hello world"
echo "[run] Ctrl-C stops the cluster."
# Returns when any node exits; then stop the rest.
wait -n "${pids[@]}"
echo "[run] a node exited; stopping the cluster"
stop_all
