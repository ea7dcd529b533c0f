/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcryptsetup.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cleanup.h"
#include "luks.h"
#include "luksb64.h"

#define COPY_CHUNK (1u << 20)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct crypt_device *, crypt_free)

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* libcryptsetup's own messages: keep the last error to complete ours, print nothing. */
struct capture {
        char last[256];
};

static void capture_log(int level, const char *msg, void *usrptr)
{
        struct capture *c = usrptr;
        size_t n;

        if (level != CRYPT_LOG_ERROR || !c || !msg)
                return;
        snprintf(c->last, sizeof(c->last), "%s", msg);
        n = strlen(c->last);
        while (n > 0 && (c->last[n - 1] == '\n' || c->last[n - 1] == '.'))
                c->last[--n] = '\0';
}

static int cs_fail(struct cvm_error *err, const struct capture *c, int r, const char *what)
{
        if (c && c->last[0])
                return cvm_error_set(err, r, "%s: %s (libcryptsetup: %s)", what, strerror(-r), c->last);
        return cvm_error_set(err, r, "%s: %s", what, strerror(-r));
}

const char *luks_step_name(enum luks_step s)
{
        static const char *const names[_LUKS_STEP_MAX] = {
                [LUKS_STEP_RECOVERED] = "recovered",     [LUKS_STEP_PENDING] = "pending",
                [LUKS_STEP_KEYSLOT] = "keyslot",         [LUKS_STEP_ENROLLED] = "enrolled",
                [LUKS_STEP_OLD_PENDING] = "old-pending", [LUKS_STEP_OLD_KEYSLOT] = "old-keyslot",
                [LUKS_STEP_OLD_REMOVED] = "old-removed",
        };

        return s < _LUKS_STEP_MAX ? names[s] : "unknown";
}

void luks_secret_passphrase(const uint8_t secret[LUKSTOKEN_SECRET_SIZE], char out[LUKS_PASSPHRASE_SIZE + 1])
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;

        /* Encoded in place rather than via luksb64_encode() so no heap copy of the secret exists. */
        for (size_t i = 0; i < LUKSTOKEN_SECRET_SIZE; i += 3) {
                size_t left = LUKSTOKEN_SECRET_SIZE - i;
                uint32_t v = (uint32_t)secret[i] << 16;

                if (left > 1)
                        v |= (uint32_t)secret[i + 1] << 8;
                if (left > 2)
                        v |= secret[i + 2];
                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                out[o++] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
                out[o++] = left > 2 ? alphabet[v & 63] : '=';
        }
        out[o] = '\0';
}

/* ---- reading metadata ----------------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n, uint64_t off, struct cvm_error *err)
{
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = pread(fd, p, n, (off_t)off);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return cvm_error_set(err, -errno, "read at offset %" PRIu64 ": %s", off,
                                             strerror(errno));
                }
                /* A device shorter than the metadata it claims is not a usable LUKS2 volume. */
                if (k == 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "device ends at offset %" PRIu64 ", inside the LUKS2 metadata",
                                             off);
                p += k;
                n -= (size_t)k;
                off += (uint64_t)k;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t n, uint64_t off, struct cvm_error *err)
{
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = pwrite(fd, p, n, (off_t)off);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return cvm_error_set(err, -errno, "header copy: write failed: %s", strerror(errno));
                }
                p += k;
                n -= (size_t)k;
                off += (uint64_t)k;
        }
        return 0;
}

static int open_device(const char *path, int flags, struct cvm_error *err)
{
        struct stat st;
        int fd;

        fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return cvm_error_set(err, -errno, "cannot open: %s", strerror(errno));
        if (fstat(fd, &st) < 0 || !(S_ISBLK(st.st_mode) || S_ISREG(st.st_mode))) {
                close(fd);
                return cvm_error_set(err, -EINVAL, "not a block device or regular file");
        }
        return fd;
}

/* Reads both header copies from @fd and validates them; returns the bytes read too. */
static int read_and_parse(int fd, uint8_t **ret_buf, size_t *ret_size, struct luks2hdr **ret,
                          struct cvm_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t bin[LUKS2HDR_BIN_SIZE];
        uint64_t hdr_size;
        int r;

        r = read_full(fd, bin, sizeof(bin), 0, err);
        if (r < 0)
                return r;
        r = luks2hdr_peek(bin, sizeof(bin), &hdr_size, err);
        if (r < 0)
                return r;
        buf = malloc(2 * hdr_size);
        if (!buf)
                return -ENOMEM;
        r = read_full(fd, buf, 2 * hdr_size, 0, err);
        if (r < 0)
                return r;
        r = luks2hdr_parse(buf, 2 * hdr_size, ret, err);
        if (r < 0)
                return r;
        if (ret_buf) {
                *ret_buf = TAKE_PTR(buf);
                *ret_size = 2 * hdr_size;
        }
        return 0;
}

int luks_read_header(const char *path, struct luks2hdr **ret, struct cvm_error *err)
{
        _cleanup_close_ int fd = -1;

        fd = open_device(path, O_RDONLY, err);
        if (fd < 0)
                return fd;
        return read_and_parse(fd, NULL, NULL, ret, err);
}

struct luks_volume {
        int dev_fd;
        int hdr_fd;
        struct luks2hdr *hdr;
};

void luks_volume_free(struct luks_volume *v)
{
        if (!v)
                return;
        if (v->dev_fd >= 0)
                close(v->dev_fd);
        if (v->hdr_fd >= 0)
                close(v->hdr_fd);
        luks2hdr_free(v->hdr);
        free(v);
}

const struct luks2hdr *luks_volume_header(const struct luks_volume *v)
{
        return v->hdr;
}

int luks_volume_header_fd(const struct luks_volume *v)
{
        return v->hdr_fd;
}

int luks_volume_open(const char *path, struct luks_volume **ret, struct cvm_error *err)
{
        _cleanup_(luks_volume_freep) struct luks_volume *v = NULL;
        _cleanup_free_ uint8_t *buf = NULL, *chunk = NULL;
        size_t size = 0;
        uint64_t end;
        int r;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->hdr_fd = -1;
        v->dev_fd = open_device(path, O_RDONLY, err);
        if (v->dev_fd < 0) {
                r = v->dev_fd;
                v->dev_fd = -1;
                return r;
        }
        r = read_and_parse(v->dev_fd, &buf, &size, &v->hdr, err);
        if (r < 0)
                return r;

        /*
         * The private copy: the validated bytes themselves, then the keyslots area (ciphertext
         * whose tampering can only make the keyslot fail to open). Sealed before libcryptsetup
         * ever sees it.
         */
        v->hdr_fd = memfd_create("cvm-agent-luks2-header", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (v->hdr_fd < 0)
                return cvm_error_set(err, -errno, "memfd_create: %s", strerror(errno));
        end = luks2hdr_metadata_size(v->hdr);
        if (ftruncate(v->hdr_fd, (off_t)end) < 0)
                return cvm_error_set(err, -errno, "header copy: %s", strerror(errno));
        r = write_full(v->hdr_fd, buf, size, 0, err);
        if (r < 0)
                return r;
        chunk = malloc(COPY_CHUNK);
        if (!chunk)
                return -ENOMEM;
        /*
         * Only the areas of active keyslots carry data libcryptsetup reads; the rest of the
         * keyslots area stays a hole in the memfd (zeros), which spares copying ~16 MiB.
         */
        for (int k = 0; k < LUKS2HDR_MAX_OBJECTS; k++) {
                const struct luks2hdr_keyslot *ks = &v->hdr->keyslots[k];

                if (!ks->active)
                        continue;
                for (uint64_t off = ks->area_offset, area_end = ks->area_offset + ks->area_size;
                     off < area_end;) {
                        size_t n = area_end - off > COPY_CHUNK ? COPY_CHUNK : (size_t)(area_end - off);

                        r = read_full(v->dev_fd, chunk, n, off, err);
                        if (r >= 0)
                                r = write_full(v->hdr_fd, chunk, n, off, err);
                        if (r < 0)
                                return r;
                        off += n;
                }
        }
        if (fcntl(v->hdr_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return cvm_error_set(err, -errno, "header copy: cannot seal: %s", strerror(errno));
        *ret = TAKE_PTR(v);
        return 0;
}

int luks_volume_activate(struct luks_volume *v, const char *name, int keyslot,
                         const uint8_t secret[LUKSTOKEN_SECRET_SIZE], uint32_t flags, struct cvm_error *err)
{
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct capture cap = {};
        char hdr_path[64], data_path[64], pass[LUKS_PASSPHRASE_SIZE + 1];
        int r;

        /* The agent never loads token plugins (including its own) into itself. */
        crypt_token_external_disable();
        snprintf(hdr_path, sizeof(hdr_path), "/proc/self/fd/%d", v->hdr_fd);
        snprintf(data_path, sizeof(data_path), "/proc/self/fd/%d", v->dev_fd);
        crypt_set_log_callback(NULL, capture_log, &cap);
        r = crypt_init_data_device(&cd, hdr_path, data_path);
        crypt_set_log_callback(NULL, NULL, NULL);
        if (r < 0)
                return cs_fail(err, &cap, r, "cannot attach the validated header copy");
        crypt_set_log_callback(cd, capture_log, &cap);
        r = crypt_load(cd, CRYPT_LUKS2, NULL);
        if (r < 0)
                return cs_fail(err, &cap, r, "libcryptsetup cannot load the validated header copy");
        luks_secret_passphrase(secret, pass);
        r = crypt_activate_by_passphrase(cd, name, keyslot, pass, LUKS_PASSPHRASE_SIZE, flags);
        OPENSSL_cleanse(pass, sizeof(pass));
        if (r == -EPERM)
                return cvm_error_set(err, -EPERM, "keyslot %d: the secret does not open it", keyslot);
        if (r < 0)
                return cs_fail(err, &cap, r, name ? "activation failed" : "keyslot check failed");
        return 0;
}

int luks_volume_unlock(struct luks_volume *v, int token, const uint8_t *material, size_t size,
                       enum lukswrap_material kind, const char *name, uint32_t flags, struct cvm_error *err)
{
        const struct lukstoken *t;
        uint8_t binding[LUKS2HDR_BINDING_SIZE], secret[LUKSTOKEN_SECRET_SIZE];
        int r;

        if (token < 0 || token >= LUKS2HDR_MAX_OBJECTS || !(t = v->hdr->tokens[token].cvm) || t->pending)
                return cvm_error_set(err, -ENOENT, "token %d is not an enrolled cvm-agent token", token);
        r = luks2hdr_binding(v->hdr, t->keyslot, t, binding, err);
        if (r < 0)
                return r;
        (void)mlock(secret, sizeof(secret));
        r = lukswrap_unseal(material, size, kind, &t->wrap, binding, secret, err);
        if (r >= 0)
                r = luks_volume_activate(v, name, t->keyslot, secret, flags, err);
        OPENSSL_cleanse(secret, sizeof(secret));
        munlock(secret, sizeof(secret));
        return r;
}

/* ---- management ----------------------------------------------------------------------------- */

static int cd_open(const char *device, struct crypt_device **ret, struct capture *cap, struct cvm_error *err)
{
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        int fd, r;

        /* Our own checks first: precise errors, and libcryptsetup never gets a missing path. */
        fd = open_device(device, O_RDONLY, err);
        if (fd < 0)
                return fd;
        close(fd);
        crypt_token_external_disable();
        /* Messages logged before a device context exists go to the default callback. */
        crypt_set_log_callback(NULL, capture_log, cap);
        r = crypt_init(&cd, device);
        if (r >= 0) {
                crypt_set_log_callback(cd, capture_log, cap);
                r = crypt_load(cd, CRYPT_LUKS2, NULL);
        }
        crypt_set_log_callback(NULL, NULL, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cvm_error_set(err, -EBADMSG, "not a LUKS2 volume%s%s", cap->last[0] ? ": " : "",
                                     cap->last);
        *ret = TAKE_PTR(cd);
        return 0;
}

int luks_format_image(const char *path, uint64_t size, const char *passphrase, size_t passphrase_size,
                      uint32_t sector_size, struct cvm_error *err)
{
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct crypt_pbkdf_type pbkdf = {.type = CRYPT_KDF_PBKDF2,
                                         .hash = "sha256",
                                         .iterations = 1000,
                                         .flags = CRYPT_PBKDF_NO_BENCHMARK};
        struct crypt_params_luks2 params = {.sector_size = sector_size ? sector_size : 512};
        struct capture cap = {};
        _cleanup_close_ int fd = -1;
        int r;

        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return cvm_error_set(err, -errno, "cannot create: %s", strerror(errno));
        if (ftruncate(fd, (off_t)size) < 0)
                return cvm_error_set(err, -errno, "cannot resize: %s", strerror(errno));
        crypt_token_external_disable();
        crypt_set_log_callback(NULL, capture_log, &cap);
        r = crypt_init(&cd, path);
        crypt_set_log_callback(NULL, NULL, NULL);
        if (r < 0)
                return cs_fail(err, &cap, r, "crypt_init");
        crypt_set_log_callback(cd, capture_log, &cap);
        r = crypt_set_pbkdf_type(cd, &pbkdf);
        if (r >= 0)
                r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", NULL, NULL, 64, &params);
        if (r < 0)
                return cs_fail(err, &cap, r, "format");
        r = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, NULL, 0, passphrase, passphrase_size);
        if (r < 0)
                return cs_fail(err, &cap, r, "add passphrase keyslot");
        return 0;
}

/* Keyslot references of token @t as a bit mask (0 when unreadable). */
static uint32_t token_keyslots(struct crypt_device *cd, int t)
{
        _cleanup_(json_object_putp) json_object *obj = NULL;
        json_object *arr;
        const char *json;
        uint32_t mask = 0;

        if (crypt_token_json_get(cd, t, &json) < 0)
                return 0;
        obj = json_tokener_parse(json);
        if (!obj || !json_object_object_get_ex(obj, "keyslots", &arr) ||
            !json_object_is_type(arr, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
                int k = atoi(json_object_get_string(json_object_array_get_idx(arr, i)));

                if (k >= 0 && k < LUKS2HDR_MAX_OBJECTS)
                        mask |= UINT32_C(1) << k;
        }
        return mask;
}

static bool is_cvm_token(struct crypt_device *cd, int t)
{
        const char *type = NULL;
        crypt_token_info st = crypt_token_status(cd, t, &type);

        return st != CRYPT_TOKEN_INACTIVE && st != CRYPT_TOKEN_INVALID && type &&
               strcmp(type, LUKSTOKEN_TYPE) == 0;
}

static bool keyslot_referenced_elsewhere(struct crypt_device *cd, int keyslot, int except_token)
{
        for (int t = 0; t < LUKS2HDR_MAX_OBJECTS; t++) {
                if (t == except_token || crypt_token_status(cd, t, NULL) == CRYPT_TOKEN_INACTIVE)
                        continue;
                if (token_keyslots(cd, t) & (UINT32_C(1) << keyslot))
                        return true;
        }
        return false;
}

static bool keyslot_active(struct crypt_device *cd, int keyslot)
{
        crypt_keyslot_info st = crypt_keyslot_status(cd, keyslot);

        return st == CRYPT_SLOT_ACTIVE || st == CRYPT_SLOT_ACTIVE_LAST || st == CRYPT_SLOT_UNBOUND;
}

/* Only a keyslot with exactly the parameters enrollment uses can be ours. */
static bool keyslot_looks_ours(struct crypt_device *cd, int keyslot)
{
        struct crypt_pbkdf_type pbkdf = {};

        if (crypt_keyslot_get_pbkdf(cd, keyslot, &pbkdf) < 0)
                return false;
        return pbkdf.type && strcmp(pbkdf.type, CRYPT_KDF_PBKDF2) == 0 && pbkdf.hash &&
               strcmp(pbkdf.hash, LUKS_PBKDF_HASH) == 0 && pbkdf.iterations == LUKS_PBKDF_ITER;
}

static int active_keyslot_count(struct crypt_device *cd)
{
        int n = 0;

        for (int k = 0; k < LUKS2HDR_MAX_OBJECTS; k++)
                if (keyslot_active(cd, k))
                        n++;
        return n;
}

static void step(luks_step_hook hook, void *userdata, enum luks_step s)
{
        if (hook)
                hook(s, userdata);
}

/* State of a cvm-agent token for recovery: 1 pending (*ret_slot set), 2 dead, 0 enrolled/other. */
static int token_state(struct crypt_device *cd, int t, int *ret_slot)
{
        _cleanup_(json_object_putp) json_object *obj = NULL;
        json_object *v, *arr;
        const char *json;

        if (crypt_token_json_get(cd, t, &json) < 0)
                return 0;
        obj = json_tokener_parse(json);
        if (!obj)
                return 0;
        if (json_object_object_get_ex(obj, "pending_keyslot", &v)) {
                const char *s = json_object_get_string(v);
                char *end = NULL;
                long k = s ? strtol(s, &end, 10) : -1;

                *ret_slot = (s && *s && end && !*end && k >= 0 && k < LUKS2HDR_MAX_OBJECTS) ? (int)k : -1;
                return 1;
        }
        if (json_object_object_get_ex(obj, "keyslots", &arr) && json_object_is_type(arr, json_type_array) &&
            json_object_array_length(arr) == 0)
                return 2;
        return 0;
}

static int recover_cd(struct crypt_device *cd, struct capture *cap, unsigned *ret_cleaned,
                      struct cvm_error *err)
{
        unsigned cleaned = 0;
        int r;

        for (int t = 0; t < LUKS2HDR_MAX_OBJECTS; t++) {
                int slot = -1, state;

                if (!is_cvm_token(cd, t))
                        continue;
                state = token_state(cd, t, &slot);
                if (state == 0)
                        continue;
                /* Keyslot first: killed in between, the pending token still names it next time. */
                if (state == 1 && slot >= 0 && keyslot_active(cd, slot) &&
                    !keyslot_referenced_elsewhere(cd, slot, t) && keyslot_looks_ours(cd, slot) &&
                    active_keyslot_count(cd) > 1) {
                        r = crypt_keyslot_destroy(cd, slot);
                        if (r < 0)
                                return cs_fail(
                                        err, cap, r,
                                        "recovery: cannot remove the keyslot of an interrupted enrollment");
                }
                r = crypt_token_json_set(cd, t, NULL);
                if (r < 0)
                        return cs_fail(err, cap, r, "recovery: cannot remove a pending cvm-agent token");
                cleaned++;
        }
        if (ret_cleaned)
                *ret_cleaned = cleaned;
        return 0;
}

int luks_recover(const char *device, unsigned *ret_cleaned, struct cvm_error *err)
{
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct capture cap = {};
        int r;

        r = cd_open(device, &cd, &cap, err);
        if (r < 0)
                return r;
        return recover_cd(cd, &cap, ret_cleaned, err);
}

/* Enrolled cvm-agent token -> its keyslot, or -1. */
static int enrolled_keyslot(struct crypt_device *cd, int t)
{
        _cleanup_(lukstoken_freep) struct lukstoken *tok = NULL;
        const char *json;

        if (!is_cvm_token(cd, t) || crypt_token_json_get(cd, t, &json) < 0)
                return -1;
        if (lukstoken_parse_text(json, &tok, NULL) < 0 || tok->pending)
                return -1;
        return tok->keyslot;
}

/* Unenroll one token: pending first (forget the wrapped secret), keyslot, then the token. */
static int remove_enrollment(struct crypt_device *cd, struct capture *cap, int t, luks_step_hook hook,
                             void *userdata, struct cvm_error *err)
{
        _cleanup_free_ char *pending = NULL;
        int keyslot = enrolled_keyslot(cd, t), r;
        bool shared;

        if (keyslot < 0)
                return cvm_error_set(err, -ENOENT, "token %d is not an enrolled cvm-agent token", t);
        shared = keyslot_referenced_elsewhere(cd, keyslot, t);
        if (!shared && keyslot_active(cd, keyslot) && active_keyslot_count(cd) <= 1)
                return cvm_error_set(err, -EBUSY,
                                     "token %d: keyslot %d is the volume's last keyslot; not removing it", t,
                                     keyslot);
        r = lukstoken_pending_json(keyslot, &pending);
        if (r < 0)
                return r;
        r = crypt_token_json_set(cd, t, pending);
        if (r < 0)
                return cs_fail(err, cap, r, "cannot mark the token for removal");
        step(hook, userdata, LUKS_STEP_OLD_PENDING);
        if (!shared && keyslot_active(cd, keyslot)) {
                r = crypt_keyslot_destroy(cd, keyslot);
                if (r < 0)
                        return cs_fail(err, cap, r, "cannot remove the keyslot");
        }
        step(hook, userdata, LUKS_STEP_OLD_KEYSLOT);
        r = crypt_token_json_set(cd, t, NULL);
        if (r < 0)
                return cs_fail(err, cap, r, "cannot remove the token");
        step(hook, userdata, LUKS_STEP_OLD_REMOVED);
        return 0;
}

int luks_unenroll(const char *device, int token, luks_step_hook hook, void *userdata, unsigned *ret_removed,
                  struct cvm_error *err)
{
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct capture cap = {};
        unsigned removed = 0;
        int r;

        r = cd_open(device, &cd, &cap, err);
        if (r >= 0)
                r = recover_cd(cd, &cap, NULL, err);
        if (r < 0)
                return r;
        step(hook, userdata, LUKS_STEP_RECOVERED);
        if (token >= 0) {
                if (token >= LUKS2HDR_MAX_OBJECTS || enrolled_keyslot(cd, token) < 0)
                        return cvm_error_set(err, -ENOENT, "token %d is not an enrolled cvm-agent token",
                                             token);
                r = remove_enrollment(cd, &cap, token, hook, userdata, err);
                if (r < 0)
                        return r;
                removed = 1;
        } else {
                for (int t = 0; t < LUKS2HDR_MAX_OBJECTS; t++) {
                        if (enrolled_keyslot(cd, t) < 0)
                                continue;
                        r = remove_enrollment(cd, &cap, t, hook, userdata, err);
                        if (r < 0)
                                return r;
                        removed++;
                }
                if (removed == 0)
                        return cvm_error_set(err, -ENOENT, "no cvm-agent enrollment");
        }
        if (ret_removed)
                *ret_removed = removed;
        return 0;
}

/* Secrets of one enrollment, locked in memory and wiped on every exit path. */
struct enroll_secrets {
        uint8_t secret[LUKSTOKEN_SECRET_SIZE];
        char pass[LUKS_PASSPHRASE_SIZE + 1];
        char vk[512];
        size_t vk_size;
};

static void enroll_secrets_done(struct enroll_secrets **s)
{
        if (!*s)
                return;
        OPENSSL_cleanse(*s, sizeof(**s));
        munlock(*s, sizeof(**s));
        free(*s);
}

int luks_enroll(const struct luks_enroll_params *p, struct luks_enroll_result *ret, struct cvm_error *err)
{
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_(enroll_secrets_done) struct enroll_secrets *s = NULL;
        _cleanup_(luks2hdr_freep) struct luks2hdr *hdr = NULL, *check = NULL;
        _cleanup_(json_object_putp) json_object *obj = NULL;
        _cleanup_free_ char *pending = NULL;
        struct crypt_pbkdf_type pbkdf = {
                .type = CRYPT_KDF_PBKDF2,
                .hash = LUKS_PBKDF_HASH,
                .iterations = LUKS_PBKDF_ITER,
                .flags = CRYPT_PBKDF_NO_BENCHMARK,
        };
        struct luks_enroll_result res = {.token = -1, .keyslot = -1};
        struct lukstoken tok;
        struct capture cap = {};
        const char *text;
        int r, keyslot = -1, token, existing = 0;

        if (!p->config || !p->key || p->config->backend == LUKSTOKEN_BACKEND_NONE)
                return cvm_error_set(err, -EINVAL, "enroll: no backend configuration or wrapping key");
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        (void)mlock(s, sizeof(*s)); /* best effort: RLIMIT_MEMLOCK may forbid it */

        r = cd_open(p->device, &cd, &cap, err);
        if (r >= 0)
                r = recover_cd(cd, &cap, &res.recovered, err);
        if (r < 0)
                return r;
        step(p->hook, p->userdata, LUKS_STEP_RECOVERED);

        for (int t = 0; t < LUKS2HDR_MAX_OBJECTS; t++)
                if (enrolled_keyslot(cd, t) >= 0)
                        existing++;
        if (existing && !p->replace)
                return cvm_error_set(err, -EEXIST, "already enrolled (%d cvm-agent token%s); use --replace",
                                     existing, existing > 1 ? "s" : "");

        /* Refuse what unlock would refuse, before anything is written. */
        r = luks_read_header(p->device, &hdr, err);
        if (r < 0)
                return r;
        luks2hdr_free(TAKE_PTR(hdr));

        s->vk_size = sizeof(s->vk);
        r = crypt_get_volume_key_size(cd);
        if (r <= 0 || (size_t)r > sizeof(s->vk))
                return cvm_error_set(err, -EINVAL, "unexpected volume key size %d", r);
        s->vk_size = (size_t)r;
        r = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, s->vk, &s->vk_size, p->passphrase, p->passphrase_size);
        if (r == -EPERM)
                return cvm_error_set(err, -EPERM, "the passphrase opens no keyslot");
        if (r < 0)
                return cs_fail(err, &cap, r, "cannot obtain the volume key");

        for (int k = 0; k < crypt_keyslot_max(CRYPT_LUKS2) && k < LUKS2HDR_MAX_OBJECTS; k++)
                if (crypt_keyslot_status(cd, k) == CRYPT_SLOT_INACTIVE) {
                        keyslot = k;
                        break;
                }
        if (keyslot < 0)
                return cvm_error_set(err, -ENOSPC, "no free keyslot");

        r = lukstoken_pending_json(keyslot, &pending);
        if (r < 0)
                return r;
        token = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, pending);
        if (token < 0)
                return cs_fail(err, &cap, token, "cannot write the pending token");
        res.token = token;
        step(p->hook, p->userdata, LUKS_STEP_PENDING);

        if (RAND_bytes(s->secret, sizeof(s->secret)) != 1)
                return cvm_error_set(err, -EIO, "random number generator failed");
        luks_secret_passphrase(s->secret, s->pass);
        r = crypt_set_pbkdf_type(cd, &pbkdf);
        if (r < 0)
                return cs_fail(err, &cap, r, "cannot select PBKDF2");
        r = crypt_keyslot_add_by_volume_key(cd, keyslot, s->vk, s->vk_size, s->pass, LUKS_PASSPHRASE_SIZE);
        if (r < 0)
                return cs_fail(err, &cap, r, "cannot add the keyslot");
        if (r != keyslot)
                return cvm_error_set(err, -EIO, "libcryptsetup used keyslot %d instead of %d", r, keyslot);
        res.keyslot = keyslot;
        step(p->hook, p->userdata, LUKS_STEP_KEYSLOT);

        /* Bind to the header as written, read back from the device. */
        r = luks_read_header(p->device, &hdr, err);
        if (r < 0)
                return r;
        tok = *p->config;
        tok.version = LUKSTOKEN_VERSION;
        tok.pending = false;
        tok.pending_keyslot = -1;
        tok.keyslot = keyslot;
        tok.wrap = (struct lukstoken_wrap){.alg = p->key->alg};
        r = luks2hdr_binding(hdr, keyslot, &tok, tok.binding, err);
        if (r >= 0)
                r = lukswrap_seal(p->key, s->secret, tok.binding, &tok.wrap, err);
        if (r >= 0)
                r = lukstoken_to_json(&tok, &obj);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        r = crypt_token_json_set(cd, token, text);
        if (r < 0)
                return cs_fail(err, &cap, r, "cannot write the token");
        step(p->hook, p->userdata, LUKS_STEP_ENROLLED);

        if (p->replace)
                for (int t = 0; t < LUKS2HDR_MAX_OBJECTS; t++) {
                        if (t == token || enrolled_keyslot(cd, t) < 0)
                                continue;
                        r = remove_enrollment(cd, &cap, t, p->hook, p->userdata, err);
                        if (r < 0)
                                return r;
                        res.replaced++;
                }

        /* Self-check: the result passes validation and the secret opens the new keyslot. */
        r = luks_read_header(p->device, &check, err);
        if (r < 0)
                return r;
        if (!check->tokens[token].cvm || check->tokens[token].cvm->pending)
                return cvm_error_set(err, -EIO, "token %d missing after enrollment", token);
        r = crypt_activate_by_passphrase(cd, NULL, keyslot, s->pass, LUKS_PASSPHRASE_SIZE, 0);
        if (r < 0)
                return cs_fail(err, &cap, r, "the new keyslot does not open");
        *ret = res;
        return 0;
}

/* ---- listing -------------------------------------------------------------------------------- */

void luks_listing_free(struct luks_listing *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < LUKS2HDR_MAX_OBJECTS; i++)
                free(l->tokens[i].json);
        free(l);
}

int luks_list(const char *device, struct luks_listing **ret, struct cvm_error *err)
{
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_(luks_listing_freep) struct luks_listing *l = NULL;
        _cleanup_(luks2hdr_freep) struct luks2hdr *hdr = NULL;
        struct cvm_error verr = {};
        struct capture cap = {};
        const char *uuid;
        int r;

        r = cd_open(device, &cd, &cap, err);
        if (r < 0)
                return r;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        uuid = crypt_get_uuid(cd);
        snprintf(l->uuid, sizeof(l->uuid), "%s", uuid ? uuid : "");
        for (int k = 0; k < LUKS2HDR_MAX_OBJECTS; k++) {
                struct luks_keyslot_entry *e = &l->keyslots[k];
                struct crypt_pbkdf_type pbkdf = {};

                if (!keyslot_active(cd, k))
                        continue;
                e->active = true;
                if (crypt_keyslot_get_pbkdf(cd, k, &pbkdf) >= 0) {
                        snprintf(e->kdf, sizeof(e->kdf), "%s", pbkdf.type ? pbkdf.type : "");
                        snprintf(e->hash, sizeof(e->hash), "%s", pbkdf.hash ? pbkdf.hash : "");
                        e->iterations = pbkdf.iterations;
                        e->memory = pbkdf.max_memory_kb;
                        e->threads = pbkdf.parallel_threads;
                }
        }
        for (int t = 0; t < LUKS2HDR_MAX_OBJECTS; t++) {
                struct luks_token_entry *e = &l->tokens[t];
                const char *type = NULL, *json = NULL;
                crypt_token_info st = crypt_token_status(cd, t, &type);

                if (st == CRYPT_TOKEN_INACTIVE || st == CRYPT_TOKEN_INVALID)
                        continue;
                e->active = true;
                snprintf(e->type, sizeof(e->type), "%s", type ? type : "");
                e->keyslots = token_keyslots(cd, t);
                if (crypt_token_json_get(cd, t, &json) >= 0 && json && !(e->json = strdup(json)))
                        return -ENOMEM;
        }
        l->validation = luks_read_header(device, &hdr, &verr);
        if (l->validation == -ENOMEM)
                return -ENOMEM;
        if (l->validation < 0)
                snprintf(l->validation_error, sizeof(l->validation_error), "%s",
                         cvm_error_message(&verr, l->validation));
        *ret = TAKE_PTR(l);
        return 0;
}
