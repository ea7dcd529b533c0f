/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cleanup.h"
#include "util.h"

void erase_and_free(void *p, size_t n)
{
        if (!p)
                return;
        OPENSSL_cleanse(p, n);
        free(p);
}

void hex_encode_to(char *out, const void *p, size_t n)
{
        static const char digits[] = "0123456789abcdef";
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[b[i] >> 4];
                out[2 * i + 1] = digits[b[i] & 0xf];
        }
        out[2 * n] = '\0';
}

char *hex_encode(const void *p, size_t n)
{
        char *s;

        if (n > (SIZE_MAX - 1) / 2)
                return NULL;
        s = malloc(2 * n + 1);
        if (!s)
                return NULL;
        hex_encode_to(s, p, n);
        return s;
}

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_size)
{
        _cleanup_free_ uint8_t *out = NULL;

        if (len == SIZE_MAX)
                len = strlen(s);
        if (len % 2 != 0)
                return -EINVAL;
        out = malloc(len / 2 + 1); /* +1: a zero-length result is still a valid pointer */
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len / 2; i++) {
                int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        *ret = TAKE_PTR(out);
        *ret_size = len / 2;
        return 0;
}

int read_file(const char *path, size_t max_size, uint8_t **ret, size_t *ret_size, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, cap = 0;
        struct stat st;
        int fd, r = 0;
        bool is_stdin = strcmp(path, "-") == 0;

        fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return cvm_error_set(err, -errno, "cannot open: %s", strerror(errno));
        if (fstat(fd, &st) < 0) {
                r = cvm_error_set(err, -errno, "cannot stat: %s", strerror(errno));
                goto out;
        }
        if (S_ISDIR(st.st_mode)) {
                r = cvm_error_set(err, -EISDIR, "is a directory");
                goto out;
        }
        /* securityfs files report size 0, so the size is only a hint; read until EOF. */
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_size) {
                r = cvm_error_set(err, -EFBIG, "file is %jd bytes, more than the limit of %zu",
                                  (intmax_t)st.st_size, max_size);
                goto out;
        }
        for (;;) {
                ssize_t n;

                if (size == cap) {
                        size_t ncap = cap ? cap * 2 : 65536;
                        uint8_t *nbuf;

                        if (cap >= max_size + 1) {
                                r = cvm_error_set(err, -EFBIG, "input is larger than the limit of %zu bytes",
                                                  max_size);
                                goto out;
                        }
                        if (ncap > max_size + 1)
                                ncap = max_size + 1;
                        nbuf = realloc(buf, ncap + 1);
                        if (!nbuf) {
                                r = cvm_error_set(err, -ENOMEM, "out of memory");
                                goto out;
                        }
                        buf = nbuf;
                        cap = ncap;
                }
                n = read(fd, buf + size, cap - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = cvm_error_set(err, -errno, "read failed: %s", strerror(errno));
                        goto out;
                }
                if (n == 0)
                        break;
                size += (size_t)n;
                if (size > max_size) {
                        r = cvm_error_set(err, -EFBIG, "input is larger than the limit of %zu bytes",
                                          max_size);
                        goto out;
                }
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf) {
                        r = cvm_error_set(err, -ENOMEM, "out of memory");
                        goto out;
                }
        }
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
out:
        if (!is_stdin)
                close(fd);
        return r;
}

static int parse_digits(const char **s, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                char c = (*s)[i];
                if (c < '0' || c > '9')
                        return -EINVAL;
                v = v * 10 + (c - '0');
        }
        *s += n;
        *ret = v;
        return 0;
}

static int expect_char(const char **s, char c)
{
        if (**s != c)
                return -EINVAL;
        (*s)++;
        return 0;
}

int parse_rfc3339(const char *s, time_t *ret)
{
        int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
        struct tm tm = {};
        time_t t;

        if (parse_digits(&s, 4, &year) < 0 || expect_char(&s, '-') < 0 || parse_digits(&s, 2, &mon) < 0 ||
            expect_char(&s, '-') < 0 || parse_digits(&s, 2, &day) < 0)
                return -EINVAL;
        if (*s != 'T' && *s != 't' && *s != ' ')
                return -EINVAL;
        s++;
        if (parse_digits(&s, 2, &hour) < 0 || expect_char(&s, ':') < 0 || parse_digits(&s, 2, &min) < 0 ||
            expect_char(&s, ':') < 0 || parse_digits(&s, 2, &sec) < 0)
                return -EINVAL;
        if (*s == '.') {
                s++;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                while (*s >= '0' && *s <= '9')
                        s++;
        }
        if (*s == 'Z' || *s == 'z')
                s++;
        else if (*s == '+' || *s == '-') {
                sign = *s == '+' ? 1 : -1;
                s++;
                if (parse_digits(&s, 2, &off_h) < 0 || expect_char(&s, ':') < 0 ||
                    parse_digits(&s, 2, &off_m) < 0)
                        return -EINVAL;
                if (off_h > 23 || off_m > 59)
                        return -EINVAL;
        } else
                return -EINVAL;
        if (*s != '\0')
                return -EINVAL;
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;

        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        t -= (time_t)sign * (off_h * 3600 + off_m * 60);
        *ret = t;
        return 0;
}

void format_rfc3339(time_t t, char out[static 21])
{
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                strcpy(out, "invalid-time");
}

bool is_all_zero(const void *p, size_t n)
{
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i] != 0)
                        return false;
        return true;
}

bool is_all_ff(const void *p, size_t n)
{
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i] != 0xff)
                        return false;
        return true;
}

FILE *memstream_open(char **buf, size_t *len)
{
        FILE *f = open_memstream(buf, len);

        if (f)
                __fsetlocking(f, FSETLOCKING_BYCALLER);
        return f;
}

char *memstream_finish(FILE *f, char **buf)
{
        bool failed = ferror(f);

        if (fclose(f) != 0 || failed) {
                free(*buf);
                *buf = NULL;
                return NULL;
        }
        return TAKE_PTR(*buf);
}
