#!/bin/bash
# registry: layers pulled from a registry with skopeo into supd's store (STATE/images), against a
# local registry (Debian's docker-registry on 127.0.0.1, plain HTTP, started by this test), as root:
#   test-registry.sh SUPD SUPCTL SUP_MONITOR SUP_INIT|-
# Each case starts its own supd on private directories and names the fault it stops. Exit 77
# (skip) without root, busybox, overlayfs, umoci, skopeo or docker-registry; the hyperv half is
# skipped (said so) without QEMU or a guest kernel; SUP_TESTS_MUST_WORK=1 turns either into a
# failure. SUP_GUEST_DIR: the guest kernel's state dir (default /var/lib/sup/guest).
set -uo pipefail

source "$(dirname "$(realpath "$0")")/image-lib.sh"
image_test_setup supregistry "$@"
trap 'registry_stop; cleanup' EXIT
registry_start "$TOP/registry" || { echo "FAIL: cannot start the local registry"; exit 1; }
echo "registry on $REGISTRY"

# Version 1 and 2 of one image, pushed in turn under the same tag: busybox and /version; the
# config's command prints it and the image's env.
V1=$TOP/v1 V2=$TOP/v2
build_images() {
        oci_new "$V1" app:1 &&
                oci_repack "$V1" app:1 'busybox_layer . && echo 1 >version' &&
                oci_config "$V1" app:1 --config.entrypoint /bin/sh --config.entrypoint -c \
                        --config.cmd 'echo "version $(cat /version) greeting $GREETING"' --config.env GREETING=image &&
                cp -a "$V1" "$V2" &&
                oci_repack "$V2" app:1 'echo 2 >version' && umoci gc --layout "$V2"
}
build_images >"$TOP/build.log" 2>&1 || { echo "FAIL: cannot build the test images: $(tail -5 "$TOP/build.log")"; exit 1; }
REF=$REGISTRY/demo/app:1
registry_push "$V1" app:1 demo/app:1 || { echo "FAIL: skopeo cannot push to $REGISTRY"; exit 1; }
D1=$(registry_digest demo/app:1)
[ "$D1" = "$(oci_manifest_digest "$V1" app:1)" ] || { echo "FAIL: the registry serves $D1, not what was pushed"; exit 1; }

STORE_REL=state/images
logged() { grep -q -- "$2" "$CASE_DIR/state/logs/$1.log" 2>/dev/null; }
# stored_ref REFERENCE: the manifest digest the store's refs/ records REFERENCE as pulled at.
stored_ref() {
        "$PY" - "$CASE_DIR/$STORE_REL/refs" "$1" <<'EOF'
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/*.json"):
    r = json.load(open(f))
    if r.get("reference") in (sys.argv[2], "docker://" + sys.argv[2]):
        print(r.get("manifest", ""))
EOF
}
# status_images UNIT: the manifest digests `supctl status` says UNIT's instance runs.
status_images() {
        ctl status --json 2>/dev/null | "$PY" -c '
import json, sys
for u in json.load(sys.stdin):
    if u["name"] == sys.argv[1]:
        print(" ".join((u.get("image") or {}).get("images") or []))' "$1"
}
# store_part DIR: the first entries of the store's DIR (refs, layers, blobs, tmp) but empty
# directories (the store makes its own), empty if none.
store_part() { find "$CASE_DIR/$STORE_REL/$1" -mindepth 1 \( ! -type d -o ! -empty \) 2>/dev/null | head -n 3; }

# reg_unit NAME ISOLATION PULL REST: a unit of the registry's image (plain HTTP), image.pull PULL.
reg_unit() {
        cat >"$CASE_DIR/units/$1.yaml" <<UNIT
isolation: $2
image:
  layers:
    - registry: $REF
      tls_verify: false
  pull: $3
${4:-}
network: none
stop: {timeout: 2s}
restart: {policy: 'no'}
UNIT
}

begin "a registry: unit pulls the image and runs it in $MODES (both at once: one pull, one unpack); the store records the digest pulled"
for mode in $MODES; do reg_unit "reg-$mode" "$mode" missing "env: {GREETING: unit}"; done
case_run() {
        SUP_VM_BOOT_TIMEOUT=600 start_units || return
        for mode in $MODES; do
                await 600 "reg-$mode" exited ||
                        fail "reg-$mode did not exit: $(field "reg-$mode" state) $(field "reg-$mode" reason)"
                logged "reg-$mode" "stdout version 1 greeting unit" ||
                        fail "reg-$mode: not the image's command with the unit's env: $(grep stdout "$CASE_DIR/state/logs/reg-$mode.log")"
        done
        [ "$(stored_ref "$REF")" = "$D1" ] || fail "the store records $REF as '$(stored_ref "$REF")', the registry serves $D1"
        n=$(find "$CASE_DIR/$STORE_REL/layers" -mindepth 1 -maxdepth 1 -type d | wc -l)
        [ "$n" = 1 ] || fail "$n layers unpacked, the image has 1"
        [ -z "$(store_part tmp)" ] || fail "a pull left files in tmp/: $(store_part tmp)"
}
case_run
end

begin "pull: never without the image in the store is a clear start error, and nothing is pulled (a never policy that still contacts the registry)"
reg_unit never process never
case_run() {
        start_units || return
        await 60 never failed || fail "never: $(field never state), expected failed"
        reason=$(field never reason)
        [[ $reason == *"demo/app:1"* ]] || fail "never: the reason does not name the image: $reason"
        log "never: $reason"
        [ -z "$(store_part refs)$(store_part blobs)$(store_part layers)" ] ||
                fail "pull: never pulled: $(store_part refs) $(store_part blobs) $(store_part layers)"
}
case_run
end

begin "pull: always gets the tag's new image at the next start, pull: missing keeps the one it has and runs without the registry (a stale tag; a registry outage stopping restarts)"
reg_unit always process always
reg_unit missing process missing
case_run() {
        start_units || return
        for u in always missing; do
                await 120 $u exited || fail "$u did not exit: $(field $u state) $(field $u reason)"
                logged $u "stdout version 1" || fail "$u: did not run version 1"
        done
        registry_push "$V2" app:1 demo/app:1 || fail "skopeo cannot push version 2"
        D2=$(registry_digest demo/app:1)
        [ "$D2" != "$D1" ] || fail "version 2 has version 1's digest"
        # missing first: it must not pull, so that always's pull is the only one.
        ctl start missing >/dev/null || fail "supctl start missing"
        wait_for 60 eval '[ "$(grep -c "stdout version" "$CASE_DIR/state/logs/missing.log")" = 2 ]' || fail "missing did not run again"
        [ "$(grep "stdout version" "$CASE_DIR/state/logs/missing.log" | tail -n1 | cut -d' ' -f3-)" = "version 1 greeting image" ] ||
                fail "pull: missing pulled again: $(grep "stdout version" "$CASE_DIR/state/logs/missing.log" | tail -n1)"
        ctl start always >/dev/null || fail "supctl start always"
        wait_for 120 logged always "stdout version 2" ||
                fail "pull: always ran the old image: $(grep "stdout version" "$CASE_DIR/state/logs/always.log" | tr '\n' ' ') $(field always reason)"
        [ "$(stored_ref "$REF")" = "$D2" ] || fail "the store records $REF as '$(stored_ref "$REF")' after the pull, the registry serves $D2"
        [ "$(status_images always)" = "$D2" ] || fail "supctl status says always runs $(status_images always), not $D2"
        [ "$(status_images missing)" = "$D1" ] || fail "supctl status says missing runs $(status_images missing), not $D1"
        log "always: $D1 -> $(stored_ref "$REF")"
        # With the registry gone, a unit that has its image starts all the same.
        registry_stop
        ctl start missing >/dev/null || fail "supctl start missing"
        wait_for 60 eval '[ "$(grep -c "stdout version" "$CASE_DIR/state/logs/missing.log")" = 3 ]' ||
                fail "pull: missing needed the registry: $(field missing state) $(field missing reason)"
}
case_run
end

begin "a failed pull (the registry is down) is a start error with skopeo's message, nothing half-written in the store (a ref to layers that never arrived)"
[ -z "$REGISTRY_PID" ] || registry_stop
reg_unit down process always
case_run() {
        start_units || return
        await 120 down failed || fail "down: $(field down state), expected failed"
        reason=$(field down reason)
        [[ $reason == *"connection refused"* && $reason == *"$REGISTRY"* ]] ||
                fail "down: the reason is not skopeo's (connection refused to $REGISTRY): $reason"
        log "down: $reason"
        [ -z "$(store_part refs)$(store_part layers)$(store_part tmp)" ] ||
                fail "the failed pull left: $(store_part refs) $(store_part layers) $(store_part tmp)"
}
case_run
end

finish
