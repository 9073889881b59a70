/*
 * harness.h — the helpers of the tests that run ducta as a process and
 * speak HTTP/1.1 to it over raw sockets (test_integration.c, test_strict.c,
 * test_files.c, test_handlers.c, test_limits.c, test_faults.c,
 * test_router.c): time and buffers; running a command (argv or a shell line)
 * with a timeout and its output captured; servers under test (start with
 * extra flags, optionally under an RLIMIT_NOFILE or with stderr on a pipe;
 * signal; stop requiring exit 0 and no sanitizer report; clean up; count
 * their open descriptors); and one response reader: a buffered reader per
 * connection that parses whole responses (struct resp) and tells a close,
 * a reset, a timeout and garbage apart, field lookup, and the checks every
 * ducta response must pass. It does not build apps or file trees: each
 * test file owns its fixtures.
 *
 * Everything is static (unused ones are fine): include it once per test
 * file, after defining _GNU_SOURCE. A test's .fini calls
 * harness_teardown(), which kills a server left running and empties the
 * reader pool.
 */
#ifndef DUCTA_TEST_HARNESS_H
#define DUCTA_TEST_HARNESS_H

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
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
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ducta.h"

/* Every helper below: static, and no warning in a file that does not
 * call it. */
#define HARNESS static __attribute__((unused))

#define PLAIN_BODY "Hello, World!"
#define JSON_BODY "{\"message\":\"Hello, World!\"}"

enum {
    START_TIMEOUT_MS = 5000,  /* the listening line must appear by then */
    STOP_TIMEOUT_MS = 6000,   /* SIGTERM to exit */
    IO_TIMEOUT_MS = 5000,     /* any one socket read or write */
    SERVER_MAX_ARGS = 24,     /* extra flags to server_start_with() */
    READER_POOL = 16,         /* readers live at once in one test */
    SH_TIMEOUT_MS = 600000,   /* sh_run: building an app under ASan */
};

/* ---- time, buffers ------------------------------------------------------ */

HARNESS int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

HARNESS void sleep_ms(int ms)
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

HARNESS void buf_add(struct buf *b, const void *data, size_t n)
{
    cr_assert(b->len + n < sizeof b->p, "test buffer overflow (%zu + %zu)",
              b->len, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

HARNESS void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof tmp);
    buf_add(b, tmp, (size_t)n);
}

HARNESS size_t count_char(const char *s, char c)
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
HARNESS void child_setup(int out_fd, int err_fd)
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
HARNESS void run_cmd(struct run *r, int timeout_ms, char *const argv[])
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

/* Run a shell line (printf-style) to completion, stderr joined to stdout,
 * which is kept in out[0..cap). Its exit status, -1 if it did not exit. */
HARNESS int sh_run(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
HARNESS int sh_run(char *out, size_t cap, const char *fmt, ...)
{
    static char cmd[4096];
    static struct run r;
    static const char join[] = "exec 2>&1; ";
    memcpy(cmd, join, sizeof join);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd + sizeof join - 1, sizeof cmd - sizeof join, fmt,
                      ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof cmd - sizeof join,
              "command too long");
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    run_cmd(&r, SH_TIMEOUT_MS, argv);
    size_t n_out = r.out.len < cap - 1 ? r.out.len : cap - 1;
    memcpy(out, r.out.p, n_out);
    out[n_out] = 0;
    return !r.timed_out && WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
}

HARNESS const char *ducta_bin(void)
{
    const char *b = getenv("DUCTA_BIN");
    return b && *b ? b : "./ducta";
}

/* ---- the server under test ----------------------------------------------- */

struct server {
    pid_t pid;           /* 0 when not running */
    int port;
    int out_fd;          /* read end of its stdout */
    int err_fd;          /* read end of its stderr, with .err_pipe */
    char log[64];        /* else its stderr goes to this file */
    int64_t term_at;     /* when SIGTERM was sent */
};

/* How to start one; all zero: as server_start_with() does. */
struct server_opts {
    rlim_t nofile_soft, nofile_hard;  /* its RLIMIT_NOFILE; 0, 0: ours */
    int err_pipe;                     /* stderr to a pipe (err_fd), no log */
};

static struct server srv;  /* the one server of most tests */
static int readers_used;  /* see reader_for() */

/* The server's stderr so far (for messages); a static buffer. */
HARNESS const char *server_log_of(const struct server *s)
{
    static char text[16384];
    text[0] = 0;
    FILE *f = s->log[0] ? fopen(s->log, "r") : NULL;
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = 0;
        fclose(f);
    }
    return text;
}

HARNESS const char *server_log(void)
{
    return server_log_of(&srv);
}

/* Start $DUCTA_BIN with --port 0 --threads 2 --no-pin and the extra
 * flags (NULL-terminated, or NULL; a later flag overrides these), and
 * learn its port. */
HARNESS void server_spawn(struct server *s, const struct server_opts *o,
                          const char *const extra[])
{
    static const struct server_opts plain;
    if (!o)
        o = &plain;
    const char *bin = ducta_bin();
    cr_assert(access(bin, X_OK) == 0, "server binary %s: %s", bin,
              strerror(errno));
    char *argv[SERVER_MAX_ARGS + 8] = {(char *)bin, "--port", "0",
                                       "--threads", "2", "--no-pin"};
    int argc = 6;
    for (int i = 0; extra && extra[i]; i++) {
        cr_assert(i < SERVER_MAX_ARGS, "too many server flags");
        argv[argc++] = (char *)extra[i];
    }
    argv[argc] = NULL;
    *s = (struct server){.err_fd = -1};
    int ep[2] = {-1, -1};
    if (o->err_pipe) {
        cr_assert(pipe2(ep, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    } else {
        snprintf(s->log, sizeof s->log, "/tmp/ducta-test-XXXXXX");
        ep[1] = mkostemp(s->log, O_CLOEXEC);
        cr_assert(ep[1] >= 0, "mkostemp: %s", strerror(errno));
    }
    int op[2];
    cr_assert(pipe2(op, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        child_setup(op[1], ep[1]);
        if (o->nofile_hard) {
            struct rlimit rl = {o->nofile_soft, o->nofile_hard};
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(126);
        }
        execv(bin, argv);
        dprintf(2, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(op[1]);
    close(ep[1]);
    s->pid = pid;
    s->out_fd = op[0];
    s->err_fd = ep[0];

    /* one line on stdout: "ducta 0.1.0 listening on http://127.0.0.1:PORT" */
    char line[512];
    size_t len = 0;
    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    while (!memchr(line, '\n', len)) {
        int64_t left = deadline - now_ms();
        cr_assert(left > 0, "no listening line from %s within %d ms; got "
                  "'%.*s'; its stderr:\n%s", bin, START_TIMEOUT_MS,
                  (int)len, line, server_log_of(s));
        struct pollfd pf = {.fd = s->out_fd, .events = POLLIN};
        int n = poll(&pf, 1, (int)left);
        if (n <= 0)
            continue;
        ssize_t k = read(s->out_fd, line + len, sizeof line - 1 - len);
        cr_assert(k > 0, "%s exited before listening; its stderr:\n%s",
                  bin, server_log_of(s));
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
    s->port = (int)port;
}

HARNESS void server_start_with(const char *const extra[])
{
    server_spawn(&srv, NULL, extra);
}

HARNESS void server_start(void)
{
    server_start_with(NULL);
}

HARNESS void server_signal_of(struct server *s, int sig)
{
    cr_assert(s->pid > 0, "server not running");
    cr_assert(kill(s->pid, sig) == 0, "kill: %s", strerror(errno));
    s->term_at = now_ms();
}

HARNESS void server_signal(int sig)
{
    server_signal_of(&srv, sig);
}

HARNESS void server_term(void)
{
    server_signal(SIGTERM);
}

/* After SIGTERM: the process must exit 0 within STOP_TIMEOUT_MS, with
 * nothing from a sanitizer on its stderr (when that is a log). */
HARNESS void server_wait_exit_of(struct server *s)
{
    int status = 0;
    pid_t r;
    while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 &&
           now_ms() - s->term_at < STOP_TIMEOUT_MS)
        sleep_ms(5);
    if (r == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        cr_assert_fail("server still running %d ms after SIGTERM; its "
                       "stderr:\n%s", STOP_TIMEOUT_MS, server_log_of(s));
    }
    cr_assert(r == s->pid, "waitpid: %s", strerror(errno));
    s->pid = 0;
    int64_t took = now_ms() - s->term_at;
    const char *log = server_log_of(s);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "server did not exit 0 after SIGTERM (%s %d, after %lld ms); "
              "its stderr:\n%s", WIFEXITED(status) ? "exit" : "signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
              (long long)took, log);
    cr_assert(!strstr(log, "Sanitizer") && !strstr(log, "runtime error"),
              "sanitizer report from the server:\n%s", log);
}

HARNESS void server_wait_exit(void)
{
    server_wait_exit_of(&srv);
}

/* SIGTERM, then as server_wait_exit_of(); a server not running is fine. */
HARNESS void server_stop_of(struct server *s)
{
    if (s->pid <= 0)
        return;
    server_signal_of(s, SIGTERM);
    server_wait_exit_of(s);
}

HARNESS void server_stop(void)
{
    server_term();
    server_wait_exit();
}

/* Kill it if it still runs, close and remove what it had, forget it. */
HARNESS void server_reap(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    if (s->out_fd > 0)
        close(s->out_fd);
    if (s->err_fd > 0)
        close(s->err_fd);
    if (s->log[0])
        unlink(s->log);
    *s = (struct server){0};
}

/* How many descriptors process pid has open (/proc/PID/fd). */
HARNESS int proc_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert(d, "%s: %s", path, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* proc_fds(pid) as soon as it is want, else after ms: a server closes a
 * connection's or a file's descriptor just after the last byte went out,
 * and the client may look before that. */
HARNESS int proc_fds_settled(pid_t pid, int want, int ms)
{
    int64_t end = now_ms() + ms;
    int n;
    while ((n = proc_fds(pid)) != want && now_ms() < end)
        sleep_ms(10);
    return n;
}

/* For a test's .fini (Criterion runs it after every test, passed or
 * failed): kill a server still running, forget it, empty the readers. */
HARNESS void harness_teardown(void)
{
    server_reap(&srv);
    readers_used = 0;
}

/* ---- sockets and HTTP responses ------------------------------------------ */

/* A blocking TCP connection to 127.0.0.1:port with IO timeouts; -1 with
 * errno on failure. */
HARNESS int tcp_connect(int port)
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

/* As tcp_connect(), or the test fails. */
HARNESS int connect_port(int port)
{
    int fd = tcp_connect(port);
    cr_assert(fd >= 0, "connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

HARNESS int connect_server(void)
{
    return connect_port(srv.port);
}

/* 0, or -1 with errno. */
HARNESS int send_all(int fd, const void *data, size_t len)
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

HARNESS void send_str(int fd, const char *s)
{
    cr_assert(send_all(fd, s, strlen(s)) == 0, "send: %s", strerror(errno));
}

/* All of data, or the test fails. */
HARNESS void send_bytes(int fd, const void *data, size_t len)
{
    cr_assert(send_all(fd, data, len) == 0, "send: %s", strerror(errno));
}

/* In pieces of `piece` bytes, one send each (TCP_NODELAY is on), with a
 * pause between them so that the server reads them one by one. */
HARNESS void send_slowly(int fd, const void *data, size_t len, size_t piece,
                         int pause_ms)
{
    const char *p = data;
    while (len) {
        size_t n = len < piece ? len : piece;
        send_bytes(fd, p, n);
        p += n;
        len -= n;
        if (len && pause_ms)
            sleep_ms(pause_ms);
    }
}

/* One parsed response. The head keeps its CRLFs; body is a copy. */
struct resp {
    int status;
    char head[4096];
    size_t head_len;
    char body[70000];  /* room for a --max-body 65536 echo */
    size_t body_len;
    long content_length;
};

/* A header's value (trimmed) into val; NULL when absent. */
HARNESS const char *hdr(const struct resp *rp, const char *name, char *val,
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

HARNESS int hdr_count(const struct resp *rp, const char *name)
{
    int count = 0;
    size_t n = strlen(name);
    for (const char *p = strstr(rp->head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        count += strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':';
    return count;
}

/* Parse one response at buf[0..len): bytes it takes (> 0), 0 if more are
 * needed, -1 if it is not a well-formed ducta response (ducta always sends
 * "HTTP/1.1 NNN ..." and a Content-Length unless the status has no
 * content; content_length is -1 without one). head_only: the request was
 * HEAD, so no body follows whatever Content-Length says. */
HARNESS long parse_resp(const char *buf, size_t len, struct resp *out,
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
    /* 1xx, 204 and 304 have no content whatever the fields say (RFC 9110
     * §6.4.1), and ducta sends them without a Content-Length */
    int no_content = out->status < 200 || out->status == 204 ||
                     out->status == 304;
    char v[64];
    out->content_length = -1;
    if (hdr(out, "Content-Length", v, sizeof v)) {
        if (!*v || strspn(v, "0123456789") != strlen(v))
            return -1;
        out->content_length = atol(v);
    } else if (!no_content) {
        return -1;
    }
    size_t body = head_only || no_content ? 0 : (size_t)out->content_length;
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
    char buf[140000]; /* two of the largest responses */
};

/* Readers come from a static pool (64 KB each is too much for a thread's
 * stack, and a heap copy would leak when an assertion ends a test early);
 * teardown() empties it. */
static struct reader reader_pool[READER_POOL];

HARNESS struct reader *reader_for(int fd)
{
    cr_assert(readers_used < (int)(sizeof reader_pool / sizeof reader_pool[0]),
              "reader pool exhausted");
    struct reader *r = &reader_pool[readers_used++];
    r->fd = fd;
    r->len = 0;
    r->err = 0;
    return r;
}

/* Reader number slot of the pool, reset for fd: for a test that opens
 * connections one after another and needs only the last one or two. */
HARNESS struct reader *reader_in(int slot, int fd)
{
    cr_assert(slot >= 0 && slot < READER_POOL, "no reader %d", slot);
    if (readers_used <= slot)
        readers_used = slot + 1;
    struct reader *r = &reader_pool[slot];
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

HARNESS const char *r_name(int rc)
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

/* recv into the reader: > 0 bytes, 0 EOF, -1 error (r->err). */
HARNESS ssize_t fill(struct reader *r)
{
    for (;;) {
        ssize_t k = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (k > 0) {
            r->len += (size_t)k;
            return k;
        }
        if (k < 0 && errno == EINTR)
            continue;
        r->err = k == 0 ? 0 : errno;
        return k < 0 ? -1 : 0;
    }
}

/* One whole response into *out (head_only: it answers a HEAD): RD_*. */
HARNESS int read_response(struct reader *r, struct resp *out, int head_only)
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
        ssize_t k = fill(r);
        if (k > 0)
            continue;
        if (k < 0 && (r->err == EAGAIN || r->err == EWOULDBLOCK))
            return RD_TIMEOUT;
        return r->len == 0 ? RD_CLOSED : RD_PARTIAL;
    }
}

/* Exactly n raw bytes (for an interim 1xx response, which has no
 * Content-Length); 1 when they came, else 0 with what came in r->buf. */
HARNESS int read_exactly(struct reader *r, size_t n)
{
    while (r->len < n)
        if (fill(r) <= 0)
            return 0;
    return 1;
}

/* Drop the first n buffered bytes (after read_exactly). */
HARNESS void consume(struct reader *r, size_t n)
{
    r->len -= n;
    memmove(r->buf, r->buf + n, r->len);
}

/* After a response that announced Connection: close: 1 if the server then
 * closes cleanly (EOF, no more bytes), 0 if more bytes come, -1 on a reset,
 * -2 if nothing happens for IO_TIMEOUT_MS. */
HARNESS int read_eof(struct reader *r)
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
        r->err = errno;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
    }
}

HARNESS const char *eof_name(int e)
{
    return e == 1 ? "EOF" : e == 0 ? "more bytes (a second response?)"
         : e == -1 ? "a reset/error" : "a timeout";
}

/* Nothing more arrives within ms (the connection is open and quiet). */
HARNESS int quiet_for(struct reader *r, int ms)
{
    if (r->len)
        return 0;
    struct pollfd pf = {.fd = r->fd, .events = POLLIN};
    return poll(&pf, 1, ms) == 0;
}

HARNESS void expect_response(struct reader *r, struct resp *rp, int head_only,
                            const char *what)
{
    int rc = read_response(r, rp, head_only);
    cr_assert(rc == RD_OK, "%s: expected a response, got %s (%s); buffered: "
              "'%.*s'", what, r_name(rc), r->err ? strerror(r->err) : "-",
              (int)(r->len > 300 ? 300 : r->len), r->buf);
}

/* Send one request (extra: more field lines, each ending in CRLF) on the
 * reader's connection and read its whole response, or the test fails. */
HARNESS void ask_on(struct reader *r, const char *method, const char *target,
                    const char *extra, struct resp *rp)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
                     method, target, extra ? extra : "");
    cr_assert(n > 0 && (size_t)n < sizeof req, "request too long");
    send_bytes(r->fd, req, (size_t)n);
    char what[160];
    snprintf(what, sizeof what, "%s %s", method, target);
    expect_response(r, rp, !strcmp(method, "HEAD"), what);
}

/* Headers every ducta response carries: Server: ducta, a current Date in
 * IMF-fixdate, and a Content-Length equal to the body that came. */
HARNESS void check_common(const struct resp *rp, int head_only,
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
HARNESS int media_type_is(const struct resp *rp, const char *type)
{
    char v[128];
    if (!hdr(rp, "Content-Type", v, sizeof v))
        return 0;
    size_t n = strlen(type);
    return strncasecmp(v, type, n) == 0 && (v[n] == 0 || v[n] == ';');
}

HARNESS void check_plain(const struct resp *rp, const char *what)
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

HARNESS void check_json(const struct resp *rp, const char *what)
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

HARNESS int has_conn_close(const struct resp *rp)
{
    char v[64];
    return hdr(rp, "Connection", v, sizeof v) && !strcasecmp(v, "close");
}


#endif
