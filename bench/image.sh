#!/bin/bash
# OCI images: the disk format of a hyperv guest's read-only layer disks (ext4 or erofs), and sup's
# image store against its peers, in the same run, interleaved.
#
#   bench/image.sh [RUNS]      (as root; RUNS default 5, or SUP_BENCH_IMAGE_RUNS)
#
# The images (built once, kept in SUP_BENCH_IMAGE_CACHE, default /var/tmp/sup-bench-images):
#   busybox    examples/images/busybox (examples/build-images.sh) as an OCI layout, one layer (umoci)
#   debian     a Debian 12 root file system in three layers (umoci): 1. `mmdebstrap --variant=minbase`,
#              2. the same with python3, perl, curl and ca-certificates (a second mmdebstrap; umoci
#              repack keeps what changed and whites out what went), 3. a layer added with
#              `umoci raw add-layer` from a tar with a whiteout (usr/share/doc/.wh.perl) and an opaque
#              directory (etc/apt/apt.conf.d/.wh..wh..opq)
# Each layer is unpacked as overlayfs stacks it (image-lib.py layer-tree: whiteouts as character
# devices 0:0, opaque directories with trusted.overlay.opaque=y).
#
# 1. The layer disk formats: each layer's tree as ext4 (mkfs.ext4 -d with the flags and size of
#    supervisor/image/layer-disk.c before it moved to erofs), erofs uncompressed and erofs lz4 (mkfs.erofs from erofs-utils):
#      build        mkfs and an fsync of the disk file, RUNS rounds, shuffled in each round
#      size         the disk file's allocated blocks and its length
#      kept         the disk mounted on the host (a read-only loop device) has the tree's manifest:
#                   every path, type, mode, owner, device number, size, link target, content and
#                   trusted.overlay.* xattr (image-lib.py manifest)
#      host         mount, walk (readdir + lstat of every entry), read (every file to its end) on
#                   the host, a fresh loop device each round: a proxy (the disk file is in the host's
#                   page cache, as it is for a guest whose disk QEMU reads)
#      guest        the same in a guest: the kernel of SUP_GUEST_DIR with sup's modules and erofs
#                   (tools/guest-kernel.sh in a copy under the cache with SUP_GUEST_MODULES + erofs),
#                   booted by bare QEMU with sup's machine options (microvm, TCG, 256 MiB, 1 vCPU)
#                   and a busybox initramfs that loads the modules (the time of erofs's is given),
#                   then mounts and reads each disk (all of a layer's formats in one boot, in a
#                   shuffled order, the page cache dropped before each); SUP_BENCH_IMAGE_VM_RUNS
#                   boots (default 3)
# 2. The peers: `umoci unpack` of each image (a new bundle every round), `podman run --rm
#    oci:LAYOUT:REF true` with a new --root every round (cold: podman copies the image into its
#    storage first) and again on the same root (warm), podman with --root/--runroot in the scratch
#    directory, the cgroupfs manager, no network.
# 3. sup: a cold start of an `oci:` unit (the image not in the store: unpack, then start), a warm
#    start (in the store) against a `dir:` unit's, the hyperv disk build per layer. Measured only
#    when this build of sup has the store (`supctl image`); otherwise the rows say "not measured".
# Results: tables on stdout, $SUP_BENCH_OUT/image.md and image-*.jsonl (default build/bench/).
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"

RUNS=${1:-${SUP_BENCH_IMAGE_RUNS:-5}}
VM_RUNS=${SUP_BENCH_IMAGE_VM_RUNS:-3}
SETTLE=${SUP_BENCH_SETTLE:-0.25}
CACHE=${SUP_BENCH_IMAGE_CACHE:-/var/tmp/sup-bench-images}
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
LIB="$PY $BENCH/image-lib.py"
FSREAD=$OUT/image-fsread
FORMATS="ext4 erofs erofs-lz4"

bench_require
for t in umoci mmdebstrap mkfs.erofs mkfs.ext4 losetup podman qemu-system-x86_64 cpio; do
        command -v $t > /dev/null || die "needs $t (apt-get install umoci mmdebstrap erofs-utils e2fsprogs mount podman qemu-system-x86 cpio)"
done
if [ ! -x "$FSREAD" ] || [ "$BENCH/image-fsread.c" -nt "$FSREAD" ]; then
        ${CC:-cc} -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$FSREAD" "$BENCH/image-fsread.c"
fi
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
bench_begin image image
FMT_RESULTS=$OUT/image-formats.jsonl
: > "$FMT_RESULTS"
mkdir -p "$CACHE"

# ---- the images ------------------------------------------------------------------------------

# oci_new LAYOUT REF: an empty image (umoci).
oci_new() {
        rm -rf "$1" "$1.bundle"
        umoci init --layout "$1"
        umoci new --image "$1:$2"
}
# oci_layer LAYOUT REF CREATED-BY SOURCE: a layer on top that makes the root file system the
# SOURCE (a directory or a tar archive): umoci unpacks the image, the root is replaced, and umoci
# repack writes what changed (whiteouts for what went). Unpacked anew for every layer: repack
# builds on the image the bundle was unpacked from.
oci_layer() {
        local b=$1.bundle
        rm -rf "$b"
        umoci unpack --image "$1:$2" "$b" > /dev/null
        find "$b/rootfs" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
        if [ -d "$4" ]; then cp -a "$4/." "$b/rootfs/"; else tar -xpf "$4" --numeric-owner --xattrs --xattrs-include='*' -C "$b/rootfs"; fi
        umoci repack --image "$1:$2" --history.created_by "$3" "$b"
        rm -rf "$b"
}

if [ ! -f "$CACHE/busybox.done" ] || [ "$TOP/examples/images/.stamp" -nt "$CACHE/busybox.done" ]; then
        say "busybox: OCI layout from examples/images/busybox (umoci)"
        "$TOP/examples/build-images.sh" > /dev/null
        oci_new "$CACHE/busybox" latest
        oci_layer "$CACHE/busybox" latest "examples/build-images.sh" "$TOP/examples/images/busybox"
        umoci config --image "$CACHE/busybox:latest" --config.cmd /bin/sh
        touch "$CACHE/busybox.done"
fi

if [ ! -f "$CACHE/debian.done" ]; then
        say "debian: two mmdebstrap runs (Debian's archive) and three umoci layers; a few minutes, once"
        for v in minbase:"" plus:python3,perl,curl,ca-certificates; do
                name=${v%%:*} inc=${v#*:}
                [ -f "$CACHE/$name.tar" ] && continue
                mmdebstrap --variant=minbase --mode=root --format=tar ${inc:+--include=$inc} bookworm "$CACHE/$name.tar.new" \
                        > "$CACHE/$name.log" 2>&1 || { tail "$CACHE/$name.log" >&2; die "mmdebstrap failed"; }
                mv "$CACHE/$name.tar.new" "$CACHE/$name.tar"
        done
        oci_new "$CACHE/debian" bookworm
        oci_layer "$CACHE/debian" bookworm "mmdebstrap --variant=minbase bookworm" "$CACHE/minbase.tar"
        oci_layer "$CACHE/debian" bookworm "mmdebstrap --variant=minbase --include=python3,perl,curl,ca-certificates bookworm" \
                "$CACHE/plus.tar"
        # The third layer: a whiteout and an opaque directory, written as the OCI spec spells them.
        w=$CACHE/debian.wh
        rm -rf "$w" && mkdir -p "$w/usr/share/doc" "$w/etc/apt/apt.conf.d"
        : > "$w/usr/share/doc/.wh.perl"
        : > "$w/etc/apt/apt.conf.d/.wh..wh..opq"
        echo 'APT::Install-Recommends "false";' > "$w/etc/apt/apt.conf.d/99sup-bench"
        tar -cf "$w.tar" --numeric-owner --owner=0 --group=0 -C "$w" usr etc
        umoci raw add-layer --image "$CACHE/debian:bookworm" --history.created_by "whiteout usr/share/doc/perl, opaque etc/apt/apt.conf.d" "$w.tar"
        umoci config --image "$CACHE/debian:bookworm" --config.cmd /bin/bash
        rm -rf "$w" "$w.tar"
        touch "$CACHE/debian.done"
fi

# The layers, bottom first: NAME BLOB DIFF_ID SIZE; each one's tree in $CACHE/trees/DIFF_ID.
LAYERS=()
for img in busybox:latest debian:bookworm; do
        i=0
        while read -r blob diff size; do
                i=$((i + 1))
                LAYERS+=("${img%%:*}/$i $blob ${diff#sha256:} $size")
        done < <($LIB layers "$CACHE/${img%%:*}" "${img#*:}")
done
mkdir -p "$CACHE/trees"
for l in "${LAYERS[@]}"; do
        read -r name blob diff _ <<< "$l"
        t=$CACHE/trees/$diff
        [ -f "$t.manifest" ] && continue
        rm -rf "$t"
        got=$($LIB layer-tree "$blob" "$t") || die "$name: cannot unpack $blob"
        note "$name: unpacked for the formats: $got"
        $LIB manifest "$t" > "$t.manifest"
done

# ---- 1. ext4 or erofs ------------------------------------------------------------------------

fmt_add() { $LIB add "$FMT_RESULTS" "$@"; }

# build_disk FORMAT TREE OUT: as sup would (for ext4: layer-disk.c's flags and size), then fsync.
build_disk() {
        local f=$1 tree=$2 out=$3
        rm -f "$out"
        case $f in
        ext4)
                # layer-disk.c: blocks of 4 KiB per file, 512 bytes per entry, +25 %, +8 MiB;
                # inodes: entries + 256.
                local blocks entries
                read -r blocks entries < <(find "$tree" -mindepth 1 -printf '%y %s\n' |
                        awk '$1 == "f" { b += int(($2 + 4095) / 4096) } $1 == "l" || $1 == "d" { b++ } { n++ } END { print b + 0, n + 0 }')
                local bytes=$((blocks * 4096 + entries * 512))
                mkfs.ext4 -q -F -O ^has_journal -N $((entries + 256)) -d "$tree" "$out" "$(((bytes + bytes / 4) / 1024 + 8192))k" > /dev/null
                ;;
        erofs) mkfs.erofs --quiet "$out" "$tree" ;;
        erofs-lz4) mkfs.erofs --quiet -zlz4 "$out" "$tree" ;;
        esac
        sync "$out"
}
fstype() { echo "${1%%-*}"; }

# host_read FORMAT DISK: one mount + walk + read on a new read-only loop device; the fsread line.
host_read() {
        local dev rc=0
        dev=$(losetup -r -f --show "$2")
        "$FSREAD" mount-read "$dev" "$WORK/mnt" "$(fstype "$1")" > "$WORK/fsread.out" || rc=$?
        losetup -d "$dev"
        [ $rc = 0 ] || { cat "$WORK/fsread.out" >&2; die "host: cannot mount and read $2"; }
        cat "$WORK/fsread.out"
}
# fsread_field LINE KEY
fsread_field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<< "$1"; }

mkdir -p "$WORK/disks" "$WORK/mnt"
say "disk formats: $RUNS rounds of mkfs ($FORMATS) per layer, shuffled, each followed by a mount and read on the host"
for _ in $(seq 1 "$RUNS"); do
        jobs=()
        for l in "${LAYERS[@]}"; do for f in $FORMATS; do jobs+=("$f@${l%% *}"); done; done
        for job in $(shuf -e "${jobs[@]}"); do
                f=${job%@*} name=${job#*@}
                for l in "${LAYERS[@]}"; do [ "${l%% *}" = "$name" ] && read -r _ _ diff _ <<< "$l"; done
                disk=$WORK/disks/${name//\//-}.$f
                t0=$EPOCHREALTIME
                build_disk "$f" "$CACHE/trees/$diff" "$disk" || die "mkfs ($f) of $name failed"
                t1=$EPOCHREALTIME
                fmt_add "$name" "$f" build_us $((${t1/./} - ${t0/./}))
                line=$(host_read "$f" "$disk")
                for k in mount walk read; do fmt_add "$name" "$f" "host_$k" "$(fsread_field "$line" "$k")"; done
        done
        printf '.' >&2
done
echo >&2

say "disk formats: sizes, and whether each kept the tree (manifest of the mounted disk)"
for l in "${LAYERS[@]}"; do
        read -r name _ diff _ <<< "$l"
        for f in $FORMATS; do
                disk=$WORK/disks/${name//\//-}.$f
                fmt_add "$name" "$f" apparent "$(stat -c %s "$disk")"
                fmt_add "$name" "$f" allocated "$(($(stat -c %b "$disk") * $(stat -c %B "$disk")))"
                dev=$(losetup -r -f --show "$disk")
                mount -t "$(fstype "$f")" -o ro "$dev" "$WORK/mnt"
                $LIB manifest "$WORK/mnt" > "$WORK/got.manifest" || die "$name as $f: cannot list the mounted disk"
                umount "$WORK/mnt"
                losetup -d "$dev"
                # ext4's lost+found (mkfs.ext4 makes it, -d or not) is told apart from a loss.
                diff "$CACHE/trees/$diff.manifest" "$WORK/got.manifest" | grep '^[<>]' > "$WORK/manifest.diff" || true
                if grep -q '^> lost+found ' "$WORK/manifest.diff"; then lf=true; else lf=false; fi
                fmt_add "$name" "$f" lost_found $lf
                if grep -qv '^> lost+found ' "$WORK/manifest.diff"; then
                        note "$name as $f: not the tree: $(head -5 "$WORK/manifest.diff" | tr '\n' ' ')"
                        fmt_add "$name" "$f" kept false
                else
                        fmt_add "$name" "$f" kept true
                fi
        done
done

# ---- the guest: the kernel hyperv units boot, with erofs added to sup's modules ----
say "disk formats in a guest: $VM_RUNS boots per image and format (bare QEMU, TCG, sup's machine options)"
GK=$CACHE/guest
mkdir -p "$GK/cache"
for deb in "$GUEST"/cache/*.deb; do [ -e "$GK/cache/$(basename "$deb")" ] || cp "$deb" "$GK/cache/"; done
DEFAULT_MODULES=$(sed -n 's/^modules=\${SUP_GUEST_MODULES:-\(.*\)}$/\1/p' "$TOP/tools/guest-kernel.sh")
[ -n "$DEFAULT_MODULES" ] || die "cannot read the default module list of tools/guest-kernel.sh"
SUP_GUEST_MODULES="$DEFAULT_MODULES erofs" "$TOP/tools/guest-kernel.sh" "$GK" 2> "$WORK/guest-kernel.log" ||
        { cat "$WORK/guest-kernel.log" >&2; die "tools/guest-kernel.sh $GK failed"; }
KDIR=$GK/kernel/current
KVER=$(readlink "$KDIR")
ir=$WORK/initramfs
mkdir -p "$ir/bin" "$ir/lib/modules" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/mnt"
cp /bin/busybox "$ir/bin/"
cp "$FSREAD" "$ir/bin/fsread"
cp "$KDIR"/modules/*.ko "$KDIR/modules.list" "$ir/lib/modules/"
cat > "$ir/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
# bench.fs=TYPE bench.disks=SERIAL,... (the layers, bottom first)
arg() { /bin/busybox sed -n "s/.*bench\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
fs=$(arg fs)
# sup's modules, then (clock) erofs's, only for erofs disks (ext4 is built in), then the mounts
# (clock). A module the machine cannot use (crc32c_intel: TCG's CPU has no SSE 4.2) fails;
# sup-init would stop there (see README.md).
insmod() { /bin/fsread insmod /lib/modules/$1 | /bin/busybox sed 's/^fsread-error/insmod-failed/'; }
erofs_modules=
while read -r m; do
        case $m in
        erofs.ko | libcrc32c.ko | crc32c_intel.ko) erofs_modules="$erofs_modules $m" ;;
        *) insmod "$m" ;;
        esac
done < /lib/modules/modules.list
/bin/fsread clock
if [ "$fs" = erofs ]; then for m in $erofs_modules; do insmod "$m"; done; fi
i=0
for serial in $(arg disks | /bin/busybox tr , ' '); do
        dev=
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                for b in /sys/block/vd*; do [ "$(/bin/busybox cat $b/serial 2>/dev/null)" = "$serial" ] && dev=/dev/${b##*/}; done
                [ -n "$dev" ] && break
                /bin/busybox sleep 0.1
        done
        i=$((i + 1))
        echo "disk $i"
        /bin/fsread mount "$dev" /mnt/$i "$fs"
done
/bin/fsread clock
for d in /mnt/*; do
        echo 3 > /proc/sys/vm/drop_caches
        /bin/fsread read "$d"
done
echo bench-done
/bin/busybox poweroff -f
INIT
chmod 755 "$ir/init"
(cd "$ir" && find . | cpio -o -H newc -R 0:0 --quiet) > "$WORK/initramfs.cpio"
# The guest's clock: microvm under TCG falls back to jiffies (4 ms steps) unless told the TSC,
# which TCG derives from the host's clock, is reliable. Only the stopwatch changes: sup's guests
# boot without it.
CLOCK="clocksource=tsc tsc=reliable"
TSC=$(awk -F': *' '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
# sup's machine options (vm-qemu.c; hyperv.sh reads them from a running unit's QEMU).
# shellcheck disable=SC2054 # tcg,tb-size=128 is one argument
QEMU_OPTS=(-M microvm -nodefaults -no-user-config -accel tcg,tb-size=128 -m 256M -smp 1 -display none -no-reboot
        -kernel "$KDIR/vmlinuz" -initrd "$WORK/initramfs.cpio")
mkdir -p "$WORK/console" "$WORK/guest-raw"
GRAW=$WORK/guest-raw # not $RAW: part 2 empties that after its warm-up
boots=0
for _ in $(seq 1 "$VM_RUNS"); do
        jobs=()
        for img in busybox debian; do for f in $FORMATS; do jobs+=("$f@$img"); done; done
        for job in $(shuf -e "${jobs[@]}"); do
                f=${job%@*} img=${job#*@}
                drives=() serials=()
                for l in "${LAYERS[@]}"; do
                        name=${l%% *}
                        [ "${name%/*}" = "$img" ] || continue
                        s=l${name#*/}
                        drives+=(-drive "id=$s,file=$WORK/disks/${name//\//-}.$f,format=raw,if=none,readonly=on"
                                -device "virtio-blk-device,drive=$s,serial=$s")
                        serials+=("$s")
                done
                boots=$((boots + 1))
                con=$WORK/console/boot-$boots
                sleep "$SETTLE"
                "$PROBE" watch --dir "$WORK/console" --match bench-done --timeout 600 -- \
                        qemu-system-x86_64 "${QEMU_OPTS[@]}" -serial "file:$con" "${drives[@]}" \
                        -append "console=ttyS0 quiet panic=-1 reboot=t tsc_early_khz=$TSC $CLOCK bench.fs=$(fstype "$f") bench.disks=$(IFS=,; echo "${serials[*]}")" \
                        > "$WORK/boot.txt" 2> "$WORK/qemu.err" ||
                        { cat "$con" "$WORK/qemu.err" >&2; die "guest boot ($img, $f): no bench-done"; }
                grep -q fsread-error "$con" && { cat "$con" >&2; die "guest ($img, $f): fsread failed"; }
                # LAYER KEY VALUE lines; the clocks: /init started, every layer mounted.
                tr -d '\r' < "$con" | awk -v img="$img" '
                        $1 == "clock" { c[++nc] = $2 }
                        $1 == "insmod" && $2 ~ /\/(erofs|libcrc32c)\.ko$/ { ins += $3 }
                        $1 == "mount" { print img "/" ++nm, "guest_mount", $3 }
                        $1 == "read" { n = substr($2, 6); print img "/" n, "guest_walk", $4; print img "/" n, "guest_read", $6
                                print img "/" n, "guest_whiteouts", $14; print img "/" n, "guest_opaque", $16 }
                        END { print img, "mounted", c[2] - c[1]; if (ins) print img, "insmod", ins }' > "$WORK/boot.values"
                while read -r layer key value; do
                        case $key in
                        mounted) echo "$value" >> "$GRAW/mounted-$img-$f" ;;
                        insmod) echo "$value" >> "$GRAW/insmod" ;;
                        *) fmt_add "$layer" "$f" "$key" "$value" ;;
                        esac
                done < "$WORK/boot.values"
                printf '.' >&2
        done
done
echo >&2

# ---- 2. and 3.: unpack and start, sup against umoci and podman -------------------------------

IMAGES="busybox:latest debian:bookworm"
PEER_RESULTS=$RESULTS
CMD='[/bin/sh, -c, "echo ready; exec sleep 1000"]'
HOST_NOFILE=$(ulimit -Hn) HOST_NPROC=4096
# podman: its own storage below the scratch directory (a new one per cold round), the cgroupfs
# manager (no systemd here), no network, and crun in crun_ns (crun 1.8 and the hybrid cgroups);
# nofile at the host's hard limit and nproc at 4096 (podman's defaults, 1048576 and the hard
# limit, fail in crun's setrlimit in this container; the rlimits cost the same either way).
podman_in() { # podman_in ROOT ARGS...
        local root=$1
        shift
        crun_ns podman --root "$root/storage" --runroot "$root/run" --storage-driver overlay \
                --cgroup-manager cgroupfs --events-backend file "$@"
}
podman_run() { # podman_run ROOT IMAGE
        podman_in "$1" run --rm --network none --ulimit "nofile=$HOST_NOFILE:$HOST_NOFILE" \
                --ulimit "nproc=$HOST_NPROC:$HOST_NPROC" "$2" true
}
# timed NAME COMMAND...: COMMAND's run time (bench-probe: fork to exit), appended to $RAW/NAME.
# The probe's own status says whether COMMAND wrote a line (these write none): its "exit" line
# has COMMAND's.
timed() {
        local name=$1 p=$WORK/p.txt
        shift
        "$PROBE" pipe --timeout 600 -- "$@" > "$p" 2> "$WORK/timed.err" < /dev/null || true
        awk '$1 == "exit" && $3 == 0 { print $2; ok = 1 } END { exit !ok }' "$p" >> "$RAW/$name" ||
                { cat "$p" "$WORK/timed.err" >&2; die "$name: $* failed"; }
}
podman_pull() { # podman_pull ROOT IMAGE
        podman_in "$1" pull -q --tls-verify=false "$2"
}
export -f podman_in podman_run podman_pull crun_ns
export HOST_NOFILE HOST_NPROC

# A local registry (Debian's docker-registry on 127.0.0.1, its storage in the scratch directory)
# holding both images (skopeo copy, not timed): the store's own unpack, `supctl image pull`,
# against `podman pull` of the same, while units of oci: images cannot start yet.
REG_PORT=$((20000 + RANDOM % 20000))
mkdir -p "$WORK/registry"
cat > "$WORK/registry/config.yml" <<REG
version: 0.1
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: 127.0.0.1:$REG_PORT
REG
/usr/bin/docker-registry serve "$WORK/registry/config.yml" > "$WORK/registry/log" 2>&1 &
REG_PID=$!
# It goes however the script ends (bench_cleanup is the EXIT trap, and gets the status in $?;
# errexit, which holds in a trap, is off first, as bench_cleanup turns it off).
# shellcheck disable=SC2154 # r is assigned in the trap
trap 'r=$?; set +e; kill "$REG_PID" 2> /dev/null; (exit $r); bench_cleanup' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$REG_PORT/v2/" > /dev/null 2>&1 && break; sleep 0.1; done
for img in $IMAGES; do
        skopeo copy -q --dest-tls-verify=false "oci:$CACHE/$img" "docker://127.0.0.1:$REG_PORT/$img" ||
                die "skopeo copy of $img into the local registry failed"
done
REG=127.0.0.1:$REG_PORT

# sup: a supd of its own; measured only with the store (supctl image).
SUP_DIR=$WORK/sup
LOGS=$SUP_DIR/state/logs
mkdir -p "$SUP_DIR/units"
sup_start "$SUP_DIR"
mkdir -p "$LOGS" # for the probe's watch before the first unit's log
HAVE_STORE=0 NO_STORE_REASON="\`supctl image ls\` failed"
if ctl image ls --json > /dev/null 2>&1; then HAVE_STORE=1; fi

# sup_oci_unit NAME IMAGE [MORE-YAML]: a unit of the image's layout (oci: LAYOUT, ref: REF).
sup_oci_unit() {
        cat > "$SUP_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - oci: $CACHE/${2%%:*}
      ref: ${2#*:}
network: none
restart: {policy: 'no'}
command: $CMD
${3:-}
UNIT
}
# sup_reload_until UNIT WORD [N]: reload, until the unit's log (N units' logs) has WORD; the
# probe's output in $WORK/p.txt.
sup_reload_until() {
        "$PROBE" watch --dir "$LOGS" --match "$2" --count "${3:-1}" --timeout 600 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" reload > "$WORK/p.txt" ||
                { cat "$WORK/p.txt" >&2; tail "$LOGS/$1.log" >&2; die "sup reload: $1 has no $2"; }
}
sup_start_until() { # sup_start_until UNIT WORD RAW-NAME
        "$PROBE" watch --dir "$LOGS" --match "$2" --timeout 600 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" start "$1" > "$WORK/p.txt" ||
                { cat "$WORK/p.txt" >&2; die "sup start $1: no $2"; }
        probe_times "$WORK/p.txt" "$1" "$2" | awk '{ print $3 }' >> "$RAW/$3"
}
sup_stop_unit() {
        "$PROBE" watch --dir "$LOGS" --match stopped --timeout 60 -- "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" stop "$1" > /dev/null ||
                die "$1 did not stop"
}

# The sup rounds:
#   cold   the unit file of an oci: unit added and `supctl reload`, until its first line, with the
#          image in no store (the unit removed and `supctl image prune` before): unpack + start
#   dir    the same for a dir: unit of the busybox tree (no unpack)
#   warm   `supctl start` of the stopped oci: unit (its layers in the store) and of the dir: unit
#   hv     a hyperv oci: unit added and reloaded while the process unit keeps the image's layers
#          in the store, but its disks pruned: the disk build of every layer + the boot; then its
#          `supctl start` with the disks built; the difference is the disks' build
# sup_image_out IMAGE: no unit of IMAGE left in the generation (its cold and warm units removed)
# and its layers pruned from the store, checked: prune keeps what a unit of the generation uses,
# and the store forgets a removed unit only once its instance is gone.
sup_image_out() {
        local l name diff left
        rm -f "$SUP_DIR/units/cold-${1%%:*}.yaml" "$SUP_DIR/units/warm-${1%%:*}.yaml"
        ctl reload > /dev/null
        for _ in $(seq 150); do
                ctl image prune > /dev/null || die "supctl image prune failed"
                left=
                for l in "${LAYERS[@]}"; do
                        read -r name _ diff _ <<< "$l"
                        [ "${name%/*}" = "${1%%:*}" ] && [ -e "$SUP_DIR/state/images/layers/$diff" ] && left=$diff
                done
                [ -z "$left" ] && return 0
                sleep 0.1
        done
        die "the store still holds layer $left of $1 after prune"
}
sup_cold_round() { # sup_cold_round IMAGE
        local n=cold-${1%%:*}
        sup_image_out "$1"
        rm -f "$LOGS/$n.log"
        sleep "$SETTLE"
        sup_oci_unit "$n" "$1"
        sup_reload_until "$n" ready
        probe_times "$WORK/p.txt" "$n" ready | awk '{ print $3 }' >> "$RAW/sup-cold-${1%%:*}"
        sup_stop_unit "$n"
}
# sup_dir_unit NAME: a unit of the same busybox tree as a dir: layer.
sup_dir_unit() {
        cat > "$SUP_DIR/units/$1.yaml" <<UNIT
image:
  layers:
    - dir: $TOP/examples/images/busybox
network: none
restart: {policy: 'no'}
command: $CMD
UNIT
}
sup_dir_round() {
        rm -f "$SUP_DIR/units/dir-busybox.yaml"
        ctl reload > /dev/null
        rm -f "$LOGS/dir-busybox.log"
        sleep "$SETTLE"
        sup_dir_unit dir-busybox
        sup_reload_until dir-busybox ready
        probe_times "$WORK/p.txt" dir-busybox ready | awk '{ print $3 }' >> "$RAW/sup-dir-reload"
        sup_stop_unit dir-busybox
}
sup_warm_round() { # sup_warm_round UNIT RAW-NAME [IMAGE]
        # A cold or pull round took the image out: the unit again, started once (its layers back
        # in the store), not counted.
        if [ -n "${3:-}" ] && [ ! -e "$SUP_DIR/units/$1.yaml" ]; then
                sup_oci_unit "$1" "$3"
                sup_reload_until "$1" ready
                sup_stop_unit "$1"
        fi
        sleep "$SETTLE"
        sup_start_until "$1" ready "$2"
        sup_stop_unit "$1"
}

umoci_round() { # umoci_round IMAGE
        rm -rf "$WORK/bundle"
        sleep "$SETTLE"
        timed "umoci-${1%%:*}" umoci unpack --image "$CACHE/$1" "$WORK/bundle"
        rm -rf "$WORK/bundle"
}
# podman_fresh_round RAW-NAME I FUNCTION IMAGE: podman_run or podman_pull of IMAGE on new
# storage, timed; the storage goes after (one at a time; a short name: podman refuses a runroot
# path longer than 50 characters).
podman_fresh_round() {
        local root=$WORK/pf$2
        sleep "$SETTLE"
        timed "$1" bash -c '"$1" "$2" "$3"' podman_fresh "$3" "$root" "$4"
        podman_in "$root" system reset --force > /dev/null 2>&1 || true
        rm -rf "$root"
}
podman_warm_round() { # podman_warm_round IMAGE
        sleep "$SETTLE"
        timed "podman-warm-${1%%:*}" bash -c 'podman_run "$1" "$2"' podman_run "$WORK/podman-warm" "$(cat "$WORK/podman-id-${1%%:*}")"
}

# Pulls from the local registry into an empty store / empty storage: the transfer, the unpack
# and the digests' checks. sup's: `supctl image prune` first (no unit uses the image), then
# `supctl image pull`; each layer's unpack time is the store's record (layers/HEX.json).
HAVE_PULL=0
ctl image prune > /dev/null 2>&1 && HAVE_PULL=1
sup_pull_round() { # sup_pull_round IMAGE
        sup_image_out "$1"
        sleep "$SETTLE"
        timed "sup-pull-${1%%:*}" "$SUPCTL" --socket "$SUP_DIR/run/supd.sock" image pull --tls-verify=false "$REG/$1"
        for l in "${LAYERS[@]}"; do
                read -r name _ diff _ <<< "$l"
                [ "${name%/*}" = "${1%%:*}" ] || continue
                $PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["duration_ms"] * 1000)' \
                        "$SUP_DIR/state/images/layers/$diff.json" >> "$RAW/sup-unpack-${name/\//-}"
        done
}

# A store that lists images is not enough: a unit of an oci: image must start.
if [ $HAVE_STORE = 1 ]; then
        sup_oci_unit oci-probe busybox:latest
        ctl reload > /dev/null
        for _ in $(seq 600); do
                st=$(sup_field oci-probe state)
                [ "$st" = running ] || [ "$st" = failed ] && break
                sleep 0.1
        done
        if [ "$st" != running ]; then
                HAVE_STORE=0 NO_STORE_REASON="an oci: unit does not start: $(sup_field oci-probe reason)"
        fi
        rm -f "$SUP_DIR/units/oci-probe.yaml"
        ctl reload > /dev/null
fi
[ $HAVE_STORE = 1 ] || note "sup's rows are not measured: $NO_STORE_REASON"

say "warming up: one round of everything, not counted"
for img in $IMAGES; do
        # The warm runs name the image by its ID (podman tags an oci: image it pulls "latest").
        podman_in "$WORK/podman-warm" pull -q "oci:$CACHE/$img" > "$WORK/podman-id-${img%%:*}" ||
                die "podman pull oci:$CACHE/$img failed"
done
if [ $HAVE_STORE = 1 ]; then
        for img in $IMAGES; do sup_oci_unit "warm-${img%%:*}" "$img"; done
        sup_dir_unit dir-warm
        sup_reload_until dir-warm ready $(($(echo $IMAGES | wc -w) + 1))
        for img in $IMAGES; do sup_stop_unit "warm-${img%%:*}"; done
        sup_stop_unit dir-warm
fi

round() { # round I
        local job jobs=()
        for img in $IMAGES; do
                jobs+=("umoci:$img" "podman-cold:$img" "podman-warm:$img" "podman-pull:$img")
                [ $HAVE_PULL = 1 ] && jobs+=("sup-pull:$img")
                [ $HAVE_STORE = 1 ] && jobs+=("sup-cold:$img" "sup-warm:$img")
        done
        [ $HAVE_STORE = 1 ] && jobs+=(sup-dir: sup-dir-warm:)
        for job in $(shuf -e "${jobs[@]}"); do
                case $job in
                umoci:*) umoci_round "${job#*:}" ;;
                podman-cold:*) img=${job#*:}; podman_fresh_round "podman-cold-${img%%:*}" "$1" podman_run "oci:$CACHE/$img" ;;
                podman-warm:*) podman_warm_round "${job#*:}" ;;
                podman-pull:*) img=${job#*:}; podman_fresh_round "podman-pull-${img%%:*}" "$1" podman_pull "docker://$REG/$img" ;;
                sup-pull:*) sup_pull_round "${job#*:}" ;;
                sup-cold:*) sup_cold_round "${job#*:}" ;;
                sup-warm:*) img=${job#*:}; sup_warm_round "warm-${img%%:*}" "sup-warm-${img%%:*}" "$img" ;;
                sup-dir:) sup_dir_round ;;
                sup-dir-warm:) sup_warm_round dir-warm sup-dir-warm ;;
                esac
        done
}
round 0
rm -f "$RAW"/*
say "measuring: $RUNS rounds of umoci unpack, podman run (cold, warm)$([ $HAVE_STORE = 1 ] && echo ", sup (cold, warm, dir:)") per image, shuffled"
for i in $(seq 1 "$RUNS"); do
        round "$i"
        printf '.' >&2
done
echo >&2

# hyperv: `supctl start` of a stopped hyperv oci: unit whose layers are in the store, once with
# the store's disks of its layers removed (STATE/images/disks/*.erofs: the start builds them) and
# once with them built. The monitor logs each build ("built the disk of layer ... in N ms").
# In their own rounds: a boot under TCG takes seconds. The guest: a copy of SUP_GUEST_DIR (its
# initramfs is rebuilt from this build's sup-init, which a shared one must not be).
if [ $HAVE_STORE = 1 ]; then
        HV_GUEST=$WORK/guest
        mkdir -p "$HV_GUEST/kernel"
        cp -a "$(cd "$GUEST/kernel/current" && pwd -P)" "$HV_GUEST/kernel/"
        ln -s "$KVER" "$HV_GUEST/kernel/current"
        "$TOP/tools/guest-initramfs.sh" "$HV_GUEST" "$BUILD/sup-init" > /dev/null || die "cannot build the guest's initramfs"
        sup_stop
        sup_start "$SUP_DIR" --guest-dir "$HV_GUEST"
        for img in $IMAGES; do sup_oci_unit "hv-${img%%:*}" "$img" "isolation: hyperv
vm: {accel: tcg}"; done
        sup_reload_until hv-busybox ready "$(echo "$IMAGES" | wc -w)"
        for img in $IMAGES; do sup_stop_unit "hv-${img%%:*}"; done
        say "hyperv: $VM_RUNS rounds of a start that builds the layers' disks and one that has them, per image"
        for _ in $(seq 1 "$VM_RUNS"); do
                for img in $(shuf -e $IMAGES); do
                        n=hv-${img%%:*}
                        # The image's disks only: the layers' diff_ids from the store's record.
                        for d in $($LIB layers "$CACHE/${img%%:*}" "${img#*:}" | awk '{ sub(/^sha256:/, "", $2); print $2 }'); do
                                rm -f "$SUP_DIR/state/images/disks/$d.erofs" "$SUP_DIR/state/images/disks/$d.ext4"
                        done
                        sleep "$SETTLE"
                        sup_start_until "$n" ready "sup-hv-build-$n"
                        sup_stop_unit "$n"
                        sleep "$SETTLE"
                        sup_start_until "$n" ready "sup-hv-start-$n"
                        sup_stop_unit "$n"
                done
        done
        # Per layer, from the monitor's notes: LAYER-DIR MS.
        cat "$LOGS"/hv-*.log | awk '$2 == "sup" && $3 == "built" && $5 == "disk" { for (i = 1; i < NF; i++) if ($i == "in") print $(i - 1), $(i + 1) }' \
                > "$RAW/sup-hv-disk-builds"
fi

kill "$REG_PID" 2> /dev/null || true
wait "$REG_PID" 2> /dev/null || true

# ---- results ----
add() { $PY "$BENCH/lib/benchlib.py" series "$PEER_RESULTS" "$1" "$2"; }
col() { if [ -f "$RAW/$1" ]; then cat "$RAW/$1"; fi; }
for img in busybox debian; do
        for f in $FORMATS; do
                cat "$GRAW/mounted-$img-$f" | add "guest, $f" "$img: in the guest, every layer mounted (erofs: its modules loaded first)"
        done
done
cat "$GRAW/insmod" | add "guest, erofs" "loading erofs.ko and libcrc32c.ko (ext4 is built in)"
for img in $IMAGES; do
        i=${img%%:*}
        col "umoci-$i" | add umoci "$i: \`umoci unpack\` (all layers into a bundle)"
        col "podman-cold-$i" | add podman "$i: \`podman run --rm oci:… true\`, new storage (copy + unpack + run)"
        col "podman-warm-$i" | add podman "$i: \`podman run --rm IMAGE true\`, image in storage"
        col "podman-pull-$i" | add podman "$i: \`podman pull\` from a local registry, new storage (transfer + unpack)"
        col "sup-pull-$i" | add sup "$i: \`supctl image pull\` from a local registry, empty store (transfer + unpack)"
        if [ $HAVE_STORE = 1 ]; then
                col "sup-cold-$i" | add sup "$i: oci: unit, not in the store: reload → first line (unpack + start)"
                col "sup-warm-$i" | add sup "$i: oci: unit in the store: \`supctl start\` → first line"
                col "sup-hv-build-hv-$i" | add sup "$i: hyperv oci: unit, its disks removed: \`supctl start\` → first line (builds them)"
                col "sup-hv-start-hv-$i" | add sup "$i: hyperv oci: unit, disks built: \`supctl start\` → first line"
        fi
done
for l in "${LAYERS[@]}"; do
        read -r name _ _ _ <<< "$l"
        col "sup-unpack-${name/\//-}" | add sup "$name: unpacked by the store (its record's duration_ms, 1 ms steps)"
done
if [ $HAVE_STORE = 1 ]; then
        for l in "${LAYERS[@]}"; do
                read -r name _ diff _ <<< "$l"
                col sup-hv-disk-builds | awk -v d="/$diff" 'index($1, d) { print $2 * 1000 }' |
                        add sup "$name: its hyperv disk built by the store (the monitor's note, 1 ms steps)"
        done
        col sup-dir-reload | add sup "busybox: dir: unit: reload → first line"
        col sup-dir-warm | add sup "busybox: dir: unit: \`supctl start\` → first line"
        for img in $IMAGES; do
                i=${img%%:*}
                $PY "$BENCH/lib/benchlib.py" delta "$PEER_RESULTS" sup "$i: warm oci: start over a dir: start" \
                        "$i: oci: unit in the store: \`supctl start\` → first line" "busybox: dir: unit: \`supctl start\` → first line"
        done
fi

{
        echo "images, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, Linux $(uname -r), $RUNS rounds ($VM_RUNS guest boots per image and format)," \
                "load average $LOAD0 before, $(cut -d" " -f1-3 /proc/loadavg) after; mkfs.ext4 $(mkfs.ext4 -V 2>&1 | head -1 | awk '{ print $2 }')," \
                "erofs-utils $(dpkg-query -W -f '${Version}' erofs-utils 2>/dev/null), guest kernel $KVER"
        echo
        echo "Layers (their trees as overlayfs stacks them):"
        echo
        for l in "${LAYERS[@]}"; do
                read -r name blob diff size <<< "$l"
                read -r entries whiteouts opaque < <($LIB count "$CACHE/trees/$diff")
                echo "- $name: diff_id ${diff:0:12}, blob $((size / 1024)) KiB, tree $(du -sm "$CACHE/trees/$diff" | cut -f1) MiB," \
                        "$entries entries, $whiteouts whiteouts, $opaque opaque directories"
        done
        echo
        $LIB formats "$FMT_RESULTS"
        echo
        $PY "$BENCH/lib/benchlib.py" table "$PEER_RESULTS"
        [ $HAVE_STORE = 1 ] || echo "
sup: **not measured** ($NO_STORE_REASON). The rows for sup's cold and warm starts of an oci: unit, the dir: reference and the hyperv disks' build appear once a unit of an oci: image starts."
} | tee "$OUT/image.md"
note "written: $OUT/image.md, $OUT/image.jsonl, $OUT/image-formats.jsonl"
