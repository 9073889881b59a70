/*
 * test/app/app.c — handlers for test/test_handlers.c: each one either
 * breaks a rule of the handler API (ducta.h) on purpose, to see a clean 500
 * and the connection go on, or uses one part of the API for real.
 */
#include "ducta.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fails(const struct ducta_request *req, struct ducta_response *res);
int with_status(const struct ducta_request *req, struct ducta_response *res);
int header_with_crlf(const struct ducta_request *req,
                     struct ducta_response *res);
int reserved_header(const struct ducta_request *req,
                    struct ducta_response *res);
int many_headers(const struct ducta_request *req, struct ducta_response *res);
int length_without_body(const struct ducta_request *req,
                        struct ducta_response *res);
int body_too_big(const struct ducta_request *req, struct ducta_response *res);
int own_file(const struct ducta_request *req, struct ducta_response *res);
int bad_file(const struct ducta_request *req, struct ducta_response *res);
int download(const struct ducta_request *req, struct ducta_response *res);
int empty_status(const struct ducta_request *req, struct ducta_response *res);
int scratch_slip(const struct ducta_request *req, struct ducta_response *res);
int bad_value(const struct ducta_request *req, struct ducta_response *res);
int good_value(const struct ducta_request *req, struct ducta_response *res);
int content_type(const struct ducta_request *req, struct ducta_response *res);
int file_wraps(const struct ducta_request *req, struct ducta_response *res);
int file_past_eof(const struct ducta_request *req, struct ducta_response *res);
int file_not_regular(const struct ducta_request *req,
                     struct ducta_response *res);
int fd_in_memory_body(const struct ducta_request *req,
                      struct ducta_response *res);
int fd_bad_source(const struct ducta_request *req, struct ducta_response *res);
int fd_then_fail(const struct ducta_request *req, struct ducta_response *res);
int file_twice(const struct ducta_request *req, struct ducta_response *res);
int allow_field(const struct ducta_request *req, struct ducta_response *res);
int printf_fill(const struct ducta_request *req, struct ducta_response *res);
int json_echo(const struct ducta_request *req, struct ducta_response *res);

int fails(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    res->status = 200;  /* filled in, but the handler says it failed */
    return -1;
}

/* /status/NNN answers with that status, whatever it is */
int with_status(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *code = ducta_param_get(req, "code");
    char digits[8] = "";
    if (code && code->len < sizeof digits)
        memcpy(digits, code->ptr, code->len);
    res->status = atoi(digits);
    res->body = "status body\n";
    res->body_len = 12;
    return 0;
}

int header_with_crlf(const struct ducta_request *req,
                     struct ducta_response *res)
{
    (void)req;
    res->status = 200;
    ducta_response_header(res, "X-Note", "a\r\nX-Injected: 1");
    return 0;
}

int reserved_header(const struct ducta_request *req,
                    struct ducta_response *res)
{
    (void)req;
    res->status = 200;
    ducta_response_header(res, "content-length", "0");
    return 0;
}

/* adds headers until refused; reports how many fit */
int many_headers(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    static const char *const names[] = {"X-A", "X-B", "X-C", "X-D", "X-E",
                                        "X-F", "X-G", "X-H", "X-I", "X-J",
                                        "X-K", "X-L"};
    int n = 0;
    while (n < 12 && ducta_response_header(res, names[n], "v") == 0)
        n++;
    const char *body = ducta_response_printf(res, "%d fit\n", n);
    if (!body)
        return -1;
    res->status = 200;
    res->body = body;
    res->body_len = strlen(body);
    return 0;
}

int length_without_body(const struct ducta_request *req,
                        struct ducta_response *res)
{
    (void)req;
    res->status = 200;
    res->body_len = 5;  /* and no body */
    return 0;
}

int body_too_big(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    static char big[1 << 20];
    res->status = 200;
    res->body = big;
    res->body_len = sizeof big;  /* more than max_response */
    return 0;
}

/* a file the handler opened itself: ducta sends it and closes it */
int own_file(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    int fd = open("test/app/routes.def", O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return -1;
    res->status = 200;
    res->source = DUCTA_BODY_FILE;
    res->file_fd = fd;
    res->file_offset = 2;  /* from the third byte on */
    res->body_len = (size_t)st.st_size - 2;
    return 0;
}

int bad_file(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    res->status = 200;
    res->source = DUCTA_BODY_FILE;  /* with file_fd still -1 */
    res->body_len = 10;
    return 0;
}

/* /download/NAME: the file NAME under --root, as the file server would */
int download(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *path = ducta_param_get(req, "path");
    if (!path || ducta_response_file(req, res, path->ptr, path->len) != 0)
        return -1;
    ducta_response_header(res, "Content-Disposition", "attachment");
    return 0;
}

/* /empty/NNN: that status without a body (204, 205, 304 may have none) */
int empty_status(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *code = ducta_param_get(req, "code");
    char digits[8] = "";
    if (code && code->len < sizeof digits)
        memcpy(digits, code->ptr, code->len);
    res->status = atoi(digits);
    return 0;
}

/* The bookkeeping slip the issue shows: scratch_used += snprintf() + 1,
 * where snprintf returns the length it wanted, not what fitted. Its writes
 * stay inside scratch; the count it leaves does not. */
int scratch_slip(const struct ducta_request *req, struct ducta_response *res)
{
    res->scratch_used = DUCTA_RESPONSE_SCRATCH - 6;
    res->scratch_used += (size_t)snprintf(res->scratch + res->scratch_used,
                                          DUCTA_RESPONSE_SCRATCH -
                                              res->scratch_used,
                                          "%.*s", (int)req->path.len,
                                          req->path.ptr) + 1;
    /* the helper refuses to write behind a count past the end */
    if (ducta_response_printf(res, "x") != NULL)
        return 0;  /* 200 "ok" would fail the test */
    res->status = 200;
    res->body = "ok";
    res->body_len = 2;
    return 0;
}

/* /bad-value/N: a field value RFC 9110 §5.5 does not allow */
static const char *const bad_values[] = {
    "a\x01b", "a\x7f", "a\vb", "a\fb", "a\x1b[31m", " lead", "trail\t",
    "a\rb", "a\nb",
};
int bad_value(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *n = ducta_param_get(req, "n");
    size_t i = n && n->len == 1 ? (size_t)(n->ptr[0] - '0') : 99;
    if (i >= sizeof bad_values / sizeof bad_values[0])
        return -1;
    res->status = 200;
    res->body = "bad value sent\n";
    res->body_len = 15;
    ducta_response_header(res, "X-Bad", bad_values[i]);
    return 0;
}

/* values that are fine: inner spaces and tabs, obs-text, empty */
int good_value(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    res->status = 200;
    if (ducta_response_header(res, "X-Words", "a b\tc") != 0 ||
        ducta_response_header(res, "X-Latin", "caf\xc3\xa9") != 0 ||
        ducta_response_header(res, "X-Empty", "") != 0)
        return -1;
    return 0;
}

/* /ctype/N: content types, valid (even) and not (odd) */
static const char *const ctypes[] = {
    "text/html; charset=utf-8",  "text/plain\x01",
    "multipart/form-data; boundary=\"a b\"", "textplain",
    "application/json;a=1; ;b=2", "text/plain; charset",
    "text/plain ;q=\"x\\\"y\"",    "text/ plain",
    "image/svg+xml",             "",
};
int content_type(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *n = ducta_param_get(req, "n");
    size_t i = n && n->len == 1 ? (size_t)(n->ptr[0] - '0') : 99;
    if (i >= sizeof ctypes / sizeof ctypes[0])
        return -1;
    res->status = 200;
    res->content_type = ctypes[i];
    res->body = "typed\n";
    res->body_len = 6;
    return 0;
}

static int open_own(struct ducta_response *res, struct stat *st)
{
    int fd = open("test/app/routes.def", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, st) != 0)
        return -1;
    res->status = 200;
    res->source = DUCTA_BODY_FILE;
    res->file_fd = fd;
    return 0;
}

/* offset + length wraps around 2^64 */
int file_wraps(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    struct stat st;
    if (open_own(res, &st) != 0)
        return -1;
    res->file_offset = UINT64_MAX - 4;
    res->body_len = 10;
    return 0;
}

/* more bytes than the file has */
int file_past_eof(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    struct stat st;
    if (open_own(res, &st) != 0)
        return -1;
    res->file_offset = 1;
    res->body_len = (size_t)st.st_size;  /* one past the end */
    return 0;
}

/* a descriptor that is not a regular file (a directory) */
int file_not_regular(const struct ducta_request *req,
                     struct ducta_response *res)
{
    (void)req;
    int fd = open("test/app", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    res->status = 200;
    res->source = DUCTA_BODY_FILE;
    res->file_fd = fd;
    res->body_len = 1;
    return 0;
}

/* a descriptor handed over, but the body is in memory: ducta still closes
 * it (file_fd >= 0 is a hand-over, whatever the source) */
int fd_in_memory_body(const struct ducta_request *req,
                      struct ducta_response *res)
{
    (void)req;
    struct stat st;
    if (open_own(res, &st) != 0)
        return -1;
    res->source = DUCTA_BODY_MEMORY;
    res->body = "memory\n";
    res->body_len = 7;
    return 0;
}

/* a descriptor with a source that does not exist: a 500, and closed */
int fd_bad_source(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    struct stat st;
    if (open_own(res, &st) != 0)
        return -1;
    res->source = (enum ducta_body_source)7;
    res->body_len = 3;
    return 0;
}

/* a descriptor handed over, then the handler fails */
int fd_then_fail(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    struct stat st;
    if (open_own(res, &st) != 0)
        return -1;
    return -1;
}

/* ducta_response_file twice: the second answer replaces the first */
int file_twice(const struct ducta_request *req, struct ducta_response *res)
{
    if (ducta_response_file(req, res, "/d.txt", 6) != 0 ||
        ducta_response_file(req, res, "/d.txt", 6) != 0)
        return -1;
    return 0;
}

/* Allow is the handler's to set (an OPTIONS answer, a 405 of its own) */
int allow_field(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    res->status = 200;
    return ducta_response_header(res, "Allow", "GET, HEAD, OPTIONS");
}

/* ducta_response_printf until scratch is full: every string it returned
 * must still be whole, and scratch_used never past the end */
int printf_fill(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    const char *parts[64];
    size_t n = 0;
    while (n < 64 && (parts[n] = ducta_response_printf(res, "part-%02zu", n)))
        n++;
    if (res->scratch_used > DUCTA_RESPONSE_SCRATCH)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "part-%02zu", i);
        if (strcmp(parts[i], want) != 0)
            return -1;
    }
    const char *body = ducta_response_printf(res, "%zu", n);
    if (body)  /* it cannot fit: scratch is full */
        return -1;
    res->scratch_used = 0;  /* start over: a new, empty scratch */
    body = ducta_response_printf(res, "%zu parts\n", n);
    if (!body)
        return -1;
    res->status = 200;
    res->body = body;
    res->body_len = strlen(body);
    return 0;
}

/* POST /json: the request body as a JSON string, {"s":...} */
int json_echo(const struct ducta_request *req, struct ducta_response *res)
{
    const char *s = ducta_response_json_string(res, req->body.ptr,
                                               req->body.len);
    if (!s)
        return -1;
    const char *body = ducta_response_printf(res, "{\"s\":%s}", s);
    if (!body)
        return -1;
    res->status = 200;
    res->content_type = "application/json";
    res->body = body;
    res->body_len = strlen(body);
    return 0;
}
