/* SPDX-License-Identifier: MIT */
#include "manager-index.h"

#include <stdint.h>

#include "alloc.h"
#include "string-util.h"

/* FNV-1a: unit names are short, and they come from root's unit files, not from an adversary. */
static size_t name_hash(const char *name) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 0x100000001b3ULL;
        return (size_t) h;
}

static Instance **bucket(Manager *m, const char *name) {
        return &m->index[name_hash(name) & (m->n_index_buckets - 1)];
}

/* Doubles the buckets once there are as many instances as buckets: chains stay about one long. */
static void grow(Manager *m) {
        size_t n = m->n_index_buckets ? m->n_index_buckets * 2 : 64;
        Instance **old = m->index;
        size_t n_old = m->n_index_buckets;

        m->index = xnew0(Instance *, n);
        m->n_index_buckets = n;
        for (size_t k = 0; k < n_old; k++)
                for (Instance *i = old[k], *next; i; i = next) {
                        Instance **b = bucket(m, i->name);
                        next = i->index_next;
                        i->index_next = *b;
                        *b = i;
                }
        free(old);
}

void manager_index_add(Manager *m, Instance *i) {
        Instance **b;

        if (m->n_indexed >= m->n_index_buckets)
                grow(m);
        b = bucket(m, i->name);
        i->index_next = *b;
        *b = i;
        m->n_indexed++;
}

void manager_index_remove(Manager *m, Instance *i) {
        if (m->n_index_buckets == 0)
                return;
        for (Instance **p = bucket(m, i->name); *p; p = &(*p)->index_next)
                if (*p == i) {
                        *p = i->index_next;
                        i->index_next = NULL;
                        m->n_indexed--;
                        return;
                }
}

Instance *manager_index_find(Manager *m, const char *name, bool retiring) {
        if (m->n_index_buckets == 0)
                return NULL;
        for (Instance *i = *bucket(m, name); i; i = i->index_next)
                if (streq(i->name, name) && instance_life_retiring(i->life) == retiring)
                        return i;
        return NULL;
}

void manager_index_done(Manager *m) {
        free(m->index);
        m->index = NULL;
        m->n_index_buckets = m->n_indexed = 0;
}
