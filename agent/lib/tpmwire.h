/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounds-checked reading of TPM 2.0 wire structures (big-endian integers, TPM2B sized buffers),
 * shared by the tpmkey and tpmquote parsers. Every failure names the structure, the offset and
 * the field, e.g. "TPMS_ATTEST at offset 0x2a (extraData): size 300 exceeds the maximum of 66".
 * Also a lenient-alphabet base64 front end to b64.h, because TPM evidence arrives base64- or
 * base64url-encoded.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* TPM_ALG_ID values beyond the hash algorithms of hashalg.h (TCG Algorithm Registry). */
#define TPM_ALG_RSA            0x0001
#define TPM_ALG_HMAC           0x0005
#define TPM_ALG_AES            0x0006
#define TPM_ALG_MGF1           0x0007
#define TPM_ALG_KEYEDHASH      0x0008
#define TPM_ALG_XOR            0x000A
#define TPM_ALG_NULL           0x0010
#define TPM_ALG_RSASSA         0x0014
#define TPM_ALG_RSAES          0x0015
#define TPM_ALG_RSAPSS         0x0016
#define TPM_ALG_OAEP           0x0017
#define TPM_ALG_ECDSA          0x0018
#define TPM_ALG_ECDH           0x0019
#define TPM_ALG_ECDAA          0x001A
#define TPM_ALG_SM2            0x001B
#define TPM_ALG_ECSCHNORR      0x001C
#define TPM_ALG_ECMQV          0x001D
#define TPM_ALG_KDF1_SP800_56A 0x0020
#define TPM_ALG_KDF2           0x0021
#define TPM_ALG_KDF1_SP800_108 0x0022
#define TPM_ALG_ECC            0x0023
#define TPM_ALG_SYMCIPHER      0x0025
#define TPM_ALG_CAMELLIA       0x0026
#define TPM_ALG_SM4            0x0013

/* A cursor over an untrusted buffer. */
struct tpmwire {
        const uint8_t *buf;
        size_t len;
        size_t off;
        const char *what;      /* structure name for messages, e.g. "TPMS_ATTEST" */
        struct cvm_error *err; /* may be NULL */
};

/** tpmwire_init() - a cursor over @len bytes at @buf; @what names the structure in messages. */
void tpmwire_init(struct tpmwire *w, const uint8_t *buf, size_t len, const char *what,
                  struct cvm_error *err);

/** tpmwire_remaining() - bytes left after the cursor. */
size_t tpmwire_remaining(const struct tpmwire *w);

/**
 * tpmwire_fail() - record "WHAT at offset 0xOFF (FIELD): MESSAGE" in the cursor's error, with
 * the offset of the cursor (or @off when it is not SIZE_MAX). Return: @code.
 */
int tpmwire_fail(const struct tpmwire *w, size_t off, int code, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/*
 * Read one big-endian integer or @n raw bytes named @field; advance the cursor.
 * Return: 0, or -EBADMSG when fewer bytes remain (recorded as "truncated").
 * Output parameters are written only on success.
 */
int tpmwire_u8(struct tpmwire *w, const char *field, uint8_t *ret);
int tpmwire_u16(struct tpmwire *w, const char *field, uint16_t *ret);
int tpmwire_u32(struct tpmwire *w, const char *field, uint32_t *ret);
int tpmwire_u64(struct tpmwire *w, const char *field, uint64_t *ret);
int tpmwire_bytes(struct tpmwire *w, const char *field, size_t n, const uint8_t **ret);

/**
 * tpmwire_tpm2b() - read a TPM2B: a 16-bit size and that many bytes.
 * @max: the largest size the structure allows (checked before the bytes are touched).
 * @ret, @ret_size: point into the buffer (not copied).
 * Return: 0, -EBADMSG for a truncated buffer or a size above @max.
 */
int tpmwire_tpm2b(struct tpmwire *w, const char *field, size_t max, const uint8_t **ret, size_t *ret_size);

/**
 * tpmwire_end() - fail with -EBADMSG ("N trailing bytes") unless the cursor is at the end.
 */
int tpmwire_end(const struct tpmwire *w);

/** tpmwire_alg_name() - short lowercase name of a TPM_ALG_ID ("rsassa", "sha256"), or NULL. */
const char *tpmwire_alg_name(uint16_t alg);

/**
 * tpmwire_base64_decode() - decode standard or URL-safe base64 (either alphabet, not mixed;
 * padding optional but exact when present; no whitespace; canonical final character), with
 * b64_decode_flags().
 * @ret, @ret_size: the bytes; caller frees; written only on success.
 * Return: 0, -EINVAL for a character outside the alphabet, bad padding or an impossible
 * length, -ENOMEM.
 */
int tpmwire_base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size);
