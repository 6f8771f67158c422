#!/bin/bash
# A command run inside a running container, sup against crun and nsenter, measured in the same run,
# interleaved: `supctl exec UNIT -- true` from the moment it is forked until it has exited with the
# command's status, and the same for `crun exec CID true` and `nsenter -t PID -a true`.
#
#   bench/exec.sh [RUNS]      (as root; RUNS default 30, or SUP_BENCH_EXEC_RUNS)
#
# The containers run the busybox layer of the other benchmarks (`echo ready; exec sleep`), started
# once; then each round measures, in an order shuffled anew every round, with SUP_BENCH_SETTLE
# seconds (default 0.25) of quiet before each:
#   sup        `supctl exec ex -- true`: supctl -> the unit's monitor socket (the stdio pipes
#              passed with the request) -> a helper put into the unit's cgroup, setns() into the
#              container's namespaces -> the command with the workload's user, capabilities,
#              no_new_privs and seccomp filter -> its exit status back to supctl. Two units: ex
#              (sup's defaults: hardened) and ex-bare (every capability, seccomp unconfined)
#   crun       `crun exec CID true` into a `crun run -d` container of the same bundles as
#              start-latency.sh's: hard (podman's capabilities and seccomp profile,
#              noNewPrivileges), bare (every capability, no seccomp)
#   nsenter    `nsenter -t PID -a true`, PID the workload of ex: the same namespaces, and nothing
#              else (no cgroup, no capability drop, no seccomp): the floor
# Then SUP_BENCH_EXEC_TP_RUNS rounds (default 5) of SUP_BENCH_EXEC_MB (100) MiB of zeros through
# `cat` in the container, stdin to stdout, through each (and through cat on the host, the
# ceiling), counted with wc -c at the end of the pipe. Then a hyperv unit (TCG) is added and
# SUP_BENCH_EXEC_HV_RUNS rounds (default 10) of `supctl exec hv -- true` are measured, each
# paired with one of ex; and the MiB through cat in its guest, if SUP_BENCH_EXEC_HV_MB (default 10)
# is not 0.
# Each round also times `true` on the host, the scale of a fork and exec at that moment's load.
# At the end, SUP_BENCH_TRACES (5) supctl execs (ex's monitor traced) and one crun exec are traced
# with strace -f -T: the slowest system calls of one of each, and the monitor's calls on cgroupfs
# (strace slows every call: the proportions only).
# Times come from bench-probe (bench/probe.c) `pipe`: CLOCK_MONOTONIC taken just before it forks
# the command, against the command's exit. The guest: SUP_GUEST_DIR (default /var/lib/sup/guest),
# its initramfs rebuilt from this build's sup-init, as hyperv.sh does; SUP_BENCH_EXEC_HV_RUNS=0
# skips hyperv.
# Results: a table on stdout, $SUP_BENCH_OUT/exec.{md,jsonl} (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS=${1:-${SUP_BENCH_EXEC_RUNS:-30}}
TP_RUNS=${SUP_BENCH_EXEC_TP_RUNS:-5}
MB=${SUP_BENCH_EXEC_MB:-100}
HV_RUNS=${SUP_BENCH_EXEC_HV_RUNS:-10}
HV_MB=${SUP_BENCH_EXEC_HV_MB:-10}
SETTLE=${SUP_BENCH_SETTLE:-0.25}
TRACES=${SUP_BENCH_TRACES:-5}
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
SECCOMP_PROFILE=/usr/share/containers/seccomp.json
UNHARDENED="security: {capabilities: {add: [ALL]}, seccomp: unconfined, no_new_privileges: false}"
CMD='[/bin/sh, -c, "echo ready; exec sleep 100000"]'

bench_require
command -v crun >/dev/null || die "needs crun (apt-get install crun)"
command -v nsenter >/dev/null || die "needs nsenter (util-linux)"
if [ "$HV_RUNS" != 0 ]; then
        command -v qemu-system-x86_64 >/dev/null || die "needs qemu-system-x86_64 (or SUP_BENCH_EXEC_HV_RUNS=0)"
        "$TOP/tools/guest-kernel.sh" "$GUEST" > /dev/null || die "no guest kernel in $GUEST (tools/guest-kernel.sh $GUEST)"
        "$TOP/tools/guest-initramfs.sh" "$GUEST" "$BUILD/sup-init" > /dev/null || die "cannot build the guest's initramfs in $GUEST"
fi
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
bench_begin exec exec

# ---- sup ----
say "sup: supd with the units ex (sup's defaults) and ex-bare (unhardened)"
SUP_DIR=$WORK/sup
LOGS=$SUP_DIR/state/logs
mkdir -p "$SUP_DIR/units"
sup_unit ex "$CMD"
sup_unit ex-bare "$CMD" "$UNHARDENED"
sup_start "$SUP_DIR" --guest-dir "$GUEST"
sup_wait_all running 60
EX_PID=$(sup_field ex pid)
if [ -z "$EX_PID" ] || [ ! -d "/proc/$EX_PID" ]; then die "no pid for ex in its status"; fi

# ---- crun ----
say "crun $(crun --version | head -1 | cut -d' ' -f3): containers of the same layer (crun run -d)"
CRUN_ROOT=$WORK/crun
mkdir -p "$CRUN_ROOT"
CRUN_VARIANTS=bare
crun_bundle "$WORK/bundle-bare" bare "" caps=all nnp=false
if [ -f "$SECCOMP_PROFILE" ]; then
        crun_bundle "$WORK/bundle-hard" hard "$SECCOMP_PROFILE" caps=podman nnp=true
        CRUN_VARIANTS="hard bare"
else
        note "no $SECCOMP_PROFILE (apt-get install golang-github-containers-common): crun hardened is skipped"
fi
for k in $CRUN_VARIANTS; do
        crun_ns crun --root "$CRUN_ROOT" run -d --bundle "$WORK/bundle-$k" "$k" < /dev/null > "$WORK/crun-$k.out" 2>&1 ||
                { cat "$WORK/crun-$k.out" >&2; die "crun run -d ($k) failed"; }
done

# timed NAME COMMAND...: one `true` round trip, in µs, into $RAW/NAME; the command must exit 0.
timed() {
        local name=$1 p=$WORK/p.txt
        shift
        sleep "$SETTLE"
        "$@" < /dev/null > "$p" 2> "$WORK/err.txt" || true
        awk '$1 == "exit" && $3 == 0 { print $2; ok = 1 } END { exit !ok }' "$p" >> "$RAW/$name" ||
                { cat "$p" "$WORK/err.txt" >&2; die "$name: the command did not exit 0"; }
}
sup_exec() { timed "${2:-sup-$1}" "$PROBE" pipe --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" exec "$1" -- true; }
crun_exec() { timed "crun-$1" crun_ns "$PROBE" pipe --timeout 60 -- crun --root "$CRUN_ROOT" exec "$1" true; }
nsenter_exec() { timed nsenter "$PROBE" pipe --timeout 60 -- nsenter -t "$EX_PID" -a true; }

round() {
        local job jobs=(sup:ex sup:ex-bare nsenter: host:)
        for job in $CRUN_VARIANTS; do jobs+=("crun:$job"); done
        for job in $(shuf -e "${jobs[@]}"); do
                case $job in
                sup:*) sup_exec "${job#sup:}" ;;
                crun:*) crun_exec "${job#crun:}" ;;
                nsenter:) nsenter_exec ;;
                host:) timed host "$PROBE" pipe --timeout 60 -- true ;;
                esac
        done
}

say "warming up (1 round, not counted)"
round
rm -f "$RAW"/*
say "measuring: $RUNS rounds of supctl exec (ex, ex-bare), crun exec ($CRUN_VARIANTS), nsenter, shuffled in each round"
for _ in $(seq 1 "$RUNS"); do
        round
        printf '.' >&2
done
echo >&2

# ---- throughput: MB MiB of zeros through cat, stdin -> stdout ----
# through NAME MIB [crun_ns] COMMAND...: the pipeline head | COMMAND | wc -c, timed from its fork
# to its exit, in µs into $RAW/NAME (wc's count must be all of it); crun's in crun_ns, whose setup
# is outside the time.
through() {
        local name=$1 mib=$2 p=$WORK/p.txt wrap=()
        shift 2
        [ "$1" = crun_ns ] && wrap=(crun_ns) && shift
        sleep "$SETTLE"
        # shellcheck disable=SC2016 # expanded by bash -c
        "${wrap[@]}" "$PROBE" pipe --timeout 300 -- bash -c 'head -c "$1" /dev/zero | "${@:2}" | wc -c' through $((mib << 20)) "$@" \
                < /dev/null > "$p" 2> "$WORK/err.txt" || true
        awk -v n=$((mib << 20)) '$1 == "first_line" && $3 != n { bad = 1 } $1 == "exit" && $3 == 0 { t = $2 }
                END { if (bad || t == "") exit 1; print t }' "$p" >> "$RAW/$name" ||
                { cat "$p" "$WORK/err.txt" >&2; die "$name: not $mib MiB through"; }
}
# streams UNIT: whether this build's supctl exec brings a command's output back (it streams stdin
# and stdout through the pipes it hands the monitor; a build without that is measured without it).
streams() {
        [ "$(timeout 120 "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" exec "$1" -- echo sup-bench-stream < /dev/null 2> /dev/null)" = sup-bench-stream ]
}
TP_JOBS="crun nsenter host"
if streams ex; then TP_JOBS="$TP_JOBS sup"; else note "supctl exec brings no output back in this build: its throughput is not measured"; fi
if [ "$TP_RUNS" != 0 ]; then
        say "throughput: $TP_RUNS rounds of $MB MiB through cat (supctl exec, crun exec, nsenter, the host), shuffled"
        for _ in $(seq 1 "$TP_RUNS"); do
                # shellcheck disable=SC2086 # a list of words
                for job in $(shuf -e $TP_JOBS); do
                        case $job in
                        sup) through tp-sup "$MB" "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" exec ex -- cat ;;
                        crun) through tp-crun "$MB" crun_ns crun --root "$CRUN_ROOT" exec "${CRUN_VARIANTS%% *}" cat ;;
                        nsenter) through tp-nsenter "$MB" nsenter -t "$EX_PID" -a cat ;;
                        host) through tp-host "$MB" cat ;;
                        esac
                done
                printf '.' >&2
        done
        echo >&2
fi

# ---- hyperv ----
if [ "$HV_RUNS" != 0 ]; then
        say "hyperv: the unit hv (TCG) added; $HV_RUNS rounds of supctl exec hv, each with one of ex"
        sup_unit hv "$CMD" "isolation: hyperv
vm: {accel: tcg}"
        ctl reload > /dev/null
        deadline=$((SECONDS + 180))
        until grep -q " stdout ready$" "$LOGS/hv.log" 2>/dev/null; do
                [ $SECONDS -ge $deadline ] || [ "$(sup_field hv state)" = failed ] &&
                        { tail -20 "$LOGS/hv.log" >&2; die "the hyperv unit did not start: $(sup_field hv reason)"; }
                sleep 0.2
        done
        sup_exec hv warmup # not counted: the first exec in the guest
        for _ in $(seq 1 "$HV_RUNS"); do
                for job in $(shuf -e hv ex); do sup_exec "$job" "sup-$job-hvrounds"; done
                printf '.' >&2
        done
        echo >&2
        if [ "$HV_MB" != 0 ] && [ "$TP_RUNS" != 0 ] && ! streams hv; then
                note "supctl exec brings no output back from a hyperv unit in this build: its throughput is not measured"
        elif [ "$HV_MB" != 0 ] && [ "$TP_RUNS" != 0 ]; then
                for _ in $(seq 1 "$TP_RUNS"); do
                        through tp-hv "$HV_MB" "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" exec hv -- cat
                        printf '.' >&2
                done
                echo >&2
        fi
fi

# ---- where the time goes: one exec of each traced (strace slows every call: shares only) ----
# The monitor of ex (and the helper and command it forks) during one supctl exec; crun exec.
if command -v strace >/dev/null && [ "$TRACES" -gt 0 ]; then
        for i in $(seq 1 "$TRACES"); do
                sleep "$SETTLE"
                strace -f -T -tt -p "$(sup_field ex monitor_pid)" -o "$WORK/monitor-$i.strace" 2>/dev/null &
                st=$!
                sleep 0.5
                timed traced "$PROBE" pipe --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" exec ex -- true
                sleep 0.2
                kill -INT "$st"
                wait "$st" 2>/dev/null || true
        done
        sleep "$SETTLE"
        timed traced crun_ns "$PROBE" pipe --timeout 60 -- \
                strace -f -T -tt -o "$WORK/crun.strace" crun --root "$CRUN_ROOT" exec "${CRUN_VARIANTS%% *}" true
        {
                $PY "$BENCH/lib/benchlib.py" strace-top "$WORK/monitor-1.strace" 10 \
                        "the slowest system calls of one \`supctl exec ex -- true\` in ex's monitor, its helper and the command (strace -f -T):"
                echo
                $PY "$BENCH/lib/benchlib.py" strace-top "$WORK/crun.strace" 10 \
                        "the slowest system calls of one \`crun exec ${CRUN_VARIANTS%% *} true\` (strace -f -T):"
                echo
                echo "supctl exec ex -- true, the monitor's calls on cgroupfs ($TRACES traced execs):"
                $PY "$BENCH/lib/benchlib.py" strace-cgroup "$WORK"/monitor-[0-9]*.strace
        } > "$OUT/exec-strace.txt"
fi

# ---- results ----
SUP_EX="\`supctl exec ex -- true\`, sup's defaults (hardened: default caps and seccomp, no_new_privileges)"
SUP_BARE="\`supctl exec ex-bare -- true\`, unhardened (all caps, seccomp unconfined)"
CRUN_HARD="\`crun exec hard true\`, hardened (podman's caps and seccomp profile, noNewPrivileges)"
CRUN_BARE="\`crun exec bare true\`, unhardened (all caps, no seccomp)"
NSENTER="\`nsenter -t PID -a true\` into ex (namespaces only: no cgroup, caps or seccomp)"
HOST="\`true\` on the host (a fork and exec at this moment's load: the scale)"
add sup "$SUP_EX" < "$RAW/sup-ex"
add sup "$SUP_BARE" < "$RAW/sup-ex-bare"
[ -f "$RAW/crun-hard" ] && add crun "$CRUN_HARD" < "$RAW/crun-hard"
add crun "$CRUN_BARE" < "$RAW/crun-bare"
add nsenter "$NSENTER" < "$RAW/nsenter"
add host "$HOST" < "$RAW/host"
if [ "$HV_RUNS" != 0 ]; then
        add sup "\`supctl exec hv -- true\`, hyperv (TCG): the guest's agent runs it" < "$RAW/sup-hv-hvrounds"
        add sup "· \`supctl exec ex -- true\` in the same rounds" < "$RAW/sup-ex-hvrounds"
fi
# rate WHO WHAT NAME MIB: the MiB/s of the runs in $RAW/NAME (µs each): their median as a value,
# the minimum and maximum beside it.
rate() {
        awk -v m="$4" '{ print m / ($1 / 1e6) }' "$RAW/$3" | sort -g | awk '{ x[NR] = $1 }
                END { printf "%.0f MiB/s (min %.0f, max %.0f, n %d)\n", NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2, x[1], x[NR], NR }' |
                { read -r v u; $PY "$BENCH/lib/benchlib.py" value "$RESULTS" "$1" "$2" "$v" "$u"; }
}
if [ "$TP_RUNS" != 0 ]; then
        [ -f "$RAW/tp-sup" ] && add sup "$MB MiB through \`supctl exec ex -- cat\` (head -c | … | wc -c)" < "$RAW/tp-sup"
        add crun "$MB MiB through \`crun exec ${CRUN_VARIANTS%% *} cat\`" < "$RAW/tp-crun"
        add nsenter "$MB MiB through \`nsenter -t PID -a cat\`" < "$RAW/tp-nsenter"
        add host "$MB MiB through \`cat\` on the host" < "$RAW/tp-host"
        [ -f "$RAW/tp-hv" ] && add sup "$HV_MB MiB through \`supctl exec hv -- cat\` (hyperv, TCG)" < "$RAW/tp-hv"
        [ -f "$RAW/tp-sup" ] && rate sup "through \`supctl exec ex -- cat\`" tp-sup "$MB"
        rate crun "through \`crun exec ${CRUN_VARIANTS%% *} cat\`" tp-crun "$MB"
        rate nsenter "through \`nsenter -t PID -a cat\`" tp-nsenter "$MB"
        rate host "through \`cat\` on the host" tp-host "$MB"
        [ -f "$RAW/tp-hv" ] && rate sup "through \`supctl exec hv -- cat\` (hyperv, TCG)" tp-hv "$HV_MB"
fi
[ -f "$RAW/crun-hard" ] && delta "sup − crun" "hardened: supctl exec over crun exec" "$SUP_EX" "$CRUN_HARD"
delta "sup − crun" "unhardened: supctl exec over crun exec" "$SUP_BARE" "$CRUN_BARE"
delta "sup − nsenter" "supctl exec (defaults) over nsenter" "$SUP_EX" "$NSENTER"
delta sup "hardening adds (ex over ex-bare)" "$SUP_EX" "$SUP_BARE"

{
        echo "exec, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), $RUNS rounds, load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$RESULTS"
        if [ -f "$OUT/exec-strace.txt" ]; then echo; sed 's/^/    /' "$OUT/exec-strace.txt"; fi
} | tee "$OUT/exec.md"
note "written: $OUT/exec.md, $OUT/exec.jsonl"
