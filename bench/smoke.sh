#!/usr/bin/env bash
# bench/smoke.sh -- every benchmark once at a tiny size (make bench-smoke).
#
# Not a measurement and not part of `make check`: it proves that each script
# in bench/ still starts its servers, drives its workload and prints the
# numbers it is read for, so none of them rots between performance issues.
# A script that fails, or whose output lacks its numbers, fails the run.
#
#   bench/smoke.sh            (BUILD=build by default)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$(mktemp -d /tmp/rkv-bench-smoke-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $1"; }
bad() { fails=$((fails + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && tail -n 20 "$2" | sed 's/^/     /'; }
# run NAME LOG CHECK-REGEX CMD...: runs CMD (output to LOG), then wants REGEX in LOG.
run() {
    local name=$1 log=$2 want=$3; shift 3
    local t0; t0=$(date +%s)
    if ! "$@" > "$log" 2>&1; then bad "$name (exit status)" "$log"; return; fi
    if ! grep -Eq "$want" "$log"; then bad "$name (no '$want' in its output)" "$log"; return; fi
    ok "$name ($(( $(date +%s) - t0 )) s)"
}
make -s -j2 BUILD="$BUILD" "$BUILD/rkv-server" "$BUILD/rkv-cli" "$BUILD/rkv-bench" >/dev/null || exit 1

run "rkv-bench storage" "$OUT/storage.log" 'fdatasyncs/s=[0-9]' \
    bash -c "mkdir -p $OUT/storage && $BUILD/rkv-bench storage --records 5000 --batch 64 --dir $OUT/storage"
P1=$((${BASE_PORT:-21300} + 800))
run "rkv-bench SET/GET against one node" "$OUT/bench.log" 'GET: [0-9.]+ req/s' bash -c "
    '$BUILD/rkv-server' --port $P1 --data-dir '$OUT/one' --log-level warn &
    pid=\$!; trap 'kill \$pid 2>/dev/null; wait \$pid 2>/dev/null' EXIT
    for _ in \$(seq 100); do '$BUILD/rkv-cli' -p $P1 ping >/dev/null 2>&1 && break; sleep 0.05; done
    '$BUILD/rkv-bench' --quiet -p $P1 -c 4 -n 2000 && '$BUILD/rkv-bench' --quiet -p $P1 -c 4 -n 2000 --mix get"
# compare.sh at smoke size: every workload of the table, Redis and etcd if installed.
run "bench/compare.sh (SMOKE=1 --quick)" "$OUT/compare.log" '^\| SET, 50 clients, quorum durable vs Redis SET\+WAIT 1, no persistence \| [0-9.]+ req/s' \
    env SMOKE=1 BUILD="$BUILD" BASE_PORT=${BASE_PORT:-21300} bench/compare.sh --quick --out "$OUT/compare"
if [ -f "$OUT/compare/results.md" ]; then
    # every rkv column of the main table holds a number
    missing=$(awk -F'|' '/^\| / && !/^\| workload/ && !/^\|---/ && $3 !~ /[0-9]/ { print $2 }' "$OUT/compare/results.md" | head -n 5)
    if [ -n "$missing" ]; then bad "compare.sh rows without an rkv number: $missing" "$OUT/compare/results.md"; else ok "compare.sh: every row has its rkv number"; fi
fi
run "bench/ab.sh (one round, this build against itself)" "$OUT/ab.log" '^\| set50 \| [0-9.]+ \| [0-9.]+ \|' \
    env N=2000 NP=20000 NG=4000 PAIRS=2000 BASE_PORT=${BASE_PORT:-21300} bench/ab.sh "$BUILD" "$BUILD" 1
run "bench/catchup.sh --records 20000" "$OUT/catchup.log" 'snapshot rejoin of a wiped follower, [0-9]+ keys: [0-9]+ ms' \
    env BUILD="$BUILD" bench/catchup.sh --records 20000 --out "$OUT/catchup"
run "bench/failover.sh 1" "$OUT/failover.log" 'failover gap over 1 trials' \
    env BUILD="$BUILD" BASE_PORT=$((${BASE_PORT:-21300} + 700)) bench/failover.sh 1
if command -v redis-benchmark >/dev/null && command -v openssl >/dev/null; then
    run "bench/tls.sh 1 2000" "$OUT/tls.log" 'TLS replication, TLS client port +[0-9]' \
        env BUILD="$BUILD" BASE_PORT=$((${BASE_PORT:-21300} + 600)) bench/tls.sh 1 2000
else
    echo "skip bench/tls.sh (needs redis-benchmark and openssl)"
fi
echo "bench-smoke: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
