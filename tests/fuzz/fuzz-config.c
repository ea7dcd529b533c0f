/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration parser over arbitrary files (they are root-owned, but a parser that is
 * robust against anything costs nothing), plus the duration parser and formatter on the same
 * bytes. Invariants checked: a parsed value always has a source; every duration reads back
 * through its canonical text to the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(uint64_t usec)
{
        char buf[128];
        uint64_t back;

        config_format_duration(usec, buf, sizeof(buf));
        if (config_parse_duration(buf, &back) < 0 || back != usec)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct config *c = NULL;
        struct cvm_error err = {};
        uint64_t usec;
        char *s;

        if (size > CONFIG_MAX_FILE_SIZE + 1)
                return 0;
        if (config_new(&c) < 0)
                return 0;
        if (config_parse(c, "fuzz.conf", (const char *)data, size, &err) == 0) {
                for (enum config_key k = 0; k < _CONFIG_KEY_MAX; k++) {
                        const struct config_schema *sc = config_schema(k);

                        if (!config_get_source(c, k))
                                abort();
                        if (sc->type == CONFIG_TYPE_DURATION) {
                                usec = config_get_usec(c, k);
                                if (usec < sc->min || usec > sc->max)
                                        abort();
                                check_roundtrip(usec);
                        }
                        if (sc->type == CONFIG_TYPE_UINT &&
                            (config_get_uint(c, k) < sc->min || config_get_uint(c, k) > sc->max))
                                abort();
                }
        } else if (!err.message[0])
                abort(); /* every failure explains itself */
        config_free(c);

        if (size > 256)
                return 0;
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (config_parse_duration(s, &usec) == 0)
                check_roundtrip(usec);
        free(s);
        return 0;
}
