#!/bin/bash
# The units' logs end to end, as root: what the monitor writes (rotation, the order of stdout and
# stderr) and what `supctl logs` shows of it (following across rotations, control characters):
#   test-logs.sh SUPD SUPCTL SUP_MONITOR
# Exit 77 (skip) without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup suplogs

LAYER=$TOP/layer
busybox_layer "$LAYER"

trap cleanup EXIT

# The text of a unit's log lines of one stream, from supctl's output on stdin.
stream() { awk -v s="$1" '$2 == s { sub(/^[^ ]* [^ ]* /, ""); print }'; }

# counting_follower NAME N PAUSE: a unit NAME that writes the numbers 0 to N-1 (with PAUSE, a shell
# command, after every 20th) once $CASE_DIR/go/now exists, on a supd whose logs rotate at 4K, and
# a follower (its pid in follower) that has started: then the test touches go/now.
counting_follower() {
        mkdir -p "$CASE_DIR/go"
        unit "$1" "mounts: [{type: bind, source: $CASE_DIR/go, target: /go}]
command: [/bin/sh, -c, 'while [ ! -e /go/now ]; do usleep 10000; done; i=0; while [ \$i -lt $2 ]; do echo \$i; i=\$((i+1)); [ \$((i % 20)) = 0 ] && $3; done; exec sleep 1000']"
        start_supd --log-max-size 4K
        wait_for 5 state_is "$1" running || fail "$1 is not running: $(field "$1" state) $(field "$1" reason)"
        "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" logs -f "$1" >"$CASE_DIR/follow.out" 2>&1 &
        follower=$!
        wait_for 5 grep -q ' sup ' "$CASE_DIR/follow.out" || fail "the follower printed nothing: $(cat "$CASE_DIR/follow.out")"
}

# ---------------------------------------------------------------------------------------------

begin "logs -f follows the log across many rotations: every line once, in order, no exit, no piled inotify watches"
# The fault: the follower lost the race with the monitor's rename and create (it exited with
# status 1, silently), and each rotation left one more inotify watch (and its inode) behind.
# A 4K log holds about 100 lines here: 2000 lines rotate it about 20 times while it is followed,
# in bursts of 20 lines 20 ms apart, so that the follower is never a whole file behind (a reader
# that is descheduled while the log rotates twice misses the file in between: docs/supd.md).
counting_follower count 2000 "usleep 20000"
touch "$CASE_DIR/go/now"
wait_for 30 eval 'stream stdout <"$CASE_DIR/follow.out" | grep -qx 1999' || fail "the follower did not get to 1999"
if kill -0 "$follower" 2>/dev/null; then
        watches=$(cat /proc/"$follower"/fdinfo/* 2>/dev/null | grep -c '^inotify wd:')
        [ "$watches" -le 2 ] || fail "the follower holds $watches inotify watches (the directory and the file: 2)"
        log "$(($(wc -c <"$CASE_DIR/follow.out") / 4096)) rotations or so, followed with $watches inotify watches"
else
        wait "$follower"
        fail "the follower exited (status $?): $(tail -3 "$CASE_DIR/follow.out")"
fi
stream stdout <"$CASE_DIR/follow.out" >"$CASE_DIR/numbers"
seq 0 1999 | cmp -s - "$CASE_DIR/numbers" ||
        fail "lines lost, repeated or out of order: $(seq 0 1999 | diff - "$CASE_DIR/numbers" | head -5 | tr '\n' ' ')"
[ "$(stream stdout <"$CASE_DIR/state/logs/count.log" | wc -l)" -lt 150 ] || fail "the log did not rotate"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
end

begin "a follower stopped while the log rotates past it twice goes on with the newest files, repeating nothing"
# The fault: at a rotation the follower opened whatever had the name; one that fell a whole file
# behind must not stop, wait forever or read a file twice (the files in between are gone: the
# documented limit of a log with one old copy).
counting_follower lap 1000 true
kill -STOP "$follower"
touch "$CASE_DIR/go/now"
wait_for 10 eval 'stream stdout <"$CASE_DIR/state/logs/lap.log" | grep -qx 999' || fail "lap did not write 999"
kill -CONT "$follower"
wait_for 10 eval 'stream stdout <"$CASE_DIR/follow.out" | grep -qx 999' || fail "the follower did not go on to 999: $(tail -2 "$CASE_DIR/follow.out")"
kill -0 "$follower" 2>/dev/null || fail "the follower exited"
stream stdout <"$CASE_DIR/follow.out" | awk 'NR > 1 && $1 <= prev { bad = 1 } { prev = $1 } END { exit bad }' ||
        fail "a line came twice or out of order: $(stream stdout <"$CASE_DIR/follow.out" | tr '\n' ' ' | cut -c1-200)"
log "$(stream stdout <"$CASE_DIR/follow.out" | wc -l) of 1000 lines seen (the files rotated away while it was stopped are gone)"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
end

begin "logs shows a workload's control characters as ?, so its text cannot rewrite the operator's terminal; --raw gives the bytes"
# The attack: CR back over the line's timestamp and stream, an OSC window title, a CSI that erases
# the line, the same CSI as the C1 control 0x9b, BEL; then text that looks like sup's own.
unit esc "command: [/bin/sh, -c, 'printf \"ok\\\\r\\\\033]0;pwned\\\\007\\\\033[2K\\\\302\\\\233\\\\063J sup running -> stopped\\\\ttab\\\\n\"; exec sleep 1000']"
start_supd
wait_for 5 eval 'grep -q " stdout " "$CASE_DIR/state/logs/esc.log"' || fail "esc printed nothing: $(field esc state) $(field esc reason)"
want='ok??]0;pwned??[2K?3J sup running -> stopped	tab'
[ "$(ctl logs esc | stream stdout)" = "$want" ] || fail "logs shows: $(ctl logs esc | stream stdout | od -c | head -3)"
timeout 1 "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" logs -f esc >"$CASE_DIR/follow.out"
[ "$(stream stdout <"$CASE_DIR/follow.out")" = "$want" ] || fail "logs -f shows: $(stream stdout <"$CASE_DIR/follow.out" | od -c | head -3)"
LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]' < <(ctl logs esc; cat "$CASE_DIR/follow.out") &&
        fail "a control character reached the terminal: $(ctl logs esc | cat -v)"
# The exact bytes, for an operator who wants them (and the log file holds them).
ctl logs --raw esc | cmp -s - "$CASE_DIR/state/logs/esc.log" || fail "--raw differs from the log: $(ctl logs --raw esc | cat -v)"
printf 'ok\r\033]0;pwned\007\033[2K\302\2333J sup running -> stopped\ttab\n' >"$CASE_DIR/want.raw"
ctl logs --raw esc | stream stdout | cmp -s - "$CASE_DIR/want.raw" || fail "--raw is not the workload's bytes: $(ctl logs --raw esc | cat -v)"
end

begin "stdout and stderr are logged in the order the command wrote them, however fast it alternates"
# The fault: the monitor found both pipes full when it woke and logged all of stdout, then all of
# stderr (0 runs of 20 in order). Three patterns, back to back without a pause: alternating lines,
# bursts (so that an order made up by taking turns would fail too), and alternating with pauses.
unit order "restart: {policy: \"no\"}
command: [/bin/sh, -c, 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo out\$i; echo err\$i >&2; done; for i in 1 2 3; do echo burst-out\$i-a; echo burst-out\$i-b; echo burst-err\$i-a >&2; echo burst-err\$i-b >&2; echo burst-err\$i-c >&2; done; for i in 1 2 3; do echo slow-out\$i; usleep 1000; echo slow-err\$i >&2; usleep 1000; done']"
start_supd
wait_for 10 state_is order exited || fail "order did not end: $(field order state) $(field order reason)"
want=$(for i in $(seq 1 20); do echo "stdout out$i"; echo "stderr err$i"; done
        for i in 1 2 3; do printf 'stdout burst-out%s-%s\n' $i a $i b; printf 'stderr burst-err%s-%s\n' $i a $i b $i c; done
        for i in 1 2 3; do echo "stdout slow-out$i"; echo "stderr slow-err$i"; done)
got=$(awk '$2 == "stdout" || $2 == "stderr" { print $2, $3 }' "$CASE_DIR/state/logs/order.log")
[ "$got" = "$want" ] || fail "logged out of order: $(diff <(echo "$want") <(echo "$got") | head -6 | tr '\n' ' ')"
end

finish
