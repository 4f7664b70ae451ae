#!/usr/bin/env bash
# Lost packets are noticed by TCP keepalive / TCP_USER_TIMEOUT, not only by
# heartbeats. One follower runs in its own network namespace behind a veth
# pair; the leader's --follower-timeout-ms is set to a minute so the heartbeat
# detector cannot be what fires. Taking the link down (packets silently
# lost, no FIN, no RST) must mark the follower online=0 within the keepalive
# bound (idle 1 s + 3 probes x 1 s, and the same bound on unacknowledged
# data), and bringing it back must bring the follower back in line.
# Skipped, with a message, where network namespaces cannot be made (not root,
# no iproute2).
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server" CLI="$PWD/$BUILD/rkv-cli"
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
skip=0
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

tag=$$
ns=rkvka$tag vA=rkA$tag vB=rkB$tag
net=10.231.$((tag % 250)).
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add "$ns" 2>/dev/null; then
    echo "SKIP: cannot create a network namespace here (needs root and iproute2)"
    skip=1; finish
fi
work=$(mktemp -d /tmp/rkv-keepalive-XXXXXX)
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    ip link del "$vA" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    [ $fail -eq 0 ] && rm -rf "$work" || echo "logs kept in $work"
}
trap cleanup EXIT
ip link add "$vA" type veth peer name "$vB" &&
    ip link set "$vB" netns "$ns" &&
    ip addr add "${net}1/30" dev "$vA" && ip link set "$vA" up &&
    ip netns exec "$ns" ip addr add "${net}2/30" dev "$vB" &&
    ip netns exec "$ns" ip link set "$vB" up && ip netns exec "$ns" ip link set lo up ||
    { echo "SKIP: veth setup failed"; skip=1; finish; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000)); }
P1=$(free_port) P2=$(free_port) P3=$(free_port) R3=$(free_port)
R2=$((30000 + tag % 20000))
now_ms() { date +%s%3N; }
wait_until() { # ms, command
    local end=$(( $(now_ms) + $1 )); shift
    while [ "$(now_ms)" -lt $end ]; do eval "$@" && return 0; sleep 0.05; done
    return 1
}
online() { "$CLI" -p $P1 info replication | tr -d '\r' | sed -n "s/^follower$1:.*online=\([01]\).*/\1/p"; }

# The leader reaches f2 from outside loopback: replication needs the
# cluster secret (without one, only loopback may replicate).
secret=()
if ldd "$SERVER" 2>/dev/null | grep -q libcrypto && command -v openssl >/dev/null; then
    (umask 077; openssl rand -hex 32 > "$work/secret")
    secret=(--cluster-secret-file "$work/secret")
fi
# --protected-mode no: its clients (the CLI below) come from ${net}2, not loopback.
ip netns exec "$ns" "$SERVER" --node-id 2 --role follower --bind "${net}2" --port $P2 --repl-port $R2 \
    --protected-mode no --data-dir "$work/f2" --log-file "$work/f2.log" "${secret[@]}" &
pids+=($!)
"$SERVER" --node-id 3 --role follower --port $P3 --repl-port $R3 --data-dir "$work/f3" --log-file "$work/f3.log" \
    "${secret[@]}" &
pids+=($!)
"$SERVER" --node-id 1 --port $P1 --data-dir "$work/l" --log-file "$work/l.log" --quorum 1 \
    --follower-timeout-ms 60000 --followers "${net}2:$R2,127.0.0.1:$R3" "${secret[@]}" &
pids+=($!)
ok "both followers online" 'wait_until 10000 "[ \"\$(online 0)\" = 1 ] && [ \"\$(online 1)\" = 1 ]"'
for i in $(seq 20); do "$CLI" -p $P1 set k$i v$i >/dev/null; done

ip link set "$vA" down # packets to and from the namespace are now lost silently
t0=$(now_ms)
for i in $(seq 21 40); do "$CLI" -p $P1 set k$i v$i >/dev/null; done # data left unacknowledged
ok "the silent follower is marked online=0 within the keepalive bound (<= 8 s)" \
    'wait_until 8000 "[ \"\$(online 0)\" = 0 ]"'
echo "detected after $(( $(now_ms) - t0 )) ms (heartbeat timeout was 60000 ms)"
ok "the leader logged why" 'grep -q "online=0" "$work/l.log"'
ok "writes go on with the other follower" '[ "$("$CLI" -p $P1 set after down)" = OK ]'

ip link set "$vA" up
ok "the follower comes back online" 'wait_until 15000 "[ \"\$(online 0)\" = 1 ]"'
last=$("$CLI" -p $P1 info persistence | tr -d '\r' | sed -n 's/^last_lsn://p')
f2_applied() { ip netns exec "$ns" "$CLI" -h "${net}2" -p $P2 info replication | tr -d '\r' | sed -n 's/^applied_lsn://p'; }
ok "and catches up" 'wait_until 10000 "[ \"\$(f2_applied)\" = $last ]"'
d1=$("$CLI" -p $P1 debug digest)
d2=$(ip netns exec "$ns" "$CLI" -h "${net}2" -p $P2 debug digest)
ok "digests equal ($d1 / $d2)" '[ "$d1" = "$d2" ]'
finish
