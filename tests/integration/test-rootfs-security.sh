#!/bin/bash
# The container's root file system as a boundary, end to end, as root: masked and read-only paths,
# device nodes, hostile images, bind and tmpfs mounts, read_only_rootfs.
#   test-rootfs-security.sh SUPD SUPCTL SUP_MONITOR
# Each case starts its own supd on private directories (case-supd.sh) and names the attack it
# stops. The workload runs as root with the capabilities sup gives by default: what is checked
# here must hold by the file system's own means (masks, read-only and nodev mounts, the walk that
# opens mount points), whatever capabilities and seccomp add on top. Exit 77 (skip) without root,
# unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

require_containers

TOP=$(mktemp -d /tmp/suprfs.XXXXXX)
sanitizer_reports_to "$TOP"

# The busybox image every unit uses; hostile cases stack a small layer of their own on top (a
# non-directory in an upper layer hides the lower directory of that name).
LAYER=$TOP/layer
busybox_layer "$LAYER"
mkdir -p "$LAYER/opt"
# A device node carried by the image: the null device, so that nothing is harmed if it opened.
mknod "$LAYER/opt/nullnode" c 1 3

# Host directories a hostile image points at: nothing may appear in them.
BAIT=$TOP/bait
mkdir -p "$BAIT"/{dev,proc,sys,data,sandbox}

HOST_MOUNTS_BEFORE=$(mktemp)
mounts_of_host() { cut -d' ' -f4,5 /proc/self/mountinfo | sort; }

fail() {
        printf '    FAIL: %s\n' "$*"
        if [ "$CASE_FAILED" = 0 ] && [ -n "${CASE_DIR:-}" ]; then
                [ -f "$CASE_DIR/supd.log" ] && sed 's/^/      supd| /' "$CASE_DIR/supd.log" | tail -10
                ls "$CASE_DIR"/state/logs/*.log >/dev/null 2>&1 && tail -n 20 "$CASE_DIR"/state/logs/*.log | sed 's/^/      log| /'
        fi
        CASE_FAILED=1
}

# unit NAME YAML-REST [LAYER...]: a unit of the busybox image (and the layers given, on top).
unit() {
        local name=$1 rest=$2 l
        shift 2
        {
                echo "image:"
                echo "  layers:"
                echo "    - dir: $LAYER"
                for l in "$@"; do echo "    - dir: $l"; done
                echo "network: none"
                echo "stop: {timeout: 2s}"
                echo "$rest"
        } >"$CASE_DIR/units/$name.yaml"
}

end() {
        stop_supd
        check_left_behind
        case_verdict
}

# out NAME: what the unit printed on stdout, prefix stripped.
out() { sed -n 's/^[^ ]* stdout //p' "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
# line NAME KEY: the rest of the unit's stdout line "KEY: ...".
line() { out "$1" | sed -n "s|^$2: ||p" | head -n1; }
exited() { state_is "$1" exited || state_is "$1" failed; }
# bait_untouched: the host directories a hostile image pointed at are as the test made them.
bait_untouched() {
        local left
        left=$(find "$BAIT" -mindepth 2 | head -5)
        [ -z "$left" ] || fail "the host's bait directories changed: $left"
}
# host_mounts_unchanged: the host's mount table is as before the case, but for the case's own
# sandboxes (none of them is left after stop_supd anyway).
host_mounts_unchanged() {
        diff <(cat "$HOST_MOUNTS_BEFORE") <(mounts_of_host | grep -v "$TOP") >/dev/null ||
                fail "the host's mount table changed: $(diff <(cat "$HOST_MOUNTS_BEFORE") <(mounts_of_host | grep -v "$TOP") | head -5)"
}

cleanup() {
        stop_supd
        pkill -9 -f "sup-monitor --dir $TOP" 2>/dev/null
        grep -o "$TOP[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
        rm -f "$HOST_MOUNTS_BEFORE"
        if [ "${SUP_TEST_KEEP:-0}" = 1 ]; then echo "kept $TOP"; else rm -rf "$TOP"; fi
}
trap cleanup EXIT
mounts_of_host | grep -v "$TOP" >"$HOST_MOUNTS_BEFORE"

MASKED="/proc/acpi /proc/asound /proc/interrupts /proc/kcore /proc/keys /proc/latency_stats /proc/sched_debug
/proc/scsi /proc/timer_list /proc/timer_stats /sys/devices/virtual/powercap /sys/firmware"
READ_ONLY="/proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger"

# ---------------------------------------------------------------------------------------------

begin "masked paths read empty (host kernel memory, keyrings, timers, interrupts, firmware tables leak nothing)"
# For each path: "P file N" (bytes read), "P dir N" (entries), or "P absent" (this kernel lacks it).
unit masked "command: [/bin/sh, -c, 'for p in $(echo $MASKED); do if [ -d \$p ]; then echo \"mask: \$p dir \$(ls -A \$p | wc -l)\"; elif [ -e \$p ]; then echo \"mask: \$p file \$(cat \$p 2>/dev/null | wc -c)\"; else echo \"mask: \$p absent\"; fi; done;
  echo \"rm: \$(rm -f /proc/keys 2>&1)\"; echo \"touch: \$(touch /sys/firmware/x 2>&1)\"; echo \"cpuinfo: \$(grep -c ^processor /proc/cpuinfo)\"']
restart: {policy: 'no'}"
start_supd
wait_for 10 exited masked || fail "masked did not run: $(field masked state) $(field masked reason)"
n=0 absent=
while read -r p kind count; do
        case $kind in
        absent) absent="$absent $p" ;;
        file | dir)
                n=$((n + 1))
                [ "$count" = 0 ] || fail "$p ($kind) is not masked: $count bytes or entries"
                ;;
        *) fail "unexpected line: $p $kind $count" ;;
        esac
done < <(out masked | sed -n 's/^mask: //p')
[ "$n" -gt 0 ] || fail "no masked path was seen at all"
log "$n masked paths read empty; absent on this kernel:${absent:- none}"
# The masks hide something: where the host has the file, it is not empty there.
for p in /proc/keys /proc/interrupts /proc/timer_list; do
        [ -s "$p" ] || [ -n "$(head -c1 "$p" 2>/dev/null)" ] || continue
        out masked | grep -q "^mask: $p file 0$" || fail "$p: the host has it, the container does not see it masked"
done
line masked rm | grep -q 'Permission denied\|Read-only\|Operation not permitted\|busy' || fail "rm /proc/keys: $(line masked rm)"
line masked touch | grep -q 'Read-only file system' || fail "touch in /sys/firmware: $(line masked touch)"
[ "$(line masked cpuinfo)" -gt 0 ] || fail "the masks hid what they should not (/proc/cpuinfo)"
end

begin "read-only /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus, /proc/fs: root inside cannot retune the host's kernel"
host_name=$(hostname) host_dirty=$(cat /proc/sys/vm/dirty_ratio)
# Each write puts back the value there is (the SysRq key h only prints help): should one go
# through, the host is still as it was, and the test fails all the same.
unit ro "command: [/bin/sh, -c, 'echo \"hostname: \$({ echo pwned >/proc/sys/kernel/hostname; } 2>&1)\";
  echo \"dirty: \$({ cat /proc/sys/vm/dirty_ratio >/proc/sys/vm/dirty_ratio; } 2>&1)\";
  echo \"core: \$({ cat /proc/sys/kernel/core_pattern >/proc/sys/kernel/core_pattern; } 2>&1)\";
  if [ -e /proc/sysrq-trigger ]; then echo \"sysrq: \$({ echo h >/proc/sysrq-trigger; } 2>&1)\"; else echo \"sysrq: absent\"; fi;
  echo \"irq: \$({ cat /proc/irq/default_smp_affinity >/proc/irq/default_smp_affinity; } 2>&1)\";
  grep -E \" /proc/(bus|fs|irq|sys|sysrq-trigger) \" /proc/self/mountinfo | sed \"s/^/mount: /\"']
restart: {policy: 'no'}"
start_supd
wait_for 10 exited ro || fail "ro did not run: $(field ro reason)"
for k in hostname dirty core irq; do
        line ro "$k" | grep -q 'Read-only file system' || fail "$k: the write was not refused as read-only: '$(line ro "$k")'"
done
case "$(line ro sysrq)" in
absent) log "this kernel has no /proc/sysrq-trigger (test-hyperv.sh checks it in the guest's)" ;;
*"Read-only file system"*) ;;
*) fail "sysrq-trigger: '$(line ro sysrq)'" ;;
esac
[ "$(hostname)" = "$host_name" ] && [ "$(cat /proc/sys/vm/dirty_ratio)" = "$host_dirty" ] || fail "the host's sysctls changed"
out ro | grep '^mount: ' | grep -v ' ro,' && fail "a read-only path is not mounted ro"
log "$(out ro | grep -c '^mount: ') read-only mounts in /proc"
end

begin "/dev holds the minimal nodes only; device nodes from the image or made inside open nothing (nodev); the host's /dev/null cannot be changed"
null_before=$(stat -c '%a %u:%g' /dev/null)
# chmod and chown give /dev/null the mode and owner it has: refused or not, the host's stays.
unit dev "command: [/bin/sh, -c, 'echo \"dev: \$(ls /dev | tr \"\\n\" \" \")\"; echo \"chr: \$(ls -l /dev | grep -c ^c)\";
  echo \"image node: \$(cat /opt/nullnode 2>&1)\";
  for d in /dev /tmp /scratch /dev/shm; do
    if mknod \$d/blk b 7 0 2>/dev/null; then echo \"blk \$d: \$(head -c1 \$d/blk 2>&1)\"; else echo \"blk \$d: mknod refused\"; fi;
  done;
  echo \"chmod: \$(chmod 666 /dev/null 2>&1)\"; echo \"chown: \$(chown 0:0 /dev/null 2>&1)\";
  echo \"null: \$(echo x >/dev/null && echo ok)\"; echo \"urandom: \$(head -c 16 /dev/urandom | wc -c)\";
  echo \"zero: \$(head -c 3 /dev/zero | wc -c)\"; echo \"ptmx: \$(test -c /dev/pts/ptmx && echo ok)\";
  echo \"root: \$(grep \" / / \" /proc/self/mountinfo | cut -d\" \" -f6)\"']
mounts:
  - {type: tmpfs, target: /scratch}
restart: {policy: 'no'}"
start_supd
wait_for 10 exited dev || fail "dev did not run: $(field dev reason)"
expected="core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero "
[ "$(line dev dev)" = "$expected" ] || fail "/dev holds '$(line dev dev)', expected '$expected'"
[ "$(line dev chr)" = 6 ] || fail "$(line dev chr) character devices in /dev, expected 6"
line dev "image node" | grep -q 'Permission denied' || fail "the image's device node opened: '$(line dev "image node")'"
for d in /dev /tmp /scratch /dev/shm; do
        r=$(line dev "blk $d")
        case $r in
        "mknod refused") log "mknod in $d: refused (CAP_MKNOD is not the workload's)" ;;
        *"Permission denied"*) log "mknod in $d: made, but it opens nothing (nodev)" ;;
        *"Operation not permitted"*) log "mknod in $d: made, but the device cgroup refuses the open" ;;
        *) fail "a block device made in $d: '$r'" ;;
        esac
done
line dev chmod | grep -q 'Read-only file system' || fail "chmod of /dev/null: '$(line dev chmod)'"
line dev chown | grep -q 'Read-only file system' || fail "chown of /dev/null: '$(line dev chown)'"
[ "$(stat -c '%a %u:%g' /dev/null)" = "$null_before" ] || fail "the host's /dev/null changed: $(stat -c '%a %u:%g' /dev/null)"
[ "$(line dev null)" = ok ] && [ "$(line dev urandom)" = 16 ] && [ "$(line dev zero)" = 3 ] && [ "$(line dev ptmx)" = ok ] ||
        fail "the minimal nodes do not work: $(out dev | grep -E '^(null|urandom|zero|ptmx):' | tr '\n' ' ')"
[[ "$(line dev root)" == *nodev* ]] || fail "the root is not nodev: $(line dev root)"
end

begin "hostile images: /dev, /proc, /sys symlinks to host paths, or out by a relative path, fail clearly and change nothing on the host"
# Each hostile image is the busybox layer plus one layer with the link.
mkdir -p "$TOP/evil-dev" "$TOP/evil-proc" "$TOP/evil-sys"
ln -s "$BAIT/dev" "$TOP/evil-dev/dev"
ln -s "$BAIT/proc" "$TOP/evil-proc/proc"
ln -s "../../../../../../../../$BAIT/sys" "$TOP/evil-sys/sys"
for w in dev proc sys; do
        unit "evil-$w" "command: [/bin/sh, -c, 'echo started']
restart: {policy: 'no'}" "$TOP/evil-$w"
done
start_supd
for w in dev proc sys; do
        wait_for 10 state_is "evil-$w" failed || fail "evil-$w: $(field "evil-$w" state), expected failed"
        reason=$(field "evil-$w" reason)
        [[ $reason == *"/$w in the container's file system is a symlink (to "*"$BAIT/$w)"* ]] ||
                fail "evil-$w: unclear reason: $reason"
        out "evil-$w" | grep -q started && fail "evil-$w: the command ran"
done
log "evil-dev: $(field evil-dev reason)"
stop_supd
bait_untouched
host_mounts_unchanged
end

begin "hostile images: a mount target through an image symlink fails clearly; /dev/null a link into /proc in the image is never used"
mkdir -p "$TOP/evil-data" "$TOP/evil-null/dev"
ln -s "$BAIT/data" "$TOP/evil-data/data"
# /dev/null a link to core_pattern (writes to it would set the host's core dump helper), and
# /dev/shm, where the runtime mounts, a link to a host directory.
ln -s /proc/sys/kernel/core_pattern "$TOP/evil-null/dev/null"
ln -s "$BAIT/dev" "$TOP/evil-null/dev/shm"
unit evil-target "command: [/bin/sh, -c, 'echo started']
mounts:
  - {type: tmpfs, target: /data/cache}
restart: {policy: 'no'}" "$TOP/evil-data"
unit evil-null "command: [/bin/sh, -c, 'echo \"null: \$(stat -c \"%F %t:%T\" /dev/null)\"; echo \"keys: \$(stat -c \"%F %t:%T\" /proc/keys)\";
  echo \"shm: \$(stat -c %F /dev/shm)\"']
restart: {policy: 'no'}" "$TOP/evil-null"
start_supd
wait_for 10 state_is evil-target failed || fail "evil-target: $(field evil-target state)"
reason=$(field evil-target reason)
[[ $reason == *"cannot mount on /data/cache: /data in the container's file system is a symlink (to $BAIT/data)"* ]] ||
        fail "evil-target: unclear reason: $reason"
log "evil-target: $reason"
wait_for 10 exited evil-null || fail "evil-null did not run: $(field evil-null reason)"
[ "$(line evil-null null)" = "character special file 1:3" ] || fail "/dev/null is '$(line evil-null null)'"
# The masks are the runtime's own /dev/null, not what the image has under that name.
[ "$(line evil-null keys)" = "character special file 1:3" ] || fail "/proc/keys is '$(line evil-null keys)'"
[ "$(line evil-null shm)" = directory ] || fail "/dev/shm is '$(line evil-null shm)'"
stop_supd
bait_untouched
host_mounts_unchanged
end

begin "a symlink planted in the sandbox by an earlier run cannot redirect a mount of the next start"
# Run 1 moves its /data away and leaves a link to a host directory in its place (in the sandbox,
# which outlives the run); run 2 must refuse to mount /data/cache through it.
unit plant "command: [/bin/sh, -c, 'if [ -L /data ]; then echo second run; exit 0; fi; mv /data /data.old && ln -s $BAIT/sandbox /data && echo planted']
mounts:
  - {type: tmpfs, target: /data/cache}
restart: {policy: 'no'}"
start_supd
wait_for 10 exited plant || fail "plant did not run: $(field plant reason)"
grep -q 'stdout planted' "$CASE_DIR/state/logs/plant.log" || fail "run 1 could not plant the link: $(out plant)"
ctl start plant >/dev/null
wait_for 10 state_is plant failed || fail "run 2: $(field plant state)"
reason=$(field plant reason)
[[ $reason == *"/data in the container's file system is a symlink (to $BAIT/sandbox)"* ]] || fail "run 2: unclear reason: $reason"
grep -q 'second run' "$CASE_DIR/state/logs/plant.log" && fail "run 2 started through the planted link"
log "run 2: $reason"
stop_supd
bait_untouched
end

begin "bind mounts: read_only is read-only all the way down, rw is writable, nosuid and nodev; files bind too"
SRC=$TOP/src
mkdir -p "$SRC/ro/sub" "$SRC/rw"
echo "host file" >"$SRC/ro/file"
echo "single" >"$SRC/single.txt"
# A mount below the read-only source: the bind takes it along, read-only as well.
mount -t tmpfs -o size=1m sup-test "$SRC/ro/sub"
unit binds "command: [/bin/sh, -c, 'echo \"read: \$(cat /ro/file)\"; echo \"ro: \$(touch /ro/x 2>&1)\"; echo \"ro sub: \$(touch /ro/sub/x 2>&1)\";
  echo written >/rw/new && echo \"rw: ok\"; echo \"single: \$(cat /etc/single.txt)\";
  grep -E \" /(ro|ro/sub|rw|etc/single.txt) \" /proc/self/mountinfo | cut -d\" \" -f5,6 | sed \"s/^/mount: /\"']
mounts:
  - {type: bind, source: $SRC/ro, target: /ro, read_only: true}
  - {type: bind, source: $SRC/rw, target: /rw}
  - {type: bind, source: $SRC/single.txt, target: /etc/single.txt, read_only: true}
restart: {policy: 'no'}"
start_supd
wait_for 10 exited binds || fail "binds did not run: $(field binds reason)"
[ "$(line binds read)" = "host file" ] || fail "read: $(line binds read)"
line binds ro | grep -q 'Read-only file system' || fail "/ro is writable: '$(line binds ro)'"
line binds "ro sub" | grep -q 'Read-only file system' || fail "/ro/sub (a mount below the source) is writable: '$(line binds "ro sub")'"
[ "$(line binds rw)" = ok ] && [ "$(cat "$SRC/rw/new" 2>/dev/null)" = written ] || fail "the rw bind did not reach the host"
[ "$(line binds single)" = single ] || fail "file bind: $(line binds single)"
while read -r where opts; do
        [[ $opts == *nosuid* && $opts == *nodev* ]] || fail "$where: $opts lacks nosuid,nodev"
        case $where in /rw) [[ $opts == rw,* ]] || fail "$where: $opts" ;; *) [[ $opts == ro,* ]] || fail "$where: $opts" ;; esac
done < <(out binds | sed -n 's/^mount: //p')
[ "$(out binds | grep -c '^mount: ')" = 4 ] || fail "expected 4 bind mounts: $(out binds | grep '^mount: ')"
[ -e "$SRC/ro/x" ] || [ -e "$SRC/ro/sub/x" ] && fail "a write reached the read-only source"
end

begin "bind sources: a source swapped for a symlink after validation, or the host's /proc under another name, is refused at start"
SRC=$TOP/src2
mkdir -p "$SRC/data" "$TOP/procbind"
unit swapped "command: [/bin/sh, -c, 'ls /data']
mounts:
  - {type: bind, source: $SRC/data, target: /data}
restart: {policy: 'no'}"
# Valid when loaded (a plain directory); the test bind-mounts the host's /proc there afterwards.
unit procfs "command: [/bin/sh, -c, 'cat /host/sys/kernel/hostname']
mounts:
  - {type: bind, source: $TOP/procbind, target: /host, read_only: true}
restart: {policy: 'no'}"
start_supd
wait_for 10 exited swapped && wait_for 10 exited procfs || fail "the units did not run first: $(field swapped reason) $(field procfs reason)"
# Someone who can write $SRC points data at the host's /etc; the host's /proc appears at procbind.
mv "$SRC/data" "$SRC/data.real" && ln -s /etc "$SRC/data"
mount --bind /proc "$TOP/procbind"
ctl start swapped >/dev/null
ctl start procfs >/dev/null
wait_for 10 state_is swapped failed || fail "swapped: $(field swapped state)"
reason=$(field swapped reason)
[[ $reason == *"bind mount source $SRC/data goes through a symlink (it resolves to /etc)"* ]] || fail "swapped: unclear reason: $reason"
log "swapped: $reason"
wait_for 10 state_is procfs failed || fail "procfs: $(field procfs state)"
reason=$(field procfs reason)
[[ $reason == *"is on proc, a kernel interface"* ]] || fail "procfs: unclear reason: $reason"
log "procfs: $reason"
out swapped | grep -q passwd && fail "the container listed the host's /etc"
stop_supd
umount "$TOP/procbind"
end

begin "tmpfs mounts: size is enforced, mode is the root's, nosuid and nodev"
unit tmp "command: [/bin/sh, -c, 'echo \"dd: \$(dd if=/dev/zero of=/small/fill bs=64k count=32 2>&1 | grep -o \"No space left on device\")\"; echo \"used: \$(du -k /small/fill | cut -f1)\";
  echo \"mode: \$(stat -c %a /small) \$(stat -c %a /private)\"; grep -E \" /(small|private) \" /proc/self/mountinfo | cut -d\" \" -f6 | sed \"s/^/opts: /\"']
mounts:
  - {type: tmpfs, target: /small, size: 1M}
  - {type: tmpfs, target: /private, mode: '0700'}
restart: {policy: 'no'}"
start_supd
wait_for 10 exited tmp || fail "tmp did not run: $(field tmp reason)"
line tmp dd | grep -q 'No space left on device' || fail "2 MiB fit in a 1M tmpfs: $(line tmp dd)"
[ "$(line tmp used)" -le 1024 ] || fail "used $(line tmp used) KiB of a 1M tmpfs"
[ "$(line tmp mode)" = "1777 700" ] || fail "modes: $(line tmp mode), expected 1777 700"
out tmp | sed -n 's/^opts: //p' | grep -v 'nosuid,nodev' && fail "a tmpfs lacks nosuid,nodev"
end

begin "read_only_rootfs: the root is read-only (and still nodev); mounts, /tmp tmpfs, /dev and /proc work; the sandbox gets no write"
mkdir -p "$TOP/rw-src"
unit rofs "command: [/bin/sh, -c, 'echo \"root write: \$(touch /newfile 2>&1)\"; echo \"etc write: \$({ echo x >>/etc/passwd; } 2>&1)\";
  echo t >/tmp/t && echo \"tmp: ok\"; echo s >/dev/shm/s && echo \"shm: ok\"; echo x >/dev/null && echo \"null: ok\";
  echo w >/rw/w && echo \"bind: ok\"; echo \"proc: \$(cat /proc/self/comm)\";
  echo \"root: \$(grep \" / / \" /proc/self/mountinfo | cut -d\" \" -f6)\"']
mounts:
  - {type: tmpfs, target: /tmp, size: 4M}
  - {type: bind, source: $TOP/rw-src, target: /rw}
security: {read_only_rootfs: true}
restart: {policy: 'no'}"
start_supd
wait_for 10 exited rofs || fail "rofs did not run: $(field rofs reason)"
line rofs "root write" | grep -q 'Read-only file system' || fail "the root is writable: '$(line rofs "root write")'"
line rofs "etc write" | grep -q 'Read-only file system' || fail "/etc/passwd is writable: '$(line rofs "etc write")'"
for k in tmp shm null bind; do [ "$(line rofs $k)" = ok ] || fail "$k is not writable with a read-only root"; done
[ "$(line rofs proc)" = cat ] || fail "/proc: $(line rofs proc)"
[[ "$(line rofs root)" == ro,*nodev* ]] || fail "the root's mount: $(line rofs root), expected ro and nodev"
upper=$CASE_DIR/state/sandboxes/rofs/upper
[ -e "$upper/newfile" ] || [ -n "$(find "$upper" -type f 2>/dev/null)" ] && fail "the workload wrote to the sandbox: $(find "$upper" -type f)"
log "the sandbox holds only the mount points the runtime made: $(cd "$upper" && find . -mindepth 1 | tr '\n' ' ')"
end

begin "network: host: the host's /sys comes read-only with every mount below it (cgroup release_agent, CVE-2022-0492)"
unit hostnet "command: [/bin/sh, -c, 'grep -E \" /sys(/| )\" /proc/self/mountinfo | cut -d\" \" -f5,6 | sed \"s/^/sys: /\";
  echo \"mkdir: \$(mkdir /sys/fs/cgroup/sup-rootfs-probe 2>&1)\"']
network: host
restart: {policy: 'no'}"
sed -i '/^network: none$/d' "$CASE_DIR/units/hostnet.yaml"
start_supd
wait_for 10 exited hostnet || fail "hostnet did not run: $(field hostnet reason)"
n=$(out hostnet | grep -c '^sys: ')
[ "$n" -gt 1 ] || fail "only $n mounts under /sys: the host's were not taken along"
out hostnet | sed -n 's/^sys: //p' | grep -v ' ro,' | grep -v ' ro$' && fail "a mount under /sys is writable"
line hostnet mkdir | grep -q 'Read-only file system' || fail "mkdir in /sys/fs/cgroup: '$(line hostnet mkdir)'"
rmdir /sys/fs/cgroup/sup-rootfs-probe 2>/dev/null && fail "the container made a directory in the host's /sys/fs/cgroup"
log "$n mounts under /sys"
end

finish
