/*
 * test_faults.c — clients that reset, half-close or vanish, over real TCP.
 *
 * The server runs from $DUCTA_BIN with one worker. Each test counts the
 * server's open descriptors (/proc/PID/fd) before, does its damage, and
 * requires the count to come back to where it was: a connection that
 * ended badly must not leak its descriptor (nor, since each slot holds
 * one, its slab slot). And the server must still answer afterwards.
 *
 * The last tests start servers of their own: under a descriptor limit
 * (start-up raises the soft one; four workers sharing the process's
 * descriptors while shedding at EMFILE) and with a SIGHUP mid-transfer.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static void start(void)
{
    /* a short head deadline, for the slowloris test */
    const char *args[] = {"--threads", "1", "--no-pin", "--head-timeout",
                          "500", NULL};
    server_start_with(args);
}

static void teardown(void)
{
    server_stop_of(&srv);
    harness_teardown();
}

TestSuite(faults, .init = start, .fini = teardown);

static int open_fds(void)
{
    return proc_fds(srv.pid);
}

/* The count must come back to base within a second. */
static void settles_to(int base, const char *what)
{
    int n = proc_fds_settled(srv.pid, base, 1000);
    cr_assert_eq(n, base, "%s: %d descriptors open, %d before", what, n, base);
}

/* Close with a reset (RST) instead of a FIN. */
static void reset(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";

static void still_serves(void)
{
    int fd = connect_server();
    send_str(fd, req);
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 12);
    cr_assert_eq(strncmp(buf, "HTTP/1.1 200", 12), 0);
    close(fd);
}

Test(faults, reset_mid_request)
{
    int base = open_fds();
    for (int i = 0; i < 20; i++) {
        int fd = connect_server();
        send_str(fd, "GET /plaintext HTTP/1.1\r\nHos");
        usleep(1000);
        reset(fd);
    }
    settles_to(base, "after resets mid-head");
    still_serves();
}

Test(faults, reset_mid_body)
{
    int base = open_fds();
    for (int i = 0; i < 20; i++) {
        int fd = connect_server();
        send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\nabc");
        usleep(1000);
        reset(fd);
    }
    settles_to(base, "after resets mid-body");
    still_serves();
}

Test(faults, reset_mid_response)
{
    /* enough pipelined /echo requests that the answers fill the socket
     * buffers, then a reset while the server is still writing */
    static char body[60000], head[128];
    memset(body, 'x', sizeof body);
    snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: %zu\r\n\r\n", sizeof body);
    int base = open_fds();
    for (int i = 0; i < 5; i++) {
        int fd = connect_server();
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        for (int k = 0; k < 8; k++) {
            send_str(fd, head);
            if (send(fd, body, sizeof body, MSG_NOSIGNAL) < 0)
                break;
        }
        char b[100];
        cr_assert_gt(recv(fd, b, sizeof b, 0), 0, "the answer had begun");
        reset(fd);
    }
    settles_to(base, "after resets mid-response");
    still_serves();
}

Test(faults, half_close_after_request_still_gets_the_response)
{
    int base = open_fds();
    int fd = connect_server();
    send_str(fd, req);
    shutdown(fd, SHUT_WR);
    char buf[512];
    size_t got = 0;
    ssize_t n;
    while ((n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    cr_assert_eq(n, 0, "then a clean EOF");
    buf[got] = 0;
    cr_assert_eq(strncmp(buf, "HTTP/1.1 200", 12), 0);
    cr_assert(strstr(buf, "\r\n\r\nHello, World!"));
    close(fd);
    settles_to(base, "after a half-close");
}

Test(faults, vanishing_clients)
{
    /* plain closes at every stage: connected only, half a head, after a
     * response, with a response unread */
    int base = open_fds();
    for (int i = 0; i < 10; i++) {
        close(connect_server());
        int fd = connect_server();
        send_str(fd, "GET /json HTTP/1.1\r\n");
        close(fd);
        fd = connect_server();
        send_str(fd, req);
        char b[256];
        cr_assert_gt(recv(fd, b, sizeof b, 0), 0);
        close(fd);
        fd = connect_server();
        send_str(fd, req);
        send_str(fd, req);
        close(fd);
    }
    settles_to(base, "after vanishing clients");
    still_serves();
}

Test(faults, slowloris_is_closed_in_time_while_others_are_served)
{
    /* one header byte every 50 ms never ends the head: the server closes
     * it 500 ms (--head-timeout) after its first byte, however steadily it
     * trickles, and answers another client all the while */
    static const char slow[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Slow: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int base = open_fds();
    int fd = connect_server();
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int closed_ms = -1, served = 0;
    for (size_t i = 0; i < sizeof slow - 1 && closed_ms < 0; i++) {
        if (send(fd, slow + i, 1, MSG_NOSIGNAL) != 1) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            closed_ms = (int)((t.tv_sec - t0.tv_sec) * 1000 +
                              (t.tv_nsec - t0.tv_nsec) / 1000000);
            break;
        }
        int other = connect_server();
        send_str(other, req);
        char b[256];
        ssize_t n = recv(other, b, sizeof b, 0);
        served += n > 12 && strncmp(b, "HTTP/1.1 200", 12) == 0;
        close(other);
        usleep(50 * 1000);
        char c;
        if (recv(fd, &c, 1, MSG_DONTWAIT) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            closed_ms = (int)((t.tv_sec - t0.tv_sec) * 1000 +
                              (t.tv_nsec - t0.tv_nsec) / 1000000);
        }
    }
    cr_assert_geq(closed_ms, 450, "closed after %d ms: not before its time",
                  closed_ms);
    cr_assert_leq(closed_ms, 1500, "closed after %d ms: in time", closed_ms);
    cr_assert_geq(served, 7, "%d requests of others served meanwhile", served);
    close(fd);
    settles_to(base, "after the slowloris");
}

/* ---- servers of their own ---------------------------------------------- */

/* Everything the child wrote on stderr until it closed it (it exited). */
static void read_all(int fd, char *out, size_t cap)
{
    size_t n = 0;
    ssize_t k;
    struct pollfd p = {fd, POLLIN, 0};
    while (n < cap - 1 && poll(&p, 1, 10000) == 1 &&
           (k = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = 0;
    close(fd);
}

/* SIGTERM s (started with .err_pipe), expect exit 0, and return what it
 * said on stderr. */
static void stop_and_read(struct server *s, char *out, size_t cap)
{
    server_stop_of(s);
    read_all(s->err_fd, out, cap);
    s->err_fd = -1;
    server_reap(s);
}

/* The soft limit the child runs with, from /proc/PID/limits. */
static long soft_nofile(pid_t p)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)p);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    long soft = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Max open files", 14))
            soft = strtol(line + 14, NULL, 10);
    fclose(f);
    return soft;
}

Test(faults, start_up_raises_the_soft_descriptor_limit_and_warns)
{
    enum { SOFT = 64, HARD = 512 };
    static struct server s;
    struct server_opts o = {SOFT, HARD, 1};
    /* 2 x 1000 slots cannot fit in 512 descriptors */
    const char *big[] = {"--threads", "2", "--no-pin", "--max-conns", "1000",
                         NULL};
    server_spawn(&s, &o, big);
    cr_assert_eq(soft_nofile(s.pid), HARD, "soft limit not raised to the hard");
    char err[4096];
    stop_and_read(&s, err, sizeof err);
    /* one line says it all */
    const char *w = strstr(err, "warning");
    cr_assert_not_null(w, "no warning: %s", err);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(w, "\n"), w);
    cr_assert(strstr(line, "RLIMIT_NOFILE is 512") && strstr(line, "2 threads") &&
              strstr(line, "1000 max-conns"), "warning line: %s", line);

    /* 1 x 100 fits: raised, and nothing said about it */
    const char *small[] = {"--threads", "1", "--no-pin", "--max-conns", "100",
                           NULL};
    server_spawn(&s, &o, small);
    cr_assert_eq(soft_nofile(s.pid), HARD);
    stop_and_read(&s, err, sizeof err);
    cr_assert_null(strstr(err, "warning"), "warned when it fits: %s", err);
}

/* A burst of clients, all at once: each sends a request and must, within
 * the deadline, get a response or see its connection closed. Returns how
 * many got a response; fails naming the ones left hanging. */
static int burst(int port_, int n)
{
    enum { DEADLINE_MS = 20000 };
    struct pollfd p[n];
    int answered = 0, open_ = 0;
    for (int i = 0; i < n; i++) {
        p[i].fd = connect_port(port_);
        p[i].events = POLLIN;
        send_str(p[i].fd, req);
        open_++;
    }
    int64_t end = now_ms() + DEADLINE_MS;
    while (open_ && now_ms() < end) {
        if (poll(p, (nfds_t)n, 1000) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            char b[256];
            ssize_t k = recv(p[i].fd, b, sizeof b, MSG_DONTWAIT);
            if (k < 0 && errno == EAGAIN)
                continue;
            answered += k > 12 && !strncmp(b, "HTTP/1.1 200", 12);
            close(p[i].fd);  /* answered, closed or reset: done */
            p[i].fd = -1;
            open_--;
        }
    }
    for (int i = 0; i < n; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    cr_assert_eq(open_, 0, "%d of %d clients neither answered nor closed "
                 "after %d ms", open_, n, DEADLINE_MS);
    return answered;
}

Test(faults, emfile_with_four_workers_loses_no_reserve_and_leaves_no_client)
{
    /* 48 descriptors: 16 or so for the server itself (stdio, eventfd,
     * and each worker's epoll, listener and reserve), the rest for
     * clients; each burst is several times that */
    enum { NOFILE = 48, CLIENTS = 200, ROUNDS = 10, AFTER = 64 };
    const char *args[] = {"--threads", "4", "--no-pin", NULL};
    static struct server s;
    struct server_opts o = {NOFILE, NOFILE, 0};
    server_spawn(&s, &o, args);
    int base = proc_fds(s.pid);
    int answered = 0;
    for (int r = 0; r < ROUNDS; r++)
        answered += burst(s.port, CLIENTS);
    cr_assert_gt(answered, 0, "nobody was served");
    /* every worker has its reserve again: the count comes back */
    int n = proc_fds_settled(s.pid, base, 3000);
    cr_assert_eq(n, base, "%d descriptors open after the bursts, %d before "
                 "(a worker lost its reserve)", n, base);
    /* and every worker serves: the kernel spreads these new connections
     * over all four listeners */
    for (int i = 0; i < AFTER; i++) {
        int fd = connect_port(s.port);
        send_str(fd, req);
        char b[256];
        ssize_t k = recv(fd, b, sizeof b - 1, 0);
        cr_assert(k > 12 && !strncmp(b, "HTTP/1.1 200", 12),
                  "connection %d after the bursts not served", i);
        close(fd);
    }
    server_stop_of(&s);
    server_reap(&s);
}

Test(faults, sighup_does_not_cut_a_transfer_or_stop_the_server)
{
    /* a file big enough to be still in flight while the client waits */
    enum { SIZE = 8 << 20 };
    char dir[] = "/tmp/ducta-hup-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/big.bin", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < SIZE; i++)
        fputc('a' + i % 26, f);
    fclose(f);

    static struct server s;
    struct server_opts o = {0, 0, 1};
    const char *args[] = {"--threads", "1", "--no-pin", "--root", dir, NULL};
    server_spawn(&s, &o, args);
    int fd = connect_port(s.port);
    int small = 4096;  /* a small window: the server cannot finish early */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    send_str(fd, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    char b[65536];
    ssize_t k = recv(fd, b, sizeof b, 0);
    cr_assert_gt(k, 0, "no response begun");
    size_t got = (size_t)k;

    cr_assert_eq(kill(s.pid, SIGHUP), 0);
    /* the server says it got it, then goes on */
    char line[2048];
    size_t ln = 0;
    struct pollfd pe = {s.err_fd, POLLIN, 0};
    line[0] = 0;
    while (!strstr(line, "SIGHUP") && ln < sizeof line - 1 &&
           poll(&pe, 1, 5000) == 1) {
        ssize_t r = read(s.err_fd, line + ln, sizeof line - 1 - ln);
        if (r <= 0)
            break;
        ln += (size_t)r;
        line[ln] = 0;
    }
    cr_assert(strstr(line, "SIGHUP"), "no SIGHUP line on stderr: '%s'", line);

    char *head_end = memmem(b, got, "\r\n\r\n", 4);
    cr_assert_not_null(head_end, "head not in the first read");
    size_t head = (size_t)(head_end + 4 - b);
    while (got - head < SIZE && (k = recv(fd, b, sizeof b, 0)) > 0)
        got += (size_t)k;
    cr_assert_eq(got - head, (size_t)SIZE, "transfer cut at %zu of %d bytes",
                 got - head, SIZE);
    close(fd);
    cr_assert_eq(kill(s.pid, 0), 0, "the server is gone after SIGHUP");

    fd = connect_port(s.port);
    send_str(fd, req);
    k = recv(fd, b, sizeof b - 1, 0);
    cr_assert(k > 12 && !strncmp(b, "HTTP/1.1 200", 12),
              "not serving after SIGHUP");
    close(fd);
    char rest[1024];
    stop_and_read(&s, rest, sizeof rest);
    unlink(path);
    rmdir(dir);
}
