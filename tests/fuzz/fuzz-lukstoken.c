/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the cvm-agent token parser (the plugin's validate() input) and rebuilding. */
#include <stdlib.h>
#include <string.h>

#include "lukstoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct lukstoken *t = NULL, *t2 = NULL;
        json_object *o = NULL;
        char *text;

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (lukstoken_parse_text(text, &t, NULL) == 0) {
                /* What parses must rebuild and parse again to the same token. */
                if (lukstoken_to_json(t, &o) == 0) {
                        if (lukstoken_parse(o, "token", &t2, NULL) != 0 ||
                            memcmp(t->binding, t2->binding, sizeof(t->binding)))
                                abort();
                        lukstoken_free(t2);
                        json_object_put(o);
                }
                lukstoken_free(t);
        }
        free(text);
        return 0;
}
