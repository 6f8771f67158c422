# One supd per case, on the case's own directories (CASE_DIR under TOP): the harness of
# test-supd.sh, test-hyperv.sh and test-security.sh, sourced after lib.sh. The test sets SUPD,
# SUPCTL, MONITOR and TOP, may set SUPD_ARGS (an array of options every supd of it gets), defines
# unit(), and may define a fail() of its own.

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

# After stop_supd: whatever a case left behind (monitors, mounts) is a failure of its own.
check_left_behind() {
        local left
        left=$(pgrep -f "sup-monitor --dir $CASE_DIR" | wc -l)
        [ "$left" = 0 ] || { fail "$left monitors left running"; pkill -9 -f "sup-monitor --dir $CASE_DIR"; }
        if grep -q "$CASE_DIR" /proc/self/mountinfo; then fail "mounts left behind"; fi
}
