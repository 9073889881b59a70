/*
 * test_limits.c — running out of connection slots or descriptors.
 *
 * The server (from $DUCTA_BIN) runs with one worker and either a small
 * --max-conns or a small RLIMIT_NOFILE. More clients than it can hold
 * connect at once. Slots held by idle keep-alive connections, or by ones
 * that have sent nothing, are reclaimed for newcomers; when every slot has
 * a request in flight, the newcomers it cannot hold must be closed
 * promptly (not left hanging in the backlog), the server must not spin
 * while it is full, and once clients leave it must serve new ones by
 * itself.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void start(int nofile, const char *max_conns)
{
    const char *args[] = {"--threads", "1", "--no-pin", "--max-conns",
                          max_conns, NULL};
    struct server_opts o = {(rlim_t)nofile, (rlim_t)nofile, 0};
    server_spawn(&srv, &o, args);
}

/* Sockets the server holds (its listener among them). */
static int server_sockets(void)
{
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)srv.pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char fdpath[384];
        snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
        ssize_t k = readlink(fdpath, link, sizeof link - 1);
        if (k > 0) {
            link[k] = 0;
            n += strncmp(link, "socket:", 7) == 0;
        }
    }
    closedir(d);
    return n;
}

TestSuite(limits, .fini = harness_teardown);

static const char req[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";

/* 1: answered with 200; 0: closed (EOF or reset) without an answer;
 * -1: nothing within IO_TIMEOUT_MS (left hanging: the failure this file is about). */
static int ask(int fd)
{
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0)
        return 0;
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
        buf[n] = 0;
        return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 1 : 0;
    }
    if (n == 0 || errno == ECONNRESET)
        return 0;
    return -1;
}

static double cpu_seconds(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)srv.pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* fields after the command: state is 3rd; utime 14th, stime 15th */
    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
           &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Open `total` clients, each asking once and keeping its connection;
 * returns how many were served, and checks none was left hanging. */
static int crowd(int *fds, int total)
{
    int served = 0;
    for (int i = 0; i < total; i++) {
        fds[i] = connect_server();
        int r = ask(fds[i]);
        cr_assert_neq(r, -1, "client %d left hanging", i);
        served += r;
    }
    return served;
}

static void recovers(int *fds, int total)
{
    for (int i = 0; i < total; i++)
        close(fds[i]);
    usleep(100 * 1000);
    for (int i = 0; i < 10; i++) {
        /* A client's close and the next client's connect can reach the
         * server in either order; a slot freed a moment late must still
         * be found on a second try */
        int r = 0;
        for (int attempt = 0; attempt < 3 && r != 1; attempt++) {
            if (attempt)
                usleep(50 * 1000);
            int fd = connect_server();
            r = ask(fd);
            close(fd);
        }
        cr_assert_eq(r, 1, "after the crowd left, client %d served (%d)", i, r);
    }
}

static const char half_head[] = "GET /plaintext HTTP/1.1\r\nHost: t\r\n";

Test(limits, max_conns_sheds_the_excess_and_recovers)
{
    /* every slot holds a request in flight (half a head): nothing can be
     * reclaimed, so newcomers are closed at once */
    enum { SLOTS = 5, TOTAL = 12 };
    start(0, "5");
    int fds[TOTAL];
    for (int i = 0; i < SLOTS; i++) {
        fds[i] = connect_server();
        cr_assert_eq(send(fds[i], half_head, sizeof half_head - 1,
                          MSG_NOSIGNAL),
                     (ssize_t)(sizeof half_head - 1));
    }
    int base = 0;  /* wait until the server holds the five */
    for (int i = 0; i < 1000 && (base = server_sockets()) < SLOTS + 1; i++)
        usleep(10 * 1000);
    cr_assert_geq(base, SLOTS + 1, "the holders were accepted");
    for (int i = SLOTS; i < TOTAL; i++) {
        fds[i] = connect_server();
        cr_assert_eq(ask(fds[i]), 0, "client %d shed", i);
    }
    recovers(fds, TOTAL);
    server_stop();
}

Test(limits, a_full_server_reclaims_idle_and_silent_connections)
{
    /* 100 slots: 50 idle keep-alive connections, 50 that never send a
     * byte. Twenty newcomers must all be answered, as nginx would: an idle
     * or not-yet-started slot is given up for them. The head deadline is
     * long so that only reclaiming can free the silent ones' slots. */
    enum { IDLE = 50, SILENT = 50, NEW = 20 };
    const char *args[] = {"--threads", "1", "--no-pin", "--max-conns", "100",
                          "--head-timeout", "60000", NULL};
    server_start_with(args);
    int base = server_sockets();  /* the listener */
    int idle[IDLE], silent[SILENT], fresh[NEW];
    for (int i = 0; i < IDLE; i++) {
        idle[i] = connect_server();
        cr_assert_eq(ask(idle[i]), 1, "idle client %d served first", i);
    }
    for (int i = 0; i < SILENT; i++)
        silent[i] = connect_server();
    /* TCP_DEFER_ACCEPT: the kernel hands over a connection that sends
     * nothing only after a SYN-ACK retransmission (a second or more) */
    int held = 0;
    for (int i = 0; i < 3000 && (held = server_sockets() - base) < 100; i++)
        usleep(10 * 1000);
    cr_assert_eq(held, 100, "the server holds all hundred");
    for (int i = 0; i < NEW; i++) {
        fresh[i] = connect_server();
        cr_assert_eq(ask(fresh[i]), 1, "newcomer %d answered", i);
    }
    for (int i = 0; i < NEW; i++)
        cr_assert_eq(ask(fresh[i]), 1, "newcomer %d kept", i);
    for (int i = 0; i < IDLE; i++)
        close(idle[i]);
    for (int i = 0; i < SILENT; i++)
        close(silent[i]);
    for (int i = 0; i < NEW; i++)
        close(fresh[i]);
    server_stop();
}

Test(limits, descriptor_exhaustion_sheds_without_spinning)
{
    /* 32 descriptors: a few for the server itself, the rest for clients */
    enum { TOTAL = 60 };
    start(32, "1000");
    int fds[TOTAL];
    int served = crowd(fds, TOTAL);
    cr_assert_geq(served, 15, "served %d before running out", served);
    cr_assert_lt(served, TOTAL, "the limit was reached");
    /* still full: more clients arrive; the server must shed them, and
     * not burn its core retrying accept */
    double before = cpu_seconds();
    for (int i = 0; i < 20; i++) {
        int fd = connect_server();
        cr_assert_eq(ask(fd), 0, "extra client %d shed", i);
        close(fd);
    }
    usleep(500 * 1000);
    double used = cpu_seconds() - before;
    cr_assert_lt(used, 0.3, "server used %.2f s of CPU while full", used);
    recovers(fds, TOTAL);
    server_stop();
}
