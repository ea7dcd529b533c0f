/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the global configuration parser (agent/lib/config.c). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "testlib.h"

#include "cleanup.h"
#include "config.h"
#include "tpm.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct config *, config_free)

static struct config *new_config(void)
{
        struct config *c = NULL;

        assert_int_equal(config_new(&c), 0);
        assert_non_null(c);
        return c;
}

/* Parses @text into a fresh config as "t.conf"; returns the result, the message in @err. */
static int parse(struct config *c, const char *text, struct cvm_error *err)
{
        cvm_error_clear(err);
        return config_parse(c, "t.conf", text, strlen(text), err);
}

/* @text must fail with -EBADMSG and a message containing @needle. */
static void expect_error(const char *text, const char *needle)
{
        _cleanup_(config_freep) struct config *c = new_config();
        struct cvm_error err = {};
        int r = parse(c, text, &err);

        if (r != -EBADMSG || !strstr(err.message, needle))
                fail_msg("'%s': got %d '%s', expected -EBADMSG with '%s'", text, r, err.message, needle);
}

static void test_defaults(void **state)
{
        _cleanup_(config_freep) struct config *c = new_config();

        assert_string_equal(config_get_string(c, CONFIG_TPM_TCTI), TPM_TCTI_DEFAULT);
        assert_int_equal(config_get_usec(c, CONFIG_UNLOCK_DEADLINE), 60 * USEC_PER_SEC);
        assert_int_equal(config_get_uint(c, CONFIG_UNLOCK_PCR_EXTEND), 15);
        assert_null(config_get_string(c, CONFIG_UNLOCK_LOCAL_POLICY));
        assert_string_equal(config_get_string(c, CONFIG_UNLOCK_POLICY_MODE), "enforce");
        assert_null(config_get_string(c, CONFIG_NETWORK_CA_FILE));
        assert_int_equal(config_get_usec(c, CONFIG_NETWORK_CONNECT_TIMEOUT), 10 * USEC_PER_SEC);
        assert_int_equal(config_get_usec(c, CONFIG_MONITOR_INTERVAL), 60 * USEC_PER_SEC);
        assert_int_equal(config_get_usec(c, CONFIG_MONITOR_JITTER), 10 * USEC_PER_SEC);
        assert_string_equal(config_get_string(c, CONFIG_MONITOR_STATE_DIRECTORY), "/run/cvm-agent");
        assert_int_equal(config_get_usec(c, CONFIG_MONITOR_REATTEST_INTERVAL), 3600 * USEC_PER_SEC);
        assert_true(config_get_bool(c, CONFIG_MONITOR_IMA));
        for (enum config_key k = 0; k < _CONFIG_KEY_MAX; k++) {
                const struct config_schema *sc = config_schema(k);
                enum config_key found;

                assert_string_equal(config_get_source(c, k), "default");
                /* Every default is already canonical: it reads back as itself. */
                if (sc->default_value)
                        assert_string_equal(config_get_text(c, k), sc->default_value);
                assert_int_equal(config_lookup(sc->section, sc->key, &found), 0);
                assert_int_equal(found, k);
        }
        assert_int_equal(config_n_files(c), 0);
        assert_null(config_file(c, 0));
}

static void test_lookup(void **state)
{
        enum config_key k = _CONFIG_KEY_MAX;

        assert_int_equal(config_lookup("TPM", "TCTI", &k), 0);
        assert_int_equal(k, CONFIG_TPM_TCTI);
        assert_int_equal(config_lookup("TPM", "tcti", &k), -ENOKEY);
        assert_int_equal(config_lookup("tpm", "TCTI", &k), -ENOENT);
        assert_int_equal(config_lookup("Reactions", "Hook", &k), -ENOENT);
}

static void test_parse_syntax(void **state)
{
        _cleanup_(config_freep) struct config *c = new_config();
        struct cvm_error err = {};

        assert_int_equal(parse(c,
                               "# comment\n"
                               "; another comment\n"
                               "\n"
                               "  [ TPM ]  \n"
                               "\tTCTI =  swtpm:host=127.0.0.1,port=2321 \r\n"
                               "[Unlock]\n"
                               "Deadline=2min\n"
                               "PCRExtend=14\n"
                               "PCRExtend=13\n" /* last wins */
                               "LocalPolicy=/etc/cvm-agent/policy.json\n"
                               "PolicyMode=warn\n"
                               "[X-Site]\n"
                               "Anything=goes here\n"
                               "[Monitor]\n"
                               "X-Owner=ops team\n"
                               "IMA=off\n"
                               "Jitter=0\n"
                               "ReattestInterval = 1h 30min",
                               &err),
                         0);
        assert_string_equal(config_get_string(c, CONFIG_TPM_TCTI), "swtpm:host=127.0.0.1,port=2321");
        assert_string_equal(config_get_source(c, CONFIG_TPM_TCTI), "t.conf:5");
        assert_int_equal(config_get_usec(c, CONFIG_UNLOCK_DEADLINE), 120 * USEC_PER_SEC);
        assert_string_equal(config_get_text(c, CONFIG_UNLOCK_DEADLINE), "2min");
        assert_int_equal(config_get_uint(c, CONFIG_UNLOCK_PCR_EXTEND), 13);
        assert_string_equal(config_get_source(c, CONFIG_UNLOCK_PCR_EXTEND), "t.conf:9");
        assert_string_equal(config_get_string(c, CONFIG_UNLOCK_LOCAL_POLICY), "/etc/cvm-agent/policy.json");
        assert_string_equal(config_get_string(c, CONFIG_UNLOCK_POLICY_MODE), "warn");
        assert_false(config_get_bool(c, CONFIG_MONITOR_IMA));
        assert_string_equal(config_get_text(c, CONFIG_MONITOR_IMA), "no");
        assert_int_equal(config_get_usec(c, CONFIG_MONITOR_JITTER), 0);
        assert_int_equal(config_get_usec(c, CONFIG_MONITOR_REATTEST_INTERVAL), 5400 * USEC_PER_SEC);
        assert_string_equal(config_get_text(c, CONFIG_MONITOR_REATTEST_INTERVAL), "1h 30min");
        assert_string_equal(config_get_source(c, CONFIG_NETWORK_CONNECT_TIMEOUT), "default");
        assert_int_equal(config_n_files(c), 1);
        assert_string_equal(config_file(c, 0), "t.conf");

        /* An empty assignment resets to the default, and records where. */
        assert_int_equal(parse(c, "[Unlock]\nPCRExtend=\nLocalPolicy=\n", &err), 0);
        assert_int_equal(config_get_uint(c, CONFIG_UNLOCK_PCR_EXTEND), 15);
        assert_string_equal(config_get_source(c, CONFIG_UNLOCK_PCR_EXTEND), "t.conf:2");
        assert_null(config_get_string(c, CONFIG_UNLOCK_LOCAL_POLICY));
        assert_int_equal(config_n_files(c), 2);

        /* Empty input and a file of comments are fine. */
        assert_int_equal(config_parse(c, "e.conf", "", 0, &err), 0);
        assert_int_equal(parse(c, "#only\n\n;comments\n", &err), 0);
}

static void test_syntax_errors(void **state)
{
        expect_error("TCTI=x\n", "t.conf:1: TCTI= outside of a [Section]");
        expect_error("# c\n[Nope]\n", "t.conf:2: unknown section [Nope]");
        expect_error("[Reactions]\n", "unknown section [Reactions]");
        expect_error("[TPM\n", "t.conf:1: section header without closing ']'");
        expect_error("[]\n", "invalid section name");
        expect_error("[T P M]\n", "invalid section name");
        expect_error("[TPM] x\n", "section header without closing ']'");
        expect_error("[TPM]\nTCTI\n", "t.conf:2: expected [Section] or Key=Value");
        expect_error("[TPM]\n=x\n", "t.conf:2: invalid key name");
        expect_error("[TPM]\nTC TI=x\n", "invalid key name");
        expect_error("[TPM]\nDevice=/dev/tpm0\n", "t.conf:2: unknown key Device= in section [TPM]");
        expect_error("[Unlock]\nTCTI=x\n", "unknown key TCTI= in section [Unlock]");
        expect_error("[TPM]\ntcti=x\n", "unknown key tcti=");
        expect_error("[TPM]\nTCTI=a\\\n", "t.conf:2: line continuation");
        expect_error("[TPM]\nTCTI=a\x01\n", "t.conf:2: control character 0x01 at column 7");
        expect_error("[TPM]\nTCTI=a\rb\n", "control character 0x0d");
        expect_error("[TPM]\x7f\n", "control character 0x7f");
}

static void test_limits(void **state)
{
        _cleanup_(config_freep) struct config *c = new_config();
        _cleanup_free_ char *big = NULL, *line = NULL, *value = NULL;
        struct cvm_error err = {};
        static const char nul[] = "[TPM]\nTCTI=a\0b\n";

        /* A line of exactly CONFIG_MAX_LINE bytes is accepted, one more is not. */
        line = malloc(CONFIG_MAX_LINE + 16);
        assert_non_null(line);
        memset(line, '#', CONFIG_MAX_LINE);
        line[CONFIG_MAX_LINE] = '\0';
        assert_int_equal(parse(c, line, &err), 0);
        strcpy(line + CONFIG_MAX_LINE, "#\n");
        assert_int_equal(parse(c, line, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "t.conf:1: line of 4097 bytes exceeds the 4096 byte limit"));

        /* A file above 64 KiB. */
        big = malloc(CONFIG_MAX_FILE_SIZE + 2);
        assert_non_null(big);
        memset(big, '\n', CONFIG_MAX_FILE_SIZE + 1);
        assert_int_equal(config_parse(c, "big.conf", big, CONFIG_MAX_FILE_SIZE, &err), 0);
        cvm_error_clear(&err);
        assert_int_equal(config_parse(c, "big.conf", big, CONFIG_MAX_FILE_SIZE + 1, &err), -EFBIG);
        assert_non_null(strstr(err.message, "big.conf: 65537 bytes exceed"));

        /* NUL inside the text. */
        cvm_error_clear(&err);
        assert_int_equal(config_parse(c, "nul.conf", nul, sizeof(nul) - 1, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "nul.conf:2: control character 0x00"));

        /* A value above CONFIG_MAX_VALUE bytes. */
        value = malloc(CONFIG_MAX_VALUE + 32);
        assert_non_null(value);
        strcpy(value, "[TPM]\nTCTI=");
        memset(value + strlen(value), 'a', CONFIG_MAX_VALUE + 1);
        value[11 + CONFIG_MAX_VALUE + 1] = '\0';
        assert_int_equal(parse(c, value, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "t.conf:2: TCTI= value exceeds 1024 bytes"));
        value[11 + CONFIG_MAX_VALUE] = '\0';
        assert_int_equal(parse(c, value, &err), 0);
}

static void test_value_errors(void **state)
{
        /* integers */
        expect_error("[Unlock]\nPCRExtend=16\n", "t.conf:2: PCRExtend=16 is out of range 8..15");
        expect_error("[Unlock]\nPCRExtend=7\n", "out of range 8..15");
        expect_error("[Unlock]\nPCRExtend=99999999999999999999999\n", "out of range");
        expect_error("[Unlock]\nPCRExtend=15x\n", "PCRExtend=15x is not a decimal integer");
        expect_error("[Unlock]\nPCRExtend=-1\n", "not a decimal integer");
        expect_error("[Unlock]\nPCRExtend=+9\n", "not a decimal integer");
        expect_error("[Unlock]\nPCRExtend=09\n", "not a decimal integer");
        expect_error("[Unlock]\nPCRExtend=0x0f\n", "not a decimal integer");
        /* durations */
        expect_error("[Unlock]\nDeadline=30x\n", "t.conf:2: Deadline=30x is not a duration");
        expect_error("[Unlock]\nDeadline=1.5s\n", "not a duration");
        expect_error("[Unlock]\nDeadline=s\n", "not a duration");
        expect_error("[Unlock]\nDeadline=30 s x\n", "not a duration");
        expect_error("[Unlock]\nDeadline=-5s\n", "not a duration");
        expect_error("[Unlock]\nDeadline=0\n", "Deadline=0 is out of range 1s..1h");
        expect_error("[Unlock]\nDeadline=3601\n", "out of range 1s..1h");
        expect_error("[Unlock]\nDeadline=99999999999999999999d\n", "out of range");
        expect_error("[Network]\nConnectTimeout=99ms\n", "ConnectTimeout=99ms is out of range 100ms..5min");
        /* booleans */
        expect_error("[Monitor]\nIMA=maybe\n", "t.conf:2: IMA=maybe is not a boolean");
        expect_error("[Monitor]\nIMA=2\n", "not a boolean");
        /* enumerations */
        expect_error("[Unlock]\nPolicyMode=Enforce\n", "PolicyMode=Enforce is not one of: enforce, warn");
        expect_error("[Unlock]\nPolicyMode=audit\n", "not one of: enforce, warn");
        /* paths */
        expect_error("[Network]\nCAFile=ca.pem\n", "t.conf:2: CAFile=ca.pem is not an absolute path");
        expect_error("[Network]\nCAFile=/etc//ca.pem\n", "not a normalized path");
        expect_error("[Network]\nCAFile=/etc/../ca.pem\n", "not a normalized path");
        expect_error("[Network]\nCAFile=/etc/./ca.pem\n", "not a normalized path");
        expect_error("[Monitor]\nStateDirectory=/run/..\n", "not a normalized path");
        expect_error("[Monitor]\nStateDirectory=/run/.\n", "not a normalized path");
}

static void test_parse_bool(void **state)
{
        static const char *const yes[] = {"1", "yes", "YES", "y", "true", "True", "t", "on", "ON"};
        static const char *const no[] = {"0", "no", "No", "n", "false", "FALSE", "f", "off", "Off"};
        static const char *const bad[] = {"", "2", "yess", "enable", " yes", "o"};
        bool b;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                assert_int_equal(config_parse_bool(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                assert_int_equal(config_parse_bool(no[i], &b), 0);
                assert_false(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(config_parse_bool(bad[i], &b), -EINVAL);
}

static void test_parse_uint(void **state)
{
        uint64_t v = 7;

        assert_int_equal(config_parse_uint("0", 0, 10, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(config_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(config_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
        assert_int_equal(config_parse_uint("11", 0, 10, &v), -ERANGE);
        assert_int_equal(config_parse_uint("", 0, 10, &v), -EINVAL);
        assert_int_equal(config_parse_uint("1 ", 0, 10, &v), -EINVAL);
        assert_int_equal(config_parse_uint("00", 0, 10, &v), -EINVAL);
}

static void test_parse_duration(void **state)
{
        static const struct {
                const char *s;
                uint64_t usec;
        } ok[] = {
                {"0", 0},
                {"90", 90 * USEC_PER_SEC},
                {"30s", 30 * USEC_PER_SEC},
                {"30 s", 30 * USEC_PER_SEC},
                {"500ms", 500 * USEC_PER_MSEC},
                {"2min", 120 * USEC_PER_SEC},
                {"2m", 120 * USEC_PER_SEC},
                {"2minutes", 120 * USEC_PER_SEC},
                {"1h 30min", 5400 * USEC_PER_SEC},
                {"1h30min", 5400 * USEC_PER_SEC},
                {"1hour 1sec", 3601 * USEC_PER_SEC},
                {"2d", 2 * 86400 * USEC_PER_SEC},
                {"1day", 86400 * USEC_PER_SEC},
                {"7us", 7},
                {"7usec", 7},
                {"3msec", 3000},
                {"1s 1s", 2 * USEC_PER_SEC},
                {"18446744073709551615us", UINT64_MAX},
        };
        static const char *const bad[] = {"",    " ",    "s",   "1x",  "1.5s", "1 sx",
                                          "ms5", "5 5s", "-1s", "1s,", "1mins"};
        uint64_t v;
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                v = 1;
                if (config_parse_duration(ok[i].s, &v) < 0 || v != ok[i].usec)
                        fail_msg("'%s' gave %llu, expected %llu", ok[i].s, (unsigned long long)v,
                                 (unsigned long long)ok[i].usec);
                /* The canonical form reads back to the same value. */
                config_format_duration(v, buf, sizeof(buf));
                assert_int_equal(config_parse_duration(buf, &v), 0);
                assert_true(v == ok[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (config_parse_duration(bad[i], &v) != -EINVAL)
                        fail_msg("'%s' was accepted as a duration", bad[i]);
        assert_int_equal(config_parse_duration("18446744073709551616us", &v), -ERANGE);
        assert_int_equal(config_parse_duration("18446744073709551615", &v), -ERANGE);
        assert_int_equal(config_parse_duration("18446744073709551615us 1us", &v), -ERANGE);
        assert_int_equal(config_parse_duration("213503982335d", &v), -ERANGE);

        config_format_duration(0, buf, sizeof(buf));
        assert_string_equal(buf, "0");
        config_format_duration(90 * USEC_PER_SEC + 5 * USEC_PER_MSEC, buf, sizeof(buf));
        assert_string_equal(buf, "1min 30s 5ms");
        config_format_duration(86400 * USEC_PER_SEC + 1, buf, sizeof(buf));
        assert_string_equal(buf, "1d 1us");
        config_format_duration(UINT64_MAX, buf, 8); /* truncated, still terminated */
        assert_true(strlen(buf) < 8);
}

static void test_set(void **state)
{
        _cleanup_(config_freep) struct config *c = new_config();
        struct cvm_error err = {};

        assert_int_equal(parse(c, "[TPM]\nTCTI=mssim:\n", &err), 0);
        assert_int_equal(config_set(c, CONFIG_TPM_TCTI, "swtpm:port=1", "environment CVM_AGENT_TCTI", &err),
                         0);
        assert_string_equal(config_get_string(c, CONFIG_TPM_TCTI), "swtpm:port=1");
        assert_string_equal(config_get_source(c, CONFIG_TPM_TCTI), "environment CVM_AGENT_TCTI");
        assert_int_equal(config_set(c, CONFIG_TPM_TCTI, "swtpm:port=2", "option --tcti", &err), 0);
        assert_string_equal(config_get_string(c, CONFIG_TPM_TCTI), "swtpm:port=2");
        assert_string_equal(config_get_source(c, CONFIG_TPM_TCTI), "option --tcti");
        assert_int_equal(config_set(c, CONFIG_TPM_TCTI, "a\nb", "option --tcti", &err), -EBADMSG);
        assert_non_null(strstr(err.message, "option --tcti: TCTI= value contains a control character"));
        /* The failed assignment left the previous value in place. */
        assert_string_equal(config_get_string(c, CONFIG_TPM_TCTI), "swtpm:port=2");
        assert_int_equal(config_set(c, CONFIG_TPM_TCTI, "", "option --tcti", &err), 0);
        assert_string_equal(config_get_string(c, CONFIG_TPM_TCTI), TPM_TCTI_DEFAULT);
}

/* ---- files and drop-ins ------------------------------------------------------------------------- */

static void write_text(const char *dir, const char *name, const char *text)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static char *make_tmpdir(void)
{
        char *d = strdup("/tmp/test-config-XXXXXX");

        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_rf(const char *dir)
{
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_load_dropins(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(config_freep) struct config *c = new_config();
        struct cvm_error err = {};
        char main_path[512], dropdir[512], p[600], expect[600];

        snprintf(main_path, sizeof(main_path), "%s/cvm-agent.conf", dir);
        snprintf(dropdir, sizeof(dropdir), "%s/cvm-agent.conf.d", dir);
        write_text(dir, "cvm-agent.conf", "[TPM]\nTCTI=main:\n[Unlock]\nPCRExtend=8\nDeadline=5s\n");
        assert_int_equal(mkdir(dropdir, 0755), 0);
        /* Applied in strcmp() order: "10-a" < "20-b" < "B" < "a" (not locale order). */
        write_text(dropdir, "20-b.conf", "[TPM]\nTCTI=b:\n[Unlock]\nPCRExtend=10\n");
        write_text(dropdir, "10-a.conf", "[TPM]\nTCTI=a:\n[Unlock]\nPCRExtend=9\nPolicyMode=warn\n");
        write_text(dropdir, "B.conf", "[Unlock]\nPCRExtend=11\n");
        write_text(dropdir, "a.conf", "\n[Unlock]\nPCRExtend=12\n");
        /* Ignored: hidden files, other suffixes, directories, masked (/dev/null), dangling links. */
        write_text(dropdir, ".hidden.conf", "[Nope]\n");
        write_text(dropdir, "notes.txt", "[Nope]\n");
        write_text(dropdir, "x.conf~", "[Nope]\n");
        snprintf(p, sizeof(p), "%s/dir.conf", dropdir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/masked.conf", dropdir);
        assert_int_equal(symlink("/dev/null", p), 0);
        snprintf(p, sizeof(p), "%s/dangling.conf", dropdir);
        assert_int_equal(symlink("/nonexistent/x", p), 0);

        assert_int_equal(config_load(c, main_path, false, &err), 0);
        assert_string_equal(config_get_string(c, CONFIG_TPM_TCTI), "b:");
        snprintf(expect, sizeof(expect), "%s/20-b.conf:2", dropdir);
        assert_string_equal(config_get_source(c, CONFIG_TPM_TCTI), expect);
        assert_int_equal(config_get_uint(c, CONFIG_UNLOCK_PCR_EXTEND), 12);
        snprintf(expect, sizeof(expect), "%s/a.conf:3", dropdir);
        assert_string_equal(config_get_source(c, CONFIG_UNLOCK_PCR_EXTEND), expect);
        assert_string_equal(config_get_string(c, CONFIG_UNLOCK_POLICY_MODE), "warn");
        assert_int_equal(config_get_usec(c, CONFIG_UNLOCK_DEADLINE), 5 * USEC_PER_SEC);
        snprintf(expect, sizeof(expect), "%s:5", main_path);
        assert_string_equal(config_get_source(c, CONFIG_UNLOCK_DEADLINE), expect);
        assert_int_equal(config_n_files(c), 5);
        assert_string_equal(config_file(c, 0), main_path);
        snprintf(expect, sizeof(expect), "%s/10-a.conf", dropdir);
        assert_string_equal(config_file(c, 1), expect);
        snprintf(expect, sizeof(expect), "%s/B.conf", dropdir);
        assert_string_equal(config_file(c, 3), expect);

        /* An error in a drop-in names the drop-in and the line. */
        write_text(dropdir, "30-bad.conf", "[Unlock]\n\nDeadline=forever\n");
        cvm_error_clear(&err);
        assert_int_equal(config_load(c, main_path, false, &err), -EBADMSG);
        snprintf(expect, sizeof(expect), "%s/30-bad.conf:3: Deadline=forever is not a duration", dropdir);
        assert_non_null(strstr(err.message, expect));
        rm_rf(dir);
}

static void test_load_missing(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir();
        struct cvm_error err = {};
        char path[256], dropdir[512];

        snprintf(path, sizeof(path), "%s/none.conf", dir);
        {
                _cleanup_(config_freep) struct config *c = new_config();
                assert_int_equal(config_load(c, path, true, &err), 0);
                assert_int_equal(config_n_files(c), 0);
                assert_int_equal(config_load(c, path, false, &err), -ENOENT);
                assert_non_null(strstr(err.message, path));
        }
        /* The drop-ins apply even when the main file is missing. */
        snprintf(dropdir, sizeof(dropdir), "%s.d", path);
        assert_int_equal(mkdir(dropdir, 0755), 0);
        write_text(dropdir, "x.conf", "[Monitor]\nInterval=5min\n");
        {
                _cleanup_(config_freep) struct config *c = new_config();
                assert_int_equal(config_load(c, path, true, &err), 0);
                assert_int_equal(config_get_usec(c, CONFIG_MONITOR_INTERVAL), 300 * USEC_PER_SEC);
        }
        /* A directory as the main file. */
        {
                _cleanup_(config_freep) struct config *c = new_config();
                cvm_error_clear(&err);
                assert_int_equal(config_load(c, dir, true, &err), -EISDIR);
        }
        rm_rf(dir);
}

static void test_load_too_many_dropins(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir();
        _cleanup_(config_freep) struct config *c = new_config();
        struct cvm_error err = {};
        char path[256], dropdir[512], name[32];

        snprintf(path, sizeof(path), "%s/c.conf", dir);
        snprintf(dropdir, sizeof(dropdir), "%s.d", path);
        assert_int_equal(mkdir(dropdir, 0755), 0);
        for (unsigned i = 0; i < CONFIG_MAX_DROPINS; i++) {
                snprintf(name, sizeof(name), "%03u.conf", i);
                write_text(dropdir, name, "");
        }
        assert_int_equal(config_load(c, path, true, &err), 0);
        assert_int_equal(config_n_files(c), CONFIG_MAX_DROPINS);
        write_text(dropdir, "999.conf", "");
        assert_int_equal(config_load(c, path, true, &err), -E2BIG);
        assert_non_null(strstr(err.message, "more than 128 drop-in files"));

        /* An oversized drop-in. */
        {
                _cleanup_(config_freep) struct config *c2 = new_config();
                char p[600];
                int fd;

                snprintf(p, sizeof(p), "%s/999.conf", dropdir);
                assert_int_equal(unlink(p), 0);
                snprintf(p, sizeof(p), "%s/000.conf", dropdir);
                fd = open(p, O_WRONLY | O_TRUNC);
                assert_true(fd >= 0);
                assert_int_equal(ftruncate(fd, CONFIG_MAX_FILE_SIZE + 1), 0);
                close(fd);
                cvm_error_clear(&err);
                assert_int_equal(config_load(c2, path, true, &err), -EFBIG);
                assert_non_null(strstr(err.message, "000.conf"));
        }
        rm_rf(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_lookup),
                cmocka_unit_test(test_parse_syntax),
                cmocka_unit_test(test_syntax_errors),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_value_errors),
                cmocka_unit_test(test_parse_bool),
                cmocka_unit_test(test_parse_uint),
                cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_set),
                cmocka_unit_test(test_load_dropins),
                cmocka_unit_test(test_load_missing),
                cmocka_unit_test(test_load_too_many_dropins),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
