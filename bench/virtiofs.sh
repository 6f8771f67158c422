#!/bin/bash
# Host directories in hyperv guests (virtio-fs) against the same directory bound in process
# isolation, and against the guest's own sandbox disk, in one run, interleaved.
#
#   bench/virtiofs.sh [RUNS]      (as root; RUNS default 3, or SUP_BENCH_FS_RUNS)
#
# Three units run the same workload, timed inside the container with busybox `time -p` (10 ms
# steps; under TCG the guest's clock is the host's TSC):
#   process-bind   isolation: process, a bind mount of a host directory on /data
#   hyperv-bind    isolation: hyperv, the same kind of bind (its own directory): virtiofsd + virtio-fs
#   hyperv-disk    isolation: hyperv, a directory of its root: the overlay's upper layer on the
#                  sandbox disk (ext4 on virtio-blk)
# The workload, SUP_BENCH_FS_MIB (256) and SUP_BENCH_FS_FILES (2000):
#   seq      dd of MIB MiB of zeros in 1 MiB blocks, conv=fsync (on the disk of the bind's
#            source on the host: $WORK's file system)
#   create   FILES files of 4 KiB, each written by the shell (a builtin: no fork per file)
#   stat     each of them tested with [ -s ] (a stat, builtin)
#   delete   rm -r of them (one process)
# Besides: the RSS of one virtiofsd while its guest runs (the cost per share), and what status
# says of each hyperv unit's cgroup (memory, its limit, pids) while its guest idles.
# Results: a table on stdout, $SUP_BENCH_OUT/virtiofs.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS=${1:-${SUP_BENCH_FS_RUNS:-3}}
MIB=${SUP_BENCH_FS_MIB:-256}
FILES=${SUP_BENCH_FS_FILES:-2000}
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}

bench_require
command -v qemu-system-x86_64 >/dev/null || die "needs qemu-system-x86_64 (apt-get install qemu-system-x86)"
[ -x /usr/lib/qemu/virtiofsd ] || die "needs /usr/lib/qemu/virtiofsd (apt-get install qemu-system-common)"
"$TOP/tools/guest-kernel.sh" "$GUEST" > /dev/null || die "no guest kernel in $GUEST (tools/guest-kernel.sh $GUEST)"
"$TOP/tools/guest-initramfs.sh" "$GUEST" "$BUILD/sup-init" > /dev/null || die "cannot build the guest's initramfs in $GUEST"
bench_begin virtiofs virtiofs

SUP_DIR=$WORK/sup
LOGS=$SUP_DIR/state/logs
mkdir -p "$SUP_DIR/units" "$WORK/data-process" "$WORK/data-hyperv"
# One line per step: "result STEP SECONDS"; then the unit idles a moment (the virtiofsd's RSS is
# read then) and exits.
WL='d=$1; t() { busybox time -p sh -c "$2" 2>&1 >/dev/null | sed -n "s/^real /result $1 /p"; };
mkdir -p $d/small; rm -f $d/seq;
t seq "dd if=/dev/zero of=$d/seq bs=1M count='"$MIB"' conv=fsync 2>/dev/null";
t create "i=0; while [ \$i -lt '"$FILES"' ]; do printf %4096s \"\" >$d/small/\$i; i=\$((i+1)); done";
t stat "i=0; while [ \$i -lt '"$FILES"' ]; do [ -s $d/small/\$i ] || exit 1; i=\$((i+1)); done";
t delete "rm -r $d/small $d/seq";
echo result done 0; sleep 2'
unit() { # unit NAME ISOLATION DIR MORE-YAML
        sup_unit "$1" "[/bin/sh, -c, '$WL', sh, $3]" "isolation: $2
vm: {accel: tcg}
restart: {policy: 'no'}
$4"
}
unit process-bind process /data "mounts: [{type: bind, source: $WORK/data-process, target: /data}]"
unit hyperv-bind hyperv /data "mounts: [{type: bind, source: $WORK/data-hyperv, target: /data}]"
unit hyperv-disk hyperv /work ""
say "sup: three units, $RUNS rounds, $MIB MiB sequential, $FILES small files"
sup_start "$SUP_DIR" --guest-dir "$GUEST"

# round UNIT: one start, until its "result done"; its samples into $RAW/UNIT-STEP (µs).
round() {
        local n
        n=$(grep -c " stdout result done" "$LOGS/$1.log" 2>/dev/null || true)
        [ "$(sup_field "$1" state)" = running ] || ctl start "$1" > /dev/null
        local deadline=$((SECONDS + 600))
        until [ "$(grep -c " stdout result done" "$LOGS/$1.log" 2>/dev/null || true)" -gt "$n" ]; do
                [ $SECONDS -lt $deadline ] || die "$1: no result: $(sup_field "$1" reason)"
                sleep 0.2
        done
        if [ "$1" = hyperv-bind ] && [ ! -s "$RAW/virtiofsd-rss" ]; then
                local pid
                pid=$(sed -n 's/.* virtiofsd \([0-9]*\) for .*/\1/p' "$LOGS/$1.log" | tail -n1)
                # The process sup forked and the one that serves, in its own pid namespace.
                $PY "$BENCH/lib/benchlib.py" mem "$RESULTS" sup "virtiofsd of one share (outer + serving process)" 1 \
                        "$pid" $(pgrep -P "$pid") && echo done > "$RAW/virtiofsd-rss"
        fi
        # What status says of the cgroup (QEMU's, with the virtiofsds in it) while the guest idles.
        if [ "$1" != process-bind ] && [ ! -s "$RAW/usage-$1" ]; then
                local mem max pids
                mem=$(sup_field "$1" usage memory_bytes) max=$(sup_field "$1" usage memory_max) pids=$(sup_field "$1" usage pids)
                if [ -n "$mem" ]; then
                        $PY "$BENCH/lib/benchlib.py" value "$RESULTS" "$1" "status usage.memory_bytes (guest idle)" "$((mem >> 20))" MiB
                        $PY "$BENCH/lib/benchlib.py" value "$RESULTS" "$1" "status usage.memory_max" "$((max >> 20))" MiB
                        $PY "$BENCH/lib/benchlib.py" value "$RESULTS" "$1" "status usage.pids (processes and threads)" "$pids" ""
                        echo done > "$RAW/usage-$1"
                fi
        fi
        grep " stdout result " "$LOGS/$1.log" | tail -n 5 | awk -v u="$1" -v raw="$RAW" '
                $4 != "done" { print $5 * 1e6 >> (raw "/" u "-" $4) }'
        local deadline2=$((SECONDS + 60))
        until [ "$(sup_field "$1" state)" = exited ]; do
                [ $SECONDS -lt $deadline2 ] || die "$1 did not exit"
                sleep 0.2
        done
}
for u in process-bind hyperv-bind hyperv-disk; do
        until [ "$(sup_field "$u" state)" = exited ]; do sleep 0.2; done
done
# The first runs (the layer's disk built, the caches cold) are not counted; their results go.
for u in process-bind hyperv-bind hyperv-disk; do : > "$RAW/$u-seq"; done
rm -f "$RAW"/*-seq "$RAW"/*-create "$RAW"/*-stat "$RAW"/*-delete
for ((r = 1; r <= RUNS; r++)); do
        for u in process-bind hyperv-bind hyperv-disk; do round "$u"; done
done

for step in seq create stat delete; do
        case $step in
        seq) what="dd $MIB MiB, 1 MiB blocks, conv=fsync" ;;
        create) what="create and write $FILES files of 4 KiB" ;;
        stat) what="stat the $FILES files" ;;
        delete) what="rm -r the $FILES files" ;;
        esac
        for u in process-bind hyperv-bind hyperv-disk; do
                $PY "$BENCH/lib/benchlib.py" series "$RESULTS" "$u" "$what" < "$RAW/$u-$step"
        done
done
{
        echo "virtiofs, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), guest kernel $(readlink "$GUEST/kernel/current")," \
                "TCG, $RUNS rounds, the bind's source on $(df --output=fstype "$WORK" | tail -n1)," \
                "load average $(cut -d" " -f1-3 /proc/loadavg) after"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS" --minmax
} | tee "$OUT/virtiofs.md"
note "written: $OUT/virtiofs.md, $OUT/virtiofs.jsonl"
