/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "jose.h"

int jose_get_string(json_object *obj, const char *name, const char *what, bool required, const char **ret,
                    struct cvm_error *err)
{
        json_object *v;

        if (!json_object_is_type(obj, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s is not a JSON object", what);
        if (!json_object_object_get_ex(obj, name, &v)) {
                if (required)
                        return cvm_error_set(err, -EBADMSG, "%s has no \"%s\" member", what, name);
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return cvm_error_set(err, -EBADMSG, "%s member \"%s\" is not a string", what, name);
        if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return cvm_error_set(err, -EBADMSG, "%s member \"%s\" contains a NUL character", what, name);
        *ret = json_object_get_string(v);
        return 0;
}

int jose_get_b64url(json_object *obj, const char *name, const char *what, bool required, uint8_t **ret,
                    size_t *ret_size, struct cvm_error *err)
{
        char field[128];
        const char *s;
        int r;

        r = jose_get_string(obj, name, what, required, &s, err);
        if (r < 0)
                return r;
        if (!s) {
                *ret = NULL;
                *ret_size = 0;
                return 0;
        }
        snprintf(field, sizeof(field), "%s \"%s\"", what, name);
        return b64url_decode(s, SIZE_MAX, field, ret, ret_size, err);
}

int jose_add_string(json_object *obj, const char *name, const char *value)
{
        json_object *v = json_object_new_string(value);

        if (!v)
                return -ENOMEM;
        if (json_object_object_add(obj, name, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int jose_add_b64url(json_object *obj, const char *name, const void *p, size_t n)
{
        char *s = b64url_encode(p, n);
        int r;

        if (!s)
                return -ENOMEM;
        r = jose_add_string(obj, name, s);
        /* The value may be key material (a JWK "d" or "k"): do not leave it in freed memory. */
        erase_and_free(s, strlen(s));
        return r;
}
