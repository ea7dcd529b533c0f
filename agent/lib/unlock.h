/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key side of an attested unlock, shared by `cvm-agent unlock` and the token plugin: from a
 * validated header and one of its cvm-agent tokens to the keyslot secret. Attestation happens
 * once per verifier (one session per backend and verifier URL, reused for every volume), the
 * key material is released for the token, and the secret is unwrapped with binding digests
 * recomputed from the validated header. No I/O of its own: backends are injected.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "luks2hdr.h"
#include "unlock-backend.h"

#define UNLOCK_MAX_SESSIONS 8

/* Which step failed, so a caller can map it to its exit code and message. */
enum unlock_stage {
        UNLOCK_STAGE_NONE,
        UNLOCK_STAGE_TOKEN,   /* no usable token / no backend for it */
        UNLOCK_STAGE_ATTEST,  /* backend attest() */
        UNLOCK_STAGE_RELEASE, /* backend release() */
        UNLOCK_STAGE_UNWRAP,  /* the released key does not unwrap the token */
};

struct unlock_session {
        const struct backend_ops *ops;
        char *verifier; /* backend name and verifier URL */
        struct backend_session *session;
};

struct unlock_ctx {
        const struct backend_ops *const *backends; /* NULL-terminated; may be NULL (none) */
        void *userdata;                            /* handed to the backend ops */
        uint64_t deadline_usec;                    /* absolute CLOCK_MONOTONIC; 0: none */
        /* Filled by the flow: */
        struct unlock_session sessions[UNLOCK_MAX_SESSIONS];
        size_t n_sessions;
        unsigned attestations;   /* attest() calls made */
        enum unlock_stage stage; /* stage of the last failure */
};

/**
 * unlock_now_usec() - CLOCK_MONOTONIC in microseconds (for deadlines).
 */
uint64_t unlock_now_usec(void);

/**
 * unlock_acquire_secret() - the keyslot secret of enrolled cvm-agent token @token of @h.
 * @u: context; sessions are created on first use and reused.
 * @secret: receives LUKSTOKEN_SECRET_SIZE bytes on success.
 * Return: 0; -ENOENT @token is not an enrolled cvm-agent token; -ENOPKG no backend for its
 * "backend"; -ETIMEDOUT the deadline passed; the backend's codes (see unlock-backend.h);
 * lukswrap_unseal() codes (-EKEYREJECTED ...). u->stage tells which step failed.
 */
int unlock_acquire_secret(struct unlock_ctx *u, const struct luks2hdr *h, int token,
                          uint8_t secret[LUKSTOKEN_SECRET_SIZE], struct cvm_error *err);

/** unlock_ctx_done() - free every session (the context itself is the caller's). */
void unlock_ctx_done(struct unlock_ctx *u);

/** unlock_stage_name() - "token", "attest", "release", "unwrap" or "none". */
const char *unlock_stage_name(enum unlock_stage s);
