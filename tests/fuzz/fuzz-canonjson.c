/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the strict JSON parser and RFC 8785 canonicalization. Properties checked:
 * canonical output parses again and is a fixed point (canon(canon(x)) == canon(x)); and the
 * number formatter's text reads back as the same double, for the first 8 input bytes taken as an
 * IEEE 754 value.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *once = NULL, *twice = NULL;
        size_t n1, n2;

        if (size >= 8) {
                char num[CANONJSON_NUMBER_MAX];
                double d;

                memcpy(&d, data, sizeof(d));
                if (canonjson_format_number(d, num) >= 0) {
                        if (strtod(num, NULL) != d && !(d == 0 && strtod(num, NULL) == 0))
                                abort();
                } else if (isfinite(d))
                        abort();
        }
        if (canonjson_from_text((const char *)data, size, &once, &n1, NULL) < 0)
                return 0;
        if (strlen(once) != n1) /* NUL characters are always escaped */
                abort();
        if (canonjson_from_text(once, n1, &twice, &n2, NULL) < 0 || n1 != n2 || memcmp(once, twice, n1) != 0)
                abort();
        free(once);
        free(twice);
        return 0;
}
