/*
 * example/app.c — a small app on ducta: the handlers example/routes.def
 * names. Build and run it with
 *
 *   ROUTES=example/routes.def APP=example/app.c ./build.sh run
 *
 * Owns: these handlers and nothing else. ducta's own main() parses the
 * command line and serves; the routes are compiled into the binary.
 *
 * A handler reads the request (slices into the connection's buffer, valid
 * during the call) and fills in the response. Nothing here allocates: text
 * is formatted into res->scratch, which belongs to the response, by
 * ducta_response_printf (NULL when it does not fit); a value that goes into
 * JSON is escaped with ducta_response_json_string first, or a request
 * could write JSON of its own into ours.
 */
#include <string.h>

#include "ducta.h"

static int text(struct ducta_response *res, int status, const char *body)
{
    if (!body)
        return -1;  /* did not fit: a 500 */
    res->status = status;
    res->body = body;
    res->body_len = strlen(body);
    return 0;
}

/* GET / */
int hello(const struct ducta_request *req, struct ducta_response *res)
{
    (void)req;
    return text(res, 200, "Hello from the example app!\n");
}

/* GET /hello/:name — the captured segment, as sent (not percent-decoded) */
int hello_name(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *name = ducta_param_get(req, "name");
    return text(res, 200, ducta_response_printf(res, "Hello, %.*s!\n",
                                                (int)name->len, name->ptr));
}

/* GET /search?q=words — the query is everything after '?' */
int search(const struct ducta_request *req, struct ducta_response *res)
{
    const char *q = req->query.ptr, *end = q + req->query.len;
    while (q < end) {  /* a=1&q=x&b=2: find the field named q */
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *field_end = amp ? amp : end;
        if (field_end - q >= 2 && q[0] == 'q' && q[1] == '=')
            return text(res, 200, ducta_response_printf(res, "You searched for: %.*s\n",
                                           (int)(field_end - q - 2), q + 2));
        q = field_end + 1;
    }
    return text(res, 400, "Add ?q=something to the URL.\n");
}

/* GET /agent — a request header, looked up case-insensitively, as JSON.
 * A field value may hold '"' and '\' (User-Agent: x","admin":true,"y":"):
 * as a JSON string it is escaped, never pasted in. */
int agent(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *ua = ducta_header_get(req, "user-agent");
    const char *json_ua =
        ua ? ducta_response_json_string(res, ua->ptr, ua->len) : "null";
    if (!json_ua)
        return text(res, 431, "That User-Agent is too long.\n");
    res->content_type = "application/json";
    return text(res, 200,
                ducta_response_printf(res, "{\"agent\":%s}\n", json_ua));
}

/* GET /users/:id/card — header fields of our own, JSON body. The id is
 * whatever the client put in the path. ducta's parser refuses '"', '\'
 * and control bytes in a target, so it cannot break out of a JSON string
 * today; it is escaped all the same, because a rule that holds only by
 * grace of another file is one change away from a hole. */
int user_card(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *id = ducta_param_get(req, "id");
    const char *json_id = ducta_response_json_string(res, id->ptr, id->len);
    if (!json_id)
        return text(res, 414, "That id is too long.\n");
    const char *copy = ducta_response_printf(res, "%.*s", (int)id->len,
                                             id->ptr);
    if (!copy || ducta_response_header(res, "X-User-Id", copy) != 0 ||
        ducta_response_header(res, "Cache-Control", "no-store") != 0)
        return -1;
    res->content_type = "application/json";
    return text(res, 200, ducta_response_printf(res, "{\"user\":%s}\n", json_id));
}

/* GET /assets/<anything> — the wildcard (*path) holds the rest of the
 * path; the MIME table compiled into ducta gives its type. (To serve real
 * files, see ducta_response_file in ducta.h.) */
int asset(const struct ducta_request *req, struct ducta_response *res)
{
    const ducta_slice *path = ducta_param_get(req, "path");
    if (path->len == 0)  /* the wildcard may capture nothing: /assets/ */
        return text(res, 404, "Name a file after /assets/.\n");
    const char *dot = NULL;
    for (size_t i = 0; i < path->len; i++)
        if (path->ptr[i] == '.')
            dot = path->ptr + i;
        else if (path->ptr[i] == '/')
            dot = NULL;
    const char *type = dot ? ducta_mime_type(dot + 1, (size_t)(path->ptr + path->len - dot - 1))
                           : "application/octet-stream";
    return text(res, 200, ducta_response_printf(res, "%.*s would be served as %s\n",
                                   (int)path->len, path->ptr, type));
}

/* POST /notes — the body has all arrived (Content-Length or chunked) */
int note_create(const struct ducta_request *req, struct ducta_response *res)
{
    if (req->body.len == 0)
        return text(res, 400, "POST a note in the body.\n");
    if (ducta_response_header(res, "Location", "/notes/1") != 0)
        return -1;
    return text(res, 201, ducta_response_printf(res, "Stored a note of %zu bytes.\n",
                                   req->body.len));
}
