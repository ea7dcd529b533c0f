/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS2 volumes through libcryptsetup: validated read-only access for unlocking, and the
 * enrollment transaction for the `cvm-agent` token.
 *
 * Unlock side. luks_volume_open() opens the device once, copies its metadata (both header
 * copies and the keyslots area) into an anonymous memfd, validates the header bytes in that copy
 * with luks2hdr_parse(), and seals the memfd (F_SEAL_WRITE|SHRINK|GROW|SEAL) so nobody — the
 * host, another process, or this one — can change it afterwards. Keyslot checks and activation
 * then run from that memfd as a *detached header* (crypt_init_data_device() with the memfd as
 * header device via /proc/self/fd/N and the already-open device fd as data device), so the
 * header libcryptsetup acts on is byte for byte the one that was validated: a host swapping the
 * on-disk header between check and use changes nothing.
 *
 * Enrollment side (the on-disk header is modified, through libcryptsetup only). Crash safety:
 *   1. recovery: clean up what an earlier interrupted run left (see luks_recover());
 *   2. a *pending* cvm-agent token naming the keyslot about to be created is written first;
 *   3. the keyslot is added (PBKDF2-SHA512, 1000 iterations, no benchmark: the secret is a
 *      random 256-bit value, as systemd-cryptenroll does for TPM2);
 *   4. the header is read back, validated, the binding digest computed, the secret wrapped, and
 *      the pending token is replaced by the enrolled one in a single header write;
 *   5. with --replace, older cvm-agent tokens and their keyslots are removed the same way as by
 *      unenroll.
 * Killed anywhere, the header still opens with every pre-existing keyslot, and the next
 * enroll/unenroll/recover removes a pending token and the keyslot it names (only when that
 * keyslot has exactly our PBKDF parameters and no other token references it). Unenrolling
 * turns the token back into a pending one before destroying its keyslot, so the same recovery
 * covers an interrupted unenroll.
 *
 * libcryptsetup's messages are captured (the last error is appended to our error message),
 * never printed. The keyslot passphrase is the base64 text of the 32-byte secret
 * (luks_secret_passphrase()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "luks2hdr.h"
#include "lukstoken.h"
#include "lukswrap.h"

#define LUKS_PASSPHRASE_SIZE 44 /* base64 of LUKSTOKEN_SECRET_SIZE bytes, without NUL */
#define LUKS_PBKDF_HASH      "sha512"
#define LUKS_PBKDF_ITER      1000u

/* ---- unlock side ---------------------------------------------------------------------------- */

struct luks_volume;

/**
 * luks_volume_open() - open @path read-only, copy and validate its LUKS2 metadata.
 * @ret: the volume, freed with luks_volume_free(); written only on success.
 * Return: 0; -ENOENT/-EACCES/-EIO opening or reading; the luks2hdr_parse() codes for a rejected
 * header (-EBADMSG, -EOPNOTSUPP, -EKEYREJECTED); -ENOMEM.
 */
int luks_volume_open(const char *path, struct luks_volume **ret, struct cvm_error *err);

/**
 * luks_read_header() - read both header copies of @path and validate them (no copy kept).
 * Return: as luks_volume_open().
 */
int luks_read_header(const char *path, struct luks2hdr **ret, struct cvm_error *err);

/** luks_volume_free() - close the device and the sealed copy. NULL is a no-op. */
void luks_volume_free(struct luks_volume *v);
static inline void luks_volume_freep(struct luks_volume **v)
{
        luks_volume_free(*v);
}

/** luks_volume_header() - the validated header (owned by @v). */
const struct luks2hdr *luks_volume_header(const struct luks_volume *v);

/** luks_volume_header_fd() - the sealed memfd holding the validated metadata (owned by @v). */
int luks_volume_header_fd(const struct luks_volume *v);

/**
 * luks_volume_activate() - open @keyslot with @secret from the validated copy.
 * @name: device-mapper name to activate, or NULL to only verify the secret against the keyslot
 *        (works on image files without root or device-mapper).
 * @flags: CRYPT_ACTIVATE_* flags (0: the header's persistent flags apply).
 * Return: 0; -EPERM the secret does not open the keyslot; other negative errno from
 * libcryptsetup (-EBUSY name in use, -ENODEV no device-mapper, ...).
 */
int luks_volume_activate(struct luks_volume *v, const char *name, int keyslot,
                         const uint8_t secret[LUKSTOKEN_SECRET_SIZE], uint32_t flags, struct cvm_error *err);

/**
 * luks_volume_unlock() - unwrap the secret of cvm-agent token @token with released key
 * material and open its keyslot from the validated copy.
 * @token: an enrolled cvm-agent token of the validated header.
 * @material, @size, @kind: what the backend released (see lukswrap_unseal()).
 * @name: device-mapper name, or NULL to verify only.
 * The binding digests are recomputed from the validated header, so the AES-GCM check fails for
 * a token moved to another header even if it carries a matching "binding" member.
 * Return: 0; -ENOENT no such enrolled token; -EKEYREJECTED the material does not unwrap the
 * token; -EPERM the unwrapped secret does not open the keyslot; other negative errno.
 */
int luks_volume_unlock(struct luks_volume *v, int token, const uint8_t *material, size_t size,
                       enum lukswrap_material kind, const char *name, uint32_t flags, struct cvm_error *err);

/** luks_secret_passphrase() - the keyslot passphrase for @secret: base64, NUL-terminated. */
void luks_secret_passphrase(const uint8_t secret[LUKSTOKEN_SECRET_SIZE], char out[LUKS_PASSPHRASE_SIZE + 1]);

/* ---- management side ------------------------------------------------------------------------ */

/**
 * luks_format_image() - create a LUKS2 image file (tests, demo): aes-xts-plain64 with a 512-bit
 * key, PBKDF2-SHA256 at 1000 iterations (no benchmark), one keyslot for @passphrase.
 * @path: created or truncated to @size bytes (at least 32 MiB: 16 MiB metadata + data).
 * @sector_size: 512..4096, or 0 for 512.
 * Return: 0 or negative errno.
 */
int luks_format_image(const char *path, uint64_t size, const char *passphrase, size_t passphrase_size,
                      uint32_t sector_size, struct cvm_error *err);

enum luks_step {
        LUKS_STEP_RECOVERED,   /* earlier leftovers cleaned up */
        LUKS_STEP_PENDING,     /* pending token written */
        LUKS_STEP_KEYSLOT,     /* keyslot added */
        LUKS_STEP_ENROLLED,    /* token complete */
        LUKS_STEP_OLD_PENDING, /* replace/unenroll: an old token turned pending */
        LUKS_STEP_OLD_KEYSLOT, /* replace/unenroll: its keyslot destroyed */
        LUKS_STEP_OLD_REMOVED, /* replace/unenroll: its token removed */
        _LUKS_STEP_MAX,
};

/** luks_step_name() - "recovered", "pending", "keyslot", ... for tests and messages. */
const char *luks_step_name(enum luks_step s);

/* Called after each step; tests use it to kill the process at every point. May be NULL. */
typedef void (*luks_step_hook)(enum luks_step step, void *userdata);

struct luks_enroll_params {
        const char *device;
        const char *passphrase; /* an existing keyslot's passphrase, to obtain the volume key */
        size_t passphrase_size;
        const struct lukstoken *config; /* backend and its fields; keyslot, wrap, binding ignored */
        const struct lukswrap_key *key; /* wrapping key; its alg is recorded in the token */
        bool replace;                   /* replace existing cvm-agent enrollments */
        luks_step_hook hook;
        void *userdata;
};

struct luks_enroll_result {
        int token;
        int keyslot;
        unsigned recovered; /* leftovers of interrupted runs cleaned up */
        unsigned replaced;  /* old enrollments removed (replace) */
};

/**
 * luks_enroll() - add a keyslot for a new random secret and the cvm-agent token wrapping it.
 * Existing keyslots and other tokens are left alone.
 * Return: 0; -EEXIST already enrolled and !replace; -EPERM passphrase opens no keyslot; the
 * luks2hdr_parse() codes when the header is outside the allowlist (enrollment refuses what
 * unlock would refuse); -ENOSPC no free keyslot or no room in the JSON area; other negative errno.
 */
int luks_enroll(const struct luks_enroll_params *p, struct luks_enroll_result *ret, struct cvm_error *err);

/**
 * luks_unenroll() - remove cvm-agent token @token (or all of them when @token < 0) and the
 * keyslots they use, unless another token still references such a keyslot or it is the last
 * keyslot of the volume. Leftovers of interrupted runs are cleaned up first.
 * @ret_removed: number of tokens removed (may be NULL).
 * Return: 0; -ENOENT no such cvm-agent token; -EBUSY the keyslot is the volume's last one;
 * other negative errno.
 */
int luks_unenroll(const char *device, int token, luks_step_hook hook, void *userdata, unsigned *ret_removed,
                  struct cvm_error *err);

/**
 * luks_recover() - remove pending cvm-agent tokens and the keyslots they name (when those have
 * exactly LUKS_PBKDF_HASH / LUKS_PBKDF_ITER PBKDF2 parameters and no other token references
 * them), and cvm-agent tokens left without any keyslot (e.g. after `cryptsetup luksKillSlot`).
 * @ret_cleaned: number of tokens removed (may be NULL).
 */
int luks_recover(const char *device, unsigned *ret_cleaned, struct cvm_error *err);

/* One token as libcryptsetup sees it (no validation beyond libcryptsetup's own). */
struct luks_token_entry {
        bool active;
        char type[65];
        uint32_t keyslots;
        char *json; /* compact JSON text */
};

struct luks_keyslot_entry {
        bool active;
        char kdf[16]; /* "pbkdf2", "argon2id", ... */
        char hash[16];
        uint32_t iterations, memory, threads;
};

struct luks_listing {
        char uuid[LUKS2HDR_UUID_LEN + 1];
        struct luks_keyslot_entry keyslots[LUKS2HDR_MAX_OBJECTS];
        struct luks_token_entry tokens[LUKS2HDR_MAX_OBJECTS];
        /* Strict validation of the on-disk header (the same as unlock performs). */
        int validation; /* 0 accepted, else the negative errno */
        char validation_error[CVM_ERROR_MAX];
};

/**
 * luks_list() - keyslots and tokens of @device, plus the verdict of strict validation.
 * @ret: freed with luks_listing_free().
 * Return: 0, or negative errno when the device cannot be read as LUKS2 at all.
 */
int luks_list(const char *device, struct luks_listing **ret, struct cvm_error *err);

/** luks_listing_free() - NULL is a no-op. */
void luks_listing_free(struct luks_listing *l);
static inline void luks_listing_freep(struct luks_listing **l)
{
        luks_listing_free(*l);
}
