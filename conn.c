/*
 * conn.c — connections: the slab that holds them and the state machine
 * that moves each one from bytes in to bytes out.
 *
 * Owns: the per-worker slab of struct ducta_conn (allocated once, reused
 * through a free list), the pool that lends connections their read and
 * write buffers while they have bytes in flight, the deadlines of waiting
 * connections, the recv/send/close syscalls on connected sockets, and the
 * response bytes.
 *
 * Does not own: epoll or accept (ducta.c), request syntax (parse.c), or
 * which handler answers (router.c).
 *
 * The state machine (the enum is in ducta.h):
 *
 *     KEEPALIVE ──recv──▶ PARSING ──complete──▶ HANDLING ──▶ PARSING ...
 *         ▲                │   ▲ incomplete        │
 *         │                │   └──── READING ◀─────┘ (rest of a request)
 *         │                ▼ nothing left to parse
 *         └─── sent ──── WRITING ── close? ──▶ CLOSING / LINGERING
 *                             │  ▲
 *               file body ▶   ▼  │ sent, then as after WRITING
 *                            SENDFILE
 *
 * Each state has one function that does its work and returns the next
 * state. A function that returns the state it was called in is waiting for
 * the kernel (no bytes yet, socket buffer full); conn_run() then returns
 * to the event loop until epoll reports a change.
 *
 * Pipelining falls out of the order: PARSING answers every complete request
 * in the read buffer before WRITING sends all their responses in one send.
 */
#include "ducta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the slab --------------------------------------------------------- */

/* Slots are handed out from [0, high_water) through the free list first,
 * then by raising high_water, so a slot is touched only when it is first
 * needed: a large --max-conns costs address space, not memory. The buffer
 * pool is one anonymous mapping for the same reason. */
int ducta_slab_init(struct ducta_worker *w)
{
    size_t n = (size_t)w->cfg->max_conns;
    const struct ducta_limits *lim = &w->cfg->limits;
    /* see ducta.h: the limits decide how large the buffers must be */
    w->rbuf_size = lim->max_head + lim->max_body + DUCTA_CHUNK_SLACK;
    w->max_response = lim->max_body + DUCTA_RESPONSE_HEAD_MAX;
    if (w->max_response < DUCTA_MIN_RESPONSE)
        w->max_response = DUCTA_MIN_RESPONSE;
    w->wbuf_size = 2 * w->max_response;
    /* whole pages, so that a pair's pages can be given back on their own
     * (ducta_buffers_trim) */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    w->rbuf_size = (w->rbuf_size + page - 1) / page * page;
    w->wbuf_size = (w->wbuf_size + page - 1) / page * page;
    w->slab = calloc(n, sizeof *w->slab);
    w->buf_free = calloc(n, sizeof *w->buf_free);
    if (!w->slab || !w->buf_free) {
        free(w->slab);
        free(w->buf_free);
        return -1;
    }
    w->buf_free_top = w->buf_high_water = w->buf_low = w->buf_released = 0;
    size_t bytes = n * (w->rbuf_size + w->wbuf_size);
    w->buffers = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (w->buffers == MAP_FAILED) {
        free(w->slab);
        free(w->buf_free);
        w->slab = NULL;
        w->buf_free = NULL;
        return -1;
    }
    w->free_head = DUCTA_NO_SLOT;
    w->live = w->high_water = 0;
    const struct ducta_config *cfg = w->cfg;
    int timeouts[DUCTA_TIMER_COUNT] = {
        [DUCTA_TIMER_HEAD] = cfg->head_timeout_ms,
        [DUCTA_TIMER_BODY] = cfg->body_timeout_ms,
        [DUCTA_TIMER_IDLE] = cfg->idle_timeout_ms,
        [DUCTA_TIMER_WRITE] = cfg->write_timeout_ms,
        [DUCTA_TIMER_LINGER] = cfg->linger_timeout_ms,
    };
    for (int t = 0; t < DUCTA_TIMER_COUNT; t++) {
        w->timeout_ms[t] = timeouts[t];
        w->timers[t].head = w->timers[t].tail = DUCTA_NO_SLOT;
    }
    return 0;
}

void ducta_slab_free(struct ducta_worker *w)
{
    for (uint32_t i = 0; i < w->high_water; i++)
        if (w->slab[i].state != DUCTA_CONN_FREE)
            ducta_conn_close(w, &w->slab[i]);
    if (w->buffers)
        munmap(w->buffers,
               (size_t)w->cfg->max_conns * (w->rbuf_size + w->wbuf_size));
    free(w->slab);
    free(w->buf_free);
    w->slab = NULL;
    w->buf_free = NULL;
    w->buffers = NULL;
}

static char *pair_at(struct ducta_worker *w, uint32_t i)
{
    return w->buffers + (size_t)i * (w->rbuf_size + w->wbuf_size);
}

/* Give c a buffer pair from the pool, if it has none. The pool has one
 * pair per slot, so this cannot fail. */
static void buf_take(struct ducta_worker *w, struct ducta_conn *c)
{
    if (c->rbuf)
        return;
    uint32_t i;
    if (w->buf_free_top) {
        i = w->buf_free[--w->buf_free_top];
        if (w->buf_low > w->buf_free_top)
            w->buf_low = w->buf_free_top;
        if (w->buf_released > w->buf_free_top)
            w->buf_released = w->buf_free_top;  /* it faults in afresh */
    } else {
        i = w->buf_high_water++;
    }
    c->rbuf = pair_at(w, i);
    c->wbuf = c->rbuf + w->rbuf_size;
}

void ducta_buffers_trim(struct ducta_worker *w)
{
    /* Entries below buf_low sat in the pool for a whole tick: their pages
     * go back (MADV_DONTNEED: the next use finds zero pages, which a
     * buffer does not mind). Under steady load buf_low hardly moves, so
     * this costs nothing; after a burst it runs once per cold pair. */
    for (uint32_t k = w->buf_released; k < w->buf_low; k++)
        madvise(pair_at(w, w->buf_free[k]), w->rbuf_size + w->wbuf_size,
                MADV_DONTNEED);
    if (w->buf_released < w->buf_low)
        w->buf_released = w->buf_low;
    w->buf_low = w->buf_free_top;
}

/* Return c's pair: only when nothing is buffered in it. */
static void buf_give(struct ducta_worker *w, struct ducta_conn *c)
{
    if (!c->rbuf)
        return;
    size_t i = (size_t)(c->rbuf - w->buffers) / (w->rbuf_size + w->wbuf_size);
    w->buf_free[w->buf_free_top++] = (uint32_t)i;
    c->rbuf = c->wbuf = NULL;
    c->rlen = c->rpos = c->wlen = c->wpos = 0;
}

struct ducta_conn *ducta_conn_open(struct ducta_worker *w, int fd)
{
    uint32_t i;
    if (w->free_head != DUCTA_NO_SLOT) {
        i = w->free_head;
        w->free_head = w->slab[i].next_free;
    } else if (w->high_water < (uint32_t)w->cfg->max_conns) {
        i = w->high_water++;
    } else {
        return NULL;
    }
    struct ducta_conn *c = &w->slab[i];
    uint32_t gen = c->gen;
    memset(c, 0, sizeof *c);
    c->gen = gen;
    c->fd = fd;
    c->file_fd = -1;
    c->state = DUCTA_CONN_KEEPALIVE;
    /* The client usually sends its request right after connecting, so try
     * reading before epoll tells us: one round trip through the loop saved
     * for every new connection. The socket starts writable. */
    c->in_ready = c->out_ready = 1;
    w->live++;
    return c;
}

/* ---- timers ----------------------------------------------------------- */

static void timer_unlink(struct ducta_worker *w, struct ducta_conn *c)
{
    if (c->timer == DUCTA_TIMER_NONE)
        return;
    struct ducta_timer_list *l = &w->timers[c->timer];
    if (c->t_prev == DUCTA_NO_SLOT)
        l->head = c->t_next;
    else
        w->slab[c->t_prev].t_next = c->t_next;
    if (c->t_next == DUCTA_NO_SLOT)
        l->tail = c->t_prev;
    else
        w->slab[c->t_next].t_prev = c->t_prev;
    c->timer = DUCTA_TIMER_NONE;
}

/* (Re)start timer t for c: its deadline is now + the timer's duration, the
 * latest in that list, so it goes to the tail and the list stays sorted. A
 * duration of 0 means "no deadline". */
static void timer_set(struct ducta_worker *w, struct ducta_conn *c,
                      enum ducta_timer t)
{
    timer_unlink(w, c);
    if (t == DUCTA_TIMER_NONE || w->timeout_ms[t] <= 0)
        return;
    uint32_t i = (uint32_t)(c - w->slab);
    struct ducta_timer_list *l = &w->timers[t];
    c->timer = (uint8_t)t;
    c->deadline_ms = w->now_ms + w->timeout_ms[t];
    c->t_next = DUCTA_NO_SLOT;
    c->t_prev = l->tail;
    if (l->tail == DUCTA_NO_SLOT)
        l->head = i;
    else
        w->slab[l->tail].t_next = i;
    l->tail = i;
}

void ducta_conn_expire(struct ducta_worker *w)
{
    for (int t = DUCTA_TIMER_NONE + 1; t < DUCTA_TIMER_COUNT; t++) {
        struct ducta_timer_list *l = &w->timers[t];
        while (l->head != DUCTA_NO_SLOT &&
               w->slab[l->head].deadline_ms <= w->now_ms) {
            w->timed_out++;
            ducta_conn_close(w, &w->slab[l->head]);
        }
    }
}

void ducta_conn_close(struct ducta_worker *w, struct ducta_conn *c)
{
    timer_unlink(w, c);
    buf_give(w, c);
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    /* close(2) also removes the socket from epoll; an event already
     * queued for it carries the old generation and is ignored. */
    close(c->fd);
    c->fd = -1;
    c->state = DUCTA_CONN_FREE;
    c->gen++;
    uint32_t i = (uint32_t)(c - w->slab);
    c->next_free = w->free_head;
    w->free_head = i;
    w->live--;
}

/* ---- response bytes --------------------------------------------------- */

/* The first bytes of every response, precomputed per status: status line
 * (RFC 9112 §4), our Server field, and the Date field's name. */
struct status_head {
    const char *bytes;
    size_t len;
    const char *reason;  /* also the body of an error response */
};

#define HEAD(code, text)                                                   \
    case code: {                                                           \
        static const char h[] = "HTTP/1.1 " #code " " text                 \
                                "\r\nServer: ducta\r\nDate: ";             \
        return (struct status_head){h, sizeof h - 1, text};                \
    }

static struct status_head status_head(int status)
{
    switch (status) {
    HEAD(200, "OK")
    HEAD(201, "Created")
    HEAD(202, "Accepted")
    HEAD(204, "No Content")
    HEAD(206, "Partial Content")
    HEAD(301, "Moved Permanently")
    HEAD(302, "Found")
    HEAD(303, "See Other")
    HEAD(304, "Not Modified")
    HEAD(307, "Temporary Redirect")
    HEAD(308, "Permanent Redirect")
    HEAD(400, "Bad Request")
    HEAD(401, "Unauthorized")
    HEAD(403, "Forbidden")
    HEAD(404, "Not Found")
    HEAD(405, "Method Not Allowed")
    HEAD(409, "Conflict")
    HEAD(410, "Gone")
    HEAD(413, "Content Too Large")
    HEAD(414, "URI Too Long")
    HEAD(415, "Unsupported Media Type")
    HEAD(416, "Range Not Satisfiable")
    HEAD(417, "Expectation Failed")
    HEAD(422, "Unprocessable Content")
    HEAD(429, "Too Many Requests")
    HEAD(431, "Request Header Fields Too Large")
    HEAD(501, "Not Implemented")
    HEAD(502, "Bad Gateway")
    HEAD(503, "Service Unavailable")
    HEAD(504, "Gateway Timeout")
    HEAD(505, "HTTP Version Not Supported")
    HEAD(500, "Internal Server Error")
    default:  /* a code a handler chose that has no line here */
        return (struct status_head){NULL, 0, "Unknown"};
    }
}
#undef HEAD

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_str(char *p, const char *s)
{
    return put(p, s, strlen(s));
}

static char *put_uint(char *p, size_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* The bytes a response head takes besides its Content-Type, Allow and
 * handler-added fields: status line, Server, Date, the field names, a
 * 20-digit length, Connection (generous). */
enum { RESPONSE_FIXED_HEAD = 256 };

/* RFC 9110 §6.4.1: these carry no content, and §8.6: no Content-Length
 * either (a 304's would have to be the 200's, which we need not know). */
static int status_has_body(int status)
{
    return status != 204 && status != 304;
}

/* Append one response head, and its body when it is in memory, to the
 * write buffer. The caller has made sure that w->max_response bytes are
 * free. Returns 0, or -1 if this response is larger than that (nothing is
 * written then). */
static int append_response(struct ducta_worker *w, struct ducta_conn *c,
                           const struct ducta_response *res,
                           const char *allow, int head_only)
{
    int has_body = status_has_body(res->status);
    size_t ct_len = res->content_type && has_body ? strlen(res->content_type)
                                                  : 0;
    size_t body = head_only || !has_body || res->source == DUCTA_BODY_FILE
                      ? 0 : res->body_len;
    size_t head = RESPONSE_FIXED_HEAD + ct_len + (allow ? strlen(allow) : 0);
    for (size_t i = 0; i < res->nheaders; i++)
        head += strlen(res->headers[i].name) +
                strlen(res->headers[i].value) + 4;
    if (head > DUCTA_RESPONSE_HEAD_MAX || body > w->max_response - head)
        return -1;
    struct status_head sh = status_head(res->status);
    char *p = c->wbuf + c->wlen;
    if (sh.bytes) {
        p = put(p, sh.bytes, sh.len);
    } else {  /* the reason-phrase may be empty (RFC 9112 §4) */
        p = PUT_LIT(p, "HTTP/1.1 ");
        p = put_uint(p, (size_t)res->status);
        p = PUT_LIT(p, " \r\nServer: ducta\r\nDate: ");
    }
    p = put(p, w->date, DUCTA_DATE_LEN);
    if (ct_len) {
        p = PUT_LIT(p, "\r\nContent-Type: ");
        p = put(p, res->content_type, ct_len);
    }
    if (has_body) {
        p = PUT_LIT(p, "\r\nContent-Length: ");
        p = put_uint(p, res->body_len);  /* HEAD: the length GET would send */
    }
    p = PUT_LIT(p, "\r\n");
    for (size_t i = 0; i < res->nheaders; i++) {
        p = put_str(p, res->headers[i].name);
        p = PUT_LIT(p, ": ");
        p = put_str(p, res->headers[i].value);
        p = PUT_LIT(p, "\r\n");
    }
    if (allow) {
        p = PUT_LIT(p, "Allow: ");
        p = put_str(p, allow);
        p = PUT_LIT(p, "\r\n");
    }
    if (c->close_after)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (w->req.minor_version == 0)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    p = PUT_LIT(p, "\r\n");
    if (body)
        p = put(p, res->body, body);
    c->wlen = (uint32_t)(p - c->wbuf);
    return 0;
}

/* A complete answer to a request we will not serve; the connection closes
 * after it (lingering, so the client reads it instead of a reset). */
static enum ducta_conn_state error_response(struct ducta_worker *w,
                                            struct ducta_conn *c, int status)
{
    struct ducta_response res = {.status = status,
                                 .content_type = "text/plain",
                                 .body = status_head(status).reason};
    res.body_len = strlen(res.body);
    c->close_after = DUCTA_CLOSE_LINGER;
    append_response(w, c, &res, NULL, 0);
    return DUCTA_CONN_WRITING;
}

/* ---- one function per state ------------------------------------------- */

/* KEEPALIVE and READING: take what the kernel has. */
static enum ducta_conn_state on_read(struct ducta_worker *w,
                                     struct ducta_conn *c)
{
    if (!c->in_ready)
        return c->state;
    buf_take(w, c);
    size_t room = w->rbuf_size - c->rlen;
    if (room == 0)  /* cannot happen: limits fit the buffer; never spin */
        return DUCTA_CONN_CLOSING;
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, room, 0);
        if (n > 0) {
            c->rlen += (uint32_t)n;
            c->rx_bytes += (uint64_t)n;
            c->io_count++;
            /* A short read emptied the socket's queue: that consumed the
             * edge, and new bytes will raise a new one. Treating it as
             * EAGAIN saves one recv per batch. */
            if ((size_t)n < room && !c->peer_shut)
                c->in_ready = 0;
            return DUCTA_CONN_PARSING;
        }
        if (n == 0)
            return DUCTA_CONN_CLOSING;  /* peer is done; nothing half-read
                                           can ever complete */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->in_ready = 0;
            return c->state;
        }
        return DUCTA_CONN_CLOSING;  /* ECONNRESET and friends */
    }
}

/* Move a partial request to the front of the read buffer, so that the
 * buffer always has room for the rest of it (its limits fit the buffer). */
static void compact(struct ducta_conn *c)
{
    if (c->rpos == 0)
        return;
    c->rlen -= c->rpos;
    memmove(c->rbuf, c->rbuf + c->rpos, c->rlen);
    c->rpos = 0;
}

static int wbuf_tight(const struct ducta_worker *w,
                      const struct ducta_conn *c)
{
    return c->wlen > 0 && w->wbuf_size - c->wlen < w->max_response;
}

/* The head at rpos is parsed: has its body (if any) arrived? 1 yes (it is
 * in w->req.body), 0 not yet, < 0 minus the status of an error. A chunked
 * body is decoded in place as it arrives, so the read buffer shrinks by
 * the framing it loses. */
static ssize_t body_arrived(struct ducta_worker *w, struct ducta_conn *c,
                            size_t head_len)
{
    char *body = c->rbuf + c->rpos + head_len;
    size_t have = c->rlen - c->rpos - head_len;
    if (w->req.chunked) {
        size_t len = have;
        ssize_t r = ducta_parse_chunked(&c->parser.chunked, &w->cfg->limits,
                                        body, &len);
        c->rlen -= (uint32_t)(have - len);
        if (r > 0)
            w->req.body = (ducta_slice){body, c->parser.chunked.decoded};
        return r;
    }
    if (have < w->req.content_length)
        return 0;
    w->req.body = (ducta_slice){body, (size_t)w->req.content_length};
    return 1;
}

/* RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" may wait for
 * this before sending the body; the final response comes after it. */
static void send_continue(struct ducta_conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    memcpy(c->wbuf + c->wlen, cont, sizeof cont - 1);
    c->wlen += sizeof cont - 1;
    c->parser.continue_sent = 1;
}

/* PARSING: is there a whole request at rpos? */
static enum ducta_conn_state on_parse(struct ducta_worker *w,
                                      struct ducta_conn *c)
{
    /* RFC 9112 §2.2: ignore empty lines before a request-line (old clients
     * send a CRLF after a POST body) */
    while (c->parser.scanned == 0 && c->rlen - c->rpos >= 2 &&
           c->rbuf[c->rpos] == '\r' && c->rbuf[c->rpos + 1] == '\n')
        c->rpos += 2;
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
        return c->wlen ? DUCTA_CONN_WRITING : DUCTA_CONN_KEEPALIVE;
    }
    /* Parsing is pure, so when the write buffer is too full to take an
     * answer we flush first and parse this request again afterwards. */
    if (wbuf_tight(w, c))
        return DUCTA_CONN_WRITING;
    ssize_t n = DUCTA_PARSE_INCOMPLETE;
    if (c->rlen - c->rpos > 1 || c->rbuf[c->rpos] != '\r')  /* half a CRLF? */
        n = ducta_parse_request(&c->parser, &w->cfg->limits,
                                c->rbuf + c->rpos, c->rlen - c->rpos,
                                &w->req);
    if (n < 0)
        return error_response(w, c, (int)-n);
    if (n > 0) {
        ssize_t body = body_arrived(w, c, (size_t)n);
        if (body < 0)
            return error_response(w, c, (int)-body);
        if (body > 0) {
            c->head_len = (uint32_t)n;
            return DUCTA_CONN_HANDLING;
        }
        /* Head complete, body still arriving. The head is parsed again
         * when more comes (cheap next to a body); the chunked decoder's
         * state lives on in c->parser. head_len says "waiting for a body"
         * (the BODY deadline, not the HEAD one). */
        c->head_len = (uint32_t)n;
        c->parser.scanned = 0;
        if (w->req.expect_continue && !c->parser.continue_sent)
            send_continue(c);
    }
    compact(c);
    /* The limits fit the buffer (ducta.h), so a full one means a chunked
     * body whose framing outgrew the slack: refuse rather than spin. */
    if (c->rlen == w->rbuf_size)
        return error_response(w, c, 413);
    return c->wlen ? DUCTA_CONN_WRITING : DUCTA_CONN_READING;
}

static const char not_found_body[] = "Not Found\n";
static const struct ducta_response internal_error = {
    .status = 500, .content_type = "text/plain",
    .body = "Internal Server Error\n", .body_len = 22, .file_fd = -1};
static const char not_allowed_body[] = "Method Not Allowed\n";

/* A field name is a token (RFC 9110 §5.1); a value may not hold CR, LF or
 * NUL, or a handler could write a second response into ours. */
static int field_ok(const char *name, const char *value)
{
    if (!name || !*name || !value)
        return 0;
    for (const char *p = name; *p; p++)
        if (*p <= ' ' || *p >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *p))
            return 0;
    return strpbrk(value, "\r\n") == NULL;
}

/* The fields conn.c writes itself: a handler setting one would contradict
 * the framing or the connection handling. */
static int field_reserved(const char *name)
{
    static const char *const own[] = {"Content-Length", "Transfer-Encoding",
                                      "Connection", "Content-Type", "Date",
                                      "Server", "Allow"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcasecmp(name, own[i]) == 0)
            return 1;
    return 0;
}

/* Is what the handler filled in a response we can send as it is? */
static int response_ok(const struct ducta_response *res)
{
    if (res->status < 200 || res->status > 599 ||
        res->nheaders > DUCTA_RESPONSE_HEADERS_CAP)
        return 0;
    if (res->content_type && strpbrk(res->content_type, "\r\n"))
        return 0;
    if (res->source == DUCTA_BODY_MEMORY) {
        if (res->body_len && !res->body)
            return 0;
    } else if (res->source != DUCTA_BODY_FILE || res->file_fd < 0) {
        return 0;
    }
    for (size_t i = 0; i < res->nheaders; i++)
        if (!field_ok(res->headers[i].name, res->headers[i].value) ||
            field_reserved(res->headers[i].name))
            return 0;
    return 1;
}

/* The handler's response starts as a plain-text 200 with nothing in it;
 * only the fields a handler reads back are reset, not the arrays. */
static void response_reset(struct ducta_response *res)
{
    res->status = 0;
    res->content_type = "text/plain";
    res->body = NULL;
    res->body_len = 0;
    res->source = DUCTA_BODY_MEMORY;
    res->file_fd = -1;
    res->file_offset = 0;
    res->nheaders = 0;
    res->scratch_used = 0;
}

static int method_is(ducta_slice m, const char *lit, size_t n)
{
    return m.len == n && memcmp(m.ptr, lit, n) == 0;
}

/* HANDLING: route, run the handler (or find the file), append the answer.
 * A file body goes out by sendfile after the buffer, so requests behind it
 * wait until it has been sent (WRITING, then SENDFILE). */
static enum ducta_conn_state on_handle(struct ducta_worker *w,
                                       struct ducta_conn *c)
{
    struct ducta_request *req = &w->req;
    struct ducta_response *res = &w->res;
    int status = 0;
    const char *allow = NULL;
    int head_only = method_is(req->method, "HEAD", 4);
    response_reset(res);
    ducta_handler h = ducta_route(req, &status, &allow);
    int failed = 0;
    if (h) {
        failed = h(req, res) != 0 || !response_ok(res);
    } else if (status == 404 && w->cfg->root &&
               (head_only || method_is(req->method, "GET", 3))) {
        failed = ducta_response_file(req, res, req->path.ptr,
                                     req->path.len) != 0 ||
                 !response_ok(res);
    } else if (status == 405) {
        res->status = 405;
        res->body = not_allowed_body;
        res->body_len = sizeof not_allowed_body - 1;
    } else {
        res->status = 404;
        res->body = not_found_body;
        res->body_len = sizeof not_found_body - 1;
    }
    /* From here the file, if any, is ours to close, whatever happens. */
    int file_fd = res->source == DUCTA_BODY_FILE ? res->file_fd : -1;
    const struct ducta_response *out = failed ? &internal_error : res;
    if (!req->keep_alive || w->stopping)
        c->close_after = DUCTA_CLOSE;
    if (append_response(w, c, out, allow, head_only) != 0) {
        out = &internal_error;
        append_response(w, c, out, NULL, 0);
    }
    w->served++;
    c->rpos += c->head_len + (uint32_t)req->body.len;
    c->head_len = 0;
    c->parser = (struct ducta_parser){0};
    if (out->source == DUCTA_BODY_FILE && !head_only && out->body_len &&
        status_has_body(out->status)) {
        c->file_fd = file_fd;
        c->file_pos = out->file_offset;
        c->file_end = out->file_offset + out->body_len;
        return DUCTA_CONN_WRITING;
    }
    if (file_fd >= 0)
        close(file_fd);
    return c->close_after ? DUCTA_CONN_WRITING : DUCTA_CONN_PARSING;
}

/* Everything is sent: close, linger, or go on with the next request. */
static enum ducta_conn_state after_sent(struct ducta_conn *c)
{
    c->wpos = c->wlen = 0;
    if (c->close_after == DUCTA_CLOSE_LINGER ||
        (c->close_after == DUCTA_CLOSE &&
         (c->in_ready || c->rpos < c->rlen))) {
        /* Unread input may be waiting. Closing now would make the kernel
         * send a reset, which can destroy our response in the client's
         * receive buffer; shut down writing and drain instead. */
        shutdown(c->fd, SHUT_WR);
        c->linger_left = DUCTA_LINGER_MAX;
        return DUCTA_CONN_LINGERING;
    }
    if (c->close_after)
        return DUCTA_CONN_CLOSING;
    return DUCTA_CONN_PARSING;
}

/* A send or sendfile that moved nothing: an ordinary event (EINTR: try
 * again; EAGAIN: the socket buffer is full, wait for epoll) returns 1,
 * anything else — the peer is gone — 0. */
static int write_waits(struct ducta_conn *c, ssize_t n)
{
    if (n < 0 && errno == EINTR)
        return 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->out_ready = 0;
        return 1;
    }
    return 0;
}

/* WRITING: send what is buffered; one send for the whole batch. */
static enum ducta_conn_state on_write(struct ducta_conn *c)
{
    /* the head of a file response is last in the buffer: MSG_MORE lets
     * the kernel put the file's first bytes in the same packet */
    int more = c->file_fd >= 0 ? MSG_MORE : 0;
    while (c->wpos < c->wlen) {
        if (!c->out_ready)
            return DUCTA_CONN_WRITING;
        ssize_t n = send(c->fd, c->wbuf + c->wpos, c->wlen - c->wpos,
                         MSG_NOSIGNAL | more);
        if (n > 0) {
            c->wpos += (uint32_t)n;
            c->io_count++;
            /* non-blocking and short: the socket buffer is full */
            if (c->wpos < c->wlen)
                c->out_ready = 0;
            continue;
        }
        if (write_waits(c, n))
            continue;
        return DUCTA_CONN_CLOSING;  /* EPIPE, ECONNRESET: the peer is gone */
    }
    if (c->file_fd >= 0) {
        c->wpos = c->wlen = 0;
        return DUCTA_CONN_SENDFILE;
    }
    return after_sent(c);
}

/* SENDFILE: the file's bytes go from the page cache to the socket without
 * passing through user space (sendfile(2)). */
static enum ducta_conn_state on_sendfile(struct ducta_worker *w,
                                         struct ducta_conn *c)
{
    uint64_t burst = 0;
    while (c->file_pos < c->file_end) {
        if (!c->out_ready)
            return DUCTA_CONN_SENDFILE;
        if (burst >= DUCTA_SENDFILE_BURST) {
            /* Still writable, but others wait: step aside, and have epoll
             * hand this connection a new event behind theirs. */
            if (ducta_worker_rearm(w, c) != 0)
                return DUCTA_CONN_CLOSING;
            c->out_ready = 0;
            return DUCTA_CONN_SENDFILE;
        }
        uint64_t left = c->file_end - c->file_pos;
        size_t want = left < DUCTA_SENDFILE_BURST ? (size_t)left
                                                  : DUCTA_SENDFILE_BURST;
        off_t off = (off_t)c->file_pos;
        ssize_t n = sendfile(c->fd, c->file_fd, &off, want);
        if (n > 0) {
            c->file_pos += (uint64_t)n;
            burst += (uint64_t)n;
            c->io_count++;
            if ((size_t)n < want)
                c->out_ready = 0;  /* short: the socket buffer is full */
            continue;
        }
        if (write_waits(c, n))
            continue;
        /* 0: the file shrank under us, so the promised Content-Length can
         * never be met; an error: the peer is gone. Close either way. */
        return DUCTA_CONN_CLOSING;
    }
    close(c->file_fd);
    c->file_fd = -1;
    return after_sent(c);
}

/* LINGERING: discard input until the client closes (or sends too much). */
static enum ducta_conn_state on_linger(struct ducta_worker *w,
                                      struct ducta_conn *c)
{
    while (c->in_ready) {
        ssize_t n = recv(c->fd, c->rbuf, w->rbuf_size, 0);
        if (n > 0) {
            if ((size_t)n >= c->linger_left)
                return DUCTA_CONN_CLOSING;
            c->linger_left -= (uint32_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->in_ready = 0;
            break;
        }
        return DUCTA_CONN_CLOSING;  /* EOF or error: done */
    }
    return DUCTA_CONN_LINGERING;
}

/* Which deadline a connection waiting in its state is under. */
static enum ducta_timer timer_for(const struct ducta_conn *c)
{
    switch (c->state) {
    case DUCTA_CONN_KEEPALIVE: return DUCTA_TIMER_IDLE;
    case DUCTA_CONN_READING:
        return c->head_len ? DUCTA_TIMER_BODY : DUCTA_TIMER_HEAD;
    case DUCTA_CONN_WRITING:
    case DUCTA_CONN_SENDFILE:  return DUCTA_TIMER_WRITE;
    case DUCTA_CONN_LINGERING: return DUCTA_TIMER_LINGER;
    default:                   return DUCTA_TIMER_NONE;
    }
}

/* Called when the machine stops to wait: arm the state's deadline. A head
 * deadline runs from the head's first bytes and is not moved by more of
 * them (that is what beats a client trickling one byte a second); idle and
 * write deadlines move on any progress; the body's on each BODY_STEP. */
static void arm_timer(struct ducta_worker *w, struct ducta_conn *c,
                      uint64_t io_before, uint64_t served_before)
{
    enum ducta_timer t = timer_for(c);
    int restart = t != c->timer;
    switch (t) {
    case DUCTA_TIMER_HEAD:  /* a new request began behind an answered one */
        restart |= w->served != served_before;
        break;
    case DUCTA_TIMER_IDLE:
    case DUCTA_TIMER_WRITE:
        restart |= c->io_count != io_before;
        break;
    case DUCTA_TIMER_BODY:
        restart |= c->rx_bytes - c->rx_mark >= DUCTA_BODY_STEP;
        break;
    default:
        break;
    }
    if (!restart)
        return;
    if (t == DUCTA_TIMER_BODY)
        c->rx_mark = c->rx_bytes;
    timer_set(w, c, t);
}

/* The one transition function: run states until one has to wait. */
static void conn_run(struct ducta_worker *w, struct ducta_conn *c)
{
    uint64_t io_before = c->io_count, served_before = w->served;
    for (;;) {
        enum ducta_conn_state s = c->state, next;
        switch (s) {
        case DUCTA_CONN_KEEPALIVE:
        case DUCTA_CONN_READING:  next = on_read(w, c); break;
        case DUCTA_CONN_PARSING:  next = on_parse(w, c); break;
        case DUCTA_CONN_HANDLING: next = on_handle(w, c); break;
        case DUCTA_CONN_WRITING:  next = on_write(c); break;
        case DUCTA_CONN_SENDFILE: next = on_sendfile(w, c); break;
        case DUCTA_CONN_LINGERING: next = on_linger(w, c); break;
        case DUCTA_CONN_CLOSING:  ducta_conn_close(w, c); return;
        case DUCTA_CONN_FREE:
        default:                  return;
        }
        /* Draining for shutdown: an idle connection has nothing in flight */
        if (next == DUCTA_CONN_KEEPALIVE && w->stopping)
            next = DUCTA_CONN_CLOSING;
        if (next == s) {  /* waiting for the kernel */
            if (s == DUCTA_CONN_KEEPALIVE)
                buf_give(w, c);  /* idle: nothing buffered, hold nothing */
            arm_timer(w, c, io_before, served_before);
            return;
        }
        c->state = next;
    }
}

void ducta_conn_event(struct ducta_worker *w, struct ducta_conn *c,
                      unsigned events)
{
    if (events & DUCTA_EV_READ)
        c->in_ready = 1;
    if (events & DUCTA_EV_WRITE)
        c->out_ready = 1;
    if (events & DUCTA_EV_PEER_SHUT)
        c->peer_shut = 1;
    conn_run(w, c);
}

void ducta_conn_begin_drain(struct ducta_worker *w, struct ducta_conn *c)
{
    if (c->state == DUCTA_CONN_KEEPALIVE)
        ducta_conn_close(w, c);
}
