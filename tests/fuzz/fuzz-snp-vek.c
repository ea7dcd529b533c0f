/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: VCEK/VLEK loading (DER, PEM bundles, the AMD extensions), its JSON, the match
 * against a fixed report, and the chain check up to the pinned roots at a fixed time.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct snp_report report;
        static bool have_report;
        struct snp_vek *v = NULL;
        struct snp_chain_result c;
        struct snp_vek_match m;
        json_object *o = NULL;
        time_t at = 1735689600; /* 2025-01-01 */

        if (!have_report) {
                uint8_t buf[SNP_REPORT_SIZE] = {2};

                buf[0x34] = 1;
                memset(buf + 0x1a0, 0x5a, 64);
                have_report = snp_report_parse(buf, sizeof(buf), &report, NULL) == 0;
        }
        if (snp_vek_load(data, size, &v, NULL) < 0)
                return 0;
        if (snp_vek_to_json(v, &o) == 0)
                json_object_put(o);
        (void)snp_vek_match_report(v, &report, &m);
        if (snp_chain_verify(v, NULL, &at, &c, NULL) == 0 && snp_chain_result_to_json(&c, &o) == 0)
                json_object_put(o);
        snp_vek_free(v);
        return 0;
}
