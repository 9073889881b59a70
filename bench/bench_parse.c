/*
 * bench/bench_parse.c — ducta's request parser against picohttpparser (the
 * fastest C parser we know of) and http-parser 2.9, in one process, over
 * the same bytes (run by `./build.sh bench parse`).
 *
 *   build/bench_parse FILE...     (bench/bench.sh builds and runs it)
 *
 * picohttpparser is compiled by bench.sh from the source its crate
 * (picohttpparser-sys) publishes, twice: with SSE4.2, its fast path
 * ("pico"), and without, its scalar path ("pico-scalar", the names
 * prefixed pico_scalar_ so both link). It is never part of ducta.
 *
 * For each corpus file it measures:
 *   - ducta_parse_request at every SIMD level this CPU has (scalar, sse42,
 *     avx2), looped over the file: a file of 16 pipelined requests is 16
 *     calls, each with a fresh struct ducta_parser, as conn.c does;
 *   - pico and pico-scalar: phr_parse_request looped the same way, with
 *     room for DUCTA_DEFAULT_MAX_HEADERS fields (ducta's default limit).
 *     pico does less: it checks no Host, Content-Length or
 *     Transfer-Encoding, takes a bare LF as a line end, and lets any byte
 *     above 0x1F but DEL into a target or value; the comparison is still
 *     the one readers make;
 *   - http-parser: one http_parser_init per pass over the file, then one
 *     http_parser_execute over all of it, with only on_message_complete set
 *     (it counts messages; for a pipelined file it must count them all).
 *     Null data callbacks are the cheapest way to drive http-parser, so this
 *     is the strictest baseline. A second row, "http-parser+cb", sets every
 *     data callback to a function that does nothing, as a real user would
 *     have (ducta's output, the slices, is what those callbacks deliver).
 * and prints ns per request, GB/s and the ratios: every ducta level against
 * pico, the scalar level against pico-scalar, the best level against
 * http-parser; then the same for the whole corpus (every file once: bytes
 * over the sum of the files' median times).
 *
 * Then the incremental question, on the first file named by INCR (default
 * browser.txt): the same request fed in 8-, 64- and 256-byte pieces, the
 * whole buffer so far passed on each call (as conn.c does after each read):
 *   - "resumable": one struct ducta_parser for the request, so each call
 *     searches only the new bytes for the end of the head;
 *   - "restart": a zeroed parser on every call, i.e. every call walks the
 *     whole head again (what the resumable state saves);
 *   - http-parser fed the same pieces (it is a streaming parser).
 *
 * Noise: the machine is shared. Time is this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), not the wall clock, so the moments another
 * process holds the core are not counted (CLOCK=wall measures wall time
 * instead). Every figure is the median of REPS runs (default 11) of about
 * MS milliseconds each (default 40), and the contenders are interleaved
 * within each repetition, so a noisy moment (a neighbour thrashing the
 * caches) hits all of them rather than one. The range (min-max) is printed
 * too.
 * Each result is checked before timing: ducta must accept every request
 * and consume every byte, http-parser must report no error and count the
 * same number of messages.
 */
#define _GNU_SOURCE
#include <http_parser.h>
#include <picohttpparser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"

enum { MAX_CONTENDERS = 8, MAX_REPS = 101 };

static const struct ducta_limits lim = {
    DUCTA_DEFAULT_MAX_REQUEST_LINE, DUCTA_DEFAULT_MAX_HEAD,
    DUCTA_DEFAULT_MAX_HEADERS, DUCTA_DEFAULT_MAX_BODY};
static struct ducta_request req;

static int reps = 11;
static size_t offset;  /* OFFSET: the corpus bytes start this far past a
                        * 64-byte boundary */
static double target_s = 0.040;

static double now(void)
{
    struct timespec t;
    static int wall = -1;
    if (wall < 0)
        wall = getenv("CLOCK") && !strcmp(getenv("CLOCK"), "wall");
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    /* Where the bytes sit matters to the vector loads (a 32-byte load that
     * crosses a cache line costs more): at `offset` bytes past a 64-byte
     * boundary; 0, the default, is where a request at the start of a read
     * buffer sits. Freed as buf - offset. */
    char *mem = aligned_alloc(64, ((size_t)sz + offset + 64) / 64 * 64);
    char *b = mem ? mem + offset : NULL;
    if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(1);
    }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, sizeof *v * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double vmin(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double vmax(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* ---- the contenders: each parses the buffer once, returns requests ---- */

enum { MAX_REQS = 64 };

struct input {
    const char *buf;
    size_t len;
    size_t step;  /* incremental runs: bytes per piece */
    /* the body length of each request, from ducta's parse before timing:
     * pico frames nothing, so its loop is told where the next head starts
     * (which charges it nothing for finding Content-Length) */
    size_t body[MAX_REQS];
};

static volatile size_t sink;  /* keeps the results alive */

/* ducta, the whole buffer: loop over the pipelined requests in it. */
static size_t ducta_whole(const struct input *in)
{
    size_t off = 0, n = 0;
    while (off < in->len) {
        struct ducta_parser ps = {0};
        ssize_t r = ducta_parse_request(&ps, &lim, in->buf + off,
                                        in->len - off, &req);
        if (r <= 0)
            return 0;
        off += (size_t)r + req.content_length;
        n++;
    }
    sink += req.nheaders;
    return n;
}

/* ducta, one request arriving in pieces of in->step bytes. */
static size_t ducta_pieces(const struct input *in, int resumable)
{
    struct ducta_parser ps = {0};
    for (size_t have = in->step;; have += in->step) {
        if (have > in->len)
            have = in->len;
        if (!resumable)
            ps = (struct ducta_parser){0};
        ssize_t r = ducta_parse_request(&ps, &lim, in->buf, have, &req);
        if (r > 0) {
            sink += req.nheaders;
            return 1;
        }
        if (r < 0 || have == in->len)
            return 0;
    }
}
static size_t ducta_resumable(const struct input *in)
{
    return ducta_pieces(in, 1);
}
static size_t ducta_restart(const struct input *in)
{
    return ducta_pieces(in, 0);
}

/* picohttpparser's scalar build, renamed (see the top) */
int pico_scalar_phr_parse_request(const char *buf, size_t len,
                                  const char **method, size_t *method_len,
                                  const char **path, size_t *path_len,
                                  int *minor_version, struct phr_header *headers,
                                  size_t *num_headers, size_t last_len);

typedef int pico_fn(const char *, size_t, const char **, size_t *,
                    const char **, size_t *, int *, struct phr_header *,
                    size_t *, size_t);

static struct phr_header pico_headers[DUCTA_DEFAULT_MAX_HEADERS];

/* pico over the whole buffer: one call per pipelined request. */
static size_t pico_run(const struct input *in, pico_fn *parse)
{
    size_t off = 0, n = 0, nh = 0;
    while (off < in->len) {
        const char *method, *path;
        size_t mlen, plen;
        int minor;
        nh = DUCTA_DEFAULT_MAX_HEADERS;
        int r = parse(in->buf + off, in->len - off, &method, &mlen, &path,
                      &plen, &minor, pico_headers, &nh, 0);
        if (r <= 0 || n == MAX_REQS)
            return 0;
        off += (size_t)r + in->body[n];
        n++;
    }
    sink += nh;
    return n;
}
static size_t pico_sse(const struct input *in)
{
    return pico_run(in, phr_parse_request);
}
static size_t pico_scalar(const struct input *in)
{
    return pico_run(in, pico_scalar_phr_parse_request);
}

/* pico fed in pieces: each call gets the whole buffer so far and how much
 * of it the last call saw (its own way of not rescanning for the end). */
static size_t pico_pieces(const struct input *in)
{
    size_t last = 0;
    for (size_t have = in->step;; have += in->step) {
        if (have > in->len)
            have = in->len;
        const char *method, *path;
        size_t mlen, plen, nh = DUCTA_DEFAULT_MAX_HEADERS;
        int minor;
        int r = phr_parse_request(in->buf, have, &method, &mlen, &path, &plen,
                                  &minor, pico_headers, &nh, last);
        if (r > 0) {
            sink += nh;
            return 1;
        }
        if (r == -1 || have == in->len)
            return 0;
        last = have;
    }
}

static size_t hp_messages;
static int hp_on_message_complete(http_parser *p)
{
    (void)p;
    hp_messages++;
    return 0;
}
static int hp_nop_data(http_parser *p, const char *at, size_t n)
{
    (void)p, (void)at, (void)n;
    return 0;
}
static int hp_nop(http_parser *p)
{
    (void)p;
    return 0;
}

static http_parser_settings hp_bare = {
    .on_message_complete = hp_on_message_complete,
};
static http_parser_settings hp_cb = {
    .on_message_begin = hp_nop,
    .on_url = hp_nop_data,
    .on_header_field = hp_nop_data,
    .on_header_value = hp_nop_data,
    .on_headers_complete = hp_nop,
    .on_body = hp_nop_data,
    .on_message_complete = hp_on_message_complete,
};

static size_t hp_run(const struct input *in, const http_parser_settings *s)
{
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    hp_messages = 0;
    size_t step = in->step ? in->step : in->len;
    for (size_t off = 0; off < in->len; off += step) {
        size_t n = in->len - off < step ? in->len - off : step;
        if (http_parser_execute(&p, s, in->buf + off, n) != n ||
            HTTP_PARSER_ERRNO(&p) != HPE_OK)
            return 0;
    }
    return hp_messages;
}
static size_t hp_plain(const struct input *in)
{
    return hp_run(in, &hp_bare);
}
static size_t hp_callbacks(const struct input *in)
{
    return hp_run(in, &hp_cb);
}

struct contender {
    char name[24];
    size_t (*run)(const struct input *);
    int level;  /* ducta's SIMD level, or -1 */
    long iters; /* passes per timed run, calibrated */
    double mbs[MAX_REPS], ns[MAX_REPS];
};

static size_t run_at(struct contender *c, const struct input *in)
{
    if (c->level >= 0)
        ducta_simd_set((enum ducta_simd)c->level);
    return c->run(in);
}

/* Time every contender REPS times, interleaved; fill in mbs[] and ns[]. */
static void measure(struct contender *cs, int nc, const struct input *in,
                    size_t expect)
{
    for (int i = 0; i < nc; i++) {
        struct contender *c = &cs[i];
        size_t got = run_at(c, in);
        if (got != expect) {
            fprintf(stderr, "bench_parse: %s parsed %zu requests, not %zu\n",
                    c->name, got, expect);
            exit(1);
        }
        /* calibrate: passes for about target_s */
        long n = 1;
        for (;;) {
            double t0 = now();
            for (long k = 0; k < n; k++)
                c->run(in);
            double dt = now() - t0;
            if (dt > target_s / 4) {
                c->iters = (long)((double)n * target_s / dt) + 1;
                break;
            }
            n *= 2;
        }
    }
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < nc; i++) {
            struct contender *c = &cs[i];
            run_at(c, in);
            double t0 = now();
            for (long k = 0; k < c->iters; k++)
                c->run(in);
            double dt = now() - t0;
            c->mbs[r] = (double)in->len * (double)c->iters / dt / 1e6;
            c->ns[r] = dt * 1e9 / ((double)c->iters * (double)expect);
        }
    }
}

static int levels[3], nlevels;

static void add(struct contender *cs, int *nc, const char *name,
                size_t (*run)(const struct input *), int level)
{
    struct contender *c = &cs[(*nc)++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->run = run;
    c->level = level;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS-FILE...\n", argv[0]);
        return 2;
    }
    if (getenv("REPS"))
        reps = atoi(getenv("REPS"));
    if (reps < 1 || reps > MAX_REPS)
        reps = 11;
    if (getenv("OFFSET"))
        offset = (size_t)atoi(getenv("OFFSET")) % 64;
    if (getenv("MS") && atoi(getenv("MS")) > 0)
        target_s = atoi(getenv("MS")) / 1000.0;
    const char *incr = getenv("INCR") ? getenv("INCR") : "browser.txt";
    enum ducta_simd start = ducta_simd_get();
    for (int l = DUCTA_SIMD_SCALAR; l <= DUCTA_SIMD_AVX2; l++)
        if (ducta_simd_set((enum ducta_simd)l) == 0)
            levels[nlevels++] = l;
    ducta_simd_set(start);
    unsigned long hv = http_parser_version();
    printf("picohttpparser (picohttpparser-sys crate) with and without "
           "SSE4.2; http-parser %lu.%lu.%lu; ducta levels:", hv >> 16 & 255,
           hv >> 8 & 255, hv & 255);
    for (int i = 0; i < nlevels; i++)
        printf(" %s", ducta_simd_name((enum ducta_simd)levels[i]));
    printf("; %d repetitions of ~%.0f ms (%s time) per figure, median shown; "
           "input at 64-byte boundary + %zu\n\n", reps, target_s * 1e3,
           getenv("CLOCK") && !strcmp(getenv("CLOCK"), "wall") ? "wall"
                                                               : "thread CPU",
           offset);

    printf("| corpus | bytes | reqs | parser | ns/req | GB/s (median) | GB/s range | vs pico | vs pico-scalar |\n");
    printf("|---|--:|--:|---|--:|--:|--:|--:|--:|\n");
    const char *incr_path = NULL;
    /* the whole corpus: per contender, the sum of the files' median
     * seconds per pass, and of their bytes and requests */
    double total_s[MAX_CONTENDERS] = {0};
    char names[MAX_CONTENDERS][24];
    int levels_of[MAX_CONTENDERS];
    size_t total_bytes = 0, total_reqs = 0;
    int ncont = 0;
    for (int a = 1; a < argc; a++) {
        size_t len;
        char *buf = slurp(argv[a], &len);
        if (!strcmp(base(argv[a]), incr))
            incr_path = argv[a];
        static struct input in;
        in = (struct input){buf, len, 0, {0}};
        struct contender cs[MAX_CONTENDERS];
        int nc = 0;
        for (int i = 0; i < nlevels; i++)
            add(cs, &nc, ducta_simd_name((enum ducta_simd)levels[i]),
                ducta_whole, levels[i]);
        const int pico = nc;
        add(cs, &nc, "pico", pico_sse, -1);
        add(cs, &nc, "pico-scalar", pico_scalar, -1);
        const int hp_at = nc;
        add(cs, &nc, "http-parser", hp_plain, -1);
        add(cs, &nc, "http-parser+cb", hp_callbacks, -1);
        ducta_simd_set(start);
        size_t expect = ducta_whole(&in);
        if (!expect || expect > MAX_REQS) {
            fprintf(stderr, "bench_parse: ducta rejects %s (or it holds more "
                    "than %d requests)\n", argv[a], MAX_REQS);
            return 1;
        }
        for (size_t off = 0, k = 0; k < expect; k++) {
            struct ducta_parser ps = {0};
            off += (size_t)ducta_parse_request(&ps, &lim, buf + off, len - off,
                                               &req);
            in.body[k] = (size_t)req.content_length;
            off += in.body[k];
        }
        measure(cs, nc, &in, expect);
        double ps = median(cs[pico].mbs, reps),
               pss = median(cs[pico + 1].mbs, reps),
               hp = median(cs[hp_at].mbs, reps), best = 0;
        for (int i = 0; i < nc; i++) {
            double m = median(cs[i].mbs, reps);
            if (cs[i].level >= 0 && m > best)
                best = m;
            char r1[32] = "", r2[32] = "";
            if (cs[i].level >= 0)
                snprintf(r1, sizeof r1, "%.2fx", m / ps);
            if (cs[i].level == DUCTA_SIMD_SCALAR)
                snprintf(r2, sizeof r2, "%.2fx", m / pss);
            printf("| %s | %zu | %zu | %s | %.1f | %.2f | %.2f-%.2f | %s | %s |\n",
                   base(argv[a]), len, expect, cs[i].name,
                   median(cs[i].ns, reps), m / 1e3, vmin(cs[i].mbs, reps) / 1e3,
                   vmax(cs[i].mbs, reps) / 1e3, r1, r2);
            total_s[i] += (double)len / (m * 1e6);
            snprintf(names[i], sizeof names[i], "%s", cs[i].name);
            levels_of[i] = cs[i].level;
        }
        ncont = nc;
        total_bytes += len;
        total_reqs += expect;
        printf("| %s | | | **best level / pico** | | | | **%.2fx** | |\n",
               base(argv[a]), best / ps);
        printf("| %s | | | best level / http-parser | | | | %.2fx | |\n",
               base(argv[a]), best / hp);
        free(buf - offset);
    }
    if (argc > 2) {
        /* contenders come in the same order for every file */
        int pico = nlevels;
        printf("\nThe whole corpus (%d files, %zu bytes, %zu requests, each file "
               "once):\n\n", argc - 1, total_bytes, total_reqs);
        printf("| parser | ns/req | GB/s | vs pico | vs pico-scalar |\n");
        printf("|---|--:|--:|--:|--:|\n");
        for (int i = 0; i < ncont; i++) {
            char r1[32] = "", r2[32] = "";
            if (levels_of[i] >= 0)
                snprintf(r1, sizeof r1, "%.2fx", total_s[pico] / total_s[i]);
            if (levels_of[i] == DUCTA_SIMD_SCALAR)
                snprintf(r2, sizeof r2, "%.2fx", total_s[pico + 1] / total_s[i]);
            printf("| %s | %.1f | %.2f | %s | %s |\n", names[i],
                   total_s[i] * 1e9 / (double)total_reqs,
                   (double)total_bytes / total_s[i] / 1e9, r1, r2);
        }
    }

    if (!incr_path)
        return 0;
    printf("\nIncremental: %s fed in pieces; each ducta call gets the whole "
           "buffer so far (as conn.c does), level %s\n\n", base(incr_path),
           ducta_simd_name(start));
    printf("| piece | calls | parser | ns/req | MB/s (median) | MB/s range | vs ducta whole |\n");
    printf("|--:|--:|---|--:|--:|--:|--:|\n");
    size_t len;
    char *buf = slurp(incr_path, &len);
    static const size_t steps[] = {0, 256, 64, 8};
    double whole = 0;
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        static struct input in;
        in = (struct input){buf, len, steps[s], {0}};
        struct contender cs[MAX_CONTENDERS];
        int nc = 0;
        if (steps[s]) {
            add(cs, &nc, "ducta resumable", ducta_resumable, (int)start);
            add(cs, &nc, "ducta restart", ducta_restart, (int)start);
        } else {
            add(cs, &nc, "ducta", ducta_whole, (int)start);
        }
        add(cs, &nc, "pico", steps[s] ? pico_pieces : pico_sse, -1);
        add(cs, &nc, "http-parser", hp_plain, -1);
        measure(cs, nc, &in, 1);
        size_t calls = steps[s] ? (len + steps[s] - 1) / steps[s] : 1;
        for (int i = 0; i < nc; i++) {
            double m = median(cs[i].mbs, reps);
            if (!steps[s] && i == 0)
                whole = m;
            char ratio[32] = "";
            if (cs[i].level >= 0)
                snprintf(ratio, sizeof ratio, "%.2fx", m / whole);
            char piece[24] = "whole";
            if (steps[s])
                snprintf(piece, sizeof piece, "%zu", steps[s]);
            printf("| %s | %zu | %s | %.1f | %.0f | %.0f-%.0f | %s |\n", piece,
                   calls, cs[i].name, median(cs[i].ns, reps), m,
                   vmin(cs[i].mbs, reps), vmax(cs[i].mbs, reps), ratio);
        }
    }
    free(buf - offset);
    return 0;
}
