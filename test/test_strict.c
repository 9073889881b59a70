/*
 * test_strict.c — ducta's strictness over real sockets: what it rejects,
 * with which status, and how it closes afterwards; how it frames bodies
 * (Content-Length, chunked, Expect: 100-continue); the limits as flags.
 *
 * Every test starts the server binary ($DUCTA_BIN, else ./ducta) with
 * `--port 0 --threads 2 --no-pin` (plus limits where a test says so),
 * talks to it over 127.0.0.1 only, and stops it with SIGTERM, requiring
 * exit status 0 and a stderr free of sanitizer reports.
 *
 * Every rejection is checked the same way (reject() below): the exact
 * status, "Connection: close" in the response, exactly one response and
 * then a clean EOF — recv() returns 0, not ECONNRESET, and no second
 * response, even when a complete second request was hidden in or after the
 * bad one (request smuggling) — and then a fresh connection is served.
 *
 * Each test's comment names the RFC 9112 (HTTP/1.1) or RFC 9110 (HTTP
 * semantics) section whose rule it checks. The helpers (server, sockets,
 * response reader) follow test_integration.c's approach.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SMUGGLED "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"

static char tmp_files[4][64];  /* removed by teardown() */

/* Criterion runs this after every test, passed or failed. */
static void teardown(void)
{
    harness_teardown();
    for (size_t i = 0; i < sizeof tmp_files / sizeof tmp_files[0]; i++) {
        if (tmp_files[i][0])
            unlink(tmp_files[i]);
        tmp_files[i][0] = 0;
    }
}

#define ST(name) Test(strict, name, .fini = teardown, .timeout = 60)

static struct resp resp_pool[2];

static void check_echo(const struct resp *rp, const void *want, size_t n,
                       const char *what)
{
    cr_assert(rp->status == 200, "%s: status %d, want 200:\n%s", what,
              rp->status, rp->head);
    cr_assert(media_type_is(rp, "application/octet-stream"),
              "%s: Content-Type is not application/octet-stream:\n%s", what,
              rp->head);
    cr_assert(rp->body_len == n, "%s: echoed %zu bytes, want %zu ('%.*s')",
              what, rp->body_len, n,
              (int)(rp->body_len > 200 ? 200 : rp->body_len), rp->body);
    size_t i = 0;
    while (i < n && rp->body[i] == ((const char *)want)[i])
        i++;
    cr_assert(i == n, "%s: echoed body differs from what was sent at byte "
              "%zu of %zu", what, i, n);
}

/* ---- the two checks every test leans on --------------------------------- */

/* A fresh connection gets GET /plaintext answered: the server carries on. */
static void still_serving(const char *after)
{
    int fd = connect_server();
    struct reader *r = reader_in(1, fd);
    struct resp *rp = &resp_pool[1];
    send_str(fd, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    char what[300];
    snprintf(what, sizeof what, "fresh connection after [%.200s]", after);
    expect_response(r, rp, 0, what);
    check_plain(rp, what);
    close(fd);
}

/* Printable form of a request for messages. */
static const char *shown(const char *req, size_t len)
{
    static char out[400];
    size_t o = 0;
    for (size_t i = 0; i < len && o < sizeof out - 8; i++) {
        unsigned char c = (unsigned char)req[i];
        if (c == '\r')
            o += (size_t)snprintf(out + o, sizeof out - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(out + o, sizeof out - o, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
    return out;
}

/* Send req[0..len) on a new connection, all in one write. Exactly one
 * response comes back: `status`, with Connection: close, Server: ducta and
 * a Content-Length that matches its body; then a clean EOF — recv() returns
 * 0, not ECONNRESET, and no bytes of a second response (req may hide a
 * complete second request). Then a fresh connection is served. */
static void reject(const char *req, size_t len, int status)
{
    char what[440];
    snprintf(what, sizeof what, "[%s]", shown(req, len));
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_bytes(fd, req, len);
    expect_response(r, rp, 0, what);
    cr_assert(rp->status == status, "%s: status %d, want %d:\n%s", what,
              rp->status, status, rp->head);
    cr_assert(has_conn_close(rp), "%s: no Connection: close:\n%s", what,
              rp->head);
    char v[64];
    cr_assert(hdr(rp, "Server", v, sizeof v) && !strcmp(v, "ducta"),
              "%s: no Server: ducta:\n%s", what, rp->head);
    cr_assert((size_t)rp->content_length == rp->body_len && rp->body_len > 0,
              "%s: want a non-empty body of Content-Length bytes", what);
    int e = read_eof(r);
    cr_assert(e == 1, "%s: after the %d, want a clean EOF, got %s (%s); "
              "buffered: '%.*s'", what, status, eof_name(e),
              r->err ? strerror(r->err) : "-", (int)r->len, r->buf);
    close(fd);
    still_serving(what);
}

#define REJECT(lit, status) reject((lit), sizeof(lit) - 1, (status))

/* One request on a new connection, one response; the connection is closed
 * after. The response is in resp_pool[0]. */
static struct resp *exchange(const char *req, size_t len)
{
    char what[440];
    snprintf(what, sizeof what, "[%s]", shown(req, len));
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    send_bytes(fd, req, len);
    expect_response(r, &resp_pool[0], 0, what);
    close(fd);
    return &resp_pool[0];
}

#define EXCHANGE(lit) exchange((lit), sizeof(lit) - 1)

/* ==== request line (RFC 9112 §3) ========================================= */

/* RFC 9112 §3.1 / RFC 9110 §9.1: method = token; a method with a
 * non-token byte is not a request line at all: 400. */
ST(request_line_method_not_token)
{
    server_start();
    REJECT("GE(T /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("G@T /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET\t/plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT(" GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("G\x80T /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    server_stop();
}

/* RFC 9112 §3: request-line = method SP request-target SP HTTP-version,
 * exactly one SP each; ducta does not do §3's lenient whitespace parsing,
 * so two spaces (either gap) or a trailing space is a 400. */
ST(request_line_single_spaces)
{
    server_start();
    REJECT("GET  /plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET /plaintext  HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1 \r\nHost: x\r\n\r\n", 400);
    REJECT("GET /plain text HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    /* §2.2: a bare CR (or other control byte) in the request line */
    REJECT("GET /plain\rtext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET /plain\x01text HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\rHost: x\r\n\r\n", 400);
    server_stop();
}

/* RFC 9112 §3.2.3 (authority-form, CONNECT only) and RFC 9110 §9.3.6:
 * ducta is not a tunnel; a method it does not implement is a 501
 * (RFC 9110 §15.6.2). A CONNECT tunnel would take the bytes after the
 * head as raw data, so the GET after it must not be answered either. */
ST(request_line_connect_501)
{
    server_start();
    REJECT("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
           "\r\n" SMUGGLED, 501);
    server_stop();
}

/* RFC 9112 §3.2.4: asterisk-form is only for OPTIONS. OPTIONS * is
 * answered 200 (RFC 9110 §9.3.7) and keeps the connection; GET * is 400. */
ST(request_line_asterisk_form)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_str(fd, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_response(r, rp, 0, "OPTIONS *");
    cr_assert(rp->status == 200 && rp->content_length == 0 &&
              !has_conn_close(rp), "OPTIONS *: want 200, empty, kept "
              "open:\n%s", rp->head);
    /* the connection is still usable */
    send_str(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_response(r, rp, 0, "GET after OPTIONS *");
    check_plain(rp, "GET after OPTIONS *");
    close(fd);

    REJECT("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400);
    REJECT("OPTIONS ** HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    server_stop();
}

/* RFC 9112 §3.2.2: a server MUST accept absolute-form; the path comes from
 * the target and the Host field is ignored (§3.2.2). RFC 9112 §3.2: a
 * target that is none of the four forms (no leading '/', no scheme) is a
 * 400. */
ST(request_line_target_forms)
{
    server_start();
    struct resp *rp = EXCHANGE("GET http://example.com/plaintext HTTP/1.1\r\n"
                               "Host: example.com\r\n\r\n");
    check_plain(rp, "absolute-form GET http://example.com/plaintext");
    rp = EXCHANGE("GET http://example.com/json?x=1 HTTP/1.1\r\n"
                  "Host: other.example\r\n\r\n");
    check_json(rp, "absolute-form GET http://example.com/json?x=1");

    REJECT("GET plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET example.com/plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET http:///plaintext HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    REJECT("GET ?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
    server_stop();
}

/* RFC 9110 §15.6.6: a major version ducta does not speak is a 505. */
ST(request_line_version_505)
{
    server_start();
    REJECT("GET /plaintext HTTP/0.9\r\nHost: x\r\n\r\n", 505);
    REJECT("GET /plaintext HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    REJECT("GET /plaintext HTTP/3.0\r\nHost: x\r\n\r\n", 505);
    /* not an HTTP-version at all (§2.3: "HTTP/" DIGIT "." DIGIT): 400 */
    REJECT("GET /plaintext HTTP/1.10\r\nHost: x\r\n\r\n", 400);
    REJECT("GET /plaintext http/1.1\r\nHost: x\r\n\r\n", 400);
    server_stop();
}

/* RFC 9110 §2.5: a request of a later minor version of HTTP/1 than ducta
 * implements is processed as HTTP/1.1, the highest it does: answered, and
 * the connection kept (1.1's default), for every minor from 2 to 9. */
ST(request_line_later_minor_version_is_1_1)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    for (char m = '2'; m <= '9'; m++) {
        char req[80], what[32];
        snprintf(req, sizeof req, "GET /plaintext HTTP/1.%c\r\nHost: x\r\n\r\n",
                 m);
        snprintf(what, sizeof what, "GET HTTP/1.%c", m);
        send_str(fd, req);
        expect_response(r, rp, 0, what);
        check_plain(rp, what);
        cr_assert(!has_conn_close(rp), "%s: closed:\n%s", what, rp->head);
    }
    close(fd);
    server_stop();
}

/* RFC 9112 §3: a method longer than any the server implements SHOULD be
 * answered 501 — also when the line has more wrong with it, and when it
 * runs past --max-request-line (not 414). */
ST(request_line_overlong_method_501)
{
    server_start();
    REJECT("ABCDEFGHIJKLMNOPQRSTUVWXYZ /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
           SMUGGLED, 501);
    REJECT("ABCDEFGHIJKLMNOPQRSTUVWXYZ /pl\"aintext HTTP/9\r\n\r\n", 501);
    static char big[DUCTA_DEFAULT_MAX_REQUEST_LINE + 100];
    memset(big, 'M', sizeof big);
    reject(big, sizeof big, 501);
    server_stop();
}

/* Which bytes a request-target may hold raw (README, "Strictness"):
 * '"', '<', '>' and '\\' nowhere, '`', '{' and '}' not in the path (no
 * conforming client sends them raw): 400; '|' and '^' anywhere, and '`',
 * '{', '}' in the query, are served, because browsers send them so. */
ST(request_target_bytes)
{
    server_start();
    char req[128];
    for (const char *c = "\"<>\\`{}"; *c; c++) {
        int n = snprintf(req, sizeof req, "GET /plain%ctext HTTP/1.1\r\n"
                         "Host: x\r\n\r\n" SMUGGLED, *c);
        reject(req, (size_t)n, 400);
    }
    for (const char *c = "\"<>\\"; *c; c++) {
        int n = snprintf(req, sizeof req, "GET /plaintext?a=%c HTTP/1.1\r\n"
                         "Host: x\r\n\r\n" SMUGGLED, *c);
        reject(req, (size_t)n, 400);
    }
    struct resp *rp = EXCHANGE("GET /plaintext?a={`}&b=|^ HTTP/1.1\r\n"
                               "Host: x\r\n\r\n");
    check_plain(rp, "{`}|^ in the query");
    rp = EXCHANGE("GET /plain|text^ HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert(rp->status == 404, "| and ^ in the path: status %d, want 404",
              rp->status);
    server_stop();
}

/* RFC 9113 §3.4 (the HTTP/2 preface) as seen by an HTTP/1.1 server,
 * RFC 9112 §2.3: "PRI * HTTP/2.0" is a request line of version 2.0, so a
 * 505 and a close — promptly, not a wait for more bytes. */
ST(request_line_http2_preface)
{
    server_start();
    int64_t t0 = now_ms();
    REJECT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
    int64_t took = now_ms() - t0;
    cr_assert(took < 2000, "the HTTP/2 preface took %lld ms to answer",
              (long long)took);
    server_stop();
}

/* ==== header fields (RFC 9112 §5) ========================================= */

/* RFC 9112 §5.1: no whitespace between field name and colon (MUST 400);
 * §5.2: obs-fold outside message/http is rejected with 400;
 * §2.2: a bare CR anywhere is invalid; RFC 9110 §5.5: a field value with
 * CR, LF or NUL MUST be rejected (or replaced); ducta rejects (400).
 * §2.2 allows a bare LF as a line end, ducta documents that it rejects it
 * (parse.c's header comment) so no proxy can read the head another way. */
ST(fields_syntax)
{
    server_start();
    REJECT("GET /plaintext HTTP/1.1\r\nHost : x\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A\t: 1\r\n\r\n", 400);
    /* obs-fold */
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n",
           400);
    /* a first field line starting with whitespace (§2.2) */
    REJECT("GET /plaintext HTTP/1.1\r\n Host: x\r\n\r\n", 400);
    /* bare CR inside a value, and one ending a line */
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A: a\r\r\n\r\n", 400);
    /* NUL (and DEL) in a value */
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A: a\x7f" "b\r\n\r\n",
           400);
    /* bare LF: as every line end, after the request line, after a field,
     * or inside a value */
    REJECT("GET /plaintext HTTP/1.1\nHost: x\n\n", 400);
    REJECT("GET /plaintext HTTP/1.1\nHost: x\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX-A: 1\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\n\n", 400);
    /* an empty field name, and a non-token byte in a name */
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nX(A): v\r\n\r\n", 400);
    server_stop();
}

/* RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request that
 * lacks a Host field, and to any request with more than one. An HTTP/1.0
 * request may omit it. */
ST(fields_host)
{
    server_start();
    REJECT("GET /plaintext HTTP/1.1\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nX-Host: x\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    struct resp *rp = EXCHANGE("GET /plaintext HTTP/1.0\r\n\r\n");
    check_plain(rp, "HTTP/1.0 without Host");
    server_stop();
}

/* RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
 * code to any HTTP/1.1 request message that lacks a Host header field and
 * to any request message that contains [...] a Host header field with an
 * invalid field-value." Host = uri-host [ ":" port ] (RFC 9110 §7.2);
 * a space, '/', '@' or a non-digit port make it invalid. (An empty Host is
 * valid: the target has no authority.) */
ST(fields_host_invalid_value)
{
    server_start();
    struct resp *rp = EXCHANGE("GET /plaintext HTTP/1.1\r\nHost:\r\n\r\n");
    check_plain(rp, "an empty Host");
    rp = EXCHANGE("GET /plaintext HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
    check_plain(rp, "Host: [::1]:8080");
    REJECT("GET /plaintext HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: user@a\r\n\r\n", 400);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400);
    server_stop();
}

/* ==== framing and smuggling (RFC 9112 §6) ================================= */

/* RFC 9112 §6.1 and §6.3 item 3: Content-Length with Transfer-Encoding is
 * how request smuggling works; a server MAY reject it and MUST then close.
 * ducta answers 400. Whichever framing a peer picked, the hidden GET must
 * never be answered. */
ST(framing_cl_with_te)
{
    server_start();
    /* read as chunked: body "0\r\n\r\n", then the GET follows */
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    /* the other order, and read as Content-Length: GET after the body */
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           "Content-Length: 5\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    /* CL 0 with TE */
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    server_stop();
}

/* RFC 9112 §6.3 item 5 and RFC 9110 §8.6: several Content-Length fields,
 * equal or not, or a list, make the length unreliable; ducta answers 400
 * (it does not take the liberty of collapsing equal values). */
ST(framing_cl_repeated)
{
    server_start();
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Content-Length: 5\r\n\r\nhello" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
           "Content-Length: 31\r\n\r\n" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n"
           "Content-Length: 0\r\n\r\n" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n"
           "\r\nhello" SMUGGLED, 400);
    server_stop();
}

/* RFC 9110 §8.6: Content-Length = 1*DIGIT; RFC 9112 §6.3 item 5: an
 * invalid one is unrecoverable, 400 and close. Overflow included: it is
 * not a large length (413), it is no length. */
ST(framing_cl_syntax)
{
    server_start();
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n"
           "hello" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
           "hello" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5 5\r\n\r\n"
           "hello" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n"
           "hello" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n"
           SMUGGLED, 400);
    /* 2^64 + 5 would wrap to 5 */
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 18446744073709551621\r\n\r\nhello" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 99999999999999999999999999999\r\n\r\nhello"
           SMUGGLED, 400);
    server_stop();
}

/* RFC 9112 §6.1: a coding ducta does not know is a 501 (and close);
 * chunked that is not the final coding leaves the length unknowable (§6.3
 * item 4): 400; §6.1: chunked MUST NOT be applied twice; Transfer-Encoding
 * in an HTTP/1.0 request is faulty framing (§6.1): 400 and close. */
ST(framing_te_codings)
{
    server_start();
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
           "\r\n0\r\n\r\n" SMUGGLED, 501);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
           "chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 501);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, "
           "gzip\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    /* two fields are one list (RFC 9110 §5.3) */
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           "Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, "
           "chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n"
           "0\r\n\r\n" SMUGGLED, 400);
    REJECT("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    server_stop();
}

/* ==== chunked bodies (RFC 9112 §7.1) ====================================== */

/* RFC 9112 §7.1: chunks decoded and joined; POST /echo returns exactly the
 * decoded bytes (binary ones too: NUL, CR, LF, 0xFF in chunk-data are data,
 * not framing); hex sizes in either case (§7.1: HEXDIG is
 * case-insensitive). */
ST(chunked_simple)
{
    server_start();
    struct resp *rp = EXCHANGE(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    check_echo(rp, "hello world", 11, "chunked hello world");
    static const char bin[] = "\0\r\n0\r\n\r\n\xff\x80zz";
    enum { BIN = sizeof bin - 1 };  /* 12 bytes: "c" in hex */
    char req[256];
    int n = snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%x\r\n", BIN);
    memcpy(req + n, bin, BIN);
    n += BIN;
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n0\r\n\r\n");
    rp = exchange(req, (size_t)n);
    check_echo(rp, bin, BIN, "chunked binary");
    /* an empty chunked body */
    rp = EXCHANGE("POST /echo HTTP/1.1\r\nHost: x\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    check_echo(rp, "", 0, "empty chunked body");
    /* upper- and lower-case hex, and a coding name in other case */
    rp = EXCHANGE("POST /echo HTTP/1.1\r\nHost: x\r\n"
                  "Transfer-Encoding: Chunked\r\n\r\n"
                  "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n");
    check_echo(rp, "0123456789abcdefghijk", 21, "hex A and b");
    server_stop();
}

/* RFC 9112 §7.1: the chunked framing does not depend on how TCP cuts it:
 * the whole request, one byte per write, echoes the same body and the
 * connection stays usable for a keep-alive request after it. */
ST(chunked_byte_by_byte)
{
    server_start();
    static const char req[] =
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;ext=1\r\nabc\r\n10\r\n0123456789ABCDEF\r\n1\r\n\n\r\n"
        "0\r\nX-T: 1\r\n\r\n";
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_slowly(fd, req, sizeof req - 1, 1, 1);
    expect_response(r, rp, 0, "chunked request one byte per write");
    check_echo(rp, "abc0123456789ABCDEF\n", 20,
               "chunked request one byte per write");
    cr_assert(!has_conn_close(rp), "kept alive:\n%s", rp->head);
    send_str(fd, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_response(r, rp, 0, "GET after the slow chunked POST");
    check_json(rp, "GET after the slow chunked POST");
    close(fd);

    /* head in one write, then the chunked body in 3-byte pieces */
    fd = connect_server();
    r = reader_in(0, fd);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    static const char body[] = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                               "2\r\n!!\r\n0\r\n\r\n";
    send_slowly(fd, body, sizeof body - 1, 3, 2);
    expect_response(r, rp, 0, "chunked body in 3-byte pieces");
    check_echo(rp, "abcdefghijklmnopqrstuvwxyz!!", 28,
               "chunked body in 3-byte pieces");
    close(fd);
    server_stop();
}

/* RFC 9112 §7.1.1: a recipient MUST ignore chunk extensions it does not
 * understand: names, values, quoted values, BWS before ';'. */
ST(chunked_extensions)
{
    server_start();
    struct resp *rp = EXCHANGE(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n"
        "1;a;b=c\r\n,\r\n"
        "6;q=\"quoted; string\"\r\n world\r\n"
        "0;last=yes\r\n\r\n");
    check_echo(rp, "hello, world", 12, "chunk extensions");
    server_stop();
}

/* RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "="
 * BWS chunk-ext-val ] ), the name a token, the value a token or a
 * quoted-string; a size line that is not that is a broken frame: 400 and
 * close, the GET behind it never answered. */
ST(chunked_extension_grammar)
{
    server_start();
#define CK_HEAD                                                               \
    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    REJECT(CK_HEAD "5;\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5;bad[=x\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5;\"\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5;a=b c d\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5 \r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5;a=\"open\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5;a=\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5\r\nhello\r\n0;x=\"a\"b\r\n\r\n" SMUGGLED, 400);
    struct resp *rp = EXCHANGE(CK_HEAD "5 ; a = b ;c\r\nhello\r\n"
                               "1;q=\"\\\"; \\\\\"\r\n!\r\n0\r\n\r\n");
    check_echo(rp, "hello!", 6, "BWS and a quoted-pair in extensions");
#undef CK_HEAD
    server_stop();
}

/* RFC 9112 §7.1.2: a trailer section may follow the last chunk; a
 * recipient may discard fields it does not understand. ducta drops them:
 * the echo is the body alone, the connection stays in step (the next
 * request on it is answered), and trailer fields never become headers. */
ST(chunked_trailers)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "4\r\nbody\r\n0\r\nX-Trailer: yes\r\n"
                 "Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n");
    expect_response(r, rp, 0, "trailers");
    check_echo(rp, "body", 4, "trailers");
    char v[64];
    cr_assert(!hdr(rp, "X-Trailer", v, sizeof v), "trailer echoed:\n%s",
              rp->head);
    send_str(fd, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_response(r, rp, 0, "GET after trailers");
    check_plain(rp, "GET after trailers");
    close(fd);
    server_stop();
}

/* RFC 9112 §9.3.2 (pipelining) with §7.1: the bytes after the last chunk
 * (and its CRLF) are the next request; it is answered right after, in
 * order, exactly once. */
ST(chunked_pipelined)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "7\r\npipe-1 \r\n3\r\nGET\r\n0\r\n\r\n"
                 "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 "2\r\nok\r\n0\r\n\r\n");
    expect_response(r, rp, 0, "pipelined 1: chunked POST");
    check_echo(rp, "pipe-1 GET", 10, "pipelined 1: chunked POST");
    expect_response(r, rp, 0, "pipelined 2: GET /json");
    check_json(rp, "pipelined 2: GET /json");
    expect_response(r, rp, 0, "pipelined 3: chunked POST, close");
    check_echo(rp, "ok", 2, "pipelined 3: chunked POST, close");
    cr_assert(has_conn_close(rp), "Connection: close asked:\n%s", rp->head);
    int e = read_eof(r);
    cr_assert(e == 1, "after three pipelined responses: want EOF, got %s",
              eof_name(e));
    close(fd);

    /* a GET and the first part of a chunked POST in one write, the rest
     * of the POST later: the partial body survives the GET's answer */
    fd = connect_server();
    r = reader_in(0, fd);
    send_str(fd, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n5\r\nhel");
    expect_response(r, rp, 0, "GET before a partial chunked POST");
    check_json(rp, "GET before a partial chunked POST");
    cr_assert(quiet_for(r, 50), "an answer to the incomplete POST");
    send_str(fd, "lo\r\n3\r\n, w\r");
    sleep_ms(20);
    send_str(fd, "\n0\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_response(r, rp, 0, "the chunked POST completed later");
    check_echo(rp, "hello, w", 8, "the chunked POST completed later");
    expect_response(r, rp, 0, "GET after it");
    check_plain(rp, "GET after it");
    close(fd);
    server_stop();
}

/* RFC 9112 §7.1: chunk-size = 1*HEXDIG, chunk = chunk-size [ext] CRLF
 * chunk-data CRLF. A bad size, one that overflows 64 bits, or data not
 * followed by CRLF is a broken frame: 400 and close (§6.3 item 5 spirit:
 * the rest of the stream cannot be trusted), the hidden GET never
 * answered. */
ST(chunked_bad_framing)
{
    server_start();
#define CK_HEAD                                                               \
    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    REJECT(CK_HEAD "zz\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "0x5\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "-5\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    /* 17 and 18 hex digits: more than 64 bits */
    REJECT(CK_HEAD "fffffffffffffffff\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    /* 2^64 + 5: would wrap to 5 and read "hello" */
    REJECT(CK_HEAD "10000000000000005\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    /* chunk-data longer than its size: no CRLF after 5 bytes */
    REJECT(CK_HEAD "5\r\nhelloX\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5\r\nhello0\r\n\r\n" SMUGGLED, 400);
    /* bare LF in the framing */
    REJECT(CK_HEAD "5\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5\r\nhello\n0\r\n\r\n" SMUGGLED, 400);
    REJECT(CK_HEAD "5\r\nhello\r\n0\r\n\n" SMUGGLED, 400);
    /* an extension that is not one (no ';') */
    REJECT(CK_HEAD "5 x\r\nhello\r\n0\r\n\r\n" SMUGGLED, 400);
#undef CK_HEAD
    server_stop();
}

/* RFC 9112 §7.1 with the buffer in place: many tiny chunks (1-byte chunks,
 * 6 bytes of framing each, ~380 KB on the wire) that decode to exactly
 * --max-body (64 KiB, the default) are echoed whole; the framing never
 * counts against the body limit. */
ST(chunked_many_tiny_chunks)
{
    server_start();
    enum { BODY = DUCTA_DEFAULT_MAX_BODY };
    static char wire[BODY * 6 + 256], want[BODY];
    size_t n = (size_t)snprintf(wire, sizeof wire,
                                "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < BODY; i++) {
        want[i] = (char)('a' + i % 26);
        wire[n++] = '1';
        wire[n++] = '\r';
        wire[n++] = '\n';
        wire[n++] = want[i];
        wire[n++] = '\r';
        wire[n++] = '\n';
    }
    memcpy(wire + n, "0\r\n\r\n", 5);
    n += 5;
    struct resp *rp = exchange(wire, n);
    check_echo(rp, want, BODY, "65536 one-byte chunks");
    server_stop();
}

/* ==== Content-Length bodies (RFC 9112 §6.2) =============================== */

/* RFC 9112 §6.2/§6.3 item 6: the body is exactly Content-Length bytes,
 * however the writes cut it, and the next request begins right after it
 * (§9.3.2 pipelining). */
ST(content_length_bodies)
{
    server_start();
    struct resp *rp = EXCHANGE("POST /echo HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 11\r\n\r\nhello world");
    check_echo(rp, "hello world", 11, "Content-Length 11");
    rp = EXCHANGE("POST /echo HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 0\r\n\r\n");
    check_echo(rp, "", 0, "Content-Length 0");
    rp = EXCHANGE("POST /echo HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 007\r\n\r\n\0\r\n\r\n\xff" "x");
    check_echo(rp, "\0\r\n\r\n\xff" "x", 7, "Content-Length 007, binary");

    /* body split over writes: head, then 1, 4 and the rest */
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    rp = &resp_pool[0];
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n"
                 "\r\n");
    sleep_ms(20);
    send_str(fd, "a");
    sleep_ms(20);
    send_str(fd, "bcde");
    cr_assert(quiet_for(r, 50), "a response before the body was complete");
    sleep_ms(20);
    send_str(fd, "fghijklmnopqrstuvwxyz");
    expect_response(r, rp, 0, "body over four writes");
    check_echo(rp, "abcdefghijklmnopqrstuvwxyz", 26, "body over four writes");

    /* the whole request a byte at a time, on the same connection */
    static const char slow[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 9\r\n\r\nslow body";
    send_slowly(fd, slow, sizeof slow - 1, 1, 1);
    expect_response(r, rp, 0, "request a byte at a time");
    check_echo(rp, "slow body", 9, "request a byte at a time");

    /* pipelined: a request that looks like a request inside the body is
     * body, the one after the body is a request */
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 31\r\n\r\n"
                 SMUGGLED "GET /plaintext HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n");
    expect_response(r, rp, 0, "pipelined POST");
    check_echo(rp, SMUGGLED, 31, "pipelined POST");
    expect_response(r, rp, 0, "GET after the pipelined POST");
    check_plain(rp, "GET after the pipelined POST");
    cr_assert(has_conn_close(rp), "Connection: close asked:\n%s", rp->head);
    int e = read_eof(r);
    cr_assert(e == 1, "after two pipelined responses: want EOF, got %s",
              eof_name(e));
    close(fd);
    server_stop();
}

/* RFC 9110 §15.5.14 (413) and §10.1.1: a Content-Length over the limit is
 * refused from the head alone, before any body byte is sent, and the
 * connection closes (RFC 9112 §9.6 — the body will not be read). */
ST(content_length_over_limit_413_before_body)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n"
                 "\r\n");
    expect_response(r, rp, 0, "Content-Length 65537, no body sent");
    cr_assert(rp->status == 413 && has_conn_close(rp),
              "want 413 with Connection: close:\n%s", rp->head);
    int e = read_eof(r);
    cr_assert(e == 1, "after the 413: want EOF, got %s", eof_name(e));
    close(fd);
    still_serving("413");

    /* RFC 9112 §9.6 (tear-down): a client that sends its body anyway, after
     * the 413 is on its way, must still read the 413 and then EOF — the
     * server drains (lingers) instead of closing into a reset. */
    fd = connect_server();
    r = reader_in(0, fd);
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 70000\r\n"
                 "\r\n");
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    cr_assert(poll(&pf, 1, IO_TIMEOUT_MS) == 1, "no 413 from the head");
    sleep_ms(50);  /* the server has answered, and closed if it does not
                      linger */
    static char late[8192];
    memset(late, 'z', sizeof late);
    send_bytes(fd, late, sizeof late);
    sleep_ms(50);
    expect_response(r, rp, 0, "413, body sent late");
    cr_assert(rp->status == 413 && has_conn_close(rp),
              "want 413 with Connection: close:\n%s", rp->head);
    e = read_eof(r);
    cr_assert(e == 1, "after the 413 and a late body: want EOF, got %s (%s)",
              eof_name(e), r->err ? strerror(r->err) : "-");
    close(fd);
    still_serving("413, body sent late");

    /* the same with head and the whole over-limit body in one write: the
     * server errs on the first bytes it reads while the rest is still
     * arriving; its answer must not be lost to a reset */
    static char big[70000 + 128];
    size_t bn = (size_t)snprintf(big, sizeof big, "POST /echo HTTP/1.1\r\n"
                                 "Host: x\r\nContent-Length: 70000\r\n\r\n");
    memset(big + bn, 'y', 70000);
    reject(big, bn + 70000, 413);

    /* exactly the limit is fine */
    static char req[DUCTA_DEFAULT_MAX_BODY + 128];
    size_t n = (size_t)snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\n"
                                "Host: x\r\nContent-Length: %d\r\n\r\n",
                                DUCTA_DEFAULT_MAX_BODY);
    memset(req + n, 'b', DUCTA_DEFAULT_MAX_BODY);
    rp = exchange(req, n + DUCTA_DEFAULT_MAX_BODY);
    check_echo(rp, req + n, DUCTA_DEFAULT_MAX_BODY, "a body of max-body");
    server_stop();
}

/* ==== Expect (RFC 9110 §10.1.1) =========================================== */

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* Read the interim 100 and nothing else. */
static void expect_100(struct reader *r, const char *what)
{
    size_t n = sizeof continue_line - 1;
    cr_assert(read_exactly(r, n), "%s: no 100 Continue (got %zu bytes: "
              "'%.*s'; %s)", what, r->len, (int)r->len, r->buf,
              r->err ? strerror(r->err) : "EOF");
    cr_assert(memcmp(r->buf, continue_line, n) == 0,
              "%s: want '%s' first, got '%.*s'", what, shown(continue_line, n),
              (int)r->len, r->buf);
    consume(r, n);
    cr_assert(quiet_for(r, 100), "%s: more than the 100 before the body: "
              "'%.*s'", what, (int)r->len, r->buf);
}

/* RFC 9110 §10.1.1: a server that receives 100-continue and has not seen
 * the body either answers finally or sends 100 (Continue) and then reads
 * the body; the final response follows it. Also with a chunked body. */
ST(expect_100_continue)
{
    server_start();
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
                 "Expect: 100-continue\r\n\r\n");
    expect_100(r, "Expect with Content-Length");
    send_str(fd, "continued!!!");
    expect_response(r, rp, 0, "after the 100");
    check_echo(rp, "continued!!!", 12, "after the 100");
    /* keep-alive: a second one on the same connection gets its own 100 */
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                 "Transfer-Encoding: chunked\r\n"
                 "Expect: 100-Continue\r\n\r\n");
    expect_100(r, "Expect with chunked");
    send_str(fd, "4\r\nmore\r\n");
    cr_assert(quiet_for(r, 50), "a response before the last chunk");
    send_str(fd, "0\r\n\r\n");
    expect_response(r, rp, 0, "chunked after the 100");
    check_echo(rp, "more", 4, "chunked after the 100");
    close(fd);
    server_stop();
}

/* RFC 9110 §10.1.1: an expectation other than 100-continue may be
 * answered 417 (Expectation Failed, §15.5.18); ducta does, and closes. */
ST(expect_unknown_417)
{
    server_start();
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Expect: something-else\r\n\r\nhello" SMUGGLED, 417);
    REJECT("GET /plaintext HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n",
           417);
    server_stop();
}

/* RFC 9110 §5.3: two Expect lines are one list; a member other than
 * 100-continue in any of them is a 417 (§10.1.1), whichever comes last. */
ST(expect_two_lines_417)
{
    server_start();
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Expect: x-other\r\nExpect: 100-continue\r\n\r\nhello" SMUGGLED,
           417);
    REJECT("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Expect: 100-continue\r\nExpect: x-other\r\n\r\nhello" SMUGGLED,
           417);
    server_stop();
}

/* RFC 9110 §5.3: Connection lines are one list, and RFC 9112 §9.6: a
 * "close" in it means the connection closes after this response — a later
 * "keep-alive" line does not undo it. The response says so, the
 * connection ends, and the request behind it is never answered. */
ST(connection_close_in_any_line_closes)
{
    server_start();
    static const char *const reqs[] = {
        ("GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
         "Connection: keep-alive\r\n\r\n" SMUGGLED),
        ("GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n"
         "Connection: close\r\n\r\n" SMUGGLED),
        ("GET /plaintext HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
         SMUGGLED),
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        const char *what = shown(reqs[i], strlen(reqs[i]));
        int fd = connect_server();
        struct reader *r = reader_in(0, fd);
        struct resp *rp = &resp_pool[0];
        send_str(fd, reqs[i]);
        expect_response(r, rp, 0, what);
        check_plain(rp, what);
        cr_assert(has_conn_close(rp), "%s: no Connection: close:\n%s", what,
                  rp->head);
        int e = read_eof(r);
        cr_assert(e == 1, "%s: want EOF after the response, got %s", what,
                  eof_name(e));
        close(fd);
    }
    server_stop();
}

/* RFC 9110 §10.1.1: the server may answer finally instead of 100 — it must
 * when the request will be refused: CL over the limit gets the 413 at
 * once, and no 100 before it (the client must not send the body). */
ST(expect_over_limit_413_no_100)
{
    server_start_with((const char *const[]){"--max-body", "100", NULL});
    int fd = connect_server();
    struct reader *r = reader_in(0, fd);
    struct resp *rp = &resp_pool[0];
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n"
                 "Expect: 100-continue\r\n\r\n");
    cr_assert(read_exactly(r, 12), "no response to an over-limit Expect");
    cr_assert(memcmp(r->buf, "HTTP/1.1 413", 12) == 0,
              "want the 413 first, got '%.*s'", (int)r->len, r->buf);
    expect_response(r, rp, 0, "413 for Expect over the limit");
    cr_assert(rp->status == 413 && has_conn_close(rp),
              "want 413 with Connection: close:\n%s", rp->head);
    int e = read_eof(r);
    cr_assert(e == 1, "after the 413: want EOF, got %s", eof_name(e));
    close(fd);
    still_serving("413 for Expect");
    server_stop();
}

/* ==== limits as flags ===================================================== */

static const char *const small_limits[] = {
    "--max-request-line", "512", "--max-head", "1024", "--max-headers", "8",
    "--max-body", "100", NULL};

/* RFC 9112 §3 / RFC 9110 §15.5.15: a request-target longer than the server
 * takes is a 414; RFC 6585 §5 (431) for too many fields or too big a head;
 * RFC 9110 §15.5.14 (413) for a body over the limit, Content-Length or
 * decoded chunked (RFC 9112 §7.1). Just under each limit is served. */
ST(limits_as_flags)
{
    server_start_with(small_limits);
    static char req[4096];
    size_t n;

    /* request line: 300 bytes fine (404), 600 bytes 414, also before the
     * line is complete */
    n = (size_t)snprintf(req, sizeof req, "GET /%0290d HTTP/1.1\r\n"
                         "Host: x\r\n\r\n", 7);
    struct resp *rp = exchange(req, n);
    cr_assert(rp->status == 404, "a 300-byte request line: status %d",
              rp->status);
    n = (size_t)snprintf(req, sizeof req, "GET /%0590d HTTP/1.1\r\n"
                         "Host: x\r\n\r\n", 7);
    reject(req, n, 414);
    n = (size_t)snprintf(req, sizeof req, "GET /%0590d", 7);
    reject(req, n, 414);

    /* header count: 8 fields fine, 9 are 431 */
    n = (size_t)snprintf(req, sizeof req, "GET /plaintext HTTP/1.1\r\n"
                         "Host: x\r\n");
    for (int i = 1; i < 8; i++)
        n += (size_t)snprintf(req + n, sizeof req - n, "X-%d: %d\r\n", i, i);
    memcpy(req + n, "\r\n", 3);
    rp = exchange(req, n + 2);
    check_plain(rp, "8 header fields");
    memcpy(req + n, "X-8: 8\r\n\r\n", 11);
    reject(req, n + 10, 431);

    /* head size: a 900-byte head fine, a 1100-byte one 431 */
    n = (size_t)snprintf(req, sizeof req, "GET /plaintext HTTP/1.1\r\n"
                         "Host: x\r\nX-Big: %0850d\r\n\r\n", 1);
    cr_assert(n > 850 && n < 1000);
    rp = exchange(req, n);
    check_plain(rp, "a 900-byte head");
    n = (size_t)snprintf(req, sizeof req, "GET /plaintext HTTP/1.1\r\n"
                         "Host: x\r\nX-Big: %01050d\r\n\r\n", 1);
    reject(req, n, 431);
    /* and without its end yet */
    n = (size_t)snprintf(req, sizeof req, "GET /plaintext HTTP/1.1\r\n"
                         "Host: x\r\nX-Big: %01050d", 1);
    reject(req, n, 431);

    /* body: Content-Length 100 fine, 101 is 413 (sent with its body) */
    n = (size_t)snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 100\r\n\r\n%0100d", 5);
    rp = exchange(req, n);
    check_echo(rp, req + n - 100, 100, "a 100-byte body");
    n = (size_t)snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 101\r\n\r\n%0101d", 5);
    reject(req, n, 413);
    /* RFC 9112 §9.6: the same, with 20 KB more in the same write — more
     * than these limits' read buffer (about 5 KB) takes, so the server
     * answers while unread bytes wait in its socket: it must drain them
     * (lingering close), or its close would reset the connection and the
     * client could lose the 413 */
    static char big[20000 + 256];
    n = (size_t)snprintf(big, sizeof big, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 20000\r\n\r\n");
    memset(big + n, 'q', 20000);
    reject(big, n + 20000, 413);

    /* chunked: 100 decoded bytes fine; 3 chunks of 40 are 413 */
    n = (size_t)snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"
                         "32\r\n%050d\r\n32\r\n%050d\r\n0\r\n\r\n", 1, 2);
    rp = exchange(req, n);
    cr_assert(rp->status == 200 && rp->body_len == 100,
              "a 100-byte chunked body: status %d, %zu bytes", rp->status,
              rp->body_len);
    n = (size_t)snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"
                         "28\r\n%040d\r\n28\r\n%040d\r\n28\r\n%040d\r\n"
                         "0\r\n\r\n" SMUGGLED, 1, 2, 3);
    reject(req, n, 413);
    /* one chunk whose size alone is over the limit, before its data */
    n = (size_t)snprintf(req, sizeof req, "POST /echo HTTP/1.1\r\nHost: x\r\n"
                         "Transfer-Encoding: chunked\r\n\r\nfffff\r\n");
    reject(req, n, 413);
    server_stop();
}

/* The limits as the README states them: --max-request-line bounds the
 * request line, --max-head the field lines after it. A request line just
 * under its limit with a field section just under its own is served (it
 * was a 431 when the head limit counted the request line too). */
ST(limits_line_and_fields_apart)
{
    server_start_with(small_limits);
    static char req[4096];
    /* "GET /plaintext?" + q + " HTTP/1.1\r\n": 26 + q bytes, 510 in all;
     * "Host: x\r\nX-Big: " + v + "\r\n\r\n": 20 + v bytes, 1020 in all */
    int n = snprintf(req, sizeof req, "GET /plaintext?%0484d HTTP/1.1\r\n"
                     "Host: x\r\nX-Big: %01000d\r\n\r\n", 0, 0);
    cr_assert(n == 510 + 1020, "%d", n);
    struct resp *rp = exchange(req, (size_t)n);
    check_plain(rp, "a 510-byte request line and 1020 bytes of fields");
    /* past either limit: 431 for the fields, 414 for the line */
    n = snprintf(req, sizeof req, "GET /plaintext?%0484d HTTP/1.1\r\n"
                 "Host: x\r\nX-Big: %01005d\r\n\r\n", 0, 0);
    reject(req, (size_t)n, 431);
    n = snprintf(req, sizeof req, "GET /plaintext?%0487d HTTP/1.1\r\n"
                 "Host: x\r\n\r\n", 0);
    reject(req, (size_t)n, 414);
    server_stop();
}

/* ==== curl ============================================================== */

/* Write n pseudo-random bytes to a new temporary file; its path in
 * tmp_files[slot] (removed by teardown). */
static void make_file(int slot, size_t n, unsigned seed)
{
    snprintf(tmp_files[slot], sizeof tmp_files[slot],
             "/tmp/ducta-strict-f-XXXXXX");
    int fd = mkostemp(tmp_files[slot], O_CLOEXEC);
    cr_assert(fd >= 0, "mkostemp: %s", strerror(errno));
    static unsigned char data[1 << 20];
    cr_assert(n <= sizeof data);
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    cr_assert(write(fd, data, n) == (ssize_t)n, "write: %s", strerror(errno));
    close(fd);
}

static int same_file(const char *a, const char *b, size_t *alen, size_t *blen)
{
    static char da[1 << 20], db[1 << 20];
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    cr_assert(fa && fb, "open %s / %s", a, b);
    *alen = fread(da, 1, sizeof da, fa);
    *blen = fread(db, 1, sizeof db, fb);
    fclose(fa);
    fclose(fb);
    return *alen == *blen && memcmp(da, db, *alen) == 0;
}

enum { CURL_TIMEOUT_MS = 10000 };  /* curl's own --max-time is 5 s */

static void curl_echo(const char *in, const char *out, int chunked)
{
    char url[128], data[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", srv.port);
    snprintf(data, sizeof data, "@%s", in);
    char *argv[24] = {"curl", "-sS", "--noproxy", "*", "--max-time", "5",
                      "-o", (char *)out, "-w", "%{http_code} %{content_type}",
                      "--data-binary", data};
    int argc = 12;
    if (chunked) {
        argv[argc++] = "-H";
        argv[argc++] = "Transfer-Encoding: chunked";
    }
    argv[argc++] = url;
    argv[argc] = NULL;
    static struct run run;  /* its buffers are large for a stack */
    run_cmd(&run, CURL_TIMEOUT_MS, argv);
    int rc = WIFEXITED(run.status) ? WEXITSTATUS(run.status) : -1;
    cr_assert(rc == 0, "curl%s --data-binary @file: exit %d: %s",
              chunked ? " (chunked)" : "", rc, run.err.p);
    cr_assert(!strcmp(run.out.p, "200 application/octet-stream"),
              "curl%s: got '%s'", chunked ? " (chunked)" : "", run.out.p);
    size_t a, b;
    cr_assert(same_file(in, out, &a, &b), "curl%s: sent %zu bytes, got back "
              "%zu, not the same", chunked ? " (chunked)" : "", a, b);
}

/* RFC 9112 §6.2 and §7.1 with a real client: curl posts a 50 KB file with
 * Content-Length (curl 7.x also sends Expect: 100-continue for it, RFC 9110
 * §10.1.1) and then chunked; both times the same bytes come back. */
ST(curl_echo_50k)
{
    server_start();
    make_file(0, 50 * 1024, 12345);
    snprintf(tmp_files[1], sizeof tmp_files[1], "/tmp/ducta-strict-o-XXXXXX");
    int ofd = mkostemp(tmp_files[1], O_CLOEXEC);
    cr_assert(ofd >= 0, "mkostemp: %s", strerror(errno));
    close(ofd);
    curl_echo(tmp_files[0], tmp_files[1], 0);
    cr_assert(truncate(tmp_files[1], 0) == 0, "truncate: %s",
              strerror(errno));
    curl_echo(tmp_files[0], tmp_files[1], 1);
    still_serving("curl");
    server_stop();
}
