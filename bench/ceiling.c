/* bench/ceiling.c — the ceiling of `./build.sh bench`: the most requests per
 * second this loopback and this load generator allow, measured like any
 * server, so every server's figure can also be read as a share of it.
 *
 * It is not an HTTP server. It owns: one thread, one edge-triggered epoll
 * set, and per connection two counters. It counts request terminators
 * ("\r\n\r\n") in what it reads and sends one constant reply per terminator,
 * batching the replies owed into one send. It does not parse, route, look at
 * methods, paths or bodies, nor keep any deadline: a request with a body or
 * a head split oddly would confuse it, and the load generators used here
 * never send one. With "close", the reply says "Connection: close" and the
 * connection is closed once it is sent (the new-connection-per-request
 * scenario).
 *
 * usage: ceiling PORT CONTENT_TYPE BODY_FILE [close]
 *        (listens on 127.0.0.1:PORT; prints "ceiling: listening on PORT")
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CEIL_BACKLOG 4096          /* as ducta's default listen backlog */
#define CEIL_MAX_BODY (1 << 20)    /* largest reply body it will load */
#define CEIL_BATCH_BYTES (64 << 10) /* replies are sent from a buffer holding
                                     * this many bytes of copies (at least one) */
#define CEIL_READ_BYTES (64 << 10) /* one recv() at most */
#define CEIL_EVENTS 256            /* epoll_wait batch */

struct conn {
    unsigned long owed; /* replies counted and not yet sent whole */
    unsigned off;       /* bytes of the first owed reply already sent */
    unsigned char match; /* how much of "\r\n\r\n" the last bytes matched */
    unsigned char open;
};

static char *replies;      /* `batch` copies of the reply, back to back */
static size_t reply_len, batch;
static int close_after;
static struct conn *conns; /* indexed by descriptor, sized at start-up */
static size_t nconns;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void drop(int fd)
{
    conns[fd].open = 0;
    close(fd); /* also removes it from the epoll set */
}

/* Count terminators in buf, carrying a partial match across reads. The
 * pattern's only self-overlap is "\r": on a mismatch we restart at 1 if the
 * byte is '\r', else at 0. */
static unsigned long count_ends(struct conn *c, const char *buf, size_t n)
{
    static const char pat[4] = {'\r', '\n', '\r', '\n'};
    unsigned long found = 0;
    unsigned m = c->match;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == pat[m]) {
            if (++m == 4) {
                found++;
                m = 0;
            }
        } else {
            m = buf[i] == '\r';
        }
    }
    c->match = (unsigned char)m;
    return found;
}

/* Send what is owed until done or EAGAIN. 0 = keep going, -1 = drop it. */
static int flush(int fd, struct conn *c)
{
    while (c->owed) {
        size_t n = c->owed < batch ? c->owed : batch;
        ssize_t w = send(fd, replies + c->off, n * reply_len - c->off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1; /* EPIPE, ECONNRESET: gone */
        }
        size_t done = c->off + (size_t)w;
        c->owed -= done / reply_len;
        c->off = (unsigned)(done % reply_len);
    }
    return close_after ? -1 : 0;
}

static void on_readable(int fd, struct conn *c)
{
    static char buf[CEIL_READ_BYTES];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            c->owed += count_ends(c, buf, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            break;
        drop(fd); /* EOF, or ECONNRESET and friends */
        return;
    }
    if (c->owed && flush(fd, c) < 0)
        drop(fd);
}

static void load_reply(const char *type, const char *path)
{
    static char body[CEIL_MAX_BODY];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die(path);
    ssize_t n = read(fd, body, sizeof body);
    if (n < 0)
        die(path);
    close(fd);
    char head[256];
    int h = snprintf(head, sizeof head,
                     /* a Date of the real length, frozen: the reply has
                      * the size of a real server's, none of its work */
                     "HTTP/1.1 200 OK\r\nServer: ceiling\r\n"
                     "Date: Wed, 25 Nov 2026 00:00:00 GMT\r\nContent-Type: %s\r\n"
                     "Content-Length: %zd\r\n%s\r\n",
                     type, n, close_after ? "Connection: close\r\n" : "");
    if (h < 0 || (size_t)h >= sizeof head) {
        fprintf(stderr, "ceiling: content type too long\n");
        exit(1);
    }
    reply_len = (size_t)h + (size_t)n;
    batch = CEIL_BATCH_BYTES / reply_len ? CEIL_BATCH_BYTES / reply_len : 1;
    replies = malloc(batch * reply_len);
    if (!replies)
        die("malloc");
    for (size_t i = 0; i < batch; i++) {
        memcpy(replies + i * reply_len, head, (size_t)h);
        memcpy(replies + i * reply_len + h, body, (size_t)n);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "close"))) {
        fprintf(stderr, "usage: ceiling PORT CONTENT_TYPE BODY_FILE [close]\n");
        return 2;
    }
    close_after = argc == 5;
    load_reply(argv[2], argv[3]);
    signal(SIGPIPE, SIG_IGN);

    /* one slot per possible descriptor: no allocation after start-up */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit");
    nconns = rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : rl.rlim_cur;
    conns = calloc(nconns, sizeof *conns);
    if (!conns)
        die("calloc");

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ls < 0)
        die("socket");
    int one = 1;
    if (setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("SO_REUSEADDR");
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind");
    if (listen(ls, CEIL_BACKLOG) < 0)
        die("listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0)
        die("epoll_ctl");
    printf("ceiling: listening on %s\n", argv[1]);
    fflush(stdout);

    struct epoll_event evs[CEIL_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, CEIL_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break; /* EAGAIN, or EMFILE and friends: try later */
                    if ((size_t)c >= nconns) {
                        close(c);
                        continue;
                    }
                    /* replies are small writes; as ducta and nginx do */
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[c] = (struct conn){.open = 1};
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                                             .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) < 0)
                        drop(c);
                }
                continue;
            }
            struct conn *c = &conns[fd];
            if (!c->open)
                continue;
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                drop(fd);
                continue;
            }
            if (evs[i].events & EPOLLOUT && c->owed && flush(fd, c) < 0) {
                drop(fd);
                continue;
            }
            if (evs[i].events & EPOLLIN)
                on_readable(fd, c);
        }
    }
}
