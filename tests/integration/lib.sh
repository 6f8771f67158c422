# The harness shared by the shell integration tests (test-supd.sh, test-network.sh), sourced after
# `set -uo pipefail`. Each test keeps what is its own: its cases, how it runs supd, what it checks
# at the end of a case.

PY=/usr/bin/python3

# hyperv units boot cold in the tests (SUP_VM_TEMPLATES=0 reaches supd and its monitors through
# the environment): a template is built in the background after a unit's first cold boot, a
# second boot's CPU for every shape that starts a later unit faster, which no test but
# test-hyperv's template case waits for. That case turns it on for its own supd.
export SUP_VM_TEMPLATES=${SUP_VM_TEMPLATES:-0}
FAILED=0 CASES=0 CASE_FAILED=0

# Exit 77 (skipped), or fail where SUP_TESTS_MUST_WORK=1 says the machine has what is needed.
skip() {
        if [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ]; then
                echo "FAIL (SUP_TESTS_MUST_WORK=1): $*"
                exit 1
        fi
        echo "SKIP: $*"
        exit 77
}

# What every test of process containers needs: root, the static busybox of its image, overlayfs.
require_containers() {
        [ "$(id -u)" = 0 ] || skip "needs root"
        [ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
        grep -q overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "no overlayfs"
}

# Under the sanitizers, every process (supd, each monitor with its stderr on /dev/null, supctl)
# writes its report to a file in DIR/sanitizer; finish() fails the run if there is any.
sanitizer_reports_to() {
        [ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ] || return 0
        mkdir -p "$1/sanitizer"
        export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$1/sanitizer/asan"
        export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$1/sanitizer/ubsan"
}

# busybox_layer DIR: a busybox root file system (every applet linked, a root user), the image
# layer of the tests' units.
busybox_layer() {
        mkdir -p "$1"/{bin,etc,proc,sys,dev,tmp}
        cp /bin/busybox "$1/bin/"
        # Every applet a link to busybox, made by one process: an ln each is ~270 forks, seconds on
        # a loaded host, in every test that makes a layer.
        "$PY" -c 'import os, sys
for a in sys.argv[2:]:
        p = os.path.join(sys.argv[1], a)
        if a == "busybox":
                continue
        if os.path.lexists(p):
                os.unlink(p)  # as ln -sf
        os.symlink("busybox", p)' "$1/bin" $(/bin/busybox --list)
        printf 'root:x:0:0:root:/root:/bin/sh\n' > "$1/etc/passwd"
        printf 'root:x:0:\n' > "$1/etc/group"
}

# app_user DIR: a user app, 1000:1000 with its home in /home/app, in the layer DIR.
app_user() {
        printf 'app:x:1000:1000:app:/home/app:/bin/sh\n' >>"$1/etc/passwd"
        printf 'app:x:1000:\n' >>"$1/etc/group"
}

# host_tsc_khz: the host's TSC frequency in kHz, for a guest's tsc_early_khz=. -M microvm boots
# fastest, but under TCG about one boot in ten hangs while the kernel calibrates the TSC against
# timers microvm emulates poorly; telling it the frequency avoids that. TCG's TSC runs at the
# host's: the kernel's measure from the log, else /proc/cpuinfo. Fails when neither tells.
host_tsc_khz() {
        local mhz
        mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Refined TSC clocksource calibration: \([0-9.]*\) MHz.*/\1/p' | tail -n1)
        [ -n "$mhz" ] || mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz processor.*/\1/p' | tail -n1)
        [ -n "$mhz" ] || mhz=$(sed -n 's/^cpu MHz[[:space:]]*: \([0-9.]*\)$/\1/p' /proc/cpuinfo | head -n1)
        awk -v m="$mhz" 'BEGIN { k = int(m * 1000); if (k <= 0) exit 1; print k }'
}

log() { printf '    %s\n' "$*"; }

# host_bind ADDRESS PORT tcp|udp: what a host program's bind() (and listen(), for tcp) to the port
# gets, with SO_REUSEADDR as servers set it: "ok" or the errno's name (EADDRINUSE).
host_bind() {
        "$PY" -c '
import errno, socket, sys
tcp = sys.argv[3] == "tcp"
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
    if tcp:
        s.listen(1)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$@"
}

# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
        local deadline=$((SECONDS + $1)); shift
        until "$@"; do
                [ $SECONDS -ge $deadline ] && return 1
                sleep 0.05
        done
}

# status_field KEY UNIT: one field of `supctl status --json` on stdin (empty for null).
status_field() {
        "$PY" -c '
import json, sys
for u in json.load(sys.stdin):
    if u["name"] == sys.argv[1]:
        v = u.get(sys.argv[2])
        print("" if v is None else v)' "$2" "$1"
}

# case_start TITLE: a case begins; fail() marks it failed, case_verdict() ends it.
case_start() {
        CASES=$((CASES + 1)) CASE_FAILED=0
        echo "--- $1"
}

case_verdict() {
        if [ "$CASE_FAILED" = 0 ]; then echo "    ok"; else FAILED=$((FAILED + 1)); fi
}

# The end of the run (TOP: the test's directory): sanitizer reports fail it; the count; the status.
finish() {
        if [ -d "$TOP/sanitizer" ] && [ -n "$(ls -A "$TOP/sanitizer")" ]; then
                echo "FAIL: sanitizer reports:"
                cat "$TOP"/sanitizer/* | head -80
                FAILED=$((FAILED + 1))
        fi
        echo "$((CASES - FAILED))/$CASES cases passed"
        [ "$FAILED" = 0 ]
}
