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
#   kernel/VERSION/vmlinux       the same kernel uncompressed (the ELF inside vmlinuz), for a PVH
#                                boot; absent when the kernel has no PVH entry point or the
#                                decompressor is missing (sup then boots vmlinuz)
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

# extract_pvh DIR: DIR/vmlinux from DIR/vmlinuz, if that kernel has a PVH entry point. QEMU 7.2
# keeps a -kernel bzImage in an anonymous buffer for the machine's lifetime (fw_cfg serves it to the
# firmware at boot: 14 MiB of QEMU's private memory for Debian's cloud kernel); an ELF with a PVH
# entry it maps from the file instead (clean page-cache pages, shared by every QEMU that boots it),
# loads its segments straight into guest RAM, and the guest does not decompress itself (about
# 40 MiB less guest RAM touched by the boot). bench/README.md, "vmmem3".
extract_pvh() {
        local dir=$1 tmp hdr off len magic
        tmp=$(mktemp "$dir/.vmlinux.XXXXXX")
        # The boot protocol's header: setup_sects at 0x1f1, payload_offset and payload_length at
        # 0x248 (from the end of the setup code); the payload is the compressed ELF.
        hdr=$(od -A n -t u4 -j 584 -N 8 "$dir/vmlinuz") || { rm -f "$tmp"; return 0; }
        read -r off len <<<"$hdr"
        off=$((($(od -A n -t u1 -j 497 -N 1 "$dir/vmlinuz") + 1) * 512 + off))
        magic=$(od -A n -t x1 -j "$off" -N 6 "$dir/vmlinuz" | tr -d ' ')
        local unpack
        case $magic in
        02214c18*) unpack="lz4 -dc" ;;
        1f8b*) unpack="gzip -dc" ;;
        fd377a585a00) unpack="xz -dc" ;;
        28b52ffd*) unpack="zstd -dcq" ;;
        *) log "vmlinuz's payload is compressed in a way not known here ($magic): no PVH boot"; rm -f "$tmp"; return 0 ;;
        esac
        if ! command -v "${unpack%% *}" >/dev/null; then
                log "${unpack%% *} is missing: no PVH boot (the guest boots vmlinuz); tried again once it is installed"
                rm -f "$tmp"
                return 1
        fi
        # The decompressors' exit status says nothing here: the kernel's build appends the
        # uncompressed size to the payload, which lz4 and gzip take for a truncated next frame.
        # What counts is an ELF whose loaded segments are all in the file. (The relocations of a
        # relocatable kernel follow the ELF: an ELF loader ignores them.) XEN_ELFNOTE_PHYS32_ENTRY
        # (18) is the PVH entry point.
        dd if="$dir/vmlinuz" iflag=skip_bytes,count_bytes skip="$off" count="$len" bs=1M status=none |
                $unpack >"$tmp" 2>/dev/null || true
        local type o filesz rest loads=0 size
        size=$(stat -c %s "$tmp")
        while read -r type o _ _ filesz rest; do
                [ "$type" = LOAD ] || continue
                loads=$((o + filesz <= size ? loads + 1 : -1000))
        done < <(readelf -lW "$tmp" 2>/dev/null)
        if [ "$loads" -gt 0 ] && readelf -nW "$tmp" 2>/dev/null | grep -Eq '0x00000012|PHYS32_ENTRY'; then
                chmod 0644 "$tmp"
                mv "$tmp" "$dir/vmlinux"
        else
                log "no complete ELF with a PVH entry point in $dir/vmlinuz: the guest boots vmlinuz"
                rm -f "$tmp"
        fi
}

# ensure_pvh DIR: extract_pvh once (also in a directory provisioned before the PVH boot); .no-pvh
# says it was tried and the kernel has no usable ELF (not written while a decompressor is missing).
ensure_pvh() {
        [ -f "$1/vmlinux" ] || [ -f "$1/.no-pvh" ] && return 0
        if extract_pvh "$1" && [ ! -f "$1/vmlinux" ]; then
                : >"$1/.no-pvh"
        fi
        return 0
}

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
                ensure_pvh "$(cd "$state/kernel/current" && pwd -P)"
                exit 0
        fi
        die "apt knows no $package: run apt-get update"
fi
kver=${pkg#linux-image-}
out=$state/kernel/$kver
stamp="$pkg $(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -n1) | $modules"

if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -f "$out/vmlinuz" ]; then
        ensure_pvh "$out"
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
ensure_pvh "$work/out"
echo "$stamp" >"$work/out/.stamp"

rm -rf "$out"
mv "$work/out" "$out"
ln -sfn "$kver" "$state/kernel/current"
log "$kver: vmlinuz and ${#order[@]} modules (${order[*]}) in $out"
