/*
 * files.c — the static files under --root: a handler like any other.
 *
 * Owns: answering a request with a file under the root directory
 * (ducta_response_file): from a request path to an open descriptor,
 * safely (containment, what is published); the validators (ETag,
 * Last-Modified); conditional and range requests (RFC 9110 §13, §14);
 * the MIME table (ducta_mime_type); and opening a server's root
 * (ducta_files_open). It fills in a struct ducta_response through the
 * public API of ducta.h, as any handler does.
 *
 * Nothing here is process-wide: the root's descriptor and the dotfiles
 * choice are a server's (struct ducta_files, which ducta.c's server holds
 * and conn.c points each request at, req->files), so two servers in one
 * process serve two roots.
 *
 * Does not own: when it is asked (conn.c calls it when no route matched
 * and --root is set; a handler may call it too), nor sending the body:
 * conn.c sends the descriptor left in res->file_fd with sendfile(2) and
 * closes it. Nothing here reads file contents into user space.
 *
 * Containment is the kernel's job, not string checks': the path is opened
 * with openat2(RESOLVE_BENEATH) relative to the root's descriptor, so no
 * "..", absolute path or symlink can lead out of it. The string checks
 * before that (NUL, ".." segments) only give a clear 400 early. Kernels
 * without openat2 (before 5.6) get a walk that opens one component at a
 * time with O_NOFOLLOW: slower, and it refuses every symlink.
 *
 * What is published, by default: regular files anyone may read (S_IROTH),
 * in directories anyone may search (S_IXOTH), on no path segment starting
 * with '.' except /.well-known/ (--dotfiles, cfg->dotfiles, serves them).
 *
 * One request goes through five steps, each with its own failures and the
 * status each one means:
 *   resolve     path → open regular file: 400 (bad escape, ".."), 404 (no
 *               such file, a dotfile), 403 (not published), 414 (decoded
 *               path too long), 503 + Retry-After (out of descriptors or
 *               memory), 500 (any other error); 301 for a directory named
 *               without its final slash
 *   method      GET, HEAD go on; OPTIONS 204, others 405, both with Allow
 *   validators  ETag, Last-Modified, type
 *   conditions  If-None-Match, If-Modified-Since → 304
 *   range       Range (on GET), If-Range → 206 or 416, else 200
 * A step that finds no room left in the response (res->scratch, fields) is
 * a 500: whatever scratch_used a handler left, nothing is written outside
 * res->scratch.
 */
#define _GNU_SOURCE  /* O_PATH, timegm */
#define DUCTA_INTERNAL 1  /* one of the server's files: ducta.h Part 2 */
#include "ducta.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- the MIME table ------------------------------------------------------ */

/* Extension (lower case) → type, sorted by extension for a binary search:
 * 58 entries are six compares, and the table stays a plain list one can
 * read and extend. Text types say their charset, so browsers need not
 * guess. */
static const struct {
    const char *ext, *type;
} mime[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"atom", "application/atom+xml"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar; charset=utf-8"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

/* The longest extension in the table ("webmanifest"): longer is unknown. */
enum { MIME_MAX_EXT = 11 };
static const char unknown_type[] = "application/octet-stream";

const char *ducta_mime_type(const char *ext, size_t len)
{
    char low[MIME_MAX_EXT + 1];
    if (len == 0 || len > MIME_MAX_EXT)
        return unknown_type;
    for (size_t i = 0; i < len; i++)
        low[i] = ext[i] >= 'A' && ext[i] <= 'Z' ? (char)(ext[i] | 32) : ext[i];
    low[len] = 0;
    size_t lo = 0, hi = sizeof mime / sizeof mime[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(low, mime[mid].ext);
        if (c == 0)
            return mime[mid].type;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return unknown_type;
}

/* ---- the root and what is published --------------------------------------- */

/* A decoded path is looked up in a buffer of PATH_MAX bytes, the most the
 * kernel takes for one path, with room left for "index.html" behind a
 * directory's slash: a path whose decoded form does not fit names no file
 * we could open, and is answered 414 (URI Too Long). */
enum {
    FILES_INDEX_LEN = 10,  /* "index.html" */
    FILES_PATH_MAX = PATH_MAX,
    FILES_DECODED_MAX = FILES_PATH_MAX - FILES_INDEX_LEN - 1,
};

/* Retry-After of a 503 for lack of descriptors or memory, in seconds: such
 * a shortage is usually over by then, and a client (or a CDN) that waits
 * longer keeps a real file from its users for nothing. */
#define FILES_RETRY_AFTER "1"

/* The methods a file answers, as Allow lists them (RFC 9110 §10.2.1). */
static const char files_allow[] = "GET, HEAD, OPTIONS";

int ducta_files_open(struct ducta_files *fs, const char *root, int dotfiles,
                     char *err, size_t errlen)
{
    fs->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fs->root_fd < 0) {
        snprintf(err, errlen, "--root %s: %s", root, strerror(errno));
        return -1;
    }
    fs->dotfiles = dotfiles != 0;
    /* Probe once; DUCTA_NO_OPENAT2 lets the tests exercise the fallback. */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH};
    int probe = (int)syscall(SYS_openat2, fs->root_fd, ".", &how, sizeof how);
    fs->have_openat2 = probe >= 0 && !getenv("DUCTA_NO_OPENAT2");
    if (probe >= 0)
        close(probe);
    return 0;
}

void ducta_files_close(struct ducta_files *fs)
{
    if (fs->root_fd >= 0)
        close(fs->root_fd);
    fs->root_fd = -1;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode a path into out (RFC 3986 §2.1), relative to the root:
 * leading slashes dropped and repeated ones collapsed, as the kernel reads
 * them, so out never starts with '/' nor holds "//". Returns its length, or
 * minus the status to answer: 400 for a bad escape, a NUL or a ".."
 * segment (refused before the kernel has to); 414 when it does not fit;
 * 404 for a segment starting with '.', unless dotfiles are served or it is
 * the first one, /.well-known/ (RFC 8615): by default a stray .env or
 * .git/ in the root stays private. */
static ssize_t decode_path(const char *in, size_t len, int dotfiles,
                           char *out)
{
    static const char well_known[] = ".well-known";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '%') {
            int hi = len - i < 3 ? -1 : hex_value(in[i + 1]);
            int lo = len - i < 3 ? -1 : hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -400;
            ch = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (ch == 0)
            return -400;
        if (ch == '/' && (n == 0 || out[n - 1] == '/'))
            continue;
        if (n == FILES_DECODED_MAX)
            return -414;
        out[n++] = (char)ch;
    }
    out[n] = 0;
    int hidden = 0;
    for (size_t s = 0; s < n;) {
        size_t e = s;
        while (e < n && out[e] != '/')
            e++;
        if (out[s] == '.') {
            if (e - s == 2 && out[s + 1] == '.')
                return -400;
            if (s != 0 || e - s != sizeof well_known - 1 ||
                memcmp(out, well_known, e) != 0)
                hidden = 1;
        }
        s = e + 1;
    }
    return hidden && !dotfiles ? -404 : (ssize_t)n;
}

/* Open path beneath the root. -1 with errno set on failure. */
static int open_beneath(const struct ducta_files *fs, const char *path)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (*path == 0)
        path = ".";
    if (fs->have_openat2) {
        struct open_how how = {
            .flags = flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        do
            fd = (int)syscall(SYS_openat2, fs->root_fd, path, &how,
                                 sizeof how);
        while (fd < 0 && errno == EINTR);
        return fd;
    }
    /* The fallback: one component at a time, never following a symlink.
     * ".." cannot occur (decode_path refused it). */
    char comp[FILES_PATH_MAX];
    int dir = fs->root_fd;
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        memcpy(comp, n ? p : ".", n ? n : 1);
        comp[n ? n : 1] = 0;
        int fd = openat(dir, comp,
                        slash ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                              : flags | O_NOFOLLOW);
        int saved = errno;
        if (dir != fs->root_fd)
            close(dir);
        if (fd < 0) {
            errno = saved == ELOOP ? EXDEV : saved;
            return -1;
        }
        if (!slash)
            return fd;
        dir = fd;
        p = slash + 1;
        if (*p == 0)  /* trailing slash: the directory itself */
            p = ".";
    }
}

/* ---- dates (RFC 9110 §5.6.7) -------------------------------------------- */

/* IMF-fixdate; strftime is in the C locale, because the process never calls
 * setlocale (as for the Date field, ducta.c). */
static void http_date(time_t t, char out[DUCTA_DATE_LEN + 1])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, DUCTA_DATE_LEN + 1, "%a, %d %b %Y %H:%M:%S GMT", &tm) !=
        DUCTA_DATE_LEN)
        memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", DUCTA_DATE_LEN + 1);
}

static const char *const day_names[7] = {"Sunday",   "Monday", "Tuesday",
                                         "Wednesday", "Thursday", "Friday",
                                         "Saturday"};
static const char month_names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* n decimal digits at p as a number, or -1. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int month_at(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, month_names + 3 * i, 3) == 0)
            return i;
    return -1;
}

/* The weekday named by p[0..len): a full name (rfc850-date), or its first
 * three letters (the other two formats). -1 if none. */
static int weekday_at(const char *p, size_t len)
{
    for (int i = 0; i < 7; i++)
        if (len == 3 ? memcmp(p, day_names[i], 3) == 0
                     : len == strlen(day_names[i]) &&
                           memcmp(p, day_names[i], len) == 0)
            return i;
    return -1;
}

/* A date's fields to seconds since the epoch, if they name a real moment
 * (no 31 April, no 25:00; 60 seconds for a leap second) that falls on the
 * weekday given: a date that fails any of it is not a date (RFC 9110
 * §5.6.7), and the condition that carries it is ignored. 0, or -1. */
static int to_time(int year, int mon, int day, int hour, int min, int sec,
                   int wday, time_t *out)
{
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30,
                                            31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 0 || mon < 0 || day < 1 ||
        day > mdays[mon] + (mon == 1 && leap) || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60 || wday < 0)
        return -1;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon, .tm_mday = day,
                    .tm_hour = hour, .tm_min = min};
    time_t t = timegm(&tm);  /* also sets tm_wday */
    if (tm.tm_wday != wday)
        return -1;
    *out = t + sec;
    return 0;
}

/* An HTTP-date to seconds: 0, or -1 if it is not one. The IMF-fixdate
 * servers send, and the two obsolete formats a recipient must still accept
 * (RFC 9110 §5.6.7): rfc850-date and asctime's, both from older clients.
 * Every separator, digit and name is checked; nothing is normalised. */
static int parse_http_date(ducta_slice s, time_t *out)
{
    const char *p = s.ptr;
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (s.len == DUCTA_DATE_LEN) {
        if (memcmp(p + 3, ", ", 2) != 0 || p[7] != ' ' || p[11] != ' ' ||
            p[16] != ' ' || p[19] != ':' || p[22] != ':' ||
            memcmp(p + 25, " GMT", 4) != 0)
            return -1;
        return to_time(digits(p + 12, 4), month_at(p + 8), digits(p + 5, 2),
                       digits(p + 17, 2), digits(p + 20, 2), digits(p + 23, 2),
                       weekday_at(p, 3), out);
    }
    /* "Sun Nov  6 08:49:37 1994" */
    static const char asctime_example[] = "Sun Nov  6 08:49:37 1994";
    if (s.len == sizeof asctime_example - 1) {
        if (p[3] != ' ' || p[7] != ' ' || p[10] != ' ' || p[13] != ':' ||
            p[16] != ':' || p[19] != ' ')
            return -1;
        int day = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);
        return to_time(digits(p + 20, 4), month_at(p + 4), day,
                       digits(p + 11, 2), digits(p + 14, 2), digits(p + 17, 2),
                       weekday_at(p, 3), out);
    }
    /* "Sunday, 06-Nov-94 08:49:37 GMT": what follows the day name */
    static const char rfc850_rest[] = ", 06-Nov-94 08:49:37 GMT";
    const size_t rest = sizeof rfc850_rest - 1;
    if (s.len < rest + sizeof "Monday" - 1)  /* the shortest day name */
        return -1;
    const char *q = p + s.len - rest;
    if (memcmp(q, ", ", 2) != 0 || q[4] != '-' || q[8] != '-' ||
        q[11] != ' ' || q[14] != ':' || q[17] != ':' ||
        memcmp(q + 20, " GMT", 4) != 0)
        return -1;
    int yy = digits(q + 9, 2);
    if (yy < 0)
        return -1;
    /* A two-digit year more than 50 years ahead is the most recent past
     * year with those digits (RFC 9110 §5.6.7). */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int this_year = tm.tm_year + 1900;
    int year = this_year - this_year % 100 + yy;
    if (year > this_year + 50)
        year -= 100;
    return to_time(year, month_at(q + 5), digits(q + 2, 2), digits(q + 12, 2),
                   digits(q + 15, 2), digits(q + 18, 2),
                   weekday_at(p, s.len - rest), out);
}

/* ---- the response, step by step ----------------------------------------- */

/* The bytes left in res->scratch. A handler may have set scratch_used to
 * anything before calling us: a value past the end leaves no room, it is
 * never used to compute an address. */
static size_t scratch_room(const struct ducta_response *res)
{
    return res->scratch_used < DUCTA_RESPONSE_SCRATCH
               ? DUCTA_RESPONSE_SCRATCH - res->scratch_used
               : 0;
}

/* n bytes of res->scratch for a formatted value; NULL if there is no room
 * (the response becomes a 500). */
static char *scratch(struct ducta_response *res, size_t n)
{
    if (scratch_room(res) < n)
        return NULL;
    char *p = res->scratch + res->scratch_used;
    res->scratch_used += n;
    return p;
}

static int slice_eq(ducta_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Does an If-None-Match list name our entity-tag? Weak comparison (RFC 9110
 * §13.1.2): a W/ prefix on either side is ignored. */
static int etag_listed(ducta_slice list, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = list.ptr, *end = list.ptr + list.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p < end && *p == '*')
            return 1;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *q = p;
        if (q < end && *q == '"') {
            q++;
            while (q < end && *q != '"')
                q++;
            if (q < end)
                q++;
        }
        if ((size_t)(q - p) == elen && memcmp(p, etag, elen) == 0)
            return 1;
        while (q < end && *q != ',')
            q++;
        p = q;
    }
    return 0;
}

/* Parse "bytes=first-last" (RFC 9110 §14.1.2) against a body of size
 * bytes. 1: a satisfiable range in [*from, *to]; 0: answer 416; -1: ignore
 * the header (several ranges, another unit, bad syntax), answer 200. */
static int parse_range(ducta_slice r, uint64_t size, uint64_t *from,
                       uint64_t *to)
{
    static const char unit[] = "bytes=";
    const size_t ulen = sizeof unit - 1;
    if (r.len <= ulen || strncasecmp(r.ptr, unit, ulen) != 0)
        return -1;
    const char *p = r.ptr + ulen, *end = r.ptr + r.len;
    uint64_t a = 0, b = 0;
    int have_a = 0, have_b = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, have_a = 1) {
        if (a > (UINT64_MAX - 9) / 10)
            return -1;
        a = a * 10 + (uint64_t)(*p - '0');
    }
    if (p == end || *p++ != '-')
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++, have_b = 1) {
        if (b > (UINT64_MAX - 9) / 10)
            return -1;
        b = b * 10 + (uint64_t)(*p - '0');
    }
    if (p != end || (!have_a && !have_b))
        return -1;  /* a comma (several ranges) or junk: serve it all */
    if (!have_a) {  /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return 0;
        *from = b >= size ? 0 : size - b;
        *to = size - 1;
        return 1;
    }
    if (have_b && b < a)
        return -1;
    if (a >= size)
        return 0;
    *from = a;
    *to = have_b && b < size - 1 ? b : size - 1;
    return 1;
}

/* What the steps below pass along: the request's file. */
struct file {
    const struct ducta_files *fs;  /* the server's root */
    int fd;                      /* -1 until open */
    struct stat st;
    char rel[FILES_PATH_MAX];    /* decoded, relative to the root */
    size_t len;
    const char *etag, *lastmod;  /* in res->scratch */
};

/* The status for an open (or a stat) that failed with err. Only "there is
 * no such file" is a 404: that answer is cacheable (RFC 9111 §4.2.2), so a
 * cache in front would keep it for a real file that we failed to open for
 * lack of descriptors or memory — that is a 503, worth retrying. */
static int open_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:         /* a symlink loop, or (fallback walk) a symlink */
    case EXDEV:         /* out of the root (RESOLVE_BENEATH) */
    case ENAMETOOLONG:  /* a component longer than NAME_MAX */
    case ENXIO:         /* a socket, a device without a driver */
    case ENODEV:
        return 404;
    case EACCES:
    case EPERM:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        return 500;
    }
}

/* Open f->rel beneath the root and stat it. 0, or the status. */
static int open_file(struct file *f)
{
    if ((f->fd = open_beneath(f->fs, f->rel)) < 0)
        return open_status(errno);
    if (fstat(f->fd, &f->st) != 0) {
        int status = open_status(errno);
        close(f->fd);
        f->fd = -1;
        return status;
    }
    return 0;
}

/* Is every directory between the root and the file searchable by anyone
 * (S_IXOTH)? A file is published only if its directories are too: a
 * world-readable file in a private directory stays private, also when the
 * server runs as root and the kernel would let it through. It costs one
 * fstatat per directory of the path, none for a file in the root itself.
 * (It looks the names up again after openat2 opened the file: whoever can
 * rename directories under the root in between can publish those files
 * anyway.) 0, or the status. */
static int dirs_public(struct file *f)
{
    for (char *p = f->rel; (p = strchr(p, '/')) != NULL; p++) {
        struct stat st;
        *p = 0;
        int r = fstatat(f->fs->root_fd, f->rel, &st, 0);
        *p = '/';
        if (r != 0)
            return open_status(errno);
        if (!(st.st_mode & S_IXOTH))
            return 403;
    }
    return 0;
}

/* Step 1: from the request's path to an open regular file (f->fd) that may
 * be published. 0; 301 for a directory named without its final slash; or
 * the status of the failure (f->fd is then closed). */
static int resolve(const char *path, size_t len, struct file *f)
{
    f->fd = -1;
    ssize_t n = decode_path(path, len, f->fs->dotfiles, f->rel);
    if (n < 0)
        return (int)-n;
    f->len = (size_t)n;
    int status = open_file(f);
    if (status)
        return status;
    if (S_ISDIR(f->st.st_mode)) {
        close(f->fd);
        f->fd = -1;
        if (n > 0 && f->rel[n - 1] != '/')
            return 301;
        memcpy(f->rel + n, "index.html", FILES_INDEX_LEN + 1);
        f->len += FILES_INDEX_LEN;
        if ((status = open_file(f)) != 0)
            return status;
    }
    if (!S_ISREG(f->st.st_mode))
        status = 404;  /* devices, FIFOs, sockets are not documents */
    else if (!(f->st.st_mode & S_IROTH))
        /* Only files anyone may read are published: a private file
         * dropped into the root (a key, a 0600 config) stays private,
         * even when the server runs as root. */
        status = 403;
    else
        status = dirs_public(f);
    if (status) {
        close(f->fd);
        f->fd = -1;
    }
    return status;
}

static int method_is(ducta_slice m, const char *lit)
{
    return slice_eq(m, lit);
}

/* Step 2: what the method asks of a resource that exists (RFC 9110 §9).
 * GET and HEAD read it: 0, go on. OPTIONS asks what it allows: 204. Any
 * other method would change it, which a file server does not do: 405.
 * Both say so in Allow. */
static int method_step(const struct ducta_request *req,
                       struct ducta_response *res)
{
    if (method_is(req->method, "GET") || method_is(req->method, "HEAD"))
        return 0;
    if (ducta_response_header(res, "Allow", files_allow) != 0)
        return 500;
    return method_is(req->method, "OPTIONS") ? 204 : 405;
}

/* Does c stand for itself in a path (RFC 3986 §3.3: pchar, and the '/'
 * between segments), or in a query as sent (§3.4: those, '?', and the '%'
 * of escapes already made)? */
static int uri_char(unsigned char c, int query)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("-._~!$&'()*+,;=:@/", c)) ||
           (query && (c == '?' || c == '%'));
}

/* Percent-encode s[0..n) into out, or only count the bytes when out is
 * NULL. Returns the length. */
static size_t uri_encode(char *out, const char *s, size_t n, int query)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (uri_char(c, query)) {
            if (out)
                out[len] = (char)c;
            len++;
        } else {
            if (out) {
                out[len] = '%';
                out[len + 1] = hex[c >> 4];
                out[len + 2] = hex[c & 15];
            }
            len += 3;
        }
    }
    return len;
}

/* "/docs" names a directory: send the browser to "/docs/" so the relative
 * links of its index.html resolve under it. Location is built from the
 * decoded, normalised path, percent-encoded again: it starts with exactly
 * one '/' (never "//host", a scheme-relative URL, nor a scheme), and holds
 * nothing a browser would read as a query or a fragment. The query goes
 * along, with what may not stand in one encoded. 301, or 500 when res has
 * no room. */
static int redirect(const struct ducta_request *req,
                    struct ducta_response *res, const struct file *f)
{
    size_t path = uri_encode(NULL, f->rel, f->len, 0);
    size_t query = req->query.len
                       ? uri_encode(NULL, req->query.ptr, req->query.len, 1)
                       : 0;
    /* "/" path "/" ["?" query] NUL */
    char *loc = scratch(res, 1 + path + 1 + (query ? 1 + query : 0) + 1);
    if (!loc || ducta_response_header(res, "Location", loc) != 0)
        return 500;
    char *p = loc;
    *p++ = '/';
    p += uri_encode(p, f->rel, f->len, 0);
    *p++ = '/';
    if (query) {
        *p++ = '?';
        p += uri_encode(p, req->query.ptr, req->query.len, 1);
    }
    *p = 0;
    return 301;
}

/* Step 3: the validators (RFC 9110 §8.8: the ETag changes with size or
 * mtime) and the type. 0, or 500 when res has no room for them. */
static int validators(struct ducta_response *res, struct file *f)
{
    enum { ETAG_MAX = 40 };  /* two 64-bit hex numbers, quotes, '-' */
    char *etag = scratch(res, ETAG_MAX);
    char *lastmod = scratch(res, DUCTA_DATE_LEN + 1);
    if (!etag || !lastmod)
        return 500;
    uint64_t mtime_ns = (uint64_t)f->st.st_mtim.tv_sec * 1000000000u +
                        (uint64_t)f->st.st_mtim.tv_nsec;
    snprintf(etag, ETAG_MAX, "\"%llx-%llx\"",
             (unsigned long long)f->st.st_size, (unsigned long long)mtime_ns);
    http_date(f->st.st_mtim.tv_sec, lastmod);
    if (ducta_response_header(res, "Last-Modified", lastmod) != 0 ||
        ducta_response_header(res, "ETag", etag) != 0 ||
        ducta_response_header(res, "Accept-Ranges", "bytes") != 0)
        return 500;
    f->etag = etag;
    f->lastmod = lastmod;
    const char *dot = strrchr(f->rel, '.'), *slash = strrchr(f->rel, '/');
    res->content_type = dot && (!slash || dot > slash)
                            ? ducta_mime_type(dot + 1, strlen(dot + 1))
                            : unknown_type;
    return 0;
}

/* Step 4: conditions, in RFC 9110 §13.2.2's order: If-None-Match
 * overrides If-Modified-Since, whose date is ignored unless it is a valid
 * HTTP-date (§13.1.3). 304 when the client's copy is current, else 0. */
static int conditions(const struct ducta_request *req, const struct file *f)
{
    const ducta_slice *inm = ducta_header_get(req, "If-None-Match");
    if (inm)
        return etag_listed(*inm, f->etag) ? 304 : 0;
    const ducta_slice *ims = ducta_header_get(req, "If-Modified-Since");
    time_t since;
    if (ims && parse_http_date(*ims, &since) == 0 &&
        f->st.st_mtim.tv_sec <= since)
        return 304;
    return 0;
}

/* If-Range (RFC 9110 §13.1.5): is the representation the one the client
 * has part of? An entity-tag must be our strong one. A date must be our
 * Last-Modified exactly, and a strong validator (§8.8.2.2): the file must
 * be at least a second older than this response's Date, or a second change
 * within that second would carry the same date and the range would splice
 * two versions. */
static int if_range_holds(ducta_slice v, const struct file *f)
{
    if ((v.len && v.ptr[0] == '"') ||
        (v.len > 1 && v.ptr[0] == 'W' && v.ptr[1] == '/'))
        return slice_eq(v, f->etag);  /* a weak one never matches */
    return slice_eq(v, f->lastmod) && time(NULL) > f->st.st_mtim.tv_sec;
}

/* Step 5: the body, whole or the range asked for: 200, 206 or 416, or 500
 * when res has no room for Content-Range. Only GET has ranges (§14.2). */
static int body_range(const struct ducta_request *req,
                      struct ducta_response *res, const struct file *f,
                      uint64_t *from, uint64_t *to)
{
    enum { CONTENT_RANGE_MAX = 64 };  /* "bytes " and three 20-digit numbers */
    uint64_t size = (uint64_t)f->st.st_size;
    *from = 0;
    *to = size ? size - 1 : 0;
    const ducta_slice *range = ducta_header_get(req, "Range");
    const ducta_slice *if_range = ducta_header_get(req, "If-Range");
    if (!range || !method_is(req->method, "GET") ||
        (if_range && !if_range_holds(*if_range, f)))
        return 200;
    int partial = parse_range(*range, size, from, to);
    if (partial < 0)
        return 200;
    char *cr = scratch(res, CONTENT_RANGE_MAX);
    if (!cr)
        return 500;
    if (partial == 0)
        snprintf(cr, CONTENT_RANGE_MAX, "bytes */%llu",
                 (unsigned long long)size);
    else
        snprintf(cr, CONTENT_RANGE_MAX, "bytes %llu-%llu/%llu",
                 (unsigned long long)*from, (unsigned long long)*to,
                 (unsigned long long)size);
    if (ducta_response_header(res, "Content-Range", cr) != 0)
        return 500;
    return partial ? 206 : 416;
}

/* The text body of a status answered without a file. */
static const char *status_body(int status)
{
    switch (status) {
    case 400: return "Bad Request\n";
    case 403: return "Forbidden\n";
    case 404: return "Not Found\n";
    case 405: return "Method Not Allowed\n";
    case 414: return "URI Too Long\n";
    case 416: return "Range Not Satisfiable\n";
    case 503: return "Service Unavailable\n";
    default: return "Internal Server Error\n";
    }
}

int ducta_response_file(const struct ducta_request *req,
                        struct ducta_response *res, const char *path,
                        size_t len)
{
    const struct ducta_files *fs = req->files;
    if (!fs || fs->root_fd < 0)
        return -1;
    /* A descriptor already in res is ours to close (a handler calling us
     * twice): the answer below replaces it. */
    if (res->file_fd >= 0)
        close(res->file_fd);
    res->file_fd = -1;
    res->source = DUCTA_BODY_MEMORY;
    /* What the handler had added, so that a failure answers without the
     * fields of the half-built response. */
    size_t nheaders = res->nheaders, scratch_used = res->scratch_used;

    struct file f;  /* not zeroed: rel alone is PATH_MAX bytes */
    f.fs = fs;
    uint64_t from = 0, to = 0;
    int status = resolve(path, len, &f);
    if (status == 0 || status == 301) {
        int m = method_step(req, res);
        status = m ? m : status;
    }
    if (status == 301)
        status = redirect(req, res, &f);
    if (status == 0)
        status = validators(res, &f);
    if (status == 0)
        status = conditions(req, &f);
    if (status == 0)
        status = body_range(req, res, &f, &from, &to);
    if (status == 200 || status == 206) {
        res->status = status;
        res->source = DUCTA_BODY_FILE;
        res->file_fd = f.fd;
        res->file_offset = from;
        res->body_len = f.st.st_size ? (size_t)(to - from + 1) : 0;
        return 0;
    }
    if (f.fd >= 0)
        close(f.fd);
    res->status = status;
    if (status == 204 || status == 301 || status == 304) {
        res->content_type = NULL;
        res->body = "";
        res->body_len = 0;
        return 0;
    }
    if (status != 405 && status != 416) {
        /* 405 keeps its Allow, 416 its Content-Range (§15.5.17) */
        res->nheaders = nheaders;
        res->scratch_used = scratch_used;
    }
    if (status == 503)
        ducta_response_header(res, "Retry-After", FILES_RETRY_AFTER);
    res->content_type = "text/plain";
    res->body = status_body(status);
    res->body_len = strlen(res->body);
    return 0;
}
