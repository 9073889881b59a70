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
 * Does not own: epoll, the listener and accept (ducta.c), request syntax
 * (parse.c), which handler answers (router.c), whether what a handler
 * filled in may be sent (handler.c), or when the clock is read and the
 * buffer pool trimmed (ducta.c's loop calls ducta_buffers_trim).
 *
 * A connection's life is here, from ducta_conn_open (a socket the loop
 * accepted) to ducta_conn_close: its slot, its deadlines and its close are
 * one piece of state that only this file changes. Nothing here calls into
 * ducta.c: what a waiting connection needs from the event backend is what
 * ducta_conn_event returns (enum ducta_conn_want).
 *
 * Words: "head" is a request's head (request line and fields) and nothing
 * else; a response's status line and fields are its "header"; the HEAD
 * method is "HEAD"; the ends of a list are "first" and "last".
 *
 * The state machine (the enum is in ducta.h); these are all its edges:
 *
 *     KEEPALIVE ─recv─▶ PARSING            READING ─recv─▶ PARSING
 *     PARSING ─a whole request─▶ HANDLING
 *     PARSING ─part of one, or only empty lines─▶ READING
 *     PARSING ─nothing buffered, nothing to send─▶ KEEPALIVE
 *     PARSING ─answers to send, or a bad request─▶ WRITING
 *     HANDLING ─answered─▶ PARSING (the next pipelined request)
 *     HANDLING ─a file body follows, or the connection closes─▶ WRITING
 *     WRITING ─buffer sent, a file body follows─▶ SENDFILE
 *     WRITING, SENDFILE ─all sent─▶ PARSING, LINGERING or CLOSING
 *     LINGERING ─EOF or too much input─▶ CLOSING
 *     KEEPALIVE, READING, WRITING, SENDFILE ─EOF or error─▶ CLOSING
 *     CLOSING ─▶ FREE; a deadline, a drain or a reclaim closes from any
 *     waiting state
 *
 * Each state has one function that does its work and returns the next
 * state. A function that returns the state it was called in is waiting for
 * the kernel (no bytes yet, socket buffer full); conn_run() then returns
 * to the event loop until the backend reports a change, saying what it
 * wants of the backend meanwhile (enum ducta_conn_want): usually nothing,
 * as the next edge comes by itself.
 *
 * Pipelining falls out of the order: PARSING answers every complete request
 * in the read buffer before WRITING sends all their responses in one send.
 */
#define DUCTA_INTERNAL 1  /* one of the server's files: ducta.h Part 2 */
#include "ducta.h"

#include <errno.h>
#include <stddef.h>
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
    w->rbuf_size = lim->max_request_line + lim->max_head + lim->max_body +
                   DUCTA_CHUNK_SLACK;
    w->max_response = lim->max_body + DUCTA_RESPONSE_HEADER_MAX;
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
    w->free_first = DUCTA_NO_SLOT;
    w->live = w->high_water = 0;
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

/* ---- timers ----------------------------------------------------------- */

void ducta_timers_init(struct ducta_worker *w)
{
    const struct ducta_config *cfg = w->cfg;
    int timeouts[DUCTA_TIMER_COUNT] = {
        /* a fresh connection gets as long for its first byte as a begun
         * head gets for the rest of it */
        [DUCTA_TIMER_FRESH] = cfg->head_timeout_ms,
        [DUCTA_TIMER_HEAD] = cfg->head_timeout_ms,
        [DUCTA_TIMER_BODY] = cfg->body_timeout_ms,
        [DUCTA_TIMER_IDLE] = cfg->idle_timeout_ms,
        [DUCTA_TIMER_WRITE] = cfg->write_timeout_ms,
        [DUCTA_TIMER_LINGER] = cfg->linger_timeout_ms,
    };
    for (int t = 0; t < DUCTA_TIMER_COUNT; t++) {
        w->timeout_ms[t] = timeouts[t];
        w->timers[t].first = w->timers[t].last = DUCTA_NO_SLOT;
    }
    w->silent.first = w->silent.last = DUCTA_NO_SLOT;
}

/* The two lists a connection can be in (its timer's, and the silent one)
 * share these: O(1) append and removal through links inside the slot. */
static struct ducta_link *link_of(struct ducta_worker *w, uint32_t i,
                                  size_t off)
{
    return (struct ducta_link *)((char *)&w->slab[i] + off);
}

static void list_append(struct ducta_worker *w, struct ducta_list *l,
                        uint32_t i, size_t off)
{
    struct ducta_link *k = link_of(w, i, off);
    k->next = DUCTA_NO_SLOT;
    k->prev = l->last;
    if (l->last == DUCTA_NO_SLOT)
        l->first = i;
    else
        link_of(w, l->last, off)->next = i;
    l->last = i;
}

static void list_remove(struct ducta_worker *w, struct ducta_list *l,
                        uint32_t i, size_t off)
{
    struct ducta_link *k = link_of(w, i, off);
    if (k->prev == DUCTA_NO_SLOT)
        l->first = k->next;
    else
        link_of(w, k->prev, off)->next = k->next;
    if (k->next == DUCTA_NO_SLOT)
        l->last = k->prev;
    else
        link_of(w, k->next, off)->prev = k->prev;
}

#define TIMER_LINK offsetof(struct ducta_conn, timer_link)
#define SILENT_LINK offsetof(struct ducta_conn, silent_link)

static uint32_t slot_of(struct ducta_worker *w, struct ducta_conn *c)
{
    return (uint32_t)(c - w->slab);
}

static void timer_unlink(struct ducta_worker *w, struct ducta_conn *c)
{
    if (c->timer == DUCTA_TIMER_NONE)
        return;
    list_remove(w, &w->timers[c->timer], slot_of(w, c), TIMER_LINK);
    c->timer = DUCTA_TIMER_NONE;
}

/* (Re)start timer t for c: its deadline is now + the timer's duration, the
 * latest in that list, so it goes last and the list stays sorted. A
 * duration of 0 means "no deadline": the connection is still listed (at
 * the end of time, which keeps the order). */
static void timer_set(struct ducta_worker *w, struct ducta_conn *c,
                      enum ducta_timer t)
{
    timer_unlink(w, c);
    if (t == DUCTA_TIMER_NONE)
        return;
    c->timer = (uint8_t)t;
    c->deadline_ms = w->timeout_ms[t] > 0 ? w->now_ms + w->timeout_ms[t]
                                          : INT64_MAX;
    list_append(w, &w->timers[t], slot_of(w, c), TIMER_LINK);
}

/* A connection is silent from its accept until a request begins (empty
 * lines do not count) or it is answered: until then it has nothing in
 * flight, and a full slab may take its slot. The FRESH timer list cannot
 * say which connections are silent, since a connection stays under FRESH,
 * timed from its accept, until its first head is whole. */
static void silent_leave(struct ducta_worker *w, struct ducta_conn *c)
{
    if (!c->silent)
        return;
    list_remove(w, &w->silent, slot_of(w, c), SILENT_LINK);
    c->silent = 0;
}

void ducta_conn_expire(struct ducta_worker *w)
{
    for (int t = DUCTA_TIMER_NONE + 1; t < DUCTA_TIMER_COUNT; t++) {
        struct ducta_list *l = &w->timers[t];
        while (l->first != DUCTA_NO_SLOT &&
               w->slab[l->first].deadline_ms <= w->now_ms) {
            w->timed_out++;
            ducta_conn_close(w, &w->slab[l->first]);
        }
    }
}

/* ---- opening and closing ---------------------------------------------- */

/* A full slab: the slot a newcomer may have. As nginx does, an idle
 * keep-alive connection goes first (the client can reconnect and loses
 * nothing), then one that has not begun a request; either way the oldest,
 * which is the first of its timer list. A connection with a request in
 * flight is never closed for a newcomer: that one is refused instead. */
static int reclaim_one(struct ducta_worker *w)
{
    uint32_t i = w->timers[DUCTA_TIMER_IDLE].first;
    if (i == DUCTA_NO_SLOT)
        i = w->silent.first;
    if (i == DUCTA_NO_SLOT)
        return 0;
    w->reclaimed++;
    ducta_conn_close(w, &w->slab[i]);
    return 1;
}

struct ducta_conn *ducta_conn_open(struct ducta_worker *w, int fd)
{
    uint32_t i;
    if (w->free_first == DUCTA_NO_SLOT &&
        w->high_water >= (uint32_t)w->cfg->max_conns && !reclaim_one(w))
        return NULL;
    if (w->free_first != DUCTA_NO_SLOT) {
        i = w->free_first;
        w->free_first = w->slab[i].next_free;
    } else {
        i = w->high_water++;
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
    c->silent = 1;
    list_append(w, &w->silent, i, SILENT_LINK);
    w->live++;
    return c;
}

void ducta_conn_close(struct ducta_worker *w, struct ducta_conn *c)
{
    timer_unlink(w, c);
    silent_leave(w, c);
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
    uint32_t i = slot_of(w, c);
    c->next_free = w->free_first;
    w->free_first = i;
    w->live--;
}

/* ---- response bytes --------------------------------------------------- */

/* The first bytes of every response, precomputed per status: status line
 * (RFC 9112 §4), our Server field, and the Date field's name; and the body
 * ducta sends when it answers with that status itself. */
struct status_line {
    const char *bytes;
    size_t len;
    const char *body;  /* the reason-phrase and a newline */
    size_t body_len;
};

#define LINE(code, text)                                                   \
    case code: {                                                           \
        static const char h[] = "HTTP/1.1 " #code " " text                 \
                                "\r\nServer: ducta\r\nDate: ";             \
        static const char b[] = text "\n";                                 \
        return (struct status_line){h, sizeof h - 1, b, sizeof b - 1};     \
    }

static struct status_line status_line(int status)
{
    switch (status) {
    LINE(200, "OK")
    LINE(201, "Created")
    LINE(202, "Accepted")
    LINE(204, "No Content")
    LINE(206, "Partial Content")
    LINE(301, "Moved Permanently")
    LINE(302, "Found")
    LINE(303, "See Other")
    LINE(304, "Not Modified")
    LINE(307, "Temporary Redirect")
    LINE(308, "Permanent Redirect")
    LINE(400, "Bad Request")
    LINE(401, "Unauthorized")
    LINE(403, "Forbidden")
    LINE(404, "Not Found")
    LINE(405, "Method Not Allowed")
    LINE(409, "Conflict")
    LINE(410, "Gone")
    LINE(413, "Content Too Large")
    LINE(414, "URI Too Long")
    LINE(415, "Unsupported Media Type")
    LINE(416, "Range Not Satisfiable")
    LINE(417, "Expectation Failed")
    LINE(422, "Unprocessable Content")
    LINE(429, "Too Many Requests")
    LINE(431, "Request Header Fields Too Large")
    LINE(501, "Not Implemented")
    LINE(502, "Bad Gateway")
    LINE(503, "Service Unavailable")
    LINE(504, "Gateway Timeout")
    LINE(505, "HTTP Version Not Supported")
    LINE(500, "Internal Server Error")
    default:  /* a code a handler chose that has no line here */
        return (struct status_line){NULL, 0, "Unknown\n", 8};
    }
}
#undef LINE

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

/* The bytes a response header takes besides its Content-Type, Allow and
 * handler-added fields: status line, Server, Date, the field names, a
 * 20-digit length, Connection (generous). */
enum { RESPONSE_FIXED_HEADER = 256 };

/* RFC 9110 §8.6: no Content-Length on a 204, nor on a 304 (whose would
 * have to be the 200's, which we need not know). A 205 says it has none
 * (§15.3.6). handler.c has made sure none of them has a body. */
static int status_writes_length(int status)
{
    return status != 204 && status != 304;
}

/* Append one response header, and its body when it is in memory and the
 * request was not HEAD, to the write buffer. The caller has made sure that
 * w->max_response bytes are free. Returns 0, or -1 if this response is
 * larger than that (nothing is written then) — decided on the body GET
 * would get, so HEAD's answer is GET's header exactly. */
static int append_response(struct ducta_worker *w, struct ducta_conn *c,
                           const struct ducta_response *res,
                           const char *allow, int omit_body)
{
    int has_length = status_writes_length(res->status);
    /* a 205 says it has no content, so there is nothing to have a type */
    size_t ct_len = res->content_type && has_length && res->status != 205
                        ? strlen(res->content_type) : 0;
    size_t body = res->source == DUCTA_BODY_FILE ? 0 : res->body_len;
    size_t header = RESPONSE_FIXED_HEADER + ct_len +
                    (allow ? strlen(allow) : 0);
    for (size_t i = 0; i < res->nheaders; i++)
        header += strlen(res->headers[i].name) +
                  strlen(res->headers[i].value) + 4;
    if (header > DUCTA_RESPONSE_HEADER_MAX || body > w->max_response - header)
        return -1;
    if (omit_body)
        body = 0;
    struct status_line sl = status_line(res->status);
    char *p = c->wbuf + c->wlen;
    if (sl.bytes) {
        p = put(p, sl.bytes, sl.len);
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
    if (has_length) {
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
    if (c->after_send != DUCTA_AFTER_SEND_NEXT)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (w->req.minor_version == 0)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    p = PUT_LIT(p, "\r\n");
    if (body)
        p = put(p, res->body, body);
    c->wlen = (uint32_t)(p - c->wbuf);
    return 0;
}

/* A response of ducta's own: the status, its reason as the body. */
static struct ducta_response own_response(int status)
{
    struct status_line sl = status_line(status);
    return (struct ducta_response){.status = status,
                                   .content_type = "text/plain",
                                   .body = sl.body,
                                   .body_len = sl.body_len,
                                   .file_fd = -1};
}

/* A complete answer to a request we will not serve; the connection closes
 * after it (lingering, so the client reads it instead of a reset). The
 * request may not have parsed, so whether it was HEAD is read from its
 * first bytes: the method is the first token of the request line. */
static enum ducta_conn_state error_response(struct ducta_worker *w,
                                            struct ducta_conn *c, int status)
{
    struct ducta_response res = own_response(status);
    int head_method = c->rlen - c->rpos >= 5 &&
                      memcmp(c->rbuf + c->rpos, "HEAD ", 5) == 0;
    c->after_send = DUCTA_AFTER_SEND_LINGER;
    append_response(w, c, &res, NULL, head_method);
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
     * send a CRLF after a POST body), a few of them. They are not a
     * request: they do not make a connection less idle (READING, under a
     * deadline they do not move; see timer_for). */
    while (c->parser.scanned == 0 && c->rlen - c->rpos >= 2 &&
           c->rbuf[c->rpos] == '\r' && c->rbuf[c->rpos + 1] == '\n') {
        if (c->empty_lines >= DUCTA_MAX_EMPTY_LINES)  /* room first */
            return wbuf_tight(w, c) ? DUCTA_CONN_WRITING
                                    : error_response(w, c, 400);
        c->empty_lines++;
        c->rpos += 2;
    }
    if (c->rpos == c->rlen) {
        c->rpos = c->rlen = 0;
        if (c->wlen)
            return DUCTA_CONN_WRITING;
        return c->empty_lines ? DUCTA_CONN_READING : DUCTA_CONN_KEEPALIVE;
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
    int head_method = method_is(req->method, "HEAD", 4);
    response_reset(res);
    ducta_handler h = ducta_route(req, &status, &allow);
    req->files = w->files;  /* for ducta_response_file, from any handler */
    int failed = 0;
    if (h) {
        allow = NULL;  /* only the router's own 405 lists methods */
        failed = h(req, res) != 0;
    } else if (status == 404 && w->files) {
        /* every method: the file server answers 405 or OPTIONS itself */
        failed = ducta_response_file(req, res, req->path.ptr,
                                     req->path.len) != 0;
    } else {
        /* the router's answer: 404, 405 (with its Allow), 501 */
        *res = own_response(status >= 400 && status <= 599 ? status : 500);
        if (status != 405)
            allow = NULL;
    }
    /* From here the descriptor, if any, is ours to close, whatever the
     * source, status or validity (ducta.h). */
    int file_fd = res->file_fd;
    failed = failed || ducta_response_check(res) != 0;
    /* built only on failure: a response struct is ~450 bytes to zero */
    struct ducta_response internal_error;
    const struct ducta_response *out = res;
    if (failed) {
        internal_error = own_response(500);
        out = &internal_error;
        allow = NULL;
    }
    if (!req->keep_alive || w->stopping)
        c->after_send = DUCTA_AFTER_SEND_CLOSE;
    if (append_response(w, c, out, allow, head_method) != 0) {
        internal_error = own_response(500);
        out = &internal_error;
        append_response(w, c, out, NULL, head_method);
    }
    w->served++;
    c->answered = 1;
    c->empty_lines = 0;
    c->rpos += c->head_len + (uint32_t)req->body.len;
    c->head_len = 0;
    c->parser = (struct ducta_parser){0};
    if (out->source == DUCTA_BODY_FILE && !head_method && out->body_len) {
        c->file_fd = file_fd;
        c->file_pos = out->file_offset;
        c->file_end = out->file_offset + out->body_len;
        return DUCTA_CONN_WRITING;
    }
    if (file_fd >= 0)
        close(file_fd);
    return c->after_send != DUCTA_AFTER_SEND_NEXT ? DUCTA_CONN_WRITING
                                                 : DUCTA_CONN_PARSING;
}

/* Everything is sent: close, linger, or go on with the next request. */
static enum ducta_conn_state after_sent(struct ducta_conn *c)
{
    c->wpos = c->wlen = 0;
    if (c->after_send == DUCTA_AFTER_SEND_LINGER ||
        (c->after_send == DUCTA_AFTER_SEND_CLOSE &&
         (c->in_ready || c->rpos < c->rlen))) {
        /* Unread input may be waiting. Closing now would make the kernel
         * send a reset, which can destroy our response in the client's
         * receive buffer; shut down writing and drain instead. */
        shutdown(c->fd, SHUT_WR);
        c->linger_left = DUCTA_LINGER_MAX;
        return DUCTA_CONN_LINGERING;
    }
    if (c->after_send == DUCTA_AFTER_SEND_CLOSE)
        return DUCTA_CONN_CLOSING;
    return DUCTA_CONN_PARSING;
}

/* A send or sendfile that moved nothing: absorb an ordinary outcome (EINTR:
 * try again; EAGAIN: the socket buffer is full, so clear out_ready and wait
 * for epoll) and return 1; anything else — the peer is gone — returns 0. */
static int absorb_write_error(struct ducta_conn *c, ssize_t n)
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
    /* the header of a file response is last in the buffer: MSG_MORE lets
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
        if (absorb_write_error(c, n))
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
static enum ducta_conn_state on_sendfile(struct ducta_conn *c)
{
    uint64_t burst = 0;
    while (c->file_pos < c->file_end) {
        if (!c->out_ready)
            return DUCTA_CONN_SENDFILE;
        if (burst >= DUCTA_SENDFILE_BURST) {
            /* Still writable, but others wait: step aside, and ask the
             * loop for a new event behind theirs (ducta_conn_event). */
            c->out_ready = 0;
            c->step_aside = 1;
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
        if (n == 0) {
            /* The file ended before the length its head promised (it
             * shrank, or a sysfs file whose stat says 4096): the framing
             * can never be met, so the connection ends here — by a FIN
             * after what was sent, lingering as after an error, so that
             * unread pipelined input cannot turn the close into a reset. */
            c->after_send = DUCTA_AFTER_SEND_LINGER;
            break;
        }
        if (absorb_write_error(c, n))
            continue;
        return DUCTA_CONN_CLOSING;  /* EPIPE, ECONNRESET: the peer is gone */
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

/* Have bytes of a request arrived, beyond empty lines (and half of one)? */
static int request_begun(const struct ducta_conn *c)
{
    uint32_t n = c->rlen - c->rpos;
    return n > 1 || (n == 1 && c->rbuf[c->rpos] != '\r');
}

/* Which deadline a connection waiting in its state is under. Until its
 * first request head is whole, a connection is FRESH, timed from the
 * accept, whatever it sends; after an answer, empty lines start the HEAD
 * deadline, as the first byte of a request would. */
static enum ducta_timer timer_for(const struct ducta_conn *c)
{
    switch (c->state) {
    case DUCTA_CONN_KEEPALIVE:
        return c->answered ? DUCTA_TIMER_IDLE : DUCTA_TIMER_FRESH;
    case DUCTA_CONN_READING:
        if (c->head_len)
            return DUCTA_TIMER_BODY;
        return c->answered ? DUCTA_TIMER_HEAD : DUCTA_TIMER_FRESH;
    case DUCTA_CONN_WRITING:
    case DUCTA_CONN_SENDFILE:  return DUCTA_TIMER_WRITE;
    case DUCTA_CONN_LINGERING: return DUCTA_TIMER_LINGER;
    default:                   return DUCTA_TIMER_NONE;
    }
}

/* Called when the machine stops to wait: arm the state's deadline. A fresh
 * connection's runs from the accept, and a head deadline from the head's
 * first bytes (or empty lines); more bytes move neither (that is what
 * beats a client trickling one byte a second, or an empty line every few).
 * Idle and write deadlines move on any progress; the body's on each
 * BODY_STEP. */
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

/* The one transition function: run states until one has to wait, and say
 * what the connection needs from the backend while it does. */
static enum ducta_conn_want conn_run(struct ducta_worker *w,
                                     struct ducta_conn *c)
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
        case DUCTA_CONN_SENDFILE: next = on_sendfile(c); break;
        case DUCTA_CONN_LINGERING: next = on_linger(w, c); break;
        case DUCTA_CONN_CLOSING:
            ducta_conn_close(w, c);
            return DUCTA_WANT_NOTHING;
        case DUCTA_CONN_FREE:
        default:                  return DUCTA_WANT_NOTHING;
        }
        /* Draining for shutdown: an idle connection has nothing in flight */
        if (next == DUCTA_CONN_KEEPALIVE && w->stopping)
            next = DUCTA_CONN_CLOSING;
        if (next == s) {  /* waiting for the kernel */
            if (s == DUCTA_CONN_KEEPALIVE)
                buf_give(w, c);  /* idle: nothing buffered, hold nothing */
            if (c->silent && (c->answered || c->head_len || request_begun(c)))
                silent_leave(w, c);
            arm_timer(w, c, io_before, served_before);
            if (!c->step_aside)
                return DUCTA_WANT_NOTHING;
            c->step_aside = 0;
            return DUCTA_WANT_REARM;
        }
        c->state = next;
    }
}

enum ducta_conn_want ducta_conn_event(struct ducta_worker *w,
                                      struct ducta_conn *c, unsigned events)
{
    if (events & DUCTA_EV_READ)
        c->in_ready = 1;
    if (events & DUCTA_EV_WRITE)
        c->out_ready = 1;
    if (events & DUCTA_EV_PEER_SHUT)
        c->peer_shut = 1;
    return conn_run(w, c);
}

void ducta_conn_begin_drain(struct ducta_worker *w, struct ducta_conn *c)
{
    /* nothing in flight: idle, or nothing but empty lines so far */
    if (c->state == DUCTA_CONN_KEEPALIVE ||
        (c->state == DUCTA_CONN_READING && !c->head_len && !c->wlen &&
         !request_begun(c)))
        ducta_conn_close(w, c);
}
