#!/usr/bin/env bash
# Runs every test binary under $BUILD/tests, every process-level script
# tests/*/*_test.sh and tests/*_test.sh, then tests/test_harness.sh, adds up
# their "N passed, M failed[, K skipped]" lines and prints the totals. Exit
# status is non-zero if any test failed, any binary crashed, or any test
# printed no summary line (a test that says nothing has not passed). A skip
# is counted as a skip, never as a pass.
#
#   ONLY=unit      unit and in-process binaries only (not *_proc_test)
#   ONLY=threaded  the same set, used by `make tsan`
#   WRAP="cmd"     prefix for each unit binary (valgrind)
set -u
BUILD=${BUILD:-build}
ONLY=${ONLY:-all}
WRAP=${WRAP:-}
export RKV_BUILD="$BUILD"
total_pass=0 total_fail=0 total_skip=0 crashed=() silent=()

run_one() { # name, command...
    local name=$1; shift
    local out rc
    echo "== $name"
    out=$("$@" 2>&1); rc=$?
    # Every failure line, even when the tail below would cut it off.
    printf '%s\n' "$out" | grep -E '^(FAIL|ERROR)' | head -n 20 | sed 's/^/   /'
    printf '%s\n' "$out" | grep -v '^$' | sed 's/^/   /' | tail -n 40
    local line p f
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' | tail -n 1)
    f=0
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
        k=0
        case "$line" in *skipped) k=${line##*failed, }; k=${k%% skipped} ;; esac
        total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + k))
    else
        silent+=("$name")
    fi
    if [ $rc -ne 0 ] && [ -n "$line" ] && [ "$f" = 0 ]; then
        crashed+=("$name (exit $rc)")
    fi
}

for bin in $(find "$BUILD/tests" -type f -perm -u+x 2>/dev/null | sort); do
    case "$bin" in
        *_proc_test) [ "$ONLY" = all ] || continue; run_one "${bin#"$BUILD"/}" "$bin" ;;
        *) if [ -n "$WRAP" ]; then run_one "${bin#"$BUILD"/}" $WRAP "$bin"; else run_one "${bin#"$BUILD"/}" "$bin"; fi ;;
    esac
done

# $BUILD/repl_full_test (three nodes in one process): in `make check` the
# harness runs it and tests/repl_valgrind_test.sh runs it under valgrind; the
# unit and threaded sets (make valgrind, make tsan) run it here.
if [ "$ONLY" != all ] && [ -x "$BUILD/repl_full_test" ]; then
    if [ -n "$WRAP" ]; then run_one repl_full_test $WRAP "$BUILD/repl_full_test"; else run_one repl_full_test "$BUILD/repl_full_test"; fi
fi

if [ "$ONLY" = all ]; then
    for sh in $(find tests -name '*_test.sh' | sort); do
        run_one "$sh" bash "$sh"
    done
    # The brief's regression harness: its name is the brief's, not *_test.sh.
    run_one tests/test_harness.sh bash tests/test_harness.sh
fi

echo
for c in "${crashed[@]+"${crashed[@]}"}"; do echo "ERROR: $c exited non-zero without reporting a failure"; done
for c in "${silent[@]+"${silent[@]}"}"; do echo "ERROR: $c printed no 'N passed, M failed' summary line"; done
echo "TOTAL: $total_pass passed, $((total_fail + ${#crashed[@]} + ${#silent[@]})) failed, $total_skip skipped"
[ $total_fail -eq 0 ] && [ ${#crashed[@]} -eq 0 ] && [ ${#silent[@]} -eq 0 ]
