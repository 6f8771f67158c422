#!/bin/bash
# What a process-isolated workload may do, seen from inside by sup-probe (tests/probe), as root:
#   test-security.sh SUPD SUPCTL SUP_MONITOR SUP_PROBE [SUP_INIT|-]
# Each case names the attack it stops. With SUP_INIT (and QEMU and a guest kernel), the
# capability case also runs in hyperv isolation, whose guest runs the same workload_exec().
# A host kernel without IA-32 emulation runs no int 0x80 at all: there the i386 check of PID 1 is
# left out (with a note), and made in the hyperv guest instead, where its kernel runs int 0x80.
# Exit 77 (skip) without root, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") PROBE=$(realpath "$4") SUP_INIT=${5:--}
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

supd_test_setup supsec

# busybox, a user app (1000:1000), the probe, and a setuid-root copy of it.
LAYER=$TOP/layer
busybox_layer "$LAYER"
mkdir -p "$LAYER/data"
app_user "$LAYER"
install -m 0755 "$PROBE" "$LAYER/bin/sup-probe"
install -m 4755 -o 0 -g 0 "$PROBE" "$LAYER/bin/sup-probe-setuid"

# Why hyperv cannot run here, or nothing (the guest kernel and initramfs are provisioned as
# test-hyperv.sh does).
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
hyperv_missing() {
        [ "$SUP_INIT" != - ] || { echo "no sup-init in this build"; return; }
        command -v qemu-system-x86_64 >/dev/null || { echo "no qemu-system-x86_64"; return; }
        command -v mkfs.ext4 >/dev/null || { echo "no mkfs.ext4"; return; }
        "$TOOLS/guest-kernel.sh" "$GUEST" >/dev/null 2>&1 || { echo "cannot provision the guest kernel"; return; }
        "$TOOLS/guest-initramfs.sh" "$GUEST" "$SUP_INIT" >/dev/null 2>&1 || echo "cannot build the initramfs"
}
missing=$(hyperv_missing)

# Whether the host kernel runs 32-bit system calls at all: an int 0x80 getpid, here on the host.
# Without IA-32 emulation (CONFIG_IA32_EMULATION off, or ia32_emulation=off) the CPU faults
# (SIGSEGV) before any system call begins: no way into the kernel, so nothing to check there.
HOST_I386=yes
if [ "$("$PROBE" syscall32 getpid)" = getpid/i386=SIGSEGV ]; then
        HOST_I386=no
        if [ -z "$missing" ]; then
                echo "NOTE: host kernel runs no 32-bit syscalls (IA-32 emulation off): the i386 check of ptrace is left out; the hyperv case makes it in its guest"
        else
                echo "NOTE: host kernel runs no 32-bit syscalls (IA-32 emulation off): the i386 check of ptrace is left out (and no hyperv guest here: $missing)"
        fi
fi

# The capability sets as /proc/self/status prints them. CAPS_DEFAULT in supervisor/runtime/caps.h:
# CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP.
DEFAULT_CAPS=00000000800405fb
NO_CAPS=0000000000000000
NET_BIND_SERVICE=0000000000000400
# Each must be absent from the default: bit numbers from linux/capability.h.
declare -A FORBIDDEN=([SYS_ADMIN]=21 [SYS_MODULE]=16 [SYS_PTRACE]=19 [NET_RAW]=13 [SYS_RAWIO]=17 [MKNOD]=27
        [AUDIT_WRITE]=29 [NET_ADMIN]=12 [DAC_READ_SEARCH]=2 [SYS_BOOT]=22 [BPF]=39 [PERFMON]=38)

# unit NAME YAML-REST: a unit on the layer that runs once (process isolation unless YAML-REST
# says otherwise).
unit() {
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - dir: $LAYER
network: none
stop: {timeout: 2s}
restart: {policy: "no"}
$2
UNIT
}

# probe NAME 'PROBE ARGS' [YAML-REST]: a unit that runs sup-probe with these arguments.
probe() {
        local args
        args=$(printf '"%s", ' $2)
        unit "$1" "command: [/bin/sup-probe, ${args%, }]
${3:-}"
}

# got UNIT KEY: the value the probe printed for KEY (empty if none).
got() { awk -v k="stdout $2=" '{ i = index($0, k) } i { v = substr($0, i + length(k)) } END { print v }' "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }

# expect UNIT KEY VALUE: fails the case unless the probe printed KEY=VALUE.
expect() {
        local v
        v=$(got "$1" "$2")
        [ "$v" = "$3" ] || fail "$1: $2=${v:-(nothing)}, expected $3"
}

# wait_exited UNIT...: each unit ran to its end (within WAIT seconds, 10 by default).
wait_exited() {
        for u in "$@"; do
                wait_for "${WAIT:-10}" state_is "$u" exited || fail "$u did not run to its end: $(field "$u" state) $(field "$u" reason)"
        done
}

has_bit() { (( (16#$1 >> $2) & 1 )); }

trap cleanup EXIT

CAP_KEYS="CapInh CapPrm CapEff CapBnd CapAmb"

# ---------------------------------------------------------------------------------------------

begin "default capabilities: a root workload holds only the short allow-list (no SYS_ADMIN, SYS_MODULE, SYS_PTRACE, NET_RAW, SYS_RAWIO, MKNOD), nothing inheritable or ambient, no_new_privs"
probe def "caps id syscall mount syscall unshare-mount syscall swapon syscall kexec_load mknod-block /dev/sup-blk mknod-block /sup-blk"
start_supd
wait_exited def
for k in CapBnd CapEff CapPrm; do expect def $k $DEFAULT_CAPS; done
expect def CapInh $NO_CAPS
expect def CapAmb $NO_CAPS
expect def NoNewPrivs 1
expect def uid 0,0,0
for name in "${!FORBIDDEN[@]}"; do
        has_bit "$(got def CapBnd)" "${FORBIDDEN[$name]}" && fail "the default bounding set holds $name"
done
# What SYS_ADMIN and SYS_BOOT would allow is refused by the capability checks (seccomp, when it
# comes, refuses some of these before the kernel looks at capabilities).
for s in mount unshare-mount swapon; do expect def $s EPERM; done
case "$(got def kexec_load)" in EPERM | ENOSYS) ;; *) fail "kexec_load: $(got def kexec_load)" ;; esac
# A block device node for a host disk, in the minimal /dev and in the root: CAP_MKNOD is not held.
expect def mknod-block:/dev/sup-blk EPERM
expect def mknod-block:/sup-blk EPERM
log "CapBnd=CapEff=CapPrm=$(got def CapBnd), mount=$(got def mount), mknod-block=$(got def mknod-block:/dev/sup-blk)"
end

begin "drop: [ALL] leaves a root workload no capability at all; drop: [ALL], add: [NET_BIND_SERVICE] only that one"
probe none "caps" "security: {capabilities: {drop: [ALL]}}"
probe one "caps" "security: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}"
probe more "caps" "security: {capabilities: {add: [SYS_PTRACE], drop: [CHOWN]}}"
start_supd
wait_exited none one more
for k in $CAP_KEYS; do expect none $k $NO_CAPS; done
for k in CapBnd CapEff CapPrm; do expect one $k $NET_BIND_SERVICE; done
expect one CapInh $NO_CAPS
expect one CapAmb $NO_CAPS
# add and drop are relative to the default: + SYS_PTRACE (bit 19), - CHOWN (bit 0).
more=$(printf '%016x' $(((16#$DEFAULT_CAPS | (1 << 19)) & ~1)))
for k in CapBnd CapEff CapPrm; do expect more $k "$more"; done
end

begin "a setuid-root binary run by uid 1000 gains nothing with no_new_privileges (the default), and at most the bounding set without it"
probe user "id caps" "user: \"1000:1000\""
unit suid "command: [/bin/sup-probe-setuid, id, caps]
user: \"1000:1000\""
unit suid-nnp-off "command: [/bin/sup-probe-setuid, id, caps]
user: \"1000:1000\"
security: {no_new_privileges: false}"
start_supd
wait_exited user suid suid-nnp-off
# A non-root workload: capabilities only in the bounding set, none it could use (as runc).
expect user uid 1000,1000,1000
expect user CapBnd $DEFAULT_CAPS
for k in CapInh CapPrm CapEff CapAmb; do expect user $k $NO_CAPS; done
expect user NoNewPrivs 1
# The setuid bit is ignored: still uid 1000 everywhere, nothing gained.
expect suid uid 1000,1000,1000
for k in CapInh CapPrm CapEff CapAmb; do expect suid $k $NO_CAPS; done
# Without no_new_privs the kernel honours the bit, but root gets only the bounding set.
expect suid-nnp-off NoNewPrivs 0
expect suid-nnp-off uid 1000,0,0
expect suid-nnp-off CapEff $DEFAULT_CAPS
expect suid-nnp-off CapBnd $DEFAULT_CAPS
log "setuid probe as 1000: uid=$(got suid uid) CapEff=$(got suid CapEff); without no_new_privs: uid=$(got suid-nnp-off uid) CapEff=$(got suid-nnp-off CapEff)"
end

begin "PID 1 (the monitor's fork) is not a way in: no ptrace, no /proc/1/mem, no fd of its taken, no write to /proc/1/exe (CVE-2019-5736)"
probe p1 "syscall ptrace-init syscall32 ptrace-init syscall pidfd_getfd-init syscall process_vm_readv-init open /proc/1/mem open /proc/1/environ exe-write"
probe p1-user "syscall ptrace-init open /proc/1/mem exe-write" "user: \"1000:1000\""
start_supd
wait_exited p1 p1-user
for u in p1 p1-user; do
        expect $u ptrace-init EPERM
        expect $u open:/proc/1/mem EACCES
        expect $u init.exe.write EACCES
        expect $u init.exe.reopen EACCES
        # The workload's own binary is in its image: busy while it runs, and a copy-up at most.
        [ "$(got $u self.exe.write)" = ok ] && fail "$u: /proc/self/exe opened for writing"
done
[ "$HOST_I386" = no ] || expect p1 ptrace-init/i386 EPERM
expect p1 pidfd_getfd-init EPERM
expect p1 process_vm_readv-init EPERM
expect p1 open:/proc/1/environ EACCES
log "ptrace-init=$(got p1 ptrace-init) /i386=$(got p1 ptrace-init/i386)$([ "$HOST_I386" = yes ] || echo " (left out: no int 0x80 here)") /proc/1/mem=$(got p1 open:/proc/1/mem) /proc/1/exe write=$(got p1 init.exe.write) reopen=$(got p1 init.exe.reopen) self=$(got p1 self.exe.write)"
end

begin "no host fd reaches the container (CVE-2024-21626): the workload holds 0, 1, 2; init only its exit pipe, which the workload cannot open; init's command line names no host path"
unit fds 'command: [/bin/sh, -c, "/bin/sup-probe fds cwd; echo init.cmdline=$(tr -d \\\\0 </proc/1/cmdline); exec sleep 1000"]'
probe fds-user "fds" "user: \"1000:1000\""
start_supd
wait_for 10 state_is fds running || fail "fds: $(field fds state) $(field fds reason)"
wait_exited fds-user
wait_for 5 grep -q 'stdout cwd.link=' "$CASE_DIR/state/logs/fds.log" || fail "the probe printed nothing"
expect fds self.fds 0,1,2
# init is a clone of the monitor, whose argv holds the host's run and state directories.
expect fds init.cmdline sup-init
expect fds-user self.fds 0,1,2
init_fds=$(got fds init.fds)
[[ $init_fds =~ ^[0-9]+$ ]] || fail "init holds fds $init_fds, expected one (its exit pipe)"
expect fds "init.fd.$init_fds" EACCES
# A non-root workload cannot even list them.
expect fds-user init.fds EACCES
# From the host: init holds one pipe, the command 0, 1, 2, and no directory of the host.
pid=$(field fds pid)
init_links=$(for f in /proc/"$pid"/fd/*; do readlink "$f"; done)
[ "$(wc -l <<<"$init_links")" = 1 ] && [[ $init_links == pipe:* ]] || fail "init's fds: $init_links"
cmd=$(pgrep -P "$pid" | head -1)
[ "$(ls /proc/"$cmd"/fd | sort -n | tr '\n' ,)" = 0,1,2, ] || fail "the command's fds: $(ls -l /proc/"$cmd"/fd)"
# init's command line is its name alone, not the name and the monitor's argument area zeroed:
# supctl top showed "sup-init" and a tail of ~200 empty arguments, ps a line of spaces.
[ "$(od -An -c /proc/"$pid"/cmdline | tr -s ' ')" = " s u p - i n i t \0" ] ||
        fail "init's /proc/PID/cmdline: $(od -An -c /proc/"$pid"/cmdline | head -3)"
init_args=$(ctl top fds --json | "$PY" -c '
import json, sys
print(json.dumps([p["args"] for p in json.load(sys.stdin)["processes"] if p["pid"] == int(sys.argv[1])]))' "$pid")
[ "$init_args" = '[["sup-init"]]' ] || fail "supctl top --json: init's args are $(head -c 300 <<<"$init_args")"
ctl top fds | grep -Eq "^ *$pid .* sup-init\$" || fail "supctl top: init's line: $(ctl top fds | grep -E "^ *$pid ")"
log "workload self.fds=$(got fds self.fds), init.fds=$init_fds ($init_links, $(got fds "init.fd.$init_fds") from inside)"
end

begin "cwd is inside the root (CVE-2024-21626): the working directory, and no /proc/self/fd/N to chdir out through"
probe cwd "cwd"
probe cwd-data "cwd" "working_dir: /data"
for n in 3 4 5 6 7 8; do
        probe "cwd-fd$n" "cwd" "working_dir: /proc/self/fd/$n"
done
start_supd
wait_exited cwd cwd-data
expect cwd cwd /
expect cwd cwd.link /
expect cwd-data cwd /data
for n in 3 4 5 6 7 8; do
        wait_for 10 eval '[ -n "$(field cwd-fd$n reason)" ] || state_is cwd-fd$n exited' || fail "cwd-fd$n: $(field cwd-fd$n state)"
        v=$(got "cwd-fd$n" cwd)
        case "$v" in
        "") case "$(field "cwd-fd$n" reason)" in *working_dir*) ;; *) fail "cwd-fd$n: $(field "cwd-fd$n" reason)" ;; esac ;;
        /*) ;; # a directory inside the container, whatever it is
        *) fail "cwd-fd$n: the workload's cwd is $v: outside the root" ;;
        esac
done
log "cwd=$(got cwd cwd); working_dir /proc/self/fd/4: $(field cwd-fd4 reason)"
end

if [ -n "$missing" ]; then
        [ "$SUP_INIT" != - ] && [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ] && { echo "FAIL (SUP_TESTS_MUST_WORK=1): hyperv: $missing"; FAILED=$((FAILED + 1)); }
        echo "--- hyperv: not run ($missing)"
else
        begin "hyperv: the guest's workload gets the same capabilities, no_new_privs and PID 1 as process isolation's (one workload_exec)"
        SUPD_ARGS=(--guest-dir "$GUEST")
        WHAT="caps id syscall ptrace-init syscall32 ptrace-init syscall32 getpid open /proc/1/mem"
        for mode in process hyperv; do
                probe "def-$mode" "$WHAT" "isolation: $mode"
                probe "one-$mode" "$WHAT" "isolation: $mode
user: \"1000:1000\"
security: {capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}"
        done
        start_supd
        WAIT=90 wait_exited def-hyperv one-hyperv def-process one-process
        # Everything but the seccomp lines, which the host's and the guest's kernels may word
        # differently, and the i386 ones unless both kernels run int 0x80.
        guest_i386=yes
        grep -q 'stdout getpid/i386=SIGSEGV' "$CASE_DIR/state/logs/def-hyperv.log" && guest_i386=no
        seen() {
                grep ' stdout ' "$CASE_DIR/state/logs/$1.log" | cut -d' ' -f3- | grep -v '^Seccomp' |
                        if [ "$HOST_I386$guest_i386" = yesyes ]; then cat; else grep -v '/i386='; fi
        }
        for u in def one; do
                diff <(seen "$u-process") <(seen "$u-hyperv") >"$CASE_DIR/$u.diff" ||
                        fail "$u: the modes differ: $(cat "$CASE_DIR/$u.diff")"
        done
        expect def-hyperv CapEff $DEFAULT_CAPS
        expect one-hyperv CapBnd $NET_BIND_SERVICE
        expect one-hyperv CapEff $NO_CAPS
        expect def-hyperv ptrace-init EPERM
        if [ "$guest_i386" = yes ]; then
                for u in def one; do expect $u-hyperv ptrace-init/i386 EPERM; done
        else
                log "the guest's kernel runs no 32-bit system calls either: ptrace-init/i386 is checked $([ "$HOST_I386" = yes ] && echo "on the host only" || echo nowhere here)"
        fi
        log "both modes: def CapBnd=$(got def-hyperv CapBnd) CapEff=$(got def-hyperv CapEff); one (uid 1000) CapBnd=$(got one-hyperv CapBnd) CapEff=$(got one-hyperv CapEff); ptrace-init=$(got def-hyperv ptrace-init) /i386=$(got def-hyperv ptrace-init/i386)"
        end
fi

finish
