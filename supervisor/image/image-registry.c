/* SPDX-License-Identifier: MIT */
/* registry: an image pulled into the store by skopeo, and the pull itself.
 *
 * sup has no registry client: skopeo (Debian's) does auth (the containers auth files), mirrors
 * (registries.conf), manifest lists, retries and signature policy. It copies docker://REF into a
 * temporary OCI layout under tmp/, whose blobs go to the pull's own blob directory beside it
 * (--dest-shared-blob-dir tmp/pull-../blobs). The blobs of that manifest the store already has
 * are linked there first, so skopeo finds them and copies them no more. After it succeeded, its
 * blobs are renamed into the store's blobs/, the manifest last, and refs/KEY.json records the
 * manifest that layout's index names; resolving the reference is resolving that manifest from
 * the store's blobs, as an oci: layout's (image-oci.c). A failed or killed pull writes no ref
 * and leaves the store's blobs as they were.
 *
 * Why not the store's blobs/ as skopeo's destination: skopeo writes a manifest in place
 * (truncated, then written), also one that is already there. Two pulls of one image, or a pull
 * and a start resolving the image, then read a manifest of 0 bytes; a pull killed in between
 * would leave it so. A rename replaces a blob whole.
 *
 * Signature policy: skopeo reads /etc/containers/policy.json (containers-common; Debian ships
 * "insecureAcceptAnything" as its default), or the one in root's home. sup never passes
 * --insecure-policy nor a policy of its own: an operator who requires signatures keeps that. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "image-source.h"
#include "image-store-internal.h"
#include "path-util.h"
#include "process-util.h"
#include "sha256.h"
#include "string-util.h"
#include "time-util.h"

/* skopeo's output kept for the error message: its last lines are what says why. */
#define PULL_OUTPUT_MAX 8192
/* skopeo's own retries of a failed transfer (--retry-times), with its backoff. */
#define PULL_RETRIES "3"

int registry_reference_key(const char *reference, char ret_key[DIGEST_HEX_LEN + 1], SupError **ret_error) {
        _cleanup_free_ char *full = NULL;
        const char *last;

        if (!reference || !*reference || reference[0] == '-' || strlen(reference) > 1024)
                return sup_error_make(ret_error, -EINVAL, "not an image reference: %s", reference ?: "(none)");
        for (const char *c = reference; *c; c++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@", *c))
                        return sup_error_make(ret_error, -EINVAL, "not an image reference: %s", reference);
        last = strrchr(reference, '/') ?: reference;
        /* "name" and "name:latest" are one image to skopeo; to refs/ too. */
        full = strchr(reference, '@') || strchr(last, ':') ? xstrdup(reference) : xasprintf("%s:latest", reference);
        sha256_hex(full, strlen(full), ret_key);
        return 0;
}

static char *ref_path(const char *store_dir, const char *key) {
        return store_path(store_dir, "refs/%s.json", key);
}

static int load_ref(const char *store_dir, const char *reference, json_t **ret, SupError **ret_error) {
        char key[DIGEST_HEX_LEN + 1];
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t n;
        json_t *j;
        int r;

        r = registry_reference_key(reference, key, ret_error);
        if (r < 0)
                return r;
        path = ref_path(store_dir, key);
        r = read_full_file(path, STORE_JSON_MAX, &text, &n);
        if (r == -ENOENT)
                return -ENOENT;
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot read %s", path);
        j = json_loadb(text, n, 0, NULL);
        if (!json_is_object(j) || !store_digest_hex(json_string_value(json_object_get(j, "manifest")))) {
                json_decref(j);
                return sup_error_make(ret_error, -EBADMSG, "%s is not a reference's record", path);
        }
        *ret = j;
        return 0;
}

static int registry_resolve(const Layer *item, const ImageOptions *opts, Image *img, SupError **ret_error) {
        _cleanup_close_ int store_fd = -EBADF, blobs_fd = -EBADF;
        _cleanup_json_ json_t *ref = NULL, *desc = NULL;
        _cleanup_free_ char *source = NULL;
        int r;

        r = load_ref(opts->store_dir, item->path, &ref, ret_error);
        if (r == -ENOENT)
                return sup_error_make(
                        ret_error, -ENOENT,
                        "%s is not in the store (image.pull: never, or only looking); supctl image pull %s", item->path,
                        item->path);
        if (r < 0)
                return r;
        store_fd = open(opts->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (store_fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open the image store %s", opts->store_dir);
        r = blob_dir_open(store_fd, &blobs_fd, ret_error);
        if (r < 0)
                return sup_error_wrap(ret_error, r, "the image store %s", opts->store_dir);
        desc = json_pack("{s:O, s:O?, s:O?}", "digest", json_object_get(ref, "manifest"), "size",
                         json_object_get(ref, "size"), "mediaType", json_object_get(ref, "media_type"));
        source = xasprintf("registry:%s", item->path);
        return store_resolve_descriptor(opts->store_dir,
                                        &(BlobDir){.fd = blobs_fd, .name = item->path, .source = source}, desc, opts,
                                        img, ret_error);
}

const ImageSource image_source_registry = {
        .type = LAYER_REGISTRY,
        .resolve = registry_resolve,
};

int image_store_pulls_needed(const char *store_dir, const UnitSpec *u, char ***ret_references, SupError **ret_error) {
        _cleanup_strv_free_ char **refs = NULL;

        for (size_t i = 0; i < u->n_layers && u->pull != PULL_NEVER; i++) {
                const Layer *l = &u->layers[i];
                _cleanup_json_ json_t *ref = NULL;
                int r;

                if (l->type != LAYER_REGISTRY || strv_contains(refs, l->path))
                        continue;
                if (u->pull == PULL_MISSING) {
                        r = load_ref(store_dir, l->path, &ref, ret_error);
                        if (r >= 0)
                                continue;
                        if (r != -ENOENT)
                                return r;
                }
                strv_push(&refs, xstrdup(l->path));
        }
        *ret_references = TAKE_PTR(refs);
        return 0;
}

/* ---- pulls ---- */

struct ImagePull {
        char *store_dir;
        char *reference;
        char key[DIGEST_HEX_LEN + 1];
        char *tmp; /* tmp/pull-PID.XXXXXX: its layout/ is skopeo's destination, blobs/ its blobs' */
        pid_t pid;
        int fd;
        int lock_fd;                  /* the store's lock, shared: prune leaves the blobs skopeo writes alone */
        char output[PULL_OUTPUT_MAX]; /* the last of skopeo's output */
        size_t n_output;
        char line[512]; /* the line being read */
        size_t n_line;
        char **blobs; /* the layers skopeo said it copies */
        ImageProgress progress;
        void (*callback)(const ImageProgress *p, void *userdata);
        void *userdata;
};

int image_pull_fd(const ImagePull *p) {
        return p->fd;
}

pid_t image_pull_pid(const ImagePull *p) {
        return p->pid;
}

ImagePull *image_pull_free(ImagePull *p) {
        if (!p)
                return NULL;
        if (p->pid > 0) {
                (void) kill(-p->pid, SIGKILL); /* and the inspect it may run */
                (void) kill(p->pid, SIGKILL);
                while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (p->fd >= 0)
                close(p->fd);
        if (p->lock_fd >= 0)
                close(p->lock_fd);
        if (p->tmp)
                (void) rm_rf(p->tmp);
        free(p->tmp);
        free(p->store_dir);
        free(p->reference);
        strv_free(p->blobs);
        free(p);
        return NULL;
}

/* The line the pull's child writes once it has the image's manifest (tmp/inspect.json). */
#define PULL_INSPECTED "sup: inspected"

/* The digest of the entry of an image index (manifest list) that runs here, or NULL. */
static const char *index_pick(json_t *index) {
        size_t i;
        json_t *m;

        json_array_foreach(json_object_get(index, "manifests"), i, m) {
                json_t *pl = json_object_get(m, "platform");
                const char *os = json_string_value(json_object_get(pl, "os")),
                           *arch = json_string_value(json_object_get(pl, "architecture"));
                if (os && arch && streq(os, "linux") && streq(arch, store_host_architecture()))
                        return json_string_value(json_object_get(m, "digest"));
        }
        return NULL;
}

/* "host/name:tag" or "host/name@sha256:.." -> "host/name@DIGEST" */
static char *reference_at(const char *reference, const char *digest) {
        const char *at = strchr(reference, '@'), *slash = strrchr(reference, '/') ?: reference,
                   *colon = strchr(slash, ':');
        size_t n = at ? (size_t) (at - reference) : colon ? (size_t) (colon - reference) : strlen(reference);
        return xasprintf("docker://%.*s@%s", (int) n, reference, digest);
}

/* The blob desc names, if the store's blobs (from) have it, linked into the pull's (to). */
static void stage_known_blob(json_t *desc, const char *from, const char *to) {
        const char *hex = store_digest_hex(json_string_value(json_object_get(desc, "digest")));
        _cleanup_free_ char *a = NULL, *b = NULL;

        if (!hex)
                return;
        a = path_join(from, hex);
        b = path_join(to, hex);
        (void) link(a, b); /* absent, or not linkable: skopeo copies it */
}

/* The config and layers of manifest the store already has, where skopeo looks for them. A layer
 * keeps its digest when skopeo turns a Docker manifest into an OCI one, and so does the config. */
static void stage_known_blobs(json_t *manifest, const char *store_blobs, const char *pull_blobs) {
        size_t i;
        json_t *l;

        stage_known_blob(json_object_get(manifest, "config"), store_blobs, pull_blobs);
        json_array_foreach(json_object_get(manifest, "layers"), i, l)
                stage_known_blob(l, store_blobs, pull_blobs);
}

/* The child of a pull: first the manifest (`skopeo inspect --raw`, and the host's entry of a
 * manifest list), whose sizes are the totals progress needs before the first byte (skopeo copy
 * names a blob only as it starts it) and whose blobs the store has are staged, then `skopeo
 * copy`. An inspect that fails ends the pull with its message: the copy would fail the same way.
 * Run in a fork of the caller, never on its loop. */
_noreturn_ static void pull_child(char **inspect_argv, size_t src_index, char **copy_argv, const char *reference,
                                  const char *inspect_path, const char *store_blobs, const char *pull_blobs) {
        _cleanup_free_ char *out = NULL;
        int status;

        for (unsigned round = 0; round < 2; round++) {
                _cleanup_json_ json_t *j = NULL;
                const char *brace, *digest;

                free(out);
                out = NULL;
                status = run_program(inspect_argv, NULL, NULL, 10 * USEC_PER_MINUTE, STORE_JSON_MAX, &out);
                if (status != 0) {
                        if (out)
                                (void) !write(1, out, strlen(out));
                        _exit(status > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status)
                                                                                          : EXIT_FAILURE);
                }
                /* stderr's warnings may come around the document. */
                brace = strchr(out, '{');
                j = brace ? json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
                if (!json_object_get(j, "manifests")) {
                        stage_known_blobs(j, store_blobs, pull_blobs);
                        break;
                }
                digest = index_pick(j);
                if (!digest || round > 0)
                        break; /* skopeo copy says what is wrong */
                inspect_argv[src_index] = reference_at(reference, digest);
        }
        if (out && write_file_atomic(inspect_path, out, strlen(out), 0600) >= 0)
                (void) !write(1, PULL_INSPECTED "\n", strlen(PULL_INSPECTED) + 1);
        execvp(copy_argv[0], copy_argv);
        _exit(EXIT_NOT_INSTALLED);
}

/* The layers (hex) and total bytes of the manifest the child found. */
static void take_inspect(ImagePull *p) {
        _cleanup_free_ char *path = path_join(p->tmp, "inspect.json"), *text = NULL;
        _cleanup_json_ json_t *j = NULL;
        const char *brace;
        size_t n, i;
        json_t *l;

        if (read_full_file(path, STORE_JSON_MAX, &text, &n) < 0 || !(brace = strchr(text, '{')))
                return;
        j = json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL);
        json_array_foreach(json_object_get(j, "layers"), i, l) {
                const char *hex = store_digest_hex(json_string_value(json_object_get(l, "digest")));
                if (!hex)
                        continue;
                if (!strv_contains(p->blobs, hex))
                        strv_push(&p->blobs, xstrdup(hex));
                p->progress.bytes_total += (uint64_t) json_integer_value(json_object_get(l, "size"));
        }
}

int image_pull_start(const char *store_dir, const char *reference, bool tls_verify, const ImageOptions *opts,
                     ImagePull **ret, SupError **ret_error) {
        _cleanup_(image_pull_freep) ImagePull *p = xnew0(ImagePull, 1);
        _cleanup_free_ char *src = NULL, *dst = NULL, *blobs = NULL, *pull_blobs = NULL, *pull_sha = NULL,
                            *inspect_path = NULL;
        char *ia[8], *ca[10];
        size_t ni = 0, nc = 0, src_index;
        int fds[2];
        pid_t parent;
        int r;

        p->fd = p->lock_fd = -EBADF;
        r = registry_reference_key(reference, p->key, ret_error);
        if (r < 0)
                return r;
        /* Until its blobs are an image's (images/ names them once resolved) or the pull failed,
         * nothing else says they are wanted. */
        r = store_lock_whole(store_dir, LOCK_SH, &p->lock_fd, ret_error);
        if (r < 0)
                return r;
        p->store_dir = xstrdup(store_dir);
        p->reference = xstrdup(reference);
        p->progress.reference = p->reference;
        if (opts) {
                p->callback = opts->progress;
                p->userdata = opts->userdata;
        }
        p->tmp = store_path(store_dir, "tmp/pull-%d.XXXXXX", (int) getpid());
        if (!mkdtemp(p->tmp)) {
                r = sup_error_errno(ret_error, -errno, "cannot create a directory in %s/tmp", store_dir);
                free(TAKE_PTR(p->tmp));
                return r;
        }
        src = xasprintf("docker://%s", reference);
        dst = xasprintf("oci:%s/layout:sup", p->tmp);
        blobs = store_path(store_dir, "blobs/sha256");
        pull_blobs = path_join(p->tmp, "blobs");
        pull_sha = path_join(pull_blobs, "sha256");
        if (mkdir(pull_blobs, 0700) < 0 || mkdir(pull_sha, 0700) < 0)
                return sup_error_errno(ret_error, -errno, "cannot create %s", pull_sha);
        inspect_path = path_join(p->tmp, "inspect.json");
        ia[ni++] = (char *) "skopeo";
        ia[ni++] = (char *) "inspect";
        ia[ni++] = (char *) "--raw";
        ia[ni++] = (char *) "--retry-times";
        ia[ni++] = (char *) PULL_RETRIES;
        ca[nc++] = (char *) "skopeo";
        ca[nc++] = (char *) "copy";
        ca[nc++] = (char *) "--retry-times";
        ca[nc++] = (char *) PULL_RETRIES;
        ca[nc++] = (char *) "--dest-shared-blob-dir";
        ca[nc++] = pull_blobs;
        /* Only a registry the unit says is plain HTTP gets its TLS check dropped. */
        if (!tls_verify) {
                ia[ni++] = (char *) "--tls-verify=false";
                ca[nc++] = (char *) "--src-tls-verify=false";
        }
        src_index = ni;
        ia[ni++] = src;
        ia[ni] = NULL;
        ca[nc++] = src;
        ca[nc++] = dst;
        ca[nc] = NULL;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return sup_error_errno(ret_error, -errno, "cannot make a pipe for skopeo");
        parent = getpid();
        p->pid = fork();
        if (p->pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                p->pid = 0;
                return sup_error_errno(ret_error, r, "cannot start skopeo");
        }
        if (p->pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

                /* Its own process group: a cancelled pull kills the inspect it runs too. A caller
                 * killed outright takes it along (skopeo copy is this process, exec'd; the
                 * inspect run_program()'s child, which dies with this one). */
                (void) setpgid(0, 0);
                child_die_with_parent(parent);
                if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
                        _exit(EXIT_FAILURE);
                child_reset(NULL, 0);
                pull_child(ia, src_index, ca, reference, inspect_path, blobs, pull_sha);
        }
        close(fds[1]);
        p->fd = fds[0];
        if (fcntl(p->fd, F_SETFL, O_NONBLOCK) < 0)
                return sup_error_errno(ret_error, -errno, "cannot use skopeo's pipe");
        *ret = TAKE_PTR(p);
        return 0;
}

static void report(ImagePull *p) {
        if (p->callback)
                p->callback(&p->progress, p->userdata);
}

/* Progress: the layers skopeo inspect named (and any skopeo copy names as it starts it), each
 * done once it is in the pull's blobs/sha256/ (skopeo renames a blob in whole once copied and
 * verified; one the store had already is linked there before and counts at once, as skopeo skips
 * it) or the store's; the totals are the manifest's sizes (inspect's LayersData), made exact from
 * the manifest itself at the end. */
static void update_progress(ImagePull *p) {
        _cleanup_free_ char *dir = store_path(p->store_dir, "blobs/sha256"), *pull_dir = NULL;
        unsigned done = 0;
        uint64_t bytes = 0;

        if (p->tmp)
                pull_dir = path_join(p->tmp, "blobs/sha256");
        STRV_FOREACH(b, p->blobs) {
                _cleanup_free_ char *path = path_join(dir, *b), *pull_path = pull_dir ? path_join(pull_dir, *b) : NULL;
                struct stat st;
                if ((pull_path && stat(pull_path, &st) == 0) || stat(path, &st) == 0) {
                        done++;
                        bytes += (uint64_t) st.st_size;
                }
        }
        if (done == p->progress.layers_done && strv_length(p->blobs) == p->progress.layers_total)
                return;
        p->progress.layers_done = done;
        p->progress.layers_total = (unsigned) strv_length(p->blobs);
        p->progress.bytes_done = bytes;
        report(p);
}

static void take_line(ImagePull *p) {
        const char *hex;

        p->line[p->n_line] = 0;
        if (streq(p->line, PULL_INSPECTED))
                take_inspect(p);
        hex = startswith(p->line, "Copying blob sha256:");
        if (hex) {
                _cleanup_free_ char *h = xstrndup(hex, strcspn(hex, " \r\n"));
                if (strlen(h) == DIGEST_HEX_LEN && !strv_contains(p->blobs, h))
                        strv_push(&p->blobs, TAKE_PTR(h));
        }
        p->n_line = 0;
}

static void take_output(ImagePull *p, const char *buf, size_t n) {
        /* The tail only. */
        if (n >= sizeof(p->output)) {
                buf += n - sizeof(p->output) + 1;
                n = sizeof(p->output) - 1;
        }
        if (p->n_output + n >= sizeof(p->output)) {
                size_t drop = p->n_output + n - (sizeof(p->output) - 1);
                memmove(p->output, p->output + drop, p->n_output - drop);
                p->n_output -= drop;
        }
        memcpy(p->output + p->n_output, buf, n);
        p->n_output += n;
        p->output[p->n_output] = 0;

        for (size_t i = 0; i < n; i++) {
                if (buf[i] == '\n' || buf[i] == '\r')
                        take_line(p);
                else if (p->n_line < sizeof(p->line) - 1)
                        p->line[p->n_line++] = buf[i];
        }
}

int image_pull_read(ImagePull *p) {
        char buf[4096];
        bool got = false;

        for (;;) {
                ssize_t n = read(p->fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                if (n == 0) {
                        update_progress(p);
                        return 0;
                }
                take_output(p, buf, (size_t) n);
                got = true;
        }
        update_progress(p);
        return got ? 1 : -EAGAIN;
}

/* skopeo's message: its last line (before it, "Getting image source signatures", "Copying blob
 * ..."), and of a logrus line (time="..." level=fatal msg="...") the msg alone, unquoted. */
static char *pull_message(ImagePull *p) {
        const char *line, *msg;
        char *s = p->output, *nl, *out, *o;

        for (char *e = s + strlen(s); e > s && strchr("\n\r ", e[-1]); e--)
                e[-1] = 0;
        nl = strrchr(s, '\n');
        line = nl ? nl + 1 : s;
        if (!*line)
                return xstrdup("(no output)");
        msg = strstr(line, " msg=\"");
        if (!msg)
                return xstrdup(line);
        out = o = xstrdup(msg + 6);
        for (const char *c = msg + 6; *c && *c != '"'; c++) {
                if (c[0] == '\\' && c[1])
                        c++;
                *o++ = *c;
        }
        *o = 0;
        return out;
}

/* Moves the pull's blobs (from_fd) into the store's (to_fd), each by a rename: a reader of the
 * store (a start resolving the same image, another pull's end) finds a blob whole or not at all.
 * The manifest goes last, made durable first as skopeo does not; a blob the store had already
 * (linked before the copy) is that same file, which the rename leaves as it is. */
static int publish_blobs(int from_fd, int to_fd, const char *manifest_hex, SupError **ret_error) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_close_ int mfd = -EBADF;
        struct dirent *de;
        int fd = fcntl(from_fd, F_DUPFD_CLOEXEC, 3);

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return sup_error_errno(ret_error, -errno, "cannot read the pull's blobs");
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *digest = xasprintf("sha256:%s", de->d_name);

                /* Only what a digest names: skopeo's own temporary files are not blobs. */
                if (!store_digest_hex(digest) || streq(de->d_name, manifest_hex))
                        continue;
                /* ENOENT: listed once more after it went (a directory read while it changes). */
                if (renameat(from_fd, de->d_name, to_fd, de->d_name) < 0 && errno != ENOENT)
                        return sup_error_errno(ret_error, -errno, "cannot move the blob %s into the store", digest);
        }
        if (errno != 0)
                return sup_error_errno(ret_error, -errno, "cannot read the pull's blobs");
        mfd = openat(from_fd, manifest_hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (mfd < 0 || fsync(mfd) < 0)
                return sup_error_errno(ret_error, -errno, "cannot make the manifest sha256:%s durable", manifest_hex);
        if (renameat(from_fd, manifest_hex, to_fd, manifest_hex) < 0)
                return sup_error_errno(ret_error, -errno, "cannot move the manifest sha256:%s into the store",
                                       manifest_hex);
        if (fsync(to_fd) < 0)
                return sup_error_errno(ret_error, -errno, "cannot make the store's blobs durable");
        return 0;
}

/* DIR/blobs/sha256 (the store's, or a pull's), opened as blob_dir_open() does. */
static int open_blobs_below(const char *dir, int *ret_fd, SupError **ret_error) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return sup_error_errno(ret_error, -errno, "cannot open %s", dir);
        return blob_dir_open(fd, ret_fd, ret_error);
}

static int record_pull(ImagePull *p, char **ret_manifest, SupError **ret_error) {
        _cleanup_close_ int blobs_fd = -EBADF, pull_blobs_fd = -EBADF;
        _cleanup_free_ char *layout = path_join(p->tmp, "layout"), *text = NULL, *path = NULL;
        _cleanup_json_ json_t *index = NULL, *manifest = NULL, *ref = NULL;
        char stamp[64];
        json_t *desc, *l;
        const char *digest;
        size_t n, i;
        int r;

        path = path_join(layout, "index.json");
        r = read_full_file(path, STORE_JSON_MAX, &text, &n);
        if (r < 0)
                return sup_error_errno(ret_error, r, "skopeo left no image in %s", layout);
        index = json_loadb(text, n, 0, NULL);
        desc = json_array_get(json_object_get(index, "manifests"), 0);
        digest = json_string_value(json_object_get(desc, "digest"));
        if (!store_digest_hex(digest))
                return sup_error_make(ret_error, -EBADMSG, "skopeo's image of %s names no sha256 manifest",
                                      p->reference);

        /* The manifest is in the pull's blobs and is what its digest says; the layers are
         * checked when they are unpacked. Then they all go into the store's. */
        r = open_blobs_below(p->tmp, &pull_blobs_fd, ret_error);
        if (r < 0)
                return r;
        r = blob_read_json(&(BlobDir){.fd = pull_blobs_fd, .name = p->reference}, digest,
                           json_integer_value(json_object_get(desc, "size")), &manifest, ret_error);
        if (r < 0)
                return r;
        r = open_blobs_below(p->store_dir, &blobs_fd, ret_error);
        if (r < 0)
                return r;
        r = publish_blobs(pull_blobs_fd, blobs_fd, store_digest_hex(digest), ret_error);
        if (r < 0)
                return r;
        p->progress.layers_total = (unsigned) json_array_size(json_object_get(manifest, "layers"));
        p->progress.layers_done = p->progress.layers_total;
        p->progress.bytes_total = 0;
        json_array_foreach(json_object_get(manifest, "layers"), i, l)
                p->progress.bytes_total += (uint64_t) json_integer_value(json_object_get(l, "size"));
        p->progress.bytes_done = p->progress.bytes_total;
        report(p);

        ref = json_pack("{s:s, s:s, s:O?, s:O?, s:s}", "reference", p->reference, "manifest", digest, "size",
                        json_object_get(desc, "size"), "media_type", json_object_get(desc, "mediaType"), "pulled",
                        format_timestamp(now(CLOCK_REALTIME), stamp, sizeof(stamp)));
        free(text);
        text = json_dumps(ref, JSON_COMPACT | JSON_SORT_KEYS);
        free(path);
        path = ref_path(p->store_dir, p->key);
        r = text ? write_file_atomic(path, text, strlen(text), 0600) : -ENOMEM;
        if (r < 0)
                return sup_error_errno(ret_error, r, "cannot write %s", path);
        if (ret_manifest)
                *ret_manifest = xstrdup(digest);
        return 0;
}

static int pull_finish(ImagePull *p, int wait_status, char **ret_manifest, SupError **ret_error) {
        _cleanup_free_ char *msg = NULL;
        int r;

        p->pid = 0; /* reaped by the caller */
        (void) image_pull_read(p);
        if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
                msg = pull_message(p);
                if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == EXIT_NOT_INSTALLED)
                        r = sup_error_make(ret_error, -ENOENT, "cannot pull %s: skopeo is not installed (%s)",
                                           p->reference, msg);
                else
                        r = sup_error_make(ret_error, -EIO, "cannot pull %s: skopeo: %s", p->reference, msg);
        } else
                r = record_pull(p, ret_manifest, ret_error);
        (void) rm_rf(p->tmp);
        free(TAKE_PTR(p->tmp));
        if (p->lock_fd >= 0)
                close(TAKE_FD(p->lock_fd));
        return r;
}

int image_pull_finish(ImagePull *p, int wait_status, SupError **ret_error) {
        return pull_finish(p, wait_status, NULL, ret_error);
}

int image_store_pull(const char *store_dir, const char *reference, bool tls_verify, const ImageOptions *opts,
                     char **ret_manifest_digest, SupError **ret_error) {
        _cleanup_(image_pull_freep) ImagePull *p = NULL;
        int r, status;

        r = image_pull_start(store_dir, reference, tls_verify, opts, &p, ret_error);
        if (r < 0)
                return r;
        for (;;) {
                struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
                if (poll(&pfd, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return sup_error_errno(ret_error, -errno, "cannot wait for skopeo");
                }
                r = image_pull_read(p);
                if (r == 0)
                        break;
                if (r < 0 && r != -EAGAIN)
                        return sup_error_errno(ret_error, r, "cannot read skopeo's output");
        }
        while (waitpid(p->pid, &status, 0) < 0)
                if (errno != EINTR)
                        return sup_error_errno(ret_error, -errno, "cannot wait for skopeo");
        return pull_finish(p, status, ret_manifest_digest, ret_error);
}
