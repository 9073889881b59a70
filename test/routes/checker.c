/*
 * test/routes/checker.c — router.c against a routes file other than the
 * built-in one (test_router.c builds it; see there).
 *
 * Built with -I the directory routegen wrote routes.h into, and linked
 * with router.c (compiled against the same header). Every handler the
 * routes name gets a weak stub here, so any table links; router.c's real
 * built-in handlers override the stubs of the same name.
 *
 * Reads lookups from stdin, one "METHOD PATH" a line, and prints one line
 * per lookup: the handler's name and the captures ("users_get id=42"), or
 * "404", or "405 " and the Allow list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"
#define ROUTES_HANDLERS_ONLY
#include "routes.h"

#define STUB(name)                                                         \
    __attribute__((weak)) int name(const struct ducta_request *req,        \
                                   struct ducta_response *res)             \
    {                                                                      \
        (void)req;                                                         \
        res->status = 200;                                                 \
        return 0;                                                          \
    }
ROUTE_HANDLERS(STUB)

#define ENTRY(name) {name, #name},
static const struct {
    ducta_handler h;
    const char *name;
} names[] = {ROUTE_HANDLERS(ENTRY){NULL, NULL}};  /* may be only the end */

int main(void)
{
    static struct ducta_request req;
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            return 2;
        size_t n = strcspn(sp + 1, "\n");
        req.method = (ducta_slice){line, (size_t)(sp - line)};
        req.path = (ducta_slice){sp + 1, n};
        int status = 0;
        const char *allow = NULL;
        ducta_handler h = ducta_route(&req, &status, &allow);
        if (!h) {
            if (status == 405)
                printf("405 %s\n", allow);
            else
                printf("%d\n", status);
            continue;
        }
        const char *name = "?";
        for (size_t i = 0; names[i].name; i++)
            if (names[i].h == h)
                name = names[i].name;
        printf("%s", name);
        for (size_t i = 0; i < req.nparams; i++)
            printf(" %.*s=%.*s", (int)req.params[i].name.len,
                   req.params[i].name.ptr, (int)req.params[i].value.len,
                   req.params[i].value.ptr);
        putchar('\n');
    }
    return 0;
}
