/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "util.h"

struct cli_globals cli_globals;

int cli_exit_for_errno(int r)
{
        switch (-r) {
        case 0:
                return EXIT_OK;
        case ENOMEM:
                return EXIT_INTERNAL;
        case ENOENT:
        case EACCES:
        case EPERM:
        case EISDIR:
        case EIO:
        case EFBIG:
        case ENOSPC:
        case EROFS:
                return EXIT_IO;
        case ETIMEDOUT:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ECONNREFUSED:
        case ECONNRESET:
                return EXIT_UNREACHABLE;
        case EKEYREJECTED:
                return EXIT_VERIFY_FAILED;
        default:
                return EXIT_EVIDENCE;
        }
}

int cli_fail(const char *what, const struct cvm_error *err, int r)
{
        const char *msg = cvm_error_message(err, r);

        if (what)
                fprintf(stderr, "cvm-agent: %s: %s\n", what, msg);
        else
                fprintf(stderr, "cvm-agent: %s\n", msg);
        return cli_exit_for_errno(r);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "cvm-agent %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'cvm-agent %s --help'.\n", cmd);
        return EXIT_USAGE;
}

int cli_print_json(json_object *obj)
{
        const char *s;
        size_t len, off = 0;

        s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return EXIT_INTERNAL;
        len = strlen(s);
        (void)fflush(stdout);
        while (off < len) {
                ssize_t n = write(STDOUT_FILENO, s + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "cvm-agent: cannot write to standard output: %s\n", strerror(errno));
                        return EXIT_IO;
                }
                off += (size_t)n;
        }
        if (write(STDOUT_FILENO, "\n", 1) != 1)
                return EXIT_IO;
        return EXIT_OK;
}

int cli_read_input(const char *path, size_t max_size, unsigned char **ret, size_t *ret_size)
{
        struct cvm_error err = {};
        int r;

        r = read_file(path, max_size, ret, ret_size, &err);
        if (r < 0)
                return cli_fail(path, &err, r);
        return EXIT_OK;
}

/* ---- global configuration ---- */

static struct config *cli_config_cache;

static int cli_config_load(struct config **ret)
{
        struct config *c = NULL;
        struct cvm_error err = {};
        const char *path = cli_globals.config ? cli_globals.config : CLI_CONFIG_DEFAULT;
        const char *tcti = cli_globals.tcti;
        int r;

        r = config_new(&c);
        if (r < 0)
                return cli_fail(NULL, NULL, r);
        r = config_load(c, path, !cli_globals.config, &err);
        if (r < 0) {
                config_free(c);
                /* The message already starts with the file name. */
                fprintf(stderr, "cvm-agent: %s\n", cvm_error_message(&err, r));
                /* Oversized files and too many drop-ins are malformed configurations too. */
                if (r == -EBADMSG || r == -EFBIG || r == -E2BIG)
                        return EXIT_CONFIG;
                return cli_exit_for_errno(r);
        }
        if (tcti && *tcti) {
                r = config_set(c, CONFIG_TPM_TCTI, tcti,
                               cli_globals.tcti_from_option ? "option --tcti" : "environment CVM_AGENT_TCTI",
                               &err);
                if (r < 0) {
                        config_free(c);
                        fprintf(stderr, "cvm-agent: %s\n", cvm_error_message(&err, r));
                        return r == -ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
                }
        }
        *ret = c;
        return EXIT_OK;
}

int cli_config(const struct config **ret)
{
        int r;

        if (!cli_config_cache) {
                r = cli_config_load(&cli_config_cache);
                if (r != EXIT_OK)
                        return r;
        }
        *ret = cli_config_cache;
        return EXIT_OK;
}

int cli_tcti(const char **ret)
{
        const struct config *c;
        int r;

        r = cli_config(&c);
        if (r != EXIT_OK)
                return r;
        *ret = config_get_string(c, CONFIG_TPM_TCTI);
        return EXIT_OK;
}

int cli_exit_for_backend_failure(int failure)
{
        switch (failure) {
        case BACKEND_FAIL_IO:
                return EXIT_IO;
        case BACKEND_FAIL_TPM:
                return EXIT_TPM;
        case BACKEND_FAIL_EVIDENCE:
                return EXIT_EVIDENCE;
        case BACKEND_FAIL_UNREACHABLE:
                return EXIT_UNREACHABLE;
        case BACKEND_FAIL_REFUSED:
                return EXIT_VERIFIER_REFUSED;
        case BACKEND_FAIL_VERIFY:
                return EXIT_VERIFY_FAILED;
        default:
                return -1;
        }
}
