/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of agent/lib/monitor.c: findings, state machine, status file, reactions, metrics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "monitor.h"
#include "testlib.h"

#define T0 1700000000000000ull /* 2023-11-14T22:13:20Z */

static struct monitor_finding_spec spec(enum monitor_class c, enum monitor_severity s, const char *msg)
{
        return (struct monitor_finding_spec){.cls = c, .severity = s, .message = msg, .pcr = -1};
}

static void test_names(void **state)
{
        enum monitor_class c;
        enum monitor_state s;

        for (unsigned i = 0; i < _MONITOR_CLASS_MAX; i++) {
                assert_int_equal(monitor_class_from_string(monitor_class_to_string(i), &c), 0);
                assert_int_equal(c, i);
        }
        assert_int_equal(monitor_class_from_string("PCR", &c), -EINVAL);
        assert_int_equal(monitor_class_from_string(NULL, &c), -EINVAL);
        assert_string_equal(monitor_class_to_string(99), "unknown");
        assert_int_equal(monitor_state_from_string("violated", &s), 0);
        assert_int_equal(s, MONITOR_STATE_VIOLATED);
        assert_int_equal(monitor_state_from_string("ok", &s), -EINVAL);
}

static void test_state_machine(void **state)
{
        struct monitor_status s;
        struct monitor_finding_spec deg =
                spec(MONITOR_CLASS_UNAVAILABLE, MONITOR_SEVERITY_DEGRADED, "TPM down");
        struct monitor_finding_spec vio =
                spec(MONITOR_CLASS_IMA, MONITOR_SEVERITY_VIOLATION, "entry 3 not allowed");
        size_t cleared;

        monitor_status_init(&s);
        assert_int_equal(monitor_status_state(&s), MONITOR_STATE_HEALTHY);

        /* check 1: nothing */
        monitor_check_begin(&s);
        monitor_check_end(&s, T0, 1000, &cleared);
        assert_int_equal(cleared, 0);
        assert_int_equal(s.checks, 1);
        assert_int_equal(s.last_success_usec, T0);

        /* check 2: degraded */
        monitor_check_begin(&s);
        assert_int_equal(monitor_add_finding(&s, &deg, T0 + 1), 1);
        monitor_check_end(&s, T0 + 1, 1000, &cleared);
        assert_int_equal(monitor_status_state(&s), MONITOR_STATE_DEGRADED);
        assert_int_equal(s.last_success_usec, T0);

        /* check 3: the same condition: not new, counted */
        monitor_check_begin(&s);
        assert_int_equal(monitor_add_finding(&s, &deg, T0 + 2), 0);
        monitor_check_end(&s, T0 + 2, 1000, &cleared);
        assert_int_equal(s.n_findings, 1);
        assert_int_equal(s.findings[0].count, 2);
        assert_int_equal(s.findings[0].first_usec, T0 + 1);
        assert_int_equal(s.findings[0].last_usec, T0 + 2);

        /* check 4: a violation, the degraded condition ended */
        monitor_check_begin(&s);
        assert_int_equal(monitor_add_finding(&s, &vio, T0 + 3), 1);
        monitor_check_end(&s, T0 + 3, 1000, &cleared);
        assert_int_equal(cleared, 1);
        assert_int_equal(s.n_findings, 1);
        assert_int_equal(s.findings[0].cls, MONITOR_CLASS_IMA);
        assert_int_equal(monitor_status_state(&s), MONITOR_STATE_VIOLATED);

        /* check 5: the violation is sticky although not reported again */
        monitor_check_begin(&s);
        monitor_check_end(&s, T0 + 4, 1000, &cleared);
        assert_int_equal(cleared, 0);
        assert_int_equal(monitor_status_state(&s), MONITOR_STATE_VIOLATED);
        assert_int_equal(s.findings_total[MONITOR_CLASS_IMA], 1);
        assert_int_equal(s.findings_total[MONITOR_CLASS_UNAVAILABLE], 1);

        /* bad specs */
        struct monitor_finding_spec bad = spec(MONITOR_CLASS_IMA, MONITOR_SEVERITY_VIOLATION, NULL);
        assert_int_equal(monitor_add_finding(&s, &bad, T0), -EINVAL);
        bad = spec(_MONITOR_CLASS_MAX, MONITOR_SEVERITY_VIOLATION, "x");
        assert_int_equal(monitor_add_finding(&s, &bad, T0), -EINVAL);
        monitor_status_done(&s);
}

static void test_dedup_fields_and_bound(void **state)
{
        struct monitor_status s;
        struct monitor_finding_spec a = spec(MONITOR_CLASS_PCR, MONITOR_SEVERITY_VIOLATION, "PCR changed");
        char msg[32];
        _cleanup_free_ char *longmsg = malloc(3 * MONITOR_FIELD_MAX);

        monitor_status_init(&s);
        a.pcr = 7;
        a.expected = "aa";
        a.actual = "bb";
        assert_int_equal(monitor_add_finding(&s, &a, T0), 1);
        assert_int_equal(monitor_add_finding(&s, &a, T0), 0);
        a.actual = "cc"; /* a different value is a different finding */
        assert_int_equal(monitor_add_finding(&s, &a, T0), 1);
        a.pcr = 8;
        assert_int_equal(monitor_add_finding(&s, &a, T0), 1);
        assert_int_equal(s.n_findings, 3);

        /* Long fields are cut, and the cut copy still de-duplicates. */
        memset(longmsg, 'x', 3 * MONITOR_FIELD_MAX - 1);
        longmsg[3 * MONITOR_FIELD_MAX - 1] = 0;
        struct monitor_finding_spec l = spec(MONITOR_CLASS_IMA, MONITOR_SEVERITY_VIOLATION, longmsg);
        assert_int_equal(monitor_add_finding(&s, &l, T0), 1);
        assert_int_equal(strlen(s.findings[3].message), MONITOR_FIELD_MAX - 1);
        assert_int_equal(monitor_add_finding(&s, &l, T0), 0);

        /* Bounded: beyond MONITOR_MAX_FINDINGS new ones are counted, reported new, not kept. */
        for (unsigned i = 0; i < MONITOR_MAX_FINDINGS + 10; i++) {
                snprintf(msg, sizeof(msg), "finding %u", i);
                struct monitor_finding_spec f = spec(MONITOR_CLASS_IMA, MONITOR_SEVERITY_VIOLATION, msg);
                assert_int_equal(monitor_add_finding(&s, &f, T0), 1);
        }
        assert_int_equal(s.n_findings, MONITOR_MAX_FINDINGS);
        assert_int_equal(s.findings_dropped, 14);
        assert_int_equal(s.findings_total[MONITOR_CLASS_IMA], MONITOR_MAX_FINDINGS + 10 + 1);
        monitor_status_done(&s);
}

static char *render(const struct monitor_status *s)
{
        _cleanup_(json_object_putp) json_object *o = NULL;

        assert_int_equal(monitor_status_to_json(s, &o), 0);
        return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void fill_status(struct monitor_status *s)
{
        struct monitor_finding_spec f = spec(MONITOR_CLASS_PCR, MONITOR_SEVERITY_VIOLATION,
                                             "boot-time PCR 7 (sha256) changed since the first check");
        struct snp_report rep = {.version = 3, .reported_tcb = 0x7308000000000003ull, .policy = 0x3001f};

        monitor_status_init(s);
        s->pid = 1234;
        s->started_usec = T0;
        s->interval_usec = 200000;
        s->last_attestation_usec = T0 + 5;
        f.pcr = 7;
        f.expected = "00ff";
        f.actual = "ff00";
        monitor_check_begin(s);
        assert_int_equal(monitor_add_finding(s, &f, T0 + 123000), 1);
        f = spec(MONITOR_CLASS_ATTESTATION, MONITOR_SEVERITY_VIOLATION, "refused");
        f.verifier = "azure";
        f.path = "/a \"quoted\" path\\";
        assert_int_equal(monitor_add_finding(s, &f, T0 + 123000), 1);
        monitor_check_end(s, T0 + 123000, 4567, NULL);
        s->ima_entries = 42;
        assert_int_equal(monitor_status_set_checked(s, "quote sha256:0-7,10"), 0);
        rep.measurement[0] = 0xab;
        monitor_snp_record(&rep, &s->snp);
}

static void test_json_roundtrip(void **state)
{
        struct monitor_status s, p;
        struct cvm_error err = {};
        _cleanup_free_ char *a = NULL, *b = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;

        fill_status(&s);
        a = render(&s);
        assert_int_equal(monitor_status_parse(a, strlen(a), &p, &err), 0);
        b = render(&p);
        assert_string_equal(a, b);
        assert_int_equal(p.n_findings, 2);
        assert_int_equal(p.findings[0].pcr, 7);
        assert_int_equal(p.findings[0].first_usec, T0 + 123000);
        assert_string_equal(p.findings[1].verifier, "azure");
        assert_true(p.snp.present);
        assert_int_equal(p.snp.reported_tcb, 0x7308000000000003ull);
        assert_int_equal(p.last_duration_usec, 4567);

        /* The contract fields. */
        o = json_tokener_parse(a);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "state")), "violated");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "last_check")),
                            "2023-11-14T22:13:20.123Z");
        json_object *f0 = json_object_array_get_idx(json_object_object_get(o, "findings"), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(f0, "class")), "pcr");
        assert_string_equal(json_object_get_string(json_object_object_get(f0, "expected")), "00ff");
        assert_int_equal(json_object_get_int(json_object_object_get(f0, "pcr")), 7);
        monitor_status_done(&s);
        monitor_status_done(&p);
}

static void expect_parse_error(const char *text, const char *needle)
{
        struct monitor_status p;
        struct cvm_error err = {};

        memset(&p, 0x5a, sizeof(p));
        assert_int_equal(monitor_status_parse(text, strlen(text), &p, &err), -EBADMSG);
        if (!strstr(err.message, needle))
                fail_msg("error '%s' does not contain '%s'", err.message, needle);
        /* untouched on error */
        assert_int_equal(p.pid, 0x5a5a5a5a);
}

static void test_parse_errors(void **state)
{
        expect_parse_error("", "JSON");
        expect_parse_error("[]", "$: expected an object");
        expect_parse_error("{\"state\":\"healthy\",\"findings\":[]}", "$.version: missing");
        expect_parse_error("{\"version\":2,\"state\":\"healthy\",\"findings\":[]}", "unsupported version");
        expect_parse_error("{\"version\":1,\"findings\":[]}", "$.state: missing");
        expect_parse_error("{\"version\":1,\"state\":\"fine\",\"findings\":[]}", "$.state: expected");
        expect_parse_error("{\"version\":1,\"state\":\"healthy\"}", "$.findings: missing");
        expect_parse_error("{\"version\":1,\"state\":\"healthy\",\"findings\":{}}",
                           "$.findings: expected array");
        expect_parse_error("{\"version\":1,\"state\":\"healthy\",\"findings\":[1]}",
                           "$.findings[0]: expected");
        expect_parse_error(
                "{\"version\":1,\"state\":\"violated\",\"findings\":[{\"class\":\"x\",\"severity\":"
                "\"violation\",\"message\":\"m\"}]}",
                "$.findings[0].class: unknown");
        expect_parse_error(
                "{\"version\":1,\"state\":\"violated\",\"findings\":[{\"class\":\"pcr\",\"severity\":"
                "\"bad\",\"message\":\"m\"}]}",
                "$.findings[0].severity");
        expect_parse_error(
                "{\"version\":1,\"state\":\"violated\",\"findings\":[{\"class\":\"pcr\",\"severity\":"
                "\"violation\"}]}",
                "$.findings[0].message: missing");
        expect_parse_error(
                "{\"version\":1,\"state\":\"violated\",\"findings\":[{\"class\":\"pcr\",\"severity\":"
                "\"violation\",\"message\":\"m\",\"pcr\":24}]}",
                "$.findings[0].pcr");
        expect_parse_error(
                "{\"version\":1,\"state\":\"violated\",\"findings\":[{\"class\":\"pcr\",\"severity\":"
                "\"violation\",\"message\":\"m\",\"first_seen\":\"yesterday\"}]}",
                "$.findings[0].first_seen: not an RFC 3339");
        expect_parse_error(
                "{\"version\":1,\"state\":\"violated\",\"findings\":[{\"class\":\"pcr\",\"severity\":"
                "\"violation\",\"message\":\"m\\u0000x\"}]}",
                "NUL");
        expect_parse_error(
                "{\"version\":1,\"state\":\"healthy\",\"findings\":[{\"class\":\"pcr\",\"severity\":"
                "\"violation\",\"message\":\"m\"}]}",
                "does not agree");
        expect_parse_error("{\"version\":1,\"state\":\"healthy\",\"checks\":-1,\"findings\":[]}",
                           "$.checks");
        expect_parse_error("{\"version\":1,\"state\":\"healthy\",\"pid\":99999999999,\"findings\":[]}",
                           "$.pid");
        expect_parse_error("{\"version\":1,\"state\":\"healthy\",\"snp\":{\"version\":1},\"findings\":[]}",
                           "$.snp.guest_svn: missing");
        expect_parse_error("{\"version\":1,\"state\":\"healthy\",\"interval_seconds\":-1,\"findings\":[]}",
                           "interval_seconds");

        /* too many findings */
        _cleanup_free_ char *big = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&big, &n);
        fputs("{\"version\":1,\"state\":\"degraded\",\"findings\":[", f);
        for (unsigned i = 0; i <= MONITOR_MAX_FINDINGS; i++)
                fprintf(f, "%s{\"class\":\"ima\",\"severity\":\"degraded\",\"message\":\"m\"}",
                        i ? "," : "");
        fputs("]}", f);
        fclose(f);
        expect_parse_error(big, "more than");

        /* minimal valid: unknown members ignored, nulls accepted */
        struct monitor_status p;
        struct cvm_error err = {};
        const char *ok =
                "{\"version\":1,\"state\":\"healthy\",\"future\":[1,2],\"snp\":null,\"last_check\":null,"
                "\"findings\":[]}";
        assert_int_equal(monitor_status_parse(ok, strlen(ok), &p, &err), 0);
        assert_int_equal(p.last_check_usec, 0);
        monitor_status_done(&p);
}

static void test_write_atomic(void **state)
{
        char dir[] = "/tmp/test-monitor-XXXXXX", path[64];
        struct monitor_status s, p;
        struct cvm_error err = {};
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/status.json", dir);
        fill_status(&s);
        assert_int_equal(monitor_status_write(&s, path, &err), 0);
        assert_int_equal(monitor_status_write(&s, path, &err), 0); /* replaces */
        assert_int_equal(read_file(path, MONITOR_STATUS_MAX, &buf, &n, &err), 0);
        assert_int_equal(monitor_status_parse((char *)buf, n, &p, &err), 0);
        assert_int_equal(p.n_findings, 2);
        monitor_status_done(&p);
        monitor_status_done(&s);
        unlink(path);
        /* only the file itself is left: no temporary files */
        assert_int_equal(rmdir(dir), 0);
        snprintf(path, sizeof(path), "%s/none/status.json", dir);
        assert_int_equal(monitor_write_atomic(path, "x", 1, &err), -ENOENT);
}

static void test_snp_compare(void **state)
{
        struct snp_report r = {.version = 3, .reported_tcb = 1, .current_tcb = 1};
        struct monitor_snp a, b;
        struct monitor_status s;

        monitor_status_init(&s);
        monitor_snp_record(&r, &a);
        b = a;
        assert_int_equal(monitor_snp_compare(&s, &a, &b, T0), 0);
        r.reported_tcb = 2;
        monitor_snp_record(&r, &b);
        assert_int_equal(monitor_snp_compare(&s, &a, &b, T0), 1);
        assert_int_equal(monitor_status_state(&s), MONITOR_STATE_DEGRADED);
        assert_string_equal(s.findings[0].expected, "0x0000000000000001");
        assert_string_equal(s.findings[0].actual, "0x0000000000000002");
        assert_non_null(strstr(s.findings[0].message, "reported_tcb"));
        r.measurement[47] = 1;
        monitor_snp_record(&r, &b);
        assert_int_equal(monitor_snp_compare(&s, &a, &b, T0), 1); /* tcb repeats, measurement new */
        assert_int_equal(monitor_status_state(&s), MONITOR_STATE_VIOLATED);
        b.present = false;
        assert_int_equal(monitor_snp_compare(&s, &a, &b, T0), 0);
        monitor_status_done(&s);
}

static void test_reactions(void **state)
{
        struct monitor_reactions r = {};
        struct cvm_error err = {};

        assert_int_equal(monitor_reactions_add(&r, "pcr=log", &err), 0);
        assert_int_equal(monitor_reactions_add(&r, "ima=hook:/etc/cvm-agent/hooks", &err), 0);
        assert_int_equal(monitor_reactions_add(&r, "violation=close:data,scratch", &err), 0);
        assert_int_equal(monitor_reactions_add(&r, "attestation=poweroff", &err), 0);
        assert_int_equal(r.n[MONITOR_CLASS_PCR], 2);
        assert_int_equal(r.n[MONITOR_CLASS_IMA], 2);
        assert_int_equal(r.n[MONITOR_CLASS_UNAVAILABLE], 0); /* "violation" excludes degraded */
        assert_int_equal(r.actions[MONITOR_CLASS_IMA][0].type, MONITOR_ACTION_HOOK);
        assert_string_equal(r.actions[MONITOR_CLASS_IMA][0].arg, "/etc/cvm-agent/hooks");
        assert_int_equal(r.actions[MONITOR_CLASS_ATTESTATION][1].type, MONITOR_ACTION_POWEROFF);
        assert_string_equal(r.actions[MONITOR_CLASS_SNP][0].arg, "data,scratch");
        assert_int_equal(monitor_reactions_add(&r, "all=log", &err), 0);
        assert_int_equal(r.n[MONITOR_CLASS_UNAVAILABLE], 1);

        assert_int_equal(monitor_reactions_add(&r, "pcr", &err), -EINVAL);
        cvm_error_clear(&err);
        assert_int_equal(monitor_reactions_add(&r, "bogus=log", &err), -EINVAL);
        assert_non_null(strstr(err.message, "unknown class"));
        assert_int_equal(monitor_reactions_add(&r, "pcr=reboot", &err), -EINVAL);
        assert_int_equal(monitor_reactions_add(&r, "pcr=hook:rel/dir", &err), -EINVAL);
        assert_int_equal(monitor_reactions_add(&r, "pcr=close:", &err), -EINVAL);
        assert_int_equal(monitor_reactions_add(&r, "pcr=close:a,,b", &err), -EINVAL);
        assert_int_equal(monitor_reactions_add(&r, "pcr=close:../x", &err), -EINVAL);
        assert_int_equal(monitor_reactions_add(&r, "pcr=close:..", &err), -EINVAL);
        for (unsigned i = r.n[MONITOR_CLASS_QUOTE]; i < MONITOR_MAX_ACTIONS; i++)
                assert_int_equal(monitor_reactions_add(&r, "quote=log", &err), 0);
        assert_int_equal(monitor_reactions_add(&r, "quote=log", &err), -E2BIG);
        monitor_reactions_done(&r);
        assert_int_equal(r.n[MONITOR_CLASS_PCR], 0);
}

static void test_close_select(void **state)
{
        const char *protected[] = {"root", "luks-usr", NULL};
        char **sel = NULL, **ref = NULL;

        assert_int_equal(monitor_close_select("data,root,scratch,data,luks-usr", protected, &sel, &ref), 2);
        assert_string_equal(sel[0], "data");
        assert_string_equal(sel[1], "scratch");
        assert_null(sel[2]);
        assert_string_equal(ref[0], "root");
        assert_string_equal(ref[1], "luks-usr");
        assert_null(ref[2]);
        monitor_strv_free(sel);
        monitor_strv_free(ref);
        assert_int_equal(monitor_close_select("root", protected, &sel, NULL), 0);
        assert_null(sel[0]);
        monitor_strv_free(sel);
        assert_int_equal(monitor_close_select("a", NULL, &sel, NULL), 1);
        monitor_strv_free(sel);
        assert_int_equal(monitor_close_select("a b", NULL, &sel, NULL), -EINVAL);
}

static void test_finding_env(void **state)
{
        struct monitor_finding f = {.cls = MONITOR_CLASS_IMA,
                                    .severity = MONITOR_SEVERITY_VIOLATION,
                                    .pcr = 10,
                                    .message = "entry 5 /usr/bin/evil\nforged: not allowed",
                                    .path = "/usr/bin/evil",
                                    .actual = "sha256:00"};
        char **env = NULL;
        bool seen_pcr = false, seen_msg = false, seen_expected = false;

        assert_int_equal(monitor_finding_env(&f, MONITOR_STATE_VIOLATED, &env), 0);
        for (size_t i = 0; env[i]; i++) {
                seen_pcr |= strcmp(env[i], "CVM_AGENT_PCR=10") == 0;
                seen_msg |=
                        strcmp(env[i], "CVM_AGENT_MESSAGE=entry 5 /usr/bin/evil?forged: not allowed") == 0;
                seen_expected |= strncmp(env[i], "CVM_AGENT_EXPECTED=", 19) == 0;
        }
        assert_true(seen_pcr);
        assert_true(seen_msg);
        assert_false(seen_expected);
        monitor_strv_free(env);
}

static void test_attest_classify(void **state)
{
        assert_int_equal(monitor_attest_classify(0), MONITOR_ATTEST_OK);
        assert_int_equal(monitor_attest_classify(1), MONITOR_ATTEST_OK);
        assert_int_equal(monitor_attest_classify(-EACCES), MONITOR_ATTEST_REFUSED);
        assert_int_equal(monitor_attest_classify(-EKEYREJECTED), MONITOR_ATTEST_REFUSED);
        assert_int_equal(monitor_attest_classify(-ENOENT), MONITOR_ATTEST_REFUSED);
        assert_int_equal(monitor_attest_classify(-ETIMEDOUT), MONITOR_ATTEST_UNREACHABLE);
        assert_int_equal(monitor_attest_classify(-ECONNREFUSED), MONITOR_ATTEST_UNREACHABLE);
        assert_int_equal(monitor_attest_classify(-ENETUNREACH), MONITOR_ATTEST_UNREACHABLE);
        assert_int_equal(monitor_attest_classify(-EPROTO), MONITOR_ATTEST_UNREACHABLE);
        assert_int_equal(monitor_attest_classify(-ENOMEM), MONITOR_ATTEST_UNREACHABLE);
}

static void test_next_delay(void **state)
{
        assert_int_equal(monitor_next_delay(60000000, 0, 12345), 60000000);
        assert_int_equal(monitor_next_delay(60000000, 6000000, 0), 54000000);
        assert_int_equal(monitor_next_delay(60000000, 6000000, UINT32_MAX), 66000000);
        assert_int_equal(monitor_next_delay(60000000, 6000000, 1u << 31), 60000000);
        /* jitter larger than the interval is clamped, and the floor is half the interval */
        assert_int_equal(monitor_next_delay(1000000, 5000000, 0), 500000);
        assert_int_equal(monitor_next_delay(100, 0, 0), 1000);
}

static void test_metrics(void **state)
{
        struct monitor_status s;
        _cleanup_free_ char *m = NULL;

        fill_status(&s);
        assert_int_equal(monitor_metrics_render(&s, &m), 0);
        assert_non_null(strstr(m, "cvm_agent_monitor_state{state=\"violated\"} 1\n"));
        assert_non_null(strstr(m, "cvm_agent_monitor_state{state=\"healthy\"} 0\n"));
        assert_non_null(strstr(m, "cvm_agent_monitor_findings{class=\"pcr\"} 1\n"));
        assert_non_null(strstr(m, "cvm_agent_monitor_findings_total{class=\"attestation\"} 1\n"));
        assert_non_null(strstr(m, "cvm_agent_monitor_last_check_timestamp_seconds 1700000000.123\n"));
        assert_non_null(strstr(m, "cvm_agent_monitor_check_duration_seconds 0.004567\n"));
        assert_non_null(strstr(m, "cvm_agent_monitor_ima_entries 42\n"));
        monitor_status_done(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_state_machine),
                cmocka_unit_test(test_dedup_fields_and_bound),
                cmocka_unit_test(test_json_roundtrip),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_write_atomic),
                cmocka_unit_test(test_snp_compare),
                cmocka_unit_test(test_reactions),
                cmocka_unit_test(test_close_select),
                cmocka_unit_test(test_finding_env),
                cmocka_unit_test(test_attest_classify),
                cmocka_unit_test(test_next_delay),
                cmocka_unit_test(test_metrics),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
