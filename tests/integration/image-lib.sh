# Image fixtures of the integration tests (test-image.sh, test-registry.sh), sourced after
# `set -uo pipefail` (it sources lib.sh and case-supd.sh): OCI image layouts built by umoci, layer
# archives made by tar/zstd, hostile archives, and a local registry (Debian's docker-registry on
# 127.0.0.1) that skopeo pushes to. Nothing here is hand-written JSON: every manifest, config and
# index comes from umoci or skopeo.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/case-supd.sh"

EPOCH=1970-01-01T00:00:00Z
REGISTRY= REGISTRY_PID= REGISTRY_DIR=

# require_image_tools: skips unless umoci, skopeo, tar and zstd are there.
require_image_tools() {
        local t
        for t in umoci skopeo tar zstd gzip; do
                command -v "$t" >/dev/null || skip "needs $t (apt-get install umoci skopeo zstd)"
        done
}

# oci_new LAYOUT REF: an empty image REF (an org.opencontainers.image.ref.name) in the layout
# LAYOUT, created if missing; its dates fixed, so that the same content gives the same digests.
oci_new() {
        [ -f "$1/index.json" ] || umoci init --layout "$1" || return 1
        umoci new --image "$1:$2" &&
                umoci config --image "$1:$2" --no-history --created "$EPOCH" --architecture amd64 --os linux
}

# oci_repack LAYOUT REF SCRIPT: a layer the way umoci makes one: unpack REF into a bundle, run
# SCRIPT (a shell command) in the bundle's rootfs, repack; the layer is what changed, files the
# script deleted become umoci's whiteouts (.wh.NAME).
oci_repack() {
        local bundle
        bundle=$(mktemp -d "${TMPDIR:-/tmp}/oci-bundle.XXXXXX") && rmdir "$bundle" || return 1
        umoci unpack --image "$1:$2" "$bundle" >/dev/null || return 1
        (cd "$bundle/rootfs" && eval "$3") || { rm -rf "$bundle"; return 1; }
        umoci repack --image "$1:$2" --history.created "$EPOCH" --history.created_by "oci_repack: $3" "$bundle"
        local r=$?
        rm -rf "$bundle"
        return $r
}

# oci_add_tar LAYOUT REF TAR: the uncompressed archive TAR as the image's next layer, verbatim
# (umoci compresses it and records its digests): for entries umoci will not make from files,
# such as an opaque directory's marker .wh..wh..opq.
oci_add_tar() {
        umoci raw add-layer --image "$1:$2" --history.created "$EPOCH" \
                --history.created_by "oci_add_tar: $(basename "$3")" "$3"
}

# oci_config LAYOUT REF UMOCI-CONFIG-OPTIONS...: sets the image config (--config.entrypoint ...).
oci_config() {
        local layout=$1 ref=$2
        shift 2
        umoci config --image "$layout:$ref" --no-history --created "$EPOCH" "$@" && umoci gc --layout "$layout"
}

# oci_manifest_digest LAYOUT REF: the manifest digest (sha256:HEX) index.json names REF by.
oci_manifest_digest() {
        "$PY" -c '
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"])' "$1" "$2"
}

# oci_blob LAYOUT DIGEST: the path of a blob.
oci_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }

# oci_layers LAYOUT REF: the image's layer blob digests, bottom first, one a line.
oci_layers() {
        "$PY" -c '
import json, sys
print("\n".join(l["digest"] for l in json.load(open(sys.argv[1]))["layers"]))' \
                "$(oci_blob "$1" "$(oci_manifest_digest "$1" "$2")")"
}

# oci_diff_ids LAYOUT REF: the diff_ids of the image's layers (sha256:HEX), from its config.
oci_diff_ids() {
        skopeo inspect --config "oci:$1:$2" | "$PY" -c '
import json, sys
print("\n".join(json.load(sys.stdin)["rootfs"]["diff_ids"]))'
}

# tar_layer DIR OUT: DIR as a layer archive OUT, compressed as OUT's name says (.tar, .tar.gz,
# .tar.zst), made by GNU tar (and gzip/zstd) as an operator would.
tar_layer() {
        local flags=(--numeric-owner --sort=name --mtime=@0 -C "$1")
        case "$2" in
        *.tar.gz) tar "${flags[@]}" -czf "$2" . ;;
        *.tar.zst) tar "${flags[@]}" -cf - . | zstd -q -19 -o "$2" ;;
        *.tar) tar "${flags[@]}" -cf "$2" . ;;
        *) echo "tar_layer: unknown suffix: $2" >&2; return 1 ;;
        esac
}

# hostile_tar KIND OUT TARGET: an archive that tries to write TARGET (an absolute path outside any
# layer); GNU tar will not make these, so Python's tarfile writes the raw entries.
#   traversal   one file whose name climbs out with "../" until the root, then down to TARGET
#   symlink     a symlink "escape" to TARGET's directory, then a file "escape/NAME" through it
#               (the write-through an unpacker that follows links it just made falls for)
#   hardlink    a hard link "escape" to TARGET (a host file), then a file of that name that
#               would overwrite the host file through the link
hostile_tar() {
        "$PY" - "$@" <<'EOF'
import io, sys, tarfile
kind, out, target = sys.argv[1], sys.argv[2], sys.argv[3]
def add_file(t, name, data=b"pwned by a layer\n"):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
    t.addfile(ti, io.BytesIO(data))
with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
    add_file(t, "ok.txt", b"a harmless file first\n")
    if kind == "traversal":
        add_file(t, "../" * 40 + target.lstrip("/"))
    elif kind == "symlink":
        d, name = target.rsplit("/", 1)
        ti = tarfile.TarInfo("escape"); ti.type = tarfile.SYMTYPE; ti.linkname = d
        t.addfile(ti)
        add_file(t, "escape/" + name)
    elif kind == "hardlink":
        ti = tarfile.TarInfo("escape"); ti.type = tarfile.LNKTYPE; ti.linkname = target
        t.addfile(ti)
        add_file(t, "escape")
    else:
        sys.exit("hostile_tar: unknown kind " + kind)
EOF
}

# oci_swap_blob LAYOUT DIGEST DIR: replaces the gzip layer blob DIGEST with a gzip tar of DIR of
# exactly the blob's size (padded in the gzip header's comment field), so that its descriptor's
# size still matches and only the digest tells: a tampered or corrupted layout.
oci_swap_blob() {
        "$PY" - "$(oci_blob "$1" "$2")" "$3" <<'EOF'
import io, os, struct, sys, tarfile, zlib
blob, src = sys.argv[1], sys.argv[2]
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
    t.add(src, arcname=".")
data = raw.getvalue()
c = zlib.compressobj(9, zlib.DEFLATED, -15)
body = c.compress(data) + c.flush()
tail = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
# ID1 ID2 CM=deflate FLG=FCOMMENT, MTIME, XFL OS=unix, then the comment up to its NUL
pad = os.path.getsize(blob) - (10 + 1 + len(body) + len(tail))
if pad < 0:
    sys.exit("oci_swap_blob: the replacement is larger than the blob")
header = b"\x1f\x8b\x08\x10" + b"\0\0\0\0" + b"\x00\x03" + b"x" * pad + b"\0"
with open(blob, "wb") as f:
    f.write(header + body + tail)
EOF
}

# ---- a local registry ------------------------------------------------------------------------

# free_port: a TCP port nobody listens on at 127.0.0.1 now.
free_port() {
        "$PY" -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# registry_start DIR: Debian's docker-registry, never the system service: its own config and
# storage in DIR, on 127.0.0.1 and a free port, plain HTTP. Sets REGISTRY (127.0.0.1:PORT) and
# REGISTRY_PID; registry_stop (or the caller's EXIT trap calling it) ends it.
registry_start() {
        local port try
        REGISTRY_DIR=$1
        mkdir -p "$REGISTRY_DIR/storage"
        [ -x /usr/bin/docker-registry ] || skip "needs /usr/bin/docker-registry (apt-get install docker-registry)"
        for try in 1 2 3; do
                port=$(free_port)
                cat >"$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_DIR/storage}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
EOF
                /usr/bin/docker-registry serve "$REGISTRY_DIR/config.yml" >>"$REGISTRY_DIR/registry.log" 2>&1 &
                REGISTRY_PID=$!
                REGISTRY=127.0.0.1:$port
                # Up once /v2/ answers (200 without auth); gone if another took the port first.
                if wait_for 20 eval 'registry_answers || ! kill -0 $REGISTRY_PID 2>/dev/null' &&
                        kill -0 "$REGISTRY_PID" 2>/dev/null; then
                        return 0
                fi
                registry_stop
        done
        echo "registry_start: docker-registry did not start: $(tail -n 5 "$REGISTRY_DIR/registry.log")" >&2
        return 1
}

registry_answers() {
        "$PY" -c '
import sys, urllib.request
urllib.request.urlopen("http://" + sys.argv[1] + "/v2/", timeout=2)' "$REGISTRY" 2>/dev/null
}

registry_stop() {
        [ -n "$REGISTRY_PID" ] || return 0
        kill -TERM "$REGISTRY_PID" 2>/dev/null
        wait "$REGISTRY_PID" 2>/dev/null
        REGISTRY_PID=
}

# registry_push LAYOUT REF NAME:TAG: skopeo copies the layout's image REF to the local registry.
registry_push() {
        skopeo copy -q --dest-tls-verify=false "oci:$1:$2" "docker://$REGISTRY/$3" >/dev/null
}

# registry_digest NAME:TAG: the manifest digest the registry serves for NAME:TAG.
registry_digest() {
        skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY/$1"
}

# image_test_setup NAME SUPD SUPCTL SUP_MONITOR SUP_INIT|-: a test's arguments (SUPD, SUPCTL,
# MONITOR, SUP_INIT, TOOLS, GUEST from SUP_GUEST_DIR, SUPD_ARGS), its skips (root, busybox,
# overlayfs, the image tools), TOP (/tmp/NAME.XXXXXX) and MODES (isolation_modes).
image_test_setup() {
        local name=$1
        SUPD=$(realpath "$2") SUPCTL=$(realpath "$3") MONITOR=$(realpath "$4") SUP_INIT=$5
        [ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
        TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools" && pwd)
        GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}
        SUPD_ARGS=(--guest-dir "$GUEST")
        supd_test_setup "$name"
        require_image_tools
        MODES=$(isolation_modes "$TOOLS" "$GUEST" "$SUP_INIT") || exit 1
}

# isolation_modes TOOLS GUEST SUP_INIT|-: the modes this host can run, "process" or "process
# hyperv"; why hyperv cannot goes to stderr (SKIP), or fails the test (status 1) where
# SUP_TESTS_MUST_WORK=1 says it must. Provisions the guest kernel and initramfs as test-hyperv.sh.
isolation_modes() {
        local why=
        if ! command -v qemu-system-x86_64 >/dev/null; then
                why="no qemu-system-x86_64"
        elif ! command -v mkfs.ext4 >/dev/null; then
                why="no mkfs.ext4"
        elif ! command -v mkfs.erofs >/dev/null; then
                why="no mkfs.erofs (erofs-utils)"
        elif ! "$1/guest-kernel.sh" "$2" >/dev/null; then
                why="cannot provision the guest kernel"
        elif [ "$3" = - ]; then
                # No sup-init in this build (sanitizers): the initramfs of the plain build.
                [ -f "$2/kernel/current/initramfs.cpio" ] || why="no initramfs in $2 (run the plain build's test first)"
        elif ! "$1/guest-initramfs.sh" "$2" "$3" >/dev/null; then
                why="cannot build the initramfs"
        fi
        if [ -z "$why" ]; then
                echo "process hyperv"
        elif [ "${SUP_TESTS_MUST_WORK:-0}" = 1 ]; then
                echo "FAIL (SUP_TESTS_MUST_WORK=1): hyperv: $why" >&2
                return 1
        else
                echo "SKIP (hyperv half): $why" >&2
                echo process
        fi
}

# start_units: start_supd, which fails the case (status 1) when supd refuses the units (an image
# field the parser does not know yet says so here, not as timeouts further on).
start_units() {
        start_supd "$@" || return 1
        if grep -q "are not valid" "$CASE_DIR/supd.log"; then
                fail "supd refused the units"
                return 1
        fi
}

# await SECONDS UNIT STATE: waits until UNIT settles (exited or failed; for STATE running or
# failed, running too), then whether it is in STATE; a unit that fails early ends the wait early.
await() {
        local s=$3
        # shellcheck disable=SC2016
        wait_for "$1" eval 'case "$(field '"$2"' state)" in exited|failed) true ;; running) [ '"$s"' != exited ] ;; *) false ;; esac'
        state_is "$2" "$s"
}
