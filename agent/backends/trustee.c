/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "trustee" backend: Trustee KBS RCAR 0.4.0 (kbs-protocol.md) with az-snp-vtpm (version 2)
 * evidence from the Azure vTPM or snp evidence from configfs-tsm, an ephemeral TEE key (EC P-256
 * by default, or RSA-2048), and resources returned as JWE encrypted to that key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "b64.h"
#include "backend-internal.h"
#include "canonjson.h"
#include "hashalg.h"
#include "jose.h"
#include "kbs.h"
#include "maa.h"
#include "snp.h"
#include "tpm.h"
#include "util.h"

#define DEFAULT_IMDS    "http://169.254.169.254"
#define DEFAULT_TSM_DIR "/sys/kernel/config/tsm/report"
#define REPORT_WAIT_MS  10000u
#define MAX_CERT        (64u * 1024u)

struct trustee {
        char *kbs, *resource, *evidence, *tee_key_type, *imds, *vcek, *tsm_dir;
        EVP_PKEY *tee_key; /* private: decrypts the resources */
        char *token;       /* bearer credential, never printed */
        /* Optional verification of the KBS token: pinned public keys or a JWK Set. */
        char *token_cert, *token_jwks;
        EVP_PKEY **token_keys;
        size_t n_token_keys;
        json_object *jwks;
};

static struct trustee *tr(struct backend *b)
{
        return b->priv;
}

static int dup_or(const char *v, const char *def, char **ret)
{
        if (!v && !def)
                return 0;
        *ret = strdup(v ? v : def);
        return *ret ? 0 : -ENOMEM;
}

#define MAX_TOKEN_KEYS 16

static int token_key_add(struct trustee *t, EVP_PKEY *k)
{
        EVP_PKEY **n;

        if (!k)
                return -EBADMSG;
        n = reallocarray(t->token_keys, t->n_token_keys + 1, sizeof(*n));
        if (!n) {
                EVP_PKEY_free(k);
                return -ENOMEM;
        }
        t->token_keys = n;
        t->token_keys[t->n_token_keys++] = k;
        return 0;
}

/*
 * "token_cert": PEM certificates and/or public keys whose keys are pinned (certificate validity
 * and chains do not matter: the KBS token is judged by its own exp/nbf). "token_jwks": a JWK Set.
 * Loaded at configuration time so that a bad file fails before any network traffic.
 */
static int token_keys_load(struct trustee *t, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *raw = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        const char *member = t->token_cert ? "token_cert" : "token_jwks";
        struct cvm_error e = {};
        size_t n;
        int r;

        if (!t->token_cert && !t->token_jwks)
                return 0;
        r = read_file(t->token_cert ?: t->token_jwks, MAX_CERT, &raw, &n, &e);
        if (r < 0)
                return cvm_error_set(err, -EINVAL, "configuration: \"%s\" %s: %s", member,
                                     t->token_cert ?: t->token_jwks, cvm_error_message(&e, r));
        if (t->token_jwks) {
                json_object *keys;

                r = canonjson_parse((const char *)raw, n, "token_jwks", &t->jwks, &e);
                if (r >= 0 &&
                    (!json_object_object_get_ex(t->jwks, "keys", &keys) ||
                     !json_object_is_type(keys, json_type_array) || json_object_array_length(keys) == 0))
                        r = cvm_error_set(&e, -EBADMSG, "not a JWK Set with a non-empty \"keys\" array");
                if (r < 0)
                        return cvm_error_set(err, r == -ENOMEM ? r : -EINVAL,
                                             "configuration: \"token_jwks\" %s: %s", t->token_jwks,
                                             cvm_error_message(&e, r));
                return 0;
        }
        bio = BIO_new_mem_buf(raw, (int)n);
        if (!bio)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *name = NULL, *header = NULL;
                unsigned char *data = NULL;
                const unsigned char *p;
                long len;

                if (!PEM_read_bio(bio, &name, &header, &data, &len))
                        break;
                p = data;
                r = 0;
                if (t->n_token_keys >= MAX_TOKEN_KEYS)
                        r = -E2BIG;
                else if (strcmp(name, "CERTIFICATE") == 0) {
                        X509 *x = d2i_X509(NULL, &p, len);

                        r = token_key_add(t, x ? X509_get_pubkey(x) : NULL);
                        X509_free(x);
                } else if (strcmp(name, "PUBLIC KEY") == 0)
                        r = token_key_add(t, d2i_PUBKEY(NULL, &p, len));
                OPENSSL_free(data);
                if (r < 0)
                        return cvm_error_set(err, r == -ENOMEM ? r : -EINVAL,
                                             "configuration: \"token_cert\" %s: PEM block %zu (%s): %s",
                                             t->token_cert, t->n_token_keys + 1, name,
                                             r == -E2BIG ? "too many keys" : "not a usable key");
        }
        ERR_clear_error();
        if (t->n_token_keys == 0)
                return cvm_error_set(
                        err, -EINVAL,
                        "configuration: \"token_cert\" %s holds no PEM certificate or public key",
                        t->token_cert);
        return 0;
}

static int trustee_init(struct backend *b, json_object *cfg, struct cvm_error *err)
{
        static const char *const allowed[] = {"type",       "kbs",        "resource", "ca_file", "evidence",
                                              "tee_key",    "imds",       "vcek",     "tsm_dir", "kv_root",
                                              "token_cert", "token_jwks", NULL};
        const char *kbs, *res, *ev, *tk, *imds, *vcek, *tsm, *tcert, *tjwks;
        struct trustee *t;
        int r;

        r = backend_cfg_only(cfg, allowed, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "kbs", true, &kbs, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "resource", false, &res, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "evidence", false, &ev, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "tee_key", false, &tk, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "imds", false, &imds, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "vcek", false, &vcek, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "tsm_dir", false, &tsm, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "token_cert", false, &tcert, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "token_jwks", false, &tjwks, err);
        if (r >= 0)
                r = backend_url_check("kbs", kbs, false, NULL, err);
        if (r >= 0)
                r = backend_url_check("imds", imds ? imds : DEFAULT_IMDS, true, NULL, err);
        if (r < 0)
                return r;
        if (res && !kbs_resource_path_valid(res))
                return cvm_error_set(err, -EINVAL, "configuration: \"resource\" must be repo/type/tag");
        if (ev && strcmp(ev, "az-snp-vtpm") != 0 && strcmp(ev, "snp") != 0)
                return cvm_error_set(err, -EINVAL, "configuration: \"evidence\" must be az-snp-vtpm or snp");
        if (tk && strcmp(tk, "ec") != 0 && strcmp(tk, "rsa") != 0)
                return cvm_error_set(err, -EINVAL, "configuration: \"tee_key\" must be ec or rsa");
        if (tcert && tjwks)
                return cvm_error_set(
                        err, -EINVAL,
                        "configuration: \"token_cert\" and \"token_jwks\" are mutually exclusive");
        t = b->priv = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        if (dup_or(kbs, NULL, &t->kbs) < 0 || dup_or(res, NULL, &t->resource) < 0 ||
            dup_or(ev, "az-snp-vtpm", &t->evidence) < 0 || dup_or(tk, "ec", &t->tee_key_type) < 0 ||
            dup_or(imds, DEFAULT_IMDS, &t->imds) < 0 || dup_or(vcek, NULL, &t->vcek) < 0 ||
            dup_or(tsm, DEFAULT_TSM_DIR, &t->tsm_dir) < 0 || dup_or(tcert, NULL, &t->token_cert) < 0 ||
            dup_or(tjwks, NULL, &t->token_jwks) < 0)
                return -ENOMEM;
        r = token_keys_load(t, err);
        if (r < 0)
                return r;
        backend_url_trim(t->kbs);
        backend_url_trim(t->imds);
        return 0;
}

static void trustee_done(struct backend *b)
{
        struct trustee *t = tr(b);

        if (!t)
                return;
        EVP_PKEY_free(t->tee_key);
        if (t->token)
                erase_and_free(t->token, strlen(t->token));
        free(t->kbs);
        free(t->resource);
        free(t->evidence);
        free(t->tee_key_type);
        free(t->imds);
        free(t->vcek);
        free(t->tsm_dir);
        free(t->token_cert);
        free(t->token_jwks);
        for (size_t i = 0; i < t->n_token_keys; i++)
                EVP_PKEY_free(t->token_keys[i]);
        free(t->token_keys);
        json_object_put(t->jwks);
        free(t);
        b->priv = NULL;
}

/* ---- TEE key -------------------------------------------------------------------------------------------- */

static int tee_key_new(struct backend *b, json_object **ret_jwk, struct cvm_error *err)
{
        struct trustee *t = tr(b);
        bool ec = strcmp(t->tee_key_type, "ec") == 0;
        struct cvm_error e = {};
        int r;

        t->tee_key = ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                        : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        if (!t->tee_key)
                return backend_fail(b, BACKEND_FAIL_INTERNAL, -EIO, err, "TEE key", "key generation failed");
        r = jwk_from_pkey(t->tee_key, 0, ret_jwk, &e);
        if (r >= 0)
                r = jose_add_string(*ret_jwk, "alg", ec ? "ECDH-ES+A256KW" : "RSA-OAEP-256");
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_INTERNAL, r, err, "TEE key", "%s",
                                    cvm_error_message(&e, r));
        return 0;
}

/* ---- az-snp-vtpm evidence ------------------------------------------------------------------------------ */

int backend_hcl_match(const uint8_t *report, size_t size, const uint8_t *ud, size_t ud_size, void *userdata,
                      struct cvm_error *err);

/*
 * A fresh HCL report bound to @rd: write it to NV 0x01400002, then re-read the report, each time
 * on a new TPM connection so that whoever regenerates the report (the paravisor; the test
 * simulator between connections) gets a turn. Bounded by REPORT_WAIT_MS.
 */
static int fresh_report(struct backend *b, const uint8_t *rd, size_t rd_size, struct tpm_blob *ret,
                        struct cvm_error *err)
{
        _cleanup_(tpm_closep) struct tpm *tpm = NULL;
        struct timespec start, now;
        struct cvm_error e = {};
        int r;

        r = tpm_open(b->settings.tcti, &tpm, &e);
        if (r >= 0)
                r = tpm_nv_write(tpm, TPM_AZURE_USER_DATA_NV, rd, rd_size, &e);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "HCL report", &e);
        tpm_close(TAKE_PTR(tpm));
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct tpm_blob rep = {};
                struct timespec d = {.tv_nsec = 100 * 1000 * 1000};

                r = tpm_open(b->settings.tcti, &tpm, &e);
                if (r >= 0)
                        r = tpm_nv_read(tpm, TPM_AZURE_HCL_REPORT_NV, &rep, &e);
                tpm_close(TAKE_PTR(tpm));
                if (r < 0)
                        return backend_tpm_fail(b, r, err, "HCL report", &e);
                if (backend_hcl_match(rep.data, rep.size, rd, rd_size, NULL, NULL) > 0) {
                        *ret = rep;
                        return 0;
                }
                tpm_blob_done(&rep);
                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
                    REPORT_WAIT_MS)
                        return backend_fail(b, BACKEND_FAIL_TPM, -ETIMEDOUT, err, "HCL report",
                                            "stale report: the HCL report in NV 0x%08x did not take up the "
                                            "report data within %u ms",
                                            TPM_AZURE_HCL_REPORT_NV, REPORT_WAIT_MS);
                nanosleep(&d, NULL);
        }
}

static int vcek_der(struct backend *b, uint8_t **ret, size_t *ret_size, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *raw = NULL;
        _cleanup_free_ char *pem = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        struct trustee *t = tr(b);
        struct cvm_error e = {};
        const uint8_t *p;
        uint8_t *der = NULL;
        size_t n;
        int r, len;

        if (t->vcek) {
                r = read_file(t->vcek, MAX_CERT, &raw, &n, &e);
                if (r < 0)
                        return backend_fail(b, BACKEND_FAIL_IO, r, err, "VCEK", "%s: %s", t->vcek,
                                            e.message);
        } else {
                _cleanup_(http_client_freep) struct http_client *c = NULL;

                r = backend_imds_client(b, t->imds, &c, &e);
                if (r < 0)
                        return backend_fail(b, BACKEND_FAIL_CONFIG, r, err, "IMDS", "%s", e.message);
                r = imds_thim_chain(b, c, t->imds, &pem, err);
                if (r < 0)
                        return r;
                raw = (uint8_t *)TAKE_PTR(pem);
                n = strlen((char *)raw);
        }
        /* PEM (the first certificate is the VCEK) or DER. */
        bio = BIO_new_mem_buf(raw, (int)n);
        if (!bio)
                return -ENOMEM;
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x) {
                p = raw;
                x = d2i_X509(NULL, &p, (long)n);
        }
        if (!x)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, -EBADMSG, err, "VCEK",
                                    "not a PEM or DER certificate");
        len = i2d_X509(x, &der);
        if (len <= 0)
                return -ENOMEM;
        *ret = der;
        *ret_size = (size_t)len;
        return 0;
}

static int jhex(json_object *o, const char *k, const void *p, size_t n)
{
        _cleanup_free_ char *s = hex_encode(p, n);

        return s ? jose_add_string(o, k, s) : -ENOMEM;
}

static int evidence_az_snp_vtpm(struct backend *b, const uint8_t *rd, size_t rd_size, json_object **ret,
                                struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *ev = json_object_new_object(),
                                                *q = json_object_new_object(),
                                                *pcrs = json_object_new_array();
        _cleanup_(tpm_closep) struct tpm *tpm = NULL;
        _cleanup_free_ uint8_t *vcek = NULL;
        struct tpm_blob hcl = {}, msg = {}, sig = {};
        struct tpm_pcrs values;
        struct cvm_error e = {};
        size_t vcek_size;
        int r;

        if (!ev || !q || !pcrs)
                return -ENOMEM;
        r = vcek_der(b, &vcek, &vcek_size, err);
        if (r < 0)
                return r;
        r = fresh_report(b, rd, rd_size, &hcl, err);
        if (r < 0)
                return r;
        r = tpm_open(b->settings.tcti, &tpm, &e);
        if (r >= 0)
                r = tpm_quote(tpm, TPM_AZURE_AK_HANDLE, TPM_ALG_SHA256, 0xffffffu, rd, rd_size, &msg, &sig,
                              &e);
        if (r >= 0)
                r = tpm_pcr_read(tpm, TPM_ALG_SHA256, 0xffffffu, &values, &e);
        if (r < 0) {
                tpm_blob_done(&hcl);
                tpm_blob_done(&msg);
                tpm_blob_done(&sig);
                return backend_tpm_fail(b, r, err, "TPM quote", &e);
        }
        for (unsigned i = 0; r >= 0 && i < TPM_PCR_COUNT; i++) {
                _cleanup_free_ char *h = hex_encode(values.digest[i], values.digest_size);

                r = h && json_object_array_add(pcrs, json_object_new_string(h)) >= 0 ? 0 : -ENOMEM;
        }
        if (r >= 0)
                r = jhex(q, "signature", sig.data, sig.size);
        if (r >= 0)
                r = jhex(q, "message", msg.data, msg.size);
        if (r >= 0)
                r = json_object_object_add(q, "pcrs", TAKE_PTR(pcrs));
        if (r >= 0)
                r = json_object_object_add(ev, "version", json_object_new_int(2));
        if (r >= 0)
                r = json_object_object_add(ev, "tpm_quote", TAKE_PTR(q));
        if (r >= 0)
                r = jose_add_b64url(ev, "hcl_report", hcl.data, hcl.size);
        if (r >= 0)
                r = jose_add_b64url(ev, "vcek", vcek, vcek_size);
        tpm_blob_done(&hcl);
        tpm_blob_done(&msg);
        tpm_blob_done(&sig);
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(ev);
        return 0;
}

/* ---- snp evidence via configfs-tsm --------------------------------------------------------------------- */

/*
 * configfs-tsm (Documentation/ABI/testing/configfs-tsm): mkdir report/<name> makes the kernel
 * create the attributes; "provider" names the TSM, writing "inblob" (the 64-byte report data)
 * bumps "generation", reading "outblob" returns the report and "auxblob" the host's certificate
 * table. Another process using the same entry between our write and our reads shows as a
 * generation that moved by more than our one write: the report may then carry its report data,
 * so we start over (TSM_ATTEMPTS times), and refuse after that.
 */
#define TSM_ATTEMPTS    3
#define TSM_MAX_OUTBLOB (16u * 1024u)
#define TSM_MAX_AUXBLOB (1u << 20)
#define TSM_MAX_ATTR    64u

struct tsm_blobs {
        uint8_t *report, *aux;
        size_t report_size, aux_size;
};

static void tsm_blobs_done(struct tsm_blobs *t)
{
        free(t->report);
        free(t->aux);
        *t = (struct tsm_blobs){};
}

static int tsm_read(const char *dir, const char *name, size_t max, uint8_t **ret, size_t *ret_size,
                    struct cvm_error *err)
{
        _cleanup_free_ char *path = NULL;
        struct cvm_error e = {};
        int r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = read_file(path, max, ret, ret_size, &e);
        if (r < 0)
                return cvm_error_set(err, r, "%s: %s", path, cvm_error_message(&e, r));
        return 0;
}

/* A text attribute ("sev_guest\n", "17\n") without its newline. */
static int tsm_read_text(const char *dir, const char *name, char **ret, struct cvm_error *err)
{
        uint8_t *p;
        size_t n;
        int r;

        r = tsm_read(dir, name, TSM_MAX_ATTR, &p, &n, err);
        if (r < 0)
                return r;
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\0'))
                n--;
        if (memchr(p, '\0', n)) {
                free(p);
                return cvm_error_set(err, -EBADMSG, "%s/%s: not a text attribute", dir, name);
        }
        p[n] = '\0'; /* read_file() leaves room for a terminator */
        *ret = (char *)p;
        return 0;
}

static int tsm_generation(const char *dir, uint64_t *ret, struct cvm_error *err)
{
        _cleanup_free_ char *s = NULL;
        char *end;
        int r;

        r = tsm_read_text(dir, "generation", &s, err);
        if (r < 0)
                return r;
        errno = 0;
        *ret = strtoull(s, &end, 10);
        if (!*s || *end || errno != 0 || s[0] == '-')
                return cvm_error_set(err, -EBADMSG, "%s/generation: \"%.20s\" is not a number", dir, s);
        return 0;
}

static int tsm_write(const char *dir, const char *name, const void *p, size_t n, struct cvm_error *err)
{
        _cleanup_free_ char *path = NULL;
        ssize_t w;
        int fd, r;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        /* No O_CREAT: the attribute exists in a configfs-tsm entry, a missing one is an error. */
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return cvm_error_set(err, -errno, "%s: %s", path, strerror(errno));
        w = write(fd, p, n);
        r = w < 0 ? -errno : (size_t)w != n ? -EIO : 0;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0)
                return cvm_error_set(err, r, "%s: write: %s", path, strerror(-r));
        return 0;
}

/* One round on the entry @dir: 0, -ESTALE on a generation race, another negative errno. */
static int tsm_round(const char *dir, const uint8_t inblob[64], struct tsm_blobs *ret, struct cvm_error *err)
{
        _cleanup_free_ char *provider = NULL;
        struct tsm_blobs blobs = {};
        uint64_t g0, g1;
        int r;

        r = tsm_read_text(dir, "provider", &provider, err);
        if (r < 0)
                return r;
        if (strcmp(provider, "sev_guest") != 0)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "%s/provider is \"%.32s\": snp evidence needs the sev_guest provider",
                                     dir, provider);
        r = tsm_generation(dir, &g0, err);
        if (r >= 0)
                r = tsm_write(dir, "inblob", inblob, 64, err);
        if (r >= 0)
                r = tsm_read(dir, "outblob", TSM_MAX_OUTBLOB, &blobs.report, &blobs.report_size, err);
        if (r >= 0) {
                r = tsm_read(dir, "auxblob", TSM_MAX_AUXBLOB, &blobs.aux, &blobs.aux_size, err);
                if (r == -ENOENT) /* no certificate table */
                        r = 0;
        }
        if (r >= 0)
                r = tsm_generation(dir, &g1, err);
        if (r >= 0 && g1 != g0 + 1)
                r = cvm_error_set(err, -ESTALE,
                                  "%s: generation went from %" PRIu64 " to %" PRIu64
                                  " during one write: another process uses the entry",
                                  dir, g0, g1);
        if (r < 0) {
                tsm_blobs_done(&blobs);
                return r;
        }
        *ret = blobs;
        return 0;
}

static int tsm_report(struct backend *b, const uint8_t inblob[64], struct tsm_blobs *ret,
                      struct cvm_error *err)
{
        _cleanup_free_ char *dir = NULL;
        struct trustee *t = tr(b);
        struct cvm_error e = {};
        int r = -ESTALE;

        if (asprintf(&dir, "%s/cvm-agent-%d", t->tsm_dir, (int)getpid()) < 0)
                return -ENOMEM;
        /* EEXIST: left behind by an earlier process with our pid; the generation check covers it. */
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return backend_fail(b, BACKEND_FAIL_IO, -errno, err, "SNP report",
                                    "configfs-tsm: cannot create %s: %m (no TSM report support, or "
                                    "configfs not mounted)",
                                    dir);
        for (unsigned i = 0; i < TSM_ATTEMPTS && r == -ESTALE; i++) {
                e = (struct cvm_error){}; /* report the last round */
                r = tsm_round(dir, inblob, ret, &e);
        }
        (void)rmdir(dir); /* configfs removes the attributes with the entry */
        if (r == -ESTALE)
                return backend_fail(b, BACKEND_FAIL_IO, -EBUSY, err, "SNP report",
                                    "configfs-tsm: %s; gave up after %u attempts", e.message, TSM_ATTEMPTS);
        if (r < 0)
                return backend_fail(
                        b, r == -EOPNOTSUPP || r == -EBADMSG ? BACKEND_FAIL_EVIDENCE : BACKEND_FAIL_IO, r,
                        err, "SNP report", "configfs-tsm %s", cvm_error_message(&e, r));
        return 0;
}

static int evidence_snp(struct backend *b, const uint8_t *rd, size_t rd_size, json_object **ret,
                        struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *ev = json_object_new_object(), *chain = NULL;
        _cleanup_free_ uint8_t *vcek = NULL;
        _cleanup_free_ char *b64 = NULL, *vb64 = NULL, *want = NULL, *got = NULL;
        struct tsm_blobs blobs = {};
        struct snp_report rep;
        struct trustee *t = tr(b);
        uint8_t inblob[64] = {};
        struct cvm_error e = {};
        size_t vcek_size;
        bool has_vek = false;
        int r;

        if (!ev)
                return -ENOMEM;
        memcpy(inblob, rd, rd_size < sizeof(inblob) ? rd_size : sizeof(inblob));
        r = tsm_report(b, inblob, &blobs, err);
        if (r < 0)
                return r;
        r = snp_report_parse(blobs.report, blobs.report_size, &rep, &e);
        if (r < 0) {
                tsm_blobs_done(&blobs);
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "SNP report",
                                    "configfs-tsm outblob: %s", cvm_error_message(&e, r));
        }
        /* A report for other data would be refused by the KBS anyway; say so here, precisely. */
        if (memcmp(rep.report_data, inblob, sizeof(inblob)) != 0) {
                want = hex_encode(inblob, 16);
                got = hex_encode(rep.report_data, 16);
                tsm_blobs_done(&blobs);
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, -EBADMSG, err, "SNP report",
                                    "the configfs-tsm report carries report_data %s..., not the requested "
                                    "%s... (stale or foreign report)",
                                    got ?: "?", want ?: "?");
        }
        b64 = b64_encode(blobs.report, SNP_REPORT_SIZE);
        r = kbs_snp_cert_chain(blobs.aux, blobs.aux_size, &chain, &has_vek, &e);
        tsm_blobs_done(&blobs);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "SNP report",
                                    "configfs-tsm auxblob: %s", cvm_error_message(&e, r));
        /* No VCEK from the host: the configured one; without either the verifier must fetch it. */
        if (!has_vek && t->vcek) {
                _cleanup_(json_object_putp) json_object *entry = json_object_new_object();

                r = vcek_der(b, &vcek, &vcek_size, err);
                if (r < 0)
                        return r;
                vb64 = b64_encode(vcek, vcek_size);
                if (!entry || !vb64 || jose_add_string(entry, "cert_type", "VCEK") < 0 ||
                    jose_add_string(entry, "data", vb64) < 0 ||
                    json_object_array_add(chain, TAKE_PTR(entry)) < 0)
                        return -ENOMEM;
        }
        if (!b64 || jose_add_string(ev, "attestation_report", b64) < 0)
                return -ENOMEM;
        if (json_object_array_length(chain) > 0 &&
            json_object_object_add(ev, "cert_chain", TAKE_PTR(chain)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(ev);
        return 0;
}

/* ---- RCAR ----------------------------------------------------------------------------------------------- */

static int post_json(struct backend *b, const char *path, const char *body, const char *stage,
                     struct http_response **ret, struct cvm_error *err)
{
        _cleanup_free_ char *url = NULL;

        if (asprintf(&url, "%s%s", tr(b)->kbs, path) < 0)
                return -ENOMEM;
        struct http_request req = {.method = "POST",
                                   .url = url,
                                   .body = body,
                                   .body_size = strlen(body),
                                   .content_type = "application/json",
                                   .max_response_size = KBS_MAX_RESPONSE};
        return backend_http(b, b->https, &req, stage, ret, err);
}

/*
 * The KBS token against the configured keys (never the key its header carries), then its
 * validity period with the configured skew.
 */
static int token_verify(struct backend *b, const struct jws *jws, json_object *claims, struct cvm_error *err)
{
        struct trustee *t = tr(b);
        enum jwt_time_status st;
        struct cvm_error e = {};
        int r = -EKEYREJECTED;

        if (!t->token_cert && !t->token_jwks)
                return 0;
        if (t->jwks)
                r = jws_verify_jwks(jws, t->jwks, &e);
        else
                for (size_t i = 0; i < t->n_token_keys && r < 0 && r != -ENOMEM; i++)
                        r = jws_verify(jws, t->token_keys[i], &e);
        if (r < 0)
                return backend_fail(b, r == -EBADMSG ? BACKEND_FAIL_EVIDENCE : BACKEND_FAIL_VERIFY, r, err,
                                    "KBS token", "%s signature does not verify with %s %s: %s", jws->alg,
                                    t->jwks ? "token_jwks" : "token_cert", t->token_cert ?: t->token_jwks,
                                    cvm_error_message(&e, r));
        r = jwt_check_time(claims, time(NULL), b->settings.leeway_s, true, &st, &e);
        if (r < 0)
                return backend_fail(b, r == -EBADMSG ? BACKEND_FAIL_EVIDENCE : BACKEND_FAIL_VERIFY, r, err,
                                    "KBS token", "%s", cvm_error_message(&e, r));
        return 0;
}

static int trustee_attest(struct backend *b, struct cvm_error *err)
{
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        _cleanup_(json_object_putp) json_object *jwk = NULL, *runtime = NULL, *evidence = NULL,
                                                *claims = NULL;
        _cleanup_(jws_freep) struct jws *jws = NULL;
        _cleanup_free_ char *body = NULL, *nonce = NULL;
        struct trustee *t = tr(b);
        bool az = strcmp(t->evidence, "az-snp-vtpm") == 0;
        uint8_t rd[64];
        size_t rd_size;
        const char *hash;
        struct cvm_error e = {};
        int r;

        r = tee_key_new(b, &jwk, err);
        if (r < 0)
                return r;
        r = kbs_auth_request(t->evidence, &body);
        if (r < 0)
                return r;
        r = post_json(b, "/kbs/v0/auth", body, "KBS auth", &resp, err);
        if (r < 0)
                return r;
        r = kbs_challenge_parse((const char *)resp->body, resp->body_size, &nonce, &hash, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "KBS auth", "%s", e.message);
        http_response_freep(&resp);
        r = kbs_runtime_data(nonce, jwk, hash, &runtime, rd, &rd_size, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_INTERNAL, r, err, "KBS attest", "%s", e.message);
        r = az ? evidence_az_snp_vtpm(b, rd, rd_size, &evidence, err)
               : evidence_snp(b, rd, rd_size, &evidence, err);
        if (r < 0)
                return r;
        free(body);
        body = NULL;
        r = kbs_attest_request(runtime, evidence, &body);
        if (r < 0)
                return r;
        r = post_json(b, "/kbs/v0/attest", body, "KBS attest", &resp, err);
        if (r < 0)
                return r;
        r = kbs_attest_parse((const char *)resp->body, resp->body_size, &t->token, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "KBS attest", "%s", e.message);
        r = jws_parse(t->token, strlen(t->token), &jws, &e);
        if (r >= 0)
                r = jws_payload_json(jws, &claims, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "KBS attest", "token: %s", e.message);
        /* Without token_cert/token_jwks: the claims as received over the verified TLS session. */
        r = token_verify(b, jws, claims, err);
        if (r < 0)
                return r;
        b->claims = TAKE_PTR(claims);
        return 0;
}

static int trustee_release(struct backend *b, const char *key_ref, struct secret_buf *ret,
                           struct cvm_error *err)
{
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        _cleanup_free_ char *url = NULL;
        struct trustee *t = tr(b);
        struct cvm_error e = {};
        int r;

        key_ref = key_ref ? key_ref : t->resource;
        if (!key_ref || !kbs_resource_path_valid(key_ref))
                return backend_fail(b, BACKEND_FAIL_CONFIG, -EINVAL, err, "KBS resource",
                                    "resource \"%s\" is not repo/type/tag",
                                    key_ref ? key_ref : "(none configured)");
        if (asprintf(&url, "%s/kbs/v0/resource/%s", t->kbs, key_ref) < 0)
                return -ENOMEM;
        /* The session cookie rides along (the client's jar); the Bearer token outlives it. */
        struct http_request req = {
                .method = "GET", .url = url, .bearer = t->token, .max_response_size = KBS_MAX_RESPONSE};
        r = backend_http(b, b->https, &req, "KBS resource", &resp, err);
        if (r < 0)
                return r;
        r = jwe_decrypt((const char *)resp->body, resp->body_size, t->tee_key, ret, NULL, &e);
        if (r < 0)
                return backend_fail(b, r == -EKEYREJECTED ? BACKEND_FAIL_VERIFY : BACKEND_FAIL_EVIDENCE, r,
                                    err, "resource decrypt", "%s", e.message);
        return 0;
}

const struct backend_ops backend_trustee_ops = {
        .type = "trustee",
        .init = trustee_init,
        .attest = trustee_attest,
        .release = trustee_release,
        .done = trustee_done,
};
