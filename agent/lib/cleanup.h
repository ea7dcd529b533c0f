/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scope-bound cleanup, modelled on systemd's alloc-util.h: a variable declared with
 * _cleanup_(fn) has fn(&var) run when it goes out of scope; TAKE_PTR() hands ownership on.
 */
#pragma once

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define _cleanup_(fn)  __attribute__((cleanup(fn)))
#define _cleanup_free_ _cleanup_(freep)
#define _unused_       __attribute__((unused))

#define TAKE_PTR(p)                      \
        ({                               \
                typeof(p) _taken_ = (p); \
                (p) = NULL;              \
                _taken_;                 \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
        free(*(void **)p);
}

/* Defines fnp(T **) calling fn(*p) when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, fn) \
        static inline void fn##p(type *p)     \
        {                                     \
                if (*p)                       \
                        fn(*p);               \
        }

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free_all)
DEFINE_TRIVIAL_CLEANUP_FUNC(FILE *, fclose)

/* Secrets: wipe before free so nothing lingers in freed heap memory. */
void erase_and_free(void *p, size_t n);

/* A buffer that holds secret material; erase_bufp wipes and frees it. */
struct secret_buf {
        unsigned char *data;
        size_t size;
};

static inline void secret_buf_done(struct secret_buf *s)
{
        if (s->data)
                erase_and_free(s->data, s->size);
        s->data = NULL;
        s->size = 0;
}
