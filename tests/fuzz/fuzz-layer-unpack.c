/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the layer unpacker: arbitrary bytes as a layer blob (compression
 * detected: plain tar, gzip, zstd), unpacked into a fresh directory that is removed afterwards.
 * Invariants: no crash, no leak, no fd left open; a failure comes with a message; on success the
 * blob digest is the input's SHA-256 and its size the input's; and nothing appears beside the
 * layer (a sentinel directory next to it keeps its one canary). Small limits keep runs fast and
 * are themselves fuzzed (a bomb stops at them). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "layer-unpack.h"
#include "path-util.h"
#include "sha256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *base, *root, *sentinel;
static int blob_fd = -1;

static void cleanup(void) {
        (void) rm_rf(base);
}

static void setup_once(void) {
        const char *tmp = getenv("TMPDIR");

        if (base)
                return;
        /* /dev/shm when there is one: every run creates and removes a tree. */
        if (!tmp)
                tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        base = xasprintf("%s/fuzz-layer-unpack.XXXXXX", tmp);
        if (!mkdtemp(base))
                abort();
        atexit(cleanup);
        root = path_join(base, "root");
        sentinel = path_join(base, "sentinel");
        _cleanup_free_ char *canary = path_join(sentinel, "canary");
        if (mkdir(sentinel, 0755) < 0 || write_file_atomic(canary, "canary", 6, 0644) < 0)
                abort();
        blob_fd = memfd_create("layer", MFD_CLOEXEC);
        if (blob_fd < 0)
                abort();
}

static unsigned count_entries(const char *path) {
        DIR *d = opendir(path);
        unsigned n = 0;

        if (!d)
                abort();
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const LayerUnpackLimits limits = {.max_bytes = 4 << 20, .max_entries = 512};
        SupError *e = NULL;
        LayerUnpackResult res;
        unsigned fds;
        int root_fd, r;

        setup_once();
        if (ftruncate(blob_fd, 0) < 0 || pwrite(blob_fd, data, size, 0) != (ssize_t) size ||
            lseek(blob_fd, 0, SEEK_SET) != 0)
                abort();
        if (mkdir(root, 0755) < 0)
                abort();
        root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                abort();

        fds = count_entries("/proc/self/fd");
        r = layer_unpack(blob_fd, LAYER_COMPRESSION_DETECT, root_fd, &limits, &res, &e);
        if (count_entries("/proc/self/fd") != fds)
                abort();
        if (r < 0 && !e)
                abort();
        if (r >= 0) {
                char hex[SHA256_DIGEST_SIZE * 2 + 1];

                sha256_hex(data, size, hex);
                if (strncmp(res.blob_digest, "sha256:", 7) != 0 || strcmp(res.blob_digest + 7, hex) != 0 ||
                    res.blob_size != size || res.tar_size > limits.max_bytes || res.n_entries > limits.max_entries)
                        abort();
        }
        if (r >= 0)
                layer_unpack_result_done(&res);
        sup_error_free(e);
        close(root_fd);

        /* Beside the layer: the root and the sentinel, which holds its canary alone. */
        if (count_entries(base) != 4 || count_entries(sentinel) != 3) {
                fprintf(stderr, "something was written outside the layer, in %s\n", base);
                abort();
        }
        if (rm_rf(root) < 0)
                abort();
        return 0;
}
