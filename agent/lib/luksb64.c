/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "luksb64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *luksb64_encode(const void *p, size_t n)
{
        const uint8_t *in = p;
        size_t out_len, o = 0;
        char *out;

        if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
                return NULL;
        out_len = (n + 2) / 3 * 4;
        out = malloc(out_len + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;
                size_t left = n - i;

                if (left > 1)
                        v |= (uint32_t)in[i + 1] << 8;
                if (left > 2)
                        v |= in[i + 2];
                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                out[o++] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
                out[o++] = left > 2 ? alphabet[v & 63] : '=';
        }
        out[o] = '\0';
        return out;
}

static int value_of(char c, bool url)
{
        if (url && c == '-')
                return 62;
        if (url && c == '_')
                return 63;
        if (url && (c == '+' || c == '/'))
                return -1;
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/*
 * Decodes @len characters. The URL variant takes no padding: a final group of 2 or 3
 * characters stands for 1 or 2 bytes, as if padded.
 */
static int decode(const char *s, size_t len, bool url, uint8_t **ret, size_t *ret_size)
{
        _cleanup_free_ uint8_t *out = NULL;
        char tail[4];
        size_t pad = 0, o = 0, full;

        if (len == SIZE_MAX)
                len = strlen(s);
        if (url) {
                if (len % 4 == 1)
                        return -EBADMSG;
                pad = (4 - len % 4) % 4;
        } else {
                if (len % 4 != 0)
                        return -EBADMSG;
                if (len > 0 && s[len - 1] == '=')
                        pad++;
                if (len > 1 && s[len - 2] == '=')
                        pad++;
        }
        out = malloc(len / 4 * 3 + 3);
        if (!out)
                return -ENOMEM;
        full = url ? len + pad : len;
        for (size_t i = 0; i < full; i += 4) {
                uint32_t v = 0;
                bool last = i + 4 == full;
                const char *q = s + i;

                if (url && last && pad) {
                        memset(tail, '=', sizeof(tail));
                        memcpy(tail, s + i, 4 - pad);
                        q = tail;
                }
                for (size_t k = 0; k < 4; k++) {
                        int d;

                        if (last && k >= 4 - pad) {
                                if (q[k] != '=')
                                        return -EBADMSG;
                                continue;
                        }
                        d = value_of(q[k], url);
                        if (d < 0)
                                return -EBADMSG;
                        v |= (uint32_t)d << (18 - 6 * k);
                }
                /* The bits a padded quantum does not use must be zero (canonical encoding). */
                if (last && pad == 2 && (v & 0xffff) != 0)
                        return -EBADMSG;
                if (last && pad == 1 && (v & 0xff) != 0)
                        return -EBADMSG;
                out[o++] = (uint8_t)(v >> 16);
                if (!(last && pad == 2))
                        out[o++] = (uint8_t)(v >> 8);
                if (!(last && pad >= 1))
                        out[o++] = (uint8_t)v;
        }
        *ret = TAKE_PTR(out);
        *ret_size = o;
        return 0;
}

int luksb64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size)
{
        return decode(s, len, false, ret, ret_size);
}

int luksb64url_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size)
{
        return decode(s, len, true, ret, ret_size);
}

int luksb64_decode_exact(const char *s, void *out, size_t size)
{
        uint8_t *buf = NULL;
        size_t n = 0;
        int r;

        r = luksb64_decode(s, SIZE_MAX, &buf, &n);
        if (r < 0)
                return r;
        if (n != size) {
                erase_and_free(buf, n);
                return -EBADMSG;
        }
        memcpy(out, buf, size);
        erase_and_free(buf, n);
        return 0;
}
