/*
 * test_differential.c — the parser against itself, on generated inputs.
 *
 * For every input: each SIMD level the CPU has gives exactly the scalar
 * answer (return value and every slice, as offsets); the same bytes fed in
 * pieces through one resumable parser give the answer of a fresh parse (a
 * resumed call may only put off an error until the head could have ended,
 * see fuzz_parse.c), and the whole input's request if it holds one; a
 * chunked body decodes the same whole and in pieces; requests behind it
 * (pipelining) are checked the same way. These are the checks of the fuzz
 * target, test/fuzz_parse.c, included below with its failure report turned
 * into a criterion failure that shows the input.
 *
 * The inputs come from a fixed-seed PRNG, so every run checks the same
 * cases: random bytes biased to the characters HTTP gives meaning to,
 * request-shaped random inputs, chunked bodies, mutations of the requests
 * in test/fuzz-corpus/ (read from there: run from the repository root),
 * requests whose elements straddle the scanner's 64-byte blocks, and every
 * length from 1 to 200 and beyond (the scanner's last, partial block is
 * handled apart).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_FAIL(msg) cr_assert_fail("%s", (msg))
#include "fuzz_parse.c"

#define CORPUS_DIR "test/fuzz-corpus"

/* ---- a growable byte string ---------------------------------------------- */

struct bytes {
    char *p;
    size_t n, cap;
};

static void b_reserve(struct bytes *b, size_t more)
{
    if (b->n + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more)
        cap *= 2;
    b->p = realloc(b->p, cap);
    cr_assert_not_null(b->p);
    b->cap = cap;
}

static void b_add(struct bytes *b, const void *s, size_t n)
{
    b_reserve(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void b_str(struct bytes *b, const char *s)
{
    b_add(b, s, strlen(s));
}

static void b_chr(struct bytes *b, char c)
{
    b_add(b, &c, 1);
}

static void b_fmt(struct bytes *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void b_fmt(struct bytes *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    b_add(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void b_insert(struct bytes *b, size_t at, const void *s, size_t n)
{
    b_reserve(b, n);
    memmove(b->p + at + n, b->p + at, b->n - at);
    memcpy(b->p + at, s, n);
    b->n += n;
}

static void b_erase(struct bytes *b, size_t at, size_t n)
{
    memmove(b->p + at, b->p + at + n, b->n - at - n);
    b->n -= n;
}

/* ---- running one case ------------------------------------------------------ */

static uint64_t rng;
static unsigned long cases;

static size_t below(size_t n)
{
    return fz_below(&rng, n);
}

/* Generators make mistakes only when noisy, and then one time in n. */
static int noisy = 1;

static int oops(size_t n)
{
    return noisy && below(n) == 0;
}

/* All of fuzz_parse.c's checks on one input. limits: index into
 * fz_presets (0 the defaults, 1 the most fields, 2 and 3 tight); bytewise: also feed byte by byte up
 * to this length. The SIMD level the pieces start on and the alignment of
 * the copy turn with the case number. */
static void check_with(const char *p, size_t n, int limits, size_t bytewise)
{
    fz_init_levels();
    struct fz_config cfg = {
        .lim = fz_presets[limits],
        .level = (int)(cases % (unsigned long)fz_nlevels),
        .align = (cases / 3) % 37,
        .seed = fz_rand(&rng),
        .bytewise_max = bytewise,
    };
    cases++;
    fz_check((const uint8_t *)p, n, &cfg);
}

static void check(const char *p, size_t n)
{
    /* mostly the default limits; now and then room for the most fields,
     * or tight limits */
    size_t r = below(8);
    int limits = r == 0 ? 2 + (int)below(2) : r == 1 ? 1 : 0;
    check_with(p, n, limits, n <= 300 ? 300 : 0);
}

/* ---- characters HTTP gives meaning to ----------------------------------- */

static const char tchar_punct[] = "!#$%&'*+-.^_`|~";

static char any_char(void)
{
    size_t r = below(100);
    if (r < 24)
        return (char)((below(2) ? 'a' : 'A') + below(26));
    if (r < 32)
        return (char)('0' + below(10));
    if (r < 38)
        return ' ';
    if (r < 41)
        return '\t';
    if (r < 48)
        return '\r';
    if (r < 55)
        return '\n';
    if (r < 60)
        return ':';
    if (r < 64)
        return '/';
    if (r < 66)
        return '?';
    if (r < 68)
        return 0;
    if (r < 70)
        return 0x7f;
    if (r < 76)
        return (char)(0x80 + below(128));
    if (r < 85)
        return tchar_punct[below(sizeof tchar_punct - 1)];
    if (r < 90)
        return ",;=\"()<>@[]{}\\"[below(14)];
    if (r < 94)
        return (char)below(0x20);  /* other controls */
    return (char)below(256);
}

static void random_text(struct bytes *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b_chr(b, any_char());
}

static void token(struct bytes *b, size_t n)
{
    static const char t[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "0123456789!#$%&'*+-.^_`|~";
    for (size_t i = 0; i < n; i++)
        b_chr(b, oops(50) ? any_char() : t[below(sizeof t - 1)]);
}

/* ---- request-shaped random inputs --------------------------------------- */

static void gen_chunked(struct bytes *b, int valid);

static void gen_target(struct bytes *b)
{
    static const char path[] = "abcxyz0123456789/._-~%=&+";
    /* the bytes TARGET (parse.c) decides on, and what ends a path */
    static const char edge[] = "\"<>\\`{}|^?#";
    switch (below(10)) {
    case 0:
        b_str(b, "*");
        return;
    case 1:
        b_str(b, below(2) ? "http://" : "HTTPS://");
        if (below(4))
            token(b, below(12));
        if (below(2))
            b_fmt(b, ":%u", (unsigned)below(70000));
        break;
    case 2:
        b_str(b, "example.com:443");
        return;
    default:
        break;
    }
    if (below(8))
        b_chr(b, '/');
    for (size_t i = 0, n = below(below(4) ? 20 : 150); i < n; i++)
        b_chr(b, oops(40) ? any_char() : oops(30) ? edge[below(sizeof edge - 1)]
                 : path[below(sizeof path - 1)]);
    if (below(3)) {
        b_chr(b, '?');
        for (size_t i = 0, n = below(30); i < n; i++)
            b_chr(b, oops(40) ? any_char()
                     : oops(20) ? edge[below(sizeof edge - 1)]
                                : path[below(sizeof path - 1)]);
    }
}

static void gen_value(struct bytes *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t r = below(60);
        b_chr(b, oops(60) ? any_char()
                 : r < 4 ? (char)(0x80 + below(128))
                 : r < 8 ? ' '
                         : (char)(0x21 + below(0x7e - 0x21)));
    }
}

static void gen_eol(struct bytes *b)
{
    size_t r = oops(20) ? below(3) : 3;
    b_str(b, r == 0 ? "\n" : r == 1 ? "\r" : r == 2 ? "\r\r\n" : "\r\n");
}

/* A request, mostly well formed; sometimes its body and a second request. */
static void gen_request(struct bytes *b, int depth)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT",
                                          "OPTIONS", "DELETE", "CONNECT", "PRI"};
    if (below(5))
        b_str(b, methods[below(noisy ? 8 : 6)]);
    else
        token(b, 1 + below(below(4) ? 10 : 30));  /* METHOD_MAX is 20 */
    b_str(b, oops(40) ? (below(2) ? "  " : "\t") : " ");
    gen_target(b);
    b_str(b, oops(40) ? "  " : " ");
    static const char *const versions[] = {"HTTP/1.1", "HTTP/1.0", "HTTP/2.0",
                                           "HTTP/1.2", "http/1.1", "HTTP/1",
                                           "HTTP/1.10", "HTTP/9.9", "HTTP/1.9",
                                           "HTTP/0.9"};
    b_str(b, versions[oops(4) ? below(10) : below(2)]);
    gen_eol(b);

    int chunked = 0;
    uint64_t length = 0;
    size_t nfields = below(4) ? below(8) : below(80);
    int host = !oops(10), framed = 0;
    for (size_t i = 0; i < nfields + (size_t)host; i++) {
        size_t kind = i == 0 && host ? 0 : 1 + below(11);
        if (kind == 1 || kind == 2) {  /* one framing field, unless noisy */
            if (framed && !oops(2))
                kind = 5;
            framed = 1;
        }
        switch (kind) {
        case 0:
            b_str(b, below(3) ? "Host" : "host");
            break;
        case 1:
            b_str(b, "Content-Length");
            break;
        case 2:
            b_str(b, "Transfer-Encoding");
            break;
        case 3:
            b_str(b, "Connection");
            break;
        case 4:
            b_str(b, "Expect");
            break;
        default:
            token(b, below(20) ? 1 + below(16) : below(3));
        }
        if (oops(50))
            b_chr(b, ' ');  /* before the colon: a 400 */
        b_chr(b, ':');
        for (size_t k = below(3); k; k--)
            b_chr(b, below(3) ? ' ' : '\t');
        switch (kind) {
        case 0: {
            static const char *const hosts[] = {"example.com", "h:8080", "[::1]:80",
                                                "127.0.0.1", "", "a.b-c_d~e"};
            if (!oops(8))
                b_str(b, hosts[below(6)]);
            else
                gen_value(b, below(20));
            break;
        }
        case 1:
            if (!oops(10)) {
                length = below(below(4) ? 20 : 100000);
                b_fmt(b, "%llu", (unsigned long long)length);
            } else {
                gen_value(b, below(25));
            }
            break;
        case 2:
            if (!oops(6)) {
                b_str(b, "chunked");
                chunked = 1;
            } else {
                static const char *const te[] = {"gzip, chunked", "chunked, gzip",
                                                 "identity", ",", "Chunked ,"};
                b_str(b, te[below(5)]);
            }
            break;
        case 3: {
            static const char *const conn[] = {"close", "keep-alive, Upgrade",
                                               "keep-alive", "Keep-Alive, CLOSE",
                                               ",, x", ""};
            b_str(b, conn[below(6)]);
            break;
        }
        case 4: {
            static const char *const expect[] = {"100-continue, x", ", 100-Continue ,",
                                                 "", "100-continue;a=b"};
            b_str(b, oops(4) ? expect[below(4)] : oops(4) ? "something"
                                                          : "100-continue");
            break;
        }
        default:
            gen_value(b, below(10) ? below(40) : below(300));
        }
        for (size_t k = below(3); k; k--)
            b_chr(b, below(3) ? ' ' : '\t');
        if (oops(80))
            b_chr(b, 0);
        gen_eol(b);
        if (oops(80))
            b_str(b, " folded\r\n");  /* obs-fold: a 400 */
    }
    gen_eol(b);
    if (chunked)
        gen_chunked(b, !oops(3));
    else if (length && length < 200)
        random_text(b, (size_t)length - (oops(8) ? 1 : 0));
    if (depth < 3 && below(4) == 0)
        gen_request(b, depth + 1);
}

/* A chunked body; valid asks for mostly well-formed framing. */
static void gen_chunked(struct bytes *b, int valid)
{
    size_t chunks = below(6);
    for (size_t i = 0; i <= chunks; i++) {
        size_t size = i == chunks ? 0 : below(4) ? below(80) : below(400);
        for (size_t z = below(4) ? 0 : below(3); z; z--)
            b_chr(b, '0');
        b_fmt(b, below(2) ? "%zx" : "%zX", size);
        if (!below(4)) {
            static const char *const ext[] = {
                ";a=b", " ; x", ";name=\"quoted value\"", "\t;n", ";",
                "; x=\x80\xff", " ; a = b ;c", ";q=\"\\\" \\\\\"", ";a=\"open",
                ";a=b c", " ", ";=b", ";a=", ";a b", ";a=\"\\", ";a=\"x\"y",
                ";bad[=x", ";a=\"\x80\t\"", ";a==b", "; ;"};
            b_str(b, ext[below(20)]);
        }
        if (!valid && !below(6))
            random_text(b, below(5));
        b_str(b, "\r\n");
        if (size) {
            if (valid || below(4))
                random_text(b, size);
            else
                random_text(b, size + below(3) - 1);
            b_str(b, valid || below(8) ? "\r\n" : "\n");
        }
    }
    for (size_t t = below(3) ? 0 : below(3); t; t--) {
        token(b, 1 + below(8));
        b_str(b, ": ");
        gen_value(b, below(20));
        b_str(b, "\r\n");
    }
    b_str(b, valid || below(4) ? "\r\n" : "\n");
}

/* ---- mutations ----------------------------------------------------------- */

/* [start, end) of the line around at, its LF included */
static void line_at(const struct bytes *b, size_t at, size_t *start, size_t *end)
{
    size_t s = at, e = at;
    while (s > 0 && b->p[s - 1] != '\n')
        s--;
    while (e < b->n && b->p[e] != '\n')
        e++;
    *start = s;
    *end = e < b->n ? e + 1 : e;
}

static void mutate(struct bytes *b)
{
    if (!b->n) {
        random_text(b, 1 + below(8));
        return;
    }
    size_t at = below(b->n), s, e;
    switch (below(10)) {
    case 0:
        b->p[at] ^= (char)(1u << below(8));
        break;
    case 1:
    case 2:
        b->p[at] = any_char();
        break;
    case 3: {
        char ins[4];
        size_t n = 1 + below(4);
        for (size_t i = 0; i < n; i++)
            ins[i] = any_char();
        b_insert(b, at, ins, n);
        break;
    }
    case 4: {
        size_t n = 1 + below(4);
        b_erase(b, at, n < b->n - at ? n : b->n - at);
        break;
    }
    case 5: {  /* duplicate a line */
        line_at(b, at, &s, &e);
        char *line = malloc(e - s + 1);
        memcpy(line, b->p + s, e - s);
        b_insert(b, e, line, e - s);
        free(line);
        break;
    }
    case 6:  /* delete a line */
        line_at(b, at, &s, &e);
        b_erase(b, s, e - s);
        break;
    case 7: {  /* insert something the grammar turns on */
        static const char *const bits[] = {"\r\n", "\n", "\r", ":", " ", "\t",
                                           "\r\n\r\n", "?", "/", ";", "0\r\n"};
        const char *bit = bits[below(11)];
        b_insert(b, at, bit, strlen(bit));
        break;
    }
    case 8:  /* truncate */
        b->n = at;
        break;
    default: {  /* copy a stretch of the input over another place */
        size_t from = below(b->n), n = 1 + below(16);
        if (n > b->n - from)
            n = b->n - from;
        char tmp[16];
        memcpy(tmp, b->p + from, n);
        b_insert(b, at, tmp, n);
        break;
    }
    }
}

/* ---- the corpus ------------------------------------------------------------ */

struct file {
    char name[256];
    struct bytes data;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct file *)a)->name, ((const struct file *)b)->name);
}

/* Every file in test/fuzz-corpus, sorted by name so each run is the same. */
static size_t load_corpus(struct file **out)
{
    DIR *d = opendir(CORPUS_DIR);
    cr_assert_not_null(d, "cannot open %s: run the tests from the repository root",
                       CORPUS_DIR);
    struct file *files = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CORPUS_DIR, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        files = realloc(files, (n + 1) * sizeof *files);
        struct file *fl = &files[n++];
        memset(fl, 0, sizeof *fl);
        snprintf(fl->name, sizeof fl->name, "%s", de->d_name);
        char chunk[4096];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
            b_add(&fl->data, chunk, got);
        fclose(f);
    }
    closedir(d);
    cr_assert_gt(n, 4, "%s holds too few files", CORPUS_DIR);
    qsort(files, n, sizeof *files, by_name);
    *out = files;
    return n;
}

static void free_corpus(struct file *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(files[i].data.p);
    free(files);
}

/* Requests with a run of padding where the '#' is, so that the elements
 * after it land on every offset around the 64-byte block boundaries. */
static const char *const templates[] = {
    "GET /#?q=1&r HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
    "GE# / HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX-#: v\r\nY: w\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX: #\r\nY: w\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX: #  \t\r\n\r\n",
    "GET http://a.b/# HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "POST /e HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX: #\r\n\r\n"
    "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    "POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /# HTTP/1.1\r\n"
    "Host: h\r\n\r\n",
};
enum { NTEMPLATES = sizeof templates / sizeof templates[0] };

static void fill_template(struct bytes *b, size_t t, size_t pad)
{
    const char *s = templates[t], *hash = strchr(s, '#');
    char fill = t == 1 ? 'T' : t == 2 ? 'n' : 'v';
    b->n = 0;
    b_add(b, s, (size_t)(hash - s));
    for (size_t i = 0; i < pad; i++)
        b_chr(b, fill);
    b_str(b, hash + 1);
}

/* ---- the tests ------------------------------------------------------------- */

Test(differential, random_bytes)
{
    rng = 0x1001;
    struct bytes b = {0};
    for (int i = 0; i < 12000; i++) {
        b.n = 0;
        switch (i % 3) {
        case 1:  /* past the method: the target scan */
            token(&b, 1 + below(7));
            b_str(&b, " /");
            break;
        case 2:  /* past the request line: the fields */
            b_str(&b, "GET / HTTP/1.1\r\nHost: h\r\n");
            break;
        }
        random_text(&b, below(5) ? 1 + below(200) : 201 + below(500));
        check(b.p, b.n);
    }
    free(b.p);
}

Test(differential, random_requests)
{
    rng = 0x2002;
    struct bytes b = {0};
    for (int i = 0; i < 8000; i++) {
        b.n = 0;
        noisy = i % 2;  /* half well formed, half with mistakes */
        gen_request(&b, 0);
        check(b.p, b.n);
    }
    noisy = 1;
    free(b.p);
}

Test(differential, chunked_bodies)
{
    rng = 0x3003;
    struct bytes b = {0};
    for (int i = 0; i < 5000; i++) {
        b.n = 0;
        b_str(&b, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        size_t head = b.n;
        gen_chunked(&b, i % 4 != 0);
        if (i % 3 == 0)
            b_str(&b, "GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
        if (i % 5 == 0 && b.n > head) {  /* damage the body only */
            struct bytes body = {0};
            b_add(&body, b.p + head, b.n - head);
            mutate(&body);
            b.n = head;
            b_add(&b, body.p, body.n);
            free(body.p);
        }
        /* tight limits now and then, for 413 and the trailer bound */
        check_with(b.p, b.n, i % 7 == 0 ? 2 + (int)below(2) : 0, 600);
    }
    free(b.p);
}

Test(differential, mutated_corpus)
{
    rng = 0x4004;
    struct file *files;
    size_t nfiles = load_corpus(&files);
    struct bytes b = {0};
    size_t per = 16000 / nfiles + 1;
    for (size_t f = 0; f < nfiles; f++) {
        for (size_t i = 0; i < per; i++) {
            b.n = 0;
            b_add(&b, files[f].data.p, files[f].data.n);
            for (size_t m = 1 + below(below(4) ? 2 : 6); m; m--)
                mutate(&b);
            check(b.p, b.n);
        }
    }
    free(b.p);
    free_corpus(files, nfiles);
}

Test(differential, elements_straddle_block_boundaries)
{
    /* every element of each template at every offset up to 140 (63, 64, 65,
     * 127, 128 among them), and each with a bad or significant byte put at
     * every offset around a block boundary */
    static const char special[] = {0, '\t', ' ', '\r', '\n', 0x7f, (char)0x80,
                                   (char)0xff, ':', '?', '/'};
    rng = 0x5005;
    struct bytes b = {0}, m = {0};
    for (size_t t = 0; t < NTEMPLATES; t++) {
        for (size_t pad = 0; pad <= 140; pad++) {
            fill_template(&b, t, pad);
            check_with(b.p, b.n, 0, 300);
            if (pad % 13)
                continue;
            static const size_t around[] = {62, 63, 64, 65, 66, 126, 127, 128, 129};
            for (size_t a = 0; a < sizeof around / sizeof around[0]; a++) {
                if (around[a] >= b.n)
                    break;
                for (size_t c = 0; c < sizeof special; c++) {
                    m.n = 0;
                    b_add(&m, b.p, b.n);
                    m.p[around[a]] = special[c];
                    check_with(m.p, m.n, 0, 0);
                }
            }
        }
    }
    free(b.p);
    free(m.p);
}

Test(differential, every_length)
{
    /* each prefix of a few requests, lengths 1 to 260: the last, partial
     * block is classified apart (copied when under 64 bytes, shifted when
     * over), and every split of it must agree with the whole */
    rng = 0x6006;
    struct bytes b = {0};
    for (size_t t = 0; t < NTEMPLATES; t++) {
        fill_template(&b, t, 100 + t);
        for (size_t n = 1; n <= b.n && n <= 260; n++)
            check_with(b.p, n, 0, 0);
    }
    struct file *files;
    size_t nfiles = load_corpus(&files);
    for (size_t f = 0; f < nfiles; f++)
        for (size_t n = 1; n <= files[f].data.n && n <= 200; n += 1 + f % 3)
            check_with(files[f].data.p, n, 0, 0);
    free_corpus(files, nfiles);
    free(b.p);
}

Test(differential, corpus_replay)
{
    /* each corpus file as the fuzzer sees it, then under every limits preset
     * and SIMD level */
    rng = 0x7007;
    struct file *files;
    size_t nfiles = load_corpus(&files);
    for (size_t f = 0; f < nfiles; f++) {
        LLVMFuzzerTestOneInput((const uint8_t *)files[f].data.p, files[f].data.n);
        for (int limits = 0; limits < 4; limits++)
            for (int l = 0; l < 3; l++)
                check_with(files[f].data.p, files[f].data.n, limits, 4096);
    }
    free_corpus(files, nfiles);
}

Test(differential, every_split_in_two)
{
    /* each request of the corpus (up to 600 bytes) and of the templates,
     * cut in two at every byte, on every SIMD level: the resumed parser
     * gives the whole-input answer */
    static const struct ducta_limits lim = {
        DUCTA_DEFAULT_MAX_REQUEST_LINE, DUCTA_DEFAULT_MAX_HEAD,
        DUCTA_DEFAULT_MAX_HEADERS, DUCTA_DEFAULT_MAX_BODY};
    static struct fz_snap want;
    struct file *files;
    size_t nfiles = load_corpus(&files);
    struct bytes b = {0};
    fz_init_levels();
    for (size_t f = 0; f < nfiles + NTEMPLATES; f++) {
        if (f < nfiles) {
            b.n = 0;
            b_add(&b, files[f].data.p, files[f].data.n);
        } else {
            fill_template(&b, f - nfiles, 61);
        }
        if (b.n > 600)
            continue;
        char *buf = fz_dup(b.p, b.n);
        fz_ctx = (__typeof__(fz_ctx)){(const uint8_t *)buf, b.n, "split in two", -1, 0};
        for (int l = 0; l < fz_nlevels; l++) {
            fz_set_level(fz_levels[l]);
            struct ducta_parser p = {0};
            ssize_t rc = fz_parse(&p, &lim, buf, b.n, b.n, &fz_req_a);
            fz_snap(&want, rc, buf, b.n, &fz_req_a);
            for (size_t k = 1; k < b.n; k++) {
                size_t cuts[2] = {k, b.n};
                fz_pieces(&lim, buf, b.n, cuts, 2, 1, &want);
            }
        }
        fz_free(buf, b.n);
    }
    free(b.p);
    free_corpus(files, nfiles);
}
