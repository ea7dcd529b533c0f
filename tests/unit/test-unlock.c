/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key side of the unlock (unlock.h) with fake backends on real enrolled images: one
 * attestation per verifier for many volumes, failures reported by stage, the deadline, and the
 * binding recomputed from the validated header.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cleanup.h"
#include "lukstest.h"
#include "unlock.h"

struct fake {
        int attest_rc, release_rc;
        unsigned attests, releases, frees;
        const uint8_t *key;
        size_t key_size;
        bool slow; /* attest moves the deadline into the past */
        struct unlock_ctx *u;
};

struct backend_session {
        int dummy;
};

static int fake_attest(void *userdata, const struct lukstoken *cfg, uint64_t deadline_usec,
                       struct backend_session **ret, struct cvm_error *err)
{
        struct fake *f = userdata;

        (void)cfg;
        (void)deadline_usec;
        f->attests++;
        if (f->slow)
                f->u->deadline_usec = 1;
        if (f->attest_rc < 0)
                return cvm_error_set(err, f->attest_rc, "verifier says no");
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

static int fake_release(void *userdata, struct backend_session *s, const struct lukstoken *cfg,
                        uint64_t deadline_usec, struct secret_buf *ret, enum lukswrap_material *kind,
                        struct cvm_error *err)
{
        struct fake *f = userdata;

        (void)cfg;
        (void)deadline_usec;
        assert_non_null(s);
        f->releases++;
        if (f->release_rc < 0)
                return cvm_error_set(err, f->release_rc, "policy denied");
        ret->data = malloc(f->key_size);
        assert_non_null(ret->data);
        memcpy(ret->data, f->key, f->key_size);
        ret->size = f->key_size;
        *kind = LUKSWRAP_MATERIAL_SYMMETRIC;
        return 0;
}

static void fake_free(void *userdata, struct backend_session *s)
{
        struct fake *f = userdata;

        f->frees++;
        free(s);
}

static const struct backend_ops fake_trustee = {
        .name = "trustee", .attest = fake_attest, .release = fake_release, .session_free = fake_free};
static const struct backend_ops *const backends[] = {&fake_trustee, NULL};

static struct luks2hdr *hdr_a, *hdr_b;

static struct luks2hdr *enrolled_header(const char *name)
{
        const char *img = lt_path(name);
        struct luks2hdr *h = NULL;
        struct cvm_error err = {};
        uint8_t *buf;
        size_t size;

        lt_format(img, 0);
        lt_enroll(img);
        buf = lt_read_header(img, &size);
        assert_int_equal(luks2hdr_parse(buf, size, &h, &err), 0);
        free(buf);
        return h;
}

static int setup(void **state)
{
        (void)state;
        hdr_a = enrolled_header("a.img");
        hdr_b = enrolled_header("b.img");
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        luks2hdr_free(hdr_a);
        luks2hdr_free(hdr_b);
        lt_cleanup();
        return 0;
}

static void test_one_attestation_for_all(void **state)
{
        struct fake f = {.key = lt_sym_key, .key_size = 32};
        struct unlock_ctx u = {.backends = backends, .userdata = &f};
        struct cvm_error err = {};
        uint8_t s1[32], s2[32];

        (void)state;
        u.deadline_usec = unlock_now_usec() + 10000000u;
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s1, &err), 0);
        assert_int_equal(unlock_acquire_secret(&u, hdr_b, 0, s2, &err), 0);
        assert_memory_not_equal(s1, s2, 32);
        assert_int_equal(f.attests, 1);
        assert_int_equal(u.attestations, 1);
        assert_int_equal(f.releases, 2);
        assert_int_equal(u.n_sessions, 1);
        unlock_ctx_done(&u);
        assert_int_equal(f.frees, 1);
}

static void test_distinct_verifiers(void **state)
{
        struct fake f = {.key = lt_sym_key, .key_size = 32};
        struct unlock_ctx u = {.backends = backends, .userdata = &f};
        struct cvm_error err = {};
        uint8_t s[32];
        char *saved = hdr_b->tokens[0].cvm->kbs_url;
        char other[] = "https://other-kbs:8443";

        (void)state;
        /* Another KBS URL means another session; the binding then no longer matches. */
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), 0);
        hdr_b->tokens[0].cvm->kbs_url = other;
        assert_int_equal(unlock_acquire_secret(&u, hdr_b, 0, s, &err), -EKEYREJECTED);
        hdr_b->tokens[0].cvm->kbs_url = saved;
        assert_int_equal(u.stage, UNLOCK_STAGE_UNWRAP);
        assert_int_equal(f.attests, 2);
        assert_int_equal(u.n_sessions, 2);
        unlock_ctx_done(&u);
        assert_int_equal(f.frees, 2);
}

static void test_failures_by_stage(void **state)
{
        struct fake f = {.key = lt_sym_key, .key_size = 32};
        struct unlock_ctx u = {.backends = backends, .userdata = &f};
        struct unlock_ctx none = {.backends = NULL};
        struct cvm_error err = {};
        uint8_t wrong[32] = {0}, s[32];

        (void)state;
        assert_int_equal(unlock_acquire_secret(&none, hdr_a, 0, s, &err), -ENOPKG);
        assert_int_equal(none.stage, UNLOCK_STAGE_TOKEN);
        assert_non_null(strstr(err.message, "no \"trustee\" attestation backend"));
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 1, s, &err), -ENOENT);
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 99, s, &err), -ENOENT);
        assert_int_equal(u.stage, UNLOCK_STAGE_TOKEN);

        f.attest_rc = -EACCES;
        cvm_error_clear(&err);
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), -EACCES);
        assert_int_equal(u.stage, UNLOCK_STAGE_ATTEST);
        assert_string_equal(err.message, "verifier says no");
        assert_int_equal(f.releases, 0);

        f.attest_rc = 0;
        f.release_rc = -ECONNREFUSED;
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), -ECONNREFUSED);
        assert_int_equal(u.stage, UNLOCK_STAGE_RELEASE);

        f.release_rc = 0;
        f.key = wrong;
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), -EKEYREJECTED);
        assert_int_equal(u.stage, UNLOCK_STAGE_UNWRAP);
        f.key_size = 16;
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), -EBADMSG);
        unlock_ctx_done(&u);
}

static void test_deadline(void **state)
{
        struct fake f = {.key = lt_sym_key, .key_size = 32, .slow = true};
        struct unlock_ctx u = {.backends = backends, .userdata = &f};
        struct cvm_error err = {};
        uint8_t s[32];

        (void)state;
        f.u = &u;
        u.deadline_usec = 1; /* already over */
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), -ETIMEDOUT);
        assert_int_equal(u.stage, UNLOCK_STAGE_ATTEST);
        assert_int_equal(f.attests, 0);
        /* Expiring during attestation stops before the release. */
        u.deadline_usec = unlock_now_usec() + 10000000u;
        cvm_error_clear(&err);
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), -ETIMEDOUT);
        assert_int_equal(u.stage, UNLOCK_STAGE_RELEASE);
        assert_non_null(strstr(err.message, "deadline passed before key release"));
        assert_int_equal(f.releases, 0);
        unlock_ctx_done(&u);
}

/* A token copied from another volume fails even with its own "binding" member intact. */
static void test_binding_from_header(void **state)
{
        struct fake f = {.key = lt_sym_key, .key_size = 32};
        struct unlock_ctx u = {.backends = backends, .userdata = &f};
        struct cvm_error err = {};
        struct lukstoken saved = *hdr_a->tokens[0].cvm;
        uint8_t s[32];

        (void)state;
        hdr_a->tokens[0].cvm->wrap = hdr_b->tokens[0].cvm->wrap;
        memcpy(hdr_a->tokens[0].cvm->binding, hdr_b->tokens[0].cvm->binding, LUKSTOKEN_BINDING_SIZE);
        assert_int_equal(unlock_acquire_secret(&u, hdr_a, 0, s, &err), -EKEYREJECTED);
        *hdr_a->tokens[0].cvm = saved;
        unlock_ctx_done(&u);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_attestation_for_all), cmocka_unit_test(test_distinct_verifiers),
                cmocka_unit_test(test_failures_by_stage),       cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_binding_from_header),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
