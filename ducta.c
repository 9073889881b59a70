/*
 * ducta.c — start-up, the workers and their event loop.
 *
 * Owns: the command line, listening sockets, one worker thread per core,
 * each with its own SO_REUSEPORT listener and its own epoll instance (the
 * kernel spreads new connections across the listeners, so workers share
 * nothing and take no locks), accept, the Date clock, and shutdown on
 * SIGINT/SIGTERM.
 *
 * Does not own: what happens on a connection once accepted (conn.c).
 *
 * The event backend is the small "ev_" section below: open, watch, wait,
 * translated into DUCTA_EV_READ/WRITE for conn.c. It is the seam where a
 * completion-based backend (io_uring) would replace epoll, the way redis's
 * ae.c picks one ae_*.c file.
 */
#define _GNU_SOURCE
#include "ducta.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Defaults, documented in --help and README.md. */
enum {
    DEFAULT_PORT = 8080,
    DEFAULT_MAX_CONNS = 10000,
    DEFAULT_DRAIN_MS = 5000,
    DEFAULT_BACKLOG = 4096,
    DEFAULT_HEAD_TIMEOUT_MS = 10000,
    DEFAULT_BODY_TIMEOUT_MS = 10000,
    DEFAULT_IDLE_TIMEOUT_MS = 60000,
    DEFAULT_WRITE_TIMEOUT_MS = 30000,
    DEFAULT_LINGER_TIMEOUT_MS = 5000,
    MAX_THREADS = 1024,
    MAX_MAX_CONNS = 10000000,
    MAX_LIMIT = 1 << 30,       /* largest --max-head/--max-body, bytes */
    MIN_HEAD = 256,            /* smallest --max-head/--max-request-line */
    EVENTS_PER_WAIT = 512,     /* epoll_wait batch */
    TICK_MS = 1000,            /* idle wake-up: the Date clock's grain */
    DRAIN_TICK_MS = 50,        /* wake-up while draining for shutdown */
    DEFER_ACCEPT_S = 1,        /* TCP_DEFER_ACCEPT: see open_listener */
};

/* Tokens for the two descriptors in every epoll set that are not
 * connections. A connection's token is (generation << 32) | slot. */
enum {
    TOKEN_LISTEN = DUCTA_NO_SLOT,
    TOKEN_WAKE = DUCTA_NO_SLOT - 1,
};

void ducta_config_defaults(struct ducta_config *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *cfg = (struct ducta_config){
        .bind = "127.0.0.1",
        .port = DEFAULT_PORT,
        .threads = cores > 0 ? (int)cores : 1,
        .max_conns = DEFAULT_MAX_CONNS,
        .pin = 1,
        .drain_ms = DEFAULT_DRAIN_MS,
        .backlog = DEFAULT_BACKLOG,
        .head_timeout_ms = DEFAULT_HEAD_TIMEOUT_MS,
        .body_timeout_ms = DEFAULT_BODY_TIMEOUT_MS,
        .idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS,
        .write_timeout_ms = DEFAULT_WRITE_TIMEOUT_MS,
        .linger_timeout_ms = DEFAULT_LINGER_TIMEOUT_MS,
        .limits = {
            .max_request_line = DUCTA_DEFAULT_MAX_REQUEST_LINE,
            .max_head = DUCTA_DEFAULT_MAX_HEAD,
            .max_headers = DUCTA_DEFAULT_MAX_HEADERS,
            .max_body = DUCTA_DEFAULT_MAX_BODY,
        },
    };
}

/* ---- ev: the event backend (epoll, edge-triggered) -------------------- */

struct ev_event {
    uint64_t token;
    unsigned bits;  /* DUCTA_EV_* */
};

static int ev_open(void)
{
    return epoll_create1(EPOLL_CLOEXEC);
}

/* Connections are watched for both directions, edge-triggered, once: the
 * state machine remembers readiness, so no epoll_ctl is ever needed to
 * switch between reading and writing. */
static int ev_watch_conn(int epfd, int fd, uint64_t token)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = token,
    };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The listener is edge-triggered and drained to EAGAIN; the wake-up
 * eventfd is level-triggered so that every worker sees one write. */
static int ev_watch_in(int epfd, int fd, uint64_t token, int edge)
{
    struct epoll_event ev = {
        .events = EPOLLIN | (edge ? EPOLLET : 0),
        .data.u64 = token,
    };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* EPOLL_CTL_MOD re-evaluates readiness: if the socket is writable (or
 * readable) now, the modified entry is queued at once, a new edge. */
static int ev_rearm_conn(int epfd, int fd, uint64_t token)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = token,
    };
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void ev_unwatch(int epfd, int fd)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

static int ev_wait(int epfd, struct ev_event *out, int max, int timeout_ms)
{
    struct epoll_event evs[EVENTS_PER_WAIT];
    if (max > EVENTS_PER_WAIT)
        max = EVENTS_PER_WAIT;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        out[i].token = evs[i].data.u64;
        out[i].bits = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            out[i].bits |= DUCTA_EV_READ;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            out[i].bits |= DUCTA_EV_WRITE;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            out[i].bits |= DUCTA_EV_PEER_SHUT;
    }
    return n;
}

/* ---- the worker ------------------------------------------------------- */

void ducta_worker_tick(struct ducta_worker *w)
{
    struct timespec ts;
    /* the coarse clocks are a vDSO read, no syscall: a few ms of grain is
     * plenty for deadlines counted in seconds */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    w->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == w->date_sec)
        return;
    w->date_sec = ts.tv_sec;
    ducta_buffers_trim(w);  /* once a second, like the Date */
    struct tm tm;
    char tmp[64];
    gmtime_r(&ts.tv_sec, &tm);
    /* strftime in the C locale: the process never calls setlocale */
    if (strftime(tmp, sizeof tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm) ==
        DUCTA_DATE_LEN)
        memcpy(w->date, tmp, DUCTA_DATE_LEN);
}

int ducta_worker_init(struct ducta_worker *w, const struct ducta_config *cfg,
                      int id)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->cfg = cfg;
    w->listen_fd = -1;
    w->date_sec = -1;
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    w->epfd = ev_open();
    if (w->epfd < 0)
        return -1;
    if (ducta_slab_init(w) != 0) {
        close(w->epfd);
        return -1;
    }
    ducta_worker_tick(w);
    return 0;
}

void ducta_worker_destroy(struct ducta_worker *w)
{
    ducta_slab_free(w);
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    if (w->reserve_fd >= 0)
        close(w->reserve_fd);
    close(w->epfd);
}

static uint64_t conn_token(struct ducta_worker *w, struct ducta_conn *c)
{
    return ((uint64_t)c->gen << 32) | (uint32_t)(c - w->slab);
}

int ducta_worker_rearm(struct ducta_worker *w, struct ducta_conn *c)
{
    return ev_rearm_conn(w->epfd, c->fd, conn_token(w, c));
}

int ducta_worker_adopt(struct ducta_worker *w, int fd)
{
    struct ducta_conn *c = ducta_conn_open(w, fd);
    if (!c) {
        close(fd);
        return -1;
    }
    if (ev_watch_conn(w->epfd, fd, conn_token(w, c)) != 0) {
        ducta_conn_close(w, c);
        return -1;
    }
    ducta_conn_event(w, c, 0);  /* optimistic first read: see conn_open */
    return 0;
}

/* Out of descriptors: a connection left in the backlog would wait there
 * until it gave up, and the listener's edge would not fire again for it.
 * Spend the descriptor kept in reserve to accept it and close it at once
 * (the client sees the close right away), then take the reserve back. */
static int shed_one(struct ducta_worker *w)
{
    if (w->reserve_fd < 0)
        return 0;
    close(w->reserve_fd);
    int fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        w->shed++;
    }
    w->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
}

static void accept_all(struct ducta_worker *w)
{
    for (;;) {
        int fd = accept4(w->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && shed_one(w))
                continue;
            /* EAGAIN: drained. ENOBUFS/ENOMEM: leave the rest in the
             * backlog; the next connection's edge brings us back. */
            return;
        }
        /* Responses are coalesced by us, so Nagle only adds delay */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* slab full or epoll refused: the connection is shed (closed) */
        if (ducta_worker_adopt(w, fd) != 0)
            w->shed++;
    }
}

static void begin_stop(struct ducta_worker *w, int wake_fd)
{
    w->stopping = 1;
    ev_unwatch(w->epfd, wake_fd);
    if (w->listen_fd >= 0) {
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    for (uint32_t i = 0; i < w->high_water; i++)
        if (w->slab[i].state != DUCTA_CONN_FREE)
            ducta_conn_begin_drain(w, &w->slab[i]);
}

/* The wake-up eventfd of the running server (-1 in tests). */
static int wake_fd = -1;

int ducta_worker_poll(struct ducta_worker *w, int timeout_ms)
{
    struct ev_event evs[EVENTS_PER_WAIT];
    int n = ev_wait(w->epfd, evs, EVENTS_PER_WAIT, timeout_ms);
    if (n < 0)
        return -1;
    ducta_worker_tick(w);
    for (int i = 0; i < n; i++) {
        uint32_t slot = (uint32_t)evs[i].token;
        if (slot == TOKEN_LISTEN) {
            if (w->listen_fd >= 0)
                accept_all(w);
        } else if (slot == TOKEN_WAKE) {
            begin_stop(w, wake_fd);
        } else if (slot < w->high_water) {
            struct ducta_conn *c = &w->slab[slot];
            /* a stale event for a slot closed and reused in this batch */
            if (c->gen != (uint32_t)(evs[i].token >> 32) ||
                c->state == DUCTA_CONN_FREE)
                continue;
            ducta_conn_event(w, c, evs[i].bits);
        }
    }
    ducta_conn_expire(w);
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *worker_main(void *arg)
{
    struct ducta_worker *w = arg;
    int64_t deadline = 0;
    for (;;) {
        if (ducta_worker_poll(w, w->stopping ? DRAIN_TICK_MS : TICK_MS) < 0)
            break;
        if (!w->stopping)
            continue;
        if (!deadline)
            deadline = now_ms() + w->cfg->drain_ms;
        if (w->live == 0 || now_ms() >= deadline)
            break;
    }
    return NULL;
}

/* ---- start-up ---------------------------------------------------------- */

static int open_listener(const struct ducta_config *cfg, int port,
                         int reuseport, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "--bind: '%s' is not an IPv4 address",
                 cfg->bind);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
        close(fd);
        return -1;
    }
    /* A connection becomes acceptable when its first bytes arrive, not at
     * the end of the handshake: one wake-up of the worker per connection
     * instead of two (accept, then the request), and the first recv always
     * finds the request. On loopback, each wake-up is a cross-CPU interrupt
     * the client pays for: with a new connection per request, wrk went
     * from 0.73x to 0.97x of its rate against h2o, which does the same
     * (docs/BENCHMARKS.md, "newconn"). A client that connects and never
     * sends is then the kernel's to time out, not ours.
     * Not fatal where it is not supported. */
    int defer = DEFER_ACCEPT_S;
    if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer) !=
        0)
        fprintf(stderr, "ducta: TCP_DEFER_ACCEPT: %s (going on without)\n",
                strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->bind, port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, cfg->backlog) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    return ntohs(sa.sin_port);
}

static void pin_to_core(pthread_t t, int i)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores <= 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(i % cores, &set);
    pthread_setaffinity_np(t, sizeof set, &set);  /* best effort */
}

/* Undo what ducta_serve() set up, for its error paths and its end. */
static void teardown(struct ducta_worker *workers, int ready)
{
    for (int i = 0; i < ready; i++)
        ducta_worker_destroy(&workers[i]);
    if (wake_fd >= 0)
        close(wake_fd);
    wake_fd = -1;
    free(workers);
}

int ducta_serve(const struct ducta_config *cfg)
{
    char err[256];
    int n = cfg->threads, ready = 0, started = 0;
    pthread_t tids[MAX_THREADS];
    struct ducta_worker *workers = calloc((size_t)n, sizeof *workers);
    if (!workers) {
        fprintf(stderr, "ducta: out of memory\n");
        return 1;
    }

    if (cfg->root && ducta_files_init(cfg->root, err, sizeof err) != 0) {
        fprintf(stderr, "ducta: %s\n", err);
        free(workers);
        return 1;
    }

    /* Every worker's socket carries SO_REUSEPORT, so bind() would happily
     * share the port with another such process. Bind once without it
     * first, so that a taken port is an error and not a silent split. */
    int port = cfg->port;
    if (port != 0) {
        int probe = open_listener(cfg, port, 0, err, sizeof err);
        if (probe < 0)
            goto fail;
        close(probe);
    }

    /* SIGINT/SIGTERM are taken by sigwait() in this thread only; the
     * workers inherit the blocked mask. SIGPIPE is ignored: a peer that
     * vanished is an ordinary EPIPE (sends also pass MSG_NOSIGNAL). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0) {
        snprintf(err, sizeof err, "eventfd: %s", strerror(errno));
        goto fail;
    }
    for (; ready < n; ready++) {
        struct ducta_worker *w = &workers[ready];
        if (ducta_worker_init(w, cfg, ready) != 0) {
            snprintf(err, sizeof err, "worker %d: cannot allocate %d "
                     "connection slots: %s", ready, cfg->max_conns,
                     strerror(errno));
            goto fail;
        }
        /* with --port 0 the first bind picks the port the rest share */
        w->listen_fd = open_listener(cfg, port, 1, err, sizeof err);
        if (w->listen_fd < 0) {
            ready++;  /* initialised: destroy it too */
            goto fail;
        }
        if (port == 0)
            port = bound_port(w->listen_fd);
        if (ev_watch_in(w->epfd, w->listen_fd, TOKEN_LISTEN, 1) != 0 ||
            ev_watch_in(w->epfd, wake_fd, TOKEN_WAKE, 0) != 0) {
            snprintf(err, sizeof err, "epoll_ctl: %s", strerror(errno));
            ready++;
            goto fail;
        }
    }
    for (; started < n; started++) {
        int rc = pthread_create(&tids[started], NULL, worker_main,
                                &workers[started]);
        if (rc != 0) {
            snprintf(err, sizeof err, "pthread_create: %s", strerror(rc));
            break;
        }
        if (cfg->pin)
            pin_to_core(tids[started], started);
    }
    if (started == n) {
        printf("ducta %s listening on http://%s:%d (%d worker%s, %d "
               "connections each, %s scanner)\n", DUCTA_VERSION, cfg->bind,
               port, n, n == 1 ? "" : "s", cfg->max_conns,
               ducta_simd_name(ducta_simd_get()));
        fflush(stdout);
        int sig = 0;
        sigwait(&stop, &sig);
        fprintf(stderr, "ducta: %s, draining\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    /* One write wakes every worker: the eventfd is level-triggered */
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof one) != sizeof one)
        fprintf(stderr, "ducta: eventfd write: %s\n", strerror(errno));
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    teardown(workers, ready);
    if (started == n)
        return 0;
    fprintf(stderr, "ducta: %s\n", err);
    return 1;

fail:
    fprintf(stderr, "ducta: %s\n", err);
    teardown(workers, ready);
    return 1;
}

/* ---- the command line -------------------------------------------------- */

static const char usage[] =
    "usage: ducta [options]\n"
    "  --port N        TCP port to listen on (default 8080; 0 = any free)\n"
    "  --bind ADDR     IPv4 address to listen on (default 127.0.0.1;\n"
    "                  0.0.0.0 serves the network)\n"
    "  --threads N     worker threads (default: one per online core)\n"
    "  --max-conns N   connection slots per worker (default 10000)\n"
    "  --no-pin        do not pin worker i to core i\n"
    "  --root DIR      serve the files under DIR on GET/HEAD that no route\n"
    "                  takes (default: none; ./build.sh run uses www/)\n"
    "  --drain-ms N    on SIGINT/SIGTERM, how long in-flight requests may\n"
    "                  take before the rest are closed (default 5000)\n"
    "  --max-request-line N  longest request line in bytes, else 414\n"
    "                  (default 8192)\n"
    "  --max-head N    longest request head (line + fields) in bytes, else\n"
    "                  431 (default 8192)\n"
    "  --max-headers N most header fields, at most 256, else 431 (default 64)\n"
    "  --max-body N    largest request body in bytes, else 413 (default\n"
    "                  65536); with --max-head it sizes the buffers\n"
    "  --head-timeout MS    a request head must arrive whole within this\n"
    "                  (default 10000; 0 = never)\n"
    "  --body-timeout MS    each 1 KiB of a body within this (default 10000)\n"
    "  --idle-timeout MS    keep-alive idle connections close after this\n"
    "                  (default 60000)\n"
    "  --write-timeout MS   a client that stops reading is dropped after\n"
    "                  this without progress (default 30000)\n"
    "  --linger-timeout MS  after an error response, how long to drain the\n"
    "                  client's input before closing (default 5000)\n"
    "environment: DUCTA_SIMD=scalar|sse42|avx2 forces the parser's SIMD level\n"
    "  --version       print the version and exit\n"
    "  --help          print this and exit\n";

/* Parse a whole decimal number in [lo, hi]; -1 if it is not one. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int ducta_main(int argc, char **argv)
{
    struct ducta_config cfg;
    ducta_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        /* --flag=value and --flag value are both accepted */
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name)
            nlen = sizeof name - 1;
        memcpy(name, arg, nlen);
        name[nlen] = 0;
        if (eq)
            val = eq + 1;

        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(name, "--version")) {
            printf("ducta %s\n", DUCTA_VERSION);
            return 0;
        }
        if (!strcmp(name, "--no-pin")) {
            cfg.pin = 0;
            continue;
        }
        struct {
            const char *flag;
            long lo, hi;
            int *dst;          /* one of these two */
            size_t *size_dst;
        } ints[] = {
            {"--port", 0, 65535, &cfg.port, NULL},
            {"--threads", 1, MAX_THREADS, &cfg.threads, NULL},
            {"--max-conns", 1, MAX_MAX_CONNS, &cfg.max_conns, NULL},
            {"--drain-ms", 0, INT_MAX, &cfg.drain_ms, NULL},
            {"--max-request-line", MIN_HEAD, MAX_LIMIT, NULL,
             &cfg.limits.max_request_line},
            {"--max-head", MIN_HEAD, MAX_LIMIT, NULL, &cfg.limits.max_head},
            {"--max-headers", 1, DUCTA_HEADERS_CAP, NULL,
             &cfg.limits.max_headers},
            {"--max-body", 0, MAX_LIMIT, NULL, &cfg.limits.max_body},
            {"--head-timeout", 0, INT_MAX, &cfg.head_timeout_ms, NULL},
            {"--body-timeout", 0, INT_MAX, &cfg.body_timeout_ms, NULL},
            {"--idle-timeout", 0, INT_MAX, &cfg.idle_timeout_ms, NULL},
            {"--write-timeout", 0, INT_MAX, &cfg.write_timeout_ms, NULL},
            {"--linger-timeout", 0, INT_MAX, &cfg.linger_timeout_ms, NULL},
        };
        int known = !strcmp(name, "--bind") || !strcmp(name, "--root");
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
            known |= !strcmp(name, ints[k].flag);
        if (!known) {
            fprintf(stderr, "ducta: unknown option '%s' (see --help)\n", arg);
            return 2;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ducta: %s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        if (!strcmp(name, "--bind")) {
            struct in_addr a;
            if (inet_pton(AF_INET, val, &a) != 1) {
                fprintf(stderr, "ducta: --bind: '%s' is not an IPv4 "
                        "address\n", val);
                return 2;
            }
            cfg.bind = val;
            continue;
        }
        if (!strcmp(name, "--root")) {
            cfg.root = val;
            continue;
        }
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            if (strcmp(name, ints[k].flag))
                continue;
            long v;
            if (parse_int(val, ints[k].lo, ints[k].hi, &v) != 0) {
                fprintf(stderr, "ducta: %s: '%s' is not a number from %ld "
                        "to %ld\n", name, val, ints[k].lo, ints[k].hi);
                return 2;
            }
            if (ints[k].dst)
                *ints[k].dst = (int)v;
            else
                *ints[k].size_dst = (size_t)v;
        }
    }
    return ducta_serve(&cfg);
}

#ifndef DUCTA_NO_MAIN
int main(int argc, char **argv)
{
    return ducta_main(argc, argv);
}
#endif
