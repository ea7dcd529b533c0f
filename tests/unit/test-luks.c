/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libcryptsetup adapter on LUKS2 image files (no root, no device-mapper): enrollment,
 * unenrollment, replacement, listing, coexistence with clevis and systemd-tpm2 tokens,
 * recovery after a SIGKILL at every step, and verification from the sealed header copy even
 * when the on-disk header changes after validation.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <libcryptsetup.h>

#include "cleanup.h"
#include "lukstest.h"

static const char tpm2_token[] =
        "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],"
        "\"tpm2-pcr-bank\":\"sha256\",\"tpm2-primary-alg\":\"ecc\",\"tpm2-policy-hash\":\"00ff\",\"tpm2-"
        "pin\":false}";
static const char clevis_token[] = "{\"type\":\"clevis\",\"keyslots\":[\"0\"],\"jwe\":{\"ciphertext\":\"\","
                                   "\"encrypted_key\":\"\",\"iv\":\"x\","
                                   "\"protected\":\"eyJhbGciOiJkaXIifQ\",\"tag\":\"y\"}}";

static struct crypt_device *cd_load(const char *path)
{
        struct crypt_device *cd = NULL;

        crypt_token_external_disable();
        assert_int_equal(crypt_init(&cd, path), 0);
        assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
        return cd;
}

static int add_token(const char *path, const char *json)
{
        struct crypt_device *cd = cd_load(path);
        int r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, json);

        crypt_free(cd);
        assert_true(r >= 0);
        return r;
}

static void assert_recovery_works(const char *path)
{
        struct crypt_device *cd = cd_load(path);

        assert_true(crypt_activate_by_passphrase(cd, NULL, CRYPT_ANY_SLOT, LT_PASSPHRASE,
                                                 strlen(LT_PASSPHRASE), 0) >= 0);
        crypt_free(cd);
}

static int count_keyslots(const char *path)
{
        struct crypt_device *cd = cd_load(path);
        int n = 0;

        for (int k = 0; k < 32; k++) {
                crypt_keyslot_info st = crypt_keyslot_status(cd, k);

                if (st == CRYPT_SLOT_ACTIVE || st == CRYPT_SLOT_ACTIVE_LAST)
                        n++;
        }
        crypt_free(cd);
        return n;
}

static int count_tokens(const char *path, const char *type)
{
        struct crypt_device *cd = cd_load(path);
        int n = 0;

        for (int t = 0; t < 32; t++) {
                const char *ty = NULL;

                if (crypt_token_status(cd, t, &ty) != CRYPT_TOKEN_INACTIVE && ty && strcmp(ty, type) == 0)
                        n++;
        }
        crypt_free(cd);
        return n;
}

/* The whole unlock path minus the backend: validated copy, unwrap with the key, keyslot check. */
static int unlock_test(const char *path, const uint8_t *key, struct cvm_error *err)
{
        _cleanup_(luks_volume_freep) struct luks_volume *v = NULL;
        int r, t;

        r = luks_volume_open(path, &v, err);
        if (r < 0)
                return r;
        t = luks2hdr_next_cvm_token(luks_volume_header(v), 0);
        if (t < 0)
                return t;
        return luks_volume_unlock(v, t, key, 32, LUKSWRAP_MATERIAL_SYMMETRIC, NULL, 0, err);
}

static int teardown(void **state)
{
        (void)state;
        lt_cleanup();
        return 0;
}

static void test_enroll_unlock_unenroll(void **state)
{
        const char *img = lt_path("e.img");
        struct luks_enroll_result res;
        _cleanup_(luks_listing_freep) struct luks_listing *l = NULL;
        struct cvm_error err = {};
        uint8_t wrong[32] = {1};
        unsigned removed = 0;

        (void)state;
        lt_format(img, 0);
        res = lt_enroll(img);
        assert_int_equal(res.token, 0);
        assert_int_equal(res.keyslot, 1);
        assert_int_equal(res.recovered, 0);
        assert_int_equal(count_keyslots(img), 2);
        assert_recovery_works(img);

        assert_int_equal(unlock_test(img, lt_sym_key, &err), 0);
        assert_int_equal(unlock_test(img, wrong, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "authentication failed"));

        assert_int_equal(luks_list(img, &l, &err), 0);
        assert_int_equal(l->validation, 0);
        assert_true(l->keyslots[0].active);
        assert_true(l->keyslots[1].active);
        assert_string_equal(l->keyslots[1].kdf, "pbkdf2");
        assert_string_equal(l->keyslots[1].hash, "sha512");
        assert_int_equal(l->keyslots[1].iterations, 1000);
        assert_true(l->tokens[0].active);
        assert_string_equal(l->tokens[0].type, "cvm-agent");
        assert_int_equal(l->tokens[0].keyslots, 1u << 1);
        assert_null(strstr(l->tokens[0].json, "pending_keyslot"));

        /* Enrolling twice is refused; --replace swaps keyslot and token. */
        cvm_error_clear(&err);
        assert_int_equal(lt_enroll_ex(img, false, NULL, NULL, &res, &err), -EEXIST);
        assert_non_null(strstr(err.message, "already enrolled"));
        assert_int_equal(lt_enroll_ex(img, true, NULL, NULL, &res, &err), 0);
        assert_int_equal(res.replaced, 1);
        assert_int_equal(res.keyslot, 2);
        assert_int_equal(res.token, 1);
        assert_int_equal(count_keyslots(img), 2);
        assert_int_equal(count_tokens(img, "cvm-agent"), 1);
        assert_int_equal(unlock_test(img, lt_sym_key, &err), 0);
        assert_recovery_works(img);

        /* Unenroll, unenroll again, re-enroll. */
        assert_int_equal(luks_unenroll(img, -1, NULL, NULL, &removed, &err), 0);
        assert_int_equal(removed, 1);
        assert_int_equal(count_keyslots(img), 1);
        assert_int_equal(count_tokens(img, "cvm-agent"), 0);
        assert_recovery_works(img);
        cvm_error_clear(&err);
        assert_int_equal(luks_unenroll(img, -1, NULL, NULL, &removed, &err), -ENOENT);
        assert_non_null(strstr(err.message, "no cvm-agent enrollment"));
        res = lt_enroll(img);
        assert_int_equal(res.keyslot, 1);
        cvm_error_clear(&err);
        assert_int_equal(luks_unenroll(img, 5, NULL, NULL, &removed, &err), -ENOENT);
        assert_int_equal(luks_unenroll(img, res.token, NULL, NULL, &removed, &err), 0);
        assert_int_equal(count_keyslots(img), 1);
}

static void test_wrong_passphrase(void **state)
{
        const char *img = lt_path("w.img");
        struct lukstoken cfg = lt_trustee_config();
        struct lukswrap_key key = {.alg = LUKSTOKEN_WRAP_A256GCM};
        struct luks_enroll_params p = {
                .device = img, .passphrase = "nope", .passphrase_size = 4, .config = &cfg, .key = &key};
        struct luks_enroll_result res;
        struct cvm_error err = {};

        (void)state;
        lt_format(img, 0);
        assert_int_equal(luks_enroll(&p, &res, &err), -EPERM);
        assert_non_null(strstr(err.message, "passphrase opens no keyslot"));
        /* The volume key is obtained before anything is written. */
        assert_int_equal(count_tokens(img, "cvm-agent"), 0);
        assert_int_equal(count_keyslots(img), 1);
}

static void test_coexistence(void **state)
{
        const char *img = lt_path("c.img");
        struct luks_enroll_result res;
        struct cvm_error err = {};
        unsigned removed;

        (void)state;
        lt_format(img, 4096);
        assert_int_equal(add_token(img, tpm2_token), 0);
        assert_int_equal(add_token(img, clevis_token), 1);
        res = lt_enroll(img);
        assert_int_equal(res.token, 2);
        assert_int_equal(unlock_test(img, lt_sym_key, &err), 0);
        assert_int_equal(count_tokens(img, "systemd-tpm2"), 1);
        assert_int_equal(count_tokens(img, "clevis"), 1);
        assert_int_equal(luks_unenroll(img, -1, NULL, NULL, &removed, &err), 0);
        assert_int_equal(count_tokens(img, "systemd-tpm2"), 1);
        assert_int_equal(count_tokens(img, "clevis"), 1);
        assert_int_equal(count_keyslots(img), 1);
}

/* A keyslot shared with a foreign token is kept when our token goes. */
static void test_shared_keyslot_kept(void **state)
{
        const char *img = lt_path("s.img");
        struct luks_enroll_result res;
        struct cvm_error err = {};
        char json[512];
        unsigned removed;

        (void)state;
        lt_format(img, 0);
        res = lt_enroll(img);
        snprintf(json, sizeof(json), "{\"type\":\"other\",\"keyslots\":[\"%d\"]}", res.keyslot);
        add_token(img, json);
        assert_int_equal(luks_unenroll(img, res.token, NULL, NULL, &removed, &err), 0);
        assert_int_equal(count_keyslots(img), 2);
}

static void test_last_keyslot_refused(void **state)
{
        const char *img = lt_path("l.img");
        struct luks_enroll_result res;
        struct crypt_device *cd;
        struct cvm_error err = {};
        unsigned removed;

        (void)state;
        lt_format(img, 0);
        res = lt_enroll(img);
        cd = cd_load(img);
        assert_int_equal(crypt_keyslot_destroy(cd, 0), 0);
        crypt_free(cd);
        assert_int_equal(luks_unenroll(img, res.token, NULL, NULL, &removed, &err), -EBUSY);
        assert_non_null(strstr(err.message, "last keyslot"));
        assert_int_equal(unlock_test(img, lt_sym_key, &err), 0);
}

/* The sealed copy is what gets used: changing the disk after validation has no effect. */
static void test_validated_copy_is_used(void **state)
{
        const char *img = lt_path("t.img");
        _cleanup_(luks_volume_freep) struct luks_volume *v = NULL;
        struct crypt_device *cd;
        struct cvm_error err = {};
        int t;

        (void)state;
        lt_format(img, 0);
        lt_enroll(img);
        assert_int_equal(luks_volume_open(img, &v, &err), 0);
        t = luks2hdr_next_cvm_token(luks_volume_header(v), 0);
        assert_int_equal(t, 0);

        /* The host removes our keyslot from the disk header after validation... */
        cd = cd_load(img);
        assert_int_equal(crypt_keyslot_destroy(cd, 1), 0);
        crypt_free(cd);
        /* ...the copy still opens (keyslot area bytes were copied too). */
        assert_int_equal(
                luks_volume_unlock(v, t, lt_sym_key, 32, LUKSWRAP_MATERIAL_SYMMETRIC, NULL, 0, &err), 0);

        /* Nobody can write to the copy. */
        assert_true(pwrite(luks_volume_header_fd(v), "x", 1, 0) < 0);
        assert_int_equal(errno, EPERM);
        assert_true(ftruncate(luks_volume_header_fd(v), 0) < 0);
}

static void test_rejected_header(void **state)
{
        const char *img = lt_path("r.img");
        _cleanup_free_ uint8_t *buf = NULL;
        struct luks_volume *v = NULL;
        _cleanup_(luks_listing_freep) struct luks_listing *l = NULL;
        struct cvm_error err = {};
        json_object *root;
        size_t size;

        (void)state;
        lt_format(img, 0);
        lt_enroll(img);
        buf = lt_read_header(img, &size);
        root = lt_get_json(buf);
        json_object_object_add(lt_at(root, "segments.0"), "encryption",
                               json_object_new_string("cipher_null-ecb"));
        lt_put_json(buf, size / 2, root);
        json_object_put(root);
        lt_write_header(img, buf, size);

        assert_int_equal(luks_volume_open(img, &v, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err.message, "segments.0.encryption: cipher_null"));
        assert_null(v);
        assert_int_equal(luks_list(img, &l, &err), 0);
        assert_int_equal(l->validation, -EOPNOTSUPP);
        assert_non_null(strstr(l->validation_error, "cipher_null"));
        /* Enrollment refuses what unlock refuses. */
        cvm_error_clear(&err);
        assert_int_equal(lt_enroll_ex(img, true, NULL, NULL, NULL, &err), -EOPNOTSUPP);
}

static void test_not_luks(void **state)
{
        const char *img = lt_path("n.img");
        struct luks_volume *v = NULL;
        struct cvm_error err = {};
        int fd;

        (void)state;
        fd = open(img, O_CREAT | O_RDWR | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 1 << 20), 0);
        close(fd);
        assert_int_equal(luks_volume_open(img, &v, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "no LUKS magic"));
        cvm_error_clear(&err);
        assert_int_equal(luks_volume_open(lt_path("missing.img"), &v, &err), -ENOENT);
        cvm_error_clear(&err);
        assert_int_equal(lt_enroll_ex(img, false, NULL, NULL, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "not a LUKS2 volume"));
}

/* ---- SIGKILL at every step ------------------------------------------------------------------ */

struct kill_at {
        enum luks_step step;
        int hits; /* kill on this occurrence of the step (replace runs OLD_* once per old token) */
};

static void kill_hook(enum luks_step step, void *userdata)
{
        struct kill_at *k = userdata;

        if (step == k->step && --k->hits == 0)
                raise(SIGKILL);
}

/* Runs @fn in a child that is SIGKILLed at @step; returns true if it was killed. */
static bool run_killed(void (*fn)(const char *img, struct kill_at *k), const char *img, enum luks_step step)
{
        struct kill_at k = {.step = step, .hits = 1};
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                fn(img, &k);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                return true;
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
                fail_msg("child failed at step %s", luks_step_name(step));
        return false;
}

static void child_enroll(const char *img, struct kill_at *k)
{
        struct cvm_error err = {};

        if (lt_enroll_ex(img, false, kill_hook, k, NULL, &err) < 0)
                _exit(1);
}

static void child_replace(const char *img, struct kill_at *k)
{
        struct cvm_error err = {};

        if (lt_enroll_ex(img, true, kill_hook, k, NULL, &err) < 0)
                _exit(1);
}

static void child_unenroll(const char *img, struct kill_at *k)
{
        struct cvm_error err = {};

        if (luks_unenroll(img, -1, kill_hook, k, NULL, &err) < 0)
                _exit(1);
}

static void assert_clean_after_recovery(const char *img, int want_keyslots, int want_tokens)
{
        _cleanup_(luks_volume_freep) struct luks_volume *v = NULL;
        struct cvm_error err = {};
        unsigned cleaned = 0;
        int r;

        assert_recovery_works(img);
        r = luks_recover(img, &cleaned, &err);
        if (r < 0)
                fail_msg("recover: %s", cvm_error_message(&err, r));
        assert_recovery_works(img);
        assert_int_equal(count_keyslots(img), want_keyslots);
        assert_int_equal(count_tokens(img, "cvm-agent"), want_tokens);
        r = luks_volume_open(img, &v, &err);
        if (r < 0)
                fail_msg("header after recovery: %s", cvm_error_message(&err, r));
        if (want_tokens)
                assert_int_equal(unlock_test(img, lt_sym_key, &err), 0);
}

static void test_killed_enroll(void **state)
{
        static const struct {
                enum luks_step step;
                int keyslots, tokens;
        } cases[] = {
                {LUKS_STEP_RECOVERED, 1, 0},
                {LUKS_STEP_PENDING, 1, 0},
                {LUKS_STEP_KEYSLOT, 1, 0},
                {LUKS_STEP_ENROLLED, 2, 1},
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *img = lt_path("k.img");
                struct luks_enroll_result res;
                struct cvm_error err = {};

                lt_format(img, 0);
                assert_true(run_killed(child_enroll, img, cases[i].step));
                assert_clean_after_recovery(img, cases[i].keyslots, cases[i].tokens);
                /* The next run completes (replacing if the killed one had finished). */
                assert_int_equal(lt_enroll_ex(img, true, NULL, NULL, &res, &err), 0);
                assert_int_equal(count_keyslots(img), 2);
                assert_int_equal(count_tokens(img, "cvm-agent"), 1);
                assert_int_equal(unlock_test(img, lt_sym_key, &err), 0);
        }
}

static void test_killed_enroll_recovered_by_enroll(void **state)
{
        const char *img = lt_path("k2.img");
        struct luks_enroll_result res;
        struct cvm_error err = {};

        (void)state;
        lt_format(img, 0);
        assert_true(run_killed(child_enroll, img, LUKS_STEP_KEYSLOT));
        assert_int_equal(count_keyslots(img), 2); /* orphan-to-be, named by the pending token */
        assert_recovery_works(img);
        assert_int_equal(lt_enroll_ex(img, false, NULL, NULL, &res, &err), 0);
        assert_int_equal(res.recovered, 1);
        assert_int_equal(count_keyslots(img), 2);
        assert_int_equal(count_tokens(img, "cvm-agent"), 1);
}

static void test_killed_replace(void **state)
{
        static const struct {
                enum luks_step step;
                int tokens;
        } cases[] = {
                {LUKS_STEP_PENDING, 1},     {LUKS_STEP_KEYSLOT, 1},     {LUKS_STEP_ENROLLED, 2},
                {LUKS_STEP_OLD_PENDING, 1}, {LUKS_STEP_OLD_KEYSLOT, 1}, {LUKS_STEP_OLD_REMOVED, 1},
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *img = lt_path("kr.img");

                lt_format(img, 0);
                lt_enroll(img);
                assert_true(run_killed(child_replace, img, cases[i].step));
                assert_clean_after_recovery(img, 1 + cases[i].tokens, cases[i].tokens);
        }
}

static void test_killed_unenroll(void **state)
{
        static const enum luks_step steps[] = {LUKS_STEP_RECOVERED, LUKS_STEP_OLD_PENDING,
                                               LUKS_STEP_OLD_KEYSLOT, LUKS_STEP_OLD_REMOVED};

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                const char *img = lt_path("ku.img");
                int tokens = steps[i] == LUKS_STEP_RECOVERED ? 1 : 0;

                lt_format(img, 0);
                lt_enroll(img);
                assert_true(run_killed(child_unenroll, img, steps[i]));
                assert_clean_after_recovery(img, 1 + tokens, tokens);
        }
}

/* A pending token whose keyslot is not ours (admin's luksAddKey took the slot): keyslot kept. */
static void test_recovery_spares_foreign_keyslot(void **state)
{
        const char *img = lt_path("f.img");
        _cleanup_free_ char *pending = NULL;
        struct crypt_device *cd;
        struct crypt_pbkdf_type pbkdf = {.type = CRYPT_KDF_PBKDF2,
                                         .hash = "sha256",
                                         .iterations = 1000,
                                         .flags = CRYPT_PBKDF_NO_BENCHMARK};
        struct cvm_error err = {};
        unsigned cleaned = 0;

        (void)state;
        lt_format(img, 0);
        assert_int_equal(lukstoken_pending_json(1, &pending), 0);
        add_token(img, pending);
        cd = cd_load(img);
        assert_int_equal(crypt_set_pbkdf_type(cd, &pbkdf), 0);
        assert_int_equal(
                crypt_keyslot_add_by_passphrase(cd, 1, LT_PASSPHRASE, strlen(LT_PASSPHRASE), "admin", 5), 1);
        crypt_free(cd);
        assert_int_equal(luks_recover(img, &cleaned, &err), 0);
        assert_int_equal(cleaned, 1);
        assert_int_equal(count_keyslots(img), 2);
        assert_int_equal(count_tokens(img, "cvm-agent"), 0);
}

/* A token left without keyslot (luksKillSlot on ours) is rejected by unlock, cleaned by recovery. */
static void test_dead_token(void **state)
{
        const char *img = lt_path("d.img");
        struct luks_enroll_result res;
        struct luks_volume *v = NULL;
        struct crypt_device *cd;
        struct cvm_error err = {};
        unsigned cleaned = 0;

        (void)state;
        lt_format(img, 0);
        res = lt_enroll(img);
        cd = cd_load(img);
        assert_int_equal(crypt_keyslot_destroy(cd, res.keyslot), 0);
        crypt_free(cd);
        assert_int_equal(luks_volume_open(img, &v, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "tokens.0.keyslots: 0 entries"));
        assert_int_equal(luks_recover(img, &cleaned, &err), 0);
        assert_int_equal(cleaned, 1);
        assert_int_equal(count_tokens(img, "cvm-agent"), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_enroll_unlock_unenroll, teardown),
                cmocka_unit_test_teardown(test_wrong_passphrase, teardown),
                cmocka_unit_test_teardown(test_coexistence, teardown),
                cmocka_unit_test_teardown(test_shared_keyslot_kept, teardown),
                cmocka_unit_test_teardown(test_last_keyslot_refused, teardown),
                cmocka_unit_test_teardown(test_validated_copy_is_used, teardown),
                cmocka_unit_test_teardown(test_rejected_header, teardown),
                cmocka_unit_test_teardown(test_not_luks, teardown),
                cmocka_unit_test_teardown(test_killed_enroll, teardown),
                cmocka_unit_test_teardown(test_killed_enroll_recovered_by_enroll, teardown),
                cmocka_unit_test_teardown(test_killed_replace, teardown),
                cmocka_unit_test_teardown(test_killed_unenroll, teardown),
                cmocka_unit_test_teardown(test_recovery_spares_foreign_keyslot, teardown),
                cmocka_unit_test_teardown(test_dead_token, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
