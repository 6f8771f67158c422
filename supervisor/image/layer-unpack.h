/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "string-table.h"
#include "sup-error.h"

/* Unpacking one layer archive (an OCI layer: a tar, plain, gzip or zstd) into a directory, as a
 * security boundary: the archive is hostile input.
 *
 * The tar format is libarchive's to read; the compression is zlib's and libzstd's, in front of
 * it, so that one pass over the blob gives both digests the OCI image spec defines: the blob's
 * (what a descriptor names) and the uncompressed tar's (the config's diff_id). Every path is
 * created below the layer's root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) for the
 * parent and O_NOFOLLOW / AT_SYMLINK_NOFOLLOW for the entry itself, so no entry reaches outside
 * the layer: not with "..", not with an absolute path, not through a symlink an earlier entry
 * made. Whiteouts become what overlayfs reads: ".wh.NAME" a character device 0/0 named NAME,
 * ".wh..wh..opq" the opaque xattr on its directory (trusted.overlay.opaque for overlays mounted
 * by root, user.overlay.opaque for those with userxattr, both set). Hard links only to entries
 * of this layer. Ownership, modes (setuid included) and times as the archive says; xattrs in the
 * user.* and security.capability namespaces only (trusted.* and the other security.* ones would
 * let an archive speak for overlayfs or an LSM). Device nodes are created (the overlay in both
 * modes is mounted nodev, and the store is root's alone).
 *
 * layer_unpack() never removes what it wrote: on an error the caller removes the directory (it
 * made it, under a temporary name). */

typedef enum LayerCompression {
        LAYER_COMPRESSION_DETECT, /* by the stream's first bytes */
        LAYER_COMPRESSION_NONE,
        LAYER_COMPRESSION_GZIP,
        LAYER_COMPRESSION_ZSTD,
        _LAYER_COMPRESSION_MAX,
        _LAYER_COMPRESSION_INVALID = -EINVAL,
} LayerCompression;

typedef struct LayerUnpackLimits {
        uint64_t max_bytes;   /* uncompressed tar bytes; past it, a decompression bomb (0: no limit) */
        uint64_t max_entries; /* archive entries (0: no limit) */
} LayerUnpackLimits;

/* The defaults supd uses unless told otherwise (supd --image-max-layer-size). */
#define LAYER_UNPACK_MAX_BYTES_DEFAULT   (64ULL << 30)
#define LAYER_UNPACK_MAX_ENTRIES_DEFAULT 4000000ULL

typedef struct LayerUnpackResult {
        char blob_digest[7 + 64 + 1]; /* "sha256:HEX" of the bytes read from fd */
        char diff_id[7 + 64 + 1];     /* "sha256:HEX" of the uncompressed tar */
        uint64_t blob_size;           /* bytes read from fd */
        uint64_t tar_size;            /* uncompressed bytes */
        uint64_t n_entries;
        uint64_t n_whiteouts;      /* ".wh." entries, ".wh..wh..opq" included */
        uint64_t n_xattrs_skipped; /* xattrs of the archive not set (outside user.* and
                                    * security.capability, or on a symlink or node) */
} LayerUnpackResult;

/* Reads the layer archive from fd to its end and writes its entries below root_fd (an empty
 * directory). Errors name the entry ("entry usr/bin/../../../etc/passwd: leaves the layer") or
 * the stream ("the gzip stream is truncated"). */
int layer_unpack(int fd, LayerCompression compression, int root_fd, const LayerUnpackLimits *limits,
                 LayerUnpackResult *ret, SupError **ret_error);

DECLARE_STRING_TABLE_LOOKUP(layer_compression, LayerCompression);
