/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the backend implementations: the context, configuration access, HTTP with stages. */
#pragma once

#include <stdarg.h>
#include <stdint.h>

#include "backend.h"
#include "http.h"

struct backend_ops {
        const char *type;
        /* Validate the type-specific members; set up b->priv. */
        int (*init)(struct backend *b, json_object *config, struct cvm_error *err);
        int (*attest)(struct backend *b, struct cvm_error *err);
        int (*release)(struct backend *b, const char *key_ref, struct secret_buf *ret,
                       struct cvm_error *err);
        void (*done)(struct backend *b);
};

struct backend {
        const struct backend_ops *ops;
        struct backend_settings settings;
        char *ca_file;
        char *tcti;
        char *eventlog;
        char *kv_root;
        struct http_client *https; /* TLS, cookies (KBS session) */
        uint64_t deadline_usec;    /* set at the first network use */
        enum backend_failure failure;
        bool attested;
        json_object *claims;
        void *priv;
};

extern const struct backend_ops backend_azure_ops;
extern const struct backend_ops backend_trustee_ops;

/* Members of the configuration. */
int backend_cfg_string(json_object *cfg, const char *name, bool required, const char **ret,
                       struct cvm_error *err);
int backend_cfg_bool(json_object *cfg, const char *name, bool def, bool *ret, struct cvm_error *err);
/* Refuse members other than @allowed (NULL-terminated). */
int backend_cfg_only(json_object *cfg, const char *const *allowed, struct cvm_error *err);
/* "https://host[:port]" prefix of @url, checked; @ret_host (may be NULL) gets the host name. */
int backend_url_check(const char *what, const char *url, bool allow_http, char **ret_host,
                      struct cvm_error *err);
/* Drop trailing '/' from a checked base URL (never into its "scheme://") so paths can be appended. */
void backend_url_trim(char *url);

/* Record the failure class and the message "STAGE: cause" (cause = @e's message). Returns @r. */
int backend_fail(struct backend *b, enum backend_failure f, int r, struct cvm_error *err, const char *stage,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The deadline shared by every request of this backend. */
uint64_t backend_deadline(struct backend *b, struct http_client *c);

/*
 * Send @req on @c with the backend's deadline; map transport failures and non-2xx statuses to a
 * failure class and a message naming @stage, the status and the server's error text.
 * On success *@ret holds the 2xx response.
 */
int backend_http(struct backend *b, struct http_client *c, struct http_request *req, const char *stage,
                 struct http_response **ret, struct cvm_error *err);

/* A plain-http client for the link-local IMDS at @imds_url (own client: http allowed to that host). */
int backend_imds_client(struct backend *b, const char *imds_url, struct http_client **ret,
                        struct cvm_error *err);

/* IMDS: the THIM VCEK chain (PEM bundle, caller frees), and a managed-identity access token. */
int imds_thim_chain(struct backend *b, struct http_client *c, const char *imds, char **ret_pem,
                    struct cvm_error *err);
int imds_identity_token(struct backend *b, struct http_client *c, const char *imds, const char *resource,
                        char **ret_token, struct cvm_error *err);

/* Map a TPM adapter errno to a failure (always BACKEND_FAIL_TPM but -ENOMEM). */
int backend_tpm_fail(struct backend *b, int r, struct cvm_error *err, const char *stage,
                     const struct cvm_error *e);
