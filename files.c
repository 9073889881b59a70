/*
 * files.c — the static files under --root: a handler like any other.
 *
 * Owns: answering a request with a file under the root directory
 * (ducta_response_file): from a request path to an open descriptor,
 * safely (containment, what is published); the validators (ETag,
 * Last-Modified); conditional and range requests (RFC 9110 §13, §14);
 * the MIME table (ducta_mime_type); and opening the root at start-up
 * (ducta_files_init). It fills in a struct ducta_response through the
 * public API of ducta.h, as any handler does.
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
 * One request goes through four steps, each with its own failures and the
 * status each one means:
 *   resolve     path → open regular file (400, 403, 404, 414, 301 for a
 *               directory named without its slash)
 *   validators  ETag, Last-Modified, type (500 when res has no room)
 *   conditions  If-None-Match, If-Modified-Since → 304
 *   range       Range, If-Range → 206 or 416, else 200
 */
#define _GNU_SOURCE  /* O_PATH, timegm */
#include "ducta.h"

#include <errno.h>
#include <fcntl.h>
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

/* ---- the root -------------------------------------------------------------- */

/* The longest decoded path we look up; longer is a 414 the parser's limits
 * normally make unreachable. */
enum { FILES_PATH_MAX = 4096, FILES_INDEX_LEN = 10 /* "index.html" */ };

static int root_fd = -1;
static int have_openat2;

int ducta_files_init(const char *root, char *err, size_t errlen)
{
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "--root %s: %s", root, strerror(errno));
        return -1;
    }
    if (root_fd >= 0)
        close(root_fd);
    root_fd = fd;
    /* Probe once; DUCTA_NO_OPENAT2 lets the tests exercise the fallback. */
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH};
    int probe = (int)syscall(SYS_openat2, root_fd, ".", &how, sizeof how);
    have_openat2 = probe >= 0 && !getenv("DUCTA_NO_OPENAT2");
    if (probe >= 0)
        close(probe);
    return 0;
}

/* Percent-decode a path into out (RFC 3986 §2.1) and drop its leading
 * slashes, so it is relative to the root. Returns the length, or -1 for a
 * bad escape, a NUL, a ".." segment or a path too long. */
static ssize_t decode_path(const char *in, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '%') {
            if (len - i < 3)
                return -1;
            int hi = in[i + 1], lo = in[i + 2];
#define HEXV(c) ((c) >= '0' && (c) <= '9' ? (c) - '0'                        \
                 : ((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'f'                 \
                     ? ((c) | 0x20) - 'a' + 10 : -1)
            hi = HEXV(hi), lo = HEXV(lo);
#undef HEXV
            if (hi < 0 || lo < 0)
                return -1;
            ch = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (ch == 0 || n == FILES_PATH_MAX - FILES_INDEX_LEN - 2)
            return -1;
        if (ch == '/' && n == 0)
            continue;  /* leading (and decoded) slashes: relative to root */
        out[n++] = (char)ch;
    }
    out[n] = 0;
    /* a ".." segment anywhere: refuse before the kernel has to */
    for (size_t s = 0; s < n;) {
        size_t e = s;
        while (e < n && out[e] != '/')
            e++;
        if (e - s == 2 && out[s] == '.' && out[s + 1] == '.')
            return -1;
        s = e + 1;
    }
    return (ssize_t)n;
}

/* Open path beneath the root. -1 with errno set on failure. */
static int open_beneath(const char *path)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (*path == 0)
        path = ".";
    if (have_openat2) {
        struct open_how how = {
            .flags = flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        do
            fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        while (fd < 0 && errno == EINTR);
        return fd;
    }
    /* The fallback: one component at a time, never following a symlink.
     * ".." cannot occur (decode_path refused it). */
    char comp[FILES_PATH_MAX];
    int dir = root_fd;
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
        if (dir != root_fd)
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

/* IMF-fixdate (RFC 9110 §5.6.7); strftime is in the C locale, because
 * the process never calls setlocale (as for the Date field, ducta.c). */
static void http_date(time_t t, char out[DUCTA_DATE_LEN + 1])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, DUCTA_DATE_LEN + 1, "%a, %d %b %Y %H:%M:%S GMT", &tm) !=
        DUCTA_DATE_LEN)
        memcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", DUCTA_DATE_LEN + 1);
}

/* An IMF-fixdate back to seconds; -1 if it is not one. (The two obsolete
 * formats of RFC 9110 §5.6.7 are not accepted: a date we cannot read makes
 * the condition be ignored, which is always safe — a full 200.) */
static time_t parse_http_date(ducta_slice s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char buf[DUCTA_DATE_LEN + 1];
    if (s.len != DUCTA_DATE_LEN)
        return -1;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = 0;
    struct tm tm = {0};
    char mon[4], gmt[4];
    int day, year, h, m, sec, used = 0;
    if (sscanf(buf + 5, "%2d %3s %4d %2d:%2d:%2d %3s%n", &day, mon, &year, &h,
               &m, &sec, gmt, &used) != 7 ||
        used != DUCTA_DATE_LEN - 5 || strcmp(gmt, "GMT") != 0)
        return -1;
    const char *mp = strstr(months, mon);
    if (!mp || (mp - months) % 3 != 0 || strlen(mon) != 3)
        return -1;
    tm.tm_mday = day, tm.tm_mon = (int)(mp - months) / 3;
    tm.tm_year = year - 1900, tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = sec;
    return timegm(&tm);
}

/* Room in res->scratch for a formatted value; NULL if it is full. */
static char *scratch(struct ducta_response *res, size_t n)
{
    if (DUCTA_RESPONSE_SCRATCH - res->scratch_used < n)
        return NULL;
    char *p = res->scratch + res->scratch_used;
    res->scratch_used += n;
    return p;
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

static int slice_eq(ducta_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
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

static const char range_416_body[] = "Range Not Satisfiable\n";
static const char forbidden_body[] = "Forbidden\n";
static const char missing_body[] = "Not Found\n";
static const char bad_path_body[] = "Bad Request\n";
static const char internal_body[] = "Internal Server Error\n";

/* A response with a short text body; always 0, ducta_response_file's
 * "res is filled in". */
static int fail(struct ducta_response *res, int status)
{
    const char *body = status == 400   ? bad_path_body
                       : status == 403 ? forbidden_body
                       : status == 404 ? missing_body
                       : status == 416 ? range_416_body
                                       : internal_body;
    res->status = status;
    res->content_type = "text/plain";
    res->body = body;
    res->body_len = strlen(body);
    res->source = DUCTA_BODY_MEMORY;
    return 0;
}

/* What the steps below pass along: the request's file. */
struct file {
    int fd;
    struct stat st;
    char rel[FILES_PATH_MAX];  /* decoded, relative to the root */
    size_t len;
    const char *etag, *lastmod;  /* in res->scratch */
};

/* The HTTP status for an open that failed with err. */
static int open_status(int err)
{
    return err == EACCES ? 403 : 404;
}

/* "/docs" names a directory: send the browser to "/docs/" so the relative
 * links of its index.html resolve under it. 301, or a failure status. */
static int redirect(struct ducta_response *res, const char *path, size_t len)
{
    char *loc = scratch(res, len + 2);
    if (!loc || ducta_response_header(res, "Location", loc) != 0)
        return 500;
    memcpy(loc, path, len);
    memcpy(loc + len, "/", 2);
    return 301;
}

/* Step 1: from the request's path to an open regular file (f->fd) that may
 * be published. 0, or the status to answer with (f->fd is then closed). */
static int resolve(struct ducta_response *res, const char *path, size_t len,
                   struct file *f)
{
    ssize_t n = decode_path(path, len, f->rel);
    if (n < 0)
        return 400;
    f->len = (size_t)n;
    if ((f->fd = open_beneath(f->rel)) < 0)
        return open_status(errno);
    if (fstat(f->fd, &f->st) != 0)
        goto failed;
    if (S_ISDIR(f->st.st_mode)) {
        close(f->fd);
        f->fd = -1;
        if (n > 0 && f->rel[n - 1] != '/')
            return redirect(res, path, len);
        memcpy(f->rel + n, "index.html", FILES_INDEX_LEN + 1);
        f->len += FILES_INDEX_LEN;
        if ((f->fd = open_beneath(f->rel)) < 0)
            return open_status(errno);
        if (fstat(f->fd, &f->st) != 0)
            goto failed;
    }
    if (!S_ISREG(f->st.st_mode)) {
        close(f->fd);  /* devices, FIFOs, sockets are not documents */
        return 404;
    }
    if (!(f->st.st_mode & S_IROTH)) {
        /* Only files anyone may read are published: a private file
         * dropped into the root (a key, a 0600 config) stays private,
         * even when the server runs as root. */
        close(f->fd);
        return 403;
    }
    return 0;
failed:
    close(f->fd);
    return 500;
}

/* Step 2: the validators (RFC 9110 §8.8: the ETag changes with size or
 * mtime) and the type. 0, or 500 when res has no room for them. */
static int validators(struct ducta_response *res, struct file *f)
{
    enum { ETAG_MAX = 40 };
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

/* Step 3: conditions, in RFC 9110 §13.2.2's order: If-None-Match
 * overrides If-Modified-Since; a match on GET or HEAD is a 304. 1 for
 * "not modified", else 0. */
static int not_modified(const struct ducta_request *req, const struct file *f)
{
    const ducta_slice *inm = ducta_header_get(req, "If-None-Match");
    if (inm)
        return etag_listed(*inm, f->etag);
    const ducta_slice *ims = ducta_header_get(req, "If-Modified-Since");
    time_t since;
    return ims && (since = parse_http_date(*ims)) != -1 &&
           f->st.st_mtim.tv_sec <= since;
}

/* Step 4: the body, whole or the range asked for: 200, 206 or 416, or 500
 * when res has no room for Content-Range. */
static int body_range(const struct ducta_request *req,
                      struct ducta_response *res, const struct file *f,
                      uint64_t *from, uint64_t *to)
{
    enum { CONTENT_RANGE_MAX = 64 };
    uint64_t size = (uint64_t)f->st.st_size;
    *from = 0;
    *to = size ? size - 1 : 0;
    int partial = -1;
    const ducta_slice *range = ducta_header_get(req, "Range");
    const ducta_slice *if_range = ducta_header_get(req, "If-Range");
    /* If-Range (§13.1.5): the range only if the representation is the one
     * the client has part of — same strong ETag, or exactly that date */
    if (range && (!if_range || slice_eq(*if_range, f->etag) ||
                  slice_eq(*if_range, f->lastmod)))
        partial = parse_range(*range, size, from, to);
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

int ducta_response_file(const struct ducta_request *req,
                        struct ducta_response *res, const char *path,
                        size_t len)
{
    if (root_fd < 0)
        return -1;
    struct file f;
    int status = resolve(res, path, len, &f);
    if (status == 301) {
        res->status = 301;
        res->content_type = NULL;
        res->body_len = 0;
        return 0;
    }
    if (status)
        return fail(res, status);
    if ((status = validators(res, &f)) != 0) {
        close(f.fd);
        return fail(res, status);
    }
    if (not_modified(req, &f)) {
        close(f.fd);
        res->status = 304;
        res->content_type = NULL;
        res->body_len = 0;
        return 0;
    }
    uint64_t from, to;
    status = body_range(req, res, &f, &from, &to);
    if (status != 200 && status != 206) {
        close(f.fd);
        return fail(res, status);
    }
    res->status = status;
    res->source = DUCTA_BODY_FILE;
    res->file_fd = f.fd;
    res->file_offset = from;
    res->body_len = f.st.st_size ? (size_t)(to - from + 1) : 0;
    return 0;
}
