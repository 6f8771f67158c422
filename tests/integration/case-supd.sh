# One supd per case, on the case's own directories (CASE_DIR under TOP): the harness of
# test-supd.sh, test-hyperv.sh, test-security.sh and test-seccomp.sh, sourced after lib.sh. The
# test sets SUPD, SUPCTL, MONITOR and TOP (and LAYER for unit()), may set SUPD_ARGS (an array of
# options every supd of it gets), and may define a unit() or fail() of its own after sourcing this.

SUPD_PID=
SUPD_ARGS=()

# supd_test_setup NAME: skips unless root, with busybox-static and overlayfs; then TOP, the test's
# directory (/tmp/NAME.XXXXXX), which takes the sanitizers' reports too.
supd_test_setup() {
        require_containers
        TOP=$(mktemp -d "/tmp/$1.XXXXXX")
        sanitizer_reports_to "$TOP"
}

# fail MESSAGE: the case fails; its first failure shows supd's output and the units' logs.
fail() {
        printf '    FAIL: %s\n' "$*"
        if [ "$CASE_FAILED" = 0 ] && [ -n "${CASE_DIR:-}" ]; then
                [ -f "$CASE_DIR/supd.log" ] && sed 's/^/      supd| /' "$CASE_DIR/supd.log" | tail -10
                ls "$CASE_DIR"/state/logs/*.log >/dev/null 2>&1 &&
                        tail -n 15 "$CASE_DIR"/state/logs/*.log | grep -v ' sup QEMU ' | sed 's/^/      log| /'
        fi
        CASE_FAILED=1
}

ctl() { "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" "$@"; }

# field UNIT KEY: one field of `supctl status --json` (empty for null).
field() { ctl status --json 2>/dev/null | status_field "$2" "$1"; }
state_is() { [ "$(field "$1" state)" = "$2" ]; }

start_supd() { # start_supd [SUPD OPTIONS...]
        "$SUPD" --units "$CASE_DIR/units" --state-dir "$CASE_DIR/state" --run-dir "$CASE_DIR/run" \
                --monitor "$MONITOR" "${SUPD_ARGS[@]}" "$@" >> "$CASE_DIR/supd.log" 2>&1 &
        SUPD_PID=$!
        wait_for 5 test -S "$CASE_DIR/run/supd.sock" || { fail "supd did not start"; return 1; }
        wait_for 5 ctl status >/dev/null 2>&1
}

stop_supd() {
        [ -n "$SUPD_PID" ] || return 0
        kill -TERM "$SUPD_PID" 2>/dev/null
        wait "$SUPD_PID" 2>/dev/null
        SUPD_PID=
}

begin() {
        case_start "$1"
        CASE_DIR=$TOP/c$CASES
        mkdir -p "$CASE_DIR/units"
}

# unit NAME YAML-REST: a unit on the test's image layer (LAYER), without a network, with a short
# stop timeout; YAML-REST adds keys of its own.
unit() {
        cat > "$CASE_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - dir: $LAYER
network: none
stop: {timeout: 2s}
$2
UNIT
}

# After stop_supd: whatever a case left behind (monitors, hyperv units' QEMU, mounts) is a
# failure of its own.
check_left_behind() {
        local left
        # supd is gone once every monitor closed its socket; a monitor's process ends right after
        # (under the sanitizers its exit, with the leak check, takes a moment).
        wait_for 5 eval '[ "$(pgrep -f "sup-monitor --dir $CASE_DIR" | wc -l)" = 0 ]'
        left=$(pgrep -f "sup-monitor --dir $CASE_DIR" | wc -l)
        [ "$left" = 0 ] || { fail "$left monitors left running"; pkill -9 -f "sup-monitor --dir $CASE_DIR"; }
        left=$(pgrep -f "qemu-system-x86_64 -name sup-.*$CASE_DIR" | wc -l)
        [ "$left" = 0 ] || { fail "$left QEMU processes left running"; pkill -9 -f "qemu-system-x86_64 -name sup-.*$CASE_DIR"; }
        if grep -q "$CASE_DIR" /proc/self/mountinfo; then fail "mounts left behind"; fi
}

end() {
        stop_supd
        check_left_behind
        case_verdict
}

# The EXIT trap: supd stops, whatever still runs under TOP is killed, TOP goes (SUP_TEST_KEEP=1
# keeps it).
cleanup() {
        stop_supd
        pkill -9 -f "sup-monitor --dir $TOP" 2>/dev/null
        pkill -9 -f "qemu-system-x86_64 -name sup-.*$TOP" 2>/dev/null
        if [ "${SUP_TEST_KEEP:-0}" = 1 ]; then
                echo "kept $TOP"
        else
                rm -rf "$TOP"
        fi
}

# both_modes: MODES="process hyperv" where this host can boot a guest (QEMU, the guest kernel
# provisioned in GUEST, the initramfs of SUP_INIT, or with SUP_INIT "-" (a build without sup-init:
# the sanitizers') the plain build's), else "process" with a note; returns 1 (the test fails) when
# SUP_TESTS_MUST_WORK=1 and the hyperv half would be skipped. Uses TOOLS, GUEST and SUP_INIT.
both_modes() {
        local why=
        MODES="process"
        if ! command -v qemu-system-x86_64 >/dev/null; then
                why="no qemu-system-x86_64"
        elif ! command -v mkfs.ext4 >/dev/null; then
                why="no mkfs.ext4"
        elif ! "$TOOLS/guest-kernel.sh" "$GUEST" >/dev/null; then
                why="cannot provision the guest kernel"
        elif [ "$SUP_INIT" = - ]; then
                [ -f "$GUEST/kernel/current/initramfs.cpio" ] || why="no initramfs in $GUEST (run the plain build's test first)"
        elif ! "$TOOLS/guest-initramfs.sh" "$GUEST" "$SUP_INIT" >/dev/null; then
                why="cannot build the initramfs"
        fi
        if [ -z "$why" ]; then
                MODES="process hyperv"
        elif [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ]; then
                echo "FAIL (SUP_TESTS_MUST_WORK=1): hyperv: $why"
                return 1
        else
                echo "SKIP (hyperv half): $why"
        fi
}
