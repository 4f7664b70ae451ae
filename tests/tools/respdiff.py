#!/usr/bin/env python3
"""respdiff -- differential tester: rkv against a real redis-server 7.0.

Reads a corpus of command scripts (default: tests/server/compat/*.cmds), runs
each script on fresh connections against a redis-server it starts itself
(--port P --save '' --appendonly no; FLUSHALL before every script) and against
an rkv node (--rkv-port), one command at a time in lockstep (the command to
Redis, its reply, the same command to rkv, its reply), and compares the RAW
bytes of the two replies. A raw RESP client: no redis-py; exactly one complete
RESP2/RESP3 reply is read per command.

    respdiff.py --rkv-port 7379                 compare (exit 1 on any mismatch)
    respdiff.py --redis-only                    check the corpus against Redis alone
    respdiff.py --redis-only --show FILE.cmds   print every command and Redis's reply
    respdiff.py --redis-port 6379 ...           use a running Redis instead (it is FLUSHALLed!)
    respdiff.py --rkv-port P --tally FILE       also one line per script in FILE (ok / mismatch)

Corpus format
-------------
One command per line, split as redis-cli splits its input lines (shell-like):
whitespace separates tokens; "double quotes" take \\n \\r \\t \\b \\a \\\\ \\" and
\\xHH escapes ("\\x00" is a NUL byte); 'single quotes' are literal except \\';
an unquoted token is taken as it is (so a glob's backslash is written as-is:
KEYS a\\*b). A line whose first non-blank character is # is a comment. A blank
line ends a script: the scripts of a file are independent, each starts on an
empty server (FLUSHALL on both) with fresh connections (RESP2, db 0).

${NOW}, ${NOW_MS} and ${NOW+N} / ${NOW_MS-N} in a token are replaced by the
current unix time in seconds / milliseconds (plus or minus N), computed once
per command so both servers get the same bytes.

Directives are lines starting with @. Those marked (next) apply to the next
command only, and several may precede one command; the others act where they
stand.
  @sorted        (next) compare as multisets: the elements of every array, set
                 and map in the reply are put in a canonical order first (KEYS,
                 SCAN pages, ...)
  @ignore        (next) run, but do not compare (TIME, INFO, CLIENT ID, ...)
  @shape         (next) compare only the reply's shape: the same RESP types,
                 aggregates of the same length, errors on both sides; the
                 values may differ (HELLO's id and version, TIME)
  @range N       (next) integers in the reply may differ by at most N, if
                 both are >= 0 (negative integers, like TTL's -1 and -2, must
                 be equal); everything else must be equal (TTL, PTTL,
                 EXPIRETIME, an EXEC holding one)
  @rkv-error     (next) rkv must reply an error starting with
                 "-ERR unknown command" (HSET, LPUSH...: types rkv does not
                 have); Redis's reply is not compared
  @scan          (next) the command is a SCAN with cursor 0: it is repeated
                 with the returned cursor until it returns 0 (at most 10000
                 calls), on each server on its own, and the sets of keys
                 returned are compared; every page must be [cursor, array]
  @inline        (next) send the command as an inline command (its tokens
                 joined by spaces) rather than as a RESP array
  @conn NAME     the following commands go to connection NAME (opened fresh
                 on first use; the first connection is "main")
  @reconnect     close the current connection; the next command opens a new
                 one (a new client: RESP2, db 0, no MULTI, no WATCH)
  @close         the same as @reconnect
  @resp3         send HELLO 3 on the current connection now, and on every
                 connection this script opens later; the two HELLO replies
                 must have the same shape (a map of the same size)
  @sleep MS      sleep MS milliseconds (both servers age together)

A connection that the server closes gives the pseudo-reply <closed>, and one
that does not answer within --timeout seconds <timeout> (that connection is
then dropped); these compare like replies, so QUIT is +OK then <closed> on
both.

Output: for each mismatch, FILE:LINE, the command, Redis's reply and rkv's
reply (escaped); then a summary line
  respdiff: S scripts (K with mismatches), C commands, M mismatches
and the exit status is 1 on any mismatch, 2 on a usage or setup error.
--redis-only checks that every command of the corpus gets a reply from Redis
(no <timeout>, no unexpected <closed> before the last command of a script),
that @range replies hold integers, @sorted replies aggregates, and @scan
replies SCAN pages; exit 1 on any problem.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


# ---------------------------------------------------------------- corpus ----


class CorpusError(Exception):
    pass


def split_args(line):
    """redis-cli's sdssplitargs: tokens of a line, as bytes. Raises ValueError
    on unbalanced quotes or a closing quote not followed by a space."""
    out = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t\r\n":
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        inq = insq = False
        while True:
            c = line[i] if i < n else ""
            if inq:
                hx = line[i + 2:i + 4]
                if c == "\\" and line[i + 1:i + 2] == "x" and len(hx) == 2 and \
                        all(ch in "0123456789abcdefABCDEF" for ch in hx):
                    cur.append(int(hx, 16))
                    i += 4
                    continue
                if c == "\\" and i + 1 < n:
                    e = line[i + 1]
                    cur += {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}.get(e, e.encode())
                    i += 2
                    continue
                if c == '"':
                    if i + 1 < n and line[i + 1] not in " \t\r\n":
                        raise ValueError("closing quote must be followed by a space")
                    i += 1
                    break
                if c == "":
                    raise ValueError("unbalanced quotes")
                cur += c.encode()
                i += 1
            elif insq:
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    cur += b"'"
                    i += 2
                    continue
                if c == "'":
                    if i + 1 < n and line[i + 1] not in " \t\r\n":
                        raise ValueError("closing quote must be followed by a space")
                    i += 1
                    break
                if c == "":
                    raise ValueError("unbalanced quotes")
                cur += c.encode()
                i += 1
            else:
                if c in ("", " ", "\t", "\r", "\n"):
                    break
                if c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur += c.encode()
                i += 1
        out.append(bytes(cur))


NEXT_DIRECTIVES = {"sorted", "ignore", "shape", "range", "rkv-error", "scan", "inline"}
STEP_DIRECTIVES = {"conn", "reconnect", "close", "resp3", "sleep"}


class Step:
    """One line of a script: a command (kind 'cmd') with its modifiers, or a
    stand-alone directive (kind 'conn', 'reconnect', 'resp3', 'sleep')."""

    def __init__(self, kind, line, text, args=None, mods=None, arg=None):
        self.kind, self.line, self.text = kind, line, text
        self.args, self.mods, self.arg = args, mods or {}, arg


class Script:
    def __init__(self, path, line):
        self.path, self.line, self.steps = path, line, []

    def commands(self):
        return [s for s in self.steps if s.kind == "cmd"]


def parse_corpus(path):
    scripts, cur, mods = [], None, {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if not line:
            if mods:
                raise CorpusError("%s:%d: directive(s) %s before a blank line" % (path, no, sorted(mods)))
            if cur and cur.steps:
                scripts.append(cur)
            cur = None
            continue
        if cur is None:
            cur = Script(path, no)
        if line.startswith("@"):
            word, _, rest = line[1:].partition(" ")
            rest = rest.strip()
            if word in NEXT_DIRECTIVES:
                if word == "range":
                    if not re.fullmatch(r"\d+", rest):
                        raise CorpusError("%s:%d: @range needs a tolerance (@range N)" % (path, no))
                    mods["range"] = int(rest)
                elif rest:
                    raise CorpusError("%s:%d: @%s takes no argument" % (path, no, word))
                else:
                    mods[word] = True
                if "shape" in mods and ("range" in mods or "sorted" in mods):
                    raise CorpusError("%s:%d: @shape with @range/@sorted makes no sense" % (path, no))
            elif word in STEP_DIRECTIVES:
                if mods:
                    raise CorpusError("%s:%d: @%s after (next) directive(s) %s" % (path, no, word, sorted(mods)))
                kind = "reconnect" if word == "close" else word
                if word == "conn" and not re.fullmatch(r"[A-Za-z0-9_-]+", rest):
                    raise CorpusError("%s:%d: @conn needs a name" % (path, no))
                if word == "sleep" and not re.fullmatch(r"\d+", rest):
                    raise CorpusError("%s:%d: @sleep needs milliseconds" % (path, no))
                if word in ("reconnect", "close", "resp3") and rest:
                    raise CorpusError("%s:%d: @%s takes no argument" % (path, no, word))
                cur.steps.append(Step(kind, no, line, arg=rest))
            else:
                raise CorpusError("%s:%d: unknown directive @%s" % (path, no, word))
            continue
        try:
            args = split_args(line)
        except ValueError as e:
            raise CorpusError("%s:%d: %s" % (path, no, e))
        if "scan" in mods and (not args or args[0].upper() != b"SCAN" or args[1:2] != [b"0"]):
            raise CorpusError("%s:%d: @scan is for SCAN 0 ..." % (path, no))
        cur.steps.append(Step("cmd", no, line, args=args, mods=mods))
        mods = {}
    if mods:
        raise CorpusError("%s: directive(s) %s at the end of the file" % (path, sorted(mods)))
    if cur and cur.steps:
        scripts.append(cur)
    return scripts


NOW_RE = re.compile(rb"\$\{(NOW|NOW_MS)(?:([+-])(\d+))?\}")


def substitute(args):
    now = time.time()

    def rep(m):
        v = int(now) if m.group(1) == b"NOW" else int(now * 1000)
        if m.group(2):
            v = v + int(m.group(3)) if m.group(2) == b"+" else v - int(m.group(3))
        return str(v).encode()

    return [NOW_RE.sub(rep, a) for a in args]


# ------------------------------------------------------------------ RESP ----


class Closed(Exception):
    pass


class Timeout(Exception):
    pass


def encode(args, inline=False):
    if inline:
        return b" ".join(args) + b"\r\n"
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A raw RESP connection that keeps the exact bytes of each reply."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reply read below says <closed>
        except socket.timeout:
            raise Timeout()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        if not d:
            raise Closed()
        self.buf += d  # no compaction inside a reply: raw slices use offsets

    def _line(self, deadline):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                s = self.buf[self.pos:i]
                self.pos = i + 2
                return s
            self._fill(deadline)

    def _exact(self, n, deadline):
        while len(self.buf) - self.pos < n:
            self._fill(deadline)
        s = self.buf[self.pos:self.pos + n]
        self.pos += n
        return s

    def _value(self, deadline):
        """One RESP value as (type, payload, raw): payload is bytes for the
        scalars, a list of values for the aggregates (a map's as k, v, k, v);
        an attribute (|) is kept in front of the value it annotates."""
        start = self.pos
        line = self._line(deadline)
        if not line:
            raise ValueError("empty line where a RESP type byte was expected")
        t, rest = chr(line[0]), line[1:]
        if t in "+-:_,#(":
            val = (t, rest)
        elif t in "$=!":
            n = int(rest)
            if n < 0:
                val = (t, None)
            else:
                data = self._exact(n + 2, deadline)
                if data[-2:] != b"\r\n":
                    raise ValueError("bulk string not followed by CRLF")
                val = (t, data[:-2])
        elif t in "*~>%|":
            n = int(rest)
            if n < 0:
                val = (t, None)
            else:
                count = n * 2 if t in "%|" else n
                val = (t, [self._value(deadline) for _ in range(count)])
        else:
            raise ValueError("unknown RESP type byte %r in %r" % (t, line[:60]))
        raw = self.buf[start:self.pos]
        if t == "|":  # the attribute, then the value itself
            inner = self._value(deadline)
            return (inner[0], inner[1], raw + inner[2])
        return (val[0], val[1], raw)

    def reply(self):
        """The next complete reply (pushes, >, are skipped)."""
        deadline = time.monotonic() + self.timeout
        while True:
            self.buf, self.pos = self.buf[self.pos:], 0
            start = self.pos
            try:
                v = self._value(deadline)
            except (Timeout, Closed):
                self.pos = start
                raise
            if v[0] != ">":
                return v


CLOSED = ("<", b"closed", b"<closed>")
TIMEDOUT = ("<", b"timeout", b"<timeout>")
NOCONN = ("<", b"noconn", b"<cannot connect>")


def is_error(v):
    return v[0] in "-!"


def canonical(v):
    """A hashable canonical form of a value, aggregates sorted (for @sorted)."""
    t, p, raw = v
    if t in "*~>%|" and p is not None:
        if t in "%|":
            pairs = sorted((canonical(p[i]), canonical(p[i + 1])) for i in range(0, len(p), 2))
            return (t, tuple(pairs))
        return (t, tuple(sorted(canonical(x) for x in p)))
    return (t, p)


def shape(v):
    t, p, raw = v
    if t in "*~>%|" and p is not None:
        return (t, tuple(shape(x) for x in p))
    if t in "-!":
        return ("error",)
    if t in "$=" and p is None:
        return (t, None)
    return (t,)


def ints_close(a, b, tol):
    """a and b equal except for integers within tol of each other (both >= 0)."""
    ta, pa, _ = a
    tb, pb, _ = b
    if ta != tb:
        return False
    if ta == ":":
        x, y = int(pa), int(pb)
        if x < 0 or y < 0:
            return x == y
        return abs(x - y) <= tol
    if ta in "*~>%|" and pa is not None and pb is not None:
        return len(pa) == len(pb) and all(ints_close(x, y, tol) for x, y in zip(pa, pb))
    return pa == pb


def has_int(v):
    t, p, _ = v
    if t == ":":
        return True
    return t in "*~>%|" and p is not None and any(has_int(x) for x in p)


def esc(raw, limit):
    """bytes as printable text: \\r \\n \\t \\\\ and \\xHH for the rest."""
    if isinstance(raw, bytes):
        out = []
        for b in raw:
            c = chr(b)
            if c == "\\":
                out.append("\\\\")
            elif c in "\r\n\t":
                out.append({"\r": "\\r", "\n": "\\n", "\t": "\\t"}[c])
            elif 32 <= b < 127:
                out.append(c)
            else:
                out.append("\\x%02x" % b)
        s = "".join(out)
    else:
        s = str(raw)
    if limit and len(s) > limit:
        s = s[:limit] + "...(%d bytes)" % len(raw)
    return s


# -------------------------------------------------------------- servers ----


class Side:
    """One server under test: its connections of the current script."""

    def __init__(self, name, host, port, timeout):
        self.name, self.host, self.port, self.timeout = name, host, port, timeout
        self.conns = {}
        self.resp3 = False

    def reset(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}
        self.resp3 = False

    def conn(self, name):
        c = self.conns.get(name)
        if c is None:
            c = Conn(self.host, self.port, self.timeout)
            self.conns[name] = c
            if self.resp3:
                c.send(encode([b"HELLO", b"3"]))
                c.hello = self._reply(c, name)
        return c

    def drop(self, name):
        c = self.conns.pop(name, None)
        if c:
            c.close()

    def _reply(self, c, name):
        try:
            return c.reply()
        except Closed:
            self.drop(name)
            return CLOSED
        except Timeout:
            self.drop(name)
            return TIMEDOUT
        except ValueError as e:
            self.drop(name)
            return ("<", b"bad", ("<protocol error: %s>" % e).encode())

    def call(self, name, args, inline=False):
        try:
            c = self.conn(name)
        except OSError as e:
            return ("<", b"noconn", ("<cannot connect: %s>" % e).encode())
        hello = getattr(c, "hello", None)
        if hello is not None:
            c.hello = None
            if hello[0] == "<":
                return hello
        try:
            c.send(encode(args, inline))
        except (Timeout, OSError):
            self.drop(name)
            return TIMEDOUT
        return self._reply(c, name)

    def admin(self, args):
        """A command on a connection of its own (FLUSHALL between scripts)."""
        try:
            c = Conn(self.host, self.port, self.timeout)
        except OSError as e:
            return ("<", b"noconn", ("<cannot connect: %s>" % e).encode())
        try:
            c.send(encode(args))
            return c.reply()
        except (Closed, Timeout, ValueError) as e:
            return ("<", b"err", ("<%s>" % type(e).__name__).encode())
        finally:
            c.close()

    def scan_all(self, name, args):
        """Runs SCAN 0 ... to the end: (set of keys, None) or (None, reply that
        was not a SCAN page)."""
        keys, cursor = set(), b"0"
        for _ in range(10000):
            a = list(args)
            a[1] = cursor
            v = self.call(name, a)
            t, p, _ = v
            if not (t == "*" and p and len(p) == 2 and p[0][0] == "$" and p[1][0] in "*~" and p[1][1] is not None
                    and all(x[0] == "$" and x[1] is not None for x in p[1][1])):
                return None, v
            keys.update(x[1] for x in p[1][1])
            cursor = p[0][1]
            if cursor == b"0":
                return keys, None
        return None, ("<", b"loop", b"<SCAN did not return cursor 0 in 10000 calls>")


def start_redis(binary, workdir):
    """Starts redis-server on a free port; returns (Popen, port)."""
    last = ""
    for _ in range(5):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        log = os.path.join(workdir, "redis.log")
        p = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", workdir, "--logfile", log, "--daemonize", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end and p.poll() is None:
            try:
                c = Conn("127.0.0.1", port, 2)
                c.send(encode([b"PING"]))
                if c.reply()[2] == b"+PONG\r\n":
                    c.close()
                    return p, port
                c.close()
            except (OSError, Closed, Timeout, ValueError):
                pass
            time.sleep(0.05)
        if p.poll() is None:
            p.terminate()
            p.wait()
        try:
            last = open(log).read()[-500:]
        except OSError:
            pass
    raise RuntimeError("redis-server did not start: " + last)


# ----------------------------------------------------------------- run ----


def run_script(script, redis, rkv, opts, report):
    """Runs one script; returns (commands compared, mismatches)."""
    sides = [redis] + ([rkv] if rkv else [])
    for s in sides:
        s.reset()
    for s in sides:
        r = s.admin([b"FLUSHALL"])
        if r[2] != b"+OK\r\n" and not opts.warned.get(s.name):
            opts.warned[s.name] = True
            print("warning: FLUSHALL on %s answers %s: scripts may see each other's keys" %
                  (s.name, esc(r[2], 200)))
    cur = "main"
    ncmd = nbad = 0
    last_by_conn = {}  # the last command name sent on each connection
    for st in script.steps:
        if st.kind == "conn":
            cur = st.arg
            continue
        if st.kind == "reconnect":
            for s in sides:
                s.drop(cur)
            last_by_conn.pop(cur, None)
            continue
        if st.kind == "sleep":
            time.sleep(int(st.arg) / 1000.0)
            continue
        if st.kind == "resp3":
            hello = []
            for s in sides:
                hello.append(s.call(cur, [b"HELLO", b"3"]))
                s.resp3 = True  # for the connections opened from now on
            ncmd += 1
            bad = None
            if hello[0][0] != "%":
                bad = "Redis's HELLO 3 is not a map"
            elif rkv and shape(hello[0]) != shape(hello[1]):
                bad = "HELLO 3 replies differ in shape"
            if bad:
                nbad += 1
                report(script, st, "HELLO 3", hello[0], hello[1] if rkv else None, bad)
            continue
        args = substitute(st.args)
        m = st.mods
        ncmd += 1
        if "scan" in m:
            got = [s.scan_all(cur, args) for s in sides]
            rk, rbad = got[0]
            if opts.show:
                print("%s:%d: %s  =>  %s" % (os.path.basename(script.path), st.line, st.text,
                      "keys {%s}" % ", ".join(sorted(esc(k, 60) for k in rk)) if rk is not None
                      else esc(rbad[2], opts.limit)))
            if rk is None:
                nbad += 1
                report(script, st, None, rbad, None, "Redis's reply is not a SCAN page")
                continue
            if rkv:
                kk, kbad = got[1]
                if kk is None or kk != rk:
                    nbad += 1
                    fmt = lambda ks: ("keys {%s}" % ", ".join(sorted(esc(k, 60) for k in ks))).encode()
                    report(script, st, None, ("<", b"", fmt(rk)), kbad or ("<", b"", fmt(kk)),
                           "the keys a full SCAN returns differ")
            continue
        replies = [s.call(cur, args, "inline" in m) for s in sides]
        rr = replies[0]
        # Checks of Redis's own reply (both modes).
        problem = None
        after_quit = last_by_conn.get(cur) == b"QUIT"
        last_by_conn[cur] = args[0].upper() if args else b""
        if rr[0] == "<" and not (rr[1] == b"closed" and after_quit):
            problem = "no reply from Redis" if rr[1] != b"closed" else "Redis closed the connection"
        elif "range" in m and not has_int(rr):
            problem = "@range: Redis's reply holds no integer"
        elif "sorted" in m and rr[0] not in "*~%":
            problem = "@sorted: Redis's reply is not an aggregate"
        if opts.show:
            print("%s:%d: %s  =>  %s" % (os.path.basename(script.path), st.line, st.text, esc(rr[2], opts.limit)))
        if problem:
            nbad += 1
            report(script, st, None, rr, replies[1] if rkv else None, problem)
            continue
        if not rkv:
            continue
        kr = replies[1]
        if "rkv-error" in m:
            ok = kr[2].startswith(b"-ERR unknown command")
            why = "rkv must answer -ERR unknown command"
        elif "ignore" in m:
            ok, why = True, ""
        elif "shape" in m:
            ok, why = shape(rr) == shape(kr), "the replies differ in shape"
        elif "range" in m:
            tol = m["range"]
            if "sorted" in m:
                ok = canonical(rr) == canonical(kr) or ints_close(rr, kr, tol)
            else:
                ok = ints_close(rr, kr, tol)
            why = "the replies differ (integers by more than %d)" % tol
        elif "sorted" in m:
            ok, why = canonical(rr) == canonical(kr), "the replies differ as multisets"
        else:
            ok, why = rr[2] == kr[2], ""
        if not ok:
            nbad += 1
            report(script, st, None, rr, kr, why)
    for s in sides:
        s.reset()
    return ncmd, nbad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring (head -90 %s) for the corpus format." % __file__)
    ap.add_argument("corpus", nargs="*", help=".cmds files or folders (default: tests/server/compat)")
    ap.add_argument("--rkv-port", type=int, help="the rkv node to compare against (its leader)")
    ap.add_argument("--rkv-host", default="127.0.0.1")
    ap.add_argument("--redis-only", action="store_true", help="validate the corpus against Redis alone")
    ap.add_argument("--redis-server", default=os.environ.get("REDIS_SERVER") or shutil.which("redis-server"),
                    help="the redis-server binary to start (default: from PATH)")
    ap.add_argument("--redis-port", type=int,
                    help="use a Redis already running on this port (it is FLUSHALLed!) instead of starting one")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one reply (default 5)")
    ap.add_argument("--show", action="store_true", help="print every command and Redis's reply")
    ap.add_argument("--limit", type=int, default=400, help="cut printed replies at N characters (0: never)")
    ap.add_argument("--tally", metavar="FILE",
                    help="write one line per script to FILE: 'ok FILE:LINE commands' or "
                         "'mismatch FILE:LINE commands mismatches'")
    ap.add_argument("--max-mismatches", type=int, default=0,
                    help="stop printing mismatch details after N (counted all the same; 0: print all)")
    opts = ap.parse_args()
    if not opts.redis_only and opts.rkv_port is None:
        ap.error("--rkv-port is needed (or --redis-only)")
    here = os.path.dirname(os.path.abspath(__file__))
    paths = opts.corpus or [os.path.join(here, "..", "server", "compat")]
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "*.cmds")))
        else:
            files.append(p)
    files = [os.path.relpath(f) for f in files]
    if not files:
        print("respdiff: no .cmds files in %s" % " ".join(paths))
        return 2
    try:
        scripts = [s for f in files for s in parse_corpus(f)]
    except (CorpusError, OSError) as e:
        print("respdiff: corpus error: %s" % e)
        return 2
    opts.warned = {}

    proc, workdir = None, None
    if opts.redis_port:
        rport = opts.redis_port
    else:
        if not opts.redis_server or not os.access(opts.redis_server, os.X_OK):
            print("respdiff: no redis-server (install redis-server, or --redis-server PATH)")
            return 2
        workdir = tempfile.mkdtemp(prefix="respdiff-redis-")
        try:
            proc, rport = start_redis(opts.redis_server, workdir)
        except RuntimeError as e:
            print("respdiff: %s" % e)
            return 2

    def stop(*_):
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(2)))
    try:
        redis = Side("redis", "127.0.0.1", rport, opts.timeout)
        info = redis.admin([b"INFO", b"server"])
        ver = re.search(rb"redis_version:([0-9.]+)", info[2] if info[1] else b"")
        ver = ver.group(1).decode() if ver else "?"
        if not ver.startswith("7.0."):
            print("warning: the reference is Redis 7.0; this redis-server is %s" % ver)
        rkv = None if opts.redis_only else Side("rkv", opts.rkv_host, opts.rkv_port, opts.timeout)
        shown = [0]
        bad_scripts = []

        def report(script, st, text, rr, kr, why):
            shown[0] += 1
            if opts.max_mismatches and shown[0] > opts.max_mismatches:
                return
            print("%s:%d: %s%s" % (script.path, st.line, text or st.text, ("   [%s]" % why) if why else ""))
            print("  redis: %s" % esc(rr[2], opts.limit))
            if kr is not None:
                print("  rkv:   %s" % esc(kr[2], opts.limit))

        total_cmd = total_bad = 0
        tally = open(opts.tally, "w") if opts.tally else None
        for sc in scripts:
            n, b = run_script(sc, redis, rkv, opts, report)
            total_cmd += n
            total_bad += b
            if b:
                bad_scripts.append(sc)
            if tally:
                tally.write("%s %s:%d %d%s\n" % ("mismatch" if b else "ok", sc.path, sc.line, n,
                                                 " %d" % b if b else ""))
                tally.flush()
            if opts.show:
                print("-- script %s:%d: %d commands, %d mismatches" % (sc.path, sc.line, n, b))
        if opts.max_mismatches and shown[0] > opts.max_mismatches:
            print("(%d more mismatches not shown)" % (shown[0] - opts.max_mismatches))
        mode = "against Redis %s only" % ver if opts.redis_only else "Redis %s vs rkv" % ver
        print("respdiff: %d scripts (%d with mismatches), %d commands, %d mismatches (%s)" %
              (len(scripts), len(bad_scripts), total_cmd, total_bad, mode))
        return 1 if total_bad else 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
