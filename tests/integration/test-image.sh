#!/bin/bash
# Images end to end: an OCI image layout made by umoci and tar: layers made by tar/zstd, unpacked
# into supd's store (STATE/images) and run in process and hyperv isolation, as root:
#   test-image.sh SUPD SUPCTL SUP_MONITOR SUP_INIT|-
# Each case starts its own supd on private directories and names the fault or attack it stops.
# Exit 77 (skip) without root, busybox, overlayfs, umoci, skopeo or zstd; the hyperv half is
# skipped (said so) without QEMU or a guest kernel; SUP_TESTS_MUST_WORK=1 turns either into a
# failure. SUP_GUEST_DIR: the guest kernel's state dir (default /var/lib/sup/guest).
set -uo pipefail

source "$(dirname "$(realpath "$0")")/image-lib.sh"
image_test_setup supimage "$@"
trap cleanup EXIT

# ---- the image: umoci, three layers (umoci writes a whiteout itself, an opaque directory only
# from an archive it adds verbatim: its insert --opaque writes a tar without its end blocks) ----
# 1: busybox, /app/show.sh, /data/{gone.txt,keep.txt}, /data/old/{a.txt,sub/b.txt}
# 2: (umoci's own diff) deletes /data/gone.txt, a whiteout umoci writes; adds /data/new.txt
# 3: (an archive umoci adds verbatim) /data/old replaced wholesale: an opaque directory with
#    only fresh.txt
# config: Entrypoint /bin/sh /app/show.sh, Cmd from-cmd, Env GREETING IMAGE_ONLY PATH,
#         WorkingDir /data/old. show.sh also lists / (the same in both modes; no lost+found).
OCI=$TOP/oci
SHOW='#!/bin/sh
echo "args: $*"
echo "pwd: $(pwd)"
echo "env: greeting=$GREETING image_only=$IMAGE_ONLY unit_only=${UNIT_ONLY:-unset}"
echo "gone: $(cat /data/gone.txt 2>/dev/null || echo absent)"
echo "old:" $(cd /data/old && find . | sort)
echo "keep: $(cat /data/keep.txt) new: $(cat /data/new.txt 2>/dev/null || echo absent)"
echo "top: $(cat /top/gz.txt 2>/dev/null || echo no-gz) $(cat /top/zst.txt 2>/dev/null || echo no-zst)"
echo "root:" $(ls -A / | sort)'
build_image() {
        oci_new "$OCI" app:1 &&
                oci_repack "$OCI" app:1 'busybox_layer . && mkdir -p app data/old/sub &&
                        printf "%s\n" "$SHOW" >app/show.sh && chmod 755 app/show.sh &&
                        echo gone >data/gone.txt && echo keep >data/keep.txt &&
                        echo a >data/old/a.txt && echo b >data/old/sub/b.txt' &&
                oci_repack "$OCI" app:1 'rm data/gone.txt && echo new >data/new.txt' || return 1
        mkdir -p "$TOP/opq/data/old"
        : >"$TOP/opq/data/old/.wh..wh..opq"
        echo fresh >"$TOP/opq/data/old/fresh.txt"
        tar --numeric-owner --sort=name --mtime=@0 -C "$TOP/opq" -cf "$TOP/opq.tar" . &&
                oci_add_tar "$OCI" app:1 "$TOP/opq.tar" &&
                oci_config "$OCI" app:1 --config.entrypoint /bin/sh --config.entrypoint /app/show.sh \
                        --config.cmd from-cmd --config.env GREETING=image --config.env IMAGE_ONLY=yes \
                        --config.env PATH=/bin --config.workingdir /data/old
}
build_image >"$TOP/build.log" 2>&1 || { echo "FAIL: cannot build the test image: $(tail -5 "$TOP/build.log")"; exit 1; }
# The hex of each layer's diff_id, bottom first: the names of the store's layers/ directories.
mapfile -t DIFF_IDS < <(oci_diff_ids "$OCI" app:1 | sed 's/^sha256://')
[ "${#DIFF_IDS[@]}" = 3 ] || { echo "FAIL: the test image has ${#DIFF_IDS[@]} layers, expected 3"; exit 1; }

# Two tar: layers on top: .tar.gz replaces /data/keep.txt, .tar.zst adds a whiteout of
# /data/new.txt (a tar: layer's whiteouts are honoured too).
mkdir -p "$TOP/gz/top" "$TOP/gz/data" "$TOP/zst/top" "$TOP/zst/data"
echo gz >"$TOP/gz/top/gz.txt"
echo from-gz >"$TOP/gz/data/keep.txt"
echo zst >"$TOP/zst/top/zst.txt"
: >"$TOP/zst/data/.wh.new.txt"
tar_layer "$TOP/gz" "$TOP/top.tar.gz" && tar_layer "$TOP/zst" "$TOP/top.tar.zst" ||
        { echo "FAIL: cannot make the tar layers"; exit 1; }

STORE_REL=state/images
layers_dir() { echo "$CASE_DIR/$STORE_REL/layers"; }
# store_layers: the unpacked layers of the case's store (the directories of layers/), sorted.
store_layers() { find "$(layers_dir)" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort; }
logged() { grep -q -- "$2" "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
stdout_of() { grep ' stdout ' "$CASE_DIR/state/logs/$1.log" | cut -d' ' -f3-; }

# image_unit NAME ISOLATION LAYERS-YAML REST: a unit of LAYERS-YAML (the items of image.layers).
image_unit() {
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
isolation: $2
image:
  layers:
$3
network: none
stop: {timeout: 2s}
$4
UNIT
}
OCI_ITEM="    - oci: $OCI
      ref: \"app:1\""
TAR_ITEMS="    - tar: $TOP/top.tar.gz
    - tar: $TOP/top.tar.zst"

begin "an umoci image with a whiteout and an opaque directory, under two tar: layers, runs alike in $MODES (a whiteout or opaque directory not honoured resurrects deleted files; image defaults lost or winning over the unit)"
for mode in $MODES; do
        image_unit "img-$mode" "$mode" "$OCI_ITEM
$TAR_ITEMS" "args: [from-args]
env: {GREETING: unit, UNIT_ONLY: set}
restart: {policy: 'no'}"
done
# Without command and args, the image's Entrypoint and Cmd run.
image_unit cmd-process process "$OCI_ITEM" "restart: {policy: 'no'}"
# What the workload must see: the args, the image's WorkingDir, its Env under the unit's, the
# whited-out file absent, the opaque directory's old contents absent, the tar: layers on top.
want="args: from-args
pwd: /data/old
env: greeting=unit image_only=yes unit_only=set
gone: absent
old: . ./fresh.txt
keep: from-gz new: absent
top: gz zst"
case_run() {
        start_units || return
        units="img-process cmd-process"
        [[ $MODES == *hyperv* ]] && units+=" img-hyperv"
        for u in $units; do
                await 120 "$u" exited || fail "$u did not exit: $(field "$u" state) $(field "$u" reason)"
        done
        for mode in $MODES; do
                got=$(stdout_of "img-$mode" | grep -v '^root:')
                [ "$got" = "$want" ] || fail "$mode: the workload saw [$(tr '\n' ';' <<<"$got")], expected [$(tr '\n' ';' <<<"$want")]"
        done
        # The image has no lost+found: neither root may show one (an ext4 layer disk's did, in
        # hyperv only), and both modes list the same root.
        for mode in $MODES; do
                if stdout_of "img-$mode" | grep -q '^root: .*lost+found'; then
                        fail "$mode: a lost+found the image does not have: $(stdout_of "img-$mode" | grep '^root:')"
                fi
        done
        if [ "$MODES" = "process hyperv" ]; then
                diff <(stdout_of img-process) <(stdout_of img-hyperv) >"$CASE_DIR/diff" ||
                        fail "the modes differ: $(cat "$CASE_DIR/diff")"
        fi
        got=$(stdout_of cmd-process | sed -n 1,2p | tr '\n' ' ')
        [ "$got" = "args: from-cmd pwd: /data/old " ] || fail "without command/args: $got, expected the image's Cmd and WorkingDir"
        log "$(stdout_of img-process | tr '\n' ';')"
}
case_run
end

begin "two units of one image share its unpacked layers (process: the same inode) and their disks (hyperv: the same files open in both QEMUs), each unpacked once (a layer copied per unit, or unpacked twice by a race)"
SLEEPER="command: [/bin/sh, -c, 'echo \"ino \$(stat -c %i /bin/busybox) \$(stat -c %i /data/keep.txt)\"; exec sleep 600']"
for mode in $MODES; do
        for n in 1 2; do image_unit "share-$mode-$n" "$mode" "$OCI_ITEM" "$SLEEPER"; done
done
case_run() {
        SUP_VM_BOOT_TIMEOUT=600 start_units || return
        for mode in $MODES; do
                for n in 1 2; do
                        await 600 "share-$mode-$n" running && wait_for 10 logged "share-$mode-$n" "stdout ino" ||
                                fail "share-$mode-$n did not run: $(field "share-$mode-$n" state) $(field "share-$mode-$n" reason)"
                done
        done
        [ "$(store_layers)" = "$(printf '%s\n' "${DIFF_IDS[@]}" | sort)" ] ||
                fail "the store's layers are not the image's three, once each: $(store_layers | tr '\n' ' ')"
        ino() { stdout_of "$1" | sed -n 's/^ino //p' | head -n1; }
        host_ino="$(stat -c %i "$(layers_dir)/${DIFF_IDS[0]}/bin/busybox") $(stat -c %i "$(layers_dir)/${DIFF_IDS[0]}/data/keep.txt")"
        for n in 1 2; do
                [ "$(ino "share-process-$n")" = "$host_ino" ] ||
                        fail "share-process-$n sees inodes $(ino "share-process-$n"), the store's layer has $host_ino"
        done
        if [[ $MODES == *hyperv* ]]; then
                # disks QEMU-PID: the store's disks the VM has open, sorted.
                disks() {
                        local fd
                        for fd in /proc/"$1"/fd/*; do readlink "$fd"; done 2>/dev/null |
                                grep "^$CASE_DIR/$STORE_REL/disks/" | sort -u
                }
                d1=$(disks "$(field share-hyperv-1 pid)") d2=$(disks "$(field share-hyperv-2 pid)")
                [ -n "$d1" ] && [ "$d1" = "$d2" ] || fail "the VMs do not share their layer disks: [$d1] [$d2]"
                for h in "${DIFF_IDS[@]}"; do
                        grep -q "/disks/$h\.erofs$" <<<"$d1" || fail "no disk of layer $h open in the VMs: $d1"
                done
                n=$(find "$CASE_DIR/$STORE_REL/disks" -maxdepth 1 -type f -name '*.erofs' | wc -l)
                [ "$n" = 3 ] || fail "$n layer disks in the store, expected 3 (built once each)"
                # The same disk: the guests see the same file system, inode numbers included.
                [ "$(ino share-hyperv-1)" = "$(ino share-hyperv-2)" ] ||
                        fail "the guests see different inodes: $(ino share-hyperv-1) / $(ino share-hyperv-2)"
                log "disks: $(tr '\n' ' ' <<<"$d1" | sed "s|$CASE_DIR/||g")"
        fi
}
case_run
end

begin "hostile tar: layers fail the start, nothing written outside, nothing marked complete (a path climbing out with ../, a write through a symlink the archive made, a hard link to a host file)"
mkdir -p "$TOP/outside"
echo "host content" >"$TOP/outside/host.txt"
hostile_tar traversal "$TOP/traversal.tar" "$TOP/outside/traversal"
hostile_tar symlink "$TOP/symlink.tar" "$TOP/outside/through"
hostile_tar hardlink "$TOP/hardlink.tar" "$TOP/outside/host.txt"
for k in traversal symlink hardlink; do
        image_unit "evil-$k" process "$OCI_ITEM
    - tar: $TOP/$k.tar" "command: [/bin/true]
restart: {policy: 'no'}"
done
case_run() {
        start_units || return
        for k in traversal symlink hardlink; do
                await 60 "evil-$k" failed || fail "evil-$k: $(field "evil-$k" state), expected failed"
                reason=$(field "evil-$k" reason)
                [[ $reason == *"$k.tar"* ]] || fail "evil-$k: the reason does not name the layer: $reason"
                log "evil-$k: $reason"
        done
        [ "$(ls -A "$TOP/outside")" = host.txt ] || fail "written outside the layer: $(ls -A "$TOP/outside" | tr '\n' ' ')"
        [ "$(cat "$TOP/outside/host.txt")" = "host content" ] || fail "the host file was overwritten through a hard link"
        [ "$(store_layers)" = "$(printf '%s\n' "${DIFF_IDS[@]}" | sort)" ] ||
                fail "a hostile layer was marked complete: layers/ holds $(store_layers | tr '\n' ' ')"
        left=$(find "$CASE_DIR/$STORE_REL/tmp" -mindepth 1 2>/dev/null | head -n 3)
        [ -z "$left" ] || fail "partial layers left in tmp/: $left"
}
case_run
end

begin "an oci: layout whose blob was swapped is refused, nothing of it unpacked (a tampered or corrupted layout); a missing ref is named"
cp -a "$OCI" "$TOP/oci-bad"
top=$(oci_layers "$OCI" app:1 | tail -n1)
mkdir -p "$TOP/swap/data/old"
echo "not what the manifest promised" >"$TOP/swap/data/old/evil.txt"
oci_swap_blob "$TOP/oci-bad" "$top" "$TOP/swap" || fail "cannot swap the blob"
gzip -t "$(oci_blob "$TOP/oci-bad" "$top")" || fail "the swapped blob is not a valid gzip stream"
image_unit tampered process "    - oci: $TOP/oci-bad
      ref: \"app:1\"" "command: [/bin/true]
restart: {policy: 'no'}"
image_unit noref process "    - oci: $OCI
      ref: \"nosuch:9\"" "command: [/bin/true]
restart: {policy: 'no'}"
case_run() {
        start_units || return
        await 60 tampered failed || fail "tampered: $(field tampered state), expected failed"
        reason=$(field tampered reason)
        [[ $reason == *"${top#sha256:}"* && $reason == *digest* ]] ||
                fail "tampered: the reason does not say which blob's digest is wrong: $reason"
        log "tampered: $reason"
        [ ! -e "$(layers_dir)/${DIFF_IDS[2]}" ] || fail "the swapped layer's diff_id was marked complete"
        grep -rqs "not what the manifest promised" "$(layers_dir)" && fail "the swapped blob's content is in the store"
        await 60 noref failed || fail "noref: $(field noref state), expected failed"
        [[ $(field noref reason) == *nosuch:9* ]] || fail "noref: the reason does not name the ref: $(field noref reason)"
        log "noref: $(field noref reason)"
}
case_run
end

finish
