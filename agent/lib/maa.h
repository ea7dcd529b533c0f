/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Microsoft Azure Attestation (MAA) AzureGuest protocol, the pure part (azure-protocol.md §4.1,
 * §5): building the request body from gathered evidence, parsing the IMDS THIM answer, parsing
 * and decrypting the response envelope once the inner AES key is known (it is decrypted inside
 * the vTPM by the caller), and verifying the token: signature against the instance's JWKS,
 * issuer, time with bounded skew, the echoed nonce, the ephemeral key in x-ms-runtime, and the
 * x-ms-isolation-tee attestation type and compliance status.
 *
 * No I/O, no logging. Errors as in jose.h: -EBADMSG malformed, -EOPNOTSUPP unsupported,
 * -EKEYREJECTED bad signature / AES-GCM tag, -ENOKEY unknown kid, -EKEYEXPIRED time,
 * -EPROTO a claim differs from what was expected, -ENOMEM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "error.h"

/* Largest HTTP body accepted from MAA (the envelope of a ~10 KiB token). */
#define MAA_MAX_RESPONSE (1u << 20)

/** struct maa_evidence - everything the AzureGuest request carries (all borrowed). */
struct maa_evidence {
        const uint8_t *ak_cert; /* DER of NV 0x01C101D0 */
        size_t ak_cert_size;
        const uint8_t *ak_pub; /* TPM2B_PUBLIC of the AK */
        size_t ak_pub_size;
        const uint8_t *quote; /* TPMS_ATTEST of the quote */
        size_t quote_size;
        const uint8_t *quote_sig; /* marshaled TPMT_SIGNATURE (RSASSA) */
        size_t quote_sig_size;
        uint32_t pcr_mask;               /* quoted SHA-256 PCRs */
        const uint8_t (*pcr_values)[32]; /* [24], valid for PCRs in pcr_mask */
        const uint8_t *enc_pub;          /* TPM2B_PUBLIC of the ephemeral key */
        size_t enc_pub_size;
        const uint8_t *certify; /* TPMS_ATTEST of TPM2_Certify */
        size_t certify_size;
        const uint8_t *certify_sig; /* marshaled TPMT_SIGNATURE */
        size_t certify_sig_size;
        const uint8_t *tcg_log; /* raw binary_bios_measurements */
        size_t tcg_log_size;
        const uint8_t *hcl_report; /* NV 0x01400001 contents */
        size_t hcl_report_size;
        const char *vcek_chain_pem; /* VCEK PEM followed by ASK/ARK PEMs (THIM) */
        const uint8_t *nonce;       /* ClientPayload.nonce */
        size_t nonce_size;
        const char *os_distro; /* NAME of /etc/os-release, e.g. "Debian GNU/Linux" */
        int os_major, os_minor;
};

/**
 * maa_request_build() - the body of POST /attest/AzureGuest: {"AttestationInfo": base64url-nopad
 * (inner JSON)} with the inner JSON exactly as azure-protocol.md §4.1.
 * @ret, @ret_len: NUL-terminated JSON text the caller frees.
 * Return: 0; -EBADMSG when the HCL report or a signature does not parse; -EOPNOTSUPP for a
 * non-RSASSA signature; -EINVAL for missing fields; -ENOMEM.
 */
int maa_request_build(const struct maa_evidence *ev, char **ret, size_t *ret_len, struct cvm_error *err);

/**
 * maa_thim_parse() - the IMDS THIM answer {"vcekCert","certificateChain","tcbm",...}.
 * @ret_chain_pem: vcekCert followed by certificateChain (a PEM bundle), caller frees.
 * Return: 0, -EBADMSG, -ENOMEM.
 */
int maa_thim_parse(const char *body, size_t len, char **ret_chain_pem, struct cvm_error *err);

/** struct maa_envelope - the decoded AzureGuest response envelope (§5.1). */
struct maa_envelope {
        uint8_t *jwt_ct; /* AES-GCM ciphertext of the JWT */
        size_t jwt_ct_size;
        uint8_t *inner_key; /* RSA ciphertext of the AES key (to the ephemeral key) */
        size_t inner_key_size;
        uint8_t iv[12];
        uint8_t tag[16];
};

/**
 * maa_envelope_parse() - parse the HTTP body {"token": base64url(envelope JSON)}.
 * @ret: filled on success; release with maa_envelope_done().
 * Return: 0; -EBADMSG naming the member (bad base64, wrong IV/tag size, not AES-256-GCM);
 * -EOPNOTSUPP for other ciphers/modes; -ENOMEM.
 */
int maa_envelope_parse(const char *body, size_t len, struct maa_envelope *ret, struct cvm_error *err);

/** maa_envelope_done() - free the members of @e (NULL-safe, reusable). */
void maa_envelope_done(struct maa_envelope *e);

/**
 * maa_envelope_decrypt() - AES-256-GCM decryption of the JWT with the inner key @key (32 bytes),
 * AAD "Transport Key".
 * @ret_jwt: the compact JWT, NUL-terminated, caller frees.
 * Return: 0; -EKEYREJECTED when the tag does not verify; -EBADMSG when the plaintext is not a
 * printable compact token; -EINVAL for a key that is not 32 bytes; -ENOMEM.
 */
int maa_envelope_decrypt(const struct maa_envelope *e, const uint8_t *key, size_t key_size, char **ret_jwt,
                         struct cvm_error *err);

/** struct maa_expect - what a token must say (see maa_token_verify()). */
struct maa_expect {
        const char *issuer;   /* required "iss" (trailing '/' ignored) */
        time_t now;           /* the verifier's current time */
        unsigned leeway;      /* seconds of skew, <= JWT_MAX_LEEWAY */
        const uint8_t *nonce; /* expected x-ms-runtime.client-payload.nonce (base64 of it); may be NULL */
        size_t nonce_size;
        EVP_PKEY *ephemeral_key; /* must be x-ms-runtime.keys[kid=TpmEphemeralEncryptionKey]; may be NULL */
        const char *tee_type;    /* x-ms-isolation-tee.x-ms-attestation-type, e.g. "sevsnpvm"; may be NULL */
        const char *compliance;  /* x-ms-isolation-tee.x-ms-compliance-status; may be NULL */
};

/**
 * maa_token_verify() - verify the MAA JWT @jwt against @jwks (fetched by the caller from the
 * configured instance's /certs; the token's "jku" is never used), then the checks of @x.
 * @ret_claims: when not NULL, the verified claims (caller puts).
 * Return: 0; -EKEYREJECTED signature; -ENOKEY kid not in the JWKS; -EKEYEXPIRED time; -EPROTO
 * a claim that differs ("claim \"x-ms-runtime.client-payload.nonce\" is ..."); -EBADMSG.
 */
int maa_token_verify(const char *jwt, size_t len, json_object *jwks, const struct maa_expect *x,
                     json_object **ret_claims, struct cvm_error *err);

/**
 * maa_error_describe() - a printable one-line summary of an Azure error body
 * ({"error":{"code","message"}}, {"error","error_description"} of IMDS, or Trustee's
 * {"type","detail"}), at most @size - 1 bytes, control characters replaced by '?'.
 * Writes "" when the body is not one of these shapes.
 */
void maa_error_describe(const char *body, size_t len, char *buf, size_t size);
