/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 header validation: a real header made by libcryptsetup on an image file (with a
 * cvm-agent enrollment and foreign systemd-tpm2 / clevis tokens) is accepted; a corpus of
 * crafted headers derived from it — JSON patched and checksums recomputed, so the JSON-level
 * checks are what rejects them — is rejected, each with its own reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <libcryptsetup.h>

#include "cleanup.h"
#include "lukstest.h"

static uint8_t *base, *other;
static size_t base_size, other_size;
static uint64_t hdr_size;

static const char tpm2_token[] =
        "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],"
        "\"tpm2-pcr-bank\":\"sha256\",\"tpm2-primary-alg\":\"ecc\",\"tpm2-policy-hash\":\"00ff\",\"tpm2-"
        "pin\":false}";
static const char clevis_token[] = "{\"type\":\"clevis\",\"keyslots\":[\"0\"],\"jwe\":{\"ciphertext\":\"\","
                                   "\"encrypted_key\":\"\",\"iv\":\"x\","
                                   "\"protected\":\"eyJhbGciOiJkaXIifQ\",\"tag\":\"y\"}}";

static void add_token(const char *path, const char *json)
{
        struct crypt_device *cd = NULL;
        int r;

        crypt_token_external_disable();
        r = crypt_init(&cd, path);
        if (r >= 0)
                r = crypt_load(cd, CRYPT_LUKS2, NULL);
        if (r >= 0)
                r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json);
        crypt_free(cd);
        if (r < 0)
                fail_msg("cannot add token %s: %d", json, r);
}

static int group_setup(void **state)
{
        const char *a = lt_path("a.img"), *b = lt_path("b.img");

        (void)state;
        lt_format(a, 4096);
        lt_enroll(a);
        add_token(a, tpm2_token);
        add_token(a, clevis_token);
        base = lt_read_header(a, &base_size);
        hdr_size = base_size / 2;

        lt_format(b, 4096);
        lt_enroll(b);
        other = lt_read_header(b, &other_size);
        return 0;
}

static int group_teardown(void **state)
{
        (void)state;
        free(base);
        free(other);
        lt_cleanup();
        return 0;
}

static void test_real_header_accepted(void **state)
{
        _cleanup_(luks2hdr_freep) struct luks2hdr *h = NULL;
        struct cvm_error err = {};
        int r;

        (void)state;
        r = luks2hdr_parse(base, base_size, &h, &err);
        assert_int_equal(r, 0);
        assert_int_equal(h->hdr_size, 16384);
        assert_int_equal(h->segment.sector_size, 4096);
        assert_true(h->segment.dynamic);
        assert_string_equal(h->segment.encryption, "aes-xts-plain64");
        assert_int_equal(h->segment.offset, 16u << 20);
        assert_int_equal(h->volume_key_size, 64);
        assert_true(h->keyslots[0].active);
        assert_true(h->keyslots[1].active);
        assert_false(h->keyslots[2].active);
        assert_int_equal(h->keyslots[1].kdf, LUKS2HDR_KDF_PBKDF2);
        assert_string_equal(h->keyslots[1].kdf_hash, "sha512");
        assert_int_equal(h->keyslots[1].kdf_iterations, 1000);
        assert_int_equal(luks2hdr_next_cvm_token(h, 0), 0);
        assert_int_equal(luks2hdr_next_cvm_token(h, 1), -ENOENT);
        assert_non_null(h->tokens[0].cvm);
        assert_int_equal(h->tokens[0].cvm->keyslot, 1);
        assert_int_equal(h->tokens[0].cvm->backend, LUKSTOKEN_BACKEND_TRUSTEE);
        assert_string_equal(h->tokens[1].type, "systemd-tpm2");
        assert_null(h->tokens[1].cvm);
        assert_string_equal(h->tokens[2].type, "clevis");
        assert_int_equal(luks2hdr_metadata_size(h), 16u << 20);
        assert_int_equal(strlen(h->uuid), 36);
}

static void test_peek(void **state)
{
        uint64_t s = 0;
        struct cvm_error err = {};
        uint8_t small[100] = {};

        (void)state;
        assert_int_equal(luks2hdr_peek(base, base_size, &s, &err), 0);
        assert_int_equal(s, 16384);
        assert_int_equal(luks2hdr_peek(small, sizeof(small), &s, &err), -EBADMSG);
}

/* ---- the malicious corpus ------------------------------------------------------------------- */

typedef void (*mutator)(uint8_t *buf);

static json_object *root_of(uint8_t *buf)
{
        return lt_get_json(buf);
}

static void put(uint8_t *buf, json_object *root)
{
        lt_put_json(buf, hdr_size, root);
        json_object_put(root);
}

static void set_str(uint8_t *buf, const char *obj_path, const char *key, const char *value)
{
        json_object *root = root_of(buf), *o = lt_at(root, obj_path);

        assert_non_null(o);
        json_object_object_add(o, key, json_object_new_string(value));
        put(buf, root);
}

static void set_int(uint8_t *buf, const char *obj_path, const char *key, int64_t value)
{
        json_object *root = root_of(buf), *o = lt_at(root, obj_path);

        assert_non_null(o);
        json_object_object_add(o, key, json_object_new_int64(value));
        put(buf, root);
}

static void m_cipher_null_segment(uint8_t *b)
{
        set_str(b, "segments.0", "encryption", "cipher_null-ecb");
}

static void m_cipher_null_keyslot(uint8_t *b)
{
        set_str(b, "keyslots.1.area", "encryption", "cipher_null-ecb");
}

static void m_cbc_segment(uint8_t *b)
{
        set_str(b, "segments.0", "encryption", "aes-cbc-essiv:sha256");
}

static void m_unknown_top(uint8_t *b)
{
        set_str(b, "", "evil", "1");
}

static void m_unknown_segment_field(uint8_t *b)
{
        json_object *root = root_of(b), *seg = lt_at(root, "segments.0"), *integ = json_object_new_object();

        json_object_object_add(integ, "type", json_object_new_string("hmac(sha256)"));
        json_object_object_add(seg, "integrity", integ);
        put(b, root);
}

static void m_second_segment(uint8_t *b)
{
        json_object *root = root_of(b), *segs = lt_at(root, "segments"), *copy = NULL;

        json_object_deep_copy(lt_at(root, "segments.0"), &copy, NULL);
        json_object_object_add(segs, "1", copy);
        put(b, root);
}

static void m_sector_size_bad(uint8_t *b)
{
        set_int(b, "segments.0", "sector_size", 8192);
}

static void m_sector_size_npot(uint8_t *b)
{
        set_int(b, "segments.0", "sector_size", 3072);
}

static void m_sector_size_changed(uint8_t *b)
{
        set_int(b, "segments.0", "sector_size", 512);
}

static void m_offset_overlap(uint8_t *b)
{
        set_str(b, "segments.0", "offset", "16384");
}

static void m_offset_unaligned(uint8_t *b)
{
        set_str(b, "segments.0", "offset", "16777728");
}

static void m_offset_noncanonical(uint8_t *b)
{
        set_str(b, "segments.0", "offset", "016777216");
}

static void m_iv_tweak(uint8_t *b)
{
        set_str(b, "segments.0", "iv_tweak", "8");
}

static void m_token_wrong_keyslot(uint8_t *b)
{
        json_object *root = root_of(b), *arr = json_object_new_array();

        json_object_array_add(arr, json_object_new_string("0"));
        json_object_object_add(lt_at(root, "tokens.0"), "keyslots", arr);
        put(b, root);
}

static void m_token_missing_keyslot(uint8_t *b)
{
        json_object *root = root_of(b), *arr = json_object_new_array();

        json_object_array_add(arr, json_object_new_string("7"));
        json_object_object_add(lt_at(root, "tokens.0"), "keyslots", arr);
        put(b, root);
}

static void m_token_unknown_field(uint8_t *b)
{
        set_str(b, "tokens.0", "secret", "hunter2");
}

static void m_token_http(uint8_t *b)
{
        set_str(b, "tokens.0.trustee", "kbs_url", "http://kbs.example");
}

static void m_token_version(uint8_t *b)
{
        set_int(b, "tokens.0", "version", 2);
}

static void m_token_resource_changed(uint8_t *b)
{
        set_str(b, "tokens.0.trustee", "resource_path", "default/cvm-agent/other");
}

static void m_oversized_json(uint8_t *b)
{
        /* JSON text filling the whole area: no NUL terminator left. */
        for (int c = 0; c < 2; c++)
                memset(b + c * hdr_size + 4096, ' ', hdr_size - 4096);
        lt_reseal(b, hdr_size);
}

static void m_digest_drops_keyslot(uint8_t *b)
{
        json_object *root = root_of(b), *arr = json_object_new_array();

        json_object_array_add(arr, json_object_new_string("0"));
        json_object_object_add(lt_at(root, "digests.0"), "keyslots", arr);
        put(b, root);
}

static void m_digest_phantom_keyslot(uint8_t *b)
{
        json_object *root = root_of(b);

        json_object_array_add(lt_at(root, "digests.0.keyslots"), json_object_new_string("5"));
        put(b, root);
}

static void m_second_digest(uint8_t *b)
{
        json_object *root = root_of(b), *copy = NULL;

        json_object_deep_copy(lt_at(root, "digests.0"), &copy, NULL);
        json_object_object_add(lt_at(root, "digests"), "1", copy);
        put(b, root);
}

static void m_swapped_token(uint8_t *b)
{
        /* The cvm-agent token of another volume, copied into this header. */
        json_object *root = root_of(b), *src = lt_get_json(other), *copy = NULL;

        json_object_deep_copy(lt_at(src, "tokens.0"), &copy, NULL);
        json_object_object_add(lt_at(root, "tokens"), "0", copy);
        put(b, root);
        json_object_put(src);
}

static void m_uuid_changed(uint8_t *b)
{
        /* Same JSON, another volume's UUID in both binary headers. */
        for (int c = 0; c < 2; c++)
                memcpy(b + c * hdr_size + 168, other + 168, 40);
        lt_reseal(b, hdr_size);
}

static void m_bad_checksum(uint8_t *b)
{
        b[4096 + 10] ^= 1;
}

static void m_copies_differ(uint8_t *b)
{
        /* A valid secondary copy with different (still well-formed) JSON. */
        const char *text = (const char *)b + 4096;
        size_t len = strlen(text);

        b[hdr_size + 4096 + len] = ' ';
        lt_reseal(b, hdr_size);
}

static void m_seqid_differs(uint8_t *b)
{
        b[hdr_size + 23] ^= 1;
        lt_reseal(b, hdr_size);
}

static void m_duplicate_key(uint8_t *b)
{
        char *text = strdup((const char *)b + 4096), *p, *out;

        assert_non_null(text);
        p = strstr(text, "\"type\":\"crypt\"");
        assert_non_null(p);
        out = malloc(strlen(text) + 64);
        assert_non_null(out);
        memcpy(out, text, (size_t)(p - text));
        strcpy(out + (p - text), "\"type\":\"crypt\",\"type\":\"crypt\"");
        strcat(out, p + strlen("\"type\":\"crypt\""));
        lt_set_json(b, hdr_size, out);
        free(out);
        free(text);
}

static void m_requirements(uint8_t *b)
{
        json_object *root = root_of(b), *req = json_object_new_object(), *arr = json_object_new_array();

        json_object_array_add(arr, json_object_new_string("online-reencrypt-v2"));
        json_object_object_add(req, "mandatory", arr);
        json_object_object_add(lt_at(root, "config"), "requirements", req);
        put(b, root);
}

static void m_pbkdf2_iterations(uint8_t *b)
{
        set_int(b, "keyslots.0.kdf", "iterations", 10);
}

static void m_kdf_unknown(uint8_t *b)
{
        set_str(b, "keyslots.0.kdf", "type", "scrypt");
}

static void m_af_stripes(uint8_t *b)
{
        set_int(b, "keyslots.0.af", "stripes", 1);
}

static void m_area_outside(uint8_t *b)
{
        set_str(b, "keyslots.0.area", "offset", "16777216");
}

static void m_areas_overlap(uint8_t *b)
{
        json_object *root = root_of(b);
        const char *off = json_object_get_string(lt_at(root, "keyslots.0.area.offset"));

        json_object_object_add(lt_at(root, "keyslots.1.area"), "offset", json_object_new_string(off));
        put(b, root);
}

static void m_reencrypt_keyslot(uint8_t *b)
{
        set_str(b, "keyslots.0", "type", "reencrypt");
}

static void m_keyslot_key_size(uint8_t *b)
{
        set_int(b, "keyslots.0", "key_size", 32);
}

static void m_salt_short(uint8_t *b)
{
        set_str(b, "keyslots.0.kdf", "salt", "AAAA");
}

static void m_json_size(uint8_t *b)
{
        set_str(b, "config", "json_size", "4096");
}

static void m_hdr_size(uint8_t *b)
{
        b[8 + 6] = 0x50; /* 0x5000 */
}

static void m_luks1(uint8_t *b)
{
        b[7] = 1;
}

static void m_trailing_garbage(uint8_t *b)
{
        const char *text = (const char *)b + 4096;
        size_t len = strlen(text);

        for (int c = 0; c < 2; c++)
                b[c * hdr_size + 4096 + len + 5] = 'x';
        lt_reseal(b, hdr_size);
}

static void m_deep_nesting(uint8_t *b)
{
        char text[2048];
        size_t n = 0;

        n += (size_t)snprintf(text, sizeof(text), "{\"keyslots\":");
        for (int i = 0; i < 40; i++)
                text[n++] = '[';
        for (int i = 0; i < 40; i++)
                text[n++] = ']';
        text[n++] = '}';
        text[n] = '\0';
        lt_set_json(b, hdr_size, text);
}

static void m_label_unterminated(uint8_t *b)
{
        for (int c = 0; c < 2; c++)
                memset(b + c * hdr_size + 24, 'L', 48);
        lt_reseal(b, hdr_size);
}

static void m_config_flag(uint8_t *b)
{
        json_object *root = root_of(b), *arr = json_object_new_array();

        json_object_array_add(arr, json_object_new_string("no-journal-bitmap"));
        json_object_object_add(lt_at(root, "config"), "flags", arr);
        put(b, root);
}

struct corpus_entry {
        const char *name;
        mutator mutate;
        int code;
        const char *reason;
};

static const struct corpus_entry corpus[] = {
        {"cipher_null segment", m_cipher_null_segment, -EOPNOTSUPP, "segments.0.encryption: cipher_null"},
        {"cipher_null keyslot", m_cipher_null_keyslot, -EOPNOTSUPP,
         "keyslots.1.area.encryption: cipher_null"},
        {"CBC-ESSIV segment", m_cbc_segment, -EOPNOTSUPP,
         "\"aes-cbc-essiv:sha256\" is not in the allowlist"},
        {"unknown top-level field", m_unknown_top, -EBADMSG, "evil: unknown field"},
        {"integrity in segment", m_unknown_segment_field, -EBADMSG, "segments.0.integrity: unknown field"},
        {"second segment", m_second_segment, -EBADMSG, "segments: 2 segments"},
        {"sector size too large", m_sector_size_bad, -EBADMSG, "segments.0.sector_size: 8192 outside"},
        {"sector size not a power of two", m_sector_size_npot, -EBADMSG, "3072 is not a power of two"},
        {"sector size changed", m_sector_size_changed, -EKEYREJECTED, "enrolled in: segment (keyslot 1)"},
        {"offset into metadata", m_offset_overlap, -EBADMSG, "segments.0.offset: 16384 overlaps"},
        {"offset unaligned", m_offset_unaligned, -EBADMSG, "not a multiple of the sector size 4096"},
        {"offset non-canonical", m_offset_noncanonical, -EBADMSG,
         "segments.0.offset: \"016777216\" is not a canonical"},
        {"iv_tweak", m_iv_tweak, -EOPNOTSUPP, "segments.0.iv_tweak"},
        {"token on the recovery keyslot", m_token_wrong_keyslot, -EKEYREJECTED,
         "enrolled in: keyslot (keyslot 0)"},
        {"token on a missing keyslot", m_token_missing_keyslot, -EBADMSG,
         "tokens.0.keyslots.0: keyslot 7 does not exist"},
        {"token unknown field", m_token_unknown_field, -EBADMSG, "tokens.0.secret: unknown field"},
        {"token plain http", m_token_http, -EBADMSG, "tokens.0.trustee.kbs_url: not an https:// URL"},
        {"token version", m_token_version, -EOPNOTSUPP, "unsupported token version 2"},
        {"token retargeted", m_token_resource_changed, -EKEYREJECTED, "enrolled in: config (keyslot 1)"},
        {"JSON without terminator", m_oversized_json, -EBADMSG, "not NUL-terminated"},
        {"digest drops our keyslot", m_digest_drops_keyslot, -EBADMSG,
         "keyslots.1: not covered by digests.0"},
        {"digest names a phantom keyslot", m_digest_phantom_keyslot, -EBADMSG,
         "digests.0.keyslots.2: keyslot 5 does not exist"},
        {"second digest", m_second_digest, -EBADMSG, "digests: 2 digests"},
        {"swapped token", m_swapped_token, -EKEYREJECTED, "enrolled in: uuid, keyslot (keyslot 1)"},
        {"UUID of another volume", m_uuid_changed, -EKEYREJECTED, "enrolled in: uuid (keyslot 1)"},
        {"bad checksum", m_bad_checksum, -EBADMSG, "primary header: checksum mismatch"},
        {"copies differ", m_copies_differ, -EBADMSG, "JSON areas are not identical"},
        {"seqid differs", m_seqid_differs, -EBADMSG, "seqid"},
        {"duplicate member", m_duplicate_key, -EBADMSG, "duplicate member \"type\""},
        {"reencryption requirement", m_requirements, -EOPNOTSUPP, "online-reencrypt-v2"},
        {"weak pbkdf2", m_pbkdf2_iterations, -EBADMSG, "keyslots.0.kdf.iterations: 10 outside"},
        {"unknown KDF", m_kdf_unknown, -EOPNOTSUPP, "KDF \"scrypt\""},
        {"AF stripes", m_af_stripes, -EBADMSG, "keyslots.0.af.stripes"},
        {"keyslot area outside", m_area_outside, -EBADMSG, "lies outside the keyslots area"},
        {"keyslot areas overlap", m_areas_overlap, -EBADMSG, "keyslots.1.area: overlaps keyslots.0.area"},
        {"reencrypt keyslot", m_reencrypt_keyslot, -EOPNOTSUPP, "keyslot type \"reencrypt\""},
        {"keyslot key size", m_keyslot_key_size, -EBADMSG, "differs from the volume key size"},
        {"short salt", m_salt_short, -EBADMSG, "keyslots.0.kdf.salt: 3 bytes"},
        {"json_size mismatch", m_json_size, -EBADMSG, "config.json_size"},
        {"header size", m_hdr_size, -EBADMSG, "header size 20480"},
        {"LUKS1", m_luks1, -EOPNOTSUPP, "LUKS version 1"},
        {"garbage after JSON", m_trailing_garbage, -EBADMSG, "non-zero bytes after the JSON text"},
        {"deep nesting", m_deep_nesting, -EBADMSG, "nesting deeper than 16"},
        {"label not terminated", m_label_unterminated, -EBADMSG, "label is not NUL-terminated"},
        {"unknown config flag", m_config_flag, -EOPNOTSUPP, "config.flags.0"},
};

static void check_rejected(const uint8_t *buf, size_t size, const struct corpus_entry *e)
{
        struct luks2hdr *h = NULL;
        struct cvm_error err = {};
        int r;

        r = luks2hdr_parse(buf, size, &h, &err);
        if (r >= 0) {
                luks2hdr_free(h);
                fail_msg("%s: accepted", e->name);
        }
        if (r != e->code || !strstr(err.message, e->reason))
                fail_msg("%s: got %d \"%s\", expected %d with \"%s\"", e->name, r, err.message, e->code,
                         e->reason);
}

static void test_corpus(void **state)
{
        char seen[ELEMENTSOF(corpus)][CVM_ERROR_MAX];

        (void)state;
        assert_true(ELEMENTSOF(corpus) >= 12);
        for (size_t i = 0; i < ELEMENTSOF(corpus); i++) {
                _cleanup_free_ uint8_t *b = malloc(base_size);
                struct luks2hdr *h = NULL;
                struct cvm_error err = {};

                assert_non_null(b);
                memcpy(b, base, base_size);
                corpus[i].mutate(b);
                check_rejected(b, base_size, &corpus[i]);
                /* Each rejection names its own reason. */
                (void)luks2hdr_parse(b, base_size, &h, &err);
                snprintf(seen[i], sizeof(seen[i]), "%s", err.message);
                for (size_t k = 0; k < i; k++)
                        if (strcmp(seen[k], seen[i]) == 0)
                                fail_msg("%s and %s share the reason \"%s\"", corpus[k].name, corpus[i].name,
                                         seen[i]);
        }
}

/* A 512 KiB header whose JSON text exceeds the 256 KiB limit. */
static void test_oversized_token(void **state)
{
        uint64_t big = 512u * 1024u;
        _cleanup_free_ uint8_t *nb = calloc(1, 2 * big);
        _cleanup_free_ char *blob = malloc(300 * 1024);
        json_object *root = lt_get_json(base), *tok = json_object_new_object();
        const struct corpus_entry e = {"oversized JSON", NULL, -EBADMSG,
                                       "bytes of JSON exceed the limit of 262144"};
        char num[32];
        const char *text;

        (void)state;
        assert_non_null(nb);
        assert_non_null(blob);
        memset(blob, 'A', 300 * 1024 - 1);
        blob[300 * 1024 - 1] = '\0';
        json_object_object_add(tok, "type", json_object_new_string("bloat"));
        json_object_object_add(tok, "keyslots", json_object_new_array());
        json_object_object_add(tok, "blob", json_object_new_string(blob));
        json_object_object_add(lt_at(root, "tokens"), "9", tok);
        snprintf(num, sizeof(num), "%" PRIu64, big - 4096);
        json_object_object_add(lt_at(root, "config"), "json_size", json_object_new_string(num));
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        for (int c = 0; c < 2; c++) {
                memcpy(nb + c * big, base + c * hdr_size, 4096);
                for (int i = 0; i < 8; i++)
                        nb[c * big + 8 + i] = (uint8_t)(big >> (56 - 8 * i));
                for (int i = 0; i < 8; i++)
                        nb[c * big + 256 + i] = (uint8_t)((c ? big : 0) >> (56 - 8 * i));
                memcpy(nb + c * big + 4096, text, strlen(text));
        }
        lt_reseal(nb, big);
        check_rejected(nb, 2 * big, &e);
        json_object_put(root);
}

static void test_truncated(void **state)
{
        struct luks2hdr *h = NULL;
        struct cvm_error err = {};

        (void)state;
        assert_int_equal(luks2hdr_parse(base, base_size - 1, &h, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "truncated"));
        for (size_t n = 0; n < 4096; n += 511)
                assert_int_equal(luks2hdr_parse(base, n, &h, &err), -EBADMSG);
}

static void test_binding_changes(void **state)
{
        _cleanup_(luks2hdr_freep) struct luks2hdr *h = NULL;
        struct cvm_error err = {};
        uint8_t d1[LUKS2HDR_BINDING_SIZE], d2[LUKS2HDR_BINDING_SIZE];
        struct lukstoken t;

        (void)state;
        assert_int_equal(luks2hdr_parse(base, base_size, &h, &err), 0);
        t = *h->tokens[0].cvm;
        assert_int_equal(luks2hdr_binding(h, 1, &t, d1, &err), 0);
        assert_memory_equal(d1, t.binding, sizeof(d1));
        /* Another keyslot: only the keyslot part changes. */
        assert_int_equal(luks2hdr_binding(h, 0, &t, d2, &err), 0);
        assert_memory_equal(d1, d2, 64);
        assert_memory_not_equal(d1 + 64, d2 + 64, 32);
        assert_memory_equal(d1 + 96, d2 + 96, 32);
        /* Another wrap algorithm: only the config part changes. */
        t.wrap.alg = LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM;
        assert_int_equal(luks2hdr_binding(h, 1, &t, d2, &err), 0);
        assert_memory_equal(d1, d2, 96);
        assert_memory_not_equal(d1 + 96, d2 + 96, 32);
        assert_int_equal(luks2hdr_binding(h, 5, &t, d2, &err), -EINVAL);
}

/* Changes that must not invalidate an enrollment: label, priority, another keyslot's token. */
static void test_benign_changes(void **state)
{
        _cleanup_free_ uint8_t *b = malloc(base_size);
        _cleanup_(luks2hdr_freep) struct luks2hdr *h = NULL;
        struct cvm_error err = {};
        json_object *root;

        (void)state;
        assert_non_null(b);
        memcpy(b, base, base_size);
        for (int c = 0; c < 2; c++)
                memcpy(b + c * hdr_size + 24, "data", 5);
        root = lt_get_json(b);
        json_object_object_add(lt_at(root, "keyslots.1"), "priority", json_object_new_int(2));
        json_object_object_del(lt_at(root, "tokens"), "2");
        lt_put_json(b, hdr_size, root);
        json_object_put(root);
        assert_int_equal(luks2hdr_parse(b, base_size, &h, &err), 0);
        assert_string_equal(h->label, "data");
        assert_int_equal(h->keyslots[1].priority, 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_header_accepted),
                cmocka_unit_test(test_peek),
                cmocka_unit_test(test_corpus),
                cmocka_unit_test(test_oversized_token),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_binding_changes),
                cmocka_unit_test(test_benign_changes),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
