#!/usr/bin/env bash
# Real Redis clients on rkv with RESP3 (HELLO 3) and RESP2, no rkv-specific
# options:
#   node-redis: createClient({url}) with its defaults (node-redis 5+ sends
#     HELLO 3 and CLIENT SETINFO; 4 speaks RESP2), and with RESP: 2: SET, GET
#     of a missing key (null), CONFIG GET, INFO, a subscriber getting a
#     message, CLIENT INFO showing the protocol and the library;
#   ioredis (RESP2): SET/GET, a subscriber getting a message and a pattern
#     message, CLIENT LIST;
#   redis-cli -3: HELLO, a map (CONFIG GET), a null, INFO;
#   redis-py with protocol=3 (redis-py 5+): SET/GET, pub/sub.
# A client that is not installed is skipped, and counted as a skip:
#   apt-get install -y redis-tools python3-redis; npm install redis ioredis
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
SERVER="$BUILD/rkv-server"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
skipped() { skip=$((skip + 1)); echo "SKIP: $1"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; } # description, condition
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

ANYPY=$(command -v python3 || command -v /usr/bin/python3 || true)
PY=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import redis' 2>/dev/null; then PY=$p; break; fi
done
NODE=$(command -v node || true)
if [ -n "$NODE" ]; then
    NODE_PATH="${NODE_PATH:+$NODE_PATH:}$PWD/.ci/node_modules:$(npm root -g 2>/dev/null || true)"
    export NODE_PATH
fi
NODEREDIS=0 IOREDIS=0
[ -n "$NODE" ] && "$NODE" -e "require('redis')" >/dev/null 2>&1 && NODEREDIS=1
[ -n "$NODE" ] && "$NODE" -e "require('ioredis')" >/dev/null 2>&1 && IOREDIS=1
RCLI=$(command -v redis-cli || true)

work=$(mktemp -d /tmp/rkv-resp3-clients-XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
. "$PWD/tests/common/lib.sh"
if [ -z "$ANYPY" ]; then skipped "python3 is needed for free_port"; skip=$((skip + 3)); finish; fi

PORT=$(free_port)
"$SERVER" --port "$PORT" --data-dir "$work/d" --log-file "$work/server.log" &
pid=$!
up() { "$BUILD/rkv-cli" -p "$PORT" -t 1 ping 2>/dev/null | grep -q PONG; }
if ! wait_until 10 up; then bad "the server starts (see $work/server.log)"; finish; fi
ok

# ---- node-redis ----
# RESP given as an argument: "default" (no option), or 2.
node_redis() {
    PORT=$PORT RESPOPT=$1 timeout 60 "$NODE" -e '
const { createClient } = require("redis");
const port = +process.env.PORT, resp = process.env.RESPOPT;
const opts = { url: `redis://127.0.0.1:${port}` };
if (resp !== "default") opts.RESP = +resp;
(async () => {
  const c = createClient(opts);
  c.on("error", e => console.log("client error " + e.message));
  await c.connect();
  const tag = "nr" + resp;
  if (await c.set(tag + ":k", "v1") !== "OK") throw new Error("set");
  if (await c.get(tag + ":k") !== "v1") throw new Error("get");
  if (await c.get(tag + ":none") !== null) throw new Error("get of a missing key is not null");
  const cfg = await c.configGet("maxclients");
  if (cfg.maxclients !== "10000") throw new Error("configGet " + JSON.stringify(cfg));
  if (!/^# Server/.test(await c.info("server"))) throw new Error("info");
  const info = String(await c.sendCommand(["CLIENT", "INFO"]));
  const proto = (info.match(/ resp=(\d)/) || [])[1];
  const sub = c.duplicate();
  sub.on("error", e => console.log("sub error " + e.message));
  await sub.connect();
  let onMsg;
  const got = new Promise(res => { onMsg = res; });
  await sub.subscribe(tag + ":ch", m => onMsg(m)); /* resolves once confirmed */
  const n = await c.publish(tag + ":ch", "hello");
  if (n !== 1) throw new Error("publish reached " + n);
  if (await got !== "hello") throw new Error("message");
  await sub.quit();
  await c.quit();
  console.log("nr-ok resp=" + proto + " lib=" + ((info.match(/ lib-name=(\S*)/) || [])[1]));
})().catch(e => { console.log("nr-fail " + e.message); process.exit(1); });
' 2>&1
}
if [ $NODEREDIS = 0 ]; then
    skipped "node-redis is not installed (npm install redis; NODE_PATH)"
    skipped "node-redis RESP: 2"
else
    ver=$("$NODE" -e "console.log(require('redis/package.json').version)" 2>/dev/null)
    out=$(node_redis default)
    major=${ver%%.*}
    want=2
    [ "${major:-0}" -ge 5 ] 2>/dev/null && want=3 # node-redis 5+ defaults to RESP3
    if echo "$out" | grep -q "nr-ok resp=$want"; then ok; else bad "node-redis $ver, defaults (RESP$want): $out"; fi
    if [ "$want" = 3 ]; then
        check "node-redis $ver: CLIENT SETINFO kept (lib-name=node-redis)" \
            'echo "$out" | grep -q "lib=node-redis"'
    fi
    out=$(node_redis 2)
    if echo "$out" | grep -q "nr-ok resp=2"; then ok; else bad "node-redis $ver, RESP: 2: $out"; fi
fi

# ---- ioredis ----
if [ $IOREDIS = 0 ]; then
    skipped "ioredis is not installed (npm install ioredis; NODE_PATH)"
else
    out=$(PORT=$PORT timeout 60 "$NODE" -e '
const Redis = require("ioredis");
const port = +process.env.PORT;
const opts = { port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null };
(async () => {
  const r = new Redis(opts);
  await r.connect();
  if (await r.set("io:k", "v1") !== "OK" || await r.get("io:k") !== "v1") throw new Error("set/get");
  if (await r.get("io:none") !== null) throw new Error("null");
  const s = new Redis(opts);
  await s.connect();
  const msgs = [];
  const done = new Promise(res => {
    s.on("message", (ch, m) => { msgs.push(ch + "=" + m); if (msgs.length === 2) res(); });
    s.on("pmessage", (p, ch, m) => { msgs.push(p + ":" + ch + "=" + m); if (msgs.length === 2) res(); });
  });
  await s.subscribe("io:ch");
  await s.psubscribe("io:p*");
  if (await r.publish("io:ch", "a") !== 1) throw new Error("publish io:ch");
  if (await r.publish("io:px", "b") !== 1) throw new Error("publish io:px");
  await done;
  if (msgs.join(",") !== "io:ch=a,io:p*:io:px=b") throw new Error("messages " + msgs.join(","));
  const list = await r.client("LIST");
  if (!/ cmd=client\|list /.test(list) || !/ sub=1 psub=1 /.test(list)) throw new Error("client list " + list);
  s.disconnect();
  r.disconnect();
  console.log("io-ok");
})().catch(e => { console.log("io-fail " + e.message); process.exit(1); });
' 2>&1)
    if echo "$out" | grep -q io-ok; then ok; else bad "ioredis: $out"; fi
fi

# ---- redis-cli -3 ----
if [ -z "$RCLI" ]; then
    skipped "redis-cli is not installed"
else
    check "redis-cli -3 HELLO: proto 3" \
        '"$RCLI" -3 -p "$PORT" hello | grep -qx "proto 3"'
    check "redis-cli -3 CONFIG GET maxclients: a map" \
        '[ "$("$RCLI" -3 -p "$PORT" config get maxclients | tr "\n" " ")" = "maxclients 10000 " ]'
    check "redis-cli -3 --no-raw GET of a missing key: (nil)" \
        '[ "$("$RCLI" -3 --no-raw -p "$PORT" get nokey)" = "(nil)" ]'
    check "redis-cli -3 INFO server: the text" \
        '"$RCLI" -3 -p "$PORT" info server | grep -q "^redis_version:"'
fi

# ---- redis-py, protocol=3 ----
if [ -z "$PY" ]; then
    skipped "redis-py (python3-redis) is not installed"
elif ! "$PY" -c 'import redis, sys; redis.Redis(protocol=3)' >/dev/null 2>&1; then
    skipped "redis-py $("$PY" -c 'import redis; print(redis.__version__)') has no RESP3 (protocol=3 needs redis-py 5)"
else
    out=$(PORT=$PORT timeout 60 "$PY" - 2>&1 <<'EOF'
import os, time, redis
port = int(os.environ["PORT"])
r = redis.Redis(port=port, protocol=3, socket_timeout=5)
assert r.set("py:k", "v") is True and r.get("py:k") == b"v"
assert r.get("py:none") is None
p = r.pubsub()
p.subscribe("py:ch")
deadline = time.time() + 5
while r.publish("py:ch", "m") == 0 and time.time() < deadline:
    time.sleep(0.02)
msg = None
while time.time() < deadline:
    m = p.get_message(timeout=1)
    if m and m["type"] == "message":
        msg = m
        break
assert msg and msg["data"] == b"m", msg
print("py-ok")
EOF
)
    if echo "$out" | grep -q py-ok; then ok; else bad "redis-py protocol=3: $out"; fi
fi
finish
