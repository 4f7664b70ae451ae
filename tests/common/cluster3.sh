# shellcheck shell=bash
# tests/common/cluster3.sh -- a three-node rkv cluster for the shell tests
# (source it after tests/common/lib.sh; needs $SERVER and $CLI set).
#   cluster3_start DIR [extra server args...]
#       a leader (--role leader --followers) and two followers (--role
#       follower --repl-port) on free loopback ports, data and logs under DIR,
#       every node given DIR/cluster-secret (--cluster-secret-file) when the
#       server is built with OpenSSL (as tests/tools/run_cluster.sh does);
#       returns 0 once the leader counts both followers online and each
#       follower's link to the leader is up (10 s at most), 1 otherwise.
#       Sets C3_LP (the leader's client port), C3_F1 C3_F2 (the followers'),
#       C3_PIDS (the three server PIDs: leader, follower 1, follower 2).
#   cluster3_stop
#       SIGTERM to those three PIDs, then waits for them.
C3_PIDS=()
cluster3_start() {
    local dir=$1
    shift
    local secret=()
    if ldd "$SERVER" 2>/dev/null | grep -q libcrypto; then
        (umask 077 && "${ANYPY:-python3}" -c 'import secrets; print(secrets.token_hex(32))' >"$dir/cluster-secret") &&
            secret=(--cluster-secret-file "$dir/cluster-secret")
    fi
    C3_LP=$(free_port) C3_F1=$(free_port) C3_F2=$(free_port)
    local r1 r2
    r1=$(free_port) r2=$(free_port)
    "$SERVER" --node-id 2 --role follower --port "$C3_F1" --repl-port "$r1" --data-dir "$dir/n2" \
        --log-file "$dir/n2.log" "${secret[@]+"${secret[@]}"}" "$@" &
    C3_PIDS+=($!)
    "$SERVER" --node-id 3 --role follower --port "$C3_F2" --repl-port "$r2" --data-dir "$dir/n3" \
        --log-file "$dir/n3.log" "${secret[@]+"${secret[@]}"}" "$@" &
    C3_PIDS+=($!)
    "$SERVER" --node-id 1 --role leader --port "$C3_LP" --data-dir "$dir/n1" --log-file "$dir/n1.log" \
        --followers "127.0.0.1:$r1,127.0.0.1:$r2" "${secret[@]+"${secret[@]}"}" "$@" &
    C3_PIDS=($! "${C3_PIDS[@]}")
    wait_until 10 _c3_info "$C3_LP" connected_slaves:2 &&
        wait_until 10 _c3_info "$C3_F1" master_link_status:up &&
        wait_until 10 _c3_info "$C3_F2" master_link_status:up
}
_c3_info() { # port, "field:value" of INFO replication
    "$CLI" -p "$1" -t 2 info replication 2>/dev/null | tr -d '\r' | grep -qx "$2"
}
cluster3_stop() {
    local p
    for p in "${C3_PIDS[@]+"${C3_PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
    for p in "${C3_PIDS[@]+"${C3_PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
    C3_PIDS=()
}
