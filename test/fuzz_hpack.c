/*
 * fuzz_hpack.c — a libFuzzer target for the HPACK decoder and encoder
 * (hpack.c), which checks them against each other.
 *
 * The input is what a peer's encoder might send on one connection: a
 * sequence of header blocks, each one length byte then that many bytes
 * (the last block takes what is left). The first byte is the set-up:
 *   bits 0-1  the decoder's table size: 0, 64, 256 or 4096;
 *   bits 2-3  the bound on a header list: none, 4096, 256 or 64;
 *   bit  4    room for only 4 fields (else 64);
 *   bit  5    between blocks, the decoder's limit moves (so blocks that do
 *             or do not open with the size update it then needs are seen);
 *   bit  6    between blocks, the peer limit of the re-encoding pair moves;
 *   bit  7    each re-encoding is first tried into a buffer half the size
 *             of the block it came from (which often does not fit).
 * Before the first block, every table is filled at full size and then
 * shrunk (prelude), so that what the input adds wraps around the ring.
 *
 * What is checked (any mismatch calls FUZZ_FAIL, which aborts, so libFuzzer
 * saves the input):
 *  (a) every answer is one of the documented ones; on OK the list is within
 *      its bound and the caller's arrays; the table's accounting is exact
 *      (size is the sum of its entries' sizes, within max_size, which is
 *      within the limit);
 *  (b) a block that decoded is encoded again (ducta_hpack_encode, by an
 *      encoder that lives as long as the input) and decoded by the matching
 *      decoder: the same fields, with the same never-indexed flags; a
 *      re-encoding that did not fit (bit 7) leaves the pair in step;
 *  (c) every decoded value Huffman-encodes and decodes back to itself.
 * No read goes past the input: each block is copied into an exactly sized
 * heap buffer, so ASan sees a read past its end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"

#ifndef FUZZ_FAIL
#define FUZZ_FAIL(msg) (fprintf(stderr, "fuzz_hpack: %s\n", (msg)), abort())
#endif

enum { FIELDS_MAX = 64, FIELDS_FEW = 4, BUF_CAP = 1 << 16 };

static struct ducta_hpack_decoder dec, dec2;
static struct ducta_hpack_encoder enc;
static struct ducta_hpack_field fields[FIELDS_MAX], fields2[FIELDS_MAX];
static char buf[BUF_CAP], buf2[BUF_CAP];

static const uint32_t table_sizes[4] = {0, 64, 256, 4096};
static const uint64_t list_bounds[4] = {UINT64_MAX, 4096, 256, 64};

static void check_table(const struct ducta_hpack_table *t, uint32_t limit)
{
    uint64_t sum = 0;
    static char tmp[DUCTA_HPACK_TABLE_CAP];
    for (uint32_t i = 1; i <= t->count; i++) {
        size_t n, v;
        if (ducta_hpack_table_entry(t, i, tmp, sizeof tmp, &n, &v) != 0)
            FUZZ_FAIL("table entry unreadable");
        sum += n + v + DUCTA_HPACK_ENTRY_OVERHEAD;
    }
    if (sum != t->size)
        FUZZ_FAIL("table size is not the sum of its entries");
    if (t->size > t->max_size || t->max_size > limit ||
        t->max_size > DUCTA_HPACK_TABLE_CAP)
        FUZZ_FAIL("table over its size");
}

static int known(int rc)
{
    return rc == DUCTA_HPACK_OK || rc == DUCTA_HPACK_TOO_LARGE ||
           rc == DUCTA_HPACK_E_TRUNCATED || rc == DUCTA_HPACK_E_INTEGER ||
           rc == DUCTA_HPACK_E_INDEX || rc == DUCTA_HPACK_E_HUFFMAN ||
           rc == DUCTA_HPACK_E_SIZE_UPDATE;
}

static int slice_eq(ducta_slice a, ducta_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void check_huffman(ducta_slice s)
{
    static uint8_t h[BUF_CAP], back[BUF_CAP];
    size_t hn, bn;
    if (s.len > sizeof h)
        return;
    if (ducta_hpack_huffman_encode((const uint8_t *)s.ptr, s.len, h,
                                   sizeof h, &hn) != 0 ||
        hn != ducta_hpack_huffman_size((const uint8_t *)s.ptr, s.len))
        FUZZ_FAIL("huffman encode");
    if (ducta_hpack_huffman_decode(h, hn, back, sizeof back, &bn) != 0 ||
        bn != s.len || (bn && memcmp(back, s.ptr, bn) != 0))
        FUZZ_FAIL("huffman round trip");
}

/* (b): encode what dec delivered, decode it with dec2. */
static void reencode(const struct ducta_hpack_block *b, size_t squeeze)
{
    size_t bound = 64;
    for (size_t i = 0; i < b->count; i++)
        bound += 16 + b->fields[i].name.len + b->fields[i].value.len;
    uint8_t *wire = malloc(bound);
    if (!wire)
        FUZZ_FAIL("out of memory");
    struct ducta_hpack_field in[FIELDS_MAX];
    for (size_t i = 0; i < b->count; i++) {
        in[i] = b->fields[i];
        in[i].flags &= DUCTA_HPACK_F_NEVER_INDEXED;
    }
    size_t len;
    if (squeeze && b->count) {
        int rc = ducta_hpack_encode(&enc, in, b->count, wire, squeeze, &len);
        if (rc != DUCTA_HPACK_OK && rc != DUCTA_HPACK_E_SPACE)
            FUZZ_FAIL("encode: unexpected answer");
        if (rc == DUCTA_HPACK_OK) { /* it fit after all: the peer gets it */
            struct ducta_hpack_block o = {fields2, FIELDS_MAX, 0, buf2,
                                          BUF_CAP, 0, UINT64_MAX, 0};
            if (ducta_hpack_decode(&dec2, wire, len, &o) != DUCTA_HPACK_OK)
                FUZZ_FAIL("squeezed re-encoding does not decode");
        }
    }
    if (ducta_hpack_encode(&enc, in, b->count, wire, bound, &len) != 0)
        FUZZ_FAIL("encode did not fit its bound");
    struct ducta_hpack_block o = {fields2, FIELDS_MAX, 0, buf2, BUF_CAP, 0,
                                  UINT64_MAX, 0};
    int rc = ducta_hpack_decode(&dec2, wire, len, &o);
    if (rc != DUCTA_HPACK_OK)
        FUZZ_FAIL("re-encoding does not decode");
    if (o.count != b->count)
        FUZZ_FAIL("re-encoding: field count differs");
    for (size_t i = 0; i < o.count; i++) {
        if (!slice_eq(o.fields[i].name, b->fields[i].name) ||
            !slice_eq(o.fields[i].value, b->fields[i].value))
            FUZZ_FAIL("re-encoding: field differs");
        if ((o.fields[i].flags ^ b->fields[i].flags) &
            (DUCTA_HPACK_F_NEVER_INDEXED | DUCTA_HPACK_F_UPPERCASE))
            FUZZ_FAIL("re-encoding: flags differ");
    }
    if (o.list_size != b->list_size)
        FUZZ_FAIL("re-encoding: list size differs");
    check_table(&dec2.table, dec2.limit);
    if (enc.table.size != dec2.table.size ||
        enc.table.count != dec2.table.count)
        FUZZ_FAIL("encoder and decoder tables differ");
    free(wire);
}

/* Fill all three tables at full size with PRELUDE_ENTRIES entries of a
 * value of len bytes, then shrink them to tsize: the ring's next free byte
 * is then near its end, so what the input adds wraps around it (the input
 * alone is too short to get there). */
enum { PRELUDE_ENTRIES = 3 };
static void prelude(uint32_t tsize, size_t len)
{
    static uint8_t wire[8192];
    static char value[2048];
    struct ducta_hpack_field f[PRELUDE_ENTRIES];
    size_t k = 0, n;
    memset(value, 'X', len); /* 8 bits in Huffman too: sent raw, quickly */
    for (int i = 0; i < PRELUDE_ENTRIES; i++) {
        wire[k++] = 0x40;
        wire[k++] = 1;
        wire[k++] = (uint8_t)('p' + i);
        k += ducta_hpack_int_encode(wire + k, 8, 7, 0, (uint32_t)len);
        memcpy(wire + k, value, len);
        k += len;
        f[i] = (struct ducta_hpack_field){{&"pqr"[i], 1}, {value, len}, 0};
    }
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_CAP);
    ducta_hpack_decoder_init(&dec2, DUCTA_HPACK_TABLE_CAP);
    ducta_hpack_encoder_init(&enc, DUCTA_HPACK_TABLE_CAP);
    struct ducta_hpack_block b = {fields, FIELDS_MAX, 0, buf, BUF_CAP, 0,
                                  UINT64_MAX, 0};
    if (ducta_hpack_decode(&dec, wire, k, &b) != DUCTA_HPACK_OK)
        FUZZ_FAIL("prelude does not decode");
    if (ducta_hpack_encode(&enc, f, PRELUDE_ENTRIES, wire, sizeof wire, &n) !=
            DUCTA_HPACK_OK ||
        ducta_hpack_decode(&dec2, wire, n, &b) != DUCTA_HPACK_OK)
        FUZZ_FAIL("prelude does not round-trip");
    if (dec.table.count != PRELUDE_ENTRIES || enc.table.count != PRELUDE_ENTRIES)
        FUZZ_FAIL("prelude not in the tables");
    /* shrink: the peer of dec says so in a block of its own */
    k = ducta_hpack_int_encode(wire, 8, 5, 0x20, tsize);
    if (ducta_hpack_decode(&dec, wire, k, &b) != DUCTA_HPACK_OK)
        FUZZ_FAIL("prelude size update refused");
    ducta_hpack_decoder_set_limit(&dec, tsize);
    ducta_hpack_decoder_set_limit(&dec2, tsize);
    ducta_hpack_encoder_set_peer_limit(&enc, tsize);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t cfg = data[0];
    uint32_t tsize = table_sizes[cfg & 3];
    /* the ring's head lands between 3003 and 3990 (three entries of at
     * most 1 + 1329 + 32 bytes fit in 4096) */
    prelude(tsize, 1000 + size * 37 % 330);
    size_t pos = 1;
    for (unsigned blockno = 0; pos < size; blockno++) {
        size_t n = data[pos++];
        if (n > size - pos)
            n = size - pos;
        uint8_t *block = malloc(n ? n : 1);
        if (!block)
            FUZZ_FAIL("out of memory");
        memcpy(block, data + pos, n);
        pos += n;
        struct ducta_hpack_block b = {
            fields, (cfg & 0x10) ? FIELDS_FEW : FIELDS_MAX, 0, buf, BUF_CAP,
            0, list_bounds[(cfg >> 2) & 3], 0};
        int rc = ducta_hpack_decode(&dec, block, n, &b);
        free(block);
        if (!known(rc))
            FUZZ_FAIL("decode: unknown answer");
        if (rc < 0)
            break;
        check_table(&dec.table, DUCTA_HPACK_TABLE_CAP);
        if (b.count > b.fields_cap || b.buf_len > b.buf_cap)
            FUZZ_FAIL("decode: past the caller's arrays");
        if (rc == DUCTA_HPACK_OK) {
            if (b.list_size > b.max_list_size)
                FUZZ_FAIL("decode: OK past the list bound");
            for (size_t i = 0; i < b.count; i++)
                check_huffman(b.fields[i].value);
            reencode(&b, (cfg & 0x80) ? n / 2 : 0);
        }
        /* settings that change between blocks */
        uint32_t next = table_sizes[(cfg + blockno + 1) & 3];
        if (cfg & 0x20)
            ducta_hpack_decoder_set_limit(&dec, next);
        if (cfg & 0x40) {
            ducta_hpack_decoder_set_limit(&dec2, next);
            ducta_hpack_encoder_set_peer_limit(&enc, next);
        }
    }
    return 0;
}
