#!/usr/bin/env python3
"""pty_run.py -- runs a program on a pseudo-terminal and prints what it wrote.

rkv-cli (like redis-cli) formats replies for people only when stdout is a
terminal, and its line editor only runs when stdin is one; the shell tests
reach both through this helper. It is an expect of a dozen steps, not a
framework:

  pty_run.py [-t SECONDS] [STEP ...] -- PROGRAM [ARG ...]

  STEP is  -s TEXT    send TEXT (Python escapes: \\r, \\t, \\x1b[A ...)
           -e REGEX   wait until the output since the last -e matches REGEX
           -w MS      wait MS milliseconds for output (only to let a reply
                      that is not expected to come arrive: prefer -e)
           -x CMD     run the shell command CMD and wait for it (a test kills
                      or restarts a server between two lines this way); a
                      non-zero exit prints "pty_run: step failed" and exits 5
Every -e has the deadline -t (default 10 s); a missed one prints
"pty_run: timeout waiting for REGEX" on stderr and exits 3. After the steps
the program's remaining output is read until it exits (or the deadline: it
is then killed, exit 4), and its whole output is written to stdout with
"\\r\\n" turned into "\\n". The exit status is the program's.
"""
import fcntl, os, pty, re, select, signal, struct, subprocess, sys, termios, time

def main():
    args = sys.argv[1:]
    timeout = 10.0
    steps = []
    while args and args[0] != "--":
        opt = args.pop(0)
        if not args:
            sys.exit("pty_run: %s needs a value" % opt)
        val = args.pop(0)
        if opt == "-t":
            timeout = float(val)
        elif opt in ("-s", "-e", "-w", "-x"):
            steps.append((opt, val))
        else:
            sys.exit("pty_run: unknown step %s" % opt)
    if not args or args[0] != "--" or len(args) < 2:
        sys.exit("usage: pty_run.py [-t S] [-s TEXT|-e REGEX|-w MS]... -- PROGRAM [ARG...]")
    prog = args[1:]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            # 24x80, set before the program starts: line editors ask the
            # terminal its width, and a pty's default is 0 columns.
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            os.execvp(prog[0], prog)
        finally:
            os._exit(127)
    out = b""
    mark = 0  # -e matches output after this offset

    def read_some(wait_s):
        nonlocal out
        r, _, _ = select.select([fd], [], [], max(wait_s, 0))
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        out += data
        return True

    alive = True
    for kind, val in steps:
        if kind == "-s":
            text = val.encode().decode("unicode_escape").encode("latin-1")
            os.write(fd, text)
        elif kind == "-x":
            if subprocess.run(val, shell=True).returncode != 0:
                sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
                sys.stderr.write("pty_run: step failed: %s\n" % val)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                sys.exit(5)
        elif kind == "-w":
            end = time.monotonic() + int(val) / 1000.0
            while alive and time.monotonic() < end:
                alive = read_some(end - time.monotonic())
        else:
            rx = re.compile(val.encode())
            end = time.monotonic() + timeout
            while True:
                m = rx.search(out, mark)
                if m:
                    mark = m.end()
                    break
                if not alive or time.monotonic() >= end:
                    sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
                    sys.stderr.write("pty_run: timeout waiting for %r\n" % val)
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    sys.exit(3)
                alive = read_some(min(0.2, end - time.monotonic()))
    end = time.monotonic() + timeout
    while alive and time.monotonic() < end:
        alive = read_some(min(0.2, end - time.monotonic()))
    code = 4
    if alive:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    else:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
    sys.stdout.flush()
    sys.exit(code if code >= 0 else 128 - code)

main()
