// hash: FNV-1a 64 (fast, for tables and derived seeds) and SHA-256 (FIPS 180-4, for the content
// hashes that manifests and caches record).
#ifndef ACA_HASH_H
#define ACA_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "aca/err.h"

#define ACA_FNV_SEED 0xcbf29ce484222325ULL
uint64_t hash_fnv1a64(const void *p, size_t n, uint64_t h); // start with h = ACA_FNV_SEED

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t block[64];
    size_t fill;
} aca_sha256;
void sha256_init(aca_sha256 *s);
void sha256_update(aca_sha256 *s, const void *p, size_t n);
void sha256_final(aca_sha256 *s, uint8_t out[32]);
void sha256_hex(const void *p, size_t n, char out[65]);
int sha256_file_hex(const char *path, char out[65], aca_err *e);

#endif
