/*
 * test/soak.c — the load of `./build.sh soak`: a mixed, bounded, verified
 * load against a running ducta on 127.0.0.1, one epoll loop, plus the
 * watch on the server's memory and descriptors. test/soak.sh builds and
 * starts the server, runs this, then checks the server's exit and stderr.
 *
 *   soak --port P --pid PID --seconds S [--head-timeout MS]
 *        [--idle-timeout MS] [--write-timeout MS] [--linger-timeout MS]
 *        [--seed N] [--scale K] [--fill 0|1]
 *
 * Clients (slots per kind, times --scale; each slot reconnects when its
 * connection ends, for as long as the load runs):
 *   keepalive  32  one request at a time, mixed: GET /plaintext, GET /json,
 *                  HEAD /plaintext, GET /nope (404), POST /plaintext (405),
 *                  POST /echo (1-200 B); every response checked (status,
 *                  length, body). After 20-400 requests the last one says
 *                  "Connection: close" and the server must close.
 *   pipelined   8  16 GETs (/plaintext and /json) per write, 16 responses
 *                  checked in order; reconnect after 50-200 batches.
 *   slowloris  16  request line and Host at once, then one more header
 *                  byte every 500 ms, never ending the head: the server
 *                  must close within head-timeout + 3 s.
 *   rst-req     4  half a request (a POST /echo head and part of its
 *                  body), then SO_LINGER 0 + close: a reset mid-request.
 *   rst-resp    4  a whole POST /echo of 64 KB with a 4 KB receive buffer;
 *                  reset once the first response bytes arrive, so the
 *                  server is mid-write.
 *   echo        4  POST /echo, 32-64 KB random bodies, one in four
 *                  chunked; the echo checked byte for byte.
 *   nonreader   2  pipelines GETs forever (at most 64 MB), never reads:
 *                  the server must drop it (write-timeout) within
 *                  write-timeout + 20 s of connecting.
 *   fill      140  first, before all the others (--fill 1, the default):
 *                  a 64 KB POST /echo, then a non-reader's flood, all at
 *                  once, until the server drops them. The server's buffer
 *                  pool commits pages as they are first used and keeps
 *                  them; this takes it to its working set on purpose, so
 *                  that RSS growth after the warm-up means a leak, not the
 *                  pool filling in (docs/SOAK.md).
 *
 * Every 200 ms it reads the server's VmRSS (/proc/PID/status) and counts
 * /proc/PID/fd. RSS is reported at start, after the warm-up (the first 10%
 * of the time, or 1 s after the fill phase if that is later), at each
 * tenth and at the end of the load. Then every client closes, it waits
 * idle-timeout + 1 s, and counts the server's descriptors again: they must
 * be back at the count before the load.
 *
 * Exit status: 0 if all is well; 1 if any unexpected error happened, RSS
 * grew more than 10% after the warm-up, descriptors did not return to the
 * baseline, or the server died. Everything is bounded: the load by
 * --seconds, every wait on the server by a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ settings */

static int port, server_pid, seconds = 60, scale = 1;
static int head_timeout = 2000, idle_timeout = 5000, write_timeout = 3000,
           linger_timeout = 1000;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

enum kind { K_KA, K_PIPE, K_SLOW, K_RSTREQ, K_RSTRESP, K_ECHO, K_NONREAD, K_FILL, K_COUNT };
static const char *kind_name[K_COUNT] = {"keepalive", "pipelined", "slowloris", "rst-req",
                                         "rst-resp", "echo", "nonreader", "fill"};
static const int kind_slots[K_COUNT] = {32, 8, 16, 4, 4, 4, 2, 140};
static int fill = 1;            /* run the fill phase first */
static int fill_on;             /* it is running */
static uint64_t fill_dropped;

/* ------------------------------------------------------------ counters */

enum err {
    E_CONNECT,      /* connect failed (refused, timed out, no address) */
    E_STATUS,       /* a status other than the one the request must get */
    E_SHORT,        /* the connection ended before a whole response */
    E_CORRUPT,      /* unparseable response, wrong length or body */
    E_RESET,        /* a reset where none was due */
    E_STALL,        /* no response within 10 s */
    E_CLOSE,        /* closed after a response that did not say so */
    E_NOCLOSE,      /* "Connection: close" answered but not closed in 5 s */
    E_SLOW_OPEN,    /* a slowloris client still open at head-timeout + 3 s */
    E_NONREAD_OPEN, /* a non-reader not dropped */
    E_SEND,         /* send failed on a client that was not done */
    E_COUNT
};
static const char *err_name[E_COUNT] = {
    "connection failures", "unexpected statuses", "short responses", "corrupt responses",
    "unexpected resets", "stalled responses", "unexpected closes",
    "close not honoured", "slowloris not closed", "non-reader not dropped", "send failures"};
static uint64_t errs[E_COUNT];
static uint64_t served[K_COUNT];      /* verified responses, by client kind */
static uint64_t conns_made[K_COUNT];
static uint64_t resets_sent[K_COUNT];
static uint64_t slow_closed, nonread_dropped, close_honoured;
static long long slow_min_ms = -1, slow_max_ms, nonread_min_ms = -1, nonread_max_ms;
static int err_printed;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static long long t_start;

static void error(enum err e, int slot, const char *fmt, ...)
{
    errs[e]++;
    if (err_printed++ >= 40)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soak: %6.1fs slot %d: %s: ", (now_ms() - t_start) / 1000.0, slot,
            err_name[e]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static int rnd_range(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

/* ------------------------------------------------------------ connections */

enum { IN_CAP = 160 * 1024, OUT_CAP = 80 * 1024, QCAP = 16 };

struct expect {
    int status;
    const char *body;  /* NULL: any body of the announced length */
    int body_len;
    int head;          /* HEAD: no body whatever the Content-Length */
    int close;         /* the request asked to close */
};

enum cstate { C_IDLE, C_CONNECTING, C_OPEN };

struct conn {
    int slot;
    enum kind kind;
    enum cstate st;
    int fd;
    unsigned events;       /* registered epoll interest */
    long long opened_ms;   /* connect() time */
    long long wake_ms;     /* next timed action (reconnect, trickle, reset) */
    long long wait_since;  /* waiting for a response since (0: not waiting) */
    long long last_progress;
    int requests_left;     /* before the closing request / reconnect */
    int closing;           /* the server was asked to close; expect EOF */
    char *out;
    int olen, opos;
    char *in;
    int ilen;
    struct expect q[QCAP];
    int qn, qhead;
    char *body;            /* an echo body we expect back */
    int trickled;
    uint64_t nonread_sent;
    long long stalled_since;
};

static struct conn *conns;
static int nconns;
static int ep;
static struct sockaddr_in sa;

static const char PLAIN[] = "Hello, World!";
static const char JSON[] = "{\"message\":\"Hello, World!\"}";

static void set_events(struct conn *c, unsigned ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)c->slot};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

/* Close c's socket: with a reset (SO_LINGER 0) or normally. */
static void drop(struct conn *c, int reset, long long reconnect_in_ms)
{
    if (c->fd >= 0) {
        if (reset) {
            struct linger l = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            resets_sent[c->kind]++;
        }
        close(c->fd);  /* also leaves the epoll set */
    }
    c->fd = -1;
    c->st = C_IDLE;
    c->olen = c->opos = c->ilen = 0;
    c->qn = c->qhead = 0;
    c->closing = 0;
    c->wait_since = 0;
    c->trickled = 0;
    c->nonread_sent = 0;
    c->stalled_since = 0;
    c->wake_ms = now_ms() + reconnect_in_ms;
}

static void start_connect(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        error(E_CONNECT, c->slot, "socket: %s", strerror(errno));
        c->wake_ms = now_ms() + 100;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->kind == K_RSTRESP || c->kind == K_FILL) {
        int small = 4096;  /* the server cannot send it all at once */
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        error(E_CONNECT, c->slot, "connect: %s", strerror(errno));
        close(c->fd);
        c->fd = -1;
        c->wake_ms = now_ms() + 100;
        return;
    }
    conns_made[c->kind]++;
    c->st = C_CONNECTING;
    c->opened_ms = c->last_progress = now_ms();
    c->events = EPOLLOUT | EPOLLRDHUP;
    struct epoll_event e = {.events = c->events, .data.u32 = (uint32_t)c->slot};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    c->wake_ms = 0;
}

static int put(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->out + c->olen, (size_t)(OUT_CAP - c->olen), fmt, ap);
    va_end(ap);
    if (n < 0 || n >= OUT_CAP - c->olen)
        abort();  /* a bug in this program: the buffer is sized for the load */
    c->olen += n;
    return n;
}

static void expect(struct conn *c, int status, const char *body, int len, int head, int close)
{
    struct expect *e = &c->q[(c->qhead + c->qn++) % QCAP];
    *e = (struct expect){status, body, len, head, close};
}

static void fill_random(char *p, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (char)rnd();
}

/* POST /echo of n bytes of c->body, Content-Length or chunked */
static void put_echo(struct conn *c, int n, int chunked, int close)
{
    fill_random(c->body, n);
    const char *conn_hdr = close ? "Connection: close\r\n" : "";
    if (!chunked) {
        put(c, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %d\r\n\r\n",
            conn_hdr, n);
        memcpy(c->out + c->olen, c->body, (size_t)n);
        c->olen += n;
    } else {
        put(c, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n%sTransfer-Encoding: chunked\r\n\r\n",
            conn_hdr);
        for (int off = 0; off < n;) {
            int k = rnd_range(1024, 8192);
            if (k > n - off)
                k = n - off;
            put(c, "%x\r\n", k);
            memcpy(c->out + c->olen, c->body + off, (size_t)k);
            c->olen += k;
            put(c, "\r\n");
            off += k;
        }
        put(c, "0\r\n\r\n");
    }
    expect(c, 200, c->body, n, 0, close);
}

/* The next request (or batch) of a connection that is open and idle */
static void next_request(struct conn *c)
{
    c->olen = c->opos = 0;
    int last = --c->requests_left <= 0;
    const char *ch = last ? "Connection: close\r\n" : "";
    switch (c->kind) {
    case K_KA: {
        int r = rnd_range(0, 99);
        if (r < 40) {
            put(c, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", ch);
            expect(c, 200, PLAIN, 13, 0, last);
        } else if (r < 60) {
            put(c, "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n%s\r\n", ch);
            expect(c, 200, JSON, 27, 0, last);
        } else if (r < 70) {
            put(c, "HEAD /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", ch);
            expect(c, 200, NULL, 13, 1, last);
        } else if (r < 80) {
            put(c, "GET /nope?x=%u HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", rnd(), ch);
            expect(c, 404, NULL, -1, 0, last);
        } else if (r < 85) {
            put(c, "POST /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n%s\r\nabc",
                ch);
            expect(c, 405, NULL, -1, 0, last);
        } else {
            put_echo(c, rnd_range(1, 200), rnd_range(0, 3) == 0, last);
        }
        break;
    }
    case K_PIPE:
        for (int i = 0; i < 16; i++) {
            int cl = last && i == 15;
            if (rnd() & 1) {
                put(c, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
                    cl ? "Connection: close\r\n" : "");
                expect(c, 200, PLAIN, 13, 0, cl);
            } else {
                put(c, "GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
                    cl ? "Connection: close\r\n" : "");
                expect(c, 200, JSON, 27, 0, cl);
            }
        }
        break;
    case K_ECHO:
        put_echo(c, rnd_range(32 * 1024, 64 * 1024), rnd_range(0, 3) == 0, last);
        break;
    case K_RSTRESP:
        put_echo(c, 64 * 1024, 0, 0);
        break;
    default:
        abort();
    }
    c->closing = last;
    c->wait_since = now_ms();
}

/* Parse one response at c->in. Returns its length, 0 if incomplete, -1 if
 * it is not what the front of the queue expects (error already counted). */
static int take_response(struct conn *c)
{
    char *p = c->in;
    int n = c->ilen;
    char *end = memmem(p, (size_t)n, "\r\n\r\n", 4);
    if (!end) {
        if (n > 4096) {
            error(E_CORRUPT, c->slot, "no end of head in %d bytes", n);
            return -1;
        }
        return 0;
    }
    int hlen = (int)(end + 4 - p);
    struct expect *e = &c->q[c->qhead];
    if (hlen < 16 || memcmp(p, "HTTP/1.1 ", 9) != 0) {
        error(E_CORRUPT, c->slot, "bad status line: %.40s", p);
        return -1;
    }
    int status = atoi(p + 9);
    long cl = -1;
    int conn_close = 0;
    for (char *h = memchr(p, '\n', (size_t)hlen) + 1; h < end; h = memchr(h, '\n', (size_t)(end - h) + 2) + 1) {
        if (strncasecmp(h, "Content-Length:", 15) == 0)
            cl = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "Connection:", 11) == 0 && strncasecmp(h + 11, " close", 6) == 0)
            conn_close = 1;
        else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
            error(E_CORRUPT, c->slot, "unexpected Transfer-Encoding");
            return -1;
        }
    }
    if (cl < 0) {
        error(E_CORRUPT, c->slot, "no Content-Length (status %d)", status);
        return -1;
    }
    int blen = e->head ? 0 : (int)cl;
    if (hlen + blen > IN_CAP) {
        error(E_CORRUPT, c->slot, "response of %d bytes", hlen + blen);
        return -1;
    }
    if (n < hlen + blen)
        return 0;
    if (status != e->status) {
        error(E_STATUS, c->slot, "%s: status %d, expected %d", kind_name[c->kind], status,
              e->status);
        return -1;
    }
    if (e->body_len >= 0 && cl != e->body_len) {
        error(E_CORRUPT, c->slot, "Content-Length %ld, expected %d", cl, e->body_len);
        return -1;
    }
    if (e->body && memcmp(p + hlen, e->body, (size_t)blen) != 0) {
        error(E_CORRUPT, c->slot, "%s: body differs (%d bytes)", kind_name[c->kind], blen);
        return -1;
    }
    if (conn_close != e->close) {
        error(E_CLOSE, c->slot, "%s: status %d with%s Connection: close, expected%s",
              kind_name[c->kind], status, conn_close ? "" : "out", e->close ? " it" : " none");
        return -1;
    }
    return hlen + blen;
}

static void on_response_bytes(struct conn *c)
{
    for (;;) {
        if (c->qn == 0) {
            if (c->ilen > 0) {
                error(E_CORRUPT, c->slot, "%d bytes nobody asked for", c->ilen);
                drop(c, 0, 10);
            }
            return;
        }
        int n = take_response(c);
        if (n == 0)
            return;
        if (n < 0) {
            drop(c, 0, 10);
            return;
        }
        served[c->kind]++;
        memmove(c->in, c->in + n, (size_t)(c->ilen - n));
        c->ilen -= n;
        c->qhead = (c->qhead + 1) % QCAP;
        c->qn--;
        c->last_progress = now_ms();
        if (c->kind == K_RSTRESP)
            return;  /* never gets here whole: reset earlier */
        if (c->qn == 0) {
            c->wait_since = 0;
            if (c->closing) {
                c->wait_since = now_ms();  /* now for the EOF */
                return;
            }
            next_request(c);
            set_events(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
        }
    }
}

static void flush_out(struct conn *c)
{
    while (c->opos < c->olen) {
        ssize_t r = send(c->fd, c->out + c->opos, (size_t)(c->olen - c->opos), MSG_NOSIGNAL);
        if (r > 0) {
            c->opos += (int)r;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        error(E_SEND, c->slot, "%s: send: %s", kind_name[c->kind], strerror(errno));
        drop(c, 0, 10);
        return;
    }
    set_events(c, EPOLLIN | EPOLLRDHUP);
}

/* The connection has just connected */
static void on_connected(struct conn *c)
{
    c->st = C_OPEN;
    c->last_progress = now_ms();
    switch (c->kind) {
    case K_KA:
        c->requests_left = rnd_range(20, 400);
        break;
    case K_PIPE:
        c->requests_left = rnd_range(50, 200);
        break;
    case K_ECHO:
        c->requests_left = rnd_range(10, 100);
        break;
    case K_RSTRESP:
        c->requests_left = 1000000;
        break;
    case K_SLOW:
        c->olen = c->opos = 0;
        put(c, "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        flush_out(c);
        if (c->fd < 0)
            return;
        set_events(c, EPOLLIN | EPOLLRDHUP);
        c->wake_ms = now_ms() + 500;
        return;
    case K_RSTREQ: {
        c->olen = c->opos = 0;
        int n = rnd_range(1000, 60000);
        put(c, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", n);
        /* a part of the head, or the head and a part of the body */
        int upto = rnd_range(10, c->olen + n / 2);
        if (upto > c->olen) {
            fill_random(c->out + c->olen, upto - c->olen);
        }
        c->olen = upto;
        flush_out(c);
        if (c->fd < 0)
            return;
        set_events(c, EPOLLIN | EPOLLRDHUP);
        c->wake_ms = now_ms() + rnd_range(0, 30);  /* then reset */
        return;
    }
    case K_NONREAD:
        set_events(c, EPOLLOUT | EPOLLRDHUP);
        return;
    case K_FILL:
        /* a 64 KB echo (the read buffer, and the write buffer with the
         * answer), then the flood of a non-reader (the write buffer full) */
        c->olen = c->opos = 0;
        put(c, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 65536\r\n\r\n");
        fill_random(c->out + c->olen, 65536);
        c->olen += 65536;
        set_events(c, EPOLLOUT | EPOLLRDHUP);
        return;
    default:
        break;
    }
    next_request(c);
    set_events(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
}

static char nonread_block[64 * 64];
static int nonread_len;

/* A hostile client the server closed, as it should: count it, and how long
 * the server held it since we connected (the range in *min_ms..*max_ms). */
static void count_held(const struct conn *c, uint64_t *n, long long *min_ms,
                       long long *max_ms)
{
    long long t = now_ms() - c->opened_ms;
    ++*n;
    if (*min_ms < 0 || t < *min_ms)
        *min_ms = t;
    if (t > *max_ms)
        *max_ms = t;
}

/* A non-reader the server has dropped: counted; another after a pause. */
static void nonread_was_dropped(struct conn *c)
{
    count_held(c, &nonread_dropped, &nonread_min_ms, &nonread_max_ms);
    drop(c, 0, 10);
}

static void nonread_write(struct conn *c)
{
    for (int i = 0; i < 1024 && c->nonread_sent < 64u << 20; i++) {
        ssize_t r = send(c->fd, nonread_block, (size_t)nonread_len, MSG_NOSIGNAL);
        if (r > 0) {
            c->nonread_sent += (uint64_t)r;
            c->last_progress = now_ms();
            c->stalled_since = 0;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!c->stalled_since)
                c->stalled_since = now_ms();
            return;
        }
        /* EPIPE / ECONNRESET: the server dropped us, as it should */
        if (c->kind == K_FILL) {
            fill_dropped++;
            drop(c, 0, 0);
            c->wake_ms = -1;  /* fillers do not come back */
            return;
        }
        nonread_was_dropped(c);
        return;
    }
    if (c->nonread_sent >= 64u << 20)
        set_events(c, EPOLLRDHUP);  /* sent all we will; wait to be dropped */
}

static void on_event(struct conn *c, unsigned ev)
{
    if (c->st == C_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            error(E_CONNECT, c->slot, "%s: connect: %s", kind_name[c->kind], strerror(err));
            drop(c, 0, 100);
            return;
        }
        if (!(ev & EPOLLOUT))
            return;
        on_connected(c);
        return;
    }
    if (c->st != C_OPEN)
        return;
    if (c->kind == K_FILL) {
        if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
            fill_dropped++;
            drop(c, 0, 0);
            c->wake_ms = -1;
            return;
        }
        if (c->opos < c->olen) {
            ssize_t r = send(c->fd, c->out + c->opos, (size_t)(c->olen - c->opos), MSG_NOSIGNAL);
            if (r > 0)
                c->opos += (int)r;
            else if (r < 0 && errno != EAGAIN && errno != EINTR) {
                fill_dropped++;
                drop(c, 0, 0);
                c->wake_ms = -1;
            }
            return;
        }
        if (ev & EPOLLOUT)
            nonread_write(c);
        return;
    }
    if (c->kind == K_NONREAD) {
        if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
            nonread_was_dropped(c);
            return;
        }
        if (ev & EPOLLOUT)
            nonread_write(c);
        return;
    }
    if ((ev & EPOLLOUT) && c->opos < c->olen) {
        flush_out(c);
        if (c->fd < 0)
            return;
    }
    if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
        return;
    /* read what there is */
    int eof = 0, rerr = 0;
    for (;;) {
        if (c->ilen >= IN_CAP) {
            error(E_CORRUPT, c->slot, "%s: more than %d bytes unanswered", kind_name[c->kind],
                  IN_CAP);
            drop(c, 0, 10);
            return;
        }
        ssize_t r = recv(c->fd, c->in + c->ilen, (size_t)(IN_CAP - c->ilen), 0);
        if (r > 0) {
            c->ilen += (int)r;
            if (c->kind == K_RSTRESP) {
                /* the first response bytes are here: reset mid-response */
                drop(c, 1, rnd_range(5, 20));
                return;
            }
            continue;
        }
        if (r == 0)
            eof = 1;
        else if (errno != EAGAIN && errno != EINTR)
            rerr = errno;
        break;
    }
    if (c->kind == K_SLOW) {
        if (c->ilen > 0 && memcmp(c->in, "HTTP/1.1 4", 10) != 0) {
            error(E_CORRUPT, c->slot, "slowloris got: %.40s", c->in);
            drop(c, 0, 10);
            return;
        }
        if (eof || rerr) {
            count_held(c, &slow_closed, &slow_min_ms, &slow_max_ms);
            drop(c, 0, 0);
        }
        return;
    }
    if (c->kind == K_RSTREQ) {
        /* the server may answer a cut request only when its deadline
         * passes; we reset before that. Anything else is odd. */
        if (c->ilen > 0) {
            error(E_CORRUPT, c->slot, "rst-req got: %.40s", c->in);
            drop(c, 0, 10);
        } else if (eof || rerr) {
            error(E_CLOSE, c->slot, "rst-req: closed by the server before our reset");
            drop(c, 0, 10);
        }
        return;
    }
    on_response_bytes(c);
    if (c->fd < 0)
        return;
    if (eof || rerr) {
        if (c->closing && c->qn == 0) {
            close_honoured++;
            drop(c, 0, 0);
            return;
        }
        if (rerr == ECONNRESET)
            error(E_RESET, c->slot, "%s: reset with %d responses due", kind_name[c->kind], c->qn);
        else if (rerr)
            error(E_SHORT, c->slot, "%s: recv: %s", kind_name[c->kind], strerror(rerr));
        else if (c->qn > 0)
            error(E_SHORT, c->slot, "%s: EOF with %d responses due (%d bytes of one)",
                  kind_name[c->kind], c->qn, c->ilen);
        else
            error(E_CLOSE, c->slot, "%s: closed while idle", kind_name[c->kind]);
        drop(c, 0, 10);
    }
}

/* Timed actions: reconnects, trickles, resets, and the deadlines we hold
 * the server to. */
static void on_timers(int load_on)
{
    long long t = now_ms();
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->st == C_IDLE) {
            if (load_on && c->wake_ms >= 0 && t >= c->wake_ms && (c->kind == K_FILL) == fill_on)
                start_connect(c);
            continue;
        }
        if (c->st == C_CONNECTING) {
            if (t - c->opened_ms > 10000) {
                error(E_CONNECT, c->slot, "%s: connect took over 10 s", kind_name[c->kind]);
                drop(c, 0, 100);
            }
            continue;
        }
        switch (c->kind) {
        case K_SLOW:
            if (t - c->opened_ms > head_timeout + 3000) {
                error(E_SLOW_OPEN, c->slot, "open %lld ms after its first byte (head-timeout %d)",
                      t - c->opened_ms, head_timeout);
                drop(c, 0, 0);
            } else if (c->wake_ms && t >= c->wake_ms) {
                char b = 'a' + (char)(c->trickled++ % 26);
                if (send(c->fd, &b, 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
                    /* closed under us: the read side will say so */
                }
                c->wake_ms = t + 500;
            }
            break;
        case K_RSTREQ:
            if (c->wake_ms && t >= c->wake_ms)
                drop(c, 1, rnd_range(5, 20));
            break;
        case K_FILL:
        case K_NONREAD:
            if (t - c->opened_ms > write_timeout + 20000) {
                error(E_NONREAD_OPEN, c->slot, "%s: still open after %lld ms, %llu bytes sent",
                      kind_name[c->kind], t - c->opened_ms, (unsigned long long)c->nonread_sent);
                drop(c, 0, 10);
                if (c->kind == K_FILL)
                    c->wake_ms = -1;
            }
            break;
        default:
            if (c->wait_since && t - c->wait_since > (c->closing && c->qn == 0 ? 5000 : 10000)) {
                if (c->closing && c->qn == 0)
                    error(E_NOCLOSE, c->slot, "%s: not closed 5 s after Connection: close",
                          kind_name[c->kind]);
                else
                    error(E_STALL, c->slot, "%s: %d responses due for 10 s (%d bytes in)",
                          kind_name[c->kind], c->qn, c->ilen);
                drop(c, 0, 10);
            }
            break;
        }
    }
}

/* ------------------------------------------------------------ the server */

static long rss_kb(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static int fd_count(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", server_pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int server_alive(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/stat", server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char *p = ok ? strrchr(line, ')') : NULL;
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* ------------------------------------------------------------ main */

static volatile sig_atomic_t interrupted;
static void on_sig(int s) { (void)s; interrupted = 1; }

static int arg_int(const char *v, const char *name)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end || x < 0 || x > 100000000) {
        fprintf(stderr, "soak: bad %s '%s'\n", name, v);
        exit(2);
    }
    return (int)x;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--port")) port = arg_int(v, k);
        else if (!strcmp(k, "--pid")) server_pid = arg_int(v, k);
        else if (!strcmp(k, "--seconds")) seconds = arg_int(v, k);
        else if (!strcmp(k, "--head-timeout")) head_timeout = arg_int(v, k);
        else if (!strcmp(k, "--idle-timeout")) idle_timeout = arg_int(v, k);
        else if (!strcmp(k, "--write-timeout")) write_timeout = arg_int(v, k);
        else if (!strcmp(k, "--linger-timeout")) linger_timeout = arg_int(v, k);
        else if (!strcmp(k, "--seed")) rng = (uint64_t)arg_int(v, k) * 0x9e3779b97f4a7c15ull + 1;
        else if (!strcmp(k, "--scale")) scale = arg_int(v, k);
        else if (!strcmp(k, "--fill")) fill = arg_int(v, k);
        else { fprintf(stderr, "soak: unknown option %s\n", k); return 2; }
    }
    if (!port || !server_pid || seconds < 1 || scale < 1) {
        fprintf(stderr, "usage: soak --port P --pid PID --seconds S [--head-timeout MS] "
                        "[--idle-timeout MS] [--write-timeout MS] [--linger-timeout MS] "
                        "[--seed N] [--scale K]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    setvbuf(stdout, NULL, _IOLBF, 0);

    sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ep = epoll_create1(EPOLL_CLOEXEC);
    for (int k = 0; k < K_COUNT; k++)
        nconns += kind_slots[k] * scale;
    conns = calloc((size_t)nconns, sizeof *conns);
    if (ep < 0 || !conns)
        return 2;
    for (int k = 0, s = 0; k < K_COUNT; k++)
        for (int j = 0; j < kind_slots[k] * scale; j++, s++) {
            struct conn *c = &conns[s];
            c->slot = s;
            c->kind = (enum kind)k;
            c->fd = -1;
            c->st = C_IDLE;
            int f = k == K_FILL;
            c->in = f ? NULL : malloc(IN_CAP);
            c->out = malloc(OUT_CAP);
            c->body = f ? NULL : malloc(64 * 1024);
            if ((!f && (!c->in || !c->body)) || !c->out)
                return 2;
            c->wake_ms = f && !fill ? -1 : 0;
        }
    for (int i = 0; i < 64; i++)
        nonread_len += snprintf(nonread_block + nonread_len, sizeof nonread_block - (size_t)nonread_len,
                                "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

    int fd_base = fd_count();
    long rss_start = rss_kb();
    if (fd_base < 0 || rss_start < 0 || !server_alive()) {
        fprintf(stderr, "soak: no server with pid %d\n", server_pid);
        return 1;
    }
    t_start = now_ms();
    long long warm_at = t_start + (long long)seconds * 100;  /* 10% */
    long long fill_end = 0;
    fill_on = fill;
    long long end_at = t_start + (long long)seconds * 1000;
    long long next_sample = t_start, next_timers = t_start, next_report = t_start + 10000;
    long rss_warm = -1, rss_end = -1, rss_max = rss_start;
    long rss_tenth[10];  /* at the end of each tenth of the load */
    int tenths = 0;
    int fd_peak = fd_base;
    int died = 0;
    printf("soak: %d s against pid %d on 127.0.0.1:%d; %d client slots:", seconds, server_pid,
           port, nconns);
    for (int k = 0; k < K_COUNT; k++)
        printf(" %s %d%s", kind_name[k], kind_slots[k] * scale, k + 1 < K_COUNT ? "," : "\n");
    printf("soak: server at start: RSS %ld kB, %d descriptors\n", rss_start, fd_base);

    struct epoll_event evs[256];
    while (!interrupted) {
        long long t = now_ms();
        if (t >= end_at)
            break;
        int k = epoll_wait(ep, evs, 256, 10);
        for (int i = 0; i < k; i++)
            on_event(&conns[evs[i].data.u32], evs[i].events);
        t = now_ms();
        if (fill_on) {
            int open = 0;
            for (int i = 0; i < nconns; i++)
                if (conns[i].kind == K_FILL && (conns[i].st != C_IDLE || conns[i].wake_ms >= 0))
                    open++;
            if (!open) {
                fill_on = 0;
                fill_end = t;
                if (warm_at < t + 1000)  /* a second of the mix, at least */
                    warm_at = t + 1000;
                fprintf(stderr, "soak: %.1fs: fill done (%llu fillers dropped); the mix starts\n",
                        (t - t_start) / 1000.0, (unsigned long long)fill_dropped);
            }
        }
        if (t >= next_timers) {
            on_timers(1);
            next_timers = t + 10;
        }
        if (t >= next_sample) {
            next_sample = t + 200;
            long r = rss_kb();
            int f = fd_count();
            if (r < 0 || f < 0 || !server_alive()) {
                died = 1;
                fprintf(stderr, "soak: %.1fs: the server (pid %d) is gone\n", (t - t_start) / 1000.0,
                        server_pid);
                break;
            }
            if (f > fd_peak)
                fd_peak = f;
            if (r > rss_max)
                rss_max = r;
            if (rss_warm < 0 && t >= warm_at)
                rss_warm = r;
            while (tenths < 10 && t >= t_start + (long long)seconds * 100 * (tenths + 1))
                rss_tenth[tenths++] = r;
            rss_end = r;
        }
        if (t >= next_report) {
            uint64_t tot = 0, e = 0;
            for (int j = 0; j < K_COUNT; j++)
                tot += served[j];
            for (int j = 0; j < E_COUNT; j++)
                e += errs[j];
            fprintf(stderr, "soak: %4.0fs: %llu responses, %llu errors, RSS %ld kB, fds %d (peak %d)\n",
                    (t - t_start) / 1000.0, (unsigned long long)tot, (unsigned long long)e, rss_end,
                    fd_count(), fd_peak);
            next_report = t + 10000;
        }
    }
    long long load_ms = now_ms() - t_start;

    /* Stop: every client closes, normally. */
    for (int i = 0; i < nconns; i++)
        if (conns[i].fd >= 0)
            drop(&conns[i], 0, 0);
    long long stop_at = now_ms();
    int fd_back_ms = -1, fd_final = -1;
    long rss_after = -1;
    if (!died) {
        /* wait out the idle timeout (and the others) and a second more */
        long long until = stop_at + idle_timeout + 1000;
        while (now_ms() < until && !interrupted) {
            int f = fd_count();
            if (f < 0 || !server_alive()) {
                died = 1;
                break;
            }
            if (f == fd_base && fd_back_ms < 0)
                fd_back_ms = (int)(now_ms() - stop_at);
            if (f != fd_base)
                fd_back_ms = -1;
            usleep(100 * 1000);
        }
        fd_final = died ? -1 : fd_count();
        rss_after = died ? -1 : rss_kb();
    }

    /* ---- report */
    uint64_t total = 0, nerr = 0;
    for (int k = 0; k < K_COUNT; k++)
        total += served[k];
    for (int e = 0; e < E_COUNT; e++)
        nerr += errs[e];
    printf("soak: load ran %.1f s%s\n", load_ms / 1000.0, interrupted ? " (interrupted)" : "");
    printf("requests served (verified responses): %llu, %.0f/s\n", (unsigned long long)total,
           total / (load_ms / 1000.0));
    printf("  %-10s %12s %12s %12s\n", "client", "responses", "connections", "resets sent");
    for (int k = 0; k < K_COUNT; k++)
        printf("  %-10s %12llu %12llu %12llu\n", kind_name[k], (unsigned long long)served[k],
               (unsigned long long)conns_made[k], (unsigned long long)resets_sent[k]);
    printf("intended closes: %llu Connection: close honoured; %llu slowloris closed by the server"
           " (%lld-%lld ms after their first byte; head-timeout %d); %llu non-readers dropped"
           " (%lld-%lld ms after connecting; write-timeout %d)\n",
           (unsigned long long)close_honoured, (unsigned long long)slow_closed,
           slow_min_ms < 0 ? 0 : slow_min_ms, slow_max_ms, head_timeout,
           (unsigned long long)nonread_dropped, nonread_min_ms < 0 ? 0 : nonread_min_ms,
           nonread_max_ms, write_timeout);
    printf("errors: %llu\n", (unsigned long long)nerr);
    for (int e = 0; e < E_COUNT; e++)
        printf("  %-24s %llu\n", err_name[e], (unsigned long long)errs[e]);
    if (fill)
        printf("fill phase: %d fillers (64 KB echo, then a non-reader's flood), all dropped by"
               " the server after %.1f s\n", kind_slots[K_FILL] * scale,
               fill_end ? (fill_end - t_start) / 1000.0 : -1.0);
    printf("server RSS: start %ld kB, after warm-up (%.1f s) %ld kB, end %ld kB, peak %ld kB;"
           " end/warm-up %.3f\n",
           rss_start, (warm_at - t_start) / 1000.0, rss_warm, rss_end, rss_max,
           rss_warm > 0 ? (double)rss_end / (double)rss_warm : 0.0);
    printf("server RSS after the load, all clients gone, %d ms later: %ld kB\n",
           idle_timeout + 1000, rss_after);
    printf("server RSS by tenth of the load (kB):");
    for (int i = 0; i < tenths; i++)
        printf(" %ld", rss_tenth[i]);
    printf("\n");
    printf("server descriptors: baseline %d, peak %d, %d ms after all clients closed: %d",
           fd_base, fd_peak, idle_timeout + 1000, fd_final);
    if (fd_back_ms >= 0)
        printf(" (back at baseline %d ms after the clients closed)", fd_back_ms);
    printf("\n");

    int fail = 0;
    if (died) {
        printf("FAIL: the server died\n");
        fail = 1;
    }
    if (nerr) {
        printf("FAIL: %llu unexpected errors\n", (unsigned long long)nerr);
        fail = 1;
    }
    if (rss_warm > 0 && rss_end > rss_warm + rss_warm / 10) {
        printf("FAIL: RSS grew %.1f%% after the warm-up (limit 10%%)\n",
               100.0 * (double)(rss_end - rss_warm) / (double)rss_warm);
        fail = 1;
    }
    if (rss_warm < 0 && !died) {
        printf("FAIL: no RSS sample after the warm-up\n");
        fail = 1;
    }
    if (!died && fd_final != fd_base) {
        printf("FAIL: descriptors %d, not back at the baseline %d\n", fd_final, fd_base);
        fail = 1;
    }
    if (!total) {
        printf("FAIL: nothing was served\n");
        fail = 1;
    }
    if (slow_closed == 0 && seconds * 1000 > head_timeout + 3000) {
        printf("FAIL: no slowloris client was closed by the server\n");
        fail = 1;
    }
    if (nonread_dropped == 0 && seconds * 1000 > write_timeout + 20000) {
        printf("FAIL: no non-reader was dropped by the server\n");
        fail = 1;
    }
    if (interrupted) {
        printf("FAIL: interrupted\n");
        fail = 1;
    }
    printf("soak: %s\n", fail ? "FAILED" : "passed");
    (void)linger_timeout;
    return fail;
}
