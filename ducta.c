/*
 * ducta.c — start-up, the workers and their event loop.
 *
 * Owns: the command line, the server (struct ducta_server: its workers,
 * their listening sockets, the wake-up eventfd, the --root directory),
 * one worker thread per core, each with its own SO_REUSEPORT listener and
 * its own epoll instance (the kernel spreads new connections across the
 * listeners, so workers share nothing and take no locks), accept and
 * shedding at the descriptor limit, the clock (now_ms and the Date), the
 * once-a-second trim of the buffer pool, and the signals: SIGINT/SIGTERM
 * drain and stop, SIGHUP is logged and ignored (see wait_for_stop).
 *
 * Does not own: what happens on a connection once accepted (conn.c).
 * Accept is here and a connection's open and close are there because the
 * backlog belongs to the listener, which is the loop's, with the shedding
 * at EMFILE that needs the listener and the reserve descriptor; a
 * connection begins when ducta_worker_adopt hands conn.c a socket, and
 * conn.c alone decides when it ends. Calls go one way: the loop drives
 * connections (ducta_conn_event, ducta_conn_expire, ducta_buffers_trim),
 * and a connection asks the loop for something only by what
 * ducta_conn_event returns.
 *
 * Process-wide, because the kernel makes them so: the signal mask and
 * dispositions, and RLIMIT_NOFILE. Everything else of a running server is
 * in its struct ducta_server, so two servers can run in one process (each
 * ducta_serve() call sigwait()s, and a signal reaches one of them).
 *
 * The "ev_" section below is the only code that speaks epoll: watch, wait,
 * translate the kernel's bits into DUCTA_EV_READ/WRITE/PEER_SHUT for
 * conn.c, and re-arm a connection that asked for it (DUCTA_WANT_REARM). It
 * is not yet a place where another backend plugs in: the model is
 * readiness, and conn.c makes its own recv/send/sendfile calls when told a
 * socket is ready. A completion backend (io_uring) would have to take
 * those calls out of conn.c too.
 */
#define _GNU_SOURCE
#define DUCTA_INTERNAL 1  /* one of the server's files: ducta.h Part 2 */
#include "ducta.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
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
    TRIM_MS = 1000,            /* buffer pages unused this long go back */
    DRAIN_TICK_MS = 50,        /* wake-up while draining for shutdown */
    ACCEPT_RETRY_MS = 50,      /* wake-up while the backlog is stalled */
    DEFER_ACCEPT_S = 1,        /* TCP_DEFER_ACCEPT: see open_listener */
    /* Descriptors beyond one per connection, for the RLIMIT_NOFILE check:
     * each worker's epoll, listener and reserve; for the process, stdio,
     * the eventfd, the --root directory and a few for the embedder. With
     * --root, each connection may also hold the file it is sending. */
    FDS_PER_WORKER = 3,
    FDS_PER_PROCESS = 16,
    ERR_LEN = 256,             /* a start-up error message */
};

/* Tokens for the descriptors in every epoll set that are not
 * connections: the wake-up eventfd and listener i as TOKEN_LISTEN - i. A
 * connection's token is (generation << 32) | slot, and a slot is always
 * below TOKEN_LISTEN - DUCTA_MAX_LISTENERS (MAX_MAX_CONNS). */
enum {
    TOKEN_WAKE = DUCTA_NO_SLOT,
    TOKEN_LISTEN = DUCTA_NO_SLOT - 1,
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

/* One running server: what ducta_serve() sets up, shared by its workers
 * (each reaches it through w->server). */
struct ducta_server {
    const struct ducta_config *cfg;
    struct in_addr addr;         /* cfg->bind, parsed once */
    int port;                    /* the bound one (cfg->port may be 0) */
    int wake_fd;                 /* eventfd: one write stops every worker */
    struct ducta_files files;    /* --root, when given: root_fd >= 0 */
    int n, ready, started;       /* workers: allocated, set up, running */
    struct ducta_worker *workers;
    pthread_t *tids;
    sigset_t signals;            /* what wait_for_stop() sigwait()s for */
    char err[ERR_LEN];           /* why start-up failed */
};

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
    struct tm tm;
    char tmp[64];
    gmtime_r(&ts.tv_sec, &tm);
    /* strftime in the C locale: the process never calls setlocale */
    if (strftime(tmp, sizeof tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm) ==
        DUCTA_DATE_LEN)
        memcpy(w->date, tmp, DUCTA_DATE_LEN);
}

/* The reserve is one descriptor held so that accept() can succeed at the
 * descriptor limit (see shed_one). Any open descriptor will do; a
 * duplicate of the worker's epoll descriptor needs no file or device. */
static void take_reserve(struct ducta_worker *w)
{
    w->reserve_fd = fcntl(w->epfd, F_DUPFD_CLOEXEC, 0);
}

int ducta_worker_init(struct ducta_worker *w, const struct ducta_config *cfg,
                      int id)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->cfg = cfg;
    for (int i = 0; i < DUCTA_MAX_LISTENERS; i++)
        w->listen_fd[i] = -1;
    w->date_sec = -1;
    w->epfd = ev_open();
    if (w->epfd < 0)
        return -1;
    take_reserve(w);
    if (ducta_slab_init(w) != 0) {
        if (w->reserve_fd >= 0)
            close(w->reserve_fd);
        close(w->epfd);
        return -1;
    }
    ducta_timers_init(w);
    ducta_worker_tick(w);
    w->trim_due_ms = w->now_ms + TRIM_MS;
    return 0;
}

void ducta_worker_destroy(struct ducta_worker *w)
{
    ducta_slab_free(w);
    for (int i = 0; i < w->nlisten; i++)
        if (w->listen_fd[i] >= 0)
            close(w->listen_fd[i]);
    if (w->reserve_fd >= 0)
        close(w->reserve_fd);
    close(w->epfd);
}

static uint64_t conn_token(struct ducta_worker *w, struct ducta_conn *c)
{
    return ((uint64_t)c->gen << 32) | (uint32_t)(c - w->slab);
}

/* Hand c what the backend saw, and give it what it asks for in return:
 * the loop drives the connection, never the reverse. */
static void conn_dispatch(struct ducta_worker *w, struct ducta_conn *c,
                          unsigned bits)
{
    if (ducta_conn_event(w, c, bits) == DUCTA_WANT_REARM &&
        ev_rearm_conn(w->epfd, c->fd, conn_token(w, c)) != 0)
        ducta_conn_close(w, c);
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
    conn_dispatch(w, c, 0);  /* optimistic first read: see conn_open */
    return 0;
}

/* Out of descriptors: a connection left in the backlog would wait there
 * until it gave up. Spend the reserve to accept it, and close it at once
 * (the client sees the close right away). The descriptor table is the
 * process's, shared by every worker: once the reserve is closed, another
 * worker's accept may take its number. So the connection is closed by
 * dup3() of the epoll descriptor onto it, which closes the socket and
 * fills the number in one step: the reserve comes back without a moment
 * in which the number is free. Only when accept itself loses the race is
 * the reserve gone; the worker then takes it back on a later round
 * (ducta_worker_poll). 1 if a connection was shed, 0 if the backlog was
 * empty after all, -1 if none could be (no reserve, or it was lost). */
static int shed_one(struct ducta_worker *w, int lfd)
{
    if (w->reserve_fd < 0)
        return -1;
    close(w->reserve_fd);
    w->reserve_fd = -1;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        int empty = errno == EAGAIN || errno == EWOULDBLOCK;
        take_reserve(w);
        return empty ? 0 : -1;
    }
    if (dup3(w->epfd, fd, O_CLOEXEC) == fd) {
        w->reserve_fd = fd;
    } else {
        close(fd);
        take_reserve(w);
    }
    w->shed++;
    return 1;
}

/* Accept until listener i's backlog is empty. The listener is
 * edge-triggered: if this stops early with connections still queued, no
 * new edge will come for them, so the worker marks the backlog stalled and
 * retries on every round until it is drained (ducta_worker_poll). */
static void accept_all(struct ducta_worker *w, int i)
{
    int lfd = w->listen_fd[i];
    for (;;) {
        int fd = accept4(lfd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;  /* drained */
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO ||
                errno == EPERM)
                continue;  /* that one connection failed */
            int shed = errno == EMFILE || errno == ENFILE ? shed_one(w, lfd)
                                                          : -1;
            if (shed > 0)
                continue;
            /* out of descriptors without a reserve, or ENOBUFS/ENOMEM */
            if (shed < 0)
                w->accept_stalled = 1;
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

static void begin_stop(struct ducta_worker *w)
{
    w->stopping = 1;
    w->accept_stalled = 0;
    ev_unwatch(w->epfd, w->server->wake_fd);
    for (int i = 0; i < w->nlisten; i++)
        if (w->listen_fd[i] >= 0) {
            close(w->listen_fd[i]);
            w->listen_fd[i] = -1;
        }
    for (uint32_t i = 0; i < w->high_water; i++)
        if (w->slab[i].state != DUCTA_CONN_FREE)
            ducta_conn_begin_drain(w, &w->slab[i]);
}

int ducta_worker_poll(struct ducta_worker *w, int timeout_ms)
{
    struct ev_event evs[EVENTS_PER_WAIT];
    int n = ev_wait(w->epfd, evs, EVENTS_PER_WAIT, timeout_ms);
    if (n < 0)
        return -1;
    ducta_worker_tick(w);
    if (w->now_ms >= w->trim_due_ms) {
        ducta_buffers_trim(w);
        w->trim_due_ms = w->now_ms + TRIM_MS;
    }
    for (int i = 0; i < n; i++) {
        uint32_t slot = (uint32_t)evs[i].token;
        if (slot <= TOKEN_LISTEN && slot > TOKEN_LISTEN - (uint32_t)w->nlisten) {
            int l = (int)(TOKEN_LISTEN - slot);
            if (w->listen_fd[l] >= 0)
                accept_all(w, l);
        } else if (slot == TOKEN_WAKE) {
            begin_stop(w);
        } else if (slot < w->high_water) {
            struct ducta_conn *c = &w->slab[slot];
            /* a stale event for a slot closed and reused in this batch */
            if (c->gen != (uint32_t)(evs[i].token >> 32) ||
                c->state == DUCTA_CONN_FREE)
                continue;
            conn_dispatch(w, c, evs[i].bits);
        }
    }
    ducta_conn_expire(w);
    /* after this round's closes, descriptors may be free again */
    if (w->reserve_fd < 0)
        take_reserve(w);
    if (w->accept_stalled) {
        w->accept_stalled = 0;
        for (int l = 0; l < w->nlisten; l++)
            if (w->listen_fd[l] >= 0)
                accept_all(w, l);
    }
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
        int wait_ms = w->stopping         ? DRAIN_TICK_MS
                      : w->accept_stalled ? ACCEPT_RETRY_MS
                                          : TICK_MS;
        if (ducta_worker_poll(w, wait_ms) < 0)
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

/* Say why start-up failed (s->err, printed by ducta_serve) and return -1. */
static int startup_error(struct ducta_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int startup_error(struct ducta_server *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int open_listener(struct ducta_server *s, int port, int reuseport)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr = s->addr};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return startup_error(s, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        close(fd);
        return startup_error(s, "SO_REUSEPORT: %s", strerror(errno));
    }
    /* A connection becomes acceptable when its first bytes arrive, not at
     * the end of the handshake: one wake-up of the worker per connection
     * instead of two (accept, then the request), and the first recv always
     * finds the request. On loopback each wake-up is a cross-CPU interrupt
     * the client pays for (docs/BENCHMARKS.md, "newconn"). A client that
     * connects and never sends is then the kernel's to time out, not ours.
     * Not fatal where it is not supported. */
    int defer = DEFER_ACCEPT_S;
    if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer) !=
        0)
        fprintf(stderr, "ducta: TCP_DEFER_ACCEPT: %s (going on without)\n",
                strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return startup_error(s, "cannot listen on %s:%d: %s", s->cfg->bind,
                             port, strerror(errno));
    }
    if (listen(fd, s->cfg->backlog) != 0) {
        close(fd);
        return startup_error(s, "listen: %s", strerror(errno));
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

/* Every worker's socket carries SO_REUSEPORT, so bind() would happily
 * share the port with another such process. Bind once without it first,
 * so that a taken port is an error and not a silent split. */
static int check_address(struct ducta_server *s)
{
    if (inet_pton(AF_INET, s->cfg->bind, &s->addr) != 1)
        return startup_error(s, "--bind: '%s' is not an IPv4 address",
                             s->cfg->bind);
    if (s->cfg->port == 0)
        return 0;
    int probe = open_listener(s, s->cfg->port, 0);
    if (probe < 0)
        return -1;
    close(probe);
    return 0;
}

/* Every connection is a descriptor, and the kernel's default soft limit
 * (often 1024) is far below what --max-conns promises, so raise it to the
 * hard limit, which only root can raise. If even that cannot hold every
 * slot, say so once: past it, connections are shed (shed_one). */
static void fit_descriptor_limit(const struct ducta_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        /* an unlimited hard limit is still capped by fs.nr_open: then the
         * soft one stays, and the check below reads it back */
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 &&
            getrlimit(RLIMIT_NOFILE, &rl) != 0)
            return;
    }
    uint64_t per_conn = cfg->root ? 2 : 1;
    uint64_t need = (uint64_t)cfg->threads *
                        ((uint64_t)cfg->max_conns * per_conn +
                         FDS_PER_WORKER) + FDS_PER_PROCESS;
    if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
        fprintf(stderr, "ducta: warning: %d threads x %d max-conns need up "
                "to %llu descriptors, RLIMIT_NOFILE is %llu: past it, new "
                "connections are closed at once (raise the hard limit, "
                "ulimit -Hn, or lower --max-conns)\n", cfg->threads,
                cfg->max_conns, (unsigned long long)need,
                (unsigned long long)rl.rlim_cur);
}

/* SIGINT/SIGTERM/SIGHUP are taken by sigwait() in the serving thread
 * only: the workers inherit the blocked mask. SIGPIPE is ignored: a peer
 * that vanished is an ordinary EPIPE (sends also pass MSG_NOSIGNAL). */
static void block_signals(struct ducta_server *s)
{
    sigemptyset(&s->signals);
    sigaddset(&s->signals, SIGINT);
    sigaddset(&s->signals, SIGTERM);
    sigaddset(&s->signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &s->signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Worker i, with its listener and epoll set; with --port 0 the first bind
 * picks the port the rest share. */
static int setup_worker(struct ducta_server *s, int i)
{
    struct ducta_worker *w = &s->workers[i];
    if (ducta_worker_init(w, s->cfg, i) != 0)
        return startup_error(s,
                             "worker %d: cannot allocate %d connection slots: %s",
                             i, s->cfg->max_conns, strerror(errno));
    s->ready++;  /* initialised: teardown destroys it */
    w->server = s;
    w->files = s->files.root_fd >= 0 ? &s->files : NULL;
    w->listen_fd[0] = open_listener(s, s->port, 1);
    if (w->listen_fd[0] < 0)
        return -1;
    w->nlisten = 1;
    if (s->port == 0)
        s->port = bound_port(w->listen_fd[0]);
    if (ev_watch_in(w->epfd, w->listen_fd[0], TOKEN_LISTEN, 1) != 0 ||
        ev_watch_in(w->epfd, s->wake_fd, TOKEN_WAKE, 0) != 0)
        return startup_error(s, "epoll_ctl: %s", strerror(errno));
    return 0;
}

/* Everything before the threads: 0, or -1 with s->err set. */
static int server_open(struct ducta_server *s)
{
    const struct ducta_config *cfg = s->cfg;
    char err[ERR_LEN];
    if (check_address(s) != 0)
        return -1;
    if (cfg->root &&
        ducta_files_open(&s->files, cfg->root, cfg->dotfiles, err,
                         sizeof err) != 0)
        return startup_error(s, "%s", err);
    fit_descriptor_limit(cfg);
    block_signals(s);
    s->workers = calloc((size_t)s->n, sizeof *s->workers);
    s->tids = calloc((size_t)s->n, sizeof *s->tids);
    if (!s->workers || !s->tids)
        return startup_error(s, "out of memory");
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0)
        return startup_error(s, "eventfd: %s", strerror(errno));
    s->port = cfg->port;
    for (int i = 0; i < s->n; i++)
        if (setup_worker(s, i) != 0)
            return -1;
    return 0;
}

static int server_start(struct ducta_server *s)
{
    for (; s->started < s->n; s->started++) {
        int rc = pthread_create(&s->tids[s->started], NULL, worker_main,
                                &s->workers[s->started]);
        if (rc != 0)
            return startup_error(s, "pthread_create: %s", strerror(rc));
        if (s->cfg->pin)
            pin_to_core(s->tids[s->started], s->started);
    }
    return 0;
}

/* SIGINT and SIGTERM stop the server gracefully. SIGHUP is nginx's
 * "reload the configuration, finish what is in flight"; ducta has no
 * configuration file to reload, so it says so and serves on. Not exiting
 * on HUP also keeps a server started from a terminal alive when the
 * terminal goes away. Returns the stopping signal. */
static int wait_for_stop(struct ducta_server *s)
{
    for (;;) {
        int sig = 0;
        if (sigwait(&s->signals, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        fprintf(stderr, "ducta: SIGHUP: no configuration file to reload, "
                "serving on\n");
    }
}

/* Stop the workers that run, then undo what server_open() set up. */
static void server_close(struct ducta_server *s)
{
    /* One write wakes every worker: the eventfd is level-triggered */
    uint64_t one = 1;
    if (s->started && write(s->wake_fd, &one, sizeof one) != sizeof one)
        fprintf(stderr, "ducta: eventfd write: %s\n", strerror(errno));
    for (int i = 0; i < s->started; i++)
        pthread_join(s->tids[i], NULL);
    for (int i = 0; i < s->ready; i++)
        ducta_worker_destroy(&s->workers[i]);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    ducta_files_close(&s->files);
    free(s->workers);
    free(s->tids);
}

int ducta_serve(const struct ducta_config *cfg)
{
    struct ducta_server s = {.cfg = cfg, .n = cfg->threads, .wake_fd = -1,
                             .files = {.root_fd = -1}};
    int ok = server_open(&s) == 0 && server_start(&s) == 0;
    if (ok) {
        printf("ducta %s listening on http://%s:%d (%d worker%s, %d "
               "connections each, %s scanner)\n", DUCTA_VERSION, cfg->bind,
               s.port, s.n, s.n == 1 ? "" : "s", cfg->max_conns,
               ducta_simd_name(ducta_simd_get()));
        fflush(stdout);
        int sig = wait_for_stop(&s);
        fprintf(stderr, "ducta: %s, draining\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    server_close(&s);
    if (!ok)
        fprintf(stderr, "ducta: %s\n", s.err);
    return ok ? 0 : 1;
}

/* ---- the command line -------------------------------------------------- */

static const char usage[] =
    "usage: ducta [options]\n"
    "  --port N        TCP port to listen on (default 8080; 0 = any free)\n"
    "  --bind ADDR     IPv4 address to listen on (default 127.0.0.1;\n"
    "                  0.0.0.0 serves the network)\n"
    "  --threads N     worker threads (default: one per online core)\n"
    "  --max-conns N   connection slots per worker (default 10000); the\n"
    "                  soft RLIMIT_NOFILE is raised to the hard one, with a\n"
    "                  warning if threads x max-conns cannot fit in it\n"
    "  --no-pin        do not pin worker i to core i\n"
    "  --root DIR      serve the files under DIR on GET/HEAD that no route\n"
    "                  takes (default: none; ./build.sh run uses www/)\n"
    "  --dotfiles      with --root, also serve path segments starting with\n"
    "                  '.' (default: 404 for them)\n"
    "  --drain-ms N    on SIGINT/SIGTERM, how long in-flight requests may\n"
    "                  take before the rest are closed (default 5000);\n"
    "                  SIGHUP is logged and ignored (no config to reload)\n"
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
    "  --version       print the version and exit\n"
    "  --help          print this and exit\n"
    "environment: DUCTA_SIMD=scalar|sse42|avx2 forces the parser's SIMD level\n";

/* How an option's value lands in struct ducta_config. */
enum opt_kind { OPT_CLEAR, OPT_SET, OPT_INT, OPT_SIZE, OPT_STRING };

struct option_spec {
    const char *flag;
    enum opt_kind kind;
    size_t offset;   /* of the field in struct ducta_config */
    long lo, hi;     /* OPT_INT, OPT_SIZE: the accepted range */
};

#define FIELD(f) offsetof(struct ducta_config, f)
static const struct option_spec options[] = {
    {"--port", OPT_INT, FIELD(port), 0, 65535},
    {"--bind", OPT_STRING, FIELD(bind), 0, 0},
    {"--threads", OPT_INT, FIELD(threads), 1, MAX_THREADS},
    {"--max-conns", OPT_INT, FIELD(max_conns), 1, MAX_MAX_CONNS},
    {"--no-pin", OPT_CLEAR, FIELD(pin), 0, 0},
    {"--root", OPT_STRING, FIELD(root), 0, 0},
    {"--dotfiles", OPT_SET, FIELD(dotfiles), 0, 0},
    {"--drain-ms", OPT_INT, FIELD(drain_ms), 0, INT_MAX},
    {"--max-request-line", OPT_SIZE, FIELD(limits.max_request_line),
     MIN_HEAD, MAX_LIMIT},
    {"--max-head", OPT_SIZE, FIELD(limits.max_head), MIN_HEAD, MAX_LIMIT},
    {"--max-headers", OPT_SIZE, FIELD(limits.max_headers), 1,
     DUCTA_HEADERS_CAP},
    {"--max-body", OPT_SIZE, FIELD(limits.max_body), 0, MAX_LIMIT},
    {"--head-timeout", OPT_INT, FIELD(head_timeout_ms), 0, INT_MAX},
    {"--body-timeout", OPT_INT, FIELD(body_timeout_ms), 0, INT_MAX},
    {"--idle-timeout", OPT_INT, FIELD(idle_timeout_ms), 0, INT_MAX},
    {"--write-timeout", OPT_INT, FIELD(write_timeout_ms), 0, INT_MAX},
    {"--linger-timeout", OPT_INT, FIELD(linger_timeout_ms), 0, INT_MAX},
};
#undef FIELD

static const struct option_spec *find_option(const char *name)
{
    for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
        if (!strcmp(name, options[k].flag))
            return &options[k];
    return NULL;
}

/* Store val into the field o names: 0, or -1 (said on stderr). */
static int set_option(struct ducta_config *cfg, const struct option_spec *o,
                      const char *val)
{
    char *field = (char *)cfg + o->offset;
    if (o->kind == OPT_STRING) {
        memcpy(field, &val, sizeof val);
        return 0;
    }
    char *end;
    errno = 0;
    long v = *val ? strtol(val, &end, 10) : 0;
    if (!*val || errno || *end || v < o->lo || v > o->hi) {
        fprintf(stderr, "ducta: %s: '%s' is not a number from %ld to %ld\n",
                o->flag, val, o->lo, o->hi);
        return -1;
    }
    if (o->kind == OPT_INT) {
        int i = (int)v;
        memcpy(field, &i, sizeof i);
    } else {
        size_t z = (size_t)v;
        memcpy(field, &z, sizeof z);
    }
    return 0;
}

int ducta_main(int argc, char **argv)
{
    struct ducta_config cfg;
    ducta_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        /* --flag=value and --flag value are both accepted */
        const char *arg = argv[i], *eq = strchr(arg, '=');
        char name[32];
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        snprintf(name, sizeof name, "%.*s", (int)nlen, arg);
        const char *val = eq ? eq + 1 : NULL;

        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(name, "--version")) {
            printf("ducta %s\n", DUCTA_VERSION);
            return 0;
        }
        const struct option_spec *o = find_option(name);
        if (!o) {
            fprintf(stderr, "ducta: unknown option '%s' (see --help)\n", arg);
            return 2;
        }
        if (o->kind == OPT_SET || o->kind == OPT_CLEAR) {
            int on = o->kind == OPT_SET;
            memcpy((char *)&cfg + o->offset, &on, sizeof on);
            continue;
        }
        if (!val && i + 1 >= argc) {
            fprintf(stderr, "ducta: %s needs a value\n", name);
            return 2;
        }
        if (set_option(&cfg, o, val ? val : argv[++i]) != 0)
            return 2;
    }
    return ducta_serve(&cfg);
}

#ifndef DUCTA_NO_MAIN
int main(int argc, char **argv)
{
    return ducta_main(argc, argv);
}
#endif
