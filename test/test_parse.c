/*
 * test_parse.c — the request parser: slices, resumption, and rejections.
 * Each rejection names the RFC 9112 section it enforces. Every test runs
 * once per SIMD level the CPU has (scalar, SSE4.2, AVX2): the levels must
 * not differ in any answer.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"

static struct ducta_request req;
static const struct ducta_limits lim = {
    DUCTA_DEFAULT_MAX_REQUEST_LINE, DUCTA_DEFAULT_MAX_HEAD,
    DUCTA_DEFAULT_MAX_HEADERS, DUCTA_DEFAULT_MAX_BODY};

static ssize_t parse_n(const char *s, size_t n)
{
    struct ducta_parser p = {0};
    return ducta_parse_request(&p, &lim, s, n, &req);
}

static ssize_t parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* Run the body once per SIMD level this CPU supports. */
#define EACH_LEVEL                                                         \
    for (int level_ = DUCTA_SIMD_SCALAR; level_ <= DUCTA_SIMD_AVX2;        \
         level_++)                                                         \
        if (ducta_simd_set((enum ducta_simd)level_) == 0)

static int slice_eq(ducta_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static const char tfb[] =
    "GET /plaintext?x=1&y HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Accept: text/plain , */*  \r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

Test(parse, slices_point_into_the_buffer)
{
    EACH_LEVEL {
        ssize_t n = parse(tfb);
        cr_assert_eq(n, (ssize_t)strlen(tfb));
        cr_assert(slice_eq(req.method, "GET"));
        cr_assert(slice_eq(req.target, "/plaintext?x=1&y"));
        cr_assert(slice_eq(req.path, "/plaintext"));
        cr_assert(slice_eq(req.query, "x=1&y"));
        cr_assert_eq(req.minor_version, 1);
        cr_assert_eq(req.nheaders, 3);
        cr_assert(slice_eq(req.headers[0].name, "Host"));
        cr_assert(slice_eq(req.headers[0].value, "localhost:8080"));
        /* OWS around the value is not part of it (RFC 9112 §5) */
        cr_assert(slice_eq(req.headers[1].value, "text/plain , */*"));
        cr_assert(req.method.ptr == tfb, "zero-copy: slices alias the input");
        cr_assert(req.headers[2].value.ptr > tfb &&
                  req.headers[2].value.ptr < tfb + sizeof tfb);
        cr_assert_eq(req.keep_alive, 1);
        cr_assert_eq(req.content_length, 0);
    }
}

Test(parse, header_lookup_is_case_insensitive)
{
    EACH_LEVEL {
        cr_assert_gt(parse(tfb), 0);
        const ducta_slice *v = ducta_header_get(&req, "hOsT");
        cr_assert_not_null(v);
        cr_assert(slice_eq(*v, "localhost:8080"));
        cr_assert_null(ducta_header_get(&req, "Cookie"));
    }
}

Test(parse, every_prefix_is_incomplete_and_resumes)
{
    EACH_LEVEL {
        /* feeding one byte more each time must say "incomplete" until the last
         * byte, then give the same result as a single call */
        size_t len = strlen(tfb);
        struct ducta_parser p = {0};
        for (size_t k = 1; k < len; k++)
            cr_assert_eq(ducta_parse_request(&p, &lim, tfb, k, &req), 0,
                         "prefix of %zu bytes", k);
        cr_assert_eq(ducta_parse_request(&p, &lim, tfb, len, &req), (ssize_t)len);
        cr_assert(slice_eq(req.path, "/plaintext"));
        cr_assert_eq(req.nheaders, 3);
    }
}

Test(parse, resumption_does_not_miss_a_head_end_split_across_reads)
{
    EACH_LEVEL {
        size_t len = strlen(tfb);
        for (size_t k = 1; k < len; k++) {
            struct ducta_parser p = {0};
            cr_assert_eq(ducta_parse_request(&p, &lim, tfb, k, &req), 0);
            cr_assert_eq(ducta_parse_request(&p, &lim, tfb, len, &req), (ssize_t)len,
                         "split at %zu", k);
        }
    }
}

Test(parse, pipelined_requests_end_where_the_head_ends)
{
    EACH_LEVEL {
        char two[512];
        snprintf(two, sizeof two, "%s%s", tfb, tfb);
        ssize_t n = parse(two);
        cr_assert_eq(n, (ssize_t)strlen(tfb));
    }
}

Test(parse, connection_semantics)
{
    EACH_LEVEL {
        /* RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only if asked */
        cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 0);
        cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, close\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 0);
        cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
        cr_assert_eq(req.minor_version, 0);
        cr_assert_eq(req.keep_alive, 0);
        cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 1);
    }
}

Test(parse, content_length)
{
    EACH_LEVEL {
        cr_assert_gt(parse("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n"), 0);
        cr_assert_eq(req.content_length, 42);
        /* §6.3: 1*DIGIT, once, no overflow */
        cr_assert_eq(parse("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 4x\r\n\r\n"), -400);
        cr_assert_eq(parse("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), -400);
        cr_assert_eq(parse("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n"), -400);
        cr_assert_eq(parse("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"), -400);
        cr_assert_eq(parse("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"), -400);
    }
}

Test(parse, transfer_encoding_is_not_guessed)
{
    EACH_LEVEL {
        /* §6.1: with Content-Length too, or on 1.0, the framing is faulty */
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), -400);
        cr_assert_eq(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), -400);
        cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
        cr_assert_eq(req.chunked, 1);
        cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n"), 0);
        /* §6.1: a coding we cannot decode is a 501 */
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), -501);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), -501);
        /* §6.3 item 4: chunked not last, or twice: length unknowable */
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), -400);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), -400);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n"), -400);
    }
}

Test(parse, request_line_rejections)
{
    EACH_LEVEL {
        /* §3: method SP request-target SP HTTP-version CRLF, one SP each */
        cr_assert_eq(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("GET /\r\n\r\n"), -400);  /* HTTP/0.9 */
        cr_assert_eq(parse("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
        /* RFC 9110 §15.6.6: only major version 1 is spoken here */
        cr_assert_eq(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), -505);
        cr_assert_eq(parse("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), -505);
        /* a prefix that can no longer become valid is rejected at once */
        cr_assert_eq(parse("GET / HTTX"), -400);
        cr_assert_eq(parse("GET / HTTP/1."), 0);
    }
}

Test(parse, field_rejections)
{
    EACH_LEVEL {
        /* §5.1: no whitespace between field name and colon */
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), -400);
        /* §5.2: obs-fold */
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n"), -400);
        /* §2.2: bare CR; bare LF (our documented choice) */
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\n"), -400);
        /* control bytes in a value */
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n"), -400);
        static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
        struct ducta_parser p = {0};
        cr_assert_eq(ducta_parse_request(&p, &lim, nul, sizeof nul - 1, &req), -400);
        /* empty name */
        cr_assert_eq(parse("GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n"), -400);
        /* obs-text is allowed in values (§5.5) */
        cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n"), 0);
    }
}

/* The scanner keeps per 64-byte block which bytes end a name and which end
 * a line, and carries a name that runs past a block's end into the next
 * one: a field name of every length from 1 to 130, so that its end falls
 * at every offset of a block, and across the boundary of a second one. */
Test(parse, field_names_of_every_length_across_blocks)
{
    EACH_LEVEL {
        for (size_t n = 1; n <= 130; n++) {
            char in[512], name[140];
            memset(name, 'x', n);
            name[n] = 0;
            int len = snprintf(in, sizeof in,
                               "GET / HTTP/1.1\r\nHost: a\r\n%s: v \r\n\r\n",
                               name);
            cr_assert_eq(parse(in), len, "name of %zu bytes", n);
            cr_assert_eq(req.nheaders, 2);
            cr_assert_eq(req.headers[1].name.len, n);
            cr_assert(slice_eq(req.headers[1].value, "v"));
            /* the same with a space before the colon: 400 wherever it is */
            name[n - 1] = ' ';
            snprintf(in, sizeof in,
                     "GET / HTTP/1.1\r\nHost: a\r\n%s: v\r\n\r\n", name);
            cr_assert_eq(parse(in), -400, "name of %zu bytes", n);
        }
    }
}

/* A head cut right after a line's LF is not complete, whatever the length
 * (around block boundaries, where the scanner's window ends), even when
 * the bytes after the cut, which the parser must not look at, would end
 * it. (A version of the walk read one byte past the buffer there, at 63,
 * 127, 191 bytes, and took it for the CR of the last line.) */
Test(parse, head_cut_after_a_line_is_incomplete_at_every_length)
{
    EACH_LEVEL {
        for (size_t len = 40; len <= 200; len++) {
            char *in = malloc(len + 2);
            cr_assert_not_null(in);
            int k = snprintf(in, len + 1, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
            memset(in + k, 'v', len - 2 - (size_t)k);
            memcpy(in + len - 2, "\r\n\r\n", 4);
            cr_assert_eq(parse_n(in, len), 0, "%zu bytes", len);
            cr_assert_eq(parse_n(in, len + 2), (ssize_t)(len + 2), "%zu bytes", len);
            cr_assert_eq(req.headers[1].value.len, len - 2 - (size_t)k);
            free(in);
        }
    }
}

/* What the block-wide checks leave to the walk: a control byte or a bare
 * CR right before a LF, at the end of the head or of a line. */
Test(parse, control_byte_right_before_a_line_feed)
{
    EACH_LEVEL {
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nX: b\x01\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nX: \r\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\x01\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\x7f\n\r\n"), -400);
    }
}

Test(parse, host_rules)
{
    EACH_LEVEL {
        /* §3.2: a 1.1 request has exactly one Host */
        cr_assert_eq(parse("GET / HTTP/1.1\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), -400);
        cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
    }
}

Test(parse, limits)
{
    EACH_LEVEL {
        static char buf[3 * DUCTA_DEFAULT_MAX_HEAD];
        /* a request line longer than its limit: 414, even before it ends */
        memset(buf, 0, sizeof buf);
        strcpy(buf, "GET /");
        memset(buf + 5, 'a', DUCTA_DEFAULT_MAX_REQUEST_LINE);
        cr_assert_eq(parse(buf), -414);
        strcat(buf, " HTTP/1.1\r\nHost: a\r\n\r\n");
        cr_assert_eq(parse(buf), -414);

        /* a header block past its limit: 431 */
        memset(buf, 0, sizeof buf);
        strcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
        size_t at = strlen(buf);
        memset(buf + at, 'b', DUCTA_DEFAULT_MAX_HEAD);
        cr_assert_eq(parse(buf), -431);
        strcat(buf, "\r\n\r\n");
        cr_assert_eq(parse(buf), -431);

        /* one field more than the limit: 431 */
        memset(buf, 0, sizeof buf);
        strcpy(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
        for (int i = 0; i < DUCTA_DEFAULT_MAX_HEADERS; i++)
            strcat(buf, "X: y\r\n");
        strcat(buf, "\r\n");
        cr_assert_eq(parse(buf), -431);
    }
}

Test(parse, target_forms)
{
    EACH_LEVEL {
        /* §3.2.2 absolute-form: the path comes from the target */
        cr_assert_gt(parse("GET http://example.com:81/a/b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        cr_assert(slice_eq(req.path, "/a/b"));
        cr_assert(slice_eq(req.query, "q=1"));
        cr_assert(slice_eq(req.authority, "example.com:81"));
        cr_assert_gt(parse("GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        cr_assert(slice_eq(req.path, "/"));
        cr_assert_eq(parse("GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
        /* §3.2.1 origin-form; Host gives the authority */
        cr_assert_gt(parse("GET /x HTTP/1.1\r\nHost: h:1\r\n\r\n"), 0);
        cr_assert(slice_eq(req.authority, "h:1"));
        /* neither form */
        cr_assert_eq(parse("GET x/y HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
        /* §3.2.4 asterisk-form is for OPTIONS only */
        cr_assert_gt(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
        cr_assert(slice_eq(req.path, "*"));
        cr_assert_eq(parse("GET * HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
        /* §3.2.3 authority-form (CONNECT): we are not a proxy */
        cr_assert_eq(parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), -501);
        /* the HTTP/2 preface is a clean 505, not a hang */
        cr_assert_eq(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), -505);
    }
}

Test(parse, expect)
{
    EACH_LEVEL {
        /* RFC 9110 §10.1.1: 100-continue is the one expectation */
        cr_assert_gt(parse("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n"), 0);
        cr_assert_eq(req.expect_continue, 1);
        cr_assert_eq(parse("POST /e HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n"), -417);
        /* a 1.0 client never waits for 100 (§10.1.1: it must be ignored) */
        cr_assert_gt(parse("POST /e HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"), 0);
        cr_assert_eq(req.expect_continue, 0);
    }
}

Test(parse, body_limit_is_checked_before_the_body)
{
    struct ducta_limits small = lim;
    small.max_body = 10;
    struct ducta_parser p = {0};
    const char *r = "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    cr_assert_eq(ducta_parse_request(&p, &small, r, strlen(r), &req), -413);
    r = "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n";
    cr_assert_gt(ducta_parse_request(&p, &small, r, strlen(r), &req), 0);
}

/* Decode a chunked body given as a string; returns the result and leaves
 * the decoded bytes and what followed in out/rest. */
static char ck_buf[4096];
static ssize_t chunked(const char *in, size_t *decoded, const char **rest)
{
    struct ducta_chunked ck = {0};
    size_t len = strlen(in);
    memcpy(ck_buf, in, len);
    ssize_t r = ducta_parse_chunked(&ck, &lim, ck_buf, &len);
    *decoded = ck.decoded;
    ck_buf[len] = 0;
    *rest = ck_buf + ck.decoded;
    return r;
}

Test(parse, chunked_decodes_in_place)
{
    size_t n;
    const char *rest;
    /* §7.1: chunks, an extension, the last chunk, trailers (dropped) */
    cr_assert_eq(chunked("5\r\nHello\r\n8;ext=1;q=\"x\"\r\n, World!\r\n0\r\n"
                         "X-Trailer: yes\r\n\r\nGET /next", &n, &rest), 1);
    cr_assert_eq(n, 13);
    cr_assert_eq(memcmp(ck_buf, "Hello, World!", 13), 0);
    /* the next pipelined request starts exactly where the body ended */
    cr_assert_str_eq(rest, "GET /next");
    cr_assert_eq(chunked("A\r\n0123456789\r\n0\r\n\r\n", &n, &rest), 1);
    cr_assert_eq(n, 10);
    cr_assert_str_eq(rest, "");
    cr_assert_eq(chunked("0\r\n\r\n", &n, &rest), 1);
    cr_assert_eq(n, 0);
}

Test(parse, chunked_resumes_at_every_split)
{
    static const char body[] = "3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\nNEXT";
    size_t len = sizeof body - 1;
    for (size_t k = 0; k <= len; k++) {
        /* the first k bytes arrive, then the rest */
        struct ducta_chunked ck = {0};
        char buf[256];
        memcpy(buf, body, k);
        size_t have = k;
        ssize_t r = ducta_parse_chunked(&ck, &lim, buf, &have);
        cr_assert_geq(r, 0, "split at %zu", k);
        memcpy(buf + have, body + k, len - k);
        have += len - k;
        if (r == 0)
            r = ducta_parse_chunked(&ck, &lim, buf, &have);
        cr_assert_eq(r, 1, "split at %zu", k);
        cr_assert_eq(ck.decoded, 19);
        cr_assert_eq(memcmp(buf, "abc0123456789abcdef", 19), 0);
        cr_assert_eq(have - ck.decoded, 4);
        cr_assert_eq(memcmp(buf + ck.decoded, "NEXT", 4), 0);
    }
}

Test(parse, chunked_rejections)
{
    size_t n;
    const char *rest;
    /* chunk-size = 1*HEXDIG, without overflow */
    cr_assert_eq(chunked("x\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("-1\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("10000000000000000\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("00000000000000000001\r\n", &n, &rest), -400);
    /* CRLF strictly where the grammar puts it */
    cr_assert_eq(chunked("3\nabc\r\n0\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("3\r\nabcX\r\n0\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("3\r\nabc\n0\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("3\r\nabc\r\n0\r\n\n", &n, &rest), -400);
    cr_assert_eq(chunked("3\rabc", &n, &rest), -400);
    /* extensions: only after ';', no control bytes, bounded */
    cr_assert_eq(chunked("3 x\r\nabc\r\n0\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("3;a\x01\r\nabc\r\n0\r\n\r\n", &n, &rest), -400);
    char longext[DUCTA_MAX_CHUNK_EXT + 32] = "3;";
    memset(longext + 2, 'a', DUCTA_MAX_CHUNK_EXT);
    strcat(longext, "\r\n");
    cr_assert_eq(chunked(longext, &n, &rest), -400);
    /* trailer lines are field lines */
    cr_assert_eq(chunked("0\r\n: x\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("0\r\nA: \x01\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("0\r\nA: b\rc\r\n\r\n", &n, &rest), -400);
}

Test(parse, chunked_body_limit)
{
    struct ducta_limits small = lim;
    small.max_body = 5;
    struct ducta_chunked ck = {0};
    char buf[64] = "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    size_t len = strlen(buf);
    cr_assert_eq(ducta_parse_chunked(&ck, &small, buf, &len), -413);
}

Test(parse, host_value_syntax)
{
    EACH_LEVEL {
        /* §3.2: an invalid Host value is a 400 (a MUST) */
        static const char *bad[] = {"a b", "a/b", "user@a", "a:80x", "[::1",
                                    "a:b:c", "[::1]x"};
        static const char *good[] = {"", "example.com", "a:80", "[::1]:8080",
                                     "127.0.0.1", "a-b.c_d~e:"};
        char r[128];
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
            cr_assert_eq(parse(r), -400, "Host: %s", bad[i]);
        }
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
            cr_assert_gt(parse(r), 0, "Host: %s", good[i]);
        }
        /* RFC 9110 §4.2.4: no userinfo in an absolute-form target either */
        cr_assert_eq(parse("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
        /* §3.2: no fragment in a request-target */
        cr_assert_eq(parse("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
    }
}

/* port = *DIGIT, of any length: each length, with a non-digit (one just
 * below '0', one just above '9', one >= 0x80) at each place, the place
 * the parser reads the digits in four at a time included. */
Test(parse, host_port_digits_at_every_length_and_place)
{
    static const char not_digit[] = {'/', ':', '\xb0'};
    char port[16], r[128];
    EACH_LEVEL {
        for (size_t n = 0; n <= 12; n++) {
            memset(port, '7', n);
            port[n] = '\0';
            snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: h:%s\r\n\r\n", port);
            cr_assert_gt(parse(r), 0, "port of %zu digits", n);
            for (size_t at = 0; at < n; at++)
                for (size_t k = 0; k < sizeof not_digit; k++) {
                    memset(port, '7', n);
                    port[at] = not_digit[k];
                    snprintf(r, sizeof r,
                             "GET / HTTP/1.1\r\nHost: h:%s\r\n\r\n", port);
                    cr_assert_eq(parse(r), -400, "port of %zu, 0x%02x at %zu", n,
                                 (unsigned char)not_digit[k], at);
                }
        }
    }
}

Test(parse, trailer_lines_are_field_lines)
{
    size_t n;
    const char *rest;
    /* §7.1.2: a trailer line without a colon is not a field line */
    cr_assert_eq(chunked("0\r\nbogus\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("0\r\nA b: c\r\n\r\n", &n, &rest), -400);
    cr_assert_eq(chunked("0\r\nA:b\r\nC: d e\r\n\r\n", &n, &rest), 1);
}

/* RFC 9110 §2.5: a minor version above the highest we implement, of a major
 * version we implement, is processed as that highest (1.1); §15.6.6: 505
 * only for another major version; §2.3 (RFC 9112): "HTTP/" DIGIT "." DIGIT,
 * anything else 400. */
Test(parse, later_minor_versions_are_read_as_1_1)
{
    EACH_LEVEL {
        char r[64];
        for (char m = '2'; m <= '9'; m++) {
            snprintf(r, sizeof r, "GET / HTTP/1.%c\r\nHost: a\r\n\r\n", m);
            cr_assert_eq(parse(r), (ssize_t)strlen(r), "HTTP/1.%c", m);
            cr_assert_eq(req.minor_version, 1, "HTTP/1.%c", m);
            cr_assert_eq(req.keep_alive, 1, "HTTP/1.%c", m);
            /* as 1.1: a Host is required */
            snprintf(r, sizeof r, "GET / HTTP/1.%c\r\n\r\n", m);
            cr_assert_eq(parse(r), -400, "HTTP/1.%c without Host", m);
        }
        cr_assert_eq(parse("GET / HTTP/2.1\r\nHost: a\r\n\r\n"), -505);
        cr_assert_eq(parse("GET / HTTP/9.9\r\nHost: a\r\n\r\n"), -505);
        cr_assert_eq(parse("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/1.12\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("GET / HTTP/11.1\r\nHost: a\r\n\r\n"), -400);
    }
}

/* RFC 9112 §3: a method longer than any the server implements SHOULD get
 * 501 — whatever else the line holds, and before the line is complete. */
Test(parse, overlong_method_is_501)
{
    EACH_LEVEL {
        static char buf[DUCTA_DEFAULT_MAX_REQUEST_LINE + 64];
        /* twenty bytes: a method (the router's business) */
        cr_assert_gt(parse("ABCDEFGHIJKLMNOPQRST / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
        cr_assert_eq(req.method.len, 20);
        cr_assert_gt(parse("UPDATEREDIRECTREF / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
        cr_assert_eq(req.method.len, 17);
        cr_assert_eq(parse("ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\nHost: a\r\n\r\n"), -501);
        cr_assert_eq(parse("ABCDEFGHIJKLMNOPQRSTU"), -501);
        cr_assert_eq(parse("ABCDEFGHIJKLMNOPQRSTUVWXYZ(\r\n\r\n"), -501);
        cr_assert_eq(parse("ABCDEFGHIJKLMNOPQRSTUVWXYZ /\x01 HTTP/7\r\n\r\n"), -501);
        cr_assert_eq(parse("ABCDEFGHIJKLMNOPQRST"), 0);
        /* longer than the request line's limit: still 501, not 414 */
        memset(buf, 'M', sizeof buf - 1);
        buf[sizeof buf - 1] = 0;
        cr_assert_eq(parse(buf), -501);
        /* resumed: short at first, too long later */
        struct ducta_parser p = {0};
        cr_assert_eq(ducta_parse_request(&p, &lim, buf, 10, &req), 0);
        cr_assert_eq(ducta_parse_request(&p, &lim, buf, 30, &req), -501);
    }
}

/* RFC 9110 §5.3: field lines of one name are one list; RFC 9112 §9.6: a
 * "close" anywhere in Connection closes, whichever line comes last. */
Test(parse, connection_lines_are_one_list)
{
    EACH_LEVEL {
        cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                           "Connection: keep-alive\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 0);
        cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
                           "X: y\r\nConnection: Close\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 0);
        cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
                           "Connection: close\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 0);
        cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: close\r\n"
                           "Connection: keep-alive\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 0);
        cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 0);
        /* a 1.0 keep-alive on a later line still counts */
        cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: x-a\r\n"
                           "Connection: keep-alive\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 1);
        cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: x-a\r\n"
                           "Connection: ,, x-b ,\r\n\r\n"), 0);
        cr_assert_eq(req.keep_alive, 1);
    }
}

/* RFC 9110 §10.1.1 with §5.3: every member of every Expect line counts;
 * 100-continue is the only expectation, anything else is a 417. */
Test(parse, expect_lines_are_one_list)
{
    EACH_LEVEL {
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "Expect: 100-continue\r\nExpect: x-other\r\n\r\n"), -417);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "Expect: x-other\r\nExpect: 100-continue\r\n\r\n"), -417);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "Expect: 100-continue, x-other\r\n\r\n"), -417);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "Expect: 100-continue;x=1\r\n\r\n"), -417);
        cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "Expect: 100-continue\r\nExpect: 100-Continue\r\n\r\n"), 0);
        cr_assert_eq(req.expect_continue, 1);
        cr_assert_gt(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "Expect: , 100-continue ,\r\n\r\n"), 0);
        cr_assert_eq(req.expect_continue, 1);
        /* the other fields of which one line is all there may be */
        cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), -400);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           "X: y\r\nContent-Length: 1\r\n\r\n"), -400);
        cr_assert_eq(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"), -400);
    }
}

/* The limits as ducta.h states them: max_request_line bounds the request
 * line (CRLF included): 414; max_head the field section after it (the
 * final CRLF included): 431. A line at its limit and a field section at
 * its own are served together. */
Test(parse, request_line_and_field_section_have_their_own_limits)
{
    EACH_LEVEL {
        const struct ducta_limits small = {100, 200, 8, 100};
        static char buf[1024];
        struct ducta_parser p;
        /* "GET /" + a + " HTTP/1.1\r\n" is 16 + a bytes */
        for (int line = 99; line <= 101; line++) {
            for (int fields = 199; fields <= 201; fields++) {
                /* "Host: a\r\nX: " + v + "\r\n\r\n" is 16 + v bytes */
                int n = snprintf(buf, sizeof buf, "GET /%0*d HTTP/1.1\r\n"
                                 "Host: a\r\nX: %0*d\r\n\r\n",
                                 line - 16, 0, fields - 16, 0);
                memset(&p, 0, sizeof p);
                ssize_t want = line > 100 ? -414 : fields > 200 ? -431 : n;
                cr_assert_eq(ducta_parse_request(&p, &small, buf, (size_t)n, &req),
                             want, "line %d, fields %d", line, fields);
                /* and in pieces: the same verdict once it is due */
                memset(&p, 0, sizeof p);
                ssize_t rc = 0;
                for (int k = 1; k <= n && rc == 0; k++)
                    rc = ducta_parse_request(&p, &small, buf, (size_t)k, &req);
                cr_assert_eq(rc, want, "in pieces: line %d, fields %d",
                             line, fields);
            }
        }
    }
}

/* Which bytes a request-target may hold raw (parse.c, TARGET): none that
 * no conforming client sends raw; what browsers send raw is taken. */
Test(parse, request_target_bytes)
{
    EACH_LEVEL {
        char r[128];
        /* refused anywhere */
        for (const char *c = "\"<>\\"; *c; c++) {
            snprintf(r, sizeof r, "GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n", *c);
            cr_assert_eq(parse(r), -400, "'%c' in the path", *c);
            snprintf(r, sizeof r, "GET /a?x=%c HTTP/1.1\r\nHost: a\r\n\r\n", *c);
            cr_assert_eq(parse(r), -400, "'%c' in the query", *c);
            snprintf(r, sizeof r, "GET http://h/a?x=%c HTTP/1.1\r\nHost: a\r\n\r\n", *c);
            cr_assert_eq(parse(r), -400, "'%c' in an absolute-form query", *c);
        }
        /* refused in the path, taken in the query (browsers send them so) */
        for (const char *c = "`{}"; *c; c++) {
            snprintf(r, sizeof r, "GET /a%cb HTTP/1.1\r\nHost: a\r\n\r\n", *c);
            cr_assert_eq(parse(r), -400, "'%c' in the path", *c);
            snprintf(r, sizeof r, "GET http://h/a%cb HTTP/1.1\r\nHost: a\r\n\r\n", *c);
            cr_assert_eq(parse(r), -400, "'%c' in an absolute-form path", *c);
            snprintf(r, sizeof r, "GET /a?x=%c&y=%c HTTP/1.1\r\nHost: a\r\n\r\n", *c, *c);
            cr_assert_gt(parse(r), 0, "'%c' in the query", *c);
            cr_assert(slice_eq(req.path, "/a"));
            cr_assert_eq(req.query.len, 7);
        }
        /* taken anywhere */
        for (const char *c = "|^"; *c; c++) {
            snprintf(r, sizeof r, "GET /a%cb?x=%c HTTP/1.1\r\nHost: a\r\n\r\n", *c, *c);
            cr_assert_gt(parse(r), 0, "'%c'", *c);
            cr_assert_eq(req.path.len, 4);
            cr_assert_eq(req.query.len, 3);
        }
        /* '?' in the query is data; the first '?' starts it */
        cr_assert_gt(parse("GET /a?b?c HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
        cr_assert(slice_eq(req.path, "/a"));
        cr_assert(slice_eq(req.query, "b?c"));
        cr_assert_gt(parse("GET http://h?q HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
        cr_assert(slice_eq(req.path, "/"));
        cr_assert(slice_eq(req.query, "q"));
        cr_assert(slice_eq(req.authority, "h"));
        cr_assert_eq(parse("GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n"), -400);
    }
}

/* RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "="
 * BWS chunk-ext-val ] ), a name a token, a value a token or a
 * quoted-string. Anything else is a 400, wherever the reads cut it. */
static const char *const good_ext[] = {
    "5;a\r\n", "5;a=b\r\n", "5 ;a\r\n", "5\t; a = b\r\n", "5;a;b;c=d\r\n",
    "5;a=\"\"\r\n", "5;a=\"x y;z=\\\"w\\\\\"\r\n", "5;a=\"\x80\t\"\r\n",
    "5; a=b ; c\r\n", "5;a=\"q\" ;b\r\n",
};
static const char *const bad_ext[] = {
    "5;\r\n", "5;bad[=x\r\n", "5;\"\r\n", "5;a=b c d\r\n", "5 \r\n",
    "5;a=\"x\r\n", "5;a=\"x\"y\r\n", "5;a=\r\n", "5;=b\r\n", "5;a b\r\n",
    "5;a=b c\r\n", "5 x\r\n", "5;a=\"\\\r\n", "5;a=\"\x01\"\r\n", "5;a=[\r\n",
    "5;a \r\n", "5;a=b \r\n", "5; \r\n", "5;a==b\r\n", "5;a=\"\x7f\"\r\n",
};
Test(parse, chunk_extension_grammar)
{
    for (int good = 0; good <= 1; good++) {
        const char *const *set = good ? good_ext : bad_ext;
        size_t count = good ? sizeof good_ext / sizeof *good_ext
                            : sizeof bad_ext / sizeof *bad_ext;
        for (size_t i = 0; i < count; i++) {
            char in[128];
            int len = snprintf(in, sizeof in, "%shello\r\n0\r\n\r\n", set[i]);
            for (int k = 0; k <= len; k++) {
                /* the first k bytes, then the rest */
                struct ducta_chunked ck = {0};
                char buf[128];
                memcpy(buf, in, (size_t)k);
                size_t have = (size_t)k;
                ssize_t r = ducta_parse_chunked(&ck, &lim, buf, &have);
                if (r == 0) {
                    memcpy(buf + have, in + k, (size_t)(len - k));
                    have += (size_t)(len - k);
                    r = ducta_parse_chunked(&ck, &lim, buf, &have);
                }
                cr_assert_eq(r, good ? 1 : -400, "[%s] split at %d", set[i], k);
                if (good)
                    cr_assert(ck.decoded == 5 && !memcmp(buf, "hello", 5));
            }
        }
    }
}

/* ---- the parser's view of the benchmark corpus, pinned ------------------ */

/* A faster parser must not parse differently. For every file of
 * bench/corpus/ (read from the repository root), the requests one after
 * another as a pipelining client sends them (each body skipped by its
 * Content-Length): every return value and every slice, as offsets into the
 * file, and the framing fields, hashed (FNV-1a, 64 bits). Every SIMD level
 * must give the same digest, and that digest must be the one recorded in
 * bench/corpus/DIGESTS ("FILE DIGEST REQUESTS" per line). After a change
 * that is meant to change what the parser sees, DUCTA_PRINT_DIGESTS=1 prints
 * the new lines (and the reason must be in the commit). */
#define CORPUS "bench/corpus"

static uint64_t fnv(uint64_t h, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_slice(uint64_t h, const char *base, ducta_slice s)
{
    /* an empty slice may point anywhere (a static "" or the end) */
    h = fnv(h, s.len);
    return s.len ? fnv(h, (uint64_t)(s.ptr - base)) : h;
}

static uint64_t digest_of(const char *buf, size_t len, size_t *nreq)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t off = 0;
    *nreq = 0;
    while (off < len) {
        struct ducta_parser p = {0};
        ssize_t r = ducta_parse_request(&p, &lim, buf + off, len - off, &req);
        h = fnv(h, (uint64_t)r);
        if (r <= 0)
            break;
        const char *b = buf + off;
        h = fnv(h, off);
        h = fnv_slice(h, b, req.method);
        h = fnv_slice(h, b, req.target);
        h = fnv_slice(h, b, req.path);
        h = fnv_slice(h, b, req.query);
        h = fnv_slice(h, b, req.authority);
        h = fnv(h, (uint64_t)req.minor_version << 24 | (uint64_t)req.keep_alive << 16 |
                       (uint64_t)req.chunked << 8 | (uint64_t)req.expect_continue);
        h = fnv(h, req.content_length);
        h = fnv(h, req.nheaders);
        for (size_t i = 0; i < req.nheaders; i++) {
            h = fnv_slice(h, b, req.headers[i].name);
            h = fnv_slice(h, b, req.headers[i].value);
        }
        off += (size_t)r + req.content_length;
        (*nreq)++;
    }
    return h;
}

Test(parse, corpus_digests_are_pinned)
{
    FILE *d = fopen(CORPUS "/DIGESTS", "r");
    cr_assert_not_null(d, "cannot open " CORPUS "/DIGESTS (run from the repository root)");
    char line[256];
    int files = 0, print = getenv("DUCTA_PRINT_DIGESTS") != NULL;
    while (fgets(line, sizeof line, d)) {
        char name[128];
        unsigned long long want;
        size_t want_reqs;
        if (line[0] == '#' || sscanf(line, "%127s %llx %zu", name, &want, &want_reqs) != 3)
            continue;
        char path[256];
        snprintf(path, sizeof path, CORPUS "/%s", name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "%s listed in DIGESTS but missing", path);
        static char buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        EACH_LEVEL {
            size_t nreq;
            uint64_t got = digest_of(buf, len, &nreq);
            if (print) {
                printf("%s %016llx %zu (%s)\n", name, (unsigned long long)got,
                       nreq, ducta_simd_name((enum ducta_simd)level_));
                continue;
            }
            cr_assert_eq(nreq, want_reqs, "%s at %s: %zu requests, want %zu", name,
                         ducta_simd_name((enum ducta_simd)level_), nreq, want_reqs);
            cr_assert_eq(got, (uint64_t)want, "%s at %s: digest %016llx, want %016llx",
                         name, ducta_simd_name((enum ducta_simd)level_),
                         (unsigned long long)got, want);
        }
        files++;
    }
    fclose(d);
    /* every corpus file is pinned */
    int txt = 0;
    FILE *ls = popen("ls " CORPUS "/*.txt | wc -l", "r");
    cr_assert_not_null(ls);
    cr_assert(fscanf(ls, "%d", &txt) == 1);
    pclose(ls);
    cr_assert_eq(files, txt, "%d files in DIGESTS, %d in " CORPUS, files, txt);
}

/* The fast path takes up to 64 field lines a call and notes the framing
 * fields among them afterwards, in order: past that batch, and with the
 * framing fields anywhere in it, nothing may be missed or reordered. */
Test(parse, framing_fields_beyond_a_batch_of_lines)
{
    struct ducta_limits many = lim;
    many.max_headers = DUCTA_HEADERS_CAP;
    static char buf[8192];
    EACH_LEVEL {
        for (int at = 0; at < 140; at += 7) {
            size_t n = (size_t)snprintf(buf, sizeof buf, "POST / HTTP/1.1\r\n");
            for (int i = 0; i < 140; i++) {
                if (i == at)
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "Host: h%d\r\n", i);
                else if (i == 139 - at / 2)
                    n += (size_t)snprintf(buf + n, sizeof buf - n,
                                          "Content-Length: %d\r\n", i);
                else if (i == 64 || i == 128)
                    n += (size_t)snprintf(buf + n, sizeof buf - n,
                                          "Connection: x, close\r\n");
                else
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "X-%d: v\r\n", i);
            }
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
            struct ducta_parser p = {0};
            cr_assert_eq(ducta_parse_request(&p, &many, buf, n, &req), (ssize_t)n,
                         "Host at %d", at);
            cr_assert_eq(req.nheaders, 140);
            char host[16];
            snprintf(host, sizeof host, "h%d", at);
            cr_assert(slice_eq(req.authority, host), "Host at %d", at);
            cr_assert_eq(req.content_length, (uint64_t)(139 - at / 2));
            cr_assert_eq(req.keep_alive, 0);
            /* a second Host after the batch boundary is still seen */
            memcpy(buf + n - 2, "Host: b\r\n\r\n", 11);
            memset(&p, 0, sizeof p);
            cr_assert_eq(ducta_parse_request(&p, &many, buf, n + 9, &req), -400);
        }
    }
}
