/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cross-checks against an independent JOSE implementation: Debian's `jose` tool (latchset José).
 * jose-made JWEs are decrypted by us, our JWEs by jose; our JWS signatures verified by jose; our
 * JWK exports used by jose; RFC 7638 thumbprints compared. Debian 12's José has no RSA-OAEP
 * (its only RSA key transport is RSA1_5, which we refuse), so RSA-OAEP is covered by the RFC
 * 7516/7520 vectors in test-jwe.c instead. Skipped, with a message, when `jose` is missing.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-jose.h"

static char dir[] = "/tmp/cvm-jose-interop-XXXXXX";

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
        char cmd[4096];
        va_list ap;
        int st;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        st = system(cmd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *tmp(const char *name)
{
        static char path[8][512];
        static int i;

        i = (i + 1) % 8;
        snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
        return path[i];
}

static char *slurp(const char *path)
{
        struct cvm_error err = {};
        uint8_t *buf;
        size_t n;

        if (read_file(path, 1 << 20, &buf, &n, &err) < 0)
                fail_msg("%s: %s", path, err.message);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        return (char *)buf;
}

static void spit(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
        if (sh("command -v jose >/dev/null 2>&1") != 0) {
                printf("SKIP: Debian's jose tool is not installed (packaging/install-deps.sh installs "
                       "it)\n");
                *state = NULL;
                return 0;
        }
        if (!mkdtemp(dir))
                return -1;
        *state = dir;
        return 0;
}

static int teardown(void **state)
{
        if (*state)
                sh("rm -rf '%s'", dir);
        return 0;
}

#define need_jose()             \
        do {                    \
                if (!*state)    \
                        skip(); \
        } while (0)

static json_object *load_jwk(const char *path)
{
        json_object *o = json_object_from_file(path);

        if (!o)
                fail_msg("cannot parse %s", path);
        return o;
}

/* jose-made JWEs (compact and its default JSON form) decrypted by us. */
static void test_jose_encrypts_we_decrypt(void **state)
{
        static const struct {
                const char *gen, *alg, *enc;
        } cases[] = {
                {"{\"kty\":\"EC\",\"crv\":\"P-256\"}", "ECDH-ES+A256KW", "A256GCM"},
                {"{\"kty\":\"EC\",\"crv\":\"P-384\"}", "ECDH-ES+A128KW", "A128GCM"},
                {"{\"kty\":\"EC\",\"crv\":\"P-521\"}", "ECDH-ES+A192KW", "A256CBC-HS512"},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\"}", "ECDH-ES", "A128CBC-HS256"},
                {"{\"kty\":\"EC\",\"crv\":\"P-384\"}", "ECDH-ES", "A256GCM"},
                {"{\"alg\":\"A256KW\"}", "A256KW", "A256GCM"},
                {"{\"alg\":\"A128KW\"}", "A128KW", "A192CBC-HS384"},
                {"{\"kty\":\"oct\",\"bytes\":16}", "dir", "A128GCM"},
        };
        static const char msg[] = "released secret: 0123456789abcdef";

        need_jose();
        spit(tmp("pt"), msg);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (int compact = 0; compact <= 1; compact++) {
                        _cleanup_(json_object_putp) json_object *jwk = NULL, *hdr = NULL;
                        _cleanup_(secret_buf_done) struct secret_buf pt = {};
                        _cleanup_free_ char *jwe = NULL;
                        struct cvm_error err = {};
                        const char *kty, *alg;
                        int r;

                        assert_int_equal(sh("jose jwk gen -i '%s' -o %s", cases[i].gen, tmp("k.jwk")), 0);
                        assert_int_equal(
                                sh("jose jwe enc -i '{\"protected\":{\"alg\":\"%s\",\"enc\":\"%s\"}}' -I %s "
                                   "-k %s %s -o %s",
                                   cases[i].alg, cases[i].enc, tmp("pt"), tmp("k.jwk"), compact ? "-c" : "",
                                   tmp("x.jwe")),
                                0);
                        jwe = slurp(tmp("x.jwe"));
                        jwk = load_jwk(tmp("k.jwk"));
                        assert_int_equal(jose_get_string(jwk, "kty", "jwk", true, &kty, NULL), 0);
                        if (strcmp(kty, "oct") == 0) {
                                _cleanup_(secret_buf_done) struct secret_buf k = {};
                                assert_int_equal(jwk_oct_key(jwk, &k, NULL), 0);
                                r = jwe_decrypt_oct(jwe, strlen(jwe), k.data, k.size, &pt, &hdr, &err);
                        } else {
                                _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
                                assert_int_equal(jwk_to_pkey(jwk, &key, NULL), 0);
                                r = jwe_decrypt(jwe, strlen(jwe), key, &pt, &hdr, &err);
                        }
                        if (r < 0)
                                fail_msg("%s/%s %s: %s", cases[i].alg, cases[i].enc,
                                         compact ? "compact" : "JSON", err.message);
                        assert_int_equal(pt.size, strlen(msg));
                        assert_memory_equal(pt.data, msg, pt.size);
                        assert_int_equal(jose_get_string(hdr, "alg", "h", true, &alg, NULL), 0);
                        assert_string_equal(alg, cases[i].alg);
                }
}

/* jose's only RSA key transport, RSA1_5, is refused with a reason. */
static void test_jose_rsa1_5_refused(void **state)
{
        _cleanup_(json_object_putp) json_object *jwk = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        _cleanup_(secret_buf_done) struct secret_buf pt = {};
        _cleanup_free_ char *jwe = NULL;
        struct cvm_error err = {};

        need_jose();
        spit(tmp("pt"), "x");
        assert_int_equal(sh("jose jwk gen -i '{\"kty\":\"RSA\",\"bits\":2048}' -o %s", tmp("r.jwk")), 0);
        assert_int_equal(sh("jose jwe enc -I %s -k %s -c -o %s", tmp("pt"), tmp("r.jwk"), tmp("r.jwe")), 0);
        jwe = slurp(tmp("r.jwe"));
        jwk = load_jwk(tmp("r.jwk"));
        assert_int_equal(jwk_to_pkey(jwk, &key, NULL), 0);
        assert_int_equal(jwe_decrypt(jwe, strlen(jwe), key, &pt, NULL, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.message, "RSA1_5"));
}

/* Our JWEs decrypted by jose, with keys jose generated. */
static void test_we_encrypt_jose_decrypts(void **state)
{
        static const struct {
                const char *crv, *alg, *enc;
        } cases[] = {
                {"P-256", "ECDH-ES+A256KW", "A256GCM"},       {"P-384", "ECDH-ES+A256KW", "A128GCM"},
                {"P-521", "ECDH-ES+A128KW", "A128CBC-HS256"}, {"P-256", "ECDH-ES", "A256GCM"},
                {"P-256", "ECDH-ES", "A256CBC-HS512"},        {"P-384", "ECDH-ES+A192KW", "A192GCM"},
        };
        static const char msg[] = "resource from the KBS emulator";

        need_jose();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (int fmt = JWE_COMPACT; fmt <= JWE_JSON_FLATTENED; fmt++) {
                        _cleanup_(json_object_putp) json_object *jwk = NULL;
                        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
                        _cleanup_free_ char *jwe = NULL, *out = NULL;
                        struct cvm_error err = {};

                        assert_int_equal(sh("jose jwk gen -i '{\"kty\":\"EC\",\"crv\":\"%s\"}' -o %s",
                                            cases[i].crv, tmp("k.jwk")),
                                         0);
                        jwk = load_jwk(tmp("k.jwk"));
                        assert_int_equal(jwk_to_pkey(jwk, &key, NULL), 0);
                        if (jwe_encrypt(cases[i].alg, cases[i].enc, key, NULL, msg, strlen(msg), fmt, &jwe,
                                        &err) < 0)
                                fail_msg("%s", err.message);
                        spit(tmp("ours.jwe"), jwe);
                        if (sh("jose jwe dec -i %s -k %s -O %s", tmp("ours.jwe"), tmp("k.jwk"),
                               tmp("dec")) != 0)
                                fail_msg("jose cannot decrypt our %s/%s (%s): %s", cases[i].alg,
                                         cases[i].enc, fmt == JWE_COMPACT ? "compact" : "flattened", jwe);
                        out = slurp(tmp("dec"));
                        assert_string_equal(out, msg);
                }
}

/* Our signatures verified by jose; a changed payload is rejected by jose too. */
static void test_we_sign_jose_verifies(void **state)
{
        static const struct {
                const char *gen, *alg;
        } cases[] = {
                {"{\"kty\":\"RSA\",\"bits\":2048}", "RS256"},
                {"{\"kty\":\"RSA\",\"bits\":2048}", "RS512"},
                {"{\"kty\":\"RSA\",\"bits\":2048}", "PS256"},
                {"{\"kty\":\"RSA\",\"bits\":3072}", "PS384"},
                {"{\"kty\":\"EC\",\"crv\":\"P-256\"}", "ES256"},
                {"{\"kty\":\"EC\",\"crv\":\"P-384\"}", "ES384"},
                {"{\"kty\":\"EC\",\"crv\":\"P-521\"}", "ES512"},
        };
        static const char claims[] = "{\"iss\":\"https://maa.emulator\",\"exp\":4102444800}";

        need_jose();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_object_putp) json_object *jwk = NULL;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
                _cleanup_free_ char *tok = NULL, *bad = NULL;
                char *dot;

                assert_int_equal(sh("jose jwk gen -i '%s' -o %s", cases[i].gen, tmp("k.jwk")), 0);
                assert_int_equal(sh("jose jwk pub -i %s -o %s", tmp("k.jwk"), tmp("pub.jwk")), 0);
                jwk = load_jwk(tmp("k.jwk"));
                assert_int_equal(jwk_to_pkey(jwk, &key, NULL), 0);
                assert_int_equal(jws_sign(cases[i].alg, key, NULL, claims, strlen(claims), &tok, NULL), 0);
                spit(tmp("ours.jws"), tok);
                if (sh("jose jws ver -i %s -k %s -O /dev/null", tmp("ours.jws"), tmp("pub.jwk")) != 0)
                        fail_msg("jose rejects our %s signature: %s", cases[i].alg, tok);
                /* Same signature over another payload ({}): jose must reject it as well. */
                dot = strchr(tok, '.');
                assert_true(asprintf(&bad, "%.*s.e30%s", (int)(dot - tok), tok, strchr(dot + 1, '.')) > 0);
                spit(tmp("bad.jws"), bad);
                assert_int_not_equal(sh("jose jws ver -i %s -k %s -O /dev/null 2>/dev/null", tmp("bad.jws"),
                                        tmp("pub.jwk")),
                                     0);
        }
}

/* Keys we export (private, for tests/emulators) are usable by jose; thumbprints agree. */
static void test_jwk_export_and_thumbprints(void **state)
{
        static const struct {
                const char *type, *curve, *alg;
                unsigned bits;
        } cases[] = {
                {"RSA", NULL, "RS256", 2048},
                {"EC", "P-256", "ES256", 0},
                {"EC", "P-384", "ES384", 0},
                {"EC", "P-521", "ES512", 0},
        };

        need_jose();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k =
                        gen_key(cases[i].type, cases[i].curve, cases[i].bits);
                _cleanup_(json_object_putp) json_object *priv = NULL, *pub = NULL;
                _cleanup_free_ char *ours = NULL, *theirs = NULL, *tok = NULL;
                _cleanup_(jws_freep) struct jws *jws = NULL;
                struct cvm_error err = {};

                assert_int_equal(jwk_from_pkey(k, JWK_EXPORT_PRIVATE, &priv, NULL), 0);
                spit(tmp("our.jwk"), json_object_to_json_string_ext(priv, JSON_C_TO_STRING_PLAIN));
                assert_int_equal(jwk_thumbprint_b64url(priv, &ours, NULL), 0);
                assert_int_equal(sh("jose jwk thp -i %s -o %s", tmp("our.jwk"), tmp("thp")), 0);
                theirs = slurp(tmp("thp"));
                assert_string_equal(ours, theirs);

                /* jose signs with our exported private key; we verify with our public export. */
                spit(tmp("msg"), "{\"a\":1}");
                assert_int_equal(
                        sh("jose jws sig -I %s -k %s -s '{\"protected\":{\"alg\":\"%s\"}}' -c -o %s",
                           tmp("msg"), tmp("our.jwk"), cases[i].alg, tmp("t.jws")),
                        0);
                tok = slurp(tmp("t.jws"));
                assert_int_equal(jws_parse(tok, strlen(tok), &jws, NULL), 0);
                if (jws_verify(jws, k, &err) < 0)
                        fail_msg("%s: %s", cases[i].alg, err.message);
                assert_int_equal(jwk_from_pkey(k, 0, &pub, NULL), 0);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_jose_encrypts_we_decrypt),
                cmocka_unit_test(test_jose_rsa1_5_refused),
                cmocka_unit_test(test_we_encrypt_jose_decrypts),
                cmocka_unit_test(test_we_sign_jose_verifies),
                cmocka_unit_test(test_jwk_export_and_thumbprints),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
