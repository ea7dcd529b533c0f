/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the LUKS subcommands (enroll, unenroll, list, unlock). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/**
 * luks_cli_exit() - exit code for an error from the luks adapter: header rejections
 * (-EBADMSG, -EOPNOTSUPP, -EKEYREJECTED while reading/validating a volume) give
 * EXIT_HEADER_REJECTED; -EPERM (a passphrase or secret that opens nothing) EXIT_VERIFY_FAILED;
 * -EEXIST/-EBUSY EXIT_USAGE (the command line must change: --replace, --token); otherwise
 * cli_exit_for_errno().
 */
int luks_cli_exit(int r);

/** luks_cli_fail() - print "cvm-agent: WHAT: MESSAGE" and return luks_cli_exit(@r). */
int luks_cli_fail(const char *what, const struct cvm_error *err, int r);

/**
 * luks_cli_read_passphrase() - an existing keyslot's passphrase: the exact bytes of @key_file
 * ("-" for standard input), or, when @key_file is NULL and standard input is a terminal, a
 * prompt without echo (the trailing newline is not part of the passphrase).
 * @ret, @ret_size: the passphrase, freed by the caller with erase_and_free().
 * Return: EXIT_OK or an exit code after printing the error.
 */
int luks_cli_read_passphrase(const char *cmd, const char *key_file, char **ret, size_t *ret_size);
