/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4), for content addresses and unit hashes. Not constant-time; nothing
 * secret is hashed. */
#define SHA256_DIGEST_SIZE 32

typedef struct Sha256 {
        uint32_t state[8];
        uint64_t length; /* bytes */
        uint8_t buffer[64];
        size_t buffered;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t ret[SHA256_DIGEST_SIZE]);

/* sha256_final() as 64 lower-case hex digits plus NUL. */
void sha256_final_hex(Sha256 *s, char ret[SHA256_DIGEST_SIZE * 2 + 1]);
/* One-shot, as 64 lower-case hex digits plus NUL. */
void sha256_hex(const void *data, size_t n, char ret[SHA256_DIGEST_SIZE * 2 + 1]);
