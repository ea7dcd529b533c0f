/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cleanup.h"
#include "unlock.h"

uint64_t unlock_now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *unlock_stage_name(enum unlock_stage s)
{
        switch (s) {
        case UNLOCK_STAGE_TOKEN:
                return "token";
        case UNLOCK_STAGE_ATTEST:
                return "attest";
        case UNLOCK_STAGE_RELEASE:
                return "release";
        case UNLOCK_STAGE_UNWRAP:
                return "unwrap";
        default:
                return "none";
        }
}

void unlock_ctx_done(struct unlock_ctx *u)
{
        for (size_t i = 0; i < u->n_sessions; i++) {
                if (u->sessions[i].ops->session_free)
                        u->sessions[i].ops->session_free(u->userdata, u->sessions[i].session);
                free(u->sessions[i].verifier);
        }
        u->n_sessions = 0;
}

/* Volumes share a session when they name the same backend and verifier (and KBS trust anchor). */
static char *verifier_key(const struct lukstoken *t)
{
        char *s = NULL;
        int n;

        if (t->backend == LUKSTOKEN_BACKEND_AZURE)
                n = asprintf(&s, "azure %s", t->maa_url);
        else
                n = asprintf(&s, "trustee %s %s", t->kbs_url, t->kbs_ca ? t->kbs_ca : "");
        return n < 0 ? NULL : s;
}

static int expired(const struct unlock_ctx *u, const char *what, struct cvm_error *err)
{
        if (u->deadline_usec && unlock_now_usec() >= u->deadline_usec)
                return cvm_error_set(err, -ETIMEDOUT, "the unlock deadline passed before %s", what);
        return 0;
}

static int fail(struct unlock_ctx *u, enum unlock_stage stage, int r)
{
        u->stage = stage;
        return r;
}

int unlock_acquire_secret(struct unlock_ctx *u, const struct luks2hdr *h, int token,
                          uint8_t secret[LUKSTOKEN_SECRET_SIZE], struct cvm_error *err)
{
        _cleanup_(secret_buf_done) struct secret_buf material = {};
        _cleanup_free_ char *key = NULL;
        const struct backend_ops *ops = NULL;
        struct unlock_session *sess = NULL;
        const struct lukstoken *t;
        enum lukswrap_material kind = LUKSWRAP_MATERIAL_SYMMETRIC;
        uint8_t binding[LUKS2HDR_BINDING_SIZE];
        int r;

        u->stage = UNLOCK_STAGE_NONE;
        if (token < 0 || token >= LUKS2HDR_MAX_OBJECTS || !(t = h->tokens[token].cvm) || t->pending)
                return fail(
                        u, UNLOCK_STAGE_TOKEN,
                        cvm_error_set(err, -ENOENT, "token %d is not an enrolled cvm-agent token", token));
        for (size_t i = 0; u->backends && u->backends[i]; i++)
                if (strcmp(u->backends[i]->name, lukstoken_backend_name(t->backend)) == 0) {
                        ops = u->backends[i];
                        break;
                }
        if (!ops)
                return fail(u, UNLOCK_STAGE_TOKEN,
                            cvm_error_set(err, -ENOPKG,
                                          "token %d: no \"%s\" attestation backend is available", token,
                                          lukstoken_backend_name(t->backend)));
        key = verifier_key(t);
        if (!key)
                return -ENOMEM;
        for (size_t i = 0; i < u->n_sessions; i++)
                if (u->sessions[i].ops == ops && strcmp(u->sessions[i].verifier, key) == 0)
                        sess = &u->sessions[i];

        if (!sess) {
                struct backend_session *s = NULL;

                if (u->n_sessions == UNLOCK_MAX_SESSIONS)
                        return fail(u, UNLOCK_STAGE_ATTEST,
                                    cvm_error_set(err, -E2BIG, "more than %d different verifiers",
                                                  UNLOCK_MAX_SESSIONS));
                r = expired(u, "attestation", err);
                if (r >= 0)
                        r = ops->attest(u->userdata, t, u->deadline_usec, &s, err);
                u->attestations++;
                if (r < 0)
                        return fail(u, UNLOCK_STAGE_ATTEST, r);
                sess = &u->sessions[u->n_sessions++];
                *sess = (struct unlock_session){.ops = ops, .verifier = TAKE_PTR(key), .session = s};
        }

        r = expired(u, "key release", err);
        if (r >= 0)
                r = ops->release(u->userdata, sess->session, t, u->deadline_usec, &material, &kind, err);
        if (r < 0)
                return fail(u, UNLOCK_STAGE_RELEASE, r);

        /* The binding comes from the validated header, never from the token's own claim. */
        r = luks2hdr_binding(h, t->keyslot, t, binding, err);
        if (r >= 0)
                r = lukswrap_unseal(material.data, material.size, kind, &t->wrap, binding, secret, err);
        if (r < 0)
                return fail(u, UNLOCK_STAGE_UNWRAP, r);
        return 0;
}
