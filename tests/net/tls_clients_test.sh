#!/usr/bin/env bash
# Real clients over TLS to --tls-port with client certificates required
# (--tls-auth-clients yes): redis-cli --tls --cacert --cert --key, redis-py
# (ssl=True, ssl_ca_certs, ssl_certfile, ssl_keyfile) and ioredis
# ({tls: {ca, cert, key}}): each one SETs and GETs, and the value is seen on
# the plain port too. A client that is not installed is skipped, and
# counted as a skip:
#   apt-get install -y redis-tools python3-redis; npm install ioredis
#   (then NODE_PATH=<dir>/node_modules, or .ci/node_modules)
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server"
CLI="$PWD/$BUILD/rkv-cli"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }
skipped() { skip=$((skip + 1)); echo "SKIP: $1"; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

ANYPY=$(command -v python3 || command -v /usr/bin/python3 || true)
if [ -z "$ANYPY" ] || ! command -v openssl >/dev/null 2>&1; then
    echo "SKIP: needs python3 (free ports) and openssl (certificates)"
    skip=3; finish
fi
export ANYPY
. "$PWD/tests/common/lib.sh"
NODE=$(command -v node || true)
if [ -n "$NODE" ]; then
    NODE_PATH="${NODE_PATH:+$NODE_PATH:}$PWD/.ci/node_modules:$(npm root -g 2>/dev/null || true)"
    export NODE_PATH
fi

work=$(mktemp -d /tmp/rkv-tls-clients-XXXXXX)
pid=0
cleanup() {
    [ $pid != 0 ] && { kill $pid 2>/dev/null; wait $pid 2>/dev/null; }
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
# A server built without OpenSSL (make TLS=no) refuses --tls-*: skip, counted.
if timeout 10 "$SERVER" --port 0 --tls-port "$(free_port)" --tls-cert-file /nonexistent \
    --tls-key-file /nonexistent --tls-auth-clients no --data-dir "$work/probe" 2>&1 |
    grep -q "built without"; then
    echo "SKIP: $SERVER was built without OpenSSL"
    skip=1; finish
fi
C="$work/certs"
tests/tools/gen_certs.sh "$C" || { bad "gen_certs.sh"; finish; }
PORT=$(free_port) TPORT=$(free_port)
"$SERVER" --port "$PORT" --tls-port "$TPORT" --tls-cert-file "$C/node.crt" --tls-key-file "$C/node.key" \
    --tls-ca-cert-file "$C/ca.crt" --tls-auth-clients yes --data-dir "$work/data" \
    --log-file "$work/server.log" &
pid=$!
up() { "$CLI" -p "$PORT" -t 1 ping >/dev/null 2>&1; }
wait_until 10 up || { bad "server did not start"; finish; }
plain_get() { "$CLI" --raw -p "$PORT" -t 2 get "$1" 2>/dev/null; }

# ---- redis-cli ----
if command -v redis-cli >/dev/null 2>&1 && redis-cli --help 2>&1 | grep -q -- --tls; then
    rc() { redis-cli -p "$TPORT" --tls --cacert "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" "$@"; }
    check "redis-cli --tls SET" '[ "$(rc set k:cli v-cli 2>&1)" = OK ]'
    check "redis-cli --tls GET" '[ "$(rc get k:cli 2>&1)" = v-cli ]'
    check "the plain port sees redis-cli's write" '[ "$(plain_get k:cli)" = v-cli ]'
    r=$(redis-cli -p "$TPORT" --tls --cacert "$C/ca.crt" ping 2>&1)
    check "redis-cli --tls without a client certificate is refused ($r)" '[ "$r" != PONG ]'
else
    skipped "redis-cli with --tls not installed"
fi

# ---- redis-py ----
PY=""
for p in python3 /usr/bin/python3 /usr/local/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import redis' 2>/dev/null; then PY=$p; break; fi
done
if [ -n "$PY" ]; then
    out=$("$PY" - "$TPORT" "$C" <<'EOF' 2>&1
import sys, redis
port, c = int(sys.argv[1]), sys.argv[2]
r = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=c + "/ca.crt",
                ssl_certfile=c + "/client.crt", ssl_keyfile=c + "/client.key", socket_timeout=5)
assert r.set("k:py", "v-py") is True
assert r.get("k:py") == b"v-py"
p = r.pipeline(transaction=False)
for i in range(200):
    p.set("k:py:%d" % i, "x" * 1000)
p.execute()
assert r.get("k:py:199") == b"x" * 1000
print("ok")
EOF
)
    check "redis-py ssl=True SET/GET and a pipeline ($out)" '[ "$out" = ok ]'
    check "the plain port sees redis-py's write" '[ "$(plain_get k:py)" = v-py ]'
else
    skipped "redis-py (python3-redis) not installed"
fi

# ---- ioredis ----
if [ -n "$NODE" ] && "$NODE" -e "require('ioredis')" >/dev/null 2>&1; then
    out=$(cd "$work" && "$NODE" - "$TPORT" "$C" <<'EOF' 2>&1
const Redis = require('ioredis');
const fs = require('fs');
const [port, c] = [Number(process.argv[2]), process.argv[3]];
const r = new Redis({host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1,
    tls: {ca: fs.readFileSync(c + '/ca.crt'), cert: fs.readFileSync(c + '/client.crt'),
          key: fs.readFileSync(c + '/client.key'), servername: 'localhost'}});
(async () => {
    await r.connect();
    if (await r.set('k:io', 'v-io') !== 'OK') throw new Error('SET');
    if (await r.get('k:io') !== 'v-io') throw new Error('GET');
    console.log('ok');
    r.disconnect();
})().catch(e => { console.log('error ' + e.message); process.exit(1); });
EOF
)
    check "ioredis tls SET/GET ($out)" '[ "$out" = ok ]'
    check "the plain port sees ioredis's write" '[ "$(plain_get k:io)" = v-io ]'
else
    skipped "ioredis not installed (npm install ioredis; NODE_PATH)"
fi
check "the server is still up" 'up'
finish
