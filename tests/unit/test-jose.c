/* SPDX-License-Identifier: Apache-2.0 */
/* Base64/base64url (RFC 4648), the JSON member helpers, and the JWT claim checks. */
#include <errno.h>

#include "test-jose.h"

/* RFC 4648 §10 test vectors. */
static void test_b64_rfc4648(void **state)
{
        static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
        static const char *const std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
        static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

        for (size_t i = 0; i < ELEMENTSOF(in); i++) {
                _cleanup_free_ char *s = b64_encode(in[i], strlen(in[i])),
                                    *u = b64url_encode(in[i], strlen(in[i]));
                _cleanup_free_ uint8_t *d1 = NULL, *d2 = NULL, *d3 = NULL;
                size_t n1, n2, n3;

                assert_string_equal(s, std[i]);
                assert_string_equal(u, url[i]);
                assert_int_equal(b64_decode(std[i], SIZE_MAX, NULL, &d1, &n1, NULL), 0);
                assert_int_equal(b64url_decode(url[i], SIZE_MAX, NULL, &d2, &n2, NULL), 0);
                assert_int_equal(n1, strlen(in[i]));
                assert_int_equal(n2, strlen(in[i]));
                assert_memory_equal(d1, in[i], n1);
                assert_memory_equal(d2, in[i], n2);
                assert_int_equal(d1[n1], 0);
                /* B64_PAD_OPTIONAL takes both forms. */
                assert_int_equal(
                        b64_decode_flags(url[i], SIZE_MAX, B64_URL | B64_PAD_OPTIONAL, NULL, &d3, &n3, NULL),
                        0);
                assert_int_equal(n3, n1);
        }
}

static void test_b64_alphabets(void **state)
{
        static const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
        _cleanup_free_ char *s = b64_encode(bytes, 3), *u = b64url_encode(bytes, 3);
        _cleanup_free_ uint8_t *d = NULL;
        size_t n;

        assert_string_equal(s, "+/+/");
        assert_string_equal(u, "-_-_");
        assert_int_equal(b64url_decode("+/+/", SIZE_MAX, NULL, &d, &n, NULL), -EBADMSG);
        assert_int_equal(b64_decode("-_-_", SIZE_MAX, NULL, &d, &n, NULL), -EBADMSG);
        assert_null(d);
}

static void test_b64_strictness(void **state)
{
        static const struct {
                const char *s;
                unsigned flags;
                const char *msg;
        } cases[] = {
                {"Zg=", 0, "bad base64 padding: 1 '=' after 2 characters"},
                {"Zg", 0, "missing its '=' padding"},
                {"Zm8==", 0, "bad base64 padding"},
                {"Zm9v=", 0, "bad base64 padding"},
                {"Zg===", 0, "bad base64 padding"},
                {"Z===", 0, "bad base64 padding"},
                {"Zh==", 0, "non-canonical base64: unused bits set in the last character at offset 1"},
                {"Zm9=", 0, "non-canonical"},
                {"Zg==", B64_URL, "base64url must not be padded, found '=' at offset 2"},
                {"Zh", B64_URL, "non-canonical base64url"},
                {"Zg=", B64_URL | B64_PAD_OPTIONAL, "bad base64url padding"},
                {"Z", B64_URL, "dangling 6 bits"},
                {"Zm9vY", B64_URL, "dangling 6 bits"},
                {"Zm 9v", 0, "invalid base64 character 0x20 at offset 2"},
                {"Zm9v\n", 0, "invalid base64 character 0x0a at offset 4"},
                {"Z=g=", 0, "invalid base64 character 0x3d at offset 1"},
                {"\xffZg", B64_URL, "invalid base64url character 0xff at offset 0"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint8_t *d = NULL;
                size_t n;
                struct cvm_error err = {};
                int r = b64_decode_flags(cases[i].s, SIZE_MAX, cases[i].flags, "field", &d, &n, &err);

                if (r != -EBADMSG || !strstr(err.message, cases[i].msg) ||
                    strncmp(err.message, "field: ", 7) != 0)
                        fail_msg("case %zu (%s): got %d \"%s\", want \"%s\"", i, cases[i].s, r, err.message,
                                 cases[i].msg);
                assert_null(d);
        }
}

static void test_b64_binary_roundtrip(void **state)
{
        uint8_t buf[256];

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 37 + 11);
        for (size_t len = 0; len <= sizeof(buf); len += 17) {
                _cleanup_free_ char *s = b64_encode(buf, len), *u = b64url_encode(buf, len);
                _cleanup_free_ uint8_t *a = NULL, *b = NULL;
                size_t na, nb;

                assert_int_equal(b64_decode(s, SIZE_MAX, NULL, &a, &na, NULL), 0);
                assert_int_equal(b64url_decode(u, SIZE_MAX, NULL, &b, &nb, NULL), 0);
                assert_int_equal(na, len);
                assert_int_equal(nb, len);
                assert_memory_equal(a, buf, len);
                assert_memory_equal(b, buf, len);
        }
}

static void test_get_helpers(void **state)
{
        _cleanup_(json_object_putp) json_object *o =
                json_tokener_parse("{\"s\":\"x\",\"n\":1,\"b\":\"AAE\",\"z\":\"a\\u0000b\"}");
        _cleanup_free_ uint8_t *raw = NULL;
        struct cvm_error err = {};
        const char *s;
        size_t n;

        assert_int_equal(jose_get_string(o, "s", "obj", true, &s, NULL), 0);
        assert_string_equal(s, "x");
        assert_int_equal(jose_get_string(o, "missing", "obj", false, &s, NULL), 0);
        assert_null(s);
        assert_int_equal(jose_get_string(o, "missing", "obj", true, &s, &err), -EBADMSG);
        assert_string_equal(err.message, "obj has no \"missing\" member");
        cvm_error_clear(&err);
        assert_int_equal(jose_get_string(o, "n", "obj", true, &s, &err), -EBADMSG);
        assert_string_equal(err.message, "obj member \"n\" is not a string");
        cvm_error_clear(&err);
        assert_int_equal(jose_get_string(o, "z", "obj", true, &s, &err), -EBADMSG);
        assert_string_equal(err.message, "obj member \"z\" contains a NUL character");
        assert_int_equal(jose_get_b64url(o, "b", "obj", true, &raw, &n, NULL), 0);
        assert_int_equal(n, 2);
        assert_int_equal(raw[1], 1);
        cvm_error_clear(&err);
        assert_int_equal(jose_get_b64url(o, "s", "obj", true, &raw, &n, &err), 0 - EBADMSG);
        assert_string_equal(err.message,
                            "obj \"s\": truncated base64url: 1 characters leave a dangling 6 bits");
}

static json_object *claims_of(const char *text)
{
        json_object *o = json_tokener_parse(text);

        assert_non_null(o);
        return o;
}

static void test_jwt_time(void **state)
{
        _cleanup_(json_object_putp) json_object *c = claims_of("{\"iat\":1000,\"nbf\":1000,\"exp\":2000}");
        enum jwt_time_status st;
        struct cvm_error err = {};

        assert_int_equal(jwt_check_time(c, 1500, 0, true, &st, NULL), 0);
        assert_int_equal(st, JWT_TIME_VALID);
        assert_int_equal(jwt_check_time(c, 1000, 0, true, &st, NULL), 0);
        assert_int_equal(jwt_check_time(c, 1999, 0, true, &st, NULL), 0);
        /* exp is exclusive. */
        assert_int_equal(jwt_check_time(c, 2000, 0, true, &st, &err), -EKEYEXPIRED);
        assert_int_equal(st, JWT_TIME_EXPIRED);
        assert_string_equal(err.message,
                            "token expired at 1970-01-01T00:33:20Z, now is 1970-01-01T00:33:20Z");
        cvm_error_clear(&err);
        assert_int_equal(jwt_check_time(c, 999, 0, true, &st, &err), -EKEYEXPIRED);
        assert_int_equal(st, JWT_TIME_NOT_YET_VALID);
        assert_string_equal(err.message,
                            "token not valid before 1970-01-01T00:16:40Z, now is 1970-01-01T00:16:39Z");
        /* Leeway widens both ends, and is bounded. */
        assert_int_equal(jwt_check_time(c, 2059, 60, true, &st, NULL), 0);
        assert_int_equal(jwt_check_time(c, 2060, 60, true, &st, NULL), -EKEYEXPIRED);
        assert_int_equal(jwt_check_time(c, 940, 60, true, &st, NULL), 0);
        assert_int_equal(jwt_check_time(c, 1500, JWT_MAX_LEEWAY + 1, true, &st, NULL), -EINVAL);
}

static void test_jwt_time_variants(void **state)
{
        _cleanup_(json_object_putp) json_object *noexp = claims_of("{\"iat\":1000}");
        _cleanup_(json_object_putp) json_object *future = claims_of("{\"iat\":5000,\"exp\":9000}");
        _cleanup_(json_object_putp) json_object *frac = claims_of("{\"exp\":2000.9}");
        _cleanup_(json_object_putp) json_object *str = claims_of("{\"exp\":\"2000\"}");
        _cleanup_(json_object_putp) json_object *neg = claims_of("{\"nbf\":-1}");
        _cleanup_(json_object_putp) json_object *huge = claims_of("{\"exp\":1e300}");
        _cleanup_(json_object_putp) json_object *arr = claims_of("[1]");
        enum jwt_time_status st;
        struct cvm_error err = {};
        struct jwt_times t;

        assert_int_equal(jwt_check_time(noexp, 1500, 0, false, &st, NULL), 0);
        assert_int_equal(jwt_check_time(noexp, 1500, 0, true, &st, &err), -EKEYEXPIRED);
        assert_string_equal(err.message, "token has no \"exp\" claim, so it never expires");
        cvm_error_clear(&err);
        assert_int_equal(jwt_check_time(future, 1000, 60, true, &st, &err), -EKEYEXPIRED);
        assert_int_equal(st, JWT_TIME_NOT_YET_VALID);
        assert_non_null(strstr(err.message, "issued in the future"));
        assert_int_equal(jwt_get_times(frac, &t, NULL), 0);
        assert_true(t.has_exp);
        assert_false(t.has_nbf);
        assert_int_equal(t.exp, 2000);
        cvm_error_clear(&err);
        assert_int_equal(jwt_check_time(str, 1, 0, true, &st, &err), -EBADMSG);
        assert_string_equal(err.message, "JWT claim \"exp\" is not a number");
        assert_int_equal(jwt_check_time(neg, 1, 0, false, &st, NULL), -EBADMSG);
        assert_int_equal(jwt_check_time(huge, 1, 0, false, &st, NULL), -EBADMSG);
        assert_int_equal(jwt_get_times(arr, &t, NULL), -EBADMSG);
}

static void test_jwt_claims(void **state)
{
        _cleanup_(json_object_putp) json_object *c =
                claims_of("{\"iss\":\"https://sharedweu.weu.attest.azure.net\",\"exp\":2000,\"nbf\":1000,"
                          "\"x-ms-runtime\":{\"client-payload\":{\"nonce\":\"MTIzNA==\"}},\"n\":5}");
        struct jwt_claim_expect nonce = {"x-ms-runtime.client-payload.nonce", "MTIzNA=="};
        struct jwt_expect e = {
                .now = 1500,
                .leeway = 30,
                .require_exp = true,
                .issuer = "https://sharedweu.weu.attest.azure.net",
                .claims = &nonce,
                .n_claims = 1,
        };
        struct cvm_error err = {};
        json_object *v;

        assert_int_equal(jwt_check_claims(c, &e, NULL), 0);

        e.issuer = "https://sharedweu.weu.attest.azure.net/";
        assert_int_equal(jwt_check_claims(c, &e, &err), -EPROTO);
        assert_string_equal(err.message, "claim \"iss\" is \"https://sharedweu.weu.attest.azure.net\", "
                                         "expected \"https://sharedweu.weu.attest.azure.net/\"");
        e.issuer = NULL;

        nonce.value = "REVG";
        cvm_error_clear(&err);
        assert_int_equal(jwt_check_claims(c, &e, &err), -EPROTO);
        assert_string_equal(
                err.message,
                "claim \"x-ms-runtime.client-payload.nonce\" is \"MTIzNA==\", expected \"REVG\"");
        nonce.path = "x-ms-runtime.nonce";
        cvm_error_clear(&err);
        assert_int_equal(jwt_check_claims(c, &e, &err), -EPROTO);
        assert_non_null(strstr(err.message, "is missing"));
        nonce.path = "n";
        assert_int_equal(jwt_check_claims(c, &e, NULL), -EPROTO);

        e.now = 3000; /* time is checked first */
        cvm_error_clear(&err);
        assert_int_equal(jwt_check_claims(c, &e, &err), -EKEYEXPIRED);

        assert_int_equal(jwt_claim_lookup(c, "x-ms-runtime.client-payload", &v), 0);
        assert_true(json_object_is_type(v, json_type_object));
        assert_int_equal(jwt_claim_lookup(c, "iss.x", &v), -ENOENT);
        assert_int_equal(jwt_claim_lookup(c, "", &v), -ENOENT);
        assert_int_equal(jwt_claim_lookup(c, "x-ms-runtime.", &v), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_b64_rfc4648),       cmocka_unit_test(test_b64_alphabets),
                cmocka_unit_test(test_b64_strictness),    cmocka_unit_test(test_b64_binary_roundtrip),
                cmocka_unit_test(test_get_helpers),       cmocka_unit_test(test_jwt_time),
                cmocka_unit_test(test_jwt_time_variants), cmocka_unit_test(test_jwt_claims),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
