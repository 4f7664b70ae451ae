#!/usr/bin/env bash
# tests/run_all.sh counts honestly (issue 10 item 18): run on a build folder
# of fake test binaries, it must count a skip as a skip (never a pass), fail
# on a binary that exits 0 without its "N passed, M failed" line, fail on a
# crash that reported no failure, and print the totals as its last line.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
work=$(mktemp -d /tmp/rkv-runner-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tests/x"
fake() { # name, body
    printf '#!/bin/sh\n%s\n' "$2" > "$work/tests/x/$1"
    chmod +x "$work/tests/x/$1"
}
run() { BUILD="$work" ONLY=unit bash "${RUN_ALL:-tests/run_all.sh}" > "$work/out" 2>&1; echo $? > "$work/rc"; }
last() { tail -n 1 "$work/out"; }

fake a_good 'echo "3 passed, 0 failed"'
fake b_skips 'echo "1 passed, 0 failed, 2 skipped"'
run
ok "passes and skips are counted apart ($(last))" '[ "$(last)" = "TOTAL: 4 passed, 0 failed, 2 skipped" ]'
ok "a run with skips and no failure passes" '[ "$(cat "$work/rc")" = 0 ]'

fake c_silent 'exit 0'
run
ok "a binary with no summary line is a failure ($(last))" '[ "$(last)" = "TOTAL: 4 passed, 1 failed, 2 skipped" ]'
ok "and the run fails" '[ "$(cat "$work/rc")" != 0 ]'
ok "naming it" 'grep -q "c_silent printed no" "$work/out"'
rm "$work/tests/x/c_silent"

fake d_crash 'echo "2 passed, 0 failed"; exit 3'
run
ok "a crash after a clean summary is a failure ($(last))" '[ "$(last)" = "TOTAL: 6 passed, 1 failed, 2 skipped" ]'
ok "and the run fails" '[ "$(cat "$work/rc")" != 0 ]'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
