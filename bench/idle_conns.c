/*
 * bench/idle_conns.c — open N keep-alive connections to 127.0.0.1:PORT,
 * make ONE request on each (reading its whole response), then hold them all
 * open and idle, so that the server's memory per idle connection can be
 * read from its RSS before and after (bench/bench.sh conns).
 *
 *   idle_conns PORT N [HOLD_S] [BATCH]
 *
 * Connections are opened non-blocking, BATCH at a time (default 500): the
 * next batch starts once every connection of the previous one has its
 * response, so the listen backlog never overflows. Each sends
 * "GET /plaintext HTTP/1.1" (keep-alive) and reads the response to the end
 * of its Content-Length. When all N are done (or failed) it prints one line
 *
 *   READY open=N ok=N failed=N connect_errors=N bad_responses=N closed=N ms=N
 *
 * to stdout, flushed, then holds the connections, doing nothing, until
 * SIGTERM/SIGINT or HOLD_S seconds (default 120) pass; then it prints
 *
 *   DONE still_open=N closed_by_server=N
 *
 * (a connection the server closed while held is noticed through EPOLLRDHUP)
 * and exits 0 if every connection got its 200, else 1.
 * RLIMIT_NOFILE is raised to its hard limit first.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_READING, ST_IDLE, ST_DEAD };

struct conn {
    int fd;
    int state;
    int len;        /* response bytes so far */
    char buf[512];  /* the /plaintext response is about 140 bytes */
};

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1: a whole 200 response is in c->buf; 0: not yet; -1: bad */
static int response_done(struct conn *c)
{
    c->buf[c->len] = 0;
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return c->len >= (int)sizeof c->buf - 1 ? -1 : 0;
    if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0)
        return -1;
    char *cl = strcasestr(c->buf, "\r\nContent-Length:");
    if (!cl || cl > end)
        return -1;
    long n = strtol(cl + 17, NULL, 10);
    int have = c->len - (int)(end + 4 - c->buf);
    if (have > n)
        return -1;
    return have == n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: idle_conns PORT N [HOLD_S] [BATCH]\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    int hold_s = argc > 3 ? atoi(argv[3]) : 120;
    int batch = argc > 4 ? atoi(argv[4]) : 500;
    if (port <= 0 || n <= 0 || batch <= 0 || hold_s <= 0) {
        fprintf(stderr, "idle_conns: bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)n + 16)
            fprintf(stderr, "idle_conns: warning: RLIMIT_NOFILE %llu < %d + 16\n",
                    (unsigned long long)rl.rlim_cur, n);
    }
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    signal(SIGPIPE, SIG_IGN);

    struct conn *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0) {
        perror("idle_conns");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    static const char req[] = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    int opened = 0, ok = 0, failed = 0, connect_errors = 0, bad = 0, closed = 0;
    int next = 0;
    long long t0 = now_ms(), batch_deadline = 0;
    struct epoll_event evs[512];
    int pending = 0;  /* of the current batch: not yet done or failed */

    while (!stop && (next < n || pending > 0)) {
        if (pending == 0) {
            int end = next + batch < n ? next + batch : n;
            for (; next < end; next++) {
                struct conn *c = &cs[next];
                c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (c->fd < 0) {
                    fprintf(stderr, "idle_conns: socket #%d: %s\n", next, strerror(errno));
                    c->state = ST_DEAD;
                    failed++, connect_errors++;
                    continue;
                }
                int one = 1;
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
                    if (connect_errors < 5)
                        fprintf(stderr, "idle_conns: connect #%d: %s\n", next, strerror(errno));
                    close(c->fd);
                    c->fd = -1;
                    c->state = ST_DEAD;
                    failed++, connect_errors++;
                    continue;
                }
                opened++;
                c->state = ST_CONNECTING;
                struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP,
                                         .data.u32 = (uint32_t)next};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                pending++;
            }
            batch_deadline = now_ms() + 30000;
            if (pending == 0)
                continue;
        }
        int k = epoll_wait(ep, evs, 512, 200);
        if (k < 0 && errno != EINTR)
            break;
        for (int i = 0; i < k; i++) {
            struct conn *c = &cs[evs[i].data.u32];
            if (c->state == ST_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    if (connect_errors < 5)
                        fprintf(stderr, "idle_conns: connect: %s\n", strerror(err));
                    connect_errors++;
                    goto dead;
                }
                if (send(c->fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)sizeof req - 1)
                    goto dead_bad;
                c->state = ST_READING;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = evs[i].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                continue;
            }
            if (c->state == ST_READING) {
                ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - (size_t)c->len, 0);
                if (r > 0) {
                    c->len += (int)r;
                    int d = response_done(c);
                    if (d == 0)
                        continue;
                    if (d < 0)
                        goto dead_bad;
                    c->state = ST_IDLE;
                    ok++, pending--;
                    /* from here on only a close by the server is of interest */
                    struct epoll_event ev = {.events = EPOLLRDHUP, .data.u32 = evs[i].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                goto dead_bad;
            }
            if (c->state == ST_IDLE) {
                closed++;  /* the server closed it before we were READY */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                c->state = ST_DEAD;
            }
            continue;
        dead_bad:
            bad++;
        dead:
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            c->state = ST_DEAD;
            failed++, pending--;
        }
        if (pending > 0 && now_ms() > batch_deadline) {
            fprintf(stderr, "idle_conns: %d connections of a batch got no answer in 30 s\n", pending);
            for (int j = 0; j < next; j++)
                if (cs[j].state == ST_CONNECTING || cs[j].state == ST_READING) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, cs[j].fd, NULL);
                    close(cs[j].fd);
                    cs[j].fd = -1;
                    cs[j].state = ST_DEAD;
                    failed++, bad++;
                }
            pending = 0;
        }
    }
    printf("READY open=%d ok=%d failed=%d connect_errors=%d bad_responses=%d closed=%d ms=%lld\n",
           ok - closed, ok, failed, connect_errors, bad, closed, now_ms() - t0);
    fflush(stdout);

    long long until = now_ms() + (long long)hold_s * 1000;
    while (!stop && now_ms() < until) {
        int k = epoll_wait(ep, evs, 512, 200);
        for (int i = 0; i < k; i++) {
            struct conn *c = &cs[evs[i].data.u32];
            if (c->state == ST_IDLE) {
                closed++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                c->state = ST_DEAD;
            }
        }
    }
    int still = 0;
    for (int j = 0; j < n; j++)
        if (cs[j].state == ST_IDLE)
            still++;
    printf("DONE still_open=%d closed_by_server=%d\n", still, closed);
    fflush(stdout);
    (void)opened;
    return (failed == 0 && ok == n) ? 0 : 1;
}
