/*
 * test_handlers.c — the handler API from the outside: a user's app, built
 * the way users build theirs (ROUTES=test/app/routes.def
 * APP=test/app/app.c ./build.sh), answering over real sockets.
 *
 * Handlers that break the API's rules (fail, an impossible status, CR/LF in
 * a field, a field ducta writes itself, a length without a body, a body too
 * big, a file body without a file) must each get a clean 500 while the
 * connection goes on serving; handlers that use the API (any status code,
 * added fields up to the cap, a file of their own, a file under --root)
 * must get exactly what they asked for, without leaking descriptors.
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
#include "client.h"
#include "spawn.h"

static char dir[128], bin[160];
static pid_t pid = -1;
static int port;
static int conn = -1;  /* one keep-alive connection for a whole test */

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
    setenv("DUCTA_BIN", bin, 1);  /* spawn_ducta runs $DUCTA_BIN */
    const char *args[] = {"--threads", "1", "--no-pin", "--root", root, NULL};
    pid = spawn_ducta(args, 0, &port);
    conn = dial_port(port);
}

static void stop(void)
{
    if (conn >= 0)
        close(conn);
    conn = -1;
    stop_ducta(&pid);
    char out[256];
    sh_run(out, sizeof out, "rm -rf %s", dir);
}

TestSuite(handlers, .init = start, .fini = stop);

/* GET target on the test's connection; expect status; return the response
 * (free its body). */
static struct resp expect_status(const char *target, const char *extra,
                                 int status)
{
    struct resp r;
    ask(conn, "GET", target, extra, &r);
    cr_expect_eq(r.status, status, "GET %s: %d, wanted %d\n%s", target,
                 r.status, status, r.head);
    return r;
}

static void still_serving(void)
{
    struct resp r = expect_status("/plaintext", NULL, 200);
    cr_assert_str_eq(r.body, "Hello, World!");
    free(r.body);
}

Test(handlers, broken_responses_become_500_and_the_connection_goes_on)
{
    const char *const broken[] = {"/fail",      "/status/99", "/status/600",
                                  "/status/0",  "/crlf",      "/reserved",
                                  "/nobody",    "/big",       "/bad-file"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        struct resp r = expect_status(broken[i], NULL, 500);
        cr_expect_null(strstr(r.head, "X-Injected"), "%s", broken[i]);
        cr_expect_null(strcasestr(r.head, "content-length: 0\r\n"),
                       "%s", broken[i]);
        free(r.body);
        still_serving();  /* same connection */
    }
}

Test(handlers, any_valid_status_is_sent_as_asked)
{
    struct resp r = expect_status("/status/418", NULL, 418);
    cr_assert_str_eq(r.body, "status body\n");
    cr_assert(strncmp(r.head, "HTTP/1.1 418 \r\n", 15) == 0, "%s", r.head);
    free(r.body);
    r = expect_status("/status/404", NULL, 404);
    cr_assert(strncmp(r.head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    free(r.body);
    /* 204: no content, so no body and no Content-Length (RFC 9110 §8.6) */
    r = expect_status("/status/204", NULL, 204);
    cr_assert_null(strcasestr(r.head, "content-length"), "%s", r.head);
    free(r.body);
    still_serving();  /* had a body slipped out, this would not parse */
}

Test(handlers, added_fields_up_to_the_cap)
{
    struct resp r = expect_status("/many", NULL, 200);
    char want[16];
    snprintf(want, sizeof want, "%d fit\n", DUCTA_RESPONSE_HEADERS_CAP);
    cr_assert_str_eq(r.body, want);
    char v[16];
    cr_assert_str_eq(field(&r, "X-A", v, sizeof v), "v");
    cr_assert_not_null(field(&r, "X-H", v, sizeof v));
    cr_assert_null(field(&r, "X-I", v, sizeof v));
    free(r.body);
}

static int open_fds(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
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
    free(r.body);
    /* a file under --root through ducta_response_file, with its fields */
    r = expect_status("/download/d.txt", NULL, 200);
    cr_assert_str_eq(r.body, "0123456789");
    char v[64];
    cr_assert_str_eq(field(&r, "Content-Disposition", v, sizeof v),
                     "attachment");
    cr_assert_not_null(field(&r, "ETag", v, sizeof v));
    free(r.body);
    r = expect_status("/download/d.txt", "Range: bytes=3-4\r\n", 206);
    cr_assert_str_eq(r.body, "34");
    free(r.body);
    r = expect_status("/download/nope.txt", NULL, 404);
    free(r.body);
    r = expect_status("/download/..%2f..%2fetc%2fpasswd", NULL, 400);
    free(r.body);

    /* and no descriptor stays open behind any of them */
    int before = open_fds();
    for (int i = 0; i < 50; i++) {
        const char *t = i % 3 == 0 ? "/own-file"
                        : i % 3 == 1 ? "/download/d.txt" : "/bad-file";
        r = expect_status(t, NULL, i % 3 == 2 ? 500 : 200);
        free(r.body);
    }
    struct resp h;
    ask(conn, "HEAD", "/own-file", NULL, &h);  /* HEAD: opened, not sent */
    cr_assert_eq(h.status, 200);
    free(h.body);
    cr_assert_eq(open_fds(), before, "descriptors leaked");
    still_serving();
}
