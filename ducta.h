/*
 * ducta.h — the one header of ducta, an HTTP/1.1 server in C on raw epoll.
 *
 * It holds two things, in two blocks:
 *   1. The public API, all an embedder uses: the configuration, the
 *      read-only request a handler receives, the response it fills in, and
 *      the helpers for both. It reads on its own, top to bottom.
 *   2. Under #ifdef DUCTA_INTERNAL, the seams between the server's own
 *      files (parse.c, router.c, handler.c, files.c, conn.c, ducta.c) and
 *      for the tests that drive them. Those files define DUCTA_INTERNAL
 *      before including this header; an embedder does not, and sees none of
 *      it (example/ and test/app/ are built that way, which keeps the line
 *      honest). One header rather than two, so a reader has one place to
 *      look.
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
/* Part 1: the public API                                               */
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

struct ducta_files;  /* a server's --root: ducta's own, opaque here */

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
    /* ducta's own: the server's --root, for ducta_response_file; NULL
     * when there is none */
    const struct ducta_files *files;
};

/* Where a response body comes from. */
enum ducta_body_source {
    DUCTA_BODY_MEMORY,  /* body[0..body_len), copied before the next request */
    DUCTA_BODY_FILE,    /* body_len bytes of file_fd from file_offset, sent
                         * with sendfile(2); ducta closes file_fd after */
};

/* What a handler fills in. It starts zeroed except for content_type
 * ("text/plain") and file_fd (-1). Nothing here is allocated: the struct
 * belongs to the worker, and scratch is room for formatted values (use
 * ducta_response_printf and ducta_response_json_string rather than writing
 * into it by hand: they keep scratch_used right).
 *
 * ducta checks what it finds here before sending anything (handler.c); a
 * response that breaks one of these rules becomes a 500, never bytes outside
 * ducta's buffers:
 *   - status is 200..599; 204, 205 and 304 carry no body (body_len 0);
 *   - content_type is NULL (no Content-Type) or a media type
 *     ("type/subtype" and ";name=value" parameters, RFC 9110 §8.3.1);
 *   - header names are tokens and values are visible characters, spaces
 *     and tabs, neither first nor last (RFC 9110 §5.5): no CR, LF, NUL or
 *     other control; not a field ducta writes itself (Content-Length,
 *     Transfer-Encoding, Connection, Content-Type, Date, Server);
 *   - nheaders <= DUCTA_RESPONSE_HEADERS_CAP, scratch_used <=
 *     DUCTA_RESPONSE_SCRATCH, no NULL where a string or a body is due;
 *   - a memory body fits the write buffer (max_body + a margin);
 *   - a file body is a regular file with file_offset + body_len within its
 *     size (fstat), so the promised Content-Length can be met.
 * For HEAD, the same checks decide, and the answer is GET's header without
 * the body.
 * Once file_fd >= 0, ducta closes it after the response, whatever the
 * source, status or validity: a handler never closes a descriptor it has
 * handed over (ducta_response_file closes one it replaces). */
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

/* An HTTP date (the Date field, Last-Modified) is always 29 bytes:
 * "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7, IMF-fixdate). */
enum { DUCTA_DATE_LEN = 29 };

/* ---- what a handler calls (handler.c, files.c) ---- */

/* Look a header up by name, case-insensitively. NULL if absent. */
const ducta_slice *ducta_header_get(const struct ducta_request *req,
                                    const char *name);

/* Look a path parameter up by name (without ':' or '*'). NULL if absent. */
const ducta_slice *ducta_param_get(const struct ducta_request *req,
                                   const char *name);

/* Add a header field to a response. The strings must outlive the handler
 * call (literals, or ducta_response_printf results in res->scratch). 0, or
 * -1 when full. Allow is the handler's to set (OPTIONS, a 405 of its own);
 * the fields ducta writes itself are listed above struct ducta_response. */
int ducta_response_header(struct ducta_response *res, const char *name,
                          const char *value);

/* printf into what is left of res->scratch: the result is NUL-terminated,
 * scratch_used moves past it, and it lives as long as the response, so it
 * may be the body or a header value. NULL (scratch_used unchanged) when it
 * does not fit, or when scratch_used is already past the end. */
const char *ducta_response_printf(struct ducta_response *res,
                                  const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* s[0..len) as a JSON string, quotes included (RFC 8259 §7), into scratch
 * as ducta_response_printf does: '"' and '\\' are escaped, control
 * characters (below 0x20, and DEL) become \u00XX, valid UTF-8 passes as it
 * is, and each byte that is not part of valid UTF-8 (a stray continuation
 * byte, an overlong form, a surrogate, beyond U+10FFFF, a cut sequence)
 * becomes \ufffd, the replacement character: the output is always valid
 * JSON in valid UTF-8. NULL when it does not fit. */
const char *ducta_response_json_string(struct ducta_response *res,
                                       const char *s, size_t len);

/* Answer with the file at path (relative to the server's --root; it need
 * not be percent-decoded) as the static file server would (files.c):
 * 404/403, index.html for a directory, ETag and Last-Modified, 304 and
 * 206/416 on conditional and range requests; by req's method, OPTIONS 204
 * and any other than GET/HEAD 405, both with Allow; 503 with Retry-After
 * when out of descriptors. A descriptor already in res->file_fd is closed
 * first (once there, it is ducta's). Returns 0 (res is filled in, whatever
 * the status), or -1 when no --root was given. */
int ducta_response_file(const struct ducta_request *req,
                        struct ducta_response *res, const char *path,
                        size_t len);

/* The MIME type for a file name extension (without the dot, any case);
 * "application/octet-stream" if unknown. */
const char *ducta_mime_type(const char *ext, size_t len);

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

/* The body deadline is a minimum rate, not a total: it moves on each time
 * another DUCTA_BODY_STEP bytes have arrived. */
enum { DUCTA_BODY_STEP = 1024 };

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
    /* Deadlines, in milliseconds, for a client that stalls; 0: none */
    int head_timeout_ms;     /* whole request head: 10000 */
    int body_timeout_ms;     /* each DUCTA_BODY_STEP bytes of body: 10000 */
    int idle_timeout_ms;     /* keep-alive idle: 60000 */
    int write_timeout_ms;    /* a stalled write: 30000 */
    int linger_timeout_ms;   /* draining after an error: 5000 */
    struct ducta_limits limits;  /* DUCTA_DEFAULT_MAX_*; max_head and
                                  * max_body also size the buffers */
    const char *root;       /* serve the files under this directory to
                             * requests no route takes (files.c): NULL */
    int dotfiles;           /* under root, serve path segments starting
                             * with '.' (.env, .git/): 0 (404, except
                             * /.well-known/) */
};

void ducta_config_defaults(struct ducta_config *cfg);

/* Run the server until SIGINT or SIGTERM (SIGHUP is logged and ignored);
 * returns a process exit status. It raises the soft RLIMIT_NOFILE to the
 * hard limit and blocks those signals in the calling thread (both are the
 * process's, not the server's); all else it sets up is its own, so two
 * servers may run in one process, each in its own thread. */
int ducta_serve(const struct ducta_config *cfg);

/* The command-line program: parses argv into a config and serves. */
int ducta_main(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* Part 2: internal seams between the server's files                    */
/* ------------------------------------------------------------------ */

#ifdef DUCTA_INTERNAL

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
 * DUCTA_SIMD=scalar|sse42|avx2 in the environment. It is process-wide, not
 * a server's, because it describes the CPU every server runs on. */
enum ducta_simd { DUCTA_SIMD_SCALAR, DUCTA_SIMD_SSE42, DUCTA_SIMD_AVX2 };
int ducta_simd_set(enum ducta_simd level);  /* -1 if the CPU lacks it */
enum ducta_simd ducta_simd_get(void);
const char *ducta_simd_name(enum ducta_simd level);

/* router.c — from a parsed request to the handler that answers it.
 * Matches the routes compiled from routes.def (static paths by perfect
 * hash, then :param routes, then *wildcard routes; see router.c) and fills
 * in req->params. Returns the handler, or NULL with *status set: 501 for a
 * method ducta does not know at all (RFC 9110 §9's eight and PATCH are the
 * ones it knows), whatever the path; 404; or 405 when the path exists under
 * other methods (*allow then lists them, a string valid until the next call
 * in this thread). */
ducta_handler ducta_route(struct ducta_request *req, int *status,
                          const char **allow);

/* files.c — a server's --root (ducta_response_file is the handler-facing
 * side): opened once by ducta_serve, held in its struct ducta_server, and
 * reached by each request through req->files, set by conn.c. */
struct ducta_files {
    int root_fd;       /* O_PATH descriptor of --root */
    int dotfiles;      /* serve path segments starting with '.' */
    int have_openat2;  /* the kernel has it (and DUCTA_NO_OPENAT2 unset) */
};
/* 0, or -1 with a message in err. */
int ducta_files_open(struct ducta_files *fs, const char *root, int dotfiles,
                     char *err, size_t errlen);
void ducta_files_close(struct ducta_files *fs);

/* handler.c — the handler's side of the API. ducta_response_check: may
 * what a handler filled in be sent as it is (the rules above struct
 * ducta_response, including fstat of a file body)? 0, or -1 for a 500.
 * The write buffer's size is conn.c's to check. */
int ducta_response_check(const struct ducta_response *res);

/* conn.c — connections: the slab, the buffers, the state machine. */
enum ducta_conn_state {
    DUCTA_CONN_FREE,       /* slot unused, on the free list */
    DUCTA_CONN_KEEPALIVE,  /* open, no request begun, nothing buffered */
    DUCTA_CONN_READING,    /* part of a request (or only empty lines) has
                            * arrived; want more */
    DUCTA_CONN_PARSING,    /* bytes buffered; find the next request head */
    DUCTA_CONN_HANDLING,   /* a whole request is parsed; build its response */
    DUCTA_CONN_WRITING,    /* responses buffered; send them */
    DUCTA_CONN_SENDFILE,   /* the buffer is sent; a file body follows it */
    DUCTA_CONN_LINGERING,  /* error sent; writing shut; drain until EOF */
    DUCTA_CONN_CLOSING,    /* give the slot back */
};

/* Buffer sizes follow from the limits (ducta_slab_init):
 *   read buffer  = max_request_line + max_head + max_body +
 *                  DUCTA_CHUNK_SLACK: a whole request fits (request line,
 *                  then field section, then body), whatever the chunk
 *                  framing around its body;
 *   write buffer = 2 * max_response, where max_response = max_body +
 *                  DUCTA_RESPONSE_HEADER_MAX (at least DUCTA_MIN_RESPONSE): a
 *                  batch is flushed before handling a request once less
 *                  than max_response is free, so any one answer (/echo of
 *                  the largest body) fits behind the batch.
 * They are reserved, not committed: a page costs memory once touched. */
enum {
    DUCTA_CHUNK_SLACK = 4096,
    /* a response's status line and header section, at most */
    DUCTA_RESPONSE_HEADER_MAX = 1024,
    DUCTA_MIN_RESPONSE = 8192,
    /* After an error response: input we read and discard, at most, before
     * closing, so the client sees our answer rather than a reset. */
    DUCTA_LINGER_MAX = 65536,
    /* File bytes sent to one connection before the worker turns to the
     * others: a fast reader of a large file must not hold the worker. */
    DUCTA_SENDFILE_BURST = 1 << 20,
    /* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before
     * a request-line (old clients send a CRLF after a POST body). More than
     * this many before one request is a 400: empty lines are not a way to
     * hold a connection open. */
    DUCTA_MAX_EMPTY_LINES = 2,
};

/* What a connection does once its write buffer has been sent. */
enum ducta_after_send {
    DUCTA_AFTER_SEND_NEXT = 0,   /* go on with the next request */
    DUCTA_AFTER_SEND_CLOSE,      /* close (draining unread input first) */
    DUCTA_AFTER_SEND_LINGER,     /* an error was answered: shut writing,
                                  * drain input, then close */
};

/* Every state that waits on the client has a deadline (conn.c, "timers").
 * All connections under one timer share its duration, so each timer is a
 * list kept in deadline order just by appending: arming, re-arming and
 * expiring are O(1), with no syscall per connection, and a list's first
 * entry is its oldest (what ducta_conn_open reclaims at --max-conns).
 * A timer whose duration is 0 has no deadline, but its list still holds
 * its connections in order. */
enum ducta_timer {
    DUCTA_TIMER_NONE,
    DUCTA_TIMER_FRESH,   /* accepted, first request head not yet whole:
                          * all of it within the head timeout of the
                          * accept (empty lines and bytes move nothing) */
    DUCTA_TIMER_HEAD,    /* a later request head has begun, or empty lines
                          * came after an answer: all of it by then */
    DUCTA_TIMER_BODY,    /* the body must advance DUCTA_BODY_STEP bytes */
    DUCTA_TIMER_IDLE,    /* keep-alive, nothing buffered */
    DUCTA_TIMER_WRITE,   /* the client stopped reading: progress by then */
    DUCTA_TIMER_LINGER,  /* after an error, draining before the close */
    DUCTA_TIMER_COUNT,
};

/* Intrusive lists of slots, in the order they were appended: a list's
 * ends, and a connection's links in it. */
struct ducta_list {
    uint32_t first, last;  /* slots, or DUCTA_NO_SLOT */
};
struct ducta_link {
    uint32_t prev, next;   /* slots, or DUCTA_NO_SLOT */
};

struct ducta_conn {
    int fd;
    uint32_t gen;            /* bumped on every reuse of the slot */
    enum ducta_conn_state state;
    uint32_t next_free;      /* free-list link while FREE */
    char *rbuf;              /* worker's rbuf_size bytes, from its pool */
    char *wbuf;              /* wbuf_size bytes after it; both NULL while
                              * the connection is idle (KEEPALIVE) */
    uint32_t rlen;           /* bytes in rbuf */
    uint32_t rpos;           /* start of the first unanswered request */
    uint32_t wlen, wpos;     /* buffered response bytes; sent so far */
    uint32_t head_len;       /* parsed head length of the current request */
    uint32_t linger_left;    /* bytes we still discard while LINGERING */
    /* Links in the worker's list for the deadline this connection waits
     * under (`timer` below, see DUCTA_TIMER_*), and that deadline. */
    struct ducta_link timer_link;
    int64_t deadline_ms;
    /* Links in the worker's list of silent connections (accepted, no
     * request begun: what a full slab reclaims after idle ones) while
     * `silent` below is set. */
    struct ducta_link silent_link;
    uint64_t rx_bytes;       /* bytes received, ever */
    uint64_t rx_mark;        /* rx_bytes when the BODY deadline was set */
    uint64_t io_count;       /* successful recv/send calls, ever */
    struct ducta_parser parser;
    /* A file body (DUCTA_BODY_FILE) goes out after the write buffer, by
     * sendfile: bytes [file_pos, file_end) of file_fd, -1 when none. No
     * request behind it is handled before it is sent, so responses stay in
     * order without the buffer having to hold the file. */
    uint64_t file_pos, file_end;
    int file_fd;
    /* The one-byte fields last, together, so the slot has no holes (an
     * idle connection costs its slot and nothing else). */
    /* Edge-triggered epoll tells us about a change once; these remember it
     * until a syscall shows the edge was consumed (short read, EAGAIN). */
    uint8_t in_ready, out_ready;
    uint8_t step_aside;      /* stopped while still writable (see
                              * DUCTA_SENDFILE_BURST): wants a fresh event */
    uint8_t peer_shut;       /* epoll saw the peer shut its writing side:
                              * a short read no longer means "drained",
                              * because the EOF behind it must be read */
    uint8_t after_send;      /* enum ducta_after_send */
    uint8_t answered;        /* a response went out: no longer FRESH */
    uint8_t empty_lines;     /* before the request being read: at most
                              * DUCTA_MAX_EMPTY_LINES */
    uint8_t timer;           /* enum ducta_timer: the deadline it is under */
    uint8_t silent;          /* in the silent list */
};

/* Per worker: everything one thread touches on the request path. */
/* --bind may be given this many times (each address gets one listener
 * per worker). */
enum { DUCTA_MAX_LISTENERS = 8 };

struct ducta_worker {
    int id;
    int epfd;
    /* Every worker listens on each --bind address with its own
     * SO_REUSEPORT socket: listen_fd[0..nlisten), -1 once closed. */
    int listen_fd[DUCTA_MAX_LISTENERS];
    int nlisten;
    int reserve_fd;            /* kept open to shed a connection at EMFILE;
                                * -1 while lost, retaken each round */
    int accept_stalled;        /* the backlog may hold connections that no
                                * new edge will announce: retry each round */
    struct ducta_server *server;  /* ducta.c's, for its wake fd; NULL in
                                   * tests that drive a worker alone */
    const struct ducta_files *files;  /* the server's --root, or NULL */
    uint64_t shed;             /* connections closed at once for lack of
                                * descriptors or slots */
    uint64_t reclaimed;        /* idle or not-yet-started connections
                                * closed to make room for a new one */
    const struct ducta_config *cfg;
    struct ducta_conn *slab;   /* cfg->max_conns slots */
    uint32_t free_first;       /* first free slot, or DUCTA_NO_SLOT */
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
     * entries [0, buf_low) were not taken since the last trim, so they are
     * cold; entries [0, buf_released) have had their pages given back to
     * the kernel already (ducta_buffers_trim, due at trim_due_ms). */
    uint32_t buf_low, buf_released;
    int64_t trim_due_ms;
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
    struct ducta_list timers[DUCTA_TIMER_COUNT];
    struct ducta_list silent;  /* silent connections, oldest first */
    uint64_t timed_out;        /* connections closed by a deadline */
};

enum { DUCTA_NO_SLOT = UINT32_MAX };

int ducta_slab_init(struct ducta_worker *w);
void ducta_slab_free(struct ducta_worker *w);
/* Take a slot for an accepted, non-blocking socket. When the slab is full,
 * the slot of an idle keep-alive connection (oldest first), else of one
 * that has not begun a request (oldest first), is reclaimed: closed, it had
 * nothing in flight. NULL if every slot has a request in flight (the caller
 * closes the socket). */
struct ducta_conn *ducta_conn_open(struct ducta_worker *w, int fd);
/* Run the connection's state machine after the event backend saw the
 * socket change. The bits are the backend's translation of its own events
 * (an error or hang-up sets both, so the next syscall reports it). */
enum { DUCTA_EV_READ = 1, DUCTA_EV_WRITE = 2, DUCTA_EV_PEER_SHUT = 4 };
/* What the connection, now waiting, wants the backend to do: the loop does
 * it, so that conn.c never calls back into ducta.c. */
enum ducta_conn_want {
    DUCTA_WANT_NOTHING = 0,  /* the next edge will come by itself (or the
                              * connection is closed) */
    DUCTA_WANT_REARM,        /* it stepped aside while it could still
                              * write: a fresh event when it is writable,
                              * at once if it is now */
};
enum ducta_conn_want ducta_conn_event(struct ducta_worker *w,
                                      struct ducta_conn *c, unsigned events);
/* The loop calls this once a second: give back the pages of buffer pairs
 * unused since the last call, so memory after a burst returns to what the
 * load needs now. */
void ducta_buffers_trim(struct ducta_worker *w);
/* The deadlines' durations (from the config) and their empty lists. */
void ducta_timers_init(struct ducta_worker *w);
/* Close the connections whose deadline has passed (w->now_ms). */
void ducta_conn_expire(struct ducta_worker *w);
/* Graceful shutdown: close idle connections, let the rest finish. */
void ducta_conn_begin_drain(struct ducta_worker *w, struct ducta_conn *c);
void ducta_conn_close(struct ducta_worker *w, struct ducta_conn *c);

/* ducta.c — the event loop, exposed for the tests that drive a worker
 * without threads or listeners. struct ducta_server (a running server:
 * its workers, wake-up eventfd, port and --root) is private to ducta.c. */
struct ducta_server;
int ducta_worker_init(struct ducta_worker *w, const struct ducta_config *cfg,
                      int id);
void ducta_worker_destroy(struct ducta_worker *w);
/* Register a connected socket with the worker (it becomes a connection).
 * On failure (slab full, epoll refused) the socket is closed and -1 is
 * returned: the caller never closes it. */
int ducta_worker_adopt(struct ducta_worker *w, int fd);
/* One round of the loop: wait up to timeout_ms, dispatch what happened. */
int ducta_worker_poll(struct ducta_worker *w, int timeout_ms);
/* Read the clock into w->now_ms; refresh w->date if the second changed. */
void ducta_worker_tick(struct ducta_worker *w);



/* hpack.c — HTTP/2 header compression (RFC 7541).
 *
 * Two halves, one per direction of a connection, each a fixed-size struct
 * the caller owns (nothing is allocated; the h2 layer keeps one decoder
 * and one encoder per connection). Both hold a dynamic table: a ring of
 * DUCTA_HPACK_TABLE_CAP bytes for names and values plus a ring of entry
 * records, with the RFC's accounting (an entry costs name + value + 32).
 *
 * Decoding, ducta_hpack_decode(): one complete header block (HEADERS plus
 * its CONTINUATIONs, reassembled by the caller) into fields. Names and
 * values are copied into the caller's buf (Huffman strings decoded there,
 * dynamic-table entries copied out, so a later eviction cannot change
 * them), or point at hpack.c's static table; they stay valid while buf
 * does. Its answer:
 *   DUCTA_HPACK_OK         every field is in out->fields[0..count).
 *   DUCTA_HPACK_TOO_LARGE  the list is over out->max_list_size (each field
 *        counts name + value + 32, RFC 9113 §6.5.2) or over the caller's
 *        arrays. The whole block was still decoded, so the dynamic table is
 *        what the peer's encoder thinks it is and the connection can go on:
 *        refuse the stream (431). out->fields is incomplete; do not use it.
 *        Fields past the bound are only measured, never copied, so a small
 *        block that references a large entry many times costs little.
 *   < 0 (DUCTA_HPACK_E_*)  the block is malformed: COMPRESSION_ERROR, the
 *        connection must end (the table is no longer in step with the peer).
 *
 * Table size (§4.2, §6.3): ducta_hpack_decoder_init() starts with the size
 * the peer may assume (4096 until our SETTINGS are acknowledged);
 * ducta_hpack_decoder_set_limit() records a new SETTINGS_HEADER_TABLE_SIZE
 * once acknowledged. If it is below the table's current size, the next
 * block must open with a size update to at most the limit.
 *
 * Encoding, ducta_hpack_encode(): fields into a block, never writing past
 * cap. ducta_hpack_encoder_set_peer_limit() takes the peer's
 * SETTINGS_HEADER_TABLE_SIZE; the next block opens with the size updates
 * the change needs. If the output does not fit (DUCTA_HPACK_E_SPACE),
 * nothing may be sent; the encoder then clears its table and the next
 * block opens with a size update to 0, which clears the peer's too.
 */
enum {
    DUCTA_HPACK_TABLE_DEFAULT = 4096, /* RFC 9113 §6.5.2 initial size */
    DUCTA_HPACK_TABLE_CAP = 4096,     /* the most either table holds */
    DUCTA_HPACK_ENTRY_OVERHEAD = 32,  /* §4.1 */
    DUCTA_HPACK_ENTRIES_CAP = DUCTA_HPACK_TABLE_CAP / DUCTA_HPACK_ENTRY_OVERHEAD,
};

enum ducta_hpack_status {
    DUCTA_HPACK_OK = 0,
    DUCTA_HPACK_TOO_LARGE = 1,       /* a stream error, not a connection one */
    DUCTA_HPACK_E_TRUNCATED = -1,    /* the block ends inside a representation */
    DUCTA_HPACK_E_INTEGER = -2,      /* an integer past 32 bits (§5.1) */
    DUCTA_HPACK_E_INDEX = -3,        /* index 0, or past both tables (§2.3.3) */
    DUCTA_HPACK_E_HUFFMAN = -4,      /* EOS, or bad padding (§5.2) */
    DUCTA_HPACK_E_SIZE_UPDATE = -5,  /* misplaced, too many, too big (§4.2) */
    DUCTA_HPACK_E_SPACE = -6,        /* encoder: the output does not fit */
};

/* Field flags. NEVER_INDEXED: decoded from (or to be encoded as) a literal
 * never indexed (§6.2.3), so a proxy keeps it so. NO_INDEX: encoder only,
 * send without indexing. UPPERCASE: decoder only, the name holds A-Z, which
 * RFC 9113 §8.2.1 makes malformed (the h2 layer decides what to do). */
enum {
    DUCTA_HPACK_F_NEVER_INDEXED = 1,
    DUCTA_HPACK_F_NO_INDEX = 2,
    DUCTA_HPACK_F_UPPERCASE = 4,
};

struct ducta_hpack_field {
    ducta_slice name, value;
    unsigned flags;
};

struct ducta_hpack_entry {
    uint16_t off, name_len, value_len;  /* off: into data[], may wrap */
};

struct ducta_hpack_table {
    uint32_t max_size;  /* the size in force (§4.2), <= DUCTA_HPACK_TABLE_CAP */
    uint32_t size;      /* sum of entry sizes (§4.1) */
    uint32_t count;     /* entries; dynamic index 1 is the newest */
    uint32_t oldest;    /* slot in ent[] of the oldest entry */
    uint32_t head;      /* where the next entry's bytes go in data[] */
    struct ducta_hpack_entry ent[DUCTA_HPACK_ENTRIES_CAP];
    char data[DUCTA_HPACK_TABLE_CAP];
};

struct ducta_hpack_decoder {
    struct ducta_hpack_table table;
    uint32_t limit;       /* the SETTINGS_HEADER_TABLE_SIZE in force */
    int need_update;      /* limit fell below table.max_size */
    /* bytes of a field being added to the table but not delivered */
    char scratch[DUCTA_HPACK_TABLE_CAP];
};

struct ducta_hpack_encoder {
    struct ducta_hpack_table table;
    uint32_t want;        /* min(peer's limit, DUCTA_HPACK_TABLE_CAP) */
    uint32_t low;         /* the smallest want since the last block */
    int pending;          /* the next block opens with size updates */
};

/* Where a decoded block goes. The caller sets the arrays and the bound;
 * decode sets count, buf_len and list_size (the whole list's size, also
 * past the bound). */
struct ducta_hpack_block {
    struct ducta_hpack_field *fields;
    size_t fields_cap, count;
    char *buf;
    size_t buf_cap, buf_len;
    uint64_t max_list_size, list_size;
};

void ducta_hpack_decoder_init(struct ducta_hpack_decoder *d,
                              uint32_t table_size);
void ducta_hpack_decoder_set_limit(struct ducta_hpack_decoder *d,
                                   uint32_t table_size);
int ducta_hpack_decode(struct ducta_hpack_decoder *d, const uint8_t *in,
                       size_t len, struct ducta_hpack_block *out);

void ducta_hpack_encoder_init(struct ducta_hpack_encoder *e,
                              uint32_t peer_table_size);
void ducta_hpack_encoder_set_peer_limit(struct ducta_hpack_encoder *e,
                                        uint32_t peer_table_size);
/* 0 and *len bytes written, or DUCTA_HPACK_E_SPACE. Names must already be
 * lowercase (RFC 9113 §8.2.1); they are sent as given. */
int ducta_hpack_encode(struct ducta_hpack_encoder *e,
                       const struct ducta_hpack_field *fields, size_t n,
                       uint8_t *out, size_t cap, size_t *len);

/* Entry i (1 = newest) of a dynamic table, copied to dst (name then value,
 * cap bytes at most): 0, or -1 if there is no such entry or it does not
 * fit. For tests and debugging. */
int ducta_hpack_table_entry(const struct ducta_hpack_table *t, uint32_t i,
                            char *dst, size_t cap, size_t *name_len,
                            size_t *value_len);

/* The primitives, exposed for tests. Integers (§5.1): decode advances *p
 * and answers 0 or DUCTA_HPACK_E_*; encode answers the bytes written (the
 * first byte's bits above the prefix are `first`), 0 if cap is too small.
 * Huffman (§5.2, Appendix B): 0, DUCTA_HPACK_E_SPACE or _E_HUFFMAN. */
int ducta_hpack_int_decode(const uint8_t **p, const uint8_t *end,
                           unsigned prefix_bits, uint32_t *v);
size_t ducta_hpack_int_encode(uint8_t *dst, size_t cap, unsigned prefix_bits,
                              uint8_t first, uint32_t v);
size_t ducta_hpack_huffman_size(const uint8_t *src, size_t n);
int ducta_hpack_huffman_encode(const uint8_t *src, size_t n, uint8_t *dst,
                               size_t cap, size_t *len);
int ducta_hpack_huffman_decode(const uint8_t *src, size_t n, uint8_t *dst,
                               size_t cap, size_t *len);

#endif /* DUCTA_INTERNAL */

#endif /* DUCTA_H */
