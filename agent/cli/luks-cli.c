/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "luks-cli.h"
#include "util.h"

#define MAX_PASSPHRASE (64u * 1024u)

int luks_cli_exit(int r)
{
        switch (-r) {
        case EBADMSG:
        case EOPNOTSUPP:
        case EKEYREJECTED:
                return EXIT_HEADER_REJECTED;
        case EPERM:
                return EXIT_VERIFY_FAILED;
        case EEXIST:
        case EBUSY:
                return EXIT_USAGE;
        default:
                return cli_exit_for_errno(r);
        }
}

int luks_cli_fail(const char *what, const struct cvm_error *err, int r)
{
        fprintf(stderr, "cvm-agent: %s: %s\n", what, cvm_error_message(err, r));
        return luks_cli_exit(r);
}

static int prompt(const char *cmd, char **ret, size_t *ret_size)
{
        struct termios old, quiet;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        fprintf(stderr, "Enter an existing passphrase of the volume: ");
        if (tcgetattr(STDIN_FILENO, &old) < 0) {
                fprintf(stderr, "\n");
                return cli_usage_error(cmd,
                                       "cannot read a passphrase from the terminal; use --unlock-key-file");
        }
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        n = getline(&line, &cap, stdin);
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
        if (n <= 0) {
                erase_and_free(line, cap);
                return cli_usage_error(cmd, "no passphrase entered");
        }
        if (line[n - 1] == '\n')
                line[--n] = '\0';
        /* Copy into an exactly sized buffer so the caller can wipe it with its size. */
        *ret = malloc((size_t)n + 1);
        if (!*ret) {
                erase_and_free(line, cap);
                return EXIT_INTERNAL;
        }
        memcpy(*ret, line, (size_t)n + 1);
        *ret_size = (size_t)n;
        erase_and_free(line, cap);
        return EXIT_OK;
}

int luks_cli_read_passphrase(const char *cmd, const char *key_file, char **ret, size_t *ret_size)
{
        struct cvm_error err = {};
        uint8_t *buf = NULL;
        size_t size = 0;
        int r;

        if (!key_file) {
                if (!isatty(STDIN_FILENO))
                        return cli_usage_error(cmd,
                                               "give an existing passphrase with --unlock-key-file FILE");
                return prompt(cmd, ret, ret_size);
        }
        r = read_file(key_file, MAX_PASSPHRASE, &buf, &size, &err);
        if (r < 0)
                return cli_fail(key_file, &err, r);
        if (size == 0) {
                erase_and_free(buf, size);
                return cli_usage_error(cmd, "%s: empty passphrase", key_file);
        }
        *ret = (char *)buf;
        *ret_size = size;
        return EXIT_OK;
}
