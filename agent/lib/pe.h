/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PE/COFF images as UEFI firmware and shim measure them: header parsing, the Authenticode
 * digest (the digest of EV_EFI_BOOT_SERVICES_APPLICATION events in PCR 4) and section lookup
 * for unified kernel images (systemd-stub measures ".linux", ".initrd", ".cmdline"... into
 * PCR 11).
 *
 * Authenticode digest (PE/COFF specification, "Calculating the PE Image Hash"; the way EDK2's
 * measured-boot library and shim compute it): hash the headers except the optional header's
 * CheckSum and the Certificate Table data-directory entry, then every section's raw data in
 * file order, then the bytes after the last section up to the attribute-certificate table.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hashalg.h"

#define PE_MAX_SECTIONS 96 /* the PE/COFF limit for images */

struct pe_section {
        char name[9]; /* NUL-terminated (8 characters at most) */
        uint32_t virtual_size;
        uint32_t virtual_address;
        uint32_t raw_size;
        uint32_t raw_offset;
};

struct pe_image {
        const uint8_t *data; /* borrowed: the caller keeps the image alive */
        size_t size;
        bool pe32plus;
        uint16_t machine;
        uint32_t size_of_headers;
        size_t checksum_offset;          /* offset of the optional header's CheckSum */
        size_t certdir_offset;           /* offset of the Certificate Table directory entry; 0: none */
        uint32_t cert_offset, cert_size; /* attribute certificate table (file offset, size) */
        size_t n_sections;
        struct pe_section sections[PE_MAX_SECTIONS];
};

/**
 * pe_parse() - validate the headers of a PE/COFF image and index its sections.
 * @data, @size: the image; borrowed by @ret (keep it alive while @ret is used).
 * @ret: filled on success.
 * Return: 0; -EBADMSG with "offset 0xX: what" for anything that is not a well-formed PE image
 *         (no MZ/PE signature, headers or sections outside the file, certificate table outside
 *         the file, more than PE_MAX_SECTIONS sections).
 */
int pe_parse(const uint8_t *data, size_t size, struct pe_image *ret, struct cvm_error *err);

/**
 * pe_authenticode_digest() - the Authenticode digest of @pe with @alg into @out (alg->size
 * bytes). Return: 0; -EBADMSG when the sections overlap the headers in a way the algorithm
 * cannot hash; -EOPNOTSUPP/-EIO/-ENOMEM from the hash.
 */
int pe_authenticode_digest(const struct pe_image *pe, const struct hash_alg *alg, uint8_t *out,
                           struct cvm_error *err);

/** pe_find_section() - the first section named @name (e.g. ".linux"), or NULL. */
const struct pe_section *pe_find_section(const struct pe_image *pe, const char *name);

/**
 * pe_section_data() - the section contents as the loaded image holds them: VirtualSize bytes,
 * of which the raw data fills the first min(VirtualSize, SizeOfRawData) and zeros the rest.
 * @ret, @ret_size: a new buffer the caller frees; written only on success.
 * Return: 0; -EBADMSG when the raw data lies outside the file; -ENOMEM.
 */
int pe_section_data(const struct pe_image *pe, const struct pe_section *s, uint8_t **ret, size_t *ret_size,
                    struct cvm_error *err);
