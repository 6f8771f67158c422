#!/bin/bash
# Named volumes (mounts of type volume, docs/volumes.md) end to end, as root, with one supd:
#   test-volume.sh SUPD SUPCTL SUP_MONITOR [SUP_INIT|-]
# Each case names the promise it checks; they run in order on the same supd and volumes. The last
# one runs a hyperv unit (one guest boot) where QEMU and the guest kernel are there (SUP_GUEST_DIR,
# default /var/lib/sup/guest; SUP_INIT "-": the initramfs already there, the sanitizer build's).
# Exit 77 (skip) without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") SUP_INIT=${4:--}
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup supvolume
getent group nogroup >/dev/null || skip "needs the group nogroup"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
both_modes || exit 1
[ "$MODES" = process ] || SUPD_ARGS=(--guest-dir "$GUEST")

# The image: /home/app is app's (1000:1000, 0750), as a database image's data directory is its
# user's; a new volume there must take that owner.
LAYER=$TOP/layer
busybox_layer "$LAYER"
app_user "$LAYER"
mkdir -p "$LAYER/home/app"
chown 1000:1000 "$LAYER/home/app"
chmod 0750 "$LAYER/home/app"

running() { wait_for 10 state_is "$1" running || fail "$1 is not running: $(field "$1" state) $(field "$1" reason)"; }
gone() { wait_for 10 eval '[ -z "$(ctl status --json 2>/dev/null | status_field state '"$1"')" ]' || fail "$1 is still there"; }
log_of() { cat "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
said() { SAID_UNIT=$1 SAID_TEXT=$2 wait_for 5 eval 'log_of "$SAID_UNIT" | grep -q -- "stdout $SAID_TEXT"'; }
# vfield NAME KEY: one field of `supctl volume inspect --json` (lists joined with ",").
vfield() {
        ctl volume inspect --json "$1" 2>/dev/null | "$PY" -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print(",".join(v) if isinstance(v, list) else ("" if v is None else v))' "$2"
}
# starts N: the db unit has started N times on its volume (one line per start in /home/app/starts).
starts() { wait_for 10 eval '[ "$(wc -l < "$DATA/starts" 2>/dev/null)" = '"$1"' ]' || fail "the volume holds $(wc -l < "$DATA/starts" 2>/dev/null) starts, not $1"; }
as_member() { setpriv --reuid=65534 --regid=65534 --clear-groups "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" "$@"; }

db_unit() { # db_unit GENERATION: a change of GENERATION replaces the unit
        unit db "user: app
env: {GENERATION: \"$1\"}
restart: {policy: \"no\"}
mounts:
  - {type: volume, name: pgdata, target: /home/app}
command: [/bin/sh, -c, \"echo \$GENERATION >> /home/app/starts; exec sleep 1000\"]"
}

trap cleanup EXIT

begin "one supd, two units on one volume: both start with it"
db_unit 1
chmod 755 "$TOP"
start_supd --socket-group nogroup
chmod 755 "$CASE_DIR" "$CASE_DIR/run"
# db first: the unit that uses a volume first decides its owner (its image's /home/app), and
# reader's target is a directory its image lacks (root's, 0755).
running db
unit reader 'restart: {policy: "no"}
mounts:
  - {type: volume, name: pgdata, target: /data, read_only: true}
command: [/bin/sh, -c, "until [ -s /data/starts ]; do sleep 0.05; done; head -1 /data/starts | sed s/^/seen:/; touch /data/ro-test 2>/dev/null && echo ro-broken || echo ro-refused; exec sleep 1000"]'
ctl reload >/dev/null || fail "reload"
running reader
DATA=$(vfield pgdata path)
[ "$DATA" = "$CASE_DIR/state/volumes/pgdata/_data" ] || fail "inspect's path is '$DATA'"
starts 1
case_verdict

case_start "a new volume is owned as the image's directory at its target (1000:1000 0750), the store is root's alone"
[ "$(stat -c %u:%g:%a "$DATA" 2>/dev/null)" = 1000:1000:750 ] || fail "the new volume is $(stat -c %u:%g:%a "$DATA" 2>/dev/null)"
[ "$(stat -c %u:%a "$CASE_DIR/state/volumes/pgdata")" = 0:700 ] || fail "the volume's directory is $(stat -c %u:%a "$CASE_DIR/state/volumes/pgdata")"
[ "$(vfield pgdata created_by)" = db ] && [ "$(vfield pgdata uid)" = 1000 ] && [ "$(vfield pgdata mode)" = 0750 ] ||
        fail "inspect: created_by $(vfield pgdata created_by) uid $(vfield pgdata uid) mode $(vfield pgdata mode)"
case_verdict

case_start "two units share one volume; read_only holds for the one that asks"
said reader seen:1 || fail "reader does not see db's data: $(log_of reader | tail -3)"
said reader ro-refused || fail "a read_only volume was writable: $(log_of reader | tail -3)"
[ ! -e "$DATA/ro-test" ] || fail "the read-only unit wrote into the volume"
[ "$(vfield pgdata users)" = db,reader ] || fail "users: $(vfield pgdata users)"
case_verdict

case_start "supctl volume ls and inspect (also --json and for the socket's group); rm is refused while used, and to the group"
out=$(ctl volume ls) || fail "volume ls failed: $out"
grep -qE "^pgdata +[0-9T:-]+Z +1000:1000 0750 +db \(running\), reader \(running\)$" <<<"$out" || fail "volume ls: $out"
ctl volume ls --json | "$PY" -c 'import json, sys; v = json.load(sys.stdin); assert [x["name"] for x in v] == ["pgdata"], v' ||
        fail "volume ls --json"
ctl volume inspect pgdata | grep -q "used by: db (running), reader (running)" || fail "volume inspect: $(ctl volume inspect pgdata)"
out=$(ctl volume rm pgdata 2>&1) && fail "rm of a volume in use succeeded"
grep -q "in use: used by unit db (running), used by unit reader (running)" <<<"$out" || fail "rm's refusal: $out"
out=$(as_member volume ls 2>&1) && grep -q "^pgdata " <<<"$out" || fail "a --socket-group member cannot list: $out"
as_member volume inspect pgdata >/dev/null 2>&1 || fail "a --socket-group member cannot inspect"
out=$(as_member volume rm pgdata 2>&1) && fail "a --socket-group member removed a volume"
grep -q "root only" <<<"$out" || fail "the member's rm: $out"
out=$(ctl volume inspect nosuch 2>&1) && fail "inspect of a missing volume succeeded"
grep -q "no volume nosuch" <<<"$out" || fail "inspect nosuch: $out"
[ -d "$DATA" ] || fail "the volume is gone"
case_verdict

case_start "the data is kept across a restart, a replacement (env changed + reload) and the unit's removal and return"
ctl restart db >/dev/null || fail "restart db"
starts 2
db_unit 2
ctl reload >/dev/null || fail "reload"
starts 3
mv "$CASE_DIR/units/db.yaml" "$TOP/db.yaml"
ctl reload >/dev/null || fail "reload without db"
gone db
[ -d "$DATA" ] && [ "$(vfield pgdata users)" = reader ] || fail "after db's removal: users '$(vfield pgdata users)'"
mv "$TOP/db.yaml" "$CASE_DIR/units/db.yaml"
ctl reload >/dev/null || fail "reload with db"
running db
starts 4
[ "$(tr '\n' ' ' < "$DATA/starts")" = "1 1 2 2 " ] || fail "the starts recorded: $(tr '\n' ' ' < "$DATA/starts")"
case_verdict

case_start "a stopped unit that names it still keeps it; once no unit names it, rm removes it and the next start makes it anew"
ctl stop db >/dev/null && ctl stop reader >/dev/null || fail "stop"
wait_for 10 eval '[ -z "$(vfield pgdata users)" ]' || fail "users after stop: $(vfield pgdata users)"
out=$(ctl volume rm pgdata 2>&1) && fail "rm of a volume named by loaded units succeeded"
grep -q "in use: named by unit db, named by unit reader" <<<"$out" || fail "rm's refusal: $out"
rm "$CASE_DIR/units/db.yaml" "$CASE_DIR/units/reader.yaml"
ctl reload >/dev/null || fail "reload without units"
gone db
gone reader
out=$(ctl volume rm pgdata 2>&1) || fail "rm failed: $out"
[ ! -e "$CASE_DIR/state/volumes/pgdata" ] || fail "the volume is still there"
[ -z "$(ls -A "$CASE_DIR/state/volumes")" ] || fail "the store keeps: $(ls -A "$CASE_DIR/state/volumes")"
db_unit 5
ctl reload >/dev/null || fail "reload with db"
running db
starts 1
[ "$(cat "$DATA/starts")" = 5 ] || fail "the new volume holds $(cat "$DATA/starts")"
case_verdict

case_start "user_namespace: auto: the volume is idmapped, the workload sees the image's owner, the disk keeps the image's ids"
unit ns 'user: app
restart: {policy: "no"}
security: {user_namespace: auto}
mounts:
  - {type: volume, name: nsvol, target: /home/app}
command: [/bin/sh, -c, "stat -c owner=%u:%g /home/app; echo x > /home/app/made && echo written; exec sleep 1000"]'
ctl reload >/dev/null || fail "reload with ns"
running ns
said ns owner=1000:1000 || fail "the workload sees: $(log_of ns | grep owner)"
said ns written || fail "app could not write its volume: $(log_of ns | tail -3)"
NSDATA=$(vfield nsvol path)
[ "$(stat -c %u:%g "$NSDATA" "$NSDATA/made" 2>/dev/null | tr '\n' ' ')" = "1000:1000 1000:1000 " ] ||
        fail "on disk: $(stat -c %u:%g "$NSDATA" "$NSDATA/made" 2>/dev/null | tr '\n' ' ')"
case_verdict

if [ "$MODES" != process ]; then
        case_start "hyperv: a volume is a virtio-fs share: the image's owner, shared with a process unit, writes kept on the host, read_only in the guest (test-hyperv checks the host refuses a remounted view)"
        unit hv 'isolation: hyperv
user: app
restart: {policy: "no"}
mounts:
  - {type: volume, name: pgdata, target: /home/app}
  - {type: volume, name: pgdata, target: /ro, read_only: true}
command: [/bin/sh, -c, "stat -c hv-owner=%u:%g /home/app; head -1 /home/app/starts | sed s/^/hv-seen:/; echo hv > /home/app/hv && echo hv-written; touch /ro/x 2>/dev/null && echo hv-ro-broken || echo hv-ro-refused"]'
        ctl reload >/dev/null || fail "reload with hv"
        # Its end, whichever it is: a start that fails says why at once rather than at the deadline.
        wait_for 90 eval '[[ "$(field hv state)" =~ ^(exited|failed)$ ]]'
        state_is hv exited || fail "hv did not exit: $(field hv state) $(field hv reason)"
        log_of hv | grep -q "stdout hv-owner=1000:1000" || fail "the guest sees: $(log_of hv | grep owner)"
        log_of hv | grep -q "stdout hv-seen:5" || fail "the guest does not see db's data: $(log_of hv | grep stdout | head -3)"
        log_of hv | grep -q "stdout hv-written" && [ "$(cat "$DATA/hv" 2>/dev/null)" = hv ] ||
                fail "the guest's write is not on the host: $(log_of hv | grep stdout | tail -3)"
        [ "$(stat -c %u:%g "$DATA/hv" 2>/dev/null)" = 1000:1000 ] || fail "the guest's file is $(stat -c %u:%g "$DATA/hv" 2>/dev/null) on disk"
        log_of hv | grep -q "stdout hv-ro-refused" && [ ! -e "$DATA/x" ] || fail "a read_only volume was writable in the guest"
        [ -z "$(vfield pgdata users | tr ',' '\n' | grep -x hv)" ] || fail "hv still holds the volume after its end"
        case_verdict
fi

case_start "supd stops; the monitors release their volumes and leave nothing behind"
stop_supd
check_left_behind
[ -d "$NSDATA" ] || fail "a volume went with supd"
case_verdict

finish
