/*
 * client.h — a minimal HTTP/1.1 client for the tests that talk to a real
 * server over a socket (test_files.c, test_handlers.c): send bytes, read
 * exactly one response (head byte by byte, so nothing of the next one is
 * consumed; body by Content-Length), look a field up.
 */
#ifndef DUCTA_TEST_CLIENT_H
#define DUCTA_TEST_CLIENT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct resp {
    int status;
    char head[4096];
    char *body;  /* malloc'd */
    size_t body_len;
};

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        cr_assert_gt(k, 0, "send: %s", strerror(errno));
        s += k, n -= (size_t)k;
    }
}

/* Value of a response field (case-insensitive name), or NULL. */
static const char *field(const struct resp *r, const char *name, char *out,
                         size_t cap)
{
    const char *p = strchr(r->head, '\n');
    size_t n = strlen(name);
    while (p && *++p) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t len = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return out;
        }
        p = strchr(p, '\n');
    }
    return NULL;
}

/* Read one response from fd (after a request with method `method`). */
static void read_resp(int fd, const char *method, struct resp *r)
{
    size_t n = 0;
    memset(r, 0, sizeof *r);
    char *end = NULL;
    while (!end) {  /* byte-wise until the blank line: never over-reads */
        cr_assert_lt(n, sizeof r->head - 1, "head too long");
        ssize_t k = recv(fd, r->head + n, 1, 0);
        cr_assert_eq(k, 1, "connection ended in a head (%s)",
                     k < 0 ? strerror(errno) : "EOF");
        n++;
        r->head[n] = 0;
        end = n >= 4 ? strstr(r->head + n - 4, "\r\n\r\n") : NULL;
    }
    cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1, "%s",
                 r->head);
    char v[64];
    size_t len = 0;
    if (field(r, "Content-Length", v, sizeof v))
        len = strtoull(v, NULL, 10);
    if (strcmp(method, "HEAD") == 0 || r->status == 304)
        len = 0;
    r->body = malloc(len + 1);
    while (r->body_len < len) {
        ssize_t k = recv(fd, r->body + r->body_len, len - r->body_len, 0);
        cr_assert_gt(k, 0, "body cut short at %zu of %zu", r->body_len, len);
        r->body_len += (size_t)k;
    }
    r->body[len] = 0;
}

/* Send one request on fd (extra: more header lines, each ending in CRLF)
 * and read its response. */
static void ask(int fd, const char *method, const char *target,
                const char *extra, struct resp *r)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
                     method, target, extra ? extra : "");
    cr_assert(n > 0 && (size_t)n < sizeof req);
    send_all(fd, req, (size_t)n);
    read_resp(fd, method, r);
}

#endif
