/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 header parser and strict validator (pure code, no I/O).
 *
 * The host controls the disk, so a LUKS2 header is hostile input. This module takes the first
 * bytes of a volume (both binary header copies with their JSON areas), checks them against the
 * LUKS2 on-disk format and against a deliberately narrow allowlist, and returns a description of
 * the one configuration cvm-agent is willing to hand a key to. The caller activates from the very
 * bytes it validated (see luks.h: sealed memfd as a detached header).
 *
 * Binary checks: magic "LUKS\xba\xbe"/"SKUL\xba\xbe", version 2, header size one of 16 KiB..4 MiB
 * (powers of two), checksum algorithm "sha256", SHA-256 checksum of each copy over its binary
 * header (checksum field zeroed) and JSON area, header offsets, zero reserved bytes, a canonical
 * UUID, NUL-terminated label and subsystem; both copies must be valid and agree (seqid, label,
 * UUID, subsystem, byte-identical JSON areas) — a damaged copy is not auto-repaired here
 * (`cryptsetup repair` is the operator's tool).
 *
 * JSON checks: one RFC 8259 value followed only by NUL padding, at most LUKS2HDR_MAX_JSON_TEXT
 * bytes, nesting depth <= 16, no duplicate member names, no escapes in member names; then the
 * allowlist:
 *  - top level: exactly keyslots, tokens, segments, digests, config;
 *  - segments: exactly one, "0", type "crypt", cipher from the allowlist (aes-xts-plain64 only:
 *    never cipher_null, no CBC/ESSIV legacy modes, no dm-integrity, no reencryption flags),
 *    iv_tweak "0", sector size 512/1024/2048/4096, offset a multiple of the sector size behind
 *    the metadata and keyslot areas, size "dynamic" or a positive multiple of the sector size;
 *  - keyslots: type "luks2", key size 32 or 64 (the segment's volume key size), AF "luks1" with
 *    4000 stripes, raw areas inside the keyslots area, 4 KiB aligned, large enough, not
 *    overlapping, area cipher from the allowlist; KDF pbkdf2 (sha256/sha384/sha512,
 *    1000..2^32-1 iterations) or argon2i/argon2id (time 4..2^32-1, memory 32 KiB..4 GiB,
 *    1..16 threads), 32-byte salts; priority 0..2;
 *  - digests: exactly one, pbkdf2, covering segment "0" and every keyslot (no unbound keys);
 *  - config: json_size equal to the JSON area, keyslots_size multiple of 4 KiB up to 128 MiB,
 *    performance flags only, no mandatory requirements (no online reencryption);
 *  - tokens: at most 32, type names [A-Za-z0-9_-]{1,64}, keyslot references naming existing
 *    keyslots; foreign token types (clevis, systemd-tpm2, ...) are otherwise opaque; every
 *    `cvm-agent` token is validated by lukstoken_parse(), must reference an existing keyslot that
 *    no other cvm-agent token uses, and its binding digest must match the header.
 * Every rejection names the field by its JSON path ("segments.0.encryption: ...") or the binary
 * offset.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"
#include "lukstoken.h"

#define LUKS2HDR_BIN_SIZE          4096u
#define LUKS2HDR_MIN_HDR_SIZE      (16u * 1024u)
#define LUKS2HDR_MAX_HDR_SIZE      (4u * 1024u * 1024u)
#define LUKS2HDR_MAX_KEYSLOTS_SIZE (128u * 1024u * 1024u)
#define LUKS2HDR_MAX_JSON_TEXT     (256u * 1024u)
#define LUKS2HDR_MAX_OBJECTS       32
#define LUKS2HDR_UUID_LEN          36
#define LUKS2HDR_BINDING_SIZE      LUKSTOKEN_BINDING_SIZE

enum luks2hdr_kdf {
        LUKS2HDR_KDF_PBKDF2,
        LUKS2HDR_KDF_ARGON2I,
        LUKS2HDR_KDF_ARGON2ID,
};

/* String members point into the header's JSON tree and live as long as the struct luks2hdr. */
struct luks2hdr_keyslot {
        bool active;
        unsigned key_size;
        int priority; /* 0 ignore, 1 normal (also when absent), 2 prefer */
        const char *area_offset_str, *area_size_str;
        uint64_t area_offset, area_size;
        const char *area_encryption;
        unsigned area_key_size;
        enum luks2hdr_kdf kdf;
        const char *kdf_hash;    /* pbkdf2 only */
        uint32_t kdf_iterations; /* pbkdf2 iterations or argon2 time cost */
        uint32_t kdf_memory;     /* argon2 only, KiB */
        uint32_t kdf_cpus;       /* argon2 only */
        const char *kdf_salt;    /* base64 as stored */
        unsigned af_stripes;
        const char *af_hash;
};

struct luks2hdr_token {
        bool active;
        const char *type;
        uint32_t keyslots;     /* bit i set: references keyslot i */
        struct lukstoken *cvm; /* parsed `cvm-agent` token, NULL for other types */
};

struct luks2hdr_segment {
        const char *offset_str, *size_str; /* as stored: decimal, size may be "dynamic" */
        uint64_t offset;
        uint64_t size; /* 0 when dynamic */
        bool dynamic;
        const char *iv_tweak;
        const char *encryption;
        uint32_t sector_size;
};

struct luks2hdr_digest {
        int id;
        const char *hash;
        uint32_t iterations;
        const char *salt, *digest; /* base64 as stored */
};

struct luks2hdr {
        uint64_t hdr_size; /* one copy: binary header + JSON area */
        uint64_t seqid;
        uint64_t keyslots_size;
        char uuid[LUKS2HDR_UUID_LEN + 1];
        char label[49];
        char subsystem[49];
        size_t json_text_size;
        json_object *root;
        struct luks2hdr_segment segment;
        struct luks2hdr_digest digest;
        unsigned volume_key_size;
        struct luks2hdr_keyslot keyslots[LUKS2HDR_MAX_OBJECTS];
        struct luks2hdr_token tokens[LUKS2HDR_MAX_OBJECTS];
};

/**
 * luks2hdr_peek() - read the header size from the primary binary header, so a reader knows how
 * much to load before calling luks2hdr_parse().
 * @buf, @size: the first bytes of the device; at least LUKS2HDR_BIN_SIZE.
 * @ret_hdr_size: size of one header copy (binary header + JSON area).
 * Return: 0, -EBADMSG not a LUKS2 header or bad size field, -EOPNOTSUPP other LUKS version.
 */
int luks2hdr_peek(const uint8_t *buf, size_t size, uint64_t *ret_hdr_size, struct cvm_error *err);

/**
 * luks2hdr_parse() - validate both header copies and the JSON metadata (see the file comment).
 * @buf, @size: at least the first 2 * hdr_size bytes of the device (more is ignored).
 * @ret: the validated header, freed with luks2hdr_free(); written only on success.
 * @err: the exact reason for a rejection.
 * Return: 0, -EBADMSG malformed or outside the allowlist, -EOPNOTSUPP well-formed but
 * unsupported (cipher, KDF, token version, reencryption), -EKEYREJECTED a cvm-agent token whose
 * binding digest does not match this header (swapped or altered header), -ENOMEM.
 */
int luks2hdr_parse(const uint8_t *buf, size_t size, struct luks2hdr **ret, struct cvm_error *err);

/** luks2hdr_free() - free @h (NULL is a no-op). */
void luks2hdr_free(struct luks2hdr *h);
static inline void luks2hdr_freep(struct luks2hdr **h)
{
        luks2hdr_free(*h);
}

/** luks2hdr_metadata_size() - bytes from the device start to the end of the keyslots area. */
uint64_t luks2hdr_metadata_size(const struct luks2hdr *h);

/**
 * luks2hdr_binding() - the binding digests that authenticate a wrapped keyslot secret.
 * @h: the validated header; @keyslot: the token's keyslot (must be active in @h).
 * @t: the token's backend configuration (backend, its fields, wrap algorithm); its keyslot,
 *     wrap bytes and binding fields are not used.
 * @out: four SHA-256 digests, each over length-prefixed "name=len:value\n" records that start
 *       with a tag record "cvm-agent-luks2-binding-v1/<part>":
 *        - uuid: the LUKS UUID;
 *        - segment: the data segment's type, offset, size, iv_tweak, encryption, sector_size;
 *        - keyslot: the keyslot number, key_size, area (type, offset, size, encryption,
 *          key_size), KDF (type, hash or time/memory/cpus, iterations, salt), AF (type,
 *          stripes, hash), and the digest's type, hash, iterations, salt, digest;
 *        - config: token version, backend, backend fields (azure: maa_url, key_id, enc;
 *          trustee: kbs_url, resource_path, kbs_ca or empty) and wrap algorithm.
 *       Anything else (label, priority, other keyslots and tokens) may change without
 *       invalidating the enrollment. Separate parts let a mismatch name what changed.
 * Return: 0, -EINVAL inactive keyslot or incomplete token, -ENOMEM, -EIO (OpenSSL failure).
 */
int luks2hdr_binding(const struct luks2hdr *h, int keyslot, const struct lukstoken *t,
                     uint8_t out[LUKS2HDR_BINDING_SIZE], struct cvm_error *err);

/**
 * luks2hdr_next_cvm_token() - the lowest enrolled (not pending) cvm-agent token id >= @start.
 * Return: the token id, or -ENOENT.
 */
int luks2hdr_next_cvm_token(const struct luks2hdr *h, int start);

/** luks2hdr_kdf_name() - "pbkdf2", "argon2i" or "argon2id". */
const char *luks2hdr_kdf_name(enum luks2hdr_kdf kdf);
