/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attestation / key-release backend interface: "attest once -> session; release key
 * material for a token with it". The LUKS unlock flow (unlock.h), the unlock command and the
 * token plugin depend on this header only; implementations (azure: MAA + Key Vault / Managed HSM
 * secure key release; trustee: KBS RCAR + resource) live elsewhere and are passed in as a
 * NULL-terminated table of struct backend_ops.
 *
 * Contract for implementations:
 *  - The per-volume configuration is the validated cvm-agent token (struct lukstoken): URLs, key
 *    id, enc, resource path, CA. It comes from a header that passed luks2hdr_parse(), so shapes
 *    are checked, but the values are still chosen by whoever wrote the header: implementations
 *    must keep TLS verification on and must not send credentials to hosts they do not expect
 *    (e.g. an Azure managed-identity token only to *.vault.azure.net / *.managedhsm.azure.net).
 *  - Every call honours the absolute CLOCK_MONOTONIC deadline @deadline_usec (retries included)
 *    and returns -ETIMEDOUT when it runs out.
 *  - Error codes: -ETIMEDOUT, -ENETUNREACH, -EHOSTUNREACH, -ECONNREFUSED, -ECONNRESET network;
 *    -EACCES the verifier or broker refused (evidence or policy); -ENOENT no such key/resource;
 *    -EPROTO malformed response; -ENOMEM. The error message never contains secrets.
 *  - Released material is returned in a struct secret_buf that the caller wipes.
 */
#pragma once

#include <stdint.h>

#include "cleanup.h"
#include "error.h"
#include "lukstoken.h"
#include "lukswrap.h"

struct backend_session; /* opaque, owned by the backend */

struct backend_ops {
        /* Matches the token's "backend": "azure" or "trustee". */
        const char *name;

        /**
         * attest() - gather evidence and have it appraised once; keep the verifier's answer (MAA
         * token, KBS session) in a session reused for every volume with the same verifier.
         * @userdata: struct unlock_ctx.userdata.
         * @cfg: the token of the first volume that needs this verifier.
         * @ret: the new session, released with session_free().
         */
        int (*attest)(void *userdata, const struct lukstoken *cfg, uint64_t deadline_usec,
                      struct backend_session **ret, struct cvm_error *err);

        /**
         * release() - obtain the key material of @cfg (Key Vault key, KBS resource) with @s.
         * @ret_material: the released key, wiped by the caller with secret_buf_done().
         * @ret_kind: LUKSWRAP_MATERIAL_RSA_PRIVATE (Key Vault RSA key: DER PKCS#8) or
         *            LUKSWRAP_MATERIAL_SYMMETRIC (oct-HSM key, KBS resource: 32 raw bytes).
         */
        int (*release)(void *userdata, struct backend_session *s, const struct lukstoken *cfg,
                       uint64_t deadline_usec, struct secret_buf *ret_material,
                       enum lukswrap_material *ret_kind, struct cvm_error *err);

        /** session_free() - wipe and free @s; NULL is a no-op. */
        void (*session_free)(void *userdata, struct backend_session *s);
};
