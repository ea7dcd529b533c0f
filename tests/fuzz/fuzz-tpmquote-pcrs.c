/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the PCR-values document parser (JSON in its many shapes, and the text formats). */
#include <stddef.h>
#include <stdint.h>

#include "tpmquote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct tpm_pcr_values *v = NULL;
        struct cvm_error err = {};

        if (tpm_pcr_values_parse(data, size, &v, &err) >= 0) {
                (void)tpm_pcr_values_count(v);
                (void)tpm_pcr_values_get(v, TPM_ALG_SHA256, 0);
                tpm_pcr_values_free(v);
        }
        return 0;
}
