/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: snp_report_parse() and the JSON rendering of whatever parses. */
#include <stddef.h>
#include <stdint.h>

#include "snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct snp_report r;
        json_object *o = NULL;

        if (snp_report_parse(data, size, &r, NULL) < 0)
                return 0;
        /* Every product hint, so each TCB layout gets rendered. */
        for (int p = AMD_PRODUCT_UNKNOWN; p < _AMD_PRODUCT_MAX; p++) {
                snp_report_set_product(&r, (enum amd_product)p);
                if (snp_report_to_json(&r, &o) == 0) {
                        (void)json_object_to_json_string(o);
                        json_object_put(o);
                }
        }
        return 0;
}
