#!/usr/bin/env bash
# Real Redis clients use the string, keyspace and transaction commands of a
# three-node rkv cluster (leader + 2 followers, cluster secret) with their
# default options and no rkv-specific code:
#   redis-py: pipeline() (transaction=True: MULTI/EXEC) with set/incr/get and
#     its results, WATCH with a WatchError, set(ex=10, nx=True), incr, mget,
#     mset, and Lock acquire/extend/release (redis-py's Lock releases and
#     extends with EVALSHA / SCRIPT LOAD: Lua);
#   node-redis: createClient({url}) with its defaults (node-redis 5 and later
#     say HELLO 3: RESP3; 4 stays on RESP2), set/get/incr, multi().exec();
#   ioredis: new Redis(port), multi()...exec();
#   redis-benchmark -t ping,set,get,incr,mset -n 2000 -q: a rate for every
#     test and no error;
#   redis-cli --scan (and --pattern 'k:*') lists exactly the keys written (in
#     db 9), redis-cli -r 100 incr then GET is 100;
#   rkv-cli: INCR in a loop, a MULTI/EXEC piped on one connection, SET EX and
#     TTL, SCAN.
# One pass per check. A client that is not installed is skipped, and counted
# as one skip:
#   apt-get install -y redis-tools python3-redis; npm install ioredis redis
#   (NODE_PATH=<dir>/node_modules, or .ci/node_modules as .ci/run makes)
# RKV_TEST_AGAINST_REDIS=PORT runs every check against a plain redis-server
# already listening on 127.0.0.1:PORT instead of an rkv cluster (it is
# FLUSHALLed first): to check the client snippets against real Redis
# semantics, e.g.
#   redis-server --port 26400 --save '' --appendonly no &
#   RKV_TEST_AGAINST_REDIS=26400 RKV_BUILD=build-dev bash tests/server/clients13_test.sh
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
SERVER="$BUILD/rkv-server"
CLI="$BUILD/rkv-cli"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; } # description, condition
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }
# A client's own checks print "ok   what" / "FAIL what": each is counted, a
# client that dies before its last check is one more failure.
tally() { # name, exit status, output
    local line
    printf '%s\n' "$3" | grep -v '^ok \|^FAIL \|^done$' | head -n 20 | sed 's/^/   /'
    pass=$((pass + $(printf '%s\n' "$3" | grep -c '^ok ')))
    while IFS= read -r line; do bad "$1: ${line#FAIL }"; done < <(printf '%s\n' "$3" | grep '^FAIL ')
    printf '%s\n' "$3" | grep -q '^done$' || bad "$1 stopped before its last check (exit $2)"
}

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
has_node_mod() { [ -n "$NODE" ] && "$NODE" -e "require('$1')" >/dev/null 2>&1; }
IOREDIS=0 NODEREDIS=0
has_node_mod ioredis && IOREDIS=1
has_node_mod redis && NODEREDIS=1
RCLI=$(command -v redis-cli || true)
RBENCH=$(command -v redis-benchmark || true)

work=$(mktemp -d /tmp/rkv-clients13-XXXXXX)
. "$PWD/tests/common/lib.sh"
. "$PWD/tests/common/cluster3.sh"
cleanup() {
    cluster3_stop
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT

if [ -n "${RKV_TEST_AGAINST_REDIS:-}" ]; then
    LP=$RKV_TEST_AGAINST_REDIS
    echo "-- against the redis-server on port $LP (RKV_TEST_AGAINST_REDIS), not rkv"
    check "FLUSHALL on that redis-server" '[ "$("$CLI" -p "$LP" flushall 2>&1)" = OK ]'
else
    if [ -z "$ANYPY" ]; then echo "SKIP: python3 is needed for free_port"; skip=6; finish; fi
    if cluster3_start "$work"; then ok; else bad "the three-node cluster comes up (see $work/n*.log)"; finish; fi
    LP=$C3_LP
fi

# ---- redis-py ----
echo "-- redis-py"
if [ -z "$PY" ]; then
    echo "SKIP: redis-py is not installed (apt-get install -y python3-redis)"; skip=$((skip + 1))
else
    out=$(timeout 120 "$PY" - "$LP" <<'EOF' 2>&1
import sys, time, traceback
import redis
port = int(sys.argv[1])
r = redis.Redis(port=port, socket_timeout=10)
def check(what, fn):
    try:
        got = fn()
        print(("ok   " if got is True else "FAIL ") + what + ("" if got is True else ": got %r" % (got,)))
    except Exception as e:
        print("FAIL %s: %s: %s" % (what, type(e).__name__, e))
def eq(want, got):
    return True if got == want else "%r, not %r" % (got, want)

def pipe():
    p = r.pipeline()  # transaction=True: MULTI ... EXEC
    p.set("py:p", 1).incr("py:p").incrby("py:p", 5).get("py:p").set("py:p2", "x", ex=100, nx=True).ttl("py:p2")
    return eq([True, 2, 7, b"7", True, 100], p.execute())
check("pipeline() (MULTI/EXEC): set, incr, incrby, get, set ex nx, ttl", pipe)
def pipe_error():
    p = r.pipeline()
    p.set("py:e", "abc").incr("py:e").get("py:e")
    try:
        p.execute()
        return "no ResponseError"
    except redis.exceptions.ResponseError as e:
        # redis-py's own wording around Redis's error text
        return True if "# 2 " in str(e) and str(e).endswith("value is not an integer or out of range") else str(e)
check("pipeline(): an error inside EXEC is reported for its command", pipe_error)
def pipe_nontx():
    p = r.pipeline(transaction=False)
    p.set("py:n", 10).incr("py:n").get("py:n")
    return eq([True, 11, b"11"], p.execute())
check("pipeline(transaction=False)", pipe_nontx)
def watch_ok():
    r.set("py:w", 1)
    with r.pipeline() as p:
        p.watch("py:w")
        v = int(p.get("py:w"))
        p.multi()
        p.set("py:w", v + 1)
        res = p.execute()
    return eq([True], res) if res != [True] else eq(b"2", r.get("py:w"))
check("WATCH, GET, MULTI, SET, EXEC", watch_ok)
def watch_conflict():
    r.set("py:wc", 1)
    other = redis.Redis(port=port, socket_timeout=10)
    with r.pipeline() as p:
        p.watch("py:wc")
        other.set("py:wc", 5)
        p.multi()
        p.set("py:wc", 2)
        try:
            p.execute()
            return "EXEC ran although the watched key changed"
        except redis.exceptions.WatchError:
            pass
    return eq(b"5", r.get("py:wc"))
check("WATCH: a key changed by another client gives WatchError", watch_conflict)
def transaction_helper():
    r.set("py:th", 3)
    def fn(p):
        v = int(p.get("py:th"))
        p.multi()
        p.set("py:th", v * 2)
    return eq([True], r.transaction(fn, "py:th"))
check("r.transaction(fn, key)", transaction_helper)
check("set(ex=10, nx=True) on a new key", lambda: eq(True, r.set("py:k", "v", ex=10, nx=True)))
check("set(ex=10, nx=True) again is None", lambda: eq(None, r.set("py:k", "v2", ex=10, nx=True)))
check("... the value and TTL", lambda: eq((b"v", True), (r.get("py:k"), 9 <= r.ttl("py:k") <= 10)))
check("set(px=, xx=True), set(keepttl=True), set(get=True)",
      lambda: eq([True, True, b"b"], [r.set("py:k", "a", px=20000, xx=True), r.set("py:k", "b", keepttl=True),
                                      r.set("py:k", "c", get=True)]))
check("incr / incr(5) / decr / incrbyfloat",
      lambda: eq([1, 6, 5, 6.5], [r.incr("py:c"), r.incr("py:c", 5), r.decr("py:c"), r.incrbyfloat("py:c", 1.5)]))
check("mset / mget", lambda: eq([True, [b"1", b"2", None]], [r.mset({"py:m1": 1, "py:m2": 2}),
                                                           r.mget(["py:m1", "py:m2", "py:missing"])]))
check("expire / ttl / persist / getex / getdel",
      lambda: eq([True, True, True, b"1", b"1", None],
                 [r.expire("py:m1", 100), 99 <= r.ttl("py:m1") <= 100, r.persist("py:m1"),
                  r.getex("py:m1", ex=50), r.getdel("py:m1"), r.get("py:m1")]))
check("scan_iter(match='py:m*')", lambda: eq([b"py:m2"], sorted(r.scan_iter(match="py:m*"))))
held = None
def lock_acquire():
    global held
    held = r.lock("py:lock", timeout=10)
    if held.acquire(blocking=False) is not True:
        return "acquire(blocking=False) failed"
    if r.lock("py:lock", timeout=10).acquire(blocking=False) is not False:
        return "a second Lock acquired the held lock"
    return eq(True, 9000 <= r.pttl("py:lock") <= 10000)
check("Lock: acquire (SET NX PX), a second one fails", lock_acquire)
check("Lock: extend(20) (EVALSHA)", lambda: eq((True, True), (held.extend(20), 29000 <= r.pttl("py:lock") <= 30000)))
check("Lock: release() (EVALSHA), the key is gone", lambda: eq((None, 0), (held.release(), r.exists("py:lock"))))
def with_lock():
    with r.lock("py:lock2", timeout=5):
        if r.exists("py:lock2") != 1:
            return "the lock key is missing inside the with block"
    return eq(0, r.exists("py:lock2"))
check("with r.lock(...): acquire, then release on leaving", with_lock)
print("done")
EOF
)
    tally redis-py $? "$out"
fi

# ---- node-redis ----
echo "-- node-redis"
if [ $NODEREDIS = 0 ]; then
    echo "SKIP: node-redis is not installed (npm install redis; NODE_PATH)"; skip=$((skip + 1))
else
    out=$(cd "$work" && LP=$LP timeout 60 "$NODE" -e '
const { createClient } = require("redis");
const version = require("redis/package.json").version;
let fails = 0;
const check = (what, cond, got) => console.log((cond ? "ok   " : "FAIL ") + what + (cond ? "" : ": got " + JSON.stringify(got)));
setTimeout(() => { console.log("FAIL no answer within 30 s"); process.exit(1); }, 30000).unref();
(async () => {
  console.log("node-redis " + version);
  const c = createClient({ url: "redis://127.0.0.1:" + process.env.LP });
  let err = "";
  c.on("error", e => { err = err || e.message; });
  await c.connect();
  check("connect with the default options", c.isReady, err);
  let g = await c.set("nr:a", "1");
  check("set", g === "OK", g);
  g = await c.get("nr:a");
  check("get", g === "1", g);
  g = await c.incr("nr:a");
  check("incr", g === 2, g);
  g = await c.set("nr:t", "v", { EX: 100, NX: true });
  check("set EX NX", g === "OK", g);
  g = await c.set("nr:t", "v", { EX: 100, NX: true });
  check("set EX NX again is null", g === null, g);
  g = await c.ttl("nr:t");
  check("ttl", g >= 99 && g <= 100, g);
  g = await c.mGet(["nr:a", "nr:missing"]);
  check("mGet", JSON.stringify(g) === JSON.stringify(["2", null]), g);
  g = await c.multi().set("nr:m", "1").incr("nr:m").get("nr:m").exec();
  check("multi().set().incr().get().exec()", JSON.stringify(g) === JSON.stringify(["OK", 2, "2"]), g);
  g = await c.incrByFloat("nr:f", 1.5);
  check("incrByFloat", String(g) === "1.5", g);
  await c.quit();
  console.log("done");
})().catch(e => { console.log("FAIL " + e.message); process.exit(1); });
' 2>&1)
    tally node-redis $? "$out"
fi

# ---- ioredis ----
echo "-- ioredis"
if [ $IOREDIS = 0 ]; then
    echo "SKIP: ioredis is not installed (npm install ioredis; NODE_PATH)"; skip=$((skip + 1))
else
    out=$(cd "$work" && LP=$LP timeout 60 "$NODE" -e '
const Redis = require("ioredis");
const check = (what, cond, got) => console.log((cond ? "ok   " : "FAIL ") + what + (cond ? "" : ": got " + JSON.stringify(got)));
setTimeout(() => { console.log("FAIL no answer within 30 s"); process.exit(1); }, 30000).unref();
(async () => {
  const r = new Redis(Number(process.env.LP));
  r.on("error", () => {});
  let g = await r.multi().set("io:a", "1").incr("io:a").get("io:a").exec();
  check("multi().set().incr().get().exec()", JSON.stringify(g) === JSON.stringify([[null, "OK"], [null, 2], [null, "2"]]), g);
  g = await r.multi().set("io:s", "abc").incr("io:s").exec();
  check("multi(): an error inside EXEC is that command reply", g && g[0][1] === "OK" && g[1][0] &&
        g[1][0].message === "ERR value is not an integer or out of range", g && g.map(x => x[0] ? x[0].message : x[1]));
  g = await r.set("io:k", "v", "EX", 100, "NX");
  check("set EX NX", g === "OK", g);
  g = await r.set("io:k", "v", "EX", 100, "NX");
  check("set EX NX again is null", g === null, g);
  g = await r.pipeline().incr("io:c").incrby("io:c", 9).mget("io:c", "io:missing").exec();
  check("pipeline(): incr, incrby, mget", JSON.stringify(g) === JSON.stringify([[null, 1], [null, 10], [null, ["10", null]]]), g);
  r.disconnect();
  console.log("done");
})().catch(e => { console.log("FAIL " + e.message); process.exit(1); });
' 2>&1)
    tally ioredis $? "$out"
fi

# ---- redis-benchmark ----
echo "-- redis-benchmark"
if [ -z "$RBENCH" ]; then
    echo "SKIP: redis-benchmark is not installed (apt-get install -y redis-tools)"; skip=$((skip + 1))
else
    timeout 300 "$RBENCH" -h 127.0.0.1 -p "$LP" -t ping,set,get,incr,mset -n 2000 -q 2>&1 | tr '\r' '\n' >"$work/bench.out"
    grep 'requests per second' "$work/bench.out" | sed 's/^/   /'
    for t in PING_INLINE PING_MBULK SET GET INCR 'MSET (10 keys)'; do
        check "redis-benchmark $t gives a rate" 'grep -q "^$t: [0-9.]* requests per second" "$work/bench.out"'
    done
    check "redis-benchmark reports no error ($(grep -i -m1 'error' "$work/bench.out"))" \
        '! grep -qi "error" "$work/bench.out"'
fi

# ---- redis-cli ----
echo "-- redis-cli"
if [ -z "$RCLI" ]; then
    echo "SKIP: redis-cli is not installed (apt-get install -y redis-tools)"; skip=$((skip + 1))
else
    expect_all=$( (for i in $(seq 1 25); do echo "k:$i"; done; for i in 1 2 3 4 5; do echo "o:$i"; done; echo "k sp") | sort)
    errs=0
    for i in $(seq 1 25); do [ "$("$RCLI" -p "$LP" -n 9 set "k:$i" "v$i" 2>&1)" = OK ] || errs=$((errs + 1)); done
    for i in 1 2 3 4 5; do [ "$("$RCLI" -p "$LP" -n 9 set "o:$i" "x" 2>&1)" = OK ] || errs=$((errs + 1)); done
    [ "$("$RCLI" -p "$LP" -n 9 set "k sp" "x" 2>&1)" = OK ] || errs=$((errs + 1))
    check "redis-cli -n 9 set: 31 keys written ($errs errors)" '[ $errs = 0 ]'
    got=$("$RCLI" -p "$LP" -n 9 --scan 2>&1 | sort)
    check "redis-cli --scan lists exactly the keys written (got: $(echo $got | head -c 300))" '[ "$got" = "$expect_all" ]'
    got=$("$RCLI" -p "$LP" -n 9 --scan --pattern 'k:*' 2>&1 | sort)
    want=$(echo "$expect_all" | grep '^k:')
    check "redis-cli --scan --pattern 'k:*' (got: $(echo $got | head -c 300))" '[ "$got" = "$want" ]'
    got=$("$RCLI" -p "$LP" -n 9 --scan --pattern 'k:1?' 2>&1 | sort)
    want=$(echo "$expect_all" | grep '^k:1.$')
    check "redis-cli --scan --pattern 'k:1?' (got: $(echo $got | head -c 300))" '[ "$got" = "$want" ]'
    got=$("$RCLI" -p "$LP" -n 9 dbsize 2>&1)
    check "redis-cli -n 9 dbsize is 31 ($(echo $got))" '[ "$got" = 31 ]'
    got=$("$RCLI" -p "$LP" -r 100 incr rc:x 2>&1 | tail -n 1)
    check "redis-cli -r 100 incr: the last reply is 100 ($got)" '[ "$got" = "(integer) 100" ] || [ "$got" = 100 ]'
    got=$("$RCLI" -p "$LP" get rc:x 2>&1)
    check "redis-cli GET after -r 100 incr is 100 ($got)" '[ "$got" = 100 ]'
    got=$(printf 'multi\nset rc:m 1\nincr rc:m\nexec\n' | "$RCLI" -p "$LP" 2>&1 | tr '\n' '|')
    check "redis-cli, MULTI/EXEC piped on one connection ($got)" '[ "$got" = "OK|QUEUED|QUEUED|OK|2|" ]'
    got=$("$RCLI" -p "$LP" set rc:t v ex 100 nx 2>&1)/$("$RCLI" -p "$LP" ttl rc:t 2>&1)
    check "redis-cli set ex nx, ttl ($got)" '[ "$got" = OK/100 ] || [ "$got" = OK/99 ]'
fi

# ---- rkv-cli ----
echo "-- rkv-cli"
errs=0
# rkv-cli prints raw replies when stdout is not a terminal (as redis-cli);
# -e makes an error reply exit 1.
for i in $(seq 1 20); do "$CLI" -p "$LP" -e incr rk:x >/dev/null 2>&1 || errs=$((errs + 1)); done
got=$("$CLI" -p "$LP" get rk:x 2>&1)
check "rkv-cli incr x 20 times, then GET is 20 ($got, $errs errors)" '[ "$got" = 20 ] && [ $errs = 0 ]'
got=$(printf 'multi\nset rk:m 1\nincr rk:m\nget rk:m\nexec\n' | "$CLI" -p "$LP" 2>&1 | tr '\n' '|')
check "rkv-cli, MULTI/EXEC piped on one connection ($got)" \
    '[ "$got" = "OK|QUEUED|QUEUED|QUEUED|OK|2|2|" ]'
got=$("$CLI" -p "$LP" set rk:t v EX 100 NX 2>&1)/$("$CLI" -p "$LP" ttl rk:t 2>&1)
check "rkv-cli set EX NX, ttl ($got)" '[ "$got" = "OK/100" ] || [ "$got" = "OK/99" ]'
# the o:* keys of db 9 are those redis-cli wrote above
if [ -n "$RCLI" ]; then
    got=$(printf 'select 9\nscan 0 match o:* count 1000\n' | "$CLI" -p "$LP" 2>&1)
    keys=$(echo "$got" | sed 1,2d | sort | tr '\n' ' ')
    check "rkv-cli SELECT 9, SCAN 0 MATCH o:* COUNT 1000 ($(echo $got))" \
        '[ "$(echo "$got" | head -n 1)" = OK ] && [ "$keys" = "o:1 o:2 o:3 o:4 o:5 " ]'
fi
got=$("$CLI" -p "$LP" --raw incrbyfloat rk:f 0.1 2>&1)/$("$CLI" -p "$LP" --raw incrbyfloat rk:f 0.2 2>&1)
check "rkv-cli --raw incrbyfloat 0.1 then 0.2 ($got)" '[ "$got" = 0.1/0.3 ]'
finish
