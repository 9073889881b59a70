/*
 * bench/bench_router.c — route lookup: ducta's router (the real
 * ducta_route of router.c, compiled against the routes.h that routegen made
 * from the same table) against two routers a C programmer would write
 * first, in one process, over the same requests (bench/router.sh builds
 * one binary per table size and runs it).
 *
 *   bench_router ROUTES.def
 *   bench_router --builtin      (built with -DBENCH_PREVIOUS, see below)
 *
 * The contenders, all given the method and path of each request and
 * returning the handler:
 *   - perfect hash: ducta_route (static paths by perfect hash, then the
 *     segment trie for :param routes);
 *   - linear: the routes in file order, each compared in turn: strcmp of
 *     method and path for a static route, segment by segment for a :param
 *     route; the first match wins;
 *   - chained hash: static paths in a hash map (FNV-1a, power-of-two
 *     buckets, one chain per bucket, a node per route), then the :param
 *     routes scanned as in linear.
 * Every request is a route of the table (a :param filled in with a
 * number): each route once, then random ones up to LOOKUPS requests, in a
 * shuffled order, so no contender gains from the file order and no table
 * is small enough for its request sequence to be learnt by the branch
 * predictor.
 * Before timing, each request must get the same handler from all three.
 *
 * --builtin asks whether the benchmark endpoints got slower: GET /plaintext
 * and GET /json, alternately, through ducta_route (built against the
 * default routes.def) and through "previous", the router this one replaced
 * (router.c of commit 3735022, a scan of its four routes, extracted by
 * bench/router.sh and built in with its ducta_route renamed).
 *
 * Noise: the machine is shared. Each figure is the median of REPS
 * repetitions (default 11) of about MS milliseconds each (default 40), the
 * contenders interleaved within each repetition and their order rotated,
 * so a noisy moment hits all of them. Prints one line per contender:
 *   NAME ns/lookup min max
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"
#define ROUTES_HANDLERS_ONLY
#include "routes.h"

enum {
    MAX_ROUTES = 100000,
    MAX_REPS = 101,
    NCONTENDERS = 4,
    LOOKUPS = 8192,          /* requests per pass over a table */
    BUILTIN_LOOKUPS = 1000,  /* requests per pass in --builtin */
};

/* Every handler the table names: a stub (only its address matters). */
#define STUB(name)                                                         \
    __attribute__((weak, noinline)) int name(const struct ducta_request *q, \
                                             struct ducta_response *r)     \
    {                                                                      \
        (void)q;                                                           \
        r->status = 200;                                                   \
        return 0;                                                          \
    }
ROUTE_HANDLERS(STUB)
#define ENTRY(name) {name, #name},
static const struct {
    ducta_handler h;
    const char *name;
} names[] = {ROUTE_HANDLERS(ENTRY){NULL, NULL}};

struct route {
    char *method, *path;
    ducta_handler h;
    int dynamic;           /* has a :param */
    struct route *next;    /* chain, in the hash map */
};

static struct route routes[MAX_ROUTES];
static size_t nroutes;

struct lookup {
    char *method, *path;   /* NUL-terminated, for the baselines */
    size_t mlen, plen;
    ducta_handler want;
};
static struct lookup *lookups;
static size_t nlookups;

#ifdef BENCH_PREVIOUS
ducta_handler previous_route(struct ducta_request *req, int *status,
                             const char **allow);
#endif

/* ---- baseline: linear -------------------------------------------------- */

/* Does path match the pattern, ':' segments matching any non-empty one? */
static int segments_match(const char *pat, const char *path)
{
    while (*pat && *path) {
        if (*pat == ':') {
            if (*path == '/' )
                return 0;
            while (*pat && *pat != '/')
                pat++;
            while (*path && *path != '/')
                path++;
        } else if (*pat++ != *path++) {
            return 0;
        }
    }
    return *pat == 0 && *path == 0;
}

static ducta_handler linear(const char *method, const char *path)
{
    for (size_t i = 0; i < nroutes; i++) {
        const struct route *r = &routes[i];
        if (strcmp(r->method, method) != 0)
            continue;
        if (r->dynamic ? segments_match(r->path, path) : strcmp(r->path, path) == 0)
            return r->h;
    }
    return NULL;
}

/* ---- baseline: chained hash map ---------------------------------------- */

static struct route **buckets;
static size_t nbuckets;
static struct route **dyn;  /* the :param routes, in file order */
static size_t ndyn;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    return h;
}

static void chained_init(void)
{
    nbuckets = 1;
    while (nbuckets < nroutes)
        nbuckets *= 2;
    buckets = calloc(nbuckets, sizeof *buckets);
    dyn = calloc(nroutes + 1, sizeof *dyn);
    for (size_t i = nroutes; i-- > 0;) {  /* keep file order in chains */
        struct route *r = &routes[i];
        if (r->dynamic)
            continue;
        struct route **b = &buckets[fnv1a(r->path) & (nbuckets - 1)];
        r->next = *b;
        *b = r;
    }
    for (size_t i = 0; i < nroutes; i++)
        if (routes[i].dynamic)
            dyn[ndyn++] = &routes[i];
}

static ducta_handler chained(const char *method, const char *path)
{
    for (const struct route *r = buckets[fnv1a(path) & (nbuckets - 1)]; r; r = r->next)
        if (strcmp(r->path, path) == 0 && strcmp(r->method, method) == 0)
            return r->h;
    for (size_t i = 0; i < ndyn; i++)
        if (strcmp(dyn[i]->method, method) == 0 && segments_match(dyn[i]->path, path))
            return dyn[i]->h;
    return NULL;
}

/* ---- ducta's router ---------------------------------------------------- */

static struct ducta_request req;

static ducta_handler perfect(const struct lookup *l)
{
    int status;
    const char *allow;
    req.method = (ducta_slice){l->method, l->mlen};
    req.path = (ducta_slice){l->path, l->plen};
    return ducta_route(&req, &status, &allow);
}

/* ---- timing ------------------------------------------------------------- */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static volatile uintptr_t sink;

#ifdef BENCH_PREVIOUS
static ducta_handler previous(const struct lookup *l)
{
    int status;
    const char *allow;
    req.method = (ducta_slice){l->method, l->mlen};
    req.path = (ducta_slice){l->path, l->plen};
    return previous_route(&req, &status, &allow);
}
#else
static ducta_handler previous(const struct lookup *l)
{
    (void)l;
    return NULL;
}
#endif

/* One pass over every lookup with contender c; feeds sink. */
static void pass(int c)
{
    uintptr_t x = 0;
    for (size_t i = 0; i < nlookups; i++) {
        const struct lookup *l = &lookups[i];
        ducta_handler h = c == 0 ? perfect(l)
                        : c == 1 ? linear(l->method, l->path)
                        : c == 2 ? chained(l->method, l->path)
                                 : previous(l);
        x ^= (uintptr_t)h;
    }
    sink ^= x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static ducta_handler handler_named(const char *name)
{
    for (size_t i = 0; names[i].name; i++)
        if (strcmp(names[i].name, name) == 0)
            return names[i].h;
    return NULL;
}

/* Time the active contenders, interleaved, REPS times; print medians. */
static int measure(int reps, double ms, const int *active, int nactive,
                   const char *const *cname, const char *what)
{
    /* passes per repetition, from a short calibration of each */
    static size_t npass[NCONTENDERS];
    for (int k = 0; k < nactive; k++) {
        int c = active[k];
        double t0 = now();
        size_t n = 0;
        while (now() - t0 < ms / 4000)
            pass(c), n++;
        npass[c] = n * 4 > 0 ? n * 4 : 1;
    }
    static double ns[NCONTENDERS][MAX_REPS];
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < nactive; k++) {
            int c = active[(r + k) % nactive];  /* rotate the order */
            double t0 = now();
            for (size_t i = 0; i < npass[c]; i++)
                pass(c);
            ns[c][r] = (now() - t0) * 1e9 / ((double)npass[c] * (double)nlookups);
        }
    }
    printf("%s, reps %d, ~%.0f ms each\n", what, reps, ms);
    for (int k = 0; k < nactive; k++) {
        int c = active[k];
        qsort(ns[c], (size_t)reps, sizeof ns[c][0], cmp_double);
        printf("%s %.1f %.1f %.1f\n", cname[c], ns[c][reps / 2], ns[c][0],
               ns[c][reps - 1]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_router ROUTES.def | --builtin\n");
        return 2;
    }
    int reps = getenv("REPS") ? atoi(getenv("REPS")) : 11;
    double ms = getenv("MS") ? atof(getenv("MS")) : 40;
    if (reps < 1 || reps > MAX_REPS || ms <= 0) {
        fprintf(stderr, "bench_router: REPS 1..%d, MS > 0\n", MAX_REPS);
        return 2;
    }
    static const char *const cname[NCONTENDERS] = {"perfect-hash", "linear",
                                                   "chained-hash", "previous"};
    int active[NCONTENDERS], nactive = 0;
    if (strcmp(argv[1], "--builtin") == 0) {
#ifndef BENCH_PREVIOUS
        fprintf(stderr, "bench_router: --builtin needs -DBENCH_PREVIOUS\n");
        return 2;
#endif
        nlookups = BUILTIN_LOOKUPS;
        lookups = calloc(nlookups, sizeof *lookups);
        for (size_t i = 0; i < nlookups; i++) {
            char *p = i % 2 ? "/json" : "/plaintext";
            lookups[i] = (struct lookup){"GET", p, 3, strlen(p), NULL};
            if (!perfect(&lookups[i]) || !previous(&lookups[i]))
                return 1;
        }
        active[nactive++] = 0;
        active[nactive++] = 3;
        return measure(reps, ms, active, nactive, cname,
                       "GET /plaintext and GET /json, alternately");
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char line[1024], m[16], p[512], h[128];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%15s %511s %127s", m, p, h) != 3)
            continue;
        if (nroutes == MAX_ROUTES)
            return 1;
        struct route *r = &routes[nroutes++];
        r->method = strdup(m);
        r->path = strdup(p);
        r->h = handler_named(h);
        r->dynamic = strchr(p, ':') != NULL;
        if (!r->h || (strchr(p, '*') && strcmp(p, "*") != 0)) {
            fprintf(stderr, "bench_router: %s: unsupported route\n", line);
            return 1;
        }
    }
    fclose(f);
    chained_init();

    /* every route once, then routes drawn at random, up to LOOKUPS
     * requests, shuffled: the same stream length at every size, so that a
     * small table is not a short sequence the branch predictor learns by
     * heart. ":name" becomes a number. */
    nlookups = nroutes > LOOKUPS ? nroutes : LOOKUPS;
    lookups = calloc(nlookups, sizeof *lookups);
    uint64_t rng = 42;
    for (size_t i = 0; i < nlookups; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        size_t r = i < nroutes ? i : (size_t)(rng >> 33) % nroutes;
        char buf[600], *o = buf;
        for (const char *s = routes[r].path; *s;) {
            if (*s == ':') {
                o += sprintf(o, "%zu", 10000 + i * 7);
                while (*s && *s != '/')
                    s++;
            } else {
                *o++ = *s++;
            }
        }
        *o = 0;
        lookups[i] = (struct lookup){strdup(routes[r].method), strdup(buf),
                                     strlen(routes[r].method), strlen(buf),
                                     routes[r].h};
    }
    for (size_t i = nlookups; i > 1; i--) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        size_t j = (size_t)(rng >> 33) % i;
        struct lookup t = lookups[i - 1];
        lookups[i - 1] = lookups[j];
        lookups[j] = t;
    }
    /* all three must agree with the table before anything is timed (an
     * earlier route of the same method and pattern could shadow a later
     * one in a baseline: the generated tables have none) */
    for (size_t i = 0; i < nlookups; i++) {
        const struct lookup *l = &lookups[i];
        if (perfect(l) != l->want || linear(l->method, l->path) != l->want ||
            chained(l->method, l->path) != l->want) {
            fprintf(stderr, "bench_router: %s %s: contenders disagree\n",
                    l->method, l->path);
            return 1;
        }
    }

    for (int c = 0; c < 3; c++)
        active[nactive++] = c;
    static char what[128];
    snprintf(what, sizeof what, "routes %zu (%zu static, %zu :param)", nroutes,
             nroutes - ndyn, ndyn);
    return measure(reps, ms, active, nactive, cname, what);
}
