/* SPDX-License-Identifier: Apache-2.0 */
/* Small, dependency-free helpers shared by every module: hex, files, time, secure memory. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "error.h"

/**
 * hex_encode() - lowercase hex of @n bytes at @p.
 * Return: a NUL-terminated string the caller frees, or NULL on allocation failure.
 */
char *hex_encode(const void *p, size_t n);

/** hex_encode_to() - write 2*@n lowercase hex digits plus NUL into @out (2*@n+1 bytes). */
void hex_encode_to(char *out, const void *p, size_t n);

/**
 * hex_decode() - decode a hex string (either case, even length, no separators).
 * @s: the string; @len: its length, or SIZE_MAX to use strlen().
 * @ret, @ret_size: the decoded bytes, caller frees; written only on success.
 * Return: 0, -EINVAL for a bad digit or odd length, -ENOMEM.
 */
int hex_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size);

/**
 * read_file() - read a whole regular file (or "-" for standard input) into memory.
 * @max_size: refuse files larger than this (-EFBIG), protecting against hostile sizes.
 * @ret, @ret_size: contents (with a NUL appended, not counted) that the caller frees.
 * @err: receives "cannot open: ..."-style detail; may be NULL.
 * Return: 0 or negative errno (-ENOENT, -EACCES, -EISDIR, -EFBIG, -EIO, -ENOMEM).
 */
int read_file(const char *path, size_t max_size, uint8_t **ret, size_t *ret_size, struct cvm_error *err);

/**
 * parse_rfc3339() - parse "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" into seconds since
 * the epoch (UTC). Return: 0 or -EINVAL.
 */
int parse_rfc3339(const char *s, time_t *ret);

/** format_rfc3339() - "YYYY-MM-DDTHH:MM:SSZ" for @t into @out (at least 21 bytes). */
void format_rfc3339(time_t t, char out[static 21]);

/** is_all_zero() / is_all_ff() - true when every byte of the buffer has that value. */
bool is_all_zero(const void *p, size_t n);
bool is_all_ff(const void *p, size_t n);

/* Little-endian loads from byte buffers that may be unaligned. */
static inline uint16_t le16(const uint8_t *p)
{
        return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t le64(const uint8_t *p)
{
        return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}
static inline uint16_t be16(const uint8_t *p)
{
        return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t be32(const uint8_t *p)
{
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t be64(const uint8_t *p)
{
        return ((uint64_t)be32(p) << 32) | (uint64_t)be32(p + 4);
}

/**
 * memstream_open() - open_memstream(@buf, @len) with stdio locking turned off, for
 * single-threaded formatting (per-character locking is the main cost of fprintf there).
 * Return: the stream, or NULL on allocation failure; finish it with memstream_finish().
 */
FILE *memstream_open(char **buf, size_t *len);

/**
 * memstream_finish() - close @f, opened with memstream_open(@buf, ...).
 * Return: the NUL-terminated text (the caller frees it; *@buf is taken), or NULL, with *@buf
 * freed, on any write or allocation failure.
 */
char *memstream_finish(FILE *f, char **buf);
