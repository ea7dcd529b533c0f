/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conformance of the event log parser and replay on the real-data corpus ($CVM_VECTORS):
 * every MANIFEST.json "event_logs" entry, the upstream expected PCR files (go-tpm-tools,
 * go-attestation, tpm2-tools YAML "pcrs:" sections), the ima-evm-utils boot_aggregate
 * cross-checks, the known digest-mismatch findings and the ExitBootServices workaround.
 */
#include <errno.h>

#include "testlib.h"

#include "cleanup.h"
#include "eventlog.h"
#include "hashalg.h"
#include "util.h"

struct loaded {
        struct eventlog *log;
        struct eventlog_pcrs pcrs; /* as the log says */
        struct eventlog_pcrs ebs;  /* with the EBS workaround */
};

static void loaded_done(struct loaded *l)
{
        eventlog_free(l->log);
        l->log = NULL;
}

static int load(const char *rel, struct loaded *ret, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        int r;

        read_vector(rel, &buf, &size);
        r = eventlog_parse(buf, size, &ret->log, err);
        if (r < 0)
                return r;
        assert_int_equal(eventlog_replay(ret->log, 0, &ret->pcrs, NULL), 0);
        assert_int_equal(eventlog_replay(ret->log, EVENTLOG_REPLAY_EBS_WORKAROUND, &ret->ebs, NULL), 0);
        return 0;
}

static void load_ok(const char *rel, struct loaded *ret)
{
        struct cvm_error err = {};
        int r = load(rel, ret, &err);

        if (r < 0)
                fail_msg("%s: %s", rel, cvm_error_message(&err, r));
}

/* Index of the replayed bank called @name, or -1. */
static int bank_by_name(const struct eventlog_pcrs *p, const char *name)
{
        for (size_t b = 0; b < p->n_banks; b++)
                if (p->banks[b].replayed && strcmp(p->banks[b].alg->name, name) == 0)
                        return (int)b;
        return -1;
}

static uint32_t reportable_mask(const struct eventlog_bank_pcrs *bp)
{
        return bp->replayed ? bp->touched & ~bp->incomplete : 0;
}

static bool reportable(const struct eventlog_bank_pcrs *bp, unsigned pcr)
{
        return reportable_mask(bp) & (1u << pcr);
}

/*
 * Compares {bank: {index: hex}} with @p for every PCR the log touches; returns how many were
 * compared. With @exact, the log must touch exactly the listed PCRs of the listed banks.
 */
static unsigned compare_banks(const char *what, json_object *banks, const struct eventlog_pcrs *p,
                              const struct eventlog_pcrs *pcr5_override, bool exact)
{
        unsigned compared = 0;

        json_object_object_foreach (banks, bank_name, values) {
                int b = bank_by_name(p, bank_name);
                unsigned listed = 0;

                if (b < 0) {
                        if (exact && json_object_object_length(values) > 0)
                                fail_msg("%s: bank %s expected but not in the log", what, bank_name);
                        continue;
                }
                json_object_object_foreach (values, index, value) {
                        unsigned pcr = (unsigned)atoi(index);
                        const struct eventlog_pcrs *src = p;
                        _cleanup_free_ char *got = NULL;

                        listed++;
                        if (pcr >= EVENTLOG_MAX_PCRS || !reportable(&p->banks[b], pcr)) {
                                if (exact)
                                        fail_msg("%s: %s[%s] expected but not extended by the log", what,
                                                 bank_name, index);
                                continue;
                        }
                        if (pcr == 5 && pcr5_override)
                                src = pcr5_override;
                        got = hex_encode(src->banks[b].values[pcr], src->banks[b].alg->size);
                        if (strcasecmp(got, json_object_get_string(value)) != 0)
                                fail_msg("%s: %s[%s] = %s, expected %s", what, bank_name, index, got,
                                         json_object_get_string(value));
                        compared++;
                }
                if (exact &&
                    (unsigned)__builtin_popcount(p->banks[b].touched & ~p->banks[b].incomplete) != listed)
                        fail_msg("%s: bank %s: the log extends %d PCRs, expected %u", what, bank_name,
                                 __builtin_popcount(p->banks[b].touched), listed);
        }
        /* ... and no bank the reference does not list */
        for (size_t b = 0; exact && b < p->n_banks; b++)
                if (reportable_mask(&p->banks[b]) != 0 &&
                    !json_object_object_get_ex(banks, p->banks[b].alg->name, NULL))
                        fail_msg("%s: the log extends bank %s, which the reference does not list", what,
                                 p->banks[b].alg->name);
        return compared;
}

static bool is_ebs_missing_vector(const char *rel)
{
        return strstr(rel, "ebs_event_missing_eventlog") != NULL;
}

static void test_manifest_event_logs(void **state)
{
        _cleanup_(json_object_putp) json_object *m = NULL;
        json_object *logs;
        unsigned positives = 0, negatives = 0, expected_compared = 0, python_compared = 0;

        skip_without_vectors();
        m = load_manifest();
        assert_true(json_object_object_get_ex(m, "event_logs", &logs));
        for (size_t i = 0; i < json_object_array_length(logs); i++) {
                json_object *e = json_object_array_get_idx(logs, i), *v;
                _cleanup_(loaded_done) struct loaded l = {};
                struct cvm_error err = {};
                const char *rel, *note = NULL;
                int r;

                assert_true(json_object_object_get_ex(e, "file", &v));
                rel = json_object_get_string(v);
                if (json_object_object_get_ex(e, "note", &v))
                        note = json_object_get_string(v);

                r = load(rel, &l, &err);
                if (note && strstr(note, "NEGATIVE")) {
                        /* keylime -bogus and -empty: a clean, located rejection */
                        if (r != -EBADMSG || err.message[0] == '\0')
                                fail_msg("%s: expected -EBADMSG with a message, got %d", rel, r);
                        negatives++;
                        continue;
                }
                if (r < 0)
                        fail_msg("%s: %s", rel, cvm_error_message(&err, r));
                positives++;

                /* The independent Python replay: same PCRs touched, same values. */
                if (json_object_object_get_ex(e, "replayed_pcrs_python", &v) && v)
                        python_compared += compare_banks(rel, v, &l.pcrs, NULL, true);

                /* Upstream expected values, for the PCRs the log touches (PCR 10 etc. are not in logs). */
                if (json_object_object_get_ex(e, "expected_pcrs", &v) && v) {
                        unsigned n = compare_banks(rel, v, &l.pcrs,
                                                   is_ebs_missing_vector(rel) ? &l.ebs : NULL, false);
                        if (n == 0)
                                fail_msg("%s: no expected PCR could be compared", rel);
                        expected_compared += n;
                }
        }
        printf("event logs: %u parsed, %u rejected; %u PCRs equal to the Python replay, %u equal to "
               "upstream "
               "expected values\n",
               positives, negatives, python_compared, expected_compared);
        assert_int_equal(negatives, 2);
        assert_true(positives >= 39);
}

static void test_go_tpm_tools_expected(void **state)
{
        _cleanup_(json_object_putp) json_object *exp = NULL;
        unsigned compared = 0;

        skip_without_vectors();
        exp = json_object_from_file(vector_path("go-tpm-tools/expected_pcrs_from_eventlog_test.json"));
        assert_non_null(exp);
        json_object_object_foreach (exp, name, entry) {
                _cleanup_(loaded_done) struct loaded l = {};
                json_object *file, *banks, *apps;
                char rel[256];

                assert_true(json_object_object_get_ex(entry, "file", &file));
                snprintf(rel, sizeof(rel), "go-tpm-tools/eventlogs/%s", json_object_get_string(file));
                load_ok(rel, &l);
                assert_true(json_object_object_get_ex(entry, "banks", &banks));
                compared += compare_banks(name, banks, &l.pcrs, NULL, false);

                /*
                 * ExpectedEFIAppDigests: the EV_EFI_BOOT_SERVICES_APPLICATION digests, in log order.
                 * GdcHost's list is COS101's (gdc-host.bin loads Dell, shim and grub images, none of
                 * them in that list), so it does not describe its log.
                 */
                if (!json_object_object_get_ex(entry, "expected_efi_app_digests", &apps) ||
                    strcmp(name, "GdcHost") == 0)
                        continue;
                json_object_object_foreach (apps, bank_name, list) {
                        const struct hash_alg *alg = hash_alg_by_name(bank_name);
                        int b = alg ? eventlog_bank_index(l.log, alg->tpm_id) : -1;
                        size_t k = 0;

                        assert_true(b >= 0);
                        for (size_t i = 0; i < l.log->n_events; i++) {
                                const struct eventlog_event *ev = &l.log->events[i];
                                _cleanup_free_ char *hex = NULL;

                                if (ev->type != EV_EFI_BOOT_SERVICES_APPLICATION)
                                        continue;
                                assert_true(k < json_object_array_length(list));
                                hex = hex_encode(ev->digests[b], alg->size);
                                assert_string_equal(
                                        hex, json_object_get_string(json_object_array_get_idx(list, k)));
                                k++;
                        }
                        assert_int_equal(k, json_object_array_length(list));
                }
        }
        printf("go-tpm-tools: %u expected PCR values reproduced\n", compared);
        assert_true(compared >= 200);
}

static void test_go_attestation_expected(void **state)
{
        _cleanup_(json_object_putp) json_object *exp = NULL;
        unsigned compared = 0;

        skip_without_vectors();
        exp = json_object_from_file(vector_path("go-attestation/expected_pcrs.json"));
        assert_non_null(exp);
        json_object_object_foreach (exp, name, entry) {
                _cleanup_(loaded_done) struct loaded l = {};
                json_object *banks;
                char rel[256];

                if (strcmp(name, "windows_gcp_shielded_vm.json") == 0)
                        snprintf(rel, sizeof(rel),
                                 "go-attestation/windows_gcp_shielded_vm.decomposed/eventlog.bin");
                else
                        snprintf(rel, sizeof(rel), "go-attestation/%s", name);
                load_ok(rel, &l);
                assert_true(json_object_object_get_ex(entry, "banks", &banks));
                compared += compare_banks(name, banks, &l.pcrs, is_ebs_missing_vector(rel) ? &l.ebs : NULL,
                                          false);
        }
        printf("go-attestation: %u expected PCR values reproduced\n", compared);
        assert_true(compared >= 25);
}

/* The "pcrs:" section that ends tpm2_eventlog's YAML, turned into {bank: {index: hex}}. */
static json_object *yaml_pcrs(const char *path)
{
        _cleanup_free_ uint8_t *buf = NULL;
        json_object *banks = json_object_new_object(), *bank = NULL;
        size_t size;
        char *line, *save = NULL;
        bool in_pcrs = false;

        read_vector(path, &buf, &size);
        for (line = strtok_r((char *)buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[32], index[8], value[160];

                if (strcmp(line, "pcrs:") == 0) {
                        in_pcrs = true;
                        continue;
                }
                if (!in_pcrs)
                        continue;
                if (sscanf(line, "  %31[a-z0-9]:", name) == 1 && line[2] != ' ') {
                        bank = json_object_new_object();
                        json_object_object_add(banks, name, bank);
                } else if (bank && sscanf(line, " %7[0-9] : 0x%159[0-9a-fA-F]", index, value) == 2)
                        json_object_object_add(bank, index, json_object_new_string(value));
        }
        assert_true(in_pcrs);
        return banks;
}

static void test_tpm2_tools_yaml(void **state)
{
        static const char *const logs[] = {
                "event-arch-linux.bin",
                "event-bootorder.bin",
                "event-gce-ubuntu-2104-log.bin",
                "event-moklisttrusted.bin",
                "event-postcode.bin",
                "event-sd-boot-fedora37.bin",
                "event-uefi-sha1-log.bin",
                "event-uefiaction.bin",
                "event-uefiservices.bin",
                "event-uefivar.bin",
                "event.bin",
                "specid-vendordata.bin",
        };
        unsigned compared = 0;

        skip_without_vectors();
        for (size_t i = 0; i < ELEMENTSOF(logs); i++) {
                _cleanup_(loaded_done) struct loaded l = {};
                _cleanup_(json_object_putp) json_object *banks = NULL;
                char rel[256];

                snprintf(rel, sizeof(rel), "tpm2-tools/expected-yaml/%s.yaml", logs[i]);
                banks = yaml_pcrs(rel);
                snprintf(rel, sizeof(rel), "tpm2-tools/logs/%s", logs[i]);
                load_ok(rel, &l);
                /* Exact: the same banks and PCRs as tpm2_eventlog lists, no more, no fewer. */
                compared += compare_banks(rel, banks, &l.pcrs, NULL, true);
        }
        printf("tpm2-tools: %u PCR values equal to the upstream YAML\n", compared);
        assert_true(compared >= 120);
}

static void boot_aggregate(const char *rel, unsigned last_pcr, const char *expected)
{
        _cleanup_(loaded_done) struct loaded l = {};
        uint8_t md[32];
        _cleanup_free_ char *hex = NULL;
        uint8_t concat[EVENTLOG_MAX_PCRS * 32];
        int b;

        load_ok(rel, &l);
        b = bank_by_name(&l.pcrs, "sha256");
        assert_true(b >= 0);
        for (unsigned i = 0; i <= last_pcr; i++)
                memcpy(concat + 32 * i, l.pcrs.banks[b].values[i], 32);
        assert_int_equal(hash_digest(hash_alg_by_name("sha256"), concat, 32 * (last_pcr + 1), md), 0);
        hex = hex_encode(md, 32);
        assert_string_equal(hex, expected);
}

static void test_ima_boot_aggregate(void **state)
{
        skip_without_vectors();
        /* the boot_aggregate entries of the matching IMA logs (README §1e) */
        boot_aggregate("ima-evm-utils/sample-binary_bios_measurements-pcrs-8-9", 9,
                       "83d19723ef3b3c05bb8ae70d86b3886c158f2408f1b71ed265886a7b79eb700e");
        boot_aggregate("ima-evm-utils/test_binary_bios_measurements", 7,
                       "f1b4c7c9b27e94569f4c2b64051c452bc609c3cb891dd7fae06b758f8bc83d14");
}

/* Digest-vs-data findings on the corpus: exactly the known ones, no false alarms anywhere else. */
static void test_digest_mismatch_findings(void **state)
{
        static const struct {
                const char *suffix;
                uint32_t event;
        } known[] = {
                {"tpm2-tools/logs/event-arch-linux.bin", 24},              /* tpm2_eventlog WARNs too */
                {"go-tpm-tools/eventlogs/arch-linux-workstation.bin", 24}, /* systemd-boot cmdline */
                {"go-tpm-tools/eventlogs/gdc-host.bin", 3},                /* EV_S_CRTM_VERSION */
        };
        _cleanup_(json_object_putp) json_object *m = NULL;
        json_object *logs;
        unsigned found = 0;

        skip_without_vectors();
        m = load_manifest();
        assert_true(json_object_object_get_ex(m, "event_logs", &logs));
        for (size_t i = 0; i < json_object_array_length(logs); i++) {
                json_object *v;
                _cleanup_(loaded_done) struct loaded l = {};
                struct cvm_error err = {};
                const char *rel;

                assert_true(json_object_object_get_ex(json_object_array_get_idx(logs, i), "file", &v));
                rel = json_object_get_string(v);
                if (load(rel, &l, &err) < 0)
                        continue; /* the negative vectors */
                for (size_t k = 0; k < l.log->n_events; k++) {
                        bool expected = false;

                        if (l.log->events[k].check != EVENTLOG_DIGEST_MISMATCH)
                                continue;
                        for (size_t j = 0; j < ELEMENTSOF(known); j++)
                                if (strcmp(rel, known[j].suffix) == 0 &&
                                    known[j].event == l.log->events[k].number)
                                        expected = true;
                        if (!expected)
                                fail_msg("%s: unexpected digest mismatch in event %u (type 0x%x)", rel,
                                         l.log->events[k].number, l.log->events[k].type);
                        found++;
                }
        }
        assert_int_equal(found, ELEMENTSOF(known));
}

static void test_ebs_workaround(void **state)
{
        _cleanup_(loaded_done) struct loaded missing = {}, present = {};
        _cleanup_free_ char *naive = NULL, *alt = NULL;
        int b;

        skip_without_vectors();
        load_ok("go-attestation/ebs_event_missing_eventlog", &missing);
        assert_int_equal(missing.log->format, EVENTLOG_FORMAT_SHA1);
        assert_int_equal(eventlog_ebs_status(missing.log), EVENTLOG_EBS_MISSING);
        b = bank_by_name(&missing.pcrs, "sha1");
        naive = hex_encode(missing.pcrs.banks[b].values[5], 20);
        alt = hex_encode(missing.ebs.banks[b].values[5], 20);
        /* by default the log is replayed as it stands; the workaround gives the TPM's value */
        assert_string_equal(naive, "e5781a2fd49c23a33b16bf0ba5f10efa1aa5d43c");
        assert_string_equal(alt, "31245808d6d35849bc394f6343f2b3ff908ed5e3");

        load_ok("go-attestation/option_rom_eventlog", &present);
        assert_int_equal(eventlog_ebs_status(present.log), EVENTLOG_EBS_PRESENT);
}

static void test_decoded_descriptions(void **state)
{
        _cleanup_(loaded_done) struct loaded sb = {}, win = {};
        _cleanup_free_ char *authority = NULL, *app = NULL, *sep = NULL;

        skip_without_vectors();
        load_ok("go-attestation/sb_cert_eventlog", &sb);
        /* event 8: the db certificate that verified shim */
        assert_int_equal(sb.log->events[8].type, EV_EFI_VARIABLE_AUTHORITY);
        assert_int_equal(eventlog_event_describe(sb.log, 8, &authority), 0);
        assert_string_equal(authority,
                            "db: CN=Microsoft Corporation UEFI CA 2011,O=Microsoft Corporation,L=Redmond,"
                            "ST=Washington,C=US");

        load_ok("go-attestation/option_rom_eventlog", &win);
        assert_int_equal(eventlog_event_describe(win.log, 43, &app), 0);
        assert_string_equal(app, "PciRoot(0x0)/Pci(0x11,0x4)/Sata(0x1,0x8000,0x0)/"
                                 "HD(2,GPT,e3386700-0b78-4113-a69a-457470234cdd,0x96800,0x82000)/"
                                 "\\EFI\\Microsoft\\Boot\\bootmgfw.efi");
        assert_int_equal(eventlog_event_describe(win.log, 55, &sep), 0);
        assert_string_equal(sep, "separator \"WBCL\"");
}

static void test_json_on_every_log(void **state)
{
        _cleanup_(json_object_putp) json_object *m = NULL;
        json_object *logs;

        skip_without_vectors();
        m = load_manifest();
        assert_true(json_object_object_get_ex(m, "event_logs", &logs));
        for (size_t i = 0; i < json_object_array_length(logs); i++) {
                _cleanup_(loaded_done) struct loaded l = {};
                _cleanup_(json_object_putp) json_object *doc = NULL;
                struct cvm_error err = {};
                json_object *v, *events, *pcrs;

                assert_true(json_object_object_get_ex(json_object_array_get_idx(logs, i), "file", &v));
                if (load(json_object_get_string(v), &l, &err) < 0)
                        continue;
                assert_int_equal(eventlog_to_json(l.log, NULL, &doc, &err), 0);
                assert_true(json_object_object_get_ex(doc, "events", &events));
                assert_int_equal(json_object_array_length(events), l.log->n_events);
                assert_true(json_object_object_get_ex(doc, "pcrs", &pcrs));
                /* the document holds exactly the replayed values */
                compare_banks(json_object_get_string(v), pcrs, &l.pcrs, NULL, true);
                for (size_t k = 0; k < l.log->n_events; k++) {
                        json_object *d;
                        assert_true(json_object_object_get_ex(json_object_array_get_idx(events, k),
                                                              "description", &d));
                        assert_true(json_object_get_string_len(d) > 0);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifest_event_logs),
                cmocka_unit_test(test_go_tpm_tools_expected),
                cmocka_unit_test(test_go_attestation_expected),
                cmocka_unit_test(test_tpm2_tools_yaml),
                cmocka_unit_test(test_ima_boot_aggregate),
                cmocka_unit_test(test_digest_mismatch_findings),
                cmocka_unit_test(test_ebs_workaround),
                cmocka_unit_test(test_decoded_descriptions),
                cmocka_unit_test(test_json_on_every_log),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
