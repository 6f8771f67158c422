#!/bin/sh
# The guest half of test-cgroup2-vm.sh: runs as PID 1 (busybox sh) in a QEMU guest whose kernel
# has a pure cgroup v2 hierarchy, after the initramfs's /init switched to a tmpfs root. Mounts
# what supd needs, enables memory, pids, cpu and io for sup, then runs test-cgroup and supd on
# units that each check one limit as the kernel enforces it. Every check prints one line on the
# console,
#   RESULT NAME ok [WHAT WAS MEASURED]  |  RESULT NAME FAIL REASON  |  RESULT NAME gap WHAT
# which the host parses; "RESULT done" ends the list, then the guest powers off. Here, in the
# initramfs: /sup/{supd,sup-monitor,supctl,test-cgroup}, /layer (the units' image: busybox and
# limits-probe), /modules (modules.list in load order). /proc/cmdline may carry sup.asan=1: the
# binaries are the sanitizer build's, whose reports are looked for at the end.
export PATH=/bin
SUP=/sup LAYER=/layer W=/tmp/w

# The API file systems, the console and wait_for (cgroup2-vm-initramfs.sh's /guest-lib.sh).
. /guest-lib.sh

result() { # result NAME ok|FAIL|gap [TEXT...]
        local name=$1 verdict=$2
        shift 2
        echo "RESULT $name $verdict${*:+ $*}"
}
die() {
        result "$1" FAIL "$2"
        echo "RESULT done"
        poweroff -f
        sleep 5
        reboot -f
}

# --- the kernel: modules, cgroup2, swap ---

while read -r m; do
        insmod "/modules/$m" 2>/dev/null || echo "note: insmod $m failed"
done </modules/modules.list
grep -qw overlay /proc/filesystems || die setup "no overlayfs in the guest"
# As systemd mounts it on the hosts sup runs on: nsdelegate makes a cgroup namespace's root a
# delegation boundary (the escape case below checks what that buys).
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || die setup "mount cgroup2 failed"
for c in memory pids cpu io; do
        echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || die setup "cannot enable $c at the root"
done
result setup ok "up $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r), $(nproc) CPUs, $(sed -n 's/^MemTotal: *//p' /proc/meminfo)," \
        "cgroup2 with $(cat /sys/fs/cgroup/cgroup.controllers), root subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# The host gives two disks: an ext4 file system labelled sup-ext (the userns case's), and a raw
# one for swap, so that "swap off" means something. Which is vda depends on probe order.
EXT=$(findfs LABEL=sup-ext 2>/dev/null)
SWAPDEV=/dev/vda
[ "$EXT" = /dev/vda ] && SWAPDEV=/dev/vdb
if [ -b $SWAPDEV ] && mkswap $SWAPDEV >/dev/null && swapon $SWAPDEV; then
        result swap ok "$(($(sed -n 's/^SwapTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024)) MiB of swap on $SWAPDEV"
else
        result swap FAIL "no swap device ($SWAPDEV)"
fi

ASAN=0
grep -qw sup.asan=1 /proc/cmdline && ASAN=1
if [ $ASAN = 1 ]; then
        mkdir -p /tmp/sanitizer
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=/tmp/sanitizer/asan
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=/tmp/sanitizer/ubsan
fi

# --- the backends against the kernel: test-cgroup's private-v2 layout, every check of it ---

out=$(SUP_TESTS_MUST_WORK=0 $SUP/test-cgroup 2>&1)
rc=$?
echo "$out" | sed 's/^/test-cgroup| /'
# Every check of the layout must run here: the kernel has every controller (n/a is for hybrid hosts).
bad=$(echo "$out" | grep -E '^(FAIL|skip|n/a) +private-v2' | tr '\n' ';')
n=$(echo "$out" | grep -c '^ok   *private-v2/')
if [ $rc != 0 ] || [ -n "$bad" ] || [ "$n" -lt 10 ]; then
        result test-cgroup FAIL "exit $rc, $n private-v2 checks ok; $bad"
elif ! grep -q ' /sys/fs/cgroup cgroup2 .*nsdelegate' /proc/mounts; then
        # Its cgroup2 mount, made from this cgroup namespace, sets the hierarchy's options.
        result test-cgroup FAIL "it took nsdelegate away from /sys/fs/cgroup: $(grep ' /sys/fs/cgroup ' /proc/mounts)"
else
        result test-cgroup ok "$n private-v2 checks ok on the real kernel, nsdelegate kept"
fi

# --- supd: one per case, on the case's own directories ---
# case-supd.sh's harness in the small: this is busybox's ash, in which its bash (arrays) does not
# parse, and there is no python3 for its JSON fields (supctl's text status serves).

CASE= CASE_DIR= SUPD_PID= N=0
begin() {
        N=$((N + 1)) CASE=$1 CASE_DIR=$W/c$N CASE_BAD=
        mkdir -p "$CASE_DIR/units"
        echo "--- $CASE"
}
bad() { [ -n "$CASE_BAD" ] || CASE_BAD=$*; }
end() { # end [WHAT WAS MEASURED]
        stop_supd
        if [ -n "$CASE_BAD" ]; then
                tail -n 8 "$CASE_DIR/supd.log" 2>/dev/null | sed 's/^/supd| /'
                tail -n 8 "$CASE_DIR"/state/logs/*.log 2>/dev/null | sed 's/^/log| /'
                result "$CASE" FAIL "$CASE_BAD"
        else
                result "$CASE" ok "$*"
        fi
}
unit() { # unit NAME YAML-REST
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - dir: $LAYER
network: none
stop: {timeout: 2s}
$2
UNIT
}
ctl() { $SUP/supctl --socket "$CASE_DIR/run/supd.sock" "$@"; }
start_supd() {
        $SUP/supd --units "$CASE_DIR/units" --state-dir "$CASE_DIR/state" --run-dir "$CASE_DIR/run" \
                --monitor $SUP/sup-monitor >>"$CASE_DIR/supd.log" 2>&1 &
        SUPD_PID=$!
        wait_for 20 ctl status >/dev/null 2>&1 || bad "supd did not start"
}
stop_supd() {
        [ -n "$SUPD_PID" ] || return 0
        kill -TERM "$SUPD_PID" 2>/dev/null
        wait "$SUPD_PID" 2>/dev/null
        SUPD_PID=
}
# field UNIT LABEL: a line of `supctl status UNIT`, after "LABEL: ".
field() { ctl status "$1" 2>/dev/null | sed -n "s/^ *$2: //p" | head -n1; }
state_is() { [ "$(field "$1" state | cut -d' ' -f1)" = "$2" ]; }
restarts_at_least() { [ "$(field "$1" restarts)" -ge "$2" ] 2>/dev/null; }
pid_of() { field "$1" pid | cut -d' ' -f1; }
logged() { grep -q -- "$2" "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
# cg UNIT: the unit's cgroup directory (supd's parent is sup-HASH of its run directory).
cg() { ls -d /sys/fs/cgroup/sup-*/"$1" 2>/dev/null | head -n1; }
cgf() { cat "$(cg "$1")/$2" 2>/dev/null; }
# key FILE KEY: the number after KEY in a flat keyed file (memory.events, cpu.stat, pids.events).
key() { sed -n "s/^$2 //p" "$1" 2>/dev/null; }
file_is() { [ "$(cgf "$1" "$2")" = "$3" ]; }

# ---------------------------------------------------------------------------------------------

begin memory-oom # a hog past resources.memory is OOM-killed, status says so, the restart policy applies
unit hog 'command: [/bin/tail, /dev/zero]
resources: {memory: 32M}
restart: {policy: on-failure, delay: 1s}'
start_supd
wait_for 30 eval '[ -n "$(cg hog)" ]' || bad "no cgroup for hog"
max=$(cgf hog memory.max) swapmax=$(cgf hog memory.swap.max)
[ "$max" = 33554432 ] || bad "memory.max is $max"
[ "$swapmax" = 0 ] || bad "memory.swap.max is $swapmax"
wait_for 60 restarts_at_least hog 1 || bad "hog was not restarted: $(field hog state)"
wait_for 30 eval 'ctl status hog | grep -q "oom: the kernel.s OOM killer"' || bad "status never said oom: $(ctl status hog)"
field hog "last exit" | grep -q SIGKILL || bad "last exit: $(field hog "last exit")"
logged hog "the kernel's OOM killer ended it" || bad "the log does not say OOM"
# status.oom is memory.events' oom_kill, read before the cgroup goes; the kernel's own word:
kills=$(dmesg | grep -c 'Memory cgroup out of memory: Killed process [0-9]* (tail)')
[ "$kills" -ge 1 ] || bad "the kernel logged no memory cgroup OOM kill"
end "memory.max $max, memory.swap.max $swapmax, kernel OOM kills of tail $kills, restarts $(field hog restarts)," \
        "last exit $(field hog "last exit")"

begin swap-off # the excess cannot go to swap: 40 MiB under memory: 32M is killed, 16 MiB lives
# With memory.swap.max max, the 8 MiB over the limit would be swapped out and the holder would
# live on: the guest has swap.
unit over 'command: [/bin/limits-probe, hold, "40"]
resources: {memory: 32M}
restart: {policy: "no"}'
unit under 'command: [/bin/limits-probe, hold, "16"]
resources: {memory: 32M}
restart: {policy: "no"}'
start_supd
wait_for 30 logged under "holding 16 MiB" || bad "under does not hold 16 MiB: $(field under state)"
wait_for 60 eval 'ctl status over | grep -q "oom: the kernel.s OOM killer"' ||
        bad "40 MiB under memory: 32M was not OOM-killed ($(field over state); $(grep -h 'SwapTotal\|SwapFree' /proc/meminfo | tr -s ' \n' ' '))"
logged over "holding 40 MiB" && bad "over got its 40 MiB"
state_is under running || bad "under: $(field under state)"
swap=$(cgf under memory.swap.current)
[ "$swap" = 0 ] || bad "under has $swap bytes in swap"
end "over: $(field over "last exit"); under holds 16 MiB, memory.current $(cgf under memory.current), memory.swap.current $swap;" \
        "swap used in the guest $(($(sed -n 's/^SwapTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) - $(sed -n 's/^SwapFree: *\([0-9]*\).*/\1/p' /proc/meminfo))) KiB"

begin pids # a fork bomb is held at resources.pids, supctl status answers
unit bomb 'command: [/bin/limits-probe, bomb]
resources: {pids: 16}'
start_supd
wait_for 30 state_is bomb running || bad "bomb not running: $(field bomb reason)"
pmax=$(cgf bomb pids.max)
[ "$pmax" = 16 ] || bad "pids.max is $pmax"
wait_for 60 eval '[ "$(key "$(cg bomb)/pids.events" max)" -gt 0 ] 2>/dev/null' || bad "no fork was refused (pids.events max)"
most=0
for i in 1 2 3 4 5 6 7 8 9 10; do
        n=$(cgf bomb pids.current)
        [ "$n" -gt "$most" ] && most=$n
        sleep 0.2
done
[ "$most" -le 16 ] || bad "pids.current reached $most"
[ "$most" -ge 8 ] || bad "the bomb did not grow ($most tasks)"
tasks=$(field bomb tasks)
[ -n "$tasks" ] || bad "supctl status shows no tasks during the bomb"
refused=$(key "$(cg bomb)/pids.events" max)
ctl stop bomb >/dev/null
wait_for 30 state_is bomb stopped || bad "the bomb did not stop: $(field bomb state)"
end "pids.max $pmax, pids.current at most $most, forks refused (pids.events max) $refused, supctl status: tasks $tasks"

begin cpus # resources.cpus 0.2 is cpu.max "20000 100000", and the spinner is throttled
unit spin 'command: [/bin/sh, -c, "while :; do :; done"]
resources: {cpus: 0.2}'
start_supd
wait_for 30 state_is spin running || bad "spin not running"
cmax=$(cgf spin cpu.max)
[ "$cmax" = "20000 100000" ] || bad "cpu.max is '$cmax'"
wait_for 30 eval '[ "$(key "$(cg spin)/cpu.stat" nr_throttled)" -gt 0 ] 2>/dev/null' || bad "never throttled"
u0=$(key "$(cg spin)/cpu.stat" usage_usec) t0=$(cut -d' ' -f1 /proc/uptime)
sleep 3
u1=$(key "$(cg spin)/cpu.stat" usage_usec) t1=$(cut -d' ' -f1 /proc/uptime)
share=$(awk -v u="$((u1 - u0))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", u / 1e6 / (b - a) }')
end "cpu.max $cmax; $(grep -E 'nr_periods|nr_throttled|throttled_usec' "$(cg spin)/cpu.stat" | tr '\n' ' ')" \
        "usage $share of a CPU over $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (not checked: TCG)"

begin reload-live # changed memory and pids limits are written on reload, the workload runs on
unit web 'command: [/bin/sh, -c, "exec sleep 1000"]
resources: {memory: 64M, pids: 32}'
start_supd
wait_for 30 state_is web running || bad "web not running"
pid=$(pid_of web)
file_is web memory.max $((64 << 20)) || bad "memory.max at start: $(cgf web memory.max)"
unit web 'command: [/bin/sh, -c, "exec sleep 1000"]
resources: {memory: 128M, pids: 64}'
plan=$(ctl reload --dry-run)
echo "$plan" | grep -q "update web in place (resources.memory: 64M -> 128M, resources.pids: 32 -> 64)" || bad "dry run: $plan"
ctl reload >/dev/null || bad "reload failed"
wait_for 30 file_is web memory.max $((128 << 20)) || bad "memory.max now: $(cgf web memory.max)"
file_is web pids.max 64 || bad "pids.max now: $(cgf web pids.max)"
file_is web memory.swap.max 0 || bad "memory.swap.max now: $(cgf web memory.swap.max)"
[ "$(pid_of web)" = "$pid" ] || bad "web was restarted: pid $(pid_of web), was $pid"
field web memory | grep -q "of 128" || bad "supctl status: memory $(field web memory)"
end "pid $pid kept; memory.max $(cgf web memory.max), pids.max $(cgf web pids.max), memory.swap.max $(cgf web memory.swap.max)"

begin made-ahead # issue 14: a stopped unit's next run waits in its v2 cgroup (clone3 CLONE_INTO_CGROUP), the start takes it
unit ahead 'command: [/bin/sh, -c, "echo ready; exec sleep 1000"]
resources: {memory: 32M}'
start_supd
wait_for 30 state_is ahead running || bad "ahead not running"
ctl stop ahead >/dev/null
wait_for 30 state_is ahead stopped || bad "ahead not stopped"
parked() { [ "$(wc -l <"$(cg ahead)/cgroup.procs")" = 1 ] 2>/dev/null && cat "$(cg ahead)/cgroup.procs"; }
wait_for 30 eval '[ -n "$(parked)" ]' || bad "nothing parked in $(cg ahead)"
p=$(parked)
[ "$(cat "/proc/$p/comm")" = sup-init ] || bad "the parked process is $(cat "/proc/$p/comm")"
grep -q "^0::/sup-[^/]*/ahead\$" "/proc/$p/cgroup" || bad "the parked init's cgroup: $(cat "/proc/$p/cgroup")"
[ -z "$(pid_of ahead)" ] || [ "$(pid_of ahead)" = - ] || bad "a stopped unit shows pid $(pid_of ahead)"
ctl start ahead >/dev/null
wait_for 30 state_is ahead running || bad "ahead did not start: $(field ahead state)"
[ "$(pid_of ahead)" = "$p" ] || bad "the start did not take the parked init $p: pid $(pid_of ahead)"
wait_for 30 logged ahead "stdout ready" || bad "no first line"
# The monitor's side of the start from the log's own timestamps (1 ms steps; TCG): an indication only.
ms=$(awk '/ sup stopped -> starting$/ { split($1, t, /[T:Z]/); s = t[4] } / stdout ready$/ { split($1, t, /[T:Z]/); f = t[4] }
        END { printf "%.0f", (f - s) * 1000 }' "$CASE_DIR/state/logs/ahead.log")
end "parked init $p taken by the start; log timestamps, starting -> first line: $ms ms"

begin reload-below-usage # v2 takes a memory.max below the usage: reclaim, then the OOM killer
unit fat 'command: [/bin/limits-probe, hold, "24"]
resources: {memory: 64M}
restart: {policy: "no"}'
start_supd
wait_for 30 logged fat "holding 24 MiB" || bad "fat does not hold its memory"
before=$(cgf fat memory.current)
unit fat 'command: [/bin/limits-probe, hold, "24"]
resources: {memory: 8M}
restart: {policy: "no"}'
ctl reload >/dev/null || bad "reload failed"
wait_for 30 eval 'ctl status fat | grep -q "oom: the kernel.s OOM killer"' || bad "no OOM kill after lowering memory.max: $(field fat state)"
end "memory.current $before before; memory.max 8M then: $(field fat "last exit")"

begin io-weight # io_weight is blk-iocost's io.weight, read back from the kernel
unit disk 'command: [/bin/sh, -c, "exec sleep 1000"]
resources: {io_weight: 500}'
start_supd
wait_for 30 state_is disk running || bad "disk not running: $(field disk reason)"
w=$(cgf disk io.weight)
[ "$w" = "default 500" ] || bad "io.weight is '$w'"
end "io.weight '$w' (io.cost.qos: '$(cat /sys/fs/cgroup/io.cost.qos 2>/dev/null)': blk-iocost enabled on no device, so not enforced)"

# The escape attempts, from inside a container. /sys/fs/cgroup of a fresh sysfs is empty; a
# workload that may mount (CAP_SYS_ADMIN, seccomp unconfined) sees its own cgroup as the root of
# a cgroup2 it mounts (the cgroup namespace): no parent to move to, and with nsdelegate its own
# limits are not writable.
cat >"$LAYER/escape.sh" <<'PROBE'
echo "cgroup $(cat /proc/self/cgroup)"
echo "sees $(ls /sys/fs/cgroup | wc -l) entries in /sys/fs/cgroup"
for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup/cgroup.procs; do
        [ -e $f ] && { (echo max >$f) 2>/dev/null && echo "ESCAPE wrote $f"; }
done
mkdir -p /tmp/cg
if mount -t cgroup2 cgroup2 /tmp/cg 2>/dev/null; then
        echo "mounted cgroup2: memory.max $(cat /tmp/cg/memory.max), $(ls /tmp/cg | wc -l) files"
        (echo max >/tmp/cg/memory.max) 2>/dev/null && echo "ESCAPE wrote memory.max: $(cat /tmp/cg/memory.max)"
        (echo max >/tmp/cg/pids.max) 2>/dev/null && echo "ESCAPE wrote pids.max: $(cat /tmp/cg/pids.max)"
        umount /tmp/cg
else
        echo "refused mount cgroup2"
fi
for c in memory pids cpu; do
        mount -t cgroup -o $c cgroup /tmp/cg 2>/dev/null && { echo "ESCAPE mounted v1 $c: $(ls /tmp/cg | tr '\n' ' ')"; umount /tmp/cg; }
done
echo probe done
exec sleep 1000
PROBE

escape_case() { # escape_case SECURITY-YAML EXPECT: what the log must show besides no ESCAPE
        unit esc "command: [/bin/sh, /escape.sh]
resources: {memory: 64M, pids: 32}
$1"
        start_supd
        wait_for 30 logged esc "probe done" || bad "the probe did not finish: $(field esc state)"
        grep -o 'stdout .*' "$CASE_DIR/state/logs/esc.log" | sed 's/^stdout /probe| /'
        logged esc ESCAPE && bad "$(grep -o 'ESCAPE.*' "$CASE_DIR/state/logs/esc.log" | tr '\n' ';')"
        logged esc "cgroup 0::/$" || bad "not at the root of its cgroup namespace"
        logged esc "$2" || bad "the log does not show '$2'"
        file_is esc memory.max $((64 << 20)) || bad "memory.max is now $(cgf esc memory.max)"
        file_is esc pids.max 32 || bad "pids.max is now $(cgf esc pids.max)"
        ESC_SAW=$(grep -o 'stdout \(sees\|refused\|mounted\|moved\).*' "$CASE_DIR/state/logs/esc.log" | sed 's/^stdout //' | tr '\n' ';')
}

begin escape-default # the default security: nothing of the cgroup tree to write or mount
escape_case "" "refused mount cgroup2"
logged esc "sees 0 entries" || bad "the container sees cgroup files in /sys/fs/cgroup"
end "$ESC_SAW"

begin escape-sysadmin # CAP_SYS_ADMIN and no seccomp: a cgroup2 of its own, rooted at its cgroup
escape_case "security: {capabilities: {add: [SYS_ADMIN]}, seccomp: unconfined}" "mounted cgroup2: memory.max 67108864"
end "$ESC_SAW"

# Without nsdelegate (a cgroup2 mounted by hand, or by an init other than systemd), the kernel
# checks only file permissions: root with CAP_SYS_ADMIN may then write its own limits. Reported,
# not failed: it takes a capability that the default set withholds.
begin escape-sysadmin-no-nsdelegate
mount -o remount cgroup2 /sys/fs/cgroup 2>/dev/null
if grep -q ' /sys/fs/cgroup cgroup2 .*nsdelegate' /proc/mounts; then
        bad "cannot remount /sys/fs/cgroup without nsdelegate"
        end
else
        escape_case "security: {capabilities: {add: [SYS_ADMIN]}, seccomp: unconfined}" "mounted cgroup2"
        stop_supd
        if [ -n "$CASE_BAD" ] && logged esc "ESCAPE wrote memory.max"; then
                result "$CASE" gap "without nsdelegate, CAP_SYS_ADMIN + seccomp unconfined:" \
                        "$(grep -o 'ESCAPE.*' "$CASE_DIR/state/logs/esc.log" | tr '\n' ';')"
        else
                end "$ESC_SAW"
        fi
fi
mount -o remount,nsdelegate cgroup2 /sys/fs/cgroup

# network: host binds the guest's /sys in, and its cgroup2 mount with it.
begin escape-hostnet # with the host's /sys: no write to its own limits nor a move out
cat >"$LAYER/hostnet.sh" <<'PROBE'
own=$(ls -d /sys/fs/cgroup/sup-*/hostnet)
echo "own cgroup $own"
(echo $$ >/sys/fs/cgroup/cgroup.procs) 2>/dev/null && echo "WROTE the root's cgroup.procs (left its cgroup)" || echo "refused move to the root"
(echo max >$own/memory.max) 2>/dev/null && echo "WROTE its memory.max" || echo "refused memory.max"
echo probe done
exec sleep 1000
PROBE
unit hostnet 'resources: {memory: 64M}
command: [/bin/sh, /hostnet.sh]'
sed -i 's/^network: none$/network: host/' "$CASE_DIR/units/hostnet.yaml"
start_supd
wait_for 30 logged hostnet "probe done" || bad "the probe did not finish: $(field hostnet state)"
saw=$(grep -o 'stdout .*' "$CASE_DIR/state/logs/hostnet.log" | sed 's/^stdout //' | tr '\n' ';')
file_is hostnet memory.max $((64 << 20)) || bad "memory.max is now $(cgf hostnet memory.max)"
logged hostnet WROTE && bad "$saw"
end "$saw"

# user_namespace: auto on Debian 12's kernel: idmapped ext4 layer and sandbox, an overlay made
# in the user namespace with the one "lowerdir" list kernels before 6.8 take.
begin userns
if [ -z "$EXT" ] || ! mkdir -p /ext || ! mount -t ext4 "$EXT" /ext; then
        bad "no ext4 disk (LABEL=sup-ext: '$EXT')"
        end
else
        mkdir -p /ext/w
        CASE_DIR=/ext/w/c$N
        mkdir -p "$CASE_DIR/units"
        cat >"$CASE_DIR/units/ns.yaml" <<UNIT
image: {layers: [{dir: /ext/layer}]}
network: none
stop: {timeout: 2s}
security: {user_namespace: auto}
command: [/bin/sh, -c, "cat /proc/self/uid_map; echo made > /etc/made && chown 1000:1000 /etc/made && echo wrote; exec sleep 1000"]
UNIT
        start_supd
        wait_for 30 logged ns wrote || bad "ns did not write its sandbox: $(field ns state) $(field ns reason)"
        range=$(field ns "user ns")
        base=$(echo "$range" | sed -n 's/.* are \([0-9]*\)-.*/\1/p')
        [ -n "$base" ] || bad "no range in supctl status: '$range'"
        logged ns "stdout *0 *$base *65536" || bad "uid_map is not '0 $base 65536'"
        init=$(pid_of ns) cmd=
        for p in /proc/[0-9]*; do
                [ "$(cut -d' ' -f4 "$p/stat" 2>/dev/null)" = "$init" ] && cmd=${p#/proc/}
        done
        owner=$(awk '/^Uid:/ { print $2 }' "/proc/$cmd/status" 2>/dev/null)
        [ -n "$cmd" ] && [ "$owner" = "$base" ] || bad "the command (pid '$cmd') runs as host uid '$owner', not $base"
        made=$(stat -c %u:%g "$CASE_DIR/state/sandboxes/ns/upper/etc/made" 2>/dev/null)
        [ "$made" = 1000:1000 ] || bad "the sandbox stores the file as '$made', not 1000:1000"
        end "range $base, command host uid $owner, sandbox file $made on disk"
        umount /ext
fi

if [ $ASAN = 1 ]; then
        if [ -n "$(ls -A /tmp/sanitizer)" ]; then
                head -c 4000 /tmp/sanitizer/* | sed 's/^/sanitizer| /'
                result sanitizer FAIL "$(ls /tmp/sanitizer | tr '\n' ' ')"
        else
                result sanitizer ok "no reports"
        fi
fi

echo "RESULT done"
sync
poweroff -f
sleep 5
reboot -f
