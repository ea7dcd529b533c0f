/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for cmocka unit tests: locating the real-data corpus (../shared/vectors, or
 * $CVM_VECTORS), reading fixtures, and MANIFEST.json access. Tests that need the corpus call
 * skip_without_vectors() so a missing corpus is reported, never silently passed.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "util.h"

static inline const char *vectors_dir(void)
{
        const char *d = getenv("CVM_VECTORS");
        struct stat st;

        if (!d || !*d)
                d = "../shared/vectors";
        if (stat(d, &st) < 0 || !S_ISDIR(st.st_mode))
                return NULL;
        return d;
}

/* Skips the current test, with the reason on stdout, when the corpus is absent. */
#define skip_without_vectors()                                                                          \
        do {                                                                                            \
                if (!vectors_dir()) {                                                                   \
                        printf("SKIP: real-data corpus not found (set CVM_VECTORS or place it at "     \
                               "../shared/vectors)\n");                                                 \
                        skip();                                                                         \
                }                                                                                       \
        } while (0)

/* Reads VECTORS/rel into memory; fails the test if it cannot. Caller frees *ret. */
static inline void read_vector(const char *rel, uint8_t **ret, size_t *ret_size)
{
        char path[4096];
        struct cvm_error err = {};
        int r;

        snprintf(path, sizeof(path), "%s/%s", vectors_dir(), rel);
        r = read_file(path, 64u << 20, ret, ret_size, &err);
        if (r < 0)
                fail_msg("cannot read %s: %s", path, cvm_error_message(&err, r));
}

/* Full path of a vector file in a static buffer (valid until the next call). */
static inline const char *vector_path(const char *rel)
{
        static char path[4096];

        snprintf(path, sizeof(path), "%s/%s", vectors_dir(), rel);
        return path;
}

/* Parsed MANIFEST.json (caller json_object_put()s it); fails the test if unreadable. */
static inline json_object *load_manifest(void)
{
        json_object *m = json_object_from_file(vector_path("MANIFEST.json"));

        if (!m)
                fail_msg("cannot parse %s", vector_path("MANIFEST.json"));
        return m;
}
