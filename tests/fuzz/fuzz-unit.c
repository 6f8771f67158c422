/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the unit loader: YAML text → tree → UnitSpec, without touching the file
 * system. Besides crashes, leaks and undefined behaviour (ASan/UBSan), it checks two invariants:
 *  - a rejected unit has at least one error, an accepted one none;
 *  - an accepted unit's canonical text (unit_spec_format(), what supd hands its monitors)
 *    parses again to the same hash (the canonical form is a unit file and the hash does not
 *    depend on how the unit was written);
 *  - and decodes (unit_spec_from_json(), as a guest does) to the same hash: every spec the parser
 *    accepts, the codec carries. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Diagnostics d = {};
        UnitSpec *u = NULL, *v = NULL;
        char h1[65], h2[65];
        char *text;
        int r;

        if (size > UNIT_FILE_SIZE_MAX)
                return 0;
        r = unit_parse("fuzz.yaml", "/units", (const char *) data, size, 0, &d, &u, NULL);
        if (r < 0) {
                if (d.n == 0)
                        abort();
                diagnostics_done(&d);
                return 0;
        }
        if (d.n != 0)
                abort();

        /* The text supd hands its monitors (spec.json), which they parse as a unit file. */
        text = unit_spec_format(u);
        if (!text)
                abort();
        r = unit_parse("fuzz.yaml", "/units", text, strlen(text), 0, &d, &v, NULL);
        if (r < 0) {
                diagnostics_print(&d, stderr);
                fprintf(stderr, "canonical form rejected:\n%s\n", text);
                abort();
        }
        if (unit_spec_hash(u, h1) < 0 || unit_spec_hash(v, h2) < 0 || strcmp(h1, h2) != 0) {
                fprintf(stderr, "hash changed through the canonical form:\n%s\n", text);
                abort();
        }
        unit_spec_free(v);
        v = unit_spec_clone(u);
        if (!v || unit_spec_hash(v, h2) < 0 || strcmp(h1, h2) != 0) {
                fprintf(stderr, "hash changed through the JSON codec:\n%s\n", text);
                abort();
        }
        free(text);
        unit_spec_free(u);
        unit_spec_free(v);
        diagnostics_done(&d);
        return 0;
}
