/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: policy_parse() on arbitrary text and, for whatever parses, an appraisal
 * against a small fixed event log and SNP report (so every compiled rule is exercised) plus the
 * JSON rendering of the result.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A crypto-agile log: Spec ID event (sha256), then one EV_SEPARATOR in PCR 7. */
static struct eventlog *fixed_log(void)
{
        static uint8_t buf[256];
        static const uint8_t sep_digest[32] = {
                0xdf, 0x3f, 0x61, 0x98, 0x04, 0xa9, 0x2f, 0xdb, 0x40, 0x57, 0x19,
                0x2d, 0xc4, 0x3d, 0xd7, 0x48, 0xea, 0x77, 0x8a, 0xdc, 0x52, 0xbc,
                0x49, 0x8c, 0xe8, 0x05, 0x24, 0xc0, 0x14, 0xb8, 0x11, 0x19,
        };
        struct eventlog *log = NULL;
        size_t n = 0;

        memset(buf, 0, sizeof(buf));
        /* TCG_PCClientPCREvent header: pcr 0, EV_NO_ACTION, 20-byte zero digest, size. */
        buf[4] = 3;
        n = 8 + 20;
        buf[n] = 33; /* event size */
        n += 4;
        memcpy(buf + n, "Spec ID Event03", 16);
        n += 16;
        n += 4;       /* platform class */
        buf[n++] = 0; /* minor */
        buf[n++] = 2; /* major */
        buf[n++] = 0; /* errata */
        buf[n++] = 2; /* uintn size */
        buf[n] = 1;   /* one algorithm */
        n += 4;
        buf[n++] = 0x0b; /* sha256 */
        buf[n++] = 0;
        buf[n++] = 32;
        buf[n++] = 0;
        buf[n++] = 0; /* vendor info size */
        /* TCG_PCR_EVENT2: PCR 7, EV_SEPARATOR, one sha256 digest, 4 zero bytes. */
        buf[n] = 7;
        n += 4;
        buf[n] = 4;
        n += 4;
        buf[n] = 1;
        n += 4;
        buf[n++] = 0x0b;
        buf[n++] = 0;
        memcpy(buf + n, sep_digest, 32);
        n += 32;
        buf[n] = 4;
        n += 4;
        n += 4;
        if (eventlog_parse(buf, n, &log, NULL) < 0)
                return NULL;
        return log;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct eventlog *log;
        static struct snp_report rep;
        struct policy *p = NULL;
        struct policy_result *res = NULL;
        json_object *o = NULL;

        if (!log)
                log = fixed_log();
        if (policy_parse((const char *)data, size, &p, NULL) < 0)
                return 0;
        {
                struct policy_evidence ev = {.log = log, .snp = &rep};

                if (policy_appraise(p, &ev, &res, NULL) == 0) {
                        if (policy_result_to_json(res, &o) == 0) {
                                (void)json_object_to_json_string(o);
                                json_object_put(o);
                        }
                        policy_result_free(res);
                }
        }
        policy_free(p);
        return 0;
}
