/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event log parser, replay, descriptions and JSON on logs built byte by byte in this file:
 * every error path, the replay rules (EV_NO_ACTION, StartupLocality, EBS), the digest checks,
 * and the EFI decoders. Expected PCR values were computed independently with Python hashlib.
 */
#include <errno.h>

#include "testlib.h"

#include "cleanup.h"
#include "efi.h"
#include "eventlog.h"
#include "hashalg.h"
#include "util.h"

/* --- fixture builder ------------------------------------------------------------------------ */

struct fx {
        uint8_t b[16384];
        size_t n;
};

static void put(struct fx *f, const void *p, size_t n)
{
        assert_true(f->n + n <= sizeof(f->b));
        memcpy(f->b + f->n, p, n);
        f->n += n;
}

static void put8(struct fx *f, uint8_t v)
{
        put(f, &v, 1);
}

static void put16(struct fx *f, uint16_t v)
{
        uint8_t b[2] = {v & 0xff, v >> 8};
        put(f, b, 2);
}

static void put32(struct fx *f, uint32_t v)
{
        uint8_t b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
        put(f, b, 4);
}

static void put64(struct fx *f, uint64_t v)
{
        put32(f, (uint32_t)v);
        put32(f, (uint32_t)(v >> 32));
}

static void put_zero(struct fx *f, size_t n)
{
        while (n--)
                put8(f, 0);
}

static void put_ucs2(struct fx *f, const char *s, bool nul)
{
        for (; *s; s++)
                put16(f, (uint8_t)*s);
        if (nul)
                put16(f, 0);
}

/* Spec ID Event03 with @n algorithms; @vendor_size bytes of vendorInfo (0xab). */
static void spec_id(struct fx *f, const uint16_t *algs, const uint16_t *sizes, uint32_t n,
                    uint8_t vendor_size)
{
        put32(f, 0);
        put32(f, EV_NO_ACTION);
        put_zero(f, 20);
        put32(f, 16 + 4 + 4 + 4 + 4 * n + 1 + vendor_size);
        put(f, "Spec ID Event03", 16);
        put32(f, 0); /* platformClass */
        put8(f, 0);  /* specVersionMinor */
        put8(f, 2);  /* specVersionMajor */
        put8(f, 0);  /* errata */
        put8(f, 2);  /* uintnSize: UINT64 */
        put32(f, n);
        for (uint32_t i = 0; i < n; i++) {
                put16(f, algs[i]);
                put16(f, sizes[i]);
        }
        put8(f, vendor_size);
        for (unsigned i = 0; i < vendor_size; i++)
                put8(f, 0xab);
}

static const uint16_t std_algs[] = {TPM_ALG_SHA1, TPM_ALG_SHA256};
static const uint16_t std_sizes[] = {20, 32};

static void std_header(struct fx *f)
{
        spec_id(f, std_algs, std_sizes, 2, 0);
}

static void digest_of(uint16_t alg_id, const void *p, size_t n, uint8_t *out)
{
        assert_int_equal(hash_digest(hash_alg_by_tpm_id(alg_id), p, n, out), 0);
}

/* TCG_PCR_EVENT2 with correct sha1 + sha256 digests of @hashed (usually the data itself). */
static void agile_event_h(struct fx *f, uint32_t pcr, uint32_t type, const void *data, size_t len,
                          const void *hashed, size_t hashed_len)
{
        uint8_t md[HASH_MAX_SIZE];

        put32(f, pcr);
        put32(f, type);
        put32(f, 2);
        put16(f, TPM_ALG_SHA1);
        digest_of(TPM_ALG_SHA1, hashed, hashed_len, md);
        put(f, md, 20);
        put16(f, TPM_ALG_SHA256);
        digest_of(TPM_ALG_SHA256, hashed, hashed_len, md);
        put(f, md, 32);
        put32(f, (uint32_t)len);
        put(f, data, len);
}

static void agile_event(struct fx *f, uint32_t pcr, uint32_t type, const void *data, size_t len)
{
        agile_event_h(f, pcr, type, data, len, data, len);
}

/* TCG_PCClientPCREvent with the SHA-1 of @data. */
static void sha1_event(struct fx *f, uint32_t pcr, uint32_t type, const void *data, size_t len)
{
        uint8_t md[20];

        put32(f, pcr);
        put32(f, type);
        digest_of(TPM_ALG_SHA1, data, len, md);
        put(f, md, 20);
        put32(f, (uint32_t)len);
        put(f, data, len);
}

static const uint8_t zero4[4] = {};
#define ACTION_BOOT "Calling EFI Application from Boot Option"

static struct eventlog *parse_ok(const struct fx *f)
{
        struct eventlog *log = NULL;
        struct cvm_error err = {};
        int r = eventlog_parse(f->b, f->n, &log, &err);

        if (r < 0)
                fail_msg("parse failed: %s", cvm_error_message(&err, r));
        return log;
}

static void expect_error(const struct fx *f, int code, const char *needle)
{
        struct eventlog *log = NULL;
        struct cvm_error err = {};
        int r = eventlog_parse(f->b, f->n, &log, &err);

        if (r != code || !strstr(err.message, needle))
                fail_msg("expected %d with \"%s\", got %d: \"%s\"", code, needle, r, err.message);
        assert_null(log);
}

static void expect_pcr(const struct eventlog_pcrs *p, size_t bank, unsigned pcr, const char *hex)
{
        _cleanup_free_ char *got = hex_encode(p->banks[bank].values[pcr], p->banks[bank].alg->size);

        assert_string_equal(got, hex);
}

static char *describe(const struct eventlog *log, size_t i)
{
        char *s = NULL;

        assert_int_equal(eventlog_event_describe(log, i, &s), 0);
        return s;
}

#define SEP_SHA256_PCR    "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969"
#define SEP_SHA1_PCR      "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236"
#define ACTION_SHA256_PCR "3f263b96ccbc33bb53d808771f9ab1e02d4dec8854f9530f749cde853a723273"
#define LOC3_SHA256_PCR   "50bd7d88f0414b40608f8ffc56fd4f3201b5ed0644e36b8128d33624ebe0f053"
#define EBS_SHA256_PCR5   "a5ceb755d043f32431d63e39f5161464620a3437280494b5850dc1b47cc074e0"

/* --- well-formed logs ---------------------------------------------------------------------- */

static void test_minimal_agile(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        struct eventlog_pcrs p;
        struct fx f = {};
        size_t first;

        std_header(&f);
        first = f.n;
        agile_event(&f, 0, EV_SEPARATOR, zero4, 4);
        agile_event(&f, 4, EV_EFI_ACTION, ACTION_BOOT, strlen(ACTION_BOOT));
        log = parse_ok(&f);

        assert_int_equal(log->format, EVENTLOG_FORMAT_CRYPTO_AGILE);
        assert_int_equal(log->n_banks, 2);
        assert_int_equal(log->banks[1].alg_id, TPM_ALG_SHA256);
        assert_int_equal(log->n_events, 3);
        assert_true(log->spec_id.present);
        assert_string_equal(log->spec_id.signature, "Spec ID Event03");
        assert_int_equal(log->events[1].number, 1);
        assert_int_equal(log->events[1].offset, first);
        assert_int_equal(log->events[2].pcr, 4);
        assert_int_equal(log->events[2].type, EV_EFI_ACTION);
        assert_int_equal(log->events[1].check, EVENTLOG_DIGEST_MATCH);
        assert_int_equal(log->events[2].check, EVENTLOG_DIGEST_MATCH);
        assert_int_equal(log->n_warnings, 0);
        assert_string_equal(eventlog_type_name(EV_EFI_ACTION), "EV_EFI_ACTION");
        assert_null(eventlog_type_name(0x12345678));

        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        assert_int_equal(p.touched, (1u << 0) | (1u << 4));
        assert_int_equal(p.banks[1].touched, (1u << 0) | (1u << 4));
        assert_int_equal(p.startup_locality, -1);
        expect_pcr(&p, 0, 0, SEP_SHA1_PCR);
        expect_pcr(&p, 1, 0, SEP_SHA256_PCR);
        expect_pcr(&p, 1, 4, ACTION_SHA256_PCR);
        assert_int_equal(eventlog_ebs_status(log), EVENTLOG_EBS_NOT_APPLICABLE);
}

static void test_sha1_format(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        struct eventlog_pcrs p;
        struct fx f = {};

        sha1_event(&f, 0, EV_SEPARATOR, zero4, 4);
        sha1_event(&f, 4, EV_EFI_ACTION, ACTION_BOOT, strlen(ACTION_BOOT));
        log = parse_ok(&f);
        assert_int_equal(log->format, EVENTLOG_FORMAT_SHA1);
        assert_int_equal(log->n_banks, 1);
        assert_int_equal(log->banks[0].alg_id, TPM_ALG_SHA1);
        assert_false(log->spec_id.present);
        assert_int_equal(log->n_events, 2);
        assert_int_equal(log->events[1].offset, 36);
        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        expect_pcr(&p, 0, 0, SEP_SHA1_PCR);
        assert_int_equal(p.touched, (1u << 0) | (1u << 4));
}

static void test_digest_mismatch_still_replayed(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        static const uint8_t other[4] = {1, 2, 3, 4};
        uint8_t expect[32] = {}, md[32];
        struct eventlog_pcrs p;
        struct fx f = {};

        std_header(&f);
        /* A separator whose digests are those of different data. */
        agile_event_h(&f, 0, EV_SEPARATOR, zero4, 4, other, 4);
        log = parse_ok(&f);
        assert_int_equal(log->events[1].check, EVENTLOG_DIGEST_MISMATCH);
        assert_int_equal(log->events[1].mismatch_banks, 3);
        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        digest_of(TPM_ALG_SHA256, other, 4, md);
        assert_int_equal(hash_extend(hash_alg_by_name("sha256"), expect, md), 0);
        assert_memory_equal(p.banks[1].values[0], expect, 32);
}

static void add_startup_locality(struct fx *f, uint32_t pcr, uint8_t locality)
{
        uint8_t data[17];

        memcpy(data, "StartupLocality", 16);
        data[16] = locality;
        put32(f, pcr);
        put32(f, EV_NO_ACTION);
        put32(f, 2);
        put16(f, TPM_ALG_SHA1);
        put_zero(f, 20);
        put16(f, TPM_ALG_SHA256);
        put_zero(f, 32);
        put32(f, sizeof(data));
        put(f, data, sizeof(data));
}

static void test_startup_locality(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL, *late = NULL;
        _cleanup_free_ char *d = NULL;
        struct eventlog_pcrs p;
        struct fx f = {}, g = {};

        std_header(&f);
        add_startup_locality(&f, 0, 3);
        agile_event(&f, 0, EV_SEPARATOR, zero4, 4);
        log = parse_ok(&f);
        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        assert_int_equal(p.startup_locality, 3);
        expect_pcr(&p, 1, 0, LOC3_SHA256_PCR);
        d = describe(log, 1);
        assert_string_equal(d, "StartupLocality 3");

        /* After PCR 0 was extended it cannot describe PCR 0's initial value: ignored. */
        std_header(&g);
        agile_event(&g, 0, EV_SEPARATOR, zero4, 4);
        add_startup_locality(&g, 0, 3);
        late = parse_ok(&g);
        assert_int_equal(eventlog_replay(late, 0, &p, NULL), 0);
        assert_int_equal(p.startup_locality, -1);
        expect_pcr(&p, 1, 0, SEP_SHA256_PCR);
}

static void test_no_action_never_extended(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_free_ char *d = NULL;
        static const uint8_t sp800[32] = "SP800-155 Event3";
        struct eventlog_pcrs p;
        struct fx f = {};

        std_header(&f);
        /* Non-zero digests on purpose: they must still not be extended. */
        agile_event(&f, 0, EV_NO_ACTION, sp800, sizeof(sp800));
        /* Windows logs EV_NO_ACTION records with PCR index -1. */
        agile_event(&f, UINT32_MAX, EV_NO_ACTION, "WBCL", 4);
        agile_event(&f, 1, EV_SEPARATOR, zero4, 4);
        log = parse_ok(&f);
        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        assert_int_equal(p.touched, 1u << 1);
        assert_true(is_all_zero(p.banks[1].values[0], 32));
        assert_false(eventlog_event_is_extended(&log->events[1]));
        d = describe(log, 1);
        assert_non_null(strstr(d, "SP800-155 Event3"));
}

static void test_short_no_action_sha1_log(void **state)
{
        /* go-attestation's short_no_action_eventlog: one 17-byte EV_NO_ACTION, SHA-1 format. */
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        struct eventlog_pcrs p;
        uint8_t data[17] = "StartupLocality";
        struct fx f = {};

        data[16] = 3;
        put32(&f, 0);
        put32(&f, EV_NO_ACTION);
        put_zero(&f, 20);
        put32(&f, sizeof(data));
        put(&f, data, sizeof(data));
        assert_int_equal(f.n, 49);
        log = parse_ok(&f);
        assert_int_equal(log->format, EVENTLOG_FORMAT_SHA1);
        assert_int_equal(log->n_events, 1);
        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        assert_int_equal(p.touched, 0);
        assert_int_equal(p.startup_locality, 3);
}

static void add_image_event(struct fx *f, uint32_t pcr)
{
        struct fx d = {};

        put64(&d, 0x1000);
        put64(&d, 0x2000);
        put64(&d, 0);
        put64(&d, 4);
        put8(&d, 0x7f);
        put8(&d, 0xff);
        put16(&d, 4);
        agile_event_h(f, pcr, EV_EFI_BOOT_SERVICES_APPLICATION, d.b, d.n, "image", 5);
}

static void test_ebs_detection(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *missing = NULL, *present = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        json_object *alt, *v;
        struct eventlog_pcrs p;
        struct fx f = {}, g = {};

        std_header(&f);
        add_image_event(&f, 4);
        agile_event(&f, 5, EV_SEPARATOR, zero4, 4);
        missing = parse_ok(&f);
        assert_int_equal(eventlog_ebs_status(missing), EVENTLOG_EBS_MISSING);
        assert_int_equal(eventlog_replay(missing, 0, &p, NULL), 0);
        expect_pcr(&p, 1, 5, SEP_SHA256_PCR);
        assert_false(p.ebs_appended);
        assert_int_equal(eventlog_replay(missing, EVENTLOG_REPLAY_EBS_WORKAROUND, &p, NULL), 0);
        assert_true(p.ebs_appended);
        expect_pcr(&p, 1, 5, EBS_SHA256_PCR5);

        assert_int_equal(eventlog_to_json(missing, NULL, &doc, NULL), 0);
        assert_true(json_object_object_get_ex(doc, "ebs_workaround", &alt));
        assert_true(json_object_object_get_ex(alt, "pcrs", &alt));
        assert_true(json_object_object_get_ex(alt, "sha256", &alt));
        assert_true(json_object_object_get_ex(alt, "5", &v));
        assert_string_equal(json_object_get_string(v), EBS_SHA256_PCR5);
        assert_true(json_object_object_get_ex(doc, "ebs", &v));
        assert_true(json_object_object_get_ex(v, "status", &v));
        assert_string_equal(json_object_get_string(v), "missing");

        std_header(&g);
        add_image_event(&g, 4);
        agile_event(&g, 5, EV_SEPARATOR, zero4, 4);
        agile_event(&g, 5, EV_EFI_ACTION, EVENTLOG_EBS_INVOCATION, strlen(EVENTLOG_EBS_INVOCATION));
        present = parse_ok(&g);
        assert_int_equal(eventlog_ebs_status(present), EVENTLOG_EBS_PRESENT);
        assert_int_equal(eventlog_replay(present, EVENTLOG_REPLAY_EBS_WORKAROUND, &p, NULL), 0);
        assert_false(p.ebs_appended);
}

static void test_partial_digests(void **state)
{
        /* tpm2-tools' fixtures: Spec ID declares 3 banks, events carry 2. */
        static const uint16_t algs[] = {TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384};
        static const uint16_t sizes[] = {20, 32, 48};
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        json_object *pcrs, *warnings;
        struct eventlog_pcrs p;
        struct fx f = {};

        spec_id(&f, algs, sizes, 3, 0);
        agile_event(&f, 0, EV_SEPARATOR, zero4, 4);
        log = parse_ok(&f);
        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        assert_int_equal(p.banks[2].touched, 0);
        assert_int_equal(p.banks[2].incomplete, 1);
        assert_int_equal(eventlog_to_json(log, NULL, &doc, NULL), 0);
        assert_true(json_object_object_get_ex(doc, "pcrs", &pcrs));
        assert_false(json_object_object_get_ex(pcrs, "sha384", NULL));
        assert_true(json_object_object_get_ex(pcrs, "sha256", NULL));
        assert_true(json_object_object_get_ex(doc, "warnings", &warnings));
        assert_int_equal(json_object_array_length(warnings), 0); /* nothing half-replayed */
}

static void test_unknown_bank(void **state)
{
        static const uint16_t algs[] = {TPM_ALG_SHA256, 0x0099};
        static const uint16_t sizes[] = {32, 32};
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        json_object *pcrs, *warnings, *banks;
        struct eventlog_pcrs p;
        uint8_t md[32];
        struct fx f = {};

        spec_id(&f, algs, sizes, 2, 0);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 2);
        put16(&f, TPM_ALG_SHA256);
        digest_of(TPM_ALG_SHA256, zero4, 4, md);
        put(&f, md, 32);
        put16(&f, 0x0099);
        put(&f, md, 32);
        put32(&f, 4);
        put(&f, zero4, 4);
        log = parse_ok(&f);
        assert_null(log->banks[1].alg);
        assert_int_equal(eventlog_replay(log, 0, &p, NULL), 0);
        assert_true(p.banks[0].replayed);
        assert_false(p.banks[1].replayed);
        expect_pcr(&p, 0, 0, SEP_SHA256_PCR);
        assert_int_equal(eventlog_to_json(log, NULL, &doc, NULL), 0);
        assert_true(json_object_object_get_ex(doc, "banks", &banks));
        assert_string_equal(json_object_get_string(json_object_array_get_idx(banks, 1)), "0x0099");
        assert_true(json_object_object_get_ex(doc, "pcrs", &pcrs));
        assert_int_equal(json_object_object_length(pcrs), 1);
        assert_true(json_object_object_get_ex(doc, "warnings", &warnings));
        assert_non_null(
                strstr(json_object_get_string(json_object_array_get_idx(warnings, 0)), "not supported"));
}

static void test_vendor_info(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *inside = NULL, *outside = NULL;
        struct fx f = {}, g = {};

        spec_id(&f, std_algs, std_sizes, 2, 4);
        agile_event(&f, 0, EV_SEPARATOR, zero4, 4);
        inside = parse_ok(&f);
        assert_int_equal(inside->spec_id.vendor_info_size, 4);
        assert_int_equal(inside->spec_id.vendor_info[0], 0xab);
        assert_int_equal(inside->n_warnings, 0);

        /* tpm2-tools specid-vendordata.bin: the event size stops before the vendorInfo bytes. */
        spec_id(&g, std_algs, std_sizes, 2, 4);
        g.b[28] -= 4; /* eventDataSize */
        outside = parse_ok(&g);
        assert_int_equal(outside->n_events, 1);
        assert_int_equal(outside->spec_id.vendor_info_size, 4);
        assert_int_equal(outside->n_warnings, 1);
        assert_non_null(strstr(outside->warnings[0], "vendorInfo"));
}

static void test_trailing_zero_padding(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        struct fx f = {};

        std_header(&f);
        agile_event(&f, 0, EV_SEPARATOR, zero4, 4);
        put_zero(&f, 100);
        log = parse_ok(&f);
        assert_int_equal(log->n_events, 2);
        assert_int_equal(log->n_warnings, 1);
        assert_non_null(strstr(log->warnings[0], "100 bytes of zero padding"));
}

/* --- malformed logs ------------------------------------------------------------------------ */

static void test_error_empty_and_garbage(void **state)
{
        struct fx f = {};
        static const char bogus[] = "bogus\ninvalid\nevent\nlog\nfile\nhere\n";

        expect_error(&f, -EBADMSG, "empty event log");
        put(&f, bogus, strlen(bogus));
        expect_error(&f, -EBADMSG, "event 0 at offset 0x0: PCR index 1969712994 out of range");
        f.n = 0;
        for (int i = 0; i < 64; i++)
                put8(&f, 0xff);
        expect_error(&f, -EBADMSG, "event 0 at offset 0x0: PCR index 4294967295 out of range");
}

static void test_error_truncated_header(void **state)
{
        struct fx f = {};

        put_zero(&f, 10);
        expect_error(&f, -EBADMSG, "event 0 at offset 0x0: truncated event header: 10 bytes left, need 32");

        /* SHA-1 format: a second record cut inside its header */
        f.n = 0;
        sha1_event(&f, 0, EV_SEPARATOR, zero4, 4);
        put32(&f, 1);
        put32(&f, EV_SEPARATOR);
        put8(&f, 0x55);
        expect_error(&f, -EBADMSG, "event 1 at offset 0x24: truncated event header: 9 bytes left, need 32");

        /* crypto-agile: 8 bytes after the Spec ID event */
        f.n = 0;
        std_header(&f);
        put32(&f, 1);
        put32(&f, EV_SEPARATOR);
        expect_error(&f, -EBADMSG,
                     "event 1 at offset 0x45: truncated event header: 8 bytes left, need at least 12");
}

static void test_error_truncated_digest(void **state)
{
        struct fx f = {};

        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 2);
        put16(&f, TPM_ALG_SHA1);
        put_zero(&f, 20);
        put16(&f, TPM_ALG_SHA256);
        put_zero(&f, 10);
        expect_error(
                &f, -EBADMSG,
                "event 1 at offset 0x45: truncated digest 1 (algorithm 0x000b): 10 bytes left, need 32");

        /* cut between two digests: no room for the algorithm id */
        f.n = 0;
        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 2);
        put16(&f, TPM_ALG_SHA1);
        put_zero(&f, 20);
        put8(&f, 0x0b);
        expect_error(&f, -EBADMSG, "event 1 at offset 0x45: truncated digest 1");

        /* digests complete, event size field missing */
        f.n = 0;
        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 1);
        put16(&f, TPM_ALG_SHA1);
        put_zero(&f, 20);
        put16(&f, 4);
        expect_error(&f, -EBADMSG,
                     "event 1 at offset 0x45: truncated event size field: 2 bytes left, need 4");
}

static void test_error_digest_count(void **state)
{
        struct fx f = {};

        std_header(&f);
        agile_event(&f, 0, EV_SEPARATOR, zero4, 4);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 7);
        put_zero(&f, 100);
        put8(&f, 1); /* not all-zero, so not treated as padding */
        expect_error(&f, -EBADMSG,
                     "event 2 at offset 0x91: digest count 7 but Spec ID declares 2 algorithms");

        f.n = 0;
        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 0);
        put32(&f, 4);
        put32(&f, 0x01010101);
        expect_error(&f, -EBADMSG, "event 1 at offset 0x45: digest count 0");
}

static void test_error_unknown_algorithm(void **state)
{
        struct fx f = {};

        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 1);
        put16(&f, TPM_ALG_SHA384); /* a real algorithm, but not declared by this log */
        put_zero(&f, 48);
        put32(&f, 0);
        expect_error(&f, -EBADMSG,
                     "event 1 at offset 0x45: digest 0 uses algorithm 0x000c, which the Spec ID event does "
                     "not declare");

        f.n = 0;
        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 2);
        put16(&f, TPM_ALG_SHA1);
        put_zero(&f, 20);
        put16(&f, TPM_ALG_SHA1);
        put_zero(&f, 20);
        put32(&f, 0);
        expect_error(&f, -EBADMSG, "event 1 at offset 0x45: digest 1 repeats algorithm 0x0004");
}

static void test_error_event_size(void **state)
{
        struct fx f = {};

        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 1);
        put16(&f, TPM_ALG_SHA1);
        put_zero(&f, 20);
        put32(&f, 0xfffffff0);
        put(&f, zero4, 4);
        expect_error(
                &f, -EBADMSG,
                "event 1 at offset 0x45: event data size 4294967280 exceeds the limit of 16777216 bytes");

        f.n = 0;
        std_header(&f);
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put32(&f, 1);
        put16(&f, TPM_ALG_SHA1);
        put_zero(&f, 20);
        put32(&f, 100);
        put(&f, zero4, 4);
        expect_error(&f, -EBADMSG,
                     "event 1 at offset 0x45: event data size 100 exceeds the 4 bytes left in the log");

        f.n = 0;
        put32(&f, 0);
        put32(&f, EV_SEPARATOR);
        put_zero(&f, 20);
        put32(&f, 5);
        put(&f, zero4, 4);
        expect_error(&f, -EBADMSG,
                     "event 0 at offset 0x0: event data size 5 exceeds the 4 bytes left in the log");
}

static void test_error_too_many_events(void **state)
{
        _cleanup_free_ uint8_t *big = NULL;
        struct eventlog *log = NULL;
        struct cvm_error err = {};
        size_t n = (size_t)(EVENTLOG_MAX_EVENTS + 1) * 32;

        /* SHA-1 format records of 32 bytes: pcr 1, EV_ACTION, zero digest, no data */
        big = calloc(1, n);
        assert_non_null(big);
        for (size_t off = 0; off < n; off += 32) {
                big[off] = 1;
                big[off + 4] = EV_ACTION;
        }
        assert_int_equal(eventlog_parse(big, n, &log, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "event 262144 at offset 0x800000: more than 262144 events"));
        assert_null(log);
}

static void test_error_pcr_index(void **state)
{
        struct fx f = {};

        std_header(&f);
        agile_event(&f, 24, EV_SEPARATOR, zero4, 4);
        expect_error(&f, -EBADMSG, "event 1 at offset 0x45: PCR index 24 out of range 0..23");
}

static void test_error_spec_id(void **state)
{
        static const uint16_t nine_algs[9] = {4, 0xb, 0xc, 0xd, 0x12, 0x27, 0x28, 0x29, 0x30};
        static const uint16_t nine_sizes[9] = {20, 32, 48, 64, 32, 32, 48, 64, 32};
        static const uint16_t dup_algs[] = {TPM_ALG_SHA1, TPM_ALG_SHA1};
        static const uint16_t dup_sizes[] = {20, 20};
        static const uint16_t bad_size[] = {20, 20};
        static const uint16_t zero_size[] = {20, 0};
        static const uint16_t big_size[] = {20, 65};
        struct fx f = {};

        /* zero algorithms */
        spec_id(&f, NULL, NULL, 0, 0);
        expect_error(&f, -EBADMSG, "event 0 at offset 0x0: Spec ID event declares no algorithms");

        /* too many */
        f.n = 0;
        spec_id(&f, nine_algs, nine_sizes, 9, 0);
        expect_error(&f, -EBADMSG, "Spec ID event declares 9 algorithms, more than the limit of 8");

        /* zero-length Spec ID: only the signature */
        f.n = 0;
        put32(&f, 0);
        put32(&f, EV_NO_ACTION);
        put_zero(&f, 20);
        put32(&f, 16);
        put(&f, "Spec ID Event03", 16);
        expect_error(&f, -EBADMSG,
                     "event 0 at offset 0x0: Spec ID event data is 16 bytes, need at least 28");

        /* algorithm count larger than the event */
        f.n = 0;
        spec_id(&f, std_algs, std_sizes, 2, 0);
        f.b[32 + 24] = 5;
        expect_error(&f, -EBADMSG, "too short for 5 algorithms");

        f.n = 0;
        spec_id(&f, dup_algs, dup_sizes, 2, 0);
        expect_error(&f, -EBADMSG, "Spec ID declares algorithm 0x0004 twice");

        /* well-formed but impossible: sha256 with 20-byte digests */
        f.n = 0;
        spec_id(&f, std_algs, bad_size, 2, 0);
        expect_error(&f, -EOPNOTSUPP,
                     "Spec ID declares digest size 20 for sha256, which has 32-byte digests");

        f.n = 0;
        spec_id(&f, std_algs, zero_size, 2, 0);
        expect_error(&f, -EBADMSG, "has digest size 0, outside 1..64");

        f.n = 0;
        spec_id(&f, std_algs, big_size, 2, 0);
        expect_error(&f, -EBADMSG, "has digest size 65, outside 1..64");

        /* vendorInfoSize beyond the event and beyond the log */
        f.n = 0;
        spec_id(&f, std_algs, std_sizes, 2, 0);
        f.b[f.n - 1] = 200;
        expect_error(&f, -EBADMSG, "Spec ID vendorInfoSize 200 exceeds the 0 bytes left in the event");
}

/* --- digest rules and decoding -------------------------------------------------------------- */

static void variable_data(struct fx *d, const uint8_t guid[16], const char *name, const void *value,
                          size_t len)
{
        put(d, guid, 16);
        put64(d, strlen(name));
        put64(d, len);
        put_ucs2(d, name, false);
        put(d, value, len);
}

static const uint8_t global_guid[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                        0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};

/* EFI device path: PciRoot(0x0)/Pci(0x1,0x2)/HD(1,GPT,...)/\EFI\BOOT\BOOTX64.EFI, then an unknown node. */
static void device_path(struct fx *d, bool unknown_node)
{
        static const uint8_t part_guid[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                              0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

        put8(d, 2), put8(d, 1), put16(d, 12), put32(d, 0x0a0341d0), put32(d, 0);
        put8(d, 1), put8(d, 1), put16(d, 6), put8(d, 2), put8(d, 1);
        put8(d, 4), put8(d, 1), put16(d, 42), put32(d, 1), put64(d, 0x800), put64(d, 0x100000);
        put(d, part_guid, 16), put8(d, 2), put8(d, 2);
        put8(d, 4), put8(d, 4), put16(d, 4 + 2 * 22), put_ucs2(d, "\\EFI\\BOOT\\BOOTX64.EFI", true);
        if (unknown_node)
                put8(d, 3), put8(d, 0x99), put16(d, 6), put8(d, 0xab), put8(d, 0xcd);
        put8(d, 0x7f), put8(d, 0xff), put16(d, 4);
}

#define PATH_TEXT                                                                                  \
        "PciRoot(0x0)/Pci(0x1,0x2)/HD(1,GPT,04030201-0605-0807-090a-0b0c0d0e0f10,0x800,0x100000)/" \
        "\\EFI\\BOOT\\BOOTX64.EFI"

static void test_describe_variables(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        struct fx f = {}, sb = {}, order = {}, boot = {}, opt = {};
        static const uint8_t one = 1;
        static const uint8_t order_val[] = {0x01, 0x00, 0x0a, 0x00};
        json_object *details = NULL, *v;

        std_header(&f);
        variable_data(&sb, global_guid, "SecureBoot", &one, 1);
        agile_event(&f, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, sb.b, sb.n);
        variable_data(&order, global_guid, "BootOrder", order_val, sizeof(order_val));
        /* EV_EFI_VARIABLE_BOOT: digest over VariableData only (PC Client spec) */
        agile_event_h(&f, 1, EV_EFI_VARIABLE_BOOT, order.b, order.n, order_val, sizeof(order_val));
        put32(&opt, 1);
        put16(&opt, 12 + 6 + 42 + 48 + 4);
        put_ucs2(&opt, "Linux", true);
        device_path(&opt, false);
        variable_data(&boot, global_guid, "Boot0001", opt.b, opt.n);
        agile_event(&f, 1, EV_EFI_VARIABLE_BOOT, boot.b, boot.n);
        log = parse_ok(&f);

        for (size_t i = 1; i <= 3; i++)
                assert_int_equal(log->events[i].check, EVENTLOG_DIGEST_MATCH);
        {
                _cleanup_free_ char *a = describe(log, 1), *b = describe(log, 2), *c = describe(log, 3);
                assert_string_equal(a, "SecureBoot = 1");
                assert_string_equal(b, "BootOrder = Boot0001, Boot000A");
                assert_string_equal(c, "Boot0001 \"Linux\" " PATH_TEXT);
        }
        assert_int_equal(eventlog_event_details(log, 1, &details), 0);
        assert_true(json_object_object_get_ex(details, "variable_guid", &v));
        assert_string_equal(json_object_get_string(v), "8be4df61-93ca-11d2-aa0d-00e098032b8c");
        assert_true(json_object_object_get_ex(details, "variable_vendor", &v));
        assert_string_equal(json_object_get_string(v), "EFI_GLOBAL_VARIABLE");
        assert_true(json_object_object_get_ex(details, "value", &v));
        assert_int_equal(json_object_get_int(v), 1);
        json_object_put(details);
        assert_int_equal(eventlog_event_details(log, 3, &details), 0);
        assert_true(json_object_object_get_ex(details, "load_option", &v));
        assert_true(json_object_object_get_ex(v, "device_path", &v));
        assert_string_equal(json_object_get_string(v), PATH_TEXT);
        json_object_put(details);
}

static void test_digest_rules(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        static const char grub[] = "grub_cmd: linux /vmlinuz root=/dev/sda1";
        static const char grub_rhel[] = "grub_cmd set timeout=0";
        static const uint8_t post[16] = {1};
        struct fx f = {}, sd = {}, auth = {};
        uint8_t cert[40];

        std_header(&f);
        /* 1: grub hashes the command without the prefix */
        agile_event_h(&f, 8, EV_IPL, grub, sizeof(grub), grub + 10, strlen(grub) - 10);
        /* 2: the same data hashed whole: a real mismatch */
        agile_event_h(&f, 8, EV_IPL, grub, sizeof(grub), grub, sizeof(grub));
        /* 3: RHEL-style prefix, command hashed with its NUL */
        agile_event_h(&f, 8, EV_IPL, grub_rhel, sizeof(grub_rhel), grub_rhel + 9, sizeof(grub_rhel) - 9);
        /* 4: shim's MokList: the digest covers the variable, not "MokList" -> unchecked */
        agile_event_h(&f, 14, EV_IPL, "MokList", 8, "other", 5);
        /* 5: systemd-boot UCS-2 command line, digest over other bytes -> mismatch */
        put_ucs2(&sd, "quiet splash", true);
        agile_event_h(&f, 8, EV_IPL, sd.b, sd.n, "x", 1);
        /* 6: EV_POST_CODE digests a firmware volume: unchecked */
        agile_event_h(&f, 0, EV_POST_CODE, post, sizeof(post), "fv", 2);
        /* 7: EV_EFI_VARIABLE_AUTHORITY with 6 padding bytes of which 5 are hashed (EDK2/shim quirk) */
        memset(cert, 0x30, sizeof(cert));
        variable_data(&auth, global_guid, "db", cert, sizeof(cert));
        put_zero(&auth, 6);
        agile_event_h(&f, 7, EV_EFI_VARIABLE_AUTHORITY, auth.b, auth.n, auth.b, auth.n - 1);
        /* 8: EV_EFI_ACTION with a trailing NUL that was not hashed */
        agile_event_h(&f, 4, EV_EFI_ACTION, ACTION_BOOT, sizeof(ACTION_BOOT), ACTION_BOOT,
                      strlen(ACTION_BOOT));
        log = parse_ok(&f);

        assert_int_equal(log->events[1].check, EVENTLOG_DIGEST_MATCH);
        assert_int_equal(log->events[2].check, EVENTLOG_DIGEST_MISMATCH);
        assert_int_equal(log->events[3].check, EVENTLOG_DIGEST_MATCH);
        assert_int_equal(log->events[4].check, EVENTLOG_DIGEST_UNCHECKED);
        assert_int_equal(log->events[5].check, EVENTLOG_DIGEST_MISMATCH);
        assert_int_equal(log->events[6].check, EVENTLOG_DIGEST_UNCHECKED);
        assert_int_equal(log->events[7].check, EVENTLOG_DIGEST_MATCH);
        assert_int_equal(log->events[8].check, EVENTLOG_DIGEST_MATCH);
        {
                _cleanup_free_ char *a = describe(log, 1), *b = describe(log, 5), *c = describe(log, 6);
                assert_string_equal(a, grub);
                assert_string_equal(b, "quiet splash");
                assert_string_equal(c, "blob at 0x1, 0x0 bytes");
        }
}

static void test_describe_images_gpt_tables(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        struct fx f = {}, img = {}, gpt = {}, tables = {}, blob = {};
        static const uint8_t acpi20[16] = {0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11,
                                           0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81};
        json_object *details = NULL, *v;

        std_header(&f);
        put64(&img, 0x7e000000);
        put64(&img, 0x12345);
        put64(&img, 0);
        put64(&img, 12 + 6 + 42 + 48 + 6 + 4);
        device_path(&img, true);
        agile_event_h(&f, 4, EV_EFI_BOOT_SERVICES_APPLICATION, img.b, img.n, "pe", 2);

        put(&gpt, "EFI PART", 8);
        put32(&gpt, 0x10000), put32(&gpt, 92), put32(&gpt, 0), put32(&gpt, 0);
        put64(&gpt, 1), put64(&gpt, 100), put64(&gpt, 34), put64(&gpt, 90);
        put(&gpt, acpi20, 16); /* disk GUID: any 16 bytes */
        put64(&gpt, 2), put32(&gpt, 1), put32(&gpt, 128), put32(&gpt, 0);
        put64(&gpt, 1); /* NumberOfPartitions (UINTN) */
        put(&gpt, acpi20, 16), put(&gpt, acpi20, 16), put64(&gpt, 34), put64(&gpt, 89), put64(&gpt, 0);
        put_ucs2(&gpt, "EFI system", true);
        put_zero(&gpt, 72 - 22);
        agile_event(&f, 5, EV_EFI_GPT_EVENT, gpt.b, gpt.n);

        put64(&tables, 1);
        put(&tables, acpi20, 16);
        put64(&tables, 0x7fb7e000);
        agile_event_h(&f, 1, EV_EFI_HANDOFF_TABLES, tables.b, tables.n, "t", 1);

        put8(&blob, 9);
        put(&blob, "Fv(XXXX)\n", 9);
        put64(&blob, 0xffc00000);
        put64(&blob, 0x400000);
        agile_event_h(&f, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, blob.b, blob.n, "b", 1);
        log = parse_ok(&f);

        {
                _cleanup_free_ char *a = describe(log, 1), *b = describe(log, 2), *c = describe(log, 3),
                                    *d = describe(log, 4);
                assert_string_equal(a, PATH_TEXT "/Path(0x3,0x99,abcd)");
                assert_string_equal(
                        b, "GPT disk 8868e871-e4f1-11d3-bc22-0080c73c8881, 1 partition: EFI system");
                assert_string_equal(c, "1 table: ACPI_20_TABLE");
                /* control characters from the log are escaped */
                assert_string_equal(d, "Fv(XXXX)\\n blob at 0xffc00000, 0x400000 bytes");
        }
        assert_int_equal(log->events[2].check, EVENTLOG_DIGEST_MATCH);
        assert_int_equal(eventlog_event_details(log, 1, &details), 0);
        assert_true(json_object_object_get_ex(details, "image_length", &v));
        assert_int_equal(json_object_get_int64(v), 0x12345);
        assert_true(json_object_object_get_ex(details, "image_location", &v));
        assert_string_equal(json_object_get_string(v), "0x7e000000");
        json_object_put(details);
        assert_int_equal(eventlog_event_details(log, 2, &details), 0);
        assert_true(json_object_object_get_ex(details, "partitions", &v));
        assert_int_equal(json_object_array_length(v), 1);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(v, 0), "name", &v));
        assert_string_equal(json_object_get_string(v), "EFI system");
        json_object_put(details);
}

static void test_json_contract(void **state)
{
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL, *filtered = NULL, *only = NULL;
        struct eventlog_json_options opts = {};
        static const uint8_t other[4] = {9};
        json_object *v, *e, *pcrs;
        struct fx f = {};

        std_header(&f);
        agile_event(&f, 0, EV_SEPARATOR, zero4, 4);
        agile_event_h(&f, 1, EV_SEPARATOR, zero4, 4, other, 4);
        log = parse_ok(&f);
        assert_int_equal(eventlog_to_json(log, NULL, &doc, NULL), 0);

        assert_true(json_object_object_get_ex(doc, "format", &v));
        assert_string_equal(json_object_get_string(v), "crypto-agile");
        assert_true(json_object_object_get_ex(doc, "pcrs", &pcrs));
        assert_true(json_object_object_get_ex(pcrs, "sha256", &v));
        assert_true(json_object_object_get_ex(v, "0", &v));
        assert_string_equal(json_object_get_string(v), SEP_SHA256_PCR);
        assert_true(json_object_object_get_ex(doc, "events", &v));
        assert_int_equal(json_object_array_length(v), 3);
        e = json_object_array_get_idx(v, 1);
        assert_true(json_object_object_get_ex(e, "number", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(e, "offset", &v));
        assert_int_equal(json_object_get_int(v), 0x45);
        assert_true(json_object_object_get_ex(e, "type", &v));
        assert_string_equal(json_object_get_string(v), "EV_SEPARATOR");
        assert_true(json_object_object_get_ex(e, "type_value", &v));
        assert_int_equal(json_object_get_int(v), 4);
        assert_true(json_object_object_get_ex(e, "description", &v));
        assert_true(json_object_object_get_ex(e, "digests", &v));
        assert_true(json_object_object_get_ex(v, "sha1", NULL));
        assert_true(json_object_object_get_ex(doc, "digest_mismatches", &v));
        assert_int_equal(json_object_array_length(v), 1);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(v, 0), "number", &v));
        assert_int_equal(json_object_get_int(v), 2);
        assert_true(json_object_object_get_ex(doc, "warnings", &v));
        assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(v, 0)),
                               "event 2 at offset 0x91 (PCR 1, EV_SEPARATOR): digest does not match"));

        opts.bank = hash_alg_by_name("sha1");
        assert_int_equal(eventlog_to_json(log, &opts, &filtered, NULL), 0);
        assert_true(json_object_object_get_ex(filtered, "pcrs", &pcrs));
        assert_int_equal(json_object_object_length(pcrs), 1);
        assert_true(json_object_object_get_ex(pcrs, "sha1", NULL));
        assert_true(json_object_object_get_ex(filtered, "events", &v));
        assert_true(json_object_object_get_ex(json_object_array_get_idx(v, 1), "digests", &v));
        assert_false(json_object_object_get_ex(v, "sha256", NULL));

        opts = (struct eventlog_json_options){.pcrs_only = true};
        assert_int_equal(eventlog_to_json(log, &opts, &only, NULL), 0);
        assert_false(json_object_object_get_ex(only, "events", NULL));
        assert_true(json_object_object_get_ex(only, "digest_mismatches", &v));
        assert_int_equal(json_object_array_length(v), 1);
}

/* --- EFI helpers ---------------------------------------------------------------------------- */

static void test_efi_strings(void **state)
{
        static const uint8_t smiley[] = {'a', 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8, 'b', 0, 0, 0, 'c', 0};
        static const uint8_t bad[] = {'o', 'k', 0xff, 0xc3, 0xa9, 0xe0, 0x80, 0x80, 0, 'x'};
        char guid[EFI_GUID_STRING_MAX];
        char *s = NULL;

        efi_guid_to_string(global_guid, guid);
        assert_string_equal(guid, "8be4df61-93ca-11d2-aa0d-00e098032b8c");
        assert_string_equal(efi_guid_name(global_guid), "EFI_GLOBAL_VARIABLE");

        /* surrogate pair, then a lone high surrogate, stop at NUL */
        assert_int_equal(efi_ucs2_to_utf8(smiley, sizeof(smiley), &s), 0);
        assert_string_equal(s, "a\xf0\x9f\x98\x80\xef\xbf\xbd"
                               "b");
        free(s);
        /* invalid UTF-8 and an overlong form become U+FFFD; é survives; stop at NUL */
        assert_int_equal(efi_bytes_to_utf8(bad, sizeof(bad), &s), 0);
        assert_string_equal(s, "ok\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        free(s);
        /* an event without data hands over no buffer at all (found by fuzz-eventlog) */
        assert_int_equal(efi_bytes_to_utf8(NULL, 0, &s), 0);
        assert_string_equal(s, "");
        free(s);
}

static void test_efi_device_paths(void **state)
{
        static const uint8_t malformed[] = {1, 1, 2, 0, 0, 0};
        static const uint8_t two[] = {1, 1, 6, 0, 0, 3, 0x7f, 0x01, 4, 0,
                                      1, 1, 6, 0, 1, 4, 0x7f, 0xff, 4, 0};
        static const uint8_t mbr[] = {4, 1, 42, 0,    2, 0, 0, 0, 0x3f, 0, 0,    0,    0,    0,
                                      0, 0, 0,  0x10, 0, 0, 0, 0, 0,    0, 0x78, 0x56, 0x34, 0x12,
                                      0, 0, 0,  0,    0, 0, 0, 0, 0,    0, 0,    0,    1,    1};
        static const uint8_t truncated[] = {1, 1, 6, 0, 0, 3, 4, 4, 40, 0};
        char *s = NULL;

        assert_int_equal(efi_device_path_to_text(malformed, sizeof(malformed), &s), 0);
        assert_string_equal(s, "<malformed>");
        free(s);
        assert_int_equal(efi_device_path_to_text(two, sizeof(two), &s), 0);
        assert_string_equal(s, "Pci(0x3,0x0),Pci(0x4,0x1)");
        free(s);
        assert_int_equal(efi_device_path_to_text(mbr, sizeof(mbr), &s), 0);
        assert_string_equal(s, "HD(2,MBR,0x12345678,0x3f,0x1000)");
        free(s);
        assert_int_equal(efi_device_path_to_text(truncated, sizeof(truncated), &s), 0);
        assert_string_equal(s, "Pci(0x3,0x0)/<malformed>");
        free(s);
        assert_int_equal(efi_x509_subject((const uint8_t *)"nope", 4, &s), 0);
        assert_null(s);
}

/* Self-signed P-256 certificates generated for this test with openssl req / x509 -req. */
static const uint8_t cert_v1[] = {
        0x30, 0x82, 0x01, 0x32, 0x30, 0x81, 0xd9, 0x02, 0x14, 0x1c, 0x22, 0x0e, 0x45, 0xac, 0x0c, 0x08, 0x2f,
        0xdb, 0x9c, 0x24, 0x9c, 0xa2, 0xc4, 0xd5, 0x5d, 0x30, 0x62, 0x09, 0xec, 0x30, 0x0a, 0x06, 0x08, 0x2a,
        0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30, 0x1c, 0x31, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55, 0x04,
        0x03, 0x0c, 0x11, 0x63, 0x76, 0x6d, 0x2d, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x20, 0x74, 0x65, 0x73, 0x74,
        0x20, 0x76, 0x31, 0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x31, 0x32, 0x32, 0x30, 0x37, 0x32, 0x38,
        0x35, 0x38, 0x5a, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x31, 0x32, 0x33, 0x30, 0x37, 0x32, 0x38, 0x35, 0x38,
        0x5a, 0x30, 0x1c, 0x31, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x11, 0x63, 0x76, 0x6d,
        0x2d, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x31, 0x30, 0x59, 0x30,
        0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
        0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x5f, 0x27, 0xfd, 0x9e, 0x59, 0xd1, 0x33, 0x85, 0x42, 0xef,
        0xd7, 0x9e, 0xd3, 0xb4, 0x2f, 0xed, 0x6e, 0x40, 0x78, 0x86, 0x96, 0xa0, 0xaa, 0xb5, 0xdb, 0x18, 0xed,
        0xce, 0x37, 0x7b, 0x8c, 0x3f, 0x45, 0xa3, 0x6d, 0xd2, 0xe5, 0x6f, 0xfb, 0x14, 0x3b, 0xc6, 0x90, 0x28,
        0xf7, 0xc7, 0xba, 0xf6, 0x9a, 0x5c, 0xe1, 0x53, 0x51, 0xb9, 0x70, 0xe4, 0xbc, 0x45, 0x65, 0xb9, 0x08,
        0x2f, 0x53, 0x02, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x48,
        0x00, 0x30, 0x45, 0x02, 0x21, 0x00, 0xaa, 0x30, 0x24, 0xd0, 0xf9, 0xdc, 0xf9, 0xbe, 0xa7, 0xaa, 0x5b,
        0x4d, 0x51, 0x41, 0x09, 0x61, 0x93, 0x00, 0x87, 0x10, 0xf7, 0xfe, 0x1d, 0x60, 0xbd, 0x7f, 0xa9, 0x09,
        0x6d, 0xd7, 0xf7, 0x77, 0x02, 0x20, 0x02, 0xa5, 0x7a, 0x81, 0x30, 0x94, 0x81, 0xaa, 0x8d, 0x79, 0x48,
        0x0b, 0x95, 0x08, 0xa0, 0x4e, 0xbe, 0x91, 0xa4, 0xf9, 0xba, 0xad, 0x99, 0xc4, 0x4c, 0xb2, 0x17, 0x51,
        0x54, 0xb8, 0x1d, 0x55};

static const uint8_t cert_v3[] = {
        0x30, 0x82, 0x01, 0xb0, 0x30, 0x82, 0x01, 0x57, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x14, 0x02, 0xdc,
        0x54, 0x44, 0x55, 0xae, 0x99, 0xc6, 0x1e, 0x40, 0xc2, 0xe7, 0x52, 0xd5, 0xeb, 0xce, 0xb8, 0x46, 0xc3,
        0x16, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30, 0x2e, 0x31, 0x1a,
        0x30, 0x18, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x11, 0x63, 0x76, 0x6d, 0x2d, 0x61, 0x67, 0x65, 0x6e,
        0x74, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x33, 0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04,
        0x0a, 0x0c, 0x07, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x30, 0x1e, 0x17, 0x0d, 0x32, 0x36, 0x31,
        0x31, 0x32, 0x32, 0x30, 0x37, 0x32, 0x38, 0x35, 0x38, 0x5a, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x31, 0x32,
        0x33, 0x30, 0x37, 0x32, 0x38, 0x35, 0x38, 0x5a, 0x30, 0x2e, 0x31, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55,
        0x04, 0x03, 0x0c, 0x11, 0x63, 0x76, 0x6d, 0x2d, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x20, 0x74, 0x65, 0x73,
        0x74, 0x20, 0x76, 0x33, 0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x07, 0x45, 0x78,
        0x61, 0x6d, 0x70, 0x6c, 0x65, 0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
        0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x5f, 0x27,
        0xfd, 0x9e, 0x59, 0xd1, 0x33, 0x85, 0x42, 0xef, 0xd7, 0x9e, 0xd3, 0xb4, 0x2f, 0xed, 0x6e, 0x40, 0x78,
        0x86, 0x96, 0xa0, 0xaa, 0xb5, 0xdb, 0x18, 0xed, 0xce, 0x37, 0x7b, 0x8c, 0x3f, 0x45, 0xa3, 0x6d, 0xd2,
        0xe5, 0x6f, 0xfb, 0x14, 0x3b, 0xc6, 0x90, 0x28, 0xf7, 0xc7, 0xba, 0xf6, 0x9a, 0x5c, 0xe1, 0x53, 0x51,
        0xb9, 0x70, 0xe4, 0xbc, 0x45, 0x65, 0xb9, 0x08, 0x2f, 0x53, 0x02, 0xa3, 0x53, 0x30, 0x51, 0x30, 0x1d,
        0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04, 0x16, 0x04, 0x14, 0x19, 0xe5, 0x28, 0x38, 0x0d, 0xf1, 0x7a, 0x18,
        0x92, 0xfa, 0xee, 0x19, 0x45, 0x77, 0xbd, 0x1d, 0xf0, 0xb3, 0xec, 0xf7, 0x30, 0x1f, 0x06, 0x03, 0x55,
        0x1d, 0x23, 0x04, 0x18, 0x30, 0x16, 0x80, 0x14, 0x19, 0xe5, 0x28, 0x38, 0x0d, 0xf1, 0x7a, 0x18, 0x92,
        0xfa, 0xee, 0x19, 0x45, 0x77, 0xbd, 0x1d, 0xf0, 0xb3, 0xec, 0xf7, 0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d,
        0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x47, 0x00, 0x30, 0x44, 0x02, 0x20, 0x77, 0xaa, 0x37, 0x67,
        0xcc, 0x6c, 0xbe, 0x1f, 0xae, 0x5f, 0x59, 0x1d, 0x1f, 0x53, 0x01, 0x51, 0x1a, 0x6e, 0x8d, 0xf4, 0xc7,
        0x6c, 0x0d, 0x85, 0xbc, 0x7e, 0x96, 0x50, 0x88, 0x26, 0xb3, 0xa8, 0x02, 0x20, 0x73, 0x0b, 0x08, 0x73,
        0x0f, 0xc1, 0x9d, 0xc2, 0x79, 0x53, 0xfe, 0xdf, 0x21, 0x51, 0xe8, 0xef, 0xec, 0xb1, 0x5d, 0x7b, 0xe3,
        0x9b, 0x63, 0x6f, 0xfd, 0x7a, 0x90, 0xef, 0x31, 0x5a, 0x5f, 0x29};

static void test_efi_x509_subject(void **state)
{
        uint8_t broken[sizeof(cert_v3)];
        char *s = NULL;

        assert_int_equal(efi_x509_subject(cert_v3, sizeof(cert_v3), &s), 0);
        assert_string_equal(s, "O=Example,CN=cvm-agent test v3");
        free(s);
        /* v1: no [0] version field before the serial number */
        assert_int_equal(efi_x509_subject(cert_v1, sizeof(cert_v1), &s), 0);
        assert_string_equal(s, "CN=cvm-agent test v1");
        free(s);
        /* cut inside the issuer: not a certificate */
        assert_int_equal(efi_x509_subject(cert_v3, 60, &s), 0);
        assert_null(s);
        /* an outer length larger than the data */
        memcpy(broken, cert_v3, sizeof(broken));
        broken[3] = 0xff;
        assert_int_equal(efi_x509_subject(broken, sizeof(broken), &s), 0);
        assert_null(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal_agile),
                cmocka_unit_test(test_sha1_format),
                cmocka_unit_test(test_digest_mismatch_still_replayed),
                cmocka_unit_test(test_startup_locality),
                cmocka_unit_test(test_no_action_never_extended),
                cmocka_unit_test(test_short_no_action_sha1_log),
                cmocka_unit_test(test_ebs_detection),
                cmocka_unit_test(test_partial_digests),
                cmocka_unit_test(test_unknown_bank),
                cmocka_unit_test(test_vendor_info),
                cmocka_unit_test(test_trailing_zero_padding),
                cmocka_unit_test(test_error_empty_and_garbage),
                cmocka_unit_test(test_error_truncated_header),
                cmocka_unit_test(test_error_truncated_digest),
                cmocka_unit_test(test_error_digest_count),
                cmocka_unit_test(test_error_unknown_algorithm),
                cmocka_unit_test(test_error_event_size),
                cmocka_unit_test(test_error_too_many_events),
                cmocka_unit_test(test_error_pcr_index),
                cmocka_unit_test(test_error_spec_id),
                cmocka_unit_test(test_describe_variables),
                cmocka_unit_test(test_digest_rules),
                cmocka_unit_test(test_describe_images_gpt_tables),
                cmocka_unit_test(test_json_contract),
                cmocka_unit_test(test_efi_strings),
                cmocka_unit_test(test_efi_device_paths),
                cmocka_unit_test(test_efi_x509_subject),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
