#!/usr/bin/env bash
# A full disk is an error the node recovers from by itself (issue 10 item 14).
# Data directories live on small tmpfs mounts that a filler file fills up:
#  1. a lone leader answers -MISCONF while its disk is full, then, once the
#     filler is removed, takes writes again without a restart, and every
#     acknowledged write is there (also after a restart);
#  2. a follower whose disk fills stops taking records (the leader sees it
#     offline and commits through the other follower), its memory stays
#     bounded, and once space is freed it comes back by itself and converges.
# Needs root (mount); skipped, and counted as a skip, otherwise.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
pass=0 fail=0 skip=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }
work=$(mktemp -d /tmp/rkv-diskfull-XXXXXX)
if [ "$(id -u)" != 0 ] || ! mkdir -p "$work/m1" "$work/m2" ||
    ! mount -t tmpfs -o size=6m tmpfs "$work/m1" 2>/dev/null; then
    echo "SKIP: cannot mount a tmpfs here (needs root)"
    rm -rf "$work"; skip=1; finish
fi
mount -t tmpfs -o size=6m tmpfs "$work/m2"
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    umount "$work/m1" "$work/m2" 2>/dev/null
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_until() { # seconds, command...: polls every 50 ms
    local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
    while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do "$@" && return 0; sleep 0.05; done
    return 1
}
cli() { "$CLI" -t 5 "$@" 2>&1; }
fill() { # dir [bytes to leave free]: fills the mount with a filler file
    local avail
    avail=$(df --output=avail -B1 "$1" | tail -n 1)
    dd if=/dev/zero of="$1/filler" bs=64k count=$(( (avail - ${2:-0}) / 65536 )) 2>/dev/null
    [ "${2:-0}" = 0 ] && dd if=/dev/zero of="$1/filler2" bs=4k 2>/dev/null
    sync
}
val=$(head -c 20000 /dev/zero | tr '\0' v)

echo "-- 1. a lone leader on a full disk: MISCONF, then writes again once space is freed"
P1=$(free_port)
"$SERVER" --port "$P1" --data-dir "$work/m1/d" --log-file "$work/leader.log" \
    --checkpoint-every-bytes 0 --wal-segment-bytes 1048576 &
pids+=($!)
wait_until 10 cli -p "$P1" ping >/dev/null
fill "$work/m1" 1572864
acked=0 misconf=0
for i in $(seq 1 400); do
    r=$(cli -p "$P1" set "k$i" "$val")
    if [ "$r" = OK ]; then acked=$i; else case "$r" in *MISCONF*) misconf=1; break ;; esac; fi
done
echo "   $acked SETs acknowledged before: ${r:0:120}"
ok "writes are refused with MISCONF while the disk is full" '[ $misconf = 1 ]'
ok "the node is still up" 'kill -0 ${pids[0]}'
rm -f "$work/m1/filler" "$work/m1/filler2"
ok "a write succeeds again within 10 s, without a restart" \
    'wait_until 10 sh -c "[ \"\$($CLI -p $P1 set after1 x 2>&1)\" = OK ]"'
ok "the log says the WAL works again" 'grep -q "WAL works again" "$work/leader.log"'
missing=0
for i in $(seq 1 "$acked"); do
    [ "$(cli -p "$P1" --raw get "k$i" | wc -c)" -ge 20000 ] || missing=$((missing + 1))
done
ok "every acknowledged write is readable ($missing missing)" '[ $missing = 0 ]'
kill -TERM "${pids[0]}"; wait "${pids[0]}"
"$SERVER" --port "$P1" --data-dir "$work/m1/d" --log-file "$work/leader2.log" --checkpoint-every-bytes 0 &
pids[0]=$!
wait_until 10 cli -p "$P1" ping >/dev/null
missing=0
for i in $(seq 1 "$acked") after1; do
    k=$i; [ "$i" = after1 ] || k="k$i"
    [ "$(cli -p "$P1" exists "$k")" = 1 ] || missing=$((missing + 1))
done
ok "after a restart, every acknowledged write is there ($missing missing)" '[ $missing = 0 ]'
kill -TERM "${pids[0]}"; wait "${pids[0]}"; pids=()

echo "-- 2. a follower on a full disk goes offline, then comes back by itself"
L=$(free_port) F2=$(free_port) R2=$(free_port) F3=$(free_port) R3=$(free_port)
"$SERVER" --node-id 2 --role follower --port "$F2" --repl-port "$R2" --data-dir "$work/m2/d" \
    --log-file "$work/f2.log" --checkpoint-every-bytes 0 --wal-segment-bytes 1048576 &
pids+=($!)
"$SERVER" --node-id 3 --role follower --port "$F3" --repl-port "$R3" --data-dir "$work/f3" \
    --log-file "$work/f3.log" &
pids+=($!)
"$SERVER" --node-id 1 --port "$L" --data-dir "$work/l" --log-file "$work/l.log" \
    --followers "127.0.0.1:$R2,127.0.0.1:$R3" --quorum 1 &
pids+=($!)
wait_until 10 sh -c "$CLI -p $L cluster check >/dev/null 2>&1"
fill "$work/m2"
errors=0
for i in $(seq 1 300); do [ "$(cli -p "$L" set "f$i" "$val")" = OK ] || errors=$((errors + 1)); done
ok "the leader kept committing through follower 3 (errors: $errors)" '[ $errors = 0 ]'
ok "follower 2 says its WAL failed" 'grep -q "WAL failed" "$work/f2.log"'
ok "the leader sees follower 2 offline" \
    'wait_until 10 sh -c "$CLI -p $L info replication | grep -q \"^follower0:.*online=0\""'
rss=$(awk '/VmRSS/ {print $2}' /proc/${pids[0]}/status)
ok "follower 2's memory stays bounded (RSS ${rss} kB)" '[ "$rss" -lt 200000 ]'
rm -f "$work/m2/filler" "$work/m2/filler2"
ok "follower 2 comes back online by itself" \
    'wait_until 20 sh -c "$CLI -p $L info replication | grep -q \"^follower0:.*online=1\""'
lsn=$(cli -p "$L" info replication | tr -d '\r' | sed -n 's/^last_lsn://p')
ok "follower 2 catches up to lsn $lsn" \
    'wait_until 20 sh -c "[ \"\$($CLI -p $F2 info replication | tr -d \"\\r\" | sed -n \"s/^applied_lsn://p\")\" -ge $lsn ]"'
d1=$(cli -p "$L" debug digest) d2=$(cli -p "$F2" debug digest)
ok "digests equal ($d1 / $d2)" '[ "$d1" = "$d2" ]'
finish
