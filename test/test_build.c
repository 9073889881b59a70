/*
 * test_build.c — the one script's own promises, where a user of
 * `./build.sh test` on a fresh machine would be misled if they broke.
 *
 * A fuzzer that cannot be built (clang missing, apt-get holding the dpkg
 * lock, a compile error) is not a crash the fuzzer found: build.sh must say
 * "fuzzer not built: REASON" and fail, never point at crash files. The test
 * puts a clang first on PATH that links the probe but refuses to compile
 * the fuzz targets, and runs `./build.sh fuzz` from the checkout (the tests
 * run from its top, as build.sh starts them).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OUT_MAX = 1 << 16 };

/* Run cmd with sh, its stdout and stderr into out; the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(build, a_fuzzer_that_cannot_be_built_is_said_so_not_called_a_crash)
{
    char dir[] = "/tmp/ducta-fakeclang-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/clang", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    /* -dumpversion answers, the link probe "links", a fuzz target fails */
    fputs("#!/bin/sh\n"
          "case \"$*\" in\n"
          "  *-dumpversion*) echo 14 ;;\n"
          "  *test/fuzz_*) echo 'fake clang: no' >&2; exit 1 ;;\n"
          "esac\n"
          "exit 0\n", f);
    fclose(f);
    cr_assert_eq(chmod(path, 0755), 0);

    static char out[OUT_MAX];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "PATH='%s':\"$PATH\" ./build.sh fuzz 1 2>&1",
             dir);
    int status = run(cmd, out, sizeof out);
    unlink(path);
    rmdir(dir);
    cr_expect_neq(status, 0, "build.sh fuzz succeeded without a fuzzer:\n%s",
                  out);
    cr_expect_not_null(strstr(out, "fuzzer not built: clang could not "
                                   "compile test/fuzz_"),
                       "no 'fuzzer not built' line:\n%s", out);
    cr_expect_null(strstr(out, "crash-"), "it points at crash files:\n%s",
                   out);
}
