/* SPDX-License-Identifier: MIT */
#include "yaml-tree.h"

#include <stdarg.h>
#include <yaml.h>

#include "alloc.h"
#include "macro.h"
#include "string-util.h"

typedef struct Anchor {
        char *name;
        YNode *node;
} Anchor;

typedef struct Builder {
        YDocument *doc;
        YNode *stack[YAML_MAX_DEPTH + 1];
        YNode *pending_key[YAML_MAX_DEPTH + 1]; /* for mappings: the key awaiting its value */
        size_t depth;
        Anchor *anchors;
        size_t n_anchors;
        size_t expanded; /* the whole tree's size, aliases expanded */
        unsigned documents;
        YError *error;
} Builder;

_printf_(4, 5) static int fail(Builder *b, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;

        b->error->line = line;
        b->error->column = column;
        va_start(ap, fmt);
        if (vasprintf(&b->error->message, fmt, ap) < 0)
                b->error->message = NULL;
        va_end(ap);
        if (!b->error->message)
                b->error->message = xstrdup("out of memory");
        return -EINVAL;
}

static YNode *node_new(Builder *b, YNodeType type, const yaml_mark_t *mark) {
        YNode *n = xzalloc(sizeof(YNode));
        n->type = type;
        n->line = (unsigned) mark->line + 1;
        n->column = (unsigned) mark->column + 1;
        n->weight = 1;
        *ARRAY_APPEND(b->doc->nodes, b->doc->n_nodes) = n;
        return n;
}

static bool tag_allowed(const char *tag, YNodeType type) {
        if (!tag || streq(tag, "!"))
                return true;
        switch (type) {
        case YNODE_SCALAR:
                return streq(tag, YAML_STR_TAG);
        case YNODE_SEQUENCE:
                return streq(tag, YAML_SEQ_TAG);
        case YNODE_MAPPING:
                return streq(tag, YAML_MAP_TAG);
        }
        return false;
}

/* Accounts for a node entering the tree with the given expanded weight. */
static int account(Builder *b, size_t weight, const yaml_mark_t *mark) {
        if (weight > YAML_MAX_NODES - b->expanded)
                return fail(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                            "the document expands to more than %d nodes (through aliases, this is how the "
                            "\"billion laughs\" attack exhausts memory)",
                            YAML_MAX_NODES);
        b->expanded += weight;
        return 0;
}

/* Hangs a new child under the open container on top of the stack, or makes it the root. */
static void attach(Builder *b, YNode *child) {
        YNode *parent;

        if (b->depth == 0) {
                b->doc->root = child;
                return;
        }
        parent = b->stack[b->depth - 1];
        parent->weight += child->weight;
        if (parent->type == YNODE_SEQUENCE) {
                *ARRAY_APPEND(parent->items, parent->n_items) = child;
        } else if (!b->pending_key[b->depth - 1]) {
                b->pending_key[b->depth - 1] = child;
        } else {
                YPair *p = ARRAY_APPEND(parent->pairs, parent->n_pairs);
                p->key = TAKE_PTR(b->pending_key[b->depth - 1]);
                p->value = child;
        }
}

static int register_anchor(Builder *b, const yaml_char_t *anchor, YNode *node) {
        if (!anchor)
                return 0;
        /* A later anchor of the same name shadows the earlier one, as the YAML spec says. */
        Anchor *a = ARRAY_APPEND(b->anchors, b->n_anchors);
        a->name = xstrdup((const char *) anchor);
        a->node = node;
        return 0;
}

static int open_container(Builder *b, YNodeType type, const yaml_char_t *tag, const yaml_char_t *anchor,
                          const yaml_mark_t *mark) {
        YNode *n;
        int r;

        if (!tag_allowed((const char *) tag, type))
                return fail(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                            "YAML tag %s is not supported", (const char *) tag);
        if (b->depth >= YAML_MAX_DEPTH)
                return fail(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                            "nesting deeper than %d levels", YAML_MAX_DEPTH);
        r = account(b, 1, mark);
        if (r < 0)
                return r;
        n = node_new(b, type, mark);
        register_anchor(b, anchor, n);
        b->stack[b->depth] = n;
        b->pending_key[b->depth] = NULL;
        b->depth++;
        return 0;
}

static void close_container(Builder *b) {
        YNode *n = b->stack[--b->depth];
        /* libyaml guarantees mappings come in key/value pairs, so no key is left pending. */
        n->complete = true;
        attach(b, n);
}

static int on_scalar(Builder *b, const yaml_event_t *e) {
        const yaml_mark_t *mark = &e->start_mark;
        YNode *n;
        int r;

        if (!tag_allowed((const char *) e->data.scalar.tag, YNODE_SCALAR))
                return fail(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                            "YAML tag %s is not supported", (const char *) e->data.scalar.tag);
        r = account(b, 1, mark);
        if (r < 0)
                return r;
        n = node_new(b, YNODE_SCALAR, mark);
        n->length = e->data.scalar.length;
        n->value = xmalloc(n->length + 1);
        memcpy(n->value, e->data.scalar.value, n->length);
        n->value[n->length] = 0;
        n->quoted = e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || e->data.scalar.tag;
        n->complete = true;
        register_anchor(b, e->data.scalar.anchor, n);
        attach(b, n);
        return 0;
}

static int on_alias(Builder *b, const yaml_event_t *e) {
        const yaml_mark_t *mark = &e->start_mark;
        const char *name = (const char *) e->data.alias.anchor;
        YNode *target = NULL;
        int r;

        for (size_t i = b->n_anchors; i > 0; i--)
                if (streq(b->anchors[i - 1].name, name)) {
                        target = b->anchors[i - 1].node;
                        break;
                }
        if (!target)
                return fail(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                            "alias *%s refers to no anchor defined before it", name);
        if (!target->complete)
                return fail(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                            "alias *%s refers to the node that contains it (a recursive structure has no end)",
                            name);
        r = account(b, target->weight, mark);
        if (r < 0)
                return r;
        attach(b, target);
        return 0;
}

static int on_event(Builder *b, const yaml_event_t *e) {
        const yaml_mark_t *mark = &e->start_mark;

        switch (e->type) {
        case YAML_STREAM_START_EVENT:
                if (e->data.stream_start.encoding != YAML_UTF8_ENCODING)
                        return fail(b, 1, 1, "the file is encoded in UTF-16; unit files must be UTF-8");
                return 0;
        case YAML_DOCUMENT_START_EVENT:
                if (++b->documents > 1)
                        return fail(b, (unsigned) mark->line + 1, (unsigned) mark->column + 1,
                                    "a second YAML document; a unit file holds exactly one unit");
                return 0;
        case YAML_SCALAR_EVENT:
                return on_scalar(b, e);
        case YAML_ALIAS_EVENT:
                return on_alias(b, e);
        case YAML_SEQUENCE_START_EVENT:
                return open_container(b, YNODE_SEQUENCE, e->data.sequence_start.tag,
                                      e->data.sequence_start.anchor, mark);
        case YAML_MAPPING_START_EVENT:
                return open_container(b, YNODE_MAPPING, e->data.mapping_start.tag, e->data.mapping_start.anchor,
                                      mark);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                close_container(b);
                return 0;
        case YAML_NO_EVENT:
        case YAML_STREAM_END_EVENT:
        case YAML_DOCUMENT_END_EVENT:
                return 0;
        }
        return 0;
}

int ydocument_parse(const char *data, size_t size, YDocument **ret, YError *ret_error) {
        _cleanup_(ydocument_freep) YDocument *doc = xzalloc(sizeof(YDocument));
        Builder b = { .doc = doc, .error = ret_error };
        yaml_parser_t parser;
        bool done = false;
        size_t bad;
        int r = 0;

        *ret_error = (YError) {};

        /* libyaml validates UTF-8 itself, but reports a bad byte only when its reader reaches it,
         * with a position in bytes; checking up front gives one clear message. The UTF-16 check is
         * left to the stream-start event, which sees the byte-order mark. */
        if (!(size >= 2 && ((data[0] == '\xff' && data[1] == '\xfe') || (data[0] == '\xfe' && data[1] == '\xff'))) &&
            !utf8_is_valid(data, size, &bad)) {
                unsigned line = 1, column = 1;
                for (size_t i = 0; i < bad; i++) {
                        if (data[i] == '\n')
                                line++, column = 1;
                        else if (((unsigned char) data[i] & 0xc0) != 0x80)
                                column++;
                }
                return fail(&b, line, column, "the file is not valid UTF-8 (byte 0x%02x at offset %zu)",
                            (unsigned char) data[bad], bad);
        }

        if (!yaml_parser_initialize(&parser))
                return fail(&b, 1, 1, "cannot initialize the YAML parser");
        yaml_parser_set_input_string(&parser, (const unsigned char *) data, size);

        while (!done) {
                yaml_event_t event;

                if (!yaml_parser_parse(&parser, &event)) {
                        const yaml_mark_t *m = parser.problem ? &parser.problem_mark : &parser.context_mark;
                        r = fail(&b, (unsigned) m->line + 1, (unsigned) m->column + 1, "YAML syntax error: %s%s%s",
                                 parser.problem ? parser.problem : "unknown problem",
                                 parser.context ? " " : "", parser.context ? parser.context : "");
                        break;
                }
                done = event.type == YAML_STREAM_END_EVENT;
                r = on_event(&b, &event);
                yaml_event_delete(&event);
                if (r < 0)
                        break;
        }
        yaml_parser_delete(&parser);

        for (size_t i = 0; i < b.n_anchors; i++)
                free(b.anchors[i].name);
        free(b.anchors);

        if (r < 0)
                return r;
        *ret = TAKE_PTR(doc);
        return 0;
}

YDocument *ydocument_free(YDocument *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_nodes; i++) {
                YNode *n = d->nodes[i];
                free(n->value);
                free(n->items);
                free(n->pairs);
                free(n);
        }
        free(d->nodes);
        free(d);
        return NULL;
}

void yerror_done(YError *e) {
        e->message = (free(e->message), NULL);
}
