/*
 * handler.c — the handler's side of the API: what a handler calls to read
 * its request and build its response, and the check of what it built.
 *
 * Owns: the lookups a handler makes in its request (ducta_header_get,
 * ducta_param_get), the helpers that fill in a response without a handler
 * doing the bookkeeping by hand (ducta_response_header,
 * ducta_response_printf, ducta_response_json_string), and the rules a
 * struct ducta_response must follow before ducta sends it
 * (ducta_response_check, listed above the struct in ducta.h).
 *
 * Does not own: ducta_response_file (files.c, a handler of its own),
 * turning a checked response into bytes, or the size of the write buffer
 * (conn.c).
 *
 * Why check at all: a handler is the embedder's code, and the response
 * header is built from its strings. A CR or LF in a value would let it write
 * a second response into ours; a length past the end of a file would
 * promise bytes never sent and misframe every later response on the
 * connection. Each rule here turns such a mistake into a clean 500.
 */
#define DUCTA_INTERNAL 1  /* one of the server's files: ducta.h Part 2 */
#include "ducta.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- reading the request ------------------------------------------------ */

/* Field names compare case-insensitively (RFC 9110 §5.1): a linear walk,
 * since a request has a few dozen fields at most. strncasecmp is ASCII
 * here (the process never calls setlocale), and a name, a token, holds no
 * NUL to stop it early. */
const ducta_slice *ducta_header_get(const struct ducta_request *req,
                                    const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const ducta_slice *hn = &req->headers[i].name;
        if (hn->len == n && strncasecmp(hn->ptr, name, n) == 0)
            return &req->headers[i].value;
    }
    return NULL;
}

const ducta_slice *ducta_param_get(const struct ducta_request *req,
                                   const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nparams; i++)
        if (req->params[i].name.len == n &&
            memcmp(req->params[i].name.ptr, name, n) == 0)
            return &req->params[i].value;
    return NULL;
}

/* ---- checking a response ------------------------------------------------ */

/* tchar (RFC 9110 §5.6.2) */
static int is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
           (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The length of the token at s (0 if none). */
static size_t token_len(const char *s)
{
    size_t n = 0;
    while (is_tchar((unsigned char)s[n]))
        n++;
    return n;
}

/* VCHAR or obs-text (RFC 9110 §5.5): what a field value is made of,
 * besides the spaces and tabs between its words. */
static int is_vchar(unsigned char ch)
{
    return ch > ' ' && ch != 0x7f;
}

/* field-value = *field-content: visible characters, with SP and HTAB only
 * between them (leading and trailing whitespace is not part of a value). */
static int value_ok(const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    if (*p == ' ' || *p == '\t')
        return 0;
    unsigned char last = 0;
    for (; *p; p++) {
        if (!is_vchar(*p) && *p != ' ' && *p != '\t')
            return 0;
        last = *p;
    }
    return last != ' ' && last != '\t';
}

/* The fields conn.c writes itself: a handler setting one would contradict
 * the framing or the connection handling. (Allow is not among them: the
 * router's 405 writes its own, but a handler answering OPTIONS or its own
 * 405 says what it allows.) */
static int field_reserved(const char *name)
{
    static const char *const own[] = {"Content-Length", "Transfer-Encoding",
                                      "Connection", "Content-Type", "Date",
                                      "Server"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcasecmp(name, own[i]) == 0)
            return 1;
    return 0;
}

static int field_ok(const char *name, const char *value)
{
    if (!name || !value)
        return 0;
    size_t n = token_len(name);
    return n > 0 && name[n] == '\0' && !field_reserved(name) &&
           value_ok(value);
}

/* quoted-string (RFC 9110 §5.6.4) at s: its length, or 0 if malformed. */
static size_t quoted_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (*p++ != '"')
        return 0;
    for (;;) {
        if (*p == '"')
            return (size_t)(p + 1 - (const unsigned char *)s);
        if (*p == '\\') {
            p++;
            if (!is_vchar(*p) && *p != ' ' && *p != '\t')
                return 0;
        } else if (!is_vchar(*p) && *p != ' ' && *p != '\t') {
            return 0;  /* a control character, or the end of the string */
        }
        p++;
    }
}

/* media-type = type "/" subtype parameters (RFC 9110 §8.3.1), where
 * parameters = *( OWS ";" OWS [ token "=" ( token / quoted-string ) ] ). */
static int media_type_ok(const char *s)
{
    size_t n = token_len(s);
    if (!n || s[n] != '/')
        return 0;
    s += n + 1;
    if (!(n = token_len(s)))
        return 0;
    s += n;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            return 1;
        if (*s++ != ';')
            return 0;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == ';')
            continue;  /* an empty parameter */
        if (!(n = token_len(s)) || s[n] != '=')
            return 0;
        s += n + 1;
        n = *s == '"' ? quoted_len(s) : token_len(s);
        if (!n)
            return 0;
        s += n;
    }
}

/* RFC 9110 §15.3.5, §15.3.6, §15.4.5: no content in these. */
static int status_forbids_content(int status)
{
    return status == 204 || status == 205 || status == 304;
}

/* A file body: a regular file that holds [file_offset, + body_len), with
 * no overflow in the sum. Checked against the descriptor itself, so that
 * the Content-Length we send is a promise sendfile can keep (a file that
 * shrinks afterwards still ends the connection: see conn.c). */
static int file_body_ok(const struct ducta_response *res)
{
    struct stat st;
    if (res->file_fd < 0 || fstat(res->file_fd, &st) != 0 ||
        !S_ISREG(st.st_mode) || st.st_size < 0)
        return 0;
    uint64_t size = (uint64_t)st.st_size;
    return res->file_offset <= size &&
           (uint64_t)res->body_len <= size - res->file_offset;
}

int ducta_response_check(const struct ducta_response *res)
{
    if (res->status < 200 || res->status > 599)
        return -1;
    if (res->nheaders > DUCTA_RESPONSE_HEADERS_CAP ||
        res->scratch_used > DUCTA_RESPONSE_SCRATCH)
        return -1;
    if (res->content_type && !media_type_ok(res->content_type))
        return -1;
    if (status_forbids_content(res->status) && res->body_len)
        return -1;
    switch (res->source) {
    case DUCTA_BODY_MEMORY:
        if (res->body_len && !res->body)
            return -1;
        break;
    case DUCTA_BODY_FILE:
        if (!file_body_ok(res))
            return -1;
        break;
    default:
        return -1;
    }
    for (size_t i = 0; i < res->nheaders; i++)
        if (!field_ok(res->headers[i].name, res->headers[i].value))
            return -1;
    return 0;
}

/* ---- building a response ------------------------------------------------ */

int ducta_response_header(struct ducta_response *res, const char *name,
                          const char *value)
{
    if (res->nheaders >= DUCTA_RESPONSE_HEADERS_CAP)
        return -1;
    res->headers[res->nheaders].name = name;
    res->headers[res->nheaders].value = value;
    res->nheaders++;
    return 0;
}

/* The unused part of scratch; NULL when a handler has set scratch_used
 * past the end (nothing is written then). */
static char *scratch_free(struct ducta_response *res, size_t *room)
{
    if (res->scratch_used >= DUCTA_RESPONSE_SCRATCH)
        return NULL;
    *room = DUCTA_RESPONSE_SCRATCH - res->scratch_used;
    return res->scratch + res->scratch_used;
}

const char *ducta_response_printf(struct ducta_response *res,
                                  const char *fmt, ...)
{
    size_t room;
    char *at = scratch_free(res, &room);
    if (!at)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        *at = '\0';  /* vsnprintf wrote a truncated copy: leave none */
        return NULL;
    }
    res->scratch_used += (size_t)n + 1;
    return at;
}

/* The length of the valid UTF-8 sequence at p[0..left) (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    unsigned char b = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  /* range of the second byte */
    if (b >= 0xc2 && b <= 0xdf)
        n = 2;
    else if (b >= 0xe0 && b <= 0xef)
        n = 3, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
    else if (b >= 0xf0 && b <= 0xf4)
        n = 4, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

const char *ducta_response_json_string(struct ducta_response *res,
                                       const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t room;
    char *at = scratch_free(res, &room);
    if (!at || (!s && len))
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    /* every step writes at most 6 bytes; keep room for '"' and NUL */
#define JSON_ROOM(n) \
    do { if (room - o < (size_t)(n) + 2) return NULL; } while (0)
    JSON_ROOM(1);
    at[o++] = '"';
    for (size_t i = 0; i < len;) {
        unsigned char ch = p[i];
        if (ch == '"' || ch == '\\') {
            JSON_ROOM(2);
            at[o++] = '\\';
            at[o++] = (char)ch;
            i++;
        } else if (ch < 0x20 || ch == 0x7f) {
            JSON_ROOM(6);
            memcpy(at + o, "\\u00", 4);
            at[o + 4] = hex[ch >> 4];
            at[o + 5] = hex[ch & 15];
            o += 6;
            i++;
        } else if (ch < 0x80) {
            JSON_ROOM(1);
            at[o++] = (char)ch;
            i++;
        } else {
            size_t n = utf8_len(p + i, len - i);
            if (n) {
                JSON_ROOM(n);
                memcpy(at + o, p + i, n);
                o += n;
                i += n;
            } else {
                JSON_ROOM(6);
                memcpy(at + o, "\\ufffd", 6);
                o += 6;
                i++;
            }
        }
    }
#undef JSON_ROOM
    at[o++] = '"';
    at[o++] = '\0';
    res->scratch_used += o;
    return at;
}
