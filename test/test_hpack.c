/*
 * test_hpack.c — HPACK (hpack.c): every example of RFC 7541 Appendix C,
 * decoded to exactly its fields and dynamic table and encoded back; each
 * class of malformed block with the section that makes it an error; the
 * bound on a header list (an HPACK bomb is refused cheaply and the
 * connection stays usable); table size updates on both sides; the Huffman
 * code symbol by symbol.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUCTA_INTERNAL 1  /* drives ducta.h Part 2 */
#include "ducta.h"

enum { NFIELDS = 64, BUFSZ = 1 << 16 };

static struct ducta_hpack_decoder dec;
static struct ducta_hpack_encoder enc;
static struct ducta_hpack_field fields[NFIELDS];
static char buf[BUFSZ];
static struct ducta_hpack_block blk;

/* "8286 84be" → bytes; returns the length. */
static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == '\n') {
            s++;
            continue;
        }
        unsigned v;
        cr_assert(sscanf(s, "%2x", &v) == 1, "bad hex at %s", s);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void block_reset(uint64_t max_list)
{
    blk = (struct ducta_hpack_block){fields, NFIELDS, 0, buf, BUFSZ, 0,
                                     max_list, 0};
}

static int decode_hex(const char *hex)
{
    static uint8_t wire[BUFSZ];
    size_t n = unhex(hex, wire);
    block_reset(UINT64_MAX);
    return ducta_hpack_decode(&dec, wire, n, &blk);
}

static int decode_bytes(const uint8_t *wire, size_t n, uint64_t max_list)
{
    block_reset(max_list);
    return ducta_hpack_decode(&dec, wire, n, &blk);
}

static int slice_is(ducta_slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* fields as "name: value" lines, NULL-terminated */
static void expect_fields(const char *const *want)
{
    size_t i = 0;
    for (; want[i]; i++) {
        cr_assert(i < blk.count, "missing field %zu (%s)", i, want[i]);
        const char *colon = strstr(want[i] + 1, ": ");
        size_t nl = (size_t)(colon - want[i]);
        cr_assert(blk.fields[i].name.len == nl &&
                      memcmp(blk.fields[i].name.ptr, want[i], nl) == 0,
                  "field %zu name: got %.*s want %s", i,
                  (int)blk.fields[i].name.len, blk.fields[i].name.ptr,
                  want[i]);
        cr_assert(slice_is(blk.fields[i].value, colon + 2),
                  "field %zu value: got %.*s want %s", i,
                  (int)blk.fields[i].value.len, blk.fields[i].value.ptr,
                  colon + 2);
    }
    cr_assert_eq(blk.count, i, "got %zu fields, want %zu", blk.count, i);
}

/* the dynamic table, newest first, and its size */
static void expect_table(const struct ducta_hpack_table *t,
                         const char *const *want, uint32_t size)
{
    char tmp[DUCTA_HPACK_TABLE_CAP];
    size_t i = 0;
    for (; want[i]; i++) {
        size_t nl, vl;
        cr_assert(ducta_hpack_table_entry(t, (uint32_t)i + 1, tmp, sizeof tmp,
                                          &nl, &vl) == 0,
                  "no entry %zu", i + 1);
        const char *colon = strstr(want[i] + 1, ": ");
        cr_assert(nl == (size_t)(colon - want[i]) &&
                      memcmp(tmp, want[i], nl) == 0 &&
                      vl == strlen(colon + 2) &&
                      memcmp(tmp + nl, colon + 2, vl) == 0,
                  "entry %zu: got %.*s / %.*s, want %s", i + 1, (int)nl, tmp,
                  (int)vl, tmp + nl, want[i]);
    }
    cr_assert_eq(t->count, i, "table has %u entries, want %zu", t->count, i);
    cr_assert_eq(t->size, size, "table size %u, want %u", t->size, size);
}

/* ---- C.1 integers ------------------------------------------------------ */

Test(hpack_c1, integers)
{
    uint8_t b[8];
    const uint8_t *p;
    uint32_t v;
    /* C.1.1: 10 on a 5-bit prefix, the 3 bits above kept */
    cr_assert_eq(ducta_hpack_int_encode(b, sizeof b, 5, 0xe0, 10), 1);
    cr_assert_eq(b[0], 0xea);
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + 1, 5, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(p, b + 1);
    /* C.1.2: 1337 on a 5-bit prefix: 1f 9a 0a */
    cr_assert_eq(ducta_hpack_int_encode(b, sizeof b, 5, 0, 1337), 3);
    cr_assert(b[0] == 0x1f && b[1] == 0x9a && b[2] == 0x0a);
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + 3, 5, &v), 0);
    cr_assert_eq(v, 1337);
    cr_assert_eq(p, b + 3);
    /* C.1.3: 42 on an 8-bit prefix */
    cr_assert_eq(ducta_hpack_int_encode(b, sizeof b, 8, 0, 42), 1);
    cr_assert_eq(b[0], 42);
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + 1, 8, &v), 0);
    cr_assert_eq(v, 42);
    /* the edges: prefix exactly full, 2^32-1, and no room */
    cr_assert_eq(ducta_hpack_int_encode(b, sizeof b, 5, 0, 31), 2);
    cr_assert(b[0] == 0x1f && b[1] == 0x00);
    size_t k = ducta_hpack_int_encode(b, sizeof b, 4, 0, UINT32_MAX);
    cr_assert_eq(k, 6);
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + k, 4, &v), 0);
    cr_assert_eq(v, UINT32_MAX);
    cr_assert_eq(ducta_hpack_int_encode(b, 2, 5, 0, 1337), 0);
}

/* §5.1: an integer that does not fit 32 bits, or is spread over more
 * bytes than 32 bits need, is refused; one that ends early is truncated. */
Test(hpack_errors, integer)
{
    uint8_t b[16];
    const uint8_t *p;
    uint32_t v;
    size_t n = unhex("1f ff ff ff ff 0f", b); /* 31 + 2^35-ish */
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + n, 5, &v),
                 DUCTA_HPACK_E_INTEGER);
    n = unhex("1f 80 80 80 80 80 00", b); /* zero value, 6 bytes long */
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + n, 5, &v),
                 DUCTA_HPACK_E_INTEGER);
    n = unhex("1f 80 80 80 80 00", b); /* 5 continuation bytes: fine */
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + n, 5, &v), 0);
    cr_assert_eq(v, 31);
    n = unhex("0f f0 ff ff ff 0f", b); /* 15 + 2^32 - 16 = 2^32 - 1 */
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + n, 4, &v), 0);
    cr_assert_eq(v, UINT32_MAX);
    n = unhex("0f f1 ff ff ff 0f", b); /* 2^32 */
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + n, 4, &v),
                 DUCTA_HPACK_E_INTEGER);
    n = unhex("1f 9a", b);
    p = b;
    cr_assert_eq(ducta_hpack_int_decode(&p, b + n, 5, &v),
                 DUCTA_HPACK_E_TRUNCATED);
    /* in a block: an index past 32 bits */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("ff ff ff ff ff 7f"), DUCTA_HPACK_E_INTEGER);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("40 7f ff ff ff ff 7f"), DUCTA_HPACK_E_INTEGER);
}

/* ---- C.2 single representations --------------------------------------- */

Test(hpack_c2, literal_with_indexing)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573"
                            "746f 6d2d 6865 6164 6572"),
                 DUCTA_HPACK_OK);
    expect_fields((const char *[]){"custom-key: custom-header", NULL});
    cr_assert_eq(blk.fields[0].flags, 0);
    expect_table(&dec.table,
                 (const char *[]){"custom-key: custom-header", NULL}, 55);
}

Test(hpack_c2, literal_without_indexing)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("040c 2f73 616d 706c 652f 7061 7468"),
                 DUCTA_HPACK_OK);
    expect_fields((const char *[]){":path: /sample/path", NULL});
    cr_assert_eq(blk.fields[0].flags, 0);
    expect_table(&dec.table, (const char *[]){NULL}, 0);
}

Test(hpack_c2, literal_never_indexed)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("1008 7061 7373 776f 7264 0673 6563 7265 74"),
                 DUCTA_HPACK_OK);
    expect_fields((const char *[]){"password: secret", NULL});
    cr_assert_eq(blk.fields[0].flags, DUCTA_HPACK_F_NEVER_INDEXED);
    expect_table(&dec.table, (const char *[]){NULL}, 0);
}

Test(hpack_c2, indexed)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("82"), DUCTA_HPACK_OK);
    expect_fields((const char *[]){":method: GET", NULL});
    expect_table(&dec.table, (const char *[]){NULL}, 0);
}

/* ---- C.3 to C.6: sequences on one connection --------------------------- */

struct step {
    const char *hex;
    const char *const *fields, *const *table;
    uint32_t size;
};

static const char *const req1[] = {":method: GET", ":scheme: http", ":path: /",
                                   ":authority: www.example.com", NULL};
static const char *const req2[] = {
    ":method: GET", ":scheme: http", ":path: /",
    ":authority: www.example.com", "cache-control: no-cache", NULL};
static const char *const req3[] = {
    ":method: GET", ":scheme: https", ":path: /index.html",
    ":authority: www.example.com", "custom-key: custom-value", NULL};
static const char *const req_t1[] = {":authority: www.example.com", NULL};
static const char *const req_t2[] = {"cache-control: no-cache",
                                     ":authority: www.example.com", NULL};
static const char *const req_t3[] = {"custom-key: custom-value",
                                     "cache-control: no-cache",
                                     ":authority: www.example.com", NULL};

static const char *const res1[] = {
    ":status: 302", "cache-control: private",
    "date: Mon, 21 Oct 2013 20:13:21 GMT",
    "location: https://www.example.com", NULL};
static const char *const res2[] = {
    ":status: 307", "cache-control: private",
    "date: Mon, 21 Oct 2013 20:13:21 GMT",
    "location: https://www.example.com", NULL};
static const char *const res3[] = {
    ":status: 200", "cache-control: private",
    "date: Mon, 21 Oct 2013 20:13:22 GMT",
    "location: https://www.example.com", "content-encoding: gzip",
    "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    NULL};
static const char *const res_t1[] = {
    "location: https://www.example.com",
    "date: Mon, 21 Oct 2013 20:13:21 GMT", "cache-control: private",
    ":status: 302", NULL};
static const char *const res_t2[] = {
    ":status: 307", "location: https://www.example.com",
    "date: Mon, 21 Oct 2013 20:13:21 GMT", "cache-control: private", NULL};
static const char *const res_t3[] = {
    "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    "content-encoding: gzip", "date: Mon, 21 Oct 2013 20:13:22 GMT", NULL};

static void run_steps(uint32_t table_size, const struct step *s, size_t n)
{
    ducta_hpack_decoder_init(&dec, table_size);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(decode_hex(s[i].hex), DUCTA_HPACK_OK, "step %zu", i + 1);
        expect_fields(s[i].fields);
        expect_table(&dec.table, s[i].table, s[i].size);
    }
}

/* The same lists through the encoder and back: the same fields, and the
 * encoder's table in step with the decoder's. */
static void round_trip(uint32_t table_size, const struct step *s, size_t n)
{
    static uint8_t wire[BUFSZ];
    struct ducta_hpack_decoder d2;
    ducta_hpack_encoder_init(&enc, table_size);
    ducta_hpack_decoder_init(&d2, table_size);
    for (size_t i = 0; i < n; i++) {
        struct ducta_hpack_field in[NFIELDS];
        size_t k = 0, len;
        for (; s[i].fields[k]; k++) {
            const char *f = s[i].fields[k], *colon = strstr(f + 1, ": ");
            in[k] = (struct ducta_hpack_field){
                {f, (size_t)(colon - f)}, {colon + 2, strlen(colon + 2)}, 0};
        }
        cr_assert_eq(ducta_hpack_encode(&enc, in, k, wire, sizeof wire, &len),
                     0);
        block_reset(UINT64_MAX);
        cr_assert_eq(ducta_hpack_decode(&d2, wire, len, &blk), DUCTA_HPACK_OK);
        expect_fields(s[i].fields);
        cr_assert_eq(enc.table.size, d2.table.size);
        cr_assert_eq(enc.table.count, d2.table.count);
    }
}

static const struct step c3[] = {
    {"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", req1, req_t1, 57},
    {"8286 84be 5808 6e6f 2d63 6163 6865", req2, req_t2, 110},
    {"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75"
     "65",
     req3, req_t3, 164},
};

static const struct step c4[] = {
    {"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", req1, req_t1, 57},
    {"8286 84be 5886 a8eb 1064 9cbf", req2, req_t2, 110},
    {"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", req3,
     req_t3, 164},
};

static const struct step c5[] = {
    {"4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420"
     "3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77"
     "7777 2e65 7861 6d70 6c65 2e63 6f6d",
     res1, res_t1, 222},
    {"4803 3330 37c1 c0bf", res2, res_t2, 222},
    {"88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32"
     "3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a"
     "584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33"
     "3630 303b 2076 6572 7369 6f6e 3d31",
     res3, res_t3, 215},
};

static const struct step c6[] = {
    {"4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81"
     "66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
     res1, res_t1, 222},
    {"4883 640e ffc1 c0bf", res2, res_t2, 222},
    {"88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a"
     "839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36"
     "72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
     res3, res_t3, 215},
};

#define NSTEPS(a) (sizeof(a) / sizeof *(a))

Test(hpack_c3, requests_without_huffman)
{
    run_steps(DUCTA_HPACK_TABLE_DEFAULT, c3, NSTEPS(c3));
    round_trip(DUCTA_HPACK_TABLE_DEFAULT, c3, NSTEPS(c3));
}

Test(hpack_c4, requests_with_huffman)
{
    run_steps(DUCTA_HPACK_TABLE_DEFAULT, c4, NSTEPS(c4));
    round_trip(DUCTA_HPACK_TABLE_DEFAULT, c4, NSTEPS(c4));
}

Test(hpack_c5, responses_without_huffman_256_byte_table)
{
    run_steps(256, c5, NSTEPS(c5));
    round_trip(256, c5, NSTEPS(c5));
}

Test(hpack_c6, responses_with_huffman_256_byte_table)
{
    run_steps(256, c6, NSTEPS(c6));
    round_trip(256, c6, NSTEPS(c6));
}

/* C.4's and C.6's Huffman strings come out byte for byte */
Test(hpack_huffman, rfc_strings_encode_exactly)
{
    static const struct {
        const char *text, *hex;
    } v[] = {
        {"www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"},
        {"no-cache", "a8eb 1064 9cbf"},
        {"custom-key", "25a8 49e9 5ba9 7d7f"},
        {"custom-value", "25a8 49e9 5bb8 e8b4 bf"},
        {"302", "6402"},
        {"private", "aec3 771a 4b"},
        {"Mon, 21 Oct 2013 20:13:21 GMT",
         "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"},
        {"https://www.example.com",
         "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"},
        {"307", "640e ff"},
        {"gzip", "9bd9 ab"},
        {"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
         "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27"
         "0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"},
    };
    for (size_t i = 0; i < NSTEPS(v); i++) {
        uint8_t want[128], got[128];
        size_t wn = unhex(v[i].hex, want), gn;
        const uint8_t *t = (const uint8_t *)v[i].text;
        cr_assert_eq(ducta_hpack_huffman_size(t, strlen(v[i].text)), wn);
        cr_assert_eq(ducta_hpack_huffman_encode(t, strlen(v[i].text), got,
                                                sizeof got, &gn),
                     0);
        cr_assert(gn == wn && memcmp(got, want, wn) == 0, "%s", v[i].text);
    }
}

/* ---- Huffman ------------------------------------------------------------ */

/* Codes from the RFC's table, across every length, so the table of lengths
 * the codes are derived from is checked against the printed codes. */
Test(hpack_huffman, codes_match_appendix_b)
{
    static const struct {
        unsigned sym;
        uint32_t code;
        unsigned bits;
    } v[] = {
        {0, 0x1ff8, 13},      {1, 0x7fffd8, 23},     {2, 0xfffffe2, 28},
        {9, 0xffffea, 24},    {10, 0x3ffffffc, 30},  {13, 0x3ffffffd, 30},
        {22, 0x3ffffffe, 30}, {31, 0xffffffb, 28},   {32, 0x14, 6},
        {33, 0x3f8, 10},      {35, 0xffa, 12},       {39, 0x7fa, 11},
        {48, 0x0, 5},         {58, 0x5c, 7},         {60, 0x7ffc, 15},
        {88, 0xfc, 8},        {92, 0x7fff0, 19},     {94, 0x3ffc, 14},
        {116, 0x9, 5},        {122, 0x7b, 7},        {126, 0x1ffd, 13},
        {127, 0xffffffc, 28}, {128, 0xfffe6, 20},    {129, 0x3fffd2, 22},
        {153, 0x1fffdc, 21},  {171, 0xfffff0, 24},   {192, 0x3ffffe0, 26},
        {195, 0x7fff1, 19},   {199, 0x1ffffec, 25},  {203, 0x7ffffde, 27},
        {208, 0x7fff2, 19},   {220, 0xffffffd, 28},  {230, 0x1fffe8, 21},
        {239, 0x7ffff4, 23},  {249, 0xffffffe, 28},  {254, 0x7fffff0, 27},
        {255, 0x3ffffee, 26},
    };
    for (size_t i = 0; i < NSTEPS(v); i++) {
        uint8_t s = (uint8_t)v[i].sym, out[8], want[8];
        size_t n;
        /* the code, then ones to the byte boundary */
        unsigned pad = (8 - v[i].bits % 8) % 8;
        uint64_t bits = ((uint64_t)v[i].code << pad) | ((1u << pad) - 1);
        size_t wn = (v[i].bits + pad) / 8;
        for (size_t k = 0; k < wn; k++)
            want[k] = (uint8_t)(bits >> (8 * (wn - 1 - k)));
        cr_assert_eq(ducta_hpack_huffman_encode(&s, 1, out, sizeof out, &n), 0);
        cr_assert(n == wn && memcmp(out, want, n) == 0, "symbol %u", v[i].sym);
    }
}

Test(hpack_huffman, every_symbol_round_trips)
{
    uint8_t all[256 * 3], enc_buf[256 * 3 * 4], back[256 * 3];
    size_t n, m;
    for (unsigned s = 0; s < 256; s++) {
        uint8_t c = (uint8_t)s;
        cr_assert_eq(ducta_hpack_huffman_encode(&c, 1, enc_buf,
                                                sizeof enc_buf, &n),
                     0);
        cr_assert_eq(ducta_hpack_huffman_decode(enc_buf, n, back, sizeof back,
                                                &m),
                     0, "symbol %u", s);
        cr_assert(m == 1 && back[0] == c, "symbol %u", s);
    }
    /* all of them in one string, at every bit alignment */
    for (unsigned i = 0; i < sizeof all; i++)
        all[i] = (uint8_t)(i * 7 + i / 256);
    cr_assert_eq(ducta_hpack_huffman_encode(all, sizeof all, enc_buf,
                                            sizeof enc_buf, &n),
                 0);
    cr_assert_eq(ducta_hpack_huffman_decode(enc_buf, n, back, sizeof back, &m),
                 0);
    cr_assert(m == sizeof all && memcmp(back, all, m) == 0);
    /* the empty string */
    cr_assert_eq(ducta_hpack_huffman_decode(enc_buf, 0, back, 0, &m), 0);
    cr_assert_eq(m, 0);
    /* no room: refused, nothing past cap */
    cr_assert_eq(ducta_hpack_huffman_encode(all, 10, enc_buf, 3, &n),
                 DUCTA_HPACK_E_SPACE);
    cr_assert_eq(ducta_hpack_huffman_encode((const uint8_t *)"aaaaaaaa", 8,
                                            enc_buf, sizeof enc_buf, &n),
                 0);
    memset(back, '#', sizeof back);
    cr_assert_eq(ducta_hpack_huffman_decode(enc_buf, n, back, 2, &m),
                 DUCTA_HPACK_E_SPACE);
    cr_assert_eq(back[2], '#');
}

/* §5.2: padding longer than 7 bits, padding that is not the start of EOS,
 * and EOS itself inside a string are decoding errors. */
Test(hpack_huffman, bad_padding_and_eos)
{
    uint8_t b[8], out[16];
    size_t m;
    /* 'a' = 00011, then 111: fine */
    cr_assert_eq(ducta_hpack_huffman_decode((uint8_t[]){0x1f}, 1, out,
                                            sizeof out, &m),
                 0);
    cr_assert(m == 1 && out[0] == 'a');
    /* 'a' then 000: padding not all ones */
    cr_assert_eq(ducta_hpack_huffman_decode((uint8_t[]){0x18}, 1, out,
                                            sizeof out, &m),
                 DUCTA_HPACK_E_HUFFMAN);
    /* 'a' then 11 ones: padding of 11 bits */
    cr_assert_eq(ducta_hpack_huffman_decode((uint8_t[]){0x1f, 0xff}, 2, out,
                                            sizeof out, &m),
                 DUCTA_HPACK_E_HUFFMAN);
    /* 8 ones alone: a whole byte of padding */
    cr_assert_eq(ducta_hpack_huffman_decode((uint8_t[]){0xff}, 1, out,
                                            sizeof out, &m),
                 DUCTA_HPACK_E_HUFFMAN);
    /* 7 ones after a whole symbol: the longest padding allowed ('0' =
     * 00000, then '0' 00000 again would not fit: use 'a' + 'a' + 111111)
     * 00011 00011 111111 = 0001 1000 1111 1111 */
    cr_assert_eq(ducta_hpack_huffman_decode((uint8_t[]){0x18, 0xff}, 2, out,
                                            sizeof out, &m),
                 0);
    cr_assert(m == 2 && out[0] == 'a' && out[1] == 'a');
    /* EOS (30 ones) then 00 */
    cr_assert_eq(ducta_hpack_huffman_decode((uint8_t[]){0xff, 0xff, 0xff,
                                                        0xfc},
                                            4, out, sizeof out, &m),
                 DUCTA_HPACK_E_HUFFMAN);
    /* 'a', then EOS, then more */
    size_t n = unhex("1f ff ff ff e0", b); /* 00011 + 30 ones + 00000 */
    cr_assert_eq(ducta_hpack_huffman_decode(b, n, out, sizeof out, &m),
                 DUCTA_HPACK_E_HUFFMAN);
    /* and in a block: the decoder says so for names and values */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("00 81 18 01 61"), DUCTA_HPACK_E_HUFFMAN);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("04 84 ff ff ff fc"), DUCTA_HPACK_E_HUFFMAN);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("04 82 1f ff"), DUCTA_HPACK_E_HUFFMAN);
}

/* ---- errors ------------------------------------------------------------- */

/* §2.3.3, §6.1: index 0 and indexes past both tables */
Test(hpack_errors, index)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("80"), DUCTA_HPACK_E_INDEX);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("bd"), DUCTA_HPACK_OK); /* 61: the last static */
    expect_fields((const char *[]){"www-authenticate: ", NULL});
    cr_assert_eq(decode_hex("be"), DUCTA_HPACK_E_INDEX); /* 62: empty table */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("7f 01 01 61"), DUCTA_HPACK_E_INDEX); /* name 64 */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("0f 2f 01 61"), DUCTA_HPACK_E_INDEX); /* name 62 */
    /* with one entry, 62 is it and 63 is past it */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("40 01 78 01 79 be"), DUCTA_HPACK_OK);
    expect_fields((const char *[]){"x: y", "x: y", NULL});
    cr_assert_eq(decode_hex("bf"), DUCTA_HPACK_E_INDEX);
}

/* A block that ends inside a representation. */
Test(hpack_errors, truncated)
{
    static const char *const cut[] = {
        "41",             /* indexed name, no value */
        "40",             /* literal name missing */
        "40 0a 63 75 73", /* name shorter than its length */
        "40 01 61",       /* no value */
        "40 01 61 05 61", /* value shorter than its length */
        "ff",             /* index continues past the end */
        "3f",             /* size update continues past the end */
        "04 ff 80",       /* string length continues past the end */
    };
    for (size_t i = 0; i < NSTEPS(cut); i++) {
        ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
        cr_assert_eq(decode_hex(cut[i]), DUCTA_HPACK_E_TRUNCATED, "%s",
                     cut[i]);
    }
}

/* §4.2, §6.3: size updates only at the start of a block, at most the
 * advertised size, at most two of them; a smaller advertised size must be
 * acknowledged by one. */
Test(hpack_size_update, rules)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("82 20"), DUCTA_HPACK_E_SIZE_UPDATE);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("3f e2 1f"), DUCTA_HPACK_E_SIZE_UPDATE); /* 4097 */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("3f e1 1f 82"), DUCTA_HPACK_OK); /* 4096 */
    cr_assert_eq(dec.table.max_size, 4096);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("20 3f e1 1f 82"), DUCTA_HPACK_OK);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("20 3f e1 1f 20 82"), DUCTA_HPACK_E_SIZE_UPDATE);
    /* C.1.2's 1337 as a size update; then a block of only an update */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("3f 9a 0a"), DUCTA_HPACK_OK);
    cr_assert_eq(dec.table.max_size, 1337);
    cr_assert_eq(blk.count, 0);
    /* the limit falls: the next block must open with an update */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("40 01 78 01 79"), DUCTA_HPACK_OK);
    ducta_hpack_decoder_set_limit(&dec, 256);
    cr_assert_eq(decode_hex("82"), DUCTA_HPACK_E_SIZE_UPDATE);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    ducta_hpack_decoder_set_limit(&dec, 256);
    cr_assert_eq(decode_hex("3f e2 01"), DUCTA_HPACK_E_SIZE_UPDATE); /* 257 */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("40 01 78 01 79"), DUCTA_HPACK_OK);
    ducta_hpack_decoder_set_limit(&dec, 256);
    cr_assert_eq(decode_hex("3f e1 01 be"), DUCTA_HPACK_OK); /* 256, x: y */
    expect_fields((const char *[]){"x: y", NULL});
    cr_assert_eq(dec.table.max_size, 256);
    /* a raised limit needs no update, and allows a larger one */
    ducta_hpack_decoder_set_limit(&dec, 4096);
    cr_assert_eq(decode_hex("be"), DUCTA_HPACK_OK);
    cr_assert_eq(decode_hex("3f e1 1f be"), DUCTA_HPACK_OK);
    /* an update to 0 empties the table */
    cr_assert_eq(decode_hex("20"), DUCTA_HPACK_OK);
    cr_assert_eq(dec.table.count, 0);
    cr_assert_eq(dec.table.size, 0);
    cr_assert_eq(decode_hex("be"), DUCTA_HPACK_E_INDEX);
}

/* §4.4: an entry larger than the table empties it and is not added; an
 * entry may be added whose name is that of an entry its addition evicts. */
Test(hpack_eviction, rules)
{
    ducta_hpack_decoder_init(&dec, 64);
    cr_assert_eq(decode_hex("40 01 61 01 62"), DUCTA_HPACK_OK); /* 34 */
    expect_table(&dec.table, (const char *[]){"a: b", NULL}, 34);
    /* name: entry 62, value 30 bytes: 1 + 30 + 32 = 63 <= 64, evicts a: b */
    cr_assert_eq(decode_hex("7e 1e 313233343536373839303132333435363738393031"
                            "3233343536373839 30"),
                 DUCTA_HPACK_OK);
    expect_fields(
        (const char *[]){"a: 123456789012345678901234567890", NULL});
    expect_table(&dec.table,
                 (const char *[]){"a: 123456789012345678901234567890", NULL},
                 63);
    /* 33 + 32 = 65 > 64: the table empties, nothing added */
    cr_assert_eq(decode_hex("40 01 63 20 3132333435363738393031323334353637"
                            "383930313233343536373839303132"),
                 DUCTA_HPACK_OK);
    cr_assert_eq(blk.count, 1);
    expect_table(&dec.table, (const char *[]){NULL}, 0);
}

/* Many small entries wrapping around the ring, then read back. */
Test(hpack_eviction, ring_wraps)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    uint8_t wire[64];
    char name[16], value[64];
    for (unsigned i = 0; i < 500; i++) {
        int nl = snprintf(name, sizeof name, "n%u", i);
        int vl = snprintf(value, sizeof value, "value-%u-%.*s", i, (int)(i % 40),
                          "0123456789012345678901234567890123456789");
        size_t k = 0;
        wire[k++] = 0x40;
        wire[k++] = (uint8_t)nl;
        memcpy(wire + k, name, (size_t)nl);
        k += (size_t)nl;
        wire[k++] = (uint8_t)vl;
        memcpy(wire + k, value, (size_t)vl);
        k += (size_t)vl;
        cr_assert_eq(decode_bytes(wire, k, UINT64_MAX), 0);
        /* the newest entry reads back as 62 */
        cr_assert_eq(decode_bytes((const uint8_t *)"\xbe", 1, UINT64_MAX), 0);
        cr_assert(blk.fields[0].name.len == (size_t)nl &&
                  memcmp(blk.fields[0].name.ptr, name, (size_t)nl) == 0);
        cr_assert(blk.fields[0].value.len == (size_t)vl &&
                  memcmp(blk.fields[0].value.ptr, value, (size_t)vl) == 0);
        cr_assert(dec.table.size <= 4096);
    }
}

/* Delivered names and values never point into the dynamic table: an entry
 * evicted later in the same block (or by a later block) leaves them as
 * they were. */
Test(hpack_eviction, delivered_fields_outlive_their_entry)
{
    ducta_hpack_decoder_init(&dec, 64);
    cr_assert_eq(decode_hex("40 01 61 01 62"), DUCTA_HPACK_OK);
    /* a: b from the table, then an entry that evicts it */
    cr_assert_eq(decode_hex("be 40 01 63 1e 3132333435363738393031323334353637"
                            "38393031323334353637383930"),
                 DUCTA_HPACK_OK);
    expect_table(&dec.table,
                 (const char *[]){"c: 123456789012345678901234567890", NULL},
                 63);
    for (size_t i = 0; i < blk.count; i++) {
        cr_assert(blk.fields[i].name.ptr >= buf &&
                  blk.fields[i].name.ptr < buf + BUFSZ);
        cr_assert(blk.fields[i].value.ptr >= buf &&
                  blk.fields[i].value.ptr < buf + BUFSZ);
    }
    expect_fields((const char *[]){"a: b", "c: 123456789012345678901234567890",
                                   NULL});
}

/* ---- the header list bound (RFC 9113 §6.5.2) --------------------------- */

/* A few bytes that reference one large entry many times: refused by the
 * bound without copying past it, and the connection goes on (the table
 * is still in step with the peer). */
Test(hpack_bomb, refused_by_list_size)
{
    static uint8_t wire[8192];
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    /* one entry of 4000 bytes: 40 01 'x' 7f <4000-127> 'a'... */
    size_t k = 0;
    wire[k++] = 0x40;
    wire[k++] = 1;
    wire[k++] = 'x';
    k += ducta_hpack_int_encode(wire + k, 8, 7, 0, 4000);
    memset(wire + k, 'a', 4000);
    k += 4000;
    cr_assert_eq(decode_bytes(wire, k, UINT64_MAX), DUCTA_HPACK_OK);
    cr_assert_eq(dec.table.size, 4033);
    /* 4096 references: 16 MB of fields from 4 KB */
    memset(wire, 0xbe, 4096);
    cr_assert_eq(decode_bytes(wire, 4096, 65536), DUCTA_HPACK_TOO_LARGE);
    cr_assert_eq(blk.list_size, 4096ull * 4033);
    cr_assert(blk.buf_len <= 65536);
    cr_assert(blk.count <= 65536 / 4033);
    /* the table is intact: the next block decodes */
    cr_assert_eq(decode_hex("be 82"), DUCTA_HPACK_OK);
    cr_assert_eq(blk.fields[0].value.len, 4000);
    /* right at the bound is fine, one byte less is not */
    memset(wire, 0xbe, 16);
    cr_assert_eq(decode_bytes(wire, 16, 16 * 4033), DUCTA_HPACK_OK);
    cr_assert_eq(decode_bytes(wire, 16, 16 * 4033 - 1), DUCTA_HPACK_TOO_LARGE);
}

/* Past the bound, the block is still decoded to its end so the table
 * follows the peer: a field added after the bound is there afterwards; a
 * malformed byte after the bound is still a compression error. */
Test(hpack_bomb, table_kept_in_step_past_the_bound)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    static uint8_t wire[64];
    size_t n = unhex("82 86 40 01 61 01 62 be 40 01 63 01 64", wire);
    cr_assert_eq(decode_bytes(wire, n, 40), DUCTA_HPACK_TOO_LARGE);
    expect_table(&dec.table, (const char *[]){"c: d", "a: b", NULL}, 68);
    cr_assert_eq(decode_hex("be bf"), DUCTA_HPACK_OK);
    expect_fields((const char *[]){"c: d", "a: b", NULL});
    n = unhex("82 86 82 80", wire);
    cr_assert_eq(decode_bytes(wire, n, 40), DUCTA_HPACK_E_INDEX);
}

/* The caller's arrays are bounds too: too few field slots or too little
 * buffer is TOO_LARGE, and nothing is written past them. */
Test(hpack_bomb, caller_arrays)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    uint8_t wire[64];
    size_t n = unhex("82 86 84 41 0f 7777 772e 6578 616d 706c 652e 636f 6d",
                     wire);
    struct ducta_hpack_field f[4];
    char small[16];
    memset(small, '#', sizeof small);
    struct ducta_hpack_block b = {f, 3, 0, small, 10, 0, UINT64_MAX, 0};
    cr_assert_eq(ducta_hpack_decode(&dec, wire, n, &b), DUCTA_HPACK_TOO_LARGE);
    cr_assert_eq(b.count, 3);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    b = (struct ducta_hpack_block){f, 4, 0, small, 10, 0, UINT64_MAX, 0};
    cr_assert_eq(ducta_hpack_decode(&dec, wire, n, &b), DUCTA_HPACK_TOO_LARGE);
    cr_assert_eq(b.buf_len, 0);
    for (size_t i = 10; i < sizeof small; i++)
        cr_assert_eq(small[i], '#');
    /* static fields need no buffer at all */
    b = (struct ducta_hpack_block){f, 4, 0, NULL, 0, 0, UINT64_MAX, 0};
    cr_assert_eq(ducta_hpack_decode(&dec, wire, 3, &b), DUCTA_HPACK_OK);
    cr_assert_eq(b.count, 3);
    cr_assert(slice_is(f[2].value, "/"));
}

/* ---- flags --------------------------------------------------------------- */

Test(hpack_flags, uppercase_names_flagged)
{
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_hex("40 03 58 2d 61 01 62 00 03 78 2d 61 01 42 be"),
                 DUCTA_HPACK_OK);
    expect_fields((const char *[]){"X-a: b", "x-a: B", "X-a: b", NULL});
    cr_assert_eq(blk.fields[0].flags, DUCTA_HPACK_F_UPPERCASE);
    cr_assert_eq(blk.fields[1].flags, 0);
    cr_assert_eq(blk.fields[2].flags, DUCTA_HPACK_F_UPPERCASE);
}

/* §6.2.3: a never-indexed field is re-encoded as one, even when the table
 * holds it exactly, and is never added to the encoder's table. */
Test(hpack_flags, never_indexed_kept)
{
    uint8_t wire[256];
    size_t len;
    struct ducta_hpack_field f[2] = {
        {{"x-a", 3}, {"b", 1}, 0},
        {{"x-a", 3}, {"b", 1}, DUCTA_HPACK_F_NEVER_INDEXED},
    };
    ducta_hpack_encoder_init(&enc, DUCTA_HPACK_TABLE_DEFAULT);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(ducta_hpack_encode(&enc, f, 2, wire, sizeof wire, &len), 0);
    cr_assert_eq(enc.table.count, 1);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    cr_assert_eq(blk.fields[0].flags, 0);
    cr_assert_eq(blk.fields[1].flags, DUCTA_HPACK_F_NEVER_INDEXED);
    /* never indexed, name index 62 (15 + 47), value "b" */
    cr_assert(wire[len - 4] == 0x1f && wire[len - 3] == 0x2f);
    cr_assert(wire[len - 2] == 0x01 && wire[len - 1] == 'b');
    /* NO_INDEX: a literal without indexing, nothing added */
    f[0].flags = DUCTA_HPACK_F_NO_INDEX;
    f[0].name = (ducta_slice){"x-b", 3};
    cr_assert_eq(ducta_hpack_encode(&enc, f, 1, wire, sizeof wire, &len), 0);
    cr_assert_eq(wire[0] & 0xf0, 0x00);
    cr_assert_eq(enc.table.count, 1);
}

/* ---- the encoder --------------------------------------------------------- */

Test(hpack_encoder, static_and_dynamic_indexes)
{
    uint8_t wire[256];
    size_t len;
    struct ducta_hpack_field f[] = {
        {{":status", 7}, {"200", 3}, 0},
        {{"server", 6}, {"ducta", 5}, 0},
        {{"content-length", 14}, {"12", 2}, 0},
    };
    ducta_hpack_encoder_init(&enc, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(ducta_hpack_encode(&enc, f, 3, wire, sizeof wire, &len), 0);
    cr_assert_eq(wire[0], 0x88);                /* :status 200: index 8 */
    cr_assert_eq(wire[1], 0x40 | 54);           /* server, indexed name */
    cr_assert_eq(wire[2], 0x80 | 4); /* "ducta": 27 bits, Huffman is shorter */
    cr_assert_eq(enc.table.count, 1);           /* content-length was not */
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    expect_fields((const char *[]){":status: 200", "server: ducta",
                                   "content-length: 12", NULL});
    /* the second response: server is one byte */
    cr_assert_eq(ducta_hpack_encode(&enc, f, 2, wire, sizeof wire, &len), 0);
    cr_assert_eq(len, 2);
    cr_assert(wire[0] == 0x88 && wire[1] == 0xbe);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    expect_fields((const char *[]){":status: 200", "server: ducta", NULL});
}

/* §4.2, §6.3: the peer's limit falling to 0 empties the table with an
 * update at the start of the next block; falling then rising between two
 * blocks sends both (the smallest first). */
Test(hpack_encoder, peer_limit_changes)
{
    uint8_t wire[256];
    size_t len;
    struct ducta_hpack_field f = {{"server", 6}, {"ducta", 5}, 0};
    ducta_hpack_encoder_init(&enc, DUCTA_HPACK_TABLE_DEFAULT);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(ducta_hpack_encode(&enc, &f, 1, wire, sizeof wire, &len), 0);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    ducta_hpack_encoder_set_peer_limit(&enc, 0);
    ducta_hpack_decoder_set_limit(&dec, 0);
    cr_assert_eq(ducta_hpack_encode(&enc, &f, 1, wire, sizeof wire, &len), 0);
    cr_assert_eq(wire[0], 0x20);
    cr_assert_eq(enc.table.count, 0);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    expect_fields((const char *[]){"server: ducta", NULL});
    cr_assert_eq(dec.table.count, 0);
    /* up to 4096 again: one update (C.1-style 3f e1 1f) */
    ducta_hpack_encoder_set_peer_limit(&enc, 4096);
    ducta_hpack_decoder_set_limit(&dec, 4096);
    cr_assert_eq(ducta_hpack_encode(&enc, &f, 1, wire, sizeof wire, &len), 0);
    cr_assert(wire[0] == 0x3f && wire[1] == 0xe1 && wire[2] == 0x1f);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    cr_assert_eq(dec.table.count, 1);
    /* down to 100 and back up to 8192 (over our cap: 4096) between blocks */
    ducta_hpack_encoder_set_peer_limit(&enc, 100);
    ducta_hpack_encoder_set_peer_limit(&enc, 8192);
    cr_assert_eq(ducta_hpack_encode(&enc, &f, 1, wire, sizeof wire, &len), 0);
    cr_assert(wire[0] == 0x3f && wire[1] == 0x45); /* 100 = 31 + 69 */
    cr_assert(wire[2] == 0x3f && wire[3] == 0xe1 && wire[4] == 0x1f);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    /* a limit above the cap and unchanged: nothing to send */
    ducta_hpack_encoder_set_peer_limit(&enc, 65536);
    cr_assert_eq(ducta_hpack_encode(&enc, &f, 1, wire, sizeof wire, &len), 0);
    cr_assert_eq(len, 1);
}

/* The output bound: never a byte past cap; after a block that did not fit
 * (and was not sent) the next block puts the peer's table back in step. */
Test(hpack_encoder, output_bound)
{
    uint8_t wire[512];
    size_t len;
    struct ducta_hpack_field f[] = {
        {{"server", 6}, {"ducta", 5}, 0},
        {{"content-type", 12}, {"text/html; charset=utf-8", 24}, 0},
        {{"x-long", 6}, {"0123456789012345678901234567890123456789", 40}, 0},
    };
    ducta_hpack_encoder_init(&enc, DUCTA_HPACK_TABLE_DEFAULT);
    ducta_hpack_decoder_init(&dec, DUCTA_HPACK_TABLE_DEFAULT);
    cr_assert_eq(ducta_hpack_encode(&enc, f, 1, wire, sizeof wire, &len), 0);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    for (size_t cap = 0; cap < 40; cap++) {
        memset(wire, 0xa5, sizeof wire);
        int rc = ducta_hpack_encode(&enc, f, 3, wire, cap, &len);
        for (size_t i = cap; i < sizeof wire; i++)
            cr_assert_eq(wire[i], 0xa5, "cap %zu: byte %zu written", cap, i);
        cr_assert_eq(rc, DUCTA_HPACK_E_SPACE, "cap %zu", cap);
    }
    cr_assert_eq(ducta_hpack_encode(&enc, f, 3, wire, sizeof wire, &len), 0);
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    expect_fields((const char *[]){
        "server: ducta", "content-type: text/html; charset=utf-8",
        "x-long: 0123456789012345678901234567890123456789", NULL});
    cr_assert_eq(enc.table.size, dec.table.size);
    cr_assert_eq(enc.table.count, dec.table.count);
    cr_assert_eq(ducta_hpack_encode(&enc, f, 3, wire, sizeof wire, &len), 0);
    cr_assert_eq(len, 3); /* all three from the table */
    cr_assert_eq(decode_bytes(wire, len, UINT64_MAX), 0);
    cr_assert(slice_is(blk.fields[2].value,
                       "0123456789012345678901234567890123456789"));
}
