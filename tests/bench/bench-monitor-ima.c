/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark helper for bench-monitor.sh: the monitor's incremental IMA step on a log of N entries
 * whose first N-K are already verified: resume the reader at the saved position (it re-checks the
 * last verified entry), read the K new entries, extend the running PCR 10 value, appraise each
 * against an IMA policy, save the position. This is exactly the per-check IMA work of
 * `cvm-agent monitor` (ima_advance() in agent/cli/cmd-monitor.c) without the TPM round trips.
 *
 *   bench-monitor-ima LOG K REPEAT      prints "K seconds-per-step full-read-seconds"
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hashalg.h"
#include "ima.h"
#include "policy.h"

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read from @resume (NULL: the start) up to @limit entries; returns the count, position in @ret. */
static long step(const char *path, const struct ima_position *resume, long limit, const struct policy *p,
                 struct ima_position *ret)
{
        const struct hash_alg *h = hash_alg_by_name("sha256");
        struct ima_reader *r = NULL;
        const struct ima_entry *e;
        struct policy_ima_result res;
        uint8_t running[32];
        long n = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0 || ima_reader_new(fd, IMA_FORMAT_AUTO, resume, &r, NULL) < 0)
                exit(1);
        memcpy(running, resume ? resume->sha256[10] : (uint8_t[32]){0}, 32);
        while ((limit < 0 || n < limit) && ima_reader_next(r, &e, NULL) == 1) {
                hash_extend(h, running, e->sha256_extended);
                if (p && policy_ima_appraise_entry(p, e, &res, NULL) < 0)
                        exit(1);
                n++;
        }
        ima_reader_position(r, ret);
        ima_reader_free(r);
        close(fd);
        return n;
}

int main(int argc, char *argv[])
{
        const char *pol = "{\"version\": 1, \"ima\": {\"files\": {\"/usr/bin/bash\": [\"sha256:"
                          "0000000000000000000000000000000000000000000000000000000000000000\"]},"
                          " \"exclude\": [\"/tmp/\"]}}";
        struct policy *p = NULL;
        struct ima_position base, pos;
        long total, k, repeat;
        double t0, full, inc;

        if (argc != 4)
                return 2;
        k = atol(argv[2]);
        repeat = atol(argv[3]);
        if (policy_parse(pol, strlen(pol), &p, NULL) < 0)
                return 1;
        t0 = now();
        total = step(argv[1], NULL, -1, p, &pos);
        full = now() - t0;
        /* The verified prefix: all but the last K entries. */
        step(argv[1], NULL, total - k, NULL, &base);
        t0 = now();
        for (long i = 0; i < repeat; i++)
                if (step(argv[1], &base, -1, p, &pos) != k)
                        return 1;
        inc = (now() - t0) / (double)repeat;
        printf("%ld %.9f %.6f\n", k, inc, full);
        policy_free(p);
        return 0;
}
