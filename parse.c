/*
 * parse.c — the HTTP/1.1 request-head parser (RFC 9112 §2–§6).
 *
 * Owns: turning the bytes of one request head into slices (method, target,
 * version, header fields) and deciding how its body is framed, or rejecting
 * it with the status the RFC asks for. It never copies and never allocates:
 * every slice points into the caller's buffer.
 *
 * Does not own: reading from sockets, body bytes, or what a request means
 * (conn.c reads and frames; router.c and handlers give meaning).
 *
 * Choices a reader should know about:
 *  - Lines end with CRLF only. A bare LF is rejected (400) rather than
 *    accepted as a line end, because a proxy in front of us that reads it
 *    differently could smuggle a second request past us (RFC 9112 §2.2
 *    allows either choice; the strict one cannot desync).
 *  - obs-fold (a field line starting with SP/HTAB) is rejected (§5.2).
 *  - Transfer-Encoding is not decoded yet: it gets 501 (§6.1), or 400 on
 *    HTTP/1.0 (§6.1: a 1.0 message with it is faulty). Content-Length must
 *    be 1*DIGIT, appear once, and fit in 64 bits (§6.3).
 */
#include "ducta.h"

#include <string.h>

/* Byte classes. One table lookup per byte keeps the hot loops obvious. */
enum {
    C_TCHAR = 1,   /* token character (RFC 9110 §5.6.2) */
    C_VALUE = 2,   /* field-value byte: VCHAR, SP, HTAB, obs-text (§5.5) */
    C_TARGET = 4,  /* request-target byte: visible ASCII (RFC 3986) */
};

static unsigned char byte_class[256];

/* Built once, before main, so that the table is plain data afterwards and
 * the loops that read it have no first-use branch. */
__attribute__((constructor)) static void build_byte_class(void)
{
    static const char tchar_punct[] = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z') || (c && strchr(tchar_punct, c)))
            k |= C_TCHAR;
        if ((c >= 0x20 && c != 0x7f) || c == '\t')
            k |= C_VALUE;
        if (c > 0x20 && c < 0x7f)
            k |= C_TARGET;
        byte_class[c] = k;
    }
}

#define IS(c, cls) (byte_class[(unsigned char)(c)] & (cls))

/* Case-insensitive compare of a slice against a lower-case literal. */
static int slice_ieq(ducta_slice s, const char *lit, size_t n)
{
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s.ptr[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != lit[i])
            return 0;
    }
    return 1;
}
#define SLICE_IEQ(s, lit) slice_ieq((s), (lit), sizeof(lit) - 1)

const ducta_slice *ducta_header_get(const struct ducta_request *req,
                                    const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        if (req->headers[i].name.len != n)
            continue;
        /* the literal may have capitals; fold both sides */
        size_t k = 0;
        for (; k < n; k++) {
            char a = req->headers[i].name.ptr[k], b = name[k];
            if (a >= 'A' && a <= 'Z')
                a += 'a' - 'A';
            if (b >= 'A' && b <= 'Z')
                b += 'a' - 'A';
            if (a != b)
                break;
        }
        if (k == n)
            return &req->headers[i].value;
    }
    return NULL;
}

/* Does the comma-separated list (Connection's grammar, RFC 9110 §7.6.1)
 * contain the token? */
static int list_has(ducta_slice v, const char *tok, size_t n)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (slice_ieq((ducta_slice){s, (size_t)(e - s)}, tok, n))
            return 1;
    }
    return 0;
}

/* Content-Length = 1*DIGIT (RFC 9112 §6.3); overflow is an error, not a
 * wrap-around. */
static int parse_content_length(ducta_slice v, size_t *out)
{
    if (v.len == 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned char)v.ptr[i] - '0';
        if (d > 9 || n > (SIZE_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* Having found a complete, well-formed head: the rules that span fields. */
static ssize_t check_semantics(struct ducta_request *req, size_t head_len)
{
    int hosts = 0, lengths = 0, te = 0;
    const ducta_slice *conn = NULL;
    req->content_length = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const ducta_header *h = &req->headers[i];
        switch (h->name.len) {
        case 4:
            hosts += SLICE_IEQ(h->name, "host");
            break;
        case 10:
            if (SLICE_IEQ(h->name, "connection"))
                conn = &h->value;
            break;
        case 14:
            if (SLICE_IEQ(h->name, "content-length")) {
                /* a repeated Content-Length, equal or not, is how request
                 * smuggling starts: reject it (§6.3 item 5) */
                if (++lengths > 1 ||
                    parse_content_length(h->value, &req->content_length))
                    return -400;
            }
            break;
        case 17:
            te += SLICE_IEQ(h->name, "transfer-encoding");
            break;
        }
    }
    /* RFC 9112 §3.2: a 1.1 request without exactly one Host is a 400 */
    if (req->minor_version == 1 && hosts != 1)
        return -400;
    if (hosts > 1)
        return -400;
    if (te) {
        if (req->minor_version == 0 || lengths)
            return -400;  /* §6.1: faulty framing, never guess */
        return -501;      /* chunked decoding is not implemented yet */
    }
    if (req->minor_version == 1)
        req->keep_alive = !(conn && list_has(*conn, "close", 5));
    else
        req->keep_alive = conn && list_has(*conn, "keep-alive", 10);
    return (ssize_t)head_len;
}

/* A request that is not complete yet: is it already past a limit? */
static ssize_t incomplete(struct ducta_parser *ps, size_t len, int in_line)
{
    if (in_line && len > DUCTA_MAX_REQUEST_LINE)
        return -414;
    if (len >= DUCTA_MAX_HEAD)
        return -431;
    ps->scanned = len;
    return DUCTA_PARSE_INCOMPLETE;
}

/* Resumed call: a head can only have ended in the new bytes if they hold a
 * LF followed by CRLF or LF (the latter is then rejected by the full parse).
 * Start three bytes back so an end split across reads is seen. */
static int may_have_ended(const char *buf, size_t from, size_t len)
{
    const char *p = buf + from, *end = buf + len;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        if (++p >= end)
            return 0;
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
            return 1;
    }
    return 0;
}

ssize_t ducta_parse_request(struct ducta_parser *ps, const char *buf,
                            size_t len, struct ducta_request *req)
{
    if (ps->scanned) {
        size_t from = ps->scanned > 3 ? ps->scanned - 3 : 0;
        if (!may_have_ended(buf, from, len)) {
            const char *eol = memchr(buf, '\n', len);
            return incomplete(ps, len, eol == NULL);
        }
    }

    const char *p = buf, *end = buf + len;

    /* request-line = method SP request-target SP HTTP-version (§3) */
    const char *s = p;
    while (p < end && IS(*p, C_TCHAR))
        p++;
    if (p == end)
        return incomplete(ps, len, 1);
    if (*p != ' ' || p == s)
        return -400;
    req->method = (ducta_slice){s, (size_t)(p - s)};
    s = ++p;
    while (p < end && IS(*p, C_TARGET))
        p++;
    if (p == end)
        return incomplete(ps, len, 1);
    if (*p != ' ' || p == s)
        return -400;
    req->target = (ducta_slice){s, (size_t)(p - s)};
    const char *q = memchr(s, '?', (size_t)(p - s));
    req->path = (ducta_slice){s, (size_t)((q ? q : p) - s)};
    req->query = q ? (ducta_slice){q + 1, (size_t)(p - q - 1)}
                   : (ducta_slice){p, 0};
    p++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF */
    static const char proto[] = "HTTP/1.1\r\n";
    size_t have = (size_t)(end - p);
    if (have < sizeof(proto) - 1) {
        /* only wait for more if what came so far can still be valid */
        for (size_t i = 0; i < have; i++) {
            char want = proto[i];
            if ((i == 5 || i == 7) ? (p[i] < '0' || p[i] > '9')
                                    : p[i] != want)
                return -400;
        }
        return incomplete(ps, len, 1);
    }
    if (memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[8] != '\r' ||
        p[9] != '\n' || p[5] < '0' || p[5] > '9' || p[7] < '0' ||
        p[7] > '9')
        return -400;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return -505;
    req->minor_version = p[7] - '0';
    p += 10;
    if ((size_t)(p - buf) > DUCTA_MAX_REQUEST_LINE)
        return -414;

    /* field-line = field-name ":" OWS field-value OWS, CRLF (§5) */
    req->nheaders = 0;
    for (;;) {
        if (p == end)
            return incomplete(ps, len, 0);
        if (*p == '\r') {
            if (p + 1 == end)
                return incomplete(ps, len, 0);
            if (p[1] != '\n')
                return -400;
            p += 2;
            break;
        }
        s = p;
        while (p < end && IS(*p, C_TCHAR))
            p++;
        if (p == end)
            return incomplete(ps, len, 0);
        /* anything but ':' here — SP before the colon, a leading SP (obs-
         * fold), a bare LF, a control byte — is a 400 (§5.1, §5.2) */
        if (*p != ':' || p == s)
            return -400;
        ducta_slice name = {s, (size_t)(p - s)};
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        s = p;
        while (p < end && IS(*p, C_VALUE))
            p++;
        if (p + 1 >= end)
            return incomplete(ps, len, 0);
        if (p[0] != '\r' || p[1] != '\n')
            return -400;  /* bare CR, bare LF, NUL or another control */
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        p += 2;
        if (req->nheaders == DUCTA_MAX_HEADERS)
            return -431;
        req->headers[req->nheaders++] =
            (ducta_header){name, {s, (size_t)(e - s)}};
        if ((size_t)(p - buf) > DUCTA_MAX_HEAD)
            return -431;
    }
    if ((size_t)(p - buf) > DUCTA_MAX_HEAD)
        return -431;
    req->body = (ducta_slice){p, 0};
    return check_semantics(req, (size_t)(p - buf));
}
