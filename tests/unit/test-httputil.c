/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "testlib.h"

#include "cleanup.h"
#include "httputil.h"

/* RFC 9110 §5.6.7's example instant, Sun, 06 Nov 1994 08:49:37 GMT. */
#define EXAMPLE_TIME 784111777
/* 2025-06-01T00:00:00Z, a "now" for the two-digit-year rule. */
#define NOW_2025 1748736000

static int date(const char *s, time_t now, time_t *ret)
{
        return httputil_parse_http_date(s, strlen(s), now, ret);
}

static void test_http_date_forms(void **state)
{
        static const char *const forms[] = {
                "Sun, 06 Nov 1994 08:49:37 GMT",  /* IMF-fixdate */
                "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
                "Sun Nov  6 08:49:37 1994",       /* asctime */
        };
        time_t t;

        for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
                t = 0;
                assert_int_equal(date(forms[i], NOW_2025, &t), 0);
                assert_int_equal(t, EXAMPLE_TIME);
        }
        assert_int_equal(date("Thu, 01 Jan 1970 00:00:00 GMT", NOW_2025, &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(date("Sat, 29 Feb 2020 23:59:59 GMT", NOW_2025, &t), 0);
        assert_int_equal(t, 1583020799);
        assert_int_equal(date("Fri Dec 31 23:59:59 1999", NOW_2025, &t), 0);
        assert_int_equal(t, 946684799);
        assert_int_equal(date("Thu Jan 15 01:02:03 2026", NOW_2025, &t), 0);
        assert_int_equal(t, 1768438923);
}

/* RFC 9110: a two-digit year more than 50 years ahead is in the previous century. */
static void test_rfc850_century(void **state)
{
        time_t t;

        assert_int_equal(date("Monday, 01-Jan-30 00:00:00 GMT", NOW_2025, &t), 0);
        assert_int_equal(t, 1893456000); /* 2030 */
        assert_int_equal(date("Monday, 01-Jan-80 00:00:00 GMT", NOW_2025, &t), 0);
        assert_int_equal(t, 315532800); /* 1980, as 2080 is > 50 years ahead */
}

static void test_http_date_rejects(void **state)
{
        static const char *const bad[] = {
                "",
                "Sun, 06 Nov 1994 08:49:37 UTC",
                "Sun, 06 Nov 1994 08:49:37 GMT ",
                "Sun, 6 Nov 1994 08:49:37 GMT",
                "Sun, 06 nov 1994 08:49:37 GMT",
                "Sun, 06 Nov 94 08:49:37 GMT",
                "Sun, 31 Feb 1994 08:49:37 GMT",
                "Sun, 29 Feb 1900 08:49:37 GMT",
                "Sun, 00 Nov 1994 08:49:37 GMT",
                "Sun, 06 Nov 1994 24:00:00 GMT",
                "Sun, 06 Nov 1994 08:60:00 GMT",
                "Sun, 06 Nov 1994 08:49:61 GMT",
                "Sun, 06 Nov 1994 8:49:37 GMT",
                "Sun, 06 Nov 0999 08:49:37 GMT",
                "Sunday, 06-Nov-1994 08:49:37 GMT",
                "Sunday, 06 Nov 94 08:49:37 GMT",
                "Sun Nov 6 08:49:37 1994",
                "Sun Nov  6 08:49:37 94",
                "Xyz, 06 Nov 1994 08:49:37 GMT",
                "2025-06-01T00:00:00Z",
                "Sun, 06 Nov 1994 08:49:37 GMT\n",
        };
        static const char full[] = "Sun, 06 Nov 1994 08:49:37 GMT";
        time_t t = 12345;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (date(bad[i], NOW_2025, &t) != -EINVAL)
                        fail_msg("accepted \"%s\"", bad[i]);
        }
        /* Every truncation of a valid date is invalid (the length bound is honoured, no NUL needed). */
        for (size_t n = 0; n < strlen(full); n++)
                assert_int_equal(httputil_parse_http_date(full, n, NOW_2025, &t), -EINVAL);
        assert_int_equal(t, 12345);
}

static void test_retry_after(void **state)
{
        uint64_t s = 7;

        assert_int_equal(httputil_parse_retry_after("0", 1, NOW_2025, &s), 0);
        assert_int_equal(s, 0);
        assert_int_equal(httputil_parse_retry_after(" 120\t", 5, NOW_2025, &s), 0);
        assert_int_equal(s, 120);
        assert_int_equal(httputil_parse_retry_after("007", 3, NOW_2025, &s), 0);
        assert_int_equal(s, 7);
        /* Huge values clamp instead of overflowing. */
        assert_int_equal(httputil_parse_retry_after("99999999999999999999999999", 26, NOW_2025, &s), 0);
        assert_int_equal(s, HTTPUTIL_RETRY_AFTER_MAX);
        assert_int_equal(httputil_parse_retry_after("86401", 5, NOW_2025, &s), 0);
        assert_int_equal(s, HTTPUTIL_RETRY_AFTER_MAX);

        /* HTTP-date: relative to now; past dates mean "now"; far future clamps. */
        assert_int_equal(
                httputil_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 29, EXAMPLE_TIME - 10, &s), 0);
        assert_int_equal(s, 10);
        assert_int_equal(
                httputil_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 29, EXAMPLE_TIME + 10, &s), 0);
        assert_int_equal(s, 0);
        assert_int_equal(httputil_parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 29, NOW_2025, &s), 0);
        assert_int_equal(s, HTTPUTIL_RETRY_AFTER_MAX);

        s = 7;
        assert_int_equal(httputil_parse_retry_after("", 0, NOW_2025, &s), -EINVAL);
        assert_int_equal(httputil_parse_retry_after("   ", 3, NOW_2025, &s), -EINVAL);
        assert_int_equal(httputil_parse_retry_after("-1", 2, NOW_2025, &s), -EINVAL);
        assert_int_equal(httputil_parse_retry_after("1.5", 3, NOW_2025, &s), -EINVAL);
        assert_int_equal(httputil_parse_retry_after("5s", 2, NOW_2025, &s), -EINVAL);
        assert_int_equal(httputil_parse_retry_after("1 2", 3, NOW_2025, &s), -EINVAL);
        assert_int_equal(httputil_parse_retry_after("soon", 4, NOW_2025, &s), -EINVAL);
        /* Only the given length counts: "12" then garbage after the bound. */
        assert_int_equal(httputil_parse_retry_after("12xyz", 2, NOW_2025, &s), 0);
        assert_int_equal(s, 12);
}

static void test_media_type(void **state)
{
        assert_true(httputil_media_type_matches("application/json", "application/json"));
        assert_true(httputil_media_type_matches("application/json; charset=utf-8", "application/json"));
        assert_true(httputil_media_type_matches("  Application/JSON ;charset=utf-8", "application/json"));
        assert_true(httputil_media_type_matches("application/jose", "application/jose"));
        assert_false(httputil_media_type_matches("application/jsonx", "application/json"));
        assert_false(httputil_media_type_matches("application/jso", "application/json"));
        assert_false(httputil_media_type_matches("text/plain", "application/json"));
        assert_false(httputil_media_type_matches("", "application/json"));
        assert_false(httputil_media_type_matches(NULL, "application/json"));
        assert_false(httputil_media_type_matches("application/json", ""));
}

static void test_status_retryable(void **state)
{
        for (long s = 100; s <= 599; s++) {
                bool want = s == 408 || s == 429 || s >= 500;

                if (httputil_status_retryable(s) != want)
                        fail_msg("status %ld: retryable should be %d", s, want);
        }
        assert_false(httputil_status_retryable(0));
        assert_false(httputil_status_retryable(600));
}

static void test_backoff(void **state)
{
        uint64_t a = 42, b = 42, c = 43, max_seen[8] = {}, differ = 0;

        /* Reproducible for a seed, different for another seed. */
        for (unsigned i = 1; i <= 20; i++) {
                uint64_t x = httputil_backoff_ms(i, 100, 5000, &a);

                assert_int_equal(x, httputil_backoff_ms(i, 100, 5000, &b));
                differ += x != httputil_backoff_ms(i, 100, 5000, &c);
        }
        assert_true(differ > 10);

        /* Full jitter: within [0, min(cap, base * 2^(retry-1))], and spread over that range. */
        for (unsigned n = 0; n < 2000; n++)
                for (unsigned retry = 1; retry <= 8; retry++) {
                        uint64_t ceiling = 100u << (retry - 1),
                                 x = httputil_backoff_ms(retry, 100, 3000, &a);

                        if (ceiling > 3000)
                                ceiling = 3000;
                        assert_true(x <= ceiling);
                        if (x > max_seen[retry - 1])
                                max_seen[retry - 1] = x;
                }
        for (unsigned retry = 1; retry <= 8; retry++) {
                uint64_t ceiling = 100u << (retry - 1);

                if (ceiling > 3000)
                        ceiling = 3000;
                assert_true(max_seen[retry - 1] >= ceiling * 9 / 10);
        }

        /* Very late retries and huge bases stay capped, without overflow. */
        assert_true(httputil_backoff_ms(1000, 100, 8000, &a) <= 8000);
        assert_true(httputil_backoff_ms(70, UINT64_MAX / 4, UINT64_MAX, &a) <= UINT64_MAX);
        assert_int_equal(httputil_backoff_ms(5, 0, 8000, &a), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_http_date_forms),   cmocka_unit_test(test_rfc850_century),
                cmocka_unit_test(test_http_date_rejects), cmocka_unit_test(test_retry_after),
                cmocka_unit_test(test_media_type),        cmocka_unit_test(test_status_retryable),
                cmocka_unit_test(test_backoff),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
