/*
 * spawn.h — the old names test_router.c still uses, over harness.h (which
 * owns starting servers, connecting and running commands). Nothing else
 * includes it; it goes when test_router.c includes harness.h and calls
 * server_spawn()/connect_port() itself.
 */
#ifndef DUCTA_TEST_SPAWN_H
#define DUCTA_TEST_SPAWN_H

#include "harness.h"

/* args: NULL-terminated; nofile: the soft and hard RLIMIT_NOFILE, 0 to
 * keep them. Returns the pid and sets *port. */
static pid_t spawn_ducta(const char *const *args, int nofile, int *port)
{
    static struct server s;
    struct server_opts o = {(rlim_t)nofile, (rlim_t)nofile, 0};
    server_spawn(&s, &o, args);
    *port = s.port;
    return s.pid;
}

static int dial_port(int port)
{
    return connect_port(port);
}

#endif
