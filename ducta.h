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

/* Limits of one request, enforced by the parser with the status RFC 9110
 * and RFC 9112 prescribe (see parse.c). Set per server in ducta_config;
 * the defaults are the DUCTA_DEFAULT_* below. The two head limits are
 * apart: a head is at most max_request_line + max_head bytes. */
struct ducta_limits {
    size_t max_request_line;  /* the request line, CRLF included: longer is
                               * 414 (a method over 20 bytes is 501 first,
                               * RFC 9112 §3) */
    size_t max_head;          /* the field section after the request line:
                               * its field lines and the empty line that
                               * ends it, bytes: more is 431 */
    size_t max_headers;       /* field count, <= DUCTA_HEADERS_CAP: 431 */
    size_t max_body;          /* Content-Length or decoded chunked: 413 */
};

enum {
    DUCTA_DEFAULT_MAX_REQUEST_LINE = 8192,
    DUCTA_DEFAULT_MAX_HEAD = 8192,
    DUCTA_DEFAULT_MAX_HEADERS = 64,
    DUCTA_DEFAULT_MAX_BODY = 65536,
    DUCTA_HEADERS_CAP = 256,        /* room in struct ducta_request */
    DUCTA_MAX_CHUNK_EXT = 256,      /* bytes of chunk extensions per chunk */
    DUCTA_MAX_PARAMS = 8,           /* :name and *name captures per route */
    DUCTA_RESPONSE_HEADERS_CAP = 8, /* extra fields a handler may add */
    DUCTA_RESPONSE_SCRATCH = 256,   /* bytes for formatted field values */
};

typedef struct {
    ducta_slice name;   /* as sent; compare case-insensitively */
    ducta_slice value;  /* leading and trailing whitespace removed */
} ducta_header;

/* A path parameter: for the route "/users/:id", the request "/users/42"
 * has {name "id", value "42"}; a trailing "*rest" captures the remainder. */
typedef struct {
    ducta_slice name;   /* without the ':' or '*' */
    ducta_slice value;  /* as sent (not percent-decoded) */
} ducta_param;

/* The request as a handler sees it: every slice points into the
 * connection's read buffer and is valid only during the handler call. */
struct ducta_request {
    ducta_slice method;
    ducta_slice target;     /* the request-target as sent */
    ducta_slice path;       /* target up to '?' */
    ducta_slice query;      /* after '?', without it; empty if none */
    ducta_slice authority;  /* from an absolute-form target, else Host */
    int minor_version;      /* HTTP/1.<minor>: 0 or 1 */
    int keep_alive;         /* after the response, may the connection stay? */
    int chunked;            /* body framed by Transfer-Encoding: chunked */
    int expect_continue;    /* the client waits for 100 Continue */
    uint64_t content_length;/* body bytes following the head (not chunked) */
    ducta_slice body;       /* the body (decoded), once it has all arrived */
    size_t nparams;         /* filled in by the router */
    ducta_param params[DUCTA_MAX_PARAMS];
    size_t nheaders;
    ducta_header headers[DUCTA_HEADERS_CAP];
};

/* Where a response body comes from. */
enum ducta_body_source {
    DUCTA_BODY_MEMORY,  /* body[0..body_len), copied before the next request */
    DUCTA_BODY_FILE,    /* body_len bytes of file_fd from file_offset, sent
                         * with sendfile(2); ducta closes file_fd after */
};

/* What a handler fills in. It starts zeroed except for content_type
 * ("text/plain") and file_fd (-1). A body in memory must stay valid until
 * the handler returns; content_type is a full MIME type without
 * "Content-Type: ". Header names and values must not contain CR or LF (a
 * response that has them becomes a 500). Nothing here is allocated: the
 * struct belongs to the worker, and scratch is room for formatted values. */
struct ducta_response {
    int status;
    const char *content_type;
    const char *body;
    size_t body_len;
    enum ducta_body_source source;
    int file_fd;
    uint64_t file_offset;
    size_t nheaders;
    struct {
        const char *name, *value;
    } headers[DUCTA_RESPONSE_HEADERS_CAP];
    size_t scratch_used;
    char scratch[DUCTA_RESPONSE_SCRATCH];
};

/* A handler returns 0 when it filled in *res, anything else for a 500. */
typedef int (*ducta_handler)(const struct ducta_request *req,
                             struct ducta_response *res);

/* Look a header up by name, case-insensitively. NULL if absent. */
const ducta_slice *ducta_header_get(const struct ducta_request *req,
                                    const char *name);

/* Look a path parameter up by name (without ':' or '*'). NULL if absent. */
const ducta_slice *ducta_param_get(const struct ducta_request *req,
                                   const char *name);

/* Add a header field to a response. The strings must outlive the handler
 * call (literals, or copies in res->scratch). 0, or -1 when full. */
int ducta_response_header(struct ducta_response *res, const char *name,
                          const char *value);

/* Answer with the file at path (relative to the server's --root; it need
 * not be percent-decoded) as the static file server would: 404/403, index
 * .html for a directory, ETag and Last-Modified, 304 and 206/416 on
 * conditional and range requests. Returns 0 (res is filled in, whatever
 * the status), or -1 when no --root was given. */
int ducta_response_file(const struct ducta_request *req,
                        struct ducta_response *res, const char *path,
                        size_t len);

/* Built-in handlers (router.c), named in routes.def; a routes file of
 * one's own may name them too (`GET /hello ducta_plaintext`). */
int ducta_plaintext(const struct ducta_request *req,
                    struct ducta_response *res);  /* "Hello, World!" */
int ducta_json(const struct ducta_request *req,
               struct ducta_response *res);  /* {"message":"Hello, World!"} */
int ducta_echo(const struct ducta_request *req,
               struct ducta_response *res);  /* the request body back */
int ducta_options(const struct ducta_request *req,
                  struct ducta_response *res);  /* 200, empty */

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
    /* Deadlines, in milliseconds (see enum ducta_timer) */
    int head_timeout_ms;     /* whole request head: 10000 */
    int body_timeout_ms;     /* each DUCTA_BODY_STEP bytes of body: 10000 */
    int idle_timeout_ms;     /* keep-alive idle: 60000 */
    int write_timeout_ms;    /* a stalled write: 30000 */
    int linger_timeout_ms;   /* draining after an error: 5000 */
    struct ducta_limits limits;  /* DUCTA_DEFAULT_MAX_*; max_head and
                                  * max_body also size the buffers */
    const char *root;       /* serve the files under this directory on
                             * GET/HEAD that no route takes: NULL (none) */
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
 *        with (-400, -413, -414, -417, -431, -501, -505), after which the
 *        connection must close, because its framing can no longer be
 *        trusted.
 * It is resumable: struct ducta_parser remembers how far a previous call got
 * in the same bytes, so a request arriving in pieces is not rescanned from
 * the start each time. Reset it (zero it) for every new request. */
enum { DUCTA_PARSE_INCOMPLETE = 0 };

/* Where a chunked body's decoding stands between reads. */
struct ducta_chunked {
    uint64_t remaining;    /* chunk-size being read, then bytes left */
    size_t decoded;        /* decoded body bytes so far */
    uint32_t trailer_len;  /* trailer bytes so far (bounded by max_head) */
    uint16_t ext_len;      /* chunk-extension bytes on this size line
                            * (bounded by DUCTA_MAX_CHUNK_EXT) */
    uint8_t digits;        /* hex digits of this chunk-size */
    uint8_t state;         /* where in the chunked grammar (parse.c) */
};

struct ducta_parser {
    size_t scanned;  /* bytes already known not to hold the end of the head */
    uint8_t continue_sent;   /* 100 Continue went out for this request */
    struct ducta_chunked chunked;
};

ssize_t ducta_parse_request(struct ducta_parser *p,
                            const struct ducta_limits *lim, const char *buf,
                            size_t len, struct ducta_request *req);

/* Decode a chunked body in place. body[0..*len) holds what has arrived
 * after the head; on return the decoded bytes are body[0..ck->decoded) and
 * the raw bytes not yet decoded follow them, *len updated. Returns 1 when
 * the body (and its trailers) ended — the next request starts at
 * body + ck->decoded — 0 for more, or minus the status of the error. */
ssize_t ducta_parse_chunked(struct ducta_chunked *ck,
                            const struct ducta_limits *lim, char *body,
                            size_t *len);

/* The SIMD level of the scanner: chosen at start-up from the CPU, or by
 * DUCTA_SIMD=scalar|sse42|avx2 in the environment. */
enum ducta_simd { DUCTA_SIMD_SCALAR, DUCTA_SIMD_SSE42, DUCTA_SIMD_AVX2 };
int ducta_simd_set(enum ducta_simd level);  /* -1 if the CPU lacks it */
enum ducta_simd ducta_simd_get(void);
const char *ducta_simd_name(enum ducta_simd level);

/* router.c — from a parsed request to the handler that answers it.
 * Matches the routes compiled from routes.def (static paths by perfect
 * hash, then :param routes, then *wildcard routes; see router.c) and fills
 * in req->params. Returns the handler, or NULL with *status set: 404, or
 * 405 when the path exists under other methods (*allow then lists them, a
 * string valid until the next call in this thread). */
ducta_handler ducta_route(struct ducta_request *req, int *status,
                          const char **allow);

/* The MIME type for a file name extension (without the dot, any case), from
 * the table the route generator compiles; "application/octet-stream" if
 * unknown. */
const char *ducta_mime_type(const char *ext, size_t len);

/* Static files under --root (ducta_response_file() is the handler-facing
 * side). ducta_files_init opens the root once at start-up: 0, or -1 with a
 * message in err. */
int ducta_files_init(const char *root, char *err, size_t errlen);

/* conn.c — connections: the slab, the buffers, the state machine. */
enum ducta_conn_state {
    DUCTA_CONN_FREE,       /* slot unused, on the free list */
    DUCTA_CONN_KEEPALIVE,  /* open, between requests, nothing buffered */
    DUCTA_CONN_READING,    /* part of a request has arrived; want more */
    DUCTA_CONN_PARSING,    /* bytes buffered; find the next request head */
    DUCTA_CONN_HANDLING,   /* a whole request is parsed; build its response */
    DUCTA_CONN_WRITING,    /* responses buffered; send them */
    DUCTA_CONN_SENDFILE,   /* the buffer is sent; a file body follows it */
    DUCTA_CONN_LINGERING,  /* error sent; writing shut; drain until EOF */
    DUCTA_CONN_CLOSING,    /* give the slot back */
};

/* Buffer sizes follow from the limits (ducta_slab_init):
 *   read buffer  = max_head + max_body + DUCTA_CHUNK_SLACK: a whole request
 *                  fits, whatever the chunk framing around its body;
 *   write buffer = 2 * max_response, where max_response = max_body +
 *                  DUCTA_RESPONSE_HEAD_MAX (at least DUCTA_MIN_RESPONSE): a
 *                  batch is flushed before handling a request once less
 *                  than max_response is free, so any one answer (/echo of
 *                  the largest body) fits behind the batch.
 * They are reserved, not committed: a page costs memory once touched. */
enum {
    DUCTA_CHUNK_SLACK = 4096,
    DUCTA_RESPONSE_HEAD_MAX = 1024,
    DUCTA_MIN_RESPONSE = 8192,
    /* After an error response: input we read and discard, at most, before
     * closing, so the client sees our answer rather than a reset. */
    DUCTA_LINGER_MAX = 65536,
    /* File bytes sent to one connection before the worker turns to the
     * others: a fast reader of a large file must not hold the worker. */
    DUCTA_SENDFILE_BURST = 1 << 20,
};

enum { DUCTA_KEEP = 0, DUCTA_CLOSE = 1, DUCTA_CLOSE_LINGER = 2 };

/* Every state that waits on the client has a deadline (conn.c, "timers").
 * All connections under one timer share its duration, so each timer is a
 * list kept in deadline order just by appending: arming, re-arming and
 * expiring are O(1), with no syscall per connection. */
enum ducta_timer {
    DUCTA_TIMER_NONE,
    DUCTA_TIMER_HEAD,    /* a request head has begun: all of it by then */
    DUCTA_TIMER_BODY,    /* the body must advance DUCTA_BODY_STEP bytes */
    DUCTA_TIMER_IDLE,    /* keep-alive, nothing buffered */
    DUCTA_TIMER_WRITE,   /* the client stopped reading: progress by then */
    DUCTA_TIMER_LINGER,  /* after an error, draining before the close */
    DUCTA_TIMER_COUNT,
};

/* The body deadline is a minimum rate, not a total: it moves on each time
 * another DUCTA_BODY_STEP bytes have arrived. */
enum { DUCTA_BODY_STEP = 1024 };

struct ducta_timer_list {
    uint32_t head, tail;  /* slots, or DUCTA_NO_SLOT */
};

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
    char *rbuf;              /* worker's rbuf_size bytes, from its pool */
    char *wbuf;              /* wbuf_size bytes after it; both NULL while
                              * the connection is idle (KEEPALIVE) */
    uint32_t rlen;           /* bytes in rbuf */
    uint32_t rpos;           /* start of the first unanswered request */
    uint32_t wlen, wpos;     /* buffered response bytes; sent so far */
    uint32_t head_len;       /* parsed head length of the current request */
    uint32_t linger_left;    /* bytes we still discard while LINGERING */
    /* The deadline this connection is waiting under (see DUCTA_TIMER_*),
     * and its links in the worker's list for that timer. */
    uint8_t timer;
    uint32_t t_prev, t_next;
    int64_t deadline_ms;
    uint64_t rx_bytes;       /* bytes received, ever */
    uint64_t rx_mark;        /* rx_bytes when the BODY deadline was set */
    uint64_t io_count;       /* successful recv/send calls, ever */
    struct ducta_parser parser;
    /* A file body (DUCTA_BODY_FILE) goes out after the write buffer, by
     * sendfile: bytes [file_pos, file_end) of file_fd, -1 when none. No
     * request behind it is handled before it is sent, so responses stay in
     * order without the buffer having to hold the file. */
    int file_fd;
    uint64_t file_pos, file_end;
};

/* Per worker: everything one thread touches on the request path. */
struct ducta_worker {
    int id;
    int epfd;
    int listen_fd;
    int reserve_fd;            /* kept open to shed a connection at EMFILE */
    uint64_t shed;             /* connections closed at once for lack of
                                * descriptors or slots */
    const struct ducta_config *cfg;
    struct ducta_conn *slab;   /* cfg->max_conns slots */
    uint32_t free_head;        /* first free slot, or DUCTA_NO_SLOT */
    uint32_t live;             /* slots in use */
    uint32_t high_water;       /* slots [0, high_water) have ever been used */
    /* The buffer pool: max_conns pairs of rbuf + wbuf in one mapping,
     * touched only when first used, and handed out last-freed-first, so
     * the pages in memory are those of the busiest moments, not of every
     * connection: an idle connection holds none. */
    char *buffers;
    size_t rbuf_size, wbuf_size, max_response;
    uint32_t *buf_free;        /* stack of free pair indexes */
    uint32_t buf_free_top;     /* entries on the stack */
    uint32_t buf_high_water;   /* pairs [0, buf_high_water) ever used */
    /* After a burst the pool would keep every page it touched. Stack
     * entries [0, buf_low) were not taken since the last trim (a tick), so
     * they are cold; entries [0, buf_released) have had their pages given
     * back to the kernel already (ducta_buffers_trim). */
    uint32_t buf_low, buf_released;
    /* The request being parsed and handled. A worker handles one request
     * at a time, start to end, so one per worker is enough: keeping it out
     * of the connection keeps an idle connection small. */
    struct ducta_request req;
    struct ducta_response res;  /* its answer, filled in by the handler */
    int stopping;              /* graceful shutdown has begun */
    time_t date_sec;           /* the second date[] was formatted for */
    char date[DUCTA_DATE_LEN];
    uint64_t served;           /* responses produced (for stats and tests) */
    int64_t now_ms;            /* monotonic clock, read once per loop round */
    int timeout_ms[DUCTA_TIMER_COUNT];
    struct ducta_timer_list timers[DUCTA_TIMER_COUNT];
    uint64_t timed_out;        /* connections closed by a deadline */
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
/* Once a tick: give back the pages of buffer pairs unused since the last
 * tick, so memory after a burst returns to what the load needs now. */
void ducta_buffers_trim(struct ducta_worker *w);
/* Close the connections whose deadline has passed (w->now_ms). */
void ducta_conn_expire(struct ducta_worker *w);
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
/* Ask the backend for a fresh event for c when it is ready again (at once
 * if it is ready now): how a connection that stopped while it could still
 * write (DUCTA_SENDFILE_BURST) gets its turn back. 0, or -1. */
int ducta_worker_rearm(struct ducta_worker *w, struct ducta_conn *c);

#endif /* DUCTA_H */
