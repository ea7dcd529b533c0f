/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "hcl.h"
#include "jose.h"
#include "maa.h"
#include "snp.h"
#include "tpmquote.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)

static const char maa_aad[] = "Transport Key";

static int add(json_object *o, const char *k, json_object *v)
{
        if (!v || json_object_object_add(o, k, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_b64(json_object *o, const char *k, const void *p, size_t n)
{
        _cleanup_free_ char *s = b64_encode(p, n);

        return s ? add(o, k, json_object_new_string(s)) : -ENOMEM;
}

/* PcrSignature / EncKeyCertifyInfoSignature: the RSASSA bytes without the TPMT_SIGNATURE header. */
static int add_raw_sig(json_object *o, const char *k, const uint8_t *p, size_t n, struct cvm_error *err)
{
        struct tpm_signature sig;
        int r;

        r = tpm_signature_parse(p, n, &sig, err);
        if (r < 0)
                return r;
        if (sig.sig_alg != 0x0014 /* TPM_ALG_RSASSA */)
                return cvm_error_set(err, -EOPNOTSUPP, "%s: signature algorithm 0x%04x is not RSASSA", k,
                                     sig.sig_alg);
        return add_b64(o, k, sig.sig, sig.sig_size);
}

static int build_tpm_info(const struct maa_evidence *ev, json_object **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *t = json_object_new_object(),
                                                *set = json_object_new_array(),
                                                *pcrs = json_object_new_array();
        int r;

        if (!t || !set || !pcrs)
                return -ENOMEM;
        r = add_b64(t, "AikCert", ev->ak_cert, ev->ak_cert_size);
        if (r >= 0)
                r = add_b64(t, "AikPub", ev->ak_pub, ev->ak_pub_size);
        if (r >= 0)
                r = add_b64(t, "PcrQuote", ev->quote, ev->quote_size);
        if (r >= 0)
                r = add_raw_sig(t, "PcrSignature", ev->quote_sig, ev->quote_sig_size, err);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 24; i++) {
                _cleanup_(json_object_putp) json_object *e = NULL;

                if (!(ev->pcr_mask & (1u << i)))
                        continue;
                if (json_object_array_add(set, json_object_new_int((int)i)) < 0)
                        return -ENOMEM;
                e = json_object_new_object();
                if (!e || add(e, "Index", json_object_new_int((int)i)) < 0 ||
                    add_b64(e, "Digest", ev->pcr_values[i], 32) < 0 || json_object_array_add(pcrs, e) < 0)
                        return -ENOMEM;
                e = NULL;
        }
        if (add(t, "PcrSet", TAKE_PTR(set)) < 0 || add(t, "PCRs", TAKE_PTR(pcrs)) < 0)
                return -ENOMEM;
        r = add_b64(t, "EncKeyPub", ev->enc_pub, ev->enc_pub_size);
        if (r >= 0)
                r = add_b64(t, "EncKeyCertifyInfo", ev->certify, ev->certify_size);
        if (r >= 0)
                r = add_raw_sig(t, "EncKeyCertifyInfoSignature", ev->certify_sig, ev->certify_sig_size, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

static int build_isolation(const struct maa_evidence *ev, json_object **ret, struct cvm_error *err)
{
        _cleanup_(hcl_report_freep) struct hcl_report *hcl = NULL;
        _cleanup_(json_object_putp) json_object *iso = json_object_new_object(),
                                                *evd = json_object_new_object(),
                                                *proof = json_object_new_object();
        _cleanup_free_ char *snp = NULL;
        const char *proof_text;
        int r;

        if (!iso || !evd || !proof)
                return -ENOMEM;
        r = hcl_report_parse(ev->hcl_report, ev->hcl_report_size, &hcl, err);
        if (r < 0)
                return r;
        snp = b64url_encode(ev->hcl_report + HCL_HEADER_SIZE, SNP_REPORT_SIZE);
        if (!snp || add(proof, "SnpReport", json_object_new_string(snp)) < 0 ||
            add_b64(proof, "VcekCertChain", ev->vcek_chain_pem, strlen(ev->vcek_chain_pem)) < 0)
                return -ENOMEM;
        proof_text = json_object_to_json_string_ext(proof,
                                                    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!proof_text || add_b64(evd, "Proof", proof_text, strlen(proof_text)) < 0 ||
            add_b64(evd, "RunTimeData", hcl->var_data, hcl->var_data_size) < 0 ||
            add(iso, "Type", json_object_new_string("SevSnp")) < 0 ||
            add(iso, "Evidence", TAKE_PTR(evd)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(iso);
        return 0;
}

int maa_request_build(const struct maa_evidence *ev, char **ret, size_t *ret_len, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *in = json_object_new_object(),
                                                *out = json_object_new_object(),
                                                *payload = json_object_new_object(), *tpm = NULL,
                                                *iso = NULL;
        _cleanup_free_ char *b = NULL;
        const char *text;
        char *s;
        int r;

        if (!ev->ak_cert || !ev->ak_pub || !ev->quote || !ev->quote_sig || !ev->pcr_values || !ev->enc_pub ||
            !ev->certify || !ev->certify_sig || !ev->tcg_log || !ev->hcl_report || !ev->vcek_chain_pem ||
            !ev->os_distro)
                return cvm_error_set(err, -EINVAL, "AzureGuest request: missing evidence");
        if (!in || !out || !payload)
                return -ENOMEM;
        r = build_tpm_info(ev, &tpm, err);
        if (r >= 0)
                r = build_isolation(ev, &iso, err);
        if (r < 0)
                return r;
        if (ev->nonce && add_b64(payload, "nonce", ev->nonce, ev->nonce_size) < 0)
                return -ENOMEM;
        if (add(in, "AttestationProtocolVersion", json_object_new_string("2.0")) < 0 ||
            add_b64(in, "OSType", "Linux", 5) < 0 ||
            add_b64(in, "OSDistro", ev->os_distro, strlen(ev->os_distro)) < 0 ||
            add(in, "OSVersionMajor", json_object_new_int(ev->os_major)) < 0 ||
            add(in, "OSVersionMinor", json_object_new_int(ev->os_minor)) < 0 ||
            add_b64(in, "OSBuild", "NotApplication", 14) < 0 ||
            add_b64(in, "TcgLogs", ev->tcg_log, ev->tcg_log_size) < 0 ||
            add(in, "ClientPayload", TAKE_PTR(payload)) < 0 || add(in, "TpmInfo", TAKE_PTR(tpm)) < 0 ||
            add(in, "IsolationInfo", TAKE_PTR(iso)) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(in, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        b = b64url_encode(text, strlen(text));
        if (!b || add(out, "AttestationInfo", json_object_new_string(b)) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        s = text ? strdup(text) : NULL;
        if (!s)
                return -ENOMEM;
        *ret_len = strlen(s);
        *ret = s;
        return 0;
}

int maa_thim_parse(const char *body, size_t len, char **ret_chain_pem, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *vcek, *chain;
        char *s;
        int r;

        r = canonjson_parse(body, len, "THIM answer", &o, err);
        if (r < 0)
                return r;
        r = jose_get_string(o, "vcekCert", "THIM answer", true, &vcek, err);
        if (r >= 0)
                r = jose_get_string(o, "certificateChain", "THIM answer", true, &chain, err);
        if (r < 0)
                return r;
        if (!strstr(vcek, "-----BEGIN CERTIFICATE-----"))
                return cvm_error_set(err, -EBADMSG, "THIM answer: vcekCert is not a PEM certificate");
        if (asprintf(&s, "%s%s%s", vcek, vcek[0] && vcek[strlen(vcek) - 1] != '\n' ? "\n" : "", chain) < 0)
                return -ENOMEM;
        *ret_chain_pem = s;
        return 0;
}

void maa_envelope_done(struct maa_envelope *e)
{
        free(e->jwt_ct);
        free(e->inner_key);
        *e = (struct maa_envelope){};
}

/* The envelope uses standard base64; accept unpadded text like MAA's own clients do. */
static int get_b64(json_object *o, const char *name, uint8_t **ret, size_t *ret_size, struct cvm_error *err)
{
        const char *s;
        int r;

        r = jose_get_string(o, name, "MAA envelope", true, &s, err);
        if (r < 0)
                return r;
        return b64_decode_flags(s, SIZE_MAX, B64_PAD_OPTIONAL, name, ret, ret_size, err);
}

int maa_envelope_parse(const char *body, size_t len, struct maa_envelope *ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *outer = NULL, *env = NULL;
        _cleanup_(maa_envelope_done) struct maa_envelope e = {};
        _cleanup_free_ uint8_t *env_text = NULL, *iv = NULL, *tag = NULL;
        size_t env_size, iv_size, tag_size;
        json_object *params, *v;
        const char *token, *s;
        int r;

        r = canonjson_parse(body, len, "MAA response", &outer, err);
        if (r < 0)
                return r;
        r = jose_get_string(outer, "token", "MAA response", true, &token, err);
        if (r < 0)
                return r;
        r = b64_decode_flags(token, SIZE_MAX, B64_URL | B64_PAD_OPTIONAL, "MAA response token", &env_text,
                             &env_size, err);
        if (r < 0)
                return r;
        r = canonjson_parse((const char *)env_text, env_size, "MAA envelope", &env, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(env, json_type_object))
                return cvm_error_set(err, -EBADMSG, "MAA envelope: not a JSON object");
        if (!json_object_object_get_ex(env, "EncryptionParams", &params) ||
            !json_object_is_type(params, json_type_object))
                return cvm_error_set(err, -EBADMSG,
                                     "MAA envelope: EncryptionParams missing or not an object");
        r = jose_get_string(params, "Cipher", "MAA envelope EncryptionParams", true, &s, err);
        if (r < 0)
                return r;
        if (strcmp(s, "AES") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "MAA envelope: Cipher \"%.32s\" is not AES", s);
        r = jose_get_string(params, "BlockMode", "MAA envelope EncryptionParams", true, &s, err);
        if (r < 0)
                return r;
        if (strcmp(s, "ChainingModeGCM") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "MAA envelope: BlockMode \"%.32s\" is not GCM", s);
        if (!json_object_object_get_ex(params, "KeySizeInBits", &v) ||
            !json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 256)
                return cvm_error_set(err, -EOPNOTSUPP, "MAA envelope: KeySizeInBits is not 256");
        r = get_b64(params, "Iv", &iv, &iv_size, err);
        if (r < 0)
                return r;
        if (iv_size != sizeof(e.iv))
                return cvm_error_set(err, -EBADMSG, "MAA envelope: Iv is %zu bytes, expected 12", iv_size);
        r = get_b64(env, "AuthenticationData", &tag, &tag_size, err);
        if (r < 0)
                return r;
        if (tag_size != sizeof(e.tag))
                return cvm_error_set(err, -EBADMSG,
                                     "MAA envelope: AuthenticationData is %zu bytes, expected 16", tag_size);
        r = get_b64(env, "Jwt", &e.jwt_ct, &e.jwt_ct_size, err);
        if (r >= 0)
                r = get_b64(env, "EncryptedInnerKey", &e.inner_key, &e.inner_key_size, err);
        if (r < 0)
                return r;
        if (e.jwt_ct_size == 0 || e.inner_key_size == 0)
                return cvm_error_set(err, -EBADMSG, "MAA envelope: empty Jwt or EncryptedInnerKey");
        memcpy(e.iv, iv, sizeof(e.iv));
        memcpy(e.tag, tag, sizeof(e.tag));
        *ret = e;
        e = (struct maa_envelope){};
        return 0;
}

int maa_envelope_decrypt(const struct maa_envelope *e, const uint8_t *key, size_t key_size, char **ret_jwt,
                         struct cvm_error *err)
{
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        _cleanup_free_ char *out = NULL;
        int n = 0, fin = 0;

        if (key_size != 32)
                return cvm_error_set(err, -EINVAL, "MAA envelope: inner key is %zu bytes, expected 32",
                                     key_size);
        if (e->jwt_ct_size > INT32_MAX)
                return cvm_error_set(err, -EBADMSG, "MAA envelope: Jwt too large");
        out = malloc(e->jwt_ct_size + 1);
        ctx = EVP_CIPHER_CTX_new();
        if (!out || !ctx)
                return -ENOMEM;
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, sizeof(e->iv), NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key, e->iv) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)maa_aad, (int)strlen(maa_aad)) != 1 ||
            EVP_DecryptUpdate(ctx, (uint8_t *)out, &n, e->jwt_ct, (int)e->jwt_ct_size) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(e->tag), (void *)e->tag) != 1)
                return cvm_error_set(err, -EIO, "MAA envelope: AES-GCM setup failed");
        if (EVP_DecryptFinal_ex(ctx, (uint8_t *)out + n, &fin) != 1)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "MAA envelope: AES-GCM tag does not verify (token not for this key)");
        n += fin;
        out[n] = '\0';
        for (int i = 0; i < n; i++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", out[i]))
                        return cvm_error_set(err, -EBADMSG,
                                             "MAA envelope: decrypted token has a byte 0x%02x at offset %d",
                                             (uint8_t)out[i], i);
        *ret_jwt = TAKE_PTR(out);
        return 0;
}

static int check_ephemeral_key(json_object *claims, EVP_PKEY *want, struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *got = NULL;
        json_object *keys, *k = NULL;
        struct cvm_error e = {};
        size_t n;
        int r;

        if (jwt_claim_lookup(claims, "x-ms-runtime.keys", &keys) < 0 ||
            !json_object_is_type(keys, json_type_array))
                return cvm_error_set(err, -EPROTO, "claim \"x-ms-runtime.keys\" is missing");
        n = json_object_array_length(keys);
        for (size_t i = 0; i < n && !k; i++) {
                json_object *c = json_object_array_get_idx(keys, i), *kid;

                if (json_object_object_get_ex(c, "kid", &kid) &&
                    json_object_is_type(kid, json_type_string) &&
                    strcmp(json_object_get_string(kid), "TpmEphemeralEncryptionKey") == 0)
                        k = c;
        }
        if (!k)
                return cvm_error_set(err, -EPROTO,
                                     "claim \"x-ms-runtime.keys\" has no TpmEphemeralEncryptionKey");
        r = jwk_to_pkey(k, &got, &e);
        if (r < 0)
                return cvm_error_set(err, -EPROTO,
                                     "claim \"x-ms-runtime.keys\" TpmEphemeralEncryptionKey: %s", e.message);
        if (EVP_PKEY_eq(got, want) != 1)
                return cvm_error_set(err, -EPROTO,
                                     "claim \"x-ms-runtime.keys\" TpmEphemeralEncryptionKey is not our "
                                     "ephemeral vTPM key");
        return 0;
}

int maa_token_verify(const char *jwt, size_t len, json_object *jwks, const struct maa_expect *x,
                     json_object **ret_claims, struct cvm_error *err)
{
        _cleanup_(jws_freep) struct jws *jws = NULL;
        _cleanup_(json_object_putp) json_object *claims = NULL;
        _cleanup_free_ char *nonce = NULL;
        struct jwt_claim_expect c[3];
        struct jwt_expect want = {.now = x->now, .leeway = x->leeway, .require_exp = true, .claims = c};
        const char *iss;
        size_t n_iss;
        json_object *v;
        int r;

        r = jws_parse(jwt, len, &jws, err);
        if (r < 0)
                return r;
        if (strcmp(jws->alg, "RS256") != 0)
                return cvm_error_set(err, -EKEYREJECTED, "token alg \"%.16s\" is not RS256", jws->alg);
        r = jws_verify_jwks(jws, jwks, err);
        if (r < 0)
                return r;
        r = jws_payload_json(jws, &claims, err);
        if (r < 0)
                return r;

        /* "iss" compared without a trailing '/' (policies and configs write both). */
        if (!json_object_object_get_ex(claims, "iss", &v) || !json_object_is_type(v, json_type_string))
                return cvm_error_set(err, -EPROTO, "claim \"iss\" is missing");
        iss = json_object_get_string(v);
        n_iss = strlen(x->issuer);
        while (n_iss > 0 && x->issuer[n_iss - 1] == '/')
                n_iss--;
        if (strncmp(iss, x->issuer, n_iss) != 0 || (iss[n_iss] && strcmp(iss + n_iss, "/") != 0))
                return cvm_error_set(err, -EPROTO, "claim \"iss\" is \"%.200s\", expected \"%.*s\"", iss,
                                     (int)n_iss, x->issuer);
        if (x->nonce) {
                nonce = b64_encode(x->nonce, x->nonce_size);
                if (!nonce)
                        return -ENOMEM;
                c[want.n_claims++] = (struct jwt_claim_expect){"x-ms-runtime.client-payload.nonce", nonce};
        }
        if (x->tee_type)
                c[want.n_claims++] =
                        (struct jwt_claim_expect){"x-ms-isolation-tee.x-ms-attestation-type", x->tee_type};
        if (x->compliance)
                c[want.n_claims++] = (struct jwt_claim_expect){"x-ms-isolation-tee.x-ms-compliance-status",
                                                               x->compliance};
        r = jwt_check_claims(claims, &want, err);
        if (r < 0)
                return r;
        if (x->ephemeral_key) {
                r = check_ephemeral_key(claims, x->ephemeral_key, err);
                if (r < 0)
                        return r;
        }
        if (ret_claims)
                *ret_claims = TAKE_PTR(claims);
        return 0;
}

static void copy_printable(char *buf, size_t size, const char *a, const char *sep, const char *b)
{
        size_t o = 0;
        const char *parts[3] = {a, sep, b};

        for (size_t p = 0; p < 3; p++)
                for (const char *s = parts[p]; s && *s && o + 1 < size; s++)
                        buf[o++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
        buf[o] = '\0';
}

void maa_error_describe(const char *body, size_t len, char *buf, size_t size)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *e, *a = NULL, *b = NULL;

        if (size == 0)
                return;
        buf[0] = '\0';
        if (!body || canonjson_parse(body, len, NULL, &o, NULL) < 0 ||
            !json_object_is_type(o, json_type_object))
                return;
        if (json_object_object_get_ex(o, "error", &e) && json_object_is_type(e, json_type_object)) {
                if (!json_object_object_get_ex(e, "code", &a))
                        json_object_object_get_ex(e, "Code", &a);
                if (!json_object_object_get_ex(e, "message", &b))
                        json_object_object_get_ex(e, "Message", &b);
        } else if (json_object_object_get_ex(o, "error", &a)) {
                json_object_object_get_ex(o, "error_description", &b);
        } else if (json_object_object_get_ex(o, "detail", &b)) {
                json_object_object_get_ex(o, "type", &a);
        }
        if (a && !json_object_is_type(a, json_type_string))
                a = NULL;
        if (b && !json_object_is_type(b, json_type_string))
                b = NULL;
        if (!a && !b)
                return;
        copy_printable(buf, size, a ? json_object_get_string(a) : "", a && b ? ": " : "",
                       b ? json_object_get_string(b) : "");
}
