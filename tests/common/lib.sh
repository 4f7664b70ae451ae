# tests/common/lib.sh -- helpers shared by the shell tests (source it).
#   free_port                 a TCP port on 127.0.0.1 that was free a moment ago
#   wait_until SECONDS CMD... runs CMD every 50 ms until it succeeds (0) or the
#                             deadline passes (1): the one wait loop of the shell tests
# free_port needs python3 ($ANYPY if set).
# Ports come from 20000-32767, below Linux's ephemeral range (32768-60999):
# a port handed out there cannot be taken meanwhile as the source port of
# some outgoing connection (the nodes dial each other all the time), and a
# list per test shell ($$ is the test's shell, also in $(...)) keeps one test
# from getting the same port twice.
for _f in "${TMPDIR:-/tmp}"/rkv-ports.*; do # lists of tests that have ended
    [ -e "$_f" ] && ! kill -0 "${_f##*.}" 2>/dev/null && rm -f "$_f"
done
unset _f
free_port() {
    "${ANYPY:-python3}" - "${TMPDIR:-/tmp}/rkv-ports.$$" <<'PY'
import random, socket, sys
path = sys.argv[1]
try:
    used = set(open(path).read().split())
except OSError:
    used = set()
for _ in range(1000):
    p = random.randint(20000, 32767)
    if str(p) in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    with open(path, "a") as f:
        f.write("%d\n" % p)
    print(p)
    break
PY
}
wait_until() {
    local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
    while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do "$@" && return 0; sleep 0.05; done
    return 1
}
