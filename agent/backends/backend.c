/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-internal.h"
#include "maa.h"

#define DEFAULT_DEADLINE_MS 60000u
#define DEFAULT_LEEWAY_S    60u

static const struct backend_ops *const all_ops[] = {&backend_azure_ops, &backend_trustee_ops};

int backend_cfg_string(json_object *cfg, const char *name, bool required, const char **ret,
                       struct cvm_error *err)
{
        json_object *v;

        if (!json_object_object_get_ex(cfg, name, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                if (required)
                        return cvm_error_set(err, -EINVAL, "configuration: \"%s\" is required", name);
                return 0;
        }
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
            strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return cvm_error_set(err, -EINVAL, "configuration: \"%s\" must be a non-empty string", name);
        *ret = json_object_get_string(v);
        return 0;
}

int backend_cfg_bool(json_object *cfg, const char *name, bool def, bool *ret, struct cvm_error *err)
{
        json_object *v;

        *ret = def;
        if (!json_object_object_get_ex(cfg, name, &v))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return cvm_error_set(err, -EINVAL, "configuration: \"%s\" must be true or false", name);
        *ret = json_object_get_boolean(v);
        return 0;
}

int backend_cfg_only(json_object *cfg, const char *const *allowed, struct cvm_error *err)
{
        json_object_object_foreach (cfg, k, v) {
                bool ok = false;

                (void)v;
                for (const char *const *a = allowed; *a && !ok; a++)
                        ok = strcmp(*a, k) == 0;
                if (!ok)
                        return cvm_error_set(err, -EINVAL, "configuration: unknown member \"%.64s\"", k);
        }
        return 0;
}

void backend_url_trim(char *url)
{
        const char *scheme = strstr(url, "://");
        size_t min = scheme ? (size_t)(scheme - url) + 3 : 0;

        for (size_t n = strlen(url); n > min && url[n - 1] == '/'; n--)
                url[n - 1] = '\0';
}

int backend_url_check(const char *what, const char *url, bool allow_http, char **ret_host,
                      struct cvm_error *err)
{
        const char *h;
        size_t n;

        if (strncmp(url, "https://", 8) == 0)
                h = url + 8;
        else if (allow_http && strncmp(url, "http://", 7) == 0)
                h = url + 7;
        else
                return cvm_error_set(err, -EINVAL, "configuration: \"%s\" must be an https:// URL", what);
        if (h[0] == '[')
                n = strcspn(h, "]") + 1;
        else
                n = strcspn(h, ":/?#@");
        if (n == 0 || h[n] == '@' || strchr(url, '@') || strpbrk(url, " \t\r\n"))
                return cvm_error_set(err, -EINVAL, "configuration: \"%s\" has no valid host", what);
        if (ret_host) {
                *ret_host = strndup(h, n);
                if (!*ret_host)
                        return -ENOMEM;
        }
        return 0;
}

int backend_fail(struct backend *b, enum backend_failure f, int r, struct cvm_error *err, const char *stage,
                 const char *fmt, ...)
{
        char msg[CVM_ERROR_MAX];
        va_list ap;

        if (r == -ENOMEM)
                f = BACKEND_FAIL_INTERNAL;
        b->failure = f;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return cvm_error_set(err, r, "%s: %s", stage, msg);
}

int backend_tpm_fail(struct backend *b, int r, struct cvm_error *err, const char *stage,
                     const struct cvm_error *e)
{
        return backend_fail(b, BACKEND_FAIL_TPM, r, err, stage, "%s", cvm_error_message(e, r));
}

uint64_t backend_deadline(struct backend *b, struct http_client *c)
{
        if (!b->deadline_usec)
                b->deadline_usec = http_client_now_usec(c) + (uint64_t)b->settings.deadline_ms * 1000u;
        return b->deadline_usec;
}

int backend_http(struct backend *b, struct http_client *c, struct http_request *req, const char *stage,
                 struct http_response **ret, struct cvm_error *err)
{
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        struct cvm_error e = {};
        char why[256];
        int r;

        req->deadline_usec = backend_deadline(b, c);
        if (http_client_now_usec(c) >= req->deadline_usec)
                return backend_fail(b, BACKEND_FAIL_UNREACHABLE, -ETIMEDOUT, err, stage,
                                    "the deadline of %u ms has passed", b->settings.deadline_ms);
        r = http_client_send(c, req, &resp, &e);
        if (r >= 0) {
                *ret = TAKE_PTR(resp);
                return 0;
        }
        if (r == -EPROTO && resp) {
                maa_error_describe((const char *)resp->body, resp->body_size, why, sizeof(why));
                /* 4xx other than 408/429 are the service's verdict; the rest ran out of retries. */
                if (resp->status >= 400 && resp->status < 500 && resp->status != 408 && resp->status != 429)
                        return backend_fail(b, BACKEND_FAIL_REFUSED, -EACCES, err, stage, "%s%s%s",
                                            e.message, why[0] ? ": " : "", why);
                return backend_fail(b, BACKEND_FAIL_UNREACHABLE, -EREMOTEIO, err, stage, "%s%s%s", e.message,
                                    why[0] ? ": " : "", why);
        }
        switch (r) {
        case -EKEYREJECTED:
                return backend_fail(b, BACKEND_FAIL_VERIFY, r, err, stage, "%s", e.message);
        case -EBADMSG:
        case -EFBIG:
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, stage, "%s", e.message);
        case -EINVAL:
        case -EPERM:
                return backend_fail(b, BACKEND_FAIL_CONFIG, r, err, stage, "%s", e.message);
        case -ENOMEM:
                return backend_fail(b, BACKEND_FAIL_INTERNAL, r, err, stage, "%s", cvm_error_message(&e, r));
        default:
                return backend_fail(b, BACKEND_FAIL_UNREACHABLE, r, err, stage, "%s",
                                    cvm_error_message(&e, r));
        }
}

static struct http_client_config client_config(struct backend *b)
{
        return (struct http_client_config){
                .ca_file = b->ca_file,
                .deadline_ms = b->settings.deadline_ms,
                .attempt_timeout_ms = b->settings.deadline_ms < HTTP_DEFAULT_ATTEMPT_TIMEOUT_MS
                                              ? b->settings.deadline_ms
                                              : HTTP_DEFAULT_ATTEMPT_TIMEOUT_MS,
                .max_attempts = 6,
        };
}

int backend_imds_client(struct backend *b, const char *imds_url, struct http_client **ret,
                        struct cvm_error *err)
{
        _cleanup_free_ char *host = NULL;
        struct http_client_config cfg = client_config(b);
        const char *plain[2] = {};
        int r;

        r = backend_url_check("imds", imds_url, true, &host, err);
        if (r < 0)
                return r;
        if (strncmp(imds_url, "http://", 7) == 0)
                plain[0] = host;
        cfg.plain_http_hosts = plain;
        r = http_client_new(&cfg, ret, err);
        return r;
}

int backend_new(json_object *config, const struct backend_settings *settings, struct backend **ret,
                struct cvm_error *err)
{
        _cleanup_(backend_freep) struct backend *b = NULL;
        struct http_client_config cfg;
        const char *type, *ca = NULL, *root = NULL;
        int r;

        if (!json_object_is_type(config, json_type_object))
                return cvm_error_set(err, -EINVAL, "configuration: not a JSON object");
        r = backend_cfg_string(config, "type", true, &type, err);
        if (r < 0)
                return r;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        if (settings)
                b->settings = *settings;
        if (!b->settings.deadline_ms)
                b->settings.deadline_ms = DEFAULT_DEADLINE_MS;
        if (!b->settings.leeway_s)
                b->settings.leeway_s = DEFAULT_LEEWAY_S;
        for (size_t i = 0; i < ELEMENTSOF(all_ops); i++)
                if (strcmp(all_ops[i]->type, type) == 0)
                        b->ops = all_ops[i];
        if (!b->ops)
                return cvm_error_set(err, -EINVAL, "configuration: unknown backend type \"%.32s\"", type);
        r = backend_cfg_string(config, "ca_file", false, &ca, err);
        if (r >= 0)
                r = backend_cfg_string(config, "kv_root", false, &root, err);
        if (r < 0)
                return r;
        if (b->settings.ca_file)
                ca = b->settings.ca_file;
        if (b->settings.kv_root)
                root = b->settings.kv_root;
        if ((ca && !(b->ca_file = strdup(ca))) || (root && !(b->kv_root = strdup(root))) ||
            (b->settings.tcti && !(b->tcti = strdup(b->settings.tcti))) ||
            (b->settings.eventlog && !(b->eventlog = strdup(b->settings.eventlog))))
                return -ENOMEM;
        b->settings.ca_file = b->ca_file;
        b->settings.kv_root = b->kv_root;
        b->settings.tcti = b->tcti;
        b->settings.eventlog = b->eventlog;
        r = b->ops->init(b, config, err);
        if (r < 0)
                return r;
        cfg = client_config(b);
        r = http_client_new(&cfg, &b->https, err);
        if (r < 0)
                return cvm_error_set(err, r, "configuration: TLS client: %s", cvm_error_message(err, r));
        *ret = TAKE_PTR(b);
        return 0;
}

void backend_free(struct backend *b)
{
        if (!b)
                return;
        if (b->ops && b->ops->done)
                b->ops->done(b);
        http_client_free(b->https);
        json_object_put(b->claims);
        free(b->ca_file);
        free(b->kv_root);
        free(b->tcti);
        free(b->eventlog);
        free(b);
}

const char *backend_type(const struct backend *b)
{
        return b->ops->type;
}

int backend_attest(struct backend *b, struct cvm_error *err)
{
        int r;

        if (b->attested)
                return 0;
        b->failure = BACKEND_OK;
        r = b->ops->attest(b, err);
        if (r < 0) {
                if (b->failure == BACKEND_OK)
                        b->failure = r == -ENOMEM ? BACKEND_FAIL_INTERNAL : BACKEND_FAIL_INTERNAL;
                return r;
        }
        b->attested = true;
        return 0;
}

json_object *backend_claims(const struct backend *b)
{
        return b->attested ? b->claims : NULL;
}

int backend_release(struct backend *b, const char *key_ref, struct secret_buf *ret, struct cvm_error *err)
{
        int r;

        r = backend_attest(b, err);
        if (r < 0)
                return r;
        b->failure = BACKEND_OK;
        r = b->ops->release(b, key_ref, ret, err);
        if (r < 0 && b->failure == BACKEND_OK)
                b->failure = BACKEND_FAIL_INTERNAL;
        return r;
}

enum backend_failure backend_failure(const struct backend *b)
{
        return b->failure;
}

const char *backend_failure_name(enum backend_failure f)
{
        static const char *const names[] = {
                [BACKEND_OK] = "none",
                [BACKEND_FAIL_CONFIG] = "config",
                [BACKEND_FAIL_IO] = "io",
                [BACKEND_FAIL_TPM] = "tpm",
                [BACKEND_FAIL_EVIDENCE] = "evidence",
                [BACKEND_FAIL_UNREACHABLE] = "unreachable",
                [BACKEND_FAIL_REFUSED] = "refused",
                [BACKEND_FAIL_VERIFY] = "verify",
                [BACKEND_FAIL_INTERNAL] = "internal",
        };

        return (unsigned)f < ELEMENTSOF(names) ? names[f] : "unknown";
}
