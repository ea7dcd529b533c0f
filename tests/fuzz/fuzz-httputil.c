/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-controlled header values the HTTP adapter interprets: Retry-After (delay-seconds or
 * any of the three HTTP-date forms) and Content-Type media types. The first input byte picks
 * "now" (so the RFC 850 century rule and date arithmetic vary); the rest is the field value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httputil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const time_t nows[] = {0, 784111777, 1748736000, 4102444800};
        uint64_t seconds, rng;
        time_t now, t;
        char *s;

        if (size < 1)
                return 0;
        now = nows[data[0] % 4];
        data++;
        size--;

        /* Length-bounded parsers get the bytes as they are, without a terminating NUL. */
        if (httputil_parse_retry_after((const char *)data, size, now, &seconds) == 0 &&
            seconds > HTTPUTIL_RETRY_AFTER_MAX)
                abort();
        (void)httputil_parse_http_date((const char *)data, size, now, &t);

        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        (void)httputil_media_type_matches(s, "application/json");
        free(s);

        rng = size;
        if (httputil_backoff_ms(size % 80, size, 8000, &rng) > 8000)
                abort();
        return 0;
}
