/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the IMA log reader, both formats (auto-detected and forced), plus the
 * resume invariant: stopping after any entry and resuming from the saved position must end
 * exactly where one uninterrupted pass ends (same result, same PCRs). Also round-trips the
 * position through JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ima.h"

struct pass {
        int r;
        uint64_t entries;
        uint64_t sink;
        struct ima_position pos;
};

/* Run to the end (or @stop entries); touch every exposed byte so ASan sees bad pointers. */
static void run(const uint8_t *data, size_t size, enum ima_format fmt, const struct ima_position *resume,
                uint64_t stop, struct pass *p)
{
        struct ima_reader *r = NULL;
        const struct ima_entry *e;

        memset(p, 0, sizeof(*p));
        p->r = ima_reader_new_from_memory(data, size, fmt, resume, &r, NULL);
        if (p->r < 0)
                return;
        while (p->entries < stop && (p->r = ima_reader_next(r, &e, NULL)) > 0) {
                p->entries++;
                for (size_t i = 0; i < e->template_data_size; i++)
                        p->sink += e->template_data[i];
                if (e->path)
                        p->sink += strlen(e->path) + e->path_len;
                for (size_t i = 0; e->sig && i < e->sig_size; i++)
                        p->sink += e->sig[i];
                for (size_t i = 0; e->buf && i < e->buf_size; i++)
                        p->sink += e->buf[i];
                for (size_t i = 0; e->digest && i < e->digest_size; i++)
                        p->sink += e->digest[i];
                for (size_t i = 0; e->modsig && i < e->modsig_size; i++)
                        p->sink += e->modsig[i];
                for (size_t i = 0; e->modsig_digest && i < e->modsig_digest_size; i++)
                        p->sink += e->modsig_digest[i];
                p->sink += strlen(e->template_name) + strlen(e->digest_algo) + strlen(e->digest_type);
                p->sink += e->template_hash[e->template_hash_size - 1];
        }
        if (p->r > 0)
                p->r = 0;
        ima_reader_position(r, &p->pos);
        ima_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct pass full, part, rest, forced;
        struct ima_position back;
        json_object *j = NULL;

        run(data, size, IMA_FORMAT_AUTO, NULL, UINT64_MAX, &full);
        run(data, size, IMA_FORMAT_ASCII, NULL, UINT64_MAX, &forced);
        run(data, size, IMA_FORMAT_BINARY, NULL, UINT64_MAX, &forced);

        if (full.entries > 0) {
                uint64_t k = size % (full.entries + 1);

                run(data, size, IMA_FORMAT_AUTO, NULL, k, &part);
                if (part.entries != k)
                        abort();
                run(data, size, IMA_FORMAT_AUTO, &part.pos, UINT64_MAX, &rest);
                if (rest.r != full.r || rest.entries != full.entries - k ||
                    memcmp(&rest.pos, &full.pos, sizeof(full.pos)) != 0)
                        abort();
        }

        if (ima_position_to_json(&full.pos, &j) == 0) {
                if (ima_position_from_json(j, &back, NULL) != 0 ||
                    memcmp(&back, &full.pos, sizeof(back)) != 0)
                        abort();
                json_object_put(j);
        }
        return 0;
}
