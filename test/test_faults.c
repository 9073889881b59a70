/*
 * test_faults.c — clients that reset, half-close or vanish, over real TCP.
 *
 * The server runs from $DUCTA_BIN with one worker. Each test counts the
 * server's open descriptors (/proc/PID/fd) before, does its damage, and
 * requires the count to come back to where it was: a connection that
 * ended badly must not leak its descriptor (nor, since each slot holds
 * one, its slab slot). And the server must still answer afterwards.
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

#include "spawn.h"

static pid_t pid = -1;
static int port;

static void start(void)
{
    /* a short head deadline, for the slowloris test */
    const char *args[] = {"--threads", "1", "--no-pin", "--head-timeout",
                          "500", NULL};
    pid = spawn_ducta(args, 0, &port);
}

static void teardown(void)
{
    stop_ducta(&pid);
}

TestSuite(faults, .init = start, .fini = teardown);

static int open_fds(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The count must come back to base within a second. */
static void settles_to(int base, const char *what)
{
    int n = -1;
    for (int i = 0; i < 100 && (n = open_fds()) != base; i++)
        usleep(10 * 1000);
    cr_assert_eq(n, base, "%s: %d descriptors open, %d before", what, n, base);
}

static int dial(void)
{
    return dial_port(port);
}

/* Close with a reset (RST) instead of a FIN. */
static void reset(int fd)
{
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void send_str(int fd, const char *s)
{
    cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";

static void still_serves(void)
{
    int fd = dial();
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
        int fd = dial();
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
        int fd = dial();
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
        int fd = dial();
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
    int fd = dial();
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
        close(dial());
        int fd = dial();
        send_str(fd, "GET /json HTTP/1.1\r\n");
        close(fd);
        fd = dial();
        send_str(fd, req);
        char b[256];
        cr_assert_gt(recv(fd, b, sizeof b, 0), 0);
        close(fd);
        fd = dial();
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
    int fd = dial();
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
        int other = dial();
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
