#!/usr/bin/env bash
# prometheus-redis-exporter (Debian's v1.45) scrapes a three-node elected rkv
# cluster, the leader and a follower, with no error in its log, and the
# series a Redis dashboard reads are there and plausible: redis_up,
# connected slaves and their lag / offset (leader), master_link_up
# (follower), the replication offset, keys and expiring keys of db0,
# per-command calls / durations / latency percentiles, the slow log, memory,
# fragmentation, network, errors, hits / misses, expired / evicted keys,
# CPU; and rkv's own series that v1.45 can carry (docs/MONITORING.md): the
# reply-after-quorum and WAL fsync percentiles through latencystats, the
# wal-fsync / quorum-wait spikes through LATENCY LATEST.
# Then contrib/grafana/rkv-dashboard.json is checked against what was
# scraped: valid JSON, every panel with a datasource, targets and gridPos,
# the ${DS_PROMETHEUS} and instance variables, and every metric name its
# PromQL uses among the series the exporter exported (the real check that
# the dashboard can work). Also `redis-cli info everything` parses.
# The exporter not installed: one skip (apt-get install -y
# prometheus-redis-exporter; the test installs nothing).
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
SERVER="$BUILD/rkv-server"
CLI="$BUILD/rkv-cli"
EXPORTER=${RKV_EXPORTER:-/usr/bin/prometheus-redis-exporter}
DASH="$PWD/contrib/grafana/rkv-dashboard.json"
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok; else bad "$1"; fi; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }

PY=$(command -v python3 || true)
if [ -z "$PY" ]; then echo "SKIP: python3 is needed"; skip=1; finish; fi
if [ ! -x "$EXPORTER" ]; then
    echo "SKIP: $EXPORTER is not installed (apt-get install -y prometheus-redis-exporter)"
    skip=1
    finish
fi

work=$(mktemp -d /tmp/rkv-exporter-XXXXXX)
. "$PWD/tests/common/lib.sh"
declare -A port rport pid
epids=()
cleanup() {
    for p in "${epids[@]+"${epids[@]}"}"; do kill "$p" 2>/dev/null; done
    for i in 1 2 3; do [ -n "${pid[$i]:-}" ] && kill "${pid[$i]}" 2>/dev/null; done
    wait 2>/dev/null
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "files kept in $work"; fi
}
trap cleanup EXIT

for i in 1 2 3; do port[$i]=$(free_port); rport[$i]=$(free_port); done
peers="1=127.0.0.1:${rport[1]},2=127.0.0.1:${rport[2]},3=127.0.0.1:${rport[3]}"
for i in 1 2 3; do
    "$SERVER" --node-id "$i" --port "${port[$i]}" --peers "$peers" --data-dir "$work/n$i" \
        --election-timeout-ms 500 --heartbeat-ms 50 --latency-monitor-threshold 1 \
        >>"$work/n$i.log" 2>&1 &
    pid[$i]=$!
done
leader=
find_leader() {
    leader=
    for i in 1 2 3; do
        "$CLI" -p "${port[$i]}" -t 1 info replication 2>/dev/null | tr -d '\r' |
            grep -qx 'election_role:leader' && leader=$i
    done
    [ -n "$leader" ]
}
slaves2() { "$CLI" -p "${port[$leader]}" -t 1 info replication 2>/dev/null | tr -d '\r' | grep -qx connected_slaves:2; }
if wait_until 15 find_leader && wait_until 15 slaves2; then ok; else bad "an elected cluster with 2 slaves"; finish; fi
LP=${port[$leader]}
follower=1
[ "$follower" = "$leader" ] && follower=2
FP=${port[$follower]}
echo "-- leader node $leader (port $LP), follower node $follower (port $FP)"

# ---- load: N keys (some with a TTL), hits, misses, an error ----
N=40
"$CLI" -p "$LP" config set slowlog-log-slower-than 0 >/dev/null
for k in $(seq 1 $N); do
    if [ $((k % 4)) -eq 0 ]; then "$CLI" -p "$LP" set "key:$k" "v$k" ex 3600 >/dev/null
    else "$CLI" -p "$LP" set "key:$k" "v$k" >/dev/null; fi
done
for k in 1 2 3; do "$CLI" -p "$LP" get "key:$k" >/dev/null; done
"$CLI" -p "$LP" get nosuchkey >/dev/null
"$CLI" -p "$LP" incr key:1 >/dev/null 2>&1 # ERR value is not an integer: failed_calls, errorstats
synced() { "$CLI" -p "$FP" -t 1 info keyspace 2>/dev/null | tr -d '\r' | grep -q "^db0:keys=$N,"; }
check "the follower has the $N keys" 'wait_until 10 synced'

# ---- the exporter against the leader and the follower ----
scrape() { # name, rkv port -> $work/NAME.metrics, $work/NAME.exporter.log
    local wp
    wp=$(free_port)
    "$EXPORTER" --redis.addr="redis://127.0.0.1:$1" --web.listen-address="127.0.0.1:$wp" \
        >"$work/$2.exporter.log" 2>&1 &
    epids+=($!)
    fetch() {
        "$PY" - "$wp" "$work/$2.metrics" <<'EOF'
import sys, urllib.request
try:
    body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read()
except Exception:
    sys.exit(1)
open(sys.argv[2], "wb").write(body)
sys.exit(0 if b"redis_up 1" in body else 1)
EOF
    }
    wait_until 15 fetch "$1" "$2"
}
check "the exporter scrapes the leader (redis_up 1)" 'scrape "$LP" leader'
check "the exporter scrapes the follower (redis_up 1)" 'scrape "$FP" follower'
for who in leader follower; do
    check "$who: no error in the exporter's log" \
        '! grep -Ei "level=(error|warning)|ERR " "$work/$who.exporter.log"'
done

# ---- the series ----
out=$("$PY" - "$work/leader.metrics" "$work/follower.metrics" "$N" <<'EOF' 2>&1
import re, sys
def load(path):
    m = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        mm = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)', line)
        if mm:
            m.setdefault(mm.group(1), []).append((mm.group(2) or "", float(mm.group(3))))
    return m
L, F, N = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
def val(m, name, label=""):
    for lab, v in m.get(name, []):
        if label in lab:
            return v
    return None
def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
def ge(m, name, x, label=""):
    v = val(m, name, label)
    check("%s%s >= %s (got %s)" % (name, label and "{" + label + "}", x, v), v is not None and v >= x)
def eq(m, name, x, label=""):
    v = val(m, name, label)
    check("%s%s == %s (got %s)" % (name, label and "{" + label + "}", x, v), v == x)
def present(m, name, label=""):
    check("%s%s present" % (name, label and "{" + label + "}"), val(m, name, label) is not None)
eq(L, "redis_up", 1); eq(F, "redis_up", 1)
eq(L, "redis_connected_slaves", 2)
check("redis_connected_slave_lag_seconds for 2 slaves", len(L.get("redis_connected_slave_lag_seconds", [])) == 2)
check("redis_connected_slave_offset_bytes for 2 slaves", len(L.get("redis_connected_slave_offset_bytes", [])) == 2)
ge(L, "redis_connected_slave_offset_bytes", N)
eq(F, "redis_master_link_up", 1)
ge(L, "redis_master_repl_offset", N); ge(F, "redis_master_repl_offset", N)
eq(L, "redis_db_keys", N, 'db="db0"'); eq(F, "redis_db_keys", N, 'db="db0"')
eq(L, "redis_db_keys_expiring", N // 4, 'db="db0"')
ge(L, "redis_commands_total", N, 'cmd="set"')
ge(L, "redis_commands_duration_seconds_total", 1e-9, 'cmd="set"')
ge(L, "redis_commands_failed_calls_total", 1, 'cmd="incr"')
present(L, "redis_commands_rejected_calls_total", 'cmd="set"')
present(L, "redis_latency_percentiles_usec", 'cmd="set"')
# rkv's, through latencystats (docs/MONITORING.md)
ge(L, "redis_latency_percentiles_usec", 1, 'cmd="rkv_reply|set"')
present(L, "redis_latency_percentiles_usec", 'cmd="rkv_wal_fsync"')
present(F, "redis_latency_percentiles_usec", 'cmd="rkv_wal_fsync"')
present(L, "redis_latency_percentiles_usec", 'cmd="rkv_quorum_wait"')
ge(L, "redis_commands_total", N, 'cmd="rkv_reply|set"')
ge(L, "redis_commands_total", N, 'cmd="rkv_quorum_wait"')
ge(L, "redis_commands_total", 1, 'cmd="rkv_wal_fsync"')
ge(F, "redis_commands_total", 1, 'cmd="rkv_wal_fsync"')
ge(L, "redis_commands_total", 1, 'cmd="rkv_elections"')
ge(L, "redis_commands_total", 1, 'cmd="rkv_leader_changes"')
ge(L, "redis_slowlog_length", N)
present(L, "redis_slowlog_last_id")
present(L, "redis_last_slow_execution_duration_seconds")
ge(L, "redis_memory_used_bytes", 1); present(L, "redis_memory_max_bytes")
ge(L, "redis_mem_fragmentation_ratio", 0.0001)
ge(L, "redis_memory_used_rss_bytes", 1); ge(L, "redis_memory_used_peak_bytes", 1)
ge(L, "redis_net_input_bytes_total", 100); ge(L, "redis_net_output_bytes_total", 10)
ge(L, "redis_errors_total", 1, 'err="ERR"'); ge(L, "redis_total_error_replies", 1)
eq(L, "redis_keyspace_hits_total", 3); ge(L, "redis_keyspace_misses_total", 1)
present(L, "redis_expired_keys_total"); present(L, "redis_evicted_keys_total")
present(L, "redis_cpu_sys_seconds_total"); present(L, "redis_cpu_user_seconds_total")
ge(L, "redis_connected_clients", 1); ge(L, "redis_commands_processed_total", N)
present(L, "redis_rdb_last_save_timestamp_seconds"); present(L, "redis_uptime_in_seconds")
present(L, "redis_instance_info", 'role="master"'); present(F, "redis_instance_info", 'role="slave"')
print("done")
EOF
)
printf '%s\n' "$out" | grep -v '^ok \|^done$' | sed 's/^/   /'
pass=$((pass + $(printf '%s\n' "$out" | grep -c '^ok ')))
while IFS= read -r line; do bad "${line#FAIL }"; done < <(printf '%s\n' "$out" | grep '^FAIL ')
printf '%s\n' "$out" | grep -q '^done$' || bad "the series checks stopped early"

# ---- LATENCY LATEST through the exporter: wal-fsync spikes ≥ 1 ms (tmpfs may have none) ----
if grep -q '^redis_latency_spike_last{event_name="wal-fsync"}' "$work/leader.metrics"; then ok
else echo "   (no wal-fsync spike of 1 ms or more on this disk: redis_latency_spike_* not checked)"; fi

# ---- redis-cli info everything parses ----
RCLI=$(command -v redis-cli || true)
if [ -n "$RCLI" ]; then
    "$RCLI" -p "$LP" info everything | tr -d '\r' >"$work/info.txt"
    check "redis-cli info everything: every line a section or field:value" \
        '! grep -vE "^(# [A-Za-z]+|[A-Za-z0-9_|.-]+:.*|)$" "$work/info.txt"'
    check "redis-cli info everything: 13 Redis sections" \
        '[ "$(grep -c "^# " "$work/info.txt")" -eq 13 ]'
else
    skip=$((skip + 1)); echo "SKIP: redis-cli not installed"
fi

# ---- the Grafana dashboard ----
out=$("$PY" - "$DASH" "$work/leader.metrics" "$work/follower.metrics" <<'EOF' 2>&1
import json, re, sys
def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("FAIL the dashboard is valid JSON: %s" % e); print("done"); sys.exit(0)
check("the dashboard is valid JSON", True)
exported = set()
for p in sys.argv[2:]:
    for line in open(p):
        mm = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)', line)
        if mm and not line.startswith("#"):
            exported.add(mm.group(1))
inputs = [i.get("name") for i in d.get("__inputs", [])]
check("__inputs declares DS_PROMETHEUS", "DS_PROMETHEUS" in inputs)
tv = [v.get("name") for v in d.get("templating", {}).get("list", [])]
check("an instance template variable", "instance" in tv)
panels = []
def walk(ps):
    for p in ps:
        panels.append(p)
        walk(p.get("panels", []))
walk(d.get("panels", []))
graphs = [p for p in panels if p.get("type") != "row"]
check("the dashboard has panels (%d)" % len(graphs), len(graphs) >= 10)
funcs = set("""sum rate irate increase avg max min count by without on ignoring group_left
group_right histogram_quantile label_replace topk bottomk changes delta idelta deriv abs
clamp_min clamp_max offset bool and or unless time vector scalar sort sort_desc resets
avg_over_time max_over_time min_over_time sum_over_time count_over_time quantile le
instance job cmd db event_name quantile_over_time round ceil floor absent""".split())
for p in graphs:
    t = p.get("title", "?")
    ds = p.get("datasource")
    check("panel '%s' has a datasource" % t, ds is not None and "DS_PROMETHEUS" in json.dumps(ds))
    check("panel '%s' has a gridPos" % t, all(k in p.get("gridPos", {}) for k in ("x", "y", "w", "h")))
    tg = p.get("targets", [])
    check("panel '%s' has targets" % t, len(tg) > 0 and all(x.get("expr") for x in tg))
    for x in tg:
        expr = re.sub(r'\{[^}]*\}', '', x.get("expr", ""))       # label matchers
        expr = re.sub(r'"[^"]*"', '', expr)                        # strings
        expr = re.sub(r'\[[^\]]*\]', '', expr)                     # ranges
        expr = re.sub(r'\$\w+', '', expr)                          # variables
        expr = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)', r'\1', expr)
        expr = re.sub(r'\b\d+(\.\d+)?(e[+-]?\d+)?\b', '', expr)     # numbers
        for name in re.findall(r'[a-zA-Z_:][a-zA-Z0-9_:]*', expr):
            if name in funcs or re.match(r'^\d', name):
                continue
            check("panel '%s': metric %s is exported" % (t, name), name in exported)
print("done")
EOF
)
printf '%s\n' "$out" | grep -v '^ok \|^done$' | sed 's/^/   /'
pass=$((pass + $(printf '%s\n' "$out" | grep -c '^ok ')))
while IFS= read -r line; do bad "${line#FAIL }"; done < <(printf '%s\n' "$out" | grep '^FAIL ')
printf '%s\n' "$out" | grep -q '^done$' || bad "the dashboard checks stopped early"
finish
