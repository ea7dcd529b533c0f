/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int cvm_error_set(struct cvm_error *err, int code, const char *fmt, ...)
{
        va_list ap;

        if (!err || err->code != 0)
                return code;

        err->code = code;
        va_start(ap, fmt);
        (void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return code;
}

void cvm_error_clear(struct cvm_error *err)
{
        if (!err)
                return;
        err->code = 0;
        err->message[0] = '\0';
}

const char *cvm_error_message(const struct cvm_error *err, int code)
{
        if (err && err->code != 0 && err->message[0])
                return err->message;
        if (code < 0)
                return strerror(-code);
        return "unknown error";
}
