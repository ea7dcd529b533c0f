/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS transport over the libcurl easy API, for talking to verifiers and key brokers.
 *
 * Policy, not options: TLS peer and host verification are always on (there is no insecure
 * mode; tests trust a test CA through @ca_file); only https is spoken, except plain http to the
 * hosts listed in @plain_http_hosts (the link-local metadata endpoint 169.254.169.254 on Azure);
 * redirects are never followed; proxy settings from the environment are ignored (@proxy only).
 *
 * Every request runs inside one overall deadline on the monotonic clock: attempts are retried
 * on connection errors, timeouts, 408, 429 and 5xx with exponential backoff and full jitter,
 * honouring Retry-After when it fits in the deadline; other statuses are final. Nothing that
 * may carry a secret (bodies, Authorization, cookies, URL query strings) is ever written to an
 * error message or to the retry callback; response bodies are wiped when freed.
 *
 * A client keeps an in-memory cookie jar (the KBS session cookie), a connection pool and TLS
 * sessions across its requests; each attempt runs on a fresh curl easy handle, so nothing else
 * carries over. A client is not thread-safe: use one per thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* Defaults applied to zero fields of struct http_client_config. */
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define HTTP_DEFAULT_ATTEMPT_TIMEOUT_MS 20000u
#define HTTP_DEFAULT_DEADLINE_MS        60000u
#define HTTP_DEFAULT_MAX_ATTEMPTS       5u
#define HTTP_DEFAULT_BACKOFF_BASE_MS    250u
#define HTTP_DEFAULT_BACKOFF_MAX_MS     8000u
#define HTTP_DEFAULT_MAX_RESPONSE_SIZE  (1024u * 1024u)
/* Largest accepted max_response_size (client or request): -EINVAL above. */
#define HTTP_MAX_RESPONSE_LIMIT (256u * 1024u * 1024u)

/*
 * Time sources, replaceable so tests can check backoff and Retry-After without real waits.
 * Any NULL member uses the real clock: CLOCK_MONOTONIC, clock_nanosleep(), time().
 */
struct http_clock {
        uint64_t (*now_usec)(void *userdata);              /* monotonic microseconds */
        void (*sleep_usec)(void *userdata, uint64_t usec); /* wait that long */
        time_t (*wall_now)(void *userdata);                /* for Retry-After HTTP-dates */
        void *userdata;
};

struct http_client_config {
        const char *ca_file; /* PEM bundle trusted alone; NULL: system store */
        const char *proxy;   /* explicit proxy URL; NULL: none, env ignored */
        /* NULL-terminated host names or IPv4 addresses allowed over http://, such as
         * "169.254.169.254"; NULL: https only. */
        const char *const *plain_http_hosts;
        unsigned connect_timeout_ms;    /* per attempt */
        unsigned attempt_timeout_ms;    /* whole attempt, connect to last body byte */
        unsigned deadline_ms;           /* overall, for requests without their own */
        unsigned max_attempts;          /* including the first */
        unsigned backoff_base_ms;       /* ceiling of the first retry delay */
        unsigned backoff_max_ms;        /* ceiling of any backoff delay */
        size_t max_response_size;       /* body bytes; larger responses fail -EFBIG */
        uint64_t jitter_seed;           /* 0: seeded from getrandom() */
        const struct http_clock *clock; /* NULL: real clocks; copied */
        /*
         * Called before each retry with the error code of the failed attempt and a line such as
         * "POST https://host/attest/AzureGuest: attempt 3/5: HTTP 503, retrying in 1.2 s"
         * (free of secrets), so the caller can log progress. May be NULL.
         */
        void (*on_retry)(void *userdata, int code, const char *message);
        void *userdata;
};

struct http_request {
        const char *method;         /* "GET", "POST", "PUT", "PATCH", "DELETE" */
        const char *url;            /* https://host[:port]/path[?query]; no user:password@ */
        const char *const *headers; /* NULL-terminated "Name: value" lines; may be NULL */
        const void *body;           /* request body, may be NULL */
        size_t body_size;
        const char *content_type; /* of @body; adds "Content-Type:"; may be NULL */
        /* Expected response media type, sent as "Accept:"; a 2xx response of another type
         * fails with -EBADMSG. NULL: anything. */
        const char *accept;
        const char *bearer; /* adds "Authorization: Bearer <bearer>"; may be NULL */
        /* Absolute deadline on http_client_now_usec()'s clock; 0: now + the client's
         * deadline_ms. Pass one deadline to every request of a whole unlock. */
        uint64_t deadline_usec;
        unsigned max_attempts;    /* 0: the client's; 1: no retries */
        size_t max_response_size; /* 0: the client's */
};

struct http_response {
        long status;        /* final HTTP status */
        unsigned attempts;  /* how many attempts were made */
        char *content_type; /* Content-Type value, NULL when absent */
        char *retry_after;  /* Retry-After value, NULL when absent */
        char *set_cookie;   /* Set-Cookie values joined by '\n', NULL when none; wiped on free */
        uint8_t *body;      /* body plus a NUL (not counted); never NULL; wiped on free */
        size_t body_size;
};

struct http_client;

/**
 * http_client_new() - create a client with its own cookie jar and connection pool.
 * @cfg: settings (zero fields take the HTTP_DEFAULT_* values); strings and the clock are
 *       copied, so @cfg may go away afterwards. May be NULL for all defaults.
 * @ret: the new client, freed with http_client_free(); written only on success.
 * @err: detail on failure; may be NULL.
 * Return: 0, -EINVAL (bad setting), -ENOENT/-EACCES (@ca_file unreadable), -ENOMEM, -EIO
 * (libcurl could not be initialised).
 */
int http_client_new(const struct http_client_config *cfg, struct http_client **ret, struct cvm_error *err);

/** http_client_free() - release @c (may be NULL) and its cookies. Return: NULL. */
struct http_client *http_client_free(struct http_client *c);

/** http_client_now_usec() - the client's monotonic clock, for computing request deadlines. */
uint64_t http_client_now_usec(const struct http_client *c);

/**
 * http_client_send() - perform @req with retries inside its deadline.
 * @c: the client; cookies received earlier are sent, cookies received now are kept.
 * @req: the request; nothing in it is retained after the call.
 * @ret: on 0 the 2xx response; on -EPROTO the final non-2xx response (status, error body), so
 *       the caller can tell a verifier's refusal from other failures; untouched otherwise.
 *       Free with http_response_free().
 * @err: on failure, one line naming the request, the attempt and the cause, e.g.
 *       "GET https://h/x: attempt 5/5: HTTP 503; giving up after 5 attempts in 3.1 s".
 * Return: 0 success;
 *         -EPROTO final HTTP status outside 2xx (a non-retryable status, or a retryable one
 *         when attempts or time ran out);
 *         -ETIMEDOUT, -EHOSTUNREACH, -ENETUNREACH, -ECONNREFUSED, -ECONNRESET when the server
 *         could not be reached or the transfer failed, as of the last attempt;
 *         -EKEYREJECTED TLS certificate verification failed (never retried);
 *         -EPERM the URL's scheme or plain-http host is not allowed (nothing is sent);
 *         -EFBIG the response exceeds the size limit (never retried);
 *         -EBADMSG a 2xx response of an unexpected media type or an unparsable reply;
 *         -EINVAL a malformed request (bad method, URL, header with a line break); -ENOMEM.
 */
int http_client_send(struct http_client *c, const struct http_request *req, struct http_response **ret,
                     struct cvm_error *err);

/** http_response_free() - wipe (body, cookies) and free @r; NULL is fine. */
void http_response_free(struct http_response *r);

static inline void http_response_freep(struct http_response **r)
{
        http_response_free(*r);
        *r = NULL;
}

static inline void http_client_freep(struct http_client **c)
{
        *c = http_client_free(*c);
}
