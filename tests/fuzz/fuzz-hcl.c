/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: hcl_report_parse(), its JSON rendering and the HCLAkPub JWK import. */
#include <stddef.h>
#include <stdint.h>

#include "hcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct hcl_report *r = NULL;
        json_object *o = NULL;
        EVP_PKEY *ak = NULL;

        if (hcl_report_parse(data, size, &r, NULL) < 0)
                return 0;
        if (hcl_report_to_json(r, &o) == 0) {
                (void)json_object_to_json_string(o);
                json_object_put(o);
        }
        if (hcl_report_ak_pub(r, &ak, NULL) == 0)
                EVP_PKEY_free(ak);
        (void)hcl_report_find_key(r, "HCLEkPub");
        hcl_report_free(r);
        return 0;
}
