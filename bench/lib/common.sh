# shellcheck shell=bash
# Shared by the benchmarks in bench/ (sourced, not run). Everything a benchmark creates lives in
# one scratch directory ($WORK), one cgroup parent per supd (sup-bench-<pid>) and one crun state
# directory, and bench_cleanup removes all of it: supd is stopped with SIGTERM (it stops its
# units), the cgroups are removed, and nothing stays mounted.

set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(cd "$BENCH/.." && pwd)
BUILD=${SUP_BUILD:-$TOP/build}
OUT=${SUP_BENCH_OUT:-$BUILD/bench}
PY=/usr/bin/python3
PROBE=$OUT/bench-probe

SUPD=$BUILD/supd SUPCTL=$BUILD/supctl MONITOR=$BUILD/sup-monitor
WORK='' SUPD_PID='' SUP_DIR='' CGROUP_PARENT=''

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

bench_require() {
        [ "$(id -u)" = 0 ] || die "needs root (namespaces, cgroups, overlayfs)"
        [ -x /bin/busybox ] || die "needs busybox-static (/bin/busybox)"
        [ -x $PY ] || die "needs python3"
        if [ ! -x "$SUPD" ] || [ ! -x "$SUPCTL" ] || [ ! -x "$MONITOR" ]; then
                die "build sup first: meson setup build && ninja -C build"
        fi
        mkdir -p "$OUT"
        # The stopwatch: rebuilt when its source changes.
        if [ ! -x "$PROBE" ] || [ "$BENCH/probe.c" -nt "$PROBE" ]; then
                ${CC:-cc} -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$PROBE" "$BENCH/probe.c"
        fi
}

# bench_begin NAME RESULTS-NAME: the scratch directory, and the cleanup that runs however the
# script ends; in it the busybox layer ($WORK/layer) and $RAW for the samples; RESULTS, the
# results file $OUT/RESULTS-NAME.jsonl, emptied.
bench_begin() {
        WORK=$(mktemp -d "${SUP_BENCH_TMPDIR:-/tmp}/sup-bench-$1.XXXXXX")
        trap bench_cleanup EXIT
        trap 'exit 130' INT TERM
        RESULTS=$OUT/$2.jsonl
        : > "$RESULTS"
        RAW=$WORK/raw
        mkdir -p "$RAW"
        make_layer "$WORK/layer"
}

# The file system the scratch directory is on, for a results header: "ext4 on /dev/vda, no
# journal". Both sides of every comparison create their files there (supd's run and state
# directories, crun's state), and what creating a file costs depends on it: ext4 without a journal
# checks every inode freed in the last minutes (up to 6) before it reuses one (recently_deleted()),
# which made the file and directory creations of 100 starts a third of their CPU on the build
# machines' root file system (bench/README.md, goal 4c).
scratch_fs() {
        local src fstype dev journal=""
        read -r src fstype < <(findmnt -n -o SOURCE,FSTYPE --target "$WORK")
        dev=$(basename "$src")
        if [ "$fstype" = ext4 ] || [ "$fstype" = ext3 ]; then
                journal=", no journal"
                compgen -G "/proc/fs/jbd2/$dev-*" >/dev/null && journal=", journaled"
        fi
        echo "$fstype on $src$journal"
}

# A busybox root file system: the one image layer every container here runs, sup's and crun's.
make_layer() { # make_layer DIR
        local l=$1
        mkdir -p "$l"/{bin,etc,proc,sys,dev,tmp,root}
        cp /bin/busybox "$l/bin/"
        for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$l/bin/$a"; done
        printf 'root:x:0:0:root:/root:/bin/sh\n' > "$l/etc/passwd"
        printf 'root:x:0:\n' > "$l/etc/group"
}

# ---- sup -----------------------------------------------------------------------------------

ctl() { "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" "$@"; }

# The stop timeout is long on purpose: the monitor (as of d08725b) leaves the stop.timeout timer
# armed after a stop completes, and when it fires the stopped unit is restarted as if it had
# crashed (stopped -> backoff -> starting). With 1h it never fires during a benchmark. Units stop
# at once here anyway (sh execs sleep, which dies on SIGTERM).
sup_unit() { # sup_unit NAME [COMMAND-YAML [MORE-YAML]]
        cat > "$SUP_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - dir: $WORK/layer
network: none
command: ${2:-[/bin/sh, -c, "echo ready; exec sleep 1000"]}
${3:-}
UNIT
}

# sup_start DIR [SUPD-OPTION...]: supd on private directories below DIR, with its own cgroup parent.
sup_start() {
        SUP_DIR=$1
        shift
        CGROUP_PARENT=sup-bench-$$
        mkdir -p "$SUP_DIR/units"
        "$SUPD" --units "$SUP_DIR/units" --state-dir "$SUP_DIR/state" --run-dir "$SUP_DIR/run" \
                --monitor "$MONITOR" --cgroup-parent "$CGROUP_PARENT" "$@" >> "$SUP_DIR/supd.log" 2>&1 &
        SUPD_PID=$!
        for _ in $(seq 200); do
                ctl status >/dev/null 2>&1 && return 0
                kill -0 "$SUPD_PID" 2>/dev/null || break
                sleep 0.05
        done
        cat "$SUP_DIR/supd.log" >&2
        die "supd did not start"
}

# sup_states: "NAME STATE" per unit, from status --json.
sup_states() {
        ctl status --json | $PY -c '
import json, sys
for u in json.load(sys.stdin):
    print(u["name"], u["state"])'
}

# sup_field UNIT KEY...: a field of the unit in status --json (KEY KEY2: a field of an object in
# it, as vm memory); empty for null.
sup_field() {
        ctl status --json | $PY -c '
import json, sys
v = [u for u in json.load(sys.stdin) if u["name"] == sys.argv[1]][0]
for k in sys.argv[2:]:
    v = (v or {}).get(k)
print("" if v is None else v)' "$@"
}

# probe_times FILE UNIT WORD: from the output of a bench-probe watch of the logs, in microseconds
# since the request:
#   starting running first exit log_starting_to_running log_starting_to_first qemu console
# first: the line "stdout WORD"; log_*: from the log's own timestamps (millisecond resolution);
# qemu, console: for a hyperv unit, when the monitor logged QEMU's command line and the first
# line of the guest's console (-1 where there is none).
probe_times() {
        awk -v f="$2.log" -v w="$3" '
        function tod(iso, a) { split(iso, a, /[T:Z]/); return (a[2] * 3600 + a[3] * 60 + a[4]) * 1e6 }
        $1 != "line" || $3 != f { if ($1 == "exit") ex = $2; next }
        $5 == "sup" && $6 == "QEMU" && $7 ~ /^[0-9]+:$/ && qe == "" { qe = $2 }
        $5 == "console" && co == "" { co = $2 }
        $NF == "starting" && $(NF-1) == "->" { st = $2; lst = tod($4) }
        $NF == "running" && $(NF-1) == "->" { ru = $2; lru = tod($4) }
        $5 == "stdout" && $6 == w && rd == "" { rd = $2; lrd = tod($4) }
        END {
                # The first line can be logged before "running": the command wrote it before its
                # init closed its copy of the setup-error pipe. The probe stops at the first line.
                if (ru == "" && rd != "") { ru = rd; lru = lrd }
                if (st == "" || ru == "" || rd == "") exit 1
                printf "%d %d %d %d %d %d %d %d\n", st, ru, rd, ex, lru - lst, lrd - lst, qe == "" ? -1 : qe, co == "" ? -1 : co
        }' "$1"
}

# sup_wait_all STATE SECONDS: until every unit of the generation is in STATE.
sup_wait_all() {
        local deadline=$((SECONDS + $2))
        until [ -z "$(sup_states | awk -v s="$1" '$2 != s')" ]; do
                [ $SECONDS -ge $deadline ] && die "units not $1 after $2 s: $(sup_states | awk -v s="$1" '$2 != s' | head -3 | tr '\n' ' ')"
                sleep 0.05
        done
}

sup_stop() {
        [ -n "$SUPD_PID" ] || return 0
        kill -TERM "$SUPD_PID" 2>/dev/null || true
        wait "$SUPD_PID" 2>/dev/null || true
        SUPD_PID=
}

# The monitors of this supd: their command lines name its run directory.
sup_monitor_pids() {
        local p
        for p in $(pgrep -x sup-monitor); do
                tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "--dir $SUP_DIR/run/units/" && echo "$p"
        done
        return 0
}

# ---- crun ----------------------------------------------------------------------------------

# crun 1.8 refuses a hybrid cgroup layout: it runs in a private mount namespace where the
# controller-less cgroup2 at /sys/fs/cgroup/unified is replaced by a scratch tmpfs (rather than only
# unmounted: crun creates directories there, and they would otherwise land, hidden, in the host's
# /sys/fs/cgroup tmpfs). crun_ns COMMAND... runs a command there.
crun_ns() {
        unshare -m --propagation private -- bash -c '
                if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] && [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
                        umount /sys/fs/cgroup/unified && mount -t tmpfs -o size=1m sup-bench /sys/fs/cgroup/unified
                fi
                exec "$@"' crun_ns "$@"
}

# crun_bundle DIR ID-PREFIX [SECCOMP.json [OPTION...]]: an OCI bundle over the layer, configured as close to
# what sup does for a `network: none` unit as crun allows (see README.md); OPTION: benchlib.py
# crun-config's (caps=, nnp=, limits=).
crun_bundle() {
        mkdir -p "$1"
        ln -sfn "$WORK/layer" "$1/rootfs"
        (cd "$1" && rm -f config.json && crun spec)
        $PY "$BENCH/lib/benchlib.py" crun-config "$1/config.json" "/sup-bench-crun-$$/$2" "${3:-}" "${@:4}"
}

# ---- cleanup -------------------------------------------------------------------------------

remove_cgroups() { # remove_cgroups NAME: the directory NAME below every hierarchy, deepest first
        local h
        for h in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
                [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        return 0
}

bench_cleanup() {
        local rc=$?
        set +e
        # A benchmark's own (start-latency.sh's base supd), first.
        declare -F bench_cleanup_extra >/dev/null && bench_cleanup_extra
        sup_stop
        if [ -n "$SUP_DIR" ]; then
                # A monitor that outlived supd's shutdown is this run's, and is ended by its PID.
                for p in $(sup_monitor_pids); do kill -KILL "$p"; done
        fi
        # So is a QEMU whose command line names the scratch directory (a disk, an initramfs).
        if [ -n "$WORK" ]; then
                for p in $(pgrep -x qemu-system-x86); do
                        tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$WORK/" && kill -KILL "$p"
                done
        fi
        if [ -d "$WORK/crun" ]; then
                for id in $(crun --root "$WORK/crun" list -q 2>/dev/null); do
                        crun_ns crun --root "$WORK/crun" delete -f "$id" >/dev/null 2>&1
                done
        fi
        sleep 0.1
        [ -n "$CGROUP_PARENT" ] && remove_cgroups "$CGROUP_PARENT"
        remove_cgroups "sup-bench-crun-$$"
        if [ -n "$WORK" ]; then
                grep -q " $WORK" /proc/self/mountinfo && note "mounts left below $WORK: unmounting" &&
                        grep " $WORK" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
                if [ "${SUP_BENCH_KEEP:-0}" = 1 ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
        fi
        exit $rc
}

# The results, once the samples are in $RAW (one file per series, a column per figure):
# col FILE N: column N of $RAW/FILE; diffcol FILE A B: column B minus column A, per sample;
# ... | add WHO WHAT: those samples as a series of $RESULTS (median, p90, min, n);
# delta WHO WHAT A B: series A minus series B, per round (benchlib.py delta).
col() { awk -v c="$2" '{ print $c }' "$RAW/$1"; }
diffcol() { awk -v a="$2" -v b="$3" '{ print $b - $a }' "$RAW/$1"; }
add() { $PY "$BENCH/lib/benchlib.py" series "$RESULTS" "$1" "$2"; }
delta() { $PY "$BENCH/lib/benchlib.py" delta "$RESULTS" "$@"; }
