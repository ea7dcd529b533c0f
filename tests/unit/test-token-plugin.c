/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token plugin in-process: the built libcryptsetup-token-cvm-agent.so exports exactly the
 * CRYPTSETUP_TOKEN_1.0 symbols; registered with crypt_token_register() (cryptsetup 2.6 has no
 * way to point external-token loading elsewhere), libcryptsetup runs its validate() on every
 * token write, its dump() in crypt_dump(), and its open() in crypt_activate_by_token(), which
 * refuses hostile or swapped headers and otherwise, with no TPM reachable for the local PCR guard,
 * reports the service as absent with -EAGAIN (the attested success path is tested through
 * cryptsetup in tests/cli/test-unlock-e2e.sh).
 */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <libcryptsetup.h>

#include "cleanup.h"
#include "lukstest.h"

static void *plugin;
static crypt_token_handler handler = {.name = "cvm-agent"};
static const char *(*version_fn)(void);
static char logbuf[8192];

static void log_cb(int level, const char *msg, void *usrptr)
{
        (void)level;
        (void)usrptr;
        strncat(logbuf, msg, sizeof(logbuf) - strlen(logbuf) - 1);
}

static int setup(void **state)
{
        const char *dir = getenv("CVM_BUILDDIR");
        char path[4096];

        (void)state;
        snprintf(path, sizeof(path), "%s/libcryptsetup-token-cvm-agent.so", dir && *dir ? dir : "build");
        plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!plugin) {
                printf("SKIP: %s not built (%s)\n", path, dlerror());
                return 0;
        }
        handler.open = (crypt_token_open_func)dlvsym(plugin, CRYPT_TOKEN_ABI_OPEN, CRYPT_TOKEN_ABI_VERSION1);
        handler.buffer_free = (crypt_token_buffer_free_func)dlvsym(plugin, CRYPT_TOKEN_ABI_BUFFER_FREE,
                                                                   CRYPT_TOKEN_ABI_VERSION1);
        handler.validate = (crypt_token_validate_func)dlvsym(plugin, CRYPT_TOKEN_ABI_VALIDATE,
                                                             CRYPT_TOKEN_ABI_VERSION1);
        handler.dump = (crypt_token_dump_func)dlvsym(plugin, CRYPT_TOKEN_ABI_DUMP, CRYPT_TOKEN_ABI_VERSION1);
        version_fn =
                (const char *(*)(void))dlvsym(plugin, CRYPT_TOKEN_ABI_VERSION, CRYPT_TOKEN_ABI_VERSION1);
        if (!handler.open || !handler.buffer_free || !handler.validate || !handler.dump || !version_fn)
                return -1;
        crypt_token_external_disable();
        return crypt_token_register(&handler) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        lt_cleanup();
        return 0;
}

#define REQUIRE_PLUGIN()        \
        do {                    \
                if (!plugin) {  \
                        skip(); \
                }               \
        } while (0)

static void test_symbols(void **state)
{
        (void)state;
        REQUIRE_PLUGIN();
        assert_non_null(dlvsym(plugin, CRYPT_TOKEN_ABI_OPEN_PIN, CRYPT_TOKEN_ABI_VERSION1));
        assert_non_null(strstr(version_fn(), "cvm-agent"));
        assert_memory_equal(version_fn(), "1.0 ", 4);
        /* The version script hides everything else. */
        assert_null(dlsym(plugin, "lukstoken_parse"));
        assert_null(dlsym(plugin, "luks2hdr_parse"));
        assert_null(dlsym(plugin, "luks_volume_open"));
}

static void test_validate(void **state)
{
        (void)state;
        REQUIRE_PLUGIN();
        assert_int_equal(handler.validate(NULL, "{\"type\":\"cvm-agent\",\"keyslots\":[],\"version\":1,"
                                                "\"pending_keyslot\":\"3\"}"),
                         0);
        assert_int_not_equal(
                handler.validate(NULL, "{\"type\":\"cvm-agent\",\"keyslots\":[],\"version\":7}"), 0);
        assert_int_not_equal(handler.validate(NULL, "not json"), 0);
}

static void test_in_libcryptsetup(void **state)
{
        const char *img = lt_path("p.img");
        struct crypt_device *cd = NULL;
        struct luks_enroll_result res;
        struct cvm_error err = {};
        char *buf = NULL;
        size_t len = 0;

        (void)state;
        REQUIRE_PLUGIN();
        lt_format(img, 0);
        /* Enrollment writes a pending token, then the enrolled one: both pass the plugin's validate(). */
        res = lt_enroll(img);
        assert_int_equal(crypt_init(&cd, img), 0);
        crypt_set_log_callback(cd, log_cb, NULL);
        assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);

        /* validate() refuses a malformed cvm-agent token. */
        assert_int_equal(
                crypt_token_json_set(cd, CRYPT_ANY_TOKEN,
                                     "{\"type\":\"cvm-agent\",\"keyslots\":[\"0\"],\"version\":1,\"x\":1}"),
                -EINVAL);

        /* dump() prints the configuration, never the wrapped secret. */
        logbuf[0] = '\0';
        assert_int_equal(crypt_dump(cd), 0);
        assert_non_null(strstr(logbuf, "backend:    trustee"));
        assert_non_null(strstr(logbuf, "resource:   default/cvm-agent/disk0"));
        assert_null(strstr(logbuf, "\"ct\""));

        /* open(): a valid header but no TPM for the PCR guard: "service absent". */
        logbuf[0] = '\0';
        assert_int_equal(setenv("CVM_AGENT_TCTI", "swtpm:host=127.0.0.1,port=1", 1), 0);
        crypt_set_debug_level(CRYPT_DEBUG_ALL);
        assert_int_equal(crypt_activate_by_token(cd, NULL, res.token, NULL, 0), -EAGAIN);
        crypt_set_debug_level(CRYPT_DEBUG_NONE);
        assert_non_null(strstr(logbuf, "cvm-agent: no automatic unlock: PCR guard: "));
        assert_true(crypt_activate_by_token_pin(cd, NULL, NULL, res.token, "1234", 4, NULL, 0) < 0);
        assert_int_equal(handler.open(cd, 5, &buf, &len, NULL), -ENOENT);

        /* The header changes on disk after libcryptsetup loaded it: open() refuses. */
        assert_int_equal(lt_enroll_ex(img, true, NULL, NULL, NULL, &err), 0);
        logbuf[0] = '\0';
        crypt_set_debug_level(CRYPT_DEBUG_ALL);
        assert_int_equal(handler.open(cd, res.token, &buf, &len, NULL), -ENOENT);
        crypt_set_debug_level(CRYPT_DEBUG_NONE);
        assert_non_null(strstr(logbuf, "the loaded metadata differs from the validated header"));
        crypt_free(cd);
}

static void test_hostile_header(void **state)
{
        const char *img = lt_path("h.img");
        struct crypt_device *cd = NULL;
        _cleanup_free_ uint8_t *hdr = NULL;
        struct luks_enroll_result res;
        json_object *root;
        char *buf = NULL;
        size_t size, len = 0;

        (void)state;
        REQUIRE_PLUGIN();
        lt_format(img, 0);
        res = lt_enroll(img);
        hdr = lt_read_header(img, &size);
        root = lt_get_json(hdr);
        json_object_object_add(lt_at(root, "segments.0"), "encryption",
                               json_object_new_string("cipher_null-ecb"));
        lt_put_json(hdr, size / 2, root);
        json_object_put(root);
        lt_write_header(img, hdr, size);

        assert_int_equal(crypt_init(&cd, img), 0);
        crypt_set_log_callback(cd, log_cb, NULL);
        assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0); /* libcryptsetup itself accepts it */
        logbuf[0] = '\0';
        crypt_set_debug_level(CRYPT_DEBUG_ALL);
        assert_int_equal(handler.open(cd, res.token, &buf, &len, NULL), -ENOENT);
        crypt_set_debug_level(CRYPT_DEBUG_NONE);
        assert_non_null(strstr(logbuf, "header rejected: segments.0.encryption: cipher_null"));
        assert_int_equal(crypt_activate_by_token(cd, NULL, res.token, NULL, 0), -ENOENT);
        crypt_free(cd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_symbols),
                cmocka_unit_test(test_validate),
                cmocka_unit_test(test_in_libcryptsetup),
                cmocka_unit_test(test_hostile_header),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
