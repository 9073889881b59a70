/*
 * ducta.h — the one header of ducta, an HTTP/1.1 server in C on raw epoll.
 *
 * It owns two things, in two halves:
 *   1. The public API an embedder uses: the configuration, the read-only
 *      request view a handler receives, and the response a handler fills in.
 *   2. The internal seams between the server's own files (parse.c, router.c,
 *      conn.c, ducta.c). They are here, not in a second header, so that a
 *      reader has one place to look; embedders should use only part 1.
 *
 * Data path, one request (see README.md for the drawing):
 *   socket → recv into the connection's read buffer (conn.c)
 *          → parse into slices of that buffer, no copies (parse.c)
 *          → route to a handler (router.c)
 *          → response bytes appended to the write buffer (conn.c)
 *          → one send for the whole pipelined batch (conn.c)
 * The loop that drives it (epoll, workers, signals, start-up) is ducta.c.
 */
#ifndef DUCTA_H
#define DUCTA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DUCTA_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Part 1: public API                                                   */
/* ------------------------------------------------------------------ */

/* A view of bytes that live in someone else's memory (for a request: the
 * connection's read buffer). Never NUL-terminated. */
typedef struct {
    const char *ptr;
    size_t len;
} ducta_slice;

/* Limits of one request. Each one is enforced by the parser with the status
 * RFC 9110/9112 prescribe; see parse.c. */
enum {
    DUCTA_MAX_HEADERS = 64,          /* more fields than this: 431 */
    DUCTA_MAX_REQUEST_LINE = 8192,   /* a longer request line: 414 */
    DUCTA_MAX_HEAD = 8192,           /* request line + fields: 431 beyond */
};

typedef struct {
    ducta_slice name;   /* as sent; compare case-insensitively */
    ducta_slice value;  /* leading and trailing whitespace removed */
} ducta_header;

/* The request as a handler sees it: every slice points into the
 * connection's read buffer and is valid only during the handler call. */
struct ducta_request {
    ducta_slice method;
    ducta_slice target;     /* the request-target as sent */
    ducta_slice path;       /* target up to '?' */
    ducta_slice query;      /* after '?', without it; empty if none */
    int minor_version;      /* HTTP/1.<minor>: 0 or 1 */
    int keep_alive;         /* after the response, may the connection stay? */
    size_t content_length;  /* body bytes following the head */
    ducta_slice body;       /* the body, once it has fully arrived */
    size_t nheaders;
    ducta_header headers[DUCTA_MAX_HEADERS];
};

/* What a handler fills in. body must stay valid until the handler returns
 * (it is copied into the connection's write buffer before the next request
 * is looked at); content_type is a full MIME type without "Content-Type: ". */
struct ducta_response {
    int status;
    const char *content_type;
    const char *body;
    size_t body_len;
};

/* A handler returns 0 when it filled in *res, anything else for a 500. */
typedef int (*ducta_handler)(const struct ducta_request *req,
                             struct ducta_response *res);

/* Look a header up by name, case-insensitively. NULL if absent. */
const ducta_slice *ducta_header_get(const struct ducta_request *req,
                                    const char *name);

/* Server configuration. ducta_config_defaults() fills in the documented
 * defaults; the command line (ducta --help) changes them. */
struct ducta_config {
    const char *bind;       /* IPv4 address to listen on: "127.0.0.1" */
    int port;               /* 8080; 0 lets the kernel pick one */
    int threads;            /* worker threads: one per online core */
    int max_conns;          /* connection slots per worker: 10000 */
    int pin;                /* pin worker i to core i: 1 */
    int drain_ms;           /* graceful-shutdown deadline: 5000 ms */
    int backlog;            /* listen(2) backlog: 4096 */
};

void ducta_config_defaults(struct ducta_config *cfg);

/* Run the server until SIGINT or SIGTERM; returns a process exit status. */
int ducta_serve(const struct ducta_config *cfg);

/* The command-line program: parses argv into a config and serves. */
int ducta_main(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* Part 2: internal seams between the server's files                    */
/* ------------------------------------------------------------------ */

/* parse.c — the request parser.
 *
 * ducta_parse_request() parses the head of one request at buf[0..len).
 * It returns:
 *   > 0  the head is complete and valid; the value is its length in bytes
 *        (the body, if any, starts there); *req holds slices into buf.
 *   0    more bytes are needed (DUCTA_PARSE_INCOMPLETE).
 *   < 0  the request is bad: the value is minus the HTTP status to answer
 *        with (-400, -414, -431, -501, -505), after which the connection
 *        must close, because its framing can no longer be trusted.
 * It is resumable: struct ducta_parser remembers how far a previous call got
 * in the same bytes, so a request arriving in pieces is not rescanned from
 * the start each time. Reset it (zero it) for every new request. */
enum { DUCTA_PARSE_INCOMPLETE = 0 };

struct ducta_parser {
    size_t scanned;  /* bytes already known not to hold the end of the head */
};

ssize_t ducta_parse_request(struct ducta_parser *p, const char *buf,
                            size_t len, struct ducta_request *req);

/* router.c — from a parsed request to the handler that answers it.
 * Returns the handler, or NULL with *status set (404, or 405 when the path
 * exists under another method; *allow then names the allowed methods). */
ducta_handler ducta_route(const struct ducta_request *req, int *status,
                          const char **allow);

/* conn.c — connections: the slab, the buffers, the state machine. */
enum ducta_conn_state {
    DUCTA_CONN_FREE,       /* slot unused, on the free list */
    DUCTA_CONN_KEEPALIVE,  /* open, between requests, nothing buffered */
    DUCTA_CONN_READING,    /* part of a request has arrived; want more */
    DUCTA_CONN_PARSING,    /* bytes buffered; find the next request head */
    DUCTA_CONN_HANDLING,   /* a whole request is parsed; build its response */
    DUCTA_CONN_WRITING,    /* responses buffered; send them */
    DUCTA_CONN_LINGERING,  /* error sent; writing shut; drain until EOF */
    DUCTA_CONN_CLOSING,    /* give the slot back */
};

/* Buffer sizes: a read buffer holds one head at its limit plus pipelined
 * requests behind it; a write buffer holds a batch of responses. */
enum {
    DUCTA_RBUF_SIZE = 16384,
    DUCTA_WBUF_SIZE = 16384,
    /* The largest response one request may produce (head + body); a batch
     * is flushed before handling a request once less than this is free. */
    DUCTA_MAX_RESPONSE = DUCTA_WBUF_SIZE / 2,
    /* A body must arrive whole in the read buffer behind its head. */
    DUCTA_MAX_BODY = DUCTA_RBUF_SIZE - DUCTA_MAX_HEAD,
    /* After an error response: input we read and discard, at most, before
     * closing, so the client sees our answer rather than a reset. */
    DUCTA_LINGER_MAX = 65536,
};

enum { DUCTA_KEEP = 0, DUCTA_CLOSE = 1, DUCTA_CLOSE_LINGER = 2 };

/* The Date header value is always 29 bytes: "Sun, 06 Nov 1994 08:49:37 GMT"
 * (RFC 9110 §5.6.7, IMF-fixdate). */
enum { DUCTA_DATE_LEN = 29 };

struct ducta_conn {
    int fd;
    uint32_t gen;            /* bumped on every reuse of the slot */
    enum ducta_conn_state state;
    uint32_t next_free;      /* free-list link while FREE */
    /* Edge-triggered epoll tells us about a change once; these remember it
     * until a syscall shows the edge was consumed (short read, EAGAIN). */
    uint8_t in_ready, out_ready;
    uint8_t peer_shut;       /* epoll saw the peer shut its writing side:
                              * a short read no longer means "drained",
                              * because the EOF behind it must be read */
    uint8_t close_after;     /* DUCTA_KEEP, DUCTA_CLOSE or DUCTA_CLOSE_LINGER:
                              * what to do once the write buffer is sent */
    char *rbuf;              /* DUCTA_RBUF_SIZE bytes */
    char *wbuf;              /* DUCTA_WBUF_SIZE bytes */
    uint32_t rlen;           /* bytes in rbuf */
    uint32_t rpos;           /* start of the first unanswered request */
    uint32_t wlen, wpos;     /* buffered response bytes; sent so far */
    uint32_t head_len;       /* parsed head length of the current request */
    uint32_t linger_left;    /* bytes we still discard while LINGERING */
    struct ducta_parser parser;
    struct ducta_request req;
};

/* Per worker: everything one thread touches on the request path. */
struct ducta_worker {
    int id;
    int epfd;
    int listen_fd;
    const struct ducta_config *cfg;
    struct ducta_conn *slab;   /* cfg->max_conns slots */
    uint32_t free_head;        /* first free slot, or DUCTA_NO_SLOT */
    uint32_t live;             /* slots in use */
    uint32_t high_water;       /* slots [0, high_water) have ever been used */
    char *buffers;             /* one rbuf + wbuf per slot, mapped lazily */
    int stopping;              /* graceful shutdown has begun */
    time_t date_sec;           /* the second date[] was formatted for */
    char date[DUCTA_DATE_LEN];
    uint64_t served;           /* responses produced (for stats and tests) */
};

enum { DUCTA_NO_SLOT = UINT32_MAX };

int ducta_slab_init(struct ducta_worker *w);
void ducta_slab_free(struct ducta_worker *w);
/* Take a slot for an accepted, non-blocking socket; NULL if the slab is full
 * (the caller closes the socket). */
struct ducta_conn *ducta_conn_open(struct ducta_worker *w, int fd);
/* Run the connection's state machine after the event backend saw the
 * socket change. The bits are the backend's translation of its own events
 * (an error or hang-up sets both, so the next syscall reports it). */
enum { DUCTA_EV_READ = 1, DUCTA_EV_WRITE = 2, DUCTA_EV_PEER_SHUT = 4 };
void ducta_conn_event(struct ducta_worker *w, struct ducta_conn *c,
                      unsigned events);
/* Graceful shutdown: close idle connections, let the rest finish. */
void ducta_conn_begin_drain(struct ducta_worker *w, struct ducta_conn *c);
void ducta_conn_close(struct ducta_worker *w, struct ducta_conn *c);

/* ducta.c — the event loop, exposed for the tests that drive a worker
 * without threads or listeners. */
int ducta_worker_init(struct ducta_worker *w, const struct ducta_config *cfg,
                      int id);
void ducta_worker_destroy(struct ducta_worker *w);
/* Register a connected socket with the worker (it becomes a connection).
 * On failure (slab full, epoll refused) the socket is closed and -1 is
 * returned: the caller never closes it. */
int ducta_worker_adopt(struct ducta_worker *w, int fd);
/* One round of the loop: wait up to timeout_ms, dispatch what happened. */
int ducta_worker_poll(struct ducta_worker *w, int timeout_ms);
/* Refresh w->date if the second has changed. */
void ducta_worker_tick(struct ducta_worker *w);

#endif /* DUCTA_H */
