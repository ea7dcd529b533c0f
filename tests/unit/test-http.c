/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP adapter against the loopback test server (tests/emulators/testserver.py): success,
 * every fault knob, retry policy, deadlines, size limits, TLS trust, plain-http policy, cookies,
 * and that secrets never reach error messages. Backoff is checked with an injected clock (no
 * real waits); the deadline and timeout tests use the real clock and measure elapsed time.
 */
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "testlib.h"

#include "cleanup.h"
#include "http.h"
#include "httputil.h"

#define SECRET "S3CRET-d0-not-leak"

static struct {
        pid_t pid;
        char dir[64];
        char port_file[128];
        char ca_file[256];
        int port;
        int control_port;
        int plain_port;
        const char *skip_reason;
} srv = {.pid = -1};

/* ---- test server lifecycle ---------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static void server_stop(void)
{
        if (srv.pid > 0) {
                int status;

                (void)kill(srv.pid, SIGTERM);
                for (int i = 0; i < 100; i++) {
                        if (waitpid(srv.pid, &status, WNOHANG) == srv.pid)
                                goto reaped;
                        usleep(50 * 1000);
                }
                (void)kill(srv.pid, SIGKILL);
                (void)waitpid(srv.pid, &status, 0);
reaped:
                srv.pid = -1;
        }
        if (srv.dir[0]) {
                (void)nftw(srv.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
                srv.dir[0] = '\0';
        }
}

static const char *python(void)
{
        const char *p = getenv("CVM_PYTHON");

        if (p && *p)
                return p;
        /* Debian's interpreter (packaging/install-deps.sh) rather than whatever PATH finds first. */
        return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static int group_setup(void **state)
{
        const char *script = "tests/emulators/testserver.py";
        json_object *info, *v;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (access(script, R_OK) < 0) {
                srv.skip_reason = "tests/emulators/testserver.py not found (run from the source tree)";
                return 0;
        }
        snprintf(srv.dir, sizeof(srv.dir), "/tmp/cvm-test-http.XXXXXX");
        if (!mkdtemp(srv.dir)) {
                srv.dir[0] = '\0';
                srv.skip_reason = "cannot create a temporary directory";
                return 0;
        }
        snprintf(srv.port_file, sizeof(srv.port_file), "%s/port.json", srv.dir);
        atexit(server_stop);

        srv.pid = fork();
        if (srv.pid < 0)
                return -1;
        if (srv.pid == 0) {
                /* The server must not outlive this test, even if the test crashes. */
                (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
                execlp(python(), python(), script, "--state-dir", srv.dir, "--port-file", srv.port_file,
                       "--plain", "--max-lifetime", "120", (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 300 && access(srv.port_file, R_OK) < 0; i++) {
                int status;

                if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
                        srv.pid = -1;
                        srv.skip_reason = "the test server exited at start (is python3 installed?)";
                        return 0;
                }
                usleep(50 * 1000);
        }
        info = json_object_from_file(srv.port_file);
        if (!info) {
                srv.skip_reason = "the test server did not start within 15 s";
                return 0;
        }
        if (json_object_object_get_ex(info, "port", &v))
                srv.port = json_object_get_int(v);
        if (json_object_object_get_ex(info, "control_port", &v))
                srv.control_port = json_object_get_int(v);
        if (json_object_object_get_ex(info, "plain_port", &v))
                srv.plain_port = json_object_get_int(v);
        if (json_object_object_get_ex(info, "ca_file", &v))
                snprintf(srv.ca_file, sizeof(srv.ca_file), "%s", json_object_get_string(v));
        json_object_put(info);
        if (!srv.port || !srv.control_port || !srv.plain_port || !srv.ca_file[0])
                return -1;
        return 0;
}

static int group_teardown(void **state)
{
        server_stop();
        curl_global_cleanup();
        return 0;
}

/* ---- control channel (plain HTTP on loopback, driven with libcurl directly) ----------------- */

struct buf {
        char *data;
        size_t size;
};

static size_t buf_write(char *p, size_t size, size_t n, void *ud)
{
        struct buf *b = ud;
        char *q = realloc(b->data, b->size + size * n + 1);

        if (!q)
                return 0;
        memcpy(q + b->size, p, size * n);
        b->size += size * n;
        q[b->size] = 0;
        b->data = q;
        return size * n;
}

static json_object *ctl(const char *method, const char *path, const char *body)
{
        CURL *h = curl_easy_init();
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
        struct buf b = {};
        char u[128];
        long status = 0;
        json_object *j;

        assert_non_null(h);
        snprintf(u, sizeof(u), "http://127.0.0.1:%d%s", srv.control_port, path);
        curl_easy_setopt(h, CURLOPT_URL, u);
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
        if (body)
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        assert_int_equal(curl_easy_perform(h), CURLE_OK);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
                fail_msg("control %s %s: HTTP %ld: %s", method, path, status, b.data ?: "");
        j = json_tokener_parse(b.data ?: "null");
        free(b.data);
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
        return j;
}

static void fault(const char *json)
{
        json_object_put(ctl("POST", "/faults", json));
}

/* Requests the server saw for @path since the test began. */
static int requests_for(const char *path)
{
        json_object *log = ctl("GET", "/requests", NULL), *e, *p;
        int n = 0;

        for (size_t i = 0; i < json_object_array_length(log); i++) {
                e = json_object_array_get_idx(log, i);
                if (json_object_object_get_ex(e, "path", &p) && strcmp(json_object_get_string(p), path) == 0)
                        n++;
        }
        json_object_put(log);
        return n;
}

/* ---- injected clock and retry log ------------------------------------------------------------ */

static struct {
        uint64_t offset_usec;
        uint64_t sleeps[64];
        unsigned n_sleeps;
        time_t wall;
        char retries[16][CVM_ERROR_MAX];
        int retry_codes[16];
        unsigned n_retries;
} t;

static uint64_t mono_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t fake_now(void *ud)
{
        return mono_usec() + t.offset_usec;
}

/* Time passes for the client without anybody waiting. */
static void fake_sleep(void *ud, uint64_t usec)
{
        if (t.n_sleeps < ELEMENTSOF(t.sleeps))
                t.sleeps[t.n_sleeps++] = usec;
        t.offset_usec += usec;
}

static time_t fake_wall(void *ud)
{
        return t.wall ?: time(NULL);
}

static const struct http_clock fake_clock = {fake_now, fake_sleep, fake_wall, NULL};

static void on_retry(void *ud, int code, const char *message)
{
        if (t.n_retries < ELEMENTSOF(t.retries)) {
                snprintf(t.retries[t.n_retries], CVM_ERROR_MAX, "%s", message);
                t.retry_codes[t.n_retries++] = code;
        }
}

static int test_setup(void **state)
{
        memset(&t, 0, sizeof(t));
        if (srv.skip_reason)
                return 0;
        json_object_put(ctl("DELETE", "/faults", NULL));
        json_object_put(ctl("DELETE", "/requests", NULL));
        return 0;
}

#define require_server()                                       \
        do {                                                   \
                if (srv.skip_reason) {                         \
                        printf("SKIP: %s\n", srv.skip_reason); \
                        skip();                                \
                }                                              \
        } while (0)

/* A config with the test CA, the fake clock, a fixed jitter seed and short timeouts. */
static struct http_client_config base_config(bool fake)
{
        return (struct http_client_config){
                .ca_file = srv.ca_file,
                .connect_timeout_ms = 2000,
                .attempt_timeout_ms = 3000,
                .deadline_ms = 10000,
                .max_attempts = 5,
                .backoff_base_ms = 100,
                .backoff_max_ms = 1000,
                .jitter_seed = 42,
                .clock = fake ? &fake_clock : NULL,
                .on_retry = on_retry,
        };
}

static struct http_client *client_with(const struct http_client_config *cfg)
{
        struct http_client *c = NULL;
        struct cvm_error err = {};
        int r = http_client_new(cfg, &c, &err);

        if (r < 0)
                fail_msg("http_client_new: %s", cvm_error_message(&err, r));
        return c;
}

static struct http_client *client(bool fake)
{
        struct http_client_config cfg = base_config(fake);

        return client_with(&cfg);
}

static const char *url(const char *path)
{
        static char bufs[4][256];
        static unsigned i;
        char *b = bufs[i++ % 4];

        snprintf(b, sizeof(bufs[0]), "https://127.0.0.1:%d%s", srv.port, path);
        return b;
}

static int get(struct http_client *c, const char *path, struct http_response **resp, struct cvm_error *err)
{
        struct http_request req = {.method = "GET", .url = url(path)};

        return http_client_send(c, &req, resp, err);
}

static json_object *body_json(const struct http_response *r)
{
        json_object *j = json_tokener_parse((const char *)r->body);

        assert_non_null(j);
        return j;
}

static const char *jstr(json_object *j, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        return json_object_get_string(v);
}

static void assert_contains(const char *haystack, const char *needle)
{
        print_message("        message: %s\n", haystack);
        if (!strstr(haystack, needle))
                fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

static void assert_not_contains(const char *haystack, const char *needle)
{
        if (strstr(haystack, needle))
                fail_msg("\"%s\" contains \"%s\"", haystack, needle);
}

/* ---- success paths ----------------------------------------------------------------------------- */

static void test_get_json(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        _cleanup_(json_object_putp) json_object *j = NULL;
        struct cvm_error err = {};
        struct http_request req = {.method = "GET", .url = url("/echo?x=1"), .accept = "application/json"};

        require_server();
        c = client(true);
        assert_int_equal(http_client_send(c, &req, &r, &err), 0);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->attempts, 1);
        assert_true(httputil_media_type_matches(r->content_type, "application/json"));
        assert_int_equal(r->body[r->body_size], 0);
        j = body_json(r);
        assert_string_equal(jstr(j, "method"), "GET");
        assert_string_equal(jstr(j, "accept"), "application/json");
        assert_string_equal(jstr(j, "user_agent"), "cvm-agent/" CVM_AGENT_VERSION);
        assert_null(jstr(j, "authorization"));
        assert_int_equal(t.n_retries, 0);
        assert_int_equal(t.n_sleeps, 0);
}

static void test_methods_body_headers(void **state)
{
        static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE"};
        static const char *const headers[] = {"X-Test: yes", NULL};
        _cleanup_(http_client_freep) struct http_client *c = NULL;

        require_server();
        c = client(true);
        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                _cleanup_(json_object_putp) json_object *j = NULL;
                struct cvm_error err = {};
                struct http_request req = {
                        .method = methods[i],
                        .url = url("/echo"),
                        .headers = headers,
                        .body = "hello world",
                        .body_size = 11,
                        .content_type = "application/json",
                };

                assert_int_equal(http_client_send(c, &req, &r, &err), 0);
                j = body_json(r);
                assert_string_equal(jstr(j, "method"), methods[i]);
                assert_string_equal(jstr(j, "body_sha256"),
                                    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
                assert_string_equal(jstr(j, "content_type"), "application/json");
                assert_string_equal(jstr(j, "x_test"), "yes");
        }
        /* An empty POST sends Content-Length: 0, not a chunked or missing body. */
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                _cleanup_(json_object_putp) json_object *j = NULL;
                struct cvm_error err = {};
                struct http_request req = {.method = "POST", .url = url("/echo")};

                assert_int_equal(http_client_send(c, &req, &r, &err), 0);
                j = body_json(r);
                assert_string_equal(jstr(j, "method"), "POST");
                assert_string_equal(jstr(j, "body_sha256"),
                                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        }
}

static void test_empty_body(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};

        require_server();
        c = client(true);
        assert_int_equal(get(c, "/bytes?n=0", &r, &err), 0);
        assert_int_equal(r->body_size, 0);
        assert_non_null(r->body);
        assert_int_equal(r->body[0], 0);
}

/* Sequential requests of one client reuse one TLS connection (the share keeps the pool). */
static void test_connection_reuse(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(json_object_putp) json_object *log = NULL;
        const int n = 20;
        uint64_t start, elapsed;
        int first_port = -1;

        require_server();
        c = client(true);
        start = mono_usec();
        for (int i = 0; i < n; i++) {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                assert_int_equal(get(c, "/echo", &r, &err), 0);
        }
        elapsed = mono_usec() - start;
        print_message("        %d sequential GETs on one client: %.2f ms each\n", n, elapsed / 1e3 / n);

        log = ctl("GET", "/requests", NULL);
        assert_int_equal(json_object_array_length(log), n);
        for (int i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(log, i), *p;

                assert_true(json_object_object_get_ex(e, "client_port", &p));
                if (first_port < 0)
                        first_port = json_object_get_int(p);
                assert_int_equal(json_object_get_int(p), first_port);
        }
}

/* ---- retries ----------------------------------------------------------------------------------- */

static void test_retry_503_then_success(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        uint64_t rng = 42, want1, want2;
        char prefix[128];

        require_server();
        fault("{\"kind\":\"status\",\"status\":503,\"count\":2}");
        c = client(true);
        assert_int_equal(get(c, "/echo", &r, &err), 0);
        assert_int_equal(r->status, 200);
        assert_int_equal(r->attempts, 3);
        assert_int_equal(requests_for("/echo"), 3);

        /* Two retries, logged with the stage, each after the seeded full-jitter delay. */
        assert_int_equal(t.n_retries, 2);
        snprintf(prefix, sizeof(prefix),
                 "GET https://127.0.0.1:%d/echo: attempt 1/5: HTTP 503, retrying in ", srv.port);
        assert_true(strncmp(t.retries[0], prefix, strlen(prefix)) == 0);
        assert_contains(t.retries[1], "attempt 2/5: HTTP 503, retrying in ");
        assert_int_equal(t.retry_codes[0], -EPROTO);
        want1 = httputil_backoff_ms(1, 100, 1000, &rng);
        want2 = httputil_backoff_ms(2, 100, 1000, &rng);
        assert_int_equal(t.n_sleeps, 2);
        assert_int_equal(t.sleeps[0], want1 * 1000);
        assert_int_equal(t.sleeps[1], want2 * 1000);
        assert_true(want1 <= 100 && want2 <= 200);
}

/* Every retryable failure is retried once and then succeeds. */
static void test_retry_each_fault(void **state)
{
        static const struct {
                const char *fault;
                int code;
                const char *what;
        } cases[] = {
                {"{\"kind\":\"status\",\"status\":500}", -EPROTO, "HTTP 500"},
                {"{\"kind\":\"status\",\"status\":502}", -EPROTO, "HTTP 502"},
                {"{\"kind\":\"status\",\"status\":504}", -EPROTO, "HTTP 504"},
                {"{\"kind\":\"status\",\"status\":408}", -EPROTO, "HTTP 408"},
                {"{\"kind\":\"status\",\"status\":429}", -EPROTO, "HTTP 429"},
                {"{\"kind\":\"close\"}", -ECONNRESET, "connection failed"},
                {"{\"kind\":\"truncate\",\"declared\":500,\"send\":20}", -ECONNRESET, "connection failed"},
        };

        require_server();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(http_client_freep) struct http_client *c = client(true);
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                memset(&t, 0, sizeof(t));
                fault(cases[i].fault);
                assert_int_equal(get(c, "/echo", &r, &err), 0);
                assert_int_equal(r->attempts, 2);
                assert_int_equal(t.n_retries, 1);
                assert_int_equal(t.retry_codes[0], cases[i].code);
                assert_contains(t.retries[0], cases[i].what);
        }
}

static void test_retries_exhausted(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        _cleanup_(json_object_putp) json_object *j = NULL;
        struct http_client_config cfg = base_config(true);
        struct cvm_error err = {};

        require_server();
        fault("{\"kind\":\"status\",\"status\":500,\"count\":0}");
        cfg.max_attempts = 3;
        c = client_with(&cfg);
        assert_int_equal(get(c, "/echo", &r, &err), -EPROTO);
        assert_int_equal(err.code, -EPROTO);
        assert_contains(err.message, "attempt 3/3: HTTP 500; giving up after 3 attempts in ");
        assert_int_equal(requests_for("/echo"), 3);
        assert_int_equal(t.n_retries, 2);
        /* The final error response is handed over, error body included. */
        assert_non_null(r);
        assert_int_equal(r->status, 500);
        assert_int_equal(r->attempts, 3);
        j = body_json(r);
        assert_non_null(strstr((const char *)r->body, "InjectedFault"));
}

static void test_per_request_attempts(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        struct http_request req = {.method = "GET", .url = url("/echo"), .max_attempts = 1};

        require_server();
        fault("{\"kind\":\"status\",\"status\":503}");
        c = client(true);
        assert_int_equal(http_client_send(c, &req, &r, &err), -EPROTO);
        assert_contains(err.message, "attempt 1/1: HTTP 503; giving up after 1 attempt in ");
        assert_int_equal(requests_for("/echo"), 1);
}

static void test_no_retry_on_4xx(void **state)
{
        static const long statuses[] = {400, 401, 403, 404, 409, 413};

        require_server();
        for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
                _cleanup_(http_client_freep) struct http_client *c = client(true);
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};
                char f[128], want[64];

                memset(&t, 0, sizeof(t));
                json_object_put(ctl("DELETE", "/requests", NULL));
                snprintf(f, sizeof(f), "{\"kind\":\"status\",\"status\":%ld,\"count\":0}", statuses[i]);
                fault(f);
                assert_int_equal(get(c, "/echo", &r, &err), -EPROTO);
                assert_int_equal(r->status, statuses[i]);
                snprintf(want, sizeof(want), "attempt 1/5: HTTP %ld, not retried", statuses[i]);
                assert_contains(err.message, want);
                assert_int_equal(requests_for("/echo"), 1);
                assert_int_equal(t.n_retries, 0);
                assert_int_equal(t.n_sleeps, 0);
                json_object_put(ctl("DELETE", "/faults", NULL));
        }
}

static void test_redirect_not_followed(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};

        require_server();
        c = client(true);
        assert_int_equal(get(c, "/redirect", &r, &err), -EPROTO);
        assert_int_equal(r->status, 302);
        assert_contains(err.message, "HTTP 302, not retried");
        assert_int_equal(requests_for("/echo"), 0);
}

/* ---- Retry-After and the deadline -------------------------------------------------------------- */

static void test_retry_after_seconds(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        uint64_t start = mono_usec();

        require_server();
        fault("{\"kind\":\"status\",\"status\":429,\"retry_after\":\"3\"}");
        c = client(true);
        assert_int_equal(get(c, "/echo", &r, &err), 0);
        assert_int_equal(r->attempts, 2);
        assert_int_equal(t.n_sleeps, 1);
        assert_int_equal(t.sleeps[0], 3000000);
        assert_contains(t.retries[0], "HTTP 429, retrying in 3.0 s");
        /* The injected clock did the waiting. */
        assert_true(mono_usec() - start < 2000000);
}

static void test_retry_after_http_date(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        char date[64], f[160];
        time_t when;
        struct tm tm;

        require_server();
        t.wall = 1750000000;
        when = t.wall + 4;
        gmtime_r(&when, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(f, sizeof(f), "{\"kind\":\"status\",\"status\":503,\"retry_after\":\"%s\"}", date);
        fault(f);
        c = client(true);
        assert_int_equal(get(c, "/echo", &r, &err), 0);
        assert_int_equal(t.n_sleeps, 1);
        assert_int_equal(t.sleeps[0], 4000000);
}

static void test_retry_after_beyond_deadline(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct http_client_config cfg = base_config(true);
        struct cvm_error err = {};

        require_server();
        fault("{\"kind\":\"status\",\"status\":503,\"retry_after\":\"120\",\"count\":0}");
        cfg.deadline_ms = 5000;
        c = client_with(&cfg);
        assert_int_equal(get(c, "/echo", &r, &err), -EPROTO);
        assert_int_equal(r->status, 503);
        assert_contains(err.message,
                        "attempt 1/5: HTTP 503; giving up: the server asked to retry after 120 s, "
                        "beyond the deadline (");
        assert_int_equal(t.n_sleeps, 0);
        assert_int_equal(requests_for("/echo"), 1);
}

/* Backoff that would overrun the deadline stops early instead of sleeping past it. */
static void test_backoff_beyond_deadline(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct http_client_config cfg = base_config(true);
        struct cvm_error err = {};
        uint64_t slept = 0;

        require_server();
        fault("{\"kind\":\"status\",\"status\":503,\"count\":0}");
        cfg.deadline_ms = 3000;
        cfg.max_attempts = 100;
        cfg.backoff_base_ms = 400;
        cfg.backoff_max_ms = 2000;
        c = client_with(&cfg);
        assert_int_equal(get(c, "/echo", &r, &err), -EPROTO);
        assert_true(strstr(err.message, "would pass the deadline") ||
                    strstr(err.message, "deadline passed"));
        for (unsigned i = 0; i < t.n_sleeps; i++)
                slept += t.sleeps[i];
        assert_true(slept < 3000000);
        assert_true(r->attempts >= 2 && r->attempts < 100);
}

static void test_deadline_with_hang(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct http_client_config cfg = base_config(false);
        struct cvm_error err = {};
        uint64_t start, elapsed;

        require_server();
        fault("{\"kind\":\"hang\",\"seconds\":5,\"count\":0}");
        cfg.attempt_timeout_ms = 400;
        cfg.deadline_ms = 1500;
        cfg.max_attempts = 20;
        cfg.backoff_base_ms = 50;
        cfg.backoff_max_ms = 100;
        c = client_with(&cfg);
        start = mono_usec();
        assert_int_equal(get(c, "/echo", &r, &err), -ETIMEDOUT);
        elapsed = mono_usec() - start;
        assert_null(r);
        assert_contains(err.message, "timed out after");
        assert_true(strstr(err.message, "deadline"));
        assert_true(t.n_retries >= 2);
        /* Never past the deadline (with scheduling tolerance), and not giving up long before it. */
        if (elapsed < 1100000 || elapsed > 2300000)
                fail_msg("elapsed %.3f s for a 1.5 s deadline: %s", elapsed / 1e6, err.message);
}

static void test_deadline_already_passed(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        struct http_request req = {.method = "GET", .url = url("/echo")};

        require_server();
        c = client(true);
        req.deadline_usec = http_client_now_usec(c);
        assert_int_equal(http_client_send(c, &req, &r, &err), -ETIMEDOUT);
        assert_contains(err.message, "the deadline passed before attempt 1/5");
        assert_int_equal(requests_for("/echo"), 0);
}

static void test_connection_refused(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct http_client_config cfg = base_config(true);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        struct cvm_error err = {};
        struct http_request req = {.method = "GET"};
        char u[64];
        int fd;

        /* A port that was free a moment ago: bound, then closed without listening. */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        snprintf(u, sizeof(u), "https://127.0.0.1:%d/echo", ntohs(sa.sin_port));
        req.url = u;

        cfg.max_attempts = 3;
        c = client_with(&cfg);
        assert_int_equal(http_client_send(c, &req, &r, &err), -ECONNREFUSED);
        assert_contains(err.message, "attempt 3/3: connection refused");
        assert_int_equal(t.n_retries, 2);
        assert_int_equal(t.retry_codes[1], -ECONNREFUSED);
}

/* ---- size limits and slow bodies --------------------------------------------------------------- */

static void test_size_limit(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        struct http_client_config cfg = base_config(true);

        require_server();
        cfg.max_response_size = 1000;
        c = client_with(&cfg);
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                assert_int_equal(get(c, "/bytes?n=1000", &r, &err), 0);
                assert_int_equal(r->body_size, 1000);
        }
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                assert_int_equal(get(c, "/bytes?n=1001", &r, &err), -EFBIG);
                assert_null(r);
                assert_contains(err.message, "response body exceeds the limit of 1000 bytes, not retried");
        }
        /* Without a Content-Length the limit is enforced while streaming. */
        for (int chunked = 0; chunked <= 1; chunked++) {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};
                char f[128];

                json_object_put(ctl("DELETE", "/requests", NULL));
                snprintf(f, sizeof(f), "{\"kind\":\"oversize\",\"bytes\":300000,\"chunked\":%s}",
                         chunked ? "true" : "false");
                fault(f);
                assert_int_equal(get(c, "/echo", &r, &err), -EFBIG);
                assert_contains(err.message, "exceeds the limit of 1000 bytes");
                assert_int_equal(requests_for("/echo"), 1);
        }
        /* A per-request limit overrides the client's. */
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};
                struct http_request req = {
                        .method = "GET", .url = url("/bytes?n=5000"), .max_response_size = 5000};

                assert_int_equal(http_client_send(c, &req, &r, &err), 0);
                assert_int_equal(r->body_size, 5000);
        }
}

static void test_slow_body(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        struct http_client_config cfg = base_config(false);

        require_server();
        cfg.attempt_timeout_ms = 600;
        cfg.max_attempts = 1;
        c = client_with(&cfg);
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                /* 4 pieces 50 ms apart: slow, but inside the per-attempt timeout. */
                fault("{\"kind\":\"slow_body\",\"bytes\":32,\"chunk\":8,\"delay\":0.05}");
                assert_int_equal(get(c, "/echo", &r, &err), 0);
                assert_int_equal(r->body_size, 32);
        }
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};
                uint64_t start = mono_usec(), elapsed;

                fault("{\"kind\":\"slow_body\",\"bytes\":100,\"chunk\":10,\"delay\":0.2,\"chunked\":true}");
                assert_int_equal(get(c, "/echo", &r, &err), -ETIMEDOUT);
                elapsed = mono_usec() - start;
                assert_contains(err.message, "timed out after");
                assert_true(elapsed >= 500000 && elapsed < 1500000);
        }
}

/* ---- TLS and URL policy ------------------------------------------------------------------------ */

static void test_untrusted_certificate(void **state)
{
        static const char *const faults[] = {"{\"kind\":\"untrusted_cert\"}",
                                             "{\"kind\":\"wrong_host_cert\"}"};

        require_server();
        for (size_t i = 0; i < ELEMENTSOF(faults); i++) {
                _cleanup_(http_client_freep) struct http_client *c = client(true);
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                memset(&t, 0, sizeof(t));
                fault(faults[i]);
                assert_int_equal(get(c, "/echo", &r, &err), -EKEYREJECTED);
                assert_null(r);
                assert_contains(err.message, "attempt 1/5: TLS certificate verification failed (curl: ");
                assert_contains(err.message, "not retried");
                assert_int_equal(t.n_retries, 0);
        }
        assert_int_equal(requests_for("/echo"), 0);
}

/* Without the test CA, the system trust store does not vouch for the test server. */
static void test_system_trust_rejects_test_ca(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct http_client_config cfg = base_config(true);
        struct cvm_error err = {};

        require_server();
        cfg.ca_file = NULL;
        c = client_with(&cfg);
        assert_int_equal(get(c, "/echo", &r, &err), -EKEYREJECTED);
        assert_int_equal(requests_for("/echo"), 0);
}

static void test_plain_http_policy(void **state)
{
        static const char *const allowed[] = {"127.0.0.1", NULL};
        struct http_client_config cfg = base_config(true);
        char u[128];

        require_server();
        snprintf(u, sizeof(u), "http://127.0.0.1:%d/echo", srv.plain_port);
        {
                _cleanup_(http_client_freep) struct http_client *c = client(true);
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};
                struct http_request req = {.method = "GET", .url = u};

                assert_int_equal(http_client_send(c, &req, &r, &err), -EPERM);
                assert_contains(err.message, "GET http://127.0.0.1:");
                assert_int_equal(requests_for("/echo"), 0);
        }
        {
                _cleanup_(http_client_freep) struct http_client *c = NULL;
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};
                struct http_request req = {.method = "GET", .url = u, .accept = "application/json"};

                cfg.plain_http_hosts = allowed;
                c = client_with(&cfg);
                assert_int_equal(http_client_send(c, &req, &r, &err), 0);
                assert_int_equal(r->status, 200);
                assert_int_equal(requests_for("/echo"), 1);
                /* Other schemes stay forbidden even with a plain-http allowance. */
                http_response_free(TAKE_PTR(r));
                req.url = "ftp://127.0.0.1/file";
                assert_int_equal(http_client_send(c, &req, &r, &err), -EPERM);
                cvm_error_clear(&err);
                req.url = "file:///etc/passwd";
                assert_int_equal(http_client_send(c, &req, &r, &err), -EPERM);
        }
}

static void test_bad_requests(void **state)
{
        static const char *const crlf[] = {"X-A: b\r\nX-Evil: " SECRET, NULL};
        static const char *const nocolon[] = {"X-A " SECRET, NULL};
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        struct {
                struct http_request req;
                int code;
        } cases[] = {
                {{.method = "GET", .url = url("/echo"), .headers = crlf}, -EINVAL},
                {{.method = "GET", .url = url("/echo"), .headers = nocolon}, -EINVAL},
                {{.method = "GET", .url = url("/echo"), .bearer = SECRET "\r\nX: y"}, -EINVAL},
                {{.method = "GET", .url = url("/echo"), .body = "x", .body_size = 1}, -EINVAL},
                {{.method = "GET\r\n", .url = url("/echo")}, -EINVAL},
                {{.method = "TRACE", .url = url("/echo")}, -EINVAL},
                {{.method = "GET", .url = "not a url"}, -EINVAL},
                {{.method = "GET", .url = "https://user:" SECRET "@127.0.0.1/echo"}, -EINVAL},
                {{.method = "GET", .url = NULL}, -EINVAL},
                {{.method = "GET", .url = url("/echo"), .max_response_size = SIZE_MAX}, -EINVAL},
        };

        require_server();
        c = client(true);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                assert_int_equal(http_client_send(c, &cases[i].req, &r, &err), cases[i].code);
                assert_null(r);
                assert_true(err.message[0]);
                assert_not_contains(err.message, SECRET);
        }
        assert_int_equal(requests_for("/echo"), 0);
}

static void test_content_type_mismatch(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        struct http_request req = {.method = "GET", .url = url("/text"), .accept = "application/json"};

        require_server();
        c = client(true);
        assert_int_equal(http_client_send(c, &req, &r, &err), -EBADMSG);
        assert_null(r);
        assert_contains(err.message, "HTTP 200 with content type \"text/plain; charset=utf-8\", expected "
                                     "application/json, not retried");
        assert_int_equal(requests_for("/text"), 1);
}

static void test_environment_proxy_ignored(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        int rc;

        require_server();
        setenv("https_proxy", "http://127.0.0.1:9", 1);
        setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
        setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
        c = client(true);
        rc = get(c, "/echo", &r, &err);
        unsetenv("https_proxy");
        unsetenv("HTTPS_PROXY");
        unsetenv("ALL_PROXY");
        if (rc != 0)
                fail_msg("the environment's proxy was used: %s", err.message);
}

/* ---- cookies and credentials ------------------------------------------------------------------- */

static void test_cookie_jar(void **state)
{
        _cleanup_(http_client_freep) struct http_client *a = NULL, *b = NULL;

        require_server();
        a = client(true);
        b = client(true);
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                struct cvm_error err = {};

                assert_int_equal(get(a, "/cookie/set?value=sess-1234", &r, &err), 0);
                assert_non_null(r->set_cookie);
                assert_contains(r->set_cookie, "kbs-session-id=sess-1234");
        }
        /* The same client sends it back on later requests, across several of them. */
        for (int i = 0; i < 2; i++) {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                _cleanup_(json_object_putp) json_object *j = NULL;
                struct cvm_error err = {};

                assert_int_equal(get(a, "/cookie/check", &r, &err), 0);
                j = body_json(r);
                assert_non_null(jstr(j, "kbs-session-id"));
                assert_string_equal(jstr(j, "kbs-session-id"), "sess-1234");
        }
        /* Another client has its own, empty jar. */
        {
                _cleanup_(http_response_freep) struct http_response *r = NULL;
                _cleanup_(json_object_putp) json_object *j = NULL;
                struct cvm_error err = {};

                assert_int_equal(get(b, "/cookie/check", &r, &err), 0);
                j = body_json(r);
                assert_null(jstr(j, "kbs-session-id"));
        }
}

static void test_bearer(void **state)
{
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        _cleanup_(json_object_putp) json_object *j = NULL;
        struct cvm_error err = {};
        struct http_request req = {.method = "GET", .url = url("/echo"), .bearer = "eyJ.token.sig"};

        require_server();
        c = client(true);
        assert_int_equal(http_client_send(c, &req, &r, &err), 0);
        j = body_json(r);
        assert_string_equal(jstr(j, "authorization"), "Bearer eyJ.token.sig");
}

/* A secret in the request (header, bearer, body, query) or in error responses (body, cookie)
 * appears in no error message and no retry message. */
static void test_no_secret_in_messages(void **state)
{
        static const char *const headers[] = {"X-Api-Key: " SECRET, "Cookie: other=" SECRET, NULL};
        _cleanup_(http_client_freep) struct http_client *c = NULL;
        _cleanup_(http_response_freep) struct http_response *r = NULL;
        struct cvm_error err = {};
        struct http_request req = {
                .method = "POST",
                .url = url("/echo?sig=" SECRET),
                .headers = headers,
                .bearer = SECRET,
                .body = SECRET,
                .body_size = strlen(SECRET),
                .content_type = "application/json",
                .accept = "application/json",
        };

        require_server();
        fault("{\"kind\":\"status\",\"status\":500,\"count\":2,\"body\":\"{\\\"error\\\":\\\"" SECRET
              "\\\"}\","
              "\"headers\":{\"Set-Cookie\":\"kbs-session-id=" SECRET "\"}}");
        fault("{\"kind\":\"status\",\"status\":403,\"body\":\"denied " SECRET
              "\",\"content_type\":\"text/plain\"}");
        c = client(true);
        assert_int_equal(http_client_send(c, &req, &r, &err), -EPROTO);
        assert_int_equal(r->status, 403);
        /* The secret really travelled: the server returned it in the error body. */
        assert_non_null(strstr((const char *)r->body, SECRET));
        assert_contains(err.message, "POST https://127.0.0.1:");
        assert_contains(err.message, "/echo: attempt 3/5: HTTP 403, not retried");
        assert_not_contains(err.message, SECRET);
        assert_not_contains(err.message, "sig=");
        assert_int_equal(t.n_retries, 2);
        for (unsigned i = 0; i < t.n_retries; i++)
                assert_not_contains(t.retries[i], SECRET);
}

/* ---- configuration ----------------------------------------------------------------------------- */

static void test_config_errors(void **state)
{
        static const char *const bad_host[] = {"169.254.169.254/x", NULL};
        struct http_client_config cfg = {};
        struct http_client *c = NULL;
        struct cvm_error err = {};

        cfg.ca_file = "/nonexistent/ca.pem";
        assert_int_equal(http_client_new(&cfg, &c, &err), -ENOENT);
        assert_contains(err.message, "/nonexistent/ca.pem");
        assert_null(c);

        cfg = (struct http_client_config){.plain_http_hosts = bad_host};
        cvm_error_clear(&err);
        assert_int_equal(http_client_new(&cfg, &c, &err), -EINVAL);

        cfg = (struct http_client_config){.max_attempts = 1000};
        cvm_error_clear(&err);
        assert_int_equal(http_client_new(&cfg, &c, &err), -EINVAL);
        assert_null(c);

        cfg = (struct http_client_config){.max_response_size = SIZE_MAX};
        cvm_error_clear(&err);
        assert_int_equal(http_client_new(&cfg, &c, &err), -EINVAL);
        assert_null(c);

        /* All defaults. */
        assert_int_equal(http_client_new(NULL, &c, &err), 0);
        assert_true(http_client_now_usec(c) > 0);
        assert_null(http_client_free(c));
        assert_null(http_client_free(NULL));
        http_response_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup(fn, test_setup)
                T(test_get_json),
                T(test_methods_body_headers),
                T(test_empty_body),
                T(test_connection_reuse),
                T(test_retry_503_then_success),
                T(test_retry_each_fault),
                T(test_retries_exhausted),
                T(test_per_request_attempts),
                T(test_no_retry_on_4xx),
                T(test_redirect_not_followed),
                T(test_retry_after_seconds),
                T(test_retry_after_http_date),
                T(test_retry_after_beyond_deadline),
                T(test_backoff_beyond_deadline),
                T(test_deadline_with_hang),
                T(test_deadline_already_passed),
                T(test_connection_refused),
                T(test_size_limit),
                T(test_slow_body),
                T(test_untrusted_certificate),
                T(test_system_trust_rejects_test_ca),
                T(test_plain_http_policy),
                T(test_bad_requests),
                T(test_content_type_mismatch),
                T(test_environment_proxy_ignored),
                T(test_cookie_jar),
                T(test_bearer),
                T(test_no_secret_in_messages),
                T(test_config_errors),
#undef T
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
