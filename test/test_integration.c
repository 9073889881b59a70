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
 * The helpers, top to bottom: time and buffers; running a command with a
 * timeout; the server under test; an HTTP/1.1 response reader for raw
 * sockets (and for curl's -i output); then the tests, numbered as in the
 * brief that asked for them.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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

#include "ducta.h"

#define PLAIN_BODY "Hello, World!"
#define JSON_BODY "{\"message\":\"Hello, World!\"}"

enum {
    START_TIMEOUT_MS = 5000,  /* the listening line must appear by then */
    STOP_TIMEOUT_MS = 6000,   /* SIGTERM to exit */
    IO_TIMEOUT_MS = 5000,     /* any one socket read or write */
};

/* ---- time, buffers ------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A fixed-size, always NUL-terminated byte buffer. Tests keep everything
 * on the stack or in statics, so that a failed assertion (which leaves the
 * test function early) leaks nothing for LeakSanitizer to report. */
struct buf {
    size_t len;
    char p[65536];
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
    cr_assert(b->len + n < sizeof b->p, "test buffer overflow (%zu + %zu)",
              b->len, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof tmp);
    buf_add(b, tmp, (size_t)n);
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* ---- running a command --------------------------------------------------- */

struct run {
    int status;     /* from waitpid */
    int timed_out;  /* killed at the deadline */
    struct buf out, err;
};

/* In a forked child: stdin from /dev/null, nothing inherited beyond 0-2,
 * and die with the test process rather than outlive it. */
static void child_setup(int out_fd, int err_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 ||
        dup2(err_fd, 2) < 0)
        _exit(126);
    if (close_range(3, ~0U, 0) != 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
}

/* Run argv (searched in PATH) to completion or until timeout_ms, with
 * stdout and stderr captured. A NULL-terminated argv. */
static void run_cmd(struct run *r, int timeout_ms, char *const argv[])
{
    r->status = r->timed_out = 0;
    r->out.len = r->err.len = 0;
    r->out.p[0] = r->err.p[0] = 0;
    int op[2], ep[2];
    cr_assert(pipe2(op, O_CLOEXEC) == 0 && pipe2(ep, O_CLOEXEC) == 0,
              "pipe: %s", strerror(errno));
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        child_setup(op[1], ep[1]);
        execvp(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(op[1]);
    close(ep[1]);
    struct pollfd pf[2] = {{.fd = op[0], .events = POLLIN},
                           {.fd = ep[0], .events = POLLIN}};
    struct buf *dst[2] = {&r->out, &r->err};
    int open_n = 2;
    int64_t deadline = now_ms() + timeout_ms;
    while (open_n > 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            r->timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(pf, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        cr_assert(n >= 0, "poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            char tmp[4096];
            ssize_t k = read(pf[i].fd, tmp, sizeof tmp);
            if (k > 0) {
                buf_add(dst[i], tmp, (size_t)k);
            } else if (k == 0 || errno != EINTR) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_n--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR) {
    }
}

static const char *ducta_bin(void)
{
    const char *b = getenv("DUCTA_BIN");
    return b && *b ? b : "./ducta";
}

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

/* ---- the server under test ----------------------------------------------- */

struct server {
    pid_t pid;           /* 0 when not running */
    int port;
    int out_fd;          /* read end of its stdout */
    char log[64];        /* its stderr goes to this file */
    int64_t term_at;     /* when SIGTERM was sent */
};

static struct server srv;
static int readers_used;  /* see reader_for() */

/* The server's stderr so far (for messages); a static buffer. */
static const char *server_log(void)
{
    static char text[16384];
    text[0] = 0;
    FILE *f = srv.log[0] ? fopen(srv.log, "r") : NULL;
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
    }
    return text;
}

static void server_start(void)
{
    const char *bin = ducta_bin();
    cr_assert(access(bin, X_OK) == 0, "server binary %s: %s", bin,
              strerror(errno));
    snprintf(srv.log, sizeof srv.log, "/tmp/ducta-it-XXXXXX");
    int log_fd = mkostemp(srv.log, O_CLOEXEC);
    cr_assert(log_fd >= 0, "mkostemp: %s", strerror(errno));
    int op[2];
    cr_assert(pipe2(op, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        child_setup(op[1], log_fd);
        execl(bin, bin, "--port", "0", "--threads", "2", "--no-pin",
              (char *)NULL);
        dprintf(2, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(op[1]);
    close(log_fd);
    srv.pid = pid;
    srv.out_fd = op[0];
    srv.port = 0;

    /* one line on stdout: "ducta 0.1.0 listening on http://127.0.0.1:PORT" */
    char line[512];
    size_t len = 0;
    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    while (!memchr(line, '\n', len)) {
        int64_t left = deadline - now_ms();
        cr_assert(left > 0, "no listening line from %s within %d ms; got "
                  "'%.*s'; its stderr:\n%s", bin, START_TIMEOUT_MS,
                  (int)len, line, server_log());
        struct pollfd pf = {.fd = srv.out_fd, .events = POLLIN};
        int n = poll(&pf, 1, (int)left);
        if (n <= 0)
            continue;
        ssize_t k = read(srv.out_fd, line + len, sizeof line - 1 - len);
        cr_assert(k > 0, "%s exited before listening; its stderr:\n%s",
                  bin, server_log());
        len += (size_t)k;
        cr_assert(len < sizeof line - 1, "listening line too long");
    }
    line[len] = 0;
    static const char prefix[] = "ducta " DUCTA_VERSION " listening on "
                                 "http://127.0.0.1:";
    cr_assert(strncmp(line, prefix, sizeof prefix - 1) == 0,
              "unexpected first line from the server: '%s'", line);
    char *end;
    long port = strtol(line + sizeof prefix - 1, &end, 10);
    cr_assert(port > 0 && port < 65536 && (*end == ' ' || *end == '\n'),
              "no port in the listening line '%s'", line);
    srv.port = (int)port;
}

static void server_signal(int sig)
{
    cr_assert(srv.pid > 0, "server not running");
    cr_assert(kill(srv.pid, sig) == 0, "kill: %s", strerror(errno));
    srv.term_at = now_ms();
}

static void server_term(void)
{
    server_signal(SIGTERM);
}

/* After server_term(): the process must exit 0 within STOP_TIMEOUT_MS,
 * with nothing from a sanitizer on its stderr. */
static void server_wait_exit(void)
{
    int status = 0;
    pid_t r;
    while ((r = waitpid(srv.pid, &status, WNOHANG)) == 0 &&
           now_ms() - srv.term_at < STOP_TIMEOUT_MS)
        sleep_ms(5);
    if (r == 0) {
        kill(srv.pid, SIGKILL);
        waitpid(srv.pid, NULL, 0);
        srv.pid = 0;
        cr_assert_fail("server still running %d ms after SIGTERM; its "
                       "stderr:\n%s", STOP_TIMEOUT_MS, server_log());
    }
    cr_assert(r == srv.pid, "waitpid: %s", strerror(errno));
    srv.pid = 0;
    int64_t took = now_ms() - srv.term_at;
    const char *log = server_log();
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "server did not exit 0 after SIGTERM (%s %d, after %lld ms); "
              "its stderr:\n%s", WIFEXITED(status) ? "exit" : "signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
              (long long)took, log);
    cr_assert(!strstr(log, "Sanitizer") && !strstr(log, "runtime error"),
              "sanitizer report from the server:\n%s", log);
}

static void server_stop(void)
{
    server_term();
    server_wait_exit();
}

/* Criterion runs this after every test, passed or failed. */
static void teardown(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        waitpid(srv.pid, NULL, 0);
    }
    if (srv.out_fd > 0)
        close(srv.out_fd);
    if (srv.log[0])
        unlink(srv.log);
    srv = (struct server){0};
    readers_used = 0;
}

#define IT(name) Test(integration, name, .fini = teardown, .timeout = 60)

/* ---- sockets and HTTP responses ------------------------------------------ */

/* A blocking TCP connection to 127.0.0.1:port with IO timeouts; -1 with
 * errno on failure. */
static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {IO_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int connect_server(void)
{
    int fd = tcp_connect(srv.port);
    cr_assert(fd >= 0, "connect to 127.0.0.1:%d: %s", srv.port,
              strerror(errno));
    return fd;
}

/* 0, or -1 with errno. */
static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void send_str(int fd, const char *s)
{
    cr_assert(send_all(fd, s, strlen(s)) == 0, "send: %s", strerror(errno));
}

/* One parsed response. The head keeps its CRLFs; body is a copy. */
struct resp {
    int status;
    char head[4096];
    size_t head_len;
    char body[4096];
    size_t body_len;
    long content_length;
};

/* A header's value (trimmed) into val; NULL when absent. */
static const char *hdr(const struct resp *rp, const char *name, char *val,
                       size_t cap)
{
    size_t n = strlen(name);
    const char *p = strstr(rp->head, "\r\n");
    while (p && p[2] && !(p[2] == '\r' && p[3] == '\n')) {
        const char *line = p + 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - line) > n && line[n] == ':' &&
            strncasecmp(line, name, n) == 0) {
            const char *v = line + n + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *e = eol;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            snprintf(val, cap, "%.*s", (int)(e - v), v);
            return val;
        }
        p = eol;
    }
    return NULL;
}

static int hdr_count(const struct resp *rp, const char *name)
{
    int count = 0;
    size_t n = strlen(name);
    for (const char *p = strstr(rp->head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        count += strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':';
    return count;
}

/* Parse one response at buf[0..len): bytes it takes (> 0), 0 if more are
 * needed, -1 if it is not a well-formed ducta response (ducta always sends
 * "HTTP/1.1 NNN ..." and a Content-Length). head_only: the request was
 * HEAD, so no body follows whatever Content-Length says. */
static long parse_resp(const char *buf, size_t len, struct resp *out,
                       int head_only)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return len >= sizeof out->head ? -1 : 0;
    size_t head_len = (size_t)(end - buf) + 4;
    if (head_len >= sizeof out->head)
        return -1;
    memcpy(out->head, buf, head_len);
    out->head[head_len] = 0;
    out->head_len = head_len;
    if (strncmp(out->head, "HTTP/1.1 ", 9) != 0 ||
        !isdigit((unsigned char)out->head[9]) ||
        !isdigit((unsigned char)out->head[10]) ||
        !isdigit((unsigned char)out->head[11]) || out->head[12] != ' ')
        return -1;
    out->status = atoi(out->head + 9);
    char v[64];
    if (!hdr(out, "Content-Length", v, sizeof v) || !*v ||
        strspn(v, "0123456789") != strlen(v))
        return -1;
    out->content_length = atol(v);
    size_t body = head_only ? 0 : (size_t)out->content_length;
    if (body >= sizeof out->body)
        return -1;
    if (len - head_len < body)
        return 0;
    memcpy(out->body, buf + head_len, body);
    out->body[body] = 0;
    out->body_len = body;
    return (long)(head_len + body);
}

/* Buffered reading of responses from one connection. */
struct reader {
    int fd;
    size_t len;
    int err;          /* errno of the failure that ended reading, or 0 */
    char buf[65536];
};

/* Readers come from a static pool (64 KB each is too much for a thread's
 * stack, and a heap copy would leak when an assertion ends a test early);
 * teardown() empties it. */
static struct reader reader_pool[16];

static struct reader *reader_for(int fd)
{
    cr_assert(readers_used < (int)(sizeof reader_pool / sizeof reader_pool[0]),
              "reader pool exhausted");
    struct reader *r = &reader_pool[readers_used++];
    r->fd = fd;
    r->len = 0;
    r->err = 0;
    return r;
}

enum {
    RD_OK = 1,        /* a complete response */
    RD_CLOSED = 0,    /* EOF or reset before any byte of a response */
    RD_PARTIAL = -1,  /* EOF or reset in the middle of a response */
    RD_BAD = -2,      /* bytes that are not a response */
    RD_TIMEOUT = -3,  /* nothing for IO_TIMEOUT_MS */
};

static const char *r_name(int rc)
{
    switch (rc) {
    case RD_OK: return "a response";
    case RD_CLOSED: return "a close";
    case RD_PARTIAL: return "a response cut short";
    case RD_BAD: return "garbage";
    case RD_TIMEOUT: return "a timeout";
    default: return "?";
    }
}

static int read_response(struct reader *r, struct resp *out, int head_only)
{
    for (;;) {
        long n = parse_resp(r->buf, r->len, out, head_only);
        if (n < 0)
            return RD_BAD;
        if (n > 0) {
            r->len -= (size_t)n;
            memmove(r->buf, r->buf + n, r->len);
            return RD_OK;
        }
        if (r->len == sizeof r->buf)
            return RD_BAD;
        ssize_t k = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (k > 0) {
            r->len += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        r->err = k == 0 ? 0 : errno;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return RD_TIMEOUT;
        return r->len == 0 ? RD_CLOSED : RD_PARTIAL;
    }
}

/* After a response that announced Connection: close: 1 if the server then
 * closes cleanly (EOF, no more bytes), 0 if more bytes come, -1 on a reset,
 * -2 if nothing happens for IO_TIMEOUT_MS. */
static int read_eof(struct reader *r)
{
    if (r->len)
        return 0;
    char c;
    for (;;) {
        ssize_t k = recv(r->fd, &c, 1, 0);
        if (k == 0)
            return 1;
        if (k > 0)
            return 0;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    }
}

/* Nothing more arrives within ms (the connection is open and quiet). */
static int quiet_for(struct reader *r, int ms)
{
    if (r->len)
        return 0;
    struct pollfd pf = {.fd = r->fd, .events = POLLIN};
    return poll(&pf, 1, ms) == 0;
}

static void expect_response(struct reader *r, struct resp *rp, int head_only,
                            const char *what)
{
    int rc = read_response(r, rp, head_only);
    cr_assert(rc == RD_OK, "%s: expected a response, got %s (%s); buffered: "
              "'%.*s'", what, r_name(rc), r->err ? strerror(r->err) : "-",
              (int)r->len, r->buf);
}

/* Headers every ducta response carries: Server: ducta, a current Date in
 * IMF-fixdate, and a Content-Length equal to the body that came. */
static void check_common(const struct resp *rp, int head_only,
                         const char *what)
{
    char v[128];
    cr_assert(hdr(rp, "Server", v, sizeof v) && !strcmp(v, "ducta"),
              "%s: no 'Server: ducta' in:\n%s", what, rp->head);
    cr_assert(hdr_count(rp, "Server") == 1 && hdr_count(rp, "Date") == 1 &&
              hdr_count(rp, "Content-Length") == 1,
              "%s: Server, Date and Content-Length must appear once:\n%s",
              what, rp->head);
    cr_assert(hdr(rp, "Date", v, sizeof v), "%s: no Date in:\n%s", what,
              rp->head);
    struct tm tm = {0};
    const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cr_assert(strlen(v) == DUCTA_DATE_LEN && end && !*end,
              "%s: Date '%s' is not an IMF-fixdate", what, v);
    long skew = (long)(timegm(&tm) - time(NULL));
    cr_assert(skew > -5 && skew < 5, "%s: Date '%s' is %ld s off the clock",
              what, v, skew);
    cr_assert(rp->content_length >= 0, "%s: no Content-Length", what);
    if (!head_only)
        cr_assert((size_t)rp->content_length == rp->body_len,
                  "%s: Content-Length %ld but %zu body bytes", what,
                  rp->content_length, rp->body_len);
}

/* "text/plain" or "text/plain; charset=..." */
static int media_type_is(const struct resp *rp, const char *type)
{
    char v[128];
    if (!hdr(rp, "Content-Type", v, sizeof v))
        return 0;
    size_t n = strlen(type);
    return strncasecmp(v, type, n) == 0 && (v[n] == 0 || v[n] == ';');
}

static void check_plain(const struct resp *rp, const char *what)
{
    cr_assert(rp->status == 200, "%s: status %d, want 200:\n%s", what,
              rp->status, rp->head);
    cr_assert(media_type_is(rp, "text/plain"),
              "%s: Content-Type is not text/plain:\n%s", what, rp->head);
    cr_assert(rp->body_len == strlen(PLAIN_BODY) &&
              !memcmp(rp->body, PLAIN_BODY, rp->body_len),
              "%s: body '%.*s', want '" PLAIN_BODY "'", what,
              (int)rp->body_len, rp->body);
}

static void check_json(const struct resp *rp, const char *what)
{
    cr_assert(rp->status == 200, "%s: status %d, want 200:\n%s", what,
              rp->status, rp->head);
    cr_assert(media_type_is(rp, "application/json"),
              "%s: Content-Type is not application/json:\n%s", what,
              rp->head);
    cr_assert(rp->body_len == strlen(JSON_BODY) &&
              !memcmp(rp->body, JSON_BODY, rp->body_len),
              "%s: body '%.*s', want '%s'", what, (int)rp->body_len,
              rp->body, JSON_BODY);
}

static int has_conn_close(const struct resp *rp)
{
    char v[64];
    return hdr(rp, "Connection", v, sizeof v) && !strcasecmp(v, "close");
}

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
                           "--version"};
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
