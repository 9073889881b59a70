/*
 * test_router.c — the router (router.c) and the route generator
 * (routegen.c), in three parts:
 *
 *   1. In process, against the built-in routes.def this binary was built
 *      with: static lookups, HEAD as GET, 404/405 and Allow, the handler
 *      helpers (ducta_param_get, ducta_response_header) and the MIME table.
 *   2. The generator on the tables in test/routes/: each bad one must fail
 *      with FILE:LINE naming the mistake and write nothing; good.def and a
 *      generated table of 1000 routes are compiled with router.c into
 *      test/routes/checker.c, which answers lookups on stdin, and every
 *      answer is compared with what the table means (precedence, params,
 *      405 Allow lists, and that what is not a route is not found); then
 *      random tables, every short path under five methods, against a slow
 *      and obvious reference of the same rules.
 *   3. The example app: built by build.sh with ROUTES and APP, started,
 *      and asked over 127.0.0.1 with curl.
 *
 * Parts 2 and 3 run build/routegen (build.sh builds it first), $CC (else
 * cc) and ./build.sh from the top of the checkout; their files go to
 * build/test-router/PID/, removed when the test passes.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"
#include "harness.h"

enum {
    BIG_STATIC = 700,  /* the 1000-route table: GET /api/v1/resI/list */
    BIG_POST = 100,    /* POST on the first of those paths */
    BIG_PARAM = 150,   /* GET /api/v2/resI/:id */
    BIG_PARAM2 = 40,   /* PUT /api/v2/resI/:id/items/:item */
    BIG_WILD = 10,     /* GET /filesI/ *path */
    OUT_CAP = 1 << 20, /* lookups and answers, bytes */
};

/* ---- part 1: in process, the built-in routes ----------------------------- */

static struct ducta_request req;

static ducta_handler route(const char *method, const char *path, int *status,
                           const char **allow)
{
    req = (struct ducta_request){0};
    req.method = (ducta_slice){method, strlen(method)};
    req.path = (ducta_slice){path, strlen(path)};
    *status = 0;
    *allow = NULL;
    return ducta_route(&req, status, allow);
}

static void expect_handler(const char *method, const char *path, ducta_handler h)
{
    int status;
    const char *allow;
    cr_expect(route(method, path, &status, &allow) == h, "%s %s: wrong handler",
              method, path);
}

static void expect_status(const char *method, const char *path, int want,
                          const char *want_allow)
{
    int status;
    const char *allow;
    cr_assert_null(route(method, path, &status, &allow), "%s %s found", method, path);
    cr_expect_eq(status, want, "%s %s: %d, not %d", method, path, status, want);
    if (want_allow)
        cr_expect(allow && strcmp(allow, want_allow) == 0,
                  "%s %s: Allow '%s', not '%s'", method, path, allow, want_allow);
    else
        cr_expect_null(allow, "%s %s: Allow on a 404", method, path);
}

Test(router, builtin_routes)
{
    expect_handler("GET", "/plaintext", ducta_plaintext);
    expect_handler("GET", "/json", ducta_json);
    expect_handler("POST", "/echo", ducta_echo);
    expect_handler("OPTIONS", "*", ducta_options);
}

Test(router, head_is_get)
{
    expect_handler("HEAD", "/plaintext", ducta_plaintext);
    expect_handler("HEAD", "/json", ducta_json);
    expect_status("HEAD", "/echo", 405, "POST");  /* no GET, no HEAD */
}

Test(router, method_not_allowed_lists_the_path_s_methods)
{
    expect_status("DELETE", "/json", 405, "GET, HEAD");
    expect_status("POST", "/plaintext", 405, "GET, HEAD");
    expect_status("GET", "/echo", 405, "POST");
    expect_status("TRACE", "/json", 405, "GET, HEAD");  /* known, no route */
    expect_status("CONNECT", "/json", 405, "GET, HEAD");
    expect_status("GET", "*", 405, "OPTIONS");
}

Test(router, not_found)
{
    static char longpath[4096];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    const char *paths[] = {"/", "/plaintext/", "/plaintex", "/plaintextt",
                           "/Plaintext", "/json/x", "//json", "/echo?",
                           longpath};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        expect_status("GET", paths[i], 404, NULL);
        expect_status("TRACE", paths[i], 404, NULL);
    }
}

/* A method ducta does not know at all is a 501 whatever the path (RFC 9110
 * §15.6.2): before, it was a 404 (or a 405 on a route's path), and under
 * --root a file's 404. */
Test(router, unknown_method_is_501_whatever_the_path)
{
    const char *methods[] = {"PROPFIND", "FOO", "get", "GETS", "BREW",
                             "PATCHX", "OPTION"};
    const char *paths[] = {"/json", "/plaintext", "/", "/nowhere", "*"};
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
        for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
            expect_status(methods[m], paths[p], 501, NULL);
    /* every method RFC 9110 §9 defines, and PATCH, is known */
    const char *known[] = {"GET", "HEAD", "POST", "PUT", "DELETE",
                           "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (size_t m = 0; m < sizeof known / sizeof known[0]; m++) {
        int status = 0;
        const char *allow;
        route(known[m], "/nowhere", &status, &allow);
        cr_expect_eq(status, 404, "%s /nowhere: %d", known[m], status);
    }
}

Test(router, a_static_route_leaves_no_params)
{
    int status;
    const char *allow;
    req.nparams = 3;
    cr_assert(route("GET", "/json", &status, &allow));
    cr_expect_eq(req.nparams, 0);
}

Test(router, builtin_handlers_answer)
{
    struct ducta_response res = {.content_type = "text/plain", .file_fd = -1};
    struct ducta_request r = {.body = {"abc", 3}};
    cr_assert_eq(ducta_plaintext(&r, &res), 0);
    cr_expect_eq(res.status, 200);
    cr_expect(res.body_len == 13 && memcmp(res.body, "Hello, World!", 13) == 0);
    cr_assert_eq(ducta_json(&r, &res), 0);
    cr_expect_str_eq(res.content_type, "application/json");
    cr_assert_eq(ducta_echo(&r, &res), 0);
    cr_expect(res.body == r.body.ptr && res.body_len == 3);
}

Test(router, param_get)
{
    struct ducta_request r = {.nparams = 2};
    r.params[0] = (ducta_param){{"id", 2}, {"42", 2}};
    r.params[1] = (ducta_param){{"rest", 4}, {"a/b", 3}};
    const ducta_slice *v = ducta_param_get(&r, "id");
    cr_assert_not_null(v);
    cr_expect(v->len == 2 && memcmp(v->ptr, "42", 2) == 0);
    v = ducta_param_get(&r, "rest");
    cr_assert_not_null(v);
    cr_expect(v->len == 3 && memcmp(v->ptr, "a/b", 3) == 0);
    cr_expect_null(ducta_param_get(&r, "i"));     /* a prefix is not the name */
    cr_expect_null(ducta_param_get(&r, "idx"));
    cr_expect_null(ducta_param_get(&r, "Id"));    /* names are exact */
    r.nparams = 0;
    cr_expect_null(ducta_param_get(&r, "id"));
}

Test(router, response_header_stops_at_the_cap)
{
    static struct ducta_response res;
    static char names[DUCTA_RESPONSE_HEADERS_CAP][16];
    for (int i = 0; i < DUCTA_RESPONSE_HEADERS_CAP; i++) {
        snprintf(names[i], sizeof names[i], "X-H%d", i);
        cr_assert_eq(ducta_response_header(&res, names[i], "v"), 0);
    }
    cr_expect_eq(ducta_response_header(&res, "X-Over", "v"), -1);
    cr_expect_eq(res.nheaders, DUCTA_RESPONSE_HEADERS_CAP);
    for (int i = 0; i < DUCTA_RESPONSE_HEADERS_CAP; i++)
        cr_expect_eq(res.headers[i].name, names[i], "field %d moved", i);
}

static void expect_mime(const char *ext, const char *want)
{
    const char *got = ducta_mime_type(ext, strlen(ext));
    cr_expect_str_eq(got, want, "extension '%s'", ext);
}

Test(router, mime_types)
{
    expect_mime("html", "text/html; charset=utf-8");
    expect_mime("HTML", "text/html; charset=utf-8");
    expect_mime("Htm", "text/html; charset=utf-8");
    expect_mime("css", "text/css; charset=utf-8");
    expect_mime("js", "text/javascript; charset=utf-8");
    expect_mime("json", "application/json");
    expect_mime("svg", "image/svg+xml");
    expect_mime("PNG", "image/png");
    expect_mime("jpeg", "image/jpeg");
    expect_mime("woff2", "font/woff2");
    expect_mime("wasm", "application/wasm");
    expect_mime("webmanifest", "application/manifest+json");  /* the longest */
    expect_mime("gz", "application/gzip");
    expect_mime("", "application/octet-stream");
    expect_mime("xyz", "application/octet-stream");
    expect_mime("ht", "application/octet-stream");
    expect_mime("htmll", "application/octet-stream");
    expect_mime("webmanifests", "application/octet-stream");  /* too long */
    expect_mime("h\xd4ml", "application/octet-stream");
    /* the length given, not the string's end */
    cr_expect_str_eq(ducta_mime_type("cssx", 3), "text/css; charset=utf-8");
}

/* ---- helpers for parts 2 and 3: commands, files -------------------------- */

static char dir[256];       /* build/test-router/PID */
static char out[OUT_CAP];   /* the last command's output */

/* A shell command, its output (stderr too) kept in out[]; its exit status. */
#define run(...) sh_run(out, sizeof out, __VA_ARGS__)

static void make_dir(void)
{
    struct stat st;
    cr_assert_eq(stat("routegen.c", &st), 0, "run from the top of the checkout");
    cr_assert_eq(stat("build/routegen", &st), 0, "build/routegen missing: ./build.sh first");
    snprintf(dir, sizeof dir, "build/test-router/%d", (int)getpid());
    cr_assert_eq(run("mkdir -p %s", dir), 0);
}

static void remove_dir(void)
{
    run("rm -rf %s", dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fputs(text, f) >= 0 && fclose(f) == 0, 1);
}

/* Under ASan, the checker (and so router.c's walk of the table) is built
 * with the sanitizers too. */
#if defined(__SANITIZE_ADDRESS__)
#define CHECKER_SAN "-fsanitize=address,undefined -fno-sanitize-recover=all"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECKER_SAN "-fsanitize=address,undefined -fno-sanitize-recover=all"
#endif
#endif
#ifndef CHECKER_SAN
#define CHECKER_SAN ""
#endif

/* Generate routes.h from a table and build test/routes/checker.c with it. */
static void build_checker(const char *table)
{
    cr_assert_eq(run("build/routegen %s %s/routes.h", table, dir), 0,
                 "routegen %s: %s", table, out);
    const char *cc = getenv("CC") ? getenv("CC") : "cc";
    cr_assert_eq(run("%s -std=gnu11 -O2 -Wall -Wextra -Werror %s -I. -I%s -o %s/check "
                     "test/routes/checker.c router.c parse.c", cc, CHECKER_SAN, dir, dir), 0,
                 "building the checker: %s", out);
}

/* Feed the checker the lookups; its answers must be exactly want. */
static void expect_answers(const char *lookups, const char *want)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/lookups", dir);
    write_file(path, lookups);
    cr_assert_eq(run("%s/check < %s", dir, path), 0, "checker: %s", out);
    /* report the first line that differs, with the lookup that made it */
    const char *a = out, *b = want, *q = lookups;
    while (*a || *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n"), lq = strcspn(q, "\n");
        cr_assert(la == lb && memcmp(a, b, la) == 0,
                  "lookup '%.*s': got '%.*s', want '%.*s'", (int)lq, q, (int)la, a,
                  (int)lb, b);
        a += la + (a[la] != 0);
        b += lb + (b[lb] != 0);
        q += lq + (q[lq] != 0);
    }
}

/* ---- part 2: the generator ------------------------------------------------ */

/* Each kind of mistake: the file, the line it is on, words of the message. */
static const struct {
    const char *file;
    int line;
    const char *says;
} bad[] = {
    {"bad-fields.def", 3, "expected METHOD PATH HANDLER"},
    {"bad-method.def", 2, "unknown method 'FETCH'"},
    {"bad-duplicate.def", 4, "duplicate route GET /a (first at test/routes/bad-duplicate.def:1)"},
    {"bad-duplicate-param.def", 2, "duplicate route GET /u/:id"},
    {"bad-duplicate-head.def", 3, "duplicate route HEAD /a"},
    {"bad-param-names.def", 2, "parameter :y conflicts with :x"},
    {"bad-two-wildcards.def", 2, "wildcard *b conflicts with *a"},
    {"bad-wildcard-not-last.def", 1, "is not the last segment"},
    {"bad-handler.def", 1, "handler '9lives' is not a C function name"},
    {"bad-handler-keyword.def", 1, "handler 'int' is not a C function name"},
    {"bad-path.def", 1, "does not start with '/'"},
    {"bad-path-query.def", 1, "byte '?' not allowed"},
    {"bad-param-unnamed.def", 1, "needs a name"},
    {"bad-colon.def", 1, "':' and '*' only begin a segment"},
    {"bad-too-many-params.def", 1, "has 9 captures; at most DUCTA_MAX_PARAMS"},
    {"bad-star.def", 1, "'*' is a path only for OPTIONS"},
};

Test(routegen, each_mistake_fails_with_file_and_line)
{
    make_dir();
    static char where[256], header[512];
    snprintf(header, sizeof header, "%s/routes.h", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run("build/routegen test/routes/%s %s", bad[i].file, header);
        cr_expect_eq(rc, 1, "%s: exit %d", bad[i].file, rc);
        snprintf(where, sizeof where, "test/routes/%s:%d: ", bad[i].file, bad[i].line);
        cr_expect(strncmp(out, where, strlen(where)) == 0, "%s: said '%s', not at %s",
                  bad[i].file, out, where);
        cr_expect(strstr(out, bad[i].says), "%s: said '%s', not '%s'", bad[i].file,
                  out, bad[i].says);
        cr_expect_neq(access(header, F_OK), 0, "%s: wrote a header", bad[i].file);
    }
    cr_expect_eq(run("build/routegen"), 2);  /* usage */
    cr_expect_eq(run("build/routegen test/routes/nonexistent.def %s", header), 1);
    remove_dir();
}

Test(routegen, the_build_stops_on_a_bad_table, .timeout = 120)
{
    make_dir();
    int rc = run("ROUTES=test/routes/bad-method.def OUT_BIN=%s/ducta ./build.sh", dir);
    cr_expect_neq(rc, 0);
    cr_expect(strstr(out, "test/routes/bad-method.def:2: unknown method"),
              "build.sh said '%s'", out);
    static char bin[300];
    snprintf(bin, sizeof bin, "%s/ducta", dir);
    cr_expect_neq(access(bin, F_OK), 0, "a binary was built");
    remove_dir();
}

Test(routegen, output_is_reproducible)
{
    make_dir();
    cr_assert_eq(run("build/routegen test/routes/good.def %s/a.h && "
                     "build/routegen test/routes/good.def %s/b.h && cmp %s/a.h %s/b.h",
                     dir, dir, dir, dir), 0, "%s", out);
    remove_dir();
}

/* good.def: lookup, then the answer (handler and captures, 404, or 405 and
 * Allow), one per line. */
static const char *const precedence[][2] = {
    {"GET /", "root"},
    {"GET /users", "users_list"},
    {"POST /users", "users_create"},
    {"PUT /users", "405 GET, HEAD, POST"},
    {"TRACE /users", "405 GET, HEAD, POST"},
    {"PROPFIND /users", "501"},  /* a method ducta does not know */
    {"FOO /nowhere", "501"},
    /* static > :param > *wildcard */
    {"GET /users/me", "users_me"},
    {"GET /users/42", "users_get id=42"},
    {"HEAD /users/42", "users_get id=42"},
    {"GET /users/42/posts/7", "users_post id=42 post=7"},
    {"GET /users/42/posts", "users_rest rest=42/posts"},  /* :id's branch ends */
    {"GET /users/1/posts/2/x", "users_rest rest=1/posts/2/x"},
    {"GET /users/", "users_rest rest="},  /* a :param is never empty */
    /* a route counts only with the method; 405 lists every match's */
    {"DELETE /users/me", "users_delete id=me"},
    {"PUT /users/me", "405 GET, HEAD, DELETE"},
    {"GET /users/me/avatar", "users_rest rest=me/avatar"},
    {"POST /users/me/avatar", "me_avatar"},
    {"GET /files/css/site.css", "files path=css/site.css"},
    {"HEAD /files/css/site.css", "files_head path=css/site.css"},
    {"GET /files/", "files path="},
    {"GET /files", "404"},
    {"GET /a/b", "a_x x=b"},
    {"PUT /a/b", "ab_put"},
    {"DELETE /a/b", "405 GET, HEAD, PUT"},
    {"GET /a/b/c", "a_x_c x=b"},
    {"GET /a/b/d", "abd"},
    {"GET /a/z/d", "404"},
    {"GET /a/", "404"},
    {"GET /docs/", "docs_index"},
    {"GET /docs", "404"},
    {"PATCH /caf%C3%A9", "cafe"},
    {"PATCH /caf%c3%a9", "404"},  /* paths are compared as sent */
    {"GET /p/1/2/3/4/5/6/7/8/9", "eight a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8/9"},
    {"GET /p/1/2/3/4/5/6/7", "404"},
    {"OPTIONS *", "ducta_options"},
    {"GET /hello", "ducta_plaintext"},
    {"HEAD /hello", "ducta_plaintext"},
    {"GET //users", "404"},
    {"GET /nothing", "404"},
};

Test(routegen, precedence_params_and_405)
{
    make_dir();
    build_checker("test/routes/good.def");
    static char lookups[8192], want[8192];
    size_t nl = 0, nw = 0;
    for (size_t i = 0; i < sizeof precedence / sizeof precedence[0]; i++) {
        nl += (size_t)snprintf(lookups + nl, sizeof lookups - nl, "%s\n", precedence[i][0]);
        nw += (size_t)snprintf(want + nw, sizeof want - nw, "%s\n", precedence[i][1]);
    }
    expect_answers(lookups, want);
    remove_dir();
}

static char big_table[OUT_CAP], big_lookups[OUT_CAP], big_want[OUT_CAP];

#define ADD(buf, n, ...) (n += (size_t)snprintf(buf + n, OUT_CAP - n, __VA_ARGS__))

/* 1000 routes, and for each what must be found, what must not, and what
 * must be a 405 (see BIG_* for the shape). */
Test(routegen, a_thousand_routes_all_found, .timeout = 120)
{
    make_dir();
    size_t t = 0, l = 0, w = 0;
    int routes = 0;
    for (int i = 0; i < BIG_STATIC; i++, routes++)
        ADD(big_table, t, "GET /api/v1/res%d/list s%d\n", i, i);
    for (int i = 0; i < BIG_POST; i++, routes++)
        ADD(big_table, t, "POST /api/v1/res%d/list p%d\n", i, i);
    for (int i = 0; i < BIG_PARAM; i++, routes++)
        ADD(big_table, t, "GET /api/v2/res%d/:id d%d\n", i, i);
    for (int i = 0; i < BIG_PARAM2; i++, routes++)
        ADD(big_table, t, "PUT /api/v2/res%d/:id/items/:item q%d\n", i, i);
    for (int i = 0; i < BIG_WILD; i++, routes++)
        ADD(big_table, t, "GET /files%d/*path w%d\n", i, i);
    cr_assert_eq(routes, 1000);

    for (int i = 0; i < BIG_STATIC; i++) {
        ADD(big_lookups, l, "GET /api/v1/res%d/list\n", i);
        ADD(big_want, w, "s%d\n", i);
        ADD(big_lookups, l, "HEAD /api/v1/res%d/list\n", i);
        ADD(big_want, w, "s%d\n", i);
        ADD(big_lookups, l, "POST /api/v1/res%d/list\n", i);
        if (i < BIG_POST)
            ADD(big_want, w, "p%d\n", i);
        else
            ADD(big_want, w, "405 GET, HEAD\n");
        ADD(big_lookups, l, "DELETE /api/v1/res%d/list\n", i);
        ADD(big_want, w, i < BIG_POST ? "405 GET, HEAD, POST\n" : "405 GET, HEAD\n");
        /* near misses */
        ADD(big_lookups, l, "GET /api/v1/res%d/lis\nGET /api/v1/res%d/list/\n"
                            "GET /api/v1/res%d\nGET /api/v1/res%d/LIST\n", i, i, i, i);
        ADD(big_want, w, "404\n404\n404\n404\n");
        ADD(big_lookups, l, "GET /api/v1/res%d/list\n", i + BIG_STATIC);
        ADD(big_want, w, "404\n");
    }
    for (int i = 0; i < BIG_PARAM; i++) {
        ADD(big_lookups, l, "GET /api/v2/res%d/%d\n", i, 1000 + i);
        ADD(big_want, w, "d%d id=%d\n", i, 1000 + i);
        ADD(big_lookups, l, "POST /api/v2/res%d/x\n", i);
        ADD(big_want, w, "405 GET, HEAD\n");
        ADD(big_lookups, l, "GET /api/v2/res%d/\nGET /api/v2/res%d\n"
                            "GET /api/v2/res%d/1/2\n", i, i, i);
        ADD(big_want, w, "404\n404\n404\n");
    }
    for (int i = 0; i < BIG_PARAM2; i++) {
        ADD(big_lookups, l, "PUT /api/v2/res%d/7/items/i%d\n", i, i);
        ADD(big_want, w, "q%d id=7 item=i%d\n", i, i);
        ADD(big_lookups, l, "PUT /api/v2/res%d/7/items/\n", i);
        ADD(big_want, w, "404\n");
    }
    for (int i = 0; i < BIG_WILD; i++) {
        ADD(big_lookups, l, "GET /files%d/a/b%d.css\nGET /files%d/\n", i, i, i);
        ADD(big_want, w, "w%d path=a/b%d.css\nw%d path=\n", i, i, i);
        ADD(big_lookups, l, "GET /files%d\nGET /files%d/x\n", i, i + BIG_WILD);
        ADD(big_want, w, "404\n404\n");
    }
    static char table_path[300];
    snprintf(table_path, sizeof table_path, "%s/big.def", dir);
    write_file(table_path, big_table);
    build_checker(table_path);
    expect_answers(big_lookups, big_want);
    remove_dir();
}

/* Random tables against a reference: the rules of router.c's opening
 * comment, written the slow and obvious way. Among the routes whose pattern
 * matches the path, those with a handler for the method (HEAD: a HEAD
 * route, else GET's); of those, the one whose segment kinds (static 0,
 * :param 1, *wildcard 2) are first in lexicographic order; if none, 405
 * with every matching route's methods, or 404. */
enum { RANDOM_TABLES = 6, RANDOM_ROUTES = 30, RANDOM_DEPTH = 3 };

static const char *const methods7[] = {"GET", "HEAD", "POST", "PUT",
                                       "DELETE", "PATCH", "OPTIONS"};

struct rroute {
    int method;       /* index in methods7 */
    char pat[64];
};

/* Does pat match path? Fills the segment kinds and the captures the way
 * the checker prints them (" name=value"). */
static int ref_match(const char *pat, const char *path, int *kinds, int *nk,
                     char *caps, size_t capsz)
{
    const char *p = pat + 1, *q = path + 1;
    size_t cl = 0;
    *nk = 0;
    caps[0] = 0;
    for (;;) {
        const char *pe = p + strcspn(p, "/"), *qe = q + strcspn(q, "/");
        if (*p == '*') {
            kinds[(*nk)++] = 2;
            snprintf(caps + cl, capsz - cl, " %.*s=%s", (int)(pe - p - 1), p + 1, q);
            return 1;
        }
        if (*p == ':') {
            if (qe == q)
                return 0;
            kinds[(*nk)++] = 1;
            cl += (size_t)snprintf(caps + cl, capsz - cl, " %.*s=%.*s",
                                   (int)(pe - p - 1), p + 1, (int)(qe - q), q);
        } else {
            if (pe - p != qe - q || memcmp(p, q, (size_t)(pe - p)) != 0)
                return 0;
            kinds[(*nk)++] = 0;
        }
        if (!*pe || !*qe)
            return !*pe && !*qe;
        p = pe + 1;
        q = qe + 1;
    }
}

static void ref_answer(const struct rroute *rs, size_t n, int m, const char *path,
                       char *ans, size_t cap)
{
    int best = -1, bk[16], bnk = 0;
    unsigned seen = 0;
    static char bcaps[256], caps[256];
    for (size_t i = 0; i < n; i++) {
        int k[16], nk;
        if (!ref_match(rs[i].pat, path, k, &nk, caps, sizeof caps))
            continue;
        seen |= 1u << rs[i].method;
        if (rs[i].method == 0)
            seen |= 1u << 1;  /* GET brings HEAD */
        int has = rs[i].method == m;
        if (m == 1 && rs[i].method == 0) {  /* HEAD by GET, unless a HEAD route */
            has = 1;
            for (size_t j = 0; j < n; j++)
                if (rs[j].method == 1 && strcmp(rs[j].pat, rs[i].pat) == 0)
                    has = 0;
        }
        if (!has)
            continue;
        int better = best < 0;
        for (int j = 0; !better && j < nk && j < bnk; j++) {
            if (k[j] != bk[j]) {
                better = k[j] < bk[j];
                break;
            }
        }
        if (better) {
            best = (int)i;
            bnk = nk;
            memcpy(bk, k, sizeof k);
            strcpy(bcaps, caps);
        }
    }
    if (best >= 0) {
        snprintf(ans, cap, "r%d%s\n", best, bcaps);
    } else if (seen) {
        size_t l = (size_t)snprintf(ans, cap, "405");
        const char *sep = " ";
        for (int i = 0; i < 7; i++)
            if (seen & 1u << i) {
                l += (size_t)snprintf(ans + l, cap - l, "%s%s", sep, methods7[i]);
                sep = ", ";
            }
        snprintf(ans + l, cap - l, "\n");
    } else {
        snprintf(ans, cap, "404\n");
    }
}

Test(routegen, random_tables_agree_with_a_reference, .timeout = 120)
{
    make_dir();
    static const char *const segs[] = {"a", "b", "c"};
    static const char *const asked[] = {"a", "b", "c", "d", ""};
    static struct rroute rs[RANDOM_ROUTES];
    static char table[OUT_CAP], path[300], ans[512];
    uint64_t rng = 1;
    for (int t = 0; t < RANDOM_TABLES; t++) {
        size_t n = 0, tl = 0, l = 0, w = 0;
        for (int tries = 0; n < RANDOM_ROUTES && tries < 1000; tries++) {
            struct rroute r = {0};
            rng = rng * 6364136223846793005u + 1442695040888963407u;
            uint64_t x = rng >> 16;
            r.method = (int)(x % 7);
            x /= 7;
            int depth = 1 + (int)(x % RANDOM_DEPTH);
            x /= RANDOM_DEPTH;
            size_t pl = 0;
            for (int d = 0; d < depth; d++, x /= 20) {
                /* of 20: 12 static, 5 :param, 3 *wildcard; the first
                 * segment static, so that some paths match nothing */
                int kind = d == 0 ? (int)(x % 12) : (int)(x % 20);
                if (kind < 12)
                    pl += (size_t)snprintf(r.pat + pl, sizeof r.pat - pl, "/%s", segs[kind % 3]);
                else if (kind < 17)
                    pl += (size_t)snprintf(r.pat + pl, sizeof r.pat - pl, "/:p%d", d);
                else {
                    snprintf(r.pat + pl, sizeof r.pat - pl, "/*w%d", d);
                    break;
                }
            }
            int dup = 0;
            for (size_t i = 0; i < n; i++)
                dup |= rs[i].method == r.method && strcmp(rs[i].pat, r.pat) == 0;
            if (!dup)
                rs[n++] = r;
        }
        for (size_t i = 0; i < n; i++)
            ADD(table, tl, "%s %s r%zu\n", methods7[rs[i].method], rs[i].pat, i);
        /* every path of up to RANDOM_DEPTH + 1 asked segments, five methods */
        l = w = 0;
        for (int depth = 1; depth <= RANDOM_DEPTH + 1; depth++) {
            int total = 1;
            for (int d = 0; d < depth; d++)
                total *= 5;
            for (int c = 0; c < total; c++) {
                size_t pl = 0;
                for (int d = 0, v = c; d < depth; d++, v /= 5)
                    pl += (size_t)snprintf(path + pl, sizeof path - pl, "/%s", asked[v % 5]);
                static const int ms[] = {0, 1, 2, 4, -1};
                for (int k = 0; k < 5; k++) {
                    ADD(big_lookups, l, "%s %s\n", ms[k] < 0 ? "TRACE" : methods7[ms[k]], path);
                    ref_answer(rs, n, ms[k], path, ans, sizeof ans);
                    ADD(big_want, w, "%s", ans);
                }
            }
        }
        static char table_path[300];
        snprintf(table_path, sizeof table_path, "%s/random%d.def", dir, t);
        write_file(table_path, table);
        build_checker(table_path);
        expect_answers(big_lookups, big_want);
    }
    remove_dir();
}

/* ---- part 3: the example app ----------------------------------------------- */

static int app_port;

static void get(const char *curl_args)
{
    cr_assert_eq(run("curl -s -i --max-time 5 %s", curl_args), 0, "curl %s: %s",
                 curl_args, out);
}

static void expect_out(const char *what, const char *curl_args)
{
    cr_expect(strstr(out, what), "curl %s: no '%s' in:\n%s", curl_args, what, out);
}

#define ASK(args, ...)                                                        \
    do {                                                                      \
        static char a[512];                                                   \
        snprintf(a, sizeof a, args, app_port);                                \
        get(a);                                                               \
        const char *wants[] = {__VA_ARGS__};                                  \
        for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++)           \
            expect_out(wants[i], a);                                          \
    } while (0)

Test(example, builds_and_answers, .timeout = 180)
{
    make_dir();
    cr_assert_eq(run("ROUTES=example/routes.def APP=example/app.c OUT_BIN=%s/ducta "
                     "./build.sh", dir), 0, "building the example: %s", out);
    static char bin[300];
    snprintf(bin, sizeof bin, "%s/ducta", dir);
    setenv("DUCTA_BIN", bin, 1);
    const char *args[] = {"--threads", "1", "--no-pin", NULL};
    static struct server app;
    server_spawn(&app, NULL, args);
    app_port = app.port;

    ASK("http://127.0.0.1:%d/", "HTTP/1.1 200", "Hello from the example app!");
    ASK("http://127.0.0.1:%d/hello/Ada", "HTTP/1.1 200", "Hello, Ada!");
    ASK("'http://127.0.0.1:%d/search?lang=c&q=ducta'", "You searched for: ducta");
    ASK("http://127.0.0.1:%d/search", "HTTP/1.1 400");
    ASK("-A tester/1.0 http://127.0.0.1:%d/agent", "Content-Type: application/json",
        "{\"agent\":\"tester/1.0\"}");
    ASK("http://127.0.0.1:%d/users/7/card", "HTTP/1.1 200",
        "Content-Type: application/json", "X-User-Id: 7",
        "Cache-Control: no-store", "{\"user\":\"7\"}");
    ASK("http://127.0.0.1:%d/assets/css/site.css", "css/site.css would be served as "
        "text/css; charset=utf-8");
    ASK("http://127.0.0.1:%d/assets/", "HTTP/1.1 404");
    ASK("-d 'buy milk' http://127.0.0.1:%d/notes", "HTTP/1.1 201", "Location: /notes/1",
        "Stored a note of 8 bytes.");
    ASK("-X DELETE http://127.0.0.1:%d/notes", "HTTP/1.1 405", "Allow: POST");
    ASK("http://127.0.0.1:%d/plaintext", "HTTP/1.1 200", "Hello, World!");
    ASK("http://127.0.0.1:%d/json", "HTTP/1.1 404");  /* not in its routes */

    /* a raw HEAD: GET's head, no body */
    int fd = connect_port(app_port);
    static const char head[] = "HEAD /hello/Ada HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    cr_assert_eq(write(fd, head, sizeof head - 1), (ssize_t)sizeof head - 1);
    static char buf[4096];
    size_t n = 0;
    ssize_t k;
    while ((k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = 0;
    cr_expect(strstr(buf, "HTTP/1.1 200") && strstr(buf, "Content-Length: 12\r\n"), "%s", buf);
    cr_expect_null(strstr(buf, "Hello, Ada"), "HEAD sent a body: %s", buf);

    server_stop_of(&app);  /* requires exit status 0 */
    remove_dir();
}
