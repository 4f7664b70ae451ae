#!/usr/bin/env bash
# Real Redis clients authenticate to rkv with no rkv-specific code:
#   redis-cli 7: -a PASSWORD, --user NAME --pass PASSWORD, a wrong password
#     (AUTH failed: WRONGPASS ...);
#   redis-py: Redis(password=...), Redis(username=..., password=...), a wrong
#     password raising WRONGPASS, NOAUTH without one;
#   ioredis: new Redis({password}), new Redis({username, password}), a wrong
#     password reported as WRONGPASS;
#   rkv-cli: -a, --user/--pass, REDISCLI_AUTH.
# The server has --aclfile with "default" (a password) and "app" (~app:*).
# A client that is not installed is skipped, and counted as a skip:
#   apt-get install -y redis-tools python3-redis; npm install ioredis
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
IOREDIS=0
[ -n "$NODE" ] && "$NODE" -e "require('ioredis')" >/dev/null 2>&1 && IOREDIS=1
RCLI=$(command -v redis-cli || true)

work=$(mktemp -d /tmp/rkv-auth-clients-XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
. "$PWD/tests/common/lib.sh"
if [ -z "$ANYPY" ]; then echo "SKIP: python3 is needed for free_port"; skip=4; finish; fi

cat >"$work/users.acl" <<'EOF'
user default on >adm-pw-1 ~* &* +@all
user app on >app-pw-1 ~app:* &* +@all
EOF
PORT=$(free_port)
"$SERVER" --port "$PORT" --data-dir "$work/d" --aclfile "$work/users.acl" --log-file "$work/server.log" &
pid=$!
up() { "$CLI" -p "$PORT" -t 1 ping 2>/dev/null | grep -q NOAUTH; }
if ! wait_until 10 up; then bad "the server starts (see $work/server.log)"; finish; fi
ok

# ---- rkv-cli ----
check "rkv-cli -a" '[ "$("$CLI" -p "$PORT" --no-auth-warning -a adm-pw-1 ping)" = PONG ]'
check "rkv-cli --user --pass" \
    '[ "$("$CLI" -p "$PORT" --no-auth-warning --user app --pass app-pw-1 set app:cli 1)" = OK ]'
check "rkv-cli REDISCLI_AUTH" '[ "$(REDISCLI_AUTH=adm-pw-1 "$CLI" -p "$PORT" acl whoami)" = default ]'
check "rkv-cli, a wrong password: WRONGPASS" \
    '"$CLI" -p "$PORT" --no-auth-warning -a nope ping 2>&1 | grep -q "AUTH failed: WRONGPASS"'

# ---- redis-cli ----
if [ -z "$RCLI" ]; then
    echo "SKIP: redis-cli is not installed"; skip=$((skip + 1))
else
    check "redis-cli -a" '[ "$("$RCLI" -p "$PORT" --no-auth-warning -a adm-pw-1 ping)" = PONG ]'
    check "redis-cli --user --pass" \
        '[ "$("$RCLI" -p "$PORT" --no-auth-warning --user app --pass app-pw-1 set app:rc 1)" = OK ]'
    check "redis-cli --user app: a key outside ~app:* is NOPERM" \
        '"$RCLI" -p "$PORT" --no-auth-warning --user app --pass app-pw-1 set other 1 | grep -q NOPERM'
    check "redis-cli, a wrong password: WRONGPASS" \
        '"$RCLI" -p "$PORT" --no-auth-warning -a nope ping 2>&1 | grep -q WRONGPASS'
fi

# ---- redis-py ----
if [ -z "$PY" ]; then
    echo "SKIP: redis-py (python3-redis) is not installed"; skip=$((skip + 1))
else
    out=$(PORT=$PORT timeout 60 "$PY" - 2>&1 <<'EOF'
import os, redis
port = int(os.environ["PORT"])
r = redis.Redis(port=port, password="adm-pw-1", socket_timeout=5)
assert r.ping() is True
assert r.acl_whoami() in (b"default", "default"), r.acl_whoami()
u = redis.Redis(port=port, username="app", password="app-pw-1", socket_timeout=5)
assert u.set("app:py", "v") is True and u.get("app:py") == b"v"
try:
    u.set("other:py", "v")
    raise SystemExit("NOPERM expected")
except redis.exceptions.NoPermissionError:
    pass
try:
    redis.Redis(port=port, password="nope", socket_timeout=5).ping()
    raise SystemExit("a wrong password was accepted")
except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
    # redis-py 4.3 raises WRONGPASS as a ResponseError, later ones as
    # AuthenticationError: the text is what they share
    assert str(e).startswith("WRONGPASS invalid username-password pair"), str(e)
try:
    redis.Redis(port=port, socket_timeout=5).get("x")
    raise SystemExit("NOAUTH expected")
except redis.exceptions.AuthenticationError as e:
    assert "Authentication required" in str(e), str(e)
print("py-ok")
EOF
)
    if echo "$out" | grep -q py-ok; then ok; else bad "redis-py: $out"; fi
fi

# ---- ioredis ----
if [ $IOREDIS = 0 ]; then
    echo "SKIP: ioredis is not installed (npm install ioredis; NODE_PATH)"; skip=$((skip + 1))
else
    out=$(cd "$work" && PORT=$PORT timeout 60 "$NODE" -e '
const Redis = require("ioredis");
const port = +process.env.PORT;
const opts = { port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null };
(async () => {
  const a = new Redis({ ...opts, password: "adm-pw-1" });
  await a.connect();
  if (await a.ping() !== "PONG") throw new Error("ping");
  a.disconnect();
  const u = new Redis({ ...opts, username: "app", password: "app-pw-1" });
  await u.connect();
  if (await u.set("app:io", "v") !== "OK" || await u.get("app:io") !== "v") throw new Error("set/get");
  let denied = "";
  await u.set("other:io", "v").catch(e => { denied = e.message; });
  if (!/^NOPERM/.test(denied)) throw new Error("NOPERM expected, got " + denied);
  u.disconnect();
  const w = new Redis({ ...opts, password: "nope" });
  let why = "";
  w.on("error", e => { why = why || e.message; });
  await w.connect().catch(e => { why = why || e.message; });
  if (!/WRONGPASS/.test(why)) throw new Error("WRONGPASS expected, got " + why);
  w.disconnect();
  console.log("io-ok");
})().catch(e => { console.log("io-fail " + e.message); process.exit(1); });
' 2>&1)
    if echo "$out" | grep -q io-ok; then ok; else bad "ioredis: $out"; fi
fi

check "the log names failed users, never a password" \
    'grep -q "authentication failed for user" "$work/server.log" && ! grep -q "nope\|pw-1" "$work/server.log"'
finish
