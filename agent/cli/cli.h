/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the cvm-agent subcommands: exit codes, error reporting, JSON output. */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

#include "error.h"

/*
 * Exit codes are a contract with operators' scripts (documented in cvm-agent(1)).
 * Extend this list; never renumber it.
 */
enum cvm_exit {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,      /* out of memory, unexpected library failure */
        EXIT_USAGE = 2,         /* bad command line */
        EXIT_EVIDENCE = 3,      /* malformed, truncated or unsupported evidence */
        EXIT_VERIFY_FAILED = 4, /* well-formed evidence that failed a check (signature, chain, digest,
                                     nonce, binding) */
        EXIT_IO = 5,            /* a file or device could not be read or written */
        EXIT_TPM = 6,           /* the TPM refused or failed a command */
        EXIT_VERIFIER_REFUSED = 7,
        EXIT_UNREACHABLE = 8, /* network unreachable or timed out */
        EXIT_POLICY_MISMATCH = 9,
        EXIT_HEADER_REJECTED = 10,
        EXIT_CONFIG = 11,   /* invalid configuration or policy file (the message names the JSON path) */
        EXIT_DEGRADED = 12, /* monitor/status: integrity state "degraded" (a check could not run) */
        EXIT_VIOLATED = 13, /* monitor/status: integrity state "violated" (a finding) */
};

/* Global options parsed by main() before the subcommand runs. */
struct cli_globals {
        const char *tcti;      /* --tcti or $CVM_AGENT_TCTI; NULL: configuration default */
        const char *config;    /* --config FILE; NULL: /etc/cvm-agent/cvm-agent.conf */
        bool tcti_from_option; /* tcti came from --tcti, not from the environment */
};
extern struct cli_globals cli_globals;

/* Every subcommand: argv[0] is the subcommand name; returns an enum cvm_exit value. */
int cmd_eventlog(int argc, char *argv[]);
int cmd_ima(int argc, char *argv[]);
int cmd_report(int argc, char *argv[]);
int cmd_quote(int argc, char *argv[]);
int cmd_token(int argc, char *argv[]);
int cmd_evidence(int argc, char *argv[]);
int cmd_policy(int argc, char *argv[]);
int cmd_enroll(int argc, char *argv[]);
int cmd_unenroll(int argc, char *argv[]);
int cmd_list(int argc, char *argv[]);
int cmd_unlock(int argc, char *argv[]);
int cmd_attest(int argc, char *argv[]);
int cmd_monitor(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);

/**
 * cli_fail() - print one line "cvm-agent: WHAT: MESSAGE" on stderr and return the exit code
 * that fits the negative errno @r (EXIT_IO for open/read failures, EXIT_EVIDENCE for malformed
 * input, EXIT_INTERNAL for -ENOMEM). @what is usually the file name; may be NULL.
 */
int cli_fail(const char *what, const struct cvm_error *err, int r);

/** cli_exit_for_errno() - the exit code cli_fail() would choose, without printing. */
int cli_exit_for_errno(int r);

/** cli_usage_error() - print "cvm-agent CMD: MESSAGE" and a hint to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * cli_print_json() - print @obj to stdout as pretty JSON followed by a newline, in one write
 * so that a failure never leaves partial JSON behind. Return: EXIT_OK or EXIT_IO.
 */
int cli_print_json(json_object *obj);

/**
 * cli_read_input() - read_file() with the command's size limit. On failure prints the error
 * naming @path and returns its exit code; EXIT_OK on success.
 */
int cli_read_input(const char *path, size_t max_size, unsigned char **ret, size_t *ret_size);

/* ---- global configuration (cvm-agent.conf(5)) ---- */

struct config;

int cmd_config(int argc, char *argv[]);

/** The configuration file used without --config. */
#define CLI_CONFIG_DEFAULT CVM_AGENT_SYSCONFDIR "/cvm-agent/cvm-agent.conf"

/**
 * cli_config() - the effective configuration, loaded on first use: built-in defaults, then
 * --config FILE (an error if missing) or CLI_CONFIG_DEFAULT (fine if missing), then the drop-ins
 * in FILE.d/\*.conf; finally --tcti or $CVM_AGENT_TCTI override [TPM] TCTI=. Commands that need no
 * setting never call it, so a broken file does not stop them.
 * @ret: the cached configuration, owned by this module, valid until exit.
 * Return: EXIT_OK; otherwise the one-line error is printed and the code returned: EXIT_IO (a file
 * could not be read), EXIT_CONFIG (a file is malformed), EXIT_USAGE (a bad --tcti/$CVM_AGENT_TCTI),
 * EXIT_INTERNAL (out of memory).
 */
int cli_config(const struct config **ret);

/**
 * cli_tcti() - the TCTI to open the TPM with: --tcti > $CVM_AGENT_TCTI > [TPM] TCTI= > the
 * default device:/dev/tpmrm0 (an empty option or variable counts as unset).
 * @ret: the specification, valid until exit.
 * Return: EXIT_OK, or the exit code of cli_config()'s failure (already printed).
 */
int cli_tcti(const char **ret);

/**
 * cli_exit_for_backend_failure() - the exit code for a verifier backend's failure class (enum
 * backend_failure in agent/backends/backend.h): I/O 5, TPM 6, evidence 3, unreachable 8,
 * refused 7, verification 4. Return: that code, or -1 for classes the caller must decide
 * (configuration, internal, none), whose meaning differs between commands.
 */
int cli_exit_for_backend_failure(int failure);
