#!/usr/bin/env bash
# rkv-server under systemd's notify protocol (src/server/sdnotify.c,
# node_ready.c), with a python3 unix-datagram listener standing in for
# systemd: one NOTIFY_SOCKET per node (node 3's an abstract @name), every
# datagram appended to a file.
#  1. a leader with two followers configured but none running sends no
#     READY=1 (it has been up a second: the readiness check ran ~100 times);
#  2. a follower sends READY=1 once its link to the leader is up, with
#     STATUS=follower of node 1; the leader sends READY=1 then (quorum 1),
#     STATUS "1/2 followers connected", then "2/2" when the second comes;
#  3. WATCHDOG_USEC makes the node send WATCHDOG=1 (about every half);
#  4. SIGHUP after `mv` of the leader's --log-file: the node writes a new
#     file at the old path saying it reopened it, the moved file does not
#     get that line, and RELOADING=1 then READY=1 arrive;
#  5. SIGHUP without --log-file is ignored (logged once), the node serves;
#  6. SIGTERM: STOPPING=1 arrives and the node exits 0.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
. tests/common/lib.sh
pass=0 fail=0 skip=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }
if ! command -v "${ANYPY:-python3}" >/dev/null; then
    echo "SKIP: python3 is needed for the notify listener"; skip=1; finish
fi
work=$(mktemp -d /tmp/rkv-sdnotify-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null; done
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
cli() { "$CLI" -t 5 "$@" 2>&1; }
abstract="rkv-sdnotify-test-$$"
# The listener: one socket per node, each datagram one line "node|KEY=V;KEY=V".
"${ANYPY:-python3}" - "$work" "$abstract" <<'PY' &
import os, select, socket, sys
work, abstract = sys.argv[1], sys.argv[2]
socks = {}
for name, addr in (("n1", work + "/n1.sock"), ("n2", work + "/n2.sock"), ("n3", "\0" + abstract)):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(addr)
    socks[s] = name
open(work + "/listening", "w").close()
out = open(work + "/notify.log", "a", buffering=1)
while True:
    r, _, _ = select.select(list(socks), [], [])
    for s in r:
        data = s.recv(4096).decode("utf-8", "replace")
        out.write("%s|%s\n" % (socks[s], ";".join(l for l in data.split("\n") if l)))
PY
pids+=($!)
wait_until 10 test -e "$work/listening"
got() { grep -q "^$1|.*$2" "$work/notify.log" 2>/dev/null; } # node, extended regexp-free text
first_line() { grep -n "^$1|.*$2" "$work/notify.log" | head -n 1 | cut -d: -f1; }
info_field() { cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

L=$(free_port) F2=$(free_port) R2=$(free_port) F3=$(free_port) R3=$(free_port)
echo "-- 1. a leader without its followers is not ready"
NOTIFY_SOCKET="$work/n1.sock" "$SERVER" --node-id 1 --port "$L" --data-dir "$work/n1" \
    --log-file "$work/n1.log" --followers "127.0.0.1:$R2,127.0.0.1:$R3" &
pids+=($!)
lpid=$!
up_a_second() { [ "$(info_field "$L" server uptime_in_seconds)" -ge 1 ] 2>/dev/null; }
wait_until 10 up_a_second
ok "the leader serves PING and has been up a second" '[ "$(cli -p "$L" ping)" = PONG ]'
ok "no READY=1 from a leader with no follower connected" '! got n1 READY=1'

echo "-- 2. READY=1 once connected"
NOTIFY_SOCKET="$work/n2.sock" WATCHDOG_USEC=200000 "$SERVER" --node-id 2 --role follower \
    --port "$F2" --repl-port "$R2" --data-dir "$work/n2" --log-file "$work/n2.log" &
pids+=($!)
f2pid=$!
ok "follower 2 sends READY=1 with its leader in STATUS" \
    'wait_until 10 got n2 "READY=1;STATUS=follower of node 1 (epoch 1)"'
ok "follower 2's link to the leader is up by then" '[ "$(info_field "$F2" replication master_link_status)" = up ]'
ok "the leader sends READY=1 once a quorum of followers is connected" \
    'wait_until 10 got n1 "READY=1;STATUS=leader (epoch 1), 1/2 followers connected"'
NOTIFY_SOCKET="@$abstract" "$SERVER" --node-id 3 --role follower --port "$F3" --repl-port "$R3" \
    --data-dir "$work/n3" 2>"$work/n3.err" &
pids+=($!)
f3pid=$!
ok "follower 3 (abstract socket) sends READY=1" 'wait_until 10 got n3 "READY=1;STATUS=follower of node 1"'
ok "the leader's STATUS says 2/2 followers" \
    'wait_until 10 got n1 "STATUS=leader (epoch 1), 2/2 followers connected"'
ok "READY=1 came once from the leader" '[ "$(grep -c "^n1|READY=1" "$work/notify.log")" = 1 ]'
ok "the leader logged its readiness" 'grep -q "INFO ready: leader (epoch 1), 1/2 followers connected" "$work/n1.log"'

echo "-- 3. watchdog"
ok "follower 2 (WATCHDOG_USEC=200000) sends WATCHDOG=1 repeatedly" \
    'wait_until 10 sh -c "[ \$(grep -c \"^n2|WATCHDOG=1\" $work/notify.log) -ge 3 ]"'
ok "the leader (no WATCHDOG_USEC) sends none" '! got n1 WATCHDOG=1'

echo "-- 4. SIGHUP reopens --log-file"
mv "$work/n1.log" "$work/n1.log.1"
ok "writes still work after the move" '[ "$(cli -p "$L" set k1 v1)" = OK ]'
kill -HUP "$lpid"
ok "a new log file appears at the old path, saying it was reopened" \
    'wait_until 10 grep -q "SIGHUP: reopened log file $work/n1.log" "$work/n1.log"'
ok "the moved file does not get the new lines" '! grep -q "reopened log file" "$work/n1.log.1"'
ok "the new file is mode 0640" '[ "$(stat -c %a "$work/n1.log")" = 640 ]'
ok "RELOADING=1, then READY=1 with the status" \
    'wait_until 10 got n1 "READY=1;STATUS=leader" && r=$(first_line n1 RELOADING=1) && [ -n "$r" ] &&
     [ "$(grep -n "^n1|READY=1" "$work/notify.log" | tail -n 1 | cut -d: -f1)" -gt "$r" ]'
v=$(cli -p "$L" --raw get k1)
ok "the leader still serves (GET k1: $v)" '[ "$v" = v1 ]'

echo "-- 5. SIGHUP without --log-file"
kill -HUP "$f3pid"
kill -HUP "$f3pid"
ok "follower 3 keeps serving after two SIGHUPs" 'wait_until 5 sh -c "[ \"\$($CLI -p $F3 -t 2 ping)\" = PONG ]"'
ok "it logs once that SIGHUP is ignored without --log-file" \
    'wait_until 5 grep -q "SIGHUP ignored" "$work/n3.err" && [ "$(grep -c "SIGHUP ignored" "$work/n3.err")" = 1 ]'

echo "-- 6. SIGTERM"
kill -TERM "$f2pid"
wait "$f2pid"
rc=$?
ok "follower 2 exits 0 on SIGTERM" '[ $rc = 0 ]'
ok "follower 2 sent STOPPING=1" 'wait_until 5 got n2 STOPPING=1'
ok "the leader's STATUS says 1/2 followers again" \
    'wait_until 10 sh -c "grep \"^n1|\" $work/notify.log | tail -n 1 | grep -q \"1/2 followers connected\""'
ok "the leader logs that to the new file, not the moved one" \
    'wait_until 5 grep -q "(node 2) online=0" "$work/n1.log" && ! grep -q "online=0" "$work/n1.log.1"'
finish
