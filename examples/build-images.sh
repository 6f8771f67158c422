#!/usr/bin/env bash
# Build the images used by the example units in examples/*.yaml, offline.
#
#   examples/images/busybox/      a minimal root filesystem: static busybox, its applet
#                                 symlinks in /bin, /etc/passwd and /etc/group (root, app 1000:1000,
#                                 nobody), /tmp (1777) and the runtime's mount points
#   examples/images/busybox.tar   the same layer as a tar archive (for `tar:` layers)
#   examples/images/site/         an app layer: /www/index.html, served by web.yaml
#   examples/images/batch/        an app layer: /app/job.sh, run by batch.yaml
#   examples/images/oci/          an OCI image layout made by umoci, image "web:1" (web.yaml,
#                                 web-hyperv.yaml): layer 1 the busybox root, layer 2 an app layer
#                                 (/www/index.html; a whiteout deletes /bin/telnetd; /home is
#                                 replaced wholesale, an opaque directory), and a config with
#                                 Entrypoint, Cmd, Env and WorkingDir
#
# Nothing is pulled from a registry: the only inputs are Debian's static busybox
# (apt-get install busybox-static) and umoci (apt-get install umoci). The output is deterministic
# (fixed mtimes and creation dates, sorted tar, numeric owners: the same image digest on every
# machine with the same busybox and umoci) and is rebuilt only when this script, the busybox
# binary or umoci changes; a second run is a no-op. Run as root (the layers contain files owned by
# uid 0 and 1000).
#
# Usage: examples/build-images.sh [--force]
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
out="$here/images"
busybox=${BUSYBOX:-/bin/busybox}
force=0

case "${1:-}" in
    "") ;;
    -f|--force) force=1 ;;
    -h|--help) sed -n '2,23s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

die() { echo "build-images: $*" >&2; exit 1; }

# --- inputs -------------------------------------------------------------------------------
if [[ ! -x $busybox ]]; then
    die "$busybox not found; install Debian's static busybox: apt-get install busybox-static"
fi
# The image has no libc: a dynamically linked busybox (Debian's `busybox` package) cannot run.
if ldd "$busybox" >/dev/null 2>&1 || ! "$busybox" true 2>/dev/null; then
    die "$busybox is not a static busybox; install Debian's package busybox-static (not busybox)"
fi
for tool in sha256sum tar find touch; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
umoci=$(command -v umoci) || die "umoci not found; install Debian's umoci: apt-get install umoci"

stamp="$out/.stamp"
want=$(cat "${BASH_SOURCE[0]}" "$busybox" "$umoci" | sha256sum | cut -d' ' -f1)

up_to_date() {
    [[ -f $stamp && "$(cat "$stamp")" == "$want" ]] || return 1
    local f
    for f in busybox/bin/busybox site/www/index.html batch/app/job.sh busybox.tar oci/index.json; do
        [[ -e $out/$f ]] || return 1
    done
}

if (( ! force )) && up_to_date; then
    echo "build-images: $out is up to date"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (the layers contain files owned by uid 0 and 1000)"

# --- build into a scratch directory, then move into place; the stamp is written last ----
mkdir -p "$out"
rm -f "$stamp"
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

# Fix every mtime (deepest first, so directories keep theirs) and the owners.
normalize() {
    chown -hR 0:0 "$1"
    find "$1" -depth -exec touch -h -d @0 {} +
}

# busybox: the base root filesystem ------------------------------------------------------
bb="$tmp/busybox"
mkdir -p "$bb"/{bin,usr/bin,etc,root,home/app,proc,sys,dev,run,tmp,var}
install -m 0755 "$busybox" "$bb/bin/busybox"
# Every applet is linked in /bin, as in Docker's busybox image, so that a unit can say
# /bin/httpd, /bin/wget, /bin/nc ... (busybox --list-full would scatter them over sbin/,
# usr/bin/ and usr/sbin/). Only /usr/bin/env is added for `#!/usr/bin/env` scripts.
n=0
while IFS= read -r applet; do
    case "$applet" in
        busybox|linuxrc|"") continue ;;   # linuxrc is an initrd's /linuxrc, not an applet
        */*) die "unexpected applet name in busybox --list: $applet" ;;
    esac
    ln -sfn busybox "$bb/bin/$applet"
    n=$((n + 1))
done < <("$busybox" --list | sort)
ln -sfn ../../bin/busybox "$bb/usr/bin/env"

cat >"$bb/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$bb/etc/group" <<'EOF'
root:x:0:
app:x:1000:
nobody:x:65534:
EOF
cat >"$bb/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
chmod 0644 "$bb"/etc/{passwd,group,hosts}
chmod 1777 "$bb/tmp"
chmod 0700 "$bb/root"
normalize "$bb"
chown 1000:1000 "$bb/home/app"
chmod 0755 "$bb/home/app"

# busybox.tar: the same layer as an archive (ustar: no pax headers with times or host names)
tar --numeric-owner --format=ustar --sort=name --mtime=@0 \
    -C "$bb" -cf "$tmp/busybox.tar" .
touch -d @0 "$tmp/busybox.tar"

# site: a static page for busybox httpd --------------------------------------------------
mkdir -p "$tmp/site/www"
cat >"$tmp/site/www/index.html" <<'EOF'
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sup example: web</title>
</head>
<body>
<h1>Hello from sup</h1>
<p>This page is served by busybox httpd in a sup container
(examples/web.yaml, or examples/web-hyperv.yaml inside a QEMU guest).</p>
<p>The image is two layers: <code>images/busybox</code> (the root filesystem) and
<code>images/site</code> (this file, at <code>/www/index.html</code>).</p>
</body>
</html>
EOF
chmod 0644 "$tmp/site/www/index.html"
normalize "$tmp/site"

# batch: a job that does some visible work and exits 0 -----------------------------------
mkdir -p "$tmp/batch/app"
cat >"$tmp/batch/app/job.sh" <<'EOF'
#!/bin/sh
# A small batch job for examples/batch.yaml (busybox sh). It prints what it sees, does a
# little work, and exits 0; with restart policy "no", sup leaves the unit exited.
set -eu

items=${JOB_ITEMS:-5}
name=${JOB_NAME:-batch}

echo "[$name] start: $(date -u '+%Y-%m-%dT%H:%M:%SZ') host=$(hostname) uid=$(id -u) gid=$(id -g) pid=$$"
echo "[$name] working directory: $(pwd)"
echo "[$name] environment:"
env | sort | sed 's/^/[env] /'

sum=0
i=1
while [ "$i" -le "$items" ]; do
    sum=$((sum + i * i))
    echo "[$name] item $i/$items: running sum of squares = $sum"
    i=$((i + 1))
done

echo "[$name] sha256 of /etc/passwd: $(sha256sum /etc/passwd | cut -d' ' -f1)"
echo "[$name] users in the image: $(cut -d: -f1 /etc/passwd | tr '\n' ' ')"
echo "[$name] done: sum of squares 1..$items = $sum"
exit 0
EOF
chmod 0755 "$tmp/batch/app/job.sh"
normalize "$tmp/batch"

# oci: the web image as an OCI image layout, made by umoci --------------------------------
# What podman, buildah or skopeo would hand an operator: index.json naming the image "web:1",
# a manifest, a config and two gzip layers, all content-addressed. Every date is the epoch, so
# the digests depend only on the content.
epoch=1970-01-01T00:00:00Z
layout="$tmp/oci" image="$tmp/oci:web:1"
umoci init --layout "$layout"
umoci new --image "$image"
umoci config --image "$image" --no-history --created "$epoch" --author "sup examples" \
    --architecture amd64 --os linux
# Layer 1, as umoci builds any layer: unpack the (empty) image into a bundle, fill its rootfs,
# repack; the layer is the difference. The rootfs is the busybox layer above.
umoci unpack --image "$image" "$tmp/bundle" >/dev/null
cp -a "$bb/." "$tmp/bundle/rootfs/"
touch -h -d @0 "$tmp/bundle/rootfs"
umoci repack --image "$image" --history.created "$epoch" --history.author "sup examples" \
    --history.created_by "examples/build-images.sh: the busybox root (static busybox, applet links, users)" \
    "$tmp/bundle"
# Layer 2, the app: the site, and two ways a layer takes away what is below it, as the OCI image
# spec writes them (umoci refuses to make whiteout entries from files itself, so this layer is
# a tar archive, added verbatim; umoci compresses it and records its digests):
#   bin/.wh.telnetd        a whiteout: /bin/telnetd of layer 1 is gone (a web server's image
#                          ships no remote login server)
#   home/.wh..wh..opq      an opaque directory: /home is this layer's alone, layer 1's
#                          /home/app is gone; only /home/www remains
app="$tmp/app"
mkdir -p "$app"/{www,bin,home/www}
cp "$tmp/site/www/index.html" "$app/www/"
: >"$app/bin/.wh.telnetd"
: >"$app/home/.wh..wh..opq"
chmod 0644 "$app/bin/.wh.telnetd" "$app/home/.wh..wh..opq"
normalize "$app"
tar --numeric-owner --format=ustar --sort=name --mtime=@0 -C "$app" -cf "$tmp/app.tar" .
umoci raw add-layer --image "$image" --history.created "$epoch" --history.author "sup examples" \
    --history.created_by "examples/build-images.sh: the app layer (/www, a whiteout of /bin/telnetd, /home opaque)" \
    "$tmp/app.tar"
# The defaults a unit gets unless it sets its own: httpd in the foreground serving /www.
# `command:` replaces Entrypoint and Cmd, `args:` Cmd only (e.g. args: [-p, "8000", -h, /www]).
umoci config --image "$image" --no-history --created "$epoch" \
    --config.entrypoint /bin/httpd --config.entrypoint -f --config.entrypoint -v \
    --config.cmd -p --config.cmd 80 --config.cmd -h --config.cmd /www \
    --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.env SITE=sup-example \
    --config.workingdir /www
umoci gc --layout "$layout"

# --- install -------------------------------------------------------------------------------
for f in busybox busybox.tar site batch oci; do
    rm -rf -- "${out:?}/$f"
    mv -- "$tmp/$f" "$out/$f"
done
printf '%s\n' "$want" >"$stamp"
echo "build-images: built $out (busybox $("$busybox" | head -1 | cut -d' ' -f2), $n applet links; OCI image web:1 $(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$out/oci/index.json"))"
