#!/usr/bin/env bash
# test_harness.sh -- the brief's regression harness (R8): the six categories
# against real rkv-server processes (free ports, temp data dirs, stopped by
# PID, driven with rkv-cli), then build/repl_full_test (the same six in one
# process). One PASS/FAIL line per category, then "N/6 tests passed" and
# "N passed, M failed"; exit status non-zero on any failure.
#
#   tests/test_harness.sh              plain run (part of `make check`)
#   tests/test_harness.sh --valgrind   every rkv-server under valgrind: each
#        one stopped by SIGTERM must exit 0 with "All heap blocks were freed
#        -- no leaks are possible" and "ERROR SUMMARY: 0 errors from 0
#        contexts" in its log; one killed with -9 (the crash tests) must have
#        reported no error before it died. repl_full_test runs under valgrind
#        too.
#
# Ports: every server starts with port 0 and the harness reads the bound
# ports from its log; a restarted follower gets the same ports back, so the
# leader finds it where it dials. Category 4 plays the leader to fresh
# followers with build/tools/lwwfeed.
# RKV_HARNESS_KEEP=1 keeps the temp dir (logs, data) for a post-mortem.
set -u
BUILD=${RKV_BUILD:-${BUILD:-build}}
SERVER="$BUILD/rkv-server"
CLI="$BUILD/rkv-cli"
FEED="$BUILD/tools/lwwfeed"
FULL="$BUILD/repl_full_test"

VG=0
case "${1:-}" in
--valgrind) VG=1 ;;
"") ;;
*) echo "usage: $0 [--valgrind]" >&2; exit 2 ;;
esac
SLOW=1 # multiplies every deadline
[ $VG -eq 1 ] && SLOW=10

HEARTBEAT_MS=100
FOLLOWER_TIMEOUT_MS=1000
DETECT_SLACK_MS=$((1500 * SLOW)) # scheduling slack on the detection bound
LWW_SEEDS="11 12 13"

for f in "$SERVER" "$CLI" "$FEED" "$FULL"; do
    [ -x "$f" ] || { echo "FAIL: $f is not built (run make)"; echo "0 passed, 1 failed"; exit 1; }
done
if [ $VG -eq 1 ] && ! command -v valgrind >/dev/null 2>&1; then
    echo "FAIL: --valgrind given but valgrind is not installed"; echo "0 passed, 1 failed"; exit 1
fi

TMP=$(mktemp -d /tmp/rkv-harness-XXXXXX)
declare -A PID PORT RPORT VGLOG
ALL_PIDS=()
VG_FAIL=()

cleanup() {
    for p in "${ALL_PIDS[@]+"${ALL_PIDS[@]}"}"; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${RKV_HARNESS_KEEP:-0}" = 1 ]; then echo "harness files kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# wait_for SECONDS CMD...: runs CMD every 50 ms until it succeeds (0) or
# SECONDS * SLOW pass (1).
wait_for() {
    local deadline=$(($(now_ms) + $1 * 1000 * SLOW))
    shift
    while :; do
        "$@" && return 0
        [ "$(now_ms)" -ge $deadline ] && return 1
        sleep 0.05
    done
}

cli() { # port, command... (--no-raw: replies as on a terminal, "value" or
    # (nil), the form lwwfeed --expect writes)
    local port=$1
    shift
    "$CLI" --no-raw -t $((10 * SLOW)) -p "$port" "$@"
}

info_field() { # port section field
    cli "$1" INFO "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"
}

follower_field() { # leader-port index key: KEY of the leader's followerN line
    cli "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n "s/^follower$2://p" |
        tr ',' '\n' | sed -n "s/^$3=//p"
}

# ---- processes ----

# start_node NAME ID ROLE [flags...]: starts (or restarts, same ports and
# data dir) one server and waits until it listens. 0 or 1.
start_node() {
    local name=$1 id=$2 role=$3
    shift 3
    local log="$TMP/$name.log"
    touch "$log"
    local off
    off=$(stat -c %s "$log")
    local cmd=("$SERVER" --node-id "$id" --role "$role" --port "${PORT[$name]:-0}"
        --data-dir "$TMP/$name.data" --log-level info
        --heartbeat-ms $HEARTBEAT_MS --follower-timeout-ms $FOLLOWER_TIMEOUT_MS)
    [ "$role" = follower ] && cmd+=(--repl-port "${RPORT[$name]:-0}")
    cmd+=("$@")
    if [ $VG -eq 1 ]; then
        cmd=(valgrind --leak-check=full --errors-for-leak-kinds=all --error-exitcode=99
            "--log-file=$TMP/vg-$name.%p.log" "${cmd[@]}")
    fi
    "${cmd[@]}" >>"$log" 2>&1 &
    local pid=$!
    PID[$name]=$pid
    ALL_PIDS+=("$pid")
    VGLOG[$name]="$TMP/vg-$name.$pid.log"
    ready() { tail -c +$((off + 1)) "$log" | grep -q "node $id ready:"; }
    if ! wait_for 10 ready; then
        echo "  $name did not start; its log:" && tail -c +$((off + 1)) "$log" | tail -n 5 | sed 's/^/    /'
        return 1
    fi
    local fresh
    fresh=$(tail -c +$((off + 1)) "$log")
    PORT[$name]=$(printf '%s\n' "$fresh" | sed -n 's/.* ready: .*clients on [^ ]*:\([0-9][0-9]*\).*/\1/p' | tail -n 1)
    if [ "$role" = follower ]; then
        RPORT[$name]=$(printf '%s\n' "$fresh" | sed -n 's/.*replication port [^ ]*:\([0-9][0-9]*\).*/\1/p' | tail -n 1)
    fi
    [ -n "${PORT[$name]}" ]
}

# stop_node NAME SIGNAL: sends SIGNAL and reaps the process (SIGKILL after
# 10 s * SLOW). For SIGTERM the exit status must be 0 and, under valgrind,
# the log clean; for SIGKILL, the log must hold no error report.
stop_node() {
    local name=$1 sig=$2 pid=${PID[$1]}
    kill "-$sig" "$pid" 2>/dev/null
    [ "$sig" = STOP ] && return 0
    if [ "$sig" != KILL ]; then
        local deadline=$(($(now_ms) + 10000 * SLOW))
        while kill -0 "$pid" 2>/dev/null; do # bash reaps its children as they exit
            [ "$(now_ms)" -ge $deadline ] && kill -KILL "$pid" 2>/dev/null
            sleep 0.05
        done
    fi
    wait "$pid" 2>/dev/null # (for SIGKILL at once: no "Killed" job notice)
    local rc=$?
    local ok=0
    if [ "$sig" = TERM ]; then
        [ $rc -eq 0 ] || { VG_FAIL+=("$name (pid $pid) exited $rc after SIGTERM"); ok=1; }
        [ $VG -eq 1 ] && { vg_clean "$name" "${VGLOG[$name]}" || ok=1; }
    elif [ $VG -eq 1 ]; then
        vg_no_errors "$name" "${VGLOG[$name]}" || ok=1
    fi
    return $ok
}

vg_clean() { # name log
    if ! grep -q 'All heap blocks were freed -- no leaks are possible' "$2" 2>/dev/null; then
        VG_FAIL+=("$1: leaks (see $2)"); return 1
    fi
    if ! grep -q 'ERROR SUMMARY: 0 errors from 0 contexts' "$2" 2>/dev/null; then
        VG_FAIL+=("$1: valgrind errors (see $2)"); return 1
    fi
    VG_CLEAN=$((VG_CLEAN + 1))
}
VG_CLEAN=0

vg_no_errors() { # name log: a process killed with -9 prints no summary
    [ -f "$2" ] || { VG_FAIL+=("$1: no valgrind log $2"); return 1; }
    if grep -qE '^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination|Argument .* of function)' "$2"; then
        VG_FAIL+=("$1: valgrind errors before the kill (see $2)"); return 1
    fi
    VG_CLEAN=$((VG_CLEAN + 1))
}

# ---- checks ----

WHY=""
fail_with() { WHY="$*"; return 1; }

applied_at_least() { # port lsn
    local a
    a=$(info_field "$1" persistence applied_lsn)
    [ -n "$a" ] && [ "$a" -ge "$2" ]
}

# converged KEYS-FILE NAME...: every follower has applied the first node's
# (the leader's) last LSN; then GET of every key, DBSIZE and DEBUG DIGEST
# agree on all nodes (both digests in WHY on mismatch).
converged() {
    local keys=$1
    shift
    local first=$1 last n
    last=$(info_field "${PORT[$first]}" persistence last_lsn)
    [ -n "$last" ] || fail_with "cannot read $first's last_lsn" || return 1
    for n in "$@"; do
        wait_for 30 applied_at_least "${PORT[$n]}" "$last" ||
            fail_with "$n applied_lsn=$(info_field "${PORT[$n]}" persistence applied_lsn), want $last" || return 1
    done
    same_state "$keys" "$@"
}

same_state() { # keys-file names...
    local keys=$1
    shift
    local first=$1 k n v0 v d0 d s0 s
    while read -r k; do
        v0=$(cli "${PORT[$first]}" GET "$k")
        for n in "${@:2}"; do
            v=$(cli "${PORT[$n]}" GET "$k")
            [ "$v" = "$v0" ] || fail_with "key $k: $first has $v0, $n has $v" || return 1
        done
    done <"$keys"
    s0=$(cli "${PORT[$first]}" DBSIZE)
    d0=$(cli "${PORT[$first]}" DEBUG DIGEST)
    for n in "${@:2}"; do
        s=$(cli "${PORT[$n]}" DBSIZE)
        [ "$s" = "$s0" ] || fail_with "DBSIZE: $first $s0, $n $s" || return 1
        d=$(cli "${PORT[$n]}" DEBUG DIGEST)
        [ -n "$d" ] && [ "$d" = "$d0" ] || fail_with "digests differ: $first $d0, $n $d" || return 1
    done
}

write_keys() { # port prefix from to keys-file
    local i out
    for ((i = $3; i < $4; i++)); do
        out=$(cli "$1" SET "$2:$i" "$2-value-$((i * 7919))" 2>&1)
        [ "$out" = OK ] || fail_with "SET $2:$i: $out" || return 1
        echo "$2:$i" >>"$5"
    done
}

online_is() { # leader-port index want
    [ "$(follower_field "$1" "$2" online)" = "$3" ]
}

cluster_ok() { cli "$1" cluster check >/dev/null 2>&1; }

# Both followers online and each heard from after SINCE (wall ms): the
# handshake was over by then and nothing was written, so what the leader
# heard was an ACK answering a heartbeat (its last_heard_ms is "now minus
# the moment it last heard").
# A redial would also be "heard" (a new handshake): the reconnects counters
# must not move meanwhile (REDIALLED=1 ends the wait as a failure).
heard_since() { # leader-port since dials0 dials1
    local i lh now dials=("$3" "$4")
    for i in 0 1; do
        now=$(now_ms)
        lh=$(follower_field "$1" $i last_heard_ms)
        [ "$(follower_field "$1" $i reconnects)" = "${dials[$i]}" ] || { REDIALLED=1; return 0; }
        [ "$(follower_field "$1" $i online)" = 1 ] && [ -n "$lh" ] && [ $((now - lh)) -gt "$2" ] || return 1
    done
}

# ---- the categories ----

KEYS="$TMP/keys"
: >"$KEYS"

cat1_connectivity() {
    start_node f2 2 follower && start_node f3 3 follower || fail_with "followers did not start" || return 1
    start_node leader 1 leader --quorum 1 --quorum-timeout-ms $((60000 * SLOW)) \
        --followers "127.0.0.1:${RPORT[f2]},127.0.0.1:${RPORT[f3]}" || fail_with "leader did not start" || return 1
    wait_for 10 cluster_ok "${PORT[leader]}" || fail_with "cluster check: $(cli "${PORT[leader]}" cluster check 2>&1)" || return 1
    local since d0 d1
    since=$(now_ms)
    d0=$(follower_field "${PORT[leader]}" 0 reconnects)
    d1=$(follower_field "${PORT[leader]}" 1 reconnects)
    REDIALLED=0
    wait_for 10 heard_since "${PORT[leader]}" "$since" "$d0" "$d1" && [ $REDIALLED -eq 0 ] ||
        fail_with "followers did not answer heartbeats (redialled=$REDIALLED): $(cli "${PORT[leader]}" INFO replication | tr -d '\r' | grep ^follower)" || return 1
    cli "${PORT[leader]}" cluster check
}

cat2_shipping() {
    write_keys "${PORT[leader]}" ship 0 10 "$KEYS" || return 1
    converged "$KEYS" leader f2 f3 || return 1
    # R3: a record with one flipped bit is rejected, then accepted intact.
    start_node crc 9 follower || fail_with "crc follower did not start" || return 1
    local out rej v
    out=$("$FEED" -p "${RPORT[crc]}" --crc -t $((30 * SLOW)) 2>&1) || fail_with "$out" || return 1
    rej=$(info_field "${PORT[crc]}" stats records_rejected_crc)
    [ "$rej" = 1 ] || fail_with "records_rejected_crc=$rej after one flipped bit, want 1" || return 1
    v=$(cli "${PORT[crc]}" GET crc:key)
    [ "$v" = '"intact-value"' ] || fail_with "crc:key is $v after the intact resend" || return 1
    stop_node crc TERM || fail_with "crc follower did not stop cleanly" || return 1
}

acked_at_least() { # leader-port index lsn
    local a
    a=$(follower_field "$1" "$2" acked_lsn)
    [ -n "$a" ] && [ "$a" -ge "$3" ]
}

cat3_quorum() {
    start_node q2 2 follower && start_node q3 3 follower || fail_with "followers did not start" || return 1
    start_node qleader 1 leader --quorum 2 --quorum-timeout-ms $((60000 * SLOW)) \
        --followers "127.0.0.1:${RPORT[q2]},127.0.0.1:${RPORT[q3]}" || fail_with "leader did not start" || return 1
    local lp=${PORT[qleader]} lsn
    wait_for 10 cluster_ok "$lp" || fail_with "quorum cluster: $(cli "$lp" cluster check 2>&1)" || return 1
    lsn=$(($(info_field "$lp" persistence last_lsn) + 1))
    stop_node q3 STOP # q3 takes the record into its socket; nobody reads it
    rm -f "$TMP/q.out" "$TMP/q.done"
    (cli "$lp" SET q:held value >"$TMP/q.out" 2>&1; echo $? >"$TMP/q.done") &
    local writer=$!
    local ok=0
    if ! wait_for 10 acked_at_least "$lp" 0 "$lsn"; then
        fail_with "q2 never acknowledged lsn $lsn"; ok=1
    else
        sleep 0.5 # the one bounded "must not have returned yet" wait
        local b_acked commit
        b_acked=$(follower_field "$lp" 1 acked_lsn)
        commit=$(info_field "$lp" persistence commit_lsn)
        if [ -e "$TMP/q.done" ]; then
            fail_with "the write returned with 1 of 2 acks: $(cat "$TMP/q.out")"; ok=1
        elif ! [ "$b_acked" -lt "$lsn" ] || ! [ "$commit" -lt "$lsn" ]; then
            fail_with "INFO should show q3's missing ack: acked_lsn=$b_acked commit_lsn=$commit lsn=$lsn"; ok=1
        fi
    fi
    kill -CONT "${PID[q3]}"
    if [ $ok -eq 0 ]; then
        wait_for 30 test -e "$TMP/q.done" || { fail_with "the write did not return after q3 resumed"; ok=1; }
    fi
    wait "$writer" 2>/dev/null
    [ $ok -eq 0 ] || return 1
    [ "$(cat "$TMP/q.out")" = OK ] || fail_with "the held write got: $(cat "$TMP/q.out")" || return 1
    local d
    d=$(info_field "${PORT[q3]}" persistence durable_lsn)
    [ -n "$d" ] && [ "$d" -ge "$lsn" ] || fail_with "q3 durable_lsn=$d after the OK, write lsn $lsn" || return 1
    stop_node qleader TERM && stop_node q2 TERM && stop_node q3 TERM ||
        fail_with "a quorum-test server did not stop cleanly" || return 1
}

cat4_lww() {
    local seed n expect nrec k want va vb da db
    for seed in $LWW_SEEDS; do
        start_node "lww$seed-a" 2 follower && start_node "lww$seed-b" 3 follower ||
            fail_with "seed $seed: followers did not start" || return 1
        local a="lww$seed-a" b="lww$seed-b" out
        out=$("$FEED" -p "${RPORT[$a]}" --seed "$seed" --perm 0 -t $((30 * SLOW)) 2>&1) ||
            fail_with "seed $seed: $out" || return 1
        out=$("$FEED" -p "${RPORT[$b]}" --seed "$seed" --perm 1 --frame-bytes 300 -t $((30 * SLOW)) 2>&1) ||
            fail_with "seed $seed: $out" || return 1
        expect=$("$FEED" --expect --seed "$seed")
        nrec=$(printf '%s\n' "$expect" | sed -n 's/^records //p')
        for n in "$a" "$b"; do
            wait_for 30 applied_at_least "${PORT[$n]}" "$nrec" ||
                fail_with "seed $seed: $n applied_lsn=$(info_field "${PORT[$n]}" persistence applied_lsn), want $nrec" || return 1
        done
        while read -r k want; do
            [ "$k" = records ] && continue
            va=$(cli "${PORT[$a]}" GET "$k")
            vb=$(cli "${PORT[$b]}" GET "$k")
            [ "$va" = "$vb" ] || fail_with "seed $seed: key $k diverged: $a has $va, $b has $vb" || return 1
            [ "$va" = "$want" ] || fail_with "seed $seed: key $k converged to $va, the LWW rule says $want" || return 1
        done <<<"$expect"
        da=$(cli "${PORT[$a]}" DEBUG DIGEST)
        db=$(cli "${PORT[$b]}" DEBUG DIGEST)
        [ "$da" = "$db" ] || fail_with "seed $seed: digests differ: $a $da, $b $db" || return 1
        stop_node "$a" TERM && stop_node "$b" TERM || fail_with "seed $seed: a follower did not stop cleanly" || return 1
    done
}

cat5_rejoin() {
    local lp=${PORT[leader]} before after t0 took bound
    wait_for 10 online_is "$lp" 1 1 || fail_with "f3 not online at start" || return 1
    before=$(follower_field "$lp" 1 catchup_wal)
    # f3 hangs (SIGSTOP: its sockets stay open, nothing answers): only the
    # heartbeat timeout can notice. Then it dies for good.
    t0=$(now_ms)
    stop_node f3 STOP
    wait_for 30 online_is "$lp" 1 0 || fail_with "a hung follower is still online" || return 1
    took=$(($(now_ms) - t0))
    bound=$((FOLLOWER_TIMEOUT_MS + HEARTBEAT_MS + DETECT_SLACK_MS))
    [ $took -le $bound ] || fail_with "online=0 after $took ms, bound $bound ms" || return 1
    stop_node f3 KILL || fail_with "f3: $(printf '%s; ' "${VG_FAIL[@]}")" || return 1
    write_keys "$lp" rejoin 0 5 "$KEYS" || return 1
    start_node f3 3 follower || fail_with "f3 did not restart" || return 1
    wait_for 30 online_is "$lp" 1 1 || fail_with "f3 did not rejoin" || return 1
    converged "$KEYS" leader f2 f3 || return 1
    after=$(follower_field "$lp" 1 catchup_wal)
    [ "$after" = $((before + 1)) ] || fail_with "catchup_wal went $before -> $after, want one WAL catch-up" || return 1
}

cat6_pipeline() {
    local lp=${PORT[leader]}
    write_keys "$lp" pipe 0 10 "$KEYS" || return 1
    stop_node f2 KILL || fail_with "f2: $(printf '%s; ' "${VG_FAIL[@]}")" || return 1
    write_keys "$lp" pipe 10 20 "$KEYS" || return 1
    start_node f2 2 follower || fail_with "f2 did not restart" || return 1
    converged "$KEYS" leader f2 f3
}

# ---- run ----

pass=0 fail=0
run_cat() { # num title function
    WHY=""
    local t0 ok=0
    t0=$(now_ms)
    "$3" || ok=1
    if [ $ok -eq 0 ]; then
        echo "[test $1] $2... PASS"
        pass=$((pass + 1))
    else
        echo "[test $1] $2... FAIL: ${WHY:-see above}"
        fail=$((fail + 1))
    fi
}

[ $VG -eq 1 ] && echo "(every rkv-server under valgrind)"
run_cat 1 "leader-follower connectivity" cat1_connectivity
run_cat 2 "log shipping (10 records)" cat2_shipping
run_cat 3 "quorum acknowledgment" cat3_quorum
run_cat 4 "conflict resolution (LWW)" cat4_lww
run_cat 5 "failure and rejoin" cat5_rejoin
run_cat 6 "full pipeline (20 records + crash)" cat6_pipeline
categories=$pass

# The main cluster stops cleanly (exit 0; under valgrind, clean logs).
for n in leader f2 f3; do
    [ -n "${PID[$n]:-}" ] && { stop_node "$n" TERM || true; }
done
if [ ${#VG_FAIL[@]} -gt 0 ]; then
    for m in "${VG_FAIL[@]}"; do echo "FAIL shutdown: $m"; done
    fail=$((fail + 1))
elif [ $VG -eq 1 ]; then
    echo "valgrind: $VG_CLEAN server runs clean (0 leaks, 0 errors)"
fi

echo "== $FULL"
if [ $VG -eq 1 ]; then
    out=$(valgrind --leak-check=full --error-exitcode=1 "$FULL" 2>&1)
else
    out=$("$FULL" 2>&1)
fi
rc=$?
printf '%s\n' "$out" | grep -v '^==[0-9]*== *$' | sed 's/^/  /'
full_ok=0
[ $rc -eq 0 ] && printf '%s\n' "$out" | grep -qx '6 passed, 0 failed' || full_ok=1
if [ $VG -eq 1 ]; then
    printf '%s\n' "$out" | grep -q 'All heap blocks were freed -- no leaks are possible' || full_ok=1
    printf '%s\n' "$out" | grep -q 'ERROR SUMMARY: 0 errors from 0 contexts' || full_ok=1
fi
if [ $full_ok -ne 0 ]; then
    echo "FAIL: $FULL (exit $rc)"
    fail=$((fail + 1))
fi

echo "$categories/6 tests passed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
