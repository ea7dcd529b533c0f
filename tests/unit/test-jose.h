/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the JOSE unit tests: fixture files under tests/fixtures/jose/. */
#pragma once

#include "testlib.h"

#include "cleanup.h"
#include "jose.h"

/* tests/fixtures/jose/NAME; the suite runs from the top of the tree ($CVM_FIXTURES overrides). */
static inline const char *jose_fixture_path(const char *name)
{
        static char path[4096];
        const char *dir = getenv("CVM_FIXTURES");

        snprintf(path, sizeof(path), "%s/jose/%s", dir && *dir ? dir : "tests/fixtures", name);
        return path;
}

/* Parses a fixture JSON file; fails the test when it cannot. Caller puts the result. */
static inline json_object *jose_fixture(const char *name)
{
        json_object *o = json_object_from_file(jose_fixture_path(name));

        if (!o)
                fail_msg("cannot parse fixture %s", jose_fixture_path(name));
        return o;
}

/* String member of a fixture object (borrowed); fails the test when absent. */
static inline const char *fx_str(json_object *o, const char *name)
{
        json_object *v;

        if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
                fail_msg("fixture has no string \"%s\"", name);
        return json_object_get_string(v);
}

static inline json_object *fx_obj(json_object *o, const char *name)
{
        json_object *v;

        if (!json_object_object_get_ex(o, name, &v))
                fail_msg("fixture has no member \"%s\"", name);
        return v;
}

/* Imports the fixture's "key" member; fails the test on error. */
static inline EVP_PKEY *fx_key(json_object *o)
{
        struct cvm_error err = {};
        EVP_PKEY *k = NULL;
        int r = jwk_to_pkey(fx_obj(o, "key"), &k, &err);

        if (r < 0)
                fail_msg("fixture key: %s", cvm_error_message(&err, r));
        return k;
}

/* A fresh key pair: "RSA" (bits) or "EC" (curve name in @curve). */
static inline EVP_PKEY *gen_key(const char *type, const char *curve, unsigned bits)
{
        EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)
                                               : EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

        assert_non_null(k);
        return k;
}

/* Reads a whole vector file as a NUL-terminated string with trailing whitespace removed. */
static inline char *read_vector_text(const char *rel)
{
        uint8_t *buf;
        size_t n;

        read_vector(rel, &buf, &n);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        return (char *)buf;
}
