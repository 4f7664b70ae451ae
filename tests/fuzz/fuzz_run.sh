#!/usr/bin/env bash
# Runs the libFuzzer targets built by `make fuzz` (`make fuzz-run` calls it).
#
#   tests/fuzz/fuzz_run.sh [SECONDS] [TARGET ...]
#
# Each target runs SECONDS (default $FUZZ_SECONDS, else 60) on a fresh copy
# of tests/fuzz/corpus/<target>/ in $FUZZ_BUILD/run/<target>/, so inputs the
# fuzzer finds never land in the repository. FUZZ_JOBS targets run at once
# (default 1; this is a shared 2-core machine, so at most 2). Crashes,
# leaks and timeouts are written to $FUZZ_BUILD/crashes/<target>/: minimise
# one with `build-fuzz/fuzz_<target> -minimize_crash=1 -runs=100000 FILE`,
# add it to the corpus as crash-<what>, fix the cause. Prints one summary
# line per target (executions, corpus size, crashes) and exits non-zero if
# any target crashed.
set -u
cd "$(dirname "$0")/../.."
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${1:-${FUZZ_SECONDS:-60}}
[ $# -gt 0 ] && shift
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(resp wal_record repl_frame checkpoint config)
JOBS=${FUZZ_JOBS:-1}

run_target() { # target
    local t=$1 dir="$FUZZ_BUILD/run/$1" crashes="$FUZZ_BUILD/crashes/$1"
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$crashes"
    cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
    # -timeout: an input that takes 10 s is a hang, reported like a crash.
    # TMPDIR: the checkpoint and config targets rewrite a temp file for every
    # input; on tmpfs that costs a tenth of what it does on disk.
    local tmp=${FUZZ_TMPDIR:-/dev/shm}
    [ -d "$tmp" ] && [ -w "$tmp" ] || tmp=$dir
    TMPDIR="$tmp" "$FUZZ_BUILD/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$dir/corpus" \
        >"$dir/log" 2>&1
    echo $? >"$dir/rc"
}

running=0
for t in "${TARGETS[@]}"; do
    [ -x "$FUZZ_BUILD/fuzz_$t" ] || { echo "missing $FUZZ_BUILD/fuzz_$t: run make fuzz"; exit 2; }
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
    echo "fuzzing $t for ${SECONDS_EACH}s (log: $FUZZ_BUILD/run/$t/log)"
    run_target "$t" &
    running=$((running + 1))
done
wait

failed=0
for t in "${TARGETS[@]}"; do
    dir="$FUZZ_BUILD/run/$t"
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/log" | tail -n 1 | awk '{print $2}')
    ncrash=$(find "$FUZZ_BUILD/crashes/$t" -type f | wc -l)
    printf '%-11s %12s execs in %ss, corpus %s files, rc %s, %s crash files\n' "$t" \
        "${execs:-?}" "$SECONDS_EACH" "$(ls "$dir/corpus" | wc -l)" "$(cat "$dir/rc")" "$ncrash"
    [ "$(cat "$dir/rc")" = 0 ] || failed=1
done
exit $failed
