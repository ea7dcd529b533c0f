/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "httputil.h"

/* A cursor over a length-delimited string: the field values we parse are not NUL-terminated. */
struct cursor {
        const char *p;
        const char *end;
};

static bool cur_lit(struct cursor *c, const char *lit)
{
        size_t n = strlen(lit);

        if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
                return false;
        c->p += n;
        return true;
}

/* Exactly @n digits. */
static bool cur_digits(struct cursor *c, unsigned n, int *ret)
{
        int v = 0;

        if ((size_t)(c->end - c->p) < n)
                return false;
        for (unsigned i = 0; i < n; i++) {
                if (c->p[i] < '0' || c->p[i] > '9')
                        return false;
                v = v * 10 + (c->p[i] - '0');
        }
        c->p += n;
        *ret = v;
        return true;
}

static const char *const day_short[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const day_long[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool cur_one_of(struct cursor *c, const char *const *words, size_t n, int *ret)
{
        for (size_t i = 0; i < n; i++)
                if (cur_lit(c, words[i])) {
                        *ret = (int)i;
                        return true;
                }
        return false;
}

/* "HH:MM:SS" */
static bool cur_time(struct cursor *c, int *h, int *m, int *s)
{
        return cur_digits(c, 2, h) && cur_lit(c, ":") && cur_digits(c, 2, m) && cur_lit(c, ":") &&
               cur_digits(c, 2, s);
}

static bool is_leap(int y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int mon)
{
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

        return mon == 1 && is_leap(y) ? 29 : days[mon];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's method). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned)(y - era * 400);
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static int to_epoch(int year, int mon, int day, int h, int m, int s, time_t *ret)
{
        int64_t t;

        /* Range checks here make every accepted date a real one; leap second 60 is tolerated. */
        if (year < 1900 || year > 9999 || mon < 0 || mon > 11 || day < 1 || day > days_in_month(year, mon) ||
            h > 23 || m > 59 || s > 60)
                return -EINVAL;
        t = days_from_civil(year, (unsigned)mon + 1, (unsigned)day) * 86400 + h * 3600 + m * 60 + s;
        if ((int64_t)(time_t)t != t)
                return -EINVAL;
        *ret = (time_t)t;
        return 0;
}

static int year_of(time_t now)
{
        struct tm tm;

        if (!gmtime_r(&now, &tm))
                return 1970;
        return tm.tm_year + 1900;
}

int httputil_parse_http_date(const char *s, size_t len, time_t now, time_t *ret)
{
        struct cursor c = {s, s + len};
        int wday, day, mon, year, h, m, sec;

        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (cur_one_of(&c, day_short, ELEMENTSOF(day_short), &wday) && cur_lit(&c, ", ")) {
                if (!(cur_digits(&c, 2, &day) && cur_lit(&c, " ") && cur_one_of(&c, months, 12, &mon) &&
                      cur_lit(&c, " ") && cur_digits(&c, 4, &year) && cur_lit(&c, " ") &&
                      cur_time(&c, &h, &m, &sec) && cur_lit(&c, " GMT") && c.p == c.end))
                        return -EINVAL;
                return to_epoch(year, mon, day, h, m, sec, ret);
        }

        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        c.p = s;
        if (cur_one_of(&c, day_long, ELEMENTSOF(day_long), &wday) && cur_lit(&c, ", ")) {
                int yy, century;

                if (!(cur_digits(&c, 2, &day) && cur_lit(&c, "-") && cur_one_of(&c, months, 12, &mon) &&
                      cur_lit(&c, "-") && cur_digits(&c, 2, &yy) && cur_lit(&c, " ") &&
                      cur_time(&c, &h, &m, &sec) && cur_lit(&c, " GMT") && c.p == c.end))
                        return -EINVAL;
                /* RFC 9110: a two-digit year more than 50 years ahead belongs to the past century. */
                century = year_of(now) / 100 * 100;
                year = century + yy;
                if (year > year_of(now) + 50)
                        year -= 100;
                return to_epoch(year, mon, day, h, m, sec, ret);
        }

        /* asctime: "Sun Nov  6 08:49:37 1994" */
        c.p = s;
        if (cur_one_of(&c, day_short, ELEMENTSOF(day_short), &wday) && cur_lit(&c, " ")) {
                if (!(cur_one_of(&c, months, 12, &mon) && cur_lit(&c, " ")))
                        return -EINVAL;
                if (!cur_lit(&c, " ") ? !cur_digits(&c, 2, &day) : !cur_digits(&c, 1, &day))
                        return -EINVAL;
                if (!(cur_lit(&c, " ") && cur_time(&c, &h, &m, &sec) && cur_lit(&c, " ") &&
                      cur_digits(&c, 4, &year) && c.p == c.end))
                        return -EINVAL;
                return to_epoch(year, mon, day, h, m, sec, ret);
        }
        return -EINVAL;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

int httputil_parse_retry_after(const char *s, size_t len, time_t now, uint64_t *ret_seconds)
{
        const char *end = s + len;
        time_t t;

        while (s < end && is_blank(*s))
                s++;
        while (end > s && is_blank(end[-1]))
                end--;
        if (s == end)
                return -EINVAL;

        if (*s >= '0' && *s <= '9') {
                uint64_t v = 0;

                for (const char *p = s; p < end; p++) {
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        /* Clamp instead of overflowing: any huge delay is "too long" to the caller. */
                        if (v <= HTTPUTIL_RETRY_AFTER_MAX)
                                v = v * 10 + (uint64_t)(*p - '0');
                }
                *ret_seconds = v > HTTPUTIL_RETRY_AFTER_MAX ? HTTPUTIL_RETRY_AFTER_MAX : v;
                return 0;
        }

        if (httputil_parse_http_date(s, (size_t)(end - s), now, &t) < 0)
                return -EINVAL;
        if (t <= now)
                *ret_seconds = 0;
        else if ((uint64_t)(t - now) > HTTPUTIL_RETRY_AFTER_MAX)
                *ret_seconds = HTTPUTIL_RETRY_AFTER_MAX;
        else
                *ret_seconds = (uint64_t)(t - now);
        return 0;
}

bool httputil_media_type_matches(const char *content_type, const char *expected)
{
        size_t n, elen;

        if (!content_type || !expected)
                return false;
        while (is_blank(*content_type))
                content_type++;
        n = strcspn(content_type, ";");
        while (n > 0 && is_blank(content_type[n - 1]))
                n--;
        elen = strlen(expected);
        return n == elen && elen > 0 && strncasecmp(content_type, expected, n) == 0;
}

bool httputil_status_retryable(long status)
{
        return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

uint64_t httputil_rand_next(uint64_t *state)
{
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

uint64_t httputil_backoff_ms(unsigned retry, uint64_t base_ms, uint64_t cap_ms, uint64_t *rng)
{
        uint64_t ceiling = base_ms;
        uint64_t r = httputil_rand_next(rng);

        for (unsigned i = 1; i < retry && ceiling < cap_ms; i++)
                ceiling = ceiling > UINT64_MAX / 2 ? UINT64_MAX : ceiling * 2;
        if (ceiling > cap_ms)
                ceiling = cap_ms;
        if (ceiling == UINT64_MAX)
                return r;
        return r % (ceiling + 1);
}
