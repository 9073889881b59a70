/*
 * parse.c — the HTTP/1.1 request parser (RFC 9112) and its SIMD scanner.
 *
 * Owns: turning the bytes of one request head into slices (method, target,
 * version, header fields), deciding how its body is framed, decoding a
 * chunked body in place, and rejecting anything else with the status the
 * RFC asks for. It never allocates, and the head is never copied: every
 * slice points into the caller's buffer.
 *
 * Does not own: sockets, buffers, or what a request means (conn.c reads and
 * frames; router.c and the handlers give meaning).
 *
 * How it is fast — two stages, like simdjson's:
 *   1. The classifier: 64-byte blocks in, bitmasks out (one bit per byte):
 *      which bytes are not token characters, which are LFs, which are
 *      control bytes. Only the first two are kept, folded into one mask of
 *      MARKS (the parser's word for a byte the walk must stop at; "event"
 *      is epoll's, in conn.c and ducta.c): each LF, and the first non-token
 *      byte after each line start (one addition finds them all: see
 *      note_block). The third is reduced to one position, the first byte
 *      no valid header line can hold. It classifies a run of blocks per
 *      call, up to the end of the head. Only the classifier differs
 *      between the SSE4.2 and AVX2 levels; the scalar level finds the same
 *      marks line by line instead (scalar_block: eight bytes a step over
 *      values), keeping the same carries between blocks. The walk is the
 *      same for all three, and test_differential.c, the fuzzer and the
 *      corpus digests (test_parse.c) check that they agree.
 *   2. The grammar walk below: a field line is two marks, its name's end
 *      and its LF, each a count of trailing zeros; neither waits for a scan
 *      from the start of the line. A line before that first bad byte, with
 *      a CR before its LF, needs no check of its value at all, and a leaf
 *      loop (clean_fields) takes such lines with its state in registers. A
 *      100-byte header value costs no byte comparisons, and the walk has
 *      no SIMD in it. Numbers: docs/BENCHMARKS.md, "Parser".
 *
 * Strictness — choices a reader should know about (RFC 9112 sections):
 *  - Lines end with CRLF only. A bare LF is rejected (400) rather than
 *    accepted as a line end (§2.2 allows either): a proxy in front of us
 *    that reads it the other way could otherwise smuggle a request past us.
 *    A bare CR anywhere is a 400 (§2.2).
 *  - obs-fold is rejected (§5.2); so is whitespace before the colon (§5.1).
 *  - Framing (§6): Transfer-Encoding wins nothing — with Content-Length it
 *    is a 400, on HTTP/1.0 it is a 400, chunked not last is a 400, any other
 *    coding a 501. Content-Length is 1*DIGIT, once, without overflow.
 *  - Field lines of one name are one list (RFC 9110 §5.3): a "close" in any
 *    Connection line closes (§9.6), every Expect member counts (417 for
 *    anything but 100-continue), Transfer-Encoding lines are read as one
 *    list; a second Host or Content-Length line is a 400 (§3.2, §6.3).
 *  - The request-target: see TARGET below for which bytes are refused raw.
 *  - HTTP/1.2 to HTTP/1.9 are read as HTTP/1.1 (RFC 9110 §2.5); another
 *    major version is a 505. A method longer than METHOD_MAX is a 501
 *    (§3), whatever follows it.
 *  - Chunk extensions are parsed to their grammar (§7.1.1), then dropped.
 */
#define DUCTA_INTERNAL 1  /* one of the server's files: ducta.h Part 2 */
#include "ducta.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DUCTA_X86 1
#endif

/* ---- stage 1: the classifier ------------------------------------------ */

enum {
    BLOCK = 64,   /* bytes per mask: one bit per byte */
    WINDOW = 32,  /* blocks classified per call, at most (2 KB of input) */
};

/* What the classifier says about each byte, as bitmasks, one bit per byte
 * of a 64-byte block. It computes three per block:
 *   not_tchar   the byte is not a token character (a name ends at one);
 *   lf          the byte is a LF (a line ends at one);
 *   ctl         the byte is a control no field value holds: below 0x20 but
 *               HTAB and LF (so CR is one: a CR is only allowed before a
 *               LF), or DEL;
 * and keeps one, the MARKS of the block: its LFs, and the first non-tchar
 * byte at or after the start of each line (after each LF, and at offset 0).
 * For a valid head that is, in order, the method's end (its SP), the
 * request line's LF, then for each field line the end of its name (its
 * colon) and its LF. The walk reads them one after another with "clear the
 * lowest bit, count trailing zeros" (next_mark): neither a name's end nor
 * a line's end waits for a scan from the start of its line. (See
 * note_block for how one addition finds all the names' ends of a block.)
 *
 * The ctl mask is not kept, only reduced to a position, clean_end (see
 * struct scanner): the first byte that follows a control byte and is not a
 * LF. So a control (a bare CR included) is flagged one byte late, at the
 * byte after it, which is still in its line, and a CR followed by its LF is
 * not flagged at all. Neither is a LF, nor a control right before a LF
 * ("\x01\n", or a bare "\n"): the walk checks the byte before each LF for
 * the CR, which is one compare per line instead of a CR mask, a lane
 * permute and a byte shift per 32 bytes.
 *
 * And, one block at a time, only on the request line, two more:
 *   NOT_PATH    the byte ends the path of a request-target (or is refused);
 *   NOT_QUERY   the byte ends its query (or is refused); see TARGET. */

/* Byte classes, for the scalar level and the few scalar checks. */
enum {
    C_TCHAR = 1,   /* token character (RFC 9110 §5.6.2) */
    C_VALUE = 2,   /* field-value byte: VCHAR, SP, HTAB, obs-text (§5.5) */
    C_QUERY = 4,   /* a byte of a target's query taken raw: see TARGET */
    C_HOST = 8,    /* reg-name byte: unreserved, sub-delims, '%' (3986) */
    C_OWS = 16,    /* SP or HTAB */
    C_PATH = 32,   /* a byte of a target's path taken raw: see TARGET */
};

/* TARGET: which bytes a request-target may hold raw. RFC 3986 allows fewer
 * than the visible ASCII; what matters is what real clients send. A
 * browser (WHATWG URL) percent-encodes C0 controls, SP, '"', '#', '<' and
 * '>' everywhere, and in the path also '?', '`', '{' and '}'; it leaves '|'
 * and '^' raw, and turns '\' into '/'. So ducta refuses (400) what no
 * conforming client sends raw — '"', '<', '>', '\', and in the path '`',
 * '{' and '}' — and takes '|' and '^' anywhere, '`', '{' and '}' in the
 * query, because browsers send them so. ('#' never reaches a server: a
 * fragment is a 400, RFC 9112 §3.2.) */
static const char target_refused[] = "\"#<>\\";
static const char path_only_refused[] = "`{}";
static unsigned char byte_class[256];

/* Per byte, in one load: not a tchar, LF, ctl (see above; bit numbers
 * L_*). Only fill_begin reads it now, for the byte before a block. */
enum { L_NOT_TCHAR, L_LF, L_CTL };
static unsigned char line_class[256];

/* tchar as two 16-entry tables, for PSHUFB: a byte c is a tchar iff
 * tchar_lo[c & 15] & tchar_hi[c >> 4] is not zero: tchar_lo[l] has bit h
 * set if the byte 0xhl is a tchar, and tchar_hi[h] = 1 << h for h < 8,
 * 0 above, so bytes >= 0x80 are never tchars. (PSHUFB reads only the low
 * four bits of an index and gives 0 for an index with its top bit set, so
 * the low nibble needs no mask: for bytes >= 0x80 it gives 0, which is
 * the right answer for both lookups here.) */
static unsigned char tchar_lo[16], tchar_hi[16];

/* The same for ctl: bit 0: high nibble 0, low not 9 (HTAB) nor A (LF);
 * bit 1: high nibble 1; bit 2: 0x7F. Sharing the nibbles with the tchar
 * lookup makes this two shuffles and an AND, fewer than the compares
 * spelling it out. */
static unsigned char ctl_lo[16], ctl_hi[16];

/* And C_PATH, C_QUERY the same way, with tchar_hi as their high table. */
static unsigned char path_lo[16], query_lo[16];

/* Built before main, so the tables are plain data afterwards and the loops
 * that read them have no first-use branch. */
__attribute__((constructor)) static void build_tables(void)
{
    static const char tchar_punct[] = "!#$%&'*+-.^_`|~";
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z') || (c && strchr(tchar_punct, c)))
            k |= C_TCHAR;
        if ((c >= 0x20 && c != 0x7f) || c == '\t')
            k |= C_VALUE;
        if (c > 0x20 && c < 0x7f && !strchr(target_refused, c))
            k |= C_QUERY;
        if ((k & C_QUERY) && c != '?' && !strchr(path_only_refused, c))
            k |= C_PATH;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
            (c >= 'A' && c <= 'Z') || (c && strchr("-._~!$&'()*+,;=%", c)))
            k |= C_HOST;
        if (c == ' ' || c == '\t')
            k |= C_OWS;
        byte_class[c] = k;
        line_class[c] = (unsigned char)(!(k & C_TCHAR) << L_NOT_TCHAR |
                                        (c == '\n') << L_LF |
                                        (!(k & C_VALUE) && c != '\n')
                                            << L_CTL);
        if (k & C_TCHAR)
            tchar_lo[c & 15] |= (unsigned char)(1u << (c >> 4));
        if (k & C_PATH)
            path_lo[c & 15] |= (unsigned char)(1u << (c >> 4));
        if (k & C_QUERY)
            query_lo[c & 15] |= (unsigned char)(1u << (c >> 4));
    }
    for (int h = 0; h < 8; h++)
        tchar_hi[h] = (unsigned char)(1u << h);
    for (int l = 0; l < 16; l++)
        ctl_lo[l] = (unsigned char)((l != 9 && l != 10) | 2 | (l == 15) << 2);
    ctl_hi[0] = 1, ctl_hi[1] = 2, ctl_hi[7] = 4;
}

#define IS(c, cls) (byte_class[(unsigned char)(c)] & (cls))

/* The scanner: a cursor over buf[0..len) for the walk (stage 2). It holds
 * the marks of a window of consecutive blocks, classified in one call
 * when the walk first reaches a block outside it: one indirect call and
 * one tight loop (constants in registers) per up to WINDOW blocks, instead
 * of a call per block. A fill stops early after the block where the head
 * ends ("\n\r\n"), so pipelined requests behind a head are not classified
 * until their turn. Bytes past len read as NUL: not a tchar, not a target
 * byte, no LF; so a name or target that runs off the end ends at a
 * position >= len, which the caller reads as "incomplete".
 *
 * While filling, it also finds clean_end (see the list of masks above). A
 * header line whose LF comes before clean_end, with a CR before that LF,
 * therefore holds no control byte and no CR but that one: its value ends
 * at that CR, and the walk need not scan it (see ducta_parse_request). */
struct scanner {
    const char *buf;
    size_t len;
    size_t base, n;       /* the window holds blocks [base, base + n) */
    size_t clean_end;     /* the first byte flagged by ctl, or len */
    size_t carry_at;      /* name_carry below is for the block at this */
    uint64_t name_carry;  /* offset: see note_block */
    size_t target_block;  /* the one block NOT_PATH, NOT_QUERY are known */
    size_t target_from;   /* for, from this offset in it on (struct level) */
    uint64_t target_mask[2]; /* [0] NOT_QUERY, [1] NOT_PATH */
    uint64_t win[WINDOW + 1]; /* the MARKS of each block in the window,
                               * then a sentinel (see clean_fields) */
};

/* What a fill carries from block to block. It is copied out of the
 * scanner into a local for the fill's loop and back at the end: the masks
 * are stored through a uint64_t pointer, which the compiler must assume may
 * alias the scanner's size_t fields, so fields read in the loop would be
 * reloaded from memory after every store. */
struct fill {
    size_t clean_end;
    uint64_t not_ctl_carry; /* the byte before the block is not a ctl */
    uint64_t lf_carry;    /* LFs in the last two bytes before the block; at
                           * offset 0, a LF is made up just before it, so
                           * that a line starts there (see note_block) */
    uint64_t name_carry;  /* a name runs on into the block: see note_block */
};

/* The name carry into the block at `at` when the last fill did not end
 * right before it (which the walk, going forward block by block, never
 * asks for; kept so that a fill anywhere is right): a name runs into the
 * block if the tchar bytes just before it reach back to a line start. */
static uint64_t name_carry_at(const char *b, size_t at)
{
    size_t q = at;
    while (q > 0 && IS(b[q - 1], C_TCHAR))
        q--;
    return q < at && (q == 0 || b[q - 1] == '\n');
}

static inline struct fill fill_begin(const struct scanner *s, size_t at)
{
    const char *b = s->buf;
    return (struct fill){
        s->clean_end,
        at == 0 || !(line_class[(unsigned char)b[at - 1]] >> L_CTL & 1),
        (uint64_t)(at == 0 || b[at - 1] == '\n') << 1 |
            (uint64_t)(at > 1 && b[at - 2] == '\n'),
        at == s->carry_at ? s->name_carry : name_carry_at(b, at)};
}

static inline void fill_end(struct scanner *s, const struct fill *f,
                            size_t at)
{
    s->clean_end = f->clean_end;
    s->carry_at = at;
    s->name_carry = f->name_carry;
}

/* Bookkeeping after classifying the block at offset `at`, given its three
 * masks; shared by all levels, so they agree by construction.
 *
 * The block's MARKS go to *marks. A line starts after each LF (and at
 * offset 0); its name ends at the first non-tchar byte from there. All
 * those ends are found at once by an addition: in the mask of tchar bytes,
 * a line's name is a run of ones beginning at its start bit; adding the
 * start bit carries through the run and stops at the first zero above it,
 * the first non-tchar byte, which it sets. AND-ing with the non-tchar mask
 * keeps just those set bits. (Two starts never share a run: a run cannot
 * hold the LF between them.) A run that reaches bit 63 carries out, into
 * bit 0 of the next block: name_carry, which is why it is kept.
 *
 * The ctl mask, shifted one byte up and with the LFs taken out, is folded
 * into clean_end (a minimum, so classifying a block twice would do no
 * harm). And it says whether the head may end in this block (two LFs two
 * bytes apart: "\n\r\n"; whether the byte between is a CR is the walk's
 * business, this only decides where a fill may stop; the LF made up before
 * offset 0 can only make one stop early, which costs a call, not a
 * result). Bytes past len are ctls too (they read as NUL), but flagged at
 * offsets > len, so they never lower clean_end below len. */
static inline int note_block(struct fill *f, size_t at, uint64_t not_tchar,
                             uint64_t lf, uint64_t not_ctl, uint64_t *marks)
{
    /* the same as (ctl << 1 | carry) & ~lf, in fewer instructions from
     * the inverted mask the vector levels have */
    uint64_t bad = ~(not_ctl << 1 | f->not_ctl_carry | lf);
    if (bad && at + (size_t)__builtin_ctzll(bad) < f->clean_end)
        f->clean_end = at + (size_t)__builtin_ctzll(bad);
    f->not_ctl_carry = not_ctl >> 63;
    /* A carry in means bit 63 of the block before was a tchar, so no line
     * starts at bit 0: OR-ing it into the starts is adding it. */
    uint64_t starts = lf << 1 | f->lf_carry >> 1 | f->name_carry;
    uint64_t sum = ~not_tchar + starts;
    f->name_carry = sum < starts;  /* carried out of bit 63 */
    *marks = (sum & not_tchar) | lf;
    uint64_t lf_before2 = lf << 2 | f->lf_carry;
    f->lf_carry = lf >> 62;
    return (lf & lf_before2) != 0;
}

/* A level's classifier: the not_tchar, lf and (inverted) ctl masks of the
 * 64 bytes at b. */
typedef void classify_fn(const char *b, uint64_t *not_tchar, uint64_t *lf,
                         uint64_t *not_ctl);

/* The fill, the same for every level, inlined into each with its
 * classifier (so that the classifier is inlined too, and its constants
 * stay in vector registers across blocks): classify up to max blocks from
 * block index `block` of the buffer on (the last may be partial) into the
 * window, from slot block - s->base on, stopping after the block where the
 * head ends; return how many blocks it classified.
 *
 * No level reads past the caller's buffer. For the last, partial block it
 * classifies the last 64 bytes of the buffer instead, which end where the
 * buffer does, shifts the masks down to the block's offsets and makes the
 * bytes past len read as NULs (a NUL is in no class, which is what bytes
 * past len must read as): a shift and an OR per mask, where a copy into
 * zeroes cost a memcpy call and a 64-byte clear. Only a buffer shorter
 * than a block is still copied. That is done after the loop over the full
 * blocks, not in it, and in the same call: a small request is often two
 * full blocks and a partial one. */
typedef void target_fn(const char *b, size_t from, uint64_t *not_path,
                       uint64_t *not_query);

static inline __attribute__((always_inline)) size_t
fill_with(struct scanner *s, size_t block, size_t max, classify_fn *classify,
          target_fn *target)
{
    /* The target masks of block 0 (see struct level) with its marks, when
     * it is a full block: the request line starts every head there, so
     * the walk would ask for them next, through a second call. */
    if (block == 0 && s->len >= BLOCK) {
        target(s->buf, 0, &s->target_mask[1], &s->target_mask[0]);
        s->target_block = 0;
        s->target_from = 0;
    }
    struct fill f = fill_begin(s, block * BLOCK);
    uint64_t *win = s->win + (block - s->base);
    const char *src = s->buf + block * BLOCK;
    const size_t full = (s->len - block * BLOCK) / BLOCK;
    uint64_t not_tchar, lf, not_ctl;
    size_t i = 0;
    int end = 0;
    while (i < max && i < full && !end) {
        classify(src + i * BLOCK, &not_tchar, &lf, &not_ctl);
        end = note_block(&f, (block + i) * BLOCK, not_tchar, lf, not_ctl, &win[i]);
        i++;
    }
    if (!end && i < max) {
        size_t rem = s->len - (block + i) * BLOCK;  /* 0 < rem < BLOCK */
        if (s->len >= BLOCK) {
            /* the last 64 bytes of the buffer, their masks moved down to
             * the block's offsets and the bytes past len made NULs */
            classify(s->buf + s->len - BLOCK, &not_tchar, &lf, &not_ctl);
            size_t sh = BLOCK - rem;
            not_tchar = not_tchar >> sh | ~0ull << rem;
            lf >>= sh;
            not_ctl = not_ctl >> sh & ~(~0ull << rem);
        } else {
            char tail[BLOCK] = {0};
            memcpy(tail, src + i * BLOCK, rem);
            classify(tail, &not_tchar, &lf, &not_ctl);
        }
        note_block(&f, (block + i) * BLOCK, not_tchar, lf, not_ctl, &win[i]);
        i++;
    }
    fill_end(s, &f, (block + i) * BLOCK);
    return i;
}

/* Each level provides two functions:
 *   fill:   the MARKS of up to max blocks from `block` on, as fill_with
 *           describes (the vector levels are fill_with their classifier);
 *   target: NOT_PATH and NOT_QUERY for the 64 bytes at b, each right from
 *           bit `from` up to its first set bit at or after it (the walk
 *           reads no further: see target_end); a level may set every bit
 *           after that one, and leave those before `from` unspecified.
 * All levels give the same answers; only their speed differs. */
struct level {
    size_t (*fill)(struct scanner *s, size_t block, size_t max);
    void (*target)(const char *b, size_t from, uint64_t *not_path,
                   uint64_t *not_query);
};

/* ---- the scalar level: the same marks, found line by line ------------- */

/* Without vectors, classifying every byte three ways costs more than the
 * rest of the parse: a field value is most of a head, and all it needs is
 * where its line ends and whether a control byte is in it. So the scalar
 * fill walks each block the way the marks read: at a line start, byte by
 * byte over the name's tchars to its first non-tchar (a mark); then, eight
 * bytes at a time (SWAR), to the next byte below 0x20 or DEL: a LF is a
 * mark and starts a line, HTAB is a value byte, anything else is a control
 * whose next byte, unless it is a LF, is where the clean part ends (see
 * note_block). It keeps the carries of struct fill exactly as note_block
 * does, so a window it fills reads the same as a vector level's. */

/* The high bit of the FIRST (lowest) byte of x that is below 0x20 or is
 * DEL (0x7F), if there is one; bytes >= 0x80 are never flagged. Bytes
 * above the first may be flagged wrongly (a borrow runs on into them), so
 * only the lowest set bit means anything: the caller takes just that. A
 * byte is flagged by "x - 0x20 wraps" or "(x ^ 0x7F) - 1 wraps", with its
 * own top bit clear; without a borrow from below, each is exact. */
static inline uint64_t swar_low_or_del(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    return ((x - 0x20 * ones) | ((x ^ 0x7f * ones) - ones)) & ~x & high;
}

static inline void scalar_bad(struct fill *f, size_t pos)
{
    if (pos < f->clean_end)
        f->clean_end = pos;
}

/* The marks and LFs of b[0..lim) (lim < BLOCK: the buffer's last, partial
 * block, the bytes past it NULs) at offset `at`; f's carries in and out. */
static inline void scalar_block(const char *b, size_t lim, size_t at,
                                struct fill *f, uint64_t *marks_out,
                                uint64_t *lf_out)
{
    uint64_t marks = 0, lf = 0;
    size_t j = 0;
    int in_name = (int)(f->lf_carry >> 1 & 1) | (int)f->name_carry;
    int last_ctl = !f->not_ctl_carry;  /* the byte before b[0] */
    if (last_ctl && b[0] != '\n')
        scalar_bad(f, at);
    last_ctl = 0;
    for (;;) {
        if (in_name) {
            while (j < lim && IS(b[j], C_TCHAR))
                j++;
            if (j == lim)
                break;  /* a name runs on (or, lim < BLOCK, ends at a NUL) */
            marks |= 1ull << j;
            in_name = 0;
        }
        while (j + 8 <= lim) {
            uint64_t x;
            memcpy(&x, b + j, 8);
            uint64_t hit = swar_low_or_del(x);
            if (hit) {
                j += (size_t)__builtin_ctzll(hit) / 8;
                goto found;
            }
            j += 8;
        }
        while (j < lim && (unsigned char)b[j] >= 0x20 && b[j] != 0x7f)
            j++;
        if (j == lim)
            break;
    found:
        if (b[j] == '\r' && j + 1 < lim && b[j + 1] == '\n') {
            j++;  /* the common case: CRLF, the CR flags nothing */
            lf |= 1ull << j;
            marks |= 1ull << j;
            in_name = 1;
        } else if (b[j] == '\n') {
            lf |= 1ull << j;
            marks |= 1ull << j;
            in_name = 1;
        } else if (b[j] != '\t') {
            /* a control: its next byte is flagged unless it is a LF */
            if (j + 1 < lim) {
                if (b[j + 1] != '\n')
                    scalar_bad(f, at + j + 1);
            } else {
                last_ctl = 1;  /* that byte is in the next block */
            }
        }
        j++;
    }
    if (lim < BLOCK) {
        if (in_name)
            marks |= 1ull << lim;  /* the NUL past len ends the name */
        in_name = 0;
        last_ctl = 0;
    }
    f->name_carry = (uint64_t)in_name & ~(lf >> 63);
    f->not_ctl_carry = (uint64_t)!last_ctl;
    *marks_out = marks;
    *lf_out = lf;
}

static size_t scalar_fill(struct scanner *s, size_t block, size_t max)
{
    struct fill f = fill_begin(s, block * BLOCK);
    uint64_t *win = s->win + (block - s->base);
    size_t i = 0;
    int end = 0;
    while (i < max && !end) {
        size_t at = (block + i) * BLOCK;
        size_t lim = s->len - at < BLOCK ? s->len - at : BLOCK;
        uint64_t lf;
        scalar_block(s->buf + at, lim, at, &f, &win[i], &lf);
        /* the head may end in this block: as note_block decides it */
        uint64_t lf_before2 = lf << 2 | f.lf_carry;
        f.lf_carry = lf >> 62;
        end = (lf & lf_before2) != 0;
        i++;
    }
    fill_end(s, &f, (block + i) * BLOCK);
    return i;
}

static void scalar_target(const char *b, size_t from, uint64_t *not_path,
                          uint64_t *not_query)
{
    /* a C_PATH byte is a C_QUERY byte: the first NOT_PATH byte is at or
     * before the first NOT_QUERY one */
    size_t i = from;
    while (i + 4 <= BLOCK && IS(b[i], C_PATH) & IS(b[i + 1], C_PATH) &
                                 IS(b[i + 2], C_PATH) & IS(b[i + 3], C_PATH))
        i += 4;
    while (i < BLOCK && IS(b[i], C_PATH))
        i++;
    *not_path = i < BLOCK ? ~0ull << i : 0;
    while (i < BLOCK && IS(b[i], C_QUERY))
        i++;
    *not_query = i < BLOCK ? ~0ull << i : 0;
}

#ifdef DUCTA_X86
/* SSE has only signed byte compares. Read as signed, 0x80..0xFF are
 * negative, which is what makes "x > 0x20" mean "visible ASCII or DEL" in
 * one instruction. We avoid the SSE4.2 string instructions (PCMPISTRI):
 * compare-and-movemask is no slower here, and valgrind can decode it. */
#define SSE __attribute__((target("sse4.2")))
#define V16(p) _mm_loadu_si128((const __m128i *)(p))
#define SPLAT16(c) _mm_set1_epi8((char)(c))

#define SSE_BITS(v) ((uint64_t)(uint16_t)_mm_movemask_epi8(v))

/* NOT_PATH and NOT_QUERY of 16 bytes, or'ed in at bit `at`. */
SSE static inline void sse_target16(__m128i x, int at, uint64_t *not_path,
                                    uint64_t *not_query)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i hi = _mm_shuffle_epi8(
        V16(tchar_hi), _mm_and_si128(_mm_srli_epi16(x, 4), SPLAT16(0x0f)));
    __m128i path = _mm_and_si128(_mm_shuffle_epi8(V16(path_lo), x), hi);
    __m128i query = _mm_and_si128(_mm_shuffle_epi8(V16(query_lo), x), hi);
    *not_path |= SSE_BITS(_mm_cmpeq_epi8(path, zero)) << at;
    *not_query |= SSE_BITS(_mm_cmpeq_epi8(query, zero)) << at;
}

/* One 16-byte piece of a block: its not_tchar, lf and not-ctl bits, or'ed
 * into *tchar, *lf, *not_ctl at bit `at`. */
SSE static inline void sse_16(__m128i x, int at, uint64_t *tchar,
                              uint64_t *lf, uint64_t *not_ctl)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), SPLAT16(0x0f));
    __m128i is_tchar = _mm_and_si128(_mm_shuffle_epi8(V16(tchar_lo), x),
                                     _mm_shuffle_epi8(V16(tchar_hi), hi));
    __m128i is_ctl = _mm_and_si128(_mm_shuffle_epi8(V16(ctl_lo), x),
                                   _mm_shuffle_epi8(V16(ctl_hi), hi));
    *tchar |= SSE_BITS(_mm_cmpeq_epi8(is_tchar, zero)) << at;
    *lf |= SSE_BITS(_mm_cmpeq_epi8(x, SPLAT16('\n'))) << at;
    *not_ctl |= SSE_BITS(_mm_cmpeq_epi8(is_ctl, zero)) << at;
}
SSE static inline __attribute__((always_inline)) void
sse42_classify(const char *b, uint64_t *not_tchar, uint64_t *lf, uint64_t *not_ctl)
{
    uint64_t t = 0, l = 0, nc = 0;
    sse_16(V16(b), 0, &t, &l, &nc);
    sse_16(V16(b + 16), 16, &t, &l, &nc);
    sse_16(V16(b + 32), 32, &t, &l, &nc);
    sse_16(V16(b + 48), 48, &t, &l, &nc);
    *not_tchar = t, *lf = l, *not_ctl = nc;
}
SSE static void sse42_target(const char *b, size_t from, uint64_t *not_path,
                             uint64_t *not_query)
{
    (void)from;  /* a vector level has every bit at once */
    uint64_t p = 0, q = 0;
    for (int i = 0; i < BLOCK; i += 16)
        sse_target16(V16(b + i), i, &p, &q);
    *not_path = p, *not_query = q;
}
SSE static size_t sse42_fill(struct scanner *s, size_t block, size_t max)
{
    return fill_with(s, block, max, sse42_classify, sse42_target);
}

/* The same again, 32 bytes at a time. */
#define AVX __attribute__((target("avx2")))
#define V32(p) _mm256_loadu_si256((const __m256i *)(p))
#define SPLAT(c) _mm256_set1_epi8((char)(c))

#define AVX_BITS(v) ((uint64_t)(uint32_t)_mm256_movemask_epi8(v))
#define BCAST(t) _mm256_broadcastsi128_si256(V16(t))

AVX static inline void avx_target32(__m256i x, int at, uint64_t *not_path,
                                    uint64_t *not_query)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i hi = _mm256_shuffle_epi8(
        BCAST(tchar_hi), _mm256_and_si256(_mm256_srli_epi16(x, 4), SPLAT(0x0f)));
    __m256i path = _mm256_and_si256(_mm256_shuffle_epi8(BCAST(path_lo), x), hi);
    __m256i query = _mm256_and_si256(_mm256_shuffle_epi8(BCAST(query_lo), x), hi);
    *not_path |= AVX_BITS(_mm256_cmpeq_epi8(path, zero)) << at;
    *not_query |= AVX_BITS(_mm256_cmpeq_epi8(query, zero)) << at;
}

/* As sse_16, 32 bytes at a time (PSHUFB looks up within each 16-byte
 * lane, so the tables are broadcast to both lanes). */
AVX static inline void avx_32(__m256i x, int at, uint64_t *tchar,
                              uint64_t *lf, uint64_t *not_ctl)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), SPLAT(0x0f));
    __m256i is_tchar = _mm256_and_si256(
        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(V16(tchar_lo)), x),
        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(V16(tchar_hi)), hi));
    __m256i is_ctl = _mm256_and_si256(
        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(V16(ctl_lo)), x),
        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(V16(ctl_hi)), hi));
    *tchar |= AVX_BITS(_mm256_cmpeq_epi8(is_tchar, zero)) << at;
    *lf |= AVX_BITS(_mm256_cmpeq_epi8(x, SPLAT('\n'))) << at;
    *not_ctl |= AVX_BITS(_mm256_cmpeq_epi8(is_ctl, zero)) << at;
}
AVX static inline __attribute__((always_inline)) void
avx2_classify(const char *b, uint64_t *not_tchar, uint64_t *lf, uint64_t *not_ctl)
{
    uint64_t t = 0, l = 0, nc = 0;
    avx_32(V32(b), 0, &t, &l, &nc);
    avx_32(V32(b + 32), 32, &t, &l, &nc);
    *not_tchar = t, *lf = l, *not_ctl = nc;
}
AVX static void avx2_target(const char *b, size_t from, uint64_t *not_path,
                            uint64_t *not_query)
{
    (void)from;
    uint64_t p = 0, q = 0;
    avx_target32(V32(b), 0, &p, &q);
    avx_target32(V32(b + 32), 32, &p, &q);
    *not_path = p, *not_query = q;
}
AVX static size_t avx2_fill(struct scanner *s, size_t block, size_t max)
{
    return fill_with(s, block, max, avx2_classify, avx2_target);
}
#endif

static const struct level levels[] = {
    [DUCTA_SIMD_SCALAR] = {scalar_fill, scalar_target},
#ifdef DUCTA_X86
    [DUCTA_SIMD_SSE42] = {sse42_fill, sse42_target},
    [DUCTA_SIMD_AVX2] = {avx2_fill, avx2_target},
#endif
};
static const struct level *active = &levels[DUCTA_SIMD_SCALAR];
static enum ducta_simd simd_level = DUCTA_SIMD_SCALAR;

int ducta_simd_set(enum ducta_simd l)
{
    switch (l) {
    case DUCTA_SIMD_SCALAR:
        break;
#ifdef DUCTA_X86
    case DUCTA_SIMD_SSE42:
        if (!__builtin_cpu_supports("sse4.2"))
            return -1;
        break;
    case DUCTA_SIMD_AVX2:
        if (!__builtin_cpu_supports("avx2"))
            return -1;
        break;
#endif
    default:
        return -1;
    }
    active = &levels[l];
    simd_level = l;
    return 0;
}

enum ducta_simd ducta_simd_get(void)
{
    return simd_level;
}

const char *ducta_simd_name(enum ducta_simd level)
{
    static const char *const names[] = {"scalar", "sse42", "avx2"};
    return (unsigned)level < 3 ? names[level] : "?";
}

/* Chosen once, before main: the best level the CPU has, unless
 * DUCTA_SIMD=scalar|sse42|avx2 says otherwise (tests and benchmarks). */
__attribute__((constructor)) static void pick_simd_level(void)
{
    __builtin_cpu_init();
    const char *force = getenv("DUCTA_SIMD");
    for (int l = DUCTA_SIMD_AVX2; l >= DUCTA_SIMD_SCALAR; l--) {
        if (force && strcmp(force, ducta_simd_name((enum ducta_simd)l)))
            continue;
        if (ducta_simd_set((enum ducta_simd)l) == 0)
            return;
    }
}

/* ---- stage 2 helpers: scanning through the masks ---------------------- */

static void scanner_init(struct scanner *s, const char *buf, size_t len)
{
    s->buf = buf;
    s->len = len;
    s->base = s->n = 0;
    s->clean_end = len;
    s->carry_at = 0;
    s->name_carry = 0;
    s->target_block = SIZE_MAX;
}

/* Classify from `block` on (block * BLOCK < len), the last, partial block
 * included (see fill_with), up to WINDOW blocks or the head's end. */
static void refill(struct scanner *s, size_t block)
{
    size_t left = (s->len - block * BLOCK + BLOCK - 1) / BLOCK;
    s->base = block;
    s->n = active->fill(s, block, left < WINDOW ? left : WINDOW);
    s->win[s->n] = 3;  /* two marks just past the window */
}

/* The target masks of the buffer's last, partial block (as in fill_with:
 * bytes past len read as NULs). */
__attribute__((noinline)) static void
load_target_tail(struct scanner *s, size_t at, size_t from)
{
    size_t rem = s->len - at;
    if (s->len >= BLOCK) {
        uint64_t np, nq;
        size_t sh = BLOCK - rem;
        active->target(s->buf + s->len - BLOCK, from + sh, &np, &nq);
        s->target_mask[1] = np >> sh | ~0ull << rem;
        s->target_mask[0] = nq >> sh | ~0ull << rem;
        return;
    }
    char tail[BLOCK] = {0};
    memcpy(tail, s->buf + at, rem);
    active->target(tail, from, &s->target_mask[1], &s->target_mask[0]);
}

static inline void load_target(struct scanner *s, size_t block, size_t from)
{
    size_t at = block * BLOCK;
    s->target_block = block;
    s->target_from = from;
    if (at + BLOCK <= s->len)
        active->target(s->buf + at, from, &s->target_mask[1],
                       &s->target_mask[0]);
    else
        load_target_tail(s, at, from);
}

/* The MARKS of a block (block * BLOCK < len). */
static inline uint64_t marks_of(struct scanner *s, size_t block)
{
    size_t i = block - s->base;  /* wraps round if block < base */
    if (i >= s->n) {
        refill(s, block);
        i = 0;
    }
    return s->win[i];
}

/* The offset of the first byte at or after pos that ends a target's path
 * (in_path) or query, or a value >= len if there is none in the buffer. */
static inline size_t target_end(struct scanner *s, size_t pos, int in_path)
{
    while (pos < s->len) {
        size_t block = pos / BLOCK;
        if (block != s->target_block || pos % BLOCK < s->target_from)
            load_target(s, block, pos % BLOCK);
        uint64_t m = s->target_mask[in_path] >> (pos % BLOCK);
        if (m)
            return pos + (size_t)__builtin_ctzll(m);
        pos = (block + 1) * BLOCK;
    }
    return pos;
}

/* The mark iterator: the MARKS of the buffer in order. The next one is
 * "clear the lowest bit, count trailing zeros": it does not wait for the
 * previous line's name and value to be looked at, so the CPU can work on
 * several lines at once. It lives in the walk's own locals, not in the
 * scanner, so that it stays in registers (the scanner's address is passed
 * to refill, and the header slices the walk stores could, for all the
 * compiler knows, land in it). */
struct marks {
    size_t block;   /* the block it is in */
    uint64_t left;  /* that block's marks not yet handed out */
};

/* Start the iterator at pos, which must be a line start (0 or after a LF):
 * marks are only defined relative to line starts. */
static void marks_from(struct scanner *s, struct marks *mk, size_t pos)
{
    mk->block = pos / BLOCK;
    mk->left = pos < s->len
        ? marks_of(s, mk->block) & ~0ull << (pos % BLOCK) : 0;
}

/* The next mark not handed out yet, or len if none is left. */
static inline size_t next_mark(struct scanner *s, struct marks *mk)
{
    while (!mk->left) {
        if ((mk->block + 1) * BLOCK >= s->len)
            return s->len;
        mk->left = marks_of(s, ++mk->block);
    }
    size_t e = mk->block * BLOCK + (size_t)__builtin_ctzll(mk->left);
    mk->left &= mk->left - 1;
    return e;
}

/* The end of a field value found byte by byte: the walk needs it only for a
 * line that is wrong or not complete yet, which is not worth a mask. */
static size_t value_end(const char *buf, size_t pos, size_t len)
{
    while (pos < len && IS(buf[pos], C_VALUE))
        pos++;
    return pos;
}

/* ---- small helpers ----------------------------------------------------- */

static int lower_eq(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != lit[i])
            return 0;
    }
    return 1;
}

static int slice_ieq(ducta_slice s, const char *lit, size_t n)
{
    return s.len == n && lower_eq(s.ptr, lit, n);
}
#define SLICE_IEQ(s, lit) slice_ieq((s), (lit), sizeof(lit) - 1)

/* One step through a comma-separated list (RFC 9110 §5.6.1): from p,
 * skip separators and OWS, put the next element, trimmed, in *el (empty
 * at the end of the list), and return where the step stopped (at the ','
 * after it, or at end). */
static const char *list_next(const char *p, const char *end, ducta_slice *el)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
        p++;
    const char *s = p;
    while (p < end && *p != ',')
        p++;
    const char *e = p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *el = (ducta_slice){s, (size_t)(e - s)};
    return p;
}

/* Content-Length = 1*DIGIT (RFC 9112 §6.3); overflow is an error. */
static int parse_content_length(ducta_slice v, uint64_t *out)
{
    if (v.len == 0)
        return -1;
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned char)v.ptr[i] - '0';
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* Transfer-Encoding (RFC 9112 §6.1, §6.3 item 4): chunked must be present,
 * last, and once; any other coding we cannot decode: 501. Several fields
 * are one list (RFC 9110 §5.3), so this is called for each field in
 * order, and *chunked_seen carries "chunked seen" across them. */
static int transfer_coding(ducta_slice v, int *chunked_seen)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    ducta_slice el;
    int any = 0;
    while (p < end) {
        p = list_next(p, end, &el);
        if (el.len == 0)
            continue;
        any = 1;
        if (*chunked_seen)
            return -400;  /* something after chunked: length unknowable */
        if (SLICE_IEQ(el, "chunked"))
            *chunked_seen = 1;
        else
            return -501;  /* gzip, compress, deflate, …: not implemented */
    }
    return any ? 0 : -400;
}

/* Are the four bytes of x ASCII digits? x - '0' borrows, or x + 0x46
 * carries into a byte's top bit, at the lowest byte that is not a digit
 * (neither can come from a digit below it), and a byte >= 0x80 has its top
 * bit set already: so the result is zero exactly when all four are. */
static inline int digits4(uint32_t x)
{
    return ((x - 0x30303030u) | (x + 0x46464646u) | x) & 0x80808080u ? 0 : 1;
}
static inline uint32_t word4(const char *p);

/* Host = uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2): a
 * reg-name or IPv4 address, or an IP literal in brackets; port = *DIGIT.
 * Empty is allowed (a target without authority). No userinfo. Inlined:
 * every request has a Host to check. */
static inline __attribute__((always_inline)) int valid_host(ducta_slice v)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    if (p < end && *p == '[') {
        while (++p < end && *p != ']')
            if (!(IS(*p, C_TCHAR) || *p == ':'))
                return 0;  /* hex, ':', '.', IPvFuture's unreserved */
        if (p == end)
            return 0;
        p++;
    } else {
        while (end - p >= 8 && IS(p[0], C_HOST) & IS(p[1], C_HOST) &
                                   IS(p[2], C_HOST) & IS(p[3], C_HOST) &
                                   IS(p[4], C_HOST) & IS(p[5], C_HOST) &
                                   IS(p[6], C_HOST) & IS(p[7], C_HOST))
            p += 8;
        while (p < end && IS(*p, C_HOST))
            p++;
    }
    if (p < end && *p++ != ':')
        return 0;
    /* the port: four digits at a time; fewer than four one by one */
    if (end - p < 4) {
        for (; p < end; p++)
            if (*p < '0' || *p > '9')
                return 0;
        return 1;
    }
    for (; end - p > 4; p += 4)
        if (!digits4(word4(p)))
            return 0;
    return digits4(word4(end - 4));  /* the last four, overlapping */
}

/* Is this an absolute-form target (RFC 9112 §3.2.2)? If so, point path at
 * its path-abempty and query (q: its '?', or NULL). scheme = ALPHA *(
 * ALPHA / DIGIT / + - . ) */
static int absolute_form(struct ducta_request *req, const char *q)
{
    const char *p = req->target.ptr, *end = q ? q : p + req->target.len;
    if (p == end || !((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
        return 0;
    while (p < end && ((((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')) ||
                       (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
                       *p == '.'))
        p++;
    if (end - p < 3 || memcmp(p, "://", 3) != 0)
        return 0;
    p += 3;
    const char *auth = p;
    while (p < end && *p != '/')
        p++;
    if (p == auth)
        return -1;  /* no authority */
    req->authority = (ducta_slice){auth, (size_t)(p - auth)};
    /* userinfo ("user@host") in a target is an error (RFC 9110 §4.2.4) */
    if (!valid_host(req->authority))
        return -1;
    static const char root[] = "/";
    if (p == end)
        req->path = (ducta_slice){root, 1};  /* "http://h" means "/" */
    else
        req->path = (ducta_slice){p, (size_t)(end - p)};
    return 1;
}

/* ---- stage 2: the grammar walk ----------------------------------------- */

/* The fields that decide how a request is framed, as the walk meets them.
 * Looking at each name while the walk has it in hand saves a second pass
 * over the fields. Lines of one name are one list (RFC 9110 §5.3), so what
 * is kept of Connection and Expect is what any of their lines said, never
 * "the last one". */
struct framing {
    int hosts, lengths, te, chunked;
    uint8_t conn_close, conn_keep;        /* "close", "keep-alive" seen */
    uint8_t expect_continue, expect_other; /* "100-continue", another */
};

/* Is this field name the lower-case literal lit (of the same length)? Names
 * are tokens, so OR-ing each byte with 0x20 lower-cases letters and leaves
 * every other token byte unable to match a letter or '-': a compare takes
 * two or three word loads instead of a loop over bytes. */
static inline uint64_t word8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}
static inline uint32_t word4(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}
static inline int name_is(ducta_slice name, const char *lit, size_t n)
{
    const char *p = name.ptr;
    if (n < 8)  /* n >= 4 here: two overlapping 4-byte words */
        return ((word4(p) | 0x20202020u) == word4(lit)) &&
               ((word4(p + n - 4) | 0x20202020u) == word4(lit + n - 4));
    for (size_t i = 0; i + 8 < n; i += 8)
        if ((word8(p + i) | 0x2020202020202020ull) != word8(lit + i))
            return 0;
    return (word8(p + n - 8) | 0x2020202020202020ull) == word8(lit + n - 8);
}
#define NAME_IS(name, lit) name_is((name), (lit), sizeof(lit) - 1)

/* Can this name be one note_field looks at? One load and compare per
 * field instead of a jump table: most names a browser sends are not
 * framing fields, and several share a length with one (Accept, Expect;
 * User-Agent, Connection; Sec-Fetch-Mode, Content-Length). Reading four
 * bytes is safe even for a shorter name: its line holds ':' and CRLF. */
static inline int maybe_framing(ducta_slice name)
{
    static const char heads[18][4] = {
        [4] = {'h', 'o', 's', 't'},  [6] = {'e', 'x', 'p', 'e'},
        [10] = {'c', 'o', 'n', 'n'}, [14] = {'c', 'o', 'n', 't'},
        [17] = {'t', 'r', 'a', 'n'}};
    return name.len < 18 &&
           (word4(name.ptr) | 0x20202020u) == word4(heads[name.len]);
}

/* The members of one Connection line (RFC 9110 §7.6.1). */
static void connection_options(struct framing *f, ducta_slice v)
{
    /* the common value first: one word compare, not a list walk (the
     * OR-0x20 trick of name_is is exact for letters and '-' in any field
     * value, since a value never holds the CR it could match) */
    if (v.len == 10 && NAME_IS(v, "keep-alive")) {
        f->conn_keep = 1;
        return;
    }
    const char *p = v.ptr, *end = v.ptr + v.len;
    ducta_slice el;
    while (p < end) {
        p = list_next(p, end, &el);
        if (SLICE_IEQ(el, "close"))
            f->conn_close = 1;
        else if (SLICE_IEQ(el, "keep-alive"))
            f->conn_keep = 1;
    }
}

/* The members of one Expect line (RFC 9110 §10.1.1): 100-continue is the
 * only expectation there is; empty members are no expectation (§5.6.1). */
static void expectations(struct framing *f, ducta_slice v)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    ducta_slice el;
    while (p < end) {
        p = list_next(p, end, &el);
        if (SLICE_IEQ(el, "100-continue"))
            f->expect_continue = 1;
        else if (el.len)
            f->expect_other = 1;
    }
}

/* Out of line: it is rare, and its calls would otherwise crowd the walk's
 * registers. */
__attribute__((noinline)) static ssize_t note_field(struct framing *f,
                                                    struct ducta_request *req,
                                                    ducta_slice name,
                                                    ducta_slice value)
{
    int rc;
    /* tested in the order requests carry them, not by a jump on the
     * length: Host and Connection are on nearly every request */
    if (name.len == 4) {
        if (NAME_IS(name, "host")) {
            /* §3.2: exactly one Host, and a valid one */
            if (++f->hosts > 1 || !valid_host(value))
                return -400;
            if (!req->authority.len)
                req->authority = value;
        }
    } else if (name.len == 10) {
        if (NAME_IS(name, "connection"))
            connection_options(f, value);
    } else if (name.len == 14) {
        if (NAME_IS(name, "content-length")) {
            /* repeated, equal or not, is how smuggling starts (§6.3) */
            if (++f->lengths > 1 ||
                parse_content_length(value, &req->content_length))
                return -400;
        }
    } else if (name.len == 17) {
        if (NAME_IS(name, "transfer-encoding")) {
            f->te = 1;
            if ((rc = transfer_coding(value, &f->chunked)) != 0)
                return rc;
        }
    } else if (name.len == 6) {
        if (NAME_IS(name, "expect"))
            expectations(f, value);
    }
    return 0;
}

/* Having a complete, well-formed head: the rules that span fields. */
static ssize_t check_framing(const struct ducta_limits *lim,
                             struct ducta_request *req,
                             const struct framing *f, size_t head_len)
{
    /* §3.2: a 1.1 request carries exactly one Host */
    if (req->minor_version == 1 && f->hosts != 1)
        return -400;
    if (f->te) {
        /* §6.1: with Content-Length, or in a 1.0 message, the framing is
         * faulty; never pick one of the two readings */
        if (f->lengths || req->minor_version == 0 || !f->chunked)
            return -400;
        req->chunked = 1;
    } else if (req->content_length > lim->max_body) {
        return -413;
    }
    /* RFC 9110 §10.1.1: an expectation we cannot meet may be a 417; an
     * HTTP/1.0 client's 100-continue MUST be ignored */
    if (f->expect_other)
        return -417;
    req->expect_continue = f->expect_continue && req->minor_version == 1;
    /* RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only if asked; and
     * a "close" anywhere in the list wins (§9.6) */
    req->keep_alive = !f->conn_close &&
                      (req->minor_version == 1 || f->conn_keep);
    return (ssize_t)head_len;
}

/* The request-target's form decides what it may be (§3.2). q is its '?'
 * (the start of the query), or NULL; the walk has found it already, and
 * checked the bytes (TARGET), so no '#' is in it either. */
static ssize_t check_target(struct ducta_request *req, const char *q)
{
    const char *t = req->target.ptr, *end = t + req->target.len;
    req->query = q ? (ducta_slice){q + 1, (size_t)(end - q - 1)}
                   : (ducta_slice){end, 0};
    if (req->method.len == 7 && memcmp(req->method.ptr, "CONNECT", 7) == 0)
        return -501;  /* authority-form: we are not a tunnel */
    if (t[0] == '/') {  /* origin-form (§3.2.1) */
        req->path = (ducta_slice){t, (size_t)((q ? q : end) - t)};
        return 0;
    }
    if (req->target.len == 1 && t[0] == '*') {
        /* asterisk-form: OPTIONS only (§3.2.4) */
        if (req->method.len != 7 || memcmp(req->method.ptr, "OPTIONS", 7))
            return -400;
        req->path = req->target;
        return 0;
    }
    return absolute_form(req, q) == 1 ? 0 : -400;
}

/* RFC 9112 §3: a method longer than any the server implements SHOULD be
 * a 501. ducta's routes know seven (OPTIONS is the longest); the bound
 * leaves room for every method registered with IANA (the longest,
 * UPDATEREDIRECTREF, has 17 bytes), which the router answers 405 or 404,
 * so the parser need not follow the route table. Longer: 501, whatever
 * else the line holds. */
enum { METHOD_MAX = 20 };

/* The longest run of tchars starting buf is longer than METHOD_MAX. */
static int method_too_long(const char *buf, size_t len)
{
    size_t n = len < METHOD_MAX + 1 ? len : METHOD_MAX + 1;
    for (size_t i = 0; i < n; i++)
        if (!IS(buf[i], C_TCHAR))
            return 0;
    return n > METHOD_MAX;
}

/* a + b, or SIZE_MAX if that overflows (a limit of "any size") */
static inline size_t add_sat(size_t a, size_t b)
{
    return a + b < a ? SIZE_MAX : a + b;
}

/* A request line that is not complete yet: is it already past a limit? */
__attribute__((noinline)) static ssize_t
incomplete_line(const struct ducta_limits *lim, struct ducta_parser *ps,
                const char *buf, size_t len)
{
    if (method_too_long(buf, len))
        return -501;
    if (len > lim->max_request_line)
        return -414;
    ps->scanned = len;
    return DUCTA_PARSE_INCOMPLETE;
}

/* A request that is not complete yet: is it already past a limit? The
 * request line (line_len bytes with its CRLF, 0 while it is not complete)
 * is bounded by max_request_line, the field lines after it by max_head. */
static inline ssize_t incomplete(const struct ducta_limits *lim,
                                 struct ducta_parser *ps, const char *buf,
                                 size_t len, size_t line_len)
{
    if (!line_len) {
        return incomplete_line(lim, ps, buf, len);
    } else if (line_len > lim->max_request_line) {
        return -414;
    } else if (len - line_len >= lim->max_head) {
        return -431;
    }
    ps->scanned = len;
    return DUCTA_PARSE_INCOMPLETE;
}

/* Resumed call: a head can only have ended in the new bytes if they hold a
 * LF followed by CRLF or by LF (the latter then rejected by the full parse).
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

/* The walk's fast path, apart so that it is a leaf: with no call in its
 * loop, the compiler keeps its state in registers, above all the mark
 * iterator's mask, which each mark's "clear the lowest bit" hands on to
 * the next. Inside the walk, which must call out (refills, note_field),
 * that state was spilled to the stack, and every mark waited for a store
 * and a load. It takes the field lines that need nothing but slicing: both
 * marks in the window, clean (see struct scanner), within the limits. It
 * starts at c->p with the header slot c->h, takes lines while an LF is
 * before lf_end (the head's length limit) and a slot is before hend. It
 * stops, with c->p the start of the line
 * after the last it took, and returns
 *   CLEAN_END      at the CRLF that ends the head, c->p after it;
 *   CLEAN_OTHER    at a line that needs more, not begun: the walk restarts
 *                  its iterator there and takes that line itself.
 * The lines whose names may be framing fields it does not stop for, nor
 * even mark: the walk looks at the names of the lines it took afterwards,
 * in order, and gives those to note_field before it goes on, so every
 * result is the walk's own, errors in the same order. (Marking them here
 * took one register too many: gcc then kept the mark iterator's mask on
 * the stack, a store and a load on every line's chain.) */
enum { CLEAN_OTHER, CLEAN_END };
/* In and out through one pointer: one register held for the exit, not
 * two (an earlier version took p and req apart, and spilled in the loop). */
struct cursor {
    size_t p;          /* the start of the next line */
    ducta_header *h;   /* the next header slot */
};
__attribute__((noinline)) static int
clean_fields(const struct scanner *s, struct cursor *c, size_t lf_end,
             ducta_header *hend)
{
    size_t p = c->p;
    ducta_header *h = c->h;
    int stop = CLEAN_OTHER;
    /* Few live values, so that none is spilled: the window as a pointer
     * and the offset of its block, one bound for lf (the clean one, the
     * limit on the head's length and the window's end), one for the
     * header slots. */
    const char *buf = s->buf;
    const uint64_t *w = s->win + (p / BLOCK - s->base);
    size_t at = p / BLOCK * BLOCK;
    uint64_t left = *w & ~0ull << (p % BLOCK);
    /* The window ends with a sentinel, two marks just past it, and lf
     * must be before the window's end too: so the loops below need no
     * check of the window's end. */
    if (lf_end > s->clean_end)
        lf_end = s->clean_end;
    if (lf_end > (s->base + s->n) * BLOCK)
        lf_end = (s->base + s->n) * BLOCK;
    for (;;) {
        while (!left) {
            left = *++w;
            at += BLOCK;
        }
        size_t n = at + (size_t)__builtin_ctzll(left);
        left &= left - 1;
        while (!left) {
            left = *++w;
            at += BLOCK;
        }
        size_t lf = at + (size_t)__builtin_ctzll(left);
        left &= left - 1;
        /* lf < clean_end <= len first: then n < lf is in the buffer too */
        if (lf >= lf_end || buf[n] != ':' || n == p || h >= hend) {
            /* the empty line: CR is not a tchar, so its first mark is
             * its first byte, and its LF is the byte after (a real LF,
             * not the sentinel: lf < lf_end) */
            if (n == p && lf == p + 1 && lf < lf_end && buf[p] == '\r') {
                p += 2;
                stop = CLEAN_END;
            }
            goto out;
        }
        if (buf[lf - 1] != '\r')
            goto out;
        ducta_slice name = {buf + p, n - p};
        /* OWS: most often one SP before the value and none after it */
        size_t vs = n + 1 + (buf[n + 1] == ' '), ve = lf - 1;
        /* one test for the rest, which is rare (a line ends at its CR,
         * so neither loop runs past the line). It takes every byte up to
         * SP, not just SP and HTAB, to need no table and so one register
         * less in this loop: the only other such byte a clean line holds
         * is its CR, where the loops stop at once (an empty value). */
        if (__builtin_expect(((unsigned char)buf[vs] <= ' ') |
                                 ((unsigned char)buf[ve - 1] <= ' '), 0)) {
            while (IS(buf[vs], C_OWS))
                vs++;
            while (ve > vs && IS(buf[ve - 1], C_OWS))
                ve--;
        }
        *h++ = (ducta_header){name, {buf + vs, ve - vs}};
        p = lf + 1;
    }
out:
    c->p = p;
    c->h = h;
    return stop;
}

ssize_t ducta_parse_request(struct ducta_parser *ps,
                            const struct ducta_limits *lim, const char *buf,
                            size_t len, struct ducta_request *req)
{
    /* A request arriving in pieces: only the new bytes are searched for
     * the end of the head; the whole head is walked once, when complete. */
    if (ps->scanned) {
        size_t from = ps->scanned > 3 ? ps->scanned - 3 : 0;
        if (!may_have_ended(buf, from, len)) {
            /* short of every limit whatever the line's length: no search
             * for where the request line ends (and the method was judged
             * on an earlier call once that had more than METHOD_MAX bytes) */
            if (len < lim->max_head && len <= lim->max_request_line &&
                (ps->scanned > METHOD_MAX || !method_too_long(buf, len))) {
                ps->scanned = len;
                return DUCTA_PARSE_INCOMPLETE;
            }
            const char *lf = memchr(buf, '\n', len);
            return incomplete(lim, ps, buf, len,
                              lf ? (size_t)(lf - buf) + 1 : 0);
        }
    }
    struct scanner s;
    scanner_init(&s, buf, len);
    /* Field by field, not memset: the params array is the router's (it
     * sets nparams), and a memset of the rest still compiles to `rep stos`
     * (at -O2 for a generic x86-64), slow to start: about 10 ns here. */
    static const ducta_slice none = {0};
    req->method = req->target = req->path = req->query = none;
    req->authority = req->body = none;
    req->minor_version = req->keep_alive = req->chunked = 0;
    req->expect_continue = 0;
    req->content_length = 0;
    req->nparams = req->nheaders = 0;

    /* request-line = method SP request-target SP HTTP-version CRLF (§3)
     * The method ends at the first mark: the first non-tchar byte. */
    struct marks mk;
    marks_from(&s, &mk, 0);
    size_t p = next_mark(&s, &mk);
    if (p > METHOD_MAX)
        return -501;
    if (p >= len)
        return incomplete(lim, ps, buf, len, 0);
    if (buf[p] != ' ' || p == 0)
        return -400;
    req->method = (ducta_slice){buf, p};
    /* request-target: the path, up to the first byte that may not be in
     * it; if that is '?', the query after it, up to a byte that may not be
     * in that (TARGET); then the SP */
    size_t t = p + 1;
    const char *q = NULL;
    p = target_end(&s, t, 1);
    if (p < len && buf[p] == '?') {
        q = buf + p;
        p = target_end(&s, p + 1, 0);
    }
    if (p >= len)
        return incomplete(lim, ps, buf, len, 0);
    if (buf[p] != ' ' || p == t)
        return -400;
    req->target = (ducta_slice){buf + t, p - t};
    p++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT (§2.3) */
    static const char proto[] = "HTTP/1.1\r\n";
    const char *v = buf + p;
    size_t have = len - p;
    if (have < sizeof proto - 1) {
        /* wait for more only if what came so far can still be valid */
        for (size_t i = 0; i < have; i++)
            if ((i == 5 || i == 7) ? (v[i] < '0' || v[i] > '9')
                                    : v[i] != proto[i])
                return -400;
        return incomplete(lim, ps, buf, len, 0);
    }
    /* "HTTP/1.1\r\n", what nearly every client sends: two word compares */
    if (word8(v) == word8(proto) && v[8] == '\r' && v[9] == '\n') {
        req->minor_version = 1;
    } else {
        if (memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[8] != '\r' ||
            v[9] != '\n' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
            v[7] > '9')
            return -400;
        /* RFC 9110 §2.5: a later minor version of a major version we
         * implement is read as the highest minor we implement, 1.1;
         * another major version (the HTTP/2 preface "PRI * HTTP/2.0" too)
         * is a 505 (§15.6.6) */
        if (v[5] != '1')
            return -505;
        req->minor_version = v[7] != '0';
    }
    p += 10;
    if (p > lim->max_request_line)
        return -414;
    const size_t line_len = p;
    ssize_t rc = check_target(req, q);
    if (rc)
        return rc;

    /* field-line = field-name ":" OWS field-value OWS CRLF (§5)
     * Each line is two marks: where its name ends, where it ends. Neither
     * is found by a scan from the start of the line (see note_block).
     * clean_fields takes the lines it can; the rest of the loop takes one
     * line it could not, byte-exact, and reports what is wrong with it. */
    /* Limits in locals: the header slices stored below are size_t, so the
     * compiler would otherwise reload *lim after every store. max_head
     * bounds the field section, after the request line: head_max is where
     * it must have ended. */
    const size_t head_max = add_sat(line_len, lim->max_head);
    const size_t max_headers = lim->max_headers;
    struct framing f = {0};
    for (;;) {
        if (p < len && p / BLOCK - s.base < s.n) {
            ducta_header *from = req->headers + req->nheaders;
            struct cursor c = {p, from};
            int stop = clean_fields(&s, &c, head_max,
                                    req->headers + max_headers);
            p = c.p;
            req->nheaders = (size_t)(c.h - req->headers);
            /* the framing fields among the lines it took, in order */
            for (const ducta_header *hd = from; hd < c.h; hd++)
                if (maybe_framing(hd->name) &&
                    (rc = note_field(&f, req, hd->name, hd->value)) != 0)
                    return rc;
            if (stop == CLEAN_END)
                break;
        }
        marks_from(&s, &mk, p);
        size_t n = next_mark(&s, &mk);  /* the first non-tchar byte */
        if (n >= len)
            return incomplete(lim, ps, buf, len, line_len);
        if (buf[n] != ':' || n == p) {
            /* the empty line that ends the head (CR is not a tchar, so
             * the line's first mark is its first byte) */
            if (n == p && buf[p] == '\r') {
                if (p + 1 >= len)
                    return incomplete(lim, ps, buf, len, line_len);
                if (buf[p + 1] != '\n')
                    return -400;
                p += 2;
                break;
            }
            /* anything else but ':' here — SP before the colon, a leading
             * SP (obs-fold), a bare LF, a control byte — is a 400 (§5.1,
             * §5.2) */
            return -400;
        }
        ducta_slice name = {buf + p, n - p};
        size_t vs = n + 1;
        /* The value ends at the first byte a value cannot hold. If the
         * line's LF is before clean_end and a CR is before the LF, the line
         * holds no control byte but that CR (see struct scanner), so the
         * value ends there, and there is nothing to check (the CR also
         * stops the OWS loop). Otherwise (an error, or no LF yet) find its
         * end byte by byte and check what it is. */
        size_t lf = next_mark(&s, &mk);  /* the LF after the colon */
        if (lf < s.clean_end && buf[lf - 1] == '\r') {
            while (buf[vs] == ' ' || buf[vs] == '\t')
                vs++;
            p = lf - 1;
        } else {
            while (vs < len && (buf[vs] == ' ' || buf[vs] == '\t'))
                vs++;
            p = value_end(buf, vs, len);
            if (p + 1 >= len)
                return incomplete(lim, ps, buf, len, line_len);
            if (buf[p] != '\r' || buf[p + 1] != '\n')
                return -400;  /* bare CR, bare LF, NUL or another control */
        }
        size_t ve = p;
        while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
            ve--;
        p += 2;
        if (p > head_max || req->nheaders >= max_headers)
            return -431;
        ducta_slice value = {buf + vs, ve - vs};
        req->headers[req->nheaders++] = (ducta_header){name, value};
        if (maybe_framing(name) && (rc = note_field(&f, req, name, value)))
            return rc;
    }
    if (p > head_max)
        return -431;
    req->body = (ducta_slice){buf + p, 0};
    return check_framing(lim, req, &f, p);
}

/* ---- chunked bodies (RFC 9112 §7.1) ------------------------------------ */

/* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * chunk-ext-name = token; chunk-ext-val = token / quoted-string (§7.1.1),
 * BWS = *( SP / HTAB ). One state per place in that grammar, so that an
 * extension split across reads resumes where it stopped. */
enum {
    CK_SIZE,       /* hex digits of chunk-size */
    CK_EXT_BWS,    /* after the size or a value: CR, ';', or BWS */
    CK_EXT_SEMI,   /* after BWS there: only more BWS, then ';' */
    CK_EXT_NAME0,  /* after ';': BWS, then the name's first byte */
    CK_EXT_NAME,   /* in the name: tchars, then '=', ';', CR or BWS */
    CK_EXT_EQ,     /* BWS after the name: '=' or ';' */
    CK_EXT_VAL0,   /* after '=': BWS, then a token or '"' */
    CK_EXT_TOKEN,  /* in a token value */
    CK_EXT_QUOTED, /* in a quoted-string value */
    CK_EXT_QPAIR,  /* after its '\\' */
    CK_SIZE_LF,    /* the LF ending the size line */
    CK_DATA,       /* chunk-data */
    CK_DATA_CR,    /* the CRLF after chunk-data */
    CK_DATA_LF,
    CK_TRAILER,    /* start of a trailer line, or the final CRLF */
    CK_TRAILER_NAME, /* field-name of a trailer, up to ':' */
    CK_TRAILER_LINE, /* its value, up to CR */
    CK_TRAILER_LF,
    CK_LAST_LF,
    CK_DONE,
    CK_BAD,        /* not a state: chunk_ext_step's "no" */
};

/* The extension state after byte c in state st (one of CK_EXT_*), or
 * CK_SIZE_LF at the CR that ends the line, or CK_BAD. */
static uint8_t chunk_ext_step(uint8_t st, char c)
{
    int ws = c == ' ' || c == '\t';
    switch (st) {
    case CK_EXT_BWS:     /* also where a name or a token value ends */
    case CK_EXT_NAME:
    case CK_EXT_TOKEN:
        if (c == '\r')
            return CK_SIZE_LF;
        if (c == ';')
            return CK_EXT_NAME0;
        if (ws)
            return st == CK_EXT_NAME ? CK_EXT_EQ : CK_EXT_SEMI;
        if (st == CK_EXT_NAME && c == '=')
            return CK_EXT_VAL0;
        return st != CK_EXT_BWS && IS(c, C_TCHAR) ? st : CK_BAD;
    case CK_EXT_SEMI:  /* BWS belongs before a ';' only */
        return c == ';' ? CK_EXT_NAME0 : ws ? st : CK_BAD;
    case CK_EXT_EQ:
        return c == '=' ? CK_EXT_VAL0 : c == ';' ? CK_EXT_NAME0
               : ws ? st : CK_BAD;
    case CK_EXT_NAME0:
        return IS(c, C_TCHAR) ? CK_EXT_NAME : ws ? st : CK_BAD;
    case CK_EXT_VAL0:
        return IS(c, C_TCHAR) ? CK_EXT_TOKEN : c == '"' ? CK_EXT_QUOTED
               : ws ? st : CK_BAD;
    case CK_EXT_QUOTED:
        /* qdtext = HTAB / SP / 0x21 / 0x23-5B / 0x5D-7E / obs-text
         * (RFC 9110 §5.6.4) */
        return c == '"' ? CK_EXT_BWS : c == '\\' ? CK_EXT_QPAIR
               : IS(c, C_VALUE) ? st : CK_BAD;
    case CK_EXT_QPAIR:  /* quoted-pair = "\\" ( HTAB / SP / VCHAR / obs-text ) */
        return IS(c, C_VALUE) ? CK_EXT_QUOTED : CK_BAD;
    }
    return CK_BAD;
}

ssize_t ducta_parse_chunked(struct ducta_chunked *ck,
                            const struct ducta_limits *lim, char *body,
                            size_t *len)
{
    /* body[0..ck->decoded) is decoded data; body[ck->decoded..*len) is raw
     * input. Chunk data moves down over the framing it followed, so the
     * decoded body ends up contiguous and the raw rest (the next pipelined
     * request, maybe) moves down behind it. */
    size_t in = ck->decoded, out = ck->decoded, end = *len;
    ssize_t result = DUCTA_PARSE_INCOMPLETE;
    while (in < end && ck->state != CK_DONE) {
        char c = body[in];
        switch (ck->state) {
        case CK_SIZE: {
            unsigned d;
            if (c >= '0' && c <= '9')
                d = (unsigned)(c - '0');
            else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                d = (unsigned)((c | 0x20) - 'a' + 10);
            else if (ck->digits == 0)
                return -400;  /* chunk-size = 1*HEXDIG */
            else {
                ck->state = CK_EXT_BWS;
                continue;  /* look at this byte again as extension */
            }
            if (ck->remaining >> 60 || ck->digits >= 16)
                return -400;  /* would overflow 64 bits */
            ck->remaining = ck->remaining << 4 | d;
            ck->digits++;
            in++;
            break;
        }
        case CK_EXT_BWS:
        case CK_EXT_SEMI:
        case CK_EXT_NAME0:
        case CK_EXT_NAME:
        case CK_EXT_EQ:
        case CK_EXT_VAL0:
        case CK_EXT_TOKEN:
        case CK_EXT_QUOTED:
        case CK_EXT_QPAIR:
            /* extensions we skip, but only well-formed and only so many
             * bytes of them: nobody uses them for good */
            if (++ck->ext_len > DUCTA_MAX_CHUNK_EXT)
                return -400;
            if ((ck->state = chunk_ext_step(ck->state, c)) == CK_BAD)
                return -400;
            in++;
            break;
        case CK_SIZE_LF:
            if (c != '\n')
                return -400;
            in++;
            ck->ext_len = 0;
            ck->digits = 0;
            if (ck->remaining == 0) {
                ck->state = CK_TRAILER;
                break;
            }
            if (ck->remaining > lim->max_body - out)
                return -413;
            ck->state = CK_DATA;
            break;
        case CK_DATA: {
            size_t n = end - in;
            if (n > ck->remaining)
                n = (size_t)ck->remaining;
            memmove(body + out, body + in, n);
            out += n;
            in += n;
            ck->remaining -= n;
            if (ck->remaining == 0)
                ck->state = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
            if (c != '\r')
                return -400;
            ck->state = CK_DATA_LF;
            in++;
            break;
        case CK_DATA_LF:
            if (c != '\n')
                return -400;
            ck->state = CK_SIZE;
            in++;
            break;
        case CK_TRAILER:
            /* trailer-section = *( field-line CRLF ), then CRLF; the
             * fields are dropped (§7.1.2 lets us), but bounded */
            if (c == '\r') {
                ck->state = CK_LAST_LF;
            } else if (!IS(c, C_TCHAR)) {
                return -400;
            } else {
                ck->state = CK_TRAILER_NAME;
            }
            in++;
            break;
        case CK_TRAILER_NAME:
        case CK_TRAILER_LINE:
            if (ck->state == CK_TRAILER_NAME && c == ':')
                ck->state = CK_TRAILER_LINE;
            else if (ck->state == CK_TRAILER_NAME && !IS(c, C_TCHAR))
                return -400;  /* a field line has a name, then ':' */
            else if (c == '\r' && ck->state == CK_TRAILER_LINE)
                ck->state = CK_TRAILER_LF;
            else if (!IS(c, C_VALUE))
                return -400;
            if (++ck->trailer_len > lim->max_head)
                return -431;
            in++;
            break;
        case CK_TRAILER_LF:
            if (c != '\n')
                return -400;
            ck->state = CK_TRAILER;
            in++;
            break;
        case CK_LAST_LF:
            if (c != '\n')
                return -400;
            ck->state = CK_DONE;
            in++;
            break;
        }
    }
    if (ck->state == CK_DONE)
        result = 1;
    /* close the gap between decoded data and the raw rest */
    if (in != out) {
        memmove(body + out, body + in, end - in);
        *len = end - (in - out);
    }
    ck->decoded = out;
    return result;
}
