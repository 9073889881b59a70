/*
 * spawn.h — start the server under test as a child process (for the test
 * files that drive a real ./ducta over TCP: test_limits.c, test_faults.c).
 *
 * spawn_ducta() runs $DUCTA_BIN (else ./ducta) with "--port 0" and the
 * given extra arguments, optionally under a lower RLIMIT_NOFILE, and reads
 * the port from its start-up line. The child dies with the test process.
 * spawn_ducta_with() also sets the soft and hard limits apart and can hand
 * back the read end of the child's stderr.
 * dial_port() connects to it. sh_run() runs a shell command and keeps
 * what it printed (to build an app, or to ask with curl).
 */
#ifndef DUCTA_TEST_SPAWN_H
#define DUCTA_TEST_SPAWN_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

enum { SPAWN_MAX_ARGS = 16 };

struct spawn_opts {
    rlim_t soft, hard;  /* the child's RLIMIT_NOFILE; 0, 0: keep it */
    int *err_fd;        /* if set: gets a pipe from the child's stderr */
};

/* args: NULL-terminated. Returns the pid and sets *port. */
static pid_t spawn_ducta_with(const char *const *args,
                              const struct spawn_opts *o, int *port)
{
    int out[2], err[2] = {-1, -1};
    cr_assert_eq(pipe(out), 0);
    if (o->err_fd) {
        cr_assert_eq(pipe(err), 0);
        fcntl(err[0], F_SETFD, FD_CLOEXEC);
    }
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        if (o->err_fd) {
            dup2(err[1], 2);
            close(err[0]);
            close(err[1]);
        }
        if (o->hard) {
            struct rlimit rl = {o->soft, o->hard};
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
    if (o->err_fd) {
        close(err[1]);
        *o->err_fd = err[0];
    }
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

/* nofile: the soft and hard RLIMIT_NOFILE, 0 to keep them. */
static pid_t spawn_ducta(const char *const *args, int nofile, int *port)
{
    struct spawn_opts o = {(rlim_t)nofile, (rlim_t)nofile, NULL};
    return spawn_ducta_with(args, &o, port);
}

/* SIGTERM the server and expect a clean exit 0 (under ASan, a leak or an
 * error found at exit is a non-zero status). *pid becomes -1. */
__attribute__((unused)) static void stop_ducta(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    int st = 0;
    waitpid(*pid, &st, 0);
    *pid = -1;
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
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

/* Run a shell command (printf-style), stderr joined to stdout, which is
 * kept in out[0..cap). Returns its exit status, -1 if it did not exit. */
static int sh_run(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static int sh_run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof cmd - 8, "command too long");
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t len = 0, k;
    while (len < cap - 1 && (k = fread(out + len, 1, cap - 1 - len, p)) > 0)
        len += k;
    out[len] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
