/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent status: what the integrity daemon last saw, read from STATE_DIR/status.json. A status
 * whose daemon is gone, or whose last check is older than three intervals (at least one interval
 * plus a minute), is reported as degraded: an old "healthy" must not be trusted.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "monitor.h"
#include "util.h"

#define DEFAULT_STATE_DIR "/run/cvm-agent"

static void help(void)
{
        printf("Usage: cvm-agent [--config FILE] status [--json] [--state-dir DIR]\n"
               "\n"
               "Show the integrity state the monitor daemon last recorded: healthy, degraded or violated,\n"
               "the last check, and every finding with expected and actual values.\n"
               "\n"
               "Options:\n"
               "  --json            print the status document as JSON\n"
               "  --state-dir DIR   where the daemon writes status.json (default: [Monitor]\n"
               "                    StateDirectory= of the configuration file, else " DEFAULT_STATE_DIR ")\n"
               "  -h, --help        this help\n"
               "\n"
               "Exit status: 0 healthy, 12 degraded, 13 violated, 3 unreadable status file,\n"
               "5 no status file (the daemon is not running), 11 invalid configuration file.\n"
               "See cvm-agent-status(1).\n");
}

static void fmt_time(uint64_t usec, char *out, size_t size)
{
        char buf[21];

        if (!usec) {
                snprintf(out, size, "never");
                return;
        }
        format_rfc3339((time_t)(usec / 1000000), buf);
        snprintf(out, size, "%s", buf);
}

static void print_text(const struct monitor_status *s)
{
        char t[32];

        printf("State:            %s\n", monitor_state_to_string(monitor_status_state(s)));
        fmt_time(s->last_check_usec, t, sizeof(t));
        printf("Last check:       %s (%" PRIu64 " checks, last took %.1f ms)\n", t, s->checks,
               (double)s->last_duration_usec / 1e3);
        if (s->last_checked)
                printf("Checked:          %s\n", s->last_checked);
        fmt_time(s->last_success_usec, t, sizeof(t));
        printf("Last success:     %s\n", t);
        fmt_time(s->last_attestation_usec, t, sizeof(t));
        printf("Last attestation: %s", t);
        if (s->token_expiry_usec) {
                fmt_time(s->token_expiry_usec, t, sizeof(t));
                printf(" (token expires %s)", t);
        }
        printf("\n");
        if (s->snp.present)
                printf("SNP report:       reported TCB 0x%016" PRIx64 ", measurement %.16s...\n",
                       s->snp.reported_tcb, s->snp.measurement);
        if (s->n_findings == 0) {
                printf("Findings:         none\n");
                return;
        }
        printf("Findings:         %zu%s\n", s->n_findings,
               s->findings_dropped ? " (more were found than kept; see the journal)" : "");
        for (size_t i = 0; i < s->n_findings; i++) {
                const struct monitor_finding *f = &s->findings[i];

                fmt_time(f->first_usec, t, sizeof(t));
                printf("  [%s/%s] %s (since %s, seen %" PRIu64 "x)\n", monitor_class_to_string(f->cls),
                       monitor_severity_to_string(f->severity), f->message, t, f->count);
                if (f->pcr >= 0)
                        printf("      PCR:      %d\n", f->pcr);
                if (f->path)
                        printf("      path:     %s\n", f->path);
                if (f->expected)
                        printf("      expected: %s\n", f->expected);
                if (f->actual)
                        printf("      actual:   %s\n", f->actual);
                if (f->verifier)
                        printf("      verifier: %s\n", f->verifier);
        }
}

int cmd_status(int argc, char *argv[])
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {"state-dir", required_argument, NULL, 'd'},
                {},
        };
        const char *dir = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ uint8_t *text = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        struct monitor_status s;
        struct cvm_error err = {};
        struct timespec now;
        uint64_t now_usec, limit;
        bool json = false;
        size_t len;
        int c, r;

        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case 'j':
                        json = true;
                        break;
                case 'd':
                        dir = optarg;
                        break;
                default:
                        return cli_usage_error("status", "unknown option");
                }
        }
        if (optind < argc)
                return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
        if (!dir) {
                /* The monitor's default, so that both agree without options. */
                const struct config *cfg;

                r = cli_config(&cfg);
                if (r != EXIT_OK)
                        return r;
                dir = config_get_string(cfg, CONFIG_MONITOR_STATE_DIRECTORY) ?: DEFAULT_STATE_DIR;
        }

        if (asprintf(&path, "%s/status.json", dir) < 0)
                return cli_fail(NULL, NULL, -ENOMEM);
        r = read_file(path, MONITOR_STATUS_MAX, &text, &len, &err);
        if (r == -ENOENT) {
                fprintf(stderr, "cvm-agent: %s: no status file (is cvm-agent.service running?)\n", path);
                return EXIT_IO;
        }
        if (r < 0)
                return cli_fail(path, &err, r);
        r = monitor_status_parse((const char *)text, len, &s, &err);
        if (r < 0)
                return cli_fail(path, &err, r);

        /* A status nobody updates any more is not evidence of health. */
        clock_gettime(CLOCK_REALTIME, &now);
        now_usec = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
        limit = s.interval_usec * 3 > s.interval_usec + 60 * 1000000ull ? s.interval_usec * 3
                                                                        : s.interval_usec + 60 * 1000000ull;
        if (s.pid > 0 && kill(s.pid, 0) < 0 && errno == ESRCH) {
                char msg[96];

                snprintf(msg, sizeof(msg), "the monitor (pid %d) is not running: this status is stale",
                         s.pid);
                r = monitor_add_finding(&s,
                                        &(struct monitor_finding_spec){.cls = MONITOR_CLASS_UNAVAILABLE,
                                                                       .severity = MONITOR_SEVERITY_DEGRADED,
                                                                       .message = msg,
                                                                       .pcr = -1},
                                        now_usec);
        } else if (s.pid > 0 && s.last_check_usec && now_usec > s.last_check_usec + limit) {
                r = monitor_add_finding(
                        &s,
                        &(struct monitor_finding_spec){
                                .cls = MONITOR_CLASS_UNAVAILABLE,
                                .severity = MONITOR_SEVERITY_DEGRADED,
                                .message =
                                        "the last check is older than three intervals: the monitor is stuck",
                                .pcr = -1},
                        now_usec);
        }
        if (r < 0) {
                monitor_status_done(&s);
                return cli_fail(NULL, NULL, r);
        }

        enum monitor_state st = monitor_status_state(&s);
        if (json) {
                r = monitor_status_to_json(&s, &doc);
                monitor_status_done(&s);
                if (r < 0)
                        return cli_fail(NULL, NULL, r);
                r = cli_print_json(doc);
                if (r != EXIT_OK)
                        return r;
        } else {
                print_text(&s);
                monitor_status_done(&s);
        }
        return st == MONITOR_STATE_HEALTHY    ? EXIT_OK
               : st == MONITOR_STATE_DEGRADED ? EXIT_DEGRADED
                                              : EXIT_VIOLATED;
}
