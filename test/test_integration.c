/*
 * test_integration.c — ducta as a process, spoken to by real clients.
 *
 * Every test starts the server binary ($DUCTA_BIN, else ./ducta) with
 * `--port 0 --threads 2 --no-pin`, learns its port from the one line it
 * prints, talks to it over 127.0.0.1 only (curl, hey, python3's http.client
 * and asyncio through test/clients.py, and raw sockets from here), then
 * stops it with SIGTERM and requires exit status 0 within 6 s and a stderr
 * free of sanitizer reports.
 *
 * The server, the sockets and the response reader are test/harness.h's
 * (shared with test_strict.c); here: finding test/clients.py, curl's -i
 * output parsed as a response, then the tests, numbered as in the brief
 * that asked for them.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "harness.h"

/* test/clients.py: next to this file when run from the repository root
 * (build.sh does), else found from $DUCTA_BIN (REPO/build/VARIANT/ducta). */
static const char *clients_py(void)
{
    static char path[PATH_MAX];
    if (access("test/clients.py", R_OK) == 0)
        return "test/clients.py";
    const char *bin = getenv("DUCTA_BIN");
    if (bin && *bin) {
        snprintf(path, sizeof path, "%s", bin);
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(path, '/');
            if (!slash)
                break;
            *slash = 0;
        }
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "/test/clients.py");
        if (access(path, R_OK) == 0)
            return path;
    }
    cr_assert_fail("cannot find test/clients.py (run from the repository "
                   "root or set DUCTA_BIN)");
    return NULL;
}

#define IT(name)                                                             \
    Test(integration, name, .fini = harness_teardown, .timeout = 60)

/* ---- curl ------------------------------------------------------------------ */

/* curl -sS [extra...] http://127.0.0.1:PORT/path, its output (with -i or
 * -I: head and body) parsed into *rp; exactly one response, nothing else. */
static void curl(struct resp *rp, const char *path, int head_only, ...)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv.port, path);
    char *argv[32] = {"curl", "-sS", "--noproxy", "*", "--max-time", "5",
                      head_only ? "-I" : "-i"};
    int argc = 7;
    va_list ap;
    va_start(ap, head_only);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 30;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc++] = url;
    argv[argc] = NULL;
    struct run r;
    run_cmd(&r, 10000, argv);
    cr_assert(!r.timed_out && WIFEXITED(r.status) &&
              WEXITSTATUS(r.status) == 0,
              "curl %s failed (status %d): %s", url, r.status,
              r.err.p);
    *rp = (struct resp){0};
    long n = parse_resp(r.out.p, r.out.len, rp, head_only);
    cr_assert(n > 0 && (size_t)n == r.out.len,
              "curl %s: output is not exactly one response:\n%s", url,
              r.out.p);
}

/* ==== 1. curl: the routes, their headers, HEAD, 405 ======================== */

IT(curl_plaintext)
{
    server_start();
    struct resp rp;
    curl(&rp, "/plaintext", 0, NULL);
    check_plain(&rp, "GET /plaintext");
    check_common(&rp, 0, "GET /plaintext");
    cr_assert(!hdr_count(&rp, "Connection"),
              "a 1.1 keep-alive response needs no Connection header:\n%s",
              rp.head);
    /* a query string does not change the route */
    curl(&rp, "/plaintext?x=1&y", 0, NULL);
    check_plain(&rp, "GET /plaintext?x=1&y");
    server_stop();
}

IT(curl_json)
{
    server_start();
    struct resp rp;
    curl(&rp, "/json", 0, NULL);
    check_json(&rp, "GET /json");
    check_common(&rp, 0, "GET /json");
    server_stop();
}

IT(curl_not_found)
{
    server_start();
    const char *paths[] = {"/", "/nope", "/plaintext/", "/PLAINTEXT",
                           "/json.txt"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp rp;
        curl(&rp, paths[i], 0, NULL);
        cr_assert(rp.status == 404, "GET %s: status %d, want 404:\n%s",
                  paths[i], rp.status, rp.head);
        check_common(&rp, 0, paths[i]);
        cr_assert(rp.body_len > 0 && rp.body_len < 64,
                  "GET %s: 404 body should be short and present, got %zu "
                  "bytes", paths[i], rp.body_len);
        cr_assert(!hdr_count(&rp, "Allow"), "GET %s: Allow on a 404",
                  paths[i]);
    }
    server_stop();
}

IT(curl_head)
{
    server_start();
    struct resp rp;
    curl(&rp, "/plaintext", 1, NULL);
    cr_assert(rp.status == 200, "HEAD /plaintext: status %d", rp.status);
    cr_assert(media_type_is(&rp, "text/plain"),
              "HEAD /plaintext: Content-Type:\n%s", rp.head);
    check_common(&rp, 1, "HEAD /plaintext");
    cr_assert(rp.content_length == (long)strlen(PLAIN_BODY),
              "HEAD /plaintext: Content-Length %ld, want the GET length %zu",
              rp.content_length, strlen(PLAIN_BODY));

    /* curl would not show a body that should not be there; a raw socket
     * does: a HEAD followed by a GET on one connection only parses if the
     * HEAD response carried no body bytes. */
    int fd = connect_server();
    struct reader *r = reader_for(fd);
    send_str(fd, "HEAD /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect_response(r, &rp, 1, "raw HEAD /plaintext");
    cr_assert(rp.status == 200 && rp.content_length == 13,
              "raw HEAD: %d, Content-Length %ld", rp.status,
              rp.content_length);
    cr_assert(quiet_for(r, 200), "bytes after a HEAD response: '%.*s'",
              (int)r->len, r->buf);
    send_str(fd, "HEAD /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                 "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Connection: close\r\n\r\n");
    expect_response(r, &rp, 1, "raw HEAD /json");
    cr_assert(rp.status == 200 && rp.content_length == 27 &&
              media_type_is(&rp, "application/json"),
              "raw HEAD /json:\n%s", rp.head);
    expect_response(r, &rp, 0, "GET /json after HEAD /json");
    check_json(&rp, "GET /json after HEAD /json");
    cr_assert(has_conn_close(&rp), "Connection: close not echoed:\n%s",
              rp.head);
    cr_assert(read_eof(r) == 1, "no clean EOF after Connection: close");
    close(fd);
    server_stop();
}

IT(curl_post_405)
{
    server_start();
    struct resp rp;
    const char *paths[] = {"/plaintext", "/json"};
    for (int i = 0; i < 2; i++) {
        curl(&rp, paths[i], 0, "-d", "hello=1", NULL);
        cr_assert(rp.status == 405, "POST %s: status %d, want 405:\n%s",
                  paths[i], rp.status, rp.head);
        check_common(&rp, 0, paths[i]);
        char v[128];
        cr_assert(hdr(&rp, "Allow", v, sizeof v),
                  "POST %s: 405 without Allow:\n%s", paths[i], rp.head);
        cr_assert(strstr(v, "GET") && strstr(v, "HEAD") && !strstr(v, "POST"),
                  "POST %s: Allow '%s' should list GET and HEAD only",
                  paths[i], v);
    }
    curl(&rp, "/plaintext", 0, "-X", "DELETE", NULL);
    cr_assert(rp.status == 405, "DELETE /plaintext: status %d", rp.status);
    /* a POST to a path that does not exist is a 404, not a 405 */
    curl(&rp, "/nope", 0, "-d", "x", NULL);
    cr_assert(rp.status == 404, "POST /nope: status %d, want 404",
              rp.status);
    /* and the body of a POST did not confuse the connection: GET works */
    curl(&rp, "/plaintext", 0, NULL);
    check_plain(&rp, "GET after POSTs");
    server_stop();
}

/* ==== 2. python http.client: keep-alive, HTTP/1.0, Connection: close ======= */

static void python_check(const char *check)
{
    char port[16];
    snprintf(port, sizeof port, "%d", srv.port);
    char *argv[] = {"python3", (char *)clients_py(), (char *)check, port,
                    NULL};
    struct run r;
    run_cmd(&r, 30000, argv);
    cr_assert(!r.timed_out, "clients.py %s timed out; output:\n%s%s", check,
              r.out.p, r.err.p);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
              "clients.py %s failed (status %d); output:\n%s%s", check,
              r.status, r.out.p, r.err.p);
}

IT(python_keepalive_reuses_socket)
{
    server_start();
    python_check("keepalive");
    server_stop();
}

IT(python_http10)
{
    server_start();
    python_check("http10");
    server_stop();
}

IT(python_connection_close)
{
    server_start();
    python_check("close");
    server_stop();
}

/* ==== 3. hey: 2000 requests over 50 connections, all 200 ================== */

IT(hey_2000_all_200)
{
    server_start();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/plaintext", srv.port);
    char *argv[] = {"hey", "-n", "2000", "-c", "50", url, NULL};
    struct run r;
    run_cmd(&r, 45000, argv);
    const char *out = r.out.p;
    cr_assert(!r.timed_out && WIFEXITED(r.status) &&
              WEXITSTATUS(r.status) == 0, "hey failed (status %d):\n%s%s",
              r.status, out, r.err.p);
    const char *dist = strstr(out, "Status code distribution:");
    cr_assert(dist, "no status code distribution in hey's output:\n%s", out);
    /* lines "  [200]\t2000 responses" until a blank line */
    int codes = 0, code = 0;
    long count = 0;
    for (const char *p = strchr(dist, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        int c;
        long n;
        if (sscanf(p + 1, " [%d] %ld responses", &c, &n) != 2)
            break;
        codes++;
        code = c;
        count = n;
    }
    cr_assert(codes == 1 && code == 200 && count == 2000,
              "want exactly [200] 2000 responses; hey said:\n%s", out);
    cr_assert(!strstr(out, "Error distribution"),
              "hey reports errors:\n%s", out);
    server_stop();
}

/* ==== 4. 1000 concurrent keep-alive connections, 10 requests each ========== */

IT(thousand_keepalive_connections)
{
    server_start();
    python_check("many");
    /* and the server is still fine afterwards */
    struct resp rp;
    curl(&rp, "/json", 0, NULL);
    check_json(&rp, "GET /json after the 1000 connections");
    server_stop();
}

/* ==== 5. pipelining ======================================================== */

/* The i-th request of a pipeline cycles through four distinct answers, so
 * that a response out of order cannot pass. */
static const char *pipe_request(int i, char *tmp, size_t cap)
{
    switch (i % 4) {
    case 0: return "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    case 1: return "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    case 2:
        snprintf(tmp, cap, "GET /missing/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "\r\n", i);
        return tmp;
    default: return "HEAD /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    }
}

static void check_pipe_response(int i, const struct resp *rp)
{
    char what[64];
    snprintf(what, sizeof what, "pipelined response %d", i);
    switch (i % 4) {
    case 0: check_plain(rp, what); break;
    case 1: check_json(rp, what); break;
    case 2:
        cr_assert(rp->status == 404 && rp->body_len > 0,
                  "%s: want a 404 with a body:\n%s", what, rp->head);
        break;
    default:
        cr_assert(rp->status == 200 && rp->content_length == 27 &&
                  rp->body_len == 0 && media_type_is(rp, "application/json"),
                  "%s: want the HEAD /json answer:\n%s", what, rp->head);
    }
    cr_assert(!has_conn_close(rp), "%s: unexpected Connection: close",
              what);
}

struct writer_arg {
    int fd;
    const struct buf *data;
    int rc, err;
};

static void *writer_main(void *arg)
{
    struct writer_arg *w = arg;
    w->rc = send_all(w->fd, w->data->p, w->data->len);
    w->err = errno;
    return NULL;
}

/* n requests in one write (from a thread, so that a pipeline larger than
 * the socket buffers cannot deadlock against our reading), then n
 * responses in order, then silence; then one more request to show the
 * connection is still in step. */
static void pipeline(int n)
{
    int fd = connect_server();
    struct reader *r = reader_for(fd);
    struct buf reqs = {0};
    char tmp[128];
    for (int i = 0; i < n; i++)
        buf_printf(&reqs, "%s", pipe_request(i, tmp, sizeof tmp));
    struct writer_arg wa = {fd, &reqs, 0, 0};
    pthread_t t;
    cr_assert(pthread_create(&t, NULL, writer_main, &wa) == 0);
    int i = 0, rc = RD_OK;
    struct resp rp;
    for (; i < n; i++) {
        rc = read_response(r, &rp, i % 4 == 3);
        if (rc != RD_OK)
            break;
        check_pipe_response(i, &rp);
    }
    pthread_join(t, NULL);
    cr_assert(wa.rc == 0, "writing %d pipelined requests (%zu bytes): %s",
              n, reqs.len, strerror(wa.err));
    cr_assert(i == n, "pipeline of %d: got %d responses, then %s (%s)", n,
              i, r_name(rc), r->err ? strerror(r->err) : "-");
    cr_assert(quiet_for(r, 200), "pipeline of %d: extra bytes after the "
              "last response: '%.*s'", n, (int)r->len, r->buf);
    send_str(fd, "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Connection: close\r\n\r\n");
    expect_response(r, &rp, 0, "request after the pipeline");
    check_json(&rp, "request after the pipeline");
    cr_assert(has_conn_close(&rp) && read_eof(r) == 1,
              "Connection: close after the pipeline not honoured");
    close(fd);
}

IT(pipelining_2)
{
    server_start();
    pipeline(2);
    server_stop();
}

IT(pipelining_16)
{
    server_start();
    pipeline(16);
    server_stop();
}

/* More requests than one read buffer holds and more response bytes than
 * one write buffer: the batch must be flushed and resumed in order. */
IT(pipelining_600)
{
    server_start();
    pipeline(600);
    server_stop();
}

/* Pipelined requests behind a Connection: close are not answered: the
 * close comes right after the response that asked for it. */
IT(pipelining_stops_at_close)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_for(fd);
    send_str(fd, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                 "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Connection: close\r\n\r\n"
                 "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    struct resp rp;
    expect_response(r, &rp, 0, "first");
    check_plain(&rp, "first");
    expect_response(r, &rp, 0, "second");
    check_json(&rp, "second");
    cr_assert(has_conn_close(&rp), "second: no Connection: close");
    int e = read_eof(r);
    cr_assert(e == 1, "after Connection: close: want EOF, got %s",
              e == 0 ? "more bytes" : e == -1 ? "a reset" : "a timeout");
    close(fd);
    server_stop();
}

/* A request with a body (here a 405) is skipped by its Content-Length, so
 * the request behind it in the same write is read from the right place. */
IT(pipelining_skips_request_body)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_for(fd);
    send_str(fd, "POST /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: 26\r\n\r\n"
                 "GET /nope HTTP/1.1\r\nX: y\r\n"
                 "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    struct resp rp;
    expect_response(r, &rp, 0, "POST with a body");
    cr_assert(rp.status == 405, "POST with a body: status %d:\n%s",
              rp.status, rp.head);
    expect_response(r, &rp, 0, "GET behind the body");
    check_json(&rp, "GET behind the body");
    /* and a body split across two writes */
    send_str(fd, "POST /json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: 10\r\n\r\n01234");
    cr_assert(quiet_for(r, 100), "answered before the body arrived");
    send_str(fd, "56789GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect_response(r, &rp, 0, "POST with a split body");
    cr_assert(rp.status == 405, "POST with a split body: status %d",
              rp.status);
    expect_response(r, &rp, 0, "GET behind the split body");
    check_plain(&rp, "GET behind the split body");
    close(fd);
    server_stop();
}

/* ==== 6. SIGTERM under load ================================================= */

enum { LOADERS = 8, PROBES = 4 };

static atomic_int load_stop;       /* main thread: the server has exited */
static atomic_int term_sent;       /* SIGTERM has been sent */
static atomic_int stop_confirmed;  /* the server has begun draining */
static atomic_long load_total;     /* responses, all threads */

struct loader {
    pthread_t tid;
    int id;
    long ok;              /* complete, correct responses */
    long conns;           /* connections made */
    long idle_closes;     /* closed between responses (no byte of one) */
    long close_responses; /* responses with Connection: close, then EOF */
    long partial;         /* a response cut short: must stay 0 */
    long wrong;           /* wrong status/body, garbage, timeout, bytes
                             after Connection: close: must stay 0 */
    long late_keepalive;  /* answer to a request sent after the drain began
                             without Connection: close: must stay 0 */
    int ended;            /* ended because connect failed after SIGTERM */
    int end_errno;        /* how: ECONNREFUSED, or a reset mid-handshake */
    char note[256];       /* the first problem, for the message */
    struct reader rd;     /* this thread's connection */
    struct resp rp;
};

static struct loader loaders[LOADERS];

static void note(struct loader *l, const char *fmt, ...)
{
    if (l->note[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->note, sizeof l->note, fmt, ap);
    va_end(ap);
}

static void *loader_main(void *arg)
{
    struct loader *l = arg;
    struct reader *r = &l->rd;
    struct resp *rp = &l->rp;
    /* Connect even when load_stop is set: the main thread sets it once the
     * server has exited, and a loader that was slow to come back here (a
     * loaded machine, ASan) must still see the listeners closed rather
     * than give up before trying. */
    for (;;) {
        int fd = tcp_connect(srv.port);
        if (fd < 0) {
            /* after SIGTERM the listeners close: refused, or reset when
             * the close races the handshake; before it, a failure */
            if (atomic_load(&term_sent)) {
                l->ended = 1;
                l->end_errno = errno;
            } else {
                note(l, "loader %d: connect before SIGTERM: %s", l->id,
                     strerror(errno));
            }
            break;
        }
        if (atomic_load(&load_stop)) {
            note(l, "loader %d: connected after the server exited", l->id);
            close(fd);
            break;
        }
        l->conns++;
        r->fd = fd;
        r->len = 0;
        r->err = 0;
        for (long i = 0; !atomic_load(&load_stop); i++) {
            int json = (int)((i + l->id) % 2);
            const char *req = json
                ? "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                : "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            int late = atomic_load(&stop_confirmed);
            if (send_all(fd, req, strlen(req)) != 0) {
                l->idle_closes++;  /* closed before we asked: no response */
                break;
            }
            int rc = read_response(r, rp, 0);
            if (rc == RD_CLOSED) {
                l->idle_closes++;
                break;
            }
            if (rc != RD_OK) {
                if (rc == RD_PARTIAL)
                    l->partial++;
                else
                    l->wrong++;
                note(l, "loader %d, connection %ld, request %ld: %s (%s); "
                     "%zu bytes of it: '%.*s'", l->id, l->conns, i,
                     r_name(rc), r->err ? strerror(r->err) : "-", r->len,
                     (int)(r->len > 120 ? 120 : r->len), r->buf);
                break;
            }
            const char *want = json ? JSON_BODY : PLAIN_BODY;
            if (rp->status != 200 || rp->body_len != strlen(want) ||
                memcmp(rp->body, want, rp->body_len)) {
                l->wrong++;
                note(l, "loader %d: wrong response %d '%s'", l->id,
                     rp->status, rp->body);
                break;
            }
            l->ok++;
            atomic_fetch_add(&load_total, 1);
            if (has_conn_close(rp)) {
                l->close_responses++;
                int e = read_eof(r);
                if (e != 1) {
                    l->wrong++;
                    note(l, "loader %d: after Connection: close, %s", l->id,
                         e == 0 ? "more bytes" : e == -1 ? "a reset"
                                                         : "no EOF");
                }
                break;
            }
            if (late) {
                l->late_keepalive++;
                note(l, "loader %d: a request sent after the drain began "
                     "was answered without Connection: close", l->id);
            }
        }
        close(fd);
    }
    return NULL;
}

IT(sigterm_under_load)
{
    server_start();
    atomic_store(&load_stop, 0);
    atomic_store(&stop_confirmed, 0);
    atomic_store(&load_total, 0);
    atomic_store(&term_sent, 0);

    /* Probes: connections holding half a request across the SIGTERM.
     * Their requests are in flight, so the drain must answer them, and
     * with Connection: close. */
    int probe[PROBES];
    struct reader *pr[PROBES];
    for (int i = 0; i < PROBES; i++) {
        probe[i] = connect_server();
        pr[i] = reader_for(probe[i]);
        send_str(probe[i], "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    }

    struct loader *ls = loaders;
    memset(loaders, 0, sizeof loaders);
    for (int i = 0; i < LOADERS; i++) {
        ls[i].id = i;
        cr_assert(pthread_create(&ls[i].tid, NULL, loader_main, &ls[i]) == 0);
    }
    /* mid-load: enough responses that every loader is going */
    int64_t until = now_ms() + 10000;
    while (atomic_load(&load_total) < 3000 && now_ms() < until)
        sleep_ms(5);
    long before = atomic_load(&load_total);
    atomic_store(&term_sent, 1);
    server_term();

    /* The drain has begun on every worker once no listener accepts. */
    int refused = 0;
    while (!refused && now_ms() - srv.term_at < 3000) {
        int fd = tcp_connect(srv.port);
        if (fd < 0 && errno == ECONNREFUSED)
            refused = 1;
        else if (fd >= 0)
            close(fd);
        if (!refused)
            sleep_ms(5);
    }
    atomic_store(&stop_confirmed, 1);
    int64_t refused_after = now_ms() - srv.term_at;

    /* finish the probes' requests */
    int probe_ok = 0;
    char probe_msg[8192] = "";
    for (int i = 0; i < PROBES; i++) {
        if (send_all(probe[i], "\r\n", 2) != 0) {
            snprintf(probe_msg, sizeof probe_msg, "probe %d: send: %s", i,
                     strerror(errno));
            continue;
        }
        struct resp rp;
        int rc = read_response(pr[i], &rp, 0);
        int e = rc == RD_OK ? read_eof(pr[i]) : -3;
        if (rc == RD_OK && rp.status == 200 &&
            rp.body_len == strlen(PLAIN_BODY) && has_conn_close(&rp) &&
            e == 1)
            probe_ok++;
        else if (!probe_msg[0])
            snprintf(probe_msg, sizeof probe_msg, "probe %d: got %s%s%.400s, "
                     "then %s", i, r_name(rc), rc == RD_OK ? ":\n" : "",
                     rc == RD_OK ? rp.head : "",
                     e == 1 ? "EOF" : e == 0 ? "more bytes"
                                    : e == -1 ? "a reset" : "no EOF");
        close(probe[i]);
    }

    server_wait_exit();
    atomic_store(&load_stop, 1);
    long ok = 0, partial = 0, wrong = 0, late = 0, idle = 0, cc = 0,
         conns = 0;
    int ended = 0;
    const char *first_note = NULL;
    for (int i = 0; i < LOADERS; i++) {
        pthread_join(ls[i].tid, NULL);
        ok += ls[i].ok;
        partial += ls[i].partial;
        wrong += ls[i].wrong;
        late += ls[i].late_keepalive;
        idle += ls[i].idle_closes;
        cc += ls[i].close_responses;
        conns += ls[i].conns;
        ended += ls[i].ended;
        if (!first_note && ls[i].note[0])
            first_note = ls[i].note;
    }
    cr_log_info("SIGTERM after %ld responses; refused after %lld ms; total "
                "%ld responses on %ld connections; %ld closes between "
                "responses, %ld Connection: close responses", before,
                (long long)refused_after, ok, conns, idle, cc);
    cr_assert(refused, "the server still accepted connections 3 s after "
              "SIGTERM");
    cr_assert(before >= 3000, "the load never got going (%ld responses)",
              before);
    cr_assert(partial == 0, "%ld responses were cut short by the shutdown: "
              "%s", partial, first_note);
    cr_assert(wrong == 0, "%ld bad responses under load: %s", wrong,
              first_note);
    cr_assert(late == 0, "%ld responses after the drain began lacked "
              "Connection: close: %s", late, first_note);
    cr_assert(probe_ok == PROBES, "in-flight requests across SIGTERM: %d "
              "of %d answered 200 with Connection: close then EOF; %s",
              probe_ok, PROBES, probe_msg);
    cr_assert(ended == LOADERS, "%d of %d loaders saw the listeners close: "
              "%s", ended, LOADERS, first_note ? first_note : "");
}

/* ==== 7. the command line ================================================== */

static void run_ducta(struct run *r, char *const args[])
{
    char *argv[16] = {(char *)ducta_bin()};
    int n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    run_cmd(r, 5000, argv);
}

IT(cli_help_and_version)
{
    struct run r;
    run_ducta(&r, (char *[]){"--help", NULL});
    cr_assert(!r.timed_out && WIFEXITED(r.status) &&
              WEXITSTATUS(r.status) == 0, "--help: status %d", r.status);
    const char *flags[] = {"--port", "--bind", "--threads", "--max-conns",
                           "--dotfiles", "--version"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_assert(strstr(r.out.p, flags[i]),
                  "--help does not mention %s:\n%s", flags[i],
                  r.out.p);
    cr_assert(r.err.len == 0, "--help wrote to stderr: %s", r.err.p);

    run_ducta(&r, (char *[]){"--version", NULL});
    cr_assert(!r.timed_out && WIFEXITED(r.status) &&
              WEXITSTATUS(r.status) == 0, "--version: status %d", r.status);
    cr_assert(!strcmp(r.out.p, "ducta " DUCTA_VERSION "\n"),
              "--version printed '%s'", r.out.p);
    cr_assert(r.err.len == 0, "--version wrote to stderr: %s",
              r.err.p);
}

/* A rejected command line: non-zero exit, nothing on stdout, exactly one
 * line on stderr, which contains `mention`. */
static void expect_rejected(char *const args[], const char *mention)
{
    struct run r;
    run_ducta(&r, args);
    char shown[256] = "";
    for (int i = 0; args[i]; i++) {
        size_t n = strlen(shown);
        snprintf(shown + n, sizeof shown - n, " %s", args[i]);
    }
    const char *err = r.err.p;
    cr_assert(!r.timed_out, "ducta%s: still running after 5 s (accepted?); "
              "stderr: %s", shown, err);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0,
              "ducta%s: want a non-zero exit, got status %d", shown,
              r.status);
    cr_assert(r.out.len == 0, "ducta%s: wrote to stdout: %s", shown,
              r.out.p);
    cr_assert(r.err.len > 1 && count_char(err, '\n') == 1 &&
              err[r.err.len - 1] == '\n',
              "ducta%s: want exactly one line on stderr, got:\n%s", shown,
              err);
    cr_assert(strstr(err, mention), "ducta%s: stderr does not name '%s': %s",
              shown, mention, err);
}

IT(cli_rejects_bad_arguments)
{
    /* --port 0 where the port is not the point: if a bad value were
     * accepted, the server would at least not take port 8080 */
    expect_rejected((char *[]){"--port", "0", "--bogus", NULL}, "--bogus");
    expect_rejected((char *[]){"-x", NULL}, "-x");
    expect_rejected((char *[]){"--port", "70000", NULL}, "70000");
    expect_rejected((char *[]){"--port=70000", NULL}, "70000");
    expect_rejected((char *[]){"--port", "-1", NULL}, "--port");
    expect_rejected((char *[]){"--port", "abc", NULL}, "abc");
    expect_rejected((char *[]){"--port", "80x", NULL}, "80x");
    expect_rejected((char *[]){"--port", "", NULL}, "--port");
    expect_rejected((char *[]){"--port", NULL}, "--port");
    expect_rejected((char *[]){"--port", "0", "--threads", "0", NULL},
                    "--threads");
    expect_rejected((char *[]){"--port", "0", "--max-conns", "0", NULL},
                    "--max-conns");
    expect_rejected((char *[]){"--port", "0", "--bind", "nonsense", NULL},
                    "nonsense");
    expect_rejected((char *[]){"--port", "0", "--bind", "127.0.0.256", NULL},
                    "127.0.0.256");
}

/* SIGINT drains and exits 0 like SIGTERM, idle connections or not. */
IT(sigint_exits_0)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_for(fd);
    send_str(fd, "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    struct resp rp;
    expect_response(r, &rp, 0, "before SIGINT");
    check_json(&rp, "before SIGINT");
    server_signal(SIGINT);
    /* the idle keep-alive connection is closed by the drain */
    int e = read_eof(r);
    cr_assert(e == 1, "idle connection on SIGINT: want EOF, got %s",
              e == 0 ? "bytes" : e == -1 ? "a reset" : "a timeout");
    close(fd);
    server_wait_exit();
    cr_assert(strstr(server_log(), "SIGINT"), "stderr does not mention "
              "SIGINT: %s", server_log());
}

IT(cli_port_taken)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
              listen(fd, 16) == 0, "bind/listen: %s", strerror(errno));
    socklen_t len = sizeof sa;
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(sa.sin_port));
    expect_rejected((char *[]){"--port", port, "--threads", "2", "--no-pin",
                               NULL}, port);
    close(fd);
}

/* ==== 8. bad input: an error, a close, and the server carries on =========== */

/* Send `req` on a new connection; expect `status` with Connection: close,
 * then a clean EOF. */
static void expect_error(const char *req, size_t len, int status,
                         const char *what)
{
    int fd = connect_server();
    struct reader *r = reader_for(fd);
    cr_assert(send_all(fd, req, len) == 0, "%s: send: %s", what,
              strerror(errno));
    struct resp rp;
    expect_response(r, &rp, 0, what);
    cr_assert(rp.status == status, "%s: status %d, want %d:\n%s", what,
              rp.status, status, rp.head);
    check_common(&rp, 0, what);
    cr_assert(has_conn_close(&rp), "%s: no Connection: close:\n%s", what,
              rp.head);
    int e = read_eof(r);
    cr_assert(e == 1, "%s: after the error, want EOF, got %s", what,
              e == 0 ? "more bytes" : e == -1 ? "a reset" : "a timeout");
    close(fd);
}

#define EXPECT_ERROR(lit, status) \
    expect_error((lit), sizeof(lit) - 1, (status), (lit))

IT(bad_input_gets_error_and_close)
{
    server_start();
    /* a keep-alive connection opened before, used again after */
    int keep = connect_server();
    struct reader *r = reader_for(keep);
    struct resp rp;
    send_str(keep, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect_response(r, &rp, 0, "keep-alive before");
    check_plain(&rp, "keep-alive before");

    EXPECT_ERROR("this is not http\r\n\r\n", 400);
    EXPECT_ERROR("\x01\x02\x03 garbage\r\n\r\n", 400);
    EXPECT_ERROR("GET /plaintext HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 505);
    EXPECT_ERROR("GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 505);
    EXPECT_ERROR("GET /plaintext HTTP/1.1\r\n\r\n", 400);
    EXPECT_ERROR("GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                 400);
    EXPECT_ERROR("GET /plaintext HTTP/1.1\nHost: 127.0.0.1\n\n", 400);
    EXPECT_ERROR("GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Content-Length: 1\r\nContent-Length: 1\r\n\r\nxx", 400);

    /* a 20 KB header field */
    struct buf big = {0};
    buf_printf(&big, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "X-Big: ");
    for (int i = 0; i < 20; i++) {
        char kb[1024];
        memset(kb, 'a' + i, sizeof kb);
        buf_add(&big, kb, sizeof kb);
    }
    buf_printf(&big, "\r\n\r\n");
    expect_error(big.p, big.len, 431, "a 20 KB header");

    /* a request line over the 8 KB limit */
    struct buf uri = {0};
    buf_printf(&uri, "GET /");
    for (int i = 0; i < 10; i++) {
        char kb[1024];
        memset(kb, 'u', sizeof kb);
        buf_add(&uri, kb, sizeof kb);
    }
    buf_printf(&uri, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect_error(uri.p, uri.len, 414, "a 10 KB request line");

    /* an error after a good request on the same connection: the good one
     * is answered, then the error, then the close */
    int fd = connect_server();
    struct reader *r2 = reader_for(fd);
    send_str(fd, "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                 "BAD REQUEST LINE\r\n\r\n");
    expect_response(r2, &rp, 0, "good before bad");
    check_json(&rp, "good before bad");
    expect_response(r2, &rp, 0, "bad after good");
    cr_assert(rp.status == 400 && has_conn_close(&rp),
              "bad after good: want 400 with Connection: close:\n%s",
              rp.head);
    cr_assert(read_eof(r2) == 1, "bad after good: no clean EOF");
    close(fd);

    /* the server still serves: the old connection and a new one */
    send_str(keep, "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect_response(r, &rp, 0, "keep-alive after");
    check_json(&rp, "keep-alive after");
    close(keep);
    struct resp cr;
    curl(&cr, "/plaintext", 0, NULL);
    check_plain(&cr, "a fresh connection after the bad input");
    server_stop();
}
