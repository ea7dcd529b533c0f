/* SPDX-License-Identifier: Apache-2.0 */
/* cvm-agent: global options, then dispatch to one subcommand. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"

struct command {
        const char *name;
        int (*run)(int argc, char *argv[]);
        const char *synopsis;
};

static const struct command commands[] = {
        {"eventlog", cmd_eventlog, "eventlog [--json] [FILE]             decode and replay a TCG event log"},
        {"ima", cmd_ima, "ima [--json] [FILE]                  decode, verify and replay an IMA log"},
        {"report", cmd_report,
         "report [--json] [--vcek F] [--chain F] [--at TIME] FILE\n"
         "                                        decode and verify an SNP or Azure HCL report"},
        {"quote", cmd_quote,
         "quote [--json] --ak F [--pcrs F] [--nonce HEX] QUOTE SIG\n"
         "                                        verify a TPM2 quote"},
        {"token", cmd_token,
         "token [--json] [--jwks F | --trust PEM] [--issuer URL] [--at TIME] FILE\n"
         "                                        verify a JWT/JWS offline (MAA token, Key Vault release)"},
        {"evidence", cmd_evidence,
         "evidence [--json] [--nonce HEX] [--eventlog F] [--pcrs LIST]\n"
         "                                        gather the TPM evidence and check it locally"},
        {"policy", cmd_policy,
         "policy generate|check|add-boot-entry [OPTIONS]\n"
         "                                        reference policy from a boot / explain a mismatch"},
        {"enroll", cmd_enroll,
         "enroll DEVICE --backend azure|trustee [OPTIONS]\n"
         "                                        add a cvm-agent keyslot and token to a LUKS2 volume"},
        {"unenroll", cmd_unenroll, "unenroll [--token N] DEVICE          remove the cvm-agent enrollment"},
        {"list", cmd_list, "list [--json] DEVICE                 keyslots, tokens and header validation"},
        {"unlock", cmd_unlock,
         "unlock [--test] DEVICE NAME | --all  validate the header, attest, release the key, open\n"
         "                                        the volume from the validated header copy"},
        {"attest", cmd_attest,
         "attest [--json] [--config-json F | --maa URL ... | --kbs URL ...] [--release[=REF]]\n"
         "                                        attest with MAA or a Trustee KBS; print the verified "
         "claims"},
        {"config", cmd_config,
         "config [--json]                      show the effective configuration and its sources"},
        {"monitor", cmd_monitor,
         "monitor [--interval S] [--state-dir DIR] [OPTIONS]\n"
         "                                        the integrity daemon (cvm-agent.service)"},
        {"status", cmd_status, "status [--json] [--state-dir DIR]    what the integrity daemon last saw"},
};

static void help(FILE *f)
{
        fprintf(f, "Usage: cvm-agent [GLOBAL OPTIONS] COMMAND [ARGS]\n"
                   "\n"
                   "Confidential VM guest agent: inspects and verifies attestation evidence.\n"
                   "\n"
                   "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %s\n", commands[i].synopsis);
        fprintf(f,
                "\n"
                "Global options:\n"
                "  --tcti SPEC      TPM access (also $CVM_AGENT_TCTI), e.g. device:/dev/tpmrm0\n"
                "  --config FILE    configuration file (default %s/cvm-agent/cvm-agent.conf)\n"
                "  -h, --help       this help; 'cvm-agent COMMAND --help' for a command\n"
                "  --version        print the version\n"
                "\n"
                "Exit codes: 0 ok, 1 internal error, 2 usage, 3 evidence error, 4 verification failed,\n"
                "5 I/O error, 6 TPM error, 7 verifier refused, 8 unreachable, 9 policy mismatch,\n"
                "10 header rejected, 11 invalid configuration or policy, 12 degraded, 13 violated.\n"
                "See cvm-agent(1).\n",
                CVM_AGENT_SYSCONFDIR);
}

int main(int argc, char *argv[])
{
        enum { OPT_TCTI = 0x100, OPT_CONFIG, OPT_VERSION };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, OPT_VERSION},
                {"tcti", required_argument, NULL, OPT_TCTI},
                {"config", required_argument, NULL, OPT_CONFIG},
                {},
        };
        int c;

        cli_globals.tcti = getenv("CVM_AGENT_TCTI");

        /* '+' stops at the first non-option: everything after it belongs to the subcommand. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return EXIT_OK;
                case OPT_VERSION:
                        printf("cvm-agent %s\n", CVM_AGENT_VERSION);
                        return EXIT_OK;
                case OPT_TCTI:
                        cli_globals.tcti = optarg;
                        cli_globals.tcti_from_option = true;
                        break;
                case OPT_CONFIG:
                        cli_globals.config = optarg;
                        break;
                default:
                        fprintf(stderr, "Try 'cvm-agent --help'.\n");
                        return EXIT_USAGE;
                }
        }

        if (optind >= argc) {
                help(stderr);
                return EXIT_USAGE;
        }

        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[optind], commands[i].name) == 0) {
                        int sub_argc = argc - optind;
                        char **sub_argv = argv + optind;

                        optind = 0; /* full getopt re-initialisation for the subcommand */
                        return commands[i].run(sub_argc, sub_argv);
                }

        if (strcmp(argv[optind], "help") == 0) {
                help(stdout);
                return EXIT_OK;
        }
        fprintf(stderr, "cvm-agent: unknown command '%s'. Try 'cvm-agent --help'.\n", argv[optind]);
        return EXIT_USAGE;
}
