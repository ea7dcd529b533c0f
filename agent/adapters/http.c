/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cleanup.h"
#include "http.h"
#include "httputil.h"

/* All response header lines of one attempt together; curl already caps a single line. */
#define HEADERS_MAX (64u * 1024u)
/* Longest piece of server- or curl-provided text quoted in an error message. */
#define QUOTE_MAX 160

struct http_client {
        CURLSH *share; /* cookie jar, connection pool, TLS sessions, DNS cache */
        CURL *curl;    /* the attempt in progress, NULL between attempts */
        char *ca_file;
        char *proxy;
        char **plain_hosts;
        unsigned connect_timeout_ms;
        unsigned attempt_timeout_ms;
        unsigned deadline_ms;
        unsigned max_attempts;
        unsigned backoff_base_ms;
        unsigned backoff_max_ms;
        size_t max_response_size;
        uint64_t rng;
        struct http_clock clock;
        void (*on_retry)(void *userdata, int code, const char *message);
        void *userdata;
        char errbuf[CURL_ERROR_SIZE];
};

/* Receive state of one attempt. */
struct transfer {
        struct http_response *resp;
        size_t limit;
        size_t capacity;
        size_t header_bytes;
        bool oversize;
        bool headers_oversize;
        bool nomem;
};

/* How one attempt ended. */
struct outcome {
        int code;
        bool retryable;
        char what[256]; /* "HTTP 503", "connection refused (curl: ...)" */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup)

/* snprintf() for messages, where cutting a long line short is acceptable. */
static void fmt(char *buf, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t size, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        (void)vsnprintf(buf, size, format, ap);
        va_end(ap);
}

static uint64_t real_now_usec(void *userdata)
{
        struct timespec ts;

        (void)userdata;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void real_sleep_usec(void *userdata, uint64_t usec)
{
        struct timespec ts = {.tv_sec = (time_t)(usec / 1000000u),
                              .tv_nsec = (long)(usec % 1000000u) * 1000};

        (void)userdata;
        while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
                ;
}

static time_t real_wall_now(void *userdata)
{
        (void)userdata;
        return time(NULL);
}

uint64_t http_client_now_usec(const struct http_client *c)
{
        return c->clock.now_usec(c->clock.userdata);
}

static void wipe_string(char **s)
{
        if (*s)
                erase_and_free(*s, strlen(*s));
        *s = NULL;
}

/* Forget what an attempt received: bodies and cookies may be secret, so wipe them. */
static void response_reset(struct http_response *r, size_t capacity)
{
        if (r->body)
                erase_and_free(r->body, capacity);
        r->body = NULL;
        r->body_size = 0;
        r->status = 0;
        wipe_string(&r->content_type);
        wipe_string(&r->retry_after);
        wipe_string(&r->set_cookie);
}

void http_response_free(struct http_response *r)
{
        if (!r)
                return;
        /* The capacity is unknown here; the body size plus its NUL is what was ever written. */
        response_reset(r, r->body ? r->body_size + 1 : 0);
        free(r);
}

/* Copies @s into @out (at most QUOTE_MAX bytes), replacing anything unprintable. */
static void quote_text(char *out, size_t out_size, const char *s, size_t len)
{
        size_t n = 0;

        if (len > QUOTE_MAX)
                len = QUOTE_MAX;
        for (size_t i = 0; i < len && n + 1 < out_size; i++)
                out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        out[n] = '\0';
}

static char **strv_copy(const char *const *v)
{
        size_t n = 0;
        char **copy;

        while (v && v[n])
                n++;
        copy = calloc(n + 1, sizeof(char *));
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                copy[i] = strdup(v[i]);
                if (!copy[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(copy[j]);
                        free(copy);
                        return NULL;
                }
        }
        return copy;
}

static void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

struct http_client *http_client_free(struct http_client *c)
{
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        if (c->share)
                (void)curl_share_cleanup(c->share);
        free(c->ca_file);
        free(c->proxy);
        strv_free(c->plain_hosts);
        OPENSSL_cleanse(c, sizeof(*c));
        free(c);
        curl_global_cleanup();
        return NULL;
}

int http_client_new(const struct http_client_config *cfg, struct http_client **ret, struct cvm_error *err)
{
        static const struct http_client_config defaults = {};
        struct http_client *c;

        if (!cfg)
                cfg = &defaults;
        if (cfg->max_attempts > 100)
                return cvm_error_set(err, -EINVAL, "max_attempts %u is above the limit of 100",
                                     cfg->max_attempts);
        for (size_t i = 0; cfg->plain_http_hosts && cfg->plain_http_hosts[i]; i++)
                if (!cfg->plain_http_hosts[i][0] || strpbrk(cfg->plain_http_hosts[i], "/@:?# "))
                        return cvm_error_set(err, -EINVAL, "plain-http host %zu is not a bare host name",
                                             i + 1);
        if (cfg->max_response_size > HTTP_MAX_RESPONSE_LIMIT)
                return cvm_error_set(err, -EINVAL, "max_response_size %zu is above the limit of %zu",
                                     cfg->max_response_size, (size_t)HTTP_MAX_RESPONSE_LIMIT);
        if (cfg->ca_file && access(cfg->ca_file, R_OK) < 0)
                return cvm_error_set(err, -errno, "CA file %s: %s", cfg->ca_file, strerror(errno));

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return cvm_error_set(err, -EIO, "cannot initialise libcurl");
        c = calloc(1, sizeof(*c));
        if (!c) {
                curl_global_cleanup();
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        c->share = curl_share_init();
        c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
        c->proxy = cfg->proxy ? strdup(cfg->proxy) : NULL;
        c->plain_hosts = strv_copy(cfg->plain_http_hosts);
        if (!c->share || (cfg->ca_file && !c->ca_file) || (cfg->proxy && !c->proxy) || !c->plain_hosts) {
                http_client_free(c);
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        /*
         * Each attempt gets a fresh easy handle (no option survives from an earlier request);
         * what must persist across requests of this client lives in the share.
         */
        if (curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) != CURLSHE_OK ||
            curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
            curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
            curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
                http_client_free(c);
                return cvm_error_set(err, -EIO, "libcurl cannot share cookies and connections");
        }

        c->connect_timeout_ms = cfg->connect_timeout_ms ?: HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
        c->attempt_timeout_ms = cfg->attempt_timeout_ms ?: HTTP_DEFAULT_ATTEMPT_TIMEOUT_MS;
        c->deadline_ms = cfg->deadline_ms ?: HTTP_DEFAULT_DEADLINE_MS;
        c->max_attempts = cfg->max_attempts ?: HTTP_DEFAULT_MAX_ATTEMPTS;
        c->backoff_base_ms = cfg->backoff_base_ms ?: HTTP_DEFAULT_BACKOFF_BASE_MS;
        c->backoff_max_ms = cfg->backoff_max_ms ?: HTTP_DEFAULT_BACKOFF_MAX_MS;
        c->max_response_size = cfg->max_response_size ?: HTTP_DEFAULT_MAX_RESPONSE_SIZE;
        c->on_retry = cfg->on_retry;
        c->userdata = cfg->userdata;
        if (cfg->clock)
                c->clock = *cfg->clock;
        if (!c->clock.now_usec)
                c->clock.now_usec = real_now_usec;
        if (!c->clock.sleep_usec)
                c->clock.sleep_usec = real_sleep_usec;
        if (!c->clock.wall_now)
                c->clock.wall_now = real_wall_now;

        c->rng = cfg->jitter_seed;
        if (!c->rng && getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != sizeof(c->rng))
                c->rng = real_now_usec(NULL) ^ ((uint64_t)getpid() << 32);

        *ret = c;
        return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct transfer *t = userdata;
        struct http_response *r = t->resp;
        size_t n = size * nmemb;

        if (n > t->limit - r->body_size) {
                t->oversize = true;
                return 0;
        }
        if (r->body_size + n + 1 > t->capacity) {
                /* Grow by hand rather than realloc(), so no stale copy of the body stays behind. */
                size_t cap = t->capacity ? t->capacity : 4096;
                uint8_t *p;

                while (cap < r->body_size + n + 1)
                        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
                if (cap > t->limit + 1)
                        cap = t->limit + 1;
                p = malloc(cap);
                if (!p) {
                        t->nomem = true;
                        return 0;
                }
                if (r->body) {
                        memcpy(p, r->body, r->body_size);
                        erase_and_free(r->body, t->capacity);
                }
                r->body = p;
                t->capacity = cap;
        }
        memcpy(r->body + r->body_size, data, n);
        r->body_size += n;
        r->body[r->body_size] = 0;
        return n;
}

static int set_header_value(char **field, const char *v, size_t len, bool append)
{
        size_t old = append && *field ? strlen(*field) : 0;
        const char *nul = memchr(v, '\0', len);
        char *s;

        /* Stop at a NUL byte, so strlen() covers all of it when the value is wiped. */
        if (nul)
                len = (size_t)(nul - v);

        s = malloc(old + (old ? 1 : 0) + len + 1);
        if (!s)
                return -ENOMEM;
        if (old) {
                memcpy(s, *field, old);
                s[old++] = '\n';
        }
        memcpy(s + old, v, len);
        s[old + len] = '\0';
        wipe_string(field);
        *field = s;
        return 0;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
        struct transfer *t = userdata;
        struct http_response *r = t->resp;
        size_t n = size * nitems, len = n;
        const char *colon, *v, *end;
        int k;

        if (n > HEADERS_MAX - t->header_bytes) {
                t->headers_oversize = true;
                return 0;
        }
        t->header_bytes += n;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        /* A status line starts a new response (after "100 Continue"): drop what came before. */
        if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
                wipe_string(&r->content_type);
                wipe_string(&r->retry_after);
                wipe_string(&r->set_cookie);
                return n;
        }
        colon = memchr(line, ':', len);
        if (!colon)
                return n;
        v = colon + 1;
        end = line + len;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;

#define IS_NAME(s) ((size_t)(colon - line) == strlen(s) && strncasecmp(line, s, strlen(s)) == 0)
        if (IS_NAME("Content-Type"))
                k = set_header_value(&r->content_type, v, (size_t)(end - v), false);
        else if (IS_NAME("Retry-After"))
                k = set_header_value(&r->retry_after, v, (size_t)(end - v), false);
        else if (IS_NAME("Set-Cookie"))
                k = set_header_value(&r->set_cookie, v, (size_t)(end - v), true);
        else
                k = 0;
#undef IS_NAME
        if (k < 0) {
                t->nomem = true;
                return 0;
        }
        return n;
}

/*
 * Checks the URL against the transport policy and builds the form shown in messages,
 * "METHOD scheme://host[:port]/path": no credentials, query or fragment (they may hold secrets).
 */
static int check_url(struct http_client *c, const char *method, const char *url, char *display,
                     size_t display_size, const char **ret_protocol, struct cvm_error *err)
{
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL;
        CURLUcode uc;
        int r = 0;

        if (!u)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        uc = curl_url_set(u, CURLUPART_URL, url, 0);
        if (uc == CURLUE_UNSUPPORTED_SCHEME)
                return cvm_error_set(err, -EPERM, "%s: URL scheme not allowed (https only)", method);
        if (uc != CURLUE_OK)
                return cvm_error_set(err, -EINVAL, "%s: malformed URL: %s", method, curl_url_strerror(uc));
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
                return cvm_error_set(err, -EINVAL, "%s: malformed URL: no scheme", method);
        if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
                r = cvm_error_set(err, -EPERM, "%s: URL scheme %s not allowed (https only)", method, scheme);
                goto finish;
        }
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
                r = cvm_error_set(err, -EINVAL, "%s: malformed URL: no host or path", method);
                goto finish;
        }
        (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
        fmt(display, display_size, "%s %s://%s%s%s%s", method, scheme, host, port ? ":" : "", port ?: "",
            path);
        if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
                r = cvm_error_set(err, -EINVAL, "%s: credentials in the URL are not allowed", display);
                goto finish;
        }

        *ret_protocol = "https";
        if (strcmp(scheme, "http") == 0) {
                bool allowed = false;

                for (size_t i = 0; c->plain_hosts[i]; i++)
                        if (strcasecmp(c->plain_hosts[i], host) == 0)
                                allowed = true;
                if (!allowed) {
                        r = cvm_error_set(err, -EPERM,
                                          "%s: plain http is not allowed to this host (https only, except "
                                          "configured metadata endpoints)",
                                          display);
                        goto finish;
                }
                *ret_protocol = "http";
        }

finish:
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(path);
        curl_free(user);
        return r;
}

static bool is_method_allowed(const char *m)
{
        static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

        for (size_t i = 0; i < ELEMENTSOF(methods); i++)
                if (strcmp(m, methods[i]) == 0)
                        return true;
        return false;
}

/* Frees a header list whose lines may hold credentials, wiping them first. */
static void headers_free(struct curl_slist *l)
{
        for (struct curl_slist *i = l; i; i = i->next)
                OPENSSL_cleanse(i->data, strlen(i->data));
        curl_slist_free_all(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, headers_free)

static int append_header(struct curl_slist **l, const char *name, const char *value)
{
        _cleanup_free_ char *line = NULL;
        struct curl_slist *n;
        int len;

        if (strpbrk(value, "\r\n"))
                return -EINVAL;
        len = asprintf(&line, "%s: %s", name, value);
        if (len < 0) {
                line = NULL;
                return -ENOMEM;
        }
        n = curl_slist_append(*l, line);
        OPENSSL_cleanse(line, (size_t)len);
        if (!n)
                return -ENOMEM;
        *l = n;
        return 0;
}

static int build_headers(const struct http_request *req, struct curl_slist **ret, struct cvm_error *err)
{
        _cleanup_(headers_freep) struct curl_slist *l = NULL;
        struct curl_slist *n;
        int r;

        for (size_t i = 0; req->headers && req->headers[i]; i++) {
                const char *h = req->headers[i];

                /* Say which header is wrong by number only: its value may be a credential. */
                if (strpbrk(h, "\r\n") || !strchr(h, ':') || h[0] == ':')
                        return cvm_error_set(err, -EINVAL,
                                             "request header %zu is not a single \"Name: value\" line",
                                             i + 1);
                n = curl_slist_append(l, h);
                if (!n)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                l = n;
        }
        if (req->content_type && (r = append_header(&l, "Content-Type", req->content_type)) < 0)
                return cvm_error_set(err, r, "bad request content type");
        if (req->accept && (r = append_header(&l, "Accept", req->accept)) < 0)
                return cvm_error_set(err, r, "bad expected content type");
        if (req->bearer && (r = append_header(&l, "Authorization", "Bearer ")) < 0)
                return cvm_error_set(err, r, "out of memory");
        if (req->bearer) {
                /* Rebuild the last line with the token, so it exists in one place only. */
                _cleanup_free_ char *line = NULL;
                struct curl_slist *last = l;
                int len;

                if (strpbrk(req->bearer, "\r\n"))
                        return cvm_error_set(err, -EINVAL, "bearer token contains a line break");
                while (last->next)
                        last = last->next;
                len = asprintf(&line, "Authorization: Bearer %s", req->bearer);
                if (len < 0) {
                        line = NULL;
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
                OPENSSL_cleanse(last->data, strlen(last->data));
                free(last->data);
                last->data = TAKE_PTR(line);
        }
        /* No "Expect: 100-continue" round trip for large bodies. */
        n = curl_slist_append(l, "Expect:");
        if (!n)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        l = n;
        *ret = TAKE_PTR(l);
        return 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

static int setup_attempt(struct http_client *c, const struct http_request *req, const char *protocol,
                         struct curl_slist *headers, struct transfer *t, uint64_t remaining_ms)
{
        uint64_t total_ms = min_u64(c->attempt_timeout_ms, remaining_ms);
        uint64_t connect_ms = min_u64(c->connect_timeout_ms, total_ms);
        CURLcode cc = CURLE_OK;
        CURL *h;

        assert(!c->curl);
        h = c->curl = curl_easy_init();
        if (!h)
                return -ENOMEM;
        c->errbuf[0] = '\0';

#define SET(opt, val)                                       \
        do {                                                \
                if (cc == CURLE_OK)                         \
                        cc = curl_easy_setopt(h, opt, val); \
        } while (0)
        SET(CURLOPT_SHARE, c->share);
        SET(CURLOPT_URL, req->url);
        SET(CURLOPT_PROTOCOLS_STR, protocol);
        SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        if (c->ca_file) {
                /* The configured bundle is the only trust anchor: no system directory besides. */
                SET(CURLOPT_CAINFO, c->ca_file);
                SET(CURLOPT_CAPATH, (char *)NULL);
        }
        /* An empty proxy string disables proxies, including http_proxy & co from the environment. */
        SET(CURLOPT_PROXY, c->proxy ?: "");
        SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
        /* An empty file name turns the cookie engine on; the cookies themselves live in the share. */
        SET(CURLOPT_COOKIEFILE, "");
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_NOPROGRESS, 1L);
        SET(CURLOPT_ERRORBUFFER, c->errbuf);
        SET(CURLOPT_USERAGENT, "cvm-agent/" CVM_AGENT_VERSION);
        SET(CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_ms ?: 1));
        SET(CURLOPT_TIMEOUT_MS, (long)(total_ms ?: 1));
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->limit);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, t);
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, t);
        SET(CURLOPT_HTTPHEADER, headers);
        if (strcmp(req->method, "GET") == 0)
                SET(CURLOPT_HTTPGET, 1L);
        else {
                if (strcmp(req->method, "POST") != 0)
                        SET(CURLOPT_CUSTOMREQUEST, req->method);
                if (req->body || strcmp(req->method, "DELETE") != 0) {
                        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_size);
                        SET(CURLOPT_POSTFIELDS, req->body ?: "");
                }
        }
#undef SET
        return cc == CURLE_OK ? 0 : cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

static void attempt_done(struct http_client *c)
{
        if (c->curl)
                curl_easy_cleanup(c->curl);
        c->curl = NULL;
}

static void curl_text(struct http_client *c, CURLcode cc, char *out, size_t out_size)
{
        const char *s = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);

        quote_text(out, out_size, s, strlen(s));
}

/* Turns a failed curl_easy_perform() into an errno, a retry decision and a description. */
static void classify_curl_error(struct http_client *c, CURLcode cc, const struct transfer *t,
                                uint64_t attempt_ms, struct outcome *o)
{
        char text[QUOTE_MAX + 1];
        long os_errno = 0;

        curl_text(c, cc, text, sizeof(text));
        o->retryable = false;
        if (t->oversize || cc == CURLE_FILESIZE_EXCEEDED) {
                o->code = -EFBIG;
                fmt(o->what, sizeof(o->what), "response body exceeds the limit of %zu bytes", t->limit);
                return;
        }
        if (t->headers_oversize) {
                o->code = -EFBIG;
                fmt(o->what, sizeof(o->what), "response headers exceed the limit of %u bytes", HEADERS_MAX);
                return;
        }
        if (t->nomem || cc == CURLE_OUT_OF_MEMORY) {
                o->code = -ENOMEM;
                fmt(o->what, sizeof(o->what), "out of memory");
                return;
        }

        switch (cc) {
        case CURLE_OPERATION_TIMEDOUT:
                o->code = -ETIMEDOUT;
                o->retryable = true;
                fmt(o->what, sizeof(o->what), "timed out after %.1f s (curl: %s)",
                    (double)attempt_ms / 1000.0, text);
                return;
        case CURLE_COULDNT_RESOLVE_HOST:
                o->code = -EHOSTUNREACH;
                o->retryable = true;
                fmt(o->what, sizeof(o->what), "cannot resolve host (curl: %s)", text);
                return;
        case CURLE_COULDNT_CONNECT:
                (void)curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
                if (os_errno == ECONNREFUSED || os_errno == ENETUNREACH || os_errno == EHOSTUNREACH ||
                    os_errno == ETIMEDOUT)
                        o->code = -(int)os_errno;
                else
                        o->code = -EHOSTUNREACH;
                o->retryable = true;
                fmt(o->what, sizeof(o->what), "%s (curl: %s)",
                    o->code == -ECONNREFUSED ? "connection refused" : "cannot connect", text);
                return;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
                o->code = -EKEYREJECTED;
                fmt(o->what, sizeof(o->what), "TLS certificate verification failed (curl: %s)", text);
                return;
        case CURLE_SSL_CONNECT_ERROR:
                o->code = -ECONNRESET;
                o->retryable = true;
                fmt(o->what, sizeof(o->what), "TLS handshake failed (curl: %s)", text);
                return;
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                o->code = -ECONNRESET;
                o->retryable = true;
                fmt(o->what, sizeof(o->what), "connection failed (curl: %s)", text);
                return;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_BAD_CONTENT_ENCODING:
                o->code = -EBADMSG;
                fmt(o->what, sizeof(o->what), "malformed HTTP reply (curl: %s)", text);
                return;
        case CURLE_UNSUPPORTED_PROTOCOL:
                o->code = -EPERM;
                fmt(o->what, sizeof(o->what), "protocol not allowed (curl: %s)", text);
                return;
        case CURLE_URL_MALFORMAT:
                o->code = -EINVAL;
                fmt(o->what, sizeof(o->what), "malformed URL (curl: %s)", text);
                return;
        default:
                o->code = -EIO;
                fmt(o->what, sizeof(o->what), "transfer failed (curl error %d: %s)", (int)cc, text);
                return;
        }
}

static void classify_status(long status, const struct http_request *req, const struct http_response *resp,
                            struct outcome *o)
{
        if (status >= 200 && status <= 299) {
                char ct[64];

                o->retryable = false;
                if (req->accept && !httputil_media_type_matches(resp->content_type, req->accept)) {
                        if (resp->content_type)
                                quote_text(ct, sizeof(ct), resp->content_type, strlen(resp->content_type));
                        o->code = -EBADMSG;
                        fmt(o->what, sizeof(o->what), "HTTP %ld with content type %s%s%s, expected %s",
                            status, resp->content_type ? "\"" : "", resp->content_type ? ct : "(none)",
                            resp->content_type ? "\"" : "", req->accept);
                        return;
                }
                o->code = 0;
                return;
        }
        o->code = -EPROTO;
        o->retryable = httputil_status_retryable(status);
        fmt(o->what, sizeof(o->what), "HTTP %ld", status);
}

static double secs(uint64_t usec)
{
        return (double)usec / 1e6;
}

/* "40 ms" below a second, "1.2 s" above. */
static void format_delay(char *buf, size_t size, uint64_t ms)
{
        if (ms < 1000)
                fmt(buf, size, "%" PRIu64 " ms", ms);
        else
                fmt(buf, size, "%.1f s", (double)ms / 1000.0);
}

int http_client_send(struct http_client *c, const struct http_request *req, struct http_response **ret,
                     struct cvm_error *err)
{
        _cleanup_(headers_freep) struct curl_slist *headers = NULL;
        _cleanup_(http_response_freep) struct http_response *resp = NULL;
        struct transfer t = {};
        char display[384], method[16];
        const char *protocol = NULL;
        unsigned max_attempts;
        uint64_t start, deadline;
        int r;

        if (!req || !req->method || !req->url)
                return cvm_error_set(err, -EINVAL, "request without method or URL");
        if (!is_method_allowed(req->method))
                return cvm_error_set(err, -EINVAL, "HTTP method not supported");
        fmt(method, sizeof(method), "%s", req->method);
        if (strcmp(method, "GET") == 0 && req->body)
                return cvm_error_set(err, -EINVAL, "GET request with a body");
        if (req->max_response_size > HTTP_MAX_RESPONSE_LIMIT)
                return cvm_error_set(err, -EINVAL, "response size limit %zu is above %zu",
                                     req->max_response_size, (size_t)HTTP_MAX_RESPONSE_LIMIT);
        r = check_url(c, method, req->url, display, sizeof(display), &protocol, err);
        if (r < 0)
                return r;
        r = build_headers(req, &headers, err);
        if (r < 0)
                return r;

        resp = calloc(1, sizeof(*resp));
        if (!resp)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        t.resp = resp;
        t.limit = req->max_response_size ?: c->max_response_size;
        max_attempts = req->max_attempts ?: c->max_attempts;
        start = http_client_now_usec(c);
        deadline = req->deadline_usec ?: start + (uint64_t)c->deadline_ms * 1000u;

        for (unsigned attempt = 1;; attempt++) {
                struct outcome o = {};
                uint64_t now = http_client_now_usec(c), attempt_start, delay_ms;
                CURLcode cc;
                char line[CVM_ERROR_MAX], stage[CVM_ERROR_MAX], delay[32];

                if (now >= deadline)
                        return cvm_error_set(err, -ETIMEDOUT, "%s: the deadline passed before attempt %u/%u",
                                             display, attempt, max_attempts);

                response_reset(resp, t.capacity);
                t.capacity = 0;
                t.header_bytes = 0;
                t.oversize = t.headers_oversize = t.nomem = false;
                r = setup_attempt(c, req, protocol, headers, &t, (deadline - now + 999) / 1000);
                if (r < 0) {
                        attempt_done(c);
                        return cvm_error_set(err, r, "%s: cannot set up the transfer: %s", display,
                                             r == -ENOMEM ? "out of memory" : "libcurl refused an option");
                }

                attempt_start = now;
                cc = curl_easy_perform(c->curl);
                now = http_client_now_usec(c);
                resp->attempts = attempt;
                if (cc == CURLE_OK) {
                        (void)curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
                        classify_status(resp->status, req, resp, &o);
                } else
                        classify_curl_error(c, cc, &t, (now - attempt_start) / 1000, &o);
                attempt_done(c);

                if (o.code == 0) {
                        if (!resp->body) {
                                resp->body = calloc(1, 1);
                                if (!resp->body)
                                        return cvm_error_set(err, -ENOMEM, "out of memory");
                        }
                        *ret = TAKE_PTR(resp);
                        return 0;
                }

                /* "GET https://host/path: attempt 3/5: HTTP 503" names the stage in every message. */
                fmt(stage, sizeof(stage), "%s: attempt %u/%u: %s", display, attempt, max_attempts, o.what);
                if (!o.retryable) {
                        r = cvm_error_set(err, o.code, "%s, not retried", stage);
                        goto fail;
                }
                if (attempt >= max_attempts) {
                        r = cvm_error_set(err, o.code, "%s; giving up after %u attempt%s in %.1f s", stage,
                                          attempt, attempt == 1 ? "" : "s", secs(now - start));
                        goto fail;
                }
                if (now >= deadline) {
                        r = cvm_error_set(err, o.code, "%s; giving up: the deadline passed after %.1f s",
                                          stage, secs(now - start));
                        goto fail;
                }

                delay_ms = httputil_backoff_ms(attempt, c->backoff_base_ms, c->backoff_max_ms, &c->rng);
                if (resp->status != 0 && resp->retry_after) {
                        uint64_t ra;

                        /* The server's wish replaces our backoff; an unparsable value is ignored. */
                        if (httputil_parse_retry_after(resp->retry_after, strlen(resp->retry_after),
                                                       c->clock.wall_now(c->clock.userdata), &ra) == 0) {
                                if (now + ra * 1000000u >= deadline) {
                                        r = cvm_error_set(
                                                err, o.code,
                                                "%s; giving up: the server asked to retry after %" PRIu64
                                                " s, beyond the deadline (%.1f s left)",
                                                stage, ra, secs(deadline - now));
                                        goto fail;
                                }
                                delay_ms = ra * 1000u;
                        }
                }
                format_delay(delay, sizeof(delay), delay_ms);
                if (now + delay_ms * 1000u >= deadline) {
                        r = cvm_error_set(
                                err, o.code,
                                "%s; giving up: the next retry in %s would pass the deadline (%.1f s left)",
                                stage, delay, secs(deadline - now));
                        goto fail;
                }

                if (c->on_retry) {
                        fmt(line, sizeof(line), "%s, retrying in %s", stage, delay);
                        c->on_retry(c->userdata, o.code, line);
                }
                c->clock.sleep_usec(c->clock.userdata, delay_ms * 1000u);
        }

fail:
        /* The caller gets the final error response (status, error body) to judge a refusal. */
        if (r == -EPROTO) {
                if (!resp->body) {
                        resp->body = calloc(1, 1);
                        if (!resp->body)
                                return r;
                }
                *ret = TAKE_PTR(resp);
        }
        return r;
}
