#!/usr/bin/env bash
# `make run` as a person uses it (issue 14): tests/tools/run_cluster.sh on
# its own ports (PORT=) and data dir (DATA=):
#  1. its banner names the data dir and every port, and says "cluster is
#     up" only when a write is accepted at once (no NOREPLICAS);
#  2. Ctrl-C (SIGINT to its process group, as a terminal sends it) stops
#     every node, and each node's own shutdown lines still reach the output;
#  3. a second run says the data is reused, and still holds the key;
#     FRESH=1 starts empty.
set -u
cd "$(dirname "$0")/../.."
. tests/common/lib.sh
BUILD=${RKV_BUILD:-build}
CLI="$PWD/$BUILD/rkv-cli"
pass=0 fail=0 skip=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
work=$(mktemp -d /tmp/rkv-makerun-XXXXXX)
runpid=""
cleanup() {
    [ -n "$runpid" ] && kill -INT -- "-$runpid" 2>/dev/null && wait "$runpid" 2>/dev/null
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
# Three consecutive free client ports, and their replication ports (+100).
base=""
for _ in $(seq 1 50); do
    b=$(( (RANDOM % 1200) * 10 + 20000 ))
    if python3 - "$b" <<'PY'
import socket, sys
b = int(sys.argv[1])
for p in (b, b + 1, b + 2, b + 100, b + 101, b + 102):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
    then base=$b; break; fi
done
ok "free ports found" '[ -n "$base" ]'

run() { # log file, extra env...: starts run_cluster.sh in its own process group
    local log=$1; shift
    env "$@" PORT="$base" DATA="$work/data" BUILD="$BUILD" setsid bash tests/tools/run_cluster.sh >"$log" 2>&1 &
    runpid=$!
}
stop() { # log file: SIGINT to the group, as Ctrl-C; waits for the script
    kill -INT -- "-$runpid" 2>/dev/null
    local end=$(( $(date +%s) + 20 ))
    while kill -0 "$runpid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
    ! kill -0 "$runpid" 2>/dev/null && runpid=""
}
leader_port() { sed -n 's/.*cluster is up: the leader is on port \([0-9]*\).*/\1/p' "$1" | head -n 1; }

run "$work/run1.log"
ok "the banner says the cluster is up" 'wait_until 20 grep -q "cluster is up" "$work/run1.log"'
lp=$(leader_port "$work/run1.log")
ok "a write right after 'up' is accepted" '[ -n "$lp" ] && [ "$("$CLI" -p "$lp" --raw set hello world)" = OK ]'
ok "the banner names the data dir" 'grep -q "data in $work/data/node1..3" "$work/run1.log"'
ok "the banner names every client and replication port" \
    'for i in 0 1 2; do grep -q "clients 127.0.0.1:$((base + i))  replication and votes 127.0.0.1:$((base + 100 + i))" "$work/run1.log" || exit 1; done'
ok "a first run does not claim reused data" '! grep -q REUSED "$work/run1.log"'
stop "$work/run1.log"
ok "Ctrl-C stops the script" '[ -z "$runpid" ]'
for i in 1 2 3; do
    ok "node $i's own shutdown line reaches the output" "grep -q '^\[node$i\] .*node $i stopped' '$work/run1.log'"
done
ok "the stop says where the data stays" 'grep -q "data kept in $work/data" "$work/run1.log"'
ok "no node is left running" '! pgrep -f "$work/data/node" >/dev/null'

run "$work/run2.log"
ok "second run: up" 'wait_until 20 grep -q "cluster is up" "$work/run2.log"'
ok "second run: says the data is reused" 'grep -q "REUSED from an earlier run" "$work/run2.log"'
lp=$(leader_port "$work/run2.log")
ok "second run: the key is still there" '[ -n "$lp" ] && [ "$("$CLI" -p "$lp" --raw get hello)" = world ]'
stop "$work/run2.log"

run "$work/run3.log" FRESH=1
ok "FRESH=1: up" 'wait_until 20 grep -q "cluster is up" "$work/run3.log"'
ok "FRESH=1: says it removed the data" 'grep -q "FRESH=1: removing" "$work/run3.log"'
lp=$(leader_port "$work/run3.log")
ok "FRESH=1: the key is gone" '[ -n "$lp" ] && [ -z "$("$CLI" -p "$lp" --raw get hello)" ]'
stop "$work/run3.log"
ok "FRESH=1: stopped" '[ -z "$runpid" ]'
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
