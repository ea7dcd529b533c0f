/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent token: verify a JWT/JWS offline. An Azure MAA token is checked against a JWKS (the
 * instance's /certs, fetched by the operator), a Key Vault release response against its own x5c
 * chain and a trusted root; then its validity period at "now" (or --at) and optionally its
 * issuer. The token's jku/x5u are never followed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cleanup.h"
#include "cli.h"
#include "jose.h"
#include "util.h"

#define INPUT_MAX (8u << 20)
#define JWKS_MAX  (4u << 20)

enum sig_state { SIG_UNCHECKED, SIG_VALID, SIG_INVALID };

struct options {
        bool json;
        const char *jwks;
        const char *trust;
        const char *issuer;
        const char *host;
        bool have_at;
        time_t at;
        unsigned leeway;
        const char *file;
};

struct result {
        const char *input_kind; /* "jws", "keyvault-release", "maa-response" */
        enum sig_state sig;
        json_object *key; /* how the key was found (JSON), or NULL */
        enum jwt_time_status time;
        int issuer_ok;        /* -1 not checked, 0 mismatch, 1 match */
        json_object *reasons; /* array of strings */
};

static void help(void)
{
        printf("Usage: cvm-agent token [OPTIONS] FILE\n"
               "\n"
               "Verify a JWT/JWS offline: signature, validity period and issuer. FILE ('-' for standard\n"
               "input) holds a compact JWS, a Key Vault release response {\"value\":\"<JWS>\"} or an MAA\n"
               "response {\"token\":\"<JWT>\"}.\n"
               "\n"
               "Options:\n"
               "  -j, --json           print the result as JSON\n"
               "      --jwks FILE      verify against this JWK Set (e.g. an MAA instance's /certs),\n"
               "                       selecting the key by the token's \"kid\"\n"
               "      --trust PEM      verify the token's x5c chain up to these certificates, then the\n"
               "                       signature with x5c[0] (Key Vault / Managed HSM release responses)\n"
               "      --host NAME      with --trust: x5c[0] must be valid for this DNS name\n"
               "      --issuer URL     the \"iss\" claim must equal URL exactly\n"
               "      --at TIME        judge validity at this RFC 3339 time instead of now\n"
               "      --leeway SEC     tolerated clock skew in seconds (default 0, at most %d)\n"
               "  -h, --help           this help\n"
               "\n"
               "Without --jwks or --trust the signature is reported \"unchecked\", which is not valid.\n"
               "Exit status: 0 verified, 2 usage, 3 malformed or unsupported input, 4 verification failed\n"
               "(signature, time, issuer, unchecked), 5 I/O error.\n",
               JWT_MAX_LEEWAY);
}

static int parse_options(int argc, char *argv[], struct options *o)
{
        enum { OPT_JWKS = 0x100, OPT_TRUST, OPT_ISSUER, OPT_HOST, OPT_AT, OPT_LEEWAY };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, 'j'},
                {"jwks", required_argument, NULL, OPT_JWKS},
                {"trust", required_argument, NULL, OPT_TRUST},
                {"issuer", required_argument, NULL, OPT_ISSUER},
                {"host", required_argument, NULL, OPT_HOST},
                {"at", required_argument, NULL, OPT_AT},
                {"leeway", required_argument, NULL, OPT_LEEWAY},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case 'j':
                        o->json = true;
                        break;
                case OPT_JWKS:
                        o->jwks = optarg;
                        break;
                case OPT_TRUST:
                        o->trust = optarg;
                        break;
                case OPT_ISSUER:
                        o->issuer = optarg;
                        break;
                case OPT_HOST:
                        o->host = optarg;
                        break;
                case OPT_AT:
                        if (parse_rfc3339(optarg, &o->at) < 0)
                                return cli_usage_error("token", "--at: '%s' is not an RFC 3339 time",
                                                       optarg);
                        o->have_at = true;
                        break;
                case OPT_LEEWAY: {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || v > JWT_MAX_LEEWAY)
                                return cli_usage_error("token",
                                                       "--leeway: '%s' is not a number of seconds 0..%d",
                                                       optarg, JWT_MAX_LEEWAY);
                        o->leeway = (unsigned)v;
                        break;
                }
                default:
                        return cli_usage_error("token", "unknown option");
                }
        }
        if (o->jwks && o->trust)
                return cli_usage_error("token", "--jwks and --trust are alternatives; give one");
        if (o->host && !o->trust)
                return cli_usage_error("token", "--host applies to --trust (x5c chain) verification only");
        if (optind + 1 != argc)
                return cli_usage_error("token",
                                       optind >= argc ? "missing FILE" : "more than one FILE given");
        o->file = argv[optind];
        return 0;
}

static int add_reason(struct result *res, const char *msg)
{
        json_object *s = json_object_new_string(msg);

        if (!s || json_object_array_add(res->reasons, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

/* Finds the JWS text in the input: a compact JWS, or a JSON body holding one. */
static int extract_token(const char *file, char *text, size_t len, json_object **ret_doc,
                         const char **ret_token, const char **ret_kind)
{
        struct cvm_error err = {};
        json_object *doc = NULL, *v;
        size_t start = 0;
        int r;

        while (start < len && strchr(" \t\r\n", text[start]) && text[start])
                start++;
        while (len > start && strchr(" \t\r\n", text[len - 1]) && text[len - 1])
                text[--len] = '\0';
        if (start == len) {
                fprintf(stderr, "cvm-agent: %s: empty input\n", file);
                return EXIT_EVIDENCE;
        }
        if (text[start] != '{') {
                if (memchr(text + start, '\0', len - start)) {
                        fprintf(stderr, "cvm-agent: %s: input contains a NUL byte\n", file);
                        return EXIT_EVIDENCE;
                }
                *ret_doc = NULL;
                *ret_token = text + start;
                *ret_kind = "jws";
                return EXIT_OK;
        }
        r = canonjson_parse(text + start, len - start, NULL, &doc, &err);
        if (r < 0)
                return cli_fail(file, &err, r);
        if (json_object_object_get_ex(doc, "value", &v) && json_object_is_type(v, json_type_string))
                *ret_kind = "keyvault-release";
        else if (json_object_object_get_ex(doc, "token", &v) && json_object_is_type(v, json_type_string))
                *ret_kind = "maa-response";
        else {
                json_object_put(doc);
                fprintf(stderr,
                        "cvm-agent: %s: JSON input has neither a \"value\" (Key Vault release) nor a "
                        "\"token\" (MAA) string\n",
                        file);
                return EXIT_EVIDENCE;
        }
        if (strcmp(*ret_kind, "maa-response") == 0 && !strchr(json_object_get_string(v), '.')) {
                json_object_put(doc);
                fprintf(stderr,
                        "cvm-agent: %s: the MAA \"token\" is an encrypted AzureGuest envelope, not a JWT; "
                        "it must be "
                        "decrypted with the vTPM ephemeral key first\n",
                        file);
                return EXIT_EVIDENCE;
        }
        *ret_doc = doc;
        *ret_token = json_object_get_string(v);
        return EXIT_OK;
}

static int load_jwks(const char *path, json_object **ret)
{
        _cleanup_free_ unsigned char *buf = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        struct cvm_error err = {};
        size_t n;
        int r;

        r = cli_read_input(path, JWKS_MAX, &buf, &n);
        if (r != EXIT_OK)
                return r;
        r = canonjson_parse((const char *)buf, n, "JWKS", &doc, &err);
        if (r < 0)
                return cli_fail(path, &err, r);
        if (json_object_is_type(doc, json_type_object) && json_object_object_get_ex(doc, "kty", NULL)) {
                /* A single JWK: treat it as a one-key set. */
                json_object *set = json_object_new_object(), *keys = json_object_new_array();

                if (!set || !keys || json_object_array_add(keys, TAKE_PTR(doc)) < 0 ||
                    json_object_object_add(set, "keys", keys) < 0) {
                        json_object_put(set);
                        json_object_put(keys);
                        return cli_fail(path, NULL, -ENOMEM);
                }
                doc = set;
        }
        *ret = TAKE_PTR(doc);
        return EXIT_OK;
}

static int load_trust(const char *path, STACK_OF(X509) * *ret)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = sk_X509_new_null();
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        size_t n;
        X509 *c;
        int r;

        r = cli_read_input(path, JWKS_MAX, &buf, &n);
        if (r != EXIT_OK)
                return r;
        bio = BIO_new_mem_buf(buf, (int)n);
        if (!certs || !bio)
                return cli_fail(path, NULL, -ENOMEM);
        while ((c = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
                if (!sk_X509_push(certs, c)) {
                        X509_free(c);
                        return cli_fail(path, NULL, -ENOMEM);
                }
        }
        ERR_clear_error();
        if (sk_X509_num(certs) == 0) {
                fprintf(stderr, "cvm-agent: %s: no PEM certificate found\n", path);
                return EXIT_EVIDENCE;
        }
        *ret = TAKE_PTR(certs);
        return EXIT_OK;
}

static json_object *chain_subjects(STACK_OF(X509) * chain)
{
        json_object *a = json_object_new_array();

        for (int i = 0; a && i < sk_X509_num(chain); i++) {
                _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
                char buf[512] = "(unknown)";
                int n;

                if (bio &&
                    X509_NAME_print_ex(bio, X509_get_subject_name(sk_X509_value(chain, i)), 0,
                                       XN_FLAG_RFC2253) >= 0 &&
                    (n = BIO_read(bio, buf, sizeof(buf) - 1)) > 0)
                        buf[n] = '\0';
                json_object_array_add(a, json_object_new_string(buf));
        }
        return a;
}

/* Signature check; returns EXIT_OK when a verdict (valid/invalid/unchecked) was reached. */
static int check_signature(const struct options *o, const struct jws *jws, time_t now, struct result *res)
{
        struct cvm_error err = {};
        int r;

        if (!o->jwks && !o->trust) {
                json_object *jku;
                char msg[600];

                res->sig = SIG_UNCHECKED;
                if (json_object_object_get_ex(jws->header, "jku", &jku) &&
                    json_object_is_type(jku, json_type_string))
                        snprintf(msg, sizeof(msg),
                                 "signature not checked: no --jwks or --trust given (the token names jku "
                                 "%.400s; "
                                 "fetch that JWKS from a configured instance and pass it with --jwks)",
                                 json_object_get_string(jku));
                else
                        snprintf(msg, sizeof(msg), "signature not checked: no --jwks or --trust given");
                return add_reason(res, msg) < 0 ? cli_fail(o->file, NULL, -ENOMEM) : EXIT_OK;
        }

        res->key = json_object_new_object();
        if (!res->key)
                return cli_fail(o->file, NULL, -ENOMEM);
        if (o->jwks) {
                _cleanup_(json_object_putp) json_object *jwks = NULL;

                r = load_jwks(o->jwks, &jwks);
                if (r != EXIT_OK)
                        return r;
                json_object_object_add(res->key, "source", json_object_new_string("jwks"));
                if (jws->kid)
                        json_object_object_add(res->key, "kid", json_object_new_string(jws->kid));
                r = jws_verify_jwks(jws, jwks, &err);
        } else {
                _cleanup_(x509_stack_freep) STACK_OF(X509) *trusted = NULL, *chain = NULL;

                r = load_trust(o->trust, &trusted);
                if (r != EXIT_OK)
                        return r;
                json_object_object_add(res->key, "source", json_object_new_string("x5c"));
                if (o->host)
                        json_object_object_add(res->key, "host", json_object_new_string(o->host));
                r = jws_verify_x5c(jws, trusted, o->host, now, &chain, &err);
                if (r >= 0)
                        json_object_object_add(res->key, "chain", chain_subjects(chain));
        }
        if (r == -ENOMEM)
                return cli_fail(o->file, &err, r);
        if (r == -EOPNOTSUPP)
                return cli_fail(o->file, &err, r); /* unsupported algorithm: evidence error */
        if (r == -ENOKEY) {
                res->sig = SIG_UNCHECKED;
                return add_reason(res, err.message) < 0 ? cli_fail(o->file, NULL, -ENOMEM) : EXIT_OK;
        }
        if (r < 0) {
                res->sig = SIG_INVALID;
                return add_reason(res, err.message) < 0 ? cli_fail(o->file, NULL, -ENOMEM) : EXIT_OK;
        }
        res->sig = SIG_VALID;
        return EXIT_OK;
}

static const char *sig_name(enum sig_state s)
{
        return s == SIG_VALID ? "valid" : s == SIG_INVALID ? "invalid" : "unchecked";
}

static const char *time_name(enum jwt_time_status t)
{
        return t == JWT_TIME_VALID ? "valid" : t == JWT_TIME_EXPIRED ? "expired" : "not_yet_valid";
}

static void add_time(json_object *out, const char *name, bool has, time_t t)
{
        char buf[21];

        if (!has)
                return;
        format_rfc3339(t, buf);
        json_object_object_add(out, name, json_object_new_string(buf));
}

static void print_text(const struct options *o, const struct jws *jws, json_object *claims,
                       const struct result *res, const struct jwt_times *t, time_t now, bool verified)
{
        static const char *const kinds[][2] = {
                {"jws", "compact JWS"},
                {"keyvault-release", "Key Vault release response"},
                {"maa-response", "MAA response"},
        };
        const char *kind = res->input_kind, *iss = NULL, *typ = NULL;
        json_object *v;
        char buf[21];

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (strcmp(kinds[i][0], kind) == 0)
                        kind = kinds[i][1];
        (void)jose_get_string(jws->header, "typ", "h", false, &typ, NULL);
        printf("Token:      %s (%s, alg %s%s%s)\n", o->file, kind, jws->alg, typ ? ", typ " : "", typ ?: "");
        if (jws->kid)
                printf("Key id:     %s\n", jws->kid);
        if (json_object_object_get_ex(jws->header, "jku", &v))
                printf("jku:        %s (not followed)\n", json_object_get_string(v));
        if (json_object_object_get_ex(jws->header, "x5c", &v) && json_object_is_type(v, json_type_array))
                printf("x5c:        %zu certificates\n", json_object_array_length(v));
        (void)jose_get_string(claims, "iss", "claims", false, &iss, NULL);
        if (iss)
                printf("Issuer:     %s%s\n", iss,
                       res->issuer_ok == 1   ? " (matches --issuer)"
                       : res->issuer_ok == 0 ? " (does NOT match --issuer)"
                                             : "");
        else if (res->issuer_ok == 0)
                printf("Issuer:     (none; --issuer expected %s)\n", o->issuer);
        if (t->has_iat) {
                format_rfc3339(t->iat, buf);
                printf("Issued at:  %s\n", buf);
        }
        if (t->has_nbf) {
                format_rfc3339(t->nbf, buf);
                printf("Not before: %s\n", buf);
        }
        if (t->has_exp) {
                format_rfc3339(t->exp, buf);
                printf("Expires:    %s\n", buf);
        }
        format_rfc3339(now, buf);
        printf("Now:        %s%s\n", buf, o->have_at ? " (--at)" : "");
        printf("Signature:  %s", sig_name(res->sig));
        if (res->sig == SIG_VALID && res->key && json_object_object_get_ex(res->key, "chain", &v)) {
                printf(" (x5c chain: ");
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        printf("%s%s", i ? " <- " : "",
                               json_object_get_string(json_object_array_get_idx(v, i)));
                printf(")");
        } else if (res->sig == SIG_VALID)
                printf(" (JWKS key %s)", jws->kid ?: "(only key)");
        printf("\nTime:       %s\n", time_name(res->time));
        printf("Verified:   %s\n", verified ? "yes" : "NO");
        for (size_t i = 0; i < json_object_array_length(res->reasons); i++)
                printf("  - %s\n", json_object_get_string(json_object_array_get_idx(res->reasons, i)));
        printf("Claims:\n%s\n",
               json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
}

int cmd_token(int argc, char *argv[])
{
        struct options o = {};
        struct result res = {.issuer_ok = -1};
        _cleanup_free_ unsigned char *buf = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL, *claims = NULL, *reasons = NULL, *key = NULL;
        _cleanup_(jws_freep) struct jws *jws = NULL;
        struct cvm_error err = {};
        struct jwt_times times;
        const char *token = NULL;
        time_t now;
        size_t n;
        bool verified;
        int r;

        r = parse_options(argc, argv, &o);
        if (r != 0)
                return r < 0 ? EXIT_OK : r; /* -1: --help printed; else a usage exit code */
        now = o.have_at ? o.at : time(NULL);

        r = cli_read_input(o.file, INPUT_MAX, &buf, &n);
        if (r != EXIT_OK)
                return r;
        r = extract_token(o.file, (char *)buf, n, &doc, &token, &res.input_kind);
        if (r != EXIT_OK)
                return r;
        r = jws_parse(token, strlen(token), &jws, &err);
        if (r < 0)
                return cli_fail(o.file, &err, r);
        r = jws_payload_json(jws, &claims, &err);
        if (r >= 0)
                r = jwt_get_times(claims, &times, &err);
        if (r < 0)
                return cli_fail(o.file, &err, r);

        reasons = res.reasons = json_object_new_array();
        if (!reasons)
                return cli_fail(o.file, NULL, -ENOMEM);

        r = check_signature(&o, jws, now, &res);
        key = res.key;
        if (r != EXIT_OK)
                return r;

        cvm_error_clear(&err);
        r = jwt_check_time(claims, now, o.leeway, false, &res.time, &err);
        if (r == -EKEYEXPIRED) {
                if (add_reason(&res, err.message) < 0)
                        return cli_fail(o.file, NULL, -ENOMEM);
        } else if (r < 0)
                return cli_fail(o.file, &err, r);

        if (o.issuer) {
                cvm_error_clear(&err);
                r = jwt_check_claim(claims, "iss", o.issuer, &err);
                res.issuer_ok = r >= 0;
                if (r < 0 && add_reason(&res, err.message) < 0)
                        return cli_fail(o.file, NULL, -ENOMEM);
        }

        verified = res.sig == SIG_VALID && res.time == JWT_TIME_VALID && res.issuer_ok != 0;

        if (o.json) {
                _cleanup_(json_object_putp) json_object *out = json_object_new_object();
                char nowbuf[21];

                if (!out)
                        return cli_fail(o.file, NULL, -ENOMEM);
                format_rfc3339(now, nowbuf);
                json_object_object_add(out, "file", json_object_new_string(o.file));
                json_object_object_add(out, "input", json_object_new_string(res.input_kind));
                json_object_object_add(out, "header", json_object_get(jws->header));
                json_object_object_add(out, "claims", json_object_get(claims));
                json_object_object_add(out, "signature", json_object_new_string(sig_name(res.sig)));
                if (key)
                        json_object_object_add(out, "key", json_object_get(key));
                json_object_object_add(out, "time", json_object_new_string(time_name(res.time)));
                json_object_object_add(out, "now", json_object_new_string(nowbuf));
                add_time(out, "issued_at", times.has_iat, times.iat);
                add_time(out, "not_before", times.has_nbf, times.nbf);
                add_time(out, "expires", times.has_exp, times.exp);
                if (res.issuer_ok >= 0)
                        json_object_object_add(out, "issuer",
                                               json_object_new_string(res.issuer_ok ? "match" : "mismatch"));
                json_object_object_add(out, "verified", json_object_new_boolean(verified));
                json_object_object_add(out, "reasons", json_object_get(reasons));
                r = cli_print_json(out);
                if (r != EXIT_OK)
                        return r;
        } else
                print_text(&o, jws, claims, &res, &times, now, verified);

        if (verified)
                return EXIT_OK;
        fprintf(stderr, "cvm-agent: %s: %s\n", o.file,
                json_object_array_length(reasons)
                        ? json_object_get_string(json_object_array_get_idx(reasons, 0))
                        : "token not verified");
        return EXIT_VERIFY_FAILED;
}
