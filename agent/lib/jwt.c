/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cleanup.h"
#include "jose.h"
#include "util.h"

/* 9999-12-31T23:59:59Z: later dates are not plausible and would not format. */
#define MAX_NUMERIC_DATE INT64_C(253402300799)

static int get_time(json_object *claims, const char *name, bool *has, time_t *ret, struct cvm_error *err)
{
        json_object *v;
        int64_t t;

        *has = false;
        if (!json_object_object_get_ex(claims, name, &v))
                return 0;
        if (json_object_is_type(v, json_type_int)) {
                t = json_object_get_int64(v);
        } else if (json_object_is_type(v, json_type_double)) {
                double d = json_object_get_double(v);
                if (!isfinite(d) || d < 0 || d > (double)MAX_NUMERIC_DATE)
                        return cvm_error_set(err, -EBADMSG, "JWT claim \"%s\" is out of range", name);
                t = (int64_t)d;
        } else
                return cvm_error_set(err, -EBADMSG, "JWT claim \"%s\" is not a number", name);
        if (t < 0 || t > MAX_NUMERIC_DATE)
                return cvm_error_set(err, -EBADMSG, "JWT claim \"%s\" (%" PRId64 ") is out of range", name,
                                     t);
        *has = true;
        *ret = (time_t)t;
        return 0;
}

int jwt_get_times(json_object *claims, struct jwt_times *ret, struct cvm_error *err)
{
        struct jwt_times t = {};
        int r;

        if (!json_object_is_type(claims, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JWT claims are not a JSON object");
        if ((r = get_time(claims, "exp", &t.has_exp, &t.exp, err)) < 0 ||
            (r = get_time(claims, "nbf", &t.has_nbf, &t.nbf, err)) < 0 ||
            (r = get_time(claims, "iat", &t.has_iat, &t.iat, err)) < 0)
                return r;
        *ret = t;
        return 0;
}

int jwt_check_time(json_object *claims, time_t now, unsigned leeway, bool require_exp,
                   enum jwt_time_status *ret_status, struct cvm_error *err)
{
        char a[21], b[21];
        struct jwt_times t;
        int r;

        if (leeway > JWT_MAX_LEEWAY)
                return cvm_error_set(err, -EINVAL, "clock-skew leeway of %u s exceeds %d s", leeway,
                                     JWT_MAX_LEEWAY);
        if ((r = jwt_get_times(claims, &t, err)) < 0)
                return r;
        format_rfc3339(now, b);

        if (t.has_exp && now >= t.exp + (time_t)leeway) {
                format_rfc3339(t.exp, a);
                *ret_status = JWT_TIME_EXPIRED;
                return cvm_error_set(err, -EKEYEXPIRED, "token expired at %s, now is %s", a, b);
        }
        if (t.has_nbf && now < t.nbf - (time_t)leeway) {
                format_rfc3339(t.nbf, a);
                *ret_status = JWT_TIME_NOT_YET_VALID;
                return cvm_error_set(err, -EKEYEXPIRED, "token not valid before %s, now is %s", a, b);
        }
        if (t.has_iat && t.iat > now + (time_t)leeway) {
                format_rfc3339(t.iat, a);
                *ret_status = JWT_TIME_NOT_YET_VALID;
                return cvm_error_set(err, -EKEYEXPIRED, "token issued in the future at %s, now is %s", a, b);
        }
        if (!t.has_exp && require_exp) {
                *ret_status = JWT_TIME_EXPIRED;
                return cvm_error_set(err, -EKEYEXPIRED, "token has no \"exp\" claim, so it never expires");
        }
        *ret_status = JWT_TIME_VALID;
        return 0;
}

int jwt_claim_lookup(json_object *claims, const char *path, json_object **ret)
{
        json_object *cur = claims;
        const char *p = path;

        for (;;) {
                const char *dot = strchr(p, '.');
                size_t n = dot ? (size_t)(dot - p) : strlen(p);
                char name[256];

                if (n == 0 || n >= sizeof(name) || !json_object_is_type(cur, json_type_object))
                        return -ENOENT;
                memcpy(name, p, n);
                name[n] = '\0';
                if (!json_object_object_get_ex(cur, name, &cur))
                        return -ENOENT;
                if (!dot)
                        break;
                p = dot + 1;
        }
        *ret = cur;
        return 0;
}

int jwt_check_claim(json_object *claims, const char *path, const char *want, struct cvm_error *err)
{
        json_object *v;

        if (jwt_claim_lookup(claims, path, &v) < 0)
                return cvm_error_set(err, -EPROTO, "claim \"%s\" is missing, expected \"%.200s\"", path,
                                     want);
        if (!json_object_is_type(v, json_type_string))
                return cvm_error_set(err, -EPROTO, "claim \"%s\" is not a string, expected \"%.200s\"", path,
                                     want);
        if ((size_t)json_object_get_string_len(v) != strlen(want) ||
            strcmp(json_object_get_string(v), want) != 0)
                return cvm_error_set(err, -EPROTO, "claim \"%s\" is \"%.200s\", expected \"%.200s\"", path,
                                     json_object_get_string(v), want);
        return 0;
}

int jwt_check_claims(json_object *claims, const struct jwt_expect *expect, struct cvm_error *err)
{
        enum jwt_time_status status;
        int r;

        r = jwt_check_time(claims, expect->now, expect->leeway, expect->require_exp, &status, err);
        if (r < 0)
                return r;
        if (expect->issuer && (r = jwt_check_claim(claims, "iss", expect->issuer, err)) < 0)
                return r;
        for (size_t i = 0; i < expect->n_claims; i++)
                if ((r = jwt_check_claim(claims, expect->claims[i].path, expect->claims[i].value, err)) < 0)
                        return r;
        return 0;
}
