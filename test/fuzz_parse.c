/*
 * fuzz_parse.c — a libFuzzer target for the request parser and the chunked
 * decoder (parse.c), which checks them against themselves.
 *
 * The input is what a client might send: one request head, maybe a body,
 * maybe more requests behind it. Its first byte is also read as the
 * configuration (so a plain request is a good seed as it is):
 *   bits 0-1  the SIMD level the incremental checks run on, taken modulo
 *             the levels this CPU has;
 *   bits 2-3  the limits: 0 the defaults, 1 the defaults with room for
 *             DUCTA_HEADERS_CAP fields, 2 and 3 tight ones, so the
 *             414/431/413 paths are reachable with short inputs;
 *   bits 4-5  how far into its allocation the copy of the input starts
 *             (0, 1, 15 or 33 bytes), so loads are misaligned differently.
 * Split points are drawn from a PRNG seeded with a hash of the input.
 *
 * What is checked (any mismatch calls FUZZ_FAIL, which aborts, so libFuzzer
 * saves the input as a crash):
 *  (a) ducta_parse_request on the whole input: a status from the documented
 *      set, slices inside the head, the limits kept;
 *  (b) the same bytes arriving in pieces through one resumable parser (cut
 *      at random points, and byte by byte): every answer equals that of a
 *      fresh parse of the same prefix, except that a resumed call may defer
 *      a syntax error while the head cannot have ended yet, answering then
 *      only what the length limits say; the final answer, when the whole
 *      input holds a complete head, is the same return value and the same
 *      slices (as offsets) as the whole-input parse;
 *  (c) every SIMD level the CPU has gives exactly the scalar answer;
 *  (d) for a chunked request, ducta_parse_chunked over (a copy of) the rest,
 *      whole and in pieces: same return value, same decoded bytes, the next
 *      request starting at the same byte, decoded length within max_body;
 *      and the head parsed again over head + decoded body (as conn.c does
 *      while a body arrives) gives the same request;
 *  (e) the requests behind it, as a pipelining client sends them, each
 *      checked as above (after the empty lines conn.c skips between them).
 * No parse can read past its bytes unnoticed: the input lives in an exactly
 * sized heap buffer, and under ASan the bytes past the prefix being parsed
 * (and before the start of the copy) are poisoned for the call.
 *
 * test_differential.c includes this file, with FUZZ_FAIL turned into a
 * criterion failure, to run the same checks on generated inputs and to
 * replay test/fuzz-corpus/ through LLVMFuzzerTestOneInput.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sanitizer/asan_interface.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"

/* How a mismatch is reported: the message names the check and shows the
 * input. The fuzzer aborts, so libFuzzer writes the input to a file. */
#ifndef FUZZ_FAIL
#define FUZZ_FAIL(msg) (fputs((msg), stderr), fputc('\n', stderr))
#endif

#define FZ_UNUSED __attribute__((unused))

/* ---- the run's context, for failure messages --------------------------- */

static struct {
    const uint8_t *input;  /* the whole input of this run */
    size_t len;
    const char *stage;     /* which check is running */
    int level;             /* SIMD level in use, or -1 */
    size_t at;             /* offset of the request being checked */
} fz_ctx;

static void fz_escape(char *out, size_t cap, const uint8_t *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        uint8_t c = s[i];
        if (c == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c == '\t')
            o += (size_t)snprintf(out + o, cap - o, "\\t");
        else if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            /* octal, so a following hex digit cannot extend the escape */
            o += (size_t)snprintf(out + o, cap - o, "\\%03o", c);
        else
            out[o++] = (char)c;
    }
    if (o < cap)
        out[o] = 0;
    else if (cap)
        out[cap - 1] = 0;
}

__attribute__((format(printf, 1, 2), noreturn)) static void
fz_fail(const char *fmt, ...)
{
    static char msg[8192], esc[6000];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t o = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    size_t show = fz_ctx.len < 1200 ? fz_ctx.len : 1200;
    fz_escape(esc, sizeof esc, fz_ctx.input, show);
    snprintf(msg + o, sizeof msg - o,
             "\n  check: %s, SIMD level %s, request at offset %zu"
             "\n  input (%zu bytes%s): \"%s\"",
             fz_ctx.stage ? fz_ctx.stage : "?",
             fz_ctx.level < 0 ? "-" : ducta_simd_name((enum ducta_simd)fz_ctx.level),
             fz_ctx.at, fz_ctx.len, show < fz_ctx.len ? ", first 1200 shown" : "",
             esc);
    FUZZ_FAIL(msg);
    abort();  /* FUZZ_FAIL may return (the fuzzer's does): stop here */
}

/* ---- SIMD levels -------------------------------------------------------- */

static int fz_levels[3], fz_nlevels;

static void fz_init_levels(void)
{
    if (fz_nlevels)
        return;
    enum ducta_simd was = ducta_simd_get();
    for (int l = DUCTA_SIMD_SCALAR; l <= DUCTA_SIMD_AVX2; l++)
        if (ducta_simd_set((enum ducta_simd)l) == 0)
            fz_levels[fz_nlevels++] = l;
    ducta_simd_set(was);
}

static void fz_set_level(int l)
{
    if (ducta_simd_set((enum ducta_simd)l) != 0)
        fz_fail("ducta_simd_set(%d) refused a level it accepted before", l);
    fz_ctx.level = l;
}

/* ---- a small PRNG (splitmix64) ------------------------------------------ */

static FZ_UNUSED uint64_t fz_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [0, n), n > 0 */
static FZ_UNUSED size_t fz_below(uint64_t *s, size_t n)
{
    return (size_t)(fz_rand(s) % n);
}

static uint64_t fz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;  /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* ---- buffers whose every byte past the end is a reported error ---------- */

/* n bytes (a copy of src, if given) in an allocation of exactly n bytes,
 * or of 1 poisoned byte when n is 0, so no pointer is ever NULL. */
static char *fz_dup(const void *src, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (!p)
        abort();
    if (src && n)
        memcpy(p, src, n);
    if (!n)
        ASAN_POISON_MEMORY_REGION(p, 1);
    return p;
}

static void fz_free(char *p, size_t n)
{
    ASAN_UNPOISON_MEMORY_REGION(p, n ? n : 1);
    free(p);
}

/* ---- request snapshots: every field, slices as offsets ----------------- */

typedef struct {
    int inside;       /* points into the buffer (else: static storage) */
    size_t off, len;  /* off from the buffer's start, if inside */
    const char *ptr;  /* the pointer itself, if not */
} fz_span;

struct fz_snap {
    ssize_t rc;
    fz_span method, target, path, query, authority, body;
    int minor_version, keep_alive, chunked, expect_continue;
    uint64_t content_length;
    size_t nheaders;
    fz_span name[DUCTA_HEADERS_CAP], value[DUCTA_HEADERS_CAP];
};

static fz_span fz_span_of(const char *base, size_t cap, ducta_slice s)
{
    fz_span r = {0, 0, s.len, s.ptr};
    if (s.ptr >= base && s.ptr <= base + cap) {
        r.inside = 1;
        r.off = (size_t)(s.ptr - base);
        r.ptr = NULL;
    }
    return r;
}

static void fz_snap(struct fz_snap *s, ssize_t rc, const char *base,
                    size_t cap, const struct ducta_request *req)
{
    memset(s, 0, offsetof(struct fz_snap, name));
    s->rc = rc;
    if (rc <= 0)
        return;  /* the request is not defined: only the answer counts */
    s->method = fz_span_of(base, cap, req->method);
    s->target = fz_span_of(base, cap, req->target);
    s->path = fz_span_of(base, cap, req->path);
    s->query = fz_span_of(base, cap, req->query);
    s->authority = fz_span_of(base, cap, req->authority);
    s->body = fz_span_of(base, cap, req->body);
    s->minor_version = req->minor_version;
    s->keep_alive = req->keep_alive;
    s->chunked = req->chunked;
    s->expect_continue = req->expect_continue;
    s->content_length = req->content_length;
    s->nheaders = req->nheaders;
    for (size_t i = 0; i < req->nheaders && i < DUCTA_HEADERS_CAP; i++) {
        s->name[i] = fz_span_of(base, cap, req->headers[i].name);
        s->value[i] = fz_span_of(base, cap, req->headers[i].value);
    }
}

static int fz_span_eq(const fz_span *a, const fz_span *b)
{
    return a->inside == b->inside && a->len == b->len &&
           (a->inside ? a->off == b->off : a->ptr == b->ptr);
}

/* NULL if equal, else the name of the first field that differs */
static const char *fz_snap_diff(const struct fz_snap *a, const struct fz_snap *b)
{
    if (a->rc != b->rc)
        return "return value";
    if (a->rc <= 0)
        return NULL;
#define SPAN(f) if (!fz_span_eq(&a->f, &b->f)) return #f
#define FIELD(f) if (a->f != b->f) return #f
    SPAN(method); SPAN(target); SPAN(path); SPAN(query); SPAN(authority);
    SPAN(body);
    FIELD(minor_version); FIELD(keep_alive); FIELD(chunked);
    FIELD(expect_continue); FIELD(content_length); FIELD(nheaders);
    static char field[64];
    for (size_t i = 0; i < a->nheaders && i < DUCTA_HEADERS_CAP; i++) {
        int name = !fz_span_eq(&a->name[i], &b->name[i]);
        if (name || !fz_span_eq(&a->value[i], &b->value[i])) {
            snprintf(field, sizeof field, "field %zu's %s", i,
                     name ? "name" : "value");
            return field;
        }
    }
#undef SPAN
#undef FIELD
    return NULL;
}

static void fz_expect_same(const struct fz_snap *want, const struct fz_snap *got,
                           const char *what)
{
    const char *d = fz_snap_diff(want, got);
    if (d)
        fz_fail("%s: %s differs (return value %zd, expected %zd)", what, d,
                got->rc, want->rc);
}

/* ---- (a) one parse, and what any answer must satisfy -------------------- */

static struct ducta_request fz_req_a, fz_req_b;  /* big: keep off the stack */

/* parse.c's METHOD_MAX: a longer method is a 501 (RFC 9112 §3) */
enum { FZ_METHOD_MAX = 20 };

/* Parse buf[0..k) of a buffer holding cap bytes from buf on, with the bytes
 * past k poisoned for the call. */
static ssize_t fz_parse(struct ducta_parser *p, const struct ducta_limits *lim,
                        const char *buf, size_t k, size_t cap,
                        struct ducta_request *req)
{
    ASAN_POISON_MEMORY_REGION(buf + k, cap - k);
    ssize_t rc = ducta_parse_request(p, lim, buf, k, req);
    ASAN_UNPOISON_MEMORY_REGION(buf + k, cap - k);
    return rc;
}

static void fz_check_span(const fz_span *s, size_t head, const char *what)
{
    if (s->inside && s->off + s->len > head)
        fz_fail("%s [%zu, +%zu) lies outside the head of %zu bytes", what,
                s->off, s->len, head);
    if (!s->inside && s->len > 1)
        fz_fail("%s points outside the buffer", what);
}

static void fz_check_answer(const struct fz_snap *s, size_t len,
                            const struct ducta_limits *lim)
{
    ssize_t rc = s->rc;
    if (rc < 0) {
        switch (rc) {
        case -400: case -413: case -414: case -417: case -431: case -501:
        case -505:
            return;
        }
        fz_fail("undocumented status %zd", -rc);
    }
    if (rc == 0)
        return;
    size_t head = (size_t)rc;
    if (head > len)
        fz_fail("head length %zu beyond the %zu bytes given", head, len);
    size_t line = s->method.len + 1 + s->target.len + 1 + 10;
    if (head - line > lim->max_head)
        fz_fail("field section of %zu bytes accepted with max_head %zu",
                head - line, lim->max_head);
    if (s->nheaders > lim->max_headers)
        fz_fail("%zu fields accepted with max_headers %zu", s->nheaders,
                lim->max_headers);
    if (!s->chunked && s->content_length > lim->max_body)
        fz_fail("Content-Length %llu accepted with max_body %zu",
                (unsigned long long)s->content_length, lim->max_body);
    if (s->method.off != 0 || !s->method.inside || s->method.len == 0)
        fz_fail("method does not start the buffer");
    if (line > lim->max_request_line)
        fz_fail("request line longer than max_request_line %zu accepted",
                lim->max_request_line);
    if (s->method.len > FZ_METHOD_MAX)
        fz_fail("a method of %zu bytes accepted", s->method.len);
    if (s->minor_version != 0 && s->minor_version != 1)
        fz_fail("minor version %d", s->minor_version);
    fz_check_span(&s->method, head, "method");
    fz_check_span(&s->target, head, "target");
    fz_check_span(&s->path, head, "path");
    fz_check_span(&s->query, head, "query");
    fz_check_span(&s->authority, head, "authority");
    if (!s->body.inside || s->body.off != head || s->body.len != 0)
        fz_fail("body slice is not empty at the end of the head");
    for (size_t i = 0; i < s->nheaders; i++) {
        fz_check_span(&s->name[i], head, "field name");
        fz_check_span(&s->value[i], head, "field value");
        if (!s->name[i].len)
            fz_fail("empty field name accepted");
    }
}

/* ---- (b) resumption ------------------------------------------------------ */

/* What a resumed call may answer instead of a fresh parse's error, while
 * the head cannot have ended: the verdict of the length limits alone. */
static ssize_t fz_deferred(const struct ducta_limits *lim, const char *buf,
                           size_t k)
{
    const char *lf = memchr(buf, '\n', k);
    if (!lf) {
        size_t m = 0;  /* the method: the tchars that start the line */
        while (m < k && m <= FZ_METHOD_MAX &&
               (isalnum((unsigned char)buf[m]) ||
                (buf[m] && strchr("!#$%&'*+-.^_`|~", buf[m]))))
            m++;
        if (m > FZ_METHOD_MAX)
            return -501;
        return k > lim->max_request_line ? -414 : 0;
    }
    if ((size_t)(lf - buf + 1) > lim->max_request_line)
        return -414;
    if (k - (size_t)(lf - buf + 1) >= lim->max_head)
        return -431;
    return 0;
}

/* Cut points 0 < cuts[0] < ... < cuts[n-1] = len, for feeding buf[0..len)
 * in pieces. */
static size_t fz_cuts(uint64_t *rng, const char *buf, size_t len, size_t *cuts,
                      size_t max)
{
    size_t n = 0, at = 0;
    if (!len)
        return 0;
    unsigned mode = (unsigned)fz_below(rng, 5);
    while (at < len && n + 1 < max) {
        size_t next;
        switch (mode) {
        case 0:  /* anywhere */
            next = at + 1 + fz_below(rng, len / 4 + 1);
            break;
        case 1:  /* a few bytes at a time */
            next = at + 1 + fz_below(rng, 3);
            break;
        case 2:  /* next to a 64-byte block boundary */
            next = (at / 64 + 1) * 64 + fz_below(rng, 3) - 1;
            break;
        case 3:  /* once */
            next = at + 1 + fz_below(rng, len);
            break;
        default: {  /* just before or after a CR or LF: line ends split */
            const char *cr = memchr(buf + at, '\r', len - at);
            const char *lf = memchr(buf + at, '\n', len - at);
            const char *e = !cr ? lf : !lf ? cr : cr < lf ? cr : lf;
            next = e ? (size_t)(e - buf) + fz_below(rng, 2) : len;
            break;
        }
        }
        if (next <= at)
            next = at + 1;
        at = next < len ? next : len;
        cuts[n++] = at;
    }
    if (!n || cuts[n - 1] != len)
        cuts[n++] = len;
    return n;
}

/* Feed buf[0..len) to one resumable parser, cut at cuts[], until it
 * answers something other than "incomplete"; with `each`, check every
 * answer against a fresh parse of the same prefix (else only the last).
 * Then hold the final answer against want, the whole input's: the same
 * request if that was complete, "incomplete" if that was, and no request
 * if that was an error. */
static void fz_pieces(const struct ducta_limits *lim, const char *buf,
                      size_t len, const size_t *cuts, size_t ncuts, int each,
                      const struct fz_snap *want)
{
    static struct fz_snap got, fresh_snap;
    struct ducta_parser p = {0};
    ssize_t rc = 0;
    for (size_t i = 0; i < ncuts; i++) {
        size_t k = cuts[i];
        rc = fz_parse(&p, lim, buf, k, len, &fz_req_a);
        if (each || rc != 0 || i + 1 == ncuts) {
            struct ducta_parser fresh = {0};
            ssize_t f = fz_parse(&fresh, lim, buf, k, len, &fz_req_b);
            fz_snap(&fresh_snap, f, buf, len, &fz_req_b);
            fz_snap(&got, rc, buf, len, &fz_req_a);
            if (rc != f) {
                if (f >= 0 || rc != fz_deferred(lim, buf, k))
                    fz_fail("resumed parse of a %zu-byte prefix (piece %zu of "
                            "%zu) answered %zd, a fresh parse %zd",
                            k, i + 1, ncuts, rc, f);
            } else {
                fz_expect_same(&fresh_snap, &got, "resumed parse vs fresh parse");
            }
        }
        if (rc != 0)
            break;
    }
    fz_snap(&got, rc, buf, len, &fz_req_a);
    if (want->rc > 0)
        fz_expect_same(want, &got, "in pieces vs whole");
    else if (want->rc == 0 ? rc != 0 : rc > 0)
        fz_fail("in pieces answered %zd, whole %zd", rc, want->rc);
}

/* ---- (d) chunked bodies ------------------------------------------------- */

struct fz_chunk_out {
    ssize_t rc;
    size_t consumed;  /* raw bytes the body took (rc == 1) */
};

/* Decode raw[0..n) whole and in pieces; both must agree. If rc == 1 and
 * head is given, parse head + decoded body again (conn.c's re-parse). */
static struct fz_chunk_out fz_chunked(const struct ducta_limits *lim,
                                      const char *raw, size_t n, uint64_t *rng,
                                      size_t bytewise_max, const char *head,
                                      size_t head_len, const struct fz_snap *want)
{
    const char *stage = fz_ctx.stage;
    fz_ctx.stage = "chunked, whole";
    char *whole = fz_dup(raw, n);
    struct ducta_chunked ck = {0};
    size_t l = n;
    ssize_t rc = ducta_parse_chunked(&ck, lim, whole, &l);
    struct fz_chunk_out out = {rc, 0};
    if (rc != 1 && rc != 0 && rc != -400 && rc != -413 && rc != -431)
        fz_fail("ducta_parse_chunked answered %zd", rc);
    if (rc >= 0) {
        if (l > n || ck.decoded > l)
            fz_fail("chunked: decoded %zu, length %zu, of %zu raw bytes",
                    ck.decoded, l, n);
        if (ck.decoded > lim->max_body)
            fz_fail("chunked: decoded %zu bytes with max_body %zu", ck.decoded,
                    lim->max_body);
    }
    if (rc == 1) {
        out.consumed = n - (l - ck.decoded);
        if (memcmp(whole + ck.decoded, raw + out.consumed, l - ck.decoded))
            fz_fail("chunked: the bytes after the body were changed");
    }

    /* twice in pieces: random cuts, then (if short) byte by byte */
    size_t *cuts = malloc((n > 64 ? n : 64) * sizeof *cuts);
    if (!cuts)
        abort();
    for (int pass = 0; pass < 2; pass++) {
        size_t ncuts;
        if (pass == 0) {
            fz_ctx.stage = "chunked, in pieces";
            ncuts = fz_cuts(rng, raw, n, cuts, 64);
        } else {
            if (n > bytewise_max)
                break;
            fz_ctx.stage = "chunked, byte by byte";
            for (ncuts = 0; ncuts < n; ncuts++)
                cuts[ncuts] = ncuts + 1;
        }
        char *buf = fz_dup(NULL, n);
        struct ducta_chunked ck2 = {0};
        size_t have = 0, fed = 0;
        ssize_t rc2 = 0;
        for (size_t i = 0; i < ncuts; i++) {
            memcpy(buf + have, raw + fed, cuts[i] - fed);
            have += cuts[i] - fed;
            fed = cuts[i];
            ASAN_POISON_MEMORY_REGION(buf + have, n - have);
            rc2 = ducta_parse_chunked(&ck2, lim, buf, &have);
            ASAN_UNPOISON_MEMORY_REGION(buf + have, n - have);
            if (rc2 >= 0 && ck2.decoded > lim->max_body)
                fz_fail("chunked: decoded %zu bytes with max_body %zu",
                        ck2.decoded, lim->max_body);
            if (rc2 != 0)
                break;
        }
        if (n == 0)
            rc2 = 0, have = 0;  /* nothing arrived: nothing to call with */
        if (rc2 != rc)
            fz_fail("chunked: in pieces answered %zd, whole %zd", rc2, rc);
        if (rc >= 0) {
            if (ck2.decoded != ck.decoded ||
                memcmp(buf, whole, ck.decoded) != 0)
                fz_fail("chunked: in pieces decoded %zu bytes, whole %zu, or "
                        "other bytes", ck2.decoded, ck.decoded);
            size_t pending = have - ck2.decoded;
            if (rc == 1 && fed - pending != out.consumed)
                fz_fail("chunked: in pieces the next request starts at raw "
                        "byte %zu, whole at %zu", fed - pending, out.consumed);
            if (rc == 0 && (pending != l - ck.decoded ||
                            memcmp(buf + ck2.decoded, whole + ck.decoded,
                                   pending) != 0))
                fz_fail("chunked: in pieces %zu raw bytes wait, whole %zu",
                        pending, l - ck.decoded);
        }
        if (pass == 0 && rc2 == 1 && head) {
            /* conn.c parses the head again over head + decoded body */
            fz_ctx.stage = "head parsed again after the body";
            char *again = fz_dup(NULL, head_len + have);
            memcpy(again, head, head_len);
            memcpy(again + head_len, buf, have);
            struct ducta_parser p = {0};
            static struct fz_snap got;
            ssize_t r = fz_parse(&p, lim, again, head_len + have,
                                 head_len + have, &fz_req_b);
            fz_snap(&got, r, again, head_len + have, &fz_req_b);
            fz_expect_same(want, &got, "head parsed again over the decoded body");
            fz_free(again, head_len + have);
        }
        fz_free(buf, n);
    }
    free(cuts);
    fz_free(whole, n);
    fz_ctx.stage = stage;
    return out;
}

/* ---- one request: (a) to (d) --------------------------------------------- */

struct fz_config {
    struct ducta_limits lim;
    int level;            /* index into fz_levels[] (the levels the CPU
                           * has) of the one the incremental checks use
                           * first */
    size_t align;         /* the copy starts this far into its allocation */
    uint64_t seed;        /* split points */
    size_t bytewise_max;  /* also feed byte by byte up to this length */
};

/* Check the request at buf[0..len) (len: to the end of the allocation).
 * Returns how many bytes it and its body take, or 0 if no next request can
 * be found after it. */
static size_t fz_request(const struct fz_config *cfg, const char *buf,
                         size_t len, uint64_t *rng)
{
    const struct ducta_limits *lim = &cfg->lim;
    static struct fz_snap want, got;

    /* (a) and (c): the whole input, every level, scalar first */
    fz_ctx.stage = "whole input, every SIMD level";
    for (int i = 0; i < fz_nlevels; i++) {
        fz_set_level(fz_levels[i]);
        struct ducta_parser p = {0};
        ssize_t rc = fz_parse(&p, lim, buf, len, len, &fz_req_a);
        fz_snap(i ? &got : &want, rc, buf, len, &fz_req_a);
        if (i == 0)
            fz_check_answer(&want, len, lim);
        else
            fz_expect_same(&want, &got, "this SIMD level vs scalar");
    }

    /* (b): in pieces, on every level (the configured one first), then byte
     * by byte on the configured one */
    size_t cuts[64];
    for (int i = 0; i < fz_nlevels && len; i++) {
        fz_set_level(fz_levels[(cfg->level + i) % fz_nlevels]);
        fz_ctx.stage = "in pieces";
        size_t ncuts = fz_cuts(rng, buf, len, cuts, 64);
        fz_pieces(lim, buf, len, cuts, ncuts, 1, &want);
        if (i == 0 && len <= cfg->bytewise_max) {
            fz_ctx.stage = "byte by byte";
            size_t *one = malloc(len * sizeof *one);
            if (!one)
                abort();
            for (size_t k = 0; k < len; k++)
                one[k] = k + 1;
            fz_pieces(lim, buf, len, one, len, 0, &want);
            free(one);
        }
    }
    fz_set_level(fz_levels[cfg->level % fz_nlevels]);

    if (want.rc <= 0)
        return 0;
    size_t head = (size_t)want.rc;
    if (want.chunked) {
        struct fz_chunk_out c = fz_chunked(lim, buf + head, len - head, rng,
                                           cfg->bytewise_max, buf, head, &want);
        return c.rc == 1 ? head + c.consumed : 0;
    }
    if (want.content_length > len - head)
        return 0;
    return head + (size_t)want.content_length;
}

/* All checks on one input, under one configuration. */
static void fz_check(const uint8_t *data, size_t len, const struct fz_config *cfg)
{
    fz_init_levels();
    enum ducta_simd was = ducta_simd_get();
    fz_ctx.input = data;
    fz_ctx.len = len;
    fz_ctx.at = 0;
    fz_ctx.level = -1;
    uint64_t rng = cfg->seed;

    size_t align = cfg->align;
    char *alloc = fz_dup(NULL, align + len);
    char *buf = alloc + align;
    if (len)
        memcpy(buf, data, len);
    ASAN_POISON_MEMORY_REGION(alloc, align);

    /* (e): the requests one after another, as a pipelining client sends
     * them; each is checked as if it were the start of the input */
    size_t at = 0;
    for (int n = 0; n < 256; n++) {
        fz_ctx.at = at;
        size_t used = fz_request(cfg, buf + at, len - at, &rng);
        if (!used || at + used >= len)
            break;
        at += used;
        /* conn.c skips empty lines before a request (RFC 9112 §2.2) */
        while (len - at >= 2 && buf[at] == '\r' && buf[at + 1] == '\n')
            at += 2;
        if (at == len)
            break;
    }

    ASAN_UNPOISON_MEMORY_REGION(alloc, align);
    fz_free(alloc, align + len);
    ducta_simd_set(was);
    fz_ctx.stage = NULL;
    fz_ctx.level = -1;
}

/* ---- the fuzzer's entry point ------------------------------------------- */

static const struct ducta_limits fz_presets[4] = {
    {DUCTA_DEFAULT_MAX_REQUEST_LINE, DUCTA_DEFAULT_MAX_HEAD,
     DUCTA_DEFAULT_MAX_HEADERS, DUCTA_DEFAULT_MAX_BODY},
    /* the most fields the request has room for, a larger body */
    {DUCTA_DEFAULT_MAX_REQUEST_LINE, DUCTA_DEFAULT_MAX_HEAD,
     DUCTA_HEADERS_CAP, 1 << 20},
    {64, 128, 4, 64},  /* limits on 64-byte block boundaries */
    {33, 300, 2, 5},
};

/* The configuration the fuzzer derives from an input (see the top). */
static FZ_UNUSED struct fz_config fz_config_of(const uint8_t *data, size_t size)
{
    static const size_t aligns[4] = {0, 1, 15, 33};
    uint8_t b = size ? data[0] : 0;
    fz_init_levels();
    return (struct fz_config){
        .lim = fz_presets[(b >> 2) & 3],
        .level = (b & 3) % fz_nlevels,
        .align = aligns[(b >> 4) & 3],
        .seed = fz_hash(data, size),
        .bytewise_max = 4096,
    };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_config cfg = fz_config_of(data, size);
    fz_check(data, size, &cfg);
    return 0;
}
