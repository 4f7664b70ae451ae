#!/usr/bin/env python3
"""bench/failover_probe.py -- the client's view of a failover, for bench/failover.sh.

Writer threads SET unique keys in a closed loop against a list of rkv nodes;
each follows the leader the way a Redis client without Sentinel would: on
READONLY, TRYAGAIN, UNCERTAIN, a timeout or a broken connection it moves to
the next node. Whenever an OK arrives more than --gap-ms after the previous OK
(any thread), it prints "gap START END" (wall-clock seconds): the client-side
outage, from the last OK before it to the first OK after. It also counts
errors by kind. Runs until killed (SIGTERM prints the totals).
"""
import argparse, signal, socket, sys, threading, time

lock = threading.Lock()
last_ok = [0.0]
counts = {}
stop = threading.Event()


def resp_cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_line(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    return line


def writer(idx, nodes, timeout, gap):
    node = idx % len(nodes)
    seq = 0
    sock = f = None
    while not stop.is_set():
        try:
            if sock is None:
                sock = socket.create_connection(nodes[node], timeout=timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                f = sock.makefile("rb")
            seq += 1
            sock.sendall(resp_cmd("SET", "fo:%d:%d" % (idx, seq), "v%d" % seq))
            reply = read_line(f)
            now = time.time()
            if reply.startswith(b"+OK"):
                with lock:
                    if last_ok[0] and now - last_ok[0] > gap:
                        print("gap %.6f %.6f" % (last_ok[0], now), flush=True)
                    last_ok[0] = max(last_ok[0], now)
                    counts["ok"] = counts.get("ok", 0) + 1
                continue
            kind = reply[1:].split(b" ", 1)[0].decode(errors="replace").strip()
            with lock:
                counts[kind] = counts.get(kind, 0) + 1
            raise ConnectionError(kind)
        except (OSError, ConnectionError):
            with lock:
                counts["moved"] = counts.get("moved", 0) + 1
            try:
                if sock:
                    sock.close()
            except OSError:
                pass
            sock = f = None
            node = (node + 1) % len(nodes)
            time.sleep(0.005)  # a client's reconnect pace


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", required=True, help="host:port,host:port,...")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--gap-ms", type=float, default=150)
    a = ap.parse_args()
    nodes = [(h, int(p)) for h, p in (x.rsplit(":", 1) for x in a.nodes.split(","))]
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ts = [threading.Thread(target=writer, args=(i, nodes, a.timeout, a.gap_ms / 1000.0), daemon=True)
          for i in range(a.threads)]
    for t in ts:
        t.start()
    while not stop.is_set():
        stop.wait(0.5)
    with lock:
        print("totals " + " ".join("%s=%d" % kv for kv in sorted(counts.items())), flush=True)


if __name__ == "__main__":
    main()
