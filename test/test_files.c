/*
 * test_files.c — static files under --root, over real sockets.
 *
 * Each test builds a small tree in a temporary directory (files, a
 * subdirectory, a private file, a FIFO, symlinks pointing in and out, a
 * file beside the root that must stay unreachable), starts $DUCTA_BIN with
 * --root on it, and asks with raw sockets and with curl: bodies and their
 * types, HEAD, directories, ranges, conditional requests, every way out of
 * the root we know of, and a 100 MiB file to a slow reader while another
 * client is served. Then what a file server must refuse or say exactly
 * (issue #11): methods other than GET/HEAD, dotfiles and private
 * directories, out-of-descriptor opens (a 503, not a cacheable 404),
 * dates, the directory redirect's Location, long paths, and a file whose
 * size lies (sysfs). Some tests call ducta_response_file in this process
 * (the server's files are linked in), to see exactly what it leaves in a
 * response and that it never writes outside it.
 *
 * Tests marked "needs conn.c's side" depend on conn.c passing every method
 * to ducta_response_file and answering ducta_route's 501, and "needs
 * ducta.c's --dotfiles" on that flag: they fail until those are merged.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"
#include "harness.h"

static char base[64];  /* holds root/ and outside.txt */
static char root[96];

static void put_file(const char *rel, const char *data, size_t len, int mode)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    fchmod(fd, (mode_t)mode);
    close(fd);
}

static void make_tree(void)
{
    strcpy(base, "/tmp/ducta-files-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(root, sizeof root, "%s/root", base);
    cr_assert_eq(mkdir(root, 0755), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/outside.txt", base);
    FILE *f = fopen(path, "w");
    fputs("OUTSIDE-SECRET\n", f);
    fclose(f);
    put_file("index.html", "<h1>home</h1>\n", 14, 0644);
    put_file("a.txt", "0123456789abcdefghij", 20, 0644);
    put_file("style.css", "body{}", 6, 0644);
    put_file("space name.txt", "spaced", 6, 0644);
    put_file("empty.txt", "", 0, 0644);
    put_file("private.txt", "mine", 4, 0600);
    snprintf(path, sizeof path, "%s/sub", root);
    mkdir(path, 0755);
    put_file("sub/index.html", "<p>sub</p>", 10, 0644);
    snprintf(path, sizeof path, "%s/noindex", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/fifo", root);
    cr_assert_eq(mkfifo(path, 0644), 0);
    snprintf(path, sizeof path, "%s/link-out", root);
    cr_assert_eq(symlink("../outside.txt", path), 0);
    snprintf(path, sizeof path, "%s/link-abs", root);
    cr_assert_eq(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof path, "%s/link-in", root);
    cr_assert_eq(symlink("a.txt", path), 0);
}

static void start(void)
{
    make_tree();
    const char *args[] = {"--threads", "1", "--no-pin", "--root", root, NULL};
    server_start_with(args);
}

static void teardown(void)
{
    harness_teardown();
    if (base[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", base);
        base[0] = 0;
    }
}

TestSuite(files, .init = start, .fini = teardown);

/* One request on a new connection; extra is more header lines. */
static void get(const char *method, const char *target, const char *extra,
                struct resp *r)
{
    int fd = connect_server();
    ask_on(reader_in(READER_POOL - 1, fd), method, target, extra, r);
    close(fd);
}

static void expect(const char *target, int status, const char *body)
{
    struct resp r;
    get("GET", target, NULL, &r);
    cr_expect_eq(r.status, status, "GET %s: %d, wanted %d", target, r.status,
                 status);
    if (body)
        cr_expect_str_eq(r.body, body, "GET %s", target);
    cr_expect_null(strstr(r.body, "OUTSIDE-SECRET"), "GET %s escaped", target);
    cr_expect_null(strstr(r.body, "root:"), "GET %s escaped", target);
}

/* The server still answers (a test's last check). */
static void still_serving(void)
{
    expect("/a.txt", 200, "0123456789abcdefghij");
}

/* ---- what a file server must do ----------------------------------------- */

Test(files, serves_bytes_with_type_and_validators)
{
    struct resp r;
    char v[128];
    get("GET", "/a.txt", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "0123456789abcdefghij");
    cr_assert(strncmp(hdr(&r, "Content-Type", v, sizeof v), "text/plain",
                      10) == 0, "%s", v);
    cr_assert_str_eq(hdr(&r, "Accept-Ranges", v, sizeof v), "bytes");
    cr_assert_not_null(hdr(&r, "ETag", v, sizeof v));
    cr_assert_eq(v[0], '"');
    cr_assert_not_null(hdr(&r, "Last-Modified", v, sizeof v));
    cr_assert_str_eq(v + strlen(v) - 4, " GMT");
    get("GET", "/style.css", NULL, &r);
    cr_assert(strncmp(hdr(&r, "Content-Type", v, sizeof v), "text/css",
                      8) == 0, "%s", v);
    expect("/space%20name.txt", 200, "spaced");
    expect("/%61.txt", 200, "0123456789abcdefghij");  /* %61 is 'a' */
    expect("/a.txt?v=3", 200, "0123456789abcdefghij");
    expect("/empty.txt", 200, "");
}

Test(files, directories_index_and_redirect)
{
    struct resp r;
    char v[128];
    get("GET", "/", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "<h1>home</h1>\n");
    cr_assert(strncmp(hdr(&r, "Content-Type", v, sizeof v), "text/html",
                      9) == 0, "%s", v);
    expect("/sub/", 200, "<p>sub</p>");
    get("GET", "/sub", NULL, &r);
    cr_assert_eq(r.status, 301);
    cr_assert_str_eq(hdr(&r, "Location", v, sizeof v), "/sub/");
    expect("/noindex/", 404, NULL);
    expect("/missing.txt", 404, NULL);
    expect("/a.txt/", 404, NULL);  /* a file is not a directory */
}

Test(files, head_has_length_and_no_body)
{
    int fd = connect_server();
    struct reader *rd = reader_for(fd);
    /* HEAD then GET on one connection: if HEAD sent a body, the GET's
     * response would start inside it and fail to parse */
    const char req[] = "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n";
    send_bytes(fd, req, sizeof req - 1);
    struct resp r;
    char v[64];
    expect_response(rd, &r, 1, "HEAD /a.txt");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "Content-Length", v, sizeof v), "20");
    expect_response(rd, &r, 0, "GET /style.css");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "body{}");
    close(fd);
}

Test(files, private_and_fifo)
{
    expect("/private.txt", 403, NULL);
    expect("/fifo", 404, NULL);  /* opened without blocking the worker */
    still_serving();
}

Test(files, no_way_out_of_the_root)
{
    /* The client-side normalisation a browser does is absent here: these
     * bytes reach the server as written. */
    const char *const tries[] = {
        "/../outside.txt",
        "/sub/../../outside.txt",
        "/%2e%2e/outside.txt",
        "/%2E%2E%2Foutside.txt",
        "/sub/..%2f..%2foutside.txt",
        "/..%5coutside.txt",
        "/.%2e/outside.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/link-out",
        "/link-abs",
        "/a.txt%00.html",
        "/%00",
        "/%zz",
        "/%2",
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        struct resp r;
        get("GET", tries[i], NULL, &r);
        cr_expect(r.status == 400 || r.status == 404 || r.status == 403,
                  "GET %s: %d", tries[i], r.status);
        cr_expect_null(strstr(r.body, "OUTSIDE-SECRET"), "%s", tries[i]);
        cr_expect_null(strstr(r.body, "root:"), "%s", tries[i]);
    }
    /* a symlink that stays inside is followed */
    expect("/link-in", 200, "0123456789abcdefghij");
    still_serving();
}

Test(files, ranges)
{
    struct resp r;
    char v[64];
    get("GET", "/a.txt", "Range: bytes=2-5\r\n", &r);
    cr_assert_eq(r.status, 206);
    cr_assert_str_eq(r.body, "2345");
    cr_assert_str_eq(hdr(&r, "Content-Range", v, sizeof v), "bytes 2-5/20");
    get("GET", "/a.txt", "Range: bytes=-3\r\n", &r);
    cr_assert_eq(r.status, 206);
    cr_assert_str_eq(r.body, "hij");
    get("GET", "/a.txt", "Range: bytes=15-\r\n", &r);
    cr_assert_str_eq(r.body, "fghij");
    get("GET", "/a.txt", "Range: bytes=18-99\r\n", &r);  /* clipped */
    cr_assert_eq(r.status, 206);
    cr_assert_str_eq(hdr(&r, "Content-Range", v, sizeof v),
                     "bytes 18-19/20");
    get("GET", "/a.txt", "Range: bytes=20-\r\n", &r);
    cr_assert_eq(r.status, 416);
    cr_assert_str_eq(hdr(&r, "Content-Range", v, sizeof v), "bytes */20");
    /* several ranges, other units, nonsense: the whole file (a server may
     * ignore Range, RFC 9110 §14.2) */
    const char *const ignored[] = {"Range: bytes=0-1,4-5\r\n",
                                   "Range: items=0-1\r\n",
                                   "Range: bytes=5-2\r\n", "Range: bytes=x\r\n"};
    for (size_t i = 0; i < 4; i++) {
        get("GET", "/a.txt", ignored[i], &r);
        cr_expect_eq(r.status, 200, "%s", ignored[i]);
        cr_expect_eq(r.body_len, 20, "%s", ignored[i]);
    }
}

Test(files, conditional_requests)
{
    struct resp r;
    char etag[64], lastmod[64], fields[160];
    get("GET", "/a.txt", NULL, &r);
    cr_assert_not_null(hdr(&r, "ETag", etag, sizeof etag));
    cr_assert_not_null(hdr(&r, "Last-Modified", lastmod, sizeof lastmod));

    snprintf(fields, sizeof fields, "If-None-Match: \"x\", %s\r\n", etag);
    get("GET", "/a.txt", fields, &r);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(strstr(r.head, "Content-Length"), NULL);
    snprintf(fields, sizeof fields, "If-None-Match: W/%s\r\n", etag);  /* weak */
    get("GET", "/a.txt", fields, &r);
    cr_assert_eq(r.status, 304);
    get("GET", "/a.txt", "If-None-Match: \"other\"\r\n", &r);
    cr_assert_eq(r.status, 200);

    snprintf(fields, sizeof fields, "If-Modified-Since: %s\r\n", lastmod);
    get("GET", "/a.txt", fields, &r);
    cr_assert_eq(r.status, 304);
    get("GET", "/a.txt", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n",
        &r);
    cr_assert_eq(r.status, 200);
    get("GET", "/a.txt", "If-Modified-Since: yesterday\r\n", &r);
    cr_assert_eq(r.status, 200);  /* unreadable date: condition ignored */
    /* If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2) */
    snprintf(fields, sizeof fields,
             "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n", lastmod);
    get("GET", "/a.txt", fields, &r);
    cr_assert_eq(r.status, 200);

    /* If-Range: the range only for the representation the client has */
    snprintf(fields, sizeof fields, "Range: bytes=0-1\r\nIf-Range: %s\r\n", etag);
    get("GET", "/a.txt", fields, &r);
    cr_assert_eq(r.status, 206);
    get("GET", "/a.txt", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 20);
}

Test(files, pipelined_file_between_memory_responses)
{
    int fd = connect_server();
    struct reader *rd = reader_for(fd);
    const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\n\r\n"
                       "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    send_bytes(fd, req, sizeof req - 1);
    const char *const want[] = {"Hello, World!", "0123456789abcdefghij",
                                "{\"message\":\"Hello, World!\"}", "0",
                                "Hello, World!"};
    for (int i = 0; i < 5; i++) {
        struct resp r;
        expect_response(rd, &r, 0, "pipelined");
        cr_assert_str_eq(r.body, want[i], "response %d", i);
    }
    close(fd);
}

/* ---- methods (issue #11.10) -------------------------------------------- */

/* Needs conn.c's side: conn.c hands every method to ducta_response_file
 * when no route matched, and answers ducta_route's 501. */
Test(files, methods_other_than_get_head)
{
    struct resp r;
    char v[64];
    const char *const refused[][2] = {
        {"PUT", "/style.css"}, {"DELETE", "/style.css"}, {"POST", "/a.txt"},
        {"TRACE", "/"},        {"PATCH", "/sub/"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        get(refused[i][0], refused[i][1], "Content-Length: 0\r\n", &r);
        cr_expect_eq(r.status, 405, "%s %s: %d", refused[i][0], refused[i][1],
                     r.status);
        cr_expect_str_eq(hdr(&r, "Allow", v, sizeof v) ? v : "",
                         "GET, HEAD, OPTIONS", "%s %s", refused[i][0],
                         refused[i][1]);
    }
    get("OPTIONS", "/style.css", NULL, &r);
    cr_expect_eq(r.status, 204);
    cr_expect_str_eq(hdr(&r, "Allow", v, sizeof v) ? v : "",
                     "GET, HEAD, OPTIONS");
    get("PUT", "/missing.txt", "Content-Length: 0\r\n", &r);
    cr_expect_eq(r.status, 404);  /* a missing resource, whatever the method */
    get("BREW", "/style.css", NULL, &r);
    cr_expect_eq(r.status, 501);  /* not a method ducta knows */
    still_serving();
}

/* ---- ducta_response_file in this process -------------------------------- */

static struct ducta_request ireq;
static struct ducta_files ifiles;

static ducta_slice sl(const char *s)
{
    return (ducta_slice){s, strlen(s)};
}

/* A response as conn.c hands it to a handler. */
static void fresh(struct ducta_response *res)
{
    memset(res, 0, sizeof *res);
    res->content_type = "text/plain";
    res->file_fd = -1;
}

/* Call ducta_response_file for method and path, with one optional request
 * field; res is used as it is. */
static void call_file(const char *method, const char *path, const char *name,
                      const char *value, struct ducta_response *res)
{
    static int ready;
    char err[256];
    if (!ready) {
        cr_assert_eq(ducta_files_open(&ifiles, root, 0, err, sizeof err), 0, "%s", err);
        ready = 1;
    }
    ireq = (struct ducta_request){.files = &ifiles};
    ireq.method = sl(method);
    ireq.target = ireq.path = sl(path);
    if (name) {
        ireq.nheaders = 1;
        ireq.headers[0] = (ducta_header){sl(name), sl(value)};
    }
    cr_assert_eq(ducta_response_file(&ireq, res, path, strlen(path)), 0);
}

static const char *res_hdr(const struct ducta_response *res,
                             const char *name)
{
    for (size_t i = 0; i < res->nheaders && i < DUCTA_RESPONSE_HEADERS_CAP; i++)
        if (strcasecmp(res->headers[i].name, name) == 0)
            return res->headers[i].value;
    return NULL;
}

static void drop_file(struct ducta_response *res)
{
    if (res->file_fd >= 0)
        close(res->file_fd);
    res->file_fd = -1;
}

Test(files, in_process_answers_by_method)
{
    struct ducta_response res;
    const char *const methods[] = {"PUT", "DELETE", "POST", "TRACE", "PATCH"};
    for (size_t i = 0; i < 5; i++) {
        fresh(&res);
        call_file(methods[i], "/style.css", NULL, NULL, &res);
        cr_expect_eq(res.status, 405, "%s: %d", methods[i], res.status);
        cr_expect_str_eq(res_hdr(&res, "Allow"), "GET, HEAD, OPTIONS");
        cr_expect_eq(res.file_fd, -1);
    }
    fresh(&res);
    call_file("OPTIONS", "/sub", NULL, NULL, &res);  /* a directory too */
    cr_expect_eq(res.status, 204);
    cr_expect_str_eq(res_hdr(&res, "Allow"), "GET, HEAD, OPTIONS");
    fresh(&res);
    call_file("DELETE", "/nothing-here", NULL, NULL, &res);
    cr_expect_eq(res.status, 404);
    cr_expect_null(res_hdr(&res, "Allow"));
    fresh(&res);
    call_file("HEAD", "/style.css", NULL, NULL, &res);
    cr_expect_eq(res.status, 200);
    drop_file(&res);
}

/* A handler's slip (scratch_used past the end, or near it) must give a
 * clean 500, and nothing written after the struct: before, ETag and
 * Last-Modified went over whatever followed it. */
Test(files, scratch_used_cannot_make_it_write_outside)
{
    static struct {
        struct ducta_response res;
        unsigned char guard[4096];
    } g;
    const size_t bad[] = {DUCTA_RESPONSE_SCRATCH + 1,
                          DUCTA_RESPONSE_SCRATCH + 300, (size_t)-1 - 8,
                          DUCTA_RESPONSE_SCRATCH - 5};
    const char *const paths[][2] = {{"/a.txt", NULL},
                                    {"/sub", NULL},  /* the redirect */
                                    {"/a.txt", "bytes=0-1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t k = 0; k < 3; k++) {
            fresh(&g.res);
            memset(g.guard, 0xa5, sizeof g.guard);
            g.res.scratch_used = bad[i];
            call_file("GET", paths[k][0], paths[k][1] ? "Range" : NULL,
                      paths[k][1], &g.res);
            cr_expect_eq(g.res.status, 500, "scratch_used %zu, %s: %d", bad[i],
                         paths[k][0], g.res.status);
            cr_expect_eq(g.res.file_fd, -1);
            cr_expect_eq(g.res.source, DUCTA_BODY_MEMORY);
            for (size_t j = 0; j < sizeof g.guard; j++)
                cr_assert_eq(g.guard[j], 0xa5, "byte %zu after the struct "
                             "written (scratch_used %zu, %s)", j, bad[i],
                             paths[k][0]);
            drop_file(&g.res);
        }
    }
}

/* Called twice, or after a handler put a descriptor there: ducta owns it,
 * and closes it. */
Test(files, a_descriptor_already_in_res_is_closed)
{
    struct ducta_response res;
    enum { HIGH_FD = 900 };  /* above what the opens below will get */
    fresh(&res);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(dup2(fd, HIGH_FD), HIGH_FD);
    close(fd);
    res.file_fd = HIGH_FD;
    res.source = DUCTA_BODY_FILE;
    call_file("GET", "/a.txt", NULL, NULL, &res);
    cr_expect_eq(res.status, 200);
    cr_expect_neq(res.file_fd, HIGH_FD);
    cr_expect_eq(fcntl(HIGH_FD, F_GETFD), -1, "the first descriptor leaked");
    /* and a second call on the same response, as a handler might */
    int first = res.file_fd;
    cr_assert_eq(dup2(first, HIGH_FD), HIGH_FD);
    close(first);
    res.file_fd = HIGH_FD;
    call_file("GET", "/missing.txt", NULL, NULL, &res);
    cr_expect_eq(res.status, 404);
    cr_expect_eq(res.file_fd, -1);
    cr_expect_eq(fcntl(HIGH_FD, F_GETFD), -1, "the second descriptor leaked");
}

/* ---- dates (issue #11.15) ------------------------------------------------ */

static void set_mtime(const char *rel, time_t t)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0, "%s", strerror(errno));
}

Test(files, if_range_date_only_when_strong)
{
    struct resp r;
    char lastmod[64], fields[160];
    /* a file changed "now" (here: in the future, which no clock can make
     * a second old): its date cannot tell two versions of this second
     * apart, so a range must not be served against it */
    set_mtime("a.txt", time(NULL) + 3600);
    get("GET", "/a.txt", NULL, &r);
    cr_assert_not_null(hdr(&r, "Last-Modified", lastmod, sizeof lastmod));
    snprintf(fields, sizeof fields, "Range: bytes=0-1\r\nIf-Range: %s\r\n", lastmod);
    get("GET", "/a.txt", fields, &r);
    cr_expect_eq(r.status, 200, "a weak date gave %d", r.status);
    cr_expect_eq(r.body_len, 20);
    /* a file an hour old: its date is a strong validator */
    set_mtime("a.txt", time(NULL) - 3600);
    get("GET", "/a.txt", NULL, &r);
    cr_assert_not_null(hdr(&r, "Last-Modified", lastmod, sizeof lastmod));
    snprintf(fields, sizeof fields, "Range: bytes=0-1\r\nIf-Range: %s\r\n", lastmod);
    get("GET", "/a.txt", fields, &r);
    cr_expect_eq(r.status, 206);
    cr_expect_str_eq(r.body, "01");
    /* a date that is not ours: the whole file */
    get("GET", "/a.txt",
        "Range: bytes=0-1\r\nIf-Range: Wed, 01 Jan 2020 00:00:00 GMT\r\n", &r);
    cr_expect_eq(r.status, 200);
}

Test(files, if_modified_since_dates_strictly)
{
    struct resp r;
    /* invalid dates are ignored (RFC 9110 §13.1.3): a full 200 */
    const char *const invalid[] = {
        "Mon, 99 Jan 2100 99:99:99 GMT",  /* was read as a date in 2100 */
        "Fri, 31 Dec 2100 23:59:60X GMT",
        "Fri, 31 Dec 2100 24:00:00 GMT",
        "Thu, 31 Apr 2100 00:00:00 GMT",  /* no 31 April */
        "Sat, 31 Dec 2100 23:59:59 GMT",  /* a Friday */
        "Fri, 31 Dec 2100 23:59:59 UTC",
        "Fri, 31 Dec 2100 23:59:59 GMT, Fri, 31 Dec 2100 23:59:59 GMT",
        "Fri Dec 31 23:59:59 21OO",
        "Tuesday, 31-Dec-69 23:59:59 UTC",
        "Tue, 31-Dec-69 23:59:59 GMT",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        char fields[160];
        snprintf(fields, sizeof fields, "If-Modified-Since: %s\r\n", invalid[i]);
        get("GET", "/a.txt", fields, &r);
        cr_expect_eq(r.status, 200, "'%s': %d", invalid[i], r.status);
    }
    /* the obsolete formats a recipient must accept (RFC 9110 §5.6.7),
     * dates after the file's: 304 */
    const char *const later[] = {
        "Fri, 31 Dec 2100 23:59:59 GMT",
        "Fri Dec 31 23:59:59 2100",         /* asctime */
        "Thu Jan  1 00:00:00 2099",         /* asctime, one-digit day */
        "Tuesday, 31-Dec-69 23:59:59 GMT",  /* rfc850: 2069 */
    };
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
        char fields[160];
        snprintf(fields, sizeof fields, "If-Modified-Since: %s\r\n", later[i]);
        get("GET", "/a.txt", fields, &r);
        cr_expect_eq(r.status, 304, "'%s': %d", later[i], r.status);
    }
    /* rfc850's two-digit year 94 is 1994, not 2094 (more than 50 years
     * ahead): older than the file, so 200 */
    get("GET", "/a.txt",
        "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT\r\n", &r);
    cr_expect_eq(r.status, 200);
}

Test(files, range_only_on_get)
{
    struct resp r;
    char v[64];
    get("HEAD", "/a.txt", "Range: bytes=0-1\r\n", &r);  /* RFC 9110 §14.2 */
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(hdr(&r, "Content-Length", v, sizeof v), "20");
}

/* ---- the directory redirect (issue #11.16) ------------------------------ */

Test(files, directory_redirect_stays_on_this_host)
{
    char path[256];
    snprintf(path, sizeof path, "%s/q?d #x", root);
    cr_assert_eq(mkdir(path, 0755), 0);
    const char *const cases[][2] = {
        {"//sub", "/sub/"},  /* was //sub/: another host to a browser */
        {"///sub", "/sub/"},
        {"/%2fsub", "/sub/"},
        {"/%2F%2Fsub", "/sub/"},
        {"//sub?x=1&y", "/sub/?x=1&y"},
        /* what the parser lets through raw in a query, encoded again */
        {"/sub?a=%41/b?c{|}^`", "/sub/?a=%41/b?c%7B%7C%7D%5E%60"},
        {"/sub//..%2f", NULL},  /* refused before any redirect */
        {"/q%3Fd%20%23x", "/q%3Fd%20%23x/"},
        {"/noindex", "/noindex/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        char v[256];
        get("GET", cases[i][0], NULL, &r);
        if (!cases[i][1]) {
            cr_expect_neq(r.status, 301, "%s", cases[i][0]);
        } else {
            cr_expect_eq(r.status, 301, "%s: %d", cases[i][0], r.status);
            cr_expect_str_eq(hdr(&r, "Location", v, sizeof v) ? v : "",
                             cases[i][1], "%s", cases[i][0]);
        }
    }
}

/* ---- long paths (issue #11.18) ------------------------------------------ */

/* GET target on a new connection (no 1 KiB cap on the request). */
static int status_of_long(const char *target)
{
    static char req[16384];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
                       target);
    cr_assert(len > 0 && (size_t)len < sizeof req);
    int fd = connect_server();
    send_bytes(fd, req, (size_t)len);
    struct resp r;
    expect_response(reader_in(READER_POOL - 1, fd), &r, 0, "a long path");
    close(fd);
    return r.status;
}

Test(files, a_path_too_long_is_414)
{
    static char target[8000];
    /* 5000 bytes decoded: more than PATH_MAX, within the request line */
    target[0] = '/';
    memset(target + 1, 'a', 5000);
    target[5001] = 0;
    cr_expect_eq(status_of_long(target), 414);
    /* 1500 escapes decode to 500 bytes: they fit */
    for (size_t i = 0; i < 1500; i++)
        memcpy(target + 1 + 3 * i, "%61", 3);
    target[4501] = 0;
    cr_expect_eq(status_of_long(target), 404);
    /* a path that fits, in components too long for any file system */
    for (size_t i = 0; i < 1500; i++)
        memcpy(target + 1 + 2 * i, i % 150 == 149 ? "/b" : "bb", 2);
    target[3001] = 0;
    cr_expect_eq(status_of_long(target), 404);
    still_serving();
}

/* ---- what is published (issue #11.20) ----------------------------------- */

static void make_dir(const char *rel, int mode)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    cr_assert_eq(mkdir(path, (mode_t)mode), 0, "%s: %s", path, strerror(errno));
    chmod(path, (mode_t)mode);
}

static void hidden_tree(void)
{
    put_file(".env", "SECRET=1", 8, 0644);
    make_dir(".git", 0755);
    put_file(".git/config", "[core]", 6, 0644);
    make_dir(".well-known", 0755);
    put_file(".well-known/security.txt", "Contact: x", 10, 0644);
    put_file("sub/.hidden", "h", 1, 0644);
}

Test(files, dotfiles_are_not_served)
{
    hidden_tree();
    expect("/.env", 404, NULL);
    expect("/%2eenv", 404, NULL);
    expect("/.git/config", 404, NULL);
    expect("/.git/", 404, NULL);
    expect("/sub/.hidden", 404, NULL);
    expect("/./a.txt", 404, NULL);
    expect("/.well-known/security.txt", 200, "Contact: x");
    expect("/sub/.well-known", 404, NULL);  /* only at the top */
    still_serving();
}

Test(files, dotfiles_when_asked_in_process)
{
    hidden_tree();
    struct ducta_response res;
    fresh(&res);
    call_file("GET", "/.env", NULL, NULL, &res);
    cr_expect_eq(res.status, 404);
    ifiles.dotfiles = 1;
    fresh(&res);
    call_file("GET", "/.env", NULL, NULL, &res);
    cr_expect_eq(res.status, 200);
    drop_file(&res);
    fresh(&res);
    call_file("GET", "/..", NULL, NULL, &res);
    cr_expect_eq(res.status, 400);  /* ".." never */
    ifiles.dotfiles = 0;
}

/* Needs ducta.c's --dotfiles (struct ducta_config.dotfiles passed on with
 * ducta_files_dotfiles). */
Test(files_cli, dotfiles_flag)
{
    make_tree();
    hidden_tree();
    const char *args[] = {"--threads", "1",  "--no-pin", "--root",
                          root,        "--dotfiles", NULL};
    server_start_with(args);
    expect("/.env", 200, "SECRET=1");
    expect("/.git/config", 200, "[core]");
    teardown();
}

Test(files, directories_must_be_world_searchable)
{
    make_dir("priv", 0750);  /* no world bits: private, even to root */
    put_file("priv/f.txt", "p", 1, 0644);
    make_dir("pub", 0755);
    make_dir("pub/priv", 0700);
    make_dir("pub/priv/pub", 0755);
    put_file("pub/priv/pub/f.txt", "p", 1, 0644);
    put_file("pub/priv/pub/index.html", "p", 1, 0644);
    make_dir("xonly", 0711);  /* searchable, not listable: enough */
    put_file("xonly/f.txt", "x", 1, 0644);
    put_file("pub/f.txt", "ok", 2, 0644);
    expect("/priv/f.txt", 403, NULL);
    expect("/pub/priv/pub/f.txt", 403, NULL);
    expect("/pub/priv/pub/", 403, NULL);
    expect("/xonly/f.txt", 200, "x");
    expect("/pub/f.txt", 200, "ok");
    still_serving();
}

/* ---- out of descriptors (issue #11.3) ------------------------------------ */

enum { LOW_NOFILE = 32, MAX_FILLERS = 64 };

static void start_lowfd(void)
{
    make_tree();
    const char *args[] = {"--threads", "1", "--no-pin", "--root", root, NULL};
    struct server_opts o = {LOW_NOFILE, LOW_NOFILE, 0};
    server_spawn(&srv, &o, args);
}

TestSuite(files_lowfd, .init = start_lowfd, .fini = teardown);

/* Did a connection get its answer (1), or was it shed at once (0)? A shed
 * one ends at once, so the wait for an answer can be generous. */
static int answered(int fd)
{
    static const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)sizeof req - 1)
        return 0;
    char buf[256];
    ssize_t k = recv(fd, buf, sizeof buf, 0);
    return k > 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0;
}

Test(files_lowfd, out_of_descriptors_is_503_not_404, .timeout = 60)
{
    int a = connect_server();
    cr_assert(answered(a));
    struct reader *ra = reader_for(a);
    /* connections until the server sheds one: its table is full */
    int fillers[MAX_FILLERS], n = 0, full = 0;
    while (n < MAX_FILLERS && !full) {
        fillers[n] = connect_server();
        full = !answered(fillers[n]);
        n++;
    }
    cr_assert(full, "the server took %d connections under RLIMIT_NOFILE %d",
              n, LOW_NOFILE);
    struct resp r;
    char v[32];
    ask_on(ra, "GET", "/a.txt", NULL, &r);
    cr_expect_eq(r.status, 503, "an existing file without a descriptor: %d",
                 r.status);
    cr_expect_str_eq(hdr(&r, "Retry-After", v, sizeof v) ? v : "", "1");
    for (int i = 0; i < n; i++)
        close(fillers[i]);
    /* once the descriptors are back, the file is served again (the server
     * sees the closes in its own time: ask until it has) */
    int status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        ask_on(ra, "GET", "/a.txt", NULL, &r);
        status = r.status;
        if (status != 200)
            usleep(20000);
    }
    cr_expect_eq(status, 200);
    close(a);
}

/* ---- a file whose size lies (issue #11.20) ------------------------------ */

/* sysfs says 4096 bytes for an attribute of a few: the response promises
 * 4096 and the body ends early. The client must see a correct response or
 * a clean close, never a hang nor the next response inside this body, and
 * the server must go on serving. */
static const char *const sysfs_roots[][2] = {
    {"/sys/kernel/mm/transparent_hugepage", "enabled"},
    {"/sys/kernel/mm/ksm", "run"},
    {"/sys/power", "state"},
    {"/sys/kernel", "uevent_seqnum"},
};

Test(files_sysfs, a_size_that_lies_closes_cleanly, .timeout = 60)
{
    const char *sysroot = NULL, *name = NULL;
    for (size_t i = 0; i < sizeof sysfs_roots / sizeof sysfs_roots[0]; i++) {
        char path[256];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", sysfs_roots[i][0],
                 sysfs_roots[i][1]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (st.st_mode & S_IROTH) && st.st_size == 4096) {
            sysroot = sysfs_roots[i][0];
            name = sysfs_roots[i][1];
            break;
        }
    }
    if (!sysroot)
        cr_skip_test("no readable sysfs attribute here to try");
    const char *args[] = {"--threads", "1", "--no-pin", "--root", sysroot,
                          NULL};
    server_start_with(args);
    int fd = connect_server();
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[256];
    int len = snprintf(req, sizeof req,
                       "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n", name, name);
    send_bytes(fd, req, (size_t)len);
    static char buf[65536];
    size_t got = 0;
    for (;;) {
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        cr_assert(k >= 0 || errno == ECONNRESET, "left hanging: %s",
                  strerror(errno));
        if (k <= 0)
            break;
        got += (size_t)k;
        cr_assert_lt(got, sizeof buf - 1);
    }
    buf[got] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(body, "no response head: '%s'", buf);
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
    size_t promised = strtoul(strstr(buf, "Content-Length: ") + 16, NULL, 10);
    body += 4;
    size_t body_len = got - (size_t)(body - buf);
    if (body_len < promised)  /* cut short: the close is the end */
        cr_expect_null(strstr(body, "HTTP/1.1"),
                       "the next response inside a short body: %s", body);
    else
        cr_expect(body_len == promised || strstr(body + promised, "HTTP/1.1"),
                  "misframed: %zu bytes after a head of %zu", body_len,
                  promised);
    close(fd);
    /* the server goes on */
    fd = connect_server();
    struct resp r;
    ask_on(reader_for(fd), "GET", "/plaintext", NULL, &r);
    cr_expect_eq(r.status, 200);
    close(fd);
    teardown();
}

/* ---- curl, the way users will try it ------------------------------------ */

/* Run a shell command that must succeed; what it printed in out. */
#define sh(cmd, out, cap)                                                  \
    cr_assert_eq(sh_run((out), (cap), "%s", (cmd)), 0, "failed: %s\n%s",  \
                 (cmd), (out))

Test(files, curl_head_range_and_if_modified_since)
{
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "curl -sS -I http://127.0.0.1:%d/a.txt", srv.port);
    sh(cmd, out, sizeof out);
    cr_assert(strstr(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
    cr_assert(strstr(out, "Content-Length: 20\r\n"), "%s", out);
    snprintf(cmd, sizeof cmd, "curl -sS -r 10-12 http://127.0.0.1:%d/a.txt",
             srv.port);
    sh(cmd, out, sizeof out);
    cr_assert_str_eq(out, "abc");
    /* -z FILE: If-Modified-Since the file's own time; -w prints the code */
    snprintf(cmd, sizeof cmd,
             "curl -sS -o /dev/null -w '%%{http_code}' -z %s/a.txt "
             "http://127.0.0.1:%d/a.txt", root, srv.port);
    sh(cmd, out, sizeof out);
    cr_assert_str_eq(out, "304");
    snprintf(cmd, sizeof cmd,
             "curl -sS -o /dev/null -w '%%{http_code}' --path-as-is "
             "http://127.0.0.1:%d/../../../../etc/passwd", srv.port);
    sh(cmd, out, sizeof out);
    cr_assert(strcmp(out, "400") == 0 || strcmp(out, "404") == 0, "%s", out);
    /* and curl's own resume: -C - continues a partial download */
    snprintf(cmd, sizeof cmd,
             "cd %s && printf 0123456789 > part && curl -sS -C - -o part "
             "http://127.0.0.1:%d/a.txt && cat part", base, srv.port);
    sh(cmd, out, sizeof out);
    cr_assert_str_eq(out, "0123456789abcdefghij");
}

/* ---- kernels without openat2: the fallback walk ------------------------- */

static void start_fallback(void)
{
    setenv("DUCTA_NO_OPENAT2", "1", 1);
    start();
    unsetenv("DUCTA_NO_OPENAT2");
}

TestSuite(files_fallback, .init = start_fallback, .fini = teardown);

Test(files_fallback, is_as_strict)
{
    expect("/a.txt", 200, "0123456789abcdefghij");
    expect("/sub/", 200, "<p>sub</p>");
    expect("/", 200, "<h1>home</h1>\n");
    expect("/link-out", 404, NULL);
    expect("/link-abs", 404, NULL);
    expect("/link-in", 404, NULL);  /* every symlink refused */
    expect("/%2e%2e/outside.txt", 400, NULL);
    expect("/private.txt", 403, NULL);
}

/* ---- a large file to a slow reader -------------------------------------- */

enum { BIG = 100 << 20 };

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

Test(files, big_file_to_slow_reader_does_not_hold_the_worker,
     .timeout = 120)
{
    /* 100 MiB whose bytes depend on their offset, so a lost, repeated or
     * reordered piece changes the hash */
    char path[160];
    snprintf(path, sizeof path, "%s/big.bin", root);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    static unsigned char chunk[1 << 16];
    uint64_t want = 0xcbf29ce484222325ull;
    for (size_t off = 0; off < BIG; off += sizeof chunk) {
        for (size_t i = 0; i < sizeof chunk; i += 8) {
            uint64_t v = (off + i) * 0x9e3779b97f4a7c15ull;
            memcpy(chunk + i, &v, 8);
        }
        cr_assert_eq(write(fd, chunk, sizeof chunk), (ssize_t)sizeof chunk);
        want = fnv(want, chunk, sizeof chunk);
    }
    close(fd);

    int slow = connect_server();
    const char req[] = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    send_bytes(slow, req, sizeof req - 1);
    /* the slow client reads nothing for a while; the one worker must go on
     * serving others meanwhile (both are on it: --threads 1) */
    for (int i = 0; i < 20; i++) {
        struct resp r;
        get("GET", "/plaintext", NULL, &r);  /* IO_TIMEOUT_MS each */
        cr_assert_eq(r.status, 200);
        usleep(20000);
    }
    /* now read it all, slowly at first, and check every byte */
    struct timeval tv = {20, 0};
    setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char head[1024];
    size_t hn = 0;
    while (hn < 4 || memcmp(head + hn - 4, "\r\n\r\n", 4) != 0) {
        cr_assert_eq(recv(slow, head + hn, 1, 0), 1);
        hn++;
        cr_assert_lt(hn, sizeof head);
    }
    head[hn] = 0;
    cr_assert(strstr(head, "Content-Length: 104857600\r\n"), "%s", head);
    uint64_t got = 0xcbf29ce484222325ull;
    size_t total = 0;
    static unsigned char buf[1 << 16];
    while (total < BIG) {
        size_t want_n = BIG - total < sizeof buf ? BIG - total : sizeof buf;
        if (total < (1 << 20))
            want_n = want_n < 4096 ? want_n : 4096;  /* trickle at first */
        ssize_t k = recv(slow, buf, want_n, 0);
        cr_assert_gt(k, 0, "cut at %zu: %s", total,
                     k < 0 ? strerror(errno) : "EOF");
        got = fnv(got, buf, (size_t)k);
        total += (size_t)k;
    }
    cr_assert_eq(got, want, "the body differs from the file");
    close(slow);
    still_serving();
}

Test(files_cli, root_must_exist)
{
    char out[512];
    const char *bin = ducta_bin();
    int st = sh_run(out, sizeof out, "%s --port 0 --root /nonexistent-ducta",
                    bin);
    cr_assert(strstr(out, "--root /nonexistent-ducta"), "%s", out);
    cr_assert_eq(st, 1, "%s", out);
}

/* ---- the page ./build.sh run serves ------------------------------------- */

static void start_www(void)
{
    const char *args[] = {"--threads", "1", "--no-pin", "--root", "www", NULL};
    server_start_with(args);
}

TestSuite(files_www, .init = start_www, .fini = teardown);

Test(files_www, default_page_and_its_links)
{
    struct resp r;
    char v[128];
    get("GET", "/", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "<h1>ducta</h1>"), "%s", r.body);
    cr_assert(strncmp(hdr(&r, "Content-Type", v, sizeof v), "text/html",
                      9) == 0);
    /* every local link and stylesheet on it answers 200 */
    int links = 0;
    for (const char *p = r.body; (p = strstr(p, "href=\"")); p += 6) {
        char target[128];
        if (sscanf(p + 6, "%127[^\"]", target) != 1 || target[0] != '/')
            if (strcmp(target, "style.css") != 0)
                continue;
        char abs[136];
        snprintf(abs, sizeof abs, "%s%s", target[0] == '/' ? "" : "/", target);
        struct resp l;
        get("GET", abs, NULL, &l);
        cr_expect_eq(l.status, 200, "link %s: %d", abs, l.status);
        links++;
    }
    cr_assert_geq(links, 4, "links found: %d", links);
}
