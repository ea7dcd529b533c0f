/* SPDX-License-Identifier: Apache-2.0 */
/* IMA runtime appraisal of one entry: allowlist by path and digest, exclusions, signatures. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "policy-internal.h"
#include "util.h"

/* IMA signature header (struct signature_v2_hdr in the kernel / ima-evm-utils). */
#define IMA_XATTR_DIGSIG 3
#define IMA_SIG_HDR_SIZE 9

const char *policy_ima_verdict_to_string(enum policy_ima_verdict v)
{
        static const char *const names[] = {
                [POLICY_IMA_ALLOWED] = "allowed",
                [POLICY_IMA_EXCLUDED] = "excluded",
                [POLICY_IMA_UNKNOWN] = "unknown",
                [POLICY_IMA_WRONG_DIGEST] = "wrong_digest",
                [POLICY_IMA_BAD_SIGNATURE] = "bad_signature",
                [POLICY_IMA_VIOLATION] = "violation",
                [POLICY_IMA_INVALID] = "invalid",
        };
        return v < ELEMENTSOF(names) ? names[v] : "unknown";
}

/* Kernel hash_algo numbers (include/uapi/linux/hash_info.h) of the algorithms we can compute. */
static const char *kernel_hash_algo_name(uint8_t algo)
{
        switch (algo) {
        case 2:
                return "sha1";
        case 4:
                return "sha256";
        case 5:
                return "sha384";
        case 6:
                return "sha512";
        case 7:
                return "sha224";
        case 18:
                return "sm3";
        case 21:
                return "sha3-256";
        case 22:
                return "sha3-384";
        case 23:
                return "sha3-512";
        default:
                return NULL;
        }
}

enum sig_outcome {
        SIG_NONE, /* no signature, or none by a policy key */
        SIG_VALID,
        SIG_INVALID, /* a policy key's id, but the signature does not verify */
};

static enum sig_outcome verify_signature(const struct ima_policy *ima, const struct ima_entry *e,
                                         const struct ima_key **ret_key)
{
        const uint8_t *sig = e->sig;
        const char *md_name;
        uint8_t signed_digest[EVP_MAX_MD_SIZE];
        size_t signed_len;
        uint16_t sig_len;
        EVP_MD *md;

        if (!sig || e->sig_size < IMA_SIG_HDR_SIZE || sig[0] != IMA_XATTR_DIGSIG || !e->digest)
                return SIG_NONE;
        if (sig[1] != 2 && sig[1] != 3)
                return SIG_NONE;
        sig_len = be16(sig + 7);
        if ((size_t)sig_len != e->sig_size - IMA_SIG_HDR_SIZE)
                return SIG_NONE;
        *ret_key = NULL;
        for (size_t k = 0; k < ima->n_keys && !*ret_key; k++)
                for (size_t j = 0; j < ima->keys[k].n_keyids; j++)
                        if (memcmp(ima->keys[k].keyids[j], sig + 3, 4) == 0)
                                *ret_key = &ima->keys[k];
        if (!*ret_key)
                return SIG_NONE;
        md_name = kernel_hash_algo_name(sig[2]);
        if (!md_name)
                return SIG_INVALID;
        md = EVP_MD_fetch(NULL, md_name, NULL);
        if (!md)
                return SIG_INVALID;

        if (sig[1] == 2) {
                /* v2 signs the file digest itself. */
                if (e->digest_size != (size_t)EVP_MD_get_size(md) ||
                    e->digest_size > sizeof(signed_digest)) {
                        EVP_MD_free(md);
                        return SIG_INVALID;
                }
                memcpy(signed_digest, e->digest, e->digest_size);
                signed_len = e->digest_size;
        } else {
                /* v3 signs H(struct ima_file_id {hash_type, hash_algorithm, digest}). */
                uint8_t id[2 + 64];
                unsigned n = 0;

                if (e->digest_size > 64) {
                        EVP_MD_free(md);
                        return SIG_INVALID;
                }
                id[0] = strcmp(e->digest_type, "verity") == 0 ? 1 : 0;
                id[1] = sig[2];
                memcpy(id + 2, e->digest, e->digest_size);
                if (EVP_Digest(id, 2 + e->digest_size, signed_digest, &n, md, NULL) != 1) {
                        EVP_MD_free(md);
                        return SIG_INVALID;
                }
                signed_len = n;
        }
        {
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new((*ret_key)->pkey, NULL);
                int ok = 0;

                if (ctx && EVP_PKEY_verify_init(ctx) == 1) {
                        if (EVP_PKEY_get_base_id((*ret_key)->pkey) == EVP_PKEY_RSA)
                                (void)EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
                        if (EVP_PKEY_get_base_id((*ret_key)->pkey) != EVP_PKEY_EC)
                                (void)EVP_PKEY_CTX_set_signature_md(ctx, md);
                        ok = EVP_PKEY_verify(ctx, sig + IMA_SIG_HDR_SIZE, sig_len, signed_digest,
                                             signed_len) == 1;
                }
                EVP_MD_free(md);
                return ok ? SIG_VALID : SIG_INVALID;
        }
}

static void set(struct policy_ima_result *ret, enum policy_ima_verdict v, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void set(struct policy_ima_result *ret, enum policy_ima_verdict v, bool ok, const char *fmt, ...)
{
        va_list ap;

        ret->verdict = v;
        ret->ok = ok;
        va_start(ap, fmt);
        vsnprintf(ret->message, sizeof(ret->message), fmt, ap);
        va_end(ap);
}

int policy_ima_appraise_entry(const struct policy *p, const struct ima_entry *e,
                              struct policy_ima_result *ret, struct cvm_error *err)
{
        const struct ima_policy *ima = &p->ima;
        const char *path = e->path ? e->path : "";
        _cleanup_free_ char *digest = NULL, *hex = NULL;
        const struct ima_key *key = NULL;
        const struct ima_pair *pinned;
        enum sig_outcome sig;
        size_t n_pinned = 0;

        if (!ima->present)
                return cvm_error_set(err, -ENOENT, "the policy has no \"ima\" part");
        if (e->violation) {
                set(ret, POLICY_IMA_VIOLATION, ima->allow_violations,
                    "IMA entry %" PRIu64
                    " %s: measurement violation (a file was changed while open or measured "
                    "while open for writing)%s",
                    e->number, path, ima->allow_violations ? ", tolerated by $.ima.allow_violations" : "");
                return 0;
        }
        if (!e->template_hash_valid) {
                set(ret, POLICY_IMA_INVALID, false,
                    "IMA entry %" PRIu64 " %s: the template hash does not match the template data",
                    e->number, path);
                return 0;
        }
        if (e->path && policy_ima_is_excluded(ima, e->path)) {
                set(ret, POLICY_IMA_EXCLUDED, true, "IMA entry %" PRIu64 " %s: excluded by $.ima.exclude",
                    e->number, path);
                return 0;
        }
        if (e->digest) {
                hex = hex_encode(e->digest, e->digest_size);
                if (!hex || asprintf(&digest, "%s:%s", e->digest_algo[0] ? e->digest_algo : "sha1", hex) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        pinned = e->path ? policy_ima_find_path(ima, e->path, &n_pinned) : NULL;
        if (pinned) {
                for (size_t i = 0; digest && i < n_pinned; i++)
                        if (strcmp(pinned[i].digest, digest) == 0) {
                                set(ret, POLICY_IMA_ALLOWED, true,
                                    "IMA entry %" PRIu64 " %s: %s allowed for this path", e->number, path,
                                    digest);
                                return 0;
                        }
                set(ret, POLICY_IMA_WRONG_DIGEST, false,
                    "IMA entry %" PRIu64 " %s: digest %s is not allowed for this path; allowed: %s%s",
                    e->number, path, digest ? digest : "(none)", pinned[0].digest,
                    n_pinned > 1 ? " and others" : "");
                return 0;
        }
        if (e->path && strcmp(e->path, "boot_aggregate") == 0) {
                set(ret, POLICY_IMA_ALLOWED, true,
                    "IMA entry %" PRIu64
                    " boot_aggregate: allowed (the boot PCRs are appraised by the event log "
                    "rules)",
                    e->number);
                return 0;
        }
        if (digest && policy_ima_digest_allowed(ima, digest)) {
                set(ret, POLICY_IMA_ALLOWED, true, "IMA entry %" PRIu64 " %s: %s allowed by $.ima.digests",
                    e->number, path, digest);
                return 0;
        }
        sig = verify_signature(ima, e, &key);
        if (sig == SIG_VALID) {
                set(ret, POLICY_IMA_ALLOWED, true, "IMA entry %" PRIu64 " %s: signed by %s", e->number, path,
                    key->path);
                return 0;
        }
        if (sig == SIG_INVALID) {
                set(ret, POLICY_IMA_BAD_SIGNATURE, false,
                    "IMA entry %" PRIu64 " %s: the signature by %s does not verify over %s", e->number, path,
                    key->path, digest ? digest : "the digest");
                return 0;
        }
        set(ret, POLICY_IMA_UNKNOWN, false,
            "IMA entry %" PRIu64 " %s: %s is not in the policy (no path entry, no allowed digest%s)",
            e->number, path, digest ? digest : "an entry without a file digest",
            e->sig ? ", no signature by a policy key" : "");
        return 0;
}
