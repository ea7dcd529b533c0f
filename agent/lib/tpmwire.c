/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cleanup.h"
#include "hashalg.h"
#include "tpmwire.h"
#include "util.h"

void tpmwire_init(struct tpmwire *w, const uint8_t *buf, size_t len, const char *what, struct cvm_error *err)
{
        *w = (struct tpmwire){.buf = buf, .len = len, .off = 0, .what = what, .err = err};
}

size_t tpmwire_remaining(const struct tpmwire *w)
{
        return w->len - w->off;
}

int tpmwire_fail(const struct tpmwire *w, size_t off, int code, const char *field, const char *fmt, ...)
{
        char msg[CVM_ERROR_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return cvm_error_set(w->err, code, "%s at offset 0x%zx (%s): %s", w->what,
                             off == SIZE_MAX ? w->off : off, field, msg);
}

int tpmwire_bytes(struct tpmwire *w, const char *field, size_t n, const uint8_t **ret)
{
        if (n > tpmwire_remaining(w))
                return tpmwire_fail(w, SIZE_MAX, -EBADMSG, field, "truncated: needs %zu bytes, %zu left", n,
                                    tpmwire_remaining(w));
        *ret = w->buf + w->off;
        w->off += n;
        return 0;
}

int tpmwire_u8(struct tpmwire *w, const char *field, uint8_t *ret)
{
        const uint8_t *p = NULL;
        int r = tpmwire_bytes(w, field, 1, &p);

        if (r < 0)
                return r;
        *ret = p[0];
        return 0;
}

int tpmwire_u16(struct tpmwire *w, const char *field, uint16_t *ret)
{
        const uint8_t *p = NULL;
        int r = tpmwire_bytes(w, field, 2, &p);

        if (r < 0)
                return r;
        *ret = be16(p);
        return 0;
}

int tpmwire_u32(struct tpmwire *w, const char *field, uint32_t *ret)
{
        const uint8_t *p = NULL;
        int r = tpmwire_bytes(w, field, 4, &p);

        if (r < 0)
                return r;
        *ret = be32(p);
        return 0;
}

int tpmwire_u64(struct tpmwire *w, const char *field, uint64_t *ret)
{
        const uint8_t *p = NULL;
        int r = tpmwire_bytes(w, field, 8, &p);

        if (r < 0)
                return r;
        *ret = be64(p);
        return 0;
}

int tpmwire_tpm2b(struct tpmwire *w, const char *field, size_t max, const uint8_t **ret, size_t *ret_size)
{
        size_t start = w->off;
        uint16_t size;
        int r;

        r = tpmwire_u16(w, field, &size);
        if (r < 0)
                return r;
        if (size > max) {
                w->off = start;
                return tpmwire_fail(w, start, -EBADMSG, field, "size %u exceeds the maximum of %zu", size,
                                    max);
        }
        if (size > tpmwire_remaining(w)) {
                r = tpmwire_fail(w, start, -EBADMSG, field, "truncated: size %u, %zu bytes left", size,
                                 tpmwire_remaining(w));
                w->off = start;
                return r;
        }
        *ret = w->buf + w->off;
        *ret_size = size;
        w->off += size;
        return 0;
}

int tpmwire_end(const struct tpmwire *w)
{
        if (w->off != w->len)
                return tpmwire_fail(w, SIZE_MAX, -EBADMSG, "end", "%zu trailing bytes after the structure",
                                    tpmwire_remaining(w));
        return 0;
}

const char *tpmwire_alg_name(uint16_t alg)
{
        static const struct {
                uint16_t id;
                const char *name;
        } names[] = {
                {TPM_ALG_RSA, "rsa"},
                {TPM_ALG_HMAC, "hmac"},
                {TPM_ALG_AES, "aes"},
                {TPM_ALG_MGF1, "mgf1"},
                {TPM_ALG_KEYEDHASH, "keyedhash"},
                {TPM_ALG_XOR, "xor"},
                {TPM_ALG_NULL, "null"},
                {TPM_ALG_SM4, "sm4"},
                {TPM_ALG_RSASSA, "rsassa"},
                {TPM_ALG_RSAES, "rsaes"},
                {TPM_ALG_RSAPSS, "rsapss"},
                {TPM_ALG_OAEP, "oaep"},
                {TPM_ALG_ECDSA, "ecdsa"},
                {TPM_ALG_ECDH, "ecdh"},
                {TPM_ALG_ECDAA, "ecdaa"},
                {TPM_ALG_SM2, "sm2"},
                {TPM_ALG_ECSCHNORR, "ecschnorr"},
                {TPM_ALG_ECMQV, "ecmqv"},
                {TPM_ALG_KDF1_SP800_56A, "kdf1_sp800_56a"},
                {TPM_ALG_KDF2, "kdf2"},
                {TPM_ALG_KDF1_SP800_108, "kdf1_sp800_108"},
                {TPM_ALG_ECC, "ecc"},
                {TPM_ALG_SYMCIPHER, "symcipher"},
                {TPM_ALG_CAMELLIA, "camellia"},
        };
        const struct hash_alg *h = hash_alg_by_tpm_id(alg);

        if (h)
                return h->name;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (names[i].id == alg)
                        return names[i].name;
        return NULL;
}

int tpmwire_base64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size)
{
        int r;

        /* Tools disagree on the alphabet, so try the standard one, then the URL-safe one. */
        r = b64_decode_flags(s, len, B64_PAD_OPTIONAL, NULL, ret, ret_size, NULL);
        if (r == -EBADMSG)
                r = b64_decode_flags(s, len, B64_URL | B64_PAD_OPTIONAL, NULL, ret, ret_size, NULL);
        return r == -EBADMSG ? -EINVAL : r;
}
