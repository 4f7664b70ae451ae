#!/usr/bin/env bash
# rkv-server --check-wal DIR [--fix] and --check-snapshot FILE (src/server/
# check.c over wal_recover_dry), on directories made by a real node:
#  1. a good directory (200 SETs over several small segments, node stopped):
#     exit 0, and the records, first/last LSN and keys printed are what was
#     written; the directory is not modified by the check;
#  2. a torn tail (the last segment cut by 5 bytes): exit 1 naming the file
#     and offset; --fix cuts it (exit 0), the check then passes, and a node
#     started on it has every key but possibly the torn last one;
#  3. a flipped byte in the middle of a segment: exit 3 naming the file and
#     offset; --fix refuses (exit 3) and changes nothing;
#  4. --check-snapshot on BGSAVE's checkpoint: exit 0, its LSN and key
#     count; a copy with a flipped byte, and one cut short: exit 3;
#  5. a directory a node is running on: exit 4 (in use); a missing one: 4;
#     bad usage: 2.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
. tests/common/lib.sh
pass=0 fail=0 skip=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }
work=$(mktemp -d /tmp/rkv-checkwal-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null; done
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
cli() { "$CLI" -t 5 "$@" 2>&1; }
N=200
P=$(free_port)
start() { # dir, log
    "$SERVER" --port "$P" --data-dir "$1" --log-file "$2" --wal-segment-bytes 4096 \
        --checkpoint-every-bytes 0 &
    pids+=($!)
    wait_until 10 sh -c "[ \"\$($CLI -p $P -t 2 ping 2>/dev/null)\" = PONG ]"
}
stop() { kill "${pids[-1]}"; wait "${pids[-1]}"; unset 'pids[-1]'; }
check() { # args...: runs the check, output in $out, status in $rc
    out=$("$SERVER" "$@" 2>&1)
    rc=$?
}
field() { printf '%s\n' "$out" | sed -n "s/^$1: //p" | head -n 1; }
flip() { # file, offset: inverts one byte
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

echo "-- 1. a good directory"
start "$work/d" "$work/d.log"
for i in $(seq 1 $N); do echo "SET k$i v$i"; done | "$CLI" -p "$P" >/dev/null
last=$(cli -p "$P" info replication | tr -d '\r' | sed -n 's/^last_lsn://p')
stop
ok "the node wrote $N records (last lsn $last)" '[ "$last" = $N ]'
nseg=$(ls "$work/d/gen-1/wal" | wc -l)
ok "they span several segments ($nseg)" '[ "$nseg" -ge 3 ]'
sum_before=$(cd "$work/d" && find . -type f ! -name LOCK | sort | xargs md5sum)
check --check-wal "$work/d"
ok "exit 0 for a sound directory (got $rc)" '[ $rc = 0 ] || { echo "$out"; false; }'
ok "records: $N" '[ "$(field records)" = $N ]'
ok "first lsn 1, last lsn $last" '[ "$(field "first lsn")" = 1 ] && [ "$(field "last lsn")" = "$last" ]'
ok "keys: $N, last epoch 1, segments: $nseg" \
    '[ "$(field keys)" = $N ] && [ "$(field "last epoch")" = 1 ] && [ "$(field segments)" = "$nseg" ]'
ok "result: sound" '[ "$(field result)" = sound ]'
sum_after=$(cd "$work/d" && find . -type f ! -name LOCK | sort | xargs md5sum)
ok "the check changed nothing" '[ "$sum_before" = "$sum_after" ]'

echo "-- 2. a torn tail"
cp -a "$work/d" "$work/torn"
seg=$(ls "$work/torn/gen-1/wal" | tail -n 1)
size=$(stat -c %s "$work/torn/gen-1/wal/$seg")
truncate -s $((size - 5)) "$work/torn/gen-1/wal/$seg"
check --check-wal "$work/torn"
ok "exit 1 for a torn tail (got $rc)" '[ $rc = 1 ] || { echo "$out"; false; }'
ok "the report names the file and the offset" \
    'printf "%s\n" "$out" | grep -q "^torn tail: $work/torn/gen-1/wal/$seg offset=[0-9]* bytes=[0-9]*"'
ok "records: $((N - 1)) (the torn one is not counted)" '[ "$(field records)" = $((N - 1)) ]'
check --check-wal "$work/torn" --fix
ok "--fix exits 0 (got $rc)" '[ $rc = 0 ] || { echo "$out"; false; }'
ok "--fix says what it cut" 'printf "%s\n" "$out" | grep -q "^fixed: cut $work/torn/gen-1/wal/$seg at offset"'
ok "the segment is shorter" '[ "$(stat -c %s "$work/torn/gen-1/wal/$seg")" -lt $((size - 5)) ]'
check --check-wal "$work/torn"
ok "then the check passes (exit $rc, $(field records) records)" '[ $rc = 0 ] && [ "$(field result)" = sound ]'
start "$work/torn" "$work/torn.log"
missing=0
for i in $(seq 1 $((N - 1))); do
    [ "$(cli -p "$P" --raw get "k$i")" = "v$i" ] || missing=$((missing + 1))
done
ok "a node started on it has k1..k$((N - 1)) ($missing missing)" '[ $missing = 0 ]'
ok "it takes writes" '[ "$(cli -p "$P" set after yes)" = OK ]'
stop

echo "-- 3. a corrupt byte in the middle"
cp -a "$work/d" "$work/bad"
seg=$(ls "$work/bad/gen-1/wal" | sed -n 2p)
f="$work/bad/gen-1/wal/$seg"
flip "$f" $(( $(stat -c %s "$f") / 2 ))
sum_bad=$(md5sum <"$f")
check --check-wal "$work/bad"
ok "exit 3 for corruption (got $rc)" '[ $rc = 3 ] || { echo "$out"; false; }'
ok "the report names the file and the offset" 'printf "%s\n" "$out" | grep -q "problem: .*$f at offset [0-9]"'
check --check-wal "$work/bad" --fix
ok "--fix refuses (exit $rc)" '[ $rc = 3 ] && printf "%s\n" "$out" | grep -q "fix refuses"'
ok "--fix changed nothing" '[ "$(md5sum <"$f")" = "$sum_bad" ]'

echo "-- 4. --check-snapshot"
start "$work/d" "$work/d2.log"
cli -p "$P" bgsave >/dev/null
wait_until 10 sh -c "$CLI -p $P info persistence | tr -d '\r' | grep -qx last_checkpoint_lsn:$N"
ck=$(cli -p "$P" info persistence | tr -d '\r' | sed -n 's/^last_checkpoint_lsn://p')
stop
ok "BGSAVE wrote a checkpoint at lsn $N" '[ "$ck" = $N ]'
snap=$(ls "$work"/d/gen-1/snapshot-*.snap | tail -n 1)
check --check-snapshot "$snap"
ok "exit 0 for a sound checkpoint (got $rc)" '[ $rc = 0 ] || { echo "$out"; false; }'
ok "lsn $N, keys $N, 1 database, no expiring keys" \
    '[ "$(field lsn)" = $N ] && [ "$(field keys)" = $N ] && [ "$(field databases)" = 1 ] && [ "$(field "expiring keys")" = 0 ]'
ok "bytes: the file's size" '[ "$(field bytes)" = "$(stat -c %s "$snap")" ]'
check --check-wal "$work/d"
ok "--check-wal lists it (checkpoint lsn $N)" \
    '[ $rc = 0 ] && printf "%s\n" "$out" | grep -q "^checkpoint: $snap lsn=$N .* ok$"'
cp "$snap" "$work/flipped.snap"
flip "$work/flipped.snap" $(( $(stat -c %s "$snap") / 2 ))
check --check-snapshot "$work/flipped.snap"
ok "exit 3 for a checkpoint with a flipped byte (got $rc)" '[ $rc = 3 ] && printf "%s\n" "$out" | grep -q "^problem: "'
head -c $(( $(stat -c %s "$snap") - 10 )) "$snap" >"$work/short.snap"
check --check-snapshot "$work/short.snap"
ok "exit 3 for a checkpoint cut short (got $rc)" '[ $rc = 3 ]'
check --check-snapshot "$work/none.snap"
ok "exit 4 for a missing file (got $rc)" '[ $rc = 4 ]'

echo "-- 5. in use, missing, usage"
start "$work/d" "$work/d3.log"
check --check-wal "$work/d"
ok "exit 4 for a directory a node runs on (got $rc)" '[ $rc = 4 ] && printf "%s\n" "$out" | grep -q "in use"'
stop
check --check-wal "$work/nothing-here"
ok "exit 4 for a missing directory (got $rc)" '[ $rc = 4 ]'
check --fix
ok "exit 2 for --fix without --check-wal (got $rc)" '[ $rc = 2 ]'
check --check-wal
ok "exit 2 for --check-wal without DIR (got $rc)" '[ $rc = 2 ]'
finish
