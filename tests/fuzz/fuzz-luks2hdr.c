/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: luks2hdr_parse() and, for accepted headers, the binding digests.
 * Inputs starting with '{' are JSON metadata: the harness wraps them in two valid binary
 * header copies (16 KiB each) with correct checksums, so the fuzzer spends its time in the JSON
 * validator. Other inputs are raw header bytes; when they carry a plausible header size their
 * checksums are recomputed too, again so that mutations reach past the checksum check.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "luks2hdr.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 16384u

static void put_be(uint8_t *p, uint64_t v, int n)
{
        for (int i = 0; i < n; i++)
                p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void checksum(uint8_t *p, uint64_t hdr_size)
{
        unsigned int n = 0;

        memset(p + 448, 0, 64);
        (void)EVP_Digest(p, hdr_size, p + 448, &n, EVP_sha256(), NULL);
}

static void consume(const uint8_t *buf, size_t size)
{
        struct luks2hdr *h = NULL;
        uint8_t digest[LUKS2HDR_BINDING_SIZE];

        if (luks2hdr_parse(buf, size, &h, NULL) < 0)
                return;
        (void)luks2hdr_metadata_size(h);
        for (int t = luks2hdr_next_cvm_token(h, 0); t >= 0; t = luks2hdr_next_cvm_token(h, t + 1))
                (void)luks2hdr_binding(h, h->tokens[t].cvm->keyslot, h->tokens[t].cvm, digest, NULL);
        luks2hdr_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf;

        if (size > 0 && data[0] == '{') {
                size_t n = size < HDR - 4096 - 1 ? size : HDR - 4096 - 1;

                buf = calloc(1, 2 * HDR);
                if (!buf)
                        return 0;
                for (int c = 0; c < 2; c++) {
                        uint8_t *p = buf + c * HDR;

                        memcpy(p, c ? "SKUL\xba\xbe" : "LUKS\xba\xbe", 6);
                        put_be(p + 6, 2, 2);
                        put_be(p + 8, HDR, 8);
                        put_be(p + 16, 1, 8);
                        memcpy(p + 72, "sha256", 6);
                        memcpy(p + 168, "0b9e5bfb-5e5c-4a4e-9a0a-4ef7f3b0b3a1", 36);
                        put_be(p + 256, c ? HDR : 0, 8);
                        memcpy(p + 4096, data, n);
                        checksum(p, HDR);
                }
                consume(buf, 2 * HDR);
                free(buf);
                return 0;
        }
        if (size < 4096 || size > 2 * LUKS2HDR_MAX_HDR_SIZE)
                return consume(data, size), 0;
        buf = malloc(size);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        {
                uint64_t hs = be64(buf + 8);

                if (hs >= 4096 && hs <= size / 2) {
                        checksum(buf, hs);
                        checksum(buf + hs, hs);
                }
        }
        consume(buf, size);
        free(buf);
        return 0;
}
