#!/usr/bin/python3
"""Helpers of bench/image.sh: an OCI layout's layers, a layer as the tree overlayfs stacks, the
manifest that says whether a disk format kept a tree, and the tables.

  image-lib.py layers LAYOUT REF             one line per layer, bottom first: BLOB DIFF_ID SIZE
  image-lib.py layer-tree BLOB DIR           unpacks a layer blob (tar, gzip or zstd) into DIR as
                                             overlayfs stacks it: a whiteout `.wh.NAME` becomes a
                                             character device 0:0 NAME, `.wh..wh..opq` the xattr
                                             trusted.overlay.opaque=y on its directory
  image-lib.py manifest DIR                  DIR's listing, a line per entry: its path, type and
                                             mode, owner, device number, size, link target or content
                                             digest, and trusted.overlay.* xattrs (no times)
  image-lib.py count DIR                     ENTRIES WHITEOUTS OPAQUE-DIRECTORIES of a layer tree
  image-lib.py add RESULTS LAYER FORMAT KEY [VALUE...]   samples of one measurement (or from stdin)
  image-lib.py formats RESULTS               the ext4/erofs table, one row per layer and format

The layer tree is the benchmark's own input, made with Python's tarfile from an image umoci wrote,
not sup's unpacker (image.sh's sup part measures that): what matters here is that the three disk
formats get the same tree, whiteouts and opaque directories included.
"""
import gzip
import hashlib
import json
import os
import stat
import subprocess
import sys
import tarfile


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def load(layout, digest):
    with open(blob_path(layout, digest)) as f:
        return json.load(f)


def cmd_layers(layout, ref):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    found = [m for m in index["manifests"]
             if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
    if not found:
        sys.exit("image-lib: no ref %s in %s" % (ref, layout))
    manifest = load(layout, found[0]["digest"])
    config = load(layout, manifest["config"]["digest"])
    for layer, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"]):
        print(blob_path(layout, layer["digest"]), diff_id, layer["size"])


def open_blob(path):
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return tarfile.open(fileobj=gzip.open(path), mode="r|")
    if magic == b"\x28\xb5\x2f\xfd":
        p = subprocess.Popen(["zstd", "-dc", path], stdout=subprocess.PIPE)
        return tarfile.open(fileobj=p.stdout, mode="r|")
    return tarfile.open(path, mode="r|")


def cmd_layer_tree(blob, out):
    os.makedirs(out, exist_ok=True)
    whiteouts, opaque = [], []
    with open_blob(blob) as tar:
        for m in tar:
            d, base = os.path.split(m.name.lstrip("./") if m.name.startswith("./") else m.name)
            if base == ".wh..wh..opq":
                opaque.append(d)
            elif base.startswith(".wh."):
                whiteouts.append(os.path.join(d, base[4:]))
            else:
                # The image is the benchmark's own (umoci's, from Debian's packages): trusted.
                tar.extract(m, out, numeric_owner=True)
    for d in opaque:
        p = os.path.join(out, d)
        os.makedirs(p, exist_ok=True)
        os.setxattr(p, "trusted.overlay.opaque", b"y", follow_symlinks=False)
    for w in whiteouts:
        p = os.path.join(out, w)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.mknod(p, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
    print("%d whiteouts %d opaque" % (len(whiteouts), len(opaque)))


def cmd_manifest(top):
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in (["."] if root == top else []) + sorted(dirs + files):
            p = os.path.join(root, name) if name != "." else root
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            extra = ""
            if stat.S_ISREG(st.st_mode):
                d = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        d.update(chunk)
                extra = d.hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            xattrs = sorted("%s=%r" % (x, os.getxattr(p, x, follow_symlinks=False))
                            for x in os.listxattr(p, follow_symlinks=False) if x.startswith("trusted.overlay."))
            size = st.st_size if not stat.S_ISDIR(st.st_mode) else 0
            print("%s %o %d %d %d:%d %d %s %s" % (rel, st.st_mode, st.st_uid, st.st_gid, os.major(st.st_rdev),
                                                 os.minor(st.st_rdev), size, extra, " ".join(xattrs)))


def cmd_count(top):
    """ENTRIES WHITEOUTS OPAQUE of a layer tree."""
    entries = whiteouts = opaque = 0
    for root, dirs, files in os.walk(top):
        if b"y" == (os.getxattr(root, "trusted.overlay.opaque", follow_symlinks=False)
                    if "trusted.overlay.opaque" in os.listxattr(root, follow_symlinks=False) else b""):
            opaque += 1
        for name in dirs + files:
            entries += 1
            st = os.lstat(os.path.join(root, name))
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                whiteouts += 1
    print(entries, whiteouts, opaque)


def median(xs):
    s = sorted(xs)
    k = len(s)
    return (s[k // 2] if k % 2 else (s[k // 2 - 1] + s[k // 2]) / 2) if s else None


def cmd_formats(results):
    """RESULTS: JSON lines {"layer", "format", "key", "v": [samples]}; keys build_us, apparent,
    allocated (bytes), tree (bytes, entries), host_*, guest_* (us), kept (true/false)."""
    rows = {}
    for line in open(results):
        if not line.strip():
            continue
        r = json.loads(line)
        rows.setdefault((r["layer"], r["format"]), {}).setdefault(r["key"], []).extend(r["v"])
    formats = ["ext4", "erofs", "erofs-lz4"]
    order = sorted(rows, key=lambda k: (k[0], formats.index(k[1]) if k[1] in formats else len(formats), k[1]))

    def ms(k, v):
        m = median(v.get(k, []))
        return "-" if m is None else "%.0f" % (m / 1000) if m >= 100000 else "%.1f" % (m / 1000)

    def mib(k, v):
        m = median(v.get(k, []))
        return "-" if m is None else "%.1f" % (m / 1048576)

    def n(k, v):
        return str(len(v.get(k, [])))

    print("| layer | format | build ms | size MiB (allocated) | size MiB (apparent) | kept whiteouts, opaque dirs, "
          "content | host: mount ms | host: walk ms | host: read ms | guest: mount ms | guest: walk ms "
          "| guest: read ms | guest: whiteouts, opaque dirs seen | rounds (build, host, guest) |")
    print("|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|---|--:|")
    for k in order:
        v = rows[k]
        kept = v.get("kept", [])
        kept_s = "-" if not kept else ("yes" if all(kept) else "**no**")
        if kept and any(v.get("lost_found", [])):
            kept_s += ", and /lost+found"
        seen = sorted(set(zip(v.get("guest_whiteouts", []), v.get("guest_opaque", []))))
        seen_s = " or ".join("%d, %d" % s for s in seen) or "-"
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s, %s, %s |" % (
            k[0], k[1], ms("build_us", v), mib("allocated", v), mib("apparent", v), kept_s,
            ms("host_mount", v), ms("host_walk", v), ms("host_read", v),
            ms("guest_mount", v), ms("guest_walk", v), ms("guest_read", v), seen_s,
            n("build_us", v), n("host_read", v), n("guest_read", v)))


def cmd_add(results, layer, fmt, key, *values):
    """Appends samples (numbers, or true/false) from the arguments or, with none, stdin."""
    vals = list(values) if values else [line.strip() for line in sys.stdin if line.strip()]
    vs = [v == "true" if v in ("true", "false") else float(v) for v in vals]
    with open(results, "a") as f:
        f.write(json.dumps({"layer": layer, "format": fmt, "key": key, "v": vs}) + "\n")


def main():
    cmds = {"count": cmd_count, "layers": cmd_layers, "layer-tree": cmd_layer_tree, "manifest": cmd_manifest,
            "formats": cmd_formats, "add": cmd_add}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
