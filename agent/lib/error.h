/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error details from library code. Library modules log nothing above debug level; instead a
 * failing call returns a negative errno and, when the caller passed a struct cvm_error, a
 * one-line description naming where (offset, event number, field) and what is wrong. The
 * command that called the library prints that line once.
 */
#pragma once

#include <stdarg.h>

#define CVM_ERROR_MAX 512

struct cvm_error {
        int code;                    /* negative errno, 0 when unset */
        char message[CVM_ERROR_MAX]; /* "event 12 at offset 0x1a4: digest count 9 exceeds..." */
};

/**
 * cvm_error_set() - record an error.
 * @err: where to record it; may be NULL (the message is then dropped).
 * @code: negative errno describing the class of failure (-EBADMSG malformed input,
 *        -EOPNOTSUPP unsupported feature, -ENOMEM, -EIO, ...).
 * @fmt: printf-style message, without trailing newline or period.
 *
 * Return: @code, so callers can write "return cvm_error_set(err, -EBADMSG, ...);".
 * The first error recorded wins: later calls for the same failure (while unwinding) do not
 * overwrite the most precise message.
 */
int cvm_error_set(struct cvm_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** cvm_error_clear() - reset @err (may be NULL) so it can be reused. */
void cvm_error_clear(struct cvm_error *err);

/**
 * cvm_error_message() - the recorded message, or strerror(-code) when none was recorded,
 * or "unknown error". Never NULL.
 */
const char *cvm_error_message(const struct cvm_error *err, int code);
