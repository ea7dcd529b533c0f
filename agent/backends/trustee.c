/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "trustee" backend: Trustee KBS RCAR 0.4.0 (kbs-protocol.md) with az-snp-vtpm (version 2)
 * evidence from the Azure vTPM or snp evidence from configfs-tsm, an ephemeral TEE key (EC P-256
 * by default, or RSA-2048), and resources returned as JWE encrypted to that key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "backend-internal.h"
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

static int trustee_init(struct backend *b, json_object *cfg, struct cvm_error *err)
{
        static const char *const allowed[] = {"type", "kbs",  "resource", "ca_file", "evidence", "tee_key",
                                              "imds", "vcek", "tsm_dir",  "kv_root", NULL};
        const char *kbs, *res, *ev, *tk, *imds, *vcek, *tsm;
        struct trustee *t;
        size_t n;
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
        t = b->priv = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        if (dup_or(kbs, NULL, &t->kbs) < 0 || dup_or(res, NULL, &t->resource) < 0 ||
            dup_or(ev, "az-snp-vtpm", &t->evidence) < 0 || dup_or(tk, "ec", &t->tee_key_type) < 0 ||
            dup_or(imds, DEFAULT_IMDS, &t->imds) < 0 || dup_or(vcek, NULL, &t->vcek) < 0 ||
            dup_or(tsm, DEFAULT_TSM_DIR, &t->tsm_dir) < 0)
                return -ENOMEM;
        for (n = strlen(t->kbs); n > 8 && t->kbs[n - 1] == '/'; n--)
                t->kbs[n - 1] = '\0';
        for (n = strlen(t->imds); n > 7 && t->imds[n - 1] == '/'; n--)
                t->imds[n - 1] = '\0';
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

static int write_all(const char *path, const void *p, size_t n)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0600);
        ssize_t w;

        if (fd < 0)
                return -errno;
        w = write(fd, p, n);
        if (w < 0 || (size_t)w != n) {
                int r = w < 0 ? -errno : -EIO;
                close(fd);
                return r;
        }
        return close(fd) < 0 ? -errno : 0;
}

/*
 * configfs-tsm: mkdir an entry, write inblob (64 bytes), read outblob (the report) and auxblob
 * (the certificate table, optional), remove the entry. The root is configurable for tests.
 */
static int evidence_snp(struct backend *b, const uint8_t *rd, size_t rd_size, json_object **ret,
                        struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *ev = json_object_new_object(),
                                                *chain = json_object_new_array();
        _cleanup_free_ uint8_t *report = NULL, *vcek = NULL;
        _cleanup_free_ char *dir = NULL, *in = NULL, *out = NULL, *b64 = NULL, *vb64 = NULL;
        struct trustee *t = tr(b);
        uint8_t inblob[64] = {};
        struct cvm_error e = {};
        size_t report_size, vcek_size;
        int r;

        if (!ev || !chain)
                return -ENOMEM;
        memcpy(inblob, rd, rd_size < sizeof(inblob) ? rd_size : sizeof(inblob));
        if (asprintf(&dir, "%s/cvm-agent-%d", t->tsm_dir, (int)getpid()) < 0 ||
            asprintf(&in, "%s/inblob", dir) < 0 || asprintf(&out, "%s/outblob", dir) < 0)
                return -ENOMEM;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return backend_fail(b, BACKEND_FAIL_IO, -errno, err, "SNP report", "configfs-tsm %s: %m",
                                    dir);
        r = write_all(in, inblob, sizeof(inblob));
        if (r >= 0)
                r = read_file(out, 64 * 1024, &report, &report_size, &e);
        (void)unlink(in);
        (void)rmdir(dir);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_IO, r, err, "SNP report", "configfs-tsm %s: %s", dir,
                                    cvm_error_message(&e, r));
        if (report_size < SNP_REPORT_SIZE)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, -EBADMSG, err, "SNP report",
                                    "configfs-tsm outblob of %zu bytes, expected %d", report_size,
                                    SNP_REPORT_SIZE);
        r = vcek_der(b, &vcek, &vcek_size, err);
        if (r < 0)
                return r;
        b64 = b64_encode(report, SNP_REPORT_SIZE);
        vb64 = b64_encode(vcek, vcek_size);
        if (!b64 || !vb64)
                return -ENOMEM;
        _cleanup_(json_object_putp) json_object *entry = json_object_new_object();
        if (!entry || jose_add_string(entry, "cert_type", "VCEK") < 0 ||
            jose_add_string(entry, "data", vb64) < 0 || json_object_array_add(chain, TAKE_PTR(entry)) < 0 ||
            jose_add_string(ev, "attestation_report", b64) < 0 ||
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
        /* The claims as received over the verified TLS session (the KBS checks its own token). */
        r = jws_parse(t->token, strlen(t->token), &jws, &e);
        if (r >= 0)
                r = jws_payload_json(jws, &claims, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "KBS attest", "token: %s", e.message);
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
