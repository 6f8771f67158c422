#!/bin/bash
# Resource limits on a real cgroup v2 kernel: these machines are v1 hybrid (their cgroup2 holds no
# controller), so the v2 backend is enforced here by nothing but a VM. Boots the hyperv guest
# kernel (Debian's cloud kernel, tools/guest-kernel.sh) in QEMU with TCG and an initramfs of its
# own (cgroup2-vm-initramfs.sh): the build's supd, sup-monitor, supctl and test-cgroup with their
# shared libraries, busybox, limits-probe, the kernel's modules, and cgroup2-vm-guest.sh, which
# mounts cgroup2 with memory, pids, cpu and io enabled and runs the cases (memory and OOM, swap
# off, pids, cpus, live reload, io.weight, escapes). The guest prints "RESULT NAME ok|FAIL|gap ..."
# lines on its serial console and powers off; this script fails on a FAIL, on a missing result, or
# when the guest overruns.
#   test-cgroup2-vm.sh SUPD SUPCTL SUP_MONITOR LIMITS_PROBE TEST_CGROUP
# Under the sanitizers (ASAN_OPTIONS set) the guest runs the sanitizer build's binaries, with their
# runtimes, and reports their findings as one more result.
#
# The guest kernel is only read: SUP_GUEST_DIR (default /var/lib/sup/guest), provisioned by
# tools/guest-kernel.sh when it has none. Exit 77 (skip) without root, QEMU or a guest kernel,
# unless SUP_TESTS_MUST_WORK=1 turns that into a failure. SUP_TESTS_STRICT_GAPS=1 fails on a gap.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") PROBE=$4 TEST_CGROUP=$(realpath "$5")
HERE=$(dirname "$(realpath "$0")")
TOOLS=$(cd "$HERE/../../tools" && pwd)
source "$HERE/lib.sh"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
# The guest's run, boot included (TCG, 2 vCPUs on 2 host CPUs: about a minute and a half).
GUEST_TIMEOUT=${SUP_CGROUP2_VM_TIMEOUT:-240}

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
command -v cpio >/dev/null || skip "needs cpio"
[ "$PROBE" != - ] || skip "no limits-probe in this build"
if [ ! -f "$GUEST/kernel/current/vmlinuz" ]; then
        "$TOOLS/guest-kernel.sh" "$GUEST" >/dev/null || skip "cannot provision the guest kernel"
fi
KDIR=$(realpath "$GUEST/kernel/current")
tsc_khz=$(host_tsc_khz) || skip "cannot tell the host's TSC frequency"

TOP=$(mktemp -d /tmp/supcg2.XXXXXX)
QEMU_PID=
cleanup() {
        [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
        if [ "${SUP_TEST_KEEP:-0}" = 1 ]; then echo "kept $TOP"; else rm -rf "$TOP"; fi
}
trap cleanup EXIT

# --- the initramfs ---
R=$TOP/root
busybox_layer "$R/layer"
cp "$(realpath "$PROBE")" "$R/layer/bin/limits-probe"
"$HERE/cgroup2-vm-initramfs.sh" "$R" "$TOP/initramfs.cpio" "$KDIR" "$HERE/cgroup2-vm-guest.sh" \
        "$SUPD" "$SUPCTL" "$MONITOR" "$TEST_CGROUP" || { echo "FAIL: the initramfs"; exit 1; }
# A swap disk: memory.swap.max 0 is only tested where there is swap to keep the workload off.
truncate -s 256M "$TOP/swap.img"
# An ext4 disk with the units' layer, for user_namespace: auto on this kernel: its idmapped mounts
# need a file system that has them, and the guest's tmpfs (6.1) does not.
mkdir -p "$TOP/ext"
cp -a "$R/layer" "$TOP/ext/layer"
mkfs.ext4 -q -L sup-ext -d "$TOP/ext" "$TOP/ext.img" 64M || { echo "FAIL: mkfs.ext4"; exit 1; }

asan=
[ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ] && asan=" sup.asan=1"
echo "    kernel $(basename "$KDIR"), initramfs $(($(stat -c %s "$TOP/initramfs.cpio") >> 20)) MiB;" \
        "microvm, TCG, 2 vCPUs, 1 GiB${asan:+, sanitizer build}"

T0=$SECONDS
qemu-system-x86_64 -M microvm -nodefaults -no-user-config -accel tcg,tb-size=256 -m 1G -smp 2 \
        -display none -no-reboot -kernel "$KDIR/vmlinuz" -initrd "$TOP/initramfs.cpio" \
        -append "console=ttyS0 quiet panic=-1 tsc_early_khz=$tsc_khz$asan" \
        -serial "file:$TOP/console" \
        -drive "id=swap,file=$TOP/swap.img,format=raw,if=none" -device virtio-blk-device,drive=swap \
        -drive "id=ext,file=$TOP/ext.img,format=raw,if=none" -device virtio-blk-device,drive=ext &
QEMU_PID=$!
timed_out=0
while kill -0 "$QEMU_PID" 2>/dev/null; do
        if [ $((SECONDS - T0)) -ge "$GUEST_TIMEOUT" ]; then
                timed_out=1
                kill "$QEMU_PID"
                break
        fi
        sleep 0.5
done
wait "$QEMU_PID" 2>/dev/null
QEMU_PID=
T1=$SECONDS

# --- the results ---
tr -d '\r' <"$TOP/console" >"$TOP/console.txt"
FAILED=0
fail() {
        printf '    FAIL: %s\n' "$*"
        FAILED=1
}
expected=(setup swap test-cgroup memory-oom swap-off pids cpus reload-live made-ahead reload-below-usage io-weight
        escape-default escape-sysadmin escape-sysadmin-no-nsdelegate escape-hostnet userns)
[ -n "$asan" ] && expected+=(sanitizer)
for name in "${expected[@]}"; do
        line=$(grep -m1 "^RESULT $name " "$TOP/console.txt")
        case "$line" in
        "RESULT $name ok"*) echo "    ok   $name:${line#RESULT $name ok}" ;;
        "RESULT $name gap"*)
                echo "    GAP  $name:${line#RESULT $name gap}"
                [ "${SUP_TESTS_STRICT_GAPS:-0}" = 1 ] && fail "$name: a gap (SUP_TESTS_STRICT_GAPS=1)"
                ;;
        "RESULT $name FAIL"*) fail "$name:${line#RESULT $name FAIL}" ;;
        *) fail "$name: no result" ;;
        esac
done
grep -q '^RESULT done' "$TOP/console.txt" || fail "the guest did not finish$([ $timed_out = 1 ] && echo " in ${GUEST_TIMEOUT}s")"
echo "    QEMU ran for $((T1 - T0)) s"
if [ $FAILED = 1 ]; then
        echo "    the guest's console:"
        sed 's/^/      | /' "$TOP/console.txt" | tail -n 150
        exit 1
fi
echo "${#expected[@]} results, none failed"
