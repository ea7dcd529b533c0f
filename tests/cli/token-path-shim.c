/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only LD_PRELOAD shim: cryptsetup 2.6 loads external token plugins only from its built-in
 * directory (--external-tokens-path arrived in 2.7), so this dlopen() wrapper redirects
 * ".../libcryptsetup-token-NAME.so" to $CVM_TOKEN_DIR/libcryptsetup-token-NAME.so. Lets
 * `cryptsetup open --token-only` run our plugin without installing it system-wide or root.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *dlopen(const char *file, int mode)
{
        static void *(*real)(const char *, int);
        const char *dir = getenv("CVM_TOKEN_DIR"), *base;
        char buf[4096];

        if (!real)
                real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
        if (file && dir && (base = strrchr(file, '/')) &&
            strncmp(base + 1, "libcryptsetup-token-", 20) == 0 &&
            snprintf(buf, sizeof(buf), "%s%s", dir, base) < (int)sizeof(buf))
                file = buf;
        return real(file, mode);
}
