/* SPDX-License-Identifier: MIT */
#include "unit-set.h"

#include <dirent.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "alloc.h"
#include "path-util.h"
#include "sha256.h"
#include "string-util.h"
#include "time-util.h"
#include "unit-walk.h"

UnitSet *unit_set_free(UnitSet *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_units; i++)
                unit_spec_free(s->units[i]);
        free(s->units);
        strv_free(s->failed);
        free(s);
        return NULL;
}

static int unit_ptr_compare(const void *a, const void *b) {
        const UnitSpec *x = *(UnitSpec *const *) a, *y = *(UnitSpec *const *) b;
        int r = strcmp(x->name, y->name);
        return r != 0 ? r : strcmp(x->source_file, y->source_file);
}

const UnitSpec *unit_set_find(const UnitSet *s, const char *name) {
        size_t lo = 0, hi = s->n_units;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = strcmp(name, s->units[mid]->name);
                if (r == 0)
                        return s->units[mid];
                if (r < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

static bool is_unit_file_name(const char *name) {
        return name[0] != '.' && (endswith(name, ".yaml") || endswith(name, ".yml"));
}

static int list_dir(const char *dir, char ***ret, Diagnostics *diags) {
        _cleanup_strv_free_ char **files = NULL;
        DIR *d;
        struct dirent *de;

        d = opendir(dir);
        if (!d) {
                int r = negative_errno();
                diagnostics_add(diags, dir, 0, 0, "", "cannot open the directory: %s", strerror(-r));
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (!is_unit_file_name(de->d_name))
                        continue;
                strv_push(&files, path_join(dir, de->d_name));
        }
        if (errno != 0) {
                int r = negative_errno();
                closedir(d);
                diagnostics_add(diags, dir, 0, 0, "", "cannot read the directory: %s", strerror(-r));
                return r;
        }
        closedir(d);
        if (files)
                strv_sort(files);
        *ret = TAKE_PTR(files);
        return 0;
}

/* ---- the parse cache ---- */

/* What a stat says of a file that the cache compares: 48 bytes where a struct stat is 144, 94 KiB
 * of supd's memory at 1000 units. */
typedef struct FileStamp {
        dev_t dev;
        ino_t ino;
        off_t size;
        int64_t mtime_ns, ctime_ns;
        mode_t mode;
} FileStamp;

typedef struct CacheEntry {
        const char *path; /* the spec's source_file: the file's path as the load named it */
        UnitParseFlags flags;
        FileStamp st;       /* as it was just before the file was read */
        int64_t read_at_ns; /* CLOCK_REALTIME just before that stat */
        uint8_t digest[SHA256_DIGEST_SIZE];
        UnitSpec *spec; /* a reference */
        UnitSources sources;
        bool taken; /* moved to the next load's entries */
} CacheEntry;

/* A host path's check (unit_source_stat()) as the load under way found it: a thousand units on
 * one layer directory check it once a reload, not a thousand times. Only within one load, which
 * sees the host at one moment anyway; direct-mapped, a collision just checks again. */
typedef struct SourceMemo {
        char *path;
        mode_t type;
        bool pass;
} SourceMemo;

#define SOURCE_MEMO_SLOTS 64

struct UnitSetCache {
        CacheEntry *entries; /* sorted by path */
        size_t n_entries;
        CacheEntry *next; /* the load under way's */
        size_t n_next, next_allocated;
        size_t parsed, reused;
        SourceMemo memo[SOURCE_MEMO_SLOTS];
};

static void memo_clear(UnitSetCache *c) {
        for (size_t i = 0; i < SOURCE_MEMO_SLOTS; i++) {
                free(c->memo[i].path);
                c->memo[i] = (SourceMemo){};
        }
}

static void cache_entry_done(CacheEntry *e) {
        unit_spec_free(e->spec);
        unit_sources_done(&e->sources);
}

static void cache_entries_free(CacheEntry *entries, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!entries[i].taken)
                        cache_entry_done(&entries[i]);
        free(entries);
}

UnitSetCache *unit_set_cache_new(void) {
        return xzalloc(sizeof(UnitSetCache));
}

UnitSetCache *unit_set_cache_free(UnitSetCache *c) {
        if (!c)
                return NULL;
        cache_entries_free(c->entries, c->n_entries);
        cache_entries_free(c->next, c->n_next);
        memo_clear(c);
        free(c);
        return NULL;
}

void unit_set_cache_counts(const UnitSetCache *c, size_t *ret_parsed, size_t *ret_reused) {
        *ret_parsed = c->parsed;
        *ret_reused = c->reused;
}

static int cache_entry_compare(const void *a, const void *b) {
        return strcmp(((const CacheEntry *) a)->path, ((const CacheEntry *) b)->path);
}

static CacheEntry *cache_find(UnitSetCache *c, const char *path) {
        CacheEntry key = {.path = path};
        CacheEntry *e = c->n_entries > 0
                                ? bsearch(&key, c->entries, c->n_entries, sizeof(CacheEntry), cache_entry_compare)
                                : NULL;
        return e && !e->taken ? e : NULL;
}

static int64_t statx_ns(const struct statx_timestamp *ts) {
        return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static bool same_stamp(const FileStamp *a, const FileStamp *b) {
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mode == b->mode &&
               a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* What the file system says of name (in the directory dfd) now. AT_STATX_FORCE_SYNC: a network
 * file system asks its server, as an open() does (NFS's close-to-open), where a plain stat() may
 * answer from a minute-old attribute cache and keep an edit made on another host out of this
 * reload; on a local one it is a stat(). One call, where open, fstat and close were three (most of
 * a reload of a thousand unchanged units), and no open of a FIFO named like a unit file. */
static int stat_synced(int dfd, const char *name, FileStamp *ret) {
        struct statx sx;

        if (statx(dfd, name, AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx) < 0)
                return -errno;
        *ret = (FileStamp){
                .dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
                .ino = sx.stx_ino,
                .mode = sx.stx_mode,
                .size = (off_t) sx.stx_size,
                .mtime_ns = statx_ns(&sx.stx_mtime),
                .ctime_ns = statx_ns(&sx.stx_ctime),
        };
        return 0;
}

/* A file changed in the same timestamp tick as it was read looks as it did: file systems take
 * their times from a clock that ticks every few milliseconds (and some keep whole seconds only),
 * so a stamp that close to the read proves nothing, and the bytes are compared instead. ctime
 * counts too: it cannot be set back, as mtime can. */

static bool stamp_is_racy(const CacheEntry *e) {
        int64_t t = MAX(e->st.mtime_ns, e->st.ctime_ns);
        return t > e->read_at_ns - UNIT_SET_CACHE_RACY_NS;
}

static void digest_of(const char *data, size_t size, uint8_t ret[SHA256_DIGEST_SIZE]) {
        Sha256 h;

        sha256_init(&h);
        sha256_update(&h, data, size);
        sha256_final(&h, ret);
}

static size_t memo_slot(const char *path, mode_t type) {
        uint64_t h = 0xcbf29ce484222325ULL ^ type;

        for (const unsigned char *p = (const unsigned char *) path; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return (size_t) (h % SOURCE_MEMO_SLOTS);
}

/* unit_sources_pass(), each host path's check made once per load. */
static bool sources_pass(UnitSetCache *c, const UnitSources *s) {
        for (size_t i = 0; i < s->n; i++) {
                UnitSource *x = &s->items[i];
                SourceMemo *m;

                if (x->kind != UNIT_SOURCE_PATH) {
                        if (!unit_sources_pass(&(UnitSources){.items = x, .n = 1}))
                                return false;
                        continue;
                }
                m = &c->memo[memo_slot(x->path, x->type)];
                if (!m->path || m->type != x->type || !streq(m->path, x->path)) {
                        free(m->path);
                        *m = (SourceMemo){xstrdup(x->path), x->type, unit_source_stat(x->path, x->type) == 0};
                }
                if (!m->pass)
                        return false;
        }
        return true;
}

/* The next entry of the load under way. The array grows by doubling: by one entry at a time, a
 * thousand units' entries (some 200 KB, above supd's mmap threshold) were a thousand mremap()s,
 * a tenth of a reload with nothing changed. */
static CacheEntry *next_entry(UnitSetCache *c) {
        if (c->n_next == c->next_allocated) {
                c->next_allocated = MAX(c->next_allocated * 2, (size_t) 16);
                c->next = xreallocarray(c->next, c->next_allocated, sizeof(CacheEntry));
        }
        c->next[c->n_next] = (CacheEntry){};
        return &c->next[c->n_next++];
}

static int load_cached(UnitSetCache *c, int dfd, const char *name, const char *file, UnitParseFlags flags,
                       Diagnostics *diags, UnitSpec **ret, char **ret_name) {
        _cleanup_free_ char *data = NULL;
        int64_t t = (int64_t) now(CLOCK_REALTIME) * 1000;
        uint8_t digest[SHA256_DIGEST_SIZE];
        UnitSources sources = {};
        CacheEntry *e;
        FileStamp st;
        size_t size = 0;
        int r;

        if (stat_synced(dfd, name, &st) < 0)
                return unit_load_file(file, flags, diags, ret, ret_name); /* which says why */

        e = cache_find(c, file);
        if (e && e->flags == flags && same_stamp(&e->st, &st)) {
                bool verified = false;

                if (stamp_is_racy(e)) {
                        r = unit_read_file(file, diags, &data, &size);
                        if (r < 0)
                                return r;
                        digest_of(data, size, digest);
                        verified = memcmp(digest, e->digest, sizeof(digest)) == 0;
                }
                if ((verified || !data) && sources_pass(c, &e->sources)) {
                        CacheEntry *n = next_entry(c);

                        *n = *e;
                        if (verified)
                                n->read_at_ns = t; /* its bytes were seen as they are now at t */
                        e->taken = true;
                        c->reused++;
                        if (ret_name)
                                *ret_name = xstrdup(n->spec->name);
                        *ret = unit_spec_ref(n->spec);
                        return 0;
                }
        }

        if (!data) {
                r = unit_read_file(file, diags, &data, &size);
                if (r < 0) {
                        if (ret_name)
                                *ret_name = NULL;
                        return r;
                }
                digest_of(data, size, digest);
        }
        c->parsed++;
        r = unit_parse_file_data(file, data, size, flags, diags, &sources, ret, ret_name);
        if (r < 0) {
                unit_sources_done(&sources);
                return r;
        }
        /* Every reload compares each unit's hash with its instance's: computed once per parse. */
        if (unit_spec_hash(*ret, (*ret)->cached_hash) < 0)
                (*ret)->cached_hash[0] = 0;
        /* The entry's path is the spec's copy of file (one string a unit, not two). */
        if (!(*ret)->source_file || !streq((*ret)->source_file, file)) {
                free((*ret)->source_file);
                (*ret)->source_file = xstrdup(file);
        }
        CacheEntry *n = next_entry(c);
        *n = (CacheEntry){
                .path = (*ret)->source_file,
                .flags = flags,
                .st = st,
                .read_at_ns = t,
                .spec = unit_spec_ref(*ret),
                .sources = sources,
        };
        memcpy(n->digest, digest, sizeof(digest));
        return 0;
}

/* The entries of this load replace those of the last: files no longer listed drop out. */
static void cache_commit(UnitSetCache *c) {
        cache_entries_free(c->entries, c->n_entries);
        c->entries = TAKE_PTR(c->next);
        c->n_entries = c->n_next;
        c->n_next = c->next_allocated = 0;
        /* One directory's entries come in its sorted listing's order: no sort needed then. */
        for (size_t i = 1; i < c->n_entries; i++)
                if (cache_entry_compare(&c->entries[i - 1], &c->entries[i]) > 0) {
                        qsort_safe(c->entries, c->n_entries, sizeof(CacheEntry), cache_entry_compare);
                        break;
                }
}

/* file, which is name in the directory dfd (or AT_FDCWD and file itself). */
static void load_one(UnitSet *s, int dfd, const char *name_in_dir, const char *file, UnitParseFlags flags,
                     UnitSetCache *cache, Diagnostics *diags, int *result) {
        UnitSpec *u = NULL;
        char *name = NULL;
        int r;

        s->n_files++;
        r = cache ? load_cached(cache, dfd, name_in_dir, file, flags, diags, &u, &name)
                  : unit_load_file(file, flags, diags, &u, &name);
        if (r < 0) {
                strv_push(&s->failed, name ? name : unit_name_from_file(file));
                if (*result == 0 || r != -EINVAL)
                        *result = r;
                return;
        }
        free(name);
        *ARRAY_APPEND(s->units, s->n_units) = u;
}

int unit_set_load(char *const *paths, UnitParseFlags flags, Diagnostics *diags, UnitSet **ret) {
        return unit_set_load_cached(paths, flags, NULL, diags, ret);
}

int unit_set_load_cached(char *const *paths, UnitParseFlags flags, UnitSetCache *cache, Diagnostics *diags,
                         UnitSet **ret) {
        _cleanup_(unit_set_freep) UnitSet *s = xzalloc(sizeof(UnitSet));
        int result = 0;

        if (cache) {
                cache->parsed = cache->reused = 0;
                memo_clear(cache);
        }

        STRV_FOREACH(p, paths) {
                struct stat st;

                if (stat(*p, &st) < 0) {
                        int r = negative_errno();
                        diagnostics_add(diags, *p, 0, 0, "", "%s", strerror(-r));
                        result = r;
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_strv_free_ char **files = NULL;
                        /* The files are looked at relative to it: no walk of the directory's
                         * path for each (a fallback to the whole path if it cannot be opened). */
                        _cleanup_close_ int dfd = open(*p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        int r = list_dir(*p, &files, diags);
                        if (r < 0) {
                                result = r;
                                continue;
                        }
                        STRV_FOREACH(f, files)
                                load_one(s, dfd >= 0 ? dfd : AT_FDCWD, dfd >= 0 ? path_basename(*f) : *f, *f, flags,
                                         cache, diags, &result);
                } else
                        load_one(s, AT_FDCWD, *p, *p, flags, cache, diags, &result);
        }
        if (cache) {
                cache_commit(cache);
                memo_clear(cache);
        }

        qsort_safe(s->units, s->n_units, sizeof(UnitSpec *), unit_ptr_compare);
        if (unit_set_check(s, diags) > 0 && result == 0)
                result = -EINVAL;

        *ret = TAKE_PTR(s);
        return result;
}

static void report(Diagnostics *diags, size_t *count, const UnitSpec *u, const SourcePos *pos, const char *fmt, ...)
        _printf_(5, 6);
static void report(Diagnostics *diags, size_t *count, const UnitSpec *u, const SourcePos *pos, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (pos && pos->line > 0)
                diagnostics_addv(diags, u->source_file, pos->line, pos->column, pos->path, fmt, ap);
        else
                diagnostics_addv(diags, u->source_file, 0, 0, "", fmt, ap);
        va_end(ap);
        (*count)++;
}

static char *where(const UnitSpec *u, const SourcePos *pos) {
        if (pos->line == 0)
                return xstrdup(u->source_file);
        return xasprintf("%s:%u:%u", u->source_file, pos->line, pos->column);
}

typedef enum Color { WHITE, GREY, BLACK } Color;

typedef struct CycleSearch {
        const UnitSet *set;
        Color *color;
        size_t *stack; /* unit indices on the current path */
        size_t depth;
        Diagnostics *diags;
        size_t *count;
} CycleSearch;

static size_t unit_index(const UnitSet *s, const UnitSpec *u) {
        for (size_t i = 0; i < s->n_units; i++)
                if (s->units[i] == u)
                        return i;
        return SIZE_MAX;
}

static void visit(CycleSearch *cs, size_t i) {
        const UnitSpec *u = cs->set->units[i];
        size_t n;
        _cleanup_free_ UnitDependency *edges = unit_spec_dependencies(u, &n);

        cs->color[i] = GREY;
        cs->stack[cs->depth++] = i;
        for (size_t e = 0; e < n; e++) {
                const UnitSpec *t = unit_set_find(cs->set, edges[e].ref->name);
                size_t j;

                if (!t)
                        continue;
                j = unit_index(cs->set, t);
                if (cs->color[j] == WHITE)
                        visit(cs, j);
                else if (cs->color[j] == GREY) {
                        /* A back edge closes a cycle: name it from the target round to here. */
                        char buf[1024] = "";
                        size_t start = 0;
                        while (cs->stack[start] != j)
                                start++;
                        for (size_t k = start; k < cs->depth; k++)
                                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s -> ",
                                         cs->set->units[cs->stack[k]]->name);
                        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s", t->name);
                        report(cs->diags, cs->count, u, &edges[e].ref->pos,
                               "dependency cycle: %s (requires and share order starts; a cycle has no first unit)",
                               buf);
                }
        }
        cs->depth--;
        cs->color[i] = BLACK;
}

size_t unit_set_check(const UnitSet *s, Diagnostics *diags) {
        size_t count = 0;

        /* Units are sorted by name, so duplicates are neighbours. */
        for (size_t i = 1; i < s->n_units; i++) {
                const UnitSpec *a = s->units[i - 1], *b = s->units[i];
                if (streq(a->name, b->name)) {
                        _cleanup_free_ char *w = where(a, &a->name_pos);
                        report(diags, &count, b, &b->name_pos, "unit \"%s\" is also defined by %s%s", b->name, w,
                               a->name_pos.line == 0 ? " (named after the file)" : "");
                }
        }

        for (size_t i = 0; i < s->n_units; i++)
                for (size_t k = 0; k < s->units[i]->n_ports; k++)
                        for (size_t j = 0; j < i; j++)
                                for (size_t l = 0; l < s->units[j]->n_ports; l++) {
                                        const PortSpec *p = &s->units[i]->ports[k], *q = &s->units[j]->ports[l];
                                        if (!port_spec_conflicts(p, q))
                                                continue;
                                        _cleanup_free_ char *a = format_port(p), *b = format_port(q),
                                                            *w = where(s->units[j], &q->pos);
                                        report(diags, &count, s->units[i], &p->pos,
                                               "%s claims the same host port as %s of unit \"%s\" (%s)", a, b,
                                               s->units[j]->name, w);
                                }

        for (size_t i = 0; i < s->n_units; i++) {
                const UnitSpec *u = s->units[i];
                size_t n;
                _cleanup_free_ UnitDependency *edges = unit_spec_dependencies(u, &n);

                for (size_t e = 0; e < n; e++) {
                        const UnitSpec *t = unit_set_find(s, edges[e].ref->name);
                        if (!t) {
                                /* A unit whose file has errors exists, it is just broken: that is
                                 * reported at its file, not as a missing unit here. */
                                if (!strv_contains(s->failed, edges[e].ref->name))
                                        report(diags, &count, u, &edges[e].ref->pos,
                                               "%s unit \"%s\", which does not exist",
                                               streq(edges[e].kind, "requires") ? "requires"
                                                                                : "shares a namespace with",
                                               edges[e].ref->name);
                        } else if (streq(edges[e].kind, "requires"))
                                continue;
                        else if (t->isolation == ISOLATION_HYPERV)
                                report(diags, &count, u, &edges[e].ref->pos,
                                       "unit \"%s\" has isolation: hyperv; its namespaces are inside a VM and cannot "
                                       "be shared",
                                       t->name);
                        else if (u->security.user_namespace == USER_NAMESPACE_AUTO ||
                                 t->security.user_namespace == USER_NAMESPACE_AUTO)
                                /* A namespace belongs to the user namespace it was created in. Joined
                                 * across that line, root of the host's user namespace (a unit without
                                 * one) would hold every capability over a user-namespaced unit's
                                 * namespaces, and a user-namespaced unit would sit in namespaces its
                                 * root has no capability over: neither is what either unit asked for. */
                                report(diags, &count, u, &edges[e].ref->pos,
                                       "unit \"%s\" cannot share the %s namespace of unit \"%s\": %s has "
                                       "security.user_namespace: auto, and namespaces cannot be shared across user "
                                       "namespaces",
                                       u->name, edges[e].kind + strlen("share."), t->name,
                                       u->security.user_namespace == USER_NAMESPACE_AUTO &&
                                                       t->security.user_namespace == USER_NAMESPACE_AUTO
                                               ? "each"
                                       : u->security.user_namespace == USER_NAMESPACE_AUTO ? u->name
                                                                                           : t->name);
                }
        }

        if (s->n_units > 0) {
                _cleanup_free_ Color *color = xnew0(Color, s->n_units);
                _cleanup_free_ size_t *stack = xnew0(size_t, s->n_units);
                CycleSearch cs = {s, color, stack, 0, diags, &count};
                for (size_t i = 0; i < s->n_units; i++)
                        if (color[i] == WHITE)
                                visit(&cs, i);
        }
        return count;
}
