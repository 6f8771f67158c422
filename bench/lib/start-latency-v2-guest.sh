#!/bin/sh
# The guest half of bench/start-latency-v2.sh: runs as PID 1 (busybox sh) in a QEMU guest whose
# kernel has a pure cgroup v2 hierarchy (the initramfs of
# tests/integration/cgroup2-vm-initramfs.sh).
# Mounts what supd and crun need, enables memory, pids, cpu and io at the root, starts supd with
# the units the host wrote in /bench/units (UNITS others running, and lat, stopped before the
# rounds), then runs ROUNDS + 1 rounds (round 0 warms up; the host leaves it out) of, in an order
# shuffled anew every round, with SETTLE seconds of quiet before each:
#   sup-lat     `supctl start lat` until "stdout ready" is in lat's log, then its stop
#   crun-KIND   `crun run` of /bench/bundle-KIND until the first line on crun's stdout, then its
#               delete (KIND: bare, and hard when the host made it)
#   exec        busybox `echo ready`, no container: a fork and exec, what TCG makes of the least
#   crunver     `crun --version`: crun's exec and dynamic linking alone
#   ctlver      `supctl --version`: supctl's, the same for sup's side
# bench-probe takes the times; its output is printed as is, each line prefixed "V2 JOB ROUND ", for
# the host to compute what start-latency.sh computes. "V2 setup ..." says what the guest is,
# "V2 FAIL ..." what went wrong, "V2 done" ends the list, then the guest powers off.
# Here: /sup/{supd,supctl,sup-monitor,crun,bench-probe}, /layer (busybox), /bench/config
# (ROUNDS, UNITS, SETTLE, CRUN_KINDS).
export PATH=/sup:/bin
W=/tmp/w

# The API file systems, the console and wait_for (cgroup2-vm-initramfs.sh's /guest-lib.sh).
. /guest-lib.sh

finish() {
        echo "V2 done up $(cut -d' ' -f1 /proc/uptime) s"
        sync
        poweroff -f
        sleep 5
        reboot -f
}
fail() {
        echo "V2 FAIL $*"
        tail -n 20 $W/supd.log 2>/dev/null | sed 's/^/supd| /'
        finish
}

while read -r m; do
        insmod "/modules/$m" 2>/dev/null || echo "note: insmod $m failed"
done </modules/modules.list
grep -qw overlay /proc/filesystems || fail "no overlayfs in the guest"
# As systemd mounts it (cgroup2-vm-guest.sh does the same).
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2 failed"
for c in memory pids cpu io; do
        echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable $c at the root"
done
. /bench/config
echo "V2 setup up $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r), $(nproc) CPUs," \
        "$(sed -n 's/^MemTotal: *//p' /proc/meminfo), cgroup2 with $(cat /sys/fs/cgroup/cgroup.subtree_control) enabled," \
        "$(crun --version | head -n1), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

S=$W/run/supd.sock LOGS=$W/state/logs
ctl() { supctl --socket $S "$@"; }
state_is() { [ "$(ctl status "$1" 2>/dev/null | sed -n 's/^ *state: //p' | cut -d' ' -f1)" = "$2" ]; }
all_running() {
        for f in /bench/units/*.yaml; do
                u=${f##*/}
                state_is "${u%.yaml}" running || return 1
        done
}
# The stopped unit's next run waits in its cgroup (made ahead): the next start is measured once
# it is there, as on the host after its settle time.
parked() { [ "$(cat /sys/fs/cgroup/sup-*/lat/cgroup.procs 2>/dev/null | wc -l)" = 1 ]; }

mkdir -p $W
supd --units /bench/units --state-dir $W/state --run-dir $W/run --monitor /sup/sup-monitor >>$W/supd.log 2>&1 &
wait_for 60 ctl status >/dev/null 2>&1 || fail "supd did not start"
wait_for 300 all_running || fail "not all units running: $(ctl status | tr '\n' ';')"
bench-probe watch --dir $LOGS --match stopped --timeout 60 -- supctl --socket $S stop lat >/dev/null || fail "lat did not stop"
wait_for 60 parked || echo "note: nothing parked for lat"
echo "V2 setup $(ls /bench/units | wc -l) units, $(($(ls /bench/units | wc -l) - 1)) running beside lat, up $(cut -d' ' -f1 /proc/uptime) s"

sup_round() { # sup_round I
        bench-probe watch --dir $LOGS --match ready --timeout 60 -- supctl --socket $S start lat >$W/p.txt ||
                { sed 's/^/probe| /' $W/p.txt; fail "sup start lat: no ready line"; }
        sed "s/^/V2 sup-lat $1 /" $W/p.txt
        bench-probe watch --dir $LOGS --match stopped --timeout 60 -- supctl --socket $S stop lat >$W/p.txt ||
                fail "sup stop lat: not stopped"
        wait_for 60 parked || echo "note: nothing parked for lat after round $1"
}

# The stop of a `crun run`: its first line can come before crun wrote the container's state, and
# a delete then finds nothing; it is retried until it works.
crun_round() { # crun_round KIND I
        local id="$1-$2"
        bench-probe pipe --timeout 60 \
                --stop "for i in \$(seq 500); do crun --root $W/crun delete -f $id 2>/dev/null && exit 0; sleep 0.02; done; exit 1" -- \
                crun --root $W/crun run --bundle "/bench/bundle-$1" "$id" </dev/null >$W/p.txt 2>$W/crun.err ||
                { cat $W/p.txt $W/crun.err; fail "crun run ($1): no first line"; }
        sed "s/^/V2 crun-$1 $2 /" $W/p.txt
}

plain_round() { # plain_round exec|crunver|ctlver I
        local cmd="echo ready"
        [ "$1" = crunver ] && cmd="crun --version"
        [ "$1" = ctlver ] && cmd="supctl --version"
        # shellcheck disable=SC2086
        bench-probe pipe --timeout 60 -- $cmd </dev/null >$W/p.txt 2>&1 || { cat $W/p.txt; fail "$1: no first line"; }
        sed "s/^/V2 $1 $2 /" $W/p.txt
}

mkdir -p $W/crun
i=0
while [ $i -le "$ROUNDS" ]; do
        jobs="sup exec crunver ctlver"
        for k in $CRUN_KINDS; do jobs="$jobs crun:$k"; done
        # shellcheck disable=SC2086
        for job in $(shuf -e $jobs); do
                sleep "$SETTLE"
                case $job in
                sup) sup_round $i ;;
                crun:*) crun_round "${job#crun:}" $i ;;
                exec | crunver | ctlver) plain_round $job $i ;;
                esac
        done
        echo "V2 round $i up $(cut -d' ' -f1 /proc/uptime) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
        i=$((i + 1))
done
finish
