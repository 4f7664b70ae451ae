#!/usr/bin/env bash
# rkv answers the Redis 7.0 string, keyspace, expire and transaction commands
# byte for byte as Redis does, and a follower ends up with the leader's data:
#  1. tests/tools/respdiff.py runs the corpus tests/server/compat/*.cmds on a
#     redis-server 7.0 it starts itself and on the leader of a three-node rkv
#     cluster (leader + 2 followers, cluster secret), comparing the raw reply
#     bytes of every command. Counted per script: a script whose every reply
#     matches is one pass, a script with any mismatch one failure (its
#     mismatches are printed: file:line, command, Redis's reply, rkv's).
#     Without redis-server this part is skipped, and counted as one skip
#     (apt-get install -y redis-server).
#  2. Replication: after the corpus, writes of every kind (SET with options,
#     MSET, INCR*, APPEND, SETRANGE, EXPIRE, RENAME, COPY, SELECT, MULTI/EXEC)
#     on one connection, its LASTLSN, WAITLSN <lsn> 5000 on each follower,
#     then DEBUG DIGEST and DBSIZE must be the leader's on both followers.
# Files are kept on failure (the nodes' logs, respdiff's output).
#   RKV_BUILD=build-dev bash tests/server/compat_test.sh
#   RESPDIFF_ARGS="tests/server/compat/set.cmds" ...   only these corpus files
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
REDIS_SERVER=$(command -v redis-server || true)
work=$(mktemp -d /tmp/rkv-compat-XXXXXX)
. "$PWD/tests/common/lib.sh"
. "$PWD/tests/common/cluster3.sh"
cleanup() {
    cluster3_stop
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
if [ -z "$ANYPY" ]; then echo "SKIP: python3 is needed (free_port, respdiff)"; skip=2; finish; fi

if cluster3_start "$work"; then ok; else bad "the three-node cluster comes up (see $work/n*.log)"; finish; fi
LP=$C3_LP F1=$C3_F1 F2=$C3_F2

# ---- 1. the corpus, Redis against the rkv leader ----
if [ -z "$REDIS_SERVER" ]; then
    echo "SKIP: redis-server is not installed (apt-get install -y redis-server)"; skip=$((skip + 1))
else
    # shellcheck disable=SC2086 # RESPDIFF_ARGS is a list of corpus files
    "$ANYPY" tests/tools/respdiff.py --rkv-port "$LP" --redis-server "$REDIS_SERVER" \
        --tally "$work/tally" --max-mismatches 200 ${RESPDIFF_ARGS:-} >"$work/respdiff.out" 2>&1
    rc=$?
    summary=$(grep '^respdiff: ' "$work/respdiff.out" | tail -n 1)
    if [ $rc -ge 2 ] || [ ! -s "$work/tally" ]; then
        bad "respdiff did not run (exit $rc): $(tail -n 5 "$work/respdiff.out")"
    else
        pass=$((pass + $(grep -c '^ok ' "$work/tally")))
        while read -r _ where n m; do
            bad "compat script $where: $m of $n replies differ from Redis's"
        done < <(grep '^mismatch ' "$work/tally")
        if [ "$rc" != 0 ]; then
            echo "-- the first mismatches (all of them in $work/respdiff.out):"
            grep -v '^respdiff: ' "$work/respdiff.out" | head -n 60 | sed 's/^/   /'
        fi
    fi
    echo "   $summary"
fi

# ---- 2. replication: the followers hold the leader's data ----
out=$(cd tests/tools && "$ANYPY" - "$LP" <<'EOF' 2>&1
import sys
from respdiff import Conn, encode
c = Conn("127.0.0.1", int(sys.argv[1]), 10)
cmds = """SET r:plain hello
SET r:ttl v EX 100000
SET r:pxat v PXAT 4102444800000
SET r:keep v EX 100000
SET r:keep v2 KEEPTTL
SET r:get v GET
SET r:nx v NX
SET r:gone x
DEL r:gone
MSET r:m1 a r:m2 b r:m3 c
MSETNX r:mn1 1 r:mn2 2
SETNX r:snx 1
SETEX r:sx 100000 v
PSETEX r:px 100000000 v
GETSET r:get new
GETDEL r:m3
GETEX r:ttl PERSIST
GETEX r:plain EX 200000
INCR r:n
INCRBY r:n 41
DECRBY r:n 2
DECR r:n
INCRBYFLOAT r:f 1.5
INCRBYFLOAT r:f 0.1
APPEND r:plain !
SETRANGE r:plain 1 ELLO
EXPIRE r:m1 100000
PEXPIREAT r:m2 4102444800123
PERSIST r:sx
RENAME r:m2 r:m2b
RENAMENX r:m1 r:m1b
COPY r:plain r:copy
UNLINK r:snx
SELECT 1
SET r:db1 v
COPY r:db1 r:db1 DB 2
SELECT 0
MULTI
SET r:tx 1
INCR r:tx
APPEND r:tx 0
EXEC
SET r:last v""".split("\n")
errors = 0
for line in cmds:
    c.send(encode([a.encode() for a in line.split()]))
    r = c.reply()
    if r[0] == "-" or (r[0] == "*" and any(x[0] == "-" for x in (r[1] or []))):
        errors += 1
        print("write error: %s -> %s" % (line, r[2][:120]))
c.send(encode([b"LASTLSN"]))
r = c.reply()
print("errors=%d" % errors)
print("lsn=%s" % (r[1].decode() if r[0] == ":" else "none:" + repr(r[2])))
EOF
)
echo "$out" | grep '^write error' | head -n 10 | sed 's/^/   /'
lsn=$(echo "$out" | sed -n 's/^lsn=//p')
errors=$(echo "$out" | sed -n 's/^errors=//p')
check "the leader accepts every kind of write (${errors:-?} errors)" '[ "${errors:-x}" = 0 ]'
check "LASTLSN after the writes is an LSN > 0 ($lsn)" '[ "${lsn:-0}" -gt 0 ] 2>/dev/null'
case $lsn in '' | none:* | *[!0-9]*) lsn=1 ;; esac
ldig=$("$CLI" -p "$LP" -t 5 debug digest 2>&1)
lsize=$("$CLI" -p "$LP" -t 5 dbsize 2>&1)
check "the leader holds the keys ($lsize)" '[ "$lsize" -gt 0 ] 2>/dev/null'
for f in "$F1" "$F2"; do
    w=$("$CLI" -p "$f" -t 10 --raw waitlsn "$lsn" 5000 2>&1)
    check "WAITLSN $lsn 5000 on the follower on port $f ($w)" '[ "$w" -ge "$lsn" ] 2>/dev/null'
    d=$("$CLI" -p "$f" -t 5 debug digest 2>&1)
    check "DEBUG DIGEST on the follower on port $f is the leader's ($d / $ldig)" '[ "$d" = "$ldig" ]'
    s=$("$CLI" -p "$f" -t 5 dbsize 2>&1)
    check "DBSIZE on the follower on port $f is the leader's ($s / $lsize)" '[ "$s" = "$lsize" ]'
done
finish
