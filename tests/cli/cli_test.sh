#!/usr/bin/env bash
# rkv-cli against a real single-node rkv-server (a cluster of one: it leads
# and takes writes), checked for what an operator used to redis-cli expects:
#   output: raw when stdout is not a terminal, formatted on a terminal (run
#     through a pseudo-terminal, tests/cli/pty_run.py), --raw / --no-raw, and
#     byte for byte what redis-cli 7 prints against the same server, RESP2
#     and RESP3 (-3), plus the RESP3 types rkv does not send (doubles,
#     booleans, sets, big numbers) against a redis-server when installed;
#   flags: -x, -r/-i, -n, -a/--user/--pass (a server with --requirepass),
#     -u URIs, -e, -3, --version, --help, a bad option / value (one line on
#     stderr, exit 2), --tls (and rediss://), IPv6 (-h ::1; rkv-server listens on IPv4 only, so
#     against a redis-server on ::1, and a skip for rkv-server itself);
#   modes: --pipe (10,000 SETs, then the keys are there), --scan --pattern,
#     --latency (one line and exit when not a terminal; a live line on one),
#     --latency-history, --stat (a couple of seconds, killed at a deadline),
#     --bigkeys (= redis-cli's output), --memkeys (a clear error and a skip
#     while the server has no MEMORY USAGE);
#   the prompt: help, help set, help @string, Tab completion, grey hints,
#     history in RKVCLI_HISTFILE recalled with Up in a second session, AUTH
#     not saved, the history bounded, the prompt after SELECT, reconnect
#     after the server is killed and restarted on the same port (the command
#     retried once, "not connected>" only while it is down, SELECT kept);
#   -r after a dropped connection: retried once (a fake server that closes
#     the first connection after one reply).
# A check that cannot run (no redis-cli, no redis-server, no IPv6) is counted
# as a skip, never as a pass.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
SERVER="$BUILD/rkv-server"
CLI="$BUILD/rkv-cli"
PTY="$PWD/tests/cli/pty_run.py"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; } # description, condition
skipped() { skip=$((skip + 1)); echo "SKIP: $1"; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 is needed (free_port, the pseudo-terminal helper)"; skip=1; finish
fi
. "$PWD/tests/common/lib.sh"
work=$(mktemp -d /tmp/rkv-cli-test-XXXXXX)
declare -A PID=()
cleanup() {
    for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
    for n in "${!PID[@]}"; do wait "${PID[$n]}" 2>/dev/null; done
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT
RCLI=$(command -v redis-cli || true)
RSERVER=$(command -v redis-server || true)
export RKVCLI_HISTFILE=/dev/null HOME="$work/home"
mkdir -p "$HOME"

# start_rkv NAME PORT [flags...]: (re)starts a node (same data dir) and waits
# until it answers.
start_rkv() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$work/$name"
    "$SERVER" --node-id 1 --port "$port" --data-dir "$work/$name" "$@" >>"$work/$name.log" 2>&1 &
    PID[$name]=$!
    wait_until 10 sh -c "\"$CLI\" -p $port -t 1 ping 2>/dev/null | grep -q 'PONG\|NOAUTH'"
}
stop_rkv() { kill "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null; unset "PID[$1]"; }
pty() { python3 "$PTY" "$@"; }
# The output of a pty session without the line editor's redraws (each is
# "\r", prompt, line, hint, "\x1b[0K\r\x1b[NC") and the empty lines left.
unredraw() { sed 's/\r[^\r]*\r\x1b\[[0-9]*C//g; s/\x1b\[0K//g' | grep -av '^$'; }

P=$(free_port)
start_rkv main "$P" || { bad "rkv-server starts on port $P (see $work/main.log)"; finish; }
C() { "$CLI" -p "$P" "$@"; }

# ---- output: raw off a terminal ----
echo "-- raw output (stdout not a terminal)"
C set k v >/dev/null; C set k2 "a b" >/dev/null
check "GET prints the value as it is" '[ "$(C get k)" = v ]'
check "a nil prints an empty line" '[ "$(C get nokey | od -An -c | tr -d " ")" = "\\n" ]'
check "an integer prints bare" '[ "$(C incr n)" = 1 ]'
check "an array prints one element per line, nil as an empty line" \
    '[ "$(C mget k nokey k2 | tr "\n" "|")" = "v||a b|" ]'
check "an empty array prints one empty line" '[ "$(C keys "nomatch*" | od -An -c | tr -d " ")" = "\\n" ]'
out=$(C foo 2>/dev/null); rc=$?
check "an error reply goes to stdout and exits 0, as in redis-cli 7 ($rc: $out)" \
    '[ $rc = 0 ] && [ "$out" = "ERR unknown command '"'"'foo'"'"', with args beginning with: " ]'
out=$(C -e foo 2>"$work/err"); rc=$?
check "-e: the error goes to stderr and exits 1 ($rc)" \
    '[ $rc = 1 ] && [ -z "$out" ] && grep -q "^ERR unknown command" "$work/err"'
check "-e: a normal reply still exits 0" 'C -e get k >/dev/null'
check "--no-raw formats for a terminal" '[ "$(C --no-raw get k)" = "\"v\"" ] && [ "$(C --no-raw incr n)" = "(integer) 2" ]'
check "INFO prints its text raw (no quotes, CRLF kept)" '[ "$(C info server | head -1)" = "$(printf "# Server\r")" ]'
check "piped commands at the prompt print raw" \
    '[ "$(printf "get k\nincr n\nmget k nokey\n" | C | tr "\n" "|")" = "v|3|v||" ]'

# ---- output: on a terminal ----
echo "-- formatted output (stdout a terminal)"
check "GET on a terminal is quoted" '[ "$(pty -- "$CLI" -p "$P" get k)" = "\"v\"" ]'
check "nil, integer, error on a terminal" \
    '[ "$(pty -- "$CLI" -p "$P" get nokey)" = "(nil)" ] && [ "$(pty -- "$CLI" -p "$P" exists k)" = "(integer) 1" ] &&
     pty -- "$CLI" -p "$P" foo | grep -q "^(error) ERR unknown command"'
check "an array on a terminal is numbered" \
    '[ "$(pty -- "$CLI" -p "$P" mget k nokey | tr "\n" "|")" = "1) \"v\"|2) (nil)|" ]'
check "--raw on a terminal prints raw" '[ "$(pty -- "$CLI" -p "$P" --raw get k)" = v ]'

# Byte for byte against redis-cli: same server, same command, both formats.
same_as_redis_cli() { # port, args...
    local port=$1 a b
    shift
    a=$("$RCLI" -p "$port" "$@" 2>&1; echo "rc=$?")
    b=$("$CLI" -p "$port" "$@" 2>&1; echo "rc=$?")
    [ "$a" = "$b" ] || { echo "   raw: redis-cli: $(echo "$a" | head -c 300)"; echo "   raw: rkv-cli:   $(echo "$b" | head -c 300)"; return 1; }
    a=$(pty -- "$RCLI" -p "$port" "$@" 2>&1; echo "rc=$?")
    b=$(pty -- "$CLI" -p "$port" "$@" 2>&1; echo "rc=$?")
    [ "$a" = "$b" ] || { echo "   tty: redis-cli: $(echo "$a" | head -c 300)"; echo "   tty: rkv-cli:   $(echo "$b" | head -c 300)"; return 1; }
}
if [ -z "$RCLI" ]; then
    skipped "redis-cli is not installed: no byte-for-byte comparison (apt-get install -y redis-tools)"
else
    C set 'sp ace' "x\"y\\z
w" >/dev/null
    for args in "get k" "get nokey" "get sp\\ ace" "mget k nokey k2" "keys nomatch*" "exists k" "foo bar" \
                "set k v" "-e foo" "-e get k" "--no-raw mget k k2" "--raw mget k k2" "-3 command docs get" \
                "-3 mget k nokey" "command docs set" "-3 exists k" "info keyspace" "scan 0 count 1000"; do
        eval "set -- $args"
        check "rkv-cli $args prints what redis-cli prints (raw and terminal)" 'same_as_redis_cli "$P" "$@"'
    done
fi

# RESP3 types rkv does not send: against a real redis-server.
RP=""
if [ -z "$RCLI" ] || [ -z "$RSERVER" ]; then
    skipped "redis-server / redis-cli not installed: RESP3 doubles, booleans, sets, maps not compared"
else
    RP=$(free_port)
    "$RSERVER" --port "$RP" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
    PID[redis]=$!
    if wait_until 10 sh -c "\"$RCLI\" -p $RP ping 2>/dev/null | grep -q PONG"; then
        ok
        fails=0
        for s in "return true" "return false" "return {double=3.5}" "return {map={a=1,b={1,2}}}" \
                 "return {1,{map={a={map={x=1}}}}}" "return {set={a=true,b=true}}" "return {map={}}" \
                 "return {set={}}" "return {1,{2,'x',{}},{},'y',{'a','b','c','d','e','f','g','h','i','j'}}" \
                 "return {err='MY bad'}" "return {1,{err='MY bad'}}" "return {ok='FINE'}" "return {map={a={}}}"; do
            for proto in -2 -3; do
                same_as_redis_cli "$RP" $proto eval "redis.setresp(3); $s" 0 || { fails=$((fails + 1)); echo "   ($proto $s)"; }
            done
        done
        check "RESP2/RESP3 replies of 13 scripts print as redis-cli prints them ($fails differ)" '[ $fails = 0 ]'
        "$RCLI" -p "$RP" client setname cli-test >/dev/null
        check "a RESP3 verbatim string (CLIENT INFO) prints raw on a terminal" \
            'pty -- "$CLI" -p "$RP" -3 client info | grep -q "^id=[0-9]* addr="'
        check "a RESP3 big number prints (redis-cli 7.0 cannot)" \
            '[ "$("$CLI" -p "$RP" -3 eval "redis.setresp(3); return {big_number=\"123456789012345678901234\"}" 0)" = 123456789012345678901234 ] &&
             [ "$(pty -- "$CLI" -p "$RP" -3 eval "redis.setresp(3); return {big_number=\"12\"}" 0)" = "(big number) 12" ]'
    else
        bad "redis-server starts on port $RP (see $work/redis.log)"
    fi
fi

# ---- flags ----
echo "-- flags"
check "-x: the last argument from stdin, as it is" \
    '[ "$(printf "a b\nc" | C -x set xk)" = OK ] && [ "$(C get xk)" = "$(printf "a b\nc")" ]'
C del rk >/dev/null
check "-r 5: five replies" '[ "$(C -r 5 incr rk | tr "\n" " ")" = "1 2 3 4 5 " ]'
t0=$(date +%s%N); C -r 3 -i 0.3 incr rk >/dev/null; t1=$(date +%s%N)
check "-r 3 -i 0.3 waits 0.3 s between repeats ($(( (t1 - t0) / 1000000 )) ms)" '[ $(( (t1 - t0) / 1000000 )) -ge 550 ]'
check "-n 2: SELECT after connecting" \
    '[ "$(C -n 2 set dbk two)" = OK ] && [ "$(C -n 2 get dbk)" = two ] && [ -z "$(C get dbk)" ]'
check "-n with a bad number is refused" '! C -n abc ping 2>/dev/null'
check "--version says the server's version" \
    '[ "$("$CLI" --version)" = "rkv-cli $(C info server | tr -d "\r" | sed -n "s/^rkv_version://p")" ]'
out=$("$CLI" --help 2>"$work/err"); rc=$?
check "--help: usage on stdout, exit 0, 'Usage:' first, options indented by two spaces" \
    '[ $rc = 0 ] && [ ! -s "$work/err" ] && [ "$(echo "$out" | head -c 7)" = "Usage: " ] &&
     echo "$out" | grep -q "^  -h HOST  " && echo "$out" | grep -q "^  -a, --pass PASSWORD  " &&
     [ $(echo "$out" | grep -c "^  -") -ge 30 ]'
for bad_args in "--frob" "-p" "-p abc ping" "-r x ping" "-u http://x ping" "-i -1 ping" "--pattern"; do
    out=$(eval "\"$CLI\" $bad_args" 2>"$work/err" </dev/null); rc=$?
    check "'rkv-cli $bad_args': one line on stderr naming it, exit 2 ($rc: $(head -c 120 "$work/err"))" \
        '[ $rc = 2 ] && [ -z "$out" ] && [ "$(wc -l <"$work/err")" = 1 ] &&
         grep -q -- "${bad_args%% *}" "$work/err" && grep -q "(try --help)" "$work/err"'
done
out=$("$CLI" -p "$(free_port)" ping 2>&1); rc=$?
check "no server: 'Could not connect', exit 1 ($rc: $out)" '[ $rc = 1 ] && echo "$out" | grep -q "^Could not connect to rkv at 127.0.0.1:"'
check "cluster check on a cluster of one: 0/0 followers, exit 1" \
    '[ "$(C cluster check)" = "0/0 followers responded" ] && ! C cluster check >/dev/null'

# -a, --user, --pass, -u against a server with a password
AP=$(free_port)
if start_rkv auth "$AP" --requirepass s3cret; then
    ok
    A() { "$CLI" -p "$AP" "$@"; }
    check "no password: NOAUTH" 'A ping | grep -q "^NOAUTH"'
    check "-a: AUTH after connecting" '[ "$(A -a s3cret --no-auth-warning ping 2>&1)" = PONG ]'
    check "-a without --no-auth-warning warns on stderr" \
        'A -a s3cret ping 2>&1 >/dev/null | grep -q "^Warning: Using a password"'
    check "--user default --pass" '[ "$(A --user default --pass s3cret --no-auth-warning ping 2>&1)" = PONG ]'
    check "a wrong password: AUTH failed on stderr" 'A -a nope --no-auth-warning ping 2>&1 | grep -q "AUTH failed: WRONGPASS"'
    check "REDISCLI_AUTH" '[ "$(REDISCLI_AUTH=s3cret A ping)" = PONG ]'
    check "--askpass reads the password from stdin" '[ "$(echo s3cret | A --askpass ping 2>/dev/null)" = PONG ]'
    check "-u redis://:pass@host:port/3" \
        '[ "$("$CLI" -u "redis://:s3cret@127.0.0.1:$AP/3" --no-auth-warning set uk 3)" = OK ] &&
         [ "$(A -a s3cret --no-auth-warning -n 3 get uk)" = 3 ] && [ -z "$(A -a s3cret --no-auth-warning get uk)" ]'
    check "-u rkv://user:pass@host:port, percent-decoded" \
        '[ "$("$CLI" -u "rkv://default:s3c%72et@127.0.0.1:$AP" --no-auth-warning ping)" = PONG ]'
    check "-u with a password warns like -a" '"$CLI" -u "redis://:s3cret@127.0.0.1:$AP" ping 2>&1 >/dev/null | grep -q "^Warning"'
    echo "-- the prompt with a password"
    printf 'history: old line\n' >"$work/hist-auth"
    out=$(RKVCLI_HISTFILE="$work/hist-auth" pty -e "$AP> " -s 'auth s3cret\r' -e 'OK' -s 'get uk\r' -e '\(nil\)' \
          -s 'hello 3 auth default s3cret\r' -e 'proto' -s 'ping\r' -e 'PONG' -s '\x04' -- "$CLI" -p "$AP" | unredraw)
    check "AUTH and HELLO ... AUTH are not written to the history file" \
        '! grep -qi "auth\|s3cret" "$work/hist-auth" && grep -qx "get uk" "$work/hist-auth" && grep -qx "ping" "$work/hist-auth"'
    stop_rkv auth
else
    bad "rkv-server --requirepass starts (see $work/auth.log)"
fi

# IPv6: rkv-server itself listening on ::1 (skipped where the machine has no
# IPv6 loopback), then a redis-server bound to ::1. SHUTDOWN: the closed
# connection is its success (exit 0, nothing printed), never retried.
V6P=$(free_port)
mkdir -p "$work/v6"
"$SERVER" --node-id 1 --port "$V6P" --bind ::1 --data-dir "$work/v6" >"$work/v6.log" 2>&1 &
PID[v6]=$!
wait_until 10 sh -c "\"$CLI\" -h ::1 -p $V6P -t 1 ping 2>/dev/null | grep -q PONG || ! kill -0 ${PID[v6]} 2>/dev/null"
if kill -0 "${PID[v6]}" 2>/dev/null; then
    check "-h ::1 reaches rkv-server on IPv6" '[ "$("$CLI" -h ::1 -p "$V6P" ping)" = PONG ]'
    check "a write and a read over IPv6" '[ "$("$CLI" -h ::1 -p "$V6P" set v6 yes)" = OK ] && [ "$("$CLI" -h ::1 -p "$V6P" get v6)" = yes ]'
    check "CLIENT INFO shows an IPv6 peer as Redis does ([::1]:port)" '"$CLI" -h ::1 -p "$V6P" client info | grep -q "addr=\[::1\]:[0-9]* laddr=\[::1\]:$V6P "'
    out=$("$CLI" -h ::1 -p "$V6P" shutdown 2>&1); rc=$?
    check "SHUTDOWN: exit 0, nothing printed" '[ $rc = 0 ] && [ -z "$out" ]'
    check "SHUTDOWN: the server exits" 'wait_until 10 sh -c "! kill -0 ${PID[v6]} 2>/dev/null"'
    wait "${PID[v6]}" 2>/dev/null; unset "PID[v6]"
else
    wait "${PID[v6]}" 2>/dev/null; unset "PID[v6]"
    skipped "rkv-server cannot listen on ::1 ($(grep -o "invalid bind address.*" "$work/v6.log" | head -c 120)): -h ::1 against rkv-server not run"
fi
if [ -n "$RP" ] && ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
    V6R=$(free_port)
    "$RSERVER" --port "$V6R" --bind ::1 --save '' --appendonly no >"$work/redis6.log" 2>&1 &
    PID[redis6]=$!
    if wait_until 10 sh -c "\"$RCLI\" -h ::1 -p $V6R ping 2>/dev/null | grep -q PONG"; then
        check "-h ::1: rkv-cli connects over IPv6 (to a redis-server bound to ::1 only)" \
            '[ "$("$CLI" -h ::1 -p "$V6R" ping)" = PONG ] && [ "$("$CLI" -u "redis://[::1]:$V6R/2" set v6 yes)" = OK ] &&
             [ "$("$CLI" -h ::1 -p "$V6R" -n 2 get v6)" = yes ]'
        check "the prompt shows an IPv6 address in brackets" \
            'pty -e "\[::1\]:$V6R> " -s "quit\r" -- "$CLI" -h ::1 -p "$V6R" >/dev/null'
    else
        bad "redis-server --bind ::1 starts (see $work/redis6.log)"
    fi
else
    skipped "no redis-server or no IPv6 loopback: -h ::1 not run"
fi

# TLS (--tls, --cacert, --cert, --key, rediss://)
if ! command -v openssl >/dev/null 2>&1 || ! tests/tools/gen_certs.sh "$work/certs" >/dev/null 2>&1; then
    skipped "openssl or tests/tools/gen_certs.sh unavailable: --tls not run"
else
    TP=$(free_port) TTP=$(free_port)
    T="--cacert $work/certs/ca.crt --cert $work/certs/client.crt --key $work/certs/client.key"
    if start_rkv tls "$TP" --tls-port "$TTP" --tls-cert-file "$work/certs/node.crt" \
        --tls-key-file "$work/certs/node.key" --tls-ca-cert-file "$work/certs/ca.crt" --tls-auth-clients yes; then
        check "--tls with a client certificate: SET then GET" \
            '[ "$("$CLI" -p "$TTP" --tls $T set tk tv)" = OK ] && [ "$("$CLI" -u "rediss://127.0.0.1:$TTP" $T get tk)" = tv ]'
        check "--tls --pipe: 3,000 SETs" \
            '[ "$(seq 1 3000 | sed "s/.*/SET t:& &/" | "$CLI" -p "$TTP" --tls $T --pipe | tail -1)" = "errors: 0, replies: 3000" ]'
        check "--tls without the client certificate the server requires: refused, exit 1" \
            '! "$CLI" -p "$TTP" --tls --cacert "$work/certs/ca.crt" ping >/dev/null 2>&1'
        stop_rkv tls
    else
        skipped "rkv-server with --tls-port does not start (built without OpenSSL? see $work/tls.log)"
    fi
fi

# ---- modes ----
echo "-- modes"
seq 1 10000 | sed 's/.*/SET p:& &/' >"$work/pipe.txt"
out=$(C --pipe <"$work/pipe.txt" 2>"$work/err"); rc=$?
check "--pipe: 10,000 inline SETs, redis-cli's summary, exit 0 ($rc: $(echo "$out" | tail -1))" \
    '[ $rc = 0 ] && [ "$out" = "All data transferred. Waiting for the last reply...
Last reply received from server.
errors: 0, replies: 10000" ]'
check "--pipe: the 10,000 keys are there" '[ "$(C --scan --pattern "p:*" | wc -l)" = 10000 ] && [ "$(C get p:9999)" = 9999 ]'
out=$(printf '*3\r\n$3\r\nSET\r\n$2\r\npr\r\n$1\r\n1\r\n*1\r\n$4\r\nFROB\r\n*2\r\n$4\r\nINCR\r\n$2\r\npr\r\n' |
      C --pipe 2>"$work/err"); rc=$?
check "--pipe: RESP input with an error: counted, printed on stderr, exit 1 ($rc)" \
    '[ $rc = 1 ] && [ "$(echo "$out" | tail -1)" = "errors: 1, replies: 3" ] && grep -q "^ERR unknown command .FROB" "$work/err" &&
     [ "$(C get pr)" = 2 ]'
want=$(seq 10 19 | sed 's/^/p:/' | sort)
check "--scan --pattern 'p:1?': exactly those keys" '[ "$(C --scan --pattern "p:1?" | sort)" = "$want" ]'
check "--scan --count 1000 lists every key once" \
    '[ "$(C --scan --count 1000 | sort | uniq | wc -l)" = "$(C dbsize)" ] && [ "$(C --scan --count 1000 | wc -l)" = "$(C dbsize)" ]'
check "--scan on a terminal quotes the keys" 'pty -- "$CLI" -p "$P" --scan --pattern "sp*" | grep -qx "\"sp ace\""'
t0=$(date +%s%N); out=$(timeout 10 "$CLI" -p "$P" --latency); rc=$?; t1=$(date +%s%N)
check "--latency off a terminal: one 'min max avg samples' line after a second, exit 0 ($rc: $out)" \
    '[ $rc = 0 ] && echo "$out" | grep -Eqx "[0-9]+ [0-9]+ [0-9]+\.[0-9]{2} [0-9]+" && [ $(echo "$out" | wc -l) = 1 ] &&
     [ $(( (t1 - t0) / 1000000 )) -ge 1000 ] && [ $(( (t1 - t0) / 1000000 )) -lt 5000 ]'
out=$(pty -t 1.5 -- "$CLI" -p "$P" --latency)
check "--latency on a terminal: a live 'min: X, max: Y, avg: Z (N samples)' line" \
    'echo "$out" | grep -Eq "min: [0-9]+, max: [0-9]+, avg: [0-9]+\.[0-9]{2} \([0-9]+ samples\)"'
out=$(pty -t 2.6 -- "$CLI" -p "$P" --latency-history -i 1)
check "--latency-history -i 1: a window line per second" \
    '[ $(echo "$out" | grep -Ec "\([0-9]+ samples\) -- 1\.[0-9]{2} seconds range") -ge 2 ]'
out=$(timeout 2.6 "$CLI" -p "$P" --stat)
keys=$(( $(C info keyspace | sed -n 's/^db[0-9]*:keys=\([0-9]*\).*/\1/p' | paste -sd+) ))
check "--stat: redis-cli's header and a line a second with keys=$keys ($(echo "$out" | sed -n 3p))" \
    '[ "$(echo "$out" | head -1)" = "------- data ------ --------------------- load -------------------- - child -" ] &&
     [ "$(echo "$out" | sed -n 2p)" = "keys       mem      clients blocked requests            connections          " ] &&
     [ $(echo "$out" | grep -Ec "^$keys +[0-9.]+[BKMG] +[0-9]+ +[0-9]+ +[0-9]+ \(\+[0-9]+\) +[0-9]+ *$") -ge 2 ]'
C set big "$(head -c 5000 /dev/zero | tr '\0' x)" >/dev/null
out=$(C --bigkeys 2>&1); rc=$?
check "--bigkeys: the biggest string and the summary ($rc)" \
    '[ $rc = 0 ] && echo "$out" | grep -qx "Biggest string found '"'"'\"big\"'"'"' has 5000 bytes" &&
     echo "$out" | grep -qx "Sampled $(C dbsize) keys in the keyspace!" &&
     echo "$out" | grep -Eqx "$(C dbsize) strings with [0-9]+ bytes \(100\.00% of keys, avg size [0-9.]+\)"'
if [ -n "$RCLI" ]; then
    check "--bigkeys prints what redis-cli --bigkeys prints" '[ "$(C --bigkeys 2>&1)" = "$("$RCLI" -p "$P" --bigkeys 2>&1)" ]'
else
    skipped "redis-cli not installed: --bigkeys not compared"
fi
out=$(C --memkeys 2>&1); rc=$?
if echo "$out" | grep -q "needs MEMORY USAGE"; then
    check "--memkeys without MEMORY USAGE on the server: one clear error, exit 1" \
        '[ $rc = 1 ] && [ $(echo "$out" | grep -c "rkv-cli: --memkeys needs MEMORY USAGE, which this server does not have") = 1 ]'
    skipped "--memkeys sizes: the server has no MEMORY USAGE yet"
else
    check "--memkeys: the biggest string by MEMORY USAGE ($rc)" \
        '[ $rc = 0 ] && echo "$out" | grep -q "^Biggest string found '"'"'\"big\"'"'"' has [0-9]* bytes" &&
         echo "$out" | grep -Eq "^$(C dbsize) strings with [0-9]+ bytes"'
fi

# -r after a dropped connection: a fake server closes the first connection
# after its first reply; the second PING must be retried on a new one.
FP=$(free_port)
python3 - "$FP" >"$work/fake.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); s.settimeout(20)
print("listening", flush=True)
replies_on_first = 1
conns = 0
while conns < 2:
    c, _ = s.accept(); conns += 1
    buf, sent = b"", 0
    while True:
        d = c.recv(4096)
        if not d:
            break
        buf += d.lower()
        while b"ping\r\n" in buf:
            buf = buf.split(b"ping\r\n", 1)[1]
            c.sendall(b"+PONG\r\n"); sent += 1
        if conns == 1 and sent >= replies_on_first:
            c.close()
            break
print("connections", conns, flush=True)
PY
PID[fake]=$!
wait_until 5 grep -q listening "$work/fake.log"
out=$("$CLI" -p "$FP" -r 3 -i 0.2 ping 2>&1); rc=$?
wait "${PID[fake]}" 2>/dev/null; unset "PID[fake]"
check "-r 3 across a dropped connection: the command is retried once on a new one ($rc: $(echo $out))" \
    '[ $rc = 0 ] && [ "$(echo $out)" = "PONG PONG PONG" ] && grep -q "connections 2" "$work/fake.log"'

# ---- the prompt ----
echo "-- the prompt (through a pseudo-terminal)"
out=$(pty -e "$P> " -s 'help\r' -e 'nohints' -s 'help set\r' -e 'group:' -s 'help @string\r' -e 'SUBSTR' -w 200 \
      -s 'quit\r' -- "$CLI" -p "$P" | unredraw)
check "help: the general text" 'echo "$out" | grep -q "^To get help about rkv commands type:" && echo "$out" | grep -q "^rkv-cli 0"'
check "help set: syntax, summary, since, group as redis-cli prints them" \
    'echo "$out" | grep -Fq "$(printf "  \033[1mSET\033[0m \033[90mkey value [NX|XX] [GET] [EX seconds|")" &&
     echo "$out" | grep -Fq "$(printf "  \033[33msummary:\033[0m Set the string value of a key")" &&
     echo "$out" | grep -Fq "$(printf "  \033[33mgroup:\033[0m string")"'
check "help @string: the string commands, not the others" \
    'echo "$out" | grep -Fq "$(printf "\033[1mGETRANGE\033[0m")" && echo "$out" | grep -Fq "$(printf "\033[1mAPPEND\033[0m")" &&
     ! echo "$out" | grep -Fq "$(printf "\033[1mDEL\033[0m")"'
if [ -n "$RCLI" ]; then
    a=$(pty -e "$P> " -s 'help get\r' -e 'group:' -w 200 -s 'quit\r' -- "$RCLI" -p "$P" | grep -a 'summary\|since\|group')
    b=$(pty -e "$P> " -s 'help get\r' -e 'group:' -w 200 -s 'quit\r' -- "$CLI" -p "$P" | grep -a 'summary\|since\|group')
    check "help get: summary/since/group lines identical to redis-cli's" '[ -n "$a" ] && [ "$a" = "$b" ]'
fi
out=$(pty -e "$P> " -s 'SE\t' -w 300 -s '\x1b' -w 100 -s '\x15getr\t' -w 300 -s ' k 0 0\r' -e '"v"' -s 'set ' -w 300 -s '\x15quit\r' -- "$CLI" -p "$P")
check "Tab: 'SE' completes to SELECT first" 'echo "$out" | grep -aq "> SELECT"'
check "Tab: 'getr' completes to getrange (typed case), and the command runs" \
    'echo "$out" | grep -aq "> getrange k 0 0" && echo "$out" | unredraw | grep -q "^\"v\"$"'
check "hints: 'set ' shows the arguments in grey" 'echo "$out" | grep -aFq "$(printf "set \033[0;90;49mkey value [NX|XX]")"'
H="$work/hist"
printf '%s\n' $(seq 1 1500 | sed 's/^/echo old/') >"$H"
RKVCLI_HISTFILE="$H" pty -e "$P> " -s 'set hk recalled\r' -e 'OK' -s 'get hk\r' -e '"recalled"' -s 'auth nosuchpass\r' -e 'ERR' \
    -s 'select 2\r' -e "$P\[2\]> " -s '\x04' -- "$CLI" -p "$P" >"$work/s1.out"
check "the prompt shows the db after SELECT 2" 'grep -aq "127.0.0.1:$P\[2\]> " "$work/s1.out"'
check "history: saved to RKVCLI_HISTFILE, bounded to 1000 lines, AUTH left out" \
    '[ "$(wc -l <"$H")" = 1000 ] && [ "$(tail -3 "$H" | tr "\n" "|")" = "set hk recalled|get hk|select 2|" ] && ! grep -q "^auth" "$H"'
out=$(RKVCLI_HISTFILE="$H" pty -e "$P> " -s '\x1b[A\x1b[A\r' -e '"recalled"' -s '\x04' -- "$CLI" -p "$P" | unredraw)
check "history: Up Up in a second session recalls 'get hk'" 'echo "$out" | grep -q "^\"recalled\"$"'
RKVCLI_HISTFILE= pty -e "$P> " -s 'ping\r' -e 'PONG' -s '\x04' -- "$CLI" -p "$P" >/dev/null
check "history: ~/.rkvcli_history by default" '[ "$(cat "$HOME/.rkvcli_history")" = ping ]'
RKVCLI_HISTFILE=/dev/null pty -e "$P> " -s 'echo nothere\r' -e 'nothere' -s '\x04' -- "$CLI" -p "$P" >/dev/null
check "history: RKVCLI_HISTFILE=/dev/null keeps nothing" '[ "$(cat "$HOME/.rkvcli_history")" = ping ]'
out=$(pty -e 'not connected> ' -s 'quit\r' -- "$CLI" -p "$(free_port)" 2>&1)
check "no server at start: a message and 'not connected>'" 'echo "$out" | grep -q "^Could not connect to rkv at"'

# Reconnect: kill the server under the prompt, restart it on the same port.
cat >"$work/ctl.sh" <<EOF
case \$1 in
stop) kill \$(cat "$work/rc.pid"); while kill -0 \$(cat "$work/rc.pid") 2>/dev/null; do sleep 0.05; done ;;
start) "$SERVER" --node-id 1 --port $P --data-dir "$work/main" >>"$work/main.log" 2>&1 & echo \$! >"$work/rc.pid"
       for i in \$(seq 200); do "$CLI" -p $P -t 1 ping 2>/dev/null | grep -q PONG && exit 0; sleep 0.05; done; exit 1 ;;
esac
EOF
stop_rkv main
bash "$work/ctl.sh" start || bad "rkv-server restarts on port $P"
out=$(pty -t 15 -e "$P> " -s 'set rc 1\r' -e 'OK' -x "bash $work/ctl.sh stop && bash $work/ctl.sh start" \
      -s 'get rc\r' -e '"1"' -e "$P> " \
      -x "bash $work/ctl.sh stop" -s 'get rc\r' -e 'not connected> ' \
      -x "bash $work/ctl.sh start" -s 'get rc\r' -e '"1"' -e "$P> " \
      -s 'select 3\r' -e "\[3\]> " -x "bash $work/ctl.sh stop && bash $work/ctl.sh start" -s 'set in3 yes\r' -e 'OK' -e "\[3\]> " \
      -s 'quit\r' -- "$CLI" -p "$P" 2>&1); rc=$?
clean=$(echo "$out" | unredraw)
printf '%s\n' "$out" >"$work/reconnect.out"
check "reconnect: the session survives the restarts ($rc)" '[ $rc = 0 ]'
check "reconnect: the command after a restart is retried on a new connection, no error shown ($(echo $clean | head -c 200))" \
    '[ "$(echo "$clean" | head -4 | tr "\n" "|")" = "OK|\"1\"|Could not connect to rkv at 127.0.0.1:$P: Connection refused|\"1\"|" ]'
check "reconnect: 'not connected>' while the server is down, and only then" \
    '[ $(echo "$out" | grep -ao "not connected> " | sort -u | wc -l) = 1 ] &&
     echo "$clean" | grep -q "^Could not connect to rkv at 127.0.0.1:$P: Connection refused"'
check "reconnect: SELECT 3 is redone on the new connection" '[ "$(C -n 3 get in3)" = yes ] && [ -z "$(C get in3)" ]'
kill "$(cat "$work/rc.pid")" 2>/dev/null; wait "$(cat "$work/rc.pid")" 2>/dev/null
finish
