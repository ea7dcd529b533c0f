/* SPDX-License-Identifier: Apache-2.0 */
/* The cvm-agent token JSON: round trips, pending form, and every rejection path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cleanup.h"
#include "luksb64.h"
#include "lukstoken.h"
#include "util.h"

static const char azure_token[] =
        "{\"type\":\"cvm-agent\",\"keyslots\":[\"3\"],\"version\":1,\"backend\":\"azure\","
        "\"azure\":{\"maa_url\":\"https://sharedeus.eus.attest.azure.net\","
        "\"key_id\":\"https://myvault.vault.azure.net/keys/disk-key/0123456789abcdef0123456789abcdef\","
        "\"enc\":\"RSA_AES_KEY_WRAP_256\"},"
        "\"wrap\":{\"alg\":\"RSA-OAEP-256+A256GCM\",\"ek\":\"EK\",\"iv\":\"AAAAAAAAAAAAAAAA\","
        "\"ct\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"tag\":\"AAAAAAAAAAAAAAAAAAAAAA==\"},"
        "\"binding\":{\"uuid\":\""
        "0000000000000000000000000000000000000000000000000000000000000000"
        "\","
        "\"segment\":\"1111111111111111111111111111111111111111111111111111111111111111\","
        "\"keyslot\":\"2222222222222222222222222222222222222222222222222222222222222222\","
        "\"config\":\"abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd\"}}";

/* azure_token with "EK" replaced by a 256-byte base64 value. */
static char *azure_text(void)
{
        uint8_t ek[256];
        _cleanup_free_ char *b64 = NULL;
        char *out, *p;

        memset(ek, 0x5a, sizeof(ek));
        b64 = luksb64_encode(ek, sizeof(ek));
        assert_non_null(b64);
        out = malloc(sizeof(azure_token) + strlen(b64));
        assert_non_null(out);
        p = strstr(azure_token, "\"EK\"");
        memcpy(out, azure_token, (size_t)(p - azure_token) + 1);
        strcpy(out + (p - azure_token) + 1, b64);
        strcat(out, p + 3);
        return out;
}

static int parse(const char *text, struct lukstoken **t, struct cvm_error *err)
{
        return lukstoken_parse_text(text, t, err);
}

static void test_azure_roundtrip(void **state)
{
        _cleanup_free_ char *text = azure_text();
        _cleanup_(lukstoken_freep) struct lukstoken *t = NULL, *t2 = NULL;
        _cleanup_(json_object_putp) json_object *obj = NULL;
        struct cvm_error err = {};

        (void)state;
        assert_int_equal(parse(text, &t, &err), 0);
        assert_false(t->pending);
        assert_int_equal(t->keyslot, 3);
        assert_int_equal(t->backend, LUKSTOKEN_BACKEND_AZURE);
        assert_string_equal(t->maa_url, "https://sharedeus.eus.attest.azure.net");
        assert_string_equal(t->enc, "RSA_AES_KEY_WRAP_256");
        assert_int_equal(t->wrap.alg, LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM);
        assert_int_equal(t->wrap.ek_size, 256);
        assert_int_equal(t->binding[32], 0x11);
        assert_int_equal(t->binding[127], 0xcd);
        assert_int_equal(lukstoken_to_json(t, &obj), 0);
        assert_int_equal(lukstoken_parse(obj, "x", &t2, &err), 0);
        assert_memory_equal(t->binding, t2->binding, sizeof(t->binding));
        assert_memory_equal(t->wrap.ek, t2->wrap.ek, 256);
        assert_string_equal(t2->key_id, t->key_id);
}

static void test_trustee_and_pending(void **state)
{
        struct lukstoken in = {
                .version = 1,
                .keyslot = 31,
                .backend = LUKSTOKEN_BACKEND_TRUSTEE,
                .kbs_url = (char *)"https://[::1]:8080/kbs",
                .resource_path = (char *)"default/cvm-agent/disk-1",
                .kbs_ca = (char *)"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                .wrap = {.alg = LUKSTOKEN_WRAP_A256GCM},
        };
        _cleanup_(lukstoken_freep) struct lukstoken *t = NULL, *p = NULL;
        _cleanup_(json_object_putp) json_object *obj = NULL;
        _cleanup_free_ char *pending = NULL;
        struct cvm_error err = {};

        (void)state;
        assert_int_equal(lukstoken_to_json(&in, &obj), 0);
        assert_false(json_object_object_get_ex(json_object_object_get(obj, "wrap"), "ek", NULL));
        assert_int_equal(lukstoken_parse(obj, NULL, &t, &err), 0);
        assert_int_equal(t->keyslot, 31);
        assert_string_equal(t->kbs_ca, in.kbs_ca);

        assert_int_equal(lukstoken_pending_json(7, &pending), 0);
        assert_string_equal(
                pending, "{\"type\":\"cvm-agent\",\"keyslots\":[],\"version\":1,\"pending_keyslot\":\"7\"}");
        assert_int_equal(parse(pending, &p, &err), 0);
        assert_true(p->pending);
        assert_int_equal(p->pending_keyslot, 7);
        assert_int_equal(p->keyslot, -1);
        assert_int_equal(lukstoken_pending_json(32, &pending), -EINVAL);
        in.backend = LUKSTOKEN_BACKEND_NONE;
        json_object_put(obj);
        obj = NULL;
        assert_int_equal(lukstoken_to_json(&in, &obj), -EINVAL);
}

/* Each mutation of the valid token: old substring -> new, expected code and reason. */
static const struct {
        const char *from, *to;
        int code;
        const char *reason;
} mutations[] = {
        {"\"type\":\"cvm-agent\"", "\"type\":\"clevis\"", -EBADMSG, "token.type: not \"cvm-agent\""},
        {"\"version\":1", "\"version\":2", -EOPNOTSUPP, "unsupported token version 2"},
        {"\"version\":1", "\"version\":\"1\"", -EBADMSG, "token.version: not an integer"},
        {"\"version\":1,", "", -EBADMSG, "token.version: missing"},
        {"[\"3\"]", "[]", -EBADMSG, "token.keyslots: 0 entries"},
        {"[\"3\"]", "[\"3\",\"4\"]", -EBADMSG, "token.keyslots: 2 entries"},
        {"[\"3\"]", "[\"03\"]", -EBADMSG, "token.keyslots.0: not a keyslot number"},
        {"[\"3\"]", "[\"32\"]", -EBADMSG, "token.keyslots.0: not a keyslot number"},
        {"[\"3\"]", "[3]", -EBADMSG, "token.keyslots.0"},
        {"\"backend\":\"azure\"", "\"backend\":\"aws\"", -EOPNOTSUPP, "token.backend: unsupported backend"},
        {"\"backend\":\"azure\",", "", -EBADMSG, "token.backend: missing"},
        {"\"backend\":\"azure\"", "\"backend\":\"azure\",\"trustee\":{}", -EBADMSG,
         "token.trustee: not allowed"},
        {"\"version\":1,", "\"version\":1,\"pin\":true,", -EBADMSG, "token.pin: unknown field"},
        {"https://sharedeus", "http://sharedeus", -EBADMSG, "token.azure.maa_url: not an https:// URL"},
        {"https://sharedeus.eus", "https://user@sharedeus.eus", -EBADMSG,
         "token.azure.maa_url: invalid host"},
        {"attest.azure.net\"", "attest.azure.net/?q=1\"", -EBADMSG, "not allowed in the URL path"},
        {"attest.azure.net\"", "attest.azure.net:99999\"", -EBADMSG, "invalid port"},
        {"/keys/disk-key", "/secrets/disk-key", -EBADMSG, "expected https://HOST/keys/NAME"},
        {"/keys/disk-key", "/keys/disk_key", -EBADMSG, "key name may only contain"},
        {"0123456789abcdef0123456789abcdef\"", "0123\"", -EBADMSG, "key version must be 32 hex digits"},
        {"RSA_AES_KEY_WRAP_256", "RSA_OAEP", -EOPNOTSUPP, "token.azure.enc: must be"},
        {"\"enc\":\"RSA_AES_KEY_WRAP_256\"", "\"enc\":\"RSA_AES_KEY_WRAP_256\",\"x\":1", -EBADMSG,
         "token.azure.x: unknown field"},
        {"\"alg\":\"RSA-OAEP-256+A256GCM\"", "\"alg\":\"RSA1_5\"", -EOPNOTSUPP,
         "token.wrap.alg: unsupported"},
        {"\"alg\":\"RSA-OAEP-256+A256GCM\"", "\"alg\":\"A256GCM\"", -EBADMSG,
         "token.wrap.ek: unknown field"},
        {"\"iv\":\"AAAAAAAAAAAAAAAA\"", "\"iv\":\"AAAA\"", -EBADMSG, "token.wrap.iv: 3 bytes, expected 12"},
        {"\"iv\":\"AAAAAAAAAAAAAAAA\"", "\"iv\":\"AAAAAAAAAAAAAAA!\"", -EBADMSG,
         "token.wrap.iv: invalid base64"},
        {"\"tag\":\"AAAAAAAAAAAAAAAAAAAAAA==\"", "\"tag\":\"AAAAAAAAAAAAAAAAAAAAAB==\"", -EBADMSG,
         "token.wrap.tag: invalid base64"},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAA", -EBADMSG,
         "token.wrap.ct: 3 bytes, expected 32"},
        {"\"uuid\":\"0000", "\"uuid\":\"000G", -EBADMSG, "token.binding.uuid: expected 64 lowercase hex"},
        {"\"config\":\"abcdef", "\"config\":\"ABCDEF", -EBADMSG,
         "token.binding.config: expected 64 lowercase hex"},
        {"\"segment\":", "\"volume\":", -EBADMSG, "token.binding.volume: unknown field"},
};

static char *replace(const char *text, const char *from, const char *to)
{
        const char *p = strstr(text, from);
        char *out;

        assert_non_null(p);
        out = malloc(strlen(text) + strlen(to) + 1);
        assert_non_null(out);
        memcpy(out, text, (size_t)(p - text));
        strcpy(out + (p - text), to);
        strcat(out, p + strlen(from));
        return out;
}

static void test_mutations(void **state)
{
        _cleanup_free_ char *base = azure_text();

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(mutations); i++) {
                _cleanup_free_ char *text = replace(base, mutations[i].from, mutations[i].to);
                struct lukstoken *t = NULL;
                struct cvm_error err = {};
                int r = parse(text, &t, &err);

                if (r >= 0) {
                        lukstoken_free(t);
                        fail_msg("mutation %zu (%s) accepted", i, mutations[i].to);
                }
                if (r != mutations[i].code || !strstr(err.message, mutations[i].reason))
                        fail_msg("mutation %zu: got %d \"%s\", expected %d \"%s\"", i, r, err.message,
                                 mutations[i].code, mutations[i].reason);
        }
}

static void test_pending_rejections(void **state)
{
        static const char *const bad[] = {
                "{\"type\":\"cvm-agent\",\"keyslots\":[\"1\"],\"version\":1,\"pending_keyslot\":\"1\"}",
                "{\"type\":\"cvm-agent\",\"keyslots\":[],\"version\":1,\"pending_keyslot\":\"x\"}",
                "{\"type\":\"cvm-agent\",\"keyslots\":[],\"version\":1,\"pending_keyslot\":\"1\","
                "\"backend\":\"azure\"}",
                "{\"type\":\"cvm-agent\",\"keyslots\":[],\"version\":1,\"pending_keyslot\":1}",
                "{\"type\":\"cvm-agent\",\"version\":1,\"pending_keyslot\":\"1\"}",
        };
        static const char *const reasons[] = {
                "must not reference keyslots", "token.pending_keyslot: not a keyslot",
                "token.backend: unknown field", "token.pending_keyslot: not a string",
                "token.keyslots: missing"};

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct lukstoken *t = NULL;
                struct cvm_error err = {};

                assert_int_equal(parse(bad[i], &t, &err), -EBADMSG);
                if (!strstr(err.message, reasons[i]))
                        fail_msg("%zu: \"%s\" lacks \"%s\"", i, err.message, reasons[i]);
        }
}

static void test_text_errors(void **state)
{
        struct lukstoken *t = NULL;
        struct cvm_error err = {};
        _cleanup_free_ char *big = malloc(LUKSTOKEN_TEXT_MAX + 10);

        (void)state;
        assert_int_equal(parse("[]", &t, &err), -EBADMSG);
        assert_int_equal(parse("{} {}", &t, &err), -EBADMSG);
        assert_int_equal(parse("{\"type\":", &t, &err), -EBADMSG);
        assert_int_equal(parse("", &t, &err), -EBADMSG);
        assert_non_null(big);
        memset(big, ' ', LUKSTOKEN_TEXT_MAX + 9);
        big[LUKSTOKEN_TEXT_MAX + 9] = '\0';
        cvm_error_clear(&err);
        assert_int_equal(parse(big, &t, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "longer than"));
}

static void test_value_checks(void **state)
{
        static const char *const good_urls[] = {"https://a", "https://a.b-c.d:443",
                                                "https://10.0.0.1:8443/x/y", "https://[fe80::1]:1/",
                                                "https://h/p%20q"};
        static const char *const bad_urls[] = {"https://",       "https://.a",    "https://a..b",
                                               "https://a:0",    "https://a:",    "https://a b",
                                               "https://a/#f",   "ftp://a",       "https://[]/",
                                               "https://a/\x7f", "https://-a_b/", "https://a:80x"};
        static const char *const good_res[] = {"a/b/c", "default/cvm-agent/disk-0.key", "A_1/b.c/d-e"};
        static const char *const bad_res[] = {"a/b",   "a/b/c/d", "a//c",   "../b/c",
                                              "a/./c", "a/b/c/",  "/a/b/c", "a/b/ c"};
        struct cvm_error err = {};

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(good_urls); i++)
                if (lukstoken_check_https_url(good_urls[i], "u", &err) < 0)
                        fail_msg("%s rejected: %s", good_urls[i], err.message);
        for (size_t i = 0; i < ELEMENTSOF(bad_urls); i++)
                if (lukstoken_check_https_url(bad_urls[i], "u", NULL) == 0)
                        fail_msg("%s accepted", bad_urls[i]);
        for (size_t i = 0; i < ELEMENTSOF(good_res); i++)
                assert_int_equal(lukstoken_check_resource_path(good_res[i], "r", NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad_res); i++)
                if (lukstoken_check_resource_path(bad_res[i], "r", NULL) == 0)
                        fail_msg("%s accepted", bad_res[i]);
        assert_int_equal(lukstoken_check_key_id("https://v.vault.azure.net/keys/k", "k", NULL), 0);
        assert_int_equal(
                lukstoken_check_key_id(
                        "https://h.managedhsm.azure.net:443/keys/k-1/0123456789abcdef0123456789ABCDEF", "k",
                        NULL),
                0);
        assert_int_equal(lukstoken_check_key_id("https://v/keys/", "k", NULL), -EINVAL);
        assert_int_equal(lukstoken_check_key_id("https://v/x/keys/k", "k", NULL), -EINVAL);
        assert_int_equal(lukstoken_check_key_id("https://v/keys/k/0123/extra", "k", NULL), -EINVAL);
        assert_int_equal(lukstoken_check_enc("CKM_RSA_AES_KEY_WRAP", "e", NULL), 0);
        assert_int_equal(lukstoken_check_enc("RSA_AES_KEY_WRAP_384", "e", NULL), 0);
        assert_int_equal(lukstoken_check_enc("rsa_aes_key_wrap_256", "e", NULL), -EINVAL);
        assert_string_equal(lukstoken_backend_name(LUKSTOKEN_BACKEND_AZURE), "azure");
        assert_string_equal(lukstoken_wrap_alg_name(LUKSTOKEN_WRAP_A256GCM), "A256GCM");
        assert_string_equal(lukstoken_binding_part_name(3), "config");
}

static void test_b64(void **state)
{
        static const struct {
                const char *in;
                int ok;
                size_t n;
        } cases[] = {
                {"", 1, 0},         {"Zg==", 1, 1}, {"Zm8=", 1, 2},   {"Zm9v", 1, 3},
                {"Zh==", 0, 0},     {"Zm9=", 0, 0}, {"Zg=", 0, 0},    {"Z===", 0, 0},
                {"Zg==Zg==", 0, 0}, {"Zm-v", 0, 0}, {"Zm9v\n", 0, 0}, {"=Zm9", 0, 0},
        };
        uint8_t *out = NULL;
        size_t n = 0;

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = luksb64_decode(cases[i].in, SIZE_MAX, &out, &n);

                if (cases[i].ok != (r == 0))
                        fail_msg("\"%s\": %d", cases[i].in, r);
                if (r == 0) {
                        assert_int_equal(n, cases[i].n);
                        free(out);
                }
        }
        assert_int_equal(luksb64url_decode("Zm9vYg", SIZE_MAX, &out, &n), 0);
        assert_int_equal(n, 4);
        assert_memory_equal(out, "foob", 4);
        free(out);
        assert_int_equal(luksb64url_decode("-_8", SIZE_MAX, &out, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(out[0], 0xfb);
        free(out);
        assert_int_equal(luksb64url_decode("Zm9vYh", SIZE_MAX, &out, &n), -EBADMSG);
        assert_int_equal(luksb64url_decode("Zm9vY", SIZE_MAX, &out, &n), -EBADMSG);
        assert_int_equal(luksb64url_decode("Zg==", SIZE_MAX, &out, &n), -EBADMSG);
        assert_int_equal(luksb64url_decode("a+b/", SIZE_MAX, &out, &n), -EBADMSG);
        for (size_t len = 0; len < 70; len++) {
                uint8_t in[70];
                _cleanup_free_ char *enc = NULL;

                for (size_t i = 0; i < len; i++)
                        in[i] = (uint8_t)(i * 37 + len);
                enc = luksb64_encode(in, len);
                assert_non_null(enc);
                assert_int_equal(luksb64_decode(enc, SIZE_MAX, &out, &n), 0);
                assert_int_equal(n, len);
                assert_memory_equal(out, in, len);
                free(out);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_azure_roundtrip),
                cmocka_unit_test(test_trustee_and_pending),
                cmocka_unit_test(test_mutations),
                cmocka_unit_test(test_pending_rejections),
                cmocka_unit_test(test_text_errors),
                cmocka_unit_test(test_value_checks),
                cmocka_unit_test(test_b64),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
