/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: monitor_status_parse() (the status file `cvm-agent status` reads) on arbitrary
 * text; whatever parses is rendered again, parsed again and must render identically, and its
 * metrics are rendered.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct monitor_status s, t;
        json_object *o = NULL, *o2 = NULL;
        char *m = NULL, *a = NULL;

        if (monitor_status_parse((const char *)data, size, &s, NULL) < 0)
                return 0;
        if (monitor_status_to_json(&s, &o) == 0) {
                const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

                a = strdup(text);
                /* A rendered status always parses back to the same document. */
                if (monitor_status_parse(a, strlen(a), &t, NULL) < 0)
                        abort();
                if (monitor_status_to_json(&t, &o2) == 0 &&
                    strcmp(a, json_object_to_json_string_ext(o2, JSON_C_TO_STRING_PLAIN)) != 0)
                        abort();
                monitor_status_done(&t);
        }
        (void)monitor_metrics_render(&s, &m);
        free(m);
        free(a);
        json_object_put(o);
        json_object_put(o2);
        monitor_status_done(&s);
        return 0;
}
