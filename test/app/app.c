/*
 * test/app/app.c — handlers for test/test_handlers.c: each one either
 * breaks a rule of the handler API (ducta.h) on purpose, to see a clean 500
 * and the connection go on, or uses one part of the API for real.
 */
#include "ducta.h"

#include <fcntl.h>
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
    int len = snprintf(res->scratch, DUCTA_RESPONSE_SCRATCH, "%d fit\n", n);
    res->scratch_used = (size_t)len + 1;
    res->status = 200;
    res->body = res->scratch;
    res->body_len = (size_t)len;
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
