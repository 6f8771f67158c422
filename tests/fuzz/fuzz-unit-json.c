/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the canonical JSON codec (unit_spec_from_json(), what a hyperv guest
 * decodes its unit with): arbitrary bytes, as JSON, into the decoder. Besides crashes, leaks and
 * undefined behaviour (ASan/UBSan), it checks that
 *  - a refused spec has a message, an accepted one none;
 *  - an accepted spec's canonical form decodes again, to the same canonical form byte for byte
 *    and the same hash: the decoder takes nothing the encoder cannot write back;
 *  - unit_spec_clone() of it has the same hash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup-error.h"
#include "unit-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *canonical_text(const UnitSpec *u) {
        json_t *j = unit_spec_to_json(u);
        char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(10));

        json_decref(j);
        if (!s)
                abort();
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        UnitSpec *u = NULL, *v = NULL, *c = NULL;
        SupError *e = NULL;
        char h1[65], h2[65], h3[65];
        char *t1, *t2;
        json_error_t je;
        json_t *j;
        int r;

        j = json_loadb((const char *) data, size, 0, &je);
        if (!j)
                return 0;
        r = unit_spec_from_json(j, &u, &e);
        json_decref(j);
        if (r < 0) {
                if (!e || !e->message || u)
                        abort();
                sup_error_free(e);
                return 0;
        }
        if (e)
                abort();

        t1 = canonical_text(u);
        j = unit_spec_to_json(u);
        r = unit_spec_from_json(j, &v, &e);
        json_decref(j);
        if (r < 0) {
                fprintf(stderr, "the canonical form of an accepted spec was refused: %s\n%s\n", sup_error_message(e),
                        t1);
                abort();
        }
        t2 = canonical_text(v);
        if (strcmp(t1, t2) != 0) {
                fprintf(stderr, "the canonical form changed through the codec:\n%s\n%s\n", t1, t2);
                abort();
        }
        c = unit_spec_clone(u);
        if (!c || unit_spec_hash(u, h1) < 0 || unit_spec_hash(v, h2) < 0 || unit_spec_hash(c, h3) < 0 ||
            strcmp(h1, h2) != 0 || strcmp(h1, h3) != 0) {
                fprintf(stderr, "the hash changed through the codec:\n%s\n", t1);
                abort();
        }
        free(t1);
        free(t2);
        unit_spec_free(u);
        unit_spec_free(v);
        unit_spec_free(c);
        return 0;
}
