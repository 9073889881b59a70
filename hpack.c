/*
 * hpack.c — HTTP/2 header compression (RFC 7541, HPACK).
 *
 * Owns: turning one header block into a list of name/value fields and a
 * list of fields into a block: prefixed integers (§5.1), string literals
 * plain and Huffman-coded (§5.2, Appendix B), the static table (Appendix
 * A), the dynamic table with its eviction (§4) and size updates (§4.2,
 * §6.3), and the bound on a decoded list's size (RFC 9113 §6.5.2). It never
 * allocates: each table is a fixed ring inside a struct the caller owns.
 *
 * Does not own: frames (reassembling HEADERS and CONTINUATION, bounding a
 * block's wire size), streams, SETTINGS (the caller says which sizes are in
 * force and when), or what fields mean: pseudo-headers, connection-specific
 * fields and forbidden characters are RFC 9113 §8.2 rules for the h2 layer.
 * The decoder only flags names with uppercase letters, which it sees anyway.
 *
 * The interface and its contract (lifetimes, the meaning of each answer)
 * are described in ducta.h, "hpack.c".
 */
#include <pthread.h>
#include <string.h>

#define DUCTA_INTERNAL 1  /* one of the server's files: ducta.h Part 2 */
#include "ducta.h"

/* §5.1: a 32-bit value needs at most 5 continuation bytes of 7 bits; more
 * (even zero-valued padding bytes) is refused, so a peer cannot make one
 * integer arbitrarily long. */
enum { HPACK_INT_MAX_BYTES = 5 };

/* §4.2: two updates can be needed at the start of a block (the smallest
 * size since the last block, then the final one); more is refused. */
enum { HPACK_MAX_SIZE_UPDATES = 2 };

enum { HPACK_STATIC_COUNT = 61, HPACK_EOS = 256, HPACK_SYMBOLS = 257 };

/* §6: a representation is told by its first bits, which sit above its
 * integer's prefix. Each pattern and its prefix length: */
enum {
    REP_INDEXED = 0x80, REP_INDEXED_MASK = 0x80, REP_INDEXED_PREFIX = 7,
    REP_INCREMENTAL = 0x40, REP_INCREMENTAL_MASK = 0xc0,
    REP_INCREMENTAL_PREFIX = 6,
    REP_SIZE_UPDATE = 0x20, REP_SIZE_UPDATE_MASK = 0xe0,
    REP_SIZE_UPDATE_PREFIX = 5,
    REP_WITHOUT = 0x00, REP_NEVER = 0x10, REP_LITERAL_PREFIX = 4,
};
/* §5.2: a string's length has a 7-bit prefix under its Huffman flag; §5.1:
 * an integer continues in bytes of 7 bits, the top bit saying more follow */
enum { STR_HUFFMAN = 0x80, STR_PREFIX = 7, INT_MORE = 0x80, INT_BITS = 0x7f };

/* ---- static table (Appendix A) ----------------------------------------- */

struct static_entry {
    const char *name, *value;
    uint8_t name_len, value_len;
};

#define S(n, v) {n, v, sizeof(n) - 1, sizeof(v) - 1}
static const struct static_entry static_table[HPACK_STATIC_COUNT + 1] = {
    {"", "", 0, 0}, /* index 0 is not an entry (§2.3.3) */
    S(":authority", ""), S(":method", "GET"), S(":method", "POST"),
    S(":path", "/"), S(":path", "/index.html"), S(":scheme", "http"),
    S(":scheme", "https"), S(":status", "200"), S(":status", "204"),
    S(":status", "206"), S(":status", "304"), S(":status", "400"),
    S(":status", "404"), S(":status", "500"), S("accept-charset", ""),
    S("accept-encoding", "gzip, deflate"), S("accept-language", ""),
    S("accept-ranges", ""), S("accept", ""),
    S("access-control-allow-origin", ""), S("age", ""), S("allow", ""),
    S("authorization", ""), S("cache-control", ""),
    S("content-disposition", ""), S("content-encoding", ""),
    S("content-language", ""), S("content-length", ""),
    S("content-location", ""), S("content-range", ""),
    S("content-type", ""), S("cookie", ""), S("date", ""), S("etag", ""),
    S("expect", ""), S("expires", ""), S("from", ""), S("host", ""),
    S("if-match", ""), S("if-modified-since", ""), S("if-none-match", ""),
    S("if-range", ""), S("if-unmodified-since", ""), S("last-modified", ""),
    S("link", ""), S("location", ""), S("max-forwards", ""),
    S("proxy-authenticate", ""), S("proxy-authorization", ""),
    S("range", ""), S("referer", ""), S("refresh", ""),
    S("retry-after", ""), S("server", ""), S("set-cookie", ""),
    S("strict-transport-security", ""), S("transfer-encoding", ""),
    S("user-agent", ""), S("vary", ""), S("via", ""),
    S("www-authenticate", ""),
};
#undef S

/* ---- Huffman code (Appendix B) ------------------------------------------ */

/* The code is canonical: codes of one length are consecutive and ordered
 * by symbol, and each length's first code follows the previous length's
 * last. So the lengths alone define it; the codes and the decoder are
 * derived from them once (huffman_build). */
static const uint8_t huff_bits[HPACK_SYMBOLS] = {
    /*   0 */ 13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
    /*  16 */ 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    /*  32 */  6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6,
    /*  48 */  5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10,
    /*  64 */ 13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,
    /*  80 */  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6,
    /*  96 */ 15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,
    /* 112 */  6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28,
    /* 128 */ 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    /* 144 */ 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    /* 160 */ 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
    /* 176 */ 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    /* 192 */ 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
    /* 208 */ 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    /* 224 */ 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    /* 240 */ 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    /* 256 */ 30, /* EOS */
};

/* A full binary tree of 257 leaves has 256 internal nodes. §5.2: padding
 * is shorter than a byte. */
enum { HUFF_MAX_BITS = 30, HUFF_NODES = HPACK_SYMBOLS - 1, HUFF_MAX_PAD = 7 };
enum { NIBBLE_BITS = 4, NIBBLES = 1 << NIBBLE_BITS, NIBBLE_MASK = NIBBLES - 1 };

/* The decoder walks the code tree four bits at a time: for each internal
 * node (a state: the bits read since the last symbol) and each nibble, the
 * node it ends on and the symbol it completes, if any. The shortest code
 * has 5 bits, so a nibble completes at most one. */
enum { HUFF_EMIT = 1, HUFF_FAIL = 2 };
struct huff_step {
    uint8_t next, sym, flags;
};

static uint32_t huff_code[HPACK_SYMBOLS];
static struct huff_step huff_dec[HUFF_NODES][NIBBLES];
/* The states a string may end in (§5.2): the root, or up to 7 one-bits
 * (a prefix of EOS) since the last symbol. */
static uint8_t huff_final[HUFF_NODES];
static pthread_once_t huff_once = PTHREAD_ONCE_INIT;

static void huffman_build(void)
{
    /* canonical codes from the lengths */
    uint32_t code = 0;
    unsigned prev = 0;
    for (unsigned bits = 1; bits <= HUFF_MAX_BITS; bits++) {
        for (unsigned s = 0; s < HPACK_SYMBOLS; s++) {
            if (huff_bits[s] != bits)
                continue;
            code <<= bits - prev;
            prev = bits;
            huff_code[s] = code++;
        }
    }
    /* the tree: child[n][bit] > 0 is an internal node, < 0 is -(sym+1);
     * node 0 is the root, which is nobody's child */
    static int16_t child[HUFF_NODES][2];
    unsigned nodes = 1;
    for (unsigned s = 0; s < HPACK_SYMBOLS; s++) {
        unsigned n = 0;
        for (int b = huff_bits[s] - 1; b > 0; b--) {
            unsigned bit = (huff_code[s] >> b) & 1;
            if (child[n][bit] == 0)
                child[n][bit] = (int16_t)nodes++;
            n = (unsigned)child[n][bit];
        }
        child[n][huff_code[s] & 1] = (int16_t)(-(int)s - 1);
    }
    for (unsigned n = 0; n < HUFF_NODES; n++) {
        for (unsigned nib = 0; nib < NIBBLES; nib++) {
            struct huff_step st = {0, 0, 0};
            unsigned cur = n;
            for (int b = NIBBLE_BITS - 1; b >= 0; b--) {
                int c = child[cur][(nib >> b) & 1];
                if (c < 0) {
                    if (-c - 1 == HPACK_EOS) {
                        st.flags = HUFF_FAIL;
                        break;
                    }
                    st.sym = (uint8_t)(-c - 1);
                    st.flags = HUFF_EMIT;
                    cur = 0;
                } else {
                    cur = (unsigned)c;
                }
            }
            st.next = (uint8_t)cur;
            huff_dec[n][nib] = st;
        }
    }
    unsigned n = 0;
    huff_final[0] = 1;
    for (int depth = 1; depth <= HUFF_MAX_PAD; depth++) {
        n = (unsigned)child[n][1];
        huff_final[n] = 1;
    }
}

static void huffman_ready(void)
{
    pthread_once(&huff_once, huffman_build);
}

size_t ducta_hpack_huffman_size(const uint8_t *src, size_t n)
{
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += huff_bits[src[i]];
    return (size_t)((bits + 7) / 8);
}

int ducta_hpack_huffman_encode(const uint8_t *src, size_t n, uint8_t *dst,
                               size_t cap, size_t *len)
{
    huffman_ready();
    size_t need = ducta_hpack_huffman_size(src, n);
    if (need > cap)
        return DUCTA_HPACK_E_SPACE;
    uint64_t acc = 0; /* only the low `have` bits are still unwritten */
    unsigned have = 0;
    uint8_t *o = dst;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << huff_bits[src[i]]) | huff_code[src[i]];
        have += huff_bits[src[i]];
        while (have >= 8) {
            have -= 8;
            *o++ = (uint8_t)(acc >> have);
        }
    }
    if (have) /* pad with the most significant bits of EOS: ones (§5.2) */
        *o++ = (uint8_t)((acc << (8 - have)) | (0xffu >> have));
    *len = (size_t)(o - dst);
    return DUCTA_HPACK_OK;
}

/* Decode into dst, or with dst NULL only check and count. */
static int huff_decode(const uint8_t *src, size_t n, uint8_t *dst,
                       size_t cap, size_t *len)
{
    unsigned state = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (int shift = NIBBLE_BITS; shift >= 0; shift -= NIBBLE_BITS) {
            const struct huff_step *st =
                &huff_dec[state][(src[i] >> shift) & NIBBLE_MASK];
            if (st->flags & HUFF_FAIL)
                return DUCTA_HPACK_E_HUFFMAN;
            if (st->flags & HUFF_EMIT) {
                if (dst) {
                    if (k == cap)
                        return DUCTA_HPACK_E_SPACE;
                    dst[k] = st->sym;
                }
                k++;
            }
            state = st->next;
        }
    }
    if (!huff_final[state])
        return DUCTA_HPACK_E_HUFFMAN;
    *len = k;
    return DUCTA_HPACK_OK;
}

int ducta_hpack_huffman_decode(const uint8_t *src, size_t n, uint8_t *dst,
                               size_t cap, size_t *len)
{
    huffman_ready();
    return huff_decode(src, n, dst, cap, len);
}

/* ---- integers (§5.1) ---------------------------------------------------- */

int ducta_hpack_int_decode(const uint8_t **pp, const uint8_t *end,
                           unsigned prefix_bits, uint32_t *v)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return DUCTA_HPACK_E_TRUNCATED;
    uint32_t max = (1u << prefix_bits) - 1;
    uint64_t x = *p++ & max;
    if (x == max) {
        for (unsigned i = 0, shift = 0;; i++, shift += 7) {
            if (p == end)
                return DUCTA_HPACK_E_TRUNCATED;
            if (i == HPACK_INT_MAX_BYTES)
                return DUCTA_HPACK_E_INTEGER;
            uint8_t b = *p++;
            x += (uint64_t)(b & INT_BITS) << shift;
            if (x > UINT32_MAX)
                return DUCTA_HPACK_E_INTEGER;
            if (!(b & INT_MORE))
                break;
        }
    }
    *v = (uint32_t)x;
    *pp = p;
    return DUCTA_HPACK_OK;
}

size_t ducta_hpack_int_encode(uint8_t *dst, size_t cap, unsigned prefix_bits,
                              uint8_t first, uint32_t v)
{
    uint32_t max = (1u << prefix_bits) - 1;
    size_t k = 0;
    if (cap == 0)
        return 0;
    first &= (uint8_t)~max;
    if (v < max) {
        dst[k++] = (uint8_t)(first | v);
        return k;
    }
    dst[k++] = (uint8_t)(first | max);
    v -= max;
    for (;;) {
        if (k == cap)
            return 0;
        if (v <= INT_BITS) {
            dst[k++] = (uint8_t)v;
            return k;
        }
        dst[k++] = (uint8_t)(INT_MORE | (v & INT_BITS));
        v >>= 7;
    }
}

/* ---- the dynamic table (§4) --------------------------------------------- */

static size_t entry_size(size_t name_len, size_t value_len)
{
    return name_len + value_len + DUCTA_HPACK_ENTRY_OVERHEAD;
}

static void table_init(struct ducta_hpack_table *t, uint32_t max_size)
{
    t->max_size = max_size;
    t->size = t->count = t->oldest = t->head = 0;
}

/* The ring of bytes: an entry may wrap around its end. */
static void ring_write(struct ducta_hpack_table *t, uint32_t off,
                       const char *src, size_t n)
{
    size_t first = DUCTA_HPACK_TABLE_CAP - off;
    if (n <= first) {
        memcpy(t->data + off, src, n);
    } else {
        memcpy(t->data + off, src, first);
        memcpy(t->data, src + first, n - first);
    }
}

static void ring_read(const struct ducta_hpack_table *t, uint32_t off,
                      char *dst, size_t n)
{
    size_t first = DUCTA_HPACK_TABLE_CAP - off;
    if (n <= first) {
        memcpy(dst, t->data + off, n);
    } else {
        memcpy(dst, t->data + off, first);
        memcpy(dst + first, t->data, n - first);
    }
}

static int ring_eq(const struct ducta_hpack_table *t, uint32_t off,
                   const char *s, size_t n)
{
    size_t first = DUCTA_HPACK_TABLE_CAP - off;
    if (n <= first)
        return memcmp(t->data + off, s, n) == 0;
    return memcmp(t->data + off, s, first) == 0 &&
           memcmp(t->data, s + first, n - first) == 0;
}

static uint32_t ring_add(uint32_t off, size_t n)
{
    return (uint32_t)((off + n) % DUCTA_HPACK_TABLE_CAP);
}

/* Dynamic index i (1 = newest), which the caller has checked is <= count. */
static const struct ducta_hpack_entry *
table_get(const struct ducta_hpack_table *t, uint32_t i)
{
    return &t->ent[(t->oldest + t->count - i) % DUCTA_HPACK_ENTRIES_CAP];
}

static void table_evict_oldest(struct ducta_hpack_table *t)
{
    const struct ducta_hpack_entry *e = &t->ent[t->oldest];
    t->size -= (uint32_t)entry_size(e->name_len, e->value_len);
    t->oldest = (t->oldest + 1) % DUCTA_HPACK_ENTRIES_CAP;
    t->count--;
}

static void table_set_max(struct ducta_hpack_table *t, uint32_t max_size)
{
    t->max_size = max_size;
    while (t->size > max_size)
        table_evict_oldest(t);
}

/* §4.4: evict from the oldest until the new entry fits; an entry larger
 * than the whole table empties it and is not added. The caller's bytes
 * must not live in the table (they may be what is evicted). */
static void table_insert(struct ducta_hpack_table *t, const char *name,
                         size_t name_len, const char *value, size_t value_len)
{
    size_t sz = entry_size(name_len, value_len);
    while (t->count && t->size + sz > t->max_size)
        table_evict_oldest(t);
    if (sz > t->max_size)
        return;
    /* Fits: live bytes + new bytes <= max_size - 32 * (count + 1), which
     * is less than the ring, and count + 1 <= max_size / 32 slots. */
    struct ducta_hpack_entry *e =
        &t->ent[(t->oldest + t->count) % DUCTA_HPACK_ENTRIES_CAP];
    e->off = (uint16_t)t->head;
    e->name_len = (uint16_t)name_len;
    e->value_len = (uint16_t)value_len;
    ring_write(t, t->head, name, name_len);
    ring_write(t, ring_add(t->head, name_len), value, value_len);
    t->head = ring_add(t->head, name_len + value_len);
    t->count++;
    t->size += (uint32_t)sz;
}

int ducta_hpack_table_entry(const struct ducta_hpack_table *t, uint32_t i,
                            char *dst, size_t cap, size_t *name_len,
                            size_t *value_len)
{
    if (i == 0 || i > t->count)
        return -1;
    const struct ducta_hpack_entry *e = table_get(t, i);
    if ((size_t)e->name_len + e->value_len > cap)
        return -1;
    ring_read(t, e->off, dst, (size_t)e->name_len + e->value_len);
    *name_len = e->name_len;
    *value_len = e->value_len;
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/* Where a name or a value comes from, before it is copied anywhere: its
 * decoded length is known first, so the list-size bound is checked before
 * any byte is copied. */
enum ref_kind { REF_STATIC, REF_TABLE, REF_RAW, REF_HUFFMAN };
struct ref {
    enum ref_kind kind;
    const char *ptr;  /* REF_STATIC, REF_RAW, REF_HUFFMAN (the wire bytes) */
    size_t wire_len;  /* REF_HUFFMAN */
    uint32_t off;     /* REF_TABLE */
    size_t len;       /* decoded length */
};

/* An index (§2.3.3) into name (and value) refs. */
static int ref_index(const struct ducta_hpack_table *t, uint32_t i,
                     struct ref *name, struct ref *value)
{
    if (i == 0)
        return DUCTA_HPACK_E_INDEX;
    if (i <= HPACK_STATIC_COUNT) {
        const struct static_entry *s = &static_table[i];
        *name = (struct ref){REF_STATIC, s->name, 0, 0, s->name_len};
        if (value)
            *value = (struct ref){REF_STATIC, s->value, 0, 0, s->value_len};
        return DUCTA_HPACK_OK;
    }
    if (i - HPACK_STATIC_COUNT > t->count)
        return DUCTA_HPACK_E_INDEX;
    const struct ducta_hpack_entry *e = table_get(t, i - HPACK_STATIC_COUNT);
    *name = (struct ref){REF_TABLE, NULL, 0, e->off, e->name_len};
    if (value)
        *value = (struct ref){REF_TABLE, NULL, 0, ring_add(e->off, e->name_len),
                              e->value_len};
    return DUCTA_HPACK_OK;
}

/* A string literal (§5.2). A Huffman string is checked (and measured)
 * here, whether or not it will be delivered. */
static int ref_string(const uint8_t **pp, const uint8_t *end, struct ref *r)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return DUCTA_HPACK_E_TRUNCATED;
    int huffman = *p & STR_HUFFMAN;
    uint32_t n;
    int rc = ducta_hpack_int_decode(&p, end, STR_PREFIX, &n);
    if (rc)
        return rc;
    if (n > (size_t)(end - p))
        return DUCTA_HPACK_E_TRUNCATED;
    *r = (struct ref){huffman ? REF_HUFFMAN : REF_RAW, (const char *)p, n, 0, n};
    if (huffman && (rc = huff_decode(p, n, NULL, 0, &r->len)))
        return rc;
    *pp = p + n;
    return DUCTA_HPACK_OK;
}

static void ref_copy(const struct ducta_hpack_table *t, const struct ref *r,
                     char *dst)
{
    size_t k;
    switch (r->kind) {
    case REF_STATIC:
    case REF_RAW:
        memcpy(dst, r->ptr, r->len);
        break;
    case REF_TABLE:
        ring_read(t, r->off, dst, r->len);
        break;
    case REF_HUFFMAN: /* already checked: cannot fail */
        (void)huff_decode((const uint8_t *)r->ptr, r->wire_len,
                          (uint8_t *)dst, r->len, &k);
        break;
    }
}

static int has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return 1;
    return 0;
}

/* A ref as a slice in out->buf (static strings are pointed at). */
static ducta_slice deliver_ref(const struct ducta_hpack_table *t,
                               struct ducta_hpack_block *out,
                               const struct ref *r)
{
    if (r->kind == REF_STATIC)
        return (ducta_slice){r->ptr, r->len};
    if (r->len == 0) /* out->buf may be NULL when nothing is copied */
        return (ducta_slice){"", 0};
    char *dst = out->buf + out->buf_len;
    ref_copy(t, r, dst);
    out->buf_len += r->len;
    return (ducta_slice){dst, r->len};
}

/* One decoded field: counted against the bound, delivered if within it,
 * then added to the table if the representation says so. */
static void field(struct ducta_hpack_decoder *d, struct ducta_hpack_block *out,
                  int *over, const struct ref *name, const struct ref *value,
                  unsigned flags, int indexing)
{
    size_t sz = name->len + value->len + DUCTA_HPACK_ENTRY_OVERHEAD;
    out->list_size += sz;
    if (!*over) {
        size_t copy = (name->kind == REF_STATIC ? 0 : name->len) +
                      (value->kind == REF_STATIC ? 0 : value->len);
        if (out->list_size > out->max_list_size ||
            out->count == out->fields_cap ||
            copy > out->buf_cap - out->buf_len)
            *over = 1;
    }
    const char *np = NULL, *vp = NULL;
    if (!*over) {
        struct ducta_hpack_field *f = &out->fields[out->count++];
        f->name = deliver_ref(&d->table, out, name);
        f->value = deliver_ref(&d->table, out, value);
        f->flags = flags;
        if (has_upper(f->name.ptr, f->name.len))
            f->flags |= DUCTA_HPACK_F_UPPERCASE;
        np = f->name.ptr;
        vp = f->value.ptr;
    } else if (indexing && sz <= d->table.max_size) {
        /* not delivered, but the table needs its bytes */
        ref_copy(&d->table, name, d->scratch);
        ref_copy(&d->table, value, d->scratch + name->len);
        np = d->scratch;
        vp = d->scratch + name->len;
    }
    if (indexing)
        table_insert(&d->table, np, name->len, vp, value->len);
}

/* A table size asked for beyond what the fixed table holds is served as
 * the most it holds: the peer is told the real one in SETTINGS. */
static uint32_t table_cap(uint32_t size)
{
    return size > DUCTA_HPACK_TABLE_CAP ? DUCTA_HPACK_TABLE_CAP : size;
}

void ducta_hpack_decoder_init(struct ducta_hpack_decoder *d,
                              uint32_t table_size)
{
    huffman_ready();
    table_size = table_cap(table_size);
    table_init(&d->table, table_size);
    d->limit = table_size;
    d->need_update = 0;
}

void ducta_hpack_decoder_set_limit(struct ducta_hpack_decoder *d,
                                   uint32_t table_size)
{
    table_size = table_cap(table_size);
    d->limit = table_size;
    if (d->table.max_size > table_size)
        d->need_update = 1;
}

int ducta_hpack_decode(struct ducta_hpack_decoder *d, const uint8_t *in,
                       size_t len, struct ducta_hpack_block *out)
{
    const uint8_t *p = in, *end = in + len;
    int over = 0, updates = 0, fields_seen = 0, rc;
    out->count = 0;
    out->buf_len = 0;
    out->list_size = 0;
    while (p < end) {
        uint8_t b = *p;
        uint32_t i;
        struct ref name, value;
        if ((b & REP_SIZE_UPDATE_MASK) == REP_SIZE_UPDATE) { /* §6.3 */
            if (fields_seen || ++updates > HPACK_MAX_SIZE_UPDATES)
                return DUCTA_HPACK_E_SIZE_UPDATE;
            if ((rc = ducta_hpack_int_decode(&p, end, REP_SIZE_UPDATE_PREFIX,
                                             &i)))
                return rc;
            if (i > d->limit)
                return DUCTA_HPACK_E_SIZE_UPDATE;
            table_set_max(&d->table, i);
            d->need_update = 0;
            continue;
        }
        if (d->need_update) /* §4.2: the block had to open with one */
            return DUCTA_HPACK_E_SIZE_UPDATE;
        fields_seen = 1;
        if ((b & REP_INDEXED_MASK) == REP_INDEXED) { /* §6.1 */
            if ((rc = ducta_hpack_int_decode(&p, end, REP_INDEXED_PREFIX,
                                             &i)) ||
                (rc = ref_index(&d->table, i, &name, &value)))
                return rc;
            field(d, out, &over, &name, &value, 0, 0);
            continue;
        }
        /* literals (§6.2): with incremental indexing, without indexing,
         * never indexed */
        int indexing = (b & REP_INCREMENTAL_MASK) == REP_INCREMENTAL;
        unsigned flags =
            !indexing && (b & REP_NEVER) ? DUCTA_HPACK_F_NEVER_INDEXED : 0;
        if ((rc = ducta_hpack_int_decode(
                 &p, end, indexing ? REP_INCREMENTAL_PREFIX : REP_LITERAL_PREFIX,
                 &i)))
            return rc;
        if (i ? (rc = ref_index(&d->table, i, &name, NULL))
              : (rc = ref_string(&p, end, &name)))
            return rc;
        if ((rc = ref_string(&p, end, &value)))
            return rc;
        field(d, out, &over, &name, &value, flags, indexing);
    }
    return over ? DUCTA_HPACK_TOO_LARGE : DUCTA_HPACK_OK;
}

/* ---- encoding ----------------------------------------------------------- */

/* Which fields a response's encoder adds to the table. A server sends
 * much the same fields on every response of a connection (server,
 * content-type, cache-control, vary, :status values outside the static
 * table), so by default it indexes: the second response sends them as one
 * byte each. It does not index values that are new on almost every
 * response (they would only push useful entries out) nor an entry that
 * would take more than half the table. The caller can ask for either
 * literal form per field (DUCTA_HPACK_F_NO_INDEX, _F_NEVER_INDEXED: §7.1.3,
 * e.g. for a set-cookie with a session id). */
static const char *const unindexed_names[] = {
    "content-length", "content-range", "etag", "last-modified",
};

static int worth_indexing(const struct ducta_hpack_encoder *e,
                          const struct ducta_hpack_field *f)
{
    if (f->flags & (DUCTA_HPACK_F_NEVER_INDEXED | DUCTA_HPACK_F_NO_INDEX))
        return 0;
    if (entry_size(f->name.len, f->value.len) > e->table.max_size / 2)
        return 0;
    for (size_t i = 0; i < sizeof unindexed_names / sizeof *unindexed_names;
         i++) {
        if (strlen(unindexed_names[i]) == f->name.len &&
            memcmp(unindexed_names[i], f->name.ptr, f->name.len) == 0)
            return 0;
    }
    return 1;
}

struct writer {
    uint8_t *p, *end;
    int full;
};

static void put_int(struct writer *w, unsigned prefix, uint8_t first,
                    uint32_t v)
{
    size_t k = w->full ? 0
                       : ducta_hpack_int_encode(w->p, (size_t)(w->end - w->p),
                                                prefix, first, v);
    if (k == 0)
        w->full = 1;
    w->p += k;
}

/* §5.2: Huffman when it is shorter. */
static void put_string(struct writer *w, const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t hn = ducta_hpack_huffman_size(u, n);
    if (hn > UINT32_MAX || n > UINT32_MAX) {
        w->full = 1;
        return;
    }
    int huffman = hn < n;
    put_int(w, STR_PREFIX, huffman ? STR_HUFFMAN : 0,
            (uint32_t)(huffman ? hn : n));
    if (w->full)
        return;
    size_t room = (size_t)(w->end - w->p), k = n;
    if (huffman ? ducta_hpack_huffman_encode(u, n, w->p, room, &k)
                : n > room) {
        w->full = 1;
        return;
    }
    if (!huffman)
        memcpy(w->p, s, n);
    w->p += k;
}

/* The best index for a field: an exact match (*exact set), else one with
 * its name, else 0. Static first: its indexes never move. */
static uint32_t find(const struct ducta_hpack_table *t,
                     const struct ducta_hpack_field *f, int want_exact,
                     int *exact)
{
    uint32_t by_name = 0;
    *exact = 0;
    for (uint32_t i = 1; i <= HPACK_STATIC_COUNT; i++) {
        const struct static_entry *s = &static_table[i];
        if (s->name_len != f->name.len ||
            memcmp(s->name, f->name.ptr, f->name.len) != 0)
            continue;
        if (!by_name)
            by_name = i;
        if (want_exact && s->value_len == f->value.len &&
            memcmp(s->value, f->value.ptr, f->value.len) == 0) {
            *exact = 1;
            return i;
        }
    }
    for (uint32_t j = 1; j <= t->count; j++) {
        const struct ducta_hpack_entry *e = table_get(t, j);
        if (e->name_len != f->name.len ||
            !ring_eq(t, e->off, f->name.ptr, f->name.len))
            continue;
        if (!by_name)
            by_name = HPACK_STATIC_COUNT + j;
        if (want_exact && e->value_len == f->value.len &&
            ring_eq(t, ring_add(e->off, e->name_len), f->value.ptr,
                    f->value.len)) {
            *exact = 1;
            return HPACK_STATIC_COUNT + j;
        }
        if (!want_exact && by_name)
            break;
    }
    return by_name;
}

static void encode_field(struct ducta_hpack_encoder *e, struct writer *w,
                         const struct ducta_hpack_field *f)
{
    int never = (f->flags & DUCTA_HPACK_F_NEVER_INDEXED) != 0, exact;
    /* a never-indexed field must stay a literal of that kind (§6.2.3) */
    uint32_t i = find(&e->table, f, !never, &exact);
    if (exact) {
        put_int(w, REP_INDEXED_PREFIX, REP_INDEXED, i);
        return;
    }
    int indexing = worth_indexing(e, f);
    if (indexing)
        put_int(w, REP_INCREMENTAL_PREFIX, REP_INCREMENTAL, i);
    else
        put_int(w, REP_LITERAL_PREFIX, never ? REP_NEVER : REP_WITHOUT, i);
    if (i == 0)
        put_string(w, f->name.ptr, f->name.len);
    put_string(w, f->value.ptr, f->value.len);
    if (indexing && !w->full)
        table_insert(&e->table, f->name.ptr, f->name.len, f->value.ptr,
                     f->value.len);
}

void ducta_hpack_encoder_init(struct ducta_hpack_encoder *e,
                              uint32_t peer_table_size)
{
    huffman_ready();
    peer_table_size = table_cap(peer_table_size);
    table_init(&e->table, peer_table_size);
    e->want = e->low = peer_table_size;
    e->pending = 0;
}

void ducta_hpack_encoder_set_peer_limit(struct ducta_hpack_encoder *e,
                                        uint32_t peer_table_size)
{
    peer_table_size = table_cap(peer_table_size);
    e->want = peer_table_size;
    if (!e->pending)
        e->low = e->table.max_size;
    if (peer_table_size < e->low)
        e->low = peer_table_size;
    e->pending = e->low < e->table.max_size || e->want != e->table.max_size;
}

int ducta_hpack_encode(struct ducta_hpack_encoder *e,
                       const struct ducta_hpack_field *fields, size_t n,
                       uint8_t *out, size_t cap, size_t *len)
{
    struct writer w = {out, out + cap, 0};
    uint32_t before = e->table.max_size; /* as the peer knows it */
    if (e->pending) {
        /* §4.2: the smallest size since the last block, then the final */
        if (e->low < e->table.max_size && e->low < e->want) {
            put_int(&w, REP_SIZE_UPDATE_PREFIX, REP_SIZE_UPDATE, e->low);
            table_set_max(&e->table, e->low);
        }
        put_int(&w, REP_SIZE_UPDATE_PREFIX, REP_SIZE_UPDATE, e->want);
        table_set_max(&e->table, e->want);
    }
    for (size_t i = 0; i < n && !w.full; i++)
        encode_field(e, &w, &fields[i]);
    if (w.full) {
        /* The block cannot be sent, but the table may already hold what it
         * added. Empty it, and have the next block open with an update to
         * 0, which empties the peer's too: both are in step again. Until
         * then the peer's size is still the one before this block. */
        table_set_max(&e->table, 0);
        e->table.max_size = before;
        e->low = 0;
        e->pending = 1;
        return DUCTA_HPACK_E_SPACE;
    }
    e->pending = 0;
    e->low = e->want;
    *len = (size_t)(w.p - out);
    return DUCTA_HPACK_OK;
}
