#!/bin/bash
# The conformance suite (README.md): every case and every example unit in process and in hyperv
# isolation, compared. As root:
#   conformance.sh SUPD SUPCTL SUP_MONITOR SUP_INIT|- SUP_PROBE|- [run.py options: --only NAME ...]
# Exit 77 (skip) without root, QEMU or a guest kernel, unless SUP_TESTS_MUST_WORK=1 turns that into
# a failure: a conformance suite with one mode compares nothing. SUP_INIT "-": the plain build's
# initramfs (the sanitizer build has no sup-init). SUP_GUEST_DIR: the guest kernel's state dir
# (default /var/lib/sup/guest). SUP_CONFORMANCE_JOBS: cases at once (default 4).
set -uo pipefail

SUPD=$(realpath "$1") SUPCTL=$(realpath "$2") MONITOR=$(realpath "$3") SUP_INIT=$4 SUP_PROBE=$5
shift 5
[ "$SUP_INIT" = - ] || SUP_INIT=$(realpath "$SUP_INIT")
HERE=$(dirname "$(realpath "$0")")
TOOLS=$HERE/../../tools
source "$HERE/../integration/lib.sh"
source "$HERE/../integration/case-supd.sh"
GUEST=${SUP_GUEST_DIR:-/var/lib/sup/guest}

require_containers
both_modes || exit 1
[ "$MODES" = "process hyperv" ] || skip "hyperv cannot run here: nothing to compare"
# The examples' images (a no-op when they are up to date).
"$HERE/../../examples/build-images.sh" >/dev/null || { echo "FAIL: examples/build-images.sh"; exit 1; }

probe=()
[ "$SUP_PROBE" = - ] || probe=(--probe "$(realpath "$SUP_PROBE")")
exec "$PY" "$HERE/run.py" --supd "$SUPD" --supctl "$SUPCTL" --monitor "$MONITOR" --guest-dir "$GUEST" \
        "${probe[@]}" "$@"
