/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linux IMA runtime measurement log (securityfs ascii_runtime_measurements and
 * binary_runtime_measurements): streaming parser, template-hash verification and PCR replay.
 *
 * The reader works entry by entry over a file descriptor (or a memory buffer) with a bounded
 * buffer, so memory does not grow with the log. Every entry is exposed with its decoded
 * template fields; the reader verifies sha1(template data) against the logged template hash and
 * extends the SHA-1 and SHA-256 banks of the entry's PCR (violations extend 0xff..ff). The
 * reader's position (byte offset, entry count, running PCR values) can be saved and handed back
 * later to continue an append-only log from where the previous run stopped.
 *
 * Formats.
 * - Binary, per entry: u32 pcr, 20-byte template hash, u32 name length, name, then
 *   u32 template data length + template data; for the legacy "ima" template there is no data
 *   length: 20-byte digest, u32 name length, name (hashed as digest || name zero-padded to 256).
 *   Integers are little-endian (ima_canonical_fmt or a little-endian kernel); a log written by a
 *   big-endian kernel is detected from its first PCR index and read big-endian.
 * - ASCII, per line: "PCR TEMPLATE-HASH TEMPLATE-NAME FIELD...". The template data is rebuilt
 *   from the fields exactly as the kernel serialises it (each field u32 little-endian length +
 *   bytes; a digest field is "<algo>:" NUL digest; a name field is the path plus NUL). Names may
 *   contain spaces; hex fields after the name are split from the right. Custom templates
 *   (ima_template_fmt=) are named by their format string ("d-ng|n-ng|buf") and are supported.
 * - ASCII with a 64/96/128-hex template hash: a per-bank list (Linux >= 6.10,
 *   ascii_runtime_measurements_<bank>). The template hash is the bank's digest of the template
 *   data, identified by trying the bank algorithms of that size (sha256, sm3_256, sha3_256 /
 *   sha384, sha3_384 / sha512, sha3_512); it is valid when one matches. The SHA-1 bank is then
 *   replayed with sha1(template data), since the log does not carry the SHA-1 template hash.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"
#include "hashalg.h"

#define IMA_PCR_COUNT 24
/* Largest template data of one entry (ima-buf carrying a certificate is a few KiB). */
#define IMA_TEMPLATE_DATA_MAX (1024u * 1024u)
/* Longest template name; custom templates are named by their format string. */
#define IMA_TEMPLATE_NAME_MAX 255u
/* Longest ASCII line: every data byte as two hex digits plus the fixed fields. */
#define IMA_LINE_MAX (2u * IMA_TEMPLATE_DATA_MAX + 4096u)
/* Longest digest prefix before ':' in a d-ng/d-ngv2 field ("verity:sha256"). */
#define IMA_DIGEST_PREFIX_MAX 63u
/* The "ima" template pads the name to this many bytes when hashing. */
#define IMA_LEGACY_NAME_SIZE 256u

enum ima_format {
        IMA_FORMAT_AUTO = 0, /* detect from the first byte (digit or space: ASCII) */
        IMA_FORMAT_ASCII,
        IMA_FORMAT_BINARY,
};

/*
 * Where a reader stands: everything needed to continue an append-only log later. Plain data;
 * save it with ima_position_to_json() and restore it with ima_position_from_json().
 */
struct ima_position {
        enum ima_format format; /* IMA_FORMAT_AUTO until the first entry was read */
        bool big_endian;        /* binary log written by a big-endian kernel */
        uint64_t offset;        /* byte offset where the next entry starts */
        uint64_t entries;       /* entries consumed = number of the next entry (0-based) */
        uint64_t last_offset;   /* byte offset of the last consumed entry (when entries > 0) */
        uint8_t last_template_hash[HASH_MAX_SIZE]; /* its logged template hash, to recognise */
        uint8_t last_template_hash_size;           /* the same log on resume (0: none) */
        uint32_t pcr_mask;                         /* bit i set: PCR i was extended */
        uint8_t sha1[IMA_PCR_COUNT][20];           /* running PCR values, SHA-1 bank */
        uint8_t sha256[IMA_PCR_COUNT][32];         /* running PCR values, SHA-256 bank */
};

/*
 * One measurement. All pointers point into the reader's buffers and stay valid only until the
 * next ima_reader_next() or ima_reader_free().
 */
struct ima_entry {
        uint64_t number; /* 0-based index in the log */
        uint64_t offset; /* byte offset of the entry (binary) or of its line (ASCII) */
        uint64_t line;   /* ASCII: 1-based line number; 0 for binary logs */
        uint32_t pcr;
        const char *template_name; /* NUL-terminated */

        const uint8_t *template_hash; /* as logged */
        size_t template_hash_size;    /* 20, or 32/48/64 in a per-bank ASCII list */
        /* Algorithm of the logged template hash: sha1, the bank that matched in a per-bank list,
         * or NULL when no algorithm of that size reproduces it (then template_hash_valid is
         * false). */
        const struct hash_alg *template_hash_alg;
        uint8_t computed_hash[HASH_MAX_SIZE]; /* H(template data), template_hash_size bytes; for
                                                 an unidentified bank: sha256 / sha384 / sha512 */
        bool violation;                       /* all-zero template hash: the PCR was extended with 0xff.. */
        bool template_hash_valid; /* computed == logged (true for violations: nothing to check) */

        const uint8_t *template_data; /* exactly the bytes the kernel hashed */
        size_t template_data_size;

        /* Decoded fields. fields_decoded is false only for an unknown template in a binary log,
         * whose data is hashed and replayed but not interpreted. */
        bool fields_decoded;
        char digest_type[IMA_DIGEST_PREFIX_MAX + 1]; /* d-ngv2 "ima"/"verity"; "" otherwise */
        char digest_algo[IMA_DIGEST_PREFIX_MAX + 1]; /* "sha256", "sm3", "unknown"...; "sha1"
                                                        for the "ima" template; "" if none */
        const uint8_t *digest; /* file-data digest (d, d-ng, d-ngv2); NULL if no such field */
        size_t digest_size;
        const char *path; /* n / n-ng, NUL-terminated without embedded NULs; NULL if none */
        size_t path_len;
        const uint8_t *sig; /* sig field (ima-sig, ima-modsig, ima-sigv2); NULL when absent */
        size_t sig_size;    /* 0 when the field is present but empty */
        const uint8_t *buf; /* buf field (ima-buf); NULL when absent */
        size_t buf_size;
        char modsig_digest_algo[IMA_DIGEST_PREFIX_MAX + 1]; /* d-modsig; "" when empty */
        const uint8_t *modsig_digest;
        size_t modsig_digest_size;
        const uint8_t *modsig; /* modsig field (ima-modsig); NULL when absent */
        size_t modsig_size;

        uint8_t sha1_extended[20];   /* what this entry extended into the SHA-1 bank */
        uint8_t sha256_extended[32]; /* and into the SHA-256 bank */
};

struct ima_reader;

/**
 * ima_reader_new() - start reading an IMA log from a file descriptor.
 * @fd: readable descriptor; not owned (the caller closes it after ima_reader_free()). Reading
 *      starts at the current file position, which must be the start of the log (or of the
 *      data @resume refers to, see below).
 * @format: IMA_FORMAT_AUTO to detect, or the format to insist on.
 * @resume: NULL to start at the first entry, or a position saved from an earlier reader over
 *          the same (grown) log: the reader seeks to the last entry it consumed (lseek, or
 *          reading and discarding on a pipe), checks that this entry still carries the saved
 *          template hash and ends at the saved offset, and continues after it with the saved
 *          PCR values.
 * @ret: the new reader, freed with ima_reader_free(); written only on success.
 * @err: error detail; may be NULL.
 * Return: 0; -ENOMEM; -EINVAL for an inconsistent @resume or a @format that contradicts it;
 *         -ESTALE when @resume does not match this log (it was replaced, e.g. after a reboot);
 *         -EBADMSG when the entry at the resume point is malformed; -EIO/-errno on read errors.
 */
int ima_reader_new(int fd, enum ima_format format, const struct ima_position *resume,
                   struct ima_reader **ret, struct cvm_error *err);

/**
 * ima_reader_new_from_memory() - as ima_reader_new(), over @size bytes at @data, which must
 * stay valid and unchanged for the reader's lifetime (not copied). @data holds the log from its
 * start; with @resume the reader continues at the saved offset inside it.
 */
int ima_reader_new_from_memory(const void *data, size_t size, enum ima_format format,
                               const struct ima_position *resume, struct ima_reader **ret,
                               struct cvm_error *err);

/**
 * ima_reader_next() - parse, verify and replay the next entry.
 * @ret_entry: receives the entry (owned by the reader, valid until the next call); written
 *             only when 1 is returned.
 * Return: 1 entry returned, 0 end of the log (the last entry ended exactly at end of file),
 *         -EBADMSG malformed or truncated entry (message names entry number, byte offset or
 *         line, and field), -EOPNOTSUPP a well-formed ASCII entry whose template data cannot
 *         be rebuilt (unknown template or field), -ENOMEM, -EIO/-errno on read errors. After
 *         an error the reader stays at the last good entry and further calls fail the same way.
 */
int ima_reader_next(struct ima_reader *r, const struct ima_entry **ret_entry, struct cvm_error *err);

/**
 * ima_reader_position() - the position after the last entry returned (or the start / resume
 * point when none was), to continue later with ima_reader_new(..., resume = this).
 */
void ima_reader_position(const struct ima_reader *r, struct ima_position *ret);

/** ima_reader_format() - the log's format, or IMA_FORMAT_AUTO while not yet known (empty). */
enum ima_format ima_reader_format(const struct ima_reader *r);

/** ima_reader_free() - free the reader (not the descriptor); accepts NULL; returns NULL. */
struct ima_reader *ima_reader_free(struct ima_reader *r);

static inline void ima_reader_freep(struct ima_reader **r)
{
        ima_reader_free(*r);
}

/** ima_format_to_string() - "ascii", "binary", or "unknown" for IMA_FORMAT_AUTO. */
const char *ima_format_to_string(enum ima_format f);

/** ima_format_from_string() - inverse of ima_format_to_string() ("auto" too); -EINVAL. */
int ima_format_from_string(const char *s, enum ima_format *ret);

/**
 * ima_position_init() - a position at the start of a log: no entries, PCRs all zero.
 */
void ima_position_init(struct ima_position *p);

/**
 * ima_position_to_json() - serialise @p as a JSON object (format, big_endian, offset, entries,
 * last_offset, last_template_hash, pcrs: {sha1: {"10": hex}, sha256: {...}} for every extended
 * PCR). @ret: new object the caller puts. Return: 0 or -ENOMEM.
 */
int ima_position_to_json(const struct ima_position *p, json_object **ret);

/**
 * ima_position_from_json() - parse what ima_position_to_json() produced.
 * Return: 0, -EBADMSG for a missing or malformed member (named in @err).
 */
int ima_position_from_json(json_object *o, struct ima_position *ret, struct cvm_error *err);
