#!/bin/bash
# Provisions the kernel of hyperv guests: Debian's linux-image-*-cloud-amd64 (the one apt sees as
# the candidate, i.e. Debian 12's on a Debian 12 host), fetched with `apt-get download` and unpacked
# with `dpkg-deb -x`, so the host's own /boot and /lib/modules are never touched. Keeps the kernel
# image and the modules the guest needs, with their dependencies, in load order.
#
#   tools/guest-kernel.sh [STATE_DIR]      (default $SUP_GUEST_DIR, else /var/lib/sup/guest)
#
# Result, in STATE_DIR:
#   cache/*.deb                  the downloaded packages
#   kernel/VERSION/vmlinuz       the kernel
#   kernel/VERSION/modules/*.ko  the modules the guest loads (none that the kernel has built in)
#   kernel/VERSION/modules.list  their file names, one a line, in load order
#   kernel/current -> VERSION
#
# Idempotent: a kernel already provisioned from the same package with the same module set is
# left alone. With no package lists (offline), the kernel provisioned last is kept.
#
# Environment: SUP_GUEST_KERNEL_PACKAGE (default linux-image-cloud-amd64; a metapackage or a
# versioned linux-image-* package), SUP_GUEST_MODULES (default below).
set -euo pipefail

state=${1:-${SUP_GUEST_DIR:-/var/lib/sup/guest}}
package=${SUP_GUEST_KERNEL_PACKAGE:-linux-image-cloud-amd64}
# What the guest needs, by module name: the virtio transports (PCI for q35, MMIO for microvm),
# block devices for the layer and sandbox disks, the console and agent ports (virtio-serial), the
# network, an entropy source (virtio-rng: without one, the workload's first read of /dev/random
# waits for the guest's pool, a second under TCG), the file systems of the root (overlay of erofs
# layer disks and an ext4 sandbox disk), and the ACPI power button with its evdev node (the host's
# QMP system_powerdown reaches sup-init as a KEY_POWER press on /dev/input/eventN), and virtiofs
# (with fuse, its dependency) for bind mounts of host directories (sup-init loads those two only
# for a run that has such mounts). Dependencies
# (virtio, virtio_ring, failover, erofs's libcrc32c, ... and whatever ext4 needs when it is a
# module) are added from modules.dep and modules.softdep; modules the kernel has built in are
# skipped, also when asked for by an alias a built-in module has (libcrc32c's softdep crc32c is
# the built-in crc32c_generic: modules.alias would give crc32c_intel, which needs SSE 4.2 and
# fails with ENODEV under TCG, and the guest stops at a module that fails to load). virtio_balloon
# is for free page reporting alone: the guest hands the RAM it frees back to the host (docs/hyperv.md).
# The module set is part of the stamp below: a guest directory provisioned with another set is redone.
modules=${SUP_GUEST_MODULES:-virtio_pci virtio_mmio virtio_blk virtio_console virtio_net virtio_rng virtio_balloon overlay ext4 erofs evdev button virtiofs}

log() { printf '%s\n' "guest-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

for tool in apt-get apt-cache dpkg-deb depmod; do
        command -v "$tool" >/dev/null || die "$tool is missing (apt-get install apt dpkg kmod)"
done

mkdir -p "$state/cache" "$state/kernel"
state=$(cd "$state" && pwd)

# The versioned package behind the metapackage: linux-image-cloud-amd64 depends on exactly one
# linux-image-VERSION-cloud-amd64. Empty when apt has no lists (offline, or never updated).
resolve_package() {
        local p=$1 dep
        case "$p" in
        linux-image-[0-9]*) echo "$p"; return 0 ;;
        esac
        dep=$(apt-cache show --no-all-versions "$p" 2>/dev/null |
                sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\).*/\1/p' | head -n1)
        echo "$dep"
}

pkg=$(resolve_package "$package")
if [ -z "$pkg" ]; then
        if [ -e "$state/kernel/current/vmlinuz" ]; then
                log "apt knows no $package (no package lists?); keeping $(readlink "$state/kernel/current")"
                exit 0
        fi
        die "apt knows no $package: run apt-get update"
fi
kver=${pkg#linux-image-}
out=$state/kernel/$kver
stamp="$pkg $(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -n1) | $modules"

if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -f "$out/vmlinuz" ]; then
        ln -sfn "$kver" "$state/kernel/current"
        exit 0
fi

version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
deb=$state/cache/${pkg}_${version//:/%3a}_amd64.deb
if [ ! -f "$deb" ]; then
        log "downloading $pkg"
        (cd "$state/cache" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >/dev/null) ||
                die "apt-get download $pkg failed"
        [ -f "$deb" ] || die "apt-get download left no $deb"
fi

work=$(mktemp -d "$state/kernel/.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "unpacking $(basename "$deb")"
dpkg-deb -x "$deb" "$work/root"
moddir=$work/root/lib/modules/$kver
[ -f "$work/root/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
[ -d "$moddir" ] || die "$deb has no lib/modules/$kver"
# The package ships no modules.dep (its postinst runs depmod on the host): make one in the tree.
depmod -b "$work/root" "$kver"

# Module names are spelled with _ or - interchangeably; compare them with _.
norm() { local n=${1##*/}; n=${n%%.ko*}; echo "${n//-/_}"; }

declare -A builtin=() builtin_alias=() path=() deps=() softpre=() alias_of=()
while read -r f; do builtin[$(norm "$f")]=1; done <"$moddir/modules.builtin"
# The aliases of built-in modules (NAME.alias=ALIAS; depmod keeps them only in a binary index).
[ -f "$moddir/modules.builtin.modinfo" ] && while IFS= read -r line; do
        [[ $line == *.alias=* ]] && builtin_alias[${line#*.alias=}]=$(norm "${line%%.alias=*}")
done < <(tr '\0' '\n' <"$moddir/modules.builtin.modinfo")
while IFS= read -r line; do
        f=${line%%:*}
        n=$(norm "$f")
        path[$n]=$f
        deps[$n]=${line#*:}
done <"$moddir/modules.dep"
# softdep NAME pre: A B post: C : the pre: modules are wanted before NAME (the kernel asks for them
# through modprobe, which the guest has not). Names there may be aliases (crc32c).
while read -r word n rest; do
        [ "$word" = softdep ] || continue
        [[ $rest == *pre:* ]] || continue
        pre=${rest#*pre:}
        softpre[$(norm "$n")]=${pre%%post:*}
done <"$moddir/modules.softdep"
while read -r word a n; do
        [ "$word" = alias ] && [ -z "${alias_of[$a]:-}" ] && alias_of[$a]=$(norm "$n")
done <"$moddir/modules.alias"

order=() # module names in load order
declare -A seen=()
add() {
        local n=$1 d i
        n=$(norm "$n")
        [ -n "${seen[$n]:-}" ] && return 0
        if [ -n "${builtin[$n]:-}" ]; then
                seen[$n]=1
                log "built in: $n"
                return 0
        fi
        if [ -z "${path[$n]:-}" ]; then
                if [ -n "${builtin_alias[$1]:-}" ]; then
                        seen[$n]=1
                        log "built in: $1 (${builtin_alias[$1]})"
                        return 0
                fi
                [ -n "${alias_of[$1]:-}" ] && { add "${alias_of[$1]}"; return; }
                die "module $1 is neither built into $kver nor one of its modules"
        fi
        seen[$n]=1
        for d in ${softpre[$n]:-}; do add "$d"; done
        # modules.dep lists every dependency, to be loaded right to left.
        local list=(${deps[$n]})
        for ((i = ${#list[@]} - 1; i >= 0; i--)); do add "${list[i]}"; done
        order+=("$n")
}
for m in $modules; do add "$m"; done

mkdir -p "$work/out/modules"
cp "$work/root/boot/vmlinuz-$kver" "$work/out/vmlinuz"
: >"$work/out/modules.list"
for n in "${order[@]}"; do
        f=${path[$n]}
        case "$f" in
        *.ko) ;;
        *) die "$f: compressed modules are not supported (the guest loads .ko files with finit_module)" ;;
        esac
        cp "$moddir/$f" "$work/out/modules/$n.ko"
        echo "$n.ko" >>"$work/out/modules.list"
done
echo "$stamp" >"$work/out/.stamp"

rm -rf "$out"
mv "$work/out" "$out"
ln -sfn "$kver" "$state/kernel/current"
log "$kver: vmlinuz and ${#order[@]} modules (${order[*]}) in $out"
