/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decoding of UEFI data structures found in measured-boot event logs, for display: GUIDs,
 * UCS-2 strings, device paths (rendered in the UEFI text notation), load options (Boot####)
 * and signature databases (PK/KEK/db/dbx). Every function accepts untrusted bytes: malformed
 * input never fails a decode, it is rendered with a visible marker instead ("<truncated>",
 * Path(type,subtype,hex)); the only failure is -ENOMEM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define EFI_GUID_SIZE       16
#define EFI_GUID_STRING_MAX 37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

/**
 * efi_guid_to_string() - the canonical lowercase text form of an EFI_GUID as stored in memory
 * (first three fields little-endian).
 * @guid: 16 bytes; @out: receives the string.
 */
void efi_guid_to_string(const uint8_t guid[static EFI_GUID_SIZE], char out[static EFI_GUID_STRING_MAX]);

/**
 * efi_guid_name() - short name of a well-known GUID (variable vendors, signature types,
 * configuration tables), e.g. "EFI_GLOBAL_VARIABLE", "EFI_CERT_X509_GUID", "ACPI_20_TABLE".
 * Return: a static string, or NULL when the GUID is not known.
 */
const char *efi_guid_name(const uint8_t guid[static EFI_GUID_SIZE]);

/**
 * efi_ucs2_to_utf8() - convert little-endian UTF-16 text to UTF-8.
 * @p, @n: the bytes (an odd trailing byte is ignored); conversion stops at the first NUL
 *         character. Unpaired surrogates become U+FFFD.
 * @ret: NUL-terminated UTF-8 string the caller frees.
 * Return: 0 or -ENOMEM.
 */
int efi_ucs2_to_utf8(const uint8_t *p, size_t n, char **ret);

/**
 * efi_bytes_to_utf8() - copy a byte string (ASCII/UTF-8 in practice) up to its first NUL,
 * replacing every byte that is not part of a valid UTF-8 sequence with U+FFFD, so the result
 * is always valid UTF-8 (safe to put into JSON).
 * Return: 0 or -ENOMEM; @ret is freed by the caller.
 */
int efi_bytes_to_utf8(const uint8_t *p, size_t n, char **ret);

/**
 * efi_looks_like_ucs2() - heuristic: true when @p/@n starts with at least two UTF-16LE
 * characters of the ASCII range and has no other hint of being a byte string.
 */
bool efi_looks_like_ucs2(const uint8_t *p, size_t n);

/**
 * efi_device_path_to_text() - render an EFI_DEVICE_PATH_PROTOCOL sequence of @n bytes in the
 * UEFI text notation, e.g. "PciRoot(0x0)/Pci(0x3,0x0)/HD(1,GPT,<guid>,0x800,0x100000)/
 * \EFI\BOOT\BOOTX64.EFI". Instances are separated by ",". Unknown nodes are shown as
 * "Path(type,subtype,hexdata)"; a malformed node ends the text with "<malformed>".
 * @ret: the text, caller frees. Return: 0 or -ENOMEM.
 */
int efi_device_path_to_text(const uint8_t *p, size_t n, char **ret);

/* A decoded EFI_LOAD_OPTION (Boot####, Driver####, SysPrep####). */
struct efi_load_option {
        uint32_t attributes;
        char *description; /* UTF-8 */
        char *device_path; /* text form, see efi_device_path_to_text() */
        size_t optional_data_size;
        bool truncated; /* the option was shorter than its header claims */
};

/**
 * efi_load_option_decode() - decode an EFI_LOAD_OPTION.
 * @ret: filled on success; release with efi_load_option_done().
 * Return: 0, -EBADMSG when the bytes are too short to be a load option, -ENOMEM.
 */
int efi_load_option_decode(const uint8_t *p, size_t n, struct efi_load_option *ret);

/** efi_load_option_done() - free the strings of @o (safe on a zeroed struct). */
void efi_load_option_done(struct efi_load_option *o);

/* A summary of a signature database (a sequence of EFI_SIGNATURE_LIST). */
struct efi_siglist_summary {
        size_t lists;
        size_t x509;    /* X.509 certificates */
        size_t hashes;  /* SHA-256/SHA-1/... hash entries */
        size_t other;   /* any other signature type */
        bool malformed; /* stopped early at an inconsistent list header */
};

/**
 * efi_signature_lists_summarize() - count the entries of a signature database.
 * Never fails; a malformed list sets ->malformed and stops counting.
 */
void efi_signature_lists_summarize(const uint8_t *p, size_t n, struct efi_siglist_summary *ret);

/**
 * efi_signature_lists_to_json() - a JSON array describing a signature database: one object
 * per EFI_SIGNATURE_LIST with "type" (name or GUID), "type_guid", "signature_size" and
 * "entries": [{"owner": guid, "subject": ..., "issuer": ..., "sha256": fingerprint} for X.509,
 * {"owner": guid, "hash": hex} for hashes, {"owner": guid, "size": n} otherwise].
 * Return: 0 or -ENOMEM; @ret is a new reference.
 */
int efi_signature_lists_to_json(const uint8_t *p, size_t n, json_object **ret);

/**
 * efi_x509_subject() - the one-line RFC 2253 subject of a DER certificate (@p, @n), or
 * NULL in *@ret when it does not parse as X.509.
 * Return: 0 or -ENOMEM.
 */
int efi_x509_subject(const uint8_t *p, size_t n, char **ret);
