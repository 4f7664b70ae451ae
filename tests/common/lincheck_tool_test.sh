#!/usr/bin/env bash
# build/tools/lincheck's contract with scripts: exit 0 for a linearizable
# history file, 1 for one that is not (with the operations involved
# printed), 2 for bad input (naming the line) and 3 for undecided (a key
# too big for the limits). The checker itself is tested by
# build/tests/common/lincheck_test; this only pins the tool's interface.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
TOOL="$BUILD/tools/lincheck"
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
work=$(mktemp -d /tmp/rkv-lincheck-tool-XXXXXX)
trap 'rm -rf "$work"' EXIT
run() { "$TOOL" "$@" > "$work/out" 2>&1; echo $? > "$work/rc"; }
rc() { cat "$work/rc"; }

printf '# a comment\n1 write k a 0 10 ok\n2 read k - 20 30 ok a\n3 write k b 40 - unknown\n' > "$work/good"
run "$work/good"
ok "a linearizable history exits 0" '[ "$(rc)" = 0 ]'
ok "and says so" 'grep -q "^lincheck: linearizable" "$work/out"'

printf '1 write k a 0 10 ok\n1 write k b 20 30 ok\n2 read k - 40 50 ok a\n' > "$work/stale"
run "$work/stale"
ok "a stale read exits 1" '[ "$(rc)" = 1 ]'
ok "naming the stale read" 'grep -q "client 2 read -> a" "$work/out"'

printf '1 write k a 0 10 ok\n2 read k - 20 30 ok\n' > "$work/bad"
run "$work/bad"
ok "bad input exits 2" '[ "$(rc)" = 2 ]'
ok "naming the line" 'grep -q "bad:2:" "$work/out"'
run
ok "no file is a usage error (2)" '[ "$(rc)" = 2 ]'
{ printf '1 write k '; head -c 500000 /dev/zero | tr '\0' a; printf ' 0 10 ok\n'; } > "$work/long"
run "$work/long"
ok "a line past LC_LINE_MAX is bad input (2), not a big allocation" '[ "$(rc)" = 2 ] && grep -q "LC_LINE_MAX" "$work/out"'
run "$work/missing"
ok "a missing file is bad input (2)" '[ "$(rc)" = 2 ]'

# 10 concurrent writes of two values, reads alternating between them, and a
# last read of a value never written: with values that repeat no write is
# pinned by its reads, so the search walks about 2^10 sets (20 would take
# the default limits' whole memory: WGL is exponential in the operations in
# flight, which is why the limits exist).
for i in $(seq 0 9); do echo "$i write k v$((i % 2)) 0 1000 ok"; done > "$work/big"
for i in $(seq 0 9); do echo "$((100 + i)) read k - $((10 + 40 * i)) $((30 + 40 * i)) ok v$(( (i + 1) % 2 ))"; done >> "$work/big"
echo "200 read k - 2000 2010 ok never" >> "$work/big"
run --steps 100 "$work/big"
ok "a key past --steps exits 3 (undecided)" '[ "$(rc)" = 3 ]'
run "$work/big"
ok "and with the default limits is decided: not linearizable (1)" '[ "$(rc)" = 1 ]'

"$TOOL" - < "$work/good" > /dev/null 2>&1
ok "reads stdin as -" '[ $? = 0 ]'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
