#!/usr/bin/env bash
# `make install` / `make uninstall` (docs/OPERATIONS.md, "Installing"):
#  1. `make install BUILD=$BUILD PREFIX=$tmp` installs every file, from the
#     build that is there (no compiler run when it is up to date);
#  2. the installed programs run --help (and --version where they have it);
#  3. the man pages render with groff -man -ww without a warning, and
#     `man -l` reads them (skipped without groff / man);
#  4. the sample rkv.conf is the option table's (`--dump-config-sample`
#     prints it byte for byte), parses with --check-config as it is, and
#     again with every default line uncommented (the defaults it shows are
#     true), and names every option of --help;
#  5. `systemd-analyze verify` passes on the unit, with ExecStart pointing at
#     the installed binary (skipped without systemd-analyze);
#  6. `make uninstall` removes every installed file.
set -u
cd "$(dirname "$0")/../.."
BUILD=${RKV_BUILD:-build}
pass=0 fail=0 skip=0
ok() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
skip() { skip=$((skip + 1)); echo "SKIP: $1"; }
finish() { echo "$pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit $?; }
tmp=$(mktemp -d /tmp/rkv-install-XXXXXX)
cleanup() { if [ $fail -eq 0 ]; then rm -rf "$tmp"; else echo "files kept in $tmp"; fi; }
trap cleanup EXIT
prefix="$tmp/prefix"
files="bin/rkv-server bin/rkv-cli bin/rkv-bench share/man/man1/rkv-server.1
share/man/man1/rkv-cli.1 share/man/man1/rkv-bench.1 share/rkv/rkv.conf share/rkv/logrotate.rkv
lib/systemd/system/rkv@.service"

echo "-- 1. make install"
uptodate=0
make -q BUILD="$BUILD" "$BUILD/rkv-server" "$BUILD/rkv-cli" "$BUILD/rkv-bench" 2>/dev/null && uptodate=1
make install BUILD="$BUILD" PREFIX="$prefix" >"$tmp/install.log" 2>&1
ok "make install succeeds" '[ $? = 0 ] || { cat "$tmp/install.log"; false; }'
missing=""
for f in $files; do [ -f "$prefix/$f" ] || missing="$missing $f"; done
ok "every file is installed (missing:${missing:- none})" '[ -z "$missing" ]'
if [ $uptodate = 1 ]; then
    ok "an up-to-date build is installed without compiling" '! grep -qE "^  CC|^cc |-o $BUILD/rkv-" "$tmp/install.log"'
else
    skip "the build was not up to date before install: no check that nothing is rebuilt"
fi
ok "the unit runs the installed binary" \
    'grep -q "^ExecStart=$prefix/bin/rkv-server --config /etc/rkv/node%i.conf$" "$prefix/lib/systemd/system/rkv@.service"'

echo "-- 2. the installed programs run"
for p in rkv-server rkv-cli rkv-bench; do
    ok "$p --help starts with Usage:" '"$prefix/bin/$p" --help 2>&1 | head -n 1 | grep -q "^Usage:"'
done
ok "rkv-server --version prints its version" '"$prefix/bin/rkv-server" --version | grep -qE "^rkv-server [0-9]+\.[0-9]+"'
for p in rkv-cli rkv-bench; do
    if "$prefix/bin/$p" --version >/dev/null 2>&1; then
        ok "$p --version prints a version" '"$prefix/bin/$p" --version | grep -qE "[0-9]+\.[0-9]+"'
    else
        skip "$p has no --version"
    fi
done

echo "-- 3. man pages"
if command -v groff >/dev/null; then
    for p in rkv-server rkv-cli rkv-bench; do
        page="$prefix/share/man/man1/$p.1"
        groff -man -Tutf8 -ww -P-cbu "$page" >"$tmp/$p.txt" 2>"$tmp/$p.warn"
        ok "$p.1 renders without groff warnings" '[ ! -s "$tmp/$p.warn" ] || { cat "$tmp/$p.warn"; false; }'
        ok "$p.1 has NAME, SYNOPSIS and OPTIONS" \
            'grep -q "^NAME" "$tmp/$p.txt" && grep -q "^SYNOPSIS" "$tmp/$p.txt" && grep -q "^OPTIONS" "$tmp/$p.txt"'
    done
    ok "rkv-server.1 documents --check-wal and every option" \
        '(for o in $("$prefix/bin/rkv-server" --help | sed -n "s/^  \(--[a-z][a-z0-9-]*\).*/\1/p"); do
             grep -q -- "$o" "$tmp/rkv-server.txt" || { echo "missing $o"; exit 1; }; done)'
else
    skip "groff is not installed: man pages not rendered"
fi
if command -v man >/dev/null; then
    ok "man -l reads rkv-server.1" 'MANWIDTH=80 man -l "$prefix/share/man/man1/rkv-server.1" 2>/dev/null | grep -q "check-snapshot"'
else
    skip "man is not installed"
fi

echo "-- 4. the sample config"
conf="$prefix/share/rkv/rkv.conf"
srv="$prefix/bin/rkv-server"
ok "rkv.conf is what --dump-config-sample prints (regenerate: make config-sample)" \
    '"$srv" --dump-config-sample | cmp -s - "$conf"'
ok "rkv.conf parses as it is" '"$srv" --config "$conf" --check-config >/dev/null'
names=$("$srv" --help | sed -n 's/^  --\([a-z][a-z0-9-]*\) [NS] .*/\1/p')
absent=""
for o in $names; do grep -q "^# $o " "$conf" || absent="$absent $o"; done
ok "rkv.conf has a line for every option of --help (absent:${absent:- none})" '[ -z "$absent" ]'
# Uncomment each option's default line (not the "Example (no default):" ones).
awk -v names="|$(echo $names | tr ' ' '|')|" '
    /^# Example \(no default\):$/ { skip = 1; print; next }
    /^# [a-z][a-z0-9-]* [^ ]+$/ && !skip { split($0, f, " "); if (index(names, "|" f[2] "|")) { sub(/^# /, ""); print; next } }
    { skip = 0; print }' "$conf" >"$tmp/defaults.conf"
n=$(grep -c '^[a-z]' "$tmp/defaults.conf")
ok "with its $n default lines uncommented, rkv.conf still parses" \
    '"$srv" --config "$tmp/defaults.conf" --check-config >/dev/null'
ok "at least 40 options show their default" '[ "$n" -ge 40 ]'
ok "the defaults shown are the server's (CONFIG GET port, data-dir)" \
    'grep -qx "port 7379" "$tmp/defaults.conf" && grep -qx "data-dir ./data" "$tmp/defaults.conf"'

echo "-- 5. systemd unit"
if command -v systemd-analyze >/dev/null; then
    ok "systemd-analyze verify passes" \
        '(cd "$tmp" && MANPATH="$prefix/share/man" systemd-analyze verify "$prefix/lib/systemd/system/rkv@.service" >"$tmp/verify.log" 2>&1) ||
         { cat "$tmp/verify.log"; false; }'
    ok "the unit is Type=notify with reload, stop and hardening settings" \
        '(u="$prefix/lib/systemd/system/rkv@.service"; for k in "Type=notify" "ExecReload=/bin/kill -HUP \$MAINPID" \
             "KillSignal=SIGTERM" "NoNewPrivileges=yes" "ProtectSystem=strict" "ReadWritePaths=/var/lib/rkv" \
             "PrivateTmp=yes" "User=rkv" "LimitNOFILE=" "TimeoutStopSec="; do
             grep -q "^$k" "$u" || { echo "no $k"; exit 1; }; done)'
else
    skip "systemd-analyze is not installed"
fi

echo "-- 6. make uninstall"
make uninstall BUILD="$BUILD" PREFIX="$prefix" >"$tmp/uninstall.log" 2>&1
ok "make uninstall succeeds" '[ $? = 0 ]'
left=$(cd "$prefix" && find . -type f | sed 's|^\./||' | tr '\n' ' ')
ok "make uninstall removes every file (left: ${left:-none})" '[ -z "$left" ]'
finish
