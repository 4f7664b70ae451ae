#!/usr/bin/env bash
# TLS on every port, with real rkv-server processes (a shell test: the TLS
# client side is Python's ssl module, much shorter than OpenSSL in C).
#   1. An elected cluster of four members with --tls-replication yes, where
#      node 4's certificate comes from another CA (every node, node 4 too,
#      holds the cluster secret: TLS refuses it on its own): nodes 1-3 elect a leader,
#      writes replicate and are quorum-acknowledged over mutual TLS (a
#      follower has the data); node 4 is refused (the leader logs its
#      address), gets nothing, and does not count: with one good follower
#      stopped, a write (quorum 2) is refused, and no leader can be elected
#      with node 4's vote (2 good + node 4 would be a majority of 4); once
#      the good node is back, a leader is elected again.
#   2. The TLS client port (--tls-auth-clients yes): a plain-TCP client on
#      it fails the handshake and the server serves the next one; a client
#      certificate from the other CA, or none, is refused; 50 stalled
#      handshakes (connect, send nothing) do not delay another client's
#      PING (< 50 ms) and are closed after the deadline (--auth-timeout-ms).
# Needs python3 and openssl; skipped (counted) without them.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
SERVER="$PWD/$BUILD/rkv-server"
CLI="$PWD/$BUILD/rkv-cli --raw"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

PY=$(command -v python3 || command -v /usr/bin/python3 || true)
if [ -z "$PY" ] || ! command -v openssl >/dev/null 2>&1 || ! "$PY" -c 'import ssl' 2>/dev/null; then
    echo "SKIP: needs python3 (with ssl) and openssl"
    skip=1; finish
fi
export ANYPY=$PY
. "$PWD/tests/common/lib.sh"

work=$(mktemp -d /tmp/rkv-tls-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]+"${pids[@]}"}"; do [ "$p" != 0 ] && kill "$p" 2>/dev/null; done
    for p in "${pids[@]+"${pids[@]}"}"; do [ "$p" != 0 ] && wait "$p" 2>/dev/null; done
    if [ $fail -eq 0 ] && [ -z "${KEEP_WORK:-}" ]; then rm -rf "$work"; else echo "files kept in $work"; fi
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

# A small TLS client: tlsc.py PORT CMD... [--cert NAME] prints the reply or
# "ERR <reason>"; tlsc.py --stall PORT N: see below.
cat >"$work/tlsc.py" <<'EOF'
import socket, ssl, sys, time
C = sys.argv[1]
def ctx(cert):
    c = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=C + "/ca.crt")
    if cert:
        c.load_cert_chain(C + "/" + cert + ".crt", C + "/" + cert + ".key")
    return c
def connect(port, cert="client"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as redis clients do
    return ctx(cert).wrap_socket(s, server_hostname="127.0.0.1")
def cmd(s, *args):
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
    s.sendall(out)
    data = b""
    while not data.endswith(b"\r\n") or (data[:1] == b"$" and data.count(b"\r\n") < 2 and not data.startswith(b"$-1")):
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed")
        data += chunk
    return data.decode().strip()
mode = sys.argv[2]
if mode == "cmd":  # certs-dir cmd PORT CERT ARGS...
    port, cert = int(sys.argv[3]), sys.argv[4]
    try:
        s = connect(port, None if cert == "none" else cert)
        print(cmd(s, *sys.argv[5:]))
    except Exception as e:
        print("ERR", type(e).__name__, e)
elif mode == "plain":  # a plain-TCP client on the TLS port
    s = socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=5)
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    try:
        d = s.recv(100)
        print("EOF" if not d else "GOT %r" % d[:20])
    except ConnectionResetError:
        print("EOF")
elif mode == "replhello":  # certs-dir replhello HOST PORT tls|plain FRAME-FILE: the type of the answer
    host, port, how, frame = sys.argv[3], int(sys.argv[4]), sys.argv[5], open(sys.argv[6], "rb").read()
    try:
        s = socket.create_connection((host, port), timeout=5)
        if how == "tls":  # the chain is checked; the name is not (as between rkv nodes)
            c = ctx("node")
            c.check_hostname = False
            s = c.wrap_socket(s, server_hostname=host)
        s.sendall(frame)
        hdr = b""
        while len(hdr) < 12:
            chunk = s.recv(12 - len(hdr))
            if not chunk:
                raise EOFError("closed")
            hdr += chunk
        print(hdr[4])
    except Exception as e:
        print("ERR", type(e).__name__, e)
elif mode == "stall":  # certs-dir stall PORT N DEADLINE_S
    port, n, deadline = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    stalled = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
    time.sleep(0.2)  # let the server accept them all (they then wait for a ClientHello)
    t0 = time.monotonic()
    s = connect(port)
    t1 = time.monotonic()
    r = cmd(s, "PING")
    t2 = time.monotonic()
    r2 = cmd(s, "PING")
    t3 = time.monotonic()
    print("handshake_ms=%.1f ping_ms=%.1f ping2_ms=%.1f reply=%s" % ((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, r))
    # Every stalled connection must be closed by the server by the deadline.
    end = time.monotonic() + deadline
    closed = 0
    for c in stalled:
        c.settimeout(max(0.01, end - time.monotonic()))
        try:
            if c.recv(1) == b"":
                closed += 1
        except ConnectionResetError:
            closed += 1
        except socket.timeout:
            pass
    print("closed=%d of %d in %.1f s" % (closed, n, time.monotonic() - t3))
    print("still_ok=%s" % cmd(s, "PING"))
EOF
tlsc() { "$PY" "$work/tlsc.py" "$C" "$@"; }

role_of() { $CLI -p "$1" -t 2 role 2>/dev/null | head -1; }
info_field() { # port section field
    $CLI -p "$1" -t 2 info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"
}

# ---- 1. replication and votes over mutual TLS ----
declare -a P R
for i in 1 2 3 4; do P[$i]=$(free_port); R[$i]=$(free_port); done
PEERS="1=127.0.0.1:${R[1]},2=127.0.0.1:${R[2]},3=127.0.0.1:${R[3]},4=127.0.0.1:${R[4]}"
SECRET="$work/cluster-secret"
(umask 077; openssl rand -hex 32 >"$SECRET")
start_node() { # i
    local i=$1 cert=node
    [ "$i" = 4 ] && cert=other
    "$SERVER" --node-id "$i" --port "${P[$i]}" --peers "$PEERS" --data-dir "$work/n$i" \
        --tls-replication yes --tls-cert-file "$C/$cert.crt" --tls-key-file "$C/$cert.key" \
        --tls-ca-cert-file "$C/ca.crt" --quorum-timeout-ms 1000 --cluster-secret-file "$SECRET" \
        >>"$work/n$i.log" 2>&1 &
    pids[$i]=$!
}
for i in 1 2 3 4; do start_node $i; done
leader=""
find_leader() {
    for i in 1 2 3 4; do
        [ "${pids[$i]}" = 0 ] && continue
        if [ "$(role_of "${P[$i]}")" = master ]; then leader=$i; return 0; fi
    done
    return 1
}
check "a leader is elected among nodes 1-3 over TLS" 'wait_until 15 find_leader'
check "node 4 (other CA) is not the leader" '[ "$leader" != 4 ]'
follower=""
for i in 1 2 3; do [ "$i" != "$leader" ] && { follower=$i; break; }; done
L=${P[$leader]:-0}
two_followers() { [ "$(info_field "$L" replication connected_followers)" = 2 ]; }
check "the leader's links to nodes 1-3 come online over TLS" 'wait_until 10 two_followers'
check "SET is quorum-acknowledged over TLS" '[ "$($CLI -p "$L" -t 5 set tlskey tlsvalue)" = OK ]'
applied_on() { [ "$(info_field "${P[$1]}" persistence applied_lsn)" = "$(info_field "$L" persistence commit_lsn)" ]; }
check "follower $follower applied the write" 'wait_until 5 applied_on "$follower"'
follower_has() { [ "$($CLI -p "${P[$follower]}" -t 2 get tlskey 2>&1)" = tlsvalue ]; }
check "the follower has the value (GET on follower $follower)" 'wait_until 5 follower_has'
check "node 4 got nothing (last_lsn 0)" '[ "$(info_field "${P[4]}" persistence last_lsn)" = 0 ]'
check "the leader counts 2 followers online, not node 4" \
    '[ "$(info_field "$L" replication connected_followers)" = 2 ]'
refused_logged() { grep -q "TLS handshake with replication peer 127.0.0.1:${R[4]} failed: certificate verify failed" "$work/n$leader.log"; }
check "the leader logged the refused peer with its address" 'wait_until 5 refused_logged'
# Node 4 trusts the cluster CA but its certificate is from another, so the
# peers' alert ("unknown ca") reaches it whether it dials (votes) or is
# dialled (the leader). The limiter prints the first failure of each
# direction per minute, and under load an alert can be lost to the peer's
# RST (that line then says only "connection reset"): wait for either
# direction, long enough for node 4 to campaign and dial.
n4_refused_logged() { grep -Eq "TLS handshake with replication peer .* failed: .*(unknown ca|certificate verify failed)" "$work/n4.log"; }
check "node 4's own log says it was refused (unknown ca / certificate verify failed)" 'wait_until 20 n4_refused_logged'
check "the secret handshake never ran with node 4 (TLS refused it first)" \
    '[ "$(info_field "$L" stats repl_auth_failures)" = 0 ]'
check "INFO counts replication handshake failures" \
    '[ "$(info_field "$L" stats tls_repl_handshake_failures)" -gt 0 ]'
# Node 4 does not count: stop a good follower, and quorum 2 cannot be met.
kill "${pids[$follower]}"; wait "${pids[$follower]}" 2>/dev/null; pids[$follower]=0
r=$($CLI -p "$L" -t 5 set tlskey2 v2 2>&1)
check "with one good follower down a write is not acknowledged ($r)" '[ "$r" != OK ]'
check "node 4 still has nothing" '[ "$(info_field "${P[4]}" persistence last_lsn)" = 0 ]'
# Node 4 cannot vote: two good nodes + node 4 are a majority of 4, but
# without its vote nobody can be elected.
any_leader() { leader=""; find_leader; }
sleep_ms() { "$PY" -c "import time; time.sleep($1/1000)"; }
leaders_seen=0
end=$(( $(date +%s) + 4 ))
while [ "$(date +%s)" -lt $end ]; do # 4 s: four election timeouts
    if any_leader && [ "$(info_field "${P[$leader]}" replication election_role)" = leader ] &&
        [ "$($CLI -p "${P[$leader]}" -t 2 set probe 1 2>&1)" = OK ]; then
        leaders_seen=$((leaders_seen + 1))
    fi
    sleep_ms 200
done
check "no leader can write with node 4's vote ($leaders_seen seen)" '[ $leaders_seen = 0 ]'
check "node 4 granted no vote" '[ "$(info_field "${P[4]}" replication votes_granted)" = 0 ]'
start_node "$follower"
writable() { any_leader && [ "$($CLI -p "${P[$leader]}" -t 2 set back 1 2>&1)" = OK ]; }
check "with the good node back, a leader is elected and writes again" 'wait_until 20 writable'
check "node 4 still has nothing at the end" '[ "$(info_field "${P[4]}" persistence last_lsn)" = 0 ]'
for i in 1 2 3 4; do
    [ "${pids[$i]}" != 0 ] && { kill "${pids[$i]}"; wait "${pids[$i]}" 2>/dev/null; pids[$i]=0; }
done

# ---- 2. the TLS client port ----
CP=$(free_port) TP=$(free_port)
"$SERVER" --port "$CP" --tls-port "$TP" --tls-cert-file "$C/node.crt" --tls-key-file "$C/node.key" \
    --tls-ca-cert-file "$C/ca.crt" --tls-auth-clients yes --auth-timeout-ms 1500 \
    --data-dir "$work/single" >>"$work/single.log" 2>&1 &
pids+=($!)
up() { [ "$(tlsc cmd "$TP" client PING)" = "+PONG" ]; }
check "TLS client PING" 'wait_until 10 up'
check "TLS SET" '[ "$(tlsc cmd "$TP" client SET tk tv)" = "+OK" ]'
check "TLS GET" '[ "$(tlsc cmd "$TP" client GET tk | tail -1)" = "tv" ]'
check "plain port still serves (same data)" '[ "$($CLI -p "$CP" get tk)" = tv ]'
r=$(tlsc plain "$TP")
check "a plain-TCP client on the TLS port gets no answer ($r)" '[ "$r" = EOF ]'
check "... and the server serves the next TLS client" '[ "$(tlsc cmd "$TP" client PING)" = "+PONG" ]'
check "... and logged the failed handshake" 'grep -q "TLS handshake with client 127.0.0.1:[0-9]* failed" "$work/single.log"'
r=$(tlsc cmd "$TP" other PING)
check "a client certificate from the other CA is refused ($r)" '[ "${r#ERR}" != "$r" ]'
r=$(tlsc cmd "$TP" none PING)
check "no client certificate is refused with --tls-auth-clients yes ($r)" '[ "${r#ERR}" != "$r" ]'
check "INFO counts client handshake failures" \
    '[ "$(info_field "$CP" stats tls_client_handshake_failures)" -ge 3 ]'
check "INFO tls_port" '[ "$(info_field "$CP" server tls_port)" = "$TP" ]'
before=$(info_field "$CP" stats tls_client_handshake_failures)
out=$(tlsc stall "$TP" 50 5)
echo "stalled handshakes: $(echo "$out" | tr '\n' ' ')"
ping_ms=$(echo "$out" | sed -n 's/.* ping_ms=\([0-9.]*\).*/\1/p')
ping2_ms=$(echo "$out" | sed -n 's/.* ping2_ms=\([0-9.]*\).*/\1/p')
hs_ms=$(echo "$out" | sed -n 's/^handshake_ms=\([0-9.]*\).*/\1/p')
check "PING answers in < 50 ms with 50 stalled handshakes open ($ping_ms ms)" \
    '[ -n "$ping_ms" ] && "$PY" -c "import sys; sys.exit(0 if $ping_ms < 50 and $ping2_ms < 50 else 1)"'
check "a new handshake completes meanwhile ($hs_ms ms)" \
    '[ -n "$hs_ms" ] && "$PY" -c "import sys; sys.exit(0 if $hs_ms < 1000 else 1)"'
check "the 50 stalled handshakes are closed after the deadline" 'echo "$out" | grep -q "closed=50 of 50"'
check "the waiting client is still served" 'echo "$out" | grep -q "still_ok=+PONG"'
none_pending() { [ "$(info_field "$CP" stats tls_client_handshakes_in_progress)" = 0 ]; }
check "no handshake left in progress" 'wait_until 5 none_pending'
after=$(info_field "$CP" stats tls_client_handshake_failures)
check "the timed-out handshakes are counted ($before -> $after)" '[ "$after" -ge $((before + 50)) ]'

# ---- 3. --tls-auth-clients optional and no ----
for mode in optional no; do
    CP2=$(free_port) TP2=$(free_port)
    "$SERVER" --port "$CP2" --tls-port "$TP2" --tls-cert-file "$C/node.crt" --tls-key-file "$C/node.key" \
        --tls-ca-cert-file "$C/ca.crt" --tls-auth-clients $mode --data-dir "$work/auth-$mode" \
        >>"$work/auth-$mode.log" 2>&1 &
    pids+=($!)
    up2() { [ "$(tlsc cmd "$TP2" none PING)" = "+PONG" ]; }
    check "--tls-auth-clients $mode: a client without a certificate is served" 'wait_until 10 up2'
    check "--tls-auth-clients $mode: a client with a CA-signed certificate is served" \
        '[ "$(tlsc cmd "$TP2" client PING)" = "+PONG" ]'
    r=$(tlsc cmd "$TP2" other PING)
    if [ $mode = optional ]; then
        check "--tls-auth-clients optional: a certificate from the other CA is refused ($r)" '[ "${r#ERR}" != "$r" ]'
    else
        check "--tls-auth-clients no: no certificate is asked for, so none is checked ($r)" '[ "$r" = "+PONG" ]'
    fi
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null; unset 'pids[-1]'
done

# ---- 3. no cluster secret, a peer from a non-loopback address ----
# Without a secret only loopback may replicate, unless mutual TLS checks the
# peer's certificate first (docs/SECURITY.md): a HELLO over TLS from the
# machine's own non-loopback address gets HELLO_OK (type 2) from a TLS
# follower, and REFUSE (type 3) from a plain one.
IP=$("$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("192.0.2.254", 9)); print(s.getsockname()[0])' 2>/dev/null || true)
if [ -z "$IP" ] || [ "${IP#127.}" != "$IP" ]; then
    echo "SKIP: no non-loopback IPv4 address on this machine"
    skip=$((skip + 1))
else
    for how in tls plain; do
        FP=$(free_port) FR=$(free_port)
        tflags=()
        [ $how = tls ] && tflags=(--tls-replication yes --tls-cert-file "$C/node.crt" --tls-key-file "$C/node.key"
            --tls-ca-cert-file "$C/ca.crt")
        "$SERVER" --node-id 2 --role follower --bind 0.0.0.0 --port "$FP" --repl-port "$FR" --protected-mode no \
            "${tflags[@]}" --data-dir "$work/nosecret-$how" >>"$work/nosecret-$how.log" 2>&1 &
        pids+=($!)
        fup() { $CLI -p "$FP" -t 1 ping >/dev/null 2>&1; }
        check "a $how follower without a secret starts on 0.0.0.0" 'wait_until 10 fup'
        r=$(tlsc replhello "$IP" "$FR" $how "$PWD/tests/fuzz/corpus/repl_frame/seed-hello")
        if [ $how = tls ]; then
            check "over mutual TLS, a HELLO from $IP is answered HELLO_OK ($r)" '[ "$r" = 2 ]'
            check "its log says membership rests on the certificates" \
                'grep -q "authenticated by their TLS certificates alone" "$work/nosecret-$how.log"'
        else
            check "in plain TCP, a HELLO from $IP is refused: loopback only ($r)" '[ "$r" = 3 ]'
        fi
        kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null; unset 'pids[-1]'
    done
fi

# Start errors: a bad file carries OpenSSL's reason; a missing CA is refused.
out=$(timeout 10 "$SERVER" --port 0 --tls-port "$(free_port)" --tls-cert-file "$C/ca.key" --tls-key-file "$C/node.key" \
    --tls-ca-cert-file "$C/ca.crt" --data-dir "$work/bad1" 2>&1)
check "a key given as certificate is a start error with the reason" 'echo "$out" | grep -qi "certificate.*ca.key"'
out=$(timeout 10 "$SERVER" --port 0 --peers "1=127.0.0.1:1" --node-id 1 --tls-replication yes --tls-cert-file "$C/node.crt" \
    --tls-key-file "$C/node.key" --data-dir "$work/bad2" 2>&1)
check "--tls-replication without a CA is refused" 'echo "$out" | grep -q "tls-ca-cert-file"'
out=$(timeout 10 "$SERVER" --port 0 --tls-port "$(free_port)" --tls-cert-file "$C/node.crt" --tls-key-file "$C/other.key" \
    --tls-ca-cert-file "$C/ca.crt" --data-dir "$work/bad4" 2>&1)
check "a key that does not match the certificate is refused" 'echo "$out" | grep -q "other.key: .*mismatch"'
finish
