/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "pe.h"
#include "util.h"

#define DOS_LFANEW_OFFSET   0x3c
#define COFF_HEADER_SIZE    20
#define OPT_MAGIC_PE32      0x10b
#define OPT_MAGIC_PE32PLUS  0x20b
#define OPT_CHECKSUM_OFFSET 64 /* same in PE32 and PE32+ */
#define SECTION_HEADER_SIZE 40
#define DIRECTORY_SECURITY  4

int pe_parse(const uint8_t *data, size_t size, struct pe_image *ret, struct cvm_error *err)
{
        struct pe_image pe = {.data = data, .size = size};
        uint32_t lfanew, n_dirs, dirs_offset;
        uint16_t n_sections, opt_size, magic;
        size_t opt, sect;

        if (size < 0x40 || data[0] != 'M' || data[1] != 'Z')
                return cvm_error_set(err, -EBADMSG, "offset 0x0: not a PE image (no MZ header)");
        lfanew = le32(data + DOS_LFANEW_OFFSET);
        if (lfanew > size || size - lfanew < 4 + COFF_HEADER_SIZE)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x3c: PE header offset 0x%x outside the %zu-byte file", lfanew,
                                     size);
        if (memcmp(data + lfanew, "PE\0\0", 4) != 0)
                return cvm_error_set(err, -EBADMSG, "offset 0x%x: no PE signature", lfanew);
        pe.machine = le16(data + lfanew + 4);
        n_sections = le16(data + lfanew + 6);
        opt_size = le16(data + lfanew + 20);
        opt = (size_t)lfanew + 4 + COFF_HEADER_SIZE;
        if (n_sections > PE_MAX_SECTIONS)
                return cvm_error_set(err, -EBADMSG, "offset 0x%zx: %u sections, more than %d", opt - 14,
                                     n_sections, PE_MAX_SECTIONS);
        if (opt_size < 2 || size - opt < opt_size)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x%zx: optional header of %u bytes outside the file", opt,
                                     opt_size);
        magic = le16(data + opt);
        if (magic == OPT_MAGIC_PE32)
                dirs_offset = 96;
        else if (magic == OPT_MAGIC_PE32PLUS)
                dirs_offset = 112;
        else
                return cvm_error_set(err, -EBADMSG, "offset 0x%zx: unknown optional header magic 0x%x", opt,
                                     magic);
        pe.pe32plus = magic == OPT_MAGIC_PE32PLUS;
        if (opt_size < dirs_offset)
                return cvm_error_set(err, -EBADMSG, "offset 0x%zx: optional header of %u bytes is too short",
                                     opt, opt_size);
        pe.size_of_headers = le32(data + opt + 60);
        pe.checksum_offset = opt + OPT_CHECKSUM_OFFSET;
        n_dirs = le32(data + opt + dirs_offset - 4);
        if (n_dirs > (uint32_t)(opt_size - dirs_offset) / 8)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x%zx: %u data directories do not fit the optional header",
                                     opt + dirs_offset - 4, n_dirs);
        if (n_dirs > DIRECTORY_SECURITY) {
                pe.certdir_offset = opt + dirs_offset + 8 * DIRECTORY_SECURITY;
                pe.cert_offset = le32(data + pe.certdir_offset);
                pe.cert_size = le32(data + pe.certdir_offset + 4);
                if (pe.cert_size > 0 && (pe.cert_offset > size || size - pe.cert_offset < pe.cert_size))
                        return cvm_error_set(
                                err, -EBADMSG,
                                "offset 0x%zx: certificate table 0x%x+0x%x outside the %zu-byte file",
                                pe.certdir_offset, pe.cert_offset, pe.cert_size, size);
        }
        sect = opt + opt_size;
        if ((size - sect) / SECTION_HEADER_SIZE < n_sections)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x%zx: section table of %u entries outside the file", sect,
                                     n_sections);
        if (pe.size_of_headers > size ||
            pe.size_of_headers < sect + (size_t)n_sections * SECTION_HEADER_SIZE)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x%zx: SizeOfHeaders 0x%x inconsistent with the file", opt + 60,
                                     pe.size_of_headers);
        if (pe.certdir_offset && pe.certdir_offset + 8 > pe.size_of_headers)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x%zx: certificate directory beyond SizeOfHeaders",
                                     pe.certdir_offset);
        for (size_t i = 0; i < n_sections; i++) {
                const uint8_t *h = data + sect + i * SECTION_HEADER_SIZE;
                struct pe_section *s = &pe.sections[i];

                memcpy(s->name, h, 8);
                s->name[8] = 0;
                s->virtual_size = le32(h + 8);
                s->virtual_address = le32(h + 12);
                s->raw_size = le32(h + 16);
                s->raw_offset = le32(h + 20);
                if (s->raw_size > 0 && (s->raw_offset > size || size - s->raw_offset < s->raw_size))
                        return cvm_error_set(
                                err, -EBADMSG,
                                "offset 0x%zx: section %zu (%s) data 0x%x+0x%x outside the file",
                                sect + i * SECTION_HEADER_SIZE, i, s->name, s->raw_offset, s->raw_size);
        }
        pe.n_sections = n_sections;
        *ret = pe;
        return 0;
}

static int cmp_section_offset(const void *a, const void *b)
{
        const struct pe_section *x = *(const struct pe_section *const *)a,
                                *y = *(const struct pe_section *const *)b;

        return x->raw_offset < y->raw_offset ? -1 : x->raw_offset > y->raw_offset;
}

static int update(EVP_MD_CTX *ctx, const uint8_t *p, size_t n)
{
        return EVP_DigestUpdate(ctx, p, n) == 1 ? 0 : -EIO;
}

int pe_authenticode_digest(const struct pe_image *pe, const struct hash_alg *alg, uint8_t *out,
                           struct cvm_error *err)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        const struct pe_section *order[PE_MAX_SECTIONS];
        const uint8_t *d = pe->data;
        size_t hashed, end, n = 0;
        EVP_MD *md = NULL;
        unsigned len = 0;
        int r;

        if (!alg->evp_name)
                return cvm_error_set(err, -EOPNOTSUPP, "cannot compute %s", alg->name);
        md = EVP_MD_fetch(NULL, alg->evp_name, NULL);
        if (!md)
                return cvm_error_set(err, -EOPNOTSUPP, "OpenSSL cannot compute %s", alg->name);
        ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1) {
                EVP_MD_free(md);
                return cvm_error_set(err, ctx ? -EIO : -ENOMEM, "cannot start a %s digest", alg->name);
        }
        EVP_MD_free(md);

        /* Headers, minus CheckSum and the Certificate Table entry. */
        r = update(ctx, d, pe->checksum_offset);
        if (r >= 0 && pe->certdir_offset) {
                r = update(ctx, d + pe->checksum_offset + 4, pe->certdir_offset - pe->checksum_offset - 4);
                if (r >= 0)
                        r = update(ctx, d + pe->certdir_offset + 8,
                                   pe->size_of_headers - pe->certdir_offset - 8);
        } else if (r >= 0)
                r = update(ctx, d + pe->checksum_offset + 4, pe->size_of_headers - pe->checksum_offset - 4);
        if (r < 0)
                return cvm_error_set(err, r, "%s digest failed", alg->name);

        /* Sections in file order. */
        for (size_t i = 0; i < pe->n_sections; i++)
                if (pe->sections[i].raw_size > 0)
                        order[n++] = &pe->sections[i];
        qsort(order, n, sizeof(order[0]), cmp_section_offset);
        hashed = pe->size_of_headers;
        for (size_t i = 0; i < n; i++) {
                r = update(ctx, d + order[i]->raw_offset, order[i]->raw_size);
                if (r < 0)
                        return cvm_error_set(err, r, "%s digest failed", alg->name);
                hashed += order[i]->raw_size;
        }

        /* Trailing data up to the certificate table (which sits at the end of signed images). */
        if (pe->size > hashed) {
                end = pe->size - pe->cert_size;
                if (end < hashed)
                        return cvm_error_set(err, -EBADMSG,
                                             "the certificate table (0x%x bytes) overlaps the section data",
                                             pe->cert_size);
                r = update(ctx, d + hashed, end - hashed);
                if (r < 0)
                        return cvm_error_set(err, r, "%s digest failed", alg->name);
        }
        if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != alg->size)
                return cvm_error_set(err, -EIO, "%s digest failed", alg->name);
        return 0;
}

const struct pe_section *pe_find_section(const struct pe_image *pe, const char *name)
{
        for (size_t i = 0; i < pe->n_sections; i++)
                if (strcmp(pe->sections[i].name, name) == 0)
                        return &pe->sections[i];
        return NULL;
}

int pe_section_data(const struct pe_image *pe, const struct pe_section *s, uint8_t **ret, size_t *ret_size,
                    struct cvm_error *err)
{
        size_t n = s->virtual_size, raw = s->raw_size < s->virtual_size ? s->raw_size : s->virtual_size;
        uint8_t *buf;

        if (raw > 0 && (s->raw_offset > pe->size || pe->size - s->raw_offset < raw))
                return cvm_error_set(err, -EBADMSG, "section %s data outside the file", s->name);
        buf = calloc(1, n ? n : 1);
        if (!buf)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (raw > 0)
                memcpy(buf, pe->data + s->raw_offset, raw);
        *ret = buf;
        *ret_size = n;
        return 0;
}
