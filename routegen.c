/*
 * routegen.c — the route generator: compiles a routes file into the C
 * tables router.c includes, at build time, so that nothing about routes is
 * parsed or hashed into shape while the server runs.
 *
 *   routegen ROUTES OUT.h      (build.sh runs it; see there)
 *
 * Owns: the routes file format, every check on it, the search for the
 * perfect hashes (static paths, trie edges), the
 * segment trie of :param and *wildcard routes, and the path hash itself
 * (route_hash below is compiled here and written verbatim into OUT.h).
 * Does not own: matching a request (router.c reads the tables) or the
 * table types (declared in router.c before it includes OUT.h).
 *
 * The routes file: one route per line, `METHOD PATH HANDLER`, separated by
 * blanks; `#` starts a comment; blank lines are ignored.
 *   METHOD   GET HEAD POST PUT DELETE PATCH OPTIONS (HEAD is implied by GET)
 *   PATH     `/` then segments joined by `/`; a segment `:name` captures
 *            one non-empty segment, a last segment `*name` the rest of the
 *            path; `OPTIONS *` is the one path not starting with `/`.
 *   HANDLER  a C function `int NAME(const struct ducta_request *,
 *            struct ducta_response *)`, prototype emitted in OUT.h.
 * Every mistake is reported as FILE:LINE: message, and the exit status is 1
 * without touching OUT.h (it is written to OUT.h.PID.tmp, then renamed).
 *
 * The perfect hash is "hash and displace" (Belazzougui, Botelho and
 * Dietzfelbinger's CHD, with an XOR displacement): one 64-bit hash h of the
 * key; its high half picks a bucket, and the slot is (h ^ disp[bucket]) &
 * mask. Buckets hold about four keys; the largest are placed first, each by
 * trying displacements until all its keys land in free slots. A table of
 * 1000 keys is found in a few milliseconds, and lookups stay one hash, one
 * slot, one compare however many keys there are. There are two such
 * tables: static paths; and the trie's edges, keyed by (node, segment), so
 * that each step down the trie is one lookup too, however wide the node.
 * (The MIME table is not generated: it is a sorted list in files.c.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ducta.h"

/* The hash and the slot computation, shared with router.c: SHARED compiles
 * them here and keeps their text in shared_src, which is written into the
 * generated header. One definition, so the two sides cannot disagree.
 * (Both run on the build machine's byte order: the words are loaded as they
 * lie in memory, so the generator and the server must share it.) */
#define SHARED(...) __VA_ARGS__ static const char shared_src[] = #__VA_ARGS__;
SHARED(
static inline uint64_t route_hash(const char *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15u);
    uint64_t w = 0;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 29;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = (uint64_t)a << 32 | b;
    } else if (n > 0) {
        w = (uint64_t)(unsigned char)p[0] << 16 |
            (uint64_t)(unsigned char)p[n / 2] << 8 | (unsigned char)p[n - 1];
    } else {
        w = 0;
    }
    h = (h ^ w) * 0x94d049bb133111ebu;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9u;
    return h ^ (h >> 32);
}
static inline uint64_t route_edge_seed(uint64_t seed, uint32_t node)
{
    return seed ^ ((uint64_t)node * 0xc2b2ae3d27d4eb4fu);
}
static inline uint32_t route_slot(uint64_t h, const uint32_t *disp,
                                  uint32_t nbuckets, uint32_t mask)
{
    uint32_t bucket = (uint32_t)(((h >> 32) * nbuckets) >> 32);
    return ((uint32_t)h ^ disp[bucket]) & mask;
}
)

enum {
    NMETHODS = 7,
    M_GET = 0,
    M_HEAD = 1,
    MAX_ERRORS = 20,      /* stop listing mistakes after this many */
    MAX_NAME = 63,        /* longest handler or parameter name */
    KEYS_PER_BUCKET = 4,  /* CHD's lambda: smaller is faster to search */
    SEEDS_PER_SIZE = 200, /* seeds tried before the table grows */
};

/* Index order is the order of Allow; names as router.c's enum spells them. */
static const char *const methods[NMETHODS] = {"GET",    "HEAD",  "POST",
                                              "PUT",    "DELETE", "PATCH",
                                              "OPTIONS"};

/* ---- reading the routes file ------------------------------------------ */

static const char *routes_file;
static int errors;

static void fail(int line, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: ", routes_file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (++errors >= MAX_ERRORS) {
        fprintf(stderr, "%s: too many errors\n", routes_file);
        exit(1);
    }
}

static void *xalloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "routegen: out of memory\n");
        exit(1);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xalloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* One route handler per method, with the line that declared it. */
struct methods {
    const char *h[NMETHODS];
    int line[NMETHODS];
};

/* Static paths: the keys of the perfect hash. */
struct spath {
    char *path;
    struct methods m;
};
static struct spath *spaths;
static size_t nspaths;

/* The segment trie of routes with a :param or *wildcard. */
struct node {
    char *seg;            /* the static segment leading here */
    uint32_t *kids;       /* static children */
    size_t nkids;
    uint32_t param;       /* the :param child, 0 if none */
    char *param_name;
    int param_line;
    char *wild_name;      /* the *wildcard ending here, NULL if none */
    int wild_line;
    struct methods here;  /* routes whose path ends at this node */
    struct methods wild;  /* routes of the wildcard */
};
static struct node *nodes;
static size_t nnodes;

static uint32_t new_node(const char *seg, size_t len)
{
    nodes = xalloc(nodes, (nnodes + 1) * sizeof *nodes);
    nodes[nnodes] = (struct node){.seg = seg ? xstrndup(seg, len) : NULL};
    return (uint32_t)nnodes++;
}

static int is_ident(const char *s, size_t n)
{
    if (n == 0 || n > MAX_NAME ||
        !(s[0] == '_' || ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z')))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
              ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')))
            return 0;
    return 1;
}

static int is_keyword(const char *s)
{
    static const char *const kw[] = {
        "auto", "break", "case", "char", "const", "continue", "default",
        "do", "double", "else", "enum", "extern", "float", "for", "goto",
        "if", "inline", "int", "long", "register", "restrict", "return",
        "short", "signed", "sizeof", "static", "struct", "switch",
        "typedef", "union", "unsigned", "void", "volatile", "while"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0)
            return 1;
    return 0;
}

/* Record handler h for method m; a second route for the same method and
 * place is a duplicate. */
static void set_method(struct methods *ms, int m, const char *h, int line,
                       const char *method, const char *path)
{
    if (ms->h[m]) {
        fail(line, "duplicate route %s %s (first at %s:%d)", method, path,
             routes_file, ms->line[m]);
        return;
    }
    ms->h[m] = h;
    ms->line[m] = line;
}

static void add_static(const char *path, int m, const char *h, int line)
{
    for (size_t i = 0; i < nspaths; i++)
        if (strcmp(spaths[i].path, path) == 0) {
            set_method(&spaths[i].m, m, h, line, methods[m], path);
            return;
        }
    spaths = xalloc(spaths, (nspaths + 1) * sizeof *spaths);
    spaths[nspaths] = (struct spath){.path = xstrndup(path, strlen(path))};
    set_method(&spaths[nspaths++].m, m, h, line, methods[m], path);
}

/* Where the path segment that starts at s ends: its '/', or end. */
static const char *segment_end(const char *s, const char *end)
{
    const char *e = memchr(s, '/', (size_t)(end - s));
    return e ? e : end;
}

/* Walk (and grow) the trie along a path already checked by check_path. */
static void add_dynamic(const char *path, int m, const char *h, int line)
{
    uint32_t at = 0;
    const char *s = path + 1, *end = path + strlen(path);
    for (;;) {
        const char *e = segment_end(s, end);
        size_t len = (size_t)(e - s);
        if (*s == '*') {
            struct node *n = &nodes[at];
            if (n->wild_name && strncmp(n->wild_name, s + 1, len - 1) != 0) {
                fail(line, "wildcard %.*s conflicts with *%s at the same place (%s:%d)",
                     (int)len, s, n->wild_name, routes_file, n->wild_line);
                return;
            }
            if (!n->wild_name) {
                n->wild_name = xstrndup(s + 1, len - 1);
                n->wild_line = line;
            }
            set_method(&nodes[at].wild, m, h, line, methods[m], path);
            return;
        }
        if (*s == ':') {
            if (nodes[at].param && strlen(nodes[at].param_name) == len - 1 &&
                memcmp(nodes[at].param_name, s + 1, len - 1) == 0) {
                at = nodes[at].param;
            } else if (nodes[at].param) {
                fail(line, "parameter %.*s conflicts with :%s at the same place (%s:%d)",
                     (int)len, s, nodes[at].param_name, routes_file,
                     nodes[at].param_line);
                return;
            } else {
                uint32_t k = new_node(NULL, 0);
                nodes[at].param = k;
                nodes[at].param_name = xstrndup(s + 1, len - 1);
                nodes[at].param_line = line;
                at = k;
            }
        } else {
            uint32_t k = 0;
            for (size_t i = 0; i < nodes[at].nkids && !k; i++) {
                const char *seg = nodes[nodes[at].kids[i]].seg;
                if (strlen(seg) == len && memcmp(seg, s, len) == 0)
                    k = nodes[at].kids[i];
            }
            if (!k) {
                k = new_node(s, len);
                struct node *n = &nodes[at];
                n->kids = xalloc(n->kids, (n->nkids + 1) * sizeof *n->kids);
                n->kids[n->nkids++] = k;
            }
            at = k;
        }
        if (e == end)
            break;
        s = e + 1;
    }
    set_method(&nodes[at].here, m, h, line, methods[m], path);
}

/* Is the path well formed? Returns its captures, or -1 (after saying why). */
static int check_path(const char *path, int line)
{
    if (path[0] != '/') {
        fail(line, "path '%s' does not start with '/'", path);
        return -1;
    }
    int captures = 0;
    const char *s = path + 1, *end = path + strlen(path);
    for (;;) {
        const char *e = segment_end(s, end);
        size_t len = (size_t)(e - s);
        if (*s == ':' || *s == '*') {
            if (!is_ident(s + 1, len - 1)) {
                fail(line, "'%.*s' in '%s': a %s needs a name of letters, digits and '_'",
                     (int)len, s, path, *s == ':' ? "parameter" : "wildcard");
                return -1;
            }
            if (*s == '*' && e != end) {
                fail(line, "wildcard '%.*s' in '%s' is not the last segment",
                     (int)len, s, path);
                return -1;
            }
            captures++;
        } else {
            for (const char *c = s; c < e; c++) {
                if (*c <= ' ' || *c > '~' || *c == '?' || *c == '#' ||
                    *c == ':' || *c == '*') {
                    fail(line, "path '%s': byte '%c' not allowed here ("
                         "':' and '*' only begin a segment; no '?', '#', "
                         "controls or blanks)", path, *c);
                    return -1;
                }
            }
        }
        if (e == end)
            break;
        s = e + 1;
    }
    if (captures > DUCTA_MAX_PARAMS) {
        fail(line, "path '%s' has %d captures; at most DUCTA_MAX_PARAMS (%d)",
             path, captures, DUCTA_MAX_PARAMS);
        return -1;
    }
    return captures;
}

/* Handler names, each once, in order of first use (for the prototypes). */
static char **handlers;
static size_t nhandlers;

static const char *intern_handler(const char *name)
{
    for (size_t i = 0; i < nhandlers; i++)
        if (strcmp(handlers[i], name) == 0)
            return handlers[i];
    handlers = xalloc(handlers, (nhandlers + 1) * sizeof *handlers);
    return handlers[nhandlers++] = xstrndup(name, strlen(name));
}

static void read_routes(FILE *f)
{
    char *buf = NULL;
    size_t cap = 0;
    int line = 0;
    while (getline(&buf, &cap, f) >= 0) {
        line++;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = 0;
        char *tok[4];
        int n = 0;
        for (char *save = NULL, *t = strtok_r(buf, " \t\r\n", &save); t;
             t = strtok_r(NULL, " \t\r\n", &save))
            if (n < 4)
                tok[n++] = t;
            else
                n = 5;
        if (n == 0)
            continue;
        if (n != 3) {
            fail(line, "expected METHOD PATH HANDLER, found %d field%s", n > 4 ? 4 : n,
                 n == 1 ? "" : "s");
            continue;
        }
        int m = -1;
        for (int i = 0; i < NMETHODS; i++)
            if (strcmp(tok[0], methods[i]) == 0)
                m = i;
        if (m < 0) {
            fail(line, "unknown method '%s' (GET HEAD POST PUT DELETE PATCH OPTIONS)",
                 tok[0]);
            continue;
        }
        if (!is_ident(tok[2], strlen(tok[2])) || is_keyword(tok[2])) {
            fail(line, "handler '%s' is not a C function name", tok[2]);
            continue;
        }
        const char *h = intern_handler(tok[2]);
        if (strcmp(tok[1], "*") == 0) {
            if (strcmp(tok[0], "OPTIONS") != 0)
                fail(line, "'*' is a path only for OPTIONS (RFC 9110 §9.3.7)");
            else
                add_static("*", m, h, line);
            continue;
        }
        int captures = check_path(tok[1], line);
        if (captures == 0)
            add_static(tok[1], m, h, line);
        else if (captures > 0)
            add_dynamic(tok[1], m, h, line);
    }
    free(buf);
    if (ferror(f))
        fail(line, "read error: %s", strerror(errno));
}

/* ---- the perfect hash -------------------------------------------------- */

struct phash {
    uint64_t seed;
    uint32_t nslots, nbuckets;
    uint32_t *disp;      /* per bucket */
    uint32_t *slot;      /* per key: where it landed */
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Place every bucket, largest first. 0 on success. */
static int phash_try(struct phash *ph, const uint64_t *hs, size_t n,
                     uint32_t *order, uint32_t *bucket_of, uint8_t *used)
{
    uint32_t nb = ph->nbuckets, mask = ph->nslots - 1;
    uint32_t *size = xalloc(NULL, nb * sizeof *size);
    memset(size, 0, nb * sizeof *size);
    for (size_t i = 0; i < n; i++) {
        bucket_of[i] = (uint32_t)(((hs[i] >> 32) * nb) >> 32);
        size[bucket_of[i]]++;
    }
    /* keys ordered by (bucket size desc, bucket): a counting sort would do,
     * but n is small and this runs at build time */
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (size_t i = 1; i < n; i++) {
        uint32_t k = order[i];
        size_t j = i;
        while (j > 0 && (size[bucket_of[order[j - 1]]] < size[bucket_of[k]] ||
                         (size[bucket_of[order[j - 1]]] == size[bucket_of[k]] &&
                          bucket_of[order[j - 1]] > bucket_of[k]))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    memset(used, 0, ph->nslots);
    memset(ph->disp, 0, nb * sizeof *ph->disp);
    int ok = 1;
    for (size_t i = 0; i < n && ok;) {
        size_t j = i;
        while (j < n && bucket_of[order[j]] == bucket_of[order[i]])
            j++;
        ok = 0;
        for (uint32_t d = 0; d <= mask && !ok; d++) {
            size_t k;
            for (k = i; k < j; k++) {
                uint32_t s = ((uint32_t)hs[order[k]] ^ d) & mask;
                if (used[s])
                    break;
                used[s] = 2;  /* taken by this bucket, for now */
            }
            ok = k == j;
            for (size_t u = i; u < k; u++) {
                uint32_t s = ((uint32_t)hs[order[u]] ^ d) & mask;
                used[s] = ok;
                if (ok)
                    ph->slot[order[u]] = s;
            }
            if (ok)
                ph->disp[bucket_of[order[i]]] = d;
        }
        i = j;
    }
    free(size);
    return ok ? 0 : -1;
}

/* The key i: bytes keys[i] (lens[i] of them, or a string when lens is
 * NULL), under the node tweaks[i] (edges) or none (tweaks NULL). */
static uint64_t key_hash(const char *const *keys, const size_t *lens,
                         const uint32_t *tweaks, size_t i, uint64_t seed)
{
    size_t n = lens ? lens[i] : strlen(keys[i]);
    return route_hash(keys[i], n, tweaks ? route_edge_seed(seed, tweaks[i]) : seed);
}

static void phash_build(struct phash *ph, const char *const *keys,
                        const size_t *lens, const uint32_t *tweaks, size_t n,
                        uint64_t salt)
{
    uint64_t *hs = xalloc(NULL, n * sizeof *hs);
    uint32_t *order = xalloc(NULL, n * sizeof *order);
    uint32_t *bucket_of = xalloc(NULL, n * sizeof *bucket_of);
    ph->nslots = 1;
    while (ph->nslots < n + n / 4)
        ph->nslots *= 2;
    ph->nbuckets = (uint32_t)(n / KEYS_PER_BUCKET + 1);
    ph->disp = xalloc(NULL, ph->nbuckets * sizeof *ph->disp);
    ph->slot = xalloc(NULL, n * sizeof *ph->slot);
    uint64_t x = salt;
    for (int tries = 0;; tries++) {
        if (tries == SEEDS_PER_SIZE) {
            ph->nslots *= 2;  /* so crowded no seed works: give it room */
            tries = 0;
            /* two keys whose hashes agree under every seed would end here */
            if (ph->nslots > 64 * (n + 1)) {
                fprintf(stderr, "routegen: internal error: no perfect hash found\n");
                exit(1);
            }
        }
        uint8_t *used = xalloc(NULL, ph->nslots);
        ph->seed = splitmix(&x);
        for (size_t i = 0; i < n; i++)
            hs[i] = key_hash(keys, lens, tweaks, i, ph->seed);
        int ok = phash_try(ph, hs, n, order, bucket_of, used) == 0;
        free(used);
        if (ok)
            break;
    }
    /* the same computation router.c makes must find every key */
    for (size_t i = 0; i < n; i++) {
        uint64_t h = key_hash(keys, lens, tweaks, i, ph->seed);
        if (route_slot(h, ph->disp, ph->nbuckets, ph->nslots - 1) != ph->slot[i]) {
            fprintf(stderr, "routegen: internal error: perfect hash misses '%s'\n",
                    keys[i]);
            exit(1);
        }
    }
    free(hs);
    free(order);
    free(bucket_of);
}

/* ---- writing the header ------------------------------------------------ */

/* A C string literal for s (paths are visible ASCII without '?', so only
 * quotes and backslashes need escaping). */
static void put_cstr(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', o);
        fputc(*s, o);
    }
    fputc('"', o);
}

static void put_methods(FILE *o, const char *field, const char *mfield,
                        const struct methods *ms)
{
    int any = 0;
    fprintf(o, ".%s = ", mfield);
    for (int m = 0; m < NMETHODS; m++)
        if (ms->h[m])
            fprintf(o, "%s(1u << RM_%s)", any++ ? " | " : "", methods[m]);
    if (!any) {
        fputs("0", o);
        return;
    }
    fprintf(o, ",\n        .%s = {", field);
    any = 0;
    for (int m = 0; m < NMETHODS; m++)
        if (ms->h[m])
            fprintf(o, "%s[RM_%s] = %s", any++ ? ", " : "", methods[m], ms->h[m]);
    fputs("}", o);
}

/* n numbers, twelve to a line */
static void put_u32s(FILE *o, const uint32_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        fprintf(o, "%s%u", i == 0 ? "\n    " : i % 12 ? ", " : ",\n    ", v[i]);
    fputs("\n};\n", o);
}

/* shared_src is one line (the preprocessor joined it); break it after
 * braces and semicolons outside parentheses and indent by brace depth. */
static void put_shared_src(FILE *o)
{
    int depth = 0, parens = 0, bol = 1;
    for (const char *p = shared_src; *p; p++) {
        if (bol && *p == ' ')
            continue;
        if (bol) {
            for (int i = 0; i < depth - (*p == '}'); i++)
                fputs("    ", o);
            bol = 0;
        }
        fputc(*p, o);
        if (*p == '(')
            parens++;
        else if (*p == ')')
            parens--;
        else if (*p == '{')
            depth++;
        else if (*p == '}')
            depth--;
        if (!parens && (*p == '{' || *p == ';' || (*p == '}' && p[1] != ' ' && p[1] != ';'))) {
            fputc('\n', o);
            bol = 1;
        } else if (*p == '}' && p[1] == ' ' && strncmp(p + 2, "else", 4) != 0) {
            fputc('\n', o);
            bol = 1;
        }
    }
    fputc('\n', o);
}

/* HEAD is served by the GET handler wherever no HEAD route was declared. */
static void imply_head(struct methods *ms)
{
    if (ms->h[M_GET] && !ms->h[M_HEAD]) {
        ms->h[M_HEAD] = ms->h[M_GET];
        ms->line[M_HEAD] = ms->line[M_GET];
    }
}

/* A perfect hash's parameters as C, after a comment on what it hashes:
 * NAME_SEED, NAME_SLOTS, NAME_BUCKETS and the displacements, disp. */
static void put_phash(FILE *o, const struct phash *ph, const char *comment,
                      const char *name, const char *disp)
{
    fprintf(o, "\n/* %s */\n"
               "#define %s_SEED 0x%016llxULL\n"
               "enum { %s_SLOTS = %u, %s_BUCKETS = %u };\n"
               "static const uint32_t %s[%s_BUCKETS] = {",
            comment, name, (unsigned long long)ph->seed, name, ph->nslots,
            name, ph->nbuckets, disp, name);
    put_u32s(o, ph->disp, ph->nbuckets);
}

/* The static paths: a perfect hash of the whole path to its slot. */
static void write_static_paths(FILE *o)
{
    const char **keys = xalloc(NULL, nspaths * sizeof *keys);
    for (size_t i = 0; i < nspaths; i++) {
        keys[i] = spaths[i].path;
        imply_head(&spaths[i].m);
    }
    struct phash ph;
    phash_build(&ph, keys, NULL, NULL, nspaths, 0x0ddc0ffee);
    put_phash(o, &ph, "static paths: a perfect hash (see routegen.c)", "ROUTE",
              "route_disp");
    fputs("static const struct route_slot route_slots[ROUTE_SLOTS] = {\n", o);
    for (size_t i = 0; i < nspaths; i++) {
        fprintf(o, "    [%u] = {.path = ", ph.slot[i]);
        put_cstr(o, spaths[i].path);
        fprintf(o, ", .len = %zu, ", strlen(spaths[i].path));
        put_methods(o, "h", "mask", &spaths[i].m);
        fputs("},\n", o);
    }
    fputs("};\n", o);
    free(keys);
    free(ph.disp);
    free(ph.slot);
}

/* The trie: node 0 is the root; a child index of 0 means none. Its edges
 * (node, static segment) -> child go into a perfect hash. */
static void write_trie(FILE *o)
{
    size_t nedges = 0;
    for (size_t i = 0; i < nnodes; i++) {
        imply_head(&nodes[i].here);
        imply_head(&nodes[i].wild);
        nedges += nodes[i].nkids;
    }
    const char **ekeys = xalloc(NULL, nedges * sizeof *ekeys);
    size_t *elens = xalloc(NULL, nedges * sizeof *elens);
    uint32_t *efrom = xalloc(NULL, nedges * sizeof *efrom), *eto = xalloc(NULL, nedges * sizeof *eto);
    size_t e = 0;
    for (size_t i = 0; i < nnodes; i++)
        for (size_t k = 0; k < nodes[i].nkids; k++, e++) {
            ekeys[e] = nodes[nodes[i].kids[k]].seg;
            elens[e] = strlen(ekeys[e]);
            efrom[e] = (uint32_t)i;
            eto[e] = nodes[i].kids[k];
        }
    struct phash eh;
    phash_build(&eh, ekeys, elens, efrom, nedges, 0xed6e5);
    put_phash(o, &eh,
              ":param and *wildcard routes: a segment trie; node 0 is the root,\n"
              " * and a child of 0 means none. Its static edges are a perfect hash\n"
              " * of (node, segment): route_hash(segment, route_edge_seed(EDGE_SEED,\n"
              " * node)); an empty slot has .node 0.",
              "EDGE", "edge_disp");
    fputs("static const struct route_edge route_edges[EDGE_SLOTS] = {\n", o);
    for (size_t i = 0; i < nedges; i++) {
        fprintf(o, "    [%u] = {.seg = ", eh.slot[i]);
        put_cstr(o, ekeys[i]);
        fprintf(o, ", .len = %zu, .from = %u, .node = %u},\n", elens[i], efrom[i], eto[i]);
    }
    if (!nedges)
        fputs("    {.seg = \"\"},\n", o);
    free(ekeys);
    free(elens);
    free(efrom);
    free(eto);
    free(eh.disp);
    free(eh.slot);
    fprintf(o, "};\nstatic const struct route_node route_nodes[%zu] = {\n", nnodes);
    for (size_t i = 0; i < nnodes; i++) {
        const struct node *n = &nodes[i];
        fprintf(o, "    [%zu] = {.nedges = %zu, ", i, n->nkids);
        if (n->param) {
            fprintf(o, ".param = %u, .param_name = ", n->param);
            put_cstr(o, n->param_name);
            fprintf(o, ", .param_len = %zu, ", strlen(n->param_name));
        }
        put_methods(o, "h", "mask", &n->here);
        if (n->wild_name) {
            fputs(",\n        .wild_name = ", o);
            put_cstr(o, n->wild_name);
            fprintf(o, ", .wild_len = %zu, ", strlen(n->wild_name));
            put_methods(o, "wild", "wild_mask", &n->wild);
        }
        fputs("},\n", o);
    }
    fputs("};\n", o);
}

static void write_header(FILE *o, const char *src)
{
    fprintf(o, "/*\n * routes.h — generated by routegen from %s. Do not edit: edit that\n"
               " * file and rebuild. Included by router.c alone, after the table types\n"
               " * (struct route_slot, route_node, route_edge; enum\n"
               " * route_method), or with ROUTES_HANDLERS_ONLY defined for the list of\n"
               " * handlers alone. %zu static paths, %zu trie nodes.\n */\n",
            src, nspaths, nnodes);
    fputs("#ifndef DUCTA_GEN_ROUTES_H\n#define DUCTA_GEN_ROUTES_H\n\n", o);
    fputs("/* the handlers the routes name */\n", o);
    for (size_t i = 0; i < nhandlers; i++)
        fprintf(o, "int %s(const struct ducta_request *, struct ducta_response *);\n",
                handlers[i]);
    /* the same list as an X-macro, for tools (tests, benchmarks) that stub
     * or name the handlers; they define ROUTES_HANDLERS_ONLY to get just
     * this part */
    fputs("#define ROUTE_HANDLERS(X)", o);
    for (size_t i = 0; i < nhandlers; i++)
        fprintf(o, " \\\n    X(%s)", handlers[i]);
    fputs("\n\n#ifndef ROUTES_HANDLERS_ONLY\n", o);
    fputs("\n/* the hash and the slot of a key, verbatim from routegen.c */\n", o);
    put_shared_src(o);
    write_static_paths(o);
    write_trie(o);
    fputs("\n#endif /* ROUTES_HANDLERS_ONLY */\n#endif\n", o);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: routegen ROUTES OUT.h\n");
        return 2;
    }
    routes_file = argv[1];
    FILE *f = fopen(routes_file, "r");
    if (!f) {
        fprintf(stderr, "routegen: %s: %s\n", routes_file, strerror(errno));
        return 1;
    }
    new_node(NULL, 0);  /* the root of the trie */
    read_routes(f);
    fclose(f);
    if (errors)
        return 1;
    /* written beside OUT.h, then renamed: a concurrent build never reads
     * half a header, and a failed run leaves the old one */
    size_t n = strlen(argv[2]);
    char *tmp = xalloc(NULL, n + 16);
    snprintf(tmp, n + 16, "%s.%d.tmp", argv[2], (int)getpid());
    FILE *o = fopen(tmp, "w");
    if (!o) {
        fprintf(stderr, "routegen: %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    write_header(o, routes_file);
    if (fclose(o) != 0 || rename(tmp, argv[2]) != 0) {
        fprintf(stderr, "routegen: %s: %s\n", argv[2], strerror(errno));
        remove(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}
