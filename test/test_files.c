/*
 * test_files.c — static files under --root, over real sockets.
 *
 * Each test builds a small tree in a temporary directory (files, a
 * subdirectory, a private file, a FIFO, symlinks pointing in and out, a
 * file beside the root that must stay unreachable), starts $DUCTA_BIN with
 * --root on it, and asks with raw sockets and with curl: bodies and their
 * types, HEAD, directories, ranges, conditional requests, every way out of
 * the root we know of, and a 100 MiB file to a slow reader while another
 * client is served.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "spawn.h"

static char base[64];  /* holds root/ and outside.txt */
static char root[96];
static pid_t pid = -1;
static int port;

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
    pid = spawn_ducta(args, 0, &port);
}

static void teardown(void)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
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
    int fd = dial_port(port);
    ask(fd, method, target, extra, r);
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
    free(r.body);
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
    cr_assert(strncmp(field(&r, "Content-Type", v, sizeof v), "text/plain",
                      10) == 0, "%s", v);
    cr_assert_str_eq(field(&r, "Accept-Ranges", v, sizeof v), "bytes");
    cr_assert_not_null(field(&r, "ETag", v, sizeof v));
    cr_assert_eq(v[0], '"');
    cr_assert_not_null(field(&r, "Last-Modified", v, sizeof v));
    cr_assert_str_eq(v + strlen(v) - 4, " GMT");
    free(r.body);
    get("GET", "/style.css", NULL, &r);
    cr_assert(strncmp(field(&r, "Content-Type", v, sizeof v), "text/css",
                      8) == 0, "%s", v);
    free(r.body);
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
    cr_assert(strncmp(field(&r, "Content-Type", v, sizeof v), "text/html",
                      9) == 0, "%s", v);
    free(r.body);
    expect("/sub/", 200, "<p>sub</p>");
    get("GET", "/sub", NULL, &r);
    cr_assert_eq(r.status, 301);
    cr_assert_str_eq(field(&r, "Location", v, sizeof v), "/sub/");
    free(r.body);
    expect("/noindex/", 404, NULL);
    expect("/missing.txt", 404, NULL);
    expect("/a.txt/", 404, NULL);  /* a file is not a directory */
}

Test(files, head_has_length_and_no_body)
{
    int fd = dial_port(port);
    /* HEAD then GET on one connection: if HEAD sent a body, the GET's
     * response would start inside it and fail to parse */
    const char req[] = "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, sizeof req - 1);
    struct resp r;
    char v[64];
    read_resp(fd, "HEAD", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(field(&r, "Content-Length", v, sizeof v), "20");
    free(r.body);
    read_resp(fd, "GET", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "body{}");
    free(r.body);
    close(fd);
}

Test(files, private_fifo_and_non_get)
{
    expect("/private.txt", 403, NULL);
    expect("/fifo", 404, NULL);  /* opened without blocking the worker */
    struct resp r;
    get("POST", "/a.txt", "Content-Length: 0\r\n", &r);
    cr_assert_eq(r.status, 404);  /* files answer GET and HEAD only */
    free(r.body);
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
        free(r.body);
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
    cr_assert_str_eq(field(&r, "Content-Range", v, sizeof v), "bytes 2-5/20");
    free(r.body);
    get("GET", "/a.txt", "Range: bytes=-3\r\n", &r);
    cr_assert_eq(r.status, 206);
    cr_assert_str_eq(r.body, "hij");
    free(r.body);
    get("GET", "/a.txt", "Range: bytes=15-\r\n", &r);
    cr_assert_str_eq(r.body, "fghij");
    free(r.body);
    get("GET", "/a.txt", "Range: bytes=18-99\r\n", &r);  /* clipped */
    cr_assert_eq(r.status, 206);
    cr_assert_str_eq(field(&r, "Content-Range", v, sizeof v),
                     "bytes 18-19/20");
    free(r.body);
    get("GET", "/a.txt", "Range: bytes=20-\r\n", &r);
    cr_assert_eq(r.status, 416);
    cr_assert_str_eq(field(&r, "Content-Range", v, sizeof v), "bytes */20");
    free(r.body);
    /* several ranges, other units, nonsense: the whole file (a server may
     * ignore Range, RFC 9110 §14.2) */
    const char *const ignored[] = {"Range: bytes=0-1,4-5\r\n",
                                   "Range: items=0-1\r\n",
                                   "Range: bytes=5-2\r\n", "Range: bytes=x\r\n"};
    for (size_t i = 0; i < 4; i++) {
        get("GET", "/a.txt", ignored[i], &r);
        cr_expect_eq(r.status, 200, "%s", ignored[i]);
        cr_expect_eq(r.body_len, 20, "%s", ignored[i]);
        free(r.body);
    }
}

Test(files, conditional_requests)
{
    struct resp r;
    char etag[64], lastmod[64], hdr[160];
    get("GET", "/a.txt", NULL, &r);
    cr_assert_not_null(field(&r, "ETag", etag, sizeof etag));
    cr_assert_not_null(field(&r, "Last-Modified", lastmod, sizeof lastmod));
    free(r.body);

    snprintf(hdr, sizeof hdr, "If-None-Match: \"x\", %s\r\n", etag);
    get("GET", "/a.txt", hdr, &r);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(strstr(r.head, "Content-Length"), NULL);
    free(r.body);
    snprintf(hdr, sizeof hdr, "If-None-Match: W/%s\r\n", etag);  /* weak */
    get("GET", "/a.txt", hdr, &r);
    cr_assert_eq(r.status, 304);
    free(r.body);
    get("GET", "/a.txt", "If-None-Match: \"other\"\r\n", &r);
    cr_assert_eq(r.status, 200);
    free(r.body);

    snprintf(hdr, sizeof hdr, "If-Modified-Since: %s\r\n", lastmod);
    get("GET", "/a.txt", hdr, &r);
    cr_assert_eq(r.status, 304);
    free(r.body);
    get("GET", "/a.txt", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n",
        &r);
    cr_assert_eq(r.status, 200);
    free(r.body);
    get("GET", "/a.txt", "If-Modified-Since: yesterday\r\n", &r);
    cr_assert_eq(r.status, 200);  /* unreadable date: condition ignored */
    free(r.body);
    /* If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2) */
    snprintf(hdr, sizeof hdr,
             "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n", lastmod);
    get("GET", "/a.txt", hdr, &r);
    cr_assert_eq(r.status, 200);
    free(r.body);

    /* If-Range: the range only for the representation the client has */
    snprintf(hdr, sizeof hdr, "Range: bytes=0-1\r\nIf-Range: %s\r\n", etag);
    get("GET", "/a.txt", hdr, &r);
    cr_assert_eq(r.status, 206);
    free(r.body);
    get("GET", "/a.txt", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 20);
    free(r.body);
}

Test(files, pipelined_file_between_memory_responses)
{
    int fd = dial_port(port);
    const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /json HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-0\r\n\r\n"
                       "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, req, sizeof req - 1);
    const char *const want[] = {"Hello, World!", "0123456789abcdefghij",
                                "{\"message\":\"Hello, World!\"}", "0",
                                "Hello, World!"};
    for (int i = 0; i < 5; i++) {
        struct resp r;
        read_resp(fd, "GET", &r);
        cr_assert_str_eq(r.body, want[i], "response %d", i);
        free(r.body);
    }
    close(fd);
}

/* ---- curl, the way users will try it ------------------------------------ */

/* Run a shell command that must succeed; what it printed in out. */
#define sh(cmd, out, cap)                                                  \
    cr_assert_eq(sh_run((out), (cap), "%s", (cmd)), 0, "failed: %s\n%s",  \
                 (cmd), (out))

Test(files, curl_head_range_and_if_modified_since)
{
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "curl -sS -I http://127.0.0.1:%d/a.txt", port);
    sh(cmd, out, sizeof out);
    cr_assert(strstr(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
    cr_assert(strstr(out, "Content-Length: 20\r\n"), "%s", out);
    snprintf(cmd, sizeof cmd, "curl -sS -r 10-12 http://127.0.0.1:%d/a.txt",
             port);
    sh(cmd, out, sizeof out);
    cr_assert_str_eq(out, "abc");
    /* -z FILE: If-Modified-Since the file's own time; -w prints the code */
    snprintf(cmd, sizeof cmd,
             "curl -sS -o /dev/null -w '%%{http_code}' -z %s/a.txt "
             "http://127.0.0.1:%d/a.txt", root, port);
    sh(cmd, out, sizeof out);
    cr_assert_str_eq(out, "304");
    snprintf(cmd, sizeof cmd,
             "curl -sS -o /dev/null -w '%%{http_code}' --path-as-is "
             "http://127.0.0.1:%d/../../../../etc/passwd", port);
    sh(cmd, out, sizeof out);
    cr_assert(strcmp(out, "400") == 0 || strcmp(out, "404") == 0, "%s", out);
    /* and curl's own resume: -C - continues a partial download */
    snprintf(cmd, sizeof cmd,
             "cd %s && printf 0123456789 > part && curl -sS -C - -o part "
             "http://127.0.0.1:%d/a.txt && cat part", base, port);
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

    int slow = dial_port(port);
    const char req[] = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(slow, req, sizeof req - 1);
    /* the slow client reads nothing for a while; the one worker must go on
     * serving others meanwhile (both are on it: --threads 1) */
    for (int i = 0; i < 20; i++) {
        struct resp r;
        get("GET", "/plaintext", NULL, &r);  /* dial_port: 2 s timeout */
        cr_assert_eq(r.status, 200);
        free(r.body);
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
    const char *bin = getenv("DUCTA_BIN") ? getenv("DUCTA_BIN") : "./ducta";
    int st = sh_run(out, sizeof out, "%s --port 0 --root /nonexistent-ducta",
                    bin);
    cr_assert(strstr(out, "--root /nonexistent-ducta"), "%s", out);
    cr_assert_eq(st, 1, "%s", out);
}

/* ---- the page ./build.sh run serves ------------------------------------- */

static void start_www(void)
{
    const char *args[] = {"--threads", "1", "--no-pin", "--root", "www", NULL};
    pid = spawn_ducta(args, 0, &port);
}

TestSuite(files_www, .init = start_www, .fini = teardown);

Test(files_www, default_page_and_its_links)
{
    struct resp r;
    char v[128];
    get("GET", "/", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "<h1>ducta</h1>"), "%s", r.body);
    cr_assert(strncmp(field(&r, "Content-Type", v, sizeof v), "text/html",
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
        free(l.body);
        links++;
    }
    cr_assert_geq(links, 4, "links found: %d", links);
    free(r.body);
}
