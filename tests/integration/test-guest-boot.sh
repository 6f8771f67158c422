#!/bin/bash
# A hyperv guest booted for real: Debian's cloud kernel (tools/guest-kernel.sh), sup's initramfs
# with sup-init (tools/guest-initramfs.sh), a busybox layer disk and a sandbox disk, QEMU with TCG.
#   test-guest-boot.sh SUP_INIT SUPCTL
# Speaks the agent protocol (supervisor/agent/guest-proto.h) over a FIFO pair, as the host's
# runtime will over its chardev, presses the ACPI power button over QMP (system_powerdown), gives
# a guest a network card on a tap device of the test's own (network: bridge) and fetches a page
# from it, and checks what the workload printed on the console. Measures the time from starting QEMU to the
# workload's first output, beside a bare boot of the same kernel to a trivial /init in the same run.
#
# Exit 77 (skip) without root, QEMU or a kernel (no package lists, no network), unless
# SUP_TESTS_MUST_WORK=1 turns that into a failure. SUP_GUEST_DIR: the state dir (the kernel cache),
# default /var/lib/sup/guest. SUP_GUEST_BOOT_RUNS: boots measured of each kind (default 3).
set -uo pipefail

SUP_INIT=$(realpath "$1") SUPCTL=$(realpath "$2")
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
STATE=${SUP_GUEST_DIR:-/var/lib/sup/guest}
RUNS=${SUP_GUEST_BOOT_RUNS:-3}

# skip() and friends.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
command -v mkfs.ext4 >/dev/null || skip "needs mkfs.ext4 (e2fsprogs)"
command -v mkfs.erofs >/dev/null || skip "needs mkfs.erofs (erofs-utils)"
"$TOOLS/guest-kernel.sh" "$STATE" || skip "cannot provision the guest kernel"
INITRD=$("$TOOLS/guest-initramfs.sh" "$STATE" "$SUP_INIT") || { echo "FAIL: cannot build the initramfs"; exit 1; }
# The kernel the driver boots (runtime/vm/vm.c): its ELF (a PVH boot) when guest-kernel.sh made one.
KERNEL=$STATE/kernel/current/vmlinux
[ -f "$KERNEL" ] || KERNEL=$STATE/kernel/current/vmlinuz

TOP=$(mktemp -d /tmp/sup-guest.XXXXXX)
mkfifo "$TOP/tick" && exec 5<>"$TOP/tick"
QEMU_PID= TAP=
cleanup() {
        [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
        [ -n "$TAP" ] && ip link del "$TAP" 2>/dev/null
        rm -rf "$TOP"
}
trap cleanup EXIT
FAILED=0 GUEST_HELLO=() GUEST_OUT=() BARE_OUT=()
fail() {
        printf '    FAIL: %s\n' "$*"
        FAILED=1
}
# Milliseconds since T0, and a 10 ms wait, without forking: the measurements poll while QEMU boots,
# and on a loaded 2-core machine a fork 100 times a second is not free.
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
ms() { echo $((($(now_us) - T0) / 1000)); }
tick() { read -r -t 0.01 -u 5 _; }

# -M microvm boots fastest; tsc_early_khz keeps it from hanging (lib.sh's host_tsc_khz); the code
# cache as large as the driver's (runtime/vm/vm-qemu.h, VM_TCG_TB_MIB), so that this boots what it runs.
tsc_khz=$(host_tsc_khz) || skip "cannot tell the host's TSC frequency"
MACHINE=(-M microvm -nodefaults -no-user-config -accel tcg,tb-size=16 -m 256 -smp 1 -display none -no-reboot)
CMDLINE="console=ttyS0 quiet panic=-1 tsc_early_khz=$tsc_khz tsc=reliable"
echo "    machine: microvm, TCG, tsc_early_khz=$tsc_khz; kernel $(readlink "$STATE/kernel/current")"

# The image: one busybox layer, as an erofs disk, as image/layer-disk.c makes them.
ROOT=$TOP/layer
mkdir -p "$ROOT"/{bin,etc,root,tmp,www}
cp /bin/busybox "$ROOT/bin/"
for a in sh echo hostname id sleep pwd ls ip ping httpd; do ln -sf busybox "$ROOT/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
echo "served from the guest over virtio-net" >"$ROOT/www/index.html"
mkfs.erofs --quiet --preserve-mtime "$TOP/layer.img" "$ROOT" || { echo "FAIL: mkfs.erofs"; exit 1; }

# run_spec FILE: the spec a host sends its guest, on one line: the unit's canonical JSON with its
# image's defaults applied (supctl validate --json --print: "run"); a dir: layer's image has none
# but "0" and "/", which a guest's run command must be given.
run_spec() {
        "$SUPCTL" validate --json --print --state-dir "$TOP/state" "$1" |
                "$PY" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["units"][0]["run"]))'
}

# unit_json NAME COMMAND [YAML]: the unit's run spec on one line, as run_spec gives it; YAML: more
# keys of the unit (network: none unless it has a network key). seccomp:
# unconfined unless YAML has a security key, which must then say so: the run commands here carry
# no filter, a unit's filter being the host's to compile (test-hyperv.sh and test-seccomp.sh run
# guests with one).
unit_json() {
        local network="network: none" security="security: {seccomp: unconfined}"
        [[ ${3:-} == *network:* ]] && network=
        [[ ${3:-} == *security:* ]] && security=
        cat >"$TOP/$1.yaml" <<EOF
name: $1
isolation: hyperv
image: {layers: [{dir: $ROOT}]}
command: [/bin/sh, -c, "$2"]
env: {GREETING: hello}
$security
$network
${3:-}
EOF
        run_spec "$TOP/$1.yaml"
}

# boot NAME [QEMU ARG...]: QEMU with the layer disk (vda), a fresh sandbox disk (vdb), an entropy
# source (without it, the workload's first read of /dev/random waits about a second under TCG,
# never on the host), the virtio console in $TOP/NAME.console, the kernel's own console in
# $TOP/NAME.kernel and the agent port on the FIFO pair $TOP/NAME.agent.{in,out} (fds 3 and 4 here).
boot() {
        local n=$1
        shift
        rm -f "$TOP/$n.sandbox.img" && mkfs.ext4 -q "$TOP/$n.sandbox.img" 32M
        mkfifo "$TOP/$n.agent.in" "$TOP/$n.agent.out"
        T0=$(now_us)
        qemu-system-x86_64 "${MACHINE[@]}" -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" \
                -serial "file:$TOP/$n.kernel" \
                -drive "id=layer0,file=$TOP/layer.img,format=raw,if=none,readonly=on" \
                -device virtio-blk-device,drive=layer0,serial=sup-layer-0 \
                -drive "id=sandbox,file=$TOP/$n.sandbox.img,format=raw,if=none" \
                -device virtio-blk-device,drive=sandbox,serial=sup-sandbox \
                -device virtio-rng-device \
                -device virtio-serial-device \
                -chardev "file,id=console,path=$TOP/$n.console" -device virtconsole,chardev=console \
                -chardev "pipe,id=agent,path=$TOP/$n.agent" -device virtserialport,chardev=agent,name=sup.agent "$@" &
        QEMU_PID=$!
        # Read-write opens of a FIFO never wait for the other end (should QEMU fail to start).
        exec 3<>"$TOP/$n.agent.in" 4<>"$TOP/$n.agent.out"
}

# with_rlimits SPEC: the spec as the monitor sends it to the guest, whose run command carries every
# resource limit resolved on the host (this shell's limits; nofile as a unit without rlimits gets
# it, 1024 soft and at most 524288 hard).
with_rlimits() {
        "$PY" -c '
import json, resource, sys
names = ["cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as", "locks",
         "sigpending", "msgqueue", "nice", "rtprio", "rttime"]
inf = resource.RLIM_INFINITY
def v(x):
    return "unlimited" if x == inf else x
spec = json.loads(sys.argv[1])
limits = {}
for i, n in enumerate(names):  # in the kernel'"'"'s order (RLIMIT_LOCKS has no name in Python)
    soft, hard = resource.getrlimit(i)
    if n == "nofile":
        hard = min(hard, 524288) if hard != inf else 524288
        soft = min(1024, hard)
    limits[n] = {"soft": v(soft), "hard": v(hard)}
spec["rlimits"] = limits
print(json.dumps(spec))' "$1"
}

# start_unit NAME SPEC [QEMU ARG...]: boots and has the guest run the unit; true once it is "started".
start_unit() {
        local n=$1 spec
        spec=$(with_rlimits "$2")
        shift 2
        boot "$n" "$@"
        expect hello || return 1
        T_HELLO=$(ms)
        echo "{\"cmd\":\"run\",\"spec\":$spec,$disks${run_network:+,\"network\":$run_network}}" >&3
        expect started || { sed 's/^/      kernel| /' "$TOP/$n.kernel"; return 1; }
}

# qmp SOCKET COMMAND...: QMP's capabilities negotiation, then each command, waiting for its reply
# (events in between are passed over); fails on an error reply. Prints when the last reply came,
# in microseconds since the epoch (as now_us).
qmp() {
        "$PY" - "$@" <<'EOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())  # the greeting
for cmd in ["qmp_capabilities"] + sys.argv[2:]:
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        msg = json.loads(f.readline())
        if "error" in msg:
            sys.exit("QMP %s: %s" % (cmd, msg["error"].get("desc")))
        if "return" in msg:
            break
print(time.time_ns() // 1000)
EOF
}

# expect EVENT [TIMEOUT]: reads agent messages until one with that event; it is left in $MSG.
expect() {
        local want=$1 timeout=${2:-60}
        while IFS= read -r -t "$timeout" -u 4 MSG; do
                case "$MSG" in
                *"\"event\":\"$want\""*) return 0 ;;
                *) echo "    agent: $MSG" ;;
                esac
        done
        fail "no \"$want\" event within ${timeout}s"
        return 1
}

# wait_console NAME TEXT: polls the console file (10 ms) until TEXT is in it; prints the time.
wait_console() {
        local text
        for _ in $(seq 3000); do
                text=
                IFS= read -r -d '' text 2>/dev/null <"$TOP/$1"
                [[ $text == *"$2"* ]] && { ms; return 0; }
                tick
        done
        return 1
}

# powered_off: QEMU ended by itself (the guest powered off) within 30 s.
powered_off() {
        for _ in $(seq 300); do
                kill -0 "$QEMU_PID" 2>/dev/null || { wait "$QEMU_PID"; QEMU_PID=; exec 3>&- 4<&-; return 0; }
                sleep 0.1
        done
        fail "the guest did not power off"
        kill "$QEMU_PID"
        wait "$QEMU_PID"
        QEMU_PID=
        exec 3>&- 4<&-
        return 1
}

disks='"layers":["/dev/vda"],"sandbox":"serial=sup-sandbox"'
run_network= # the run command's "network" object, if any

# boot_guest I: a guest running the greeter; records the agent's hello and the first output.
boot_guest() {
        local i=$1 t_out
        start_unit "hello$i" "$spec" || { powered_off; return; }
        t_out=$(wait_console "hello$i.console" "hello from the guest") || fail "no output on the console"
        expect exit && [ "$MSG" = '{"event":"exit","code":3}' ] || fail "expected exit code 3, got: $MSG"
        powered_off
        [ -n "$t_out" ] && GUEST_HELLO+=("$T_HELLO") GUEST_OUT+=("$t_out")
        echo "    sup guest $i: agent hello at ${T_HELLO} ms, first output at ${t_out} ms, powered off at $(ms) ms"
}

# boot_bare I: the same kernel and machine, no devices, a trivial /init that prints and powers off.
mkdir -p "$TOP/bare/bin"
cp /bin/busybox "$TOP/bare/bin/"
printf '#!/bin/busybox sh\n/bin/busybox echo BARE-INIT-UP\n/bin/busybox poweroff -f\n' >"$TOP/bare/init"
chmod +x "$TOP/bare/init"
(cd "$TOP/bare" && find . | cpio -o -H newc --quiet) >"$TOP/bare.cpio"
boot_bare() {
        local i=$1 t
        T0=$(now_us)
        qemu-system-x86_64 "${MACHINE[@]}" -kernel "$KERNEL" -initrd "$TOP/bare.cpio" -append "$CMDLINE" \
                -serial "file:$TOP/bare$i.kernel" &
        QEMU_PID=$!
        t=$(wait_console "bare$i.kernel" BARE-INIT-UP) || fail "the bare kernel printed nothing"
        powered_off
        [ -n "$t" ] && BARE_OUT+=("$t")
        echo "    bare kernel $i: first output at ${t} ms"
}

echo "case 1: a command that prints and exits 3, $RUNS boots, each beside a bare boot of the kernel"
spec=$(unit_json greeter 'echo hello from the guest; hostname; id; echo $GREETING >&2; exit 3')
for i in $(seq "$RUNS"); do
        boot_guest "$i"
        boot_bare "$i"
done
console=$(cat "$TOP/hello1.console" 2>/dev/null)
# stdout: the greeting, the host name (the unit's name by default), the user; stderr: $GREETING.
for line in "hello from the guest" "greeter" "uid=0(root) gid=0(root)" "hello"; do
        grep -qxF "$line" <<<"$console" || fail "the console lacks the line \"$line\": $console"
done

echo "case 2: stop a long-running command (sleep 1000) with SIGTERM and a 2 s timeout"
spec=$(unit_json sleeper 'exec sleep 1000')
if start_unit stop "$spec"; then
        # "started" is the exec of sh, which then execs sleep: ask until ps shows it.
        for _ in $(seq 50); do
                echo '{"cmd":"ps"}' >&3
                expect ps && [[ $MSG == *'"comm":"sleep","args":["sleep","1000"]'* ]] && break
                tick
        done
        [[ $MSG == *'"comm":"sleep"'* ]] || fail "ps does not show the sleep: $MSG"
        echo '{"cmd":"stop","signal":15,"timeout_ms":2000}' >&3
        t_stop=$(ms)
        expect exit 10 && [ "$MSG" = '{"event":"exit","signal":15}' ] || fail "expected exit by signal 15, got: $MSG"
        echo "    stopped $(($(ms) - t_stop)) ms after the stop command"
fi
powered_off

echo "case 3: a command that ignores SIGTERM is killed when the stop timeout is up"
spec=$(unit_json stubborn "trap '' TERM; echo ready; while :; do sleep 1; done")
if start_unit stubborn "$spec"; then
        wait_console stubborn.console ready >/dev/null || fail "no output from the stubborn command"
        echo '{"cmd":"stop","signal":15,"timeout_ms":1000}' >&3
        t_stop=$(ms)
        expect exit 10 && [ "$MSG" = '{"event":"exit","signal":9}' ] || fail "expected exit by signal 9, got: $MSG"
        waited=$(($(ms) - t_stop))
        # The timeout is the guest's, on its own clock, which under TCG may run a little fast
        # against the host's (979 ms once in CI): what this stops is a kill long before it.
        [ "$waited" -ge 950 ] || fail "killed after $waited ms, before the 1000 ms timeout"
        echo "    killed $waited ms after the stop command"
fi
powered_off

# power_button NAME: presses the guest's ACPI power button, as the host's stop ladder does after
# the agent's stop command. T_PRESS: when QEMU answered, having raised the ACPI event (ms since T0).
power_button() {
        local t
        t=$(qmp "$TOP/$1.qmp" system_powerdown) || fail "system_powerdown failed"
        T_PRESS=$(((${t:-$(now_us)} - T0) / 1000))
}

echo "case 4: the power button (QMP system_powerdown) stops the command with the unit's stop signal"
spec=$(unit_json powerdown 'exec sleep 1000')
if start_unit powerdown "$spec" -qmp "unix:$TOP/powerdown.qmp,server=on,wait=off"; then
        power_button powerdown
        expect exit 10 && [ "$MSG" = '{"event":"exit","signal":15}' ] || fail "expected exit by signal 15, got: $MSG"
        echo "    stopped $(($(ms) - T_PRESS)) ms after system_powerdown"
fi
powered_off

echo "case 5: after the power button, a command that ignores SIGTERM is killed when stop.timeout (1s) is up"
spec=$(unit_json stubborn2 "trap '' TERM; echo ready; while :; do sleep 1; done" 'stop: {timeout: 1s}')
if start_unit stubborn2 "$spec" -qmp "unix:$TOP/stubborn2.qmp,server=on,wait=off"; then
        wait_console stubborn2.console ready >/dev/null || fail "no output from the stubborn command"
        power_button stubborn2
        expect exit 10 && [ "$MSG" = '{"event":"exit","signal":9}' ] || fail "expected exit by signal 9, got: $MSG"
        waited=$(($(ms) - T_PRESS))
        [ "$waited" -ge 950 ] || fail "killed after $waited ms, before the 1000 ms timeout (the guest's clock, as above)"
        echo "    killed $waited ms after system_powerdown"
fi
powered_off

echo "case 6: what the workload sees: user, working_dir, environment, read-only root, tmpfs, /dev"
cat >"$TOP/probe.yaml" <<EOF
name: probe
isolation: hyperv
image: {layers: [{dir: $ROOT}]}
command: [/bin/sh, -c, 'id; pwd; echo "HOME=\$HOME PATH=\$PATH HOSTNAME=\$HOSTNAME TZ=\$TZ"; echo x >/x || echo root is read-only; echo y >/scratch/y && echo tmpfs is writable; ls /dev']
env: {TZ: UTC}
user: "nobody"
working_dir: /scratch
hostname: probe-host
network: none
mounts: [{type: tmpfs, target: /scratch, size: 1M}]
security: {read_only_rootfs: true, seccomp: unconfined}
EOF
spec=$(run_spec "$TOP/probe.yaml")
if start_unit probe "$spec"; then
        expect exit && [ "$MSG" = '{"event":"exit","code":0}' ] || fail "expected exit code 0, got: $MSG"
fi
powered_off
console=$(cat "$TOP/probe.console" 2>/dev/null)
for line in "uid=65534(nobody) gid=65534(nogroup)" "/scratch" \
        "HOME=/nonexistent PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOSTNAME=probe-host TZ=UTC" \
        "root is read-only" "tmpfs is writable" "null" "urandom" "pts" "shm" "mqueue"; do
        grep -qxF "$line" <<<"$console" || fail "the console lacks the line \"$line\": $console"
done

# network: bridge. The host's end of the guest's network card is a tap device of the test's own
# (the host runtime puts one on supd's bridge instead), in a /24 of 10.250.0.0/16 that the host
# routes nowhere else; creating the tap is what claims the number against a concurrent run.
for n in $(seq 20 250); do
        ip -4 route show match "10.250.$n.0/24" | grep -qv '^default' && continue
        ip tuntap add dev "suptap$n" mode tap 2>/dev/null && TAP=suptap$n && break
done
NET=10.250.$n NET_RE=10\\.250\\.$n MAC=$(printf '52:54:00:fa:%02x:02' "$n")

echo "case 7: network: bridge: eth0 from the run command's network object, a page fetched from the guest"
show="ip addr show; ip route show; ping -c 1 -W 5 $NET.1 >/dev/null && echo the gateway answers"
# busybox's ping opens a raw socket: NET_RAW is not in the default capability set.
spec=$(unit_json web "$show; echo ready; exec httpd -f -p 8080 -h /www" 'network: bridge
security: {seccomp: unconfined, capabilities: {add: [NET_RAW]}}')
run_network="{\"mac\":\"$MAC\",\"address\":\"$NET.2\",\"prefix\":24,\"gateway\":\"$NET.1\"}"
if [ -z "$TAP" ]; then
        fail "cannot create a tap device (ip tuntap add dev suptap$n mode tap)"
elif ! ip addr add "$NET.1/24" dev "$TAP" || ! ip link set "$TAP" up; then
        fail "cannot give $TAP the address $NET.1/24"
elif start_unit web "$spec" -netdev "tap,id=net0,ifname=$TAP,script=no,downscript=no" \
        -device "virtio-net-device,netdev=net0,mac=$MAC"; then
        t_started=$(ms)
        if wait_console web.console ready >/dev/null; then
                # "ready" comes just before httpd listens. Python's urllib, not busybox's wget
                # (static, it crashes in the host's name service lookup); no proxy.
                for _ in $(seq 50); do
                        page=$("$PY" -c 'import sys, urllib.request as u
print(u.build_opener(u.ProxyHandler({})).open(sys.argv[1], timeout=5).read().decode(), end="")' \
                                "http://$NET.2:8080/" 2>&1) && break
                        sleep 0.1
                done
                [ "$page" = "served from the guest over virtio-net" ] ||
                        fail "no page from the guest's httpd at http://$NET.2:8080/: $page"
                echo "    $TAP, $NET.2/24: page fetched $(($(ms) - t_started)) ms after \"started\""
        else
                fail "the workload did not get to httpd"
        fi
        echo '{"cmd":"stop","signal":15,"timeout_ms":2000}' >&3
        expect exit 10 && [ "$MSG" = '{"event":"exit","signal":15}' ] || fail "expected exit by signal 15, got: $MSG"
fi
powered_off
run_network=
console=$(cat "$TOP/web.console" 2>/dev/null)
# What busybox's ip prints of eth0, up with the card's MAC and the address, of the routes (the
# default one through the gateway), and of lo; no other interface.
for re in "^[0-9]+: eth0: <.*,UP[,>]" "link/ether $MAC " "inet $NET_RE\\.2/24 .*eth0\$" \
        "^default via $NET_RE\\.1 dev eth0" "^$NET_RE\\.0/24 dev eth0 .*src $NET_RE\\.2" "^the gateway answers\$" \
        "inet 127\\.0\\.0\\.1/8 .*lo\$"; do
        grep -qE "$re" <<<"$console" || fail "the console lacks a line like /$re/: $console"
done
[ "$(grep -cE '^[0-9]+: ' <<<"$console")" = 2 ] || fail "expected the interfaces lo and eth0: $console"

echo "case 8: without a network card, a unit with network: bridge fails to start"
if boot nocard && expect hello; then
        spec=$(with_rlimits "$spec")
        echo "{\"cmd\":\"run\",\"spec\":$spec,$disks,\"network\":{\"mac\":\"52:54:00:fa:00:99\",\"address\":\"$NET.2\",\"prefix\":24}}" >&3
        t_run=$(ms)
        # The card is the guest's one Ethernet card, whatever its MAC (a restored template's has
        # the template's): sup-init gives it the run's.
        expect error 40 && [[ $MSG == *'"network: no network card"'* ]] ||
                fail "expected an error event for the missing card, got: $MSG"
        echo "    error $(($(ms) - t_run)) ms after the run command"
fi
powered_off

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
if [ ${#GUEST_OUT[@]} -gt 0 ] && [ ${#BARE_OUT[@]} -gt 0 ]; then
        g=$(median "${GUEST_OUT[@]}") b=$(median "${BARE_OUT[@]}") h=$(median "${GUEST_HELLO[@]}")
        echo "boot to first output, median of $RUNS: sup guest $g ms (agent hello at $h ms); bare kernel to a trivial /init $b ms; difference $((g - b)) ms"
fi

[ "$FAILED" = 0 ] && echo "all cases passed"
exit "$FAILED"
