/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: event log parse + replay (with and without the EBS workaround) + JSON. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct eventlog *log = NULL;
        struct eventlog_pcrs pcrs;
        struct eventlog_json_options opts = {.bank = NULL};
        json_object *doc = NULL;

        if (eventlog_parse(data, size, &log, NULL) < 0)
                return 0;
        (void)eventlog_replay(log, EVENTLOG_REPLAY_EBS_WORKAROUND, &pcrs, NULL);
        if (eventlog_to_json(log, &opts, &doc, NULL) >= 0) {
                /* Serialising walks every string: catches invalid memory behind the JSON. */
                (void)json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
                json_object_put(doc);
        }
        eventlog_free(log);
        return 0;
}
