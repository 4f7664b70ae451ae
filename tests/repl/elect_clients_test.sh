#!/usr/bin/env bash
# Real Redis client libraries in Sentinel mode follow an ELECTED rkv cluster
# through a failover, unchanged: three nodes with --peers are given to them
# as their sentinels; each library writes through the leader it resolved,
# the leader is killed (kill -9), and the same client object must write
# again, through the new leader, within 15 s.
#   redis-py: Sentinel([...]).master_for('rkv') (it re-resolves on a
#     connection error or READONLY);
#   ioredis: new Redis({sentinels: [...], name: 'rkv'}) (it reconnects and
#     asks the sentinels again; rkv also closes clients on step-down).
# A library that is not installed is counted as a skip:
#   apt-get install -y python3-redis ; npm install ioredis (NODE_PATH)
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "   ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

PY=""
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import redis.sentinel' 2>/dev/null; then PY=$p; break; fi
done
NODE=$(command -v node || true)
if [ -n "$NODE" ]; then
    NODE_PATH="${NODE_PATH:+$NODE_PATH:}$PWD/.ci/node_modules:$(npm root -g 2>/dev/null || true)"
    export NODE_PATH
fi
IOREDIS=0
[ -n "$NODE" ] && "$NODE" -e "require('ioredis')" >/dev/null 2>&1 && IOREDIS=1
if [ -z "$PY" ] && [ $IOREDIS = 0 ]; then
    echo "SKIP: neither redis-py (python3-redis) nor ioredis is installed"; skip=2; finish
fi
ANYPY=$(command -v python3 || command -v /usr/bin/python3)

work=$(mktemp -d /tmp/rkv-elect-clients-XXXXXX)
declare -A pid
cleanup() {
    for i in 1 2 3; do [ -n "${pid[$i]:-}" ] && kill "${pid[$i]}" 2>/dev/null; done
    wait 2>/dev/null
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
. "$PWD/tests/common/lib.sh"
declare -A port
for i in 1 2 3; do port[$i]=$(free_port); rport[$i]=$(free_port); done
peers="1=127.0.0.1:${rport[1]},2=127.0.0.1:${rport[2]},3=127.0.0.1:${rport[3]}"
start() {
    "$SERVER" --node-id "$1" --port "${port[$1]}" --peers "$peers" --data-dir "$work/n$1" \
        --election-timeout-ms 500 --heartbeat-ms 50 >> "$work/n$1.log" 2>&1 &
    pid[$1]=$!
}
leader=
find_leader() {
    leader=
    for i in 1 2 3; do
        [ -n "${pid[$i]:-}" ] || continue
        "$CLI" -p "${port[$i]}" -t 1 info replication 2>/dev/null | tr -d '\r' |
            grep -qx 'election_role:leader' && leader=$i
    done
    [ -n "$leader" ]
}
kill_leader() { find_leader || return 1; kill -9 "${pid[$leader]}"; wait "${pid[$leader]}" 2>/dev/null; pid[$leader]=; }
restart_all() { for i in 1 2 3; do [ -z "${pid[$i]:-}" ] && start "$i"; done; wait_until 15 find_leader; }
for i in 1 2 3; do start $i; done
if wait_until 15 find_leader; then ok "an elected cluster is up (leader node $leader)"; else bad "no leader"; finish; fi
SENTINELS="127.0.0.1:${port[1]},127.0.0.1:${port[2]},127.0.0.1:${port[3]}"

# Each client program writes "before", prints READY, waits for a line on
# stdin (the leader was killed), then retries "after" for up to 15 s through
# the same client object and prints AFTER-OK <master port> or AFTER-FAIL.
run_client() { # name, command...
    local name=$1; shift
    local fifo="$work/$name.fifo"
    mkfifo "$fifo"
    "$@" < "$fifo" > "$work/$name.out" 2>&1 &
    local cpid=$!
    exec 9> "$fifo"
    if wait_until 15 grep -q READY "$work/$name.out"; then ok "$name: wrote through the leader"; else
        bad "$name: did not write before the kill"; cat "$work/$name.out"; exec 9>&-; kill $cpid 2>/dev/null; return; fi
    local old=${port[$leader]}
    if kill_leader; then ok "$name: leader killed (port $old)"; else bad "$name: no leader to kill"; fi
    echo go >&9
    exec 9>&-
    wait $cpid
    if grep -q "AFTER-OK" "$work/$name.out"; then
        local newp
        newp=$(sed -n 's/.*AFTER-OK \([0-9]*\).*/\1/p' "$work/$name.out")
        ok "$name: wrote again after the failover"
        if [ -n "$newp" ] && [ "$newp" != "$old" ]; then ok "$name: through the new leader ($newp)"; else
            bad "$name: master port '$newp' (old $old)"; fi
    else
        bad "$name: no write after the failover"; cat "$work/$name.out"
    fi
    restart_all || bad "$name: the cluster did not recover"
}

echo "-- redis-py"
if [ -z "$PY" ]; then
    echo "SKIP: redis-py is not installed (apt-get install -y python3-redis)"; skip=$((skip + 1))
else
    cat > "$work/py.py" <<'EOF'
import sys, time
from redis.sentinel import Sentinel
nodes = [(h, int(p)) for h, p in (x.split(":") for x in sys.argv[1].split(","))]
s = Sentinel(nodes, socket_timeout=1.0)
m = s.master_for("rkv", socket_timeout=1.0)
m.set("before", "1")
print("READY", flush=True)
sys.stdin.readline()
end = time.time() + 15
while time.time() < end:
    try:
        m.set("after", "1")
        print("AFTER-OK", s.discover_master("rkv")[1], flush=True)
        sys.exit(0)
    except Exception as e:
        print("retry:", type(e).__name__, e, flush=True)
        time.sleep(0.1)
print("AFTER-FAIL", flush=True)
EOF
    run_client redis-py "$PY" "$work/py.py" "$SENTINELS"
fi

echo "-- ioredis"
if [ $IOREDIS = 0 ]; then
    echo "SKIP: ioredis is not installed (npm install ioredis; NODE_PATH)"; skip=$((skip + 1))
else
    cat > "$work/io.js" <<'EOF'
const Redis = require("ioredis");
const sentinels = process.argv[2].split(",").map(x => { const [host, port] = x.split(":"); return { host, port: +port }; });
const r = new Redis({ sentinels, name: "rkv", sentinelRetryStrategy: () => 100,
                      retryStrategy: () => 100, reconnectOnError: () => 2, maxRetriesPerRequest: 2 });
(async () => {
  await r.set("before", "1");
  console.log("READY");
  await new Promise(res => process.stdin.once("data", res));
  const end = Date.now() + 15000;
  while (Date.now() < end) {
    try { await r.set("after", "1"); console.log("AFTER-OK", (r.stream && r.stream.remotePort) || 0); process.exit(0); }
    catch (e) { console.log("retry:", e.message); await new Promise(res => setTimeout(res, 100)); }
  }
  console.log("AFTER-FAIL"); process.exit(1);
})();
EOF
    run_client ioredis "$NODE" "$work/io.js" "$SENTINELS"
fi
finish
