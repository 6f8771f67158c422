#!/bin/bash
# The initramfs of a cgroup v2 guest (test-cgroup2-vm.sh; bench/start-latency-v2.sh):
#   cgroup2-vm-initramfs.sh ROOT OUT.cpio KDIR GUEST-SCRIPT BINARY...
# adds to the directory ROOT (which may already hold what the caller's guest needs, as a layer)
# busybox with every applet, the BINARYs in /sup with their shared libraries (the sanitizers'
# runtimes too) and the dynamic loader, at the paths ldd names, which are the loader's own search
# paths, the kernel's modules of KDIR (modules.list in load order) in /modules, GUEST-SCRIPT as
# /guest.sh with the /guest-lib.sh it sources first, and an /init that runs it; then writes
# ROOT as a newc cpio to OUT.cpio.
# The initramfs's root cannot be pivoted away from (pivot_root refuses a root mount without a
# parent), and every container pivots: /init copies ROOT onto a tmpfs and runs the guest script as
# PID 1 there.
set -euo pipefail

R=$1 OUT=$2 KDIR=$3 GUEST_SCRIPT=$4
shift 4
mkdir -p "$R"/{bin,sup,modules}
cp /bin/busybox "$R/bin/"
# Every applet a link to busybox, made by one process (an ln each is ~270 forks: seconds on a
# loaded host).
# shellcheck disable=SC2046 # the applets' names, one word each
/usr/bin/python3 -c 'import os, sys
for a in sys.argv[2:]:
        p = os.path.join(sys.argv[1], a)
        if a != "busybox" and not os.path.lexists(p):
                os.symlink("busybox", p)' "$R/bin" $(/bin/busybox --list)
cp "$@" "$R/sup/"
for lib in $(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u); do
        cp -L --parents "$lib" "$R/"
done
while read -r m; do cp "$KDIR/modules/$m" "$R/modules/"; done <"$KDIR/modules.list"
cp "$KDIR/modules.list" "$R/modules/"
cp "$GUEST_SCRIPT" "$R/guest.sh"
# What every guest script sources first: the API file systems supd, sup-monitor and crun need, its
# output on the console, and wait_for.
cat >"$R/guest-lib.sh" <<'LIB'
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
exec >/dev/console 2>&1
ln -sf /proc/self/fd /dev/fd
# wait_for SECONDS COMMAND...: polls until the command succeeds. No timing is measured: the
# deadlines are generous, for TCG.
wait_for() {
        local deadline=$(($(date +%s) + $1))
        shift
        until "$@"; do
                [ "$(date +%s)" -ge $deadline ] && return 1
                sleep 0.1
        done
}
LIB
cat >"$R/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /dev /newroot
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec >/dev/console 2>&1 </dev/console
/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot
for e in /*; do
        case $e in /dev | /newroot | /init) ;; *) /bin/busybox cp -a "$e" /newroot/ ;; esac
done
/bin/busybox mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run
exec /bin/busybox switch_root /newroot /bin/sh /guest.sh
INIT
chmod 755 "$R/init" "$R/guest.sh"
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$OUT"
