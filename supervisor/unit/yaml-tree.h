/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A YAML document as a tree, built from libyaml's event stream with the limits a unit file needs
 * and libyaml does not enforce:
 *  - one document per stream, UTF-8 only;
 *  - nesting at most YAML_MAX_DEPTH levels;
 *  - aliases may only name a complete node, so "&a [*a]" (a cycle) is refused;
 *  - the tree as seen through its aliases holds at most YAML_MAX_NODES nodes, so the billion
 *    laughs (each level aliasing the previous one ten times) is refused after a few thousand
 *    nodes, in memory proportional to the input. An alias shares its target node; nothing is copied;
 *  - tags other than the standard str/seq/map ones are refused.
 * A YAML syntax error stops the build, with libyaml's message and position. */

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 10000

typedef enum YNodeType {
        YNODE_SCALAR,
        YNODE_SEQUENCE,
        YNODE_MAPPING,
} YNodeType;

typedef struct YNode YNode;

typedef struct YPair {
        YNode *key;
        YNode *value;
} YPair;

struct YNode {
        YNodeType type;
        unsigned line, column; /* 1-based, where the node starts */

        /* Scalars: the value (may hold NUL bytes from escapes, hence the length), and whether it was
         * written quoted, as a block scalar or with an explicit !!str tag, i.e. is a string no matter
         * what it looks like. */
        char *value;
        size_t length;
        bool quoted;

        YNode **items; /* sequences */
        size_t n_items;
        YPair *pairs; /* mappings, in document order */
        size_t n_pairs;

        size_t weight; /* nodes in this subtree, aliases expanded */
        bool complete;
};

typedef struct YDocument {
        YNode *root; /* NULL for an empty stream */
        YNode **nodes; /* every node, for freeing: aliases make the tree a DAG */
        size_t n_nodes;
} YDocument;

typedef struct YError {
        unsigned line, column;
        char *message;
} YError;

/* Builds the tree. On failure returns a negative errno-style code (-EINVAL for bad input) and fills
 * *ret_error, which the caller frees with yerror_done(). */
int ydocument_parse(const char *data, size_t size, YDocument **ret, YError *ret_error);
YDocument *ydocument_free(YDocument *d);
void yerror_done(YError *e);

static inline void ydocument_freep(YDocument **d) {
        ydocument_free(*d);
}
