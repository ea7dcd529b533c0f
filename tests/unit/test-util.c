/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "testlib.h"

#include "cleanup.h"
#include "hashalg.h"
#include "util.h"

static void test_hex_roundtrip(void **state)
{
        static const uint8_t bytes[] = { 0x00, 0x01, 0xab, 0xff };
        _cleanup_free_ char *s = hex_encode(bytes, sizeof(bytes));
        _cleanup_free_ uint8_t *back = NULL;
        size_t n = 0;

        assert_string_equal(s, "0001abff");
        assert_int_equal(hex_decode("0001ABff", SIZE_MAX, &back, &n), 0);
        assert_int_equal(n, 4);
        assert_memory_equal(back, bytes, 4);
}

static void test_hex_rejects(void **state)
{
        uint8_t *out = NULL;
        size_t n = 0;

        assert_int_equal(hex_decode("abc", SIZE_MAX, &out, &n), -EINVAL);
        assert_int_equal(hex_decode("zz", SIZE_MAX, &out, &n), -EINVAL);
        assert_null(out);
}

static void test_rfc3339(void **state)
{
        time_t t;
        char buf[21];

        assert_int_equal(parse_rfc3339("2025-06-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 1748736000);
        assert_int_equal(parse_rfc3339("2025-06-01T02:00:00.5+02:00", &t), 0);
        assert_int_equal(t, 1748736000);
        format_rfc3339(t, buf);
        assert_string_equal(buf, "2025-06-01T00:00:00Z");
        assert_int_equal(parse_rfc3339("2025-13-01T00:00:00Z", &t), -EINVAL);
        assert_int_equal(parse_rfc3339("2025-06-01", &t), -EINVAL);
        assert_int_equal(parse_rfc3339("2025-06-01T00:00:00Zjunk", &t), -EINVAL);
}

static void test_extend(void **state)
{
        const struct hash_alg *alg = hash_alg_by_name("SHA256");
        uint8_t pcr[32] = {}, digest[32];
        _cleanup_free_ char *hex = NULL;

        assert_non_null(alg);
        assert_int_equal(alg->tpm_id, TPM_ALG_SHA256);
        assert_int_equal(hash_digest(alg, "abc", 3, digest), 0);
        assert_int_equal(hash_extend(alg, pcr, digest), 0);
        hex = hex_encode(pcr, 32);
        /* sha256(32 zero bytes || sha256("abc")), computed independently with openssl dgst. */
        assert_string_equal(hex, "589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d");
        assert_null(hash_alg_by_tpm_id(0x9999));
}

static void test_read_file_limits(void **state)
{
        struct cvm_error err = {};
        uint8_t *buf = NULL;
        size_t n;

        assert_int_equal(read_file("/nonexistent/file", 100, &buf, &n, &err), -ENOENT);
        assert_string_equal(err.message, "cannot open: No such file or directory");
        cvm_error_clear(&err);
        assert_int_equal(read_file("/etc/os-release", 4, &buf, &n, &err), -EFBIG);
        cvm_error_clear(&err);
        assert_int_equal(read_file("/", 4, &buf, &n, &err), -EISDIR);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hex_roundtrip), cmocka_unit_test(test_hex_rejects),
                cmocka_unit_test(test_rfc3339),       cmocka_unit_test(test_extend),
                cmocka_unit_test(test_read_file_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
