#!/usr/bin/env bash
# Real Redis client libraries find the rkv leader through the Sentinel
# commands every node answers, with no rkv-specific code: a three-node
# cluster is given to them as its sentinels, a follower first, and each one
# must resolve the leader, write and read through it.
#   redis-py: Sentinel([...]).master_for('rkv') / slave_for, its parsers for
#     SENTINEL MASTER / SLAVES / SENTINELS, ReadOnlyError for a follower's
#     -READONLY, pub/sub messages;
#   ioredis: new Redis({sentinels: [...], name: 'rkv'}), also with
#     failoverDetector (it SUBSCRIBEs to +switch-master on every sentinel);
#   node-redis: createSentinel({name: 'rkv', ...}) with RESP: 2 (node-redis 6
#     defaults to RESP3, which rkv does not speak; see docs/PROTOCOL.md).
# A library that is not installed is skipped, and counted as a skip:
#   apt-get install -y python3-redis
#   npm install ioredis redis   (then NODE_PATH=<dir>/node_modules, or -g)
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

# ---- which libraries are here ----
PY=""
for p in python3 /usr/bin/python3 /usr/local/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import redis.sentinel' 2>/dev/null; then PY=$p; break; fi
done
ANYPY=$(command -v python3 || command -v /usr/bin/python3 || true)
NODE=$(command -v node || true)
if [ -n "$NODE" ]; then
    NODE_PATH="${NODE_PATH:+$NODE_PATH:}$PWD/.ci/node_modules:$(npm root -g 2>/dev/null || true)"
    export NODE_PATH
fi
has_node_mod() { [ -n "$NODE" ] && "$NODE" -e "require('$1')" >/dev/null 2>&1; }
IOREDIS=0 NODEREDIS=0
has_node_mod ioredis && IOREDIS=1
has_node_mod redis && NODEREDIS=1
if [ -z "$ANYPY" ] || { [ -z "$PY" ] && [ $IOREDIS = 0 ] && [ $NODEREDIS = 0 ]; }; then
    echo "SKIP: none of redis-py (python3-redis), ioredis, node-redis is installed"
    skip=3; finish
fi

# ---- a three-node cluster ----
work=$(mktemp -d /tmp/rkv-sentinel-clients-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null; done
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
. "$PWD/tests/common/lib.sh"
info_has() { # port, "field:value"
    "$BUILD/rkv-cli" -p "$1" -t 2 info replication 2>/dev/null | tr -d '\r' | grep -qx "$2"
}
LP=$(free_port) F1=$(free_port) F2=$(free_port) R1=$(free_port) R2=$(free_port)
"$SERVER" --node-id 2 --role follower --port "$F1" --repl-port "$R1" --data-dir "$work/n2" --log-file "$work/n2.log" &
pids+=($!)
"$SERVER" --node-id 3 --role follower --port "$F2" --repl-port "$R2" --data-dir "$work/n3" --log-file "$work/n3.log" &
pids+=($!)
"$SERVER" --node-id 1 --role leader --port "$LP" --data-dir "$work/n1" --log-file "$work/n1.log" \
    --followers "127.0.0.1:$R1,127.0.0.1:$R2" &
pids+=($!)
if wait_until 10 info_has "$LP" "connected_slaves:2" && wait_until 10 info_has "$F1" "master_link_status:up" &&
    wait_until 10 info_has "$F2" "master_link_status:up"; then ok; else bad "the cluster did not come up"; finish; fi

# ---- redis-py ----
echo "-- redis-py"
if [ -z "$PY" ]; then
    echo "SKIP: redis-py is not installed (apt-get install -y python3-redis)"; skip=$((skip + 1))
else
    out=$("$PY" - "$LP" "$F1" "$F2" <<'EOF' 2>&1
import sys, time
import redis
from redis.sentinel import Sentinel
lp, f1, f2 = (int(a) for a in sys.argv[1:4])
fails = 0
def check(what, cond):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    fails += 0 if cond else 1
s = Sentinel([("127.0.0.1", f1), ("127.0.0.1", f2), ("127.0.0.1", lp)], socket_timeout=2)
check("discover_master finds the leader", s.discover_master("rkv") == ("127.0.0.1", lp))
m = s.master_for("rkv", socket_timeout=2)
check("master_for: SET", m.set("py-key", "py-value") is True)
check("master_for: GET", m.get("py-key") == b"py-value")
check("master_for talks to the leader", m.connection_pool.get_master_address() == ("127.0.0.1", lp))
slaves = s.discover_slaves("rkv")
check("discover_slaves: followers only", len(slaves) >= 1 and all(a[1] in (f1, f2) for a in slaves))
sl = s.slave_for("rkv", socket_timeout=2)
end = time.time() + 5
while sl.get("py-key") != b"py-value" and time.time() < end: time.sleep(0.05)
check("slave_for: a follower serves the committed write", sl.get("py-key") == b"py-value")
try:
    redis.Redis(port=f1, socket_timeout=2).set("x", "y"); check("a follower refuses writes", False)
except redis.exceptions.ReadOnlyError:
    check("a follower's -READONLY is redis-py's ReadOnlyError", True)
r = redis.Redis(port=lp, socket_timeout=2)
st = r.sentinel_master("rkv")
check("sentinel_master parses: master, not down, 2 other sentinels",
      st["is_master"] and not st["is_sdown"] and not st["is_odown"] and st["num-other-sentinels"] == 2)
check("sentinel_slaves: 2 slaves", len(r.sentinel_slaves("rkv")) == 2 and all(x["is_slave"] for x in r.sentinel_slaves("rkv")))
check("sentinel_sentinels: 2 sentinels", len(r.sentinel_sentinels("rkv")) == 2 and all(x["is_sentinel"] for x in r.sentinel_sentinels("rkv")))
check("sentinel_get_master_addr_by_name (bytes host, as from Redis Sentinel)", r.sentinel_get_master_addr_by_name("rkv") == (b"127.0.0.1", lp))
check("role() on a follower", redis.Redis(port=f2).role()[0] == b"slave")
p = redis.Redis(port=lp, socket_timeout=2).pubsub()
p.subscribe("+switch-master"); p.psubscribe("n*")
got = [p.get_message(timeout=2) for _ in range(2)]
check("pubsub: subscribe and psubscribe confirmations",
      [g and g["type"] for g in got] == ["subscribe", "psubscribe"])
check("PUBLISH news x reaches the pattern", r.publish("news", "x") == 1)
msg = p.get_message(timeout=2)
check("pubsub: the pmessage", msg and msg["type"] == "pmessage" and msg["channel"] == b"news" and msg["data"] == b"x")
p.close()
sys.exit(1 if fails else 0)
EOF
    )
    rc=$?
    printf '%s\n' "$out" | sed 's/^/   /'
    n=$(printf '%s\n' "$out" | grep -c '^ok ')
    pass=$((pass + n))
    [ $rc -eq 0 ] || bad "redis-py ($(printf '%s\n' "$out" | grep -c '^FAIL') checks failed, exit $rc)"
fi

# ---- ioredis and node-redis ----
run_js() { # name, script
    local out rc
    out=$(cd "$work" && LP=$LP F1=$F1 F2=$F2 timeout 60 "$NODE" -e "$2" 2>&1); rc=$?
    printf '%s\n' "$out" | sed 's/^/   /'
    pass=$((pass + $(printf '%s\n' "$out" | grep -c '^ok ')))
    [ $rc -eq 0 ] || bad "$1 (exit $rc)"
}
JS_HEAD='
const lp = Number(process.env.LP), f1 = Number(process.env.F1), f2 = Number(process.env.F2);
const sentinels = [{host: "127.0.0.1", port: f1}, {host: "127.0.0.1", port: f2}, {host: "127.0.0.1", port: lp}];
let fails = 0;
const check = (what, cond) => { console.log((cond ? "ok   " : "FAIL ") + what); if (!cond) fails++; };
'
echo "-- ioredis"
if [ $IOREDIS = 0 ]; then
    echo "SKIP: ioredis is not installed (npm install ioredis; NODE_PATH)"; skip=$((skip + 1))
else
    run_js ioredis "$JS_HEAD"'
const Redis = require("ioredis");
(async () => {
    const r = new Redis({sentinels, name: "rkv", sentinelRetryStrategy: null, maxRetriesPerRequest: 1});
    r.on("error", () => {});
    check("SET through the sentinels", await r.set("js-key", "js-value") === "OK");
    check("GET", await r.get("js-key") === "js-value");
    check("connected to the leader", r.stream.remotePort === lp);
    r.disconnect();
    const d = new Redis({sentinels, name: "rkv", failoverDetector: true, sentinelRetryStrategy: null});
    d.on("error", () => {});
    const subscribed = new Promise(res => d.once("failoverSubscribed", () => res(true)));
    check("failoverDetector: SET", await d.set("js-key2", "v") === "OK");
    check("failoverDetector subscribed to +switch-master on the sentinels",
          await Promise.race([subscribed, new Promise(res => setTimeout(() => res(false), 5000))]));
    d.disconnect();
    const s = new Redis({sentinels, name: "rkv", role: "slave", sentinelRetryStrategy: null});
    s.on("error", () => {});
    let v = null;
    for (let i = 0; i < 100 && v !== "js-value"; i++) { v = await s.get("js-key"); if (v !== "js-value") await new Promise(res => setTimeout(res, 50)); }
    check("role: slave reads from a follower", v === "js-value" && s.stream.remotePort !== lp);
    s.disconnect();
    process.exit(fails ? 1 : 0);
})().catch(e => { console.log("FAIL " + e); process.exit(1); });'
fi
echo "-- node-redis"
if [ $NODEREDIS = 0 ]; then
    echo "SKIP: node-redis is not installed (npm install redis; NODE_PATH)"; skip=$((skip + 1))
else
    run_js node-redis "$JS_HEAD"'
const { createSentinel } = require("redis");
(async () => {
    const s = createSentinel({name: "rkv", sentinelRootNodes: [sentinels[0]], RESP: 2});
    s.on("error", () => {});
    await s.connect();
    check("createSentinel: SET", await s.set("nr-key", "nr-value") === "OK");
    check("GET", await s.get("nr-key") === "nr-value");
    const m = s.getMasterNode();
    check("its master is the leader", m && m.port === lp);
    await s.close();
    process.exit(fails ? 1 : 0);
})().catch(e => { console.log("FAIL " + e); process.exit(1); });'
fi
finish
