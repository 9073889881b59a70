/*
 * test_conn.c — the connection state machine, driven over a socketpair.
 *
 * One worker runs in this thread without listeners: the test writes bytes
 * on one end, turns the worker's loop by hand (ducta_worker_poll), and reads
 * what the server wrote on the other end. Partial reads and writes are made
 * to happen on purpose: a request split at every byte, a client that reads
 * one byte at a time through a tiny socket buffer.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"

static struct ducta_config cfg;
static struct ducta_worker w;

static void setup(void)
{
    ducta_config_defaults(&cfg);
    cfg.max_conns = 8;
    cr_assert_eq(ducta_worker_init(&w, &cfg, 0), 0);
}

static void teardown(void)
{
    ducta_worker_destroy(&w);
}

TestSuite(conn, .init = setup, .fini = teardown);

/* A connected pair: the server end is adopted by the worker. */
static int connect_client(void)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(ducta_worker_adopt(&w, sv[0]), 0);
    return sv[1];
}

static void pump(void)
{
    for (int i = 0; i < 4; i++)
        ducta_worker_poll(&w, 0);
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EAGAIN) {
            pump();
            continue;
        }
        cr_assert_gt(k, 0, "write: %s", strerror(errno));
        s += k;
        n -= (size_t)k;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

struct resp {
    int status;
    char body[256];
    int conn_close;
};

/* Collected bytes from the client end, and whether EOF was seen. */
static char inbuf[1 << 20];
static size_t inlen;
static int eof;

/* Read what is there, chunk bytes per recv (1 = a very slow reader). */
static void drain_client(int fd, size_t chunk)
{
    for (;;) {
        size_t room = sizeof inbuf - inlen;
        ssize_t k = recv(fd, inbuf + inlen, chunk < room ? chunk : room, 0);
        if (k > 0) {
            inlen += (size_t)k;
            if (chunk == 1)
                pump();
            continue;
        }
        if (k == 0)
            eof = 1;
        return;
    }
}

/* Split inbuf into responses; returns how many are complete. */
static int split_responses(struct resp *out, int max)
{
    size_t at = 0;
    int n = 0;
    while (n < max) {
        char *end = memmem(inbuf + at, inlen - at, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t head = (size_t)(end + 4 - (inbuf + at));
        char *h = inbuf + at;
        cr_assert_eq(memcmp(h, "HTTP/1.1 ", 9), 0, "status line: %.20s", h);
        char *cl = memmem(h, head, "Content-Length: ", 16);
        cr_assert_not_null(cl);
        size_t blen = strtoul(cl + 16, NULL, 10);
        if (inlen - at - head < blen)
            break;
        out[n].status = atoi(h + 9);
        out[n].conn_close = memmem(h, head, "Connection: close", 17) != NULL;
        cr_assert_lt(blen, sizeof out[n].body);
        memcpy(out[n].body, h + head, blen);
        out[n].body[blen] = 0;
        at += head + blen;
        n++;
    }
    return n;
}

/* Turn the loop and read until n responses are complete (or give up). */
static int await(int fd, struct resp *out, int n, size_t chunk)
{
    int got = 0;
    for (int round = 0; round < 10000 && got < n && !eof; round++) {
        pump();
        drain_client(fd, chunk);
        got = split_responses(out, n);
    }
    return got;
}

static void reset_inbuf(void)
{
    inlen = 0;
    eof = 0;
}

static const char req_plain[] =
    "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
static const char req_json[] =
    "GET /json HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n";
static const char req_404[] =
    "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n";

Test(conn, one_request)
{
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, req_plain);
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    cr_assert_eq(r[0].status, 200);
    cr_assert_str_eq(r[0].body, "Hello, World!");
    cr_assert_eq(r[0].conn_close, 0);
    cr_assert_eq(w.live, 1);
    close(fd);
    pump();
    cr_assert_eq(w.live, 0, "peer close frees the slot");
}

Test(conn, request_split_at_every_byte)
{
    size_t len = strlen(req_json);
    for (size_t k = 1; k < len; k++) {
        reset_inbuf();
        int fd = connect_client();
        send_all(fd, req_json, k);
        pump();
        drain_client(fd, 4096);
        cr_assert_eq(inlen, 0, "no answer to %zu of %zu bytes", k, len);
        send_all(fd, req_json + k, len - k);
        struct resp r[1];
        cr_assert_eq(await(fd, r, 1, 4096), 1, "split at %zu", k);
        cr_assert_eq(r[0].status, 200);
        cr_assert_str_eq(r[0].body, "{\"message\":\"Hello, World!\"}");
        close(fd);
        pump();
        cr_assert_eq(w.live, 0);
    }
}

static void pipelined(int count)
{
    static const char *reqs[] = {req_plain, req_json, req_404};
    static const int status[] = {200, 200, 404};
    char batch[8192] = "";
    for (int i = 0; i < count; i++)
        strcat(batch, reqs[i % 3]);
    reset_inbuf();
    int fd = connect_client();
    uint64_t before = w.served;
    send_str(fd, batch);
    struct resp r[64];
    cr_assert_eq(await(fd, r, count, 65536), count);
    cr_assert_eq(w.served - before, (uint64_t)count);
    for (int i = 0; i < count; i++) {
        cr_assert_eq(r[i].status, status[i % 3], "response %d in order", i);
        if (i % 3 == 0)
            cr_assert_str_eq(r[i].body, "Hello, World!");
    }
    close(fd);
}

Test(conn, two_pipelined_in_one_write) { pipelined(2); }
Test(conn, sixteen_pipelined_in_one_write) { pipelined(16); }

Test(conn, reader_taking_one_byte_at_a_time)
{
    /* Enough pipelined responses to overflow the smallest socket buffer,
     * so the server's sends come back short and resume on EPOLLOUT. */
    enum { N = 60 };
    reset_inbuf();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 1;  /* the kernel rounds up to its minimum */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    cr_assert_eq(ducta_worker_adopt(&w, sv[0]), 0);
    int fd = sv[1];
    for (int i = 0; i < N; i++)
        send_str(fd, i % 2 ? req_json : req_plain);
    struct resp r[N];
    cr_assert_eq(await(fd, r, N, 1), N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(r[i].status, 200);
        cr_assert_str_eq(r[i].body, i % 2 ? "{\"message\":\"Hello, World!\"}"
                                          : "Hello, World!");
    }
    close(fd);
}

Test(conn, connection_close_is_honoured)
{
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    cr_assert_eq(r[0].conn_close, 1);
    for (int i = 0; i < 10 && !eof; i++) {
        pump();
        drain_client(fd, 4096);
    }
    cr_assert(eof, "server closed after Connection: close");
    close(fd);
    pump();
    cr_assert_eq(w.live, 0);
}

Test(conn, http10_closes_unless_asked)
{
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    struct resp r[2];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    cr_assert(memmem(inbuf, inlen, "Connection: keep-alive", 22));
    cr_assert(!eof);
    send_str(fd, "GET /json HTTP/1.0\r\n\r\n");
    cr_assert_eq(await(fd, r, 2, 4096), 2);
    for (int i = 0; i < 10 && !eof; i++) {
        pump();
        drain_client(fd, 4096);
    }
    cr_assert(eof);
    close(fd);
}

Test(conn, bad_request_gets_400_and_hides_nothing_behind_it)
{
    /* the request after a bad one must never be answered: its framing
     * cannot be trusted */
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "GET / HTTP/1.1\r\nHost : t\r\n\r\n");
    send_str(fd, req_plain);
    struct resp r[2];
    cr_assert_eq(await(fd, r, 2, 4096), 1);
    cr_assert_eq(r[0].status, 400);
    cr_assert_eq(r[0].conn_close, 1);
    for (int i = 0; i < 10 && !eof; i++) {
        pump();
        drain_client(fd, 4096);
    }
    cr_assert(eof, "writing side shut after the error");
    cr_assert_eq(split_responses(r, 2), 1);
    cr_assert_eq(w.live, 1, "lingering until the client closes");
    close(fd);
    pump();
    cr_assert_eq(w.live, 0);
}

Test(conn, body_is_skipped_exactly)
{
    /* a body split across writes; the next pipelined request starts
     * exactly where it ended */
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 14\r\n\r\nGET /plai");
    pump();
    send_str(fd, "ntext");
    pump();
    send_str(fd, req_json);
    struct resp r[2];
    cr_assert_eq(await(fd, r, 2, 4096), 2);
    cr_assert_eq(r[0].status, 405);
    cr_assert_eq(r[1].status, 200);
    cr_assert_str_eq(r[1].body, "{\"message\":\"Hello, World!\"}");
    close(fd);
}

Test(conn, body_too_large_is_413)
{
    reset_inbuf();
    int fd = connect_client();
    char req[128];
    snprintf(req, sizeof req, "POST /json HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: %d\r\n\r\n", DUCTA_DEFAULT_MAX_BODY + 1);
    send_str(fd, req);
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    cr_assert_eq(r[0].status, 413);
    cr_assert_eq(r[0].conn_close, 1);
    close(fd);
}

Test(conn, head_has_no_body)
{
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    send_str(fd, req_json);
    for (int i = 0; i < 10; i++) {
        pump();
        drain_client(fd, 4096);
    }
    /* the HEAD response announces 13 bytes but sends none: the next
     * response follows its blank line directly */
    char *blank = memmem(inbuf, inlen, "\r\n\r\n", 4);
    cr_assert_not_null(blank);
    cr_assert(memmem(inbuf, inlen, "Content-Length: 13\r\n", 20));
    cr_assert_eq(memcmp(blank + 4, "HTTP/1.1 200", 12), 0);
    close(fd);
}

Test(conn, slots_are_reused_with_a_new_generation)
{
    int fd = connect_client();
    struct ducta_conn *c = &w.slab[0];
    uint32_t gen = c->gen;
    cr_assert_neq(c->state, DUCTA_CONN_FREE);
    close(fd);
    pump();
    cr_assert_eq(c->state, DUCTA_CONN_FREE);
    cr_assert_neq(c->gen, gen, "a late event for the old socket is ignored");
    int fd2 = connect_client();
    cr_assert_eq(w.high_water, 1, "the freed slot came back from the list");
    cr_assert_neq(c->state, DUCTA_CONN_FREE);
    close(fd2);
}

/* Has the server closed fd's connection (EOF or reset, without waiting)? */
static int closed_by_server(int fd)
{
    char b[4096];
    for (;;) {
        ssize_t k = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (k > 0)
            continue;  /* an answer sent before; read past it */
        return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
}

Test(conn, full_slab_of_requests_in_flight_refuses_more)
{
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = connect_client();
        send_str(fds[i], "GET /plaintext HTTP/1.1\r\n");  /* half a head */
    }
    pump();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(ducta_worker_adopt(&w, sv[0]), -1);
    close(sv[1]);
    cr_assert_eq(w.reclaimed, 0, "a request in flight is never reclaimed");
    for (int i = 0; i < 8; i++) {
        cr_assert(!closed_by_server(fds[i]));
        close(fds[i]);
    }
    pump();
    cr_assert_eq(w.live, 0);
}

Test(conn, a_full_slab_reclaims_idle_then_fresh_connections_oldest_first)
{
    /* slots 0-3: connected, nothing sent (fresh); 4-7: answered once, now
     * idle keep-alive, 4 the oldest. Newcomers take the idle ones' slots
     * first, oldest first, then the fresh ones', oldest first. */
    int fds[8];
    for (int i = 0; i < 4; i++)
        fds[i] = connect_client();
    for (int i = 4; i < 8; i++) {
        reset_inbuf();
        fds[i] = connect_client();
        send_str(fds[i], req_plain);
        struct resp r[1];
        cr_assert_eq(await(fds[i], r, 1, 4096), 1);
    }
    cr_assert_eq(w.live, 8);
    static const int victim[] = {4, 5, 6, 7, 0, 1};
    int newcomers[6];
    for (int k = 0; k < 6; k++) {
        newcomers[k] = connect_client();  /* asserts the adopt succeeded */
        cr_assert_eq(w.live, 8);
        cr_assert_eq(w.reclaimed, (uint64_t)k + 1);
        for (int i = 0; i < 8; i++) {
            int gone = 0;
            for (int j = 0; j <= k; j++)
                gone |= victim[j] == i;
            if (fds[i] >= 0 && gone) {
                cr_assert(closed_by_server(fds[i]), "slot of client %d", i);
                close(fds[i]);
                fds[i] = -1;
            } else if (fds[i] >= 0) {
                cr_assert(!closed_by_server(fds[i]), "client %d kept", i);
            }
        }
    }
    /* the newcomers are served */
    for (int k = 0; k < 6; k++) {
        reset_inbuf();
        send_str(newcomers[k], req_plain);
        struct resp r[1];
        cr_assert_eq(await(newcomers[k], r, 1, 4096), 1);
        cr_assert_eq(r[0].status, 200);
        close(newcomers[k]);
    }
    for (int i = 0; i < 8; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

Test(conn, drain_closes_idle_and_finishes_in_flight)
{
    reset_inbuf();
    int idle = connect_client();
    int busy = connect_client();
    send_str(busy, "GET /plaintext HTTP/1.1\r\nHost: t\r\n");  /* half a head */
    pump();
    w.stopping = 1;
    for (uint32_t i = 0; i < w.high_water; i++)
        if (w.slab[i].state != DUCTA_CONN_FREE)
            ducta_conn_begin_drain(&w, &w.slab[i]);
    cr_assert_eq(w.live, 1, "the idle one is closed at once");
    send_str(busy, "\r\n");
    struct resp r[1];
    cr_assert_eq(await(busy, r, 1, 4096), 1);
    cr_assert_eq(r[0].status, 200);
    cr_assert_eq(r[0].conn_close, 1, "in-flight answers say they close");
    pump();
    drain_client(busy, 4096);
    cr_assert(eof);
    close(idle);
    close(busy);
}

Test(conn, half_close_after_request_gets_response_then_close)
{
    /* request and FIN arrive together: the short read must not hide the
     * EOF behind it, or the slot would stay taken forever. The client reads
     * nothing until the server is done, so no later wake-up can help. */
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, req_plain);
    shutdown(fd, SHUT_WR);
    pump();
    cr_assert_eq(w.live, 0, "the server closed its end");
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1, "the response was delivered");
    cr_assert_eq(r[0].status, 200);
    cr_assert_str_eq(r[0].body, "Hello, World!");
    drain_client(fd, 4096);
    cr_assert(eof);
    close(fd);
}

Test(conn, chunked_echo_split_then_pipelined_get)
{
    /* the decoded body reaches the handler whole; the GET behind it in
     * the same bytes is answered next */
    static const char req[] =
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "6\r\nHello,\r\n7;x=y\r\n World!\r\n0\r\nT: v\r\n\r\n"
        "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    size_t len = sizeof req - 1;
    for (size_t k = 1; k < len; k += 7) {
        reset_inbuf();
        int fd = connect_client();
        send_all(fd, req, k);
        pump();
        send_all(fd, req + k, len - k);
        struct resp r[2];
        cr_assert_eq(await(fd, r, 2, 4096), 2, "split at %zu", k);
        cr_assert_eq(r[0].status, 200);
        cr_assert_str_eq(r[0].body, "Hello, World!");
        cr_assert_eq(r[1].status, 200);
        cr_assert_str_eq(r[1].body, "Hello, World!");
        close(fd);
        pump();
    }
}

Test(conn, expect_100_continue_before_the_body)
{
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                 "Expect: 100-continue\r\n\r\n");
    for (int i = 0; i < 10; i++) {
        pump();
        drain_client(fd, 4096);
    }
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    cr_assert_eq(inlen, sizeof cont - 1, "only the interim response so far");
    cr_assert_eq(memcmp(inbuf, cont, sizeof cont - 1), 0);
    inlen = 0;
    send_str(fd, "ping");
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    cr_assert_eq(r[0].status, 200);
    cr_assert_str_eq(r[0].body, "ping");
    close(fd);
}

Test(conn, expect_with_body_already_sent_gets_no_100)
{
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                 "Expect: 100-continue\r\n\r\npong");
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    cr_assert_eq(memcmp(inbuf, "HTTP/1.1 200", 12), 0);
    cr_assert_str_eq(r[0].body, "pong");
    close(fd);
}

Test(conn, empty_lines_before_a_request_are_ignored)
{
    /* RFC 9112 §2.2: a stray CRLF after a body, or before a request, even
     * arriving half at a time, is not a bad request */
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi\r\n");
    pump();
    send_str(fd, "\r");
    pump();
    send_str(fd, "\n");
    pump();
    send_str(fd, req_plain);
    struct resp r[2];
    cr_assert_eq(await(fd, r, 2, 4096), 2);
    cr_assert_str_eq(r[0].body, "hi");
    cr_assert_eq(r[1].status, 200);
    cr_assert_str_eq(r[1].body, "Hello, World!");
    close(fd);
}

Test(conn, empty_lines_are_bounded)
{
    /* RFC 9112 §2.2 asks a server to ignore at least one; ducta ignores
     * DUCTA_MAX_EMPTY_LINES before each request, and answers more with a
     * 400 instead of reading them forever */
    reset_inbuf();
    int fd = connect_client();
    for (int i = 0; i < DUCTA_MAX_EMPTY_LINES; i++)
        send_str(fd, "\r\n");
    send_str(fd, req_plain);
    for (int i = 0; i < DUCTA_MAX_EMPTY_LINES + 1; i++)
        send_str(fd, "\r\n");
    send_str(fd, req_plain);
    struct resp r[2];
    cr_assert_eq(await(fd, r, 2, 4096), 2);
    cr_assert_eq(r[0].status, 200);
    cr_assert_eq(r[1].status, 400);
    cr_assert_eq(r[1].conn_close, 1);
    close(fd);
}

/* ---- deadlines: the same worker with every timeout at 100 ms ---------- */

enum { T_MS = 100 };

/* A root of one file, f.txt, holding body. */
static void make_root(char *dir, const char *body)
{
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    cr_assert_eq(fchmod(fd, 0644), 0);  /* published whatever the umask */
    close(fd);
}

static void remove_root(const char *dir)
{
    char path[64];
    snprintf(path, sizeof path, "%s/f.txt", dir);
    unlink(path);
    rmdir(dir);
}

/* Two servers in one process serve their own roots: the root is a
 * server's (struct ducta_files, reached through the worker and then the
 * request), not the process's, so opening a second one does not redirect
 * the first. */
Test(conn, two_servers_in_one_process_serve_their_own_roots)
{
    char da[] = "/tmp/ducta-root-a-XXXXXX", db[] = "/tmp/ducta-root-b-XXXXXX";
    make_root(da, "from a");
    make_root(db, "from b");
    struct ducta_files fa, fb;
    char err[256];
    cr_assert_eq(ducta_files_open(&fa, da, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ducta_files_open(&fb, db, 0, err, sizeof err), 0, "%s", err);
    static struct ducta_worker w2;
    cr_assert_eq(ducta_worker_init(&w2, &cfg, 1), 0);
    w.files = &fa;
    w2.files = &fb;
    struct ducta_worker *workers[2] = {&w, &w2};
    const char *want[2] = {"from a", "from b"};
    for (int i = 0; i < 2; i++) {
        int sv[2];
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        cr_assert_eq(ducta_worker_adopt(workers[i], sv[0]), 0);
        reset_inbuf();
        send_str(sv[1], "GET /f.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        struct resp r[1];
        int got = 0;
        for (int round = 0; round < 10000 && !got && !eof; round++) {
            ducta_worker_poll(workers[i], 0);
            drain_client(sv[1], 4096);
            got = split_responses(r, 1);
        }
        cr_assert_eq(got, 1, "server %d answered", i);
        cr_assert_eq(r[0].status, 200);
        cr_assert_str_eq(r[0].body, want[i], "server %d", i);
        close(sv[1]);
        ducta_worker_poll(workers[i], 0);
    }
    w.files = NULL;
    ducta_worker_destroy(&w2);
    ducta_files_close(&fa);
    ducta_files_close(&fb);
    remove_root(da);
    remove_root(db);
}

static void setup_timers(void)
{
    ducta_config_defaults(&cfg);
    cfg.max_conns = 8;
    cfg.head_timeout_ms = cfg.body_timeout_ms = cfg.idle_timeout_ms =
        cfg.write_timeout_ms = cfg.linger_timeout_ms = T_MS;
    cr_assert_eq(ducta_worker_init(&w, &cfg, 0), 0);
}

TestSuite(timers, .init = setup_timers, .fini = teardown);

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

Test(timers, idle_keepalive_closes)
{
    int fd = connect_client();
    pump();
    sleep_ms(T_MS / 2);
    pump();
    cr_assert_eq(w.live, 1, "not before its time");
    sleep_ms(T_MS);
    pump();
    cr_assert_eq(w.live, 0);
    cr_assert_eq(w.timed_out, 1);
    close(fd);
}

Test(timers, activity_keeps_a_connection_open)
{
    reset_inbuf();
    int fd = connect_client();
    for (int i = 0; i < 6; i++) {  /* 300 ms in all, 3 idle deadlines */
        sleep_ms(T_MS / 2);
        send_str(fd, req_plain);
        struct resp r[8];
        cr_assert_eq(await(fd, r, i + 1, 4096), i + 1);
    }
    cr_assert_eq(w.live, 1);
    cr_assert_eq(w.timed_out, 0);
    close(fd);
}

Test(timers, slowloris_is_closed_while_others_are_served)
{
    /* one byte of head every 20 ms never completes it; the HEAD deadline
     * runs from the first byte and is not moved by the trickle. Meanwhile
     * another client is answered as usual. */
    static const char head[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int slow = connect_client();
    reset_inbuf();
    int good = connect_client();
    int closed_at = -1, answered = 0;
    for (int i = 0; i < 20 && closed_at < 0; i++) {
        if (send(slow, head + i, 1, MSG_NOSIGNAL) != 1)
            closed_at = i * 20;
        send_str(good, req_plain);
        struct resp r[32];
        answered = await(good, r, answered + 1, 4096);
        sleep_ms(20);
        pump();
        char b;
        if (recv(slow, &b, 1, MSG_DONTWAIT) == 0)
            closed_at = i * 20;
    }
    cr_assert_geq(closed_at, T_MS - 20, "closed at %d ms: not before", closed_at);
    cr_assert_leq(closed_at, T_MS + 60, "closed at %d ms: in time", closed_at);
    cr_assert_geq(answered, 5, "the other client was served meanwhile");
    cr_assert_eq(w.live, 1);
    close(slow);
    close(good);
}

Test(timers, body_must_keep_a_minimum_rate)
{
    /* 10 bytes every 20 ms is under DUCTA_BODY_STEP per deadline */
    int fd = connect_client();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    int closed = 0;
    for (int i = 0; i < 20 && !closed; i++) {
        if (send(fd, "0123456789", 10, MSG_NOSIGNAL) != 10)
            closed = 1;
        sleep_ms(20);
        pump();
        closed |= w.live == 0;
    }
    cr_assert(closed);
    cr_assert_eq(w.timed_out, 1);
    close(fd);
}

Test(timers, a_body_that_advances_is_not_cut)
{
    /* 2 KiB every 60 ms: each step moves the deadline on, though the
     * whole body takes longer than one deadline */
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10240\r\n\r\n");
    static char chunk[2048];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 5; i++) {
        sleep_ms(60);
        send_all(fd, chunk, sizeof chunk);
        pump();
    }
    struct resp r[1];
    cr_assert_eq(split_responses(r, 0), 0);
    for (int i = 0; i < 100 && inlen < 10240; i++) {
        pump();
        drain_client(fd, 65536);
    }
    cr_assert(memmem(inbuf, inlen, "HTTP/1.1 200", 12), "answered");
    cr_assert_eq(w.timed_out, 0);
    close(fd);
}

Test(timers, a_client_that_stops_reading_is_dropped)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    cr_assert_eq(ducta_worker_adopt(&w, sv[0]), 0);
    for (int i = 0; i < 200; i++)
        send_str(sv[1], req_json);
    pump();
    cr_assert_eq(w.slab[0].state, DUCTA_CONN_WRITING, "stuck on a full socket");
    sleep_ms(T_MS + 20);
    pump();
    cr_assert_eq(w.live, 0);
    cr_assert_eq(w.timed_out, 1);
    close(sv[1]);
}

Test(timers, lingering_ends_without_the_client)
{
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, "BAD\r\n\r\n");
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    cr_assert_eq(r[0].status, 400);
    cr_assert_eq(w.slab[0].state, DUCTA_CONN_LINGERING);
    sleep_ms(T_MS + 20);
    pump();
    cr_assert_eq(w.live, 0, "the client never closed; the deadline did");
    close(fd);
}

/* max_request_line bounds the request line, max_head the field section
 * after it, max_body the body: a request at all three limits at once must
 * fit the read buffer (with chunk framing around its body) and be served */
Test(conn, a_request_at_every_limit_fits_the_read_buffer)
{
    teardown();
    ducta_config_defaults(&cfg);
    cfg.max_conns = 2;
    cfg.limits.max_request_line = 8192;
    cfg.limits.max_head = 4096;
    cfg.limits.max_body = 4096;
    cr_assert_eq(ducta_worker_init(&w, &cfg, 0), 0);
    cr_assert_geq(w.rbuf_size, 8192 + 4096 + 4096 + DUCTA_CHUNK_SLACK);

    static char req[20000], body[4096];
    memset(body, 'b', sizeof body);
    /* near each limit, not at it: where a CRLF counts is the parser's */
    enum { QUERY = 8000, PAD = 3900 };
    int n = snprintf(req, sizeof req, "POST /echo?%*s HTTP/1.1\r\n", QUERY,
                     "q");
    memset(req + 11, 'q', QUERY);
    n += snprintf(req + n, sizeof req - (size_t)n,
                  "Host: t\r\nContent-Length: 4096\r\nX-Pad: %*s\r\n\r\n",
                  PAD, "x");
    /* more than a buffer of max_head + max_body + slack would hold */
    cr_assert_gt((size_t)n + sizeof body, 4096 + 4096 + DUCTA_CHUNK_SLACK);
    reset_inbuf();
    int fd = connect_client();
    send_all(fd, req, (size_t)n);
    send_all(fd, body, sizeof body);
    for (int i = 0; i < 200 && inlen < 4096; i++) {
        pump();
        drain_client(fd, 65536);
    }
    cr_assert(inlen > 12 && memcmp(inbuf, "HTTP/1.1 200", 12) == 0,
              "%.40s", inbuf);
    close(fd);
}

/* ---- a fresh connection, and empty lines: head 100 ms, idle 10 s ---- */

static void setup_fresh(void)
{
    ducta_config_defaults(&cfg);
    cfg.max_conns = 8;
    cfg.head_timeout_ms = T_MS;
    cfg.idle_timeout_ms = 100 * T_MS;
    cr_assert_eq(ducta_worker_init(&w, &cfg, 0), 0);
}

TestSuite(fresh, .init = setup_fresh, .fini = teardown);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Turn the loop until fd's connection is closed; the ms it took from t0,
 * or -1 if it is still open after limit_ms. */
static int64_t closed_within(int fd, int64_t t0, int limit_ms)
{
    while (now_ms() - t0 <= limit_ms) {
        pump();
        if (closed_by_server(fd))
            return now_ms() - t0;
        sleep_ms(5);
    }
    return -1;
}

Test(fresh, a_silent_connection_has_the_head_deadline_not_the_idle_one)
{
    pump();  /* the worker's clock is read once per round: make it now */
    int64_t t0 = now_ms();
    int fd = connect_client();
    int64_t at = closed_within(fd, t0, 20 * T_MS);
    cr_assert_geq(at, 0, "still open: it waits under the idle deadline");
    cr_assert_geq(at, T_MS - 10, "closed at %lld ms: not before", (long long)at);
    cr_assert_eq(w.timed_out, 1);
    close(fd);
}

Test(fresh, empty_lines_do_not_move_a_fresh_connections_deadline)
{
    /* the deadline runs from the accept; an empty line sent on its way
     * (within the allowed number) does not start it again */
    pump();
    int64_t t0 = now_ms();
    int fd = connect_client();
    send_str(fd, "\r\n");
    pump();
    sleep_ms(T_MS / 2);
    int64_t t_second = now_ms();
    send(fd, "\r\n", 2, MSG_NOSIGNAL);
    int64_t at = closed_within(fd, t0, 20 * T_MS);
    cr_assert_geq(at, 0, "still open: empty lines held it");
    /* had the second empty line moved it, it would close T_MS after it */
    if (t_second - t0 < T_MS / 2 + 20)
        cr_assert_lt(at, t_second - t0 + T_MS - 10,
                     "closed at %lld ms: the empty line at %lld ms moved it",
                     (long long)at, (long long)(t_second - t0));
    close(fd);
}

Test(fresh, a_head_begun_late_ends_on_the_deadline_of_the_accept)
{
    /* a fresh connection is under one deadline from its accept until its
     * first head is whole: beginning the head late does not start another
     * (which would let it hold its slot for twice the head timeout) */
    pump();
    int64_t t0 = now_ms();
    int fd = connect_client();
    pump();
    sleep_ms(T_MS / 2);
    int64_t t_begun = now_ms();
    send_str(fd, "GET /plaintext HT");
    int64_t at = closed_within(fd, t0, 20 * T_MS);
    cr_assert_geq(at, 0, "still open with half a head");
    if (t_begun - t0 < T_MS / 2 + 20)  /* the machine kept to the plan */
        cr_assert_lt(at, t_begun - t0 + T_MS - 10,
                     "closed at %lld ms: the head begun at %lld ms started "
                     "a deadline of its own", (long long)at,
                     (long long)(t_begun - t0));
    cr_assert_eq(w.timed_out, 1);
    close(fd);
}

Test(fresh, empty_lines_after_an_answer_start_the_head_deadline)
{
    /* an idle keep-alive connection that sends an empty line has begun
     * what should be a request: without one, it closes on the head
     * deadline, not 10 s later (and more empty lines would not move it) */
    reset_inbuf();
    int fd = connect_client();
    send_str(fd, req_plain);
    struct resp r[1];
    cr_assert_eq(await(fd, r, 1, 4096), 1);
    int64_t t0 = now_ms();
    send_str(fd, "\r\n");
    int64_t at = closed_within(fd, t0, 20 * T_MS);
    cr_assert_geq(at, 0, "still open: the empty line renewed the idle deadline");
    cr_assert_eq(w.timed_out, 1);
    close(fd);
}

Test(conn, a_pipelining_non_reader_cannot_grow_the_server)
{
    /* thousands of requests, none of the answers read: the server stops
     * reading and parsing once its write buffer is full, so what it holds
     * for this client stays within its two buffers */
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    cr_assert_eq(ducta_worker_adopt(&w, sv[0]), 0);
    struct ducta_conn *c = &w.slab[0];
    size_t sent = 0;
    for (int i = 0; i < 5000; i++) {
        ssize_t k = send(sv[1], req_json, sizeof req_json - 1, MSG_DONTWAIT);
        if (k > 0)
            sent += (size_t)k;
        pump();
        cr_assert_leq(c->rlen, w.rbuf_size);
        cr_assert_leq(c->wlen, w.wbuf_size);
    }
    uint64_t served = w.served;
    for (int i = 0; i < 10; i++)
        pump();
    cr_assert_eq(w.served, served, "no progress without a reader");
    cr_assert_lt(served, 5000, "answered %lu of %zu bytes' worth",
                 (unsigned long)served, sent);
    cr_assert_eq(c->state, DUCTA_CONN_WRITING);
    close(sv[1]);
    pump();
    cr_assert_eq(w.live, 0);
}

Test(conn, idle_connections_hold_no_buffers)
{
    /* eight clients, one request each, then idle: one buffer pair served
     * them all in turn, and none of them holds it now */
    int fds[8];
    for (int i = 0; i < 8; i++) {
        reset_inbuf();
        fds[i] = connect_client();
        send_str(fds[i], req_plain);
        struct resp r[1];
        cr_assert_eq(await(fds[i], r, 1, 4096), 1);
        cr_assert_eq(r[0].status, 200);
    }
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(w.slab[i].state, DUCTA_CONN_KEEPALIVE);
        cr_assert_null(w.slab[i].rbuf, "idle connection %d holds a buffer", i);
    }
    cr_assert_eq(w.buf_high_water, 1);
    cr_assert_eq(w.buf_free_top, 1);
    /* a partial request keeps its buffer while it waits for the rest */
    send_str(fds[3], "GET /plaintext HTTP/1.1\r\n");
    pump();
    cr_assert_not_null(w.slab[3].rbuf);
    cr_assert_eq(w.slab[3].state, DUCTA_CONN_READING);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    pump();
    cr_assert_eq(w.live, 0);
    cr_assert_eq(w.buf_free_top, w.buf_high_water, "every pair came back");
}

static int resident(const char *p, size_t len)
{
    /* how many of the pages under [p, p + len) are in memory */
    long page = sysconf(_SC_PAGESIZE);
    size_t n = (len + (size_t)page - 1) / (size_t)page;
    unsigned char vec[1024];
    cr_assert_leq(n, sizeof vec);
    cr_assert_eq(mincore((void *)p, len, vec), 0);
    int r = 0;
    for (size_t i = 0; i < n; i++)
        r += vec[i] & 1;
    return r;
}

Test(conn, buffer_pages_go_back_after_a_burst)
{
    /* a burst: 8 clients each with half a request (8 pairs in use, their
     * first pages touched), then all finish; two trims later the pages
     * of the pairs nobody took since are back with the kernel */
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = connect_client();
        send_str(fds[i], "GET /plaintext HTTP/1.1\r\n");
    }
    pump();
    cr_assert_eq(w.buf_high_water, 8);
    char *first = w.slab[0].rbuf;
    cr_assert_gt(resident(first, 4096), 0);
    int64_t due = w.trim_due_ms;
    for (int i = 0; i < 8; i++)
        send_str(fds[i], "Host: t\r\n\r\n");
    pump();
    cr_assert_eq(w.buf_free_top, 8, "all pairs back in the pool");
    ducta_buffers_trim(&w);  /* a trim: they were in use since the last */
    /* unless the loop's own once-a-second trim (ducta_worker_poll, in
     * pump) fell between their return and this trim: then this is the
     * second trim, and the pages may rightly be gone already */
    if (w.trim_due_ms == due)
        cr_assert_gt(resident(first, 4096), 0);
    ducta_buffers_trim(&w);  /* a quiet tick: now they are cold */
    size_t pair = w.rbuf_size + w.wbuf_size;
    for (int i = 0; i < 8; i++)
        cr_assert_eq(resident(w.buffers + (size_t)i * pair, 4096), 0,
                     "pair %d given back", i);
    /* and they work again, from fresh pages */
    reset_inbuf();
    send_str(fds[0], req_plain);
    struct resp r[2];
    cr_assert_eq(await(fds[0], r, 2, 4096), 2);
    cr_assert_str_eq(r[1].body, "Hello, World!");
    for (int i = 0; i < 8; i++)
        close(fds[i]);
}
