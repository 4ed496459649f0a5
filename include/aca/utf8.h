// utf8: one scalar value to and from UTF-8 bytes, strictly (RFC 3629).
#ifndef ACA_UTF8_H
#define ACA_UTF8_H

#include <stddef.h>
#include <stdint.h>

// Writes cp (a scalar value) as 1-4 bytes at d; returns the byte count.
size_t utf8_encode(char *d, uint32_t cp);
// Decodes one sequence at s (n >= 1 bytes left) into *cp; returns its length, or 0 when invalid
// (truncated, overlong, surrogate, above U+10FFFF).
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
