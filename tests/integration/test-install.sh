#!/bin/bash
# meson install end to end, and supctl's bash completion against a real supd:
#   test-install.sh MESON BUILD_DIR
# 1. `meson install` into a DESTDIR puts every piece where the prefix says (binaries, monitor,
#    guest tools, man pages, completion, schema, the systemd unit with this prefix's paths);
# 2. the installed supd, run from the DESTDIR tree without --monitor, runs a unit with the
#    installed sup-monitor (not one from the build directory, nor an older install's);
# 3. the installed completion, driven through COMP_WORDS/COMP_CWORD, offers supctl's commands
#    and each command's options as `supctl --help` lists them, the unit names of the supd that
#    --socket or SUP_RUN_DIR names, and unit files for validate.
# 2 and 3 need root (exit 77, skipped, otherwise, unless SUP_TESTS_MUST_WORK=1); one supd serves
# both, on private directories.
set -uo pipefail

MESON=$1 BUILD=$(realpath "$2")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

TOP=$(mktemp -d /tmp/supinstall.XXXXXX)
sanitizer_reports_to "$TOP"
trap cleanup EXIT
DEST=$TOP/dest

# The install directories this build was configured with (absolute, as meson install uses them).
eval "$("$MESON" introspect "$BUILD" --buildoptions | "$PY" -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
for k in ("bindir", "libexecdir", "datadir", "mandir"):
    print("%s=%s" % (k.upper(), os.path.join(p, o[k])))
print("PREFIX=%s" % p)')"
# Whether this configuration builds sup-init and the man pages, which must then be installed (a
# sanitizer build has no sup-init; -Dman=auto on a host without pandoc, or disabled, no pages).
targets=$("$MESON" introspect "$BUILD" --targets | "$PY" -c 'import json, sys; print(" ".join(t["name"] for t in json.load(sys.stdin)))')
WITH_INIT=no WITH_MAN=no
[[ " $targets " == *" sup-init "* ]] && WITH_INIT=yes
[[ " $targets " == *" supd.8 "* ]] && WITH_MAN=yes

begin "meson install into a DESTDIR: every piece where the prefix says"
out=$(DESTDIR=$DEST "$MESON" install -C "$BUILD" --no-rebuild 2>&1) || fail "meson install: $(tail -n 5 <<<"$out")"
expect_file() { [ -f "$DEST$1" ] || fail "not installed: $1"; }
expect_exe() { [ -x "$DEST$1" ] || fail "not installed (executable): $1"; }
expect_exe "$BINDIR/supd"
expect_exe "$BINDIR/supctl"
expect_exe "$LIBEXECDIR/sup/sup-monitor"
expect_exe "$LIBEXECDIR/sup/guest-kernel.sh"
expect_exe "$LIBEXECDIR/sup/guest-initramfs.sh"
[ "$WITH_INIT" = no ] || expect_exe "$LIBEXECDIR/sup/sup-init"
[ -e "$DEST$BINDIR/sup-monitor" ] && fail "sup-monitor in $BINDIR: it belongs to supd, in $LIBEXECDIR/sup"
expect_file "$DATADIR/sup/unit.schema.json"
expect_file "$DATADIR/doc/sup/unit-format.md"
if [ "$WITH_MAN" = yes ]; then
        for page in man8/supd.8 man1/supctl.1 man5/sup.unit.5; do expect_file "$MANDIR/$page"; done
else
        log "no man pages in this build (-Dman=disabled, or auto without pandoc)"
fi
completion=$(find "$DEST" -path '*/bash-completion/completions/supctl' -type f)
[ -n "$completion" ] || fail "no bash completion (bash-completion/completions/supctl) installed"
service=$DEST$PREFIX/lib/systemd/system/supd.service
if [ -f "$service" ]; then
        grep -qx "ExecStart=$BINDIR/supd" "$service" || fail "supd.service: $(grep ExecStart= "$service")"
        grep -qx "ExecReload=$BINDIR/supctl reload" "$service" || fail "supd.service: $(grep ExecReload= "$service")"
        grep -q "^Documentation=file:$DATADIR/doc/sup/systemd.md$" "$service" ||
                fail "supd.service: $(grep Documentation= "$service")"
else
        fail "no supd.service in $PREFIX/lib/systemd/system"
fi
case_verdict
[ "$FAILED" = 0 ] || { finish; exit 1; }

require_containers
# The one applet the units run: busybox_layer's few hundred links cost seconds on a busy host.
LAYER=$TOP/layer
mkdir -p "$LAYER"/{bin,proc,sys,dev,tmp}
cp /bin/busybox "$LAYER/bin/" && ln -s busybox "$LAYER/bin/sleep"
SUPCTL=$DEST$BINDIR/supctl

begin "the installed supd runs a unit with the installed sup-monitor"
unit alpha 'command: [/bin/sleep, "1000"]'
unit beta 'command: [/bin/sleep, "1000"]'
# No --monitor: supd must find its own.
"$DEST$BINDIR/supd" --units "$CASE_DIR/units" --state-dir "$CASE_DIR/state" --run-dir "$CASE_DIR/run" \
        >>"$CASE_DIR/supd.log" 2>&1 &
SUPD_PID=$!
wait_for 10 state_is alpha running || fail "alpha: $(field alpha state) $(field alpha reason)"
monitor=$(readlink "/proc/$(field alpha monitor_pid)/exe")
[ "$monitor" = "$DEST$LIBEXECDIR/sup/sup-monitor" ] || fail "alpha's monitor runs $monitor"
wait_for 10 state_is beta running || fail "beta: $(field beta state) $(field beta reason)"
case_verdict

# The same supd, so the same CASE_DIR: a case, not a begin.
case_start "bash completion: commands, options, unit names from supd, unit files"
# complete WORD...: what the completion offers for the last WORD, sorted, on one line.
complete() {
        COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMPREPLY=()
        _supctl
        [ ${#COMPREPLY[@]} = 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
}
expect() { # expect WANT WORD...
        local want=$1 got
        shift
        got=$(complete "$@" 2>&1)
        [ "$got" = "$want" ] || fail "completing '$*': '$got', not '$want'"
}
source "$completion" || fail "sourcing $completion"
help=$("$SUPCTL" --help)
# The commands as --help lists them ("  start|stop|restart UNIT", "  image ls [--json]").
commands=$(sed -n '/^Commands:/,/^Options:/s/^  \([a-z|]*\).*/\1/p' <<<"$help" | tr '|' '\n' | sort -u | xargs)
[ -n "$commands" ] || fail "no commands in supctl --help"
expect "$commands" "$SUPCTL" ""
expect "start status stop" "$SUPCTL" st
expect "--help --socket --version" "$SUPCTL" -
# Each command's options, from its line in --help.
while read -r cmds sub rest; do
        [[ "$sub" =~ ^(ls|inspect|pull|prune|rm)$ ]] || { rest="$sub $rest" sub=; }
        want=$(grep -oE -- '(^|[[ ])--?[a-z][a-z-]*(=false)?' <<<"$rest" | tr -d '[ ' | sort -u | xargs)
        [ -n "$want" ] || continue
        for c in ${cmds//|/ }; do
                # Only the options --help lists; exec also offers "--" (its end of options).
                got=$(complete "$SUPCTL" "$c" $sub - | tr ' ' '\n' | grep -vx -- -- | xargs)
                [ "$got" = "$want" ] || fail "options of '$c $sub': '$got', --help says '$want'"
        done
done < <(sed -n '/^Commands:/,/^Options:/s/^  \([a-z|]\{2,\}\) \(.*\)/\1 \2/p' <<<"$help")
expect "inspect ls prune pull" "$SUPCTL" image ""
expect "inspect ls rm" "$SUPCTL" volume ""
# Unit names, from the supd that --socket names...
sock=$CASE_DIR/run/supd.sock
expect "alpha beta" "$SUPCTL" --socket "$sock" status ""
expect "alpha" "$SUPCTL" --socket "$sock" logs a
expect "alpha beta" "$SUPCTL" --socket "$sock" exec -t ""
expect "" "$SUPCTL" --socket "$sock" restart alpha ""
expect "--json" "$SUPCTL" --socket "$sock" top beta --
# ... or SUP_RUN_DIR's; and nothing, quietly, where no supd answers.
SUP_RUN_DIR=$CASE_DIR/run expect "alpha beta" "$SUPCTL" wait ""
expect "" "$SUPCTL" --socket "$TOP/nothing.sock" start ""
expect "" "$SUPCTL" --socket "$sock" exec alpha -- ""
# validate: unit files and directories, nothing else.
mkdir -p "$TOP/files/more" && touch "$TOP/files/a.yaml" "$TOP/files/b.yml" "$TOP/files/notes.txt" "$TOP/files/c d.yaml"
got=$(COMP_WORDS=("$SUPCTL" validate --print "$TOP/files/") COMP_CWORD=3 && _supctl && printf '%s\n' "${COMPREPLY[@]}" | sort)
[ "$got" = "$(printf '%s\n' "$TOP/files/a.yaml" "$TOP/files/b.yml" "$TOP/files/c d.yaml" "$TOP/files/more")" ] ||
        fail "completing validate's files: $got"
case_verdict

stop_supd
check_left_behind
finish
