#!/bin/bash
# supctl image end to end, as root, against a real registry: Debian's docker-registry on
# 127.0.0.1 (its own config, a free port, plain HTTP), images built by umoci and pushed by skopeo.
#   test-image-cli.sh SUPD SUPCTL SUP_MONITOR
# Each case starts its own supd on private directories (its own image store). Exit 77 (skip)
# without root or the tools, unless SUP_TESTS_MUST_WORK=1 turns that into a failure.
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3")
source "$(dirname "$(realpath "$0")")/lib.sh"
source "$(dirname "$(realpath "$0")")/case-supd.sh"

for tool in umoci skopeo docker-registry; do
        command -v "$tool" >/dev/null || skip "needs $tool"
done
supd_test_setup imgcli
LAYER=$TOP/layer
busybox_layer "$LAYER"

REGISTRY_PID=
on_exit() {
        [ -n "$REGISTRY_PID" ] && kill "$REGISTRY_PID" 2>/dev/null && wait "$REGISTRY_PID" 2>/dev/null
        cleanup
}
trap on_exit EXIT

# --- the registry: its storage and config in TOP, on a port nobody else has -------------------
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
mkdir -p "$TOP/registry"
cat > "$TOP/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $TOP/registry/data
http:
  addr: $REG
EOF
docker-registry serve "$TOP/registry/config.yml" > "$TOP/registry/log" 2>&1 &
REGISTRY_PID=$!
registry_up() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen("http://%s/v2/" % sys.argv[1], timeout=1)' "$REG" 2>/dev/null; }
wait_for 10 registry_up || { cat "$TOP/registry/log"; echo "FAIL: the registry did not start"; exit 1; }

# --- two images of one busybox layer and a marker file each, by umoci; pushed by skopeo --------
# build_image NAME: oci:$TOP/oci:NAME, its Cmd printing /marker, two history steps.
build_image() {
        local bundle=$TOP/bundle-$1
        umoci new --image "$TOP/oci:$1" &&
                umoci unpack --image "$TOP/oci:$1" "$bundle" >/dev/null &&
                busybox_layer "$bundle/rootfs" &&
                echo "image $1" > "$bundle/rootfs/marker" &&
                umoci repack --image "$TOP/oci:$1" --history.created_by "sup-test: busybox and the marker of $1" "$bundle" &&
                umoci config --image "$TOP/oci:$1" --config.cmd /bin/cat --config.cmd /marker \
                        --history.created_by "sup-test: the command of $1" &&
                skopeo copy --quiet --dest-tls-verify=false "oci:$TOP/oci:$1" "docker://$REG/sup/$1:v1"
}
umoci init --layout "$TOP/oci" || { echo "FAIL: umoci init"; exit 1; }
for name in one two; do
        build_image $name || { echo "FAIL: cannot build and push the image $name"; exit 1; }
done
# The digest the registry serves for a reference (what a pull must record).
registry_digest() { skopeo inspect --tls-verify=false "docker://$REG/$1" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["Digest"])'; }
ONE=$REG/sup/one:v1 TWO=$REG/sup/two:v1
ONE_DIGEST=$(registry_digest sup/one:v1) TWO_DIGEST=$(registry_digest sup/two:v1)

# json_get EXPRESSION: evaluates a Python expression over the JSON on stdin (as j).
json_get() { "$PY" -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# ---------------------------------------------------------------------------------------------

begin "image pull: the registry's digest; a plain-HTTP registry needs --tls-verify=false"
start_supd
[ "$(stat -c %a "$CASE_DIR/state/images")" = 700 ] || fail "the store is not root's alone: $(stat -c %a "$CASE_DIR/state/images")"
out=$(ctl image pull "$ONE" 2>&1) && fail "a pull over TLS from a plain-HTTP registry succeeded: $out"
grep -q "$ONE" <<<"$out" || fail "the error does not name the reference: $out"
out=$(ctl image pull --tls-verify=false "$ONE" 2>&1) || fail "pull failed: $out"
[ "$out" = "$ONE_DIGEST" ] || fail "pull printed \"$out\", the registry serves $ONE_DIGEST"
out=$(ctl image pull --tls-verify=false --json "$TWO" 2>&1) || fail "pull --json failed: $out"
[ "$(json_get 'j["digest"]' <<<"$out")" = "$TWO_DIGEST" ] || fail "pull --json: $out"
out=$(ctl image pull --tls-verify=false "$REG/sup/none:v1" 2>&1) && fail "a pull of a missing image succeeded: $out"
grep -q "sup/none:v1" <<<"$out" || fail "the error does not name the missing reference: $out"
# Each pull is an event of supd's stream (docs/events.md), done with its digest or failed with why.
out=$(ctl events --since 1h --until 0s)
grep -q "Z pull $ONE done $ONE_DIGEST$" <<<"$out" || fail "no event of the pull of $ONE: $out"
grep -q "Z pull $REG/sup/none:v1 failed: " <<<"$out" || fail "no event of the failed pull: $out"
end

begin "image ls and inspect: names, digests, sizes, layers, history"
start_supd
ctl image pull --tls-verify=false "$ONE" >/dev/null || fail "pull $ONE"
ctl image pull --tls-verify=false "$TWO" >/dev/null || fail "pull $TWO"
out=$(ctl image ls 2>&1) || fail "image ls: $out"
log "$(head -3 <<<"$out")"
row=$(grep -F "$ONE " <<<"$out")
[ -n "$row" ] || fail "image ls lacks $ONE: $out"
grep -q "${ONE_DIGEST:7:12}" <<<"$row" || fail "image ls shows not the short digest of $ONE: $row"
json=$(ctl image ls --json) || fail "image ls --json"
[ "$(json_get "sorted(i['digest'] for i in j)" <<<"$json")" = "$(json_get 'sorted(j)' <<<"[\"$ONE_DIGEST\", \"$TWO_DIGEST\"]")" ] ||
        fail "image ls --json: not the two images pulled: $json"
[ "$(json_get "[i for i in j if i['digest'] == '$ONE_DIGEST'][0]['names']" <<<"$json")" = "['$ONE']" ] ||
        fail "image ls --json: the names of $ONE: $json"
[ "$(json_get "[i['layers'] for i in j if i['digest'] == '$ONE_DIGEST'][0]" <<<"$json")" = 1 ] ||
        fail "image ls --json: $ONE has one layer: $json"
[ "$(json_get "[i['size'] for i in j if i['digest'] == '$ONE_DIGEST'][0] > 100000" <<<"$json")" = True ] ||
        fail "image ls --json: the size of $ONE (a busybox layer) is too small: $json"
out=$(ctl image inspect "$ONE" 2>&1) || fail "image inspect: $out"
grep -q "$ONE_DIGEST" <<<"$out" || fail "inspect lacks the digest: $out"
grep -q 'layers (bottom first): 1' <<<"$out" || fail "inspect lacks the layers: $out"
grep -q 'sup-test: busybox and the marker of one' <<<"$out" || fail "inspect lacks the history: $out"
grep -q '/marker' <<<"$out" || fail "inspect lacks the image's Cmd: $out"
# By a digest prefix, as docker takes an image ID; --json is the store's record.
json=$(ctl image inspect --json "${TWO_DIGEST:7:12}") || fail "inspect by a digest prefix"
[ "$(json_get 'j["digest"]' <<<"$json")" = "$TWO_DIGEST" ] || fail "inspect by prefix found another image: $json"
[ "$(json_get 'len(j["history"])' <<<"$json")" -ge 2 ] || fail "inspect --json: the history: $json"
out=$(ctl image inspect "$REG/sup/none:v1" 2>&1) && fail "inspect of a missing image succeeded: $out"
grep -q 'no image' <<<"$out" || fail "unclear error for a missing image: $out"
end

begin "--socket-group: a member may list and inspect images, not pull or prune"
start_supd --socket-group nogroup
ctl image pull --tls-verify=false "$ONE" >/dev/null || fail "pull $ONE"
chmod 755 "$CASE_DIR" "$CASE_DIR/run" "$TOP"
as_member() { setpriv --reuid=65534 --regid=65534 --clear-groups "$SUPCTL" --socket "$CASE_DIR/run/supd.sock" "$@"; }
out=$(as_member image ls 2>&1) || fail "a member cannot list the images: $out"
grep -qF "$ONE " <<<"$out" || fail "a member's image ls lacks $ONE: $out"
as_member image inspect "$ONE" >/dev/null 2>&1 || fail "a member cannot inspect an image"
out=$(as_member image pull --tls-verify=false "$TWO" 2>&1) && fail "a member pulled: $out"
grep -q 'root only' <<<"$out" || fail "unclear refusal of a member's pull: $out"
out=$(as_member image prune 2>&1) && fail "a member pruned: $out"
grep -q 'root only' <<<"$out" || fail "unclear refusal of a member's prune: $out"
out=$(as_member events --since 1h --until 0s 2>&1) || fail "a member cannot read the events: $out"
grep -q "Z pull $ONE done " <<<"$out" || fail "a member's events lack the pull: $out"
[ "$(ctl image ls --json | json_get 'len(j)')" = 1 ] || fail "the member's requests changed the store"
end

begin "image prune: --dry-run says what, removes nothing; prune removes what no unit uses"
start_supd
ctl image pull --tls-verify=false "$ONE" >/dev/null || fail "pull $ONE"
ctl image pull --tls-verify=false "$TWO" >/dev/null || fail "pull $TWO"
before=$(find "$CASE_DIR/state/images" | sort)
out=$(ctl image prune --dry-run 2>&1) || fail "prune --dry-run: $out"
log "$(tail -1 <<<"$out")"
grep -q "would remove image $ONE_DIGEST" <<<"$out" || fail "the dry run does not list $ONE: $out"
grep -q "would remove layer sha256:" <<<"$out" || fail "the dry run lists no layer: $out"
[ "$(find "$CASE_DIR/state/images" | sort)" = "$before" ] || fail "the dry run changed the store"
json=$(ctl image prune --dry-run --json) || fail "prune --dry-run --json"
[ "$(json_get 'j["bytes"] > 100000' <<<"$json")" = True ] || fail "the dry run frees too little: $json"
out=$(ctl image prune 2>&1) || fail "prune: $out"
grep -q "removed image $TWO_DIGEST" <<<"$out" || fail "prune did not remove $TWO: $out"
[ "$(ctl image ls --json | json_get 'len(j)')" = 0 ] || fail "images left after prune: $(ctl image ls)"
[ -z "$(ls -A "$CASE_DIR/state/images/layers")" ] || fail "layers left after prune: $(ls "$CASE_DIR/state/images/layers")"
end

begin "supd stopped while a pull waits on a registry: the client is told, supd exits"
# A "registry" that accepts and never answers: the pull waits in its worker process.
SILENT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" - "$SILENT" "$CASE_DIR/accepted" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(60)
held = []
try:
    while True:
        held.append(s.accept()[0]); open(sys.argv[2], "a").write("x")
except socket.timeout: pass
PY
SILENT_PID=$!
# And a unit whose start pulls from it: its status shows the pull while it waits (where units
# have registry: layers; see the last case).
cat > "$CASE_DIR/units/slow.yaml" <<UNIT
image:
  layers:
    - registry: 127.0.0.1:$SILENT/sup/slow:v1
      tls_verify: false
network: none
command: [/bin/true]
UNIT
"$SUPCTL" validate "$CASE_DIR/units/slow.yaml" >/dev/null 2>&1 || fail "a registry: unit is refused: $("$SUPCTL" validate "$CASE_DIR/units/slow.yaml" 2>&1)"
start_supd
ctl image pull --tls-verify=false "127.0.0.1:$SILENT/sup/silent:v1" > "$CASE_DIR/pull.out" 2>&1 &
PULL_PID=$!
wait_for 20 test -s "$CASE_DIR/accepted" || fail "the pull never reached the registry"
wait_for 20 eval 'ctl status slow | grep -q "pulling: 127.0.0.1:$SILENT/sup/slow:v1: [0-9]*/[0-9]* layers, [0-9]*/[0-9]* bytes"' ||
        fail "status slow does not show its pull: $(ctl status slow)"
ctl status | grep '^slow ' | grep -q "pulling 127.0.0.1:$SILENT/sup/slow:v1" ||
        fail "the status table does not show the pull: $(ctl status)"
log "$(ctl status slow | grep 'pulling:')"
stop_supd
wait "$PULL_PID" && fail "the pull succeeded: $(cat "$CASE_DIR/pull.out")"
grep -q 'supd is exiting' "$CASE_DIR/pull.out" || fail "the client was not told: $(cat "$CASE_DIR/pull.out")"
kill "$SILENT_PID" 2>/dev/null; wait "$SILENT_PID" 2>/dev/null
# skopeo dies with the worker or monitor that ran it (PR_SET_PDEATHSIG): none is left once supd
# and its monitors are gone (a pull nobody waits for any more, left running).
wait_for 10 eval '! pgrep -f "docker://127.0.0.1:$SILENT/sup/" >/dev/null' ||
        fail "skopeo outlived supd: $(pgrep -af "docker://127.0.0.1:$SILENT/sup/")"
pkill -f "docker://127.0.0.1:$SILENT/sup/" 2>/dev/null
end

begin "a unit running a registry image: status names it; prune keeps it, and lets it go once the unit is removed"
cat > "$CASE_DIR/units/web.yaml" <<UNIT
image:
  layers:
    - registry: $ONE
      tls_verify: false
network: none
stop: {timeout: 2s}
command: [/bin/sh, -c, "cat /marker; exec sleep 1000"]
UNIT
out=$("$SUPCTL" validate "$CASE_DIR/units/web.yaml" 2>&1) || fail "a registry: unit is refused: $out"
start_supd
ctl image pull --tls-verify=false "$TWO" >/dev/null || fail "pull $TWO"
wait_for 30 eval 'state_is web running || [ -n "$(field web reason)" ]'
reason=$(field web reason)
state_is web running || fail "web is not running: $(field web state) $reason"
out=$(ctl status web)
grep -q "image: $ONE_DIGEST (1 layer)" <<<"$out" || fail "status web does not name its image: $out"
grep -F "$ONE " <<<"$(ctl image ls)" | grep -q " web$" ||
        fail "image ls does not say web uses $ONE: $(ctl image ls)"
out=$(ctl image prune 2>&1) || fail "prune: $out"
grep -q "removed image $TWO_DIGEST" <<<"$out" || fail "prune kept the unused $TWO: $out"
grep -q "$ONE_DIGEST" <<<"$out" && fail "prune removed what web uses: $out"
[ "$(ctl image ls --json | json_get '[i["digest"] for i in j]')" = "['$ONE_DIGEST']" ] ||
        fail "after prune: $(ctl image ls)"
state_is web running || fail "web stopped running after the prune"
# Removed from the units: once its instance is gone, the store forgets it, and prune
# takes its image.
rm "$CASE_DIR/units/web.yaml"
ctl reload >/dev/null || fail "reload"
wait_for 10 eval '! ctl status web >/dev/null 2>&1' || fail "web was not removed"
wait_for 10 eval 'ctl image ls | grep -F "$ONE " | grep -q " -$"' || fail "the store still names web: $(ctl image ls)"
out=$(ctl image prune 2>&1) || fail "prune after the removal: $out"
grep -q "removed image $ONE_DIGEST" <<<"$out" || fail "prune kept the image of a removed unit: $out"
end

finish
