#!/usr/bin/env bash
# `make run`: a local three-node cluster on loopback, data under ./data/.
#   node1  leader    client port 7379
#   node2  follower  client port 7380, replication port 7480
#   node3  follower  client port 7381, replication port 7481
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

start node2 --node-id 2 --role follower --port 7380 --repl-port 7480 --data-dir "$DATA/node2"
start node3 --node-id 3 --role follower --port 7381 --repl-port 7481 --data-dir "$DATA/node3"
start node1 --node-id 1 --role leader --port 7379 --data-dir "$DATA/node1" \
    --followers 127.0.0.1:7480,127.0.0.1:7481
echo "[run] leader on 127.0.0.1:7379, followers on 7380 and 7381. Try, in another terminal:"
echo "[run]   $BUILD/rkv-cli set hello world && $BUILD/rkv-cli -p 7380 get hello"
echo "[run] Ctrl-C stops the cluster."
# Returns when any node exits; then stop the rest.
wait -n "${pids[@]}"
echo "[run] a node exited; stopping the cluster"
stop_all
