# tests/common/lib.sh -- helpers shared by the shell tests (source it).
#   free_port                 a TCP port on 127.0.0.1 that was free a moment ago
#   wait_until SECONDS CMD... runs CMD every 50 ms until it succeeds (0) or the
#                             deadline passes (1): the one wait loop of the shell tests
# free_port needs python3 ($ANYPY if set).
free_port() {
    "${ANYPY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_until() {
    local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
    while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do "$@" && return 0; sleep 0.05; done
    return 1
}
