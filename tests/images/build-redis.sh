#!/bin/bash
# The database test's image: a Debian 12 root file system with Redis (redis-server, redis-tools),
# made by mmdebstrap from Debian's archive, as one tar archive for a `tar:` layer.
#
#   tests/images/build-redis.sh [DIR]     prints the archive's path: DIR/redis-bookworm.tar
#
# DIR defaults to $SUP_TEST_IMAGES, else /var/cache/sup/test-images: built once per machine and
# kept there, rebuilt only when this script changes (a stamp beside the archive holds the
# script's SHA-256, as examples/build-images.sh does). A build takes half a minute to a minute
# and ~45 MB of downloads; the archive is about 130 MB. As root (mmdebstrap's root mode: the files
# keep their owners, redis's uid among them). Exit 77 when mmdebstrap or the archive is not
# there, so that a test can skip.
set -euo pipefail
export LC_ALL=C

dir=${1:-${SUP_TEST_IMAGES:-/var/cache/sup/test-images}}
out=$dir/redis-bookworm.tar
stamp=$out.stamp
want=$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)

if [[ -f $out && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        echo "$out"
        exit 0
fi
command -v mmdebstrap >/dev/null || { echo "build-redis: no mmdebstrap (apt-get install mmdebstrap)" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || { echo "build-redis: must run as root" >&2; exit 77; }

mkdir -p "$dir"
rm -f "$stamp"
tmp=$(mktemp "$dir/.redis.XXXXXX.tar")
trap 'rm -f -- "$tmp"' EXIT
# No documentation, manual pages or translations: a smaller layer to unpack and to turn into a
# guest's disk. No device nodes in /dev (--skip=output/dev): the runtime makes the container's.
if ! mmdebstrap --quiet --variant=apt --include=redis-server,redis-tools \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --skip=output/dev --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
        bookworm "$tmp" >&2; then
        echo "build-redis: mmdebstrap failed (no route to Debian's archive?)" >&2
        exit 77
fi
chmod 0644 "$tmp"
mv -f -- "$tmp" "$out"
printf '%s\n' "$want" >"$stamp"
echo "$out"
