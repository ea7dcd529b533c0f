/* SPDX-License-Identifier: Apache-2.0 */
/* Global configuration: schema, INI parser, drop-ins, typed getters (see config.h). */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "config.h"
#include "util.h"

static const char *const policy_modes[] = {"enforce", "warn", NULL};

/*
 * The schema. Defaults are canonical text, parsed through the same code as a file, so a
 * default can never be something a file could not say.
 */
static const struct config_schema schema[_CONFIG_KEY_MAX] = {
        [CONFIG_TPM_TCTI] = {"TPM", "TCTI", CONFIG_TYPE_STRING, "device:/dev/tpmrm0", 0, 0, NULL,
                             "how to reach the TPM (tpm2-tss TCTI specification)"},
        [CONFIG_UNLOCK_DEADLINE] = {"Unlock", "Deadline", CONFIG_TYPE_DURATION, "1min", 1 * USEC_PER_SEC,
                                    3600 * USEC_PER_SEC, NULL,
                                    "time limit of a whole unlock, retries included"},
        [CONFIG_UNLOCK_PCR_EXTEND] = {"Unlock", "PCRExtend", CONFIG_TYPE_UINT, "15", 8, 15, NULL,
                                      "PCR extended with the volume identity after an unlock"},
        [CONFIG_UNLOCK_LOCAL_POLICY] = {"Unlock", "LocalPolicy", CONFIG_TYPE_PATH, NULL, 0, 0, NULL,
                                        "local appraisal policy checked before any network traffic"},
        [CONFIG_UNLOCK_POLICY_MODE] = {"Unlock", "PolicyMode", CONFIG_TYPE_ENUM, "enforce", 0, 0,
                                       policy_modes,
                                       "enforce: a local policy mismatch refuses the unlock; warn: "
                                       "it is only reported"},
        [CONFIG_NETWORK_CA_FILE] = {"Network", "CAFile", CONFIG_TYPE_PATH, NULL, 0, 0, NULL,
                                    "PEM CA bundle for TLS; unset: the system trust store"},
        [CONFIG_NETWORK_CONNECT_TIMEOUT] = {"Network", "ConnectTimeout", CONFIG_TYPE_DURATION, "10s",
                                            100 * USEC_PER_MSEC, 300 * USEC_PER_SEC, NULL,
                                            "time limit of one TCP + TLS connection"},
        [CONFIG_MONITOR_INTERVAL] = {"Monitor", "Interval", CONFIG_TYPE_DURATION, "1min", 1 * USEC_PER_SEC,
                                     86400 * USEC_PER_SEC, NULL, "time between two integrity checks"},
        [CONFIG_MONITOR_JITTER] = {"Monitor", "Jitter", CONFIG_TYPE_DURATION, "10s", 0, 3600 * USEC_PER_SEC,
                                   NULL, "random delay up to this added to each interval"},
        [CONFIG_MONITOR_STATE_DIRECTORY] = {"Monitor", "StateDirectory", CONFIG_TYPE_PATH, "/run/cvm-agent",
                                            0, 0, NULL, "where the daemon writes its status file"},
        [CONFIG_MONITOR_REATTEST_INTERVAL] = {"Monitor", "ReattestInterval", CONFIG_TYPE_DURATION, "1h", 0,
                                              7 * 86400 * USEC_PER_SEC, NULL,
                                              "time between two attestations to the verifier; 0: never"},
        [CONFIG_MONITOR_IMA] = {"Monitor", "IMA", CONFIG_TYPE_BOOL, "yes", 0, 0, NULL,
                                "replay the IMA log against PCR 10 at each check"},
        [CONFIG_TPM_EVENT_LOG] = {"TPM", "EventLog", CONFIG_TYPE_PATH, NULL, 0, 0, NULL,
                                  "TCG measured-boot log; unset: securityfs binary_bios_measurements"},
        [CONFIG_AZURE_IMDS] = {"Azure", "IMDS", CONFIG_TYPE_STRING, "http://169.254.169.254", 0, 0, NULL,
                               "Azure Instance Metadata Service (THIM certificates, managed identity)"},
        [CONFIG_AZURE_RELEASE_ROOTS] = {"Azure", "ReleaseRoots", CONFIG_TYPE_PATH, NULL, 0, 0, NULL,
                                        "PEM roots trusted for Key Vault release signatures; unset: the "
                                        "system bundle"},
        [CONFIG_AZURE_VAULT_HOSTS] = {"Azure", "VaultHosts", CONFIG_TYPE_STRING, NULL, 0, 0, NULL,
                                      "extra Key Vault hosts (host[:port], space-separated) that may "
                                      "receive credentials"},
};

/* The effective value of one setting. */
struct config_value {
        char *text;   /* canonical text; NULL: unset */
        char *source; /* "default", "FILE:LINE", ... */
        union {
                bool b;
                uint64_t u; /* UINT value, or DURATION in microseconds */
        };
};

struct config {
        struct config_value v[_CONFIG_KEY_MAX];
        char **files; /* names given to config_parse(), in order */
        size_t n_files;
};

const struct config_schema *config_schema(enum config_key key)
{
        assert(key < _CONFIG_KEY_MAX);
        return &schema[key];
}

int config_lookup(const char *section, const char *key, enum config_key *ret)
{
        bool section_known = false;

        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++) {
                if (strcmp(schema[i].section, section) != 0)
                        continue;
                section_known = true;
                if (strcmp(schema[i].key, key) == 0) {
                        *ret = (enum config_key)i;
                        return 0;
                }
        }
        return section_known ? -ENOKEY : -ENOENT;
}

/* ---- value parsers ------------------------------------------------------------------------------ */

int config_parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = {"1", "yes", "y", "true", "t", "on"};
        static const char *const no[] = {"0", "no", "n", "false", "f", "off"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Reads the decimal digits at *p (at least one) into *ret and advances *p; -ERANGE on overflow. */
static int parse_digits(const char **p, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int config_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
        const char *p = s;
        uint64_t v;
        int r;

        /* "007" is refused: it reads as octal to some and as a typo to others. */
        if (s[0] == '0' && s[1] != '\0')
                return -EINVAL;
        r = parse_digits(&p, &v);
        if (r < 0)
                return r;
        if (*p != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static const struct {
        const char *name;
        uint64_t usec;
} duration_units[] = {
        {"usec", 1},
        {"us", 1},
        {"msec", USEC_PER_MSEC},
        {"ms", USEC_PER_MSEC},
        {"seconds", USEC_PER_SEC},
        {"second", USEC_PER_SEC},
        {"sec", USEC_PER_SEC},
        {"s", USEC_PER_SEC},
        {"minutes", 60 * USEC_PER_SEC},
        {"minute", 60 * USEC_PER_SEC},
        {"min", 60 * USEC_PER_SEC},
        {"m", 60 * USEC_PER_SEC},
        {"hours", 3600 * USEC_PER_SEC},
        {"hour", 3600 * USEC_PER_SEC},
        {"hr", 3600 * USEC_PER_SEC},
        {"h", 3600 * USEC_PER_SEC},
        {"days", 86400 * USEC_PER_SEC},
        {"day", 86400 * USEC_PER_SEC},
        {"d", 86400 * USEC_PER_SEC},
};

int config_parse_duration(const char *s, uint64_t *ret_usec)
{
        const char *p = s;
        uint64_t total = 0, n;
        int r;

        /* A bare number is seconds. */
        if (*s >= '0' && *s <= '9') {
                const char *q = s;
                if (parse_digits(&q, &n) == 0 && *q == '\0') {
                        if (n > UINT64_MAX / USEC_PER_SEC)
                                return -ERANGE;
                        *ret_usec = n * USEC_PER_SEC;
                        return 0;
                }
        }

        while (*p == ' ' || *p == '\t')
                p++;
        if (*p == '\0')
                return -EINVAL;
        while (*p != '\0') {
                uint64_t unit = 0;
                size_t len = 0;

                r = parse_digits(&p, &n);
                if (r < 0)
                        return r;
                while (*p == ' ' || *p == '\t')
                        p++;
                /* The longest unit name that ends at a non-letter. */
                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
                        size_t l = strlen(duration_units[i].name);
                        char next;

                        /* p[l] is only read once strncmp() proved p holds l characters. */
                        if (l <= len || strncmp(p, duration_units[i].name, l) != 0)
                                continue;
                        next = p[l];
                        if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'))
                                continue;
                        unit = duration_units[i].usec;
                        len = l;
                }
                if (len == 0)
                        return -EINVAL;
                p += len;
                if (n > UINT64_MAX / unit || total > UINT64_MAX - n * unit)
                        return -ERANGE;
                total += n * unit;
                while (*p == ' ' || *p == '\t')
                        p++;
        }
        *ret_usec = total;
        return 0;
}

void config_format_duration(uint64_t usec, char *buf, size_t size)
{
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                {"d", 86400 * USEC_PER_SEC}, {"h", 3600 * USEC_PER_SEC}, {"min", 60 * USEC_PER_SEC},
                {"s", USEC_PER_SEC},         {"ms", USEC_PER_MSEC},      {"us", 1},
        };
        size_t off = 0;

        assert(size > 0);
        buf[0] = '\0';
        if (usec == 0) {
                snprintf(buf, size, "0");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(units) && usec > 0; i++) {
                uint64_t n = usec / units[i].usec;
                int w;

                if (n == 0)
                        continue;
                usec -= n * units[i].usec;
                w = snprintf(buf + off, size - off, "%s%llu%s", off ? " " : "", (unsigned long long)n,
                             units[i].name);
                if (w < 0 || (size_t)w >= size - off)
                        return; /* truncated, still NUL-terminated */
                off += (size_t)w;
        }
}

/* ---- values ------------------------------------------------------------------------------------- */

static bool is_text_ok(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/*
 * Parses @s for setting @key into @out (text, typed value), or explains why not in @err,
 * prefixed with @where. @s is non-empty.
 */
static int parse_value(enum config_key key, const char *s, struct config_value *out, const char *where,
                       struct cvm_error *err)
{
        const struct config_schema *sc = &schema[key];
        char buf[64], lo[64], hi[64];
        uint64_t u;
        bool b;
        int r;

        if (strlen(s) > CONFIG_MAX_VALUE)
                return cvm_error_set(err, -EBADMSG, "%s: %s= value exceeds %u bytes", where, sc->key,
                                     CONFIG_MAX_VALUE);
        if (!is_text_ok(s))
                return cvm_error_set(err, -EBADMSG, "%s: %s= value contains a control character", where,
                                     sc->key);

        switch (sc->type) {
        case CONFIG_TYPE_STRING:
                break;
        case CONFIG_TYPE_PATH:
                if (s[0] != '/')
                        return cvm_error_set(err, -EBADMSG, "%s: %s=%s is not an absolute path", where,
                                             sc->key, s);
                if (strstr(s, "//") || strstr(s, "/../") || strstr(s, "/./") ||
                    (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0) ||
                    (strlen(s) >= 2 && strcmp(s + strlen(s) - 2, "/.") == 0))
                        return cvm_error_set(err, -EBADMSG, "%s: %s=%s is not a normalized path", where,
                                             sc->key, s);
                break;
        case CONFIG_TYPE_BOOL:
                if (config_parse_bool(s, &b) < 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s: %s=%s is not a boolean (yes/no, true/false, on/off, 1/0)",
                                             where, sc->key, s);
                out->b = b;
                s = b ? "yes" : "no";
                break;
        case CONFIG_TYPE_UINT:
                r = config_parse_uint(s, sc->min, sc->max, &u);
                if (r == -ERANGE)
                        return cvm_error_set(err, -EBADMSG, "%s: %s=%s is out of range %llu..%llu", where,
                                             sc->key, s, (unsigned long long)sc->min,
                                             (unsigned long long)sc->max);
                if (r < 0)
                        return cvm_error_set(err, -EBADMSG, "%s: %s=%s is not a decimal integer", where,
                                             sc->key, s);
                out->u = u;
                break;
        case CONFIG_TYPE_DURATION:
                r = config_parse_duration(s, &u);
                if (r == 0 && (u < sc->min || u > sc->max))
                        r = -ERANGE;
                if (r == -ERANGE) {
                        config_format_duration(sc->min, lo, sizeof(lo));
                        config_format_duration(sc->max, hi, sizeof(hi));
                        return cvm_error_set(err, -EBADMSG, "%s: %s=%s is out of range %s..%s", where,
                                             sc->key, s, lo, hi);
                }
                if (r < 0)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "%s: %s=%s is not a duration (e.g. 90, 30s, 500ms, 2min, 1h 30min)", where,
                                sc->key, s);
                out->u = u;
                config_format_duration(u, buf, sizeof(buf));
                s = buf;
                break;
        case CONFIG_TYPE_ENUM: {
                bool found = false;
                for (const char *const *c = sc->choices; *c; c++)
                        if (strcmp(*c, s) == 0)
                                found = true;
                if (!found) {
                        char list[256] = "";
                        for (const char *const *c = sc->choices; *c; c++) {
                                if (c != sc->choices)
                                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                                strncat(list, *c, sizeof(list) - strlen(list) - 1);
                        }
                        return cvm_error_set(err, -EBADMSG, "%s: %s=%s is not one of: %s", where, sc->key, s,
                                             list);
                }
                break;
        }
        }

        out->text = strdup(s);
        if (!out->text)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

static void value_done(struct config_value *v)
{
        free(v->text);
        free(v->source);
        *v = (struct config_value){};
}

/* Replaces setting @key by @s ("" or NULL: the default), recording @source. */
static int assign(struct config *c, enum config_key key, const char *s, const char *source,
                  const char *where, struct cvm_error *err)
{
        struct config_value nv = {};
        int r;

        if (!s || !*s)
                s = schema[key].default_value;
        if (s) {
                r = parse_value(key, s, &nv, where, err);
                if (r < 0)
                        return r;
        }
        nv.source = strdup(source);
        if (!nv.source) {
                value_done(&nv);
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        value_done(&c->v[key]);
        c->v[key] = nv;
        return 0;
}

int config_new(struct config **ret)
{
        struct config *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++) {
                r = assign(c, (enum config_key)i, NULL, "default", "default", NULL);
                /* Only -ENOMEM is possible: the defaults are tested to parse. */
                if (r < 0) {
                        config_free(c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

void config_free(struct config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < _CONFIG_KEY_MAX; i++)
                value_done(&c->v[i]);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        free(c->files);
        free(c);
}

int config_set(struct config *c, enum config_key key, const char *value, const char *source,
               struct cvm_error *err)
{
        assert(key < _CONFIG_KEY_MAX);
        return assign(c, key, value, source, source, err);
}

static const struct config_value *get(const struct config *c, enum config_key key, unsigned type_mask)
{
        assert(key < _CONFIG_KEY_MAX);
        assert(type_mask & (1u << schema[key].type));
        (void)type_mask;
        return &c->v[key];
}

const char *config_get_string(const struct config *c, enum config_key key)
{
        return get(c, key, 1u << CONFIG_TYPE_STRING | 1u << CONFIG_TYPE_PATH | 1u << CONFIG_TYPE_ENUM)->text;
}

bool config_get_bool(const struct config *c, enum config_key key)
{
        return get(c, key, 1u << CONFIG_TYPE_BOOL)->b;
}

uint64_t config_get_uint(const struct config *c, enum config_key key)
{
        return get(c, key, 1u << CONFIG_TYPE_UINT)->u;
}

uint64_t config_get_usec(const struct config *c, enum config_key key)
{
        return get(c, key, 1u << CONFIG_TYPE_DURATION)->u;
}

const char *config_get_text(const struct config *c, enum config_key key)
{
        assert(key < _CONFIG_KEY_MAX);
        return c->v[key].text;
}

const char *config_get_source(const struct config *c, enum config_key key)
{
        assert(key < _CONFIG_KEY_MAX);
        return c->v[key].source;
}

size_t config_n_files(const struct config *c)
{
        return c->n_files;
}

const char *config_file(const struct config *c, size_t i)
{
        return i < c->n_files ? c->files[i] : NULL;
}

static int add_file(struct config *c, const char *name)
{
        char **f, *n;

        n = strdup(name);
        if (!n)
                return -ENOMEM;
        f = reallocarray(c->files, c->n_files + 1, sizeof(*f));
        if (!f) {
                free(n);
                return -ENOMEM;
        }
        f[c->n_files++] = n;
        c->files = f;
        return 0;
}

/* ---- the INI parser ----------------------------------------------------------------------------- */

static bool is_blank(char ch)
{
        return ch == ' ' || ch == '\t';
}

/* Strips leading and trailing blanks of [*s, *s + *len) in place. */
static void trim(const char **s, size_t *len)
{
        while (*len > 0 && is_blank(**s)) {
                (*s)++;
                (*len)--;
        }
        while (*len > 0 && is_blank((*s)[*len - 1]))
                (*len)--;
}

static bool is_name(const char *s, size_t len)
{
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
                        return false;
        return true;
}

static bool is_extension(const char *s, size_t len)
{
        return len >= 2 && s[0] == 'X' && s[1] == '-';
}

/* Parser state carried from line to line. */
struct ini_state {
        char section[CONFIG_MAX_LINE + 1];
        bool in_section; /* a [Section] header was seen */
        bool ignore;     /* the current section is an "X-" extension */
};

static int parse_line(struct config *c, struct ini_state *st, const char *name, unsigned lineno,
                      const char *s, size_t len, struct cvm_error *err)
{
        char where[CVM_ERROR_MAX / 2];
        char key[CONFIG_MAX_LINE + 1], value[CONFIG_MAX_LINE + 1];
        const char *eq, *k, *v;
        size_t klen, vlen;
        enum config_key ck;
        int r;

        snprintf(where, sizeof(where), "%s:%u", name, lineno);
        trim(&s, &len);
        if (len == 0 || s[0] == '#' || s[0] == ';')
                return 0;
        if (s[len - 1] == '\\')
                return cvm_error_set(err, -EBADMSG, "%s: line continuation with '\\' is not supported",
                                     where);

        if (s[0] == '[') {
                const char *n = s + 1;
                size_t nlen;

                if (s[len - 1] != ']')
                        return cvm_error_set(err, -EBADMSG, "%s: section header without closing ']'", where);
                nlen = len - 2;
                trim(&n, &nlen);
                if (!is_name(n, nlen))
                        return cvm_error_set(err, -EBADMSG, "%s: invalid section name '%.*s'", where,
                                             (int)(len > 64 ? 64 : len), s);
                memcpy(st->section, n, nlen);
                st->section[nlen] = '\0';
                st->in_section = true;
                st->ignore = is_extension(n, nlen);
                if (!st->ignore && config_lookup(st->section, "", &ck) == -ENOENT)
                        return cvm_error_set(err, -EBADMSG, "%s: unknown section [%s]", where, st->section);
                return 0;
        }

        eq = memchr(s, '=', len);
        if (!eq)
                return cvm_error_set(err, -EBADMSG, "%s: expected [Section] or Key=Value, got '%.*s'", where,
                                     (int)(len > 64 ? 64 : len), s);
        k = s;
        klen = (size_t)(eq - s);
        trim(&k, &klen);
        v = eq + 1;
        vlen = (size_t)(s + len - v);
        trim(&v, &vlen);
        if (!is_name(k, klen))
                return cvm_error_set(err, -EBADMSG, "%s: invalid key name '%.*s'", where,
                                     (int)(klen > 64 ? 64 : klen), k);
        if (!st->in_section)
                return cvm_error_set(err, -EBADMSG, "%s: %.*s= outside of a [Section]", where, (int)klen, k);
        if (st->ignore || is_extension(k, klen))
                return 0;
        memcpy(key, k, klen);
        key[klen] = '\0';
        memcpy(value, v, vlen);
        value[vlen] = '\0';

        r = config_lookup(st->section, key, &ck);
        if (r < 0)
                return cvm_error_set(err, -EBADMSG, "%s: unknown key %s= in section [%s]", where, key,
                                     st->section);
        return assign(c, ck, value, where, where, err);
}

int config_parse(struct config *c, const char *name, const char *text, size_t size, struct cvm_error *err)
{
        _cleanup_free_ struct ini_state *st = NULL;
        unsigned lineno = 0;
        size_t off = 0;
        int r;

        if (size > CONFIG_MAX_FILE_SIZE)
                return cvm_error_set(err, -EFBIG,
                                     "%s: %zu bytes exceed the %u byte limit of a configuration file", name,
                                     size, CONFIG_MAX_FILE_SIZE);
        st = calloc(1, sizeof(*st));
        if (!st || add_file(c, name) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        while (off < size) {
                const char *line = text + off, *nl = memchr(line, '\n', size - off);
                size_t len = nl ? (size_t)(nl - line) : size - off;

                off += len + (nl ? 1 : 0);
                lineno++;
                if (len > 0 && line[len - 1] == '\r')
                        len--;
                if (len > CONFIG_MAX_LINE)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s:%u: line of %zu bytes exceeds the %u byte limit", name,
                                             lineno, len, CONFIG_MAX_LINE);
                for (size_t i = 0; i < len; i++) {
                        unsigned char ch = (unsigned char)line[i];
                        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                                return cvm_error_set(err, -EBADMSG,
                                                     "%s:%u: control character 0x%02x at column %zu", name,
                                                     lineno, ch, i + 1);
                }
                r = parse_line(c, st, name, lineno, line, len, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- files -------------------------------------------------------------------------------------- */

static int load_file(struct config *c, const char *path, bool missing_ok, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *data = NULL;
        struct cvm_error e = {};
        size_t size;
        int r;

        r = read_file(path, CONFIG_MAX_FILE_SIZE, &data, &size, &e);
        if (r == -ENOENT && missing_ok)
                return 0;
        if (r < 0)
                return cvm_error_set(err, r, "%s: %s", path, cvm_error_message(&e, r));
        return config_parse(c, path, (const char *)data, size, err);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

int config_load(struct config *c, const char *path, bool missing_ok, struct cvm_error *err)
{
        _cleanup_free_ char *dir = NULL;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int r;

        r = load_file(c, path, missing_ok, err);
        if (r < 0)
                return r;

        if (asprintf(&dir, "%s.d", path) < 0) {
                dir = NULL;
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                r = -errno;
                return cvm_error_set(err, r, "%s: cannot open directory: %s", dir, strerror(-r));
        }
        names = calloc(CONFIG_MAX_DROPINS, sizeof(*names));
        if (!names) {
                closedir(d);
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        while ((errno = 0, de = readdir(d))) {
                size_t l = strlen(de->d_name);

                if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0)
                        continue;
                if (n == CONFIG_MAX_DROPINS) {
                        closedir(d);
                        free_names(names, n);
                        return cvm_error_set(err, -E2BIG, "%s: more than %u drop-in files", dir,
                                             CONFIG_MAX_DROPINS);
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        closedir(d);
                        free_names(names, n);
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
                n++;
        }
        r = errno ? -errno : 0;
        closedir(d);
        if (r < 0) {
                free_names(names, n);
                return cvm_error_set(err, r, "%s: cannot read directory: %s", dir, strerror(-r));
        }
        qsort(names, n, sizeof(*names), cmp_str);

        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *p = NULL;
                struct stat st;

                if (asprintf(&p, "%s/%s", dir, names[i]) < 0) {
                        p = NULL;
                        r = cvm_error_set(err, -ENOMEM, "out of memory");
                        break;
                }
                /* A drop-in linked to /dev/null (masked, as in systemd), a dangling symlink or a
                 * directory named "*.conf" adds nothing. */
                if (stat(p, &st) < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = -errno;
                        r = cvm_error_set(err, r, "%s: %s", p, strerror(-r));
                        break;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                r = load_file(c, p, false, err);
        }
        free_names(names, n);
        return r;
}
