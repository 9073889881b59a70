/*
 * spawn.h — start the server under test as a child process (for the test
 * files that drive a real ./ducta over TCP: test_limits.c, test_faults.c).
 *
 * spawn_ducta() runs $DUCTA_BIN (else ./ducta) with "--port 0" and the
 * given extra arguments, optionally under a lower RLIMIT_NOFILE, and reads
 * the port from its start-up line. The child dies with the test process.
 * dial_port() connects to it.
 */
#ifndef DUCTA_TEST_SPAWN_H
#define DUCTA_TEST_SPAWN_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

enum { SPAWN_MAX_ARGS = 16 };

/* args: NULL-terminated; nofile: 0 to keep the limit. Returns the pid and
 * sets *port. */
static pid_t spawn_ducta(const char *const *args, int nofile, int *port)
{
    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        if (nofile) {
            struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        const char *bin = getenv("DUCTA_BIN") ? getenv("DUCTA_BIN") : "./ducta";
        const char *argv[SPAWN_MAX_ARGS + 4] = {bin, "--port", "0"};
        for (int i = 0; args[i] && i < SPAWN_MAX_ARGS; i++)
            argv[3 + i] = args[i];
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    size_t n = 0;
    struct pollfd p = {out[0], POLLIN, 0};
    while (n < sizeof line - 1 && !strchr(line, '\n') &&
           poll(&p, 1, 5000) == 1) {
        ssize_t k = read(out[0], line + n, sizeof line - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        line[n] = 0;
    }
    close(out[0]);
    char *at = strstr(line, "127.0.0.1:");
    cr_assert_not_null(at, "no listening line: '%s'", line);
    *port = atoi(at + 10);
    return pid;
}

/* A blocking TCP connection to 127.0.0.1:port, reads timing out after 2 s
 * (so a test sees "left hanging" as an error, not a hang). */
static int dial_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

#endif
