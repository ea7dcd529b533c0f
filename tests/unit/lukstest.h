/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the LUKS tests: LUKS2 image files made by libcryptsetup in a temporary directory
 * (no root, no device-mapper), enrollment with a fixed symmetric wrapping key, and rewriting of
 * header bytes with recomputed checksums so that JSON-level checks are what a crafted header
 * meets.
 */
#pragma once

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "luks.h"
#include "luks2hdr.h"
#include "lukstoken.h"
#include "lukswrap.h"
#include "util.h"

#define LT_PASSPHRASE "recovery passphrase"
#define LT_IMAGE_SIZE (32u << 20)

static const uint8_t lt_sym_key[32] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a,
                                       0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
                                       0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};

/* A fresh temporary directory per test binary; removed by lt_cleanup(). */
static char lt_dir[64];

static inline const char *lt_path(const char *name)
{
        static char path[4][128];
        static int i;

        if (!lt_dir[0]) {
                strcpy(lt_dir, "/tmp/cvm-luks-test-XXXXXX");
                if (!mkdtemp(lt_dir))
                        fail_msg("mkdtemp failed");
        }
        i = (i + 1) % 4;
        snprintf(path[i], sizeof(path[i]), "%s/%s", lt_dir, name);
        return path[i];
}

static inline void lt_cleanup(void)
{
        char cmd[128];

        if (!lt_dir[0])
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lt_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", lt_dir);
        lt_dir[0] = '\0';
}

static inline void lt_format(const char *path, uint32_t sector)
{
        struct cvm_error err = {};
        int r = luks_format_image(path, LT_IMAGE_SIZE, LT_PASSPHRASE, strlen(LT_PASSPHRASE), sector, &err);

        if (r < 0)
                fail_msg("format %s: %s", path, cvm_error_message(&err, r));
}

/* The Trustee configuration used for enrollments in tests. */
static inline struct lukstoken lt_trustee_config(void)
{
        return (struct lukstoken){
                .backend = LUKSTOKEN_BACKEND_TRUSTEE,
                .kbs_url = (char *)"https://127.0.0.1:8443",
                .resource_path = (char *)"default/cvm-agent/disk0",
        };
}

static inline int lt_enroll_ex(const char *path, bool replace, luks_step_hook hook, void *ud,
                               struct luks_enroll_result *res, struct cvm_error *err)
{
        struct lukstoken cfg = lt_trustee_config();
        struct lukswrap_key key = {.alg = LUKSTOKEN_WRAP_A256GCM};
        struct luks_enroll_params p = {
                .device = path,
                .passphrase = LT_PASSPHRASE,
                .passphrase_size = strlen(LT_PASSPHRASE),
                .config = &cfg,
                .key = &key,
                .replace = replace,
                .hook = hook,
                .userdata = ud,
        };
        struct luks_enroll_result tmp;

        memcpy(key.sym, lt_sym_key, sizeof(key.sym));
        return luks_enroll(&p, res ? res : &tmp, err);
}

static inline struct luks_enroll_result lt_enroll(const char *path)
{
        struct luks_enroll_result res = {};
        struct cvm_error err = {};
        int r = lt_enroll_ex(path, false, NULL, NULL, &res, &err);

        if (r < 0)
                fail_msg("enroll %s: %s", path, cvm_error_message(&err, r));
        return res;
}

/* Reads both header copies (2 * hdr_size bytes). */
static inline uint8_t *lt_read_header(const char *path, size_t *ret_size)
{
        uint8_t bin[4096], *buf;
        uint64_t hdr_size;
        int fd = open(path, O_RDONLY);

        if (fd < 0 || pread(fd, bin, sizeof(bin), 0) != (ssize_t)sizeof(bin))
                fail_msg("cannot read %s", path);
        hdr_size = be64(bin + 8);
        buf = malloc(2 * hdr_size);
        if (!buf || pread(fd, buf, 2 * hdr_size, 0) != (ssize_t)(2 * hdr_size))
                fail_msg("cannot read the header of %s", path);
        close(fd);
        *ret_size = 2 * hdr_size;
        return buf;
}

static inline void lt_write_header(const char *path, const uint8_t *buf, size_t size)
{
        int fd = open(path, O_WRONLY);

        if (fd < 0 || pwrite(fd, buf, size, 0) != (ssize_t)size)
                fail_msg("cannot write %s", path);
        close(fd);
}

/* Recomputes the SHA-256 checksum of one header copy at @p. */
static inline void lt_checksum(uint8_t *p, uint64_t hdr_size)
{
        unsigned int n = 0;

        memset(p + 448, 0, 64);
        if (EVP_Digest(p, hdr_size, p + 448, &n, EVP_sha256(), NULL) != 1 || n != 32)
                fail_msg("SHA-256 failed");
}

static inline void lt_reseal(uint8_t *buf, uint64_t hdr_size)
{
        lt_checksum(buf, hdr_size);
        lt_checksum(buf + hdr_size, hdr_size);
}

/* Replaces the JSON text in both copies (zero-padded) and recomputes both checksums. */
static inline void lt_set_json(uint8_t *buf, uint64_t hdr_size, const char *text)
{
        size_t len = strlen(text), area = hdr_size - 4096;

        if (len > area)
                fail_msg("JSON of %zu bytes does not fit %zu", len, area);
        for (int c = 0; c < 2; c++) {
                memset(buf + c * hdr_size + 4096, 0, area);
                memcpy(buf + c * hdr_size + 4096, text, len);
        }
        lt_reseal(buf, hdr_size);
}

static inline json_object *lt_get_json(const uint8_t *buf)
{
        json_object *o = json_tokener_parse((const char *)buf + 4096);

        if (!o)
                fail_msg("cannot parse the header JSON");
        return o;
}

static inline void lt_put_json(uint8_t *buf, uint64_t hdr_size, json_object *root)
{
        lt_set_json(buf, hdr_size,
                    json_object_to_json_string_ext(root,
                                                   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* json_object at a dotted path ("segments.0"), or NULL. */
static inline json_object *lt_at(json_object *root, const char *path)
{
        char buf[256], *save = NULL;
        json_object *o = root;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
                json_object *next = NULL;

                if (json_object_is_type(o, json_type_array))
                        next = json_object_array_get_idx(o, (size_t)atoi(k));
                else if (!json_object_object_get_ex(o, k, &next))
                        next = NULL;
                o = next;
        }
        return o;
}
