/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "backend-internal.h"

static int trustee_init(struct backend *b, json_object *cfg, struct cvm_error *err)
{
        (void)b;
        (void)cfg;
        return cvm_error_set(err, -EOPNOTSUPP, "trustee: not yet");
}

const struct backend_ops backend_trustee_ops = {
        .type = "trustee",
        .init = trustee_init,
};
