/*
 * test_handlers.c — the handler API from the outside: a user's app, built
 * the way users build theirs (ROUTES=test/app/routes.def
 * APP=test/app/app.c ./build.sh), answering over real sockets.
 *
 * Handlers that break the API's rules (fail, an impossible status, a
 * control character in a field value or content type, a field ducta writes
 * itself, a length without a body, a body too big, content on a 205, a file
 * body without a file or with lengths the file does not hold, a scratch
 * count past the end) must each get a clean 500 while the connection goes
 * on serving; handlers that use the API (any status code, added fields up
 * to the cap, a file of their own, a file under --root, the scratch
 * helpers) must get exactly what they asked for, without leaking
 * descriptors. HEAD gets exactly GET's header. The example app (example/)
 * is built too, to check that what it teaches is safe to copy.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ducta.h"
#include "harness.h"

static char dir[128], bin[160];
static int conn = -1;  /* one keep-alive connection for a whole test */
static struct reader *crd;  /* and its reader */

/* The app is built once per test binary run; under the ASan variant of the
 * tests (DUCTA_BIN in build/asan/) it is built with the sanitizers too. */
static void build_app(void)
{
    static char out[16384];
    snprintf(dir, sizeof dir, "build/test-handlers/%d", (int)getpid());
    snprintf(bin, sizeof bin, "%s/ducta", dir);
    const char *b = getenv("DUCTA_BIN");
    const char *san = b && strstr(b, "/asan/")
                          ? "-fsanitize=address,undefined "
                            "-fno-omit-frame-pointer -fno-sanitize-recover=all"
                          : "";
    cr_assert_eq(sh_run(out, sizeof out,
                        "mkdir -p %s && ROUTES=test/app/routes.def "
                        "APP=test/app/app.c OUT_BIN=%s EXTRA_CFLAGS='%s' "
                        "./build.sh", dir, bin, san),
                 0, "building the test app: %s", out);
    /* a root for /download */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/root && printf 0123456789 > %s/root/d.txt", dir, dir);
    cr_assert_eq(sh_run(out, sizeof out, "%s", cmd), 0, "%s", out);
}

static void start(void)
{
    build_app();
    char root[160];
    snprintf(root, sizeof root, "%s/root", dir);
    setenv("DUCTA_BIN", bin, 1);  /* the harness runs $DUCTA_BIN */
    const char *args[] = {"--threads", "1", "--no-pin", "--root", root, NULL};
    server_start_with(args);
    conn = connect_server();
    crd = reader_for(conn);
}

static void stop(void)
{
    if (conn >= 0)
        close(conn);
    conn = -1;
    char out[256];
    sh_run(out, sizeof out, "rm -rf %s", dir);
    server_stop_of(&srv);
    harness_teardown();
}

TestSuite(handlers, .init = start, .fini = stop);

/* GET target on the test's connection; expect status; return the response
 * (free its body). */
static struct resp expect_status(const char *target, const char *extra,
                                 int status)
{
    struct resp r;
    ask_on(crd, "GET", target, extra, &r);
    cr_expect_eq(r.status, status, "GET %s: %d, wanted %d\n%s", target,
                 r.status, status, r.head);
    return r;
}

static int open_fds(void)
{
    return proc_fds(srv.pid);
}

static void still_serving(void)
{
    struct resp r = expect_status("/plaintext", NULL, 200);
    cr_assert_str_eq(r.body, "Hello, World!");
}

static void expect_all_500(const char *const *broken, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct resp r = expect_status(broken[i], NULL, 500);
        cr_expect_null(strstr(r.head, "X-Injected"), "%s", broken[i]);
        cr_expect_null(strcasestr(r.head, "content-length: 0\r\n"),
                       "%s", broken[i]);
        still_serving();  /* same connection */
    }
}
#define EXPECT_ALL_500(list) expect_all_500((list), sizeof(list) / sizeof *(list))

Test(handlers, broken_responses_become_500_and_the_connection_goes_on)
{
    const char *const broken[] = {"/fail",      "/status/99", "/status/600",
                                  "/status/0",  "/crlf",      "/reserved",
                                  "/nobody",    "/big",       "/bad-file"};
    EXPECT_ALL_500(broken);
}

Test(handlers, a_scratch_count_past_the_end_is_a_500)
{
    /* scratch_used += snprintf(...) + 1 slipped past the end of scratch:
     * ducta_response_printf refuses to write behind it, and the response
     * is a 500, not a 200 whose later writes land after scratch */
    const char *const broken[] = {"/scratch-slip"};
    EXPECT_ALL_500(broken);
}

Test(handlers, response_printf_fills_scratch_and_stops_at_its_end)
{
    struct resp r = expect_status("/printf-fill", NULL, 200);
    char want[32];
    /* "part-NN" + NUL = 8 bytes each */
    snprintf(want, sizeof want, "%d parts\n", DUCTA_RESPONSE_SCRATCH / 8);
    cr_assert_str_eq(r.body, want);
}

Test(handlers, field_values_are_visible_characters_only)
{
    /* RFC 9110 §5.5: VCHAR, obs-text, and SP/HTAB between them; any other
     * control (\x01, DEL, VT, FF, ESC, CR, LF) or a leading or trailing
     * blank is a 500, the value never sent */
    const char *const broken[] = {"/bad-value/0", "/bad-value/1",
                                  "/bad-value/2", "/bad-value/3",
                                  "/bad-value/4", "/bad-value/5",
                                  "/bad-value/6", "/bad-value/7",
                                  "/bad-value/8"};
    EXPECT_ALL_500(broken);
    struct resp r = expect_status("/good-value", NULL, 200);
    char v[32];
    cr_assert_str_eq(hdr(&r, "X-Words", v, sizeof v), "a b\tc");
    cr_assert_str_eq(hdr(&r, "X-Latin", v, sizeof v), "caf\xc3\xa9");
    cr_assert_str_eq(hdr(&r, "X-Empty", v, sizeof v), "");
}

Test(handlers, content_type_must_be_a_media_type)
{
    const char *const broken[] = {"/ctype/1", "/ctype/3", "/ctype/5",
                                  "/ctype/7", "/ctype/9"};
    EXPECT_ALL_500(broken);
    const char *const good[][2] = {
        {"/ctype/0", "text/html; charset=utf-8"},
        {"/ctype/2", "multipart/form-data; boundary=\"a b\""},
        {"/ctype/4", "application/json;a=1; ;b=2"},
        {"/ctype/6", "text/plain ;q=\"x\\\"y\""},
        {"/ctype/8", "image/svg+xml"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct resp r = expect_status(good[i][0], NULL, 200);
        char v[64];
        cr_expect_str_eq(hdr(&r, "Content-Type", v, sizeof v), good[i][1]);
    }
}

Test(handlers, statuses_without_content)
{
    /* RFC 9110 §15.3.5, §15.3.6, §15.4.5: a 204, 205 or 304 with a body
     * is the handler's mistake (a 500); without one, a 205 says
     * Content-Length: 0 and a 204 or 304 no length at all */
    const char *const broken[] = {"/status/204", "/status/205", "/status/304"};
    EXPECT_ALL_500(broken);
    struct resp r = expect_status("/empty/205", NULL, 205);
    char v[32];
    cr_assert_str_eq(hdr(&r, "Content-Length", v, sizeof v), "0");
    cr_assert_null(hdr(&r, "Content-Type", v, sizeof v));
    r = expect_status("/empty/204", NULL, 204);
    cr_assert_null(strcasestr(r.head, "content-length"), "%s", r.head);
    r = expect_status("/empty/304", NULL, 304);
    cr_assert_null(strcasestr(r.head, "content-length"), "%s", r.head);
    still_serving();
}

Test(handlers, file_lengths_are_checked_before_anything_is_sent)
{
    /* offset + length wrapping past 2^64, a length past the end of the
     * file, a directory: a 500 before the header promises bytes that can
     * never come (the connection would be misframed from then on) */
    const char *const broken[] = {"/file-wraps", "/file-past-eof",
                                  "/file-dir", "/bad-file"};
    EXPECT_ALL_500(broken);
}

Test(handlers, allow_is_the_handlers_to_set)
{
    struct resp r = expect_status("/allow", NULL, 200);
    char v[64];
    cr_assert_str_eq(hdr(&r, "Allow", v, sizeof v), "GET, HEAD, OPTIONS");
}

/* The response header without its Date line (it may tick between two). */
static void without_date(const char *head, char *out, size_t cap)
{
    const char *d = strstr(head, "\r\nDate: ");
    cr_assert_not_null(d, "%s", head);
    const char *after = strstr(d + 2, "\r\n");
    snprintf(out, cap, "%.*s%s", (int)(d - head), head, after);
}

Test(handlers, head_gets_exactly_the_header_get_gets)
{
    /* a body too big is a 500 for HEAD as for GET; ducta's own 404 and
     * 500 carry no body on HEAD (the next response on the connection
     * would be read from it) */
    const char *const targets[] = {"/big",  "/nope",     "/fail",
                                   "/crlf", "/plaintext", "/status/418",
                                   "/own-file", "/download/d.txt"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct resp g, h;
        ask_on(crd, "GET", targets[i], NULL, &g);
        ask_on(crd, "HEAD", targets[i], NULL, &h);
        static char gh[4096], hh[4096];
        without_date(g.head, gh, sizeof gh);
        without_date(h.head, hh, sizeof hh);
        cr_expect_str_eq(hh, gh, "HEAD %s", targets[i]);
        still_serving();  /* nothing was sent after HEAD's header */
    }
}

Test(handlers, an_error_answer_to_head_has_no_body)
{
    /* a request ducta refuses before any handler (413 here) closes the
     * connection after its answer: after HEAD's header comes the end */
    int fd = connect_server();
    struct reader *rd = reader_for(fd);
    const char req[] = "HEAD /plaintext HTTP/1.1\r\nHost: t\r\n"
                       "Content-Length: 99999999\r\n\r\n";
    send_bytes(fd, req, sizeof req - 1);
    struct resp r;
    expect_response(rd, &r, 1, "HEAD with a body too big");
    cr_assert_eq(r.status, 413, "%s", r.head);
    char v[32];
    cr_assert_not_null(hdr(&r, "Content-Length", v, sizeof v));
    cr_assert_neq(atoi(v), 0, "the length GET would get");
    int e = read_eof(rd);
    cr_assert_eq(e, 1, "a body after HEAD's 413: %s", eof_name(e));
    close(fd);
}

Test(handlers, json_string_escapes_everything_json_needs)
{
    static const char body[] = "q\"b\\s/\x01\x1f\x7f\n\tok \xc3\xa9 "
                               "\xe2\x82\xac \xf0\x9f\x98\x80 "  /* é € 😀 */
                               "\xff \xc0\xaf \xed\xa0\x80 \xe2\x82";
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /json HTTP/1.1\r\nHost: t\r\n"
                     "Content-Length: %zu\r\n\r\n", sizeof body - 1);
    send_bytes(conn, req, (size_t)n);
    send_bytes(conn, body, sizeof body - 1);
    struct resp r;
    expect_response(crd, &r, 0, "POST /json");
    cr_assert_eq(r.status, 200, "%s", r.head);
    cr_assert_str_eq(
        r.body,
        "{\"s\":\"q\\\"b\\\\s/\\u0001\\u001f\\u007f\\u000a\\u0009ok "
        "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
        "\\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"}");
}

Test(handlers, any_valid_status_is_sent_as_asked)
{
    struct resp r = expect_status("/status/418", NULL, 418);
    cr_assert_str_eq(r.body, "status body\n");
    cr_assert(strncmp(r.head, "HTTP/1.1 418 \r\n", 15) == 0, "%s", r.head);
    r = expect_status("/status/404", NULL, 404);
    cr_assert(strncmp(r.head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    r = expect_status("/status/599", NULL, 599);
    cr_assert_str_eq(r.body, "status body\n");
    still_serving();
}

Test(handlers, added_fields_up_to_the_cap)
{
    struct resp r = expect_status("/many", NULL, 200);
    char want[16];
    snprintf(want, sizeof want, "%d fit\n", DUCTA_RESPONSE_HEADERS_CAP);
    cr_assert_str_eq(r.body, want);
    char v[16];
    cr_assert_str_eq(hdr(&r, "X-A", v, sizeof v), "v");
    cr_assert_not_null(hdr(&r, "X-H", v, sizeof v));
    cr_assert_null(hdr(&r, "X-I", v, sizeof v));
}

/* Once file_fd >= 0 ducta closes it: a memory body, a source that does
 * not exist, a handler that fails, a file that fails a check, HEAD */
Test(handlers, handed_over_descriptors_are_always_closed)
{
    struct resp r = expect_status("/fd-memory", NULL, 200);
    cr_assert_str_eq(r.body, "memory\n");
    const char *const t[] = {"/fd-memory", "/fd-bad-source", "/fd-fail",
                             "/file-wraps", "/file-past-eof", "/file-dir"};
    int before = open_fds();
    for (int i = 0; i < 100; i++) {
        const char *target = t[i % 6];
        r = expect_status(target, NULL, i % 6 == 0 ? 200 : 500);
    }
    struct resp h;
    ask_on(crd, "HEAD", "/fd-memory", NULL, &h);
    cr_assert_eq(proc_fds_settled(srv.pid, before, 1000), before,
                 "descriptors leaked");
}

/* ducta_response_file closes the descriptor of an answer it replaces
 * (the static-file side of the same contract) */
Test(handlers, answering_with_a_file_twice_keeps_one_descriptor)
{
    /* one answer first: the listener defers accepting until a request
     * arrives, so only then is this test's connection in the count */
    still_serving();
    int before = open_fds();
    for (int i = 0; i < 20; i++) {
        struct resp r = expect_status("/file-twice", NULL, 200);
        cr_assert_str_eq(r.body, "0123456789");
    }
    cr_assert_eq(proc_fds_settled(srv.pid, before, 1000), before,
                 "descriptors leaked");
}

Test(handlers, file_bodies_are_sent_and_closed)
{
    /* the handler's own descriptor, from an offset */
    FILE *f = fopen("test/app/routes.def", "r");
    cr_assert_not_null(f);
    static char want[8192];
    size_t n = fread(want, 1, sizeof want - 1, f);
    fclose(f);
    want[n] = 0;
    struct resp r = expect_status("/own-file", NULL, 200);
    cr_assert_str_eq(r.body, want + 2);
    /* a file under --root through ducta_response_file, with its fields */
    r = expect_status("/download/d.txt", NULL, 200);
    cr_assert_str_eq(r.body, "0123456789");
    char v[64];
    cr_assert_str_eq(hdr(&r, "Content-Disposition", v, sizeof v),
                     "attachment");
    cr_assert_not_null(hdr(&r, "ETag", v, sizeof v));
    r = expect_status("/download/d.txt", "Range: bytes=3-4\r\n", 206);
    cr_assert_str_eq(r.body, "34");
    r = expect_status("/download/nope.txt", NULL, 404);
    r = expect_status("/download/..%2f..%2fetc%2fpasswd", NULL, 400);

    /* and no descriptor stays open behind any of them */
    int before = open_fds();
    for (int i = 0; i < 50; i++) {
        const char *t = i % 3 == 0 ? "/own-file"
                        : i % 3 == 1 ? "/download/d.txt" : "/bad-file";
        r = expect_status(t, NULL, i % 3 == 2 ? 500 : 200);
    }
    struct resp h;
    ask_on(crd, "HEAD", "/own-file", NULL, &h);  /* HEAD: opened, not sent */
    cr_assert_eq(h.status, 200);
    cr_assert_eq(proc_fds_settled(srv.pid, before, 1000), before,
                 "descriptors leaked");
    still_serving();
}

/* example/app.c is what people copy: a path parameter that is JSON of its
 * own must come back as a string, not as fields of ours. */
Test(handlers, the_example_app_escapes_what_it_puts_in_json)
{
    static char out[16384];
    char ex[200];
    snprintf(ex, sizeof ex, "%s/example-app", dir);
    cr_assert_eq(sh_run(out, sizeof out,
                        "ROUTES=example/routes.def APP=example/app.c "
                        "OUT_BIN=%s ./build.sh", ex),
                 0, "building the example: %s", out);
    setenv("DUCTA_BIN", ex, 1);
    const char *args[] = {"--threads", "1", "--no-pin", NULL};
    static struct server ex_srv;
    server_spawn(&ex_srv, NULL, args);
    /* Through the path, the issue's attack never reaches a handler: the
     * parser refuses '"' (and '\', control bytes) in a target. */
    int fd = connect_port(ex_srv.port);
    struct resp r;
    ask_on(reader_for(fd), "GET", "/users/7\",\"admin\":true,\"x\":\"/card",
           NULL, &r);
    close(fd);
    cr_expect_eq(r.status, 400, "%s", r.head);
    /* A header value may hold them, and /agent puts it into JSON: the
     * quotes and backslash escaped, the tab as \u0009, valid UTF-8 kept,
     * an invalid byte as U+FFFD. */
    fd = connect_port(ex_srv.port);
    ask_on(reader_for(fd), "GET", "/agent",
           "User-Agent: x\",\"admin\":true,\"y\":\"\\\t\xc3\xa9\xff end\r\n",
           &r);
    close(fd);
    server_stop_of(&ex_srv);
    server_reap(&ex_srv);
    cr_assert_eq(r.status, 200, "%s", r.head);
    char path[240], check[240];
    snprintf(path, sizeof path, "%s/agent.json", dir);
    snprintf(check, sizeof check, "%s/check.py", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fwrite(r.body, 1, r.body_len, f);
    fclose(f);
    f = fopen(check, "w");
    cr_assert_not_null(f);
    fputs("import json, sys\n"
          "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
          "want = 'x\",\"admin\":true,\"y\":\"\\\\\\t\\u00e9\\ufffd end'\n"
          "assert d == {'agent': want}, d\n", f);
    fclose(f);
    cr_assert_eq(sh_run(out, sizeof out, "python3 %s %s", check, path), 0,
                 "the answer is not the JSON it should be: %s", out);
}
