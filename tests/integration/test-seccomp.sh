#!/bin/bash
# seccomp end to end, as root: units with the default profile, unconfined, a profile file and a
# broken one, run by supd and their monitors with real namespaces; inside, a static probe
# (tests/probe/seccomp-test.c, built here) makes the calls and says what each returned:
#   test-seccomp.sh SUPD SUPCTL SUP_MONITOR SUP_INIT|-
# Each case names the attack it stops. The last one runs the probe in a hyperv guest too, where
# QEMU and a guest kernel are there (SUP_GUEST_DIR, as test-hyperv.sh), and expects the same.
# A host kernel without IA-32 emulation runs no int 0x80 at all: there the x86 expectations are
# left out (with a note), and the guest's, where its kernel runs them, are checked instead.
# Exit 77 (skip) without root, busybox or a static libc, unless SUP_TESTS_MUST_WORK=1.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") SUP_INIT=$4
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
HERE=$(dirname "$(realpath "$0")")
TOOLS=$HERE/../../tools
source "$HERE/lib.sh"
source "$HERE/case-supd.sh"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x /bin/busybox ] || skip "needs busybox-static (/bin/busybox)"
grep -q overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "no overlayfs"

TOP=$(mktemp -d /tmp/supsc.XXXXXX)
sanitizer_reports_to "$TOP"

# The image: busybox, a user 1000, and the probe, static and not position independent (int 0x80
# passes 32-bit pointers).
LAYER=$TOP/layer
busybox_layer "$LAYER"
chmod 1777 "$LAYER/tmp"
printf 'app:x:1000:1000:app:/tmp:/bin/sh\n' >>"$LAYER/etc/passwd"
printf 'app:x:1000:\n' >>"$LAYER/etc/group"
gcc -static -no-pie -O2 -o "$LAYER/bin/seccomp-test" "$HERE/../probe/seccomp-test.c" 2>"$TOP/gcc.log" ||
        skip "cannot build the static probe (gcc -static): $(head -3 "$TOP/gcc.log")"

# Why the hyperv case cannot run here, or nothing.
hyperv_missing() {
        command -v qemu-system-x86_64 >/dev/null || { echo "no qemu-system-x86_64"; return; }
        command -v mkfs.ext4 >/dev/null || { echo "no mkfs.ext4"; return; }
        "$TOOLS/guest-kernel.sh" "$GUEST" >/dev/null 2>&1 || echo "no guest kernel in $GUEST"
}
HYPERV_MISSING=$(hyperv_missing)

# Whether the host kernel runs 32-bit system calls at all: the probe's int 0x80 getpid, here on
# the host with no filter. A kernel without IA-32 emulation (CONFIG_IA32_EMULATION off, or
# ia32_emulation=off) takes no int 0x80: the CPU faults (SIGSEGV) before any system call begins,
# so no filter ever sees one and the filter's x86 arm is moot there. Only the x86 expectations
# are left out then; every x86_64 and x32 one stays, and the hyperv case checks the x86 ones in
# its guest, whose kernel may run them.
HOST_X86=yes
if [ "$("$LAYER/bin/seccomp-test" x86:getpid)" = "x86:getpid: signal 11" ]; then
        HOST_X86=no
        if [ -z "$HYPERV_MISSING" ]; then
                echo "NOTE: host kernel runs no 32-bit syscalls (IA-32 emulation off): the x86 ABI checks are left out; the filter's x86 arm is still checked in the hyperv guest (the last case)"
        else
                echo "NOTE: host kernel runs no 32-bit syscalls (IA-32 emulation off): the x86 ABI checks are left out; no hyperv guest here ($HYPERV_MISSING), so only the unit tests check the filter's x86 arm"
        fi
fi

fail() {
        printf '    FAIL: %s\n' "$*"
        if [ "$CASE_FAILED" = 0 ] && [ -n "${CASE_DIR:-}" ]; then
                [ -f "$CASE_DIR/supd.log" ] && sed 's/^/      supd| /' "$CASE_DIR/supd.log" | tail -8
        fi
        CASE_FAILED=1
}

trap cleanup EXIT

unit_log() { cat "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
logged() { grep -q -- "$2" "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
# What the probe printed (the unit's stdout lines, without the timestamps).
said() { sed -n 's/^[^ ]* stdout //p' "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
# expect UNIT "CALL: RESULT" WHY: the probe's line for CALL is exactly that.
expect() {
        local got
        got=$(said "$1" | grep -m1 -F "${2%%: *}: ") || got="${2%%: *}: (no line)"
        [ "$got" = "$2" ] || fail "$3: expected \"$2\", got \"$got\""
}
run_probe_unit() { # run_probe_unit NAME YAML-REST CALL...
        local name=$1 yaml=$2
        shift 2
        unit "$name" "command: [/bin/seccomp-test, status, $(echo "$*" | sed 's/ /, /g')]
restart: {policy: 'no'}
$yaml"
}

# The calls each case makes. DENIED: EPERM under the default profile on every ABI; then what each
# stops. The x86 (int 0x80) and x32 forms of the same calls must be denied just the same.
DENIED=(keyctl add_key request_key bpf mount umount2 pivot_root unshare-user unshare-mount clone-user setns
        perf_event_open userfaultfd io_uring_setup open_by_handle_at personality-page-zero)
OTHER_ABI=(keyctl add_key bpf mount unshare-user clone-user setns perf_event_open userfaultfd)
ALLOWED=(personality-query getpid mkdir ptrace)
CALLS=("${DENIED[@]}" clone3 "${ALLOWED[@]}")
for c in "${OTHER_ABI[@]}" clone3 getpid; do CALLS+=("x86:$c" "x32:$c"); done

declare -A WHY=(
        [keyctl]="the kernel keyring is not namespaced: the host's and other containers' keys"
        [add_key]="the kernel keyring is not namespaced"
        [request_key]="the kernel keyring is not namespaced"
        [bpf]="eBPF programs: kernel attack surface and kernel memory reads"
        [mount]="mount after setup: remounting, or mounting over the container's protections"
        [umount2]="unmounting masked paths after setup"
        [pivot_root]="changing the root after setup"
        [unshare-user]="unshare -U: a user namespace's full capabilities over new namespaces, the start of most recent kernel LPEs"
        [unshare-mount]="new mount namespaces (CAP_SYS_ADMIN's business)"
        [clone-user]="clone(CLONE_NEWUSER): the same escape through clone"
        [setns]="joining other namespaces"
        [perf_event_open]="perf events: kernel address leaks and side channels"
        [userfaultfd]="userfaultfd: stalling the kernel on a page fault, to win kernel races"
        [io_uring_setup]="io_uring: a large share of recent kernel exploits"
        [open_by_handle_at]="open_by_handle_at: the \"shocker\" escape, opening host files by handle"
        [personality-page-zero]="personality(MMAP_PAGE_ZERO): a mapped NULL page for kernel NULL dereferences"
)

# expect_x86 UNIT: the default profile's verdicts through int 0x80, for a kernel that runs them.
expect_x86() {
        local c
        for c in "${OTHER_ABI[@]}"; do
                expect "$1" "x86:$c: EPERM" "int 0x80 is no way around the filter: ${WHY[$c]}"
        done
        expect "$1" "x86:clone3: ENOSYS" "clone3's flags are out of seccomp's reach through int 0x80 too"
        expect "$1" "x86:getpid: ok" "32-bit programs run"
}

# ---------------------------------------------------------------------------------------------

begin "default profile: keyring, bpf, mount, user namespaces, perf, userfaultfd... denied (EPERM) on x86_64, int 0x80 and x32; clone3 ENOSYS"
run_probe_unit dflt "" "${CALLS[@]}"
start_supd
wait_for 10 state_is dflt exited || fail "dflt did not run: $(field dflt state) $(field dflt reason)"
expect dflt "Seccomp: 2" "the filter is loaded (mode 2)"
expect dflt "NoNewPrivs: 1" "no_new_privileges (the default) is set"
for c in "${DENIED[@]}"; do expect dflt "$c: EPERM" "${WHY[$c]}"; done
for c in "${OTHER_ABI[@]}"; do
        expect dflt "x32:$c: EPERM" "the x32 ABI is no way around the filter: ${WHY[$c]}"
done
for c in clone3 x32:clone3; do
        expect dflt "$c: ENOSYS" "clone3's flags are out of seccomp's reach: ENOSYS, so that libcs fall back to clone"
done
if [ "$HOST_X86" = yes ]; then
        expect_x86 dflt
else
        log "x86 (int 0x80) left out: the host kernel runs no 32-bit system calls"
fi
expect dflt "personality-query: ok" "personality(0xffffffff) only asks"
expect dflt "getpid: ok" "the rest is allowed"
expect dflt "mkdir: ok" "the rest is allowed"
expect dflt "ptrace: ok" "ptrace is left to capabilities (docs/security.md)"
log "$(said dflt | grep -c ': EPERM') calls denied, e.g. $(said dflt | grep -m1 "^$([ "$HOST_X86" = yes ] && echo x86 || echo x32):unshare-user")"
# The default profile for the default capabilities is made once, in supd's monitor zygote before
# its first monitor (compiled there into the cache directory, which was empty), and every monitor
# forked from it takes that program: the log says so.
logged dflt "seccomp: the default seccomp profile, [0-9]* BPF instructions made ahead by the monitor zygote" ||
        fail "the monitor did not log where its filter came from: $(unit_log dflt | grep seccomp)"
ls "$CASE_DIR"/state/seccomp/*.bpf >/dev/null 2>&1 || fail "the zygote's compile is not in the cache directory"
end

begin "unconfined: no filter; the same calls reach the kernel, which answers otherwise (so the EPERMs above are the filter's)"
# Every capability, so that the kernel's own checks pass where they would (once the capabilities
# work drops them by default, as it will, this keeps the comparison about seccomp alone).
run_probe_unit free "security: {seccomp: unconfined, capabilities: {add: [ALL]}}" "${CALLS[@]}"
start_supd
wait_for 10 state_is free exited || fail "free did not run: $(field free state) $(field free reason)"
expect free "Seccomp: 0" "no filter"
for c in "${CALLS[@]}"; do
        line=$(said free | grep -m1 -F "$c: ")
        case "$line" in
        "") fail "$c: no line" ;;
        *": EPERM") fail "unconfined: $line (the kernel's own EPERM would make the default case prove nothing)" ;;
        esac
done
expect free "x32:keyctl: ENOSYS" "this kernel has no x32: what the filter answers as EPERM, the kernel answers ENOSYS"
expect free "clone3: EINVAL" "without the filter clone3 reaches the kernel"
log "e.g. $(said free | grep -m1 '^keyctl'), $(said free | grep -m1 '^bpf'), $(said free | grep -m1 '^x86:mount')"
logged free "seccomp:" && fail "an unconfined unit logged a seccomp filter"
end

begin "no_new_privileges: false and a user of its own: the filter is loaded before the user changes (a setuid binary cannot shed it)"
run_probe_unit nonnp "user: \"1000\"
security: {no_new_privileges: false}" keyctl x86:keyctl unshare-user getpid
start_supd
wait_for 10 state_is nonnp exited || fail "nonnp did not run: $(field nonnp state) $(field nonnp reason)"
expect nonnp "NoNewPrivs: 0" "no_new_privileges: false"
expect nonnp "Seccomp: 2" "the filter is there without no_new_privs"
expect nonnp "keyctl: EPERM" "${WHY[keyctl]}"
[ "$HOST_X86" = no ] || expect nonnp "x86:keyctl: EPERM" "${WHY[keyctl]}"
expect nonnp "unshare-user: EPERM" "${WHY[unshare-user]}"
end

begin "busybox's own applets: unshare -U and mount are refused"
unit tools "command: [/bin/sh, -c, 'unshare -U true; echo unshare=\$?; mount -t tmpfs none /mnt; echo mount=\$?; mkdir /tmp/d && echo mkdir ok']
restart: {policy: 'no'}"
start_supd
wait_for 10 state_is tools exited || fail "tools did not run: $(field tools state)"
logged tools "stderr unshare: unshare(0x10000000): Operation not permitted" || fail "unshare -U: $(unit_log tools | grep unshare)"
logged tools "stdout unshare=1" || fail "unshare -U did not fail"
logged tools "stderr mount: permission denied" || fail "mount: $(unit_log tools | grep mount)"
logged tools "stdout mkdir ok" || fail "mkdir does not work under the default profile"
end

begin "a profile file (OCI JSON): mkdir denied with errnoRet 1; x86 left out of it, so int 0x80 kills the process"
cat >"$CASE_DIR/no-mkdir.json" <<'JSON'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "comment": "no new directories"}
  ]
}
JSON
run_probe_unit custom "security: {seccomp: $CASE_DIR/no-mkdir.json}" mkdir keyctl getpid x86:getpid x32:getpid
start_supd
wait_for 10 state_is custom exited || fail "custom did not run: $(field custom state) $(field custom reason)"
expect custom "Seccomp: 2" "the profile's filter is loaded"
expect custom "mkdir: EPERM" "the profile's rule (errnoRet 1)"
expect custom "keyctl: ok" "what the profile does not name is allowed (its defaultAction)"
expect custom "getpid: ok" "its defaultAction"
# (Without IA-32 emulation the CPU faults first: SIGSEGV, no call; the unit tests check the verdict.)
[ "$HOST_X86" = no ] || expect custom "x86:getpid: signal 31" "an ABI the profile does not list is killed (SIGSYS), never let through"
expect custom "x32:getpid: signal 31" "an ABI the profile does not list is killed (SIGSYS), never let through"
logged custom "seccomp: $CASE_DIR/no-mkdir.json compiled to" || fail "custom: $(unit_log custom | grep seccomp)"
# A second unit with the profile, once the first has compiled it: from the cache. (Monitors that
# start at the same moment may both compile it: the same program, written twice.)
unit bbmkdir "command: [/bin/sh, -c, 'mkdir /tmp/d; echo mkdir=\$?']
restart: {policy: 'no'}
security: {seccomp: $CASE_DIR/no-mkdir.json}"
ctl reload >/dev/null
wait_for 10 state_is bbmkdir exited || fail "bbmkdir did not run"
logged bbmkdir "stderr mkdir: can't create directory '/tmp/d': Operation not permitted" ||
        fail "busybox mkdir: $(unit_log bbmkdir | grep mkdir)"
logged bbmkdir "seccomp: $CASE_DIR/no-mkdir.json, [0-9]* BPF instructions from the cache" ||
        fail "bbmkdir: $(unit_log bbmkdir | grep seccomp)"
end

begin "a broken profile is an error of its unit: the reload is refused whole, at the seccomp value, naming the rule; nothing changes"
echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}' >"$CASE_DIR/good.json"
unit keep "command: [/bin/sh, -c, 'exec sleep 1000']
security: {seccomp: $CASE_DIR/good.json}"
start_supd
wait_for 10 state_is keep running || fail "keep is not running: $(field keep state)"
pid=$(field keep pid)
cat >"$CASE_DIR/bad-action.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EPERM"}]}
JSON
unit bad "command: [/bin/sh, -c, 'echo it ran']
security: {seccomp: $CASE_DIR/bad-action.json}"
out=$(ctl reload 2>&1) && fail "the reload was accepted: $out"
echo "$out" | grep -q "bad.yaml:[0-9]*:[0-9]*: error: security.seccomp: $CASE_DIR/bad-action.json: syscalls\[0\] (mkdir): action: unknown action \"SCMP_ACT_EPERM\"" ||
        fail "reload: $out"
out=$("$SUPCTL" validate "$CASE_DIR/units" 2>&1) && fail "validate accepted it: $out"
echo "$out" | grep -q "error: security.seccomp: $CASE_DIR/bad-action.json: syscalls\[0\]" || fail "validate: $out"
[ "$(field keep pid)" = "$pid" ] && state_is keep running || fail "keep changed: $(field keep state) $(field keep pid)"
[ -z "$(field bad state)" ] || fail "bad was taken in: $(field bad state)"
log "$(echo "$out" | head -1)"
end

begin "a profile broken after the reload fails the unit at start with a reason naming the file and the rule; nothing runs unfiltered"
for u in bad-action not-json bad-hyperv; do echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}' >"$CASE_DIR/$u.json"; done
for u in bad-action not-json; do
        unit "$u" "command: [/bin/sh, -c, 'echo it ran; exec sleep 1000']
restart: {policy: 'no'}
security: {seccomp: $CASE_DIR/$u.json}"
done
unit bad-hyperv "isolation: hyperv
command: [/bin/sh, -c, 'echo it ran; exec sleep 1000']
restart: {policy: 'no'}
security: {seccomp: $CASE_DIR/bad-hyperv.json}"
start_supd
for u in bad-action not-json bad-hyperv; do
        wait_for 60 logged "$u" "stdout it ran" || fail "$u did not run with its good profile: $(field "$u" state) $(field "$u" reason)"
done
# Edited behind supd's back; the next start reads the file again.
echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EPERM"}]}' |
        tee "$CASE_DIR/bad-action.json" >"$CASE_DIR/bad-hyperv.json"
echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [' >"$CASE_DIR/not-json.json"
for u in bad-action not-json bad-hyperv; do ctl restart "$u" >/dev/null 2>&1; done
for u in bad-action not-json bad-hyperv; do
        wait_for 30 state_is "$u" failed || fail "$u: state $(field "$u" state)"
        [ "$(unit_log "$u" | grep -c "stdout it ran")" = 1 ] || fail "$u: the command ran again"
done
reason=$(field bad-action reason)
[ "$reason" = "seccomp: $CASE_DIR/bad-action.json: syscalls[0] (mkdir): action: unknown action \"SCMP_ACT_EPERM\"" ] ||
        fail "bad-action: reason \"$reason\""
log "bad action: $reason"
reason=$(field not-json reason)
[[ $reason == "seccomp: $CASE_DIR/not-json.json: not a JSON profile: line "* ]] || fail "not-json: reason \"$reason\""
log "not JSON: $reason"
[ "$(field bad-hyperv reason)" = "seccomp: $CASE_DIR/bad-hyperv.json: syscalls[0] (mkdir): action: unknown action \"SCMP_ACT_EPERM\"" ] ||
        fail "hyperv: reason \"$(field bad-hyperv reason)\""
end

begin "the filter is made once: the zygote makes the default one for every monitor, restarts reuse theirs, other capabilities get their own"
# one alone at first: supd's first spawn, forked by the zygote (which takes one request at a
# time until it has answered; a spawn meanwhile is executed and finds the disk cache).
unit one "command: [/bin/sh, -c, 'exec sleep 1000']"
start_supd
wait_for 10 state_is one running || fail "one is not running: $(field one state)"
for i in 1 2; do
        pid=$(field one pid)
        ctl restart one >/dev/null
        wait_for 10 eval '[ "$(field one pid)" != "$pid" ] && state_is one running' || fail "restart $i"
done
# The default profile: made ahead by the zygote, taken once, then the monitor's own copy.
made=$(grep -c 'seccomp: .* made ahead by the monitor zygote' "$CASE_DIR/state/logs/one.log")
[ "$made" = 1 ] || fail "one: $made programs made ahead taken over three starts, expected 1: $(unit_log one | grep seccomp)"
logged one "compiled to" && fail "one: a monitor compiled the default profile the zygote had made"
logged one "from the cache" && fail "one: a restart went to the disk cache, not the monitor's own copy"
unit two "command: [/bin/sh, -c, 'exec sleep 1000']"
run_probe_unit admin "security: {capabilities: {add: [SYS_ADMIN]}}" mount keyctl unshare-user
ctl reload >/dev/null
wait_for 10 state_is two running || fail "two is not running: $(field two state)"
logged two "seccomp: the default seccomp profile, [0-9]* BPF instructions made ahead by the monitor zygote" ||
        fail "two: $(unit_log two | grep seccomp)"
logged two "compiled to" && fail "two compiled the default profile again"
wait_for 10 state_is admin exited || fail "admin did not run"
logged admin "compiled to" || fail "admin (CAP_SYS_ADMIN) did not get a filter of its own"
expect admin "mount: ENOENT" "a unit that keeps CAP_SYS_ADMIN may mount (the kernel checks the capability)"
expect admin "keyctl: EPERM" "no capability opens the keyring"
expect admin "unshare-user: EPERM" "no capability opens user namespaces"
n=$(ls "$CASE_DIR/state/seccomp" | grep -c '\.bpf$')
[ "$n" = 2 ] || fail "$n programs in the cache, expected 2 (default, default with CAP_SYS_ADMIN)"
log "$(grep -h -o 'seccomp: .*' "$CASE_DIR"/state/logs/{one,two,admin}.log | sort | uniq -c | sed 's/^ *//' | tr '\n' ';')"
end

begin "hyperv: the guest loads the host's filter, and the probe sees what it sees in process isolation"
if [ -n "$HYPERV_MISSING" ]; then
        log "skipped: $HYPERV_MISSING"
        [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ] && fail "SUP_TESTS_MUST_WORK=1 and $HYPERV_MISSING"
elif [ "$SUP_INIT" != - ] && ! "$TOOLS/guest-initramfs.sh" "$GUEST" "$SUP_INIT" >/dev/null; then
        fail "cannot build the initramfs"
else
        # x32:getpid says what the kernel has (x32 or not), not what the filter does.
        same=()
        for c in "${CALLS[@]}"; do [ "$c" = x32:getpid ] || same+=("$c"); done
        for mode in process hyperv; do
                run_probe_unit "p-$mode" "isolation: $mode" "${same[@]}"
        done
        SUPD_ARGS=(--guest-dir "$GUEST")
        start_supd
        SUPD_ARGS=()
        wait_for 90 state_is p-hyperv exited || fail "p-hyperv: $(field p-hyperv state) $(field p-hyperv reason)"
        wait_for 10 state_is p-process exited || fail "p-process: $(field p-process state)"
        said p-process >"$CASE_DIR/process.out"
        said p-hyperv >"$CASE_DIR/hyperv.out"
        grep -q "Seccomp:.*2" "$CASE_DIR/hyperv.out" || fail "no filter in the guest: $(head -3 "$CASE_DIR/hyperv.out")"
        # The guest's kernel runs int 0x80 unless its getpid faulted (a filter's kill is SIGSYS).
        guest_x86=yes
        grep -qx "x86:getpid: signal 11" "$CASE_DIR/hyperv.out" && guest_x86=no
        # The lines both kernels run: the x86 ones only where both take int 0x80.
        both() { if [ "$HOST_X86$guest_x86" = yesyes ]; then cat "$1"; else grep -v '^x86:' "$1"; fi; }
        diff <(both "$CASE_DIR/process.out") <(both "$CASE_DIR/hyperv.out") >"$CASE_DIR/diff" ||
                fail "the guest's workload saw otherwise: $(cat "$CASE_DIR/diff")"
        log "both modes: $(both "$CASE_DIR/hyperv.out" | wc -l) identical lines, $(both "$CASE_DIR/hyperv.out" | grep -c EPERM) EPERM"
        # What the host would have had to answer through int 0x80, checked where a kernel runs it.
        if [ "$guest_x86" = yes ]; then
                expect_x86 p-hyperv
                [ "$HOST_X86" = yes ] || log "the filter's x86 arm, checked in the guest: $(grep -c '^x86:.*EPERM' "$CASE_DIR/hyperv.out") int 0x80 calls denied, e.g. $(grep -m1 '^x86:unshare-user' "$CASE_DIR/hyperv.out")"
        else
                log "the guest's kernel runs no 32-bit system calls either: $([ "$HOST_X86" = yes ] && echo "the host checked the x86 arm" || echo "no kernel here checked the x86 arm, only the unit tests")"
        fi
fi
end

finish
