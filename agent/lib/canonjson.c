/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonjson.h"
#include "cleanup.h"

#define MAX_DEPTH   256
#define PARSE_DEPTH 64

struct out {
        char *p;
        size_t len, cap;
};

static int out_append(struct out *o, const char *s, size_t n)
{
        if (n > SIZE_MAX - o->len - 1)
                return -ENOMEM;
        if (o->len + n + 1 > o->cap) {
                size_t ncap = o->cap ? o->cap : 256;
                char *np;

                while (ncap < o->len + n + 1) {
                        if (ncap > SIZE_MAX / 2)
                                return -ENOMEM;
                        ncap *= 2;
                }
                np = realloc(o->p, ncap);
                if (!np)
                        return -ENOMEM;
                o->p = np;
                o->cap = ncap;
        }
        memcpy(o->p + o->len, s, n);
        o->len += n;
        o->p[o->len] = '\0';
        return 0;
}

static int out_puts(struct out *o, const char *s)
{
        return out_append(o, s, strlen(s));
}

/*
 * Decodes one UTF-8 sequence at s[*i] (strictly: no overlong forms, no surrogates, nothing
 * above U+10FFFF). Return: the code point, or -1 when malformed.
 */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *i)
{
        unsigned char c = s[*i];
        int32_t cp;
        size_t need;

        if (c < 0x80) {
                (*i)++;
                return c;
        }
        if (c >= 0xc2 && c <= 0xdf) {
                need = 1;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                need = 2;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                need = 3;
                cp = c & 0x07;
        } else
                return -1;
        if (n - *i - 1 < need)
                return -1;
        for (size_t k = 1; k <= need; k++) {
                unsigned char cc = s[*i + k];
                if ((cc & 0xc0) != 0x80)
                        return -1;
                cp = cp << 6 | (cc & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return -1;
        *i += need + 1;
        return cp;
}

/* Walks a UTF-8 string as UTF-16 code units, for the RFC 8785 §3.2.3 member ordering. */
struct u16_iter {
        const unsigned char *s;
        size_t n, i;
        uint16_t pending; /* low surrogate still to deliver, or 0 */
};

/* Return: next code unit (0..0xffff), -1 at the end, -2 on malformed UTF-8. */
static int32_t u16_next(struct u16_iter *it)
{
        int32_t cp;

        if (it->pending) {
                uint16_t u = it->pending;
                it->pending = 0;
                return u;
        }
        if (it->i >= it->n)
                return -1;
        cp = utf8_next(it->s, it->n, &it->i);
        if (cp < 0)
                return -2;
        if (cp < 0x10000)
                return cp;
        cp -= 0x10000;
        it->pending = (uint16_t)(0xdc00 | (cp & 0x3ff));
        return 0xd800 | (cp >> 10);
}

static int utf16_compare(const char *a, const char *b)
{
        struct u16_iter ia = {(const unsigned char *)a, strlen(a), 0, 0};
        struct u16_iter ib = {(const unsigned char *)b, strlen(b), 0, 0};

        for (;;) {
                int32_t ca = u16_next(&ia), cb = u16_next(&ib);

                /* Malformed names were rejected before sorting; -2 cannot occur here. */
                if (ca != cb)
                        return ca < cb ? -1 : 1;
                if (ca < 0)
                        return 0;
        }
}

static bool utf8_valid(const char *s, size_t n, size_t *ret_bad)
{
        const unsigned char *u = (const unsigned char *)s;

        for (size_t i = 0; i < n;) {
                size_t at = i;
                if (utf8_next(u, n, &i) < 0) {
                        *ret_bad = at;
                        return false;
                }
        }
        return true;
}

static int append_string(struct out *o, const char *s, size_t n, const char *what, struct cvm_error *err)
{
        size_t bad, start = 0;
        int r;

        if (!utf8_valid(s, n, &bad))
                return cvm_error_set(err, -EBADMSG,
                                     "%s is not well-formed UTF-8 (byte 0x%02x at offset %zu)", what,
                                     (unsigned char)s[bad], bad);
        if ((r = out_append(o, "\"", 1)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                char esc[8];
                const char *e = NULL;

                switch (c) {
                case '"':
                        e = "\\\"";
                        break;
                case '\\':
                        e = "\\\\";
                        break;
                case '\b':
                        e = "\\b";
                        break;
                case '\f':
                        e = "\\f";
                        break;
                case '\n':
                        e = "\\n";
                        break;
                case '\r':
                        e = "\\r";
                        break;
                case '\t':
                        e = "\\t";
                        break;
                default:
                        if (c < 0x20) {
                                snprintf(esc, sizeof(esc), "\\u%04x", c);
                                e = esc;
                        }
                }
                if (!e)
                        continue;
                if ((r = out_append(o, s + start, i - start)) < 0 || (r = out_puts(o, e)) < 0)
                        return r;
                start = i + 1;
        }
        if ((r = out_append(o, s + start, n - start)) < 0 || (r = out_append(o, "\"", 1)) < 0)
                return r;
        return 0;
}

/* Writes the decimal digits and exponent of @v (> 0) with @p significant digits, %e style. */
static void digits_at(double v, int p, char *digits, int *ret_exp)
{
        char buf[64];
        char *e;
        size_t k = 0;

        snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
        for (char *c = buf; *c && *c != 'e'; c++)
                if (*c >= '0' && *c <= '9')
                        digits[k++] = *c;
        digits[k] = '\0';
        e = strchr(buf, 'e');
        *ret_exp = e ? atoi(e + 1) : 0;
}

static bool digits_round_trip(const char *digits, int exp, double v)
{
        char buf[64];

        snprintf(buf, sizeof(buf), "%c.%se%d", digits[0], digits + 1, exp);
        return strtod(buf, NULL) == v;
}

/* Steps the last digit by +1 or -1 with carry/borrow; false when that leaves the digit count. */
static bool digits_step(char *digits, int *exp, int dir)
{
        size_t k = strlen(digits);
        size_t i = k;

        while (i > 0) {
                i--;
                if (dir > 0 && digits[i] < '9') {
                        digits[i]++;
                        return true;
                }
                if (dir < 0 && digits[i] > '0') {
                        digits[i]--;
                        /* A leading zero would change the digit count: not a candidate. */
                        return !(i == 0 && digits[0] == '0');
                }
                digits[i] = dir > 0 ? '0' : '9';
        }
        if (dir > 0) {
                /* 99..9 + 1 = 100..0: one more power of ten, same number of digits. */
                digits[0] = '1';
                (*exp)++;
                return true;
        }
        return false;
}

int canonjson_format_number(double v, char out[static CANONJSON_NUMBER_MAX])
{
        char digits[32];
        int exp = 0, n, k;
        char *o = out;

        if (!isfinite(v))
                return -EDOM;
        if (v == 0) {
                strcpy(out, "0");
                return 0;
        }
        if (v < 0) {
                *o++ = '-';
                v = -v;
        }

        /*
         * Shortest digit string that reads back as v. The correctly rounded p-digit value is
         * the natural candidate; next to a power of two the rounding interval is lopsided and
         * a neighbour one unit away in the last digit may round-trip when it does not.
         */
        for (int p = 1; p <= 17; p++) {
                char cand[32];
                int cexp;

                digits_at(v, p, digits, &exp);
                if (digits_round_trip(digits, exp, v))
                        break;
                for (int dir = 1; dir >= -1; dir -= 2) {
                        strcpy(cand, digits);
                        cexp = exp;
                        if (digits_step(cand, &cexp, dir) && digits_round_trip(cand, cexp, v)) {
                                strcpy(digits, cand);
                                exp = cexp;
                                goto found;
                        }
                }
        }
found:
        k = (int)strlen(digits);
        while (k > 1 && digits[k - 1] == '0')
                digits[--k] = '\0';
        n = exp + 1; /* v = 0.d1d2...dk * 10^n */

        if (k <= n && n <= 21) {
                memcpy(o, digits, (size_t)k);
                o += k;
                for (int i = 0; i < n - k; i++)
                        *o++ = '0';
        } else if (0 < n && n <= 21) {
                memcpy(o, digits, (size_t)n);
                o += n;
                *o++ = '.';
                memcpy(o, digits + n, (size_t)(k - n));
                o += k - n;
        } else if (-6 < n && n <= 0) {
                *o++ = '0';
                *o++ = '.';
                for (int i = 0; i < -n; i++)
                        *o++ = '0';
                memcpy(o, digits, (size_t)k);
                o += k;
        } else {
                *o++ = digits[0];
                if (k > 1) {
                        *o++ = '.';
                        memcpy(o, digits + 1, (size_t)(k - 1));
                        o += k - 1;
                }
                o += sprintf(o, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
        }
        *o = '\0';
        return 0;
}

static int int_to_double(json_object *obj, double *ret)
{
        int64_t i = json_object_get_int64(obj);

        /* json-c keeps positive values above INT64_MAX as uint64; get_int64 clamps them. */
        if (i == INT64_MAX)
                *ret = (double)json_object_get_uint64(obj);
        else
                *ret = (double)i;
        return 0;
}

struct member {
        const char *key;
        json_object *val;
};

static int member_compare(const void *a, const void *b)
{
        return utf16_compare(((const struct member *)a)->key, ((const struct member *)b)->key);
}

static int serialize(struct out *o, json_object *obj, unsigned depth, struct cvm_error *err)
{
        char num[CANONJSON_NUMBER_MAX];
        double d;
        int r;

        if (depth > MAX_DEPTH)
                return cvm_error_set(err, -E2BIG, "JSON nesting deeper than %d levels", MAX_DEPTH);

        switch (json_object_get_type(obj)) {
        case json_type_null:
                return out_puts(o, "null");
        case json_type_boolean:
                return out_puts(o, json_object_get_boolean(obj) ? "true" : "false");
        case json_type_int:
                (void)int_to_double(obj, &d);
                (void)canonjson_format_number(d, num);
                return out_puts(o, num);
        case json_type_double:
                d = json_object_get_double(obj);
                if (canonjson_format_number(d, num) < 0)
                        return cvm_error_set(err, -EDOM,
                                             "JSON number %s cannot be represented (NaN or infinity)",
                                             isnan(d) ? "NaN" : "Infinity");
                return out_puts(o, num);
        case json_type_string:
                return append_string(o, json_object_get_string(obj), (size_t)json_object_get_string_len(obj),
                                     "JSON string", err);
        case json_type_array: {
                size_t n = json_object_array_length(obj);

                if ((r = out_append(o, "[", 1)) < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        if (i > 0 && (r = out_append(o, ",", 1)) < 0)
                                return r;
                        if ((r = serialize(o, json_object_array_get_idx(obj, i), depth + 1, err)) < 0)
                                return r;
                }
                return out_append(o, "]", 1);
        }
        case json_type_object: {
                _cleanup_free_ struct member *m = NULL;
                size_t n = (size_t)json_object_object_length(obj), i = 0;
                size_t bad;

                m = calloc(n ? n : 1, sizeof(*m));
                if (!m)
                        return -ENOMEM;
                json_object_object_foreach (obj, key, val) {
                        if (!utf8_valid(key, strlen(key), &bad))
                                return cvm_error_set(err, -EBADMSG,
                                                     "JSON member name is not well-formed UTF-8 (byte "
                                                     "0x%02x at offset %zu)",
                                                     (unsigned char)key[bad], bad);
                        m[i].key = key;
                        m[i].val = val;
                        i++;
                }
                qsort(m, n, sizeof(*m), member_compare);
                if ((r = out_append(o, "{", 1)) < 0)
                        return r;
                for (i = 0; i < n; i++) {
                        if (i > 0 && (r = out_append(o, ",", 1)) < 0)
                                return r;
                        if ((r = append_string(o, m[i].key, strlen(m[i].key), "JSON member name", err)) <
                                    0 ||
                            (r = out_append(o, ":", 1)) < 0 ||
                            (r = serialize(o, m[i].val, depth + 1, err)) < 0)
                                return r;
                }
                return out_append(o, "}", 1);
        }
        }
        return cvm_error_set(err, -EINVAL, "unknown json-c type");
}

int canonjson_serialize(json_object *obj, char **ret, size_t *ret_len, struct cvm_error *err)
{
        struct out o = {};
        int r;

        r = serialize(&o, obj, 0, err);
        if (r < 0) {
                free(o.p);
                if (r == -ENOMEM)
                        return cvm_error_set(err, r, "out of memory");
                return r;
        }
        *ret = o.p;
        *ret_len = o.len;
        return 0;
}

/*
 * RFC 8259 syntax check run before json-c builds the value: json-c's strict mode still accepts
 * single-quoted strings, NaN/Infinity, "1.", raw control characters in strings and unpaired
 * \uD800-style escapes, and two parsers that disagree about a signed header are a risk.
 */
struct lexer {
        const char *s;
        size_t n, i;
        const char *error;
        /* Copy handed to json-c, with "e0" after each integer literal beyond the 64-bit range:
           json-c would clamp such an integer to INT64_MIN/UINT64_MAX, as a double it keeps its
           (ECMAScript-equivalent) value. */
        char *out;
        size_t out_len, copied;
};

static void lex_fixup(struct lexer *lx, size_t at)
{
        memcpy(lx->out + lx->out_len, lx->s + lx->copied, at - lx->copied);
        lx->out_len += at - lx->copied;
        memcpy(lx->out + lx->out_len, "e0", 2);
        lx->out_len += 2;
        lx->copied = at;
}

/* Is the integer literal s[start..end) (optional '-', digits) outside int64/uint64? */
static bool int_out_of_range(const char *s, size_t start, size_t end)
{
        bool neg = s[start] == '-';
        const char *limit = neg ? "9223372036854775808" : "18446744073709551615";
        size_t digits = end - start - neg, ll = strlen(limit);

        if (digits != ll)
                return digits > ll;
        return memcmp(s + start + neg, limit, ll) > 0;
}

static void skip_ws(struct lexer *lx)
{
        while (lx->i < lx->n &&
               (lx->s[lx->i] == ' ' || lx->s[lx->i] == '\t' || lx->s[lx->i] == '\n' || lx->s[lx->i] == '\r'))
                lx->i++;
}

static bool lex_fail(struct lexer *lx, const char *why)
{
        lx->error = why;
        return false;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static int hex4(const char *p)
{
        int v = 0;

        for (int k = 0; k < 4; k++) {
                char c = p[k];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= c - '0';
                else if (c >= 'a' && c <= 'f')
                        v |= c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        v |= c - 'A' + 10;
                else
                        return -1;
        }
        return v;
}

static bool lex_string(struct lexer *lx)
{
        lx->i++; /* opening quote */
        while (lx->i < lx->n) {
                unsigned char c = (unsigned char)lx->s[lx->i];

                if (c == '"') {
                        lx->i++;
                        return true;
                }
                if (c < 0x20)
                        return lex_fail(lx, "control character in a string");
                if (c != '\\') {
                        lx->i++;
                        continue;
                }
                if (lx->i + 1 >= lx->n)
                        return lex_fail(lx, "unterminated escape");
                c = (unsigned char)lx->s[lx->i + 1];
                if (strchr("\"\\/bfnrt", c) && c) {
                        lx->i += 2;
                        continue;
                }
                if (c != 'u')
                        return lex_fail(lx, "invalid escape in a string");
                {
                        int u = lx->i + 6 <= lx->n ? hex4(lx->s + lx->i + 2) : -1;

                        if (u < 0)
                                return lex_fail(lx, "invalid \\u escape");
                        lx->i += 6;
                        if (u >= 0xdc00 && u <= 0xdfff)
                                return lex_fail(lx, "unpaired low surrogate escape");
                        if (u >= 0xd800 && u <= 0xdbff) {
                                int lo =
                                        lx->i + 6 <= lx->n && lx->s[lx->i] == '\\' && lx->s[lx->i + 1] == 'u'
                                                ? hex4(lx->s + lx->i + 2)
                                                : -1;
                                if (lo < 0xdc00 || lo > 0xdfff)
                                        return lex_fail(lx, "unpaired high surrogate escape");
                                lx->i += 6;
                        }
                }
        }
        return lex_fail(lx, "unterminated string");
}

static bool lex_number(struct lexer *lx)
{
        const char *s = lx->s;
        size_t n = lx->n, start = lx->i;

        if (lx->i < n && s[lx->i] == '-')
                lx->i++;
        if (lx->i < n && s[lx->i] == '0')
                lx->i++;
        else if (lx->i < n && s[lx->i] >= '1' && s[lx->i] <= '9')
                while (lx->i < n && is_digit(s[lx->i]))
                        lx->i++;
        else
                return lex_fail(lx, "invalid number");
        if (!(lx->i < n && (s[lx->i] == '.' || s[lx->i] == 'e' || s[lx->i] == 'E')) &&
            int_out_of_range(s, start, lx->i))
                lex_fixup(lx, lx->i);
        if (lx->i < n && s[lx->i] == '.') {
                lx->i++;
                if (lx->i >= n || !is_digit(s[lx->i]))
                        return lex_fail(lx, "digit expected after the decimal point");
                while (lx->i < n && is_digit(s[lx->i]))
                        lx->i++;
        }
        if (lx->i < n && (s[lx->i] == 'e' || s[lx->i] == 'E')) {
                lx->i++;
                if (lx->i < n && (s[lx->i] == '+' || s[lx->i] == '-'))
                        lx->i++;
                if (lx->i >= n || !is_digit(s[lx->i]))
                        return lex_fail(lx, "digit expected in the exponent");
                while (lx->i < n && is_digit(s[lx->i]))
                        lx->i++;
        }
        return true;
}

static bool lex_literal(struct lexer *lx, const char *word)
{
        size_t k = strlen(word);

        if (lx->n - lx->i < k || memcmp(lx->s + lx->i, word, k) != 0)
                return lex_fail(lx, "unexpected character");
        lx->i += k;
        return true;
}

static bool lex_value(struct lexer *lx, unsigned depth)
{
        char c;

        if (depth > PARSE_DEPTH)
                return lex_fail(lx, "nesting too deep");
        skip_ws(lx);
        if (lx->i >= lx->n)
                return lex_fail(lx, "unexpected end of data");
        c = lx->s[lx->i];
        if (c == '{' || c == '[') {
                char close = c == '{' ? '}' : ']';

                lx->i++;
                skip_ws(lx);
                if (lx->i < lx->n && lx->s[lx->i] == close) {
                        lx->i++;
                        return true;
                }
                for (;;) {
                        if (c == '{') {
                                skip_ws(lx);
                                if (lx->i >= lx->n)
                                        return lex_fail(lx, "unexpected end of data");
                                if (lx->s[lx->i] != '"')
                                        return lex_fail(lx, "quoted member name expected");
                                if (!lex_string(lx))
                                        return false;
                                skip_ws(lx);
                                if (lx->i >= lx->n || lx->s[lx->i] != ':')
                                        return lex_fail(lx, "':' expected");
                                lx->i++;
                        }
                        if (!lex_value(lx, depth + 1))
                                return false;
                        skip_ws(lx);
                        if (lx->i < lx->n && lx->s[lx->i] == ',') {
                                lx->i++;
                                continue;
                        }
                        if (lx->i < lx->n && lx->s[lx->i] == close) {
                                lx->i++;
                                return true;
                        }
                        if (lx->i >= lx->n)
                                return lex_fail(lx, "unexpected end of data");
                        return lex_fail(lx, c == '{' ? "',' or '}' expected" : "',' or ']' expected");
                }
        }
        if (c == '"')
                return lex_string(lx);
        if (c == '-' || is_digit(c))
                return lex_number(lx);
        if (c == 't')
                return lex_literal(lx, "true");
        if (c == 'f')
                return lex_literal(lx, "false");
        if (c == 'n')
                return lex_literal(lx, "null");
        return lex_fail(lx, "unexpected character");
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)

/* The text may be a private JWK: its working copy is wiped, not just freed. */
struct erase_copy {
        char *p;
        size_t size;
};

static void erase_copyp(struct erase_copy *c)
{
        erase_and_free(c->p, c->size);
}

int canonjson_parse(const char *text, size_t len, const char *what, json_object **ret, struct cvm_error *err)
{
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_(json_object_putp) json_object *obj = NULL;
        _cleanup_(erase_copyp) struct erase_copy copy_buf = {};
        enum json_tokener_error jerr;
        size_t copy_len;
        char *copy;
        const char *sep = what ? ": " : "";
        size_t start = 0, end;

        if (!what)
                what = "";
        if (len == SIZE_MAX)
                len = strlen(text);
        if (len > INT32_MAX)
                return cvm_error_set(err, -EBADMSG, "%s%sJSON text of %zu bytes is too large", what, sep,
                                     len);
        /* json-c would take a NUL as the end of input; JSON text never contains one. */
        if (memchr(text, '\0', len))
                return cvm_error_set(err, -EBADMSG, "%s%sJSON text contains a NUL byte at offset %zu", what,
                                     sep, (size_t)((const char *)memchr(text, '\0', len) - text));
        while (start < len && strchr(" \t\r\n", text[start]))
                start++;
        end = len;
        while (end > start && strchr(" \t\r\n", text[end - 1]))
                end--;
        if (start == end)
                return cvm_error_set(err, -EBADMSG, "%s%sempty JSON text", what, sep);

        /* Every out-of-range integer has at least 20 characters and gains 2: +10% suffices. */
        copy_buf.size = end - start + (end - start) / 10 + 16;
        copy = copy_buf.p = malloc(copy_buf.size);
        tok = json_tokener_new_ex(PARSE_DEPTH);
        if (!copy || !tok)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        {
                struct lexer lx = {.s = text + start, .n = end - start, .out = copy};

                if (!lex_value(&lx, 1))
                        return cvm_error_set(err, -EBADMSG, "%s%sJSON parse error at offset %zu: %s", what,
                                             sep, start + lx.i, lx.error);
                skip_ws(&lx);
                if (lx.i != lx.n)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s%strailing data after the JSON value at offset %zu", what,
                                             sep, start + lx.i);
                memcpy(copy + lx.out_len, lx.s + lx.copied, lx.n - lx.copied);
                lx.out_len += lx.n - lx.copied;
                copy[lx.out_len] = '\0';
                copy_len = lx.out_len;
        }

        /* The copy's NUL, passed to json-c, tells it where the input ends, so that a bare
           top-level number or literal ("null", "12") completes instead of waiting for more. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                            JSON_TOKENER_VALIDATE_UTF8);
        obj = json_tokener_parse_ex(tok, copy, (int)(copy_len + 1));
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue)
                return cvm_error_set(err, -EBADMSG, "%s%struncated JSON text (%zu bytes)", what, sep, len);
        if (jerr != json_tokener_success) /* offsets in the copy may be shifted by the fixups */
                return cvm_error_set(err, -EBADMSG, "%s%sJSON parse error: %s", what, sep,
                                     json_tokener_error_desc(jerr));
        if (json_tokener_get_parse_end(tok) < copy_len)
                return cvm_error_set(err, -EBADMSG, "%s%strailing data after the JSON value", what, sep);
        *ret = TAKE_PTR(obj);
        return 0;
}

int canonjson_from_text(const char *text, size_t len, char **ret, size_t *ret_len, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *obj = NULL;
        int r;

        r = canonjson_parse(text, len, "canonical JSON input", &obj, err);
        if (r < 0)
                return r;
        return canonjson_serialize(obj, ret, ret_len, err);
}
