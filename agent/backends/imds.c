/* SPDX-License-Identifier: Apache-2.0 */
/* Azure Instance Metadata Service: THIM VCEK certification and managed-identity tokens. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "backend-internal.h"
#include "jose.h"
#include "maa.h"

static const char *const metadata_header[] = {"Metadata: true", NULL};

int imds_thim_chain(struct backend *b, struct http_client *c, const char *imds, char **ret_pem,
                    struct cvm_error *err)
{
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        _cleanup_free_ char *url = NULL;
        struct cvm_error e = {};
        int r;

        if (asprintf(&url, "%s/metadata/THIM/amd/certification", imds) < 0)
                return -ENOMEM;
        struct http_request req = {.method = "GET",
                                   .url = url,
                                   .headers = metadata_header,
                                   .accept = "application/json",
                                   .max_response_size = 64 * 1024};
        r = backend_http(b, c, &req, "IMDS THIM", &resp, err);
        if (r < 0)
                return r;
        r = maa_thim_parse((const char *)resp->body, resp->body_size, ret_pem, &e);
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "IMDS THIM", "%s", e.message);
        return 0;
}

int imds_identity_token(struct backend *b, struct http_client *c, const char *imds, const char *resource,
                        char **ret_token, struct cvm_error *err)
{
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *url = NULL;
        struct cvm_error e = {};
        const char *tok;
        char *enc, *s;
        int r;

        enc = curl_easy_escape(NULL, resource, 0);
        if (!enc)
                return -ENOMEM;
        r = asprintf(&url, "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s", imds,
                     enc);
        curl_free(enc);
        if (r < 0)
                return -ENOMEM;
        struct http_request req = {.method = "GET",
                                   .url = url,
                                   .headers = metadata_header,
                                   .accept = "application/json",
                                   .max_response_size = 64 * 1024};
        r = backend_http(b, c, &req, "IMDS identity", &resp, err);
        if (r < 0)
                return r;
        r = canonjson_parse((const char *)resp->body, resp->body_size, "IMDS token answer", &o, &e);
        if (r >= 0)
                r = jose_get_string(o, "access_token", "IMDS token answer", true, &tok, &e);
        if (r >= 0 && (!*tok || strpbrk(tok, " \t\r\n")))
                r = cvm_error_set(&e, -EBADMSG, "IMDS token answer: access_token is empty or has blanks");
        if (r < 0)
                return backend_fail(b, BACKEND_FAIL_EVIDENCE, r, err, "IMDS identity", "%s", e.message);
        s = strdup(tok);
        if (!s)
                return -ENOMEM;
        *ret_token = s;
        return 0;
}
