/*
 * router.c — from a parsed request to the handler that answers it.
 *
 * Owns: the route table and the built-in handlers (/plaintext and /json,
 * the TechEmpower endpoints every benchmark speaks; POST /echo; OPTIONS *),
 * and the decision between a handler, 404 and 405.
 *
 * Does not own: how responses are written (conn.c) or parsed (parse.c).
 *
 * The table is small and scanned in order for now; a perfect hash generated
 * at build time replaces the scan without changing ducta_route().
 */
#include "ducta.h"

#include <string.h>

static int plaintext(const struct ducta_request *req,
                     struct ducta_response *res)
{
    (void)req;
    static const char body[] = "Hello, World!";
    res->status = 200;
    res->body = body;
    res->body_len = sizeof body - 1;
    return 0;
}

static int json(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    static const char body[] = "{\"message\":\"Hello, World!\"}";
    res->status = 200;
    res->content_type = "application/json";
    res->body = body;
    res->body_len = sizeof body - 1;
    return 0;
}

/* POST /echo answers with the body it received (decoded, if it came
 * chunked): it makes request bodies testable end to end. */
static int echo(const struct ducta_request *req, struct ducta_response *res)
{
    res->status = 200;
    res->content_type = "application/octet-stream";
    res->body = req->body.ptr;
    res->body_len = req->body.len;
    return 0;
}

/* OPTIONS * asks about the server, not a resource (RFC 9110 §9.3.7). */
static int options_star(const struct ducta_request *req,
                        struct ducta_response *res)
{
    (void)req;
    res->status = 200;
    return 0;
}

struct route {
    const char *method;
    const char *path;
    ducta_handler handler;
    const char *allow;  /* every method of this path, for a 405 */
};

static const struct route routes[] = {
    {"GET", "/plaintext", plaintext, "GET, HEAD"},
    {"GET", "/json", json, "GET, HEAD"},
    {"POST", "/echo", echo, "POST"},
    {"OPTIONS", "*", options_star, "OPTIONS"},
};

static int slice_is(ducta_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

ducta_handler ducta_route(struct ducta_request *req, int *status,
                          const char **allow)
{
    const char *path_allow = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!slice_is(req->path, routes[i].path))
            continue;
        /* HEAD is GET without the body (RFC 9110 §9.3.2); conn.c drops
         * the body bytes */
        if (slice_is(req->method, routes[i].method) ||
            (slice_is(req->method, "HEAD") &&
             strcmp(routes[i].method, "GET") == 0))
            return routes[i].handler;
        path_allow = routes[i].allow;
    }
    *status = path_allow ? 405 : 404;
    *allow = path_allow;
    return NULL;
}
