/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local appraisal policy: parser errors name the JSON path; generated policies accept the
 * evidence they came from (every real event log of the corpus, SNP and HCL reports, IMA logs)
 * and refuse, with one precise explanation, evidence with one changed, inserted or deleted
 * boot component; SNP constraints; IMA per-entry verdicts including signatures; the
 * Authenticode digest against a real signed kernel; add-boot-entry.
 */
#include <errno.h>
#include <glob.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "testlib.h"

#include "cleanup.h"
#include "eventlog.h"
#include "hcl.h"
#include "pe.h"
#include "policy.h"
#include "snp.h"
#include "util.h"

/* --- parser errors --------------------------------------------------------------------------- */

static void expect_parse_error(const char *json, int code, const char *message_part)
{
        struct policy *p = NULL;
        struct cvm_error err = {};
        int r = policy_parse(json, strlen(json), &p, &err);

        if (r >= 0)
                fail_msg("policy accepted: %s", json);
        assert_int_equal(r, code);
        if (!strstr(err.message, message_part))
                fail_msg("error \"%s\" does not contain \"%s\"", err.message, message_part);
}

#define D64 "0000000000000000000000000000000000000000000000000000000000000000"

static void test_parse_errors(void **state)
{
        (void)state;
        expect_parse_error("", -EBADMSG, "$: JSON syntax error");
        expect_parse_error("{\"version\": 1,", -EBADMSG, "truncated");
        expect_parse_error("{\"version\": 1} x", -EBADMSG, "line 1, column 16");
        expect_parse_error("[]", -EBADMSG, "$: expected an object, found an array");
        expect_parse_error("{}", -EBADMSG, "$: missing member \"version\"");
        expect_parse_error("{\"version\": 2, \"snp\": {}}", -EOPNOTSUPP,
                           "$.version: version 2 is not supported");
        expect_parse_error("{\"version\": 1}", -EBADMSG, "constrains nothing");
        expect_parse_error("{\"version\": 1, \"snpp\": {}}", -EBADMSG, "$.snpp: unknown member");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"7\": {\"events\": [{\"type\": \"EV_SEPARATOR\", "
                "\"digest\": \"" D64 "\"}, {\"type\": \"EV_SEPARATOR\", \"digests\": [\"" D64
                "\"]}, {\"type\": \"EV_SEPARATOR\", \"digest\": \"" D64 "\"}, {\"type\": \"EV_IPL\", "
                "\"digest\": \"abc\"}]}}}}",
                -EBADMSG, "$.pcrs.sha256[\"7\"].events[3].digest: not a hex string of 64 digits");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"7\": {\"events\": [{\"type\": \"EV_FOO\", "
                "\"digest\": \"" D64 "\"}]}}}}",
                -EBADMSG, "$.pcrs.sha256[\"7\"].events[0].type: unknown event type \"EV_FOO\"");
        expect_parse_error("{\"version\": 1, \"pcrs\": {\"sha256\": {\"24\": {\"values\": [\"" D64 "\"]}}}}",
                           -EBADMSG, "$.pcrs.sha256[\"24\"]: not a PCR index 0..23");
        expect_parse_error("{\"version\": 1, \"pcrs\": {\"sha255\": {}}}", -EBADMSG,
                           "$.pcrs.sha255: unknown PCR bank");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"4\": {\"events\": [{\"type\": \"EV_IPL\"}]}}}}",
                -EBADMSG, "$.pcrs.sha256[\"4\"].events[0]: a rule needs");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"4\": {\"events\": [{\"type\": \"EV_IPL\", "
                "\"digests\": []}]}}}}",
                -EBADMSG, "$.pcrs.sha256[\"4\"].events[0].digests: empty list");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"4\": {\"events\": [{\"type\": \"EV_IPL\", "
                "\"digest\": \"" D64 "\", \"optional\": 1}]}}}}",
                -EBADMSG, "$.pcrs.sha256[\"4\"].events[0].optional: expected a boolean, found an integer");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"4\": {\"events\": [{\"type\": \"EV_IPL\", "
                "\"digest\": \"" D64 "\", \"class\": \"kernal\"}]}}}}",
                -EBADMSG, "$.pcrs.sha256[\"4\"].events[0].class: unknown class \"kernal\"");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"4\": {\"order\": \"random\", \"values\": [\"" D64
                "\"]}}}}",
                -EBADMSG, "$.pcrs.sha256[\"4\"].order: must be \"sequence\" or \"any\"");
        expect_parse_error("{\"version\": 1, \"snp\": {\"measurements\": [\"00\"]}}", -EBADMSG,
                           "$.snp.measurements[0]: not a hex string of 96 digits");
        expect_parse_error("{\"version\": 1, \"snp\": {\"min_tcb\": {\"microcode\": 256}}}", -EBADMSG,
                           "$.snp.min_tcb.microcode: 256 is out of range 0..255");
        expect_parse_error("{\"version\": 1, \"snp\": {\"vmpl\": \"0\"}}", -EBADMSG,
                           "$.snp.vmpl: expected an integer, found a string");
        expect_parse_error("{\"version\": 1, \"snp\": {\"policy_mask\": \"0x1\"}}", -EBADMSG, "go together");
        expect_parse_error(
                "{\"version\": 1, \"snp\": {\"policy_mask\": \"0x1\", \"policy_value\": \"0x3\"}}", -EBADMSG,
                "$.snp.policy_value: sets bits outside policy_mask");
        expect_parse_error("{\"version\": 1, \"snp\": {\"signing_keys\": [\"ask\"]}}", -EBADMSG,
                           "$.snp.signing_keys[0]: must be \"vcek\" or \"vlek\"");
        expect_parse_error("{\"version\": 1, \"ima\": {\"files\": {\"/bin/sh\": [\"sha256:00\"]}}}",
                           -EBADMSG, "$.ima.files[\"/bin/sh\"][0]: not a digest");
        expect_parse_error("{\"version\": 1, \"ima\": {\"keys\": [{\"pem\": \"nope\"}]}}", -EBADMSG,
                           "$.ima.keys[0].pem: neither a PEM certificate nor a PEM public key");
        expect_parse_error("{\"version\": 1, \"ima\": {\"exclude\": [\"\"]}}", -EBADMSG,
                           "$.ima.exclude[0]: empty path");
        expect_parse_error("{\"version\": 1, \"eventlog\": {\"label\": 3}}", -EBADMSG,
                           "$.eventlog.label: expected a string");
        expect_parse_error("{\"version\": 1, \"eventlog\": {\"startup_locality\": 5}}", -EBADMSG,
                           "$.eventlog.startup_locality: 5 is out of range 0..4");
        expect_parse_error(
                "{\"version\": 1, \"pcrs\": {\"sha256\": {\"4\": {\"events\": [{\"type\": \"EV_NO_ACTION\", "
                "\"digest\": \"" D64 "\"}]}}}}",
                -EBADMSG, "EV_NO_ACTION events are never extended");
        expect_parse_error("{\"version\": 1, \"pcrs\": {\"SHA256\": {}}}", -EBADMSG, "lowercase");
        expect_parse_error("{\"version\": 1, \"pcrs\": {\"sha256\": {\"4\": {}}}}", -EBADMSG,
                           "$.pcrs.sha256[\"4\"]: needs \"events\" or \"values\"");
        expect_parse_error("{\"version\": 1, \"a\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", -EBADMSG,
                           "$");
}

static void test_parse_valid(void **state)
{
        static const char json[] =
                "{\"version\": 1, \"description\": \"x\", \"eventlog\": {\"require_secure_boot\": true},"
                " \"pcrs\": {\"sha256\": {\"7\": {\"label\": \"sb\", \"events\": [{\"type\": "
                "\"0x80000001\", \"digest\": \"" D64 "\", \"optional\": true, \"repeat\": true}]}}},"
                " \"snp\": {\"vmpl\": 0, \"min_tcb\": {\"snp\": 8}},"
                " \"ima\": {\"exclude\": [\"/tmp/\"], \"digests\": [\"SHA256:" D64 "\"]}}";
        _cleanup_(policy_freep) struct policy *p = NULL;
        struct cvm_error err = {};

        (void)state;
        assert_int_equal(policy_parse(json, strlen(json), &p, &err), 0);
        assert_true(policy_has_eventlog(p));
        assert_true(policy_has_snp(p));
        assert_true(policy_has_ima(p));
        assert_non_null(policy_json(p));
}

/* --- generate and check on the real event logs ----------------------------------------------- */

static const char *const logs[] = {
        "tpm2-tools/logs/event-gce-ubuntu-2104-log.bin",
        "tpm2-tools/logs/event-arch-linux.bin",
        "tpm2-tools/logs/event-bootorder.bin",
        "tpm2-tools/logs/event-moklisttrusted.bin",
        "tpm2-tools/logs/event-postcode.bin",
        "tpm2-tools/logs/event-sd-boot-fedora37.bin",
        "tpm2-tools/logs/event-uefi-sha1-log.bin",
        "go-tpm-tools/eventlogs/arch-linux-workstation.bin",
        "go-tpm-tools/eventlogs/confidential-gke-debug-251000_eventlog.bin",
        "go-tpm-tools/eventlogs/cos-101-amd-sev.bin",
        "go-tpm-tools/eventlogs/debian-10.bin",
        "go-tpm-tools/eventlogs/gdc-host.bin",
        "go-tpm-tools/eventlogs/glinux-alex.bin",
        "go-tpm-tools/eventlogs/rhel8-uefi.bin",
        "go-tpm-tools/eventlogs/ubuntu-1804-amd-sev.bin",
        "go-tpm-tools/eventlogs/ubuntu-2104-no-dbx.bin",
        "go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin",
        "go-attestation/sb_cert_eventlog",
        "go-attestation/option_rom_eventlog",
        "go-attestation/ebs_event_missing_eventlog",
        "go-attestation/windows_gcp_shielded_vm.decomposed/eventlog.bin",
        "keylime/mb/binary_bios_measurements",
        "keylime/mb/mb_log.bin",
        "ima-evm-utils/sample-binary_bios_measurements-pcrs-8-9",
};

static struct eventlog *load_log(const uint8_t *buf, size_t size)
{
        struct eventlog *log = NULL;
        struct cvm_error err = {};

        if (eventlog_parse(buf, size, &log, &err) < 0)
                fail_msg("cannot parse: %s", err.message);
        return log;
}

static struct policy *generate(const struct policy_evidence *ev, const struct policy_generate_options *opts)
{
        _cleanup_(json_object_putp) json_object *doc = NULL;
        struct policy *p = NULL;
        struct cvm_error err = {};

        if (policy_generate(ev, opts, &doc, &err) < 0)
                fail_msg("generate: %s", err.message);
        if (policy_from_json(doc, &p, &err) < 0)
                fail_msg("generated policy does not parse: %s", err.message);
        return p;
}

static struct policy_result *appraise(const struct policy *p, const struct policy_evidence *ev)
{
        struct policy_result *res = NULL;
        struct cvm_error err = {};

        if (policy_appraise(p, ev, &res, &err) < 0)
                fail_msg("appraise: %s", err.message);
        return res;
}

static void dump(const struct policy_result *res)
{
        for (size_t i = 0; i < res->n_mismatches; i++)
                printf("  %s: %s\n", res->mismatches[i].constraint, res->mismatches[i].message);
}

static void test_generated_policies_pass(void **state)
{
        (void)state;
        skip_without_vectors();
        for (size_t i = 0; i < ELEMENTSOF(logs); i++) {
                _cleanup_free_ uint8_t *buf = NULL;
                _cleanup_(eventlog_freep) struct eventlog *log = NULL;
                size_t size;

                read_vector(logs[i], &buf, &size);
                log = load_log(buf, size);
                for (size_t b = 0; b < log->n_banks; b++) {
                        struct policy_generate_options opts = {
                                .banks = {log->banks[b].alg}, .n_banks = 1, .pcr_values = b == 0};
                        struct policy_evidence ev = {.log = log};
                        _cleanup_(policy_freep) struct policy *p = NULL;
                        _cleanup_(policy_result_freep) struct policy_result *res = NULL;

                        if (!log->banks[b].alg)
                                continue;
                        p = generate(&ev, &opts);
                        res = appraise(p, &ev);
                        if (!policy_result_ok(res)) {
                                dump(res);
                                fail_msg("%s (%s): generated policy refuses its own log", logs[i],
                                         log->banks[b].alg->name);
                        }
                }
        }
}

/* Byte offset of event @number's digest for @alg in the raw log. */
static size_t digest_offset(const struct eventlog *log, uint32_t number, uint16_t alg)
{
        int b = eventlog_bank_index(log, alg);

        assert_true(b >= 0);
        for (size_t i = 0; i < log->n_events; i++)
                if (log->events[i].number == number)
                        return (size_t)(log->events[i].digests[b] - log->raw);
        fail_msg("no event %u", number);
        return 0;
}

static size_t event_offset(const struct eventlog *log, uint32_t number, size_t *ret_size)
{
        for (size_t i = 0; i < log->n_events; i++)
                if (log->events[i].number == number) {
                        size_t end = i + 1 < log->n_events ? log->events[i + 1].offset : log->raw_size;

                        *ret_size = end - log->events[i].offset;
                        return log->events[i].offset;
                }
        fail_msg("no event %u", number);
        return 0;
}

#define UBUNTU_2404 "go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin"

static void test_changed_boot_component(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(eventlog_freep) struct eventlog *log = NULL, *changed = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        struct policy_evidence ev = {};
        const struct policy_mismatch *m;
        json_object *v, *ev_obj;
        size_t size, off;

        (void)state;
        skip_without_vectors();
        read_vector(UBUNTU_2404, &buf, &size);
        log = load_log(buf, size);
        ev.log = log;
        p = generate(&ev, NULL);

        /* Event 30 is grubx64.efi in PCR 4: a different bootloader binary. */
        off = digest_offset(log, 30, TPM_ALG_SHA256);
        buf[off] ^= 0x01;
        changed = load_log(buf, size);
        ev.log = changed;
        res = appraise(p, &ev);
        dump(res);
        assert_int_equal(res->n_mismatches, 1);
        m = &res->mismatches[0];
        assert_int_equal(m->area, POLICY_AREA_EVENTLOG);
        assert_string_equal(m->constraint, "$.pcrs.sha256[\"4\"].events[3]");
        assert_non_null(strstr(m->message, "PCR 4 (sha256): event 30 EV_EFI_BOOT_SERVICES_APPLICATION"));
        assert_non_null(strstr(m->message, "\\EFI\\ubuntu\\grubx64.efi"));
        assert_non_null(
                strstr(m->message, "5f8cb75acdf8e09e5fc14cc2d6ce0c2288af208976d97309851c661e91ec1e03"));
        assert_non_null(strstr(m->message,
                               "allowed: 5e8cb75acdf8e09e5fc14cc2d6ce0c2288af208976d97309851c661e91ec1e03"));
        assert_true(json_object_object_get_ex(m->details, "event", &ev_obj));
        assert_true(json_object_object_get_ex(ev_obj, "number", &v));
        assert_int_equal(json_object_get_int(v), 30);
        assert_true(json_object_object_get_ex(m->details, "pcr", &v));
        assert_int_equal(json_object_get_int(v), 4);
        assert_true(json_object_object_get_ex(m->details, "seen", &v));
        assert_string_equal(json_object_get_string(v),
                            "5f8cb75acdf8e09e5fc14cc2d6ce0c2288af208976d97309851c661e91ec1e03");
        assert_true(policy_result_allows(res, POLICY_MODE_WARN));
        assert_false(policy_result_allows(res, POLICY_MODE_ENFORCE));
}

static void test_kernel_changed_in_pcr9(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(eventlog_freep) struct eventlog *log = NULL, *changed = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        struct policy_evidence ev = {};
        size_t size;

        (void)state;
        skip_without_vectors();
        read_vector(UBUNTU_2404, &buf, &size);
        log = load_log(buf, size);
        ev.log = log;
        p = generate(&ev, NULL);
        /* Event 104: /vmlinuz-6.8.0-1010-gcp measured by grub into PCR 9. */
        buf[digest_offset(log, 104, TPM_ALG_SHA256) + 31] ^= 0x80;
        changed = load_log(buf, size);
        ev.log = changed;
        res = appraise(p, &ev);
        dump(res);
        assert_int_equal(res->n_mismatches, 1);
        assert_non_null(strstr(res->mismatches[0].message,
                               "PCR 9 (sha256): event 104 EV_IPL \"/vmlinuz-6.8.0-1010-gcp\""));
        assert_non_null(strstr(res->mismatches[0].message,
                               "allowed: a6cdd6ff491ff19d4f940fa8123753b7d423421469001b5f81628323a81f287b"));
}

static void test_inserted_and_deleted_events(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL, *ins = NULL, *del = NULL;
        _cleanup_(eventlog_freep) struct eventlog *log = NULL, *l_ins = NULL, *l_del = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(policy_result_freep) struct policy_result *r1 = NULL, *r2 = NULL;
        struct policy_evidence ev = {};
        size_t size, off, len;

        (void)state;
        skip_without_vectors();
        read_vector(UBUNTU_2404, &buf, &size);
        log = load_log(buf, size);
        ev.log = log;
        p = generate(&ev, NULL);

        /* Replay attack on the policy: run grubx64.efi (event 30) twice. */
        off = event_offset(log, 30, &len);
        ins = malloc(size + len);
        assert_non_null(ins);
        memcpy(ins, buf, off + len);
        memcpy(ins + off + len, buf + off, len);
        memcpy(ins + off + 2 * len, buf + off + len, size - off - len);
        l_ins = load_log(ins, size + len);
        ev.log = l_ins;
        r1 = appraise(p, &ev);
        dump(r1);
        assert_int_equal(r1->n_mismatches, 1);
        assert_non_null(strstr(r1->mismatches[0].message,
                               "PCR 4 (sha256): event 31 EV_EFI_BOOT_SERVICES_APPLICATION"));
        assert_non_null(strstr(r1->mismatches[0].message, "expects no further event"));

        /* Drop the shim measurement (event 25). */
        off = event_offset(log, 25, &len);
        del = malloc(size);
        assert_non_null(del);
        memcpy(del, buf, off);
        memcpy(del + off, buf + off + len, size - off - len);
        l_del = load_log(del, size - len);
        ev.log = l_del;
        r2 = appraise(p, &ev);
        dump(r2);
        assert_int_equal(r2->n_mismatches, 1);
        assert_non_null(strstr(r2->mismatches[0].message, "shimx64.efi"));
        assert_non_null(
                strstr(r2->mismatches[0].message, "the log lacks it (1 required measurement missing)"));
        assert_string_equal(r2->mismatches[0].constraint, "$.pcrs.sha256[\"4\"].events[2]");
}

static void test_similar_machine(void **state)
{
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        _cleanup_(eventlog_freep) struct eventlog *la = NULL, *lb = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        struct policy_evidence ev = {};
        size_t sa, sb;
        bool pcr4_shim = false, pcr7_dbx = false;

        (void)state;
        skip_without_vectors();
        read_vector("go-tpm-tools/eventlogs/ubuntu-2104-no-dbx.bin", &a, &sa);
        read_vector("go-tpm-tools/eventlogs/ubuntu-2104-no-secure-boot.bin", &b, &sb);
        la = load_log(a, sa);
        lb = load_log(b, sb);
        ev.log = la;
        p = generate(&ev, NULL);
        ev.log = lb;
        res = appraise(p, &ev);
        assert_false(policy_result_ok(res));
        for (size_t i = 0; i < res->n_mismatches; i++) {
                const char *msg = res->mismatches[i].message;

                pcr4_shim = pcr4_shim || (strstr(msg, "PCR 4 (sha256): event 23") && strstr(msg, "shimx"));
                pcr7_dbx = pcr7_dbx || (strstr(msg, "PCR 7 (sha256): event 7") && strstr(msg, "dbx"));
        }
        assert_true(pcr4_shim);
        assert_true(pcr7_dbx);
        /* Bounded explanation: one per differing component, no cascade. */
        assert_true(res->n_mismatches < 25);
}

static void test_values_and_eventlog_options(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        struct policy_evidence ev = {};
        struct cvm_error err = {};
        size_t size;
        const char *json =
                "{\"version\": 1, \"eventlog\": {\"require_secure_boot\": true, \"startup_locality\": 3},"
                " \"pcrs\": {\"sha256\": {\"0\": {\"values\": [\"" D64
                "\"]}}, \"sha384\": {\"0\": {\"values\": [\"" D64 D64 "\"]}}}}";

        (void)state;
        skip_without_vectors();
        read_vector(UBUNTU_2404, &buf, &size);
        log = load_log(buf, size);
        ev.log = log;
        assert_int_equal(policy_parse(json, strlen(json), &p, &err),
                         -EBADMSG); /* sha384 value of 64 digits */
        assert_non_null(
                strstr(err.message, "$.pcrs.sha384[\"0\"].values[0]: not a hex string of 96 digits"));
        json = "{\"version\": 1, \"eventlog\": {\"require_secure_boot\": true, \"startup_locality\": 3},"
               " \"pcrs\": {\"sha256\": {\"0\": {\"values\": [\"" D64
               "\"]}}, \"sha512\": {\"0\": {\"values\": [\"" D64 D64 "\"]}}}}";
        assert_int_equal(policy_parse(json, strlen(json), &p, &err), 0);
        res = appraise(p, &ev);
        dump(res);
        assert_int_equal(res->n_mismatches, 4);
        assert_non_null(strstr(res->mismatches[0].message, "SecureBoot = 0"));
        assert_string_equal(res->mismatches[1].constraint, "$.eventlog.startup_locality");
        assert_string_equal(res->mismatches[2].constraint, "$.pcrs.sha256[\"0\"].values");
        assert_non_null(strstr(
                res->mismatches[2].message,
                "value 50597a27846e91d025eef597abbc89f72bff9af849094db97b0684d8bc4c515e is not allowed"));
        assert_non_null(strstr(res->mismatches[3].message, "no sha512 bank"));
        assert_true(res->n_notes > 0);
}

static void test_data_prefix_wildcard(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        struct policy_evidence ev = {};
        struct cvm_error err = {};
        json_object *pcrs, *bank, *pcr8, *events;
        size_t size, n_prefix = 0;

        (void)state;
        skip_without_vectors();
        read_vector(UBUNTU_2404, &buf, &size);
        log = load_log(buf, size);
        ev.log = log;
        assert_int_equal(policy_generate(&ev, NULL, &doc, &err), 0);
        assert_true(json_object_object_get_ex(doc, "pcrs", &pcrs));
        assert_true(json_object_object_get_ex(pcrs, "sha256", &bank));
        assert_true(json_object_object_get_ex(bank, "8", &pcr8));
        assert_true(json_object_object_get_ex(pcr8, "events", &events));
        for (size_t i = 0; i < json_object_array_length(events); i++) {
                json_object *rule = json_object_array_get_idx(events, i), *v;

                if (json_object_object_get_ex(rule, "data_prefix", &v))
                        n_prefix++;
                if (json_object_object_get_ex(rule, "class", &v) &&
                    strcmp(json_object_get_string(v), "kernel_cmdline") == 0) {
                        assert_true(json_object_object_get_ex(rule, "string", &v));
                        assert_string_equal(json_object_get_string(v),
                                            "/vmlinuz-6.8.0-1010-gcp "
                                            "root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro "
                                            "console=ttyS0,115200 panic=-1");
                }
        }
        /* Menu definitions (menuentry x3, submenu) are matched by their verified prefix. */
        assert_int_equal(n_prefix, 3);
}

/* --- SNP ------------------------------------------------------------------------------------- */

static void test_snp(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL, *p2 = NULL;
        _cleanup_(policy_result_freep) struct policy_result *r1 = NULL, *r2 = NULL, *r3 = NULL;
        struct hcl_report *hcl = NULL;
        struct snp_report rep;
        struct policy_evidence ev = {};
        struct cvm_error err = {};
        size_t size;
        const char *json =
                "{\"version\": 1, \"snp\": {\"vmpl\": 1, \"min_tcb\": {\"microcode\": 200, \"fmc\": 1},"
                " \"min_guest_svn\": 6, \"signing_keys\": [\"vlek\"], \"allow_migration_agent\": false}}";

        (void)state;
        skip_without_vectors();
        read_vector("trustee/az-snp-vtpm/hcl-report.bin", &buf, &size);
        assert_int_equal(hcl_report_parse(buf, size, &hcl, &err), 0);
        rep = hcl->snp;
        hcl_report_free(hcl);
        ev.snp = &rep;
        p = generate(&ev, NULL);
        r1 = appraise(p, &ev);
        dump(r1);
        assert_true(policy_result_ok(r1));

        rep.measurement[0] ^= 1;
        rep.policy |= SNP_POLICY_DEBUG;
        r2 = appraise(p, &ev);
        dump(r2);
        assert_int_equal(r2->n_mismatches, 3);
        assert_string_equal(r2->mismatches[0].constraint, "$.snp.measurements");
        assert_non_null(strstr(r2->mismatches[0].message, "SNP measurement 9bc48fca"));
        assert_non_null(strstr(r2->mismatches[0].message, "allowed: 9ac48fca"));
        assert_string_equal(r2->mismatches[1].constraint, "$.snp.allow_debug");
        assert_string_equal(r2->mismatches[2].constraint, "$.snp.policy_mask");

        assert_int_equal(policy_parse(json, strlen(json), &p2, &err), 0);
        r3 = appraise(p2, &ev);
        dump(r3);
        /* microcode 115 < 200 in reported and current TCB; vmpl 0 != 1; guest_svn 5 < 6; VCEK. */
        assert_int_equal(r3->n_mismatches, 5);
        assert_string_equal(r3->mismatches[0].constraint, "$.snp.min_tcb.microcode");
        assert_non_null(strstr(r3->mismatches[0].message,
                               "reported_tcb microcode SPL is 115, below the minimum 200"));
        assert_string_equal(r3->mismatches[2].constraint, "$.snp.vmpl");
        assert_string_equal(r3->mismatches[3].constraint, "$.snp.min_guest_svn");
        assert_string_equal(r3->mismatches[4].constraint, "$.snp.signing_keys");

        /* No report given for a policy that needs one. */
        ev.snp = NULL;
        policy_result_free(r3);
        r3 = appraise(p2, &ev);
        assert_int_equal(r3->n_mismatches, 1);
        assert_int_equal(r3->mismatches[0].area, POLICY_AREA_EVIDENCE);
}

/* --- IMA ------------------------------------------------------------------------------------- */

/* An ASCII ima-sig line for @path with sha256 digest @d and signature @sig (may be NULL). */
static char *ima_sig_line(const char *path, const uint8_t d[32], const uint8_t *sig, size_t sig_size)
{
        uint8_t data[4096];
        size_t n = 0;
        uint32_t l;
        uint8_t th[20];
        char *line = NULL, *dh = hex_encode(d, 32), *sh = sig ? hex_encode(sig, sig_size) : strdup(""), *thh;

        l = 7 + 1 + 32;
        memcpy(data + n, &l, 4);
        n += 4;
        memcpy(data + n, "sha256:", 8);
        n += 8;
        memcpy(data + n, d, 32);
        n += 32;
        l = (uint32_t)strlen(path) + 1;
        memcpy(data + n, &l, 4);
        n += 4;
        memcpy(data + n, path, l);
        n += l;
        l = (uint32_t)sig_size;
        memcpy(data + n, &l, 4);
        n += 4;
        if (sig_size)
                memcpy(data + n, sig, sig_size);
        n += sig_size;
        assert_int_equal(hash_digest(hash_alg_by_name("sha1"), data, n, th), 0);
        thh = hex_encode(th, 20);
        assert_true(asprintf(&line, "10 %s ima-sig sha256:%s %s %s\n", thh, dh, path, sh) > 0);
        free(dh);
        free(sh);
        free(thh);
        return line;
}

static void test_ima(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = EVP_EC_gen("P-256");
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        _cleanup_free_ char *pem = NULL, *json = NULL, *log = NULL, *l1 = NULL, *l2 = NULL, *l3 = NULL,
                            *l4 = NULL, *l5 = NULL;
        _cleanup_free_ unsigned char *der = NULL;
        uint8_t digest[32], other[32], keyid[20], sig[9 + 128];
        size_t sig_len = 128;
        struct policy_evidence ev = {};
        struct cvm_error err = {};
        BIO *bio = BIO_new(BIO_s_mem());
        char *bp;
        long bl;
        int n;
        const char *verdicts[5];

        (void)state;
        assert_non_null(key);
        assert_non_null(bio);
        assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
        bl = BIO_get_mem_data(bio, &bp);
        pem = strndup(bp, (size_t)bl);
        BIO_free(bio);
        /* JSON-escape the newlines. */
        {
                _cleanup_free_ char *esc = calloc(1, 2 * strlen(pem) + 1);
                char *o = esc;

                for (const char *c = pem; *c; c++) {
                        if (*c == '\n') {
                                *o++ = '\\';
                                *o++ = 'n';
                        } else
                                *o++ = *c;
                }
                assert_true(asprintf(&json,
                                     "{\"version\": 1, \"ima\": {\"files\": {\"/usr/bin/pinned\": "
                                     "[\"sha256:%064d\"]},"
                                     " \"exclude\": [\"/tmp/\"], \"keys\": [{\"pem\": \"%s\"}]}}",
                                     0, esc) > 0);
        }
        assert_int_equal(policy_parse(json, strlen(json), &p, &err), 0);

        /* evmctl key id: SHA-1 of the DER public key, last 4 bytes. */
        n = i2d_PublicKey(key, &der);
        assert_true(n > 0);
        assert_int_equal(hash_digest(hash_alg_by_name("sha1"), der, (size_t)n, keyid), 0);
        memset(digest, 0x11, sizeof(digest));
        memset(other, 0x22, sizeof(other));
        ctx = EVP_PKEY_CTX_new(key, NULL);
        assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
        assert_int_equal(EVP_PKEY_sign(ctx, sig + 9, &sig_len, digest, 32), 1);
        sig[0] = 3;
        sig[1] = 2;
        sig[2] = 4; /* sha256 */
        memcpy(sig + 3, keyid + 16, 4);
        sig[7] = (uint8_t)(sig_len >> 8);
        sig[8] = (uint8_t)sig_len;

        l1 = ima_sig_line("/usr/bin/signed", digest, sig, 9 + sig_len); /* allowed: signed */
        l2 = ima_sig_line("/usr/bin/forged", other, sig, 9 + sig_len);  /* bad signature */
        l3 = ima_sig_line("/usr/bin/pinned", digest, NULL, 0);          /* wrong digest */
        l4 = ima_sig_line("/tmp/x", other, NULL, 0);                    /* excluded */
        l5 = ima_sig_line("/usr/bin/unknown", other, NULL, 0);          /* unknown */
        assert_true(asprintf(&log, "%s%s%s%s%s", l1, l2, l3, l4, l5) > 0);
        ev.ima_log = (const uint8_t *)log;
        ev.ima_log_size = strlen(log);
        res = appraise(p, &ev);
        dump(res);
        assert_int_equal(res->n_mismatches, 3);
        for (size_t i = 0; i < 3; i++) {
                json_object *v;

                assert_true(json_object_object_get_ex(res->mismatches[i].details, "verdict", &v));
                verdicts[i] = json_object_get_string(v);
        }
        assert_string_equal(verdicts[0], "bad_signature");
        assert_string_equal(verdicts[1], "wrong_digest");
        assert_string_equal(verdicts[2], "unknown");
        assert_non_null(strstr(res->mismatches[1].message, "/usr/bin/pinned: digest sha256:1111"));

        /* The per-entry API the daemon uses, on a violation. */
        {
                struct ima_entry e = {.number = 7, .path = "/etc/x", .violation = true};
                struct policy_ima_result v;

                assert_int_equal(policy_ima_appraise_entry(p, &e, &v, &err), 0);
                assert_int_equal(v.verdict, POLICY_IMA_VIOLATION);
                assert_false(v.ok);
        }
}

static void test_ima_generated(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL, *bin = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(policy_result_freep) struct policy_result *r1 = NULL, *r2 = NULL;
        struct policy_evidence ev = {};
        size_t size, bsize;

        (void)state;
        skip_without_vectors();
        read_vector("embrave-ima/ascii_runtime_measurements", &buf, &size);
        read_vector("embrave-ima/binary_runtime_measurements", &bin, &bsize);
        ev.ima_log = buf;
        ev.ima_log_size = size;
        p = generate(&ev, NULL);
        ev.ima_log = bin;
        ev.ima_log_size = bsize;
        r1 = appraise(p, &ev);
        dump(r1);
        assert_true(policy_result_ok(r1));
        /* Change one file digest in the ASCII log: the template hash no longer matches. */
        {
                char *line = strstr((char *)buf, "/usr/bin/");
                char *colon;

                assert_non_null(line);
                while (line > (char *)buf && line[-1] != '\n')
                        line--;
                colon = strstr(line, "sha256:");
                colon[7] = colon[7] == 'a' ? 'b' : 'a';
        }
        ev.ima_log = buf;
        ev.ima_log_size = size;
        r2 = appraise(p, &ev);
        assert_int_equal(r2->n_mismatches, 1);
        assert_non_null(strstr(r2->mismatches[0].message, "template hash does not match"));
}

/* --- PE / Authenticode ----------------------------------------------------------------------- */

static void test_authenticode_real_kernel(void **state)
{
        glob_t g = {};
        bool tested = false;

        (void)state;
        if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0) {
                printf("SKIP: no /boot/vmlinuz-* on this machine\n");
                skip();
        }
        for (size_t i = 0; i < g.gl_pathc; i++) {
                _cleanup_free_ uint8_t *img = NULL;
                struct pe_image pe;
                uint8_t d[32];
                size_t size;

                if (read_file(g.gl_pathv[i], 256u << 20, &img, &size, NULL) < 0)
                        continue;
                assert_int_equal(pe_parse(img, size, &pe, NULL), 0);
                assert_int_equal(pe_authenticode_digest(&pe, hash_alg_by_name("sha256"), d, NULL), 0);
                if (pe.cert_size == 0)
                        continue;
                /* The signer's SpcIndirectDataContent holds the same digest. */
                assert_non_null(memmem(img + pe.cert_offset, pe.cert_size, d, sizeof(d)));
                tested = true;
        }
        globfree(&g);
        if (!tested) {
                printf("SKIP: no readable signed kernel in /boot\n");
                skip();
        }
}

/* A minimal PE32+ image with two sections, for error paths and UKI sections. */
static size_t build_pe(uint8_t *img, size_t cap)
{
        const size_t opt = 0x40 + 4 + 20, sect = opt + 240;
        size_t size = 0x400;

        assert_true(cap >= 0x600);
        memset(img, 0, cap);
        img[0] = 'M';
        img[1] = 'Z';
        img[0x3c] = 0x40;
        memcpy(img + 0x40, "PE\0\0", 4);
        img[0x44] = 0x64;
        img[0x45] = 0x86;
        img[0x46] = 2;   /* sections */
        img[0x54] = 240; /* optional header size */
        img[opt] = 0x0b;
        img[opt + 1] = 0x02; /* PE32+ */
        img[opt + 60] = 0x00;
        img[opt + 61] = 0x02; /* SizeOfHeaders 0x200 */
        img[opt + 108] = 16;  /* NumberOfRvaAndSizes */
        memcpy(img + sect, ".linux", 6);
        img[sect + 8] = 0x10; /* VirtualSize 0x110 */
        img[sect + 9] = 0x01;
        img[sect + 17] = 0x01; /* SizeOfRawData 0x100 */
        img[sect + 21] = 0x02; /* PointerToRawData 0x200 */
        memcpy(img + sect + 40, ".osrel", 6);
        img[sect + 48] = 0x08;
        img[sect + 57] = 0x01;
        img[sect + 61] = 0x03;
        memset(img + 0x200, 0xaa, 0x100);
        memcpy(img + 0x300, "ID=debian\n", 10);
        return size;
}

static void test_pe_errors_and_sections(void **state)
{
        uint8_t img[0x600], copy[0x600];
        struct pe_image pe;
        struct cvm_error err = {};
        const struct pe_section *s;
        _cleanup_free_ uint8_t *data = NULL;
        uint8_t d1[32], d2[32];
        size_t size = build_pe(img, sizeof(img)), n;

        (void)state;
        assert_int_equal(pe_parse(img, size, &pe, &err), 0);
        assert_int_equal(pe.n_sections, 2);
        s = pe_find_section(&pe, ".linux");
        assert_non_null(s);
        assert_int_equal(pe_section_data(&pe, s, &data, &n, NULL), 0);
        assert_int_equal(n, 0x110);
        assert_int_equal(data[0xff], 0xaa);
        assert_int_equal(data[0x100], 0);
        assert_null(pe_find_section(&pe, ".cmdline"));

        /* The CheckSum and the certificate directory are not hashed; the section data is. */
        assert_int_equal(pe_authenticode_digest(&pe, hash_alg_by_name("sha256"), d1, NULL), 0);
        memcpy(copy, img, sizeof(img));
        copy[0x40 + 24 + 64] = 0x55;
        assert_int_equal(pe_parse(copy, size, &pe, NULL), 0);
        assert_int_equal(pe_authenticode_digest(&pe, hash_alg_by_name("sha256"), d2, NULL), 0);
        assert_memory_equal(d1, d2, 32);
        copy[0x250] ^= 1;
        assert_int_equal(pe_authenticode_digest(&pe, hash_alg_by_name("sha256"), d2, NULL), 0);
        assert_memory_not_equal(d1, d2, 32);

        assert_int_equal(pe_parse(img, 0x20, &pe, &err), -EBADMSG);
        memcpy(copy, img, sizeof(img));
        copy[0x41] = 'X';
        cvm_error_clear(&err);
        assert_int_equal(pe_parse(copy, size, &pe, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "no PE signature"));
        memcpy(copy, img, sizeof(img));
        copy[0x40 + 24 + 240 + 21] = 0x09; /* section data beyond the file */
        cvm_error_clear(&err);
        assert_int_equal(pe_parse(copy, size, &pe, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "section 0 (.linux) data"));
        memcpy(copy, img, sizeof(img));
        copy[0x40 + 24 + 144] = 0x00; /* certificate table beyond the file */
        copy[0x40 + 24 + 145] = 0x10;
        copy[0x40 + 24 + 148] = 0x10;
        cvm_error_clear(&err);
        assert_int_equal(pe_parse(copy, size, &pe, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "certificate table"));
        memcpy(copy, img, sizeof(img));
        copy[0x40 + 24] = 0x0c; /* unknown optional-header magic */
        assert_int_equal(pe_parse(copy, size, &pe, &err), -EBADMSG);
}

/* --- add-boot-entry -------------------------------------------------------------------------- */

static bool rule_has_digest(json_object *doc, const char *pcr, size_t index, const char *hex)
{
        json_object *pcrs, *bank, *p, *events, *rule, *digests;

        if (!json_object_object_get_ex(doc, "pcrs", &pcrs) ||
            !json_object_object_get_ex(pcrs, "sha256", &bank) || !json_object_object_get_ex(bank, pcr, &p) ||
            !json_object_object_get_ex(p, "events", &events))
                return false;
        rule = json_object_array_get_idx(events, index);
        if (!rule || !json_object_object_get_ex(rule, "digests", &digests))
                return false;
        for (size_t i = 0; i < json_object_array_length(digests); i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(digests, i)), hex) == 0)
                        return true;
        return false;
}

static int find_rule(json_object *doc, const char *pcr, const char *class)
{
        json_object *pcrs, *bank, *p, *events, *v;

        assert_true(json_object_object_get_ex(doc, "pcrs", &pcrs));
        assert_true(json_object_object_get_ex(pcrs, "sha256", &bank));
        assert_true(json_object_object_get_ex(bank, pcr, &p));
        assert_true(json_object_object_get_ex(p, "events", &events));
        for (size_t i = 0; i < json_object_array_length(events); i++)
                if (json_object_object_get_ex(json_object_array_get_idx(events, i), "class", &v) &&
                    strcmp(json_object_get_string(v), class) == 0)
                        return (int)i;
        return -1;
}

static void test_add_boot_entry(void **state)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL, *added = NULL;
        _cleanup_(policy_freep) struct policy *p = NULL;
        _cleanup_(policy_result_freep) struct policy_result *res = NULL;
        struct policy_evidence ev = {};
        struct cvm_error err = {};
        uint8_t img[0x600], initrd[64], d[32];
        char hex[65];
        struct policy_boot_entry e = {};
        size_t size, isize = sizeof(initrd);
        int k9, k8, c8, i8;
        const char *cmd;

        (void)state;
        skip_without_vectors();
        read_vector(UBUNTU_2404, &buf, &size);
        log = load_log(buf, size);
        ev.log = log;
        assert_int_equal(policy_generate(&ev, NULL, &doc, &err), 0);

        memset(initrd, 0x5a, sizeof(initrd));
        e.kernel = img;
        e.kernel_size = build_pe(img, sizeof(img));
        e.kernel_path = "/vmlinuz-6.8.0-2000-gcp";
        e.cmdline = "root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro console=ttyS0,115200 panic=-1";
        e.initrd[0] = initrd;
        e.initrd_size[0] = isize;
        e.initrd_path[0] = "/initrd.img-6.8.0-2000-gcp";
        e.n_initrd = 1;
        assert_int_equal(policy_add_boot_entry(doc, &e, &added, &err), 0);
        assert_true(json_object_array_length(added) >= 3);

        /* grub measured the old kernel into PCR 9: the new file digest is allowed there now. */
        k9 = find_rule(doc, "9", "kernel");
        assert_true(k9 >= 0);
        assert_int_equal(hash_digest(hash_alg_by_name("sha256"), img, e.kernel_size, d), 0);
        hex_encode_to(hex, d, 32);
        assert_true(rule_has_digest(doc, "9", (size_t)k9, hex));
        assert_true(rule_has_digest(doc, "9", (size_t)k9,
                                    "a6cdd6ff491ff19d4f940fa8123753b7d423421469001b5f81628323a81f287b"));
        /* grub_cmd: linux and kernel_cmdline with the new path. */
        k8 = find_rule(doc, "8", "grub_kernel_command");
        c8 = find_rule(doc, "8", "kernel_cmdline");
        assert_true(k8 >= 0 && c8 >= 0);
        cmd = "linux /vmlinuz-6.8.0-2000-gcp root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro "
              "console=ttyS0,115200 panic=-1";
        assert_int_equal(hash_digest(hash_alg_by_name("sha256"), cmd, strlen(cmd), d), 0);
        hex_encode_to(hex, d, 32);
        assert_true(rule_has_digest(doc, "8", (size_t)k8, hex));
        cmd += strlen("linux ");
        assert_int_equal(hash_digest(hash_alg_by_name("sha256"), cmd, strlen(cmd), d), 0);
        hex_encode_to(hex, d, 32);
        assert_true(rule_has_digest(doc, "8", (size_t)c8, hex));
        i8 = find_rule(doc, "8", "grub_initrd_command");
        assert_int_equal(i8, -1); /* this boot was initrd-less */

        /* Still a valid policy, still accepting the old boot. */
        assert_int_equal(policy_from_json(doc, &p, &err), 0);
        res = appraise(p, &ev);
        assert_true(policy_result_ok(res));

        /* Adding the same entry again adds nothing. */
        json_object_put(added);
        added = NULL;
        assert_int_equal(policy_add_boot_entry(doc, &e, &added, &err), -ENOENT);

        /* Not a PE image. */
        e.kernel = initrd;
        e.kernel_size = isize;
        assert_int_equal(policy_add_boot_entry(doc, &e, NULL, &err), -EBADMSG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_generated_policies_pass),
                cmocka_unit_test(test_changed_boot_component),
                cmocka_unit_test(test_kernel_changed_in_pcr9),
                cmocka_unit_test(test_inserted_and_deleted_events),
                cmocka_unit_test(test_similar_machine),
                cmocka_unit_test(test_values_and_eventlog_options),
                cmocka_unit_test(test_data_prefix_wildcard),
                cmocka_unit_test(test_snp),
                cmocka_unit_test(test_ima),
                cmocka_unit_test(test_ima_generated),
                cmocka_unit_test(test_authenticode_real_kernel),
                cmocka_unit_test(test_pe_errors_and_sections),
                cmocka_unit_test(test_add_boot_entry),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
