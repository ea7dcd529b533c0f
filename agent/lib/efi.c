/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cleanup.h"
#include "efi.h"
#include "util.h"

/* GUIDs in their in-memory byte order (first three fields little-endian). */
struct known_guid {
        uint8_t guid[EFI_GUID_SIZE];
        const char *name;
};

#define GUID_BYTES(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                            \
        {                                                                                              \
                (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, ((a) >> 24) & 0xff, (b)&0xff,       \
                        ((b) >> 8) & 0xff, (c)&0xff, ((c) >> 8) & 0xff, d0, d1, d2, d3, d4, d5, d6, d7 \
        }

static const struct known_guid known_guids[] = {
        {GUID_BYTES(0x8be4df61, 0x93ca, 0x11d2, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c),
         "EFI_GLOBAL_VARIABLE"},
        {GUID_BYTES(0xd719b2cb, 0x3d3a, 0x4596, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f),
         "EFI_IMAGE_SECURITY_DATABASE"},
        {GUID_BYTES(0x605dab50, 0xe046, 0x4300, 0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23),
         "SHIM_LOCK"},
        {GUID_BYTES(0xc1c41626, 0x504c, 0x4092, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28),
         "EFI_CERT_SHA256_GUID"},
        {GUID_BYTES(0x826ca512, 0xcf10, 0x4ac9, 0xb1, 0x87, 0xbe, 0x01, 0x49, 0x66, 0x31, 0xbd),
         "EFI_CERT_SHA1_GUID"},
        {GUID_BYTES(0x3c5766e8, 0x269c, 0x4e34, 0xaa, 0x14, 0xed, 0x77, 0x6e, 0x85, 0xb3, 0xb6),
         "EFI_CERT_RSA2048_GUID"},
        {GUID_BYTES(0xa5c059a1, 0x94e4, 0x4aa7, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72),
         "EFI_CERT_X509_GUID"},
        {GUID_BYTES(0x3bd2a492, 0x96c0, 0x4079, 0xb4, 0x20, 0xfc, 0xf9, 0x8e, 0xf1, 0x03, 0xed),
         "EFI_CERT_X509_SHA256_GUID"},
        {GUID_BYTES(0x7076876e, 0x80c2, 0x4ee6, 0xaa, 0xd2, 0x28, 0xb3, 0x49, 0xa6, 0x86, 0x5b),
         "EFI_CERT_X509_SHA384_GUID"},
        {GUID_BYTES(0x4aafd29d, 0x68df, 0x49ee, 0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7),
         "EFI_CERT_TYPE_PKCS7_GUID"},
        {GUID_BYTES(0x8868e871, 0xe4f1, 0x11d3, 0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81),
         "ACPI_20_TABLE"},
        {GUID_BYTES(0xeb9d2d30, 0x2d88, 0x11d3, 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d),
         "ACPI_TABLE"},
        {GUID_BYTES(0xeb9d2d31, 0x2d88, 0x11d3, 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d),
         "SMBIOS_TABLE"},
        {GUID_BYTES(0xf2fd1544, 0x9794, 0x4a2c, 0x99, 0x2e, 0xe5, 0xbb, 0xcf, 0x20, 0xe3, 0x94),
         "SMBIOS3_TABLE"},
        {GUID_BYTES(0xeb9d2d2f, 0x2d88, 0x11d3, 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d),
         "MPS_TABLE"},
};

static const uint8_t guid_cert_x509[] =
        GUID_BYTES(0xa5c059a1, 0x94e4, 0x4aa7, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72);
static const uint8_t guid_cert_sha256[] =
        GUID_BYTES(0xc1c41626, 0x504c, 0x4092, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28);
static const uint8_t guid_cert_sha1[] =
        GUID_BYTES(0x826ca512, 0xcf10, 0x4ac9, 0xb1, 0x87, 0xbe, 0x01, 0x49, 0x66, 0x31, 0xbd);
static const uint8_t guid_cert_x509_sha256[] =
        GUID_BYTES(0x3bd2a492, 0x96c0, 0x4079, 0xb4, 0x20, 0xfc, 0xf9, 0x8e, 0xf1, 0x03, 0xed);

void efi_guid_to_string(const uint8_t guid[static EFI_GUID_SIZE], char out[static EFI_GUID_STRING_MAX])
{
        snprintf(out, EFI_GUID_STRING_MAX, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", le32(guid),
                 le16(guid + 4), le16(guid + 6), guid[8], guid[9], guid[10], guid[11], guid[12], guid[13],
                 guid[14], guid[15]);
}

const char *efi_guid_name(const uint8_t guid[static EFI_GUID_SIZE])
{
        for (size_t i = 0; i < ELEMENTSOF(known_guids); i++)
                if (memcmp(known_guids[i].guid, guid, EFI_GUID_SIZE) == 0)
                        return known_guids[i].name;
        return NULL;
}

static void put_utf8(FILE *f, uint32_t cp)
{
        if (cp < 0x80)
                fputc((int)cp, f);
        else if (cp < 0x800) {
                fputc((int)(0xc0 | (cp >> 6)), f);
                fputc((int)(0x80 | (cp & 0x3f)), f);
        } else if (cp < 0x10000) {
                fputc((int)(0xe0 | (cp >> 12)), f);
                fputc((int)(0x80 | ((cp >> 6) & 0x3f)), f);
                fputc((int)(0x80 | (cp & 0x3f)), f);
        } else {
                fputc((int)(0xf0 | (cp >> 18)), f);
                fputc((int)(0x80 | ((cp >> 12) & 0x3f)), f);
                fputc((int)(0x80 | ((cp >> 6) & 0x3f)), f);
                fputc((int)(0x80 | (cp & 0x3f)), f);
        }
}

static void put_ucs2(FILE *f, const uint8_t *p, size_t n)
{
        for (size_t i = 0; i + 1 < n; i += 2) {
                uint32_t c = le16(p + i);

                if (c == 0)
                        break;
                if (c >= 0xd800 && c <= 0xdbff && i + 3 < n) {
                        uint32_t lo = le16(p + i + 2);
                        if (lo >= 0xdc00 && lo <= 0xdfff) {
                                put_utf8(f, 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00));
                                i += 2;
                                continue;
                        }
                }
                if (c >= 0xd800 && c <= 0xdfff)
                        c = 0xfffd;
                put_utf8(f, c);
        }
}

int efi_ucs2_to_utf8(const uint8_t *p, size_t n, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        FILE *f = memstream_open(&buf, &len);

        if (!f)
                return -ENOMEM;
        put_ucs2(f, p, n);
        *ret = memstream_finish(f, &buf);
        return *ret ? 0 : -ENOMEM;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes are not valid UTF-8. */
static size_t utf8_sequence_length(const uint8_t *p, size_t n)
{
        uint32_t cp;
        size_t len;

        if (p[0] < 0x80)
                return 1;
        if ((p[0] & 0xe0) == 0xc0) {
                len = 2;
                cp = p[0] & 0x1f;
        } else if ((p[0] & 0xf0) == 0xe0) {
                len = 3;
                cp = p[0] & 0x0f;
        } else if ((p[0] & 0xf8) == 0xf0) {
                len = 4;
                cp = p[0] & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Reject overlong forms, surrogates and values beyond Unicode. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

int efi_bytes_to_utf8(const uint8_t *p, size_t n, char **ret)
{
        /* Empty input may come with p == NULL (an event with no data): memchr must not see it. */
        const uint8_t *nul = n > 0 ? memchr(p, 0, n) : NULL;
        char *out, *o;

        if (nul)
                n = (size_t)(nul - p);
        /* Every input byte becomes at most 3 output bytes (U+FFFD). */
        if (n > (SIZE_MAX - 1) / 3)
                return -ENOMEM;
        out = malloc(3 * n + 1);
        if (!out)
                return -ENOMEM;
        o = out;
        for (size_t i = 0; i < n;) {
                size_t l = utf8_sequence_length(p + i, n - i);

                if (l == 0) {
                        memcpy(o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                } else {
                        memcpy(o, p + i, l);
                        o += l;
                        i += l;
                }
        }
        *o = '\0';
        *ret = out;
        return 0;
}

bool efi_looks_like_ucs2(const uint8_t *p, size_t n)
{
        if (n < 4)
                return false;
        return p[0] >= 0x20 && p[0] < 0x7f && p[1] == 0 && p[2] >= 0x20 && p[2] < 0x7f && p[3] == 0;
}

static void put_guid(FILE *f, const uint8_t *g)
{
        char s[EFI_GUID_STRING_MAX];

        efi_guid_to_string(g, s);
        fputs(s, f);
}

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%02x", p[i]);
}

/* ACPI _HID values use the compressed EISA id encoding: "PNP" is 0x41d0 in the low word. */
static void put_acpi_node(FILE *f, uint32_t hid, uint32_t uid)
{
        if ((hid & 0xffff) == 0x41d0) {
                switch (hid >> 16) {
                case 0x0a03:
                        fprintf(f, "PciRoot(0x%x)", uid);
                        return;
                case 0x0a08:
                        fprintf(f, "PcieRoot(0x%x)", uid);
                        return;
                case 0x0604:
                        fprintf(f, "Floppy(0x%x)", uid);
                        return;
                default:
                        fprintf(f, "Acpi(PNP%04X,0x%x)", hid >> 16, uid);
                        return;
                }
        }
        fprintf(f, "Acpi(0x%08x,0x%x)", hid, uid);
}

/* Renders one node whose header (type, subtype, length) was validated; false = use the generic form. */
static bool put_known_node(FILE *f, uint8_t type, uint8_t subtype, const uint8_t *d, size_t n)
{
        switch (type) {
        case 0x01: /* hardware */
                if (subtype == 0x01 && n >= 2) {
                        fprintf(f, "Pci(0x%x,0x%x)", d[1], d[0]);
                        return true;
                }
                if (subtype == 0x03 && n >= 20) {
                        fprintf(f, "MemoryMapped(0x%x,0x%jx,0x%jx)", le32(d), (uintmax_t)le64(d + 4),
                                (uintmax_t)le64(d + 12));
                        return true;
                }
                if (subtype == 0x04 && n >= 16) {
                        fputs("VenHw(", f);
                        put_guid(f, d);
                        if (n > 16) {
                                fputc(',', f);
                                put_hex(f, d + 16, n - 16);
                        }
                        fputc(')', f);
                        return true;
                }
                if (subtype == 0x05 && n >= 4) {
                        fprintf(f, "Ctrl(0x%x)", le32(d));
                        return true;
                }
                return false;
        case 0x02: /* ACPI */
                if (subtype == 0x01 && n >= 8) {
                        put_acpi_node(f, le32(d), le32(d + 4));
                        return true;
                }
                if (subtype == 0x03 && n >= 4) {
                        fprintf(f, "AcpiAdr(0x%x)", le32(d));
                        return true;
                }
                return false;
        case 0x03: /* messaging */
                switch (subtype) {
                case 0x02:
                        if (n < 4)
                                return false;
                        fprintf(f, "Scsi(0x%x,0x%x)", le16(d), le16(d + 2));
                        return true;
                case 0x05:
                        if (n < 2)
                                return false;
                        fprintf(f, "USB(0x%x,0x%x)", d[0], d[1]);
                        return true;
                case 0x0a:
                        if (n < 16)
                                return false;
                        fputs("VenMsg(", f);
                        put_guid(f, d);
                        if (n > 16) {
                                fputc(',', f);
                                put_hex(f, d + 16, n - 16);
                        }
                        fputc(')', f);
                        return true;
                case 0x0b:
                        if (n < 33)
                                return false;
                        fputs("MAC(", f);
                        put_hex(f, d, 6);
                        fprintf(f, ",0x%x)", d[32]);
                        return true;
                case 0x0c:
                        if (n < 15)
                                return false;
                        fprintf(f, "IPv4(%u.%u.%u.%u)", d[4], d[5], d[6], d[7]);
                        return true;
                case 0x12:
                        if (n < 6)
                                return false;
                        fprintf(f, "Sata(0x%x,0x%x,0x%x)", le16(d), le16(d + 2), le16(d + 4));
                        return true;
                case 0x17:
                        if (n < 12)
                                return false;
                        fprintf(f, "NVMe(0x%x,", le32(d));
                        for (size_t i = 0; i < 8; i++)
                                fprintf(f, "%s%02X", i ? "-" : "", d[4 + i]);
                        fputc(')', f);
                        return true;
                case 0x18: {
                        _cleanup_free_ char *s = NULL;
                        if (efi_bytes_to_utf8(d, n, &s) < 0)
                                return false;
                        fprintf(f, "Uri(%s)", s);
                        return true;
                }
                default:
                        return false;
                }
        case 0x04: /* media */
                switch (subtype) {
                case 0x01:
                        if (n < 38)
                                return false;
                        fprintf(f, "HD(%u,", le32(d));
                        if (d[37] == 0x02) {
                                fputs("GPT,", f);
                                put_guid(f, d + 20);
                        } else if (d[37] == 0x01)
                                fprintf(f, "MBR,0x%08x", le32(d + 20));
                        else
                                fprintf(f, "%u,0", d[37]);
                        fprintf(f, ",0x%jx,0x%jx)", (uintmax_t)le64(d + 4), (uintmax_t)le64(d + 12));
                        return true;
                case 0x02:
                        if (n < 20)
                                return false;
                        fprintf(f, "CDROM(0x%x,0x%jx,0x%jx)", le32(d), (uintmax_t)le64(d + 4),
                                (uintmax_t)le64(d + 12));
                        return true;
                case 0x03:
                        if (n < 16)
                                return false;
                        fputs("VenMedia(", f);
                        put_guid(f, d);
                        fputc(')', f);
                        return true;
                case 0x04:
                        put_ucs2(f, d, n);
                        return true;
                case 0x06:
                        if (n < 16)
                                return false;
                        fputs("FvFile(", f);
                        put_guid(f, d);
                        fputc(')', f);
                        return true;
                case 0x07:
                        if (n < 16)
                                return false;
                        fputs("Fv(", f);
                        put_guid(f, d);
                        fputc(')', f);
                        return true;
                case 0x08:
                        if (n < 20)
                                return false;
                        fprintf(f, "Offset(0x%jx,0x%jx)", (uintmax_t)le64(d + 4), (uintmax_t)le64(d + 12));
                        return true;
                default:
                        return false;
                }
        case 0x05:
                if (subtype == 0x01 && n >= 4) {
                        fprintf(f, "BBS(0x%x)", le16(d));
                        return true;
                }
                return false;
        default:
                return false;
        }
}

int efi_device_path_to_text(const uint8_t *p, size_t n, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len, off = 0;
        bool first = true;
        FILE *f = memstream_open(&buf, &len);

        if (!f)
                return -ENOMEM;
        while (off < n) {
                uint8_t type, subtype;
                size_t node_len;

                if (n - off < 4) {
                        fputs(first ? "<malformed>" : "/<malformed>", f);
                        break;
                }
                type = p[off];
                subtype = p[off + 1];
                node_len = le16(p + off + 2);
                if (node_len < 4 || node_len > n - off) {
                        fputs(first ? "<malformed>" : "/<malformed>", f);
                        break;
                }
                if (type == 0x7f) {
                        if (subtype == 0xff)
                                break;
                        /* End of one instance: the next one follows after a comma. */
                        fputc(',', f);
                        first = true;
                        off += node_len;
                        continue;
                }
                if (!first)
                        fputc('/', f);
                if (!put_known_node(f, type, subtype, p + off + 4, node_len - 4)) {
                        fprintf(f, "Path(0x%x,0x%x", type, subtype);
                        if (node_len > 4) {
                                fputc(',', f);
                                put_hex(f, p + off + 4, node_len - 4);
                        }
                        fputc(')', f);
                }
                first = false;
                off += node_len;
        }
        *ret = memstream_finish(f, &buf);
        return *ret ? 0 : -ENOMEM;
}

int efi_load_option_decode(const uint8_t *p, size_t n, struct efi_load_option *ret)
{
        struct efi_load_option o = {};
        size_t desc_end, path_len;
        int r;

        if (n < 6)
                return -EBADMSG;
        o.attributes = le32(p);
        path_len = le16(p + 4);

        /* The description is a NUL-terminated UCS-2 string right after the 6-byte header. */
        for (desc_end = 6; desc_end + 1 < n; desc_end += 2)
                if (le16(p + desc_end) == 0)
                        break;
        r = efi_ucs2_to_utf8(p + 6, desc_end - 6, &o.description);
        if (r < 0)
                return r;
        desc_end += 2; /* skip the terminator, if there was room for one */
        if (desc_end > n) {
                desc_end = n;
                o.truncated = true;
        }
        if (path_len > n - desc_end) {
                path_len = n - desc_end;
                o.truncated = true;
        }
        r = efi_device_path_to_text(p + desc_end, path_len, &o.device_path);
        if (r < 0) {
                efi_load_option_done(&o);
                return r;
        }
        o.optional_data_size = n - desc_end - path_len;
        *ret = o;
        return 0;
}

void efi_load_option_done(struct efi_load_option *o)
{
        free(o->description);
        free(o->device_path);
        o->description = o->device_path = NULL;
}

/*
 * Walks the EFI_SIGNATURE_LISTs: calls fn for each list with its signature entries. Returns false
 * when a list header is inconsistent with the remaining bytes.
 */
typedef int (*siglist_fn)(const uint8_t *type, const uint8_t *entries, size_t count, size_t sig_size,
                          void *userdata);

static int siglist_walk(const uint8_t *p, size_t n, siglist_fn fn, void *userdata, bool *malformed)
{
        size_t off = 0;

        *malformed = false;
        while (off < n) {
                size_t list_size, header_size, sig_size, body;
                int r;

                if (n - off < 28) {
                        *malformed = true;
                        return 0;
                }
                list_size = le32(p + off + 16);
                header_size = le32(p + off + 20);
                sig_size = le32(p + off + 24);
                if (list_size < 28 || list_size > n - off || header_size > list_size - 28 || sig_size < 16) {
                        *malformed = true;
                        return 0;
                }
                body = list_size - 28 - header_size;
                if (body % sig_size != 0) {
                        *malformed = true;
                        return 0;
                }
                r = fn(p + off, p + off + 28 + header_size, body / sig_size, sig_size, userdata);
                if (r < 0)
                        return r;
                off += list_size;
        }
        return 0;
}

static int summarize_one(const uint8_t *type, const uint8_t *entries, size_t count, size_t sig_size,
                         void *userdata)
{
        struct efi_siglist_summary *s = userdata;

        (void)entries;
        (void)sig_size;
        s->lists++;
        if (memcmp(type, guid_cert_x509, EFI_GUID_SIZE) == 0)
                s->x509 += count;
        else if (memcmp(type, guid_cert_sha256, EFI_GUID_SIZE) == 0 ||
                 memcmp(type, guid_cert_sha1, EFI_GUID_SIZE) == 0 ||
                 memcmp(type, guid_cert_x509_sha256, EFI_GUID_SIZE) == 0)
                s->hashes += count;
        else
                s->other += count;
        return 0;
}

void efi_signature_lists_summarize(const uint8_t *p, size_t n, struct efi_siglist_summary *ret)
{
        struct efi_siglist_summary s = {};

        (void)siglist_walk(p, n, summarize_one, &s, &s.malformed);
        *ret = s;
}

/* One DER TLV header at p[0..n): tag, header length and content length (bounded by n). */
static bool der_header(const uint8_t *p, size_t n, uint8_t *tag, size_t *hdr, size_t *len)
{
        size_t l = 0, k;

        if (n < 2 || (p[0] & 0x1f) == 0x1f)
                return false;
        *tag = p[0];
        if (p[1] < 0x80) {
                l = p[1];
                *hdr = 2;
        } else {
                k = p[1] & 0x7f;
                if (k == 0 || k > 4 || n < 2 + k)
                        return false;
                for (size_t i = 0; i < k; i++)
                        l = (l << 8) | p[2 + i];
                *hdr = 2 + k;
        }
        if (l > n - *hdr)
                return false;
        *len = l;
        return true;
}

/*
 * Locates the subject Name of a DER certificate without decoding the whole certificate: a full
 * d2i_X509() also decodes the public key, which dominates the cost of rendering a db or MokList
 * with many certificates. Certificate = SEQUENCE { tbsCertificate = SEQUENCE { [0] version
 * OPTIONAL, serialNumber, signature, issuer, validity, subject, ... }, ... }.
 */
static bool der_find_subject(const uint8_t *p, size_t n, const uint8_t **ret, size_t *ret_len)
{
        uint8_t tag;
        size_t hdr, len;

        if (!der_header(p, n, &tag, &hdr, &len) || tag != 0x30)
                return false;
        p += hdr;
        n = len;
        if (!der_header(p, n, &tag, &hdr, &len) || tag != 0x30)
                return false;
        p += hdr;
        n = len;
        /* version [0] (optional), serialNumber INTEGER, signature, issuer, validity SEQUENCEs */
        for (int field = 0; field < 5; field++) {
                static const uint8_t expected[] = {0xa0, 0x02, 0x30, 0x30, 0x30};

                if (!der_header(p, n, &tag, &hdr, &len))
                        return false;
                if (tag != expected[field]) {
                        if (field == 0)
                                continue; /* no version field: v1 certificate */
                        return false;
                }
                p += hdr + len;
                n -= hdr + len;
        }
        if (!der_header(p, n, &tag, &hdr, &len) || tag != 0x30)
                return false;
        *ret = p;
        *ret_len = hdr + len;
        return true;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(X509_NAME *, X509_NAME_free)

int efi_x509_subject(const uint8_t *p, size_t n, char **ret)
{
        _cleanup_(X509_NAME_freep) X509_NAME *name = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        const uint8_t *subject;
        size_t subject_len;
        const unsigned char *q;
        char *data = NULL;
        long len;

        *ret = NULL;
        if (!der_find_subject(p, n, &subject, &subject_len))
                return 0;
        q = subject;
        name = d2i_X509_NAME(NULL, &q, (long)subject_len);
        if (!name)
                return 0;
        bio = BIO_new(BIO_s_mem());
        if (!bio)
                return -ENOMEM;
        if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return 0;
        len = BIO_get_mem_data(bio, &data);
        if (len < 0)
                return 0;
        /* The subject comes from untrusted bytes: make sure it is valid UTF-8 for JSON. */
        return efi_bytes_to_utf8((const uint8_t *)data, (size_t)len, ret);
}

static int json_add_string(json_object *o, const char *key, const char *value)
{
        json_object *v = json_object_new_string(value);

        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int json_add_hex(json_object *o, const char *key, const uint8_t *p, size_t n)
{
        _cleanup_free_ char *hex = hex_encode(p, n);

        if (!hex)
                return -ENOMEM;
        return json_add_string(o, key, hex);
}

static int siglist_entry_json(const uint8_t *type, const uint8_t *e, size_t sig_size, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        char guid[EFI_GUID_STRING_MAX];
        const uint8_t *data = e + EFI_GUID_SIZE;
        size_t data_size = sig_size - EFI_GUID_SIZE;
        int r;

        if (!o)
                return -ENOMEM;
        efi_guid_to_string(e, guid);
        r = json_add_string(o, "owner", guid);
        if (r < 0)
                return r;
        if (memcmp(type, guid_cert_x509, EFI_GUID_SIZE) == 0) {
                _cleanup_free_ char *subject = NULL;
                uint8_t fp[32];

                r = efi_x509_subject(data, data_size, &subject);
                if (r < 0)
                        return r;
                if (subject) {
                        r = json_add_string(o, "subject", subject);
                        if (r < 0)
                                return r;
                }
                if (EVP_Digest(data, data_size, fp, NULL, EVP_sha256(), NULL) == 1) {
                        r = json_add_hex(o, "sha256", fp, sizeof(fp));
                        if (r < 0)
                                return r;
                }
        } else if (memcmp(type, guid_cert_sha256, EFI_GUID_SIZE) == 0 ||
                   memcmp(type, guid_cert_sha1, EFI_GUID_SIZE) == 0) {
                r = json_add_hex(o, "hash", data, data_size);
                if (r < 0)
                        return r;
        } else {
                json_object *v = json_object_new_int64((int64_t)data_size);
                if (!v || json_object_object_add(o, "size", v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static int siglist_json_one(const uint8_t *type, const uint8_t *entries, size_t count, size_t sig_size,
                            void *userdata)
{
        json_object *array = userdata;
        _cleanup_(json_object_putp) json_object *list = json_object_new_object();
        _cleanup_(json_object_putp) json_object *items = json_object_new_array();
        char guid[EFI_GUID_STRING_MAX];
        const char *name = efi_guid_name(type);
        json_object *v;
        int r;

        if (!list || !items)
                return -ENOMEM;
        efi_guid_to_string(type, guid);
        r = json_add_string(list, "type", name ? name : guid);
        if (r < 0)
                return r;
        r = json_add_string(list, "type_guid", guid);
        if (r < 0)
                return r;
        v = json_object_new_int64((int64_t)sig_size);
        if (!v || json_object_object_add(list, "signature_size", v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < count; i++) {
                json_object *e = NULL;

                r = siglist_entry_json(type, entries + i * sig_size, sig_size, &e);
                if (r < 0)
                        return r;
                if (json_object_array_add(items, e) < 0) {
                        json_object_put(e);
                        return -ENOMEM;
                }
        }
        if (json_object_object_add(list, "entries", items) < 0)
                return -ENOMEM;
        items = NULL;
        if (json_object_array_add(array, list) < 0)
                return -ENOMEM;
        list = NULL;
        return 0;
}

int efi_signature_lists_to_json(const uint8_t *p, size_t n, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *array = json_object_new_array();
        bool malformed;
        int r;

        if (!array)
                return -ENOMEM;
        r = siglist_walk(p, n, siglist_json_one, array, &malformed);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(array);
        return 0;
}
