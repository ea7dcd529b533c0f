/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "azure" backend: MAA AzureGuest attestation with the vTPM, Key Vault / Managed HSM
 * Secure Key Release unwrapped inside the vTPM (azure-protocol.md §4-§6).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "backend-internal.h"
#include "hashalg.h"
#include "hcl.h"
#include "jose.h"
#include "maa.h"
#include "skr.h"
#include "tpm.h"
#include "tpmkey.h"
#include "util.h"

#define DEFAULT_IMDS     "http://169.254.169.254"
#define DEFAULT_EVENTLOG "/sys/kernel/security/tpm0/binary_bios_measurements"
#define DEFAULT_KV_ROOTS "/etc/ssl/certs/ca-certificates.crt"
#define DEFAULT_ENC      "RSA_AES_KEY_WRAP_256"
#define MAX_EVENTLOG     (4u << 20)
#define PCR_MASK_0_7     0xffu
#define NONCE_SIZE       32

struct azure {
        char *maa, *maa_host, *vault_key, *enc, *imds;
        bool hcl_refresh;
        struct tpm *tpm;
        tpm_object enc_key;
        EVP_PKEY *enc_pub;
        char *token;  /* the MAA JWT: a bearer credential for the release, never printed */
        char *access; /* managed-identity access token */
        char *access_resource;
        struct http_client *imds_client;
};

static struct azure *az(struct backend *b)
{
        return b->priv;
}

static int azure_init(struct backend *b, json_object *cfg, struct cvm_error *err)
{
        static const char *const allowed[] = {"type",    "maa",     "vault_key",   "enc", "imds",
                                              "ca_file", "kv_root", "hcl_refresh", NULL};
        const char *maa, *vk, *enc, *imds;
        struct azure *a;
        int r;

        r = backend_cfg_only(cfg, allowed, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "maa", true, &maa, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "vault_key", false, &vk, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "enc", false, &enc, err);
        if (r >= 0)
                r = backend_cfg_string(cfg, "imds", false, &imds, err);
        if (r < 0)
                return r;
        enc = enc ? enc : DEFAULT_ENC;
        if (!skr_oaep_hash(enc) || strcmp(enc, "RSA_AES_KEY_WRAP_384") == 0)
                return cvm_error_set(
                        err, -EINVAL,
                        "configuration: \"enc\" must be CKM_RSA_AES_KEY_WRAP or RSA_AES_KEY_WRAP_256");
        a = b->priv = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->enc_key = TPM_OBJECT_NONE;
        r = backend_cfg_bool(cfg, "hcl_refresh", false, &a->hcl_refresh, err);
        if (r >= 0)
                r = backend_url_check("maa", maa, false, &a->maa_host, err);
        if (r >= 0 && vk)
                r = backend_url_check("vault_key", vk, false, NULL, err);
        if (r >= 0)
                r = backend_url_check("imds", imds ? imds : DEFAULT_IMDS, true, NULL, err);
        if (r < 0)
                return r;
        a->maa = strdup(maa);
        a->enc = strdup(enc);
        a->imds = strdup(imds ? imds : DEFAULT_IMDS);
        if (!a->maa || !a->enc || !a->imds || (vk && !(a->vault_key = strdup(vk))))
                return -ENOMEM;
        backend_url_trim(a->maa);
        backend_url_trim(a->imds);
        return 0;
}

static void azure_done(struct backend *b)
{
        struct azure *a = az(b);

        if (!a)
                return;
        if (a->tpm) {
                tpm_flush(a->tpm, a->enc_key);
                tpm_close(a->tpm);
        }
        EVP_PKEY_free(a->enc_pub);
        if (a->token)
                erase_and_free(a->token, strlen(a->token));
        if (a->access)
                erase_and_free(a->access, strlen(a->access));
        http_client_free(a->imds_client);
        free(a->access_resource);
        free(a->maa);
        free(a->maa_host);
        free(a->vault_key);
        free(a->enc);
        free(a->imds);
        free(a);
        b->priv = NULL;
}

/* ---- evidence ------------------------------------------------------------------------------------------- */

struct gathered {
        struct tpm_blob hcl, ak_pub, ak_cert, quote, quote_sig, enc_pub, certify, certify_sig;
        struct tpm_pcrs pcrs;
        uint8_t *log;
        size_t log_size;
        char *chain;
        char distro[128];
        int major, minor;
};

static void gathered_done(struct gathered *g)
{
        tpm_blob_done(&g->hcl);
        tpm_blob_done(&g->ak_pub);
        tpm_blob_done(&g->ak_cert);
        tpm_blob_done(&g->quote);
        tpm_blob_done(&g->quote_sig);
        tpm_blob_done(&g->enc_pub);
        tpm_blob_done(&g->certify);
        tpm_blob_done(&g->certify_sig);
        free(g->log);
        free(g->chain);
}

/* NAME and VERSION_ID of /etc/os-release (MAA wants them; defaults when absent). */
static void os_release(struct gathered *g)
{
        _cleanup_(fclosep) FILE *f = fopen("/etc/os-release", "re");
        char line[256];

        snprintf(g->distro, sizeof(g->distro), "Linux");
        g->major = 1;
        g->minor = 0;
        while (f && fgets(line, sizeof(line), f)) {
                char *v = strchr(line, '='), *end;

                if (!v)
                        continue;
                *v++ = '\0';
                v[strcspn(v, "\n")] = '\0';
                if (*v == '"' && (end = strrchr(v + 1, '"'))) {
                        *end = '\0';
                        v++;
                }
                if (strcmp(line, "NAME") == 0 && *v)
                        snprintf(g->distro, sizeof(g->distro), "%s", v);
                else if (strcmp(line, "VERSION_ID") == 0)
                        (void)sscanf(v, "%d.%d", &g->major, &g->minor);
        }
}

int backend_hcl_match(const uint8_t *report, size_t size, const uint8_t *ud, size_t ud_size, void *userdata,
                      struct cvm_error *err);
int backend_hcl_match(const uint8_t *report, size_t size, const uint8_t *ud, size_t ud_size, void *userdata,
                      struct cvm_error *err)
{
        struct hcl_report *hcl = NULL;
        char want[2 * TPM_AZURE_USER_DATA_MAX + 1];
        uint8_t padded[TPM_AZURE_USER_DATA_MAX] = {};
        json_object *v;
        int r = 0;

        (void)userdata;
        (void)err;
        /* A report being rewritten may not parse yet: keep waiting, the wait is bounded. */
        if (hcl_report_parse(report, size, &hcl, NULL) < 0)
                return 0;
        if (json_object_object_get_ex(hcl_report_runtime_claims(hcl), "user-data", &v) &&
            json_object_is_type(v, json_type_string)) {
                memcpy(padded, ud, ud_size);
                hex_encode_to(want, padded, sizeof(padded));
                r = strcasecmp(json_object_get_string(v), want) == 0;
        }
        hcl_report_free(hcl);
        return r;
}

static int gather_tpm(struct backend *b, const uint8_t *nonce, struct gathered *g, struct cvm_error *err)
{
        struct azure *a = az(b);
        struct cvm_error e = {};
        int r;

        r = tpm_open(b->settings.tcti, &a->tpm, &e);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "TPM open", &e);
        if (a->hcl_refresh)
                r = tpm_hcl_report_refresh(a->tpm, nonce, NONCE_SIZE, 5000, backend_hcl_match, NULL, &g->hcl,
                                           &e);
        else
                r = tpm_nv_read(a->tpm, TPM_AZURE_HCL_REPORT_NV, &g->hcl, &e);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "HCL report", &e);
        r = tpm_read_public(a->tpm, TPM_AZURE_AK_HANDLE, &g->ak_pub, &e);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "attestation key", &e);
        r = tpm_nv_read(a->tpm, TPM_AZURE_AK_CERT_NV, &g->ak_cert, &e);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "AK certificate", &e);
        r = tpm_quote(a->tpm, TPM_AZURE_AK_HANDLE, TPM_ALG_SHA256, PCR_MASK_0_7, nonce, NONCE_SIZE,
                      &g->quote, &g->quote_sig, &e);
        if (r >= 0)
                r = tpm_pcr_read(a->tpm, TPM_ALG_SHA256, PCR_MASK_0_7, &g->pcrs, &e);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "TPM quote", &e);
        r = tpm_ephemeral_key_create(a->tpm, &a->enc_key, &g->enc_pub, &e);
        if (r >= 0)
                r = tpm_certify(a->tpm, a->enc_key, TPM_AZURE_AK_HANDLE, NULL, 0, &g->certify,
                                &g->certify_sig, &e);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "ephemeral key", &e);
        r = tpmkey_from_tpm_public(g->enc_pub.data, g->enc_pub.size, true, &a->enc_pub, NULL, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_TPM, r, err, "ephemeral key", "%s", e.message);
        return 0;
}

static int gather(struct backend *b, const uint8_t *nonce, struct gathered *g, struct cvm_error *err)
{
        struct azure *a = az(b);
        const char *log = b->settings.eventlog ? b->settings.eventlog : DEFAULT_EVENTLOG;
        struct cvm_error e = {};
        int r;

        r = read_file(log, MAX_EVENTLOG, &g->log, &g->log_size, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_IO, r, err, "event log", "%s: %s", log, e.message);
        os_release(g);
        r = gather_tpm(b, nonce, g, err);
        if (r < 0)
                return r;
        r = backend_imds_client(b, a->imds, &a->imds_client, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_CONFIG, r, err, "IMDS", "%s", e.message);
        return imds_thim_chain(b, a->imds_client, a->imds, &g->chain, err);
}

/* ---- attestation ---------------------------------------------------------------------------------------- */

static int fetch_jwks(struct backend *b, json_object **ret, struct cvm_error *err)
{
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        _cleanup_free_ char *url = NULL;
        struct cvm_error e = {};
        int r;

        /* Always the configured instance's /certs, never the token's "jku". */
        if (asprintf(&url, "%s/certs", az(b)->maa) < 0)
                return -ENOMEM;
        struct http_request req = {.method = "GET", .url = url, .accept = "application/json"};
        r = backend_http(b, b->https, &req, "MAA certs", &resp, err);
        if (r < 0)
                return r;
        r = canonjson_parse((const char *)resp->body, resp->body_size, "MAA JWKS", ret, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "MAA certs", "%s", e.message);
        return 0;
}

static int decrypt_token(struct backend *b, const struct http_response *resp, char **ret_jwt,
                         struct cvm_error *err)
{
        _cleanup_(maa_envelope_done) struct maa_envelope env = {};
        _cleanup_(secret_buf_done) struct secret_buf key = {};
        struct azure *a = az(b);
        struct cvm_error e = {};
        int r;

        r = maa_envelope_parse((const char *)resp->body, resp->body_size, &env, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "envelope decrypt", "%s", e.message);
        r = tpm_rsa_decrypt(a->tpm, a->enc_key, TPM_RSA_RSAES, env.inner_key, env.inner_key_size, &key, &e);
        if (r == -EBADMSG)
                return backend_fail(b, BACKEND_FAIL_VERIFY, -EKEYREJECTED, err, "envelope decrypt",
                                    "the vTPM cannot decrypt the inner key (not encrypted to our ephemeral "
                                    "key): %s",
                                    e.message);
        if (r < 0)
                return backend_tpm_fail(b, r, err, "envelope decrypt", &e);
        r = maa_envelope_decrypt(&env, key.data, key.size, ret_jwt, &e);
        if (r < 0)
                return backend_fail(b, r == -EKEYREJECTED ? BACKEND_FAIL_VERIFY : BACKEND_FAIL_EVIDENCE, r,
                                    err, "envelope decrypt", "%s", e.message);
        return 0;
}

static int azure_attest(struct backend *b, struct cvm_error *err)
{
        _cleanup_(gathered_done) struct gathered g = {};
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        _cleanup_(json_object_putp) json_object *jwks = NULL, *claims = NULL;
        _cleanup_free_ char *body = NULL, *url = NULL, *jwt = NULL;
        struct azure *a = az(b);
        uint8_t nonce[NONCE_SIZE], values[TPM_PCR_COUNT][32] = {};
        struct cvm_error e = {};
        size_t body_len;
        int r;

        if (RAND_bytes(nonce, sizeof(nonce)) != 1)
                return backend_fail(b, BACKEND_FAIL_INTERNAL, -EIO, err, "MAA attest", "no random nonce");
        r = gather(b, nonce, &g, err);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 8; i++)
                memcpy(values[i], g.pcrs.digest[i], 32);
        struct maa_evidence ev = {
                .ak_cert = g.ak_cert.data,
                .ak_cert_size = g.ak_cert.size,
                .ak_pub = g.ak_pub.data,
                .ak_pub_size = g.ak_pub.size,
                .quote = g.quote.data,
                .quote_size = g.quote.size,
                .quote_sig = g.quote_sig.data,
                .quote_sig_size = g.quote_sig.size,
                .pcr_mask = PCR_MASK_0_7,
                .pcr_values = (const uint8_t(*)[32])values,
                .enc_pub = g.enc_pub.data,
                .enc_pub_size = g.enc_pub.size,
                .certify = g.certify.data,
                .certify_size = g.certify.size,
                .certify_sig = g.certify_sig.data,
                .certify_sig_size = g.certify_sig.size,
                .tcg_log = g.log,
                .tcg_log_size = g.log_size,
                .hcl_report = g.hcl.data,
                .hcl_report_size = g.hcl.size,
                .vcek_chain_pem = g.chain,
                .nonce = nonce,
                .nonce_size = sizeof(nonce),
                .os_distro = g.distro,
                .os_major = g.major,
                .os_minor = g.minor,
        };
        r = maa_request_build(&ev, &body, &body_len, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "MAA attest",
                                    "building the request: %s", e.message);
        if (asprintf(&url, "%s/attest/AzureGuest?api-version=2020-10-01", a->maa) < 0)
                return -ENOMEM;
        struct http_request req = {.method = "POST",
                                   .url = url,
                                   .body = body,
                                   .body_size = body_len,
                                   .content_type = "application/json",
                                   .accept = "application/json",
                                   .max_response_size = MAA_MAX_RESPONSE};
        r = backend_http(b, b->https, &req, "MAA attest", &resp, err);
        if (r < 0)
                return r;
        r = decrypt_token(b, resp, &jwt, err);
        if (r < 0)
                return r;
        r = fetch_jwks(b, &jwks, err);
        if (r < 0)
                return r;
        struct maa_expect x = {
                .issuer = a->maa,
                .now = time(NULL),
                .leeway = b->settings.leeway_s,
                .nonce = nonce,
                .nonce_size = sizeof(nonce),
                .ephemeral_key = a->enc_pub,
                .tee_type = "sevsnpvm",
                .compliance = "azure-compliant-cvm",
        };
        r = maa_token_verify(jwt, strlen(jwt), jwks, &x, &claims, &e);
        if (r < 0)
                return backend_fail(b, r == -EBADMSG ? BACKEND_FAIL_EVIDENCE : BACKEND_FAIL_VERIFY, r, err,
                                    "token verify", "%s", e.message);
        a->token = TAKE_PTR(jwt);
        b->claims = TAKE_PTR(claims);
        return 0;
}

/* ---- release -------------------------------------------------------------------------------------------- */

static int load_roots(struct backend *b, STACK_OF(X509) * *ret, struct cvm_error *err)
{
        const char *path = b->settings.kv_root ? b->settings.kv_root : DEFAULT_KV_ROOTS;
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        STACK_OF(X509) * s;
        X509 *x;

        if (!f)
                return backend_fail(b, BACKEND_FAIL_IO, -errno, err, "KV release",
                                    "cannot open trusted roots %s: %m", path);
        s = sk_X509_new_null();
        if (!s)
                return -ENOMEM;
        while ((x = PEM_read_X509(f, NULL, NULL, NULL)))
                if (!sk_X509_push(s, x)) {
                        X509_free(x);
                        sk_X509_pop_free(s, X509_free);
                        return -ENOMEM;
                }
        ERR_clear_error();
        if (sk_X509_num(s) == 0) {
                sk_X509_free(s);
                return backend_fail(b, BACKEND_FAIL_IO, -EBADMSG, err, "KV release",
                                    "no certificate in trusted roots %s", path);
        }
        *ret = s;
        return 0;
}

static int access_token(struct backend *b, const char *host, struct cvm_error *err)
{
        struct azure *a = az(b);
        const char *resource =
                strstr(host, ".managedhsm.") ? "https://managedhsm.azure.net" : "https://vault.azure.net";

        if (a->access && strcmp(a->access_resource, resource) == 0)
                return 0;
        if (a->access) {
                erase_and_free(a->access, strlen(a->access));
                a->access = NULL;
        }
        free(a->access_resource);
        a->access_resource = strdup(resource);
        if (!a->access_resource)
                return -ENOMEM;
        return imds_identity_token(b, a->imds_client, a->imds, resource, &a->access, err);
}

/* Unwrap key_hsm: RSA-OAEP of the KEK inside the vTPM, then RFC 5649 with the KEK. */
static int unwrap(struct backend *b, const struct skr_release *rel, struct secret_buf *ret,
                  struct cvm_error *err)
{
        _cleanup_(secret_buf_done) struct secret_buf kek = {};
        struct azure *a = az(b);
        struct cvm_error e = {};
        const char *h = skr_oaep_hash(rel->enc);
        size_t mod = (size_t)EVP_PKEY_get_size(a->enc_pub);
        int r;

        if (rel->ciphertext_size <= mod)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, -EBADMSG, err, "unwrap",
                                    "key_hsm ciphertext of %zu bytes is too short", rel->ciphertext_size);
        if (strcmp(h, "sha384") == 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, -EOPNOTSUPP, err, "unwrap",
                                    "RSA-OAEP with SHA-384 is not supported by the vTPM");
        r = tpm_rsa_decrypt(a->tpm, a->enc_key,
                            strcmp(h, "sha1") == 0 ? TPM_RSA_OAEP_SHA1 : TPM_RSA_OAEP_SHA256,
                            rel->ciphertext, mod, &kek, &e);
        if (r == -EBADMSG)
                return backend_fail(b, BACKEND_FAIL_VERIFY, -EKEYREJECTED, err, "unwrap",
                                    "the key was not wrapped to our ephemeral vTPM key (RSA-OAEP decryption "
                                    "failed)");
        if (r < 0)
                return backend_tpm_fail(b, r, err, "unwrap", &e);
        r = skr_unwrap(kek.data, kek.size, rel->ciphertext + mod, rel->ciphertext_size - mod, ret, &e);
        if (r < 0)
                return backend_fail(b, r == -EKEYREJECTED ? BACKEND_FAIL_VERIFY : BACKEND_FAIL_EVIDENCE, r,
                                    err, "unwrap", "%s", e.message);
        return 0;
}

static int azure_release(struct backend *b, const char *key_ref, struct secret_buf *ret,
                         struct cvm_error *err)
{
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *roots = NULL;
        _cleanup_(skr_release_done) struct skr_release rel = {};
        _cleanup_free_ char *host = NULL, *url = NULL, *body = NULL, *hostname = NULL;
        struct azure *a = az(b);
        struct cvm_error e = {};
        uint8_t rnd[16];
        char nonce[33];
        const char *path;
        size_t n;
        int r;

        key_ref = key_ref ? key_ref : a->vault_key;
        if (!key_ref)
                return backend_fail(b, BACKEND_FAIL_CONFIG, -EINVAL, err, "KV release",
                                    "no vault_key configured");
        r = backend_url_check("vault_key", key_ref, false, &host, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_CONFIG, r, err, "KV release", "%s", e.message);
        path = strchr(key_ref + 8, '/');
        if (!path || strncmp(path, "/keys/", 6) != 0 || strpbrk(path, "?#") || path[6] == '\0' ||
            path[6] == '/' || path[strlen(path) - 1] == '/')
                return backend_fail(b, BACKEND_FAIL_CONFIG, -EINVAL, err, "KV release",
                                    "vault key %s is not https://<vault>/keys/<name>[/<version>]", key_ref);
        /* Host name without a port, for the certificate name check of the release JWS. */
        n = host[0] == '[' ? strlen(host) : strcspn(host, ":");
        hostname = strndup(host, n);
        if (!hostname)
                return -ENOMEM;
        r = access_token(b, hostname, err);
        if (r < 0)
                return r;
        r = load_roots(b, &roots, err);
        if (r < 0)
                return r;
        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                return backend_fail(b, BACKEND_FAIL_INTERNAL, -EIO, err, "KV release", "no random nonce");
        hex_encode_to(nonce, rnd, sizeof(rnd));
        r = skr_request_build(a->token, a->enc, nonce, &body);
        if (r < 0)
                return r;
        if (asprintf(&url, "%s/release?api-version=7.4", key_ref) < 0)
                return -ENOMEM;
        struct http_request req = {.method = "POST",
                                   .url = url,
                                   .body = body,
                                   .body_size = strlen(body),
                                   .content_type = "application/json",
                                   .accept = "application/json",
                                   .bearer = a->access,
                                   .max_response_size = SKR_MAX_RESPONSE};
        r = backend_http(b, b->https, &req, "KV release", &resp, err);
        erase_and_free(TAKE_PTR(body), strlen(req.body));
        if (r < 0)
                return r;
        r = skr_release_parse((const char *)resp->body, resp->body_size, roots, hostname, time(NULL), nonce,
                              a->enc, &rel, &e);
        if (r < 0)
                return backend_fail(
                        b, r == -EBADMSG || r == -EOPNOTSUPP ? BACKEND_FAIL_EVIDENCE : BACKEND_FAIL_VERIFY,
                        r, err, "KV release verify", "%s", e.message);
        if (rel.wrap_kid && strcmp(rel.wrap_kid, "TpmEphemeralEncryptionKey") != 0)
                return backend_fail(b, BACKEND_FAIL_VERIFY, -EKEYREJECTED, err, "unwrap",
                                    "key_hsm is wrapped to \"%.64s\", not TpmEphemeralEncryptionKey",
                                    rel.wrap_kid);
        return unwrap(b, &rel, ret, err);
}

const struct backend_ops backend_azure_ops = {
        .type = "azure",
        .init = azure_init,
        .attest = azure_attest,
        .release = azure_release,
        .done = azure_done,
};
