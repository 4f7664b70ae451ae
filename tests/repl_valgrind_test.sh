#!/usr/bin/env bash
# repl_valgrind_test.sh -- R9: build/repl_full_test (a leader and two followers
# in one process) under
#     valgrind --leak-check=full --error-exitcode=1 build/repl_full_test
# must pass all six categories and valgrind must say both
#     All heap blocks were freed -- no leaks are possible
#     ERROR SUMMARY: 0 errors from 0 contexts
# Skipped (with a message) when valgrind is not installed or the binary is a
# sanitizer build (ASan/TSan binaries cannot run under valgrind).
# Prints "N passed, M failed" for tests/run_all.sh.
set -u
BUILD=${RKV_BUILD:-${BUILD:-build}}
BIN="$BUILD/repl_full_test"
TIMEOUT_S=900 # a hung run fails instead of hanging `make check`

if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP: valgrind is not installed"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
if [ ! -x "$BIN" ]; then
    echo "FAIL: $BIN is not built (run make)"
    echo "0 passed, 1 failed"
    exit 1
fi
if grep -qa -e __asan_init -e __tsan_init "$BIN"; then
    echo "SKIP: $BIN is a sanitizer build"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

pass=0 fail=0
check() { # description, condition status
    if [ "$2" -eq 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1"
    fi
}

start=$(date +%s)
out=$(timeout "$TIMEOUT_S" valgrind --leak-check=full --error-exitcode=1 "$BIN" 2>&1)
rc=$?
secs=$(($(date +%s) - start))
# Indented, so the runner does not mistake the binary's own count for ours.
printf '%s\n' "$out" | grep -v '^==[0-9]*== *$' | sed 's/^/  /'
echo "valgrind run: exit $rc in ${secs}s"

check "valgrind exited $rc (1: valgrind errors or a failed test, 124: timeout)" "$([ $rc -eq 0 ]; echo $?)"
check "repl_full_test did not report 6 passed, 0 failed" \
    "$(printf '%s\n' "$out" | grep -qx '6 passed, 0 failed'; echo $?)"
check "no 'All heap blocks were freed -- no leaks are possible'" \
    "$(printf '%s\n' "$out" | grep -q 'All heap blocks were freed -- no leaks are possible'; echo $?)"
check "no 'ERROR SUMMARY: 0 errors from 0 contexts'" \
    "$(printf '%s\n' "$out" | grep -q 'ERROR SUMMARY: 0 errors from 0 contexts'; echo $?)"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
