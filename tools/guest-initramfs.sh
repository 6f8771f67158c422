#!/bin/bash
# Builds the initramfs of hyperv guests: sup-init as /init, the modules tools/guest-kernel.sh kept
# and their load order. Rebuilt only when one of these changed.
#
#   tools/guest-initramfs.sh [STATE_DIR [SUP_INIT]]
#       STATE_DIR  default $SUP_GUEST_DIR, else /var/lib/sup/guest (run tools/guest-kernel.sh first)
#       SUP_INIT   the static sup-init binary; default $SUP_INIT, else the sup-init beside this
#                  script (meson install puts both in libexec/sup), else build/sup-init
#
# Result: STATE_DIR/kernel/VERSION/initramfs.cpio (newc, uncompressed: under TCG, the kernel
# unpacking a gzip archive costs more boot time than QEMU loading a few more MiB), with
#   /init                      sup-init, stripped
#   /lib/modules/*.ko          the modules
#   /lib/modules/modules.list  their load order
# and the path of the archive on stdout.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
state=${1:-${SUP_GUEST_DIR:-/var/lib/sup/guest}}
here=$(cd "$(dirname "$0")" && pwd)
default_init=$top/build/sup-init
[ -x "$here/sup-init" ] && default_init=$here/sup-init
init=${2:-${SUP_INIT:-$default_init}}

die() { printf 'guest-initramfs: %s\n' "$*" >&2; exit 1; }

kdir=$state/kernel/current
[ -f "$kdir/vmlinuz" ] || die "no guest kernel in $state: run tools/guest-kernel.sh $state"
[ -x "$init" ] || die "no sup-init at $init: build it (ninja -C build)"
command -v cpio >/dev/null || die "cpio is missing (apt-get install cpio)"
readelf -l "$init" 2>/dev/null | grep -q "Requesting program interpreter" &&
        die "$init is not statically linked (a sanitizer build?)"

kdir=$(cd "$kdir" && pwd -P)
out=$kdir/initramfs.cpio
# The inputs: sup-init, the module list and every module it names.
stamp=$( (sha256sum "$init" "$kdir/modules.list"; while read -r m; do sha256sum "$kdir/modules/$m"; done <"$kdir/modules.list") |
        awk '{print $1}' | sha256sum | awk '{print $1}')
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
        echo "$out"
        exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/lib/modules"
strip -o "$work/root/init" "$init" 2>/dev/null || cp "$init" "$work/root/init"
chmod 0755 "$work/root/init"
while read -r m; do cp "$kdir/modules/$m" "$work/root/lib/modules/"; done <"$kdir/modules.list"
cp "$kdir/modules.list" "$work/root/lib/modules/modules.list"
# Reproducible: sorted names, owner root, the same time stamps.
find "$work/root" -exec touch -h -d @0 {} +
(cd "$work/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) >"$work/initramfs.cpio"
mv "$work/initramfs.cpio" "$out"
echo "$stamp" >"$out.stamp"
echo "$out"
