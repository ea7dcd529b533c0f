/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cleanup.h"

static const char alphabet_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alphabet_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(const void *p, size_t n, const char *alphabet, bool pad)
{
        const uint8_t *b = p;
        size_t full = n / 3, rest = n % 3, len;
        char *out, *o;

        if (n > (SIZE_MAX - 8) / 4 * 3)
                return NULL;
        len = full * 4 + (rest ? (pad ? 4 : rest + 1) : 0);
        out = malloc(len + 1);
        if (!out)
                return NULL;
        o = out;
        for (size_t i = 0; i < full; i++, b += 3) {
                uint32_t v = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = alphabet[(v >> 6) & 63];
                *o++ = alphabet[v & 63];
        }
        if (rest) {
                uint32_t v = (uint32_t)b[0] << 16 | (rest == 2 ? (uint32_t)b[1] << 8 : 0);
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
                if (rest == 2)
                        *o++ = alphabet[(v >> 6) & 63];
                if (pad) {
                        *o++ = '=';
                        if (rest == 1)
                                *o++ = '=';
                }
        }
        *o = '\0';
        return out;
}

char *b64_encode(const void *p, size_t n)
{
        return encode(p, n, alphabet_std, true);
}

char *b64url_encode(const void *p, size_t n)
{
        return encode(p, n, alphabet_url, false);
}

static int value_of(char c, bool url)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == (url ? '-' : '+'))
                return 62;
        if (c == (url ? '_' : '/'))
                return 63;
        return -1;
}

int b64_decode_flags(const char *s, size_t len, unsigned flags, const char *what, uint8_t **ret,
                     size_t *ret_size, struct cvm_error *err)
{
        bool url = flags & B64_URL;
        const char *variant = url ? "base64url" : "base64";
        const char *sep = what ? ": " : "";
        _cleanup_free_ uint8_t *out = NULL;
        size_t data_len, pad = 0, n = 0, rem;
        uint32_t acc = 0;
        unsigned bits = 0;

        if (!what)
                what = "";
        if (len == SIZE_MAX)
                len = strlen(s);

        /* Padding: only at the very end, at most two characters. */
        while (pad < len && s[len - 1 - pad] == '=')
                pad++;
        data_len = len - pad;
        /* A stray character is the most precise complaint, so look for one first. */
        for (size_t i = 0; i < data_len; i++)
                if (value_of(s[i], url) < 0)
                        return cvm_error_set(err, -EBADMSG, "%s%sinvalid %s character 0x%02x at offset %zu",
                                             what, sep, variant, (unsigned char)s[i], i);
        if (pad > 0) {
                if (url && !(flags & B64_PAD_OPTIONAL))
                        return cvm_error_set(err, -EBADMSG,
                                             "%s%s%s must not be padded, found '=' at offset %zu", what, sep,
                                             variant, data_len);
                if (pad > 2 || len % 4 != 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s%sbad %s padding: %zu '=' after %zu characters", what, sep,
                                             variant, pad, data_len);
        }
        rem = data_len % 4;
        if (rem == 1)
                return cvm_error_set(err, -EBADMSG,
                                     "%s%struncated %s: %zu characters leave a dangling 6 bits", what, sep,
                                     variant, data_len);
        if (pad == 0 && rem != 0 && !url && !(flags & B64_PAD_OPTIONAL))
                return cvm_error_set(err, -EBADMSG, "%s%s%s is missing its '=' padding (%zu characters)",
                                     what, sep, variant, data_len);
        if (pad > 0 && (rem == 0 || pad != 4 - rem))
                return cvm_error_set(err, -EBADMSG, "%s%sbad %s padding: %zu '=' after %zu characters", what,
                                     sep, variant, pad, data_len);

        out = malloc(data_len / 4 * 3 + 3 + 1);
        if (!out)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        for (size_t i = 0; i < data_len; i++) {
                int v = value_of(s[i], url);

                acc = acc << 6 | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (uint8_t)(acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        /* The leftover 2 or 4 bits must be zero, otherwise two encodings decode to the same bytes. */
        if (acc != 0)
                return cvm_error_set(
                        err, -EBADMSG,
                        "%s%snon-canonical %s: unused bits set in the last character at offset %zu", what,
                        sep, variant, data_len - 1);
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}
