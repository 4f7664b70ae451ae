#!/usr/bin/env bash
# Backups and restore (docs/OPERATIONS.md, "Backups and restore"), end to end:
#  1. a three-node cluster (fixed topology, cluster secret) takes N keys in
#     two databases, some with an expiry; BGSAVE on the leader; once INFO
#     persistence shows last_checkpoint_lsn at the applied LSN, the newest
#     checkpoint (<data-dir>/gen-<CURRENT>/snapshot-<lsn>.snap) is copied
#     and --check-snapshot'd;
#  2. --restore installs it into a fresh directory (and refuses one that
#     holds data, and a damaged checkpoint); --check-wal finds it sound;
#  3. a new elected cluster (--peers): the restored node and one empty node
#     are started first (a bare majority, so only the node holding the data
#     can win), the restored node becomes leader, the third node joins;
#     every key is on every node (followers catch up by snapshot), and
#     writes work afterwards and reach the followers;
#  4. the same checkpoint restored into all three directories of another
#     elected cluster started at once: whoever leads, every key is there.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
. tests/common/lib.sh
. tests/common/cluster3.sh
pass=0 fail=0 skip=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }
work=$(mktemp -d /tmp/rkv-restore-XXXXXX)
declare -A pid port rport
cleanup() {
    cluster3_stop
    for i in "${!pid[@]}"; do [ -n "${pid[$i]}" ] && kill "${pid[$i]}" 2>/dev/null; done
    for i in "${!pid[@]}"; do [ -n "${pid[$i]}" ] && wait "${pid[$i]}" 2>/dev/null; done
    if [ $fail -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
cli() { "$CLI" -t 5 "$@" 2>&1; }
info_field() { cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
N=300

echo "-- 1. a cluster, written to, BGSAVE"
mkdir -p "$work/src"
if ! cluster3_start "$work/src"; then ok "the source cluster starts" false; finish; fi
{
    for i in $(seq 1 $N); do echo "SET k$i v$i"; done
    echo "SELECT 3"
    for i in 1 2 3 4 5; do echo "SET e$i x$i EX 100000"; done
} | "$CLI" -p "$C3_LP" >"$work/writes.out"
ok "$N + 5 writes acknowledged" '[ "$(grep -c "^OK$" "$work/writes.out")" = $((N + 6)) ]'
applied=$(info_field "$C3_LP" replication last_lsn)
cli -p "$C3_LP" bgsave >/dev/null
ck_at() { [ "$(info_field "$C3_LP" persistence last_checkpoint_lsn)" = "$applied" ]; }
ok "INFO persistence shows last_checkpoint_lsn:$applied" 'wait_until 20 ck_at'
gen=$(cat "$work/src/n1/CURRENT")
snap="$work/src/n1/gen-$gen/snapshot-$(printf '%020d' "$applied").snap"
ok "the checkpoint is $snap" '[ -f "$snap" ]'
cp "$snap" "$work/backup.snap"
cluster3_stop
out=$("$SERVER" --check-snapshot "$work/backup.snap" 2>&1)
ok "the copy checks sound (lsn $applied, $((N + 5)) keys, 2 databases, 5 expiring)" \
    'printf "%s\n" "$out" | grep -qx "lsn: $applied" && printf "%s\n" "$out" | grep -qx "keys: $((N + 5))" &&
     printf "%s\n" "$out" | grep -qx "databases: 2" && printf "%s\n" "$out" | grep -qx "expiring keys: 5"'

echo "-- 2. --restore"
out=$("$SERVER" --restore "$work/backup.snap" --data-dir "$work/e1" 2>&1)
ok "--restore into a fresh directory exits 0" '[ $? = 0 ] || { echo "$out"; false; }'
out=$("$SERVER" --restore "$work/backup.snap" --data-dir "$work/e1" 2>&1)
rc=$?
ok "--restore refuses a directory that holds data (exit $rc)" '[ $rc = 4 ] && printf "%s\n" "$out" | grep -q "already holds data"'
head -c 100 "$work/backup.snap" >"$work/short.snap"
out=$("$SERVER" --restore "$work/short.snap" --data-dir "$work/never" 2>&1)
rc=$?
ok "--restore refuses a damaged checkpoint (exit $rc) and creates nothing" '[ $rc = 3 ] && [ ! -e "$work/never" ]'
out=$("$SERVER" --check-wal "$work/e1" 2>&1)
ok "--check-wal finds the restored directory sound, at lsn $applied" \
    '[ $? = 0 ] && printf "%s\n" "$out" | grep -qx "last lsn: $applied" && printf "%s\n" "$out" | grep -qx "keys: $((N + 5))"'

echo "-- 3. a new elected cluster from the restored node"
for i in 1 2 3; do port[$i]=$(free_port); rport[$i]=$(free_port); done
peers="1=127.0.0.1:${rport[1]},2=127.0.0.1:${rport[2]},3=127.0.0.1:${rport[3]}"
start() { # node id, data dir
    "$SERVER" --node-id "$1" --port "${port[$1]}" --repl-port "${rport[$1]}" --peers "$peers" \
        --data-dir "$2" --log-file "$2.log" --election-timeout-ms 500 --heartbeat-ms 50 &
    pid[$1]=$!
}
stop_all() {
    for i in 1 2 3; do [ -n "${pid[$i]:-}" ] && kill "${pid[$i]}" 2>/dev/null; done
    for i in 1 2 3; do [ -n "${pid[$i]:-}" ] && wait "${pid[$i]}" 2>/dev/null; pid[$i]=; done
}
leader=
find_leader() {
    leader=
    for i in 1 2 3; do
        [ -n "${pid[$i]:-}" ] || continue
        [ "$(info_field "${port[$i]}" replication election_role)" = leader ] && leader=$i
    done
    [ -n "$leader" ]
}
has_all() { # port: every key, from this node (a follower serves committed reads)
    local i
    [ "$(cli -p "$1" dbsize)" = "$N" ] || return 1
    for i in 1 $((N / 2)) $N; do [ "$(cli -p "$1" --raw get "k$i")" = "v$i" ] || return 1; done
    [ "$(printf 'SELECT 3\nGET e5\nTTL e5\n' | "$CLI" -p "$1" --raw | sed -n 2p)" = x5 ]
}
start 1 "$work/e1"
start 2 "$work/e2"
ok "a leader is elected" 'wait_until 20 find_leader'
ok "it is the restored node (node 1)" '[ "$leader" = 1 ]'
start 3 "$work/e3"
for i in 1 2 3; do
    ok "node $i has every key" 'wait_until 20 has_all "${port[$i]}"'
done
ok "the empty nodes caught up by snapshot" \
    'grep -q "installed snapshot of lsn $applied" "$work/e2.log" &&
     grep -q "installed snapshot of lsn $applied" "$work/e3.log"'
ok "a write after the restore is acknowledged" '[ "$(cli -p "${port[1]}" set new after)" = OK ]'
for i in 2 3; do
    ok "node $i reads it" 'wait_until 10 sh -c "[ \"\$($CLI -p ${port[$i]} -t 2 --raw get new)\" = after ]"'
done
ok "the leader's epoch is above the backup's" \
    '[ "$(info_field "${port[1]}" replication epoch)" -gt "$(sed -n "s/^epoch: //p" <<<"$("$SERVER" --check-snapshot "$work/backup.snap")")" ]'
stop_all

echo "-- 4. restored into every node, started together"
for i in 1 2 3; do
    "$SERVER" --restore "$work/backup.snap" --data-dir "$work/a$i" >/dev/null 2>&1 ||
        ok "restore into a$i" false
done
for i in 1 2 3; do port[$i]=$(free_port); rport[$i]=$(free_port); done
peers="1=127.0.0.1:${rport[1]},2=127.0.0.1:${rport[2]},3=127.0.0.1:${rport[3]}"
for i in 1 2 3; do start "$i" "$work/a$i"; done
ok "a leader is elected" 'wait_until 20 find_leader'
for i in 1 2 3; do
    ok "node $i has every key" 'wait_until 20 has_all "${port[$i]}"'
done
ok "writes work (through node $leader)" '[ "$(cli -p "${port[$leader]}" set new2 x)" = OK ]'
stop_all
finish
