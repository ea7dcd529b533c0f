/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `cvm-agent` LUKS2 token: parse, validate and build its JSON. Pure code, no I/O.
 *
 * An enrolled token (every field is required unless marked optional; no other field is
 * accepted, so a newer layout must bump "version"):
 *
 *   {"type": "cvm-agent",
 *    "keyslots": ["N"],                      exactly one keyslot, holding the wrapped secret
 *    "version": 1,
 *    "backend": "azure" | "trustee",
 *    "azure": {"maa_url": "https://<instance>",             with backend "azure" only
 *              "key_id": "https://<vault|hsm>/keys/<name>[/<version>]",
 *              "enc": "RSA_AES_KEY_WRAP_256"},               Key Vault release "enc"
 *    "trustee": {"kbs_url": "https://<kbs>",                 with backend "trustee" only
 *                "resource_path": "<repo>/<type>/<tag>",
 *                "kbs_ca": "-----BEGIN CERTIFICATE-----..."}  optional: PEM trust anchor
 *    "wrap": {"alg": "RSA-OAEP-256+A256GCM" | "A256GCM",
 *             "ek": base64,        RSA-OAEP-256 encrypted content key (RSA alg only)
 *             "iv": base64,        12 bytes
 *             "ct": base64,        the AES-256-GCM encrypted keyslot secret (32 bytes)
 *             "tag": base64},      16 bytes
 *    "binding": {"uuid": hex, "segment": hex, "keyslot": hex, "config": hex}}
 *                            the four SHA-256 binding digests of luks2hdr_binding()
 *
 * A pending token is what enrollment writes FIRST, before it adds the keyslot, so that an
 * interrupted enrollment can be cleaned up (see luks.h):
 *
 *   {"type": "cvm-agent", "keyslots": [], "version": 1, "pending_keyslot": "N"}
 *
 * Field names use '_' only (conventions.md §2.1); base64 is standard with padding (as LUKS2
 * salts); hex is lowercase.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

#define LUKSTOKEN_TYPE         "cvm-agent"
#define LUKSTOKEN_VERSION      1
#define LUKSTOKEN_SECRET_SIZE  32u /* the keyslot secret: 256 random bits */
#define LUKSTOKEN_GCM_IV_SIZE  12u
#define LUKSTOKEN_GCM_TAG_SIZE 16u
#define LUKSTOKEN_EK_MAX       1024u /* RSA up to 8192 bits */
#define LUKSTOKEN_URL_MAX      2048u
#define LUKSTOKEN_CA_MAX       16384u
#define LUKSTOKEN_MAX_KEYSLOTS 32
/* Binding digest components, in this order (see luks2hdr_binding()). */
#define LUKSTOKEN_BINDING_PARTS 4
#define LUKSTOKEN_BINDING_SIZE  (32 * LUKSTOKEN_BINDING_PARTS)

enum lukstoken_backend {
        LUKSTOKEN_BACKEND_NONE = 0, /* pending token */
        LUKSTOKEN_BACKEND_AZURE,
        LUKSTOKEN_BACKEND_TRUSTEE,
};

enum lukstoken_wrap_alg {
        LUKSTOKEN_WRAP_NONE = 0,
        LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM, /* RSA public key wraps a fresh AES-256 key */
        LUKSTOKEN_WRAP_A256GCM,              /* a 256-bit symmetric key encrypts directly */
};

/* The wrapped keyslot secret. */
struct lukstoken_wrap {
        enum lukstoken_wrap_alg alg;
        uint8_t ek[LUKSTOKEN_EK_MAX];
        size_t ek_size; /* 0 for A256GCM */
        uint8_t iv[LUKSTOKEN_GCM_IV_SIZE];
        uint8_t ct[LUKSTOKEN_SECRET_SIZE];
        uint8_t tag[LUKSTOKEN_GCM_TAG_SIZE];
};

struct lukstoken {
        int version;
        bool pending;        /* enrollment in progress: only pending_keyslot is meaningful */
        int pending_keyslot; /* -1 unless pending */
        int keyslot;         /* the token's one keyslot; -1 when pending */
        enum lukstoken_backend backend;
        /* Owned strings; NULL when absent. */
        char *maa_url, *key_id, *enc;           /* azure */
        char *kbs_url, *resource_path, *kbs_ca; /* trustee; kbs_ca optional */
        struct lukstoken_wrap wrap;
        uint8_t binding[LUKSTOKEN_BINDING_SIZE]; /* uuid || segment || keyslot || config */
};

/** lukstoken_binding_part_name() - "uuid", "segment", "keyslot", "config" for part 0..3. */
const char *lukstoken_binding_part_name(unsigned part);

/** lukstoken_free() - free @t and its strings; NULL is a no-op. */
void lukstoken_free(struct lukstoken *t);
static inline void lukstoken_freep(struct lukstoken **t)
{
        lukstoken_free(*t);
}

/**
 * lukstoken_parse() - validate a `cvm-agent` token object strictly.
 * @obj: the token object (as found under "tokens" in the LUKS2 JSON); not modified.
 * @path: JSON path of @obj for error messages, e.g. "tokens.2"; may be NULL ("token").
 * @ret: the parsed token, caller frees with lukstoken_free(); written only on success.
 * @err: on failure names the field, e.g. "tokens.2.wrap.iv: 8 bytes, expected 12".
 *
 * Checks: type, version, the allowed field set (unknown fields are rejected), value shapes
 * (https URLs, key id, resource path, PEM, base64 sizes, hex binding), keyslot references
 * (exactly one for an enrolled token, none for a pending one). Whether the keyslot exists and
 * whether the binding matches are header-level checks done by luks2hdr.
 * Return: 0, -EBADMSG malformed, -EOPNOTSUPP unsupported version/backend/algorithm, -ENOMEM.
 */
int lukstoken_parse(json_object *obj, const char *path, struct lukstoken **ret, struct cvm_error *err);

/**
 * lukstoken_parse_text() - lukstoken_parse() of JSON text (the token plugin's validate() input).
 * @text: NUL-terminated JSON; at most LUKSTOKEN_TEXT_MAX bytes.
 */
#define LUKSTOKEN_TEXT_MAX (64u * 1024u)
int lukstoken_parse_text(const char *text, struct lukstoken **ret, struct cvm_error *err);

/**
 * lukstoken_to_json() - the token's JSON object (enrolled or pending form).
 * @ret: new object the caller puts. Return: 0, -EINVAL for an incomplete token, -ENOMEM.
 */
int lukstoken_to_json(const struct lukstoken *t, json_object **ret);

/**
 * lukstoken_pending_json() - the pending token for planned keyslot @keyslot, as compact text.
 * Return: 0, -EINVAL, -ENOMEM; *ret is freed by the caller.
 */
int lukstoken_pending_json(int keyslot, char **ret);

/** lukstoken_backend_name() - "azure", "trustee" or "none". */
const char *lukstoken_backend_name(enum lukstoken_backend b);

/** lukstoken_wrap_alg_name() - "RSA-OAEP-256+A256GCM", "A256GCM" or "none". */
const char *lukstoken_wrap_alg_name(enum lukstoken_wrap_alg a);

/**
 * lukstoken_check_https_url() - accept "https://HOST[:PORT][/PATH]" with HOST a DNS name, IPv4
 * or bracketed IPv6 literal, no user info, no query or fragment, printable ASCII only.
 * Return: 0 or -EINVAL (with a reason in @err naming @what).
 */
int lukstoken_check_https_url(const char *url, const char *what, struct cvm_error *err);

/**
 * lukstoken_check_key_id() - a Key Vault / Managed HSM key identifier:
 * "https://HOST/keys/NAME" or ".../keys/NAME/VERSION" (NAME [A-Za-z0-9-]{1,127}, VERSION
 * 32 hex digits). Return: 0 or -EINVAL.
 */
int lukstoken_check_key_id(const char *key_id, const char *what, struct cvm_error *err);

/**
 * lukstoken_check_resource_path() - a KBS resource path "REPO/TYPE/TAG", each part
 * [A-Za-z0-9._-]{1,128} and not "." or "..". Return: 0 or -EINVAL.
 */
int lukstoken_check_resource_path(const char *path, const char *what, struct cvm_error *err);

/**
 * lukstoken_check_enc() - a Key Vault release "enc" value: CKM_RSA_AES_KEY_WRAP,
 * RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384. Return: 0 or -EINVAL.
 */
int lukstoken_check_enc(const char *enc, const char *what, struct cvm_error *err);
